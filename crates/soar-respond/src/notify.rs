//! Notifications to an SNS topic and/or a Slack-compatible incoming webhook.

use async_trait::async_trait;
use serde_json::{Value, json};
use soar_aws::AwsError;
use soar_core::ports::{ActionError, Notification, Notifier};

/// The SNS message attribute saying whether a notification pages (`"true"`/`"false"`).
pub const PAGE_ATTRIBUTE: &str = "soar.page";

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
        let fail = |message: String, transient: bool| ActionError {
            action: "notify".into(),
            target: n.channel.clone(),
            message,
            transient,
        };
        if self.sns.is_none() && self.webhook.is_none() {
            return Err(fail(
                "no notification channel configured (SOAR_NOTIFY_TOPIC_ARN or SOAR_WEBHOOK_SECRET_ID)".into(),
                false,
            ));
        }
        let mut delivered = Vec::new();
        if let Some((client, topic)) = &self.sns {
            // SNS subjects are limited to 100 characters.
            let subject: String = n.subject.chars().take(100).collect();
            // `soar.page` lets a subscription's filter policy send pages to the pager and the
            // rest (follow-ups of an incident, notices) to chat only.
            let page = aws_sdk_sns::types::MessageAttributeValue::builder()
                .data_type("String")
                .string_value(if n.page { "true" } else { "false" })
                .build()
                .map_err(|e| fail(format!("SNS message attribute: {e}"), false))?;
            let out = client
                .publish()
                .topic_arn(topic)
                .subject(subject)
                .message(&n.message)
                .message_attributes(PAGE_ATTRIBUTE, page)
                .send()
                .await
                .map_err(|e| {
                    let e = AwsError::from_sdk("Publish", e);
                    fail(format!("SNS {e}"), e.is_transient())
                })?;
            delivered.push(json!({"sns": topic, "message_id": out.message_id()}));
        }
        if let Some(webhook) = &self.webhook {
            webhook
                .post(&format!("*{}*\n{}", n.subject, n.message))
                .await
                .map_err(|e| fail(e, false))?;
            delivered.push(json!({"webhook": "posted"}));
        }
        Ok(json!({"delivered": delivered}))
    }
}
