//! `soar replay ALERT_ID` and `soar alerts list|show`: the stored record of alerts, read from
//! the DynamoDB table (`SOAR_TABLE`; a local endpoint with `--endpoint-url`).
//!
//! Replay re-runs the alert's recorded inputs (raw alert, inventory answer, provider answers;
//! see `soar_offline::replay`) through the current policies in memory, dry run, and shows what
//! would differ from what was decided then: outcome first, then each phase's decision.

use crate::aws_cmd::{config, required};
use crate::scenario::AlertOutcome;
use serde_json::{Value, json};
use soar_aws::{DynamoClient, DynamoState};
use soar_core::pipeline::Pipeline;
use soar_core::ports::AlertLog;
use soar_core::{ActionStatus, Document, Phase};
use soar_offline::replay::{Recording, unrecorded_lookups};
use soar_policy::{DEFAULT_TIME_LIMIT, PolicySet};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

/// Exit code when the current policies would decide differently (as `soar policy diff`).
const DIFFERS: u8 = 3;

pub(crate) async fn state(endpoint: Option<&str>) -> Result<DynamoState, String> {
    let aws = config(endpoint).await?;
    Ok(DynamoState::new(DynamoClient::new(&aws), required("SOAR_TABLE")?))
}

async fn stored(state: &DynamoState, alert_id: &str) -> Result<Document, String> {
    state
        .load_document(alert_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| {
            format!(
                "no alert `{alert_id}` in table {} (see `soar alerts list`)",
                state.table()
            )
        })
}

pub(crate) async fn replay(
    endpoint: Option<&str>,
    alert_id: &str,
    policies: Option<&Path>,
) -> Result<ExitCode, String> {
    let state = state(endpoint).await?;
    let recorded = stored(&state, alert_id).await?;
    let policies = Arc::new(match policies {
        Some(dir) => PolicySet::from_dir(dir, DEFAULT_TIME_LIMIT),
        None => PolicySet::embedded(DEFAULT_TIME_LIMIT),
    });
    policies.refuse_bad_config()?;
    for problem in policies.problems() {
        eprintln!("soar: warning: {problem}");
    }
    let org = policies.org_config().clone();
    let recording = Recording::from_document(&recorded, &org)
        .map_err(|e| format!("the stored alert `{alert_id}` cannot be replayed: {e}"))?;
    let (mut parts, _) = soar_offline::in_memory_parts(policies, org);
    parts.inventory = Arc::new(recording.inventory);
    parts.providers = recording.providers;
    let run = Pipeline::new(parts).run(recording.incoming).await;
    let now = AlertOutcome::of(&run);

    let then = recorded_outcome(&recorded, &now);
    let alert = &recorded.alert;
    println!(
        "alert      {} ({}, {} {})",
        alert.id, alert.kind, alert.resource.kind, alert.resource.id
    );
    println!("recorded   {}", outcome_line(&then));
    println!("replayed   {}   ({})", outcome_line(&now), now.status);
    let replayed = run.document.as_ref();
    print_decisions(&recorded, replayed);
    if let Some(doc) = replayed {
        let unrecorded = unrecorded_lookups(&recorded, doc);
        if !unrecorded.is_empty() {
            println!(
                "lookups the recording has no answer for (replayed as not found): {}",
                unrecorded.join(", ")
            );
        }
    }
    let same = (&then.verdict, &then.severity, &then.actions) == (&now.verdict, &now.severity, &now.actions);
    if same {
        println!("no difference: the current policies decide this alert as it was decided");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("DIFFERS: the current policies would handle this alert differently");
        Ok(ExitCode::from(DIFFERS))
    }
}

/// What the stored document says was decided, in the shape of a replay's outcome.
fn recorded_outcome(recorded: &Document, now: &AlertOutcome) -> AlertOutcome {
    let then_verdict = recorded.verdict.as_ref();
    AlertOutcome {
        alert_id: Some(recorded.alert.id.clone()),
        status: now.status.clone(),
        verdict: then_verdict.map(|v| v.verdict.as_str().to_string()),
        severity: then_verdict.map(|v| v.severity.clone()),
        // A redelivery records `duplicate`: the action was decided and done by an earlier delivery.
        actions: recorded
            .actions
            .iter()
            .filter(|a| a.status.is_effective() || a.status == ActionStatus::Duplicate)
            .map(|a| format!("{} {}", a.request.action, a.request.target.id))
            .collect(),
        lookups: Default::default(),
    }
}

/// Each phase's decision then and now, with both when they differ.
fn print_decisions(recorded: &Document, replayed: Option<&Document>) {
    for phase in Phase::ALL {
        let old = recorded.trace.iter().rfind(|t| t.phase == phase);
        let new = replayed.and_then(|d| d.trace.iter().rfind(|t| t.phase == phase));
        let decision = |t: Option<&soar_core::TraceEntry>| {
            t.map(|t| match &t.error {
                Some(e) => json!({"error": e}),
                None => t.decision.clone().unwrap_or(Value::Null),
            })
        };
        let revision = |t: Option<&soar_core::TraceEntry>| t.map_or("-".to_string(), |t| t.revision.clone());
        let (a, b) = (decision(old), decision(new));
        let verdict = if a == b { "same decision" } else { "decision changed" };
        println!(
            "  {:<10} {} -> {}  {verdict}",
            phase.as_str(),
            revision(old),
            revision(new)
        );
        if a != b {
            println!(
                "             then: {}",
                a.map_or("not reached".into(), |v| v.to_string())
            );
            println!(
                "             now:  {}",
                b.map_or("not reached".into(), |v| v.to_string())
            );
        }
    }
}

fn outcome_line(o: &AlertOutcome) -> String {
    let actions = if o.actions.is_empty() {
        "no actions".to_string()
    } else {
        o.actions.iter().cloned().collect::<Vec<_>>().join(", ")
    };
    format!(
        "{} ({}); {actions}",
        o.verdict.as_deref().unwrap_or("no verdict"),
        o.severity.as_deref().unwrap_or("-")
    )
}

pub(crate) async fn list(endpoint: Option<&str>, limit: usize) -> Result<ExitCode, String> {
    let state = state(endpoint).await?;
    let alerts = state.recent_alerts(limit).await.map_err(|e| e.to_string())?;
    if alerts.is_empty() {
        println!("no alerts in table {}", state.table());
    }
    for a in alerts {
        println!(
            "{:<26} {:<15} {:<45} {}",
            a.updated, a.verdict, a.alert_type, a.alert_id
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn show(endpoint: Option<&str>, alert_id: &str, as_json: bool) -> Result<ExitCode, String> {
    let state = state(endpoint).await?;
    let doc = stored(&state, alert_id).await?;
    // An alert of an incident has its actions in the incident's ledger.
    let ledger = state.ledger(doc.ledger_scope()).await.map_err(|e| e.to_string())?;
    if as_json {
        let ledger: Vec<Value> = ledger
            .iter()
            .map(|l| json!({"item": l.sk, "status": l.status, "mode": l.mode, "detail": l.detail}))
            .collect();
        println!("{}", json!({"document": doc, "ledger": ledger}));
        return Ok(ExitCode::SUCCESS);
    }
    let alert = &doc.alert;
    println!("alert      {}", alert.id);
    println!("type       {} (severity {})", alert.kind, alert.severity);
    println!(
        "resource   {} {} in {}",
        alert.resource.kind, alert.resource.id, alert.account
    );
    if let Some(v) = &doc.verdict {
        println!(
            "verdict    {} ({}){}",
            v.verdict.as_str(),
            v.severity,
            if v.page { ", page" } else { "" }
        );
        for reason in &v.reasons {
            println!("           - {reason}");
        }
    }
    if let Some(i) = &doc.incident {
        println!(
            "incident   {} ({} alert(s) when this one joined, {} {}, key {}){}",
            i.id,
            i.alerts,
            i.verdict.as_str(),
            i.severity,
            i.key,
            if i.opened { ", opened by this alert" } else { "" }
        );
    }
    for e in &doc.enrichments {
        let what = e
            .indicator
            .as_ref()
            .map_or("the resource".to_string(), |i| format!("{} {}", i.kind, i.value));
        println!(
            "enrich     {} on {what}: {:?}{}",
            e.provider,
            e.status,
            if e.cached { " (cached)" } else { "" }
        );
    }
    for a in &doc.actions {
        println!(
            "action     {} {}: {} ({})",
            a.request.action,
            a.request.target.id,
            a.status.as_str(),
            a.mode.as_str()
        );
    }
    for t in &doc.trace {
        println!(
            "trace      {} rev {} {}us{}",
            t.phase,
            t.revision,
            t.micros,
            t.error.as_ref().map(|e| format!(" error: {e}")).unwrap_or_default()
        );
        for note in &t.notes {
            println!("           - {note}");
        }
    }
    for l in &ledger {
        println!("ledger     {} {} ({}) {}", l.sk, l.status, l.mode, l.detail);
    }
    Ok(ExitCode::SUCCESS)
}
