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

pub(crate) async fn stored(state: &DynamoState, alert_id: &str) -> Result<Document, String> {
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

/// A stored alert replayed under a policy set: what was decided then and what would be now.
pub(crate) struct Comparison {
    pub(crate) then: AlertOutcome,
    pub(crate) now: AlertOutcome,
    /// Each phase: its revision then and now, its decision then and now (`None`: not reached).
    pub(crate) phases: Vec<PhaseChange>,
    /// Lookups the recording has no answer for (replayed as not found).
    pub(crate) unrecorded: Vec<String>,
}

pub(crate) struct PhaseChange {
    pub(crate) phase: Phase,
    pub(crate) revision_then: String,
    pub(crate) revision_now: String,
    pub(crate) then: Option<Value>,
    pub(crate) now: Option<Value>,
}

impl PhaseChange {
    pub(crate) fn changed(&self) -> bool {
        self.then != self.now
    }
}

impl Comparison {
    /// Whether the current policies handle the alert as it was handled.
    pub(crate) fn same(&self) -> bool {
        (&self.then.verdict, &self.then.severity, &self.then.actions)
            == (&self.now.verdict, &self.now.severity, &self.now.actions)
    }
}

/// Replays `recorded` (its raw alert, inventory and provider answers; see
/// `soar_offline::replay`) through `policies` in memory, dry run. Errors: a document that cannot
/// be replayed.
pub(crate) async fn compare(recorded: &Document, policies: Arc<PolicySet>) -> Result<Comparison, String> {
    let org = policies.org_config().clone();
    let recording = Recording::from_document(recorded, &org)
        .map_err(|e| format!("the stored alert `{}` cannot be replayed: {e}", recorded.alert.id))?;
    let (mut parts, _) = soar_offline::in_memory_parts(policies, org);
    parts.inventory = Arc::new(recording.inventory);
    parts.providers = recording.providers;
    let run = Pipeline::new(parts).run(recording.incoming).await;
    let now = AlertOutcome::of(&run);
    let then = recorded_outcome(recorded, &now);
    let replayed = run.document.as_ref();
    Ok(Comparison {
        then,
        now,
        phases: phase_changes(recorded, replayed),
        unrecorded: replayed
            .map(|doc| unrecorded_lookups(recorded, doc))
            .unwrap_or_default(),
    })
}

/// The policy set to replay under: `dir`, else the one built into this binary. Errors: a
/// malformed configuration.
pub(crate) fn policy_set(dir: Option<&Path>) -> Result<Arc<PolicySet>, String> {
    let policies = Arc::new(match dir {
        Some(dir) => PolicySet::from_dir(dir, DEFAULT_TIME_LIMIT),
        None => PolicySet::embedded(DEFAULT_TIME_LIMIT),
    });
    policies.refuse_bad_config()?;
    for problem in policies.problems() {
        eprintln!("soar: warning: {problem}");
    }
    Ok(policies)
}

pub(crate) async fn replay(
    endpoint: Option<&str>,
    alert_id: &str,
    policies: Option<&Path>,
) -> Result<ExitCode, String> {
    let state = state(endpoint).await?;
    let recorded = stored(&state, alert_id).await?;
    let comparison = compare(&recorded, policy_set(policies)?).await?;
    let alert = &recorded.alert;
    println!(
        "alert      {} ({}, {} {})",
        alert.id, alert.kind, alert.resource.kind, alert.resource.id
    );
    println!("recorded   {}", outcome_line(&comparison.then));
    println!(
        "replayed   {}   ({})",
        outcome_line(&comparison.now),
        comparison.now.status
    );
    print_decisions(&comparison.phases);
    if !comparison.unrecorded.is_empty() {
        println!(
            "lookups the recording has no answer for (replayed as not found): {}",
            comparison.unrecorded.join(", ")
        );
    }
    if comparison.same() {
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

/// Each phase's decision then and now.
fn phase_changes(recorded: &Document, replayed: Option<&Document>) -> Vec<PhaseChange> {
    let decision = |t: Option<&soar_core::TraceEntry>| {
        t.map(|t| match &t.error {
            Some(e) => json!({"error": e}),
            None => t.decision.clone().unwrap_or(Value::Null),
        })
    };
    let revision = |t: Option<&soar_core::TraceEntry>| t.map_or("-".to_string(), |t| t.revision.clone());
    Phase::ALL
        .into_iter()
        .map(|phase| {
            let old = recorded.trace.iter().rfind(|t| t.phase == phase);
            let new = replayed.and_then(|d| d.trace.iter().rfind(|t| t.phase == phase));
            PhaseChange {
                phase,
                revision_then: revision(old),
                revision_now: revision(new),
                then: decision(old),
                now: decision(new),
            }
        })
        .collect()
}

/// Each phase's decision then and now, with both when they differ.
fn print_decisions(phases: &[PhaseChange]) {
    for p in phases {
        let verdict = if p.changed() {
            "decision changed"
        } else {
            "same decision"
        };
        println!(
            "  {:<10} {} -> {}  {verdict}",
            p.phase.as_str(),
            p.revision_then,
            p.revision_now
        );
        if p.changed() {
            let shown = |v: &Option<Value>| v.as_ref().map_or("not reached".into(), Value::to_string);
            println!("             then: {}", shown(&p.then));
            println!("             now:  {}", shown(&p.now));
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
