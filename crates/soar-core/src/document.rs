//! The message document: one JSON object that travels through the queues and grows phase by phase
//! (`schema_version, alert, enrichments, verdict, actions, trace`). It is also what `soar run`
//! prints and what the state store keeps for audit and replay.

use crate::alert::{Alert, Indicator, ResourceKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::str::FromStr;

pub use crate::verdict::VerdictKind;

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Ingest,
    Enrich,
    Evaluate,
    Remediate,
}

impl Phase {
    pub const ALL: [Phase; 4] = [Phase::Ingest, Phase::Enrich, Phase::Evaluate, Phase::Remediate];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Ingest => "ingest",
            Phase::Enrich => "enrich",
            Phase::Evaluate => "evaluate",
            Phase::Remediate => "remediate",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Phase {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Phase::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown phase `{s}`: expected one of ingest, enrich, evaluate, remediate"))
    }
}

/// `dry_run` plans and records actions without side effects; `enforce` carries them out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    DryRun,
    Enforce,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::DryRun => "dry_run",
            Mode::Enforce => "enforce",
        }
    }
}

impl FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "dry_run" | "dry-run" | "" => Ok(Mode::DryRun),
            "enforce" => Ok(Mode::Enforce),
            other => Err(format!("unknown mode `{other}`: expected `dry_run` or `enforce`")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    pub schema_version: u32,
    pub alert: Alert,
    #[serde(default)]
    pub enrichments: Vec<Enrichment>,
    #[serde(default)]
    pub verdict: Option<Verdict>,
    #[serde(default)]
    pub actions: Vec<ActionRecord>,
    #[serde(default)]
    pub trace: Vec<TraceEntry>,
    /// When enrichment was first deferred for a provider's quota (RFC 3339); see `Enricher::enrich`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deferred_since: Option<String>,
    /// The incident the evaluate phase linked the alert to; `None`: answered alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<crate::incident::IncidentLink>,
}

impl Document {
    pub fn new(alert: Alert) -> Self {
        Document {
            schema_version: SCHEMA_VERSION,
            alert,
            enrichments: Vec::new(),
            verdict: None,
            actions: Vec::new(),
            trace: Vec::new(),
            deferred_since: None,
            incident: None,
        }
    }

    /// Whose ledger this alert's actions are claimed in: its incident's, so that an incident is
    /// answered once, else its own (incident ids never look like alert ids).
    pub fn ledger_scope(&self) -> &str {
        self.incident.as_ref().map_or(&self.alert.id, |i| &i.id)
    }

    /// The first policy error recorded along the way, if any.
    pub fn first_error(&self) -> Option<&str> {
        self.trace.iter().find_map(|t| t.error.as_deref())
    }
}

/// A document with its JSON text, serialised once per phase: the alert log keeps the text and the
/// next queue carries it (see [`Serialized::of`]).
#[derive(Debug, Clone, Copy)]
pub struct Serialized<'a> {
    pub document: &'a Document,
    /// `serde_json::to_string(document)`.
    pub json: &'a str,
}

impl<'a> Serialized<'a> {
    /// The JSON text of `document`, for [`Serialized`]. Errors: serde_json's (a document has no
    /// map with non-string keys, so in practice none).
    pub fn text(document: &Document) -> Result<String, serde_json::Error> {
        serde_json::to_string(document)
    }

    /// `document` with its text from [`Serialized::text`].
    pub fn of(document: &'a Document, json: &'a str) -> Self {
        Serialized { document, json }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnrichmentStatus {
    /// The provider knows the indicator (listed, inventoried, ...).
    Found,
    /// The provider answered and has nothing on it.
    NotFound,
    /// The provider failed; the alert goes on without it.
    Error,
}

/// One provider's answer about one indicator or resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Enrichment {
    pub provider: String,
    /// The indicator looked up; `None` for lookups of the alert's resource itself.
    #[serde(default)]
    pub indicator: Option<Indicator>,
    pub status: EnrichmentStatus,
    #[serde(default)]
    pub data: Value,
    /// Served from the cache rather than the provider.
    #[serde(default)]
    pub cached: bool,
    /// Enrichment round (0 = indicators of the alert itself).
    #[serde(default)]
    pub depth: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub verdict: VerdictKind,
    /// `informational`, `low`, `medium`, `high` or `critical`.
    pub severity: String,
    #[serde(default)]
    pub reasons: Vec<String>,
    /// Wake a human now.
    #[serde(default)]
    pub page: bool,
    /// Set when the verdict is a fallback after a policy error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What to act on: a resource kind and its id (instance id, access key id, a notification channel).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Target {
    pub kind: ResourceKind,
    pub id: String,
}

/// An action the remediate policy asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRequest {
    #[serde(rename = "type")]
    pub action: String,
    pub target: Target,
    #[serde(default)]
    pub params: Value,
    #[serde(default)]
    pub requires_approval: bool,
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    /// Dry run: recorded, not carried out.
    Planned,
    Executed,
    Failed,
    PendingApproval,
    /// Already done for this alert revision (ledger hit): not repeated.
    Duplicate,
    SkippedProtected,
    SkippedSample,
    /// The finding was archived in its source: an analyst closed it, nothing is acted on.
    SkippedArchived,
    SkippedNotAllowed,
    SkippedRateLimited,
    /// The target id is malformed, or not a resource the alert names.
    SkippedInvalidTarget,
    /// Not finished in this attempt: AWS throttled, failed on its side or did not answer, or
    /// another attempt holds the claim. Never kept in the ledger: the alert comes back and the
    /// action is claimed again.
    Interrupted,
}

impl ActionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionStatus::Planned => "planned",
            ActionStatus::Executed => "executed",
            ActionStatus::Failed => "failed",
            ActionStatus::PendingApproval => "pending_approval",
            ActionStatus::Duplicate => "duplicate",
            ActionStatus::SkippedProtected => "skipped_protected",
            ActionStatus::SkippedSample => "skipped_sample",
            ActionStatus::SkippedArchived => "skipped_archived",
            ActionStatus::SkippedNotAllowed => "skipped_not_allowed",
            ActionStatus::SkippedRateLimited => "skipped_rate_limited",
            ActionStatus::SkippedInvalidTarget => "skipped_invalid_target",
            ActionStatus::Interrupted => "interrupted",
        }
    }

    /// Whether the action changed (or, in dry run, would change) something.
    pub fn is_effective(self) -> bool {
        matches!(
            self,
            ActionStatus::Planned | ActionStatus::Executed | ActionStatus::PendingApproval
        )
    }
}

/// What became of one requested action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRecord {
    #[serde(flatten)]
    pub request: ActionRequest,
    pub mode: Mode,
    pub status: ActionStatus,
    /// Why it was skipped, the error, or what the adapter reported (rollback data).
    #[serde(default)]
    pub detail: Value,
    /// The ledger entry this outcome belongs to when it is not the request's target: an
    /// incident's follow-up (`<channel>#follow-up#<window>`) or escalation
    /// (`<channel>#escalation#<severity>`) notification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger_target: Option<String>,
}

impl ActionRecord {
    /// The target of the ledger entry this outcome is recorded in.
    pub fn ledger_target(&self) -> &str {
        self.ledger_target.as_deref().unwrap_or(&self.request.target.id)
    }
}

/// One phase's footprint: which policy revision decided what, and how long it took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceEntry {
    pub phase: Phase,
    pub revision: String,
    pub micros: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What the Rust side did on its own authority (egress refusals, guard rails, budget stops).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}
