//! What `soar run` prints per input: one JSON object (`--json`) or a readable summary.

use serde::Serialize;
use serde_json::{Value, json};
use soar_core::pipeline::{IngestStatus, RunOutcome};
use soar_core::{Document, EnrichmentStatus};
use std::fmt::Write as _;

#[derive(Serialize)]
pub(crate) struct InputReport {
    pub input: String,
    pub alert_id: Option<String>,
    pub status: &'static str,
    pub reason: String,
    pub verdict: Option<String>,
    pub severity: Option<String>,
    pub page: bool,
    /// The alert's incident link (`null` when answered alone).
    pub incident: Option<Value>,
    pub actions: Vec<Value>,
    pub enrichments: Vec<Value>,
    pub trace: Vec<Value>,
    pub error: Option<String>,
}

impl InputReport {
    pub(crate) fn rejected(input: String, error: String) -> Self {
        InputReport {
            input,
            alert_id: None,
            status: IngestStatus::Rejected.as_str(),
            reason: "not an alert".into(),
            verdict: None,
            severity: None,
            page: false,
            incident: None,
            actions: Vec::new(),
            enrichments: Vec::new(),
            trace: Vec::new(),
            error: Some(error),
        }
    }

    pub(crate) fn from_outcome(input: String, outcome: &RunOutcome) -> Self {
        let doc = outcome.document.as_ref();
        let verdict = doc.and_then(|d| d.verdict.as_ref());
        InputReport {
            input,
            alert_id: doc.map(|d| d.alert.id.clone()),
            status: outcome.status.as_str(),
            reason: outcome.reason.clone(),
            verdict: verdict.map(|v| v.verdict.as_str().to_string()),
            severity: verdict.map(|v| v.severity.clone()),
            page: verdict.is_some_and(|v| v.page),
            incident: doc.and_then(|d| d.incident.as_ref()).map(|i| json!(i)),
            actions: doc.map(actions).unwrap_or_default(),
            enrichments: doc
                .map(|d| d.enrichments.iter().map(|e| json!(e)).collect())
                .unwrap_or_default(),
            trace: doc
                .map(|d| d.trace.iter().map(|t| json!(t)).collect())
                .unwrap_or_default(),
            error: outcome.error.clone(),
        }
    }

    /// Rejected (or failed) inputs make `soar run` exit 1.
    pub(crate) fn is_rejected(&self) -> bool {
        self.status == IngestStatus::Rejected.as_str() || self.status == IngestStatus::Failed.as_str()
    }
}

fn actions(doc: &Document) -> Vec<Value> {
    doc.actions
        .iter()
        .map(|a| {
            json!({
                "type": a.request.action,
                "target": a.request.target.id,
                "target_kind": a.request.target.kind,
                "mode": a.mode,
                "status": a.status,
                "ledger_target": a.ledger_target(),
                "requires_approval": a.request.requires_approval,
                "reason": a.request.reason,
                "detail": a.detail,
            })
        })
        .collect()
}

/// The readable form: a few aligned lines per alert.
pub(crate) fn human(report: &InputReport, doc: Option<&Document>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", report.input);
    if let Some(doc) = doc {
        let a = &doc.alert;
        let resource = if a.resource.id.is_empty() {
            a.resource.kind.to_string()
        } else {
            format!("{} {}", a.resource.kind, a.resource.id)
        };
        let _ = writeln!(out, "  alert     {} ({} {}, {resource})", a.id, a.kind, a.severity);
    }
    let _ = writeln!(out, "  status    {}: {}", report.status, report.reason);
    if let (Some(verdict), Some(doc)) = (&report.verdict, doc) {
        let page = if report.page { ", page now" } else { "" };
        let reasons = doc.verdict.as_ref().map(|v| v.reasons.join("; ")).unwrap_or_default();
        let _ = writeln!(
            out,
            "  verdict   {verdict} ({}{page}): {reasons}",
            report.severity.as_deref().unwrap_or("?")
        );
    }
    if let Some(i) = doc.and_then(|d| d.incident.as_ref()) {
        let opened = if i.opened { ", opened by this alert" } else { "" };
        let _ = writeln!(
            out,
            "  incident  {} ({}, alert {} of it{opened})",
            i.id, i.key, i.alerts
        );
    }
    if let Some(doc) = doc {
        for e in &doc.enrichments {
            let subject = match &e.indicator {
                Some(i) => format!("{} {}", i.kind, i.value),
                None => format!("{} {}", doc.alert.resource.kind, doc.alert.resource.id),
            };
            let status = match e.status {
                EnrichmentStatus::Found => "found",
                EnrichmentStatus::NotFound => "not found",
                EnrichmentStatus::Error => "error",
            };
            let _ = writeln!(
                out,
                "  enrich    {}: {subject}: {status}{}{}",
                e.provider,
                answer_summary(&e.data),
                if e.cached { " (cached)" } else { "" }
            );
        }
        // Lookups the enrich policy withheld, with its reason (the Rust guard's refusals are notes).
        let withheld = doc
            .trace
            .iter()
            .filter_map(|t| t.decision.as_ref()?.get("rounds")?.as_array())
            .flatten()
            .filter_map(|round| round.get("withheld")?.as_array())
            .flatten();
        for w in withheld {
            let field = |k: &str| w.get(k).and_then(Value::as_str).unwrap_or("?");
            let _ = writeln!(
                out,
                "  withheld  {}: {}: {} (enrich policy)",
                field("provider"),
                field("indicator"),
                field("reason")
            );
        }
        action_lines(&mut out, doc);
        for t in &doc.trace {
            for note in &t.notes {
                let _ = writeln!(out, "  note      {}: {note}", t.phase);
            }
        }
    }
    if let Some(error) = &report.error {
        let _ = writeln!(out, "  error     {error}");
    }
    out
}

/// One line per action: what it did to which target, in which mode.
fn action_lines(out: &mut String, doc: &soar_core::Document) {
    for action in &doc.actions {
        // An incident's later notifications are its follow-ups and escalations.
        let role = match action.ledger_target.as_deref() {
            Some(t) if t.contains("#follow-up#") => " (incident follow-up)",
            Some(t) if t.contains("#escalation#") => " (incident escalation)",
            _ => "",
        };
        let _ = writeln!(
            out,
            "  action    {} {}{role} → {} [{}]",
            action.request.action,
            action.request.target.id,
            action.status.as_str(),
            action.mode.as_str()
        );
    }
}

/// `, malicious, score 80, tags tor, https://...` from the common answer shape, or the error.
fn answer_summary(data: &Value) -> String {
    if let Some(error) = data.get("error").and_then(Value::as_str) {
        return format!(": {error}");
    }
    let mut parts = Vec::new();
    if let Some(verdict) = data.get("verdict").and_then(Value::as_str) {
        parts.push(verdict.to_string());
    }
    if let Some(score) = data.get("score").and_then(Value::as_u64) {
        parts.push(format!("score {score}"));
    }
    let tags: Vec<&str> = data
        .get("tags")
        .and_then(Value::as_array)
        .map(|t| t.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !tags.is_empty() {
        parts.push(format!("tags {}", tags.join(" ")));
    }
    if let Some(link) = data.get("link").and_then(Value::as_str) {
        parts.push(link.to_string());
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(", {}", parts.join(", "))
    }
}

/// The incidents of a run, after its alerts: each with its alerts, worst verdict and severity.
pub(crate) fn incidents_text(incidents: &[soar_core::incident::Incident]) -> String {
    let mut out = String::new();
    if incidents.is_empty() {
        return out;
    }
    let _ = writeln!(out, "incidents");
    for i in incidents {
        let _ = writeln!(
            out,
            "  {}  {} {}, {} alert(s), key {}, opened {}",
            i.id,
            i.verdict.as_str(),
            i.severity,
            i.alerts.len(),
            i.key,
            i.opened_at
        );
        for a in &i.alerts {
            let _ = writeln!(out, "    {}  {} ({}) {}", a.at, a.alert_id, a.severity, a.kind);
        }
    }
    out
}
