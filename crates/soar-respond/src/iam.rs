//! `iam.*` actions: an IAM user's long-term key deactivated, a role's older sessions revoked.

use crate::RespondError;
use aws_sdk_iam::Client;
use aws_sdk_iam::types::StatusType;
use serde_json::{Value, json};
use soar_aws::AwsError;
use soar_core::action::REVOKE_POLICY_NAME;
use soar_core::rollback::Undo;

/// UpdateAccessKey to `Inactive`. Rollback data: the user and key.
pub(crate) async fn deactivate_access_key(client: &Client, user: &str, key: &str) -> Result<Value, RespondError> {
    set_key_status(client, user, key, StatusType::Inactive).await?;
    let undo = Undo::ActivateAccessKey {
        user_name: user.to_string(),
        access_key_id: key.to_string(),
    };
    Ok(json!({
        "user_name": user,
        "access_key_id": key,
        "status": "Inactive",
        "rollback": format!("aws iam update-access-key --user-name {user} --access-key-id {key} --status Active"),
        "undo": undo.data(),
    }))
}

/// UpdateAccessKey back to `Active`: the rollback of a deactivation.
pub(crate) async fn activate_access_key(client: &Client, user: &str, key: &str) -> Result<Value, RespondError> {
    set_key_status(client, user, key, StatusType::Active).await?;
    Ok(json!({"user_name": user, "access_key_id": key, "status": "Active"}))
}

async fn set_key_status(client: &Client, user: &str, key: &str, status: StatusType) -> Result<(), RespondError> {
    client
        .update_access_key()
        .user_name(user)
        .access_key_id(key)
        .status(status)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("UpdateAccessKey", e))?;
    Ok(())
}

/// The documented revocation: deny everything to sessions issued before `issued_before` (IAM
/// User Guide, "Revoke IAM role temporary security credentials"; the console writes the same
/// statement as `AWSRevokeOlderSessions`).
pub fn revocation_policy(issued_before: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Deny",
            "Action": ["*"],
            "Resource": ["*"],
            "Condition": {"DateLessThan": {"aws:TokenIssueTime": issued_before}}
        }]
    })
}

/// Roles no automatic revocation touches: AWS's own (service-linked, IAM Identity Center,
/// Control Tower, StackSets) and the organisation's access role, whose loss locks people out of
/// the account. Prefixes of the role name, or of its path.
const UNTOUCHABLE_NAMES: &[&str] = &[
    "OrganizationAccountAccessRole",
    "AWSReservedSSO_",
    "AWSControlTower",
    "aws-controltower-",
    "stacksets-exec-",
    "AWSCloudFormationStackSetExecutionRole",
];
const UNTOUCHABLE_PATHS: &[&str] = &["/aws-service-role/", "/aws-reserved/"];

/// Reads the role (GetRole) and refuses one that is not the finding's, or must not be revoked:
/// its id differs from the `AROA…` part of the session's `principalId` (a same-named role, or a
/// crafted name), it is AWS's or the organisation's access role, or it is tagged
/// `soar:protected`.
async fn check_role(client: &Client, role: &str, expected_id: Option<&str>) -> Result<(), RespondError> {
    let out = client
        .get_role()
        .role_name(role)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("GetRole", e))?;
    let found = out
        .role()
        .ok_or_else(|| RespondError::Refused(format!("GetRole answered without role {role}")))?;
    if let Some(expected) = expected_id.filter(|id| !id.is_empty())
        && found.role_id() != expected
    {
        return Err(RespondError::Refused(format!(
            "role {role} has id {}, not {expected} (the finding's principalId): not the role whose session was seen",
            found.role_id()
        )));
    }
    let name = found.role_name();
    if UNTOUCHABLE_NAMES.iter().any(|p| name.starts_with(p))
        || UNTOUCHABLE_PATHS.iter().any(|p| found.path().starts_with(p))
    {
        return Err(RespondError::Refused(format!(
            "role {name} ({}) is AWS's or the organisation's access role: revoke by hand if at all",
            found.path()
        )));
    }
    let tags: std::collections::BTreeMap<String, String> = found
        .tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    if soar_core::alert::tags_mark_protected(&tags) {
        return Err(RespondError::Refused(format!(
            "role {name} is tagged soar:protected=true"
        )));
    }
    Ok(())
}

/// Revokes the role's sessions issued before now: PutRolePolicy of [`revocation_policy`] as the
/// inline policy `soar-revoke-older-sessions`, once [`check_role`] has accepted the role
/// (`expected_id`: the role id of the session's `principalId`, `AROA…`, when the finding gives
/// it). A policy of that name already there (an earlier revocation) is read first and recorded,
/// so a rollback puts it back rather than deleting it.
pub(crate) async fn revoke_role_sessions(
    client: &Client,
    role: &str,
    expected_id: Option<&str>,
) -> Result<Value, RespondError> {
    check_role(client, role, expected_id).await?;
    let previous = role_policy(client, role, REVOKE_POLICY_NAME).await?;
    let issued_before = soar_core::time::now();
    let document = revocation_policy(&issued_before);
    client
        .put_role_policy()
        .role_name(role)
        .policy_name(REVOKE_POLICY_NAME)
        .policy_document(document.to_string())
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("PutRolePolicy", e))?;
    let undo = Undo::RestoreRolePolicy {
        role_name: role.to_string(),
        policy_name: REVOKE_POLICY_NAME.to_string(),
        previous,
        written: Some(document.to_string()),
    };
    Ok(json!({
        "role_name": role,
        "policy_name": REVOKE_POLICY_NAME,
        "sessions_issued_before": issued_before,
        "rollback": format!("aws iam delete-role-policy --role-name {role} --policy-name {REVOKE_POLICY_NAME}"),
        "undo": undo.data(),
    }))
}

/// The role's inline policy `name`, URL-decoded (IAM answers policy documents URL-encoded, RFC
/// 3986, as the API reference says); `None` when the role has none of that name.
async fn role_policy(client: &Client, role: &str, name: &str) -> Result<Option<String>, RespondError> {
    match client.get_role_policy().role_name(role).policy_name(name).send().await {
        Ok(out) => Ok(Some(
            percent_encoding::percent_decode_str(out.policy_document())
                .decode_utf8_lossy()
                .into_owned(),
        )),
        Err(e) => match AwsError::from_sdk("GetRolePolicy", e) {
            AwsError::NotFound { .. } => Ok(None),
            other => Err(other.into()),
        },
    }
}

/// Two policy documents that say the same (JSON compared as values, not as text).
fn same_document(a: &str, b: &str) -> bool {
    match (serde_json::from_str::<Value>(a), serde_json::from_str::<Value>(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// The rollback of a revocation: the document it replaced put back, or the policy deleted; only
/// while the policy is still the one soar wrote (`written`), so that undoing one alert never
/// lifts a later alert's revocation or a person's change.
pub(crate) async fn restore_role_policy(
    client: &Client,
    role: &str,
    policy_name: &str,
    (previous, written): (Option<&str>, Option<&str>),
) -> Result<Value, RespondError> {
    if let Some(written) = written {
        match role_policy(client, role, policy_name).await? {
            Some(now) if same_document(&now, written) => {}
            None if previous.is_none() => {
                return Ok(json!({"role_name": role, "policy_name": policy_name, "deleted": true}));
            }
            _ => {
                return Err(RespondError::Refused(format!(
                    "{policy_name} on role {role} changed since soar wrote it (a later revocation, or a person): not rolled back, check it by hand"
                )));
            }
        }
    }
    match previous {
        Some(document) => {
            client
                .put_role_policy()
                .role_name(role)
                .policy_name(policy_name)
                .policy_document(document)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("PutRolePolicy", e))?;
            Ok(json!({"role_name": role, "policy_name": policy_name, "restored": "the previous document"}))
        }
        None => {
            match client
                .delete_role_policy()
                .role_name(role)
                .policy_name(policy_name)
                .send()
                .await
            {
                Ok(_) => {}
                // Deleted by hand already: the role is as it was.
                Err(e) => match AwsError::from_sdk("DeleteRolePolicy", e) {
                    AwsError::NotFound { .. } => {}
                    other => return Err(other.into()),
                },
            }
            Ok(json!({"role_name": role, "policy_name": policy_name, "deleted": true}))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_iam::config::{BehaviorVersion, Credentials, Region};
    use aws_sdk_iam::operation::delete_role_policy::DeleteRolePolicyError;
    use aws_sdk_iam::operation::get_role_policy::GetRolePolicyOutput;
    use aws_sdk_iam::operation::put_role_policy::PutRolePolicyOutput;
    use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
    use aws_smithy_types::error::ErrorMetadata;

    fn client(rules: &[&Rule]) -> Client {
        let interceptor = rules.iter().fold(
            MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny),
            |i, rule| i.with_rule(rule),
        );
        let config = aws_sdk_iam::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .retry_config(aws_sdk_iam::config::retry::RetryConfig::disabled())
            .http_client(create_mock_http_client())
            .interceptor(interceptor)
            .build();
        Client::from_conf(config)
    }

    /// An earlier revocation of the same name is recorded decoded (IAM answers URL-encoded), so
    /// a rollback puts it back instead of deleting it.
    #[tokio::test]
    async fn an_earlier_revocation_is_kept_for_the_rollback() {
        let earlier = revocation_policy("2026-01-01T00:00:00Z").to_string();
        let encoded = earlier.replace(':', "%3A").replace('"', "%22");
        let get = mock!(Client::get_role_policy).then_output(move || {
            GetRolePolicyOutput::builder()
                .role_name("app")
                .policy_name(REVOKE_POLICY_NAME)
                .policy_document(encoded.clone())
                .build()
                .unwrap()
        });
        let put = mock!(Client::put_role_policy)
            .match_requests(|r| r.policy_document().is_some_and(|d| d.contains("aws:TokenIssueTime")))
            .then_output(|| PutRolePolicyOutput::builder().build());
        let role = mock!(Client::get_role).then_output(|| role("app", "AROAAPP", "/", &[]));
        let done = revoke_role_sessions(&client(&[&role, &get, &put]), "app", Some("AROAAPP"))
            .await
            .unwrap();
        assert_eq!(put.num_calls(), 1);
        assert_eq!(done["undo"]["previous"], json!(earlier));
    }

    fn role(
        name: &str,
        id: &str,
        path: &str,
        tags: &[(&str, &str)],
    ) -> aws_sdk_iam::operation::get_role::GetRoleOutput {
        let mut role = aws_sdk_iam::types::Role::builder()
            .role_name(name)
            .role_id(id)
            .path(path)
            .arn(format!("arn:aws:iam::111122223333:role{path}{name}"))
            .create_date(aws_smithy_types::DateTime::from_secs(0));
        for (k, v) in tags {
            role = role.tags(aws_sdk_iam::types::Tag::builder().key(*k).value(*v).build().unwrap());
        }
        aws_sdk_iam::operation::get_role::GetRoleOutput::builder()
            .role(role.build().unwrap())
            .build()
    }

    /// Another role than the session's, AWS's own roles, the organisation's access role and a
    /// protected role are never revoked: nothing is written.
    #[tokio::test]
    async fn only_the_sessions_own_unprotected_role_is_revoked() {
        let cases = [
            (
                role("app", "AROAOTHER", "/", &[]),
                "not the role whose session was seen",
            ),
            (
                role(
                    "AWSReservedSSO_Admin_1",
                    "AROAAPP",
                    "/aws-reserved/sso.amazonaws.com/",
                    &[],
                ),
                "access role",
            ),
            (
                role("OrganizationAccountAccessRole", "AROAAPP", "/", &[]),
                "access role",
            ),
            (
                role("app", "AROAAPP", "/", &[("soar:protected", "true")]),
                "soar:protected",
            ),
        ];
        for (answer, why) in cases {
            let get_role = mock!(Client::get_role).then_output(move || answer.clone());
            let put = mock!(Client::put_role_policy).then_output(|| PutRolePolicyOutput::builder().build());
            let err = revoke_role_sessions(&client(&[&get_role, &put]), "app", Some("AROAAPP"))
                .await
                .unwrap_err();
            assert!(err.to_string().contains(why), "{err}");
            assert_eq!(put.num_calls(), 0);
        }
    }

    /// A revocation policy someone already deleted by hand is rolled back: nothing left to do.
    #[tokio::test]
    async fn a_policy_deleted_by_hand_is_rolled_back() {
        let delete = mock!(Client::delete_role_policy).then_error(|| {
            DeleteRolePolicyError::generic(ErrorMetadata::builder().code("NoSuchEntity").message("gone").build())
        });
        let done = restore_role_policy(&client(&[&delete]), "app", REVOKE_POLICY_NAME, (None, None))
            .await
            .unwrap();
        assert_eq!(done["deleted"], json!(true));
    }

    /// A later revocation replaced soar's document: rolling back the earlier alert leaves it.
    #[tokio::test]
    async fn a_later_revocation_is_never_lifted() {
        let later = revocation_policy("2026-06-01T00:00:00Z").to_string();
        let ours = revocation_policy("2026-05-01T00:00:00Z").to_string();
        let get = mock!(Client::get_role_policy).then_output(move || {
            GetRolePolicyOutput::builder()
                .role_name("app")
                .policy_name(REVOKE_POLICY_NAME)
                .policy_document(later.clone())
                .build()
                .unwrap()
        });
        let delete = mock!(Client::delete_role_policy)
            .then_output(|| aws_sdk_iam::operation::delete_role_policy::DeleteRolePolicyOutput::builder().build());
        let err = restore_role_policy(
            &client(&[&get, &delete]),
            "app",
            REVOKE_POLICY_NAME,
            (None, Some(&ours)),
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("changed since soar wrote it"), "{err}");
        assert_eq!(delete.num_calls(), 0);
    }
}
