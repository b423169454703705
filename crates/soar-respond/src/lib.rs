//! The side effects of the remediate phase, behind soar-core's `Remediator` and `Notifier` ports.
//! The guard rails (mode, allow-list, protection, ledger, cap, approval) have already been applied
//! by the core step when these are called.

use async_trait::async_trait;
use aws_sdk_iam::types::StatusType;
use serde_json::{Value, json};
use soar_aws::AwsError;
use soar_aws::sdk::AccountConfigs;
use soar_core::action::Action;
use soar_core::alert::Alert;
use soar_core::document::Target;
use soar_core::ports::{ActionError, InventoryRecord, Notification, Notifier, Remediator};
use soar_ec2::{Ec2, Ec2Error, InstanceFacts};
use std::sync::Arc;

/// Why an action could not be carried out.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RespondError {
    #[error(transparent)]
    Ec2(#[from] Ec2Error),
    #[error("IAM {0}")]
    Iam(#[from] AwsError),
    /// A parameter the action needs and neither the policy nor the alert gives.
    #[error("{0}")]
    Missing(&'static str),
    /// No credentials for the resource's account.
    #[error("{0}")]
    Credentials(String),
    #[error("{0}")]
    NotHere(&'static str),
}

/// Carries out `ec2.*` and `iam.*` actions in the account and region of the alert's resource.
pub struct AwsRemediator {
    ec2: Ec2,
    accounts: Arc<AccountConfigs>,
}

impl AwsRemediator {
    pub fn new(accounts: Arc<AccountConfigs>) -> Self {
        AwsRemediator {
            ec2: Ec2::new(accounts.clone()),
            accounts,
        }
    }

    /// `user_name`: the key's IAM user; empty means the alert resource's `user_name` attribute.
    async fn deactivate_access_key(&self, alert: &Alert, key: &str, user_name: &str) -> Result<Value, RespondError> {
        let user = Some(user_name)
            .filter(|u| !u.is_empty())
            .or_else(|| alert.resource.attributes.get("user_name").and_then(Value::as_str))
            .ok_or(RespondError::Missing(
                "iam.deactivate_access_key needs params.user_name (the key's IAM user)",
            ))?
            .to_string();
        let config = self
            .accounts
            .for_resource(account_of(alert), "")
            .await
            .map_err(RespondError::Credentials)?;
        aws_sdk_iam::Client::new(&config)
            .update_access_key()
            .user_name(&user)
            .access_key_id(key)
            .status(StatusType::Inactive)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("UpdateAccessKey", e))?;
        Ok(json!({
            "user_name": user,
            "access_key_id": key,
            "status": "Inactive",
            "rollback": format!("aws iam update-access-key --user-name {user} --access-key-id {key} --status Active"),
        }))
    }
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
        target: &Target,
        action: &Action,
        described: Option<&InventoryRecord>,
    ) -> Result<Value, ActionError> {
        let (account, region) = (account_of(alert), alert.resource.region.as_str());
        let id = target.id.as_str();
        let ec2 = &self.ec2;
        // What the protection check read in this phase: no second DescribeInstances.
        let known = || described.and_then(|r| InstanceFacts::from_record(id, r));
        let result: Result<Value, RespondError> = match action {
            Action::Ec2Isolate {} => ec2
                .isolate_described(account, region, id, &alert.id, known())
                .await
                .map_err(Into::into),
            Action::Ec2Snapshot { tags } => ec2
                .snapshot_described(account, region, id, (&alert.id, tags.as_ref()), known())
                .await
                .map_err(Into::into),
            Action::Ec2Stop {} => ec2.stop(account, region, id).await.map_err(Into::into),
            Action::Ec2Protect {} => ec2.protect(account, region, id).await.map_err(Into::into),
            Action::Ec2DetachInstanceProfile {} => ec2
                .detach_instance_profile(account, region, id)
                .await
                .map_err(Into::into),
            Action::Ec2Tag { tags } => ec2.tag(account, region, id, tags).await.map_err(Into::into),
            Action::IamDeactivateAccessKey { user_name } => self.deactivate_access_key(alert, id, user_name).await,
            // The remediate step hands notifications to the Notifier, never here.
            Action::Notify { .. } => Err(RespondError::NotHere("notifications are sent by the notifier")),
        };
        result.map_err(|e| ActionError {
            action: action.kind().to_string(),
            target: id.to_string(),
            message: e.to_string(),
        })
    }
}

/// Notifications to an SNS topic and/or a Slack-compatible incoming webhook.
pub struct AwsNotifier {
    sns: Option<(aws_sdk_sns::Client, String)>,
    webhook: Option<Webhook>,
}

/// The webhook URL is a secret: read from Secrets Manager once, on first use.
pub struct Webhook {
    secret: Option<(aws_sdk_secretsmanager::Client, String)>,
    url: tokio::sync::OnceCell<String>,
    /// Built on first post (see soar-https).
    http: soar_https::LazyWebClient,
}

impl Webhook {
    /// A webhook whose URL is the value of a Secrets Manager secret.
    pub fn from_secret(client: aws_sdk_secretsmanager::Client, secret_id: impl Into<String>) -> Self {
        Webhook {
            secret: Some((client, secret_id.into())),
            url: tokio::sync::OnceCell::new(),
            http: Default::default(),
        }
    }

    /// A webhook at a known URL (tests, local runs).
    pub fn from_url(url: impl Into<String>) -> Self {
        Webhook {
            secret: None,
            url: tokio::sync::OnceCell::new_with(Some(url.into())),
            http: Default::default(),
        }
    }

    async fn url(&self) -> Result<&str, String> {
        self.url
            .get_or_try_init(|| async {
                let (client, id) = self.secret.as_ref().ok_or("no webhook URL configured")?;
                let out = client
                    .get_secret_value()
                    .secret_id(id)
                    .send()
                    .await
                    .map_err(|e| format!("Secrets Manager {} ({id})", AwsError::from_sdk("GetSecretValue", e)))?;
                out.secret_string()
                    .map(|s| s.trim().to_string())
                    .ok_or_else(|| format!("secret {id} has no string value"))
            })
            .await
            .map(String::as_str)
    }

    async fn post(&self, text: &str) -> Result<(), String> {
        let url = self.url().await?;
        let response = self
            .http
            .get()
            .post(url)
            .header("content-type", "application/json")
            .body(json!({"text": text}).to_string())
            .timeout(std::time::Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| format!("webhook: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("webhook answered {}", response.status()));
        }
        Ok(())
    }
}

impl AwsNotifier {
    pub fn new(sns: Option<(aws_sdk_sns::Client, String)>, webhook: Option<Webhook>) -> Self {
        AwsNotifier { sns, webhook }
    }
}

#[async_trait]
impl Notifier for AwsNotifier {
    async fn notify(&self, n: &Notification) -> Result<Value, ActionError> {
        let fail = |message: String| ActionError {
            action: "notify".into(),
            target: n.channel.clone(),
            message,
        };
        if self.sns.is_none() && self.webhook.is_none() {
            return Err(fail(
                "no notification channel configured (SOAR_NOTIFY_TOPIC_ARN or SOAR_WEBHOOK_SECRET_ID)".into(),
            ));
        }
        let mut delivered = Vec::new();
        if let Some((client, topic)) = &self.sns {
            // SNS subjects are limited to 100 characters.
            let subject: String = n.subject.chars().take(100).collect();
            let out = client
                .publish()
                .topic_arn(topic)
                .subject(subject)
                .message(&n.message)
                .send()
                .await
                .map_err(|e| fail(format!("SNS {}", AwsError::from_sdk("Publish", e))))?;
            delivered.push(json!({"sns": topic, "message_id": out.message_id()}));
        }
        if let Some(webhook) = &self.webhook {
            webhook
                .post(&format!("*{}*\n{}", n.subject, n.message))
                .await
                .map_err(fail)?;
            delivered.push(json!({"webhook": "posted"}));
        }
        Ok(json!({"delivered": delivered}))
    }
}
