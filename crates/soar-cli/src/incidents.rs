//! `soar incidents list|show`: incidents as the state table holds them (see soar-aws's
//! incidents module): their alerts, worst verdict and severity, the actions in their ledger, and
//! one timeline of both.

use crate::replay::state;
use serde_json::{Value, json};
use soar_aws::LedgerEntry;
use soar_core::incident::Incident;
use soar_core::ports::IncidentLog;
use std::process::ExitCode;

pub(crate) async fn list(endpoint: Option<&str>, limit: usize) -> Result<ExitCode, String> {
    let state = state(endpoint).await?;
    let incidents = state.recent_incidents(limit).await.map_err(|e| e.to_string())?;
    if incidents.is_empty() {
        println!("no incidents in table {}", state.table());
    }
    for i in incidents {
        println!(
            "{:<26} {:<15} {:<14} {}  {}",
            i.updated, i.verdict, i.severity, i.id, i.key
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn show(endpoint: Option<&str>, incident_id: &str, as_json: bool) -> Result<ExitCode, String> {
    let state = state(endpoint).await?;
    let incident = state
        .load_incident(incident_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| {
            format!(
                "no incident `{incident_id}` in table {} (see `soar incidents list`)",
                state.table()
            )
        })?;
    let ledger = state.ledger(incident_id).await.map_err(|e| e.to_string())?;
    if as_json {
        let ledger: Vec<Value> = ledger
            .iter()
            .map(|l| json!({"item": l.sk, "status": l.status, "mode": l.mode, "detail": l.detail, "at": l.at}))
            .collect();
        println!("{}", json!({"incident": incident, "ledger": ledger}));
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", text(&incident, &ledger));
    Ok(ExitCode::SUCCESS)
}

/// The readable form: header, alerts, actions, then every event in time order.
fn text(incident: &Incident, ledger: &[LedgerEntry]) -> String {
    let mut out = format!(
        "incident   {}\nkey        {}\nopened     {} (window {} min)\nverdict    {} ({})\nalerts     {}\n",
        incident.id,
        incident.key,
        incident.opened_at,
        incident.window_minutes,
        incident.verdict.as_str(),
        incident.severity,
        incident.alerts.len()
    );
    for a in &incident.alerts {
        out.push_str(&format!(
            "           {}  {} ({}, {}) {}\n",
            a.at,
            a.alert_id,
            a.verdict.as_str(),
            a.severity,
            a.kind
        ));
    }
    if let Some(by) = &incident.absorbed_by {
        out.push_str(&format!(
            "absorbed   by {by}: an attack sequence took in its key, later alerts join that one\n"
        ));
    }
    for taken in &incident.absorbed {
        out.push_str(&format!(
            "absorbs    {taken} (its alerts and actions: soar incidents show {taken})\n"
        ));
    }
    for entry in ledger {
        out.push_str(&format!("action     {} {} [{}]\n", entry.sk, entry.status, entry.mode));
    }
    let events: Vec<(String, String)> = incident
        .alerts
        .iter()
        .map(|a| (a.joined_at.clone(), format!("{} joined ({})", a.alert_id, a.kind)))
        .chain(
            ledger
                .iter()
                .filter(|e| !e.at.is_empty())
                .map(|e| (e.at.clone(), format!("{} {}", e.sk, e.status))),
        )
        .collect();
    // One form (RFC 3339 UTC, milliseconds), which sorts as text.
    let mut events: Vec<(String, String)> = events
        .into_iter()
        .map(|(at, what)| {
            let at = soar_core::time::parse_timestamp_str(&at).map_or(at, |t| soar_core::time::format_timestamp(&t));
            (at, what)
        })
        .collect();
    events.sort();
    out.push_str("timeline\n");
    for (at, what) in events {
        out.push_str(&format!("           {at}  {what}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use soar_core::incident::IncidentMember;
    use soar_core::verdict::VerdictKind;

    #[test]
    fn the_timeline_merges_alerts_and_actions_in_time_order() {
        let member = |id: &str, at: &str| IncidentMember {
            alert_id: id.into(),
            kind: "UnauthorizedAccess:EC2/TorClient".into(),
            title: String::new(),
            severity: "high".into(),
            verdict: VerdictKind::Incident,
            at: at.into(),
            joined_at: at.into(),
        };
        let incident = Incident {
            id: "inc-1".into(),
            key: "1/instance/i-1".into(),
            opened_at: "2026-11-30T10:00:00.000Z".into(),
            window_minutes: 30,
            severity: "high".into(),
            verdict: VerdictKind::Incident,
            alerts: vec![
                member("a/1", "2026-11-30T10:00:00.000Z"),
                member("a/2", "2026-11-30T10:05:00.000Z"),
            ],
            absorbed: vec!["inc-2".into()],
            absorbed_by: None,
        };
        let ledger = vec![LedgerEntry {
            sk: "ACTION#ec2.isolate#i-1".into(),
            status: "executed".into(),
            mode: "enforce".into(),
            detail: String::new(),
            at: "2026-11-30T10:01:00+00:00".into(),
        }];
        let out = text(&incident, &ledger);
        let timeline: Vec<&str> = out.split("timeline\n").nth(1).unwrap().lines().collect();
        assert_eq!(timeline.len(), 3, "{out}");
        assert!(timeline[0].contains("a/1 joined"), "{out}");
        assert!(timeline[1].contains("ec2.isolate"), "{out}");
        assert!(timeline[2].contains("a/2 joined"), "{out}");
        assert!(out.contains("alerts     2"), "{out}");
        assert!(out.contains("absorbs    inc-2"), "{out}");
    }
}
