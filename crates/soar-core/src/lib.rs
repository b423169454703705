//! soar's domain: what an alert is, the document that travels between the four phases, the action
//! vocabulary, and the phase steps themselves, written against ports (traits) so that the same
//! code runs in one process (`soar run`, with soar-offline's adapters) and as Lambda functions
//! (with the AWS adapters of soar-aws, soar-ec2, soar-intel and soar-respond). Nothing in this
//! crate knows about the AWS SDK. See docs/architecture.md.

pub mod action;
pub mod alert;
pub mod approval;
pub mod canonical;
pub mod decision;
pub mod dedup;
pub mod document;
pub mod egress;
pub mod finding;
pub mod incident;
pub mod input;
pub mod json;
pub mod pipeline;
pub mod ports;
pub mod rollback;
pub mod time;
pub mod undo;
pub mod verdict;

pub use action::{Action, ActionKind};
pub use alert::{Alert, Indicator, IndicatorKind, Resource, ResourceKind};
pub use decision::{Policies, PolicyError};
pub use document::{
    ActionRecord, ActionStatus, Document, Enrichment, EnrichmentStatus, Mode, Phase, TraceEntry, Verdict, VerdictKind,
};
pub use egress::{Locality, OrgConfig};
pub use input::{Incoming, InputError, parse_input};
