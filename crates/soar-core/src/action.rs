//! The action vocabulary: every response soar can carry out, as one type.
//!
//! A remediate decision lists actions as `{type, target, params}` ([`ActionRequest`]). Each
//! request is decoded once into an [`Action`] whose variant carries its typed parameters, so that a
//! dry run refuses the same malformed parameters an enforced run would, naming the field
//! (`decision.actions[2].params.tags`). Everything else that needs the list of action types (the
//! deployment's allow-list and approval list, the contract text a policy author reads, the
//! function's environment checks) reads it from [`ActionKind`], which is derived from [`Action`].
//!
//! Adding an action type: one variant here (its wire name on both attribute lines, and its
//! parameters in the `params` property the contract text shows), one arm in
//! the responder that carries it out (`soar-respond`), and the policies and tests that use it.
//!
//! [`ActionRequest`]: crate::document::ActionRequest

use crate::alert::{Alert, ResourceKind};
use crate::document::Target;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use strum::{EnumDiscriminants, IntoEnumIterator};

/// One action with its typed parameters, decoded from a request's `type` and `params` by
/// [`Action::decode`]; a parameter the variant does not know is a shape error (a typo such as
/// `tag` for `tags` is caught before anything is planned).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, EnumDiscriminants)]
#[serde(deny_unknown_fields)]
#[strum_discriminants(name(ActionKind))]
#[strum_discriminants(derive(
    strum::EnumString,
    strum::IntoStaticStr,
    strum::EnumIter,
    strum::EnumProperty,
    Hash,
    PartialOrd,
    Ord
))]
#[strum_discriminants(doc = "An action type without its parameters: the allow-list's and the ledger's unit.")]
pub enum Action {
    /// Cuts an instance off the network: every ENI moves to an allow-all "untracking" group, then
    /// to a quarantine group without rules (tracked connections survive a plain group change).
    /// Rollback data: the original groups of each ENI.
    #[serde(rename = "ec2.isolate")]
    #[strum_discriminants(strum(
        serialize = "ec2.isolate",
        props(targets = "Instance", undo = "the original groups of each ENI")
    ))]
    Ec2Isolate {},
    /// EBS snapshots of every volume of an instance (CreateSnapshot), tagged `soar:alert-id` and
    /// `soar:instance-id`, plus `tags` (soar's own two keys win over the policy's).
    #[serde(rename = "ec2.snapshot")]
    #[strum_discriminants(strum(
        serialize = "ec2.snapshot",
        props(params = "tags?: {key: value}", targets = "Instance")
    ))]
    Ec2Snapshot {
        #[serde(default)]
        tags: Option<Tags>,
    },
    /// StopInstances. Loses the instance's memory: waits for approval by default.
    #[serde(rename = "ec2.stop")]
    #[strum_discriminants(strum(
        serialize = "ec2.stop",
        props(loses_evidence = "true", targets = "Instance", undo = "StartInstances")
    ))]
    Ec2Stop {},
    /// CreateTags on the target.
    #[serde(rename = "ec2.tag")]
    #[strum_discriminants(strum(serialize = "ec2.tag", props(params = "tags: {key: value}", targets = "Instance")))]
    Ec2Tag { tags: Tags },
    /// Termination and stop protection (ModifyInstanceAttribute), so evidence survives cleanup.
    #[serde(rename = "ec2.protect")]
    #[strum_discriminants(strum(serialize = "ec2.protect", props(targets = "Instance", undo = "protection lifted")))]
    Ec2Protect {},
    /// The instance's IAM instance profile removed (DisassociateIamInstanceProfile), so stolen
    /// instance-role credentials are no longer renewed on it. Rollback data: the profile ARN.
    #[serde(rename = "ec2.detach_instance_profile")]
    #[strum_discriminants(strum(
        serialize = "ec2.detach_instance_profile",
        props(targets = "Instance", undo = "the instance profile associated again")
    ))]
    Ec2DetachInstanceProfile {},
    /// IAM UpdateAccessKey to `Inactive`. `user_name`: the key's IAM user; empty or absent means
    /// the `user_name` attribute of the alert's resource.
    #[serde(rename = "iam.deactivate_access_key")]
    #[strum_discriminants(strum(
        serialize = "iam.deactivate_access_key",
        props(
            params = "user_name?: string",
            targets = "AccessKey",
            undo = "the key made active again"
        )
    ))]
    IamDeactivateAccessKey {
        #[serde(default)]
        user_name: String,
    },
    /// Every session of a role issued before now is denied: IAM PutRolePolicy of the inline
    /// policy `soar-revoke-older-sessions`, `Deny *` on `*` when `aws:TokenIssueTime` is before
    /// the time of the action (IAM User Guide, "Revoke IAM role temporary security credentials").
    /// Sessions started later (the workload's next credentials) are unaffected. The target is the
    /// session's access key (`ASIA…`); `role_name`: the role, empty or absent means the `user_name`
    /// attribute of the alert's resource (GuardDuty names the role there for `AssumedRole`).
    /// Rollback data: the role, the policy name and the document it replaced, if any.
    #[serde(rename = "iam.revoke_role_sessions")]
    #[strum_discriminants(strum(
        serialize = "iam.revoke_role_sessions",
        props(
            params = "role_name?: string",
            targets = "AccessKey",
            undo = "the revocation policy removed (or the one it replaced put back)"
        )
    ))]
    IamRevokeRoleSessions {
        #[serde(default)]
        role_name: String,
    },
    /// The bucket's own S3 Block Public Access, all four settings on (PutPublicAccessBlock).
    /// Rollback data: the configuration it replaced, or that there was none.
    #[serde(rename = "s3.block_public_access")]
    #[strum_discriminants(strum(
        serialize = "s3.block_public_access",
        props(targets = "S3Bucket", undo = "the previous public access block (or none) restored")
    ))]
    S3BlockPublicAccess {},
    /// The function's reserved concurrency set to 0 (PutFunctionConcurrency): no invocation runs
    /// until it is lifted. Rollback data: the reserved concurrency it replaced, or none.
    #[serde(rename = "lambda.throttle")]
    #[strum_discriminants(strum(
        serialize = "lambda.throttle",
        props(targets = "Lambda", undo = "the previous reserved concurrency (or none) restored")
    ))]
    LambdaThrottle {},
    /// ECS StopTask on a task of the finding. Loses the task's memory and its writable layer, and
    /// cannot be undone (the service starts a fresh task): waits for approval by default.
    #[serde(rename = "ecs.stop_task")]
    #[strum_discriminants(strum(
        serialize = "ecs.stop_task",
        props(params = "reason?: string", loses_evidence = "true", targets = "ECSTask")
    ))]
    EcsStopTask {
        /// The stop reason ECS shows (at most 255 characters); default names the alert.
        #[serde(default)]
        reason: Option<String>,
    },
    /// Security Hub BatchUpdateFindings on the alert's own finding: `Workflow.Status`, the
    /// `VerificationState` of soar's verdict (`TRUE_POSITIVE` for an incident, `FALSE_POSITIVE`
    /// for a false positive, left alone otherwise) and a `Note` Rust writes from the document
    /// (verdict, incident, actions, policy revisions), `note` added at its end. The finding
    /// must be in Security Hub: one that came through it, or a GuardDuty finding when Security
    /// Hub's GuardDuty integration is on. Rollback data: the status and verification state it
    /// was delivered with.
    #[serde(rename = "securityhub.update_finding")]
    #[strum_discriminants(strum(
        serialize = "securityhub.update_finding",
        props(
            params = "workflow_status: NEW|NOTIFIED|RESOLVED|SUPPRESSED, note?: string",
            targets = "Finding",
            undo = "the workflow status and verification state the finding was delivered with restored"
        )
    ))]
    SecurityHubUpdateFinding {
        workflow_status: WorkflowStatus,
        /// A line added to the note (control characters become spaces).
        #[serde(default)]
        note: Option<String>,
        /// Set by Rust from the document before the action is planned or carried out.
        #[serde(skip_deserializing)]
        summary: Summary,
    },
    /// GuardDuty ArchiveFindings on the alert's own GuardDuty finding, with the detector of the
    /// account that owns it: the GuardDuty administrator account when the finding's account is
    /// a member (only an administrator may archive a member's findings; GuardDuty User Guide,
    /// "Archiving GuardDuty findings"), else the finding's own. Rollback data: that account,
    /// region and detector (UnarchiveFindings).
    #[serde(rename = "guardduty.archive_finding")]
    #[strum_discriminants(strum(
        serialize = "guardduty.archive_finding",
        props(targets = "Finding", undo = "the finding unarchived")
    ))]
    GuardDutyArchiveFinding {},
    /// GuardDuty UpdateFindingsFeedback on the alert's own GuardDuty finding, where
    /// `guardduty.archive_finding` would act. `comments`: replaces the comment Rust writes from
    /// the document. GuardDuty keeps only the latest feedback and has no "none": not reversible.
    #[serde(rename = "guardduty.feedback")]
    #[strum_discriminants(strum(
        serialize = "guardduty.feedback",
        props(params = "feedback: USEFUL|NOT_USEFUL, comments?: string", targets = "Finding")
    ))]
    GuardDutyFeedback {
        feedback: Feedback,
        #[serde(default)]
        comments: Option<String>,
        /// Set by Rust from the document before the action is planned or carried out.
        #[serde(skip_deserializing)]
        summary: Summary,
    },
    /// A message to people on the target channel: what happened, what soar did, how to undo it.
    #[serde(rename = "notify")]
    #[strum_discriminants(strum(
        serialize = "notify",
        props(params = "subject?: string, message?: string, commands?: [string], page?: bool")
    ))]
    Notify {
        /// Replaces the default subject (`[soar] <verdict> (<severity>): <title>`).
        #[serde(default)]
        subject: Option<String>,
        /// A line added to the message, after the verdict's reasons (control characters become
        /// spaces: one line).
        #[serde(default)]
        message: Option<String>,
        /// Commands a responder runs, each shown on its own line under a heading; one holding a
        /// control character (a line break could smuggle a second command in) is left out.
        #[serde(default)]
        commands: Option<Vec<String>>,
        /// Accepted for the policy author's benefit; paging follows the verdict's `page`.
        #[serde(default)]
        page: Option<bool>,
        /// Set by Rust on its own notification after an error; a policy cannot set it (the
        /// field is not read from a decision, so naming it is an unknown-field error).
        #[serde(skip_deserializing)]
        escalation: bool,
    },
}

/// ASFF `Workflow.Status` (Security Hub API reference, WorkflowUpdate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum WorkflowStatus {
    New,
    Notified,
    Resolved,
    Suppressed,
}

/// GuardDuty's finding feedback (API reference, UpdateFindingsFeedback).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum Feedback {
    Useful,
    NotUseful,
}

impl WorkflowStatus {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl Feedback {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// What a write-back says: Security Hub's `Note.Text` or GuardDuty's feedback `Comments` (at most
/// [`NOTE_LIMIT`] characters), which Rust writes from the document so that a verdict is written as
/// it was reached (a policy's `note` is added at its end; a policy's `comments` replace it), and
/// the ASFF `VerificationState` of the verdict, if it has one (never the policy's).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub text: String,
    pub verification_state: Option<&'static str>,
}

/// Security Hub's limit on a note's text (API reference, NoteUpdate: 512 characters); soar keeps
/// GuardDuty's feedback comment to it as well.
pub const NOTE_LIMIT: usize = 512;

/// EC2 tags to set: key → value. Limits from the EC2 API reference (Tag): keys 1-128 characters
/// and not starting with the reserved `aws:` prefix, values at most 256 characters, at most 50
/// tags on a resource; at most 48 here, so that soar's own two tags on a snapshot still fit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Tags(BTreeMap<String, String>);

/// EC2's 50 tags per resource, less the two soar adds to a snapshot.
const MAX_TAGS: usize = 48;

impl Tags {
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl<'de> Deserialize<'de> for Tags {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Checked inside the map visitor, so that the error carries the field's path.
        struct TagsVisitor;
        impl<'de> serde::de::Visitor<'de> for TagsVisitor {
            type Value = Tags;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of tag key → string value")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Tags, A::Error> {
                use serde::de::Error;
                let mut tags = BTreeMap::new();
                while let Some((key, value)) = map.next_entry::<String, String>()? {
                    let chars = key.chars().count();
                    if chars == 0 || chars > 128 {
                        return Err(A::Error::custom(format!("tag key `{key}` must be 1-128 characters")));
                    }
                    if key.to_ascii_lowercase().starts_with("aws:") {
                        return Err(A::Error::custom(format!(
                            "tag key `{key}`: the `aws:` prefix is reserved"
                        )));
                    }
                    if value.chars().count() > 256 {
                        return Err(A::Error::custom(format!(
                            "the value of tag `{key}` is over 256 characters"
                        )));
                    }
                    tags.insert(key, value);
                }
                if tags.is_empty() {
                    return Err(A::Error::custom(
                        "no tags to set: expected an object of one or more key → value",
                    ));
                }
                if tags.len() > MAX_TAGS {
                    return Err(A::Error::custom(format!(
                        "{} tags: at most {MAX_TAGS} (EC2 allows 50 on a resource, and soar adds 2 to a snapshot)",
                        tags.len()
                    )));
                }
                Ok(Tags(tags))
            }
        }
        deserializer.deserialize_map(TagsVisitor)
    }
}

impl Action {
    /// Why this action cannot work on `target` whatever a policy says, if it cannot:
    /// - the target is of another resource kind than the action works on (an `ec2.isolate` on a
    ///   bucket would reach EC2 with a bucket name);
    /// - AWS deactivates only an IAM user's long-term keys (`AKIA…`); a session key (`ASIA…`,
    ///   from STS: an assumed role or an instance profile) stays valid until it expires, so
    ///   planning its deactivation would only hide that nothing was contained, and a role's
    ///   sessions are revoked for session keys only (IAM User Guide, "Manage access keys for IAM
    ///   users"; access key id prefixes, "IAM identifiers").
    pub fn refuses_target(&self, target: &Target) -> Option<String> {
        let kind = self.kind();
        let wanted = kind.target_kind();
        if !kind.is_notify() && target.kind.as_str() != wanted {
            return Some(format!(
                "{kind} works on a {wanted}, not on the {} `{}`",
                target.kind, target.id
            ));
        }
        let id = target.id.as_str();
        match self {
            Action::GuardDutyArchiveFinding {} | Action::GuardDutyFeedback { .. }
                if crate::finding::guardduty_arn(id).is_none() =>
            {
                Some(format!(
                    "`{id}` is not a GuardDuty finding ARN: only GuardDuty's findings are archived or rated there"
                ))
            }
            Action::IamDeactivateAccessKey { .. } if !id.starts_with("AKIA") => Some(format!(
                "`{id}` is not an IAM user's long-term access key (AKIA…): session credentials cannot be deactivated, revoke the role's sessions instead"
            )),
            Action::IamRevokeRoleSessions { .. } if !id.starts_with("ASIA") => Some(format!(
                "`{id}` is not a session key (ASIA…): only role sessions can be revoked, deactivate an IAM user's key instead"
            )),
            _ => None,
        }
    }

    /// The principal an IAM action on the access key `target_id` works on: the `user_name` or
    /// `role_name` parameter or, when it is empty, what the alert says of that key: the
    /// `user_name` attribute (GuardDuty's `accessKeyDetails.userName`: the IAM user, or the role
    /// of an assumed-role session), else the role named by `session_issuer` (an attack
    /// sequence's actor session). `None` for other actions, or when nothing names one.
    pub fn principal<'a>(&'a self, alert: &'a Alert, target_id: &'a str) -> Option<&'a str> {
        let given = match self {
            Action::IamDeactivateAccessKey { user_name } => user_name,
            Action::IamRevokeRoleSessions { role_name } => role_name,
            _ => return None,
        };
        let non_empty = |p: &'a str| Some(p.trim()).filter(|p| !p.is_empty());
        non_empty(given).or_else(|| {
            alert
                .resources_named(&ResourceKind::AccessKey, target_id)
                .find_map(|r| {
                    let attribute = |name: &str| r.attributes.get(name).and_then(Value::as_str);
                    attribute("user_name").and_then(non_empty).or_else(|| {
                        // `arn:aws:iam::<account>:role/<path/>name`: the name is the last segment,
                        // and only a role of the account soar acts in is that role (a same-named
                        // role there is another one).
                        let issuer = attribute("session_issuer")?;
                        let (head, path) = issuer.split_once(":role/")?;
                        let account = head.rsplit(':').next().unwrap_or_default();
                        let here = if alert.resource.account.is_empty() {
                            &alert.account
                        } else {
                            &alert.resource.account
                        };
                        if account != here {
                            return None;
                        }
                        non_empty(path.rsplit('/').next().unwrap_or(path))
                    })
                })
        })
    }

    /// The AWS API calls carrying this action out on `target` would make, as a dry run records
    /// them (`service:Operation` and the parameters that matter; IAM action names, as the
    /// templates grant them). Reads only the alert: what exists in the account (an instance's
    /// ENIs, a bucket's current block) is read when the action is carried out.
    pub fn api_calls(&self, alert: &Alert, target: &Target) -> Vec<String> {
        let id = target.id.as_str();
        let principal = self.principal(alert, id).unwrap_or("<missing: params>");
        let calls: Vec<String> = match self {
            Action::Ec2Isolate {} => vec![
                format!("ec2:DescribeInstances InstanceIds=[{id}]"),
                "ec2:CreateSecurityGroup soar-untracking-<vpc> and soar-quarantine-<vpc> (when missing)".into(),
                "ec2:ModifyNetworkInterfaceAttribute Groups=[soar-untracking-<vpc>], then [soar-quarantine-<vpc>], on each ENI".into(),
            ],
            Action::Ec2Snapshot { .. } => vec![
                format!("ec2:DescribeInstances InstanceIds=[{id}]"),
                format!("ec2:CreateSnapshot on each volume, tagged soar:alert-id={} soar:response-id=<incident or alert> soar:instance-id={id}", alert.id),
            ],
            Action::Ec2Stop {} => vec![
                format!("ec2:ModifyInstanceAttribute InstanceId={id} DisableApiStop=false"),
                format!("ec2:StopInstances InstanceIds=[{id}]"),
            ],
            Action::Ec2Tag { tags } => vec![format!(
                "ec2:CreateTags Resources=[{id}] Tags={}",
                serde_json::to_string(tags).unwrap_or_default()
            )],
            Action::Ec2Protect {} => vec![
                format!("ec2:ModifyInstanceAttribute InstanceId={id} DisableApiTermination=true"),
                format!("ec2:ModifyInstanceAttribute InstanceId={id} DisableApiStop=true"),
            ],
            Action::Ec2DetachInstanceProfile {} => vec![
                format!("ec2:DescribeIamInstanceProfileAssociations Filters=[instance-id={id}]"),
                "ec2:DisassociateIamInstanceProfile on each live association".into(),
            ],
            Action::IamDeactivateAccessKey { .. } => vec![format!(
                "iam:UpdateAccessKey UserName={principal} AccessKeyId={id} Status=Inactive"
            )],
            Action::IamRevokeRoleSessions { .. } => vec![
                format!("iam:GetRolePolicy RoleName={principal} PolicyName={REVOKE_POLICY_NAME}"),
                format!(
                    "iam:PutRolePolicy RoleName={principal} PolicyName={REVOKE_POLICY_NAME} (Deny * when aws:TokenIssueTime is before the time of the action)"
                ),
            ],
            Action::S3BlockPublicAccess {} => vec![
                format!("s3:GetBucketPublicAccessBlock Bucket={id}"),
                format!(
                    "s3:PutBucketPublicAccessBlock Bucket={id} BlockPublicAcls=true IgnorePublicAcls=true BlockPublicPolicy=true RestrictPublicBuckets=true"
                ),
            ],
            Action::LambdaThrottle {} => vec![
                format!("lambda:GetFunctionConcurrency FunctionName={id}"),
                format!("lambda:PutFunctionConcurrency FunctionName={id} ReservedConcurrentExecutions=0"),
            ],
            Action::EcsStopTask { reason } => vec![format!(
                "ecs:StopTask Cluster={} Task={id} Reason={:?}",
                ecs_cluster(alert, id).unwrap_or("<the task's cluster>"),
                stop_reason(alert, reason.as_deref())
            )],
            Action::SecurityHubUpdateFinding {
                workflow_status,
                summary,
                ..
            } => self.securityhub_calls(alert, id, (*workflow_status, summary)),
            Action::GuardDutyArchiveFinding {} => guardduty_calls(alert, "ArchiveFindings", ""),
            Action::GuardDutyFeedback { feedback, summary, .. } => guardduty_calls(
                alert,
                "UpdateFindingsFeedback",
                &format!(" Feedback={} Comments={:?}", feedback.as_str(), summary.text),
            ),
            Action::Notify { .. } => vec![format!("sns:Publish / webhook POST to {id}")],
        };
        calls
    }
}

impl Action {
    /// The calls of `securityhub.update_finding` on the finding `id`: hiding it waits for
    /// GuardDuty to confirm the finding first.
    fn securityhub_calls(&self, alert: &Alert, id: &str, (status, summary): (WorkflowStatus, &Summary)) -> Vec<String> {
        let product = alert.finding.as_ref().map_or("<none>", |f| f.product_arn.as_str());
        let verification = summary
            .verification_state
            .map(|v| format!(" VerificationState={v}"))
            .unwrap_or_default();
        let mut calls = if self.hides_finding() {
            guardduty_calls(alert, "", "")
        } else {
            Vec::new()
        };
        calls.push(format!(
            "securityhub:BatchUpdateFindings FindingIdentifiers=[{{Id={id},ProductArn={product}}}] Workflow.Status={}{verification} Note.Text={:?} Note.UpdatedBy=soar",
            status.as_str(),
            summary.text
        ));
        calls
    }
}

/// The calls a GuardDuty write-back makes (and a Security Hub write that hides the finding, with
/// `operation` empty): the owner of the finding's detector is found, the finding is confirmed
/// there (ListFindings), then `operation` is called there on its id.
fn guardduty_calls(alert: &Alert, operation: &str, params: &str) -> Vec<String> {
    let (detector, finding) = alert
        .finding
        .as_ref()
        .and_then(|f| {
            Some((
                f.detector_id.as_deref()?,
                crate::finding::guardduty_arn(&f.id)?.finding_id,
            ))
        })
        .unwrap_or(("<none>", "<none>"));
    let mut calls = vec![
        format!(
            "guardduty:GetAdministratorAccount DetectorId={detector} (account {} region {})",
            alert.account, alert.region
        ),
        "guardduty:ListDetectors (in the administrator account, when the finding's account is a member)".into(),
    ];
    calls.push(format!(
        "guardduty:ListFindings DetectorId=<the owner's detector> FindingCriteria id={finding} accountId={} type={} severity {}..{} (is it GuardDuty's?)",
        alert.account,
        alert.kind,
        alert.severity.floor(),
        alert.severity.ceil()
    ));
    if !operation.is_empty() {
        calls.push(format!(
            "guardduty:{operation} DetectorId=<the owner's detector> FindingIds=[{finding}]{params}"
        ));
    }
    calls
}

/// The name of the inline role policy `iam.revoke_role_sessions` writes.
pub const REVOKE_POLICY_NAME: &str = "soar-revoke-older-sessions";

/// The cluster of an ECS task the alert names: the cluster segment of a long task ARN
/// (`arn:aws:ecs:region:account:task/cluster/id`), else the task resource's `cluster` attribute (a
/// name or a cluster ARN). `None` when neither gives one, or when the two disagree (a finding
/// naming a task of one cluster and another cluster is not acted on).
pub fn ecs_cluster<'a>(alert: &'a Alert, task: &'a str) -> Option<&'a str> {
    let from_arn = task
        .split_once(":task/")
        .and_then(|(_, path)| path.split_once('/'))
        .map(|(cluster, _)| cluster)
        .filter(|c| !c.is_empty());
    let attribute = alert
        .resources_named(&ResourceKind::EcsTask, task)
        .find_map(|r| r.attributes.get("cluster").and_then(Value::as_str))
        .filter(|c| !c.is_empty());
    match (from_arn, attribute) {
        (Some(a), Some(b)) if b.rsplit("cluster/").next() != Some(a) => None,
        (Some(a), _) => Some(a),
        (None, b) => b,
    }
}

/// ECS's stop reason: the policy's, or one naming the alert; at most 255 characters (ECS API
/// reference, StopTask).
pub fn stop_reason(alert: &Alert, given: Option<&str>) -> String {
    let reason = given
        .map(String::from)
        .unwrap_or_else(|| format!("soar: {} ({})", alert.kind, alert.id));
    reason.chars().take(255).collect()
}

impl Action {
    /// Whether carrying it out takes the finding out of people's sight: archived in GuardDuty,
    /// or `RESOLVED` / `SUPPRESSED` in Security Hub. soar does so only for a finding it confirms
    /// at its source first (see soar-respond).
    pub fn hides_finding(&self) -> bool {
        matches!(
            self,
            Action::GuardDutyArchiveFinding {}
                | Action::SecurityHubUpdateFinding {
                    workflow_status: WorkflowStatus::Resolved | WorkflowStatus::Suppressed,
                    ..
                }
        )
    }

    /// The variant without its parameters.
    pub fn kind(&self) -> ActionKind {
        ActionKind::from(self)
    }

    /// Decodes a request's `type` and `params` (absent or `null`: none).
    ///
    /// `Ok(None)`: `type` names no action soar knows (the caller records and refuses it).
    /// `Err((field, problem))`: the parameters do not fit the type; `field` is relative to the
    /// request, e.g. `params.tags`, or `params` itself.
    pub fn decode(action_type: &str, params: &Value) -> Result<Option<Action>, (String, String)> {
        if action_type.parse::<ActionKind>().is_err() {
            return Ok(None);
        }
        let params = match params {
            Value::Null => Value::Object(Map::new()),
            other => other.clone(),
        };
        // Externally tagged (`{"ec2.tag": params}`): serde reads the parameters straight from
        // the map, so a nested error keeps its path (an adjacently tagged enum buffers them).
        let mut tagged = Map::new();
        tagged.insert(action_type.to_string(), params);
        serde_path_to_error::deserialize(Value::Object(tagged))
            .map(Some)
            .map_err(|e| {
                // The first segment is the variant (the type); the rest is inside `params`.
                let inside: Vec<String> = e.path().iter().skip(1).map(ToString::to_string).collect();
                let mut field = std::iter::once("params".to_string())
                    .chain(inside)
                    .collect::<Vec<_>>()
                    .join(".");
                let problem = e.into_inner().to_string();
                // serde names a missing field in the message, at its parent's path.
                if let Some(name) = problem
                    .strip_prefix("missing field `")
                    .and_then(|rest| rest.split('`').next())
                {
                    field = format!("{field}.{name}");
                }
                (field, problem)
            })
    }
}

impl ActionKind {
    /// The wire name (`ec2.isolate`), as policies and the environment write it.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Whether carrying it out destroys evidence (the variant's `loses_evidence` property): such
    /// actions wait for a person by default (`SOAR_APPROVAL_REQUIRED_ACTIONS`).
    pub fn loses_evidence(self) -> bool {
        use strum::EnumProperty;
        self.get_str("loses_evidence") == Some("true")
    }

    /// The resource kind it works on (`Instance`, `AccessKey`, `S3Bucket`, `Lambda`, `ECSTask`; a
    /// notification: `Channel`), as [`ResourceKind::as_str`] names it.
    pub fn target_kind(self) -> &'static str {
        use strum::EnumProperty;
        self.get_str("targets").unwrap_or("Channel")
    }

    /// What `soar rollback` puts back, or `None` when the action cannot be undone (a snapshot is
    /// evidence to keep, a stopped task is gone, a message is sent).
    pub fn undo(self) -> Option<&'static str> {
        use strum::EnumProperty;
        self.get_str("undo")
    }

    /// The parameters as the contract text shows them, `name: type` joined by `, ` with `?`
    /// marking an optional one (`tags?: {key: value}`); empty for a type without parameters.
    /// From the variant's `params` property; a unit test holds it to what [`Action::decode`]
    /// accepts.
    pub fn params(self) -> &'static str {
        use strum::EnumProperty;
        self.get_str("params").unwrap_or("")
    }

    /// Each action type with parameters and its parameters, for the remediate contract:
    /// `ec2.tag {tags: {key: value}}`, joined by `, `.
    pub fn params_by_type() -> String {
        ActionKind::iter()
            .filter(|k| !k.params().is_empty())
            .map(|k| format!("{} {{{}}}", k.as_str(), k.params()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The action types that wait for a person unless the deployment says otherwise.
    pub fn evidence_losing() -> impl Iterator<Item = ActionKind> {
        ActionKind::iter().filter(|k| k.loses_evidence())
    }

    /// The wire names of every action type, joined by `sep` (for messages and the contract).
    pub fn names(sep: &str) -> String {
        ActionKind::iter().map(ActionKind::as_str).collect::<Vec<_>>().join(sep)
    }

    /// A notification changes nothing in the account: the resource guard rails (archived findings,
    /// target checks, protection) do not apply to it.
    pub fn is_notify(self) -> bool {
        self == ActionKind::Notify
    }

    /// A write-back of the verdict onto the alert's own finding (its target is the `Finding`):
    /// it changes no resource, so the hourly action cap does not count it.
    pub fn is_write_back(self) -> bool {
        self.target_kind() == ResourceKind::Finding.as_str()
    }

    /// Reads a wire name, with an error that lists the known ones.
    pub fn parse(name: &str) -> Result<ActionKind, String> {
        name.parse()
            .map_err(|_| format!("unknown action `{name}`; known: {}", ActionKind::names(", ")))
    }
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ActionKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeSet;

    /// The contract's parameter text says what decoding accepts: every listed parameter is
    /// accepted with a value of its listed type, the required ones together are enough, each
    /// required one is needed, and a name not listed is refused.
    #[test]
    fn the_params_text_of_each_kind_is_what_it_decodes() {
        let sample = |kind: &str| match kind {
            "string" => json!("x"),
            "bool" => json!(true),
            "{key: value}" => json!({"k": "v"}),
            "[string]" => json!(["x"]),
            // One of the listed values (`A|B`).
            one_of if one_of.contains('|') => json!(one_of.split('|').next().unwrap()),
            other => panic!("no sample for the parameter type `{other}`"),
        };
        for kind in ActionKind::iter() {
            let listed: Vec<(&str, bool, Value)> = kind
                .params()
                .split(", ")
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (name, ty) = p.split_once(": ").unwrap();
                    let (name, optional) = name.strip_suffix('?').map_or((name, false), |n| (n, true));
                    (name, optional, sample(ty))
                })
                .collect();
            let all: Map<String, Value> = listed.iter().map(|(n, _, v)| (n.to_string(), v.clone())).collect();
            let required: Map<String, Value> = listed
                .iter()
                .filter(|(_, o, _)| !o)
                .map(|(n, _, v)| (n.to_string(), v.clone()))
                .collect();
            let decode = |params: &Map<String, Value>| Action::decode(kind.as_str(), &Value::Object(params.clone()));
            assert!(
                matches!(decode(&all), Ok(Some(_))),
                "{kind:?} with every listed parameter"
            );
            assert!(
                matches!(decode(&required), Ok(Some(_))),
                "{kind:?} with the required ones"
            );
            for name in required.keys() {
                let mut short = required.clone();
                short.remove(name);
                assert!(decode(&short).is_err(), "{kind:?} without its required `{name}`");
            }
            let mut extra = all.clone();
            extra.insert("not_a_parameter".into(), json!(1));
            // serde's unknown-field error lists the fields the variant accepts: exactly the
            // listed ones (a field added to the variant but not to the text fails here).
            let (_, problem) = decode(&extra).unwrap_err();
            // "expected `a`", "expected `a` or `b`", "expected one of `a`, `b`, `c`", or "there
            // are no fields": the names are what stands between backticks after "expected".
            let expected = problem.split_once("expected").map_or("", |(_, rest)| rest);
            let accepted: BTreeSet<&str> = expected.split('`').skip(1).step_by(2).collect();
            let listed_names: BTreeSet<&str> = listed.iter().map(|(n, _, _)| *n).collect();
            assert_eq!(
                accepted, listed_names,
                "{kind:?}: the decoder accepts what the text lists"
            );
            let mut wrong_type = all.clone();
            if let Some((name, _, _)) = listed.first() {
                wrong_type.insert(name.to_string(), json!([[1]]));
                assert!(
                    decode(&wrong_type).is_err(),
                    "{kind:?} refuses `{name}` of the wrong type"
                );
            }
        }
        let contract = crate::decision::contract(crate::document::Phase::Remediate);
        assert!(contract.contains("ec2.tag {tags: {key: value}}"), "{contract}");
    }

    #[test]
    fn every_kind_round_trips_through_its_wire_name_and_decodes_without_params() {
        for kind in ActionKind::iter() {
            assert_eq!(ActionKind::parse(kind.as_str()), Ok(kind));
            let params = match kind {
                ActionKind::Ec2Tag => json!({"tags": {"k": "v"}}),
                ActionKind::SecurityHubUpdateFinding => json!({"workflow_status": "NOTIFIED"}),
                ActionKind::GuardDutyFeedback => json!({"feedback": "NOT_USEFUL"}),
                _ => Value::Null,
            };
            let action = Action::decode(kind.as_str(), &params).unwrap().unwrap();
            assert_eq!(action.kind(), kind);
        }
        assert_eq!(
            ActionKind::names(","),
            "ec2.isolate,ec2.snapshot,ec2.stop,ec2.tag,ec2.protect,ec2.detach_instance_profile,iam.deactivate_access_key,iam.revoke_role_sessions,s3.block_public_access,lambda.throttle,ecs.stop_task,securityhub.update_finding,guardduty.archive_finding,guardduty.feedback,notify"
        );
    }

    #[test]
    fn only_stopping_loses_evidence_and_a_policy_cannot_escalate() {
        assert_eq!(
            ActionKind::evidence_losing().collect::<Vec<_>>(),
            [ActionKind::Ec2Stop, ActionKind::EcsStopTask]
        );
        let (field, problem) = Action::decode("notify", &json!({"escalation": true})).unwrap_err();
        assert_eq!(field, "params.escalation", "{problem}");
    }

    #[test]
    fn unknown_types_are_not_errors_but_not_actions_either() {
        assert_eq!(Action::decode("rm.rf", &json!({"x": 1})), Ok(None));
        assert!(
            ActionKind::parse("ec2.nuke")
                .unwrap_err()
                .contains("known: ec2.isolate")
        );
    }

    #[test]
    fn bad_parameters_name_their_field() {
        let cases = [
            ("ec2.tag", json!({}), "params.tags", "missing field `tags`"),
            ("ec2.tag", json!({"tags": {}}), "params.tags", "no tags to set"),
            ("ec2.tag", json!({"tags": "x"}), "params.tags", "expected a map"),
            (
                "ec2.tag",
                json!({"tags": {"a": 1}}),
                "params.tags.a",
                "expected a string",
            ),
            ("ec2.tag", json!({"tags": {"aws:x": "1"}}), "params.tags", "reserved"),
            (
                "ec2.tag",
                json!({"tag": {"a": "b"}}),
                "params.tag",
                "unknown field `tag`",
            ),
            (
                "ec2.isolate",
                json!({"force": true}),
                "params.force",
                "unknown field `force`",
            ),
            ("ec2.isolate", json!([1]), "params", ""),
            (
                "iam.deactivate_access_key",
                json!({"user_name": 7}),
                "params.user_name",
                "expected a string",
            ),
            (
                "notify",
                json!({"message": ["a"]}),
                "params.message",
                "expected a string",
            ),
            (
                "securityhub.update_finding",
                json!({"workflow_status": "CLOSED"}),
                "params.workflow_status",
                "unknown variant `CLOSED`",
            ),
            (
                "securityhub.update_finding",
                json!({"workflow_status": "NEW", "summary": "forged"}),
                "params.summary",
                "unknown field `summary`",
            ),
            (
                "guardduty.feedback",
                json!({"feedback": "useful"}),
                "params.feedback",
                "unknown variant",
            ),
        ];
        for (kind, params, field, problem) in cases {
            let (got_field, got_problem) = Action::decode(kind, &params).unwrap_err();
            assert_eq!(got_field, field, "{kind} {params}: {got_problem}");
            assert!(got_problem.contains(problem), "{kind} {params}: {got_problem}");
        }
    }

    #[test]
    fn typed_parameters_are_read() {
        let Some(Action::Ec2Tag { tags }) =
            Action::decode("ec2.tag", &json!({"tags": {"soar:alert-id": "a1"}})).unwrap()
        else {
            panic!("not a tag action")
        };
        assert_eq!(tags.iter().collect::<Vec<_>>(), [("soar:alert-id", "a1")]);
        assert_eq!(
            Action::decode("iam.deactivate_access_key", &json!({})).unwrap(),
            Some(Action::IamDeactivateAccessKey {
                user_name: String::new()
            })
        );
    }
}
