//! soar's AWS adapters for state and messaging, behind soar-core's ports:
//!
//! - [`DynamoState`]: the one-table state store (alerts, revisions, decisions, action ledger,
//!   enrichment cache, hourly action cap, incidents), with conditional writes for dedup,
//!   exactly-once actions and one incident per key and window.
//! - [`SqsForwarder`]: hands the message document to the next phase's queue.
//! - [`AwsError`]: a failed AWS call as the kinds callers branch on (not found, invalid id,
//!   throttled, access denied, condition failed).
//! - [`sdk`]: SDK configuration (honours `AWS_ENDPOINT_URL`) and role assumption in other accounts.
//! - [`secrets`]: named secrets (provider API keys) from Secrets Manager, once per cold start.
//!
//! EC2 lives in its own crate (`soar-ec2`) because its SDK takes minutes to compile.

mod dynamo;
mod error;
mod incidents;
pub mod sdk;
pub mod secrets;
mod sqs;

pub use aws_sdk_dynamodb::Client as DynamoClient;
pub use dynamo::{AlertSummary, DynamoState, LedgerEntry, keys, waiting_key};
pub use error::{AwsError, classify};
pub use incidents::IncidentSummary;
pub use sqs::{ReceivedMessage, SqsForwarder, SqsQueue, message_body};
