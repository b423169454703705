//! The four phase steps, each a plain struct over ports, and [`Pipeline`], which chains them in
//! one process. The Lambda functions run one step each and hand the document on through SQS.
//!
//! Every step follows the same rule: Rust gathers facts and carries out decisions; the policy
//! decides. A policy error is recorded in the trace and from then on the alert can only end as
//! `undetermined` with no action.

mod enrich;
mod evaluate;
mod ingest;
mod remediate;

pub use enrich::{Enricher, INVENTORY_PROVIDER, StepResult};
pub use evaluate::Evaluator;
pub use ingest::{IngestOutcome, IngestStatus, Ingestor};
pub use remediate::Responder;

use crate::action::{ActionKind, EVIDENCE_LOSING_ACTIONS};
use crate::alert::Alert;
use crate::decision::{Policies, PolicyError, decide_typed};
use crate::document::{ActionRecord, Document, Enrichment, Mode, Phase, TraceEntry, Verdict, VerdictKind};
use crate::egress::OrgConfig;
use crate::input::Incoming;
use crate::ports::{AlertLog, StateError};
use crate::ports::{IntelProvider, Inventory, Notifier, Remediator, StateStore};
use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;

/// Deployment settings the Rust side enforces (guard rails), whatever the policies say.
#[derive(Debug, Clone)]
pub struct Settings {
    pub mode: Mode,
    /// Action types this deployment may carry out; `None` allows every known type.
    pub allowed_actions: Option<BTreeSet<ActionKind>>,
    /// Deployment-wide cap on executed actions per hour, so a bad policy cannot isolate the fleet.
    pub max_actions_per_hour: u32,
    pub cache_ttl: Duration,
    /// How long an alert may wait for a provider's quota before it goes on without that lookup.
    pub max_deferral: Duration,
    /// Action types that always wait for a person's approval, whatever the policy returned
    /// (`SOAR_APPROVAL_REQUIRED_ACTIONS`); by default those that lose evidence.
    pub approval_required: BTreeSet<ActionKind>,
    /// Where Rust's own escalation notifications go (after a policy error); the channel of
    /// `data.soar.config.remediate.notify_channel` when the policies name one.
    pub escalation_channel: String,
}

impl Settings {
    /// Escalations go to the channel the policy data names (`remediate.notify_channel`).
    pub fn take_escalation_channel(&mut self, org: &OrgConfig) {
        if let Some(channel) = &org.notify_channel {
            self.escalation_channel.clone_from(channel);
        }
    }
}

/// The escalation channel when the policy data names none.
pub(crate) const DEFAULT_ESCALATION_CHANNEL: &str = "security-oncall";

impl Default for Settings {
    fn default() -> Self {
        Settings {
            mode: Mode::DryRun,
            allowed_actions: None,
            max_actions_per_hour: 20,
            cache_ttl: Duration::from_secs(6 * 3600),
            max_deferral: Duration::from_secs(15 * 60),
            approval_required: EVIDENCE_LOSING_ACTIONS.iter().copied().collect(),
            escalation_channel: DEFAULT_ESCALATION_CHANNEL.to_string(),
        }
    }
}

/// The input every policy sees: the document so far plus `context`, nothing else. The raw
/// payload and the trace stay out: ingest has the payload as `input.raw`, later phases work on
/// the normalised alert, the trace is the record of earlier decisions (not facts to decide on),
/// and every byte of input costs time in every decision.
pub(crate) fn policy_input(doc: &mut Document, context: Value) -> String {
    let raw = std::mem::take(&mut doc.alert.raw);
    let view = PolicyView {
        schema_version: doc.schema_version,
        alert: &doc.alert,
        enrichments: &doc.enrichments,
        verdict: &doc.verdict,
        actions: &doc.actions,
        deferred_since: &doc.deferred_since,
        context: &context,
    };
    // Text, not a `serde_json::Value`: the engine builds its own values from it, and a tree
    // built only to be converted and dropped cost more than the decision (see `make bench`).
    let input = serde_json::to_string(&view).unwrap_or_else(|_| "{}".into());
    doc.alert.raw = raw;
    input
}

/// The document's fields as [`policy_input`] shows them (serialized like the document itself).
#[derive(Serialize)]
struct PolicyView<'a> {
    schema_version: u32,
    alert: &'a Alert,
    enrichments: &'a [Enrichment],
    verdict: &'a Option<Verdict>,
    actions: &'a [ActionRecord],
    #[serde(skip_serializing_if = "Option::is_none")]
    deferred_since: &'a Option<String>,
    context: &'a Value,
}

/// Evaluates one phase policy and records its footprint.
pub(crate) fn run_policy<T: DeserializeOwned>(
    policies: &dyn Policies,
    phase: Phase,
    input: &str,
) -> (TraceEntry, Result<T, PolicyError>) {
    let started = Instant::now();
    let (raw, typed) = decide_typed::<T>(policies, phase, input);
    let entry = TraceEntry {
        phase,
        revision: policies.revision(phase),
        micros: started.elapsed().as_micros() as u64,
        decision: raw,
        error: typed.as_ref().err().map(ToString::to_string),
        notes: Vec::new(),
    };
    (entry, typed)
}

/// The fallback verdict after a policy error: a human must look, nothing is done automatically.
pub(crate) fn undetermined_after_error(doc: &Document, error: &str) -> Verdict {
    Verdict {
        verdict: VerdictKind::Undetermined,
        severity: doc.alert.severity_label.clone(),
        reasons: vec![format!("policy error, escalated for review: {error}")],
        page: false,
        error: Some(error.to_string()),
    }
}

/// One document phase (enrich, evaluate, remediate) as every driver runs it: `soar run`, replay
/// and the Lambda functions alike call [`run_step`], so what is tested in one process is what runs.
#[async_trait]
pub trait PhaseStep: Send + Sync {
    fn phase(&self) -> Phase;
    /// The step itself; only enrich, given `may_defer`, ever answers [`StepResult::Deferred`].
    async fn apply(&self, doc: &mut Document, may_defer: bool) -> StepResult;
}

#[async_trait]
impl PhaseStep for Enricher {
    fn phase(&self) -> Phase {
        Phase::Enrich
    }
    async fn apply(&self, doc: &mut Document, may_defer: bool) -> StepResult {
        self.enrich(doc, may_defer).await
    }
}

#[async_trait]
impl PhaseStep for Evaluator {
    fn phase(&self) -> Phase {
        Phase::Evaluate
    }
    async fn apply(&self, doc: &mut Document, _: bool) -> StepResult {
        self.evaluate(doc).await;
        StepResult::Done
    }
}

#[async_trait]
impl PhaseStep for Responder {
    fn phase(&self) -> Phase {
        Phase::Remediate
    }
    async fn apply(&self, doc: &mut Document, _: bool) -> StepResult {
        self.remediate(doc).await;
        StepResult::Done
    }
}

/// Runs one phase on `doc` and keeps the grown document in `alerts`. A deferred document is not
/// kept: it is unchanged but for its deferral mark, and comes back. Errors: the state store's,
/// when the document could not be kept (the caller retries the phase).
pub async fn run_step(
    step: &dyn PhaseStep,
    alerts: &dyn AlertLog,
    doc: &mut Document,
    may_defer: bool,
) -> Result<StepResult, StateError> {
    let result = step.apply(doc, may_defer).await;
    if result == StepResult::Done {
        alerts.save_document(doc).await?;
    }
    Ok(result)
}

/// What became of one input after all the phases it reached.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub status: IngestStatus,
    pub reason: String,
    pub document: Option<Document>,
    pub error: Option<String>,
}

/// The whole pipeline in one process: `soar run` and the tests. The Lambda functions each build
/// one step with AWS adapters instead.
pub struct Pipeline {
    pub ingestor: Ingestor,
    pub enricher: Enricher,
    pub evaluator: Evaluator,
    pub responder: Responder,
    /// Where each phase keeps the grown document.
    pub alerts: Arc<dyn AlertLog>,
}

/// Everything a pipeline is built from.
pub struct Parts {
    pub policies: Arc<dyn Policies>,
    pub org: OrgConfig,
    pub state: Arc<dyn StateStore>,
    pub inventory: Arc<dyn Inventory>,
    pub providers: Vec<Arc<dyn IntelProvider>>,
    pub remediator: Arc<dyn Remediator>,
    pub notifier: Arc<dyn Notifier>,
    pub settings: Settings,
}

impl Pipeline {
    pub fn new(parts: Parts) -> Self {
        let Parts {
            policies,
            org,
            state,
            inventory,
            providers,
            remediator,
            notifier,
            mut settings,
        } = parts;
        settings.take_escalation_channel(&org);
        Pipeline {
            ingestor: Ingestor {
                policies: policies.clone(),
                alerts: state.clone(),
                decisions: state.clone(),
            },
            enricher: Enricher {
                policies: policies.clone(),
                decisions: state.clone(),
                cache: state.clone(),
                inventory: inventory.clone(),
                providers,
                org,
                settings: settings.clone(),
            },
            evaluator: Evaluator {
                policies: policies.clone(),
                decisions: state.clone(),
            },
            responder: Responder {
                policies,
                decisions: state.clone(),
                ledger: state.clone(),
                inventory,
                remediator,
                notifier,
                settings,
            },
            alerts: state,
        }
    }

    pub async fn run(&self, incoming: Incoming) -> RunOutcome {
        let outcome = self.ingestor.ingest(incoming).await;
        let Some(mut doc) = outcome.document else {
            return RunOutcome {
                status: outcome.status,
                reason: outcome.reason,
                document: None,
                error: outcome.error,
            };
        };
        let span = tracing::info_span!("alert", alert_id = %doc.alert.id);
        async {
            if outcome.status == IngestStatus::Accepted {
                // One process cannot put the alert back on a queue: no deferral, notes instead.
                let steps: [&dyn PhaseStep; 3] = [&self.enricher, &self.evaluator, &self.responder];
                for step in steps {
                    if let Err(e) = run_step(step, self.alerts.as_ref(), &mut doc, false).await {
                        tracing::error!(phase = %step.phase(), error = %e, "could not save the alert document");
                    }
                }
            }
            tracing::info!(
                status = ?outcome.status,
                verdict = doc.verdict.as_ref().map(|v| v.verdict.as_str()),
                actions = doc.actions.len(),
                "alert done"
            );
            RunOutcome {
                status: outcome.status,
                reason: outcome.reason,
                error: outcome.error.or_else(|| doc.first_error().map(String::from)),
                document: Some(doc),
            }
        }
        .instrument(span)
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::parse_input;
    use serde_json::json;

    fn guardduty_document() -> Document {
        let finding = json!({
            "id": "f1", "type": "UnauthorizedAccess:EC2/TorClient", "severity": 8, "accountId": "1",
            "region": "eu-west-1", "updatedAt": "2026-11-20T09:00:00Z",
            "resource": {"resourceType": "Instance", "instanceDetails": {"instanceId": "i-1"}},
            "service": {"serviceName": "guardduty", "action": {"networkConnectionAction": {"remoteIpDetails": {"ipAddressV4": "198.51.100.7"}}}}
        });
        match parse_input(finding.to_string().as_bytes()).remove(0).result {
            Ok(Incoming::GuardDuty(alert)) => Document::new(*alert),
            other => panic!("not a GuardDuty finding: {other:?}"),
        }
    }

    /// The view is written field by field; this keeps it equal to the document's own JSON (minus
    /// the raw payload and the trace) when the document gains a field.
    #[test]
    fn the_policy_input_is_the_document_without_raw_and_trace_plus_context() {
        let mut doc = guardduty_document();
        doc.deferred_since = Some("2026-11-20T09:05:00Z".into());
        doc.verdict = Some(Verdict {
            verdict: VerdictKind::Incident,
            severity: "high".into(),
            reasons: vec!["tor".into()],
            page: true,
            error: None,
        });
        doc.trace.push(TraceEntry {
            phase: Phase::Ingest,
            revision: "r1".into(),
            micros: 3,
            decision: Some(json!({"accept": true})),
            error: None,
            notes: vec!["a note".into()],
        });
        assert!(!doc.alert.raw.is_null());
        let before = doc.clone();

        let input: Value = serde_json::from_str(&policy_input(&mut doc, json!({"phase": "evaluate"}))).unwrap();

        let mut expected = serde_json::to_value(&before).unwrap();
        expected["alert"].as_object_mut().unwrap().remove("raw");
        expected.as_object_mut().unwrap().remove("trace");
        expected["context"] = json!({"phase": "evaluate"});
        assert_eq!(input, expected);
        assert_eq!(doc, before, "the document is given back whole");
    }
}
