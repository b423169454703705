//! The four phase steps, each a plain struct over ports, and [`Pipeline`], which chains them in
//! one process. The Lambda functions run one step each and hand the document on through SQS.
//!
//! Every step follows the same rule: Rust gathers facts and carries out decisions; the policy
//! decides. A policy error is recorded in the trace and from then on the alert can only end as
//! `undetermined` with no action.

mod approve;
mod ask;
mod enrich;
mod evaluate;
mod ingest;
mod policy;
mod remediate;
mod settings;
mod write_back;

pub use approve::{Answered, Approvals, Expired, approver_input, short};
pub use enrich::{Enricher, INVENTORY_PROVIDER, StepResult};
pub use evaluate::Evaluator;
pub use ingest::{IngestOutcome, IngestStatus, Ingestor};
pub use remediate::Responder;
pub use settings::Settings;

use crate::decision::Policies;
use crate::document::Serialized;
use crate::document::{Document, Phase};
use crate::egress::OrgConfig;
use crate::input::Incoming;
use crate::ports::{AlertLog, StateError};
use crate::ports::{IntelProvider, Inventory, Notifier, Remediator, StateStore};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

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
        self.evaluate(doc).await
    }
}

#[async_trait]
impl PhaseStep for Responder {
    fn phase(&self) -> Phase {
        Phase::Remediate
    }
    async fn apply(&self, doc: &mut Document, _: bool) -> StepResult {
        match self.remediate(doc).await {
            Some(reason) => StepResult::Retry { reason },
            None => StepResult::Done,
        }
    }
}

/// What a phase came to. Done: the grown document's JSON, serialised once (kept in the alert
/// log, and what the next queue carries). Deferred: see [`StepResult::Deferred`].
#[derive(Debug)]
pub enum Stepped {
    Done { json: String },
    Deferred { delay: Duration, reason: String },
}

/// Runs one phase on `doc` and keeps the grown document in `alerts`. A deferred document is not
/// kept: it is unchanged but for its deferral mark, and comes back. Errors: the state store's,
/// when the document could not be kept (the caller retries the phase).
pub async fn run_step(
    step: &dyn PhaseStep,
    alerts: &dyn AlertLog,
    doc: &mut Document,
    may_defer: bool,
) -> Result<Stepped, StateError> {
    match step.apply(doc, may_defer).await {
        StepResult::Deferred { delay, reason } => return Ok(Stepped::Deferred { delay, reason }),
        StepResult::Retry { reason } => return Err(StateError(format!("not finished, to be retried: {reason}"))),
        StepResult::Done => {}
    }
    if step.phase() == Phase::Remediate {
        keep_earlier_outcomes(alerts, doc).await?;
    }
    let json = Serialized::text(doc).map_err(|e| StateError(format!("the document is not JSON: {e}")))?;
    alerts.save_document(&Serialized::of(doc, &json)).await?;
    Ok(Stepped::Done { json })
}

/// A delivery of an alert that remediate already answered (Lambda retried it, or the alert came
/// back after an interruption) finds its actions taken in the ledger and records them as
/// duplicates. The record this alert kept of what it did earlier (executed, with its rollback
/// data; failed; waiting for approval) stays: otherwise `soar rollback` would find nothing to
/// undo. Only a document with a duplicate is compared, against the one kept for the alert.
async fn keep_earlier_outcomes(alerts: &dyn AlertLog, doc: &mut Document) -> Result<(), StateError> {
    use crate::document::ActionStatus;
    if !doc.actions.iter().any(|a| a.status == ActionStatus::Duplicate) {
        return Ok(());
    }
    let Some(kept) = alerts.load_document(&doc.alert.id).await? else {
        return Ok(());
    };
    for record in doc.actions.iter_mut().filter(|a| a.status == ActionStatus::Duplicate) {
        // The latest outcome is the one that holds (an approved action's `executed` after its
        // `pending_approval`).
        let earlier = kept.actions.iter().rev().find(|k| {
            k.status != ActionStatus::Duplicate
                && k.mode == record.mode
                && k.request.action == record.request.action
                && k.request.target == record.request.target
        });
        if let Some(earlier) = earlier {
            *record = earlier.clone();
        }
    }
    Ok(())
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
                incidents: state.clone(),
            },
            responder: Responder {
                policies,
                decisions: state.clone(),
                ledger: state.clone(),
                inventory,
                remediator,
                notifier,
                approvals: Arc::new(crate::ports::NoApprovalChannel),
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
                self.ingestor.handed_on(&doc).await;
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
