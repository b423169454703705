//! The side effects of the remediate phase, behind soar-core's `Remediator` and `Notifier` ports.
//! The guard rails (mode, allow-list, target kind, protection, ledger, cap, approval) have already
//! been applied by the core step when these are called. Each action is carried out in the account
//! and region of the alert's resource, with that account's responder role.

mod ecs;
mod guardduty;
mod iam;
mod lambda;
mod notify;
mod s3;
mod securityhub;
mod tags;

pub use iam::revocation_policy;
pub use notify::{AwsNotifier, PAGE_ATTRIBUTE, Webhook};

use async_trait::async_trait;
use serde_json::Value;
use soar_aws::AwsError;
use soar_aws::sdk::{AccountConfigs, SdkConfig};
use soar_core::action::{Action, ecs_cluster, stop_reason};
use soar_core::alert::{Alert, ResourceKind};
use soar_core::document::Target;
use soar_core::finding::FindingRef;
use soar_core::ports::{ActionError, InventoryRecord, Remediator};
use soar_core::rollback::Undo;
use soar_ec2::{Ec2, Ec2Error, InstanceFacts};
use std::sync::Arc;

/// Why an action could not be carried out.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RespondError {
    #[error(transparent)]
    Ec2(#[from] Ec2Error),
    /// IAM, S3, Lambda or ECS answered with an error (the operation is named).
    #[error("{0}")]
    Aws(#[from] AwsError),
    /// A parameter the action needs and neither the policy nor the alert gives.
    #[error("{0}")]
    Missing(&'static str),
    /// No credentials for the resource's account.
    #[error("{0}")]
    Credentials(String),
    #[error("{0}")]
    NotHere(&'static str),
    /// What the account said makes the action wrong (another role than the finding's, a role
    /// that must not be touched): nothing was changed.
    #[error("refused: {0}")]
    Refused(String),
}

impl RespondError {
    /// Whether trying again later may succeed (AWS throttled or failed on its side, or did not
    /// answer); see [`AwsError::is_transient`].
    pub fn is_transient(&self) -> bool {
        match self {
            RespondError::Aws(e) | RespondError::Ec2(Ec2Error::Aws(e)) => e.is_transient(),
            _ => false,
        }
    }
}

/// Carries out actions in the account and region of the alert's resource.
pub struct AwsRemediator {
    ec2: Ec2,
    accounts: Arc<AccountConfigs>,
    guardduty_owners: guardduty::Owners,
}

impl AwsRemediator {
    pub fn new(accounts: Arc<AccountConfigs>) -> Self {
        AwsRemediator {
            ec2: Ec2::new(accounts.clone()),
            accounts,
            guardduty_owners: guardduty::Owners::default(),
        }
    }

    /// The SDK configuration for the alert's resource: its account's responder role, its region
    /// (IAM is global: `""`, the deployment's region).
    async fn config(&self, alert: &Alert, region: &str) -> Result<SdkConfig, RespondError> {
        self.config_for(account_of(alert), region).await
    }

    /// The SDK configuration for a resource in `account` and `region` (empty: the deployment's).
    async fn config_for(&self, account: &str, region: &str) -> Result<SdkConfig, RespondError> {
        self.accounts
            .for_resource(account, region)
            .await
            .map_err(RespondError::Credentials)
    }

    /// Before a finding is hidden or rated: GuardDuty, where the finding is managed, has it as
    /// soar evaluated it (a forged alert naming a real finding's id neither hides nor rates it).
    /// Returns the client and the owner for the call that follows.
    async fn confirm_at_source(
        &self,
        alert: &Alert,
        finding_arn: &str,
    ) -> Result<(aws_sdk_guardduty::Client, guardduty::Owner), RespondError> {
        let owner = self.guardduty_owners.of(&self.accounts, finding_arn).await?;
        let client = guardduty::client(&self.accounts, &owner.account, &owner.region).await?;
        guardduty::confirm(&client, &owner, finding_arn, (&alert.kind, alert.severity)).await?;
        Ok((client, owner))
    }

    async fn iam(&self, alert: &Alert) -> Result<aws_sdk_iam::Client, RespondError> {
        Ok(aws_sdk_iam::Client::new(&self.config(alert, "").await?))
    }

    /// Every action type but notifications (which the notifier sends).
    /// `scope`: the ledger the action was claimed in (see [`Remediator::execute`]).
    async fn carry_out(
        &self,
        (alert, scope): (&Alert, &str),
        id: &str,
        action: &Action,
        described: Option<&InventoryRecord>,
    ) -> Result<Value, RespondError> {
        let (account, region) = (account_of(alert), alert.resource.region.as_str());
        let ec2 = &self.ec2;
        // What the protection check read in this phase: no second DescribeInstances.
        let known = || described.and_then(|r| InstanceFacts::from_record(id, r));
        let principal = || {
            action.principal(alert, id).ok_or(RespondError::Missing(
                "the IAM principal: set params.user_name / params.role_name, or the finding's accessKeyDetails.userName",
            ))
        };
        Ok(match action {
            Action::Ec2Isolate {} => ec2.isolate_described(account, region, id, &alert.id, known()).await?,
            Action::Ec2Snapshot { tags } => {
                ec2.snapshot_described(account, region, id, ((&alert.id, scope), tags.as_ref()), known())
                    .await?
            }
            Action::Ec2Stop {} => ec2.stop(account, region, id).await?,
            Action::Ec2Protect {} => ec2.protect(account, region, id).await?,
            Action::Ec2DetachInstanceProfile {} => ec2.detach_instance_profile(account, region, id).await?,
            Action::Ec2Tag { tags } => ec2.tag(account, region, id, tags).await?,
            Action::IamDeactivateAccessKey { .. } => {
                iam::deactivate_access_key(&self.iam(alert).await?, principal()?, id).await?
            }
            Action::IamRevokeRoleSessions { .. } => {
                // The role id part of the session's `principalId` (`AROA…:session`).
                let role_id = alert
                    .resources_named(&ResourceKind::AccessKey, id)
                    .find_map(|r| r.attributes.get("principal_id").and_then(Value::as_str))
                    .and_then(|p| p.split(':').next())
                    .filter(|p| p.starts_with("AROA"));
                iam::revoke_role_sessions(&self.iam(alert).await?, principal()?, role_id).await?
            }
            Action::S3BlockPublicAccess {} => {
                let config = self.config(alert, region).await?;
                s3::block_public_access(&s3_client(&config), id).await?
            }
            Action::LambdaThrottle {} => {
                let config = self.config(alert, region).await?;
                lambda::throttle(&aws_sdk_lambda::Client::new(&config), id).await?
            }
            Action::EcsStopTask { reason } => {
                let cluster = ecs_cluster(alert, id).ok_or(RespondError::Missing(
                    "the task's cluster: the finding names none (ecsClusterDetails) and the task id is not a long ARN",
                ))?;
                let config = self.config(alert, region).await?;
                let reason = stop_reason(alert, reason.as_deref());
                ecs::stop_task(&aws_sdk_ecs::Client::new(&config), cluster, id, &reason).await?
            }
            Action::SecurityHubUpdateFinding {
                workflow_status,
                summary,
                ..
            } => {
                let finding = own_finding(alert)?;
                if action.hides_finding() {
                    self.confirm_at_source(alert, &finding.id).await?;
                }
                let place = (alert.account.as_str(), alert.region.as_str());
                let config = self.config_for(place.0, place.1).await?;
                let client = aws_sdk_securityhub::Client::new(&config);
                securityhub::update_finding(&client, finding, (workflow_status.as_str(), summary), place).await?
            }
            Action::GuardDutyArchiveFinding {} => {
                let (client, owner) = self.confirm_at_source(alert, id).await?;
                guardduty::archive(&client, &owner, id).await?
            }
            Action::GuardDutyFeedback { feedback, summary, .. } => {
                let (client, owner) = self.confirm_at_source(alert, id).await?;
                guardduty::feedback(&client, &owner, id, (feedback.as_str(), &summary.text)).await?
            }
            Action::Notify { .. } => return Err(RespondError::NotHere("notifications are sent by the notifier")),
        })
    }

    async fn roll_back(&self, alert: &Alert, undo: &Undo) -> Result<Value, RespondError> {
        let (account, region) = (account_of(alert), alert.resource.region.as_str());
        let ec2 = &self.ec2;
        Ok(match undo {
            Undo::RestoreGroups { instance_id, groups } => {
                ec2.restore_groups(account, region, instance_id, groups).await?
            }
            Undo::StartInstance { instance_id } => ec2.start(account, region, instance_id).await?,
            Undo::Unprotect { instance_id } => ec2.unprotect(account, region, instance_id).await?,
            Undo::AssociateInstanceProfiles {
                instance_id,
                instance_profile_arns,
            } => {
                ec2.associate_instance_profiles(account, region, instance_id, instance_profile_arns)
                    .await?
            }
            Undo::ActivateAccessKey {
                user_name,
                access_key_id,
            } => iam::activate_access_key(&self.iam(alert).await?, user_name, access_key_id).await?,
            Undo::RestoreRolePolicy {
                role_name,
                policy_name,
                previous,
                written,
            } => {
                let iam = self.iam(alert).await?;
                let (previous, written) = (previous.as_deref(), written.as_deref());
                iam::restore_role_policy(&iam, role_name, policy_name, (previous, written)).await?
            }
            Undo::RestorePublicAccessBlock { bucket, previous } => {
                let config = self.config(alert, region).await?;
                s3::restore_public_access_block(&s3_client(&config), bucket, *previous).await?
            }
            Undo::RestoreConcurrency {
                function_name,
                previous,
            } => {
                let config = self.config(alert, region).await?;
                lambda::restore_concurrency(&aws_sdk_lambda::Client::new(&config), function_name, *previous).await?
            }
            Undo::RestoreFindingWorkflow {
                account,
                region,
                id,
                product_arn,
                workflow_status,
                verification_state,
            } => {
                let config = self.config_for(account, region).await?;
                let client = aws_sdk_securityhub::Client::new(&config);
                let restore = (workflow_status.as_str(), verification_state.as_deref());
                securityhub::restore_workflow(&client, (id, product_arn), restore).await?
            }
            Undo::UnarchiveFinding {
                account,
                region,
                detector_id,
                finding_id,
            } => {
                let client = guardduty::client(&self.accounts, account, region).await?;
                guardduty::unarchive(&client, detector_id, finding_id).await?
            }
        })
    }
}

/// S3 with path-style addressing when an endpoint is set (a local endpoint such as moto has no
/// `<bucket>.<host>` names); virtual-hosted style against AWS itself.
pub(crate) fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    let local = config.endpoint_url().is_some();
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(local)
            .build(),
    )
}

/// The alert's own finding in its source (checked against the target before anything is called).
fn own_finding(alert: &Alert) -> Result<&FindingRef, RespondError> {
    alert.finding.as_ref().ok_or(RespondError::Missing(
        "the alert's finding in Security Hub or GuardDuty: this alert has none",
    ))
}

/// The account a finding's resource lives in (the finding's own account when the resource has none).
fn account_of(alert: &Alert) -> &str {
    if alert.resource.account.is_empty() {
        &alert.account
    } else {
        &alert.resource.account
    }
}

#[async_trait]
impl Remediator for AwsRemediator {
    /// The one place an action type meets the API that carries it out.
    async fn execute(
        &self,
        alert: &Alert,
        scope: &str,
        target: &Target,
        action: &Action,
        described: Option<&InventoryRecord>,
    ) -> Result<Value, ActionError> {
        self.carry_out((alert, scope), &target.id, action, described)
            .await
            .map_err(|e| ActionError {
                action: action.kind().to_string(),
                target: target.id.clone(),
                transient: e.is_transient(),
                message: e.to_string(),
            })
    }

    async fn undo(&self, alert: &Alert, target: &Target, undo: &Undo) -> Result<Value, ActionError> {
        self.roll_back(alert, undo).await.map_err(|e| ActionError {
            action: "rollback".into(),
            target: target.id.clone(),
            transient: e.is_transient(),
            message: e.to_string(),
        })
    }
}
