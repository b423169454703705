//! Envelopes, opened in one place. Whatever delivered an alert wraps it in its own JSON, and the
//! alert inside is handled exactly as if it had arrived bare:
//!
//! - an SNS notification (`{"Type": "Notification", "Message": "<the alert as JSON text>", ...}`):
//!   what an SQS queue subscribed to an SNS topic receives when raw message delivery is off (the
//!   default);
//! - an SNS event (`{"Records": [{"EventSource": "aws:sns", "Sns": {<a notification>}}]}`): a
//!   function subscribed to the topic directly; one input per record;
//! - a Security Hub event or export: one input per finding ([`super::securityhub`]);
//! - a list: a JSON array, or GuardDuty's `{"Findings": [...]}`: one input per entry.
//!
//! SQS events are opened before this ([`super::sqs`]), at the top only: an SQS body holds one
//! message, never another Lambda event.
//!
//! Formats: SNS message and notification JSON, Amazon SNS Developer Guide ("Amazon SNS message
//! and JSON formats"); the SNS event of a Lambda function, AWS Lambda Developer Guide ("Using
//! AWS Lambda with Amazon SNS").

use super::error::InputError;
use super::fields::text;
use super::incoming::ParsedInput;
use super::securityhub;
use super::shape::{parse_json, recognise};
use serde_json::Value;

/// Envelopes inside envelopes soar opens before it gives up: SNS inside SNS is already unusual.
const MAX_DEPTH: u8 = 4;

/// Whether `payload` is the SNS event a subscribed Lambda function receives: `Records`, every
/// one an SNS record (`EventSource: "aws:sns"` or an `Sns` object).
pub fn is_sns_event(payload: &Value) -> bool {
    match payload.get("Records") {
        Some(Value::Array(records)) => {
            !records.is_empty()
                && records
                    .iter()
                    .all(|r| r.get("EventSource").and_then(Value::as_str) == Some("aws:sns") || r["Sns"].is_object())
        }
        _ => false,
    }
}

/// Whether `payload` is an SNS notification: `Type: "Notification"` with a `Message`, and the
/// topic or message id SNS always sets.
fn is_sns_notification(payload: &Value) -> bool {
    payload.get("Type").and_then(Value::as_str) == Some("Notification")
        && payload.get("Message").is_some()
        && (payload.get("TopicArn").is_some() || payload.get("MessageId").is_some())
}

/// The alerts in `payload`, its envelopes opened. `part` and `message_id` label where the
/// payload itself sits (an SQS record); inner parts are named below it (`Message`,
/// `Records[0].Sns.Message`, `detail.findings[2]`).
pub(super) fn open(payload: Value, part: Option<String>, message_id: Option<String>) -> Vec<ParsedInput> {
    let place = Place { part, message_id };
    let mut alerts = open_within(payload, &place, 0);
    if alerts.len() > MAX_ALERTS {
        let carried = alerts.len();
        alerts.truncate(MAX_ALERTS);
        alerts.extend(place.one(Err(InputError::WrongShape(format!(
            "the input carries {carried} alerts, more than the {MAX_ALERTS} one input may: the first {MAX_ALERTS} are read, the rest is not"
        )))));
    }
    alerts
}

/// Alerts one input may carry: a Security Hub import holds at most 100 findings and a
/// `GetFindings` page 50; a batch export fits many times over. More is a flood, and every alert
/// costs a pipeline run and, when undetermined, a person's attention.
pub const MAX_ALERTS: usize = 1000;

/// Where a payload sits, for its results' labels.
#[derive(Clone)]
struct Place {
    part: Option<String>,
    message_id: Option<String>,
}

impl Place {
    fn below(&self, inner: &str, message_id: Option<String>) -> Place {
        Place {
            part: Some(match &self.part {
                Some(outer) if inner.starts_with('[') => format!("{outer}{inner}"),
                Some(outer) => format!("{outer}.{inner}"),
                None => inner.to_string(),
            }),
            message_id: self.message_id.clone().or(message_id),
        }
    }

    fn one(&self, result: Result<super::Incoming, InputError>) -> Vec<ParsedInput> {
        vec![ParsedInput {
            part: self.part.clone(),
            message_id: self.message_id.clone(),
            result,
        }]
    }
}

fn open_within(payload: Value, place: &Place, depth: u8) -> Vec<ParsedInput> {
    if depth > MAX_DEPTH {
        return place.one(Err(InputError::WrongShape(format!(
            "more than {MAX_DEPTH} envelopes inside one another"
        ))));
    }
    if is_sns_event(&payload) {
        let records = payload["Records"].as_array().cloned().unwrap_or_default();
        return records
            .into_iter()
            .enumerate()
            .flat_map(|(i, record)| {
                let field = format!("Records[{i}].Sns");
                let id = text(record["Sns"].get("MessageId"));
                let inner = place.below(&format!("{field}.Message"), id);
                match message(&record["Sns"]) {
                    Ok(alert) => open_within(alert, &inner, depth + 1),
                    Err(e) => inner.one(Err(e.within(&field))),
                }
            })
            .collect();
    }
    if is_sns_notification(&payload) {
        let id = text(payload.get("MessageId"));
        let inner = place.below("Message", id);
        return match message(&payload) {
            Ok(alert) => open_within(alert, &inner, depth + 1),
            Err(e) => inner.one(Err(e)),
        };
    }
    if let Some(findings) = securityhub::findings(&payload) {
        return findings
            .into_iter()
            .map(|(field, result)| ParsedInput {
                part: if field.is_empty() {
                    place.part.clone()
                } else {
                    place.below(&field, None).part
                },
                message_id: place.message_id.clone(),
                result,
            })
            .collect();
    }
    if let Some((field, items)) = list_of_alerts(&payload) {
        if items.is_empty() {
            return place.one(Err(InputError::invalid(
                field.trim_end_matches('.'),
                "the list holds no alert",
            )));
        }
        return items
            .iter()
            .enumerate()
            .flat_map(|(i, item)| open_within(item.clone(), &place.below(&format!("{field}[{i}]"), None), depth + 1))
            .collect();
    }
    place.one(recognise(payload))
}

/// A list of alerts: a JSON array with objects in it (tools that export a batch; an entry that
/// is not an object fails alone), or GuardDuty's `GetFindings` answer, `{"Findings": [...]}`
/// (with nothing else but a paging token). An array without any object is not a list of alerts.
fn list_of_alerts(payload: &Value) -> Option<(&'static str, &Vec<Value>)> {
    match payload {
        Value::Array(items) if items.iter().any(Value::is_object) => Some(("", items)),
        Value::Object(object) => {
            let items = object.get("Findings")?.as_array()?;
            let only_findings = object
                .keys()
                // A paging token, and boto3's `ResponseMetadata`, may sit beside the findings.
                .all(|k| {
                    matches!(
                        k.as_str(),
                        "Findings" | "NextToken" | "UnprocessedFindings" | "ResponseMetadata"
                    )
                });
            only_findings.then_some(("Findings", items))
        }
        _ => None,
    }
}

/// The alert an SNS notification carries: its `Message`, JSON text (or, from tools that
/// re-serialise notifications, the JSON itself).
fn message(notification: &Value) -> Result<Value, InputError> {
    match notification.get("Message") {
        Some(Value::String(body)) => parse_json(body.as_bytes()).map_err(|e| match e {
            InputError::NotJson(m) => InputError::invalid("Message", format!("not an alert in JSON: {m}")),
            other => other,
        }),
        Some(object @ Value::Object(_)) => Ok(object.clone()),
        Some(_) => Err(InputError::invalid(
            "Message",
            "an SNS notification carries the alert as JSON text in `Message`",
        )),
        None => Err(InputError::missing(
            "Message",
            "an SNS notification carries the alert as JSON text in `Message`",
        )),
    }
}
