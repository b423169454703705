//! Ports: what the pipeline needs from the outside world, cut by role so that a step's fields show
//! what it may read and write. In-memory and file adapters live in soar-offline; AWS and HTTP
//! adapters in soar-aws, soar-ec2, soar-intel and soar-respond.

use crate::action::Action;
use crate::alert::{Alert, Indicator, IndicatorKind, Resource};
use crate::approval::{ApprovalState, Waiting};
use crate::document::{ActionRecord, Document, Mode, Serialized, Target, TraceEntry, Verdict};
use crate::egress::Locality;
use crate::incident::{Incident, IncidentLink, Joining};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("state store: {0}")]
pub struct StateError(pub String);

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("provider `{provider}`: {message}")]
pub struct ProviderError {
    pub provider: String,
    /// What went wrong, for people: never a secret, a URL with a key in it, or a response body.
    pub message: String,
    /// The provider refused for now (HTTP 429 beyond the retries): try again after this long.
    pub retry_after: Option<Duration>,
    /// Asking again later may succeed (throttled, a server error, no answer): a guard rail that
    /// could not read what it needs waits for a retry instead of giving up for good.
    pub transient: bool,
}

impl ProviderError {
    pub fn new(provider: impl Into<String>, message: impl Into<String>) -> Self {
        ProviderError {
            provider: provider.into(),
            message: message.into(),
            retry_after: None,
            transient: false,
        }
    }

    /// The same error, marked [`ProviderError::transient`] or not.
    pub fn transient(self, transient: bool) -> Self {
        ProviderError { transient, ..self }
    }
}

/// A provider's request quota: at most `requests` per `seconds`, shared by every function
/// instance (the window counter lives in the state store).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateWindow {
    pub requests: u32,
    pub seconds: u64,
}

/// The answer of the shared rate limiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// Counted: the request may go out.
    Granted,
    /// The window is full; the next one starts after this long.
    Full { retry_after: Duration },
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("action `{action}` on `{target}`: {message}")]
pub struct ActionError {
    pub action: String,
    pub target: String,
    pub message: String,
    /// The service may answer differently later (throttled, 5xx, no answer): the claim is given
    /// back and the alert's message is delivered again, instead of the action being recorded
    /// as failed for good.
    pub transient: bool,
}

/// What the state store knew of an alert revision when it was registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registration {
    /// First time this alert (id + resource) is seen.
    New,
    /// A newer revision of an alert already seen: evaluate it again.
    Updated { previous: String },
    /// This revision, or a newer one, was already registered: a redelivery or a late copy.
    Duplicate { latest: String },
    /// This revision was registered by a delivery that has not handed it on yet and may still
    /// be working on it: come back later. (A registration never handed on and older than the
    /// adapter's lease belonged to a delivery that died: it is taken over, as `New`.)
    InProgress,
}

/// The result of claiming an action in the ledger.
///
/// A claim is held under a lease (the adapter's, at most the function's timeout): a claim whose
/// holder never recorded an outcome and whose lease ran out belonged to an invocation that died
/// (Lambda ends an invocation at its timeout), and the next claim takes it over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// First claim: this invocation may act (or plan, or park it for approval).
    New,
    /// Claimed before by an invocation that died before recording the outcome (its lease ran
    /// out): this invocation carries the action out again. Every action is safe to repeat
    /// (the adapters find what an interrupted attempt created instead of creating it twice).
    Resumed,
    /// Claimed by an invocation that may still be acting (its lease has not run out): neither
    /// act nor give up; the alert's message comes back later.
    Busy,
    /// Claimed before: the action happened, was planned, or is waiting. Do not repeat it.
    Taken,
    /// Waiting for approval and approved since: this invocation carries it out.
    Approved,
}

/// A provider answer as the cache keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lookup {
    pub found: bool,
    #[serde(default)]
    pub data: Value,
    /// Indicators the provider linked to this one (resolved IPs, related domains, ...).
    #[serde(default)]
    pub related: Vec<Indicator>,
}

/// Alerts and their documents: revisions for deduplication, the latest document for audit and replay.
#[async_trait]
pub trait AlertLog: Send + Sync {
    /// Registers the alert's revision (its `updated_at`) under its id and resource.
    async fn register_alert(&self, doc: &Document) -> Result<Registration, StateError>;
    /// Marks the registered revision as handed on to the next phase: from now on a copy of it
    /// is a [`Registration::Duplicate`]. Until then a copy is [`Registration::InProgress`], so
    /// that a delivery that dies between registering and handing on loses nothing.
    async fn mark_handed_on(&self, doc: &Document) -> Result<(), StateError>;
    /// Keeps the latest document of an alert for audit and replay (its text as serialised once
    /// for this phase).
    async fn save_document(&self, doc: &Serialized<'_>) -> Result<(), StateError>;
    async fn load_document(&self, alert_id: &str) -> Result<Option<Document>, StateError>;
}

/// The record of every phase decision (policy revision, decision, notes), for audit.
#[async_trait]
pub trait DecisionLog: Send + Sync {
    async fn put_decision(&self, alert_id: &str, entry: &TraceEntry) -> Result<(), StateError>;
}

/// The exactly-once ledger of actions and the deployment-wide hourly action cap.
#[async_trait]
pub trait ActionLedger: Send + Sync {
    /// Takes the ledger entry for (alert, action, target) in `mode`, atomically: of two racing
    /// claims only one gets [`Claim::New`]. An entry a person approved is handed out once as
    /// [`Claim::Approved`].
    async fn claim_action(&self, alert_id: &str, mode: Mode, action: &str, target: &str) -> Result<Claim, StateError>;
    /// The approval state of the enforce-mode entry (`scope`, action, target), if there is one.
    async fn approval(&self, scope: &str, action: &str, target: &str) -> Result<Option<ApprovalState>, StateError>;
    /// Answers an action waiting as `pending_approval` under plan `digest`: it becomes `status`
    /// (`approved`, `denied`, `expired`) with `by` recorded, atomically. `false` when the entry is
    /// not waiting under that digest (answered meanwhile, asked again for a changed plan).
    async fn answer_approval(
        &self,
        scope: &str,
        (action, target): (&str, &str),
        digest: &str,
        status: &str,
        by: &crate::approval::Approver,
    ) -> Result<bool, StateError>;
    /// Every action waiting for an answer (the expiry sweep, the console), oldest question first.
    async fn waiting_approvals(&self) -> Result<Vec<Waiting>, StateError>;
    /// Gives a claim back when the action did not happen (rate cap), so a retry may take it.
    async fn release_action(&self, alert_id: &str, mode: Mode, action: &str, target: &str) -> Result<(), StateError>;
    async fn record_action(&self, alert_id: &str, record: &ActionRecord) -> Result<(), StateError>;
    /// Counts one action against the deployment-wide hourly cap; `false` when the cap is reached.
    async fn take_action_budget(&self, budget: Budget, max_per_hour: u32) -> Result<bool, StateError>;
}

/// The deployment-wide hourly budgets of [`ActionLedger::take_action_budget`], counted apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Budget {
    /// Actions on resources (`SOAR_MAX_ACTIONS_PER_HOUR`): a bad policy cannot act on the fleet.
    Actions,
    /// Verdicts written back onto findings (`SOAR_MAX_WRITE_BACKS_PER_HOUR`): a flood of false
    /// positives cannot use up the budget an incident's containment needs, and a bad policy
    /// cannot hide every finding.
    WriteBacks,
}

impl Budget {
    /// Its counter's name in the state store.
    pub fn as_str(self) -> &'static str {
        match self {
            Budget::Actions => "actions",
            Budget::WriteBacks => "write_backs",
        }
    }
}

/// Shared provider answers and provider quotas, across every function instance.
#[async_trait]
pub trait LookupCache: Send + Sync {
    async fn cached_lookup(&self, provider: &str, indicator: &Indicator) -> Result<Option<Lookup>, StateError>;
    async fn cache_lookup(
        &self,
        provider: &str,
        indicator: &Indicator,
        lookup: &Lookup,
        ttl: Duration,
    ) -> Result<(), StateError>;
    /// Counts one request to `provider` in the current fixed window of `window` (aligned to the
    /// epoch, so every instance shares it); [`Slot::Full`] when the window's quota is used up.
    async fn take_lookup_slot(&self, provider: &str, window: RateWindow) -> Result<Slot, StateError>;
}

/// Incidents: alerts linked under the key the evaluate policy chose (see [`crate::incident`]).
#[async_trait]
pub trait IncidentLog: Send + Sync {
    /// Links the alert to the incident of `joining.grouping.key` whose alerts are within the
    /// window of `joining.at`, or opens one, atomically: of two alerts of one key joining at the
    /// same moment, neither opens a second incident. The same alert revision joining again (a
    /// redelivery) gets its first link back; a new revision of a linked alert stays one member
    /// (counted once) and may raise the incident's severity.
    async fn join_incident(&self, joining: &Joining<'_>) -> Result<IncidentLink, StateError>;
    /// The incident with its alerts; `None` when there is no such incident.
    async fn load_incident(&self, id: &str) -> Result<Option<Incident>, StateError>;
}

/// The whole state store (DynamoDB in production, memory in `soar run`): every role above. Steps
/// hold only the roles they use, so a step's fields show what it may write.
pub trait StateStore: AlertLog + DecisionLog + ActionLedger + LookupCache + IncidentLog {}

impl<T: AlertLog + DecisionLog + ActionLedger + LookupCache + IncidentLog> StateStore for T {}

/// What the organisation knows about one of its resources.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InventoryRecord {
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub environment: Option<String>,
    /// Everything else the inventory holds (state, VPC, instance profile, ...).
    #[serde(default)]
    pub attributes: serde_json::Map<String, Value>,
}

/// Internal by definition: the organisation's own inventory (a JSON file, EC2 DescribeInstances).
#[async_trait]
pub trait Inventory: Send + Sync {
    async fn describe(&self, resource: &Resource) -> Result<Option<InventoryRecord>, ProviderError>;
}

/// A source of intelligence about indicators.
#[async_trait]
pub trait IntelProvider: Send + Sync {
    fn name(&self) -> &str;
    /// External providers never receive internal indicators (enforced by the enrich step).
    fn locality(&self) -> Locality;
    fn indicator_kinds(&self) -> &[IndicatorKind];
    async fn lookup(&self, indicator: &Indicator) -> Result<Lookup, ProviderError>;
    /// Quotas to respect across all instances (a free tier's published limits, or configured).
    fn rate_limits(&self) -> &[RateWindow] {
        &[]
    }
    /// How long its answers stay fresh in the shared cache; `None`: the deployment default.
    fn cache_ttl(&self) -> Option<Duration> {
        None
    }
}

/// Carries out the actions that change something in an account ([`Action`] but `notify`, which
/// goes to the [`Notifier`]), on `target`, in the account and region of the alert's resource.
#[async_trait]
pub trait Remediator: Send + Sync {
    /// Returns what the action changed, with what a rollback needs (original groups, snapshot ids).
    /// `described`: the inventory's answer about `target`, read for the protection check in this
    /// phase; an adapter uses it rather than describing the resource again.
    /// `scope`: the ledger the action was claimed in (the alert's incident, else the alert: see
    /// [`crate::document::Document::ledger_scope`]). An adapter that finds its own earlier attempt
    /// by a tag (a snapshot) tags with it, so that a claim another alert of the incident resumes
    /// finds what the first attempt made.
    async fn execute(
        &self,
        alert: &Alert,
        scope: &str,
        target: &Target,
        action: &Action,
        described: Option<&InventoryRecord>,
    ) -> Result<Value, ActionError>;

    /// Undoes an executed action on `target` from its recorded rollback data; returns what it
    /// changed back. The ledger has been claimed by the caller ([`crate::rollback::rollback`]).
    async fn undo(&self, alert: &Alert, target: &Target, undo: &crate::undo::Undo) -> Result<Value, ActionError>;
}

/// A message to people about an alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub alert_id: String,
    pub channel: String,
    pub subject: String,
    pub message: String,
    pub verdict: Option<Verdict>,
    pub page: bool,
}

#[async_trait]
pub trait Notifier: Send + Sync {
    async fn notify(&self, notification: &Notification) -> Result<Value, ActionError>;
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("handing the alert to the next phase failed: {0}")]
pub struct ForwardError(pub String);

/// Hands the message document to the next phase (an SQS queue in AWS).
#[async_trait]
pub trait Forwarder: Send + Sync {
    async fn forward(&self, doc: &Serialized<'_>) -> Result<(), ForwardError>;
    /// Like `forward`, delivered no sooner than `delay` from now (at most 15 minutes).
    async fn forward_after(&self, doc: &Serialized<'_>, delay: Duration) -> Result<(), ForwardError>;
}

/// A credential (an API key) read from a secret store: `secrecy`'s string, whose `Debug` is
/// redacted and which has no `Display`, so it cannot end up in a log line, a trace note or an
/// error by accident. [`ExposeSecret::expose_secret`] gives the value to the one place that needs
/// it: the outgoing request.
pub type Secret = secrecy::SecretString;
pub use secrecy::ExposeSecret;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("secret `{name}`: {message}")]
pub struct SecretError {
    pub name: String,
    pub message: String,
}

/// Where named secrets come from: AWS Secrets Manager in the functions, the environment locally.
#[async_trait]
pub trait SecretSource: Send + Sync {
    async fn secret(&self, name: &str) -> Result<Secret, SecretError>;
}

/// What a message asking for approval shows: the alert, its verdict and reasons (in `doc`), the
/// exact action and target (`record`), its dry-run plan, and the ticket whose digest the buttons
/// carry.
#[derive(Debug, Clone, Copy)]
pub struct ApprovalAsk<'a> {
    pub doc: &'a Document,
    pub record: &'a ActionRecord,
    /// The ledger scope (the alert id, or its incident's).
    pub scope: &'a str,
    pub ticket: &'a crate::approval::ApprovalTicket,
    /// The AWS API calls the action would make (`Action::api_calls`).
    pub plan: &'a Value,
}

/// Where people are asked to approve (Slack): posting the question, and replacing it with what
/// became of it.
#[async_trait]
pub trait ApprovalChannel: Send + Sync {
    /// Posts the question; `Ok(None)` when this channel keeps no message to update.
    async fn ask(&self, ask: &ApprovalAsk<'_>) -> Result<Option<crate::approval::MessageRef>, String>;
    /// Replaces the question's buttons with the outcome: `what` names the action and target,
    /// `outcome` says what became of it (approved by …, executed, denied, expired, asked again).
    async fn settle(&self, message: &crate::approval::MessageRef, what: &str, outcome: &str) -> Result<(), String>;
}

/// No approval channel: people answer with `soar approve` or the console.
pub struct NoApprovalChannel;

#[async_trait]
impl ApprovalChannel for NoApprovalChannel {
    async fn ask(&self, _: &ApprovalAsk<'_>) -> Result<Option<crate::approval::MessageRef>, String> {
        Ok(None)
    }
    async fn settle(&self, _: &crate::approval::MessageRef, _: &str, _: &str) -> Result<(), String> {
        Ok(())
    }
}
