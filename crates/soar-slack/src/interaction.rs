//! A button press in a Slack message, as Slack's interactivity request delivers it (Slack API,
//! "Handling user interaction" and the `block_actions` payload reference): a form-encoded body
//! whose one `payload` field holds JSON. Read only after [`crate::signature::verify`] passed.
//! Anything ambiguous (two payloads, two actions) or incomplete is refused: an approval is only
//! ever read from a press that says one thing.

use serde_json::Value;

/// The largest body read, in bytes: a `block_actions` payload carries the message's blocks,
/// a few kilobytes to a few tens; anything far larger is not one.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Where Slack's `response_url`s point (Slack API, "Handling user interaction"): soar posts
/// the outcome there, so it must be Slack's, nowhere else (a local stand-in for Slack in tests).
pub const RESPONSE_URL_PREFIX: &str = "https://hooks.slack.com/";

/// One press of one button.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ButtonPress {
    /// The Slack user who pressed it (`user.id`, e.g. `U2CERLKJA`).
    pub user_id: String,
    /// Their username (`user.username`, else `user.name`), for messages; empty when absent.
    pub user_name: String,
    /// `user.team_id`, else `team.id`; empty when absent.
    pub team_id: String,
    /// The button's `action_id` (which button: approve or deny).
    pub action_id: String,
    /// The button's `value` (what it approves).
    pub value: String,
    /// Where the outcome goes (`https://hooks.slack.com/...`).
    pub response_url: String,
    /// The message's channel (`container.channel_id`, else `channel.id`).
    pub channel_id: String,
    /// The message's timestamp (`container.message_ts`, else `message.ts`).
    pub message_ts: String,
}

/// Why a body is not one button press.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("the body is {0} bytes, more than {MAX_BODY_BYTES}")]
    TooLarge(usize),
    #[error("no `payload` field in the form body")]
    NoPayload,
    #[error("{0} `payload` fields: which one Slack meant is ambiguous")]
    Ambiguous(usize),
    #[error("`payload` is not JSON: {0}")]
    NotJson(String),
    #[error("`payload.type` is `{0}`, not `block_actions`")]
    NotBlockActions(String),
    #[error("`payload.actions` holds {0} actions, not one")]
    Actions(usize),
    #[error("`payload.{0}` is missing or empty")]
    Missing(&'static str),
    #[error("`payload.response_url` does not start with {0}")]
    ForeignResponseUrl(String),
}

/// Reads the button press in a form-encoded interactivity body; its `response_url` must start
/// with `response_url_prefix` ([`RESPONSE_URL_PREFIX`] but in tests).
///
/// Errors: [`PayloadError`], naming the field.
pub fn parse(body: &[u8], response_url_prefix: &str) -> Result<ButtonPress, PayloadError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(PayloadError::TooLarge(body.len()));
    }
    let payloads: Vec<String> = form_urlencoded::parse(body)
        .filter(|(name, _)| name == "payload")
        .map(|(_, value)| value.into_owned())
        .collect();
    let payload = match payloads.as_slice() {
        [] => return Err(PayloadError::NoPayload),
        [one] => one,
        many => return Err(PayloadError::Ambiguous(many.len())),
    };
    let json: Value = serde_json::from_str(payload).map_err(|e| PayloadError::NotJson(e.to_string()))?;
    let kind = text(&json, "/type");
    if kind != "block_actions" {
        return Err(PayloadError::NotBlockActions(kind.chars().take(64).collect()));
    }
    let action = match json["actions"].as_array().map(Vec::as_slice) {
        Some([one]) => one,
        Some(many) => return Err(PayloadError::Actions(many.len())),
        None => return Err(PayloadError::Actions(0)),
    };
    let required = |value: String, field: &'static str| {
        if value.trim().is_empty() {
            Err(PayloadError::Missing(field))
        } else {
            Ok(value)
        }
    };
    let response_url = required(text(&json, "/response_url"), "response_url")?;
    if !response_url.starts_with(response_url_prefix) {
        return Err(PayloadError::ForeignResponseUrl(response_url_prefix.to_string()));
    }
    Ok(ButtonPress {
        user_id: required(text(&json, "/user/id"), "user.id")?,
        user_name: first(&json, &["/user/username", "/user/name"]),
        team_id: first(&json, &["/user/team_id", "/team/id"]),
        action_id: required(text(action, "/action_id"), "actions[0].action_id")?,
        value: required(text(action, "/value"), "actions[0].value")?,
        response_url,
        channel_id: required(
            first(&json, &["/container/channel_id", "/channel/id"]),
            "container.channel_id",
        )?,
        message_ts: required(
            first(&json, &["/container/message_ts", "/message/ts"]),
            "container.message_ts",
        )?,
    })
}

/// The string at `pointer`, empty when absent or not a string.
fn text(value: &Value, pointer: &str) -> String {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// The first non-empty string among `pointers`.
fn first(value: &Value, pointers: &[&str]) -> String {
    pointers
        .iter()
        .map(|p| text(value, p))
        .find(|t| !t.is_empty())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(body: &[u8]) -> Result<ButtonPress, PayloadError> {
        parse(body, RESPONSE_URL_PREFIX)
    }
    use serde_json::json;

    fn press() -> Value {
        json!({
            "type": "block_actions",
            "user": {"id": "U2CERLKJA", "username": "alice", "name": "alice", "team_id": "T1DC2JH3J"},
            "container": {"type": "message", "message_ts": "1548261231.000200", "channel_id": "C0123"},
            "channel": {"id": "C0123", "name": "security-oncall"},
            "message": {"ts": "1548261231.000200", "blocks": []},
            "response_url": "https://hooks.slack.com/actions/T1DC2JH3J/397700885554/96rGlfmibIGlgcZRskXaIFfN",
            "actions": [{"type": "button", "action_id": "approve", "block_id": "b", "value": "inc-1|ec2.stop|i-1|digest",
                "action_ts": "1548426417.840180"}]
        })
    }

    fn body(payload: &Value) -> Vec<u8> {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", &payload.to_string())
            .finish()
            .into_bytes()
    }

    #[test]
    fn a_button_press_is_read_field_by_field() {
        let got = read(&body(&press())).unwrap();
        assert_eq!(
            got,
            ButtonPress {
                user_id: "U2CERLKJA".into(),
                user_name: "alice".into(),
                team_id: "T1DC2JH3J".into(),
                action_id: "approve".into(),
                value: "inc-1|ec2.stop|i-1|digest".into(),
                response_url: "https://hooks.slack.com/actions/T1DC2JH3J/397700885554/96rGlfmibIGlgcZRskXaIFfN".into(),
                channel_id: "C0123".into(),
                message_ts: "1548261231.000200".into(),
            }
        );
    }

    #[test]
    fn anything_ambiguous_or_incomplete_is_refused_naming_the_field() {
        let mut twice = body(&press());
        twice.extend_from_slice(b"&");
        twice.extend_from_slice(&body(&press()));
        assert_eq!(read(&twice), Err(PayloadError::Ambiguous(2)));
        assert_eq!(read(b"token=x&team_id=T1"), Err(PayloadError::NoPayload));
        assert!(matches!(read(b"payload=%7Bnot-json"), Err(PayloadError::NotJson(_))));
        let cases: [(&str, Value, PayloadError); 6] = [
            (
                "/type",
                json!("view_submission"),
                PayloadError::NotBlockActions("view_submission".into()),
            ),
            (
                "/actions",
                json!([{"action_id": "a", "value": "v"}, {"action_id": "b", "value": "w"}]),
                PayloadError::Actions(2),
            ),
            ("/actions", json!([]), PayloadError::Actions(0)),
            ("/user", json!({"name": "alice"}), PayloadError::Missing("user.id")),
            (
                "/response_url",
                json!("https://evil.example/hook"),
                PayloadError::ForeignResponseUrl(RESPONSE_URL_PREFIX.into()),
            ),
            (
                "/response_url",
                json!("https://hooks.slack.com.evil.example/x"),
                PayloadError::ForeignResponseUrl(RESPONSE_URL_PREFIX.into()),
            ),
        ];
        for (pointer, value, expected) in cases {
            let mut payload = press();
            *payload.pointer_mut(pointer).unwrap() = value;
            assert_eq!(read(&body(&payload)), Err(expected), "{pointer}");
        }
        let mut no_value = press();
        no_value["actions"][0]["value"] = json!("  ");
        assert_eq!(read(&body(&no_value)), Err(PayloadError::Missing("actions[0].value")));
        assert_eq!(
            read(&vec![b'a'; MAX_BODY_BYTES + 1]),
            Err(PayloadError::TooLarge(MAX_BODY_BYTES + 1))
        );
    }

    #[test]
    fn the_channel_and_message_come_from_the_container_else_the_message() {
        let mut payload = press();
        payload.as_object_mut().unwrap().remove("container");
        let got = read(&body(&payload)).unwrap();
        assert_eq!(
            (got.channel_id.as_str(), got.message_ts.as_str()),
            ("C0123", "1548261231.000200")
        );
        payload.as_object_mut().unwrap().remove("message");
        assert_eq!(
            read(&body(&payload)),
            Err(PayloadError::Missing("container.message_ts"))
        );
    }
}
