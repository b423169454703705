//! A stand-in for Slack on 127.0.0.1 (wiremock, through [`crate::fake_http`]): the Web API
//! methods approvals call (`chat.postMessage`, `chat.update`) and the `response_url`s of button
//! presses, each recorded; and presses as Slack sends them (a form body holding the
//! `block_actions` payload, signed with the app's signing secret).

// Test code: a failed unwrap is the test failing, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::fake_http::{FakeHttp, Recorded, Reply};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The channel the stand-in says every question went to.
pub const CHANNEL: &str = "C0SOAR";
/// The workspace of the presses.
pub const TEAM: &str = "T0SOAR";
/// The signing secret the tests configure (a value of the test's Secrets Manager).
pub const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

pub struct SlackStandIn {
    http: FakeHttp,
}

impl SlackStandIn {
    pub async fn start() -> SlackStandIn {
        let next_ts = Arc::new(AtomicU64::new(1));
        let http = FakeHttp::start(move |request| match request.target.as_str() {
            "/api/chat.postMessage" => {
                let n = next_ts.fetch_add(1, Ordering::SeqCst);
                Reply::json(
                    200,
                    json!({"ok": true, "channel": CHANNEL, "ts": format!("1700000000.{n:06}")}),
                )
            }
            "/api/chat.update" => Reply::json(200, json!({"ok": true})),
            target if target.starts_with("/hooks/") => Reply::text(200, "ok"),
            _ => Reply::json(404, json!({"ok": false, "error": "unknown_method"})),
        })
        .await;
        SlackStandIn { http }
    }

    /// `SOAR_SLACK_API_URL`.
    pub fn api_url(&self) -> String {
        format!("{}/api/", self.http.url())
    }

    /// `SOAR_SLACK_RESPONSE_URL_PREFIX`.
    pub fn hooks(&self) -> String {
        format!("{}/hooks/", self.http.url())
    }

    /// The JSON bodies received at `path` (`/api/chat.postMessage`, `/hooks/…`), oldest first.
    pub fn received(&self, path: &str) -> Vec<Value> {
        self.http
            .requests()
            .iter()
            .filter(|r| r.target.starts_with(path))
            .map(|r: &Recorded| serde_json::from_str(&r.body).unwrap_or(Value::Null))
            .collect()
    }

    /// Every question posted, oldest first.
    pub fn questions(&self) -> Vec<Value> {
        self.received("/api/chat.postMessage")
    }

    /// The `value` of a question's `action_id` button (the approval key it carries).
    pub fn button(question: &Value, action_id: &str) -> String {
        question["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["type"] == "actions")
            .flat_map(|b| b["elements"].as_array().unwrap())
            .find(|e| e["action_id"] == action_id)
            .and_then(|e| e["value"].as_str())
            .unwrap_or_else(|| panic!("no {action_id} button in {question}"))
            .to_string()
    }

    /// A press of `action_id` carrying `value`, by Slack user `user`, as Slack's form body.
    pub fn press(&self, user: &str, action_id: &str, value: &str) -> String {
        let payload = json!({
            "type": "block_actions",
            "user": {"id": user, "username": user.to_lowercase(), "team_id": TEAM},
            "team": {"id": TEAM},
            "container": {"type": "message", "channel_id": CHANNEL, "message_ts": "1700000000.000001"},
            "response_url": format!("{}press-{user}", self.hooks()),
            "actions": [{"type": "button", "action_id": action_id, "block_id": "soar_approval", "value": value}],
        });
        form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", &payload.to_string())
            .finish()
    }
}

/// The two headers Slack signs a request with, at Unix time `at`.
pub fn signed(secret: &str, body: &str, at: i64) -> [(&'static str, String); 2] {
    let timestamp = at.to_string();
    [
        (soar_slack::signature::TIMESTAMP_HEADER, timestamp.clone()),
        (
            soar_slack::signature::SIGNATURE_HEADER,
            soar_slack::signature::sign(secret.as_bytes(), &timestamp, body.as_bytes()),
        ),
    ]
}
