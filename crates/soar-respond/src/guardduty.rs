//! `guardduty.archive_finding` and `guardduty.feedback`: the verdict in GuardDuty itself, made
//! with the detector of the account that manages the finding. In an organisation the GuardDuty
//! administrator account manages its members' findings, and only it may archive them (GuardDuty
//! User Guide, "Archiving GuardDuty findings"); a standalone account manages its own.

use crate::RespondError;
use aws_sdk_guardduty::Client;
use aws_sdk_guardduty::types::{Condition, Feedback, FindingCriteria};
use serde_json::{Value, json};
use soar_aws::AwsError;
use soar_aws::sdk::AccountConfigs;
use soar_core::finding::guardduty_arn;
use soar_core::rollback::Undo;
use std::collections::HashMap;
use tokio::sync::Mutex;

/// Where a finding is managed: the account, region and detector the calls are made with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Owner {
    pub(crate) account: String,
    pub(crate) region: String,
    pub(crate) detector_id: String,
    /// The finding's account is a member, `account` its administrator.
    pub(crate) administrator: bool,
}

/// The owner of each detector's findings, found once per function instance: membership in an
/// organisation changes rarely, and each lookup costs two calls.
#[derive(Default)]
pub(crate) struct Owners(Mutex<HashMap<String, Owner>>);

impl Owners {
    /// The owner of the findings of the detector in `finding_arn`:
    /// GetAdministratorAccount there says whether an administrator account manages them (a
    /// relationship `Enabled`); if one does, its own detector in the region (ListDetectors:
    /// GuardDuty has one per account and region).
    pub(crate) async fn of(&self, accounts: &AccountConfigs, finding_arn: &str) -> Result<Owner, RespondError> {
        let arn = guardduty_arn(finding_arn).ok_or(RespondError::Missing(
            "the finding's GuardDuty ARN (arn:…:guardduty:<region>:<account>:detector/<id>/finding/<id>)",
        ))?;
        let key = format!("{}/{}/{}", arn.account, arn.region, arn.detector_id);
        if let Some(owner) = self.0.lock().await.get(&key) {
            return Ok(owner.clone());
        }
        let member = client(accounts, arn.account, arn.region).await?;
        let administrator = member
            .get_administrator_account()
            .detector_id(arn.detector_id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetAdministratorAccount", e).rate_limited())?
            .administrator()
            .filter(|a| {
                a.relationship_status()
                    .is_some_and(|s| s.eq_ignore_ascii_case("enabled"))
            })
            .and_then(|a| a.account_id())
            .filter(|a| *a != arn.account)
            .map(String::from);
        let owner = match administrator {
            None => Owner {
                account: arn.account.to_string(),
                region: arn.region.to_string(),
                detector_id: arn.detector_id.to_string(),
                administrator: false,
            },
            Some(account) => {
                let detector_id = only_detector(&client(accounts, &account, arn.region).await?, &account).await?;
                Owner {
                    account,
                    region: arn.region.to_string(),
                    detector_id,
                    administrator: true,
                }
            }
        };
        self.0.lock().await.insert(key, owner.clone());
        Ok(owner)
    }
}

/// The one detector of the account and region `client` works in.
async fn only_detector(client: &Client, account: &str) -> Result<String, RespondError> {
    let out = client
        .list_detectors()
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ListDetectors", e).rate_limited())?;
    match out.detector_ids() {
        [one] => Ok(one.clone()),
        other => Err(RespondError::Refused(format!(
            "the GuardDuty administrator account {account} has {} detectors in this region, not one: not acted on",
            other.len()
        ))),
    }
}

/// GuardDuty in `account` and `region`.
pub(crate) async fn client(accounts: &AccountConfigs, account: &str, region: &str) -> Result<Client, RespondError> {
    let config = accounts
        .for_resource(account, region)
        .await
        .map_err(RespondError::Credentials)?;
    Ok(Client::new(&config))
}

/// The finding id at the end of a GuardDuty finding ARN.
fn finding_id(finding_arn: &str) -> Result<&str, RespondError> {
    guardduty_arn(finding_arn)
        .map(|a| a.finding_id)
        .ok_or(RespondError::Missing("the finding's GuardDuty ARN"))
}

/// Whether the owner's detector has the finding as soar evaluated it: ListFindings on its id,
/// its account, its type and its severity (within the whole numbers around soar's: GuardDuty's
/// filter compares integers). `Refused` when it has not: the alert that named it was not
/// GuardDuty's own account of it.
pub(crate) async fn confirm(
    client: &Client,
    owner: &Owner,
    finding_arn: &str,
    (finding_type, severity): (&str, f64),
) -> Result<(), RespondError> {
    let arn = guardduty_arn(finding_arn).ok_or(RespondError::Missing("the finding's GuardDuty ARN"))?;
    let equals = |value: &str| Condition::builder().equals(value).build();
    let criteria = FindingCriteria::builder()
        .criterion("id", equals(arn.finding_id))
        .criterion("accountId", equals(arn.account))
        .criterion("type", equals(finding_type))
        .criterion(
            "severity",
            Condition::builder()
                .greater_than_or_equal(severity.floor() as i64)
                .less_than_or_equal(severity.ceil() as i64)
                .build(),
        )
        .build();
    let out = client
        .list_findings()
        .detector_id(&owner.detector_id)
        .finding_criteria(criteria)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ListFindings", e).rate_limited())?;
    if out.finding_ids().iter().any(|id| id == arn.finding_id) {
        Ok(())
    } else {
        Err(RespondError::Refused(format!(
            "GuardDuty (detector {} in account {}) has no finding {} of type {finding_type} and severity {severity} in account {}: the alert is not GuardDuty's account of it, nothing hidden",
            owner.detector_id, owner.account, arn.finding_id, arn.account
        )))
    }
}

/// ArchiveFindings with the owner's detector. Rollback data: the owner and the finding id.
pub(crate) async fn archive(client: &Client, owner: &Owner, finding_arn: &str) -> Result<Value, RespondError> {
    let finding = finding_id(finding_arn)?;
    client
        .archive_findings()
        .detector_id(&owner.detector_id)
        .finding_ids(finding)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ArchiveFindings", e).rate_limited())?;
    let undo = Undo::UnarchiveFinding {
        account: owner.account.clone(),
        region: owner.region.clone(),
        detector_id: owner.detector_id.clone(),
        finding_id: finding.to_string(),
    };
    Ok(json!({
        "account": owner.account,
        "region": owner.region,
        "detector_id": owner.detector_id,
        "administrator": owner.administrator,
        "finding_id": finding,
        "undo": undo.data(),
    }))
}

/// The rollback of [`archive`].
pub(crate) async fn unarchive(client: &Client, detector_id: &str, finding: &str) -> Result<Value, RespondError> {
    client
        .unarchive_findings()
        .detector_id(detector_id)
        .finding_ids(finding)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("UnarchiveFindings", e).rate_limited())?;
    Ok(json!({"detector_id": detector_id, "finding_id": finding, "archived": false}))
}

/// UpdateFindingsFeedback with the owner's detector.
pub(crate) async fn feedback(
    client: &Client,
    owner: &Owner,
    finding_arn: &str,
    (feedback, comments): (&str, &str),
) -> Result<Value, RespondError> {
    let finding = finding_id(finding_arn)?;
    client
        .update_findings_feedback()
        .detector_id(&owner.detector_id)
        .finding_ids(finding)
        .feedback(Feedback::from(feedback))
        .comments(comments)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("UpdateFindingsFeedback", e).rate_limited())?;
    Ok(json!({
        "account": owner.account,
        "region": owner.region,
        "detector_id": owner.detector_id,
        "administrator": owner.administrator,
        "finding_id": finding,
        "feedback": feedback,
        "comments": comments,
    }))
}
