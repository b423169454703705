//! Recognising what arrived. soar tells the shapes apart by their fields:
//!
//! - an SQS event: `{"Records": [{"body": "<any of the shapes below>"}]}`, one input per record;
//! - envelopes ([`envelope`]): an SNS notification or SNS event around any shape below;
//! - a Security Hub event (`Security Hub Findings - Imported`) or export: one input per ASFF
//!   finding ([`securityhub`]);
//! - an EventBridge event: `{"detail-type": ..., "source": ..., "detail": {...}}`, a GuardDuty
//!   finding or Malware Protection scan result ([`malware`]) when its source is GuardDuty;
//! - a bare GuardDuty finding: an object with a `service` block from GuardDuty;
//! - anything else that is a JSON object: a generic alert from another tool, mapped by the ingest
//!   policy.
//!
//! A bad record in an SQS event fails alone; the other records go on.

mod envelope;
mod error;
pub mod fields;
pub mod generic;
pub mod guardduty;
mod incoming;
mod instance;
pub mod malware;
mod related;
pub mod securityhub;
mod shape;
mod sqs;
#[cfg(test)]
mod tests;

pub use envelope::{MAX_ALERTS, is_sns_event};
pub use error::{InputError, MAX_INPUT_BYTES};
pub use generic::alert_from_mapping;
pub use incoming::{Incoming, ParsedInput};
pub use sqs::{is_sqs_event, parse_body};

use serde_json::Value;

/// Reads one input (a file, a line of NDJSON, a Lambda payload): one result per alert in it. An
/// SQS or SNS event gives one per record (or more, when a record carries a Security Hub event);
/// a Security Hub event one per finding; every other shape exactly one.
pub fn parse_input(bytes: &[u8]) -> Vec<ParsedInput> {
    let whole = |result| {
        vec![ParsedInput {
            part: None,
            message_id: None,
            result,
        }]
    };
    if bytes.len() > MAX_INPUT_BYTES {
        return whole(Err(InputError::TooLarge {
            size: bytes.len(),
            limit: MAX_INPUT_BYTES,
        }));
    }
    let value = match shape::parse_json(bytes) {
        Ok(v) => v,
        Err(e) => return whole(Err(e)),
    };
    parse_value(value)
}

/// Like [`parse_input`], for a payload already parsed (the Lambda runtime parses the event).
pub fn parse_value(value: Value) -> Vec<ParsedInput> {
    if is_sqs_event(&value) {
        return sqs::records(&value);
    }
    envelope::open(value, None, None)
}
