//! What recognising an input yields.

use super::error::InputError;
use crate::alert::Alert;
use serde_json::Value;

/// A recognised input, not yet accepted by the ingest policy.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A finding soar reads itself (GuardDuty, a Malware Protection scan result, a Security Hub
    /// finding), already normalised: the raw finding is inside the alert, and `alert.source`
    /// says where it came from (`guardduty` for a GuardDuty finding by whichever route).
    Normalised(Box<Alert>),
    /// An alert from another tool; the ingest policy maps it. `source` comes from an EventBridge
    /// envelope or the alert's own `source` field.
    Generic { source: String, raw: Value },
}

impl Incoming {
    /// The raw payload, as the ingest policy sees it.
    pub fn raw(&self) -> &Value {
        match self {
            Incoming::Normalised(alert) => &alert.raw,
            Incoming::Generic { raw, .. } => raw,
        }
    }
}

/// One unit of work found in an input, with where it came from (`Records[1]`).
#[derive(Debug)]
pub struct ParsedInput {
    pub part: Option<String>,
    /// The SQS message id of a record, which a batch response names when the record fails.
    pub message_id: Option<String>,
    pub result: Result<Incoming, InputError>,
}
