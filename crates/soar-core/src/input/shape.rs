//! Telling the shapes apart: an EventBridge envelope, a bare GuardDuty finding, or another
//! tool's alert. (SQS events are unwrapped first, in [`super::sqs`].)

use super::error::InputError;
use super::fields::text;
use super::guardduty;
use super::incoming::Incoming;
use super::malware;
use serde_json::Value;

pub(super) fn parse_json(bytes: &[u8]) -> Result<Value, InputError> {
    // A UTF-8 byte order mark, as some Windows tools write one, is not part of the JSON.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    crate::json::from_slice_keeping_duplicates(bytes).map_err(|e| {
        let msg = e.to_string();
        if msg.contains("recursion limit") {
            InputError::NotJson(format!("nested deeper than 128 levels ({msg})"))
        } else {
            InputError::NotJson(msg)
        }
    })
}

pub(super) fn recognise(value: Value) -> Result<Incoming, InputError> {
    let Some(obj) = value.as_object() else {
        return Err(InputError::WrongShape(format!(
            "expected a JSON object (an EventBridge event, a GuardDuty finding, an SQS event or an alert), got {}",
            json_kind(&value)
        )));
    };
    if obj.contains_key("detail-type") || (obj.contains_key("detail") && obj.contains_key("source")) {
        let source = text(obj.get("source")).unwrap_or_default();
        let detail = obj.get("detail").filter(|d| d.is_object()).ok_or_else(|| {
            InputError::invalid(
                "detail",
                "an EventBridge event carries its payload as an object in `detail`",
            )
        })?;
        let detail_type = text(obj.get("detail-type")).unwrap_or_default();
        if source == "aws.guardduty" || detail_type == "GuardDuty Finding" {
            return guardduty_event(&value, &detail_type, detail);
        }
        return Ok(Incoming::Generic {
            source: if source.is_empty() {
                "eventbridge".into()
            } else {
                source
            },
            raw: value,
        });
    }
    if looks_like_guardduty(&value) {
        return guardduty::alert_from_finding(&value).map(|a| Incoming::Normalised(Box::new(a)));
    }
    if obj.is_empty() {
        return Err(InputError::WrongShape("an empty object carries no alert".into()));
    }
    let source = text(obj.get("source"))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "generic".into());
    Ok(Incoming::Generic { source, raw: value })
}

/// An event from GuardDuty, told apart by its detail-type: a finding, a Malware Protection scan
/// result, or another kind of event (which the ingest policy maps like another tool's alert).
/// A forwarder that dropped the detail-type is told apart by the detail's own fields.
fn guardduty_event(event: &Value, detail_type: &str, detail: &Value) -> Result<Incoming, InputError> {
    let normalised = |alert| Incoming::Normalised(Box::new(alert));
    if malware::is_scan_result(detail_type, detail) {
        return malware::alert_from_scan(event).map(normalised);
    }
    if detail_type == "GuardDuty Finding" || detail_type.is_empty() {
        return guardduty::alert_from_finding(detail)
            .map(normalised)
            .map_err(|e| e.within("detail"));
    }
    Ok(Incoming::Generic {
        source: "aws.guardduty".into(),
        raw: event.clone(),
    })
}

fn looks_like_guardduty(value: &Value) -> bool {
    let service = &value["service"];
    service.is_object()
        && (service["serviceName"] == "guardduty"
            || service.get("detectorId").is_some()
            || value["arn"].as_str().is_some_and(|arn| arn.contains(":guardduty:")))
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
