//! Ingest: the policy accepts or suppresses (and maps alerts from other tools); the Rust side
//! deduplicates revisions and stores the alert.

use super::run_policy;
use crate::alert::Alert;
use crate::decision::{IngestDecision, Policies};
use crate::document::{Document, Phase};
use crate::input::{Incoming, alert_from_mapping};
use crate::ports::{Registration, StateStore};
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IngestStatus {
    /// Goes on through the pipeline.
    Accepted,
    /// Stops here by policy (sample, archived, ...) or as a duplicate; nothing is acted on.
    Suppressed,
    /// Cannot be an alert (bad input, unmappable generic alert): retrying cannot help.
    Rejected,
    /// A dependency failed (state store): nothing was decided, retry later.
    Failed,
}

impl IngestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            IngestStatus::Accepted => "accepted",
            IngestStatus::Suppressed => "suppressed",
            IngestStatus::Rejected => "rejected",
            IngestStatus::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone)]
pub struct IngestOutcome {
    pub status: IngestStatus,
    pub reason: String,
    /// Present unless rejected.
    pub document: Option<Document>,
    pub error: Option<String>,
}

impl IngestOutcome {
    fn rejected(reason: String, error: String) -> Self {
        IngestOutcome {
            status: IngestStatus::Rejected,
            reason,
            document: None,
            error: Some(error),
        }
    }
}

pub struct Ingestor {
    pub policies: Arc<dyn Policies>,
    pub state: Arc<dyn StateStore>,
}

impl Ingestor {
    pub async fn ingest(&self, incoming: Incoming) -> IngestOutcome {
        let (source, mut alert, generic_raw) = match incoming {
            Incoming::GuardDuty(alert) => ("guardduty".to_string(), Some(*alert), None),
            Incoming::Generic { source, raw } => (source, None, Some(raw)),
        };
        // The raw payload goes in once, as `raw`, not again inside `alert`.
        let alert_raw = alert.as_mut().map(|a| std::mem::take(&mut a.raw));
        let input = serde_json::to_string(&IngestInput {
            schema_version: crate::document::SCHEMA_VERSION,
            source: &source,
            alert: alert.as_ref(),
            raw: alert_raw.as_ref().or(generic_raw.as_ref()).unwrap_or(&Value::Null),
            context: IngestContext { phase: "ingest" },
        })
        .unwrap_or_else(|_| "{}".into());
        if let (Some(alert), Some(raw)) = (alert.as_mut(), alert_raw) {
            alert.raw = raw;
        }
        let (mut entry, decision) = run_policy::<IngestDecision>(self.policies.as_ref(), Phase::Ingest, &input);

        let mut doc = match (alert, &decision) {
            (Some(alert), _) => Document::new(alert),
            (None, Ok(d)) => {
                let mapping = d.alert.clone().unwrap_or(Value::Null);
                match alert_from_mapping(&source, &mapping, generic_raw.as_ref().unwrap_or(&Value::Null)) {
                    Ok(alert) => Document::new(alert),
                    Err(e) if d.accept => {
                        return IngestOutcome::rejected(
                            "the ingest policy's mapping of this alert is not usable".into(),
                            e.to_string(),
                        );
                    }
                    // Suppressed without a usable mapping: nothing to keep but the reason.
                    Err(_) => {
                        return IngestOutcome {
                            status: IngestStatus::Suppressed,
                            reason: non_empty(&d.reason, "suppressed by the ingest policy"),
                            document: None,
                            error: None,
                        };
                    }
                }
            }
            (None, Err(e)) => {
                return IngestOutcome::rejected("no ingest policy mapping for this alert".into(), e.to_string());
            }
        };

        let (status, reason) = match &decision {
            // A GuardDuty finding is understood without the policy: it goes on, and the recorded
            // error makes sure it ends as `undetermined` with no action.
            Err(e) => (IngestStatus::Accepted, format!("ingest policy error: {e}")),
            Ok(d) if !d.accept => (
                IngestStatus::Suppressed,
                non_empty(&d.reason, "suppressed by the ingest policy"),
            ),
            Ok(d) => {
                doc.alert.labels = d.labels.clone();
                (IngestStatus::Accepted, non_empty(&d.reason, "accepted"))
            }
        };

        let mut outcome_status = status;
        let mut outcome_reason = reason;
        if status == IngestStatus::Accepted {
            match self.state.register_alert(&doc).await {
                Ok(Registration::New) => {}
                Ok(Registration::Updated { previous }) => entry.notes.push(format!(
                    "newer revision {} of an alert last seen at {previous}: evaluated again",
                    doc.alert.revision()
                )),
                Ok(Registration::Duplicate { latest }) => {
                    outcome_status = IngestStatus::Suppressed;
                    outcome_reason = format!(
                        "duplicate: revision {} of this alert was already processed (latest seen: {latest})",
                        doc.alert.revision()
                    );
                    entry.notes.push(outcome_reason.clone());
                    if let Ok(Some(previous)) = self.state.load_document(&doc.alert.id).await {
                        doc.verdict = previous.verdict;
                    }
                }
                Err(e) => {
                    // Without dedup a redelivery could be acted on twice: stop here and let the
                    // queue deliver it again.
                    return IngestOutcome {
                        status: IngestStatus::Failed,
                        reason: "state store unavailable: cannot deduplicate".into(),
                        document: None,
                        error: Some(e.to_string()),
                    };
                }
            }
        }
        if let Err(e) = self.state.put_decision(&doc.alert.id, &entry).await {
            tracing::warn!(error = %e, "could not record the ingest decision");
        }
        let error = entry.error.clone();
        doc.trace.push(entry);
        IngestOutcome {
            status: outcome_status,
            reason: outcome_reason,
            document: Some(doc),
            error,
        }
    }
}

/// What the ingest policy sees: the finding as soar normalised it (GuardDuty) or nothing
/// (other tools: the policy maps `raw`), and the payload as it arrived.
#[derive(Serialize)]
struct IngestInput<'a> {
    schema_version: u32,
    source: &'a str,
    alert: Option<&'a Alert>,
    raw: &'a Value,
    context: IngestContext,
}

#[derive(Serialize)]
struct IngestContext {
    phase: &'static str,
}

fn non_empty(reason: &str, fallback: &str) -> String {
    if reason.trim().is_empty() {
        fallback.to_string()
    } else {
        reason.to_string()
    }
}
