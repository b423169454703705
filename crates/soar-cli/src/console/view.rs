//! What each page shows, as the template's context: plain values built from the stored document,
//! the ledger and the waiting list. Everything from a finding reaches the page through the
//! templates' HTML escaping.

use crate::replay::Comparison;
use serde_json::{Value, json};
use soar_aws::{AlertSummary, IncidentSummary, LedgerEntry};
use soar_core::approval::Waiting;
use soar_core::incident::Incident;
use soar_core::pipeline::short;
use soar_core::{Document, Phase};

/// How much of a decision or action detail a page shows.
const SHOWN: usize = 4000;

/// `path?id=<id>`, the id URL-encoded (alert ids hold slashes).
pub(super) fn link(path: &str, id: &str) -> String {
    let id: String = form_urlencoded::byte_serialize(id.as_bytes()).collect();
    format!("{path}?id={id}")
}

/// Pretty JSON, cut to [`SHOWN`] characters.
fn pretty(value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    };
    if text.chars().count() > SHOWN {
        let mut cut: String = text.chars().take(SHOWN).collect();
        cut.push_str("\n… (cut; soar alerts show --json has it whole)");
        cut
    } else {
        text
    }
}

fn unix_time(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0).map_or_else(|| seconds.to_string(), |t| t.to_rfc3339())
}

pub(super) fn incident_row(i: &IncidentSummary) -> Value {
    json!({"id": i.id, "href": link("/incident", &i.id), "key": i.key, "verdict": i.verdict,
           "severity": i.severity, "opened_at": i.opened_at, "updated": i.updated})
}

pub(super) fn alert_row(a: &AlertSummary) -> Value {
    json!({"id": a.alert_id, "href": link("/alert", &a.alert_id), "type": a.alert_type, "verdict": a.verdict,
           "severity": a.severity, "account": a.account, "updated": a.updated})
}

pub(super) fn waiting_row(w: &Waiting) -> Value {
    let scope_href = if soar_core::incident::is_incident_id(&w.scope) {
        link("/incident", &w.scope)
    } else {
        link("/alert", &w.scope)
    };
    json!({
        "scope": w.scope, "scope_href": scope_href, "action": w.action, "target": w.target,
        "digest": w.ticket.digest, "short": short(&w.ticket.digest), "asked_at": w.ticket.asked_at,
        "expires": unix_time(w.ticket.expires_at),
        "alert_id": w.ticket.alert_id, "alert_href": link("/alert", &w.ticket.alert_id),
    })
}

fn ledger_rows(ledger: &[LedgerEntry]) -> Vec<Value> {
    ledger
        .iter()
        .map(|l| {
            let detail: Value = serde_json::from_str(&l.detail).unwrap_or_else(|_| json!(l.detail));
            json!({"item": l.sk, "status": l.status, "mode": l.mode, "at": l.at, "detail": pretty(&detail)})
        })
        .collect()
}

/// An alert's story: the alert, its verdict, each phase (revision, duration, decision, notes:
/// egress refusals and guard rails among them), enrichments, actions with their rollback data,
/// the ledger, and what waits for an answer.
pub(super) fn alert_page(doc: &Document, ledger: &[LedgerEntry], waiting: Vec<Value>) -> Value {
    let alert = &doc.alert;
    let phases: Vec<Value> = doc
        .trace
        .iter()
        .map(|t| {
            json!({"phase": t.phase.as_str(), "revision": t.revision, "ms": format!("{:.1}", t.micros as f64 / 1000.0),
                   "decision": t.decision.as_ref().map(pretty), "error": t.error, "notes": t.notes})
        })
        .collect();
    let enrichments: Vec<Value> = doc
        .enrichments
        .iter()
        .map(|e| {
            let what = e
                .indicator
                .as_ref()
                .map_or("the resource".to_string(), |i| format!("{} {}", i.kind, i.value));
            json!({"provider": e.provider, "indicator": what, "status": format!("{:?}", e.status).to_lowercase(),
                   "cached": e.cached, "data": pretty(&e.data)})
        })
        .collect();
    let actions: Vec<Value> = doc
        .actions
        .iter()
        .map(|a| {
            json!({"action": a.request.action, "target": format!("{} {}", a.request.target.kind.as_str(), a.request.target.id),
                   "mode": a.mode.as_str(), "status": a.status.as_str(), "reason": a.request.reason,
                   "rollback": a.detail.get("rollback").map(pretty), "detail": pretty(&a.detail)})
        })
        .collect();
    json!({
        "alert": {"id": alert.id, "title": alert.title, "type": alert.kind, "severity": alert.severity,
                  "severity_label": alert.severity_label, "account": alert.account, "region": alert.region,
                  "resource": format!("{} {}", alert.resource.kind, alert.resource.id), "source": alert.source,
                  "updated_at": alert.updated_at, "sample": alert.sample, "archived": alert.archived,
                  "description": alert.description},
        "verdict": doc.verdict,
        "incident": doc.incident.as_ref().map(|i| json!({"id": i.id, "href": link("/incident", &i.id), "alerts": i.alerts, "severity": i.severity})),
        "phases": phases, "enrichments": enrichments, "actions": actions,
        "ledger": ledger_rows(ledger), "waiting": waiting,
        "replay_href": link("/replay", &alert.id),
    })
}

pub(super) fn incident_page(incident: &Incident, ledger: &[LedgerEntry], waiting: Vec<Value>) -> Value {
    let alerts: Vec<Value> = incident
        .alerts
        .iter()
        .rev()
        .map(|m| {
            json!({"id": m.alert_id, "href": link("/alert", &m.alert_id), "type": m.kind, "title": m.title,
                   "severity": m.severity, "verdict": m.verdict.as_str(), "at": m.at, "joined_at": m.joined_at})
        })
        .collect();
    json!({
        "incident": {"id": incident.id, "key": incident.key, "verdict": incident.verdict.as_str(),
                     "severity": incident.severity, "opened_at": incident.opened_at,
                     "window_minutes": incident.window_minutes,
                     "absorbed": incident.absorbed.iter().map(|id| json!({"id": id, "href": link("/incident", id)})).collect::<Vec<_>>(),
                     "absorbed_by": incident.absorbed_by.as_ref().map(|id| json!({"id": id, "href": link("/incident", id)}))},
        "alerts": alerts, "ledger": ledger_rows(ledger), "waiting": waiting,
    })
}

/// What the current policies would do with a stored alert, beside what was done.
pub(super) fn replay_page(doc: &Document, comparison: &Comparison) -> Value {
    let outcome =
        |o: &crate::scenario::AlertOutcome| json!({"verdict": o.verdict, "severity": o.severity, "actions": o.actions});
    let phases: Vec<Value> = comparison
        .phases
        .iter()
        .map(|p| {
            json!({"phase": p.phase.as_str(), "revision_then": p.revision_then, "revision_now": p.revision_now,
                   "changed": p.changed(),
                   "then": p.then.as_ref().map(pretty), "now": p.now.as_ref().map(pretty)})
        })
        .collect();
    json!({
        "alert": {"id": doc.alert.id, "href": link("/alert", &doc.alert.id), "title": doc.alert.title},
        "then": outcome(&comparison.then), "now": outcome(&comparison.now),
        "same": comparison.same(), "phases": phases, "unrecorded": comparison.unrecorded,
        "phase_count": Phase::ALL.len(),
    })
}
