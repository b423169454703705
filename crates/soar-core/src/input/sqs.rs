//! SQS events: `{"Records": [{"messageId", "body": "<one alert>"}]}`, one input per record. The
//! one rule for what an SQS event is ([`is_sqs_event`]) serves `soar run` and the ingest function
//! alike, and a record's body is one alert, never another SQS event.

use super::error::{InputError, MAX_INPUT_BYTES};
use super::incoming::{Incoming, ParsedInput};
use super::shape::{parse_json, recognise};
use serde_json::Value;

/// Whether `payload` is an SQS event: an object with a `Records` key (an array of records; any
/// other `Records` is an SQS event whose records cannot be read).
pub fn is_sqs_event(payload: &Value) -> bool {
    payload.get("Records").is_some()
}

/// Each record of an SQS event, with its label (`Records[1] (message id)`) and message id.
pub(super) fn records(value: &Value) -> Vec<ParsedInput> {
    match value.get("Records") {
        Some(Value::Array(records)) => records
            .iter()
            .enumerate()
            .map(|(i, record)| ParsedInput {
                part: Some(record_label(i, record)),
                message_id: record.get("messageId").and_then(Value::as_str).map(String::from),
                result: sqs_record(i, record),
            })
            .collect(),
        _ => vec![ParsedInput {
            part: None,
            message_id: None,
            result: Err(InputError::invalid(
                "Records",
                "an SQS event's `Records` must be an array",
            )),
        }],
    }
}

/// One SQS message body: exactly one alert, never another SQS event.
pub fn parse_record_body(body: &str) -> Result<Incoming, InputError> {
    if body.len() > MAX_INPUT_BYTES {
        return Err(InputError::TooLarge {
            size: body.len(),
            limit: MAX_INPUT_BYTES,
        });
    }
    let value = parse_json(body.as_bytes()).map_err(|e| match e {
        InputError::NotJson(m) => InputError::invalid("body", format!("not valid JSON: {m}")),
        other => other,
    })?;
    if is_sqs_event(&value) {
        return Err(InputError::invalid(
            "body",
            "an SQS record may not carry another SQS event",
        ));
    }
    recognise(value).map_err(|e| e.within("body"))
}

fn record_label(i: usize, record: &Value) -> String {
    match record.get("messageId").and_then(Value::as_str) {
        Some(id) => format!("Records[{i}] ({id})"),
        None => format!("Records[{i}]"),
    }
}

fn sqs_record(i: usize, record: &Value) -> Result<Incoming, InputError> {
    let prefix = format!("Records[{i}]");
    let body = record.get("body").and_then(Value::as_str).ok_or_else(|| {
        InputError::missing(
            format!("{prefix}.body"),
            "an SQS record carries its message as a string `body`",
        )
    })?;
    parse_record_body(body).map_err(|e| e.within(&prefix))
}
