//! Ingest: the policy accepts or suppresses (and maps alerts from other tools); the Rust side
//! deduplicates revisions and stores the alert.

use super::policy::run_policy;
use crate::alert::Alert;
use crate::decision::{IngestDecision, Policies, PolicyError};
use crate::document::{Document, Phase, Serialized, TraceEntry, Verdict, VerdictKind};
use crate::input::{Incoming, alert_from_mapping};
use crate::ports::{AlertLog, DecisionLog, Registration, StateError};
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;

/// Indicators one alert may carry. GuardDuty findings carry a handful (a port probe lists a few
/// dozen remote addresses); thousands are a flood meant to exhaust the policies' time budget.
pub(super) const MAX_INDICATORS: usize = 500;

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
    /// The accepted document's JSON, as kept in the alert log (what the enrich queue carries).
    pub json: Option<String>,
}

impl IngestOutcome {
    fn without_document(status: IngestStatus, reason: String, error: Option<String>) -> Self {
        IngestOutcome {
            status,
            reason,
            document: None,
            error,
            json: None,
        }
    }
}

pub struct Ingestor {
    pub policies: Arc<dyn Policies>,
    /// Revisions for deduplication, and the accepted alert's document.
    pub alerts: Arc<dyn AlertLog>,
    pub decisions: Arc<dyn DecisionLog>,
}

impl Ingestor {
    /// The ingest policy's decision on `incoming`, the document it leads to, deduplication, and
    /// the accepted alert kept in the alert log.
    pub async fn ingest(&self, incoming: Incoming) -> IngestOutcome {
        let (source, mut alert, generic_raw) = match incoming {
            Incoming::Normalised(alert) => (alert.source.clone(), Some(*alert), None),
            Incoming::Generic { source, raw } => (source, None, Some(raw)),
        };
        let (mut entry, decision) = self.decide(&source, alert.as_mut(), generic_raw.as_ref());
        let generic_raw = generic_raw.unwrap_or(Value::Null);
        let mut doc = match document(&source, alert, &generic_raw, &decision, &mut entry) {
            Ok(doc) => doc,
            Err(reason) => return IngestOutcome::without_document(IngestStatus::Suppressed, reason, None),
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
        let (status, reason) = if status == IngestStatus::Accepted {
            match self.register(&mut doc, &mut entry).await {
                Ok(None) => (status, reason),
                Ok(Some(duplicate)) => (IngestStatus::Suppressed, duplicate),
                Err(e) => {
                    let reason = "state store unavailable: cannot deduplicate";
                    return IngestOutcome::without_document(IngestStatus::Failed, reason.into(), Some(e));
                }
            }
        } else {
            (status, reason)
        };
        if let Err(e) = self.decisions.put_decision(&doc.alert.id, &entry).await {
            tracing::warn!(error = %e, "could not record the ingest decision");
        }
        let error = entry.error.clone();
        doc.trace.push(entry);
        self.finish(doc, status, reason, error).await
    }

    /// The ingest policy on the finding as soar normalised it (or, for other tools, nothing) and
    /// the payload as it arrived.
    fn decide(
        &self,
        source: &str,
        mut alert: Option<&mut Alert>,
        generic_raw: Option<&Value>,
    ) -> (TraceEntry, Result<IngestDecision, PolicyError>) {
        // The raw payload goes in once, as `raw`, not again inside `alert` (taken out for the
        // input, and given back).
        let alert_raw = alert.as_mut().map(|a| std::mem::take(&mut a.raw));
        let input = serde_json::to_string(&IngestInput {
            schema_version: crate::document::SCHEMA_VERSION,
            source,
            alert: alert.as_deref(),
            raw: alert_raw.as_ref().or(generic_raw).unwrap_or(&Value::Null),
            context: IngestContext { phase: "ingest" },
        })
        .unwrap_or_else(|_| "{}".into());
        if let (Some(alert), Some(raw)) = (alert, alert_raw) {
            alert.raw = raw;
        }
        run_policy::<IngestDecision>(self.policies.as_ref(), Phase::Ingest, &input)
    }

    /// Marks an accepted alert as handed on to enrich (see [`AlertLog::mark_handed_on`]). A
    /// failure is logged, not returned: the alert is on its way, and a copy arriving later is at
    /// worst evaluated again (the action ledger keeps every action to one).
    pub async fn handed_on(&self, doc: &Document) {
        if let Err(e) = self.alerts.mark_handed_on(doc).await {
            tracing::warn!(error = %e, "could not mark the alert as handed on");
        }
    }

    /// Registers an accepted alert's revision: `Some(reason)` when it is a duplicate (which then
    /// carries the verdict it was given before), `Err` when the store cannot tell.
    async fn register(&self, doc: &mut Document, entry: &mut TraceEntry) -> Result<Option<String>, String> {
        match self.alerts.register_alert(doc).await {
            Ok(Registration::New) => Ok(None),
            Ok(Registration::Updated { previous }) => {
                entry.notes.push(format!(
                    "newer revision {} of an alert last seen at {previous}: evaluated again",
                    doc.alert.revision()
                ));
                Ok(None)
            }
            Ok(Registration::Duplicate { latest }) => {
                match self.alerts.load_document(&doc.alert.id).await {
                    Ok(Some(previous)) => doc.verdict = previous.verdict,
                    // Registered, but the delivery that registered it failed before keeping the
                    // alert: this redelivery is the alert's only chance (the action ledger still
                    // keeps every action to one).
                    Ok(None) => {
                        entry.notes.push(format!(
                            "revision {} was registered but never stored (an earlier delivery failed): processed again",
                            doc.alert.revision()
                        ));
                        return Ok(None);
                    }
                    Err(e) => tracing::warn!(error = %e, "could not read the duplicate's earlier verdict"),
                }
                let reason = format!(
                    "duplicate: revision {} of this alert was already processed (latest seen: {latest})",
                    doc.alert.revision()
                );
                entry.notes.push(reason.clone());
                Ok(Some(reason))
            }
            Ok(Registration::InProgress) => Err(format!(
                "revision {} is being handed on by an earlier delivery: retried later",
                doc.alert.revision()
            )),
            // Without dedup a redelivery could be acted on twice: stop here and let the queue
            // deliver it again.
            Err(e) => Err(e.to_string()),
        }
    }

    /// A suppressed alert gets its verdict; an accepted one is kept in the alert log.
    async fn finish(
        &self,
        mut doc: Document,
        status: IngestStatus,
        reason: String,
        error: Option<String>,
    ) -> IngestOutcome {
        if status == IngestStatus::Suppressed && doc.verdict.is_none() {
            // Not an incident by the ingest policy's decision (sample, archived, ...).
            doc.verdict = Some(Verdict {
                verdict: VerdictKind::FalsePositive,
                severity: doc.alert.severity_label.clone(),
                reasons: vec![format!("suppressed at ingest: {reason}")],
                page: false,
                error: None,
            });
        }
        let mut json = None;
        if status == IngestStatus::Accepted {
            let kept = match Serialized::text(&doc) {
                Ok(text) => self
                    .alerts
                    .save_document(&Serialized::of(&doc, &text))
                    .await
                    .map(|()| text),
                Err(e) => Err(StateError(format!("the document is not JSON: {e}"))),
            };
            match kept {
                Ok(text) => json = Some(text),
                Err(e) => {
                    let reason = "state store unavailable: the alert could not be stored";
                    return IngestOutcome::without_document(IngestStatus::Failed, reason.into(), Some(e.to_string()));
                }
            }
        }
        IngestOutcome {
            status,
            reason,
            document: Some(doc),
            error,
            json,
        }
    }
}

/// The document an ingest decision leads to: the GuardDuty finding as parsed, or another tool's
/// alert as the policy mapped it; an accepted alert that cannot be mapped goes on unmapped (and
/// escalated). `Err`: suppressed without a usable mapping, nothing to keep but the reason.
fn document(
    source: &str,
    alert: Option<Alert>,
    generic_raw: &Value,
    decision: &Result<IngestDecision, PolicyError>,
    entry: &mut TraceEntry,
) -> Result<Document, String> {
    let mut doc = match (alert, decision) {
        (Some(alert), _) => Document::new(alert),
        (None, Ok(d)) => {
            let mapping = d.alert.clone().unwrap_or(Value::Null);
            match alert_from_mapping(source, &mapping, generic_raw) {
                Ok(alert) => Document::new(alert),
                // Accepted, but mapped to something soar cannot use (no id, an unknown
                // indicator kind): not dropped, escalated with the field the mapping got wrong.
                Err(e) if d.accept => {
                    entry.error = Some(format!("the ingest policy's mapping of this alert is not usable: {e}"));
                    Document::new(unmapped_alert(source, generic_raw))
                }
                Err(_) => return Err(non_empty(&d.reason, "suppressed by the ingest policy")),
            }
        }
        // The policy failed (an error, a timeout): there is no mapping, but the alert must not
        // vanish. It goes on as an unmapped alert, and the recorded error escalates it.
        (None, Err(_)) => Document::new(unmapped_alert(source, generic_raw)),
    };
    // An alert with more indicators than any real finding carries is not evaluated in part
    // and acted on: the rest is kept out, and the recorded error escalates it to a person.
    let carried = doc.alert.indicators.len();
    if carried > MAX_INDICATORS {
        doc.alert.indicators.truncate(MAX_INDICATORS);
        entry.error.get_or_insert(format!(
            "the alert carries {carried} indicators, more than the {MAX_INDICATORS} soar evaluates in one alert: escalated to a person, nothing done automatically"
        ));
    }
    Ok(doc)
}

/// An alert from another tool that no policy mapped: identified by the tool's own id when the
/// generic schema's `id` (or `alert_id`, `uuid`) holds one, else by a digest of the payload, so
/// a redelivery is still a duplicate. Nothing else is read from it: a person reads the raw alert.
fn unmapped_alert(source: &str, raw: &Value) -> Alert {
    use sha2::Digest;
    let body = raw.get("detail").filter(|d| d.is_object()).unwrap_or(raw);
    let id = ["id", "alert_id", "uuid"]
        .iter()
        .find_map(|k| crate::input::fields::text(body.get(*k)).filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| {
            let digest = sha2::Sha256::digest(raw.to_string().as_bytes());
            digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
        });
    Alert {
        id: format!("{source}///{id}"),
        source: source.to_string(),
        source_id: id,
        account: String::new(),
        region: String::new(),
        kind: "soar:Unmapped".into(),
        severity: 0.0,
        severity_label: crate::alert::severity_label(0.0).into(),
        title: format!("unmapped alert from {source}"),
        description: String::new(),
        resource: crate::alert::Resource::unknown(),
        related_resources: Vec::new(),
        indicators: Vec::new(),
        created_at: None,
        updated_at: None,
        sample: [raw, body].iter().any(|r| crate::json::flag_in(r, &["test", "sample"])),
        archived: false,
        labels: Vec::new(),
        finding: None,
        raw: raw.clone(),
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
