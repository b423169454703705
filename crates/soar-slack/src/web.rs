//! Slack's Web API as approvals use it (Slack API reference: `chat.postMessage`, `chat.update`,
//! and posting to an interaction's `response_url`), with the bot token (`xoxb-…`) read from a
//! secret store on first use.

use crate::message;
use async_trait::async_trait;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use soar_core::approval::MessageRef;
use soar_core::ports::{ApprovalAsk, ApprovalChannel, SecretSource};
use std::sync::Arc;
use std::time::Duration;

/// Slack's Web API base.
pub const API_URL: &str = "https://slack.com/api/";

/// How long one call to Slack may take: approvals run inside a function invocation.
const TIMEOUT: Duration = Duration::from_secs(10);

/// A failed call, with Slack's error code when it gave one (`channel_not_found`, `invalid_auth`, …).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Slack {method}: {message}")]
pub struct SlackError {
    pub method: String,
    pub message: String,
}

/// Slack's Web API with a bot token from a secret.
pub struct SlackApi {
    /// Ends with `/` (`https://slack.com/api/`, or a local stand-in in tests).
    base: String,
    secrets: Arc<dyn SecretSource>,
    token_secret: String,
    http: soar_https::LazyWebClient,
}

impl SlackApi {
    pub fn new(base: &str, secrets: Arc<dyn SecretSource>, token_secret: impl Into<String>) -> Self {
        let base = if base.ends_with('/') {
            base.to_string()
        } else {
            format!("{base}/")
        };
        SlackApi {
            base,
            secrets,
            token_secret: token_secret.into(),
            http: soar_https::LazyWebClient::with_timeout(TIMEOUT),
        }
    }

    /// Calls `method` with a JSON body; returns Slack's answer when `ok`.
    pub async fn call(&self, method: &str, body: &Value) -> Result<Value, SlackError> {
        let failed = |message: String| SlackError {
            method: method.to_string(),
            message,
        };
        let token = self
            .secrets
            .secret(&self.token_secret)
            .await
            .map_err(|e| failed(e.to_string()))?;
        let response = self
            .http
            .get()
            .post(format!("{}{method}", self.base))
            .bearer_auth(token.expose_secret())
            .header("content-type", "application/json; charset=utf-8")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| failed(e.to_string()))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| failed(format!("HTTP {status}: {e}")))?;
        let answer: Value =
            serde_json::from_slice(&bytes).map_err(|e| failed(format!("HTTP {status}, not JSON: {e}")))?;
        if answer["ok"].as_bool() != Some(true) {
            let code = answer["error"].as_str().unwrap_or("no error code");
            return Err(failed(format!("HTTP {status}: {code}")));
        }
        Ok(answer)
    }

    /// Replaces a posted message (`chat.update`) with `(blocks, fallback text)`.
    pub async fn update(&self, message: &MessageRef, (blocks, text): (Vec<Value>, String)) -> Result<(), SlackError> {
        self.call(
            "chat.update",
            &json!({"channel": message.channel, "ts": message.ts, "text": text, "blocks": blocks}),
        )
        .await
        .map(|_| ())
    }

    /// Replaces the message an interaction came from (its `response_url`, valid 30 minutes).
    pub async fn respond(&self, response_url: &str, (blocks, text): (Vec<Value>, String)) -> Result<(), SlackError> {
        self.post_response(
            response_url,
            &json!({"replace_original": true, "text": text, "blocks": blocks}),
        )
        .await
    }

    /// A reply only the person who pressed sees; the message stays as it was.
    pub async fn respond_ephemeral(&self, response_url: &str, text: &str) -> Result<(), SlackError> {
        self.post_response(
            response_url,
            &json!({"response_type": "ephemeral", "replace_original": false, "text": text}),
        )
        .await
    }

    async fn post_response(&self, response_url: &str, body: &Value) -> Result<(), SlackError> {
        let failed = |message: String| SlackError {
            method: "response_url".into(),
            message,
        };
        let response = self
            .http
            .get()
            .post(response_url)
            .header("content-type", "application/json; charset=utf-8")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| failed(e.to_string()))?;
        if !response.status().is_success() {
            return Err(failed(format!("HTTP {}", response.status())));
        }
        Ok(())
    }
}

/// Approvals asked in one Slack channel.
pub struct SlackApprovals {
    pub api: SlackApi,
    /// The channel id (`C…`) or name the bot posts questions to.
    pub channel: String,
}

#[async_trait]
impl ApprovalChannel for SlackApprovals {
    async fn ask(&self, ask: &ApprovalAsk<'_>) -> Result<Option<MessageRef>, String> {
        let (blocks, text) = message::ask(ask);
        let answer = self
            .api
            .call(
                "chat.postMessage",
                &json!({"channel": self.channel, "text": text, "blocks": blocks, "unfurl_links": false}),
            )
            .await
            .map_err(|e| e.to_string())?;
        let (channel, ts) = (answer["channel"].as_str(), answer["ts"].as_str());
        Ok(channel.zip(ts).map(|(channel, ts)| MessageRef {
            channel: channel.to_string(),
            ts: ts.to_string(),
        }))
    }

    async fn settle(&self, message: &MessageRef, what: &str, outcome: &str) -> Result<(), String> {
        self.api
            .update(message, message::settled(what, outcome))
            .await
            .map_err(|e| e.to_string())
    }
}
