//! The approvals function: Slack's button presses arrive through its Function URL (an HTTP
//! request in Lambda's Function URL payload, version 2.0), and an EventBridge schedule runs the
//! expiry sweep. Every press is checked before anything in it is read: Slack's signature over
//! the raw body, with a timestamp within five minutes (else 401 and nothing happens).

use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};
use soar_core::approval::{Answer, ApprovalKey, Approver, Refusal};
use soar_core::pipeline::Approvals;
use soar_core::ports::SecretSource;
use soar_slack::message::{APPROVE, DENY, settled};
use soar_slack::{SlackApi, interaction, signature};
use std::collections::HashMap;
use std::sync::Arc;

pub struct ApprovalsFunction {
    pub approvals: Approvals,
    pub slack: SlackApi,
    pub secrets: Arc<dyn SecretSource>,
    /// The Secrets Manager secret holding the Slack app's signing secret.
    pub signing_secret: String,
    /// What a press's `response_url` must start with.
    pub response_url_prefix: String,
}

/// The part of a Function URL request (payload format 2.0) a press needs.
#[derive(Debug, Deserialize)]
struct UrlRequest {
    /// Lower-case names, as Function URLs deliver them.
    #[serde(default)]
    headers: HashMap<String, String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default, rename = "isBase64Encoded")]
    is_base64_encoded: bool,
}

/// An HTTP answer in the Function URL response format (that of API Gateway's HTTP APIs,
/// payload 2.0), every field spelled out.
fn http(status: u16, body: &Value) -> Value {
    json!({
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "multiValueHeaders": {},
        "cookies": [],
        "body": body.to_string(),
        "isBase64Encoded": false,
    })
}

impl ApprovalsFunction {
    /// One invocation: a Function URL request (it has `requestContext.http`), or the schedule's
    /// event (anything else), which runs the expiry sweep.
    pub async fn handle(&self, event: Value) -> Value {
        if event.pointer("/requestContext/http").is_some() {
            return match serde_json::from_value::<UrlRequest>(event) {
                Ok(request) => self.press(request).await,
                Err(e) => http(
                    400,
                    &json!({"ok": false, "error": format!("not a Function URL request: {e}")}),
                ),
            };
        }
        self.sweep().await
    }

    async fn press(&self, request: UrlRequest) -> Value {
        let body = match raw_body(&request) {
            Ok(body) => body,
            Err(e) => return http(400, &json!({"ok": false, "error": e})),
        };
        if let Err((status, e)) = self.verified(&request, &body).await {
            return http(status, &json!({"ok": false, "error": e}));
        }
        let press = match interaction::parse(&body, &self.response_url_prefix) {
            Ok(press) => press,
            Err(e) => return http(400, &json!({"ok": false, "error": e.to_string()})),
        };
        let answer = match press.action_id.as_str() {
            APPROVE => Answer::Approve,
            DENY => Answer::Deny,
            other => {
                return http(400, &json!({"ok": false, "error": format!("unknown button `{other}`")}));
            }
        };
        let key: ApprovalKey = match serde_json::from_str(&press.value) {
            Ok(key) => key,
            Err(e) => {
                return http(
                    400,
                    &json!({"ok": false, "error": format!("the button's value is not an approval key: {e}")}),
                );
            }
        };
        let approver = Approver {
            id: press.user_id.clone(),
            name: press.user_name.clone(),
            via: "slack".into(),
            team: Some(press.team_id.clone()).filter(|t| !t.is_empty()),
        };
        let span = tracing::info_span!("approval", scope = %key.scope, action = %key.action, target = %key.target);
        let _entered = span.enter();
        let now = chrono::Utc::now().timestamp();
        let what = format!("{} on {} ({})", key.action, key.target, key.scope);
        match self.approvals.answer(&key, answer, &approver, now).await {
            Ok(answered) => {
                let outcome = answered.outcome();
                tracing::info!(answer = answer.as_str(), by = %answered.by, "answered");
                self.tell(&press.response_url, settled(&what, &outcome)).await;
                http(200, &json!({"ok": true, "answer": answer.as_str(), "outcome": outcome}))
            }
            Err(refusal) => {
                tracing::warn!(%refusal, "answer refused");
                let text = format!("Not taken: {refusal}");
                let reply = match refusal {
                    // The question itself is over: everyone sees it.
                    Refusal::Expired { .. } => settled(&what, &text),
                    // Only the person who pressed learns why; others may still answer.
                    _ => (Vec::new(), text.clone()),
                };
                if reply.0.is_empty() {
                    self.whisper(&press.response_url, &text).await;
                } else {
                    self.tell(&press.response_url, reply).await;
                }
                http(200, &json!({"ok": false, "refused": refusal.to_string()}))
            }
        }
    }

    /// Slack's signature and timestamp over the raw body. Errors: the HTTP status and why: 401
    /// for a request Slack did not sign now, 503 when the signing secret cannot be read (the
    /// detail goes to the log, not to an unauthenticated caller).
    async fn verified(&self, request: &UrlRequest, body: &[u8]) -> Result<(), (u16, String)> {
        let secret = self.secrets.secret(&self.signing_secret).await.map_err(|e| {
            tracing::error!(error = %e, "the Slack signing secret could not be read");
            (503, "cannot check signatures now".to_string())
        })?;
        let header = |name: &str| request.headers.get(&name.to_ascii_lowercase()).map(String::as_str);
        use secrecy::ExposeSecret;
        signature::verify(
            secret.expose_secret().as_bytes(),
            (header(signature::TIMESTAMP_HEADER), header(signature::SIGNATURE_HEADER)),
            body,
            chrono::Utc::now().timestamp(),
        )
        .map_err(|e| {
            tracing::warn!(error = %e, "refused a request to the approvals URL");
            (401, e.to_string())
        })
    }

    async fn tell(&self, response_url: &str, message: (Vec<Value>, String)) {
        if let Err(e) = self.slack.respond(response_url, message).await {
            tracing::warn!(error = %e, "could not update the approval message");
        }
    }

    async fn whisper(&self, response_url: &str, text: &str) {
        if let Err(e) = self.slack.respond_ephemeral(response_url, text).await {
            tracing::warn!(error = %e, "could not tell the approver");
        }
    }

    /// Expires every question past its time (recorded `expired`, nothing runs) and tells the
    /// channel by replacing each question's buttons.
    async fn sweep(&self) -> Value {
        let now = chrono::Utc::now().timestamp();
        match self.approvals.expire_due(now).await {
            Ok(expired) => {
                for e in &expired {
                    if let Some(message) = &e.message {
                        let what = format!("{} on {} ({})", e.key.action, e.key.target, e.key.scope);
                        let outcome = "Expired unanswered: nothing was carried out (recorded as expired).";
                        if let Err(err) = self.slack.update(message, settled(&what, outcome)).await {
                            tracing::warn!(error = %err, "could not update an expired approval message");
                        }
                    }
                }
                json!({"expired": expired.len()})
            }
            Err(e) => {
                tracing::error!(error = %e, "expiry sweep failed");
                json!({"error": e.to_string()})
            }
        }
    }
}

/// The body as Slack sent it (Function URLs base64-encode form bodies).
fn raw_body(request: &UrlRequest) -> Result<Vec<u8>, String> {
    let body = request.body.as_deref().unwrap_or_default();
    if request.is_base64_encoded {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|e| format!("the body is not base64 as isBase64Encoded says: {e}"))
    } else {
        Ok(body.as_bytes().to_vec())
    }
}
