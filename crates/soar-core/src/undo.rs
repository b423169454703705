//! The rollback data of each reversible action ([`Undo`]): what the adapter that carried an action
//! out read just before the change, recorded as `undo` in the action's detail. The rollback flow
//! that reads it back is [`crate::rollback`].

use crate::action::ActionKind;
use crate::document::ActionRecord;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// S3 Block Public Access settings of one bucket (S3 API reference, PublicAccessBlockConfiguration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

/// What undoing one executed action takes. Serialised into the action's detail as `undo`
/// (`{"kind": "restore_groups", ...}`), read back by [`Undo::from_record`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Undo {
    /// `ec2.isolate`: each ENI's original security groups (ENI id → group ids).
    RestoreGroups {
        instance_id: String,
        groups: BTreeMap<String, Vec<String>>,
    },
    /// `ec2.stop`: StartInstances.
    StartInstance { instance_id: String },
    /// `ec2.protect`: termination and stop protection lifted.
    Unprotect { instance_id: String },
    /// `ec2.detach_instance_profile`: each profile that was associated, associated again.
    AssociateInstanceProfiles {
        instance_id: String,
        instance_profile_arns: Vec<String>,
    },
    /// `iam.deactivate_access_key`: the key made active again.
    ActivateAccessKey { user_name: String, access_key_id: String },
    /// `iam.revoke_role_sessions`: the revocation policy deleted, or the document it replaced
    /// (`previous`, URL-decoded JSON) put back, only while the policy is still the document soar
    /// wrote (`written`): a later revocation, or a person's change, is never undone.
    RestoreRolePolicy {
        role_name: String,
        policy_name: String,
        previous: Option<String>,
        /// The document soar wrote; absent in records made before it was kept.
        #[serde(default)]
        written: Option<String>,
    },
    /// `s3.block_public_access`: the bucket's previous configuration, or none (deleted).
    RestorePublicAccessBlock {
        bucket: String,
        previous: Option<PublicAccessBlock>,
    },
    /// `lambda.throttle`: the previous reserved concurrency, or none (deleted).
    RestoreConcurrency {
        function_name: String,
        previous: Option<i32>,
    },
    /// `securityhub.update_finding`: BatchUpdateFindings in `account` and `region` with the
    /// workflow status the finding was delivered with (soar writes only over `NEW`, or over a
    /// GuardDuty event's finding, which Security Hub imports as `NEW`), and the verification
    /// state it was delivered with when soar changed it (`None`: soar did not; for a GuardDuty
    /// event, Security Hub's `UNKNOWN`). Not read back first: Security Hub's finding history
    /// keeps every change, and reading the finding would put the whole ASFF model into the
    /// function.
    RestoreFindingWorkflow {
        account: String,
        region: String,
        id: String,
        product_arn: String,
        workflow_status: String,
        #[serde(default)]
        verification_state: Option<String>,
    },
    /// `guardduty.archive_finding`: UnarchiveFindings with the detector that archived it.
    UnarchiveFinding {
        account: String,
        region: String,
        detector_id: String,
        finding_id: String,
    },
}

impl Undo {
    /// As an action's detail records it (`detail.undo`).
    pub fn data(&self) -> Value {
        // A plain enum of strings, numbers and maps: serialising it cannot fail.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The rollback data of an executed action: its detail's `undo`.
    ///
    /// Errors: the action cannot be undone, or its record holds no (readable) rollback data;
    /// the message names the action and the field.
    pub fn from_record(record: &ActionRecord) -> Result<Undo, String> {
        let action = &record.request.action;
        let kind = ActionKind::parse(action)?;
        if kind.undo().is_none() {
            return Err(format!("{action} cannot be undone"));
        }
        let data = record.detail.get("undo").ok_or_else(|| {
            format!(
                "{action} on {}: no rollback data recorded (detail.undo)",
                record.request.target.id
            )
        })?;
        serde_json::from_value(data.clone()).map_err(|e| {
            format!(
                "{action} on {}: detail.undo is not readable rollback data: {e}",
                record.request.target.id
            )
        })
    }

    /// The AWS API calls undoing makes (`service:Operation` and its parameters), as a dry run
    /// prints them.
    pub fn api_calls(&self) -> Vec<String> {
        match self {
            Undo::RestoreGroups { instance_id, groups } => {
                let mut calls: Vec<String> = groups
                    .iter()
                    .map(|(eni, g)| {
                        format!(
                            "ec2:ModifyNetworkInterfaceAttribute NetworkInterfaceId={eni} Groups=[{}]",
                            g.join(",")
                        )
                    })
                    .collect();
                if let [(_, g)] = groups.iter().collect::<Vec<_>>().as_slice() {
                    calls.push(format!(
                        "ec2:ModifyInstanceAttribute InstanceId={instance_id} Groups=[{}]",
                        g.join(",")
                    ));
                }
                calls
            }
            Undo::StartInstance { instance_id } => vec![format!("ec2:StartInstances InstanceIds=[{instance_id}]")],
            Undo::Unprotect { instance_id } => vec![
                format!("ec2:ModifyInstanceAttribute InstanceId={instance_id} DisableApiTermination=false"),
                format!("ec2:ModifyInstanceAttribute InstanceId={instance_id} DisableApiStop=false"),
            ],
            Undo::AssociateInstanceProfiles {
                instance_id,
                instance_profile_arns,
            } => instance_profile_arns
                .iter()
                .map(|arn| {
                    format!("ec2:AssociateIamInstanceProfile InstanceId={instance_id} IamInstanceProfile.Arn={arn}")
                })
                .collect(),
            Undo::ActivateAccessKey {
                user_name,
                access_key_id,
            } => vec![format!(
                "iam:UpdateAccessKey UserName={user_name} AccessKeyId={access_key_id} Status=Active"
            )],
            Undo::RestoreFindingWorkflow {
                account,
                region,
                id,
                product_arn,
                workflow_status,
                verification_state,
            } => vec![format!(
                "securityhub:BatchUpdateFindings FindingIdentifiers=[{{Id={id},ProductArn={product_arn}}}] Workflow.Status={workflow_status}{} (account {account} region {region})",
                verification_state
                    .as_ref()
                    .map(|v| format!(" VerificationState={v}"))
                    .unwrap_or_default()
            )],
            Undo::UnarchiveFinding {
                account,
                region,
                detector_id,
                finding_id,
            } => vec![format!(
                "guardduty:UnarchiveFindings DetectorId={detector_id} FindingIds=[{finding_id}] (account {account} region {region})"
            )],
            Undo::RestoreRolePolicy { .. }
            | Undo::RestorePublicAccessBlock { .. }
            | Undo::RestoreConcurrency { .. } => self.checked_calls(),
        }
    }

    /// The calls of the rollbacks that first check the resource is still as soar left it.
    fn checked_calls(&self) -> Vec<String> {
        match self {
            Undo::RestoreRolePolicy {
                role_name,
                policy_name,
                previous,
                written,
            } => {
                let check = written.as_ref().map(|_| {
                    format!("iam:GetRolePolicy RoleName={role_name} PolicyName={policy_name} (still what soar wrote?)")
                });
                let restore = match previous {
                    None => format!("iam:DeleteRolePolicy RoleName={role_name} PolicyName={policy_name}"),
                    Some(_) => format!(
                        "iam:PutRolePolicy RoleName={role_name} PolicyName={policy_name} (the document it replaced)"
                    ),
                };
                check.into_iter().chain([restore]).collect()
            }
            Undo::RestorePublicAccessBlock { bucket, previous } => {
                let check = format!("s3:GetBucketPublicAccessBlock Bucket={bucket} (still what soar set?)");
                let restore = match previous {
                    None => format!("s3:DeleteBucketPublicAccessBlock Bucket={bucket}"),
                    Some(p) => format!(
                        "s3:PutBucketPublicAccessBlock Bucket={bucket} BlockPublicAcls={} IgnorePublicAcls={} BlockPublicPolicy={} RestrictPublicBuckets={}",
                        p.block_public_acls, p.ignore_public_acls, p.block_public_policy, p.restrict_public_buckets
                    ),
                };
                vec![check, restore]
            }
            Undo::RestoreConcurrency {
                function_name,
                previous,
            } => {
                let check = format!("lambda:GetFunctionConcurrency FunctionName={function_name} (still 0?)");
                let restore = match previous {
                    None => format!("lambda:DeleteFunctionConcurrency FunctionName={function_name}"),
                    Some(n) => format!(
                        "lambda:PutFunctionConcurrency FunctionName={function_name} ReservedConcurrentExecutions={n}"
                    ),
                };
                vec![check, restore]
            }
            _ => Vec::new(),
        }
    }
}
