//! SQS events: `{"Records": [{"messageId", "body": "<one alert>"}]}`, one input per record. The
//! one rule for what an SQS event is ([`is_sqs_event`]) serves `soar run` and the ingest function
//! alike, and a record's body is one alert, never another SQS event.

use super::envelope::{self, is_sns_event};
use super::error::{InputError, MAX_INPUT_BYTES};
use super::incoming::ParsedInput;
use super::shape::parse_json;
use serde_json::Value;

/// Whether `payload` is an SQS event: an object with a `Records` key (an array of records; any
/// other `Records` is an SQS event whose records cannot be read), unless every record is an SNS
/// record ([`is_sns_event`]).
pub fn is_sqs_event(payload: &Value) -> bool {
    payload.get("Records").is_some() && !is_sns_event(payload)
}

/// Each alert of each record of an SQS event, labelled with its record (`Records[1] (message
/// id)`) and message id.
pub(super) fn records(value: &Value) -> Vec<ParsedInput> {
    match value.get("Records") {
        Some(Value::Array(records)) => records
            .iter()
            .enumerate()
            .flat_map(|(i, record)| sqs_record(i, record))
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

/// The alerts of one SQS message body: one, or one per finding or SNS record inside it; never
/// another SQS event. Parts are named below the body (`Message`, `detail.findings[1]`).
pub fn parse_body(body: &str) -> Vec<ParsedInput> {
    parse_body_at(body, None, None)
}

fn parse_body_at(body: &str, part: Option<String>, message_id: Option<String>) -> Vec<ParsedInput> {
    let refuse = |error| {
        vec![ParsedInput {
            part: part.clone(),
            message_id: message_id.clone(),
            result: Err(error),
        }]
    };
    if body.len() > MAX_INPUT_BYTES {
        return refuse(InputError::TooLarge {
            size: body.len(),
            limit: MAX_INPUT_BYTES,
        });
    }
    let value = match parse_json(body.as_bytes()) {
        Ok(value) => value,
        Err(InputError::NotJson(m)) => return refuse(InputError::invalid("body", format!("not valid JSON: {m}"))),
        Err(other) => return refuse(other),
    };
    if value.get("Records").is_some() {
        return refuse(InputError::invalid(
            "body",
            "an SQS record may not carry another SQS event (or any Lambda event with `Records`)",
        ));
    }
    envelope::open(value, part.clone(), message_id.clone())
        .into_iter()
        .map(|parsed| ParsedInput {
            result: parsed.result.map_err(|e| e.within("body")),
            ..parsed
        })
        .collect()
}

fn record_label(i: usize, record: &Value) -> String {
    match record.get("messageId").and_then(Value::as_str) {
        Some(id) => format!("Records[{i}] ({id})"),
        None => format!("Records[{i}]"),
    }
}

fn sqs_record(i: usize, record: &Value) -> Vec<ParsedInput> {
    let prefix = format!("Records[{i}]");
    let part = Some(record_label(i, record));
    let message_id = record.get("messageId").and_then(Value::as_str).map(String::from);
    let Some(body) = record.get("body").and_then(Value::as_str) else {
        return vec![ParsedInput {
            part,
            message_id,
            result: Err(InputError::missing(
                format!("{prefix}.body"),
                "an SQS record carries its message as a string `body`",
            )),
        }];
    };
    parse_body_at(body, part, message_id)
        .into_iter()
        .map(|parsed| ParsedInput {
            result: parsed.result.map_err(|e| e.within(&prefix)),
            ..parsed
        })
        .collect()
}
