//! Undoing executed actions: what each reversible action recorded ([`Undo`], under `undo` in the
//! action's detail) and the one flow `soar rollback` runs ([`rollback`]): dry run by default,
//! exactly once through the action ledger in enforce.
//!
//! The adapter that carries an action out builds its [`Undo`] from what it read just before the
//! change (the ENI's groups, the bucket's public access block, the function's reserved
//! concurrency), so a rollback puts back what was there, not a default.

use crate::action::ActionKind;
use crate::document::{ActionRecord, ActionRequest, ActionStatus, Document, Mode};
use crate::ports::{ActionLedger, Claim, Remediator};
use serde::Serialize;
use serde_json::{Value, json};

pub use crate::undo::{PublicAccessBlock, Undo};

/// The prefix of a rollback's ledger entry: `rollback:ec2.isolate` beside `ec2.isolate`.
pub const ROLLBACK_PREFIX: &str = "rollback:";

/// Which executed actions of an alert to undo: all, one type, or one type on one target.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub action: Option<ActionKind>,
    pub target: Option<String>,
}

/// What became of one rollback.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RollbackStatus {
    /// Dry run: the calls it would make.
    Planned,
    /// Carried out now, and recorded in the ledger.
    RolledBack,
    /// The ledger says this rollback was carried out before: not repeated.
    AlreadyRolledBack,
    /// The action cannot be undone (a snapshot, a stopped task) or recorded no rollback data.
    NotReversible,
    /// The calls failed; the ledger claim is given back, so that it can be tried again.
    Failed,
}

/// One executed action and what its rollback did (or would do).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RolledBack {
    pub action: String,
    pub target: String,
    pub status: RollbackStatus,
    /// The API calls (dry run), the adapter's report, or why not.
    pub detail: Value,
}

/// Undoes the alert's executed (enforce) actions that `selection` names, newest first (an
/// instance isolated after its profile was detached gets its groups back first).
///
/// In [`Mode::DryRun`] nothing is claimed or called: each entry lists the API calls. In
/// [`Mode::Enforce`] each rollback takes the ledger entry `rollback:<action>` on the target
/// first, so two operators (or a retry) undo it once; a failed rollback gives the entry back.
///
/// Errors: nothing executed matches `selection` (the message lists what was executed).
pub async fn rollback(
    doc: &Document,
    selection: &Selection,
    mode: Mode,
    ledger: &dyn ActionLedger,
    remediator: &dyn Remediator,
) -> Result<Vec<RolledBack>, String> {
    let executed: Vec<&ActionRecord> = doc
        .actions
        .iter()
        .filter(|a| a.mode == Mode::Enforce && a.status == ActionStatus::Executed)
        .filter(|a| !a.request.action.starts_with(ROLLBACK_PREFIX))
        .collect();
    let chosen: Vec<&ActionRecord> = executed
        .iter()
        .rev()
        .copied()
        .filter(|a| selection.action.is_none_or(|k| a.request.action == k.as_str()))
        .filter(|a| selection.target.as_deref().is_none_or(|t| a.request.target.id == t))
        // Unnamed, only what can be undone; named, an action that cannot is reported as such.
        .filter(|a| {
            selection.action.is_some() || ActionKind::parse(&a.request.action).is_ok_and(|k| k.undo().is_some())
        })
        .collect();
    if chosen.is_empty() {
        let listed: Vec<String> = executed
            .iter()
            .map(|a| format!("{} {}", a.request.action, a.request.target.id))
            .collect();
        return Err(format!(
            "nothing executed on {} that can be undone matches{}{}; executed: {}",
            doc.alert.id,
            selection.action.map(|k| format!(" {k}")).unwrap_or_default(),
            selection.target.as_deref().map(|t| format!(" {t}")).unwrap_or_default(),
            if listed.is_empty() {
                "none".to_string()
            } else {
                listed.join(", ")
            }
        ));
    }
    let mut out = Vec::new();
    for record in chosen {
        out.push(rollback_one(doc, record, mode, ledger, remediator).await);
    }
    Ok(out)
}

/// One rollback, claimed in the ledger the action was claimed in (its incident's, if any).
async fn rollback_one(
    doc: &Document,
    record: &ActionRecord,
    mode: Mode,
    ledger: &dyn ActionLedger,
    remediator: &dyn Remediator,
) -> RolledBack {
    let target = record.request.target.clone();
    let entry = |status, detail| RolledBack {
        action: record.request.action.clone(),
        target: target.id.clone(),
        status,
        detail,
    };
    let undo = match Undo::from_record(record) {
        Ok(undo) => undo,
        Err(why) => return entry(RollbackStatus::NotReversible, json!(why)),
    };
    if mode == Mode::DryRun {
        return entry(RollbackStatus::Planned, json!({"api_calls": undo.api_calls()}));
    }
    let (alert, scope) = (&doc.alert, doc.ledger_scope());
    let name = format!("{ROLLBACK_PREFIX}{}", record.request.action);
    match ledger.claim_action(scope, Mode::Enforce, &name, &target.id).await {
        // A rollback that died before recording its outcome is run again (each undo first
        // checks that the state is still what soar set).
        Ok(Claim::New | Claim::Approved | Claim::Resumed) => {}
        Ok(Claim::Busy) => {
            return entry(
                RollbackStatus::Failed,
                json!("another rollback of this action is under way: try again in a few minutes"),
            );
        }
        Ok(Claim::Taken) => {
            return entry(
                RollbackStatus::AlreadyRolledBack,
                json!("already rolled back (action ledger)"),
            );
        }
        Err(e) => {
            return entry(
                RollbackStatus::Failed,
                json!(format!("ledger unavailable, not acting: {e}")),
            );
        }
    }
    match remediator.undo(alert, &target, &undo).await {
        Ok(report) => {
            let done = ActionRecord {
                ledger_target: None,
                request: ActionRequest {
                    action: name,
                    target: target.clone(),
                    params: Value::Null,
                    requires_approval: false,
                    reason: format!(
                        "rollback of {} ({})",
                        record.request.action,
                        undo.api_calls().join("; ")
                    ),
                },
                mode: Mode::Enforce,
                status: ActionStatus::Executed,
                detail: report.clone(),
            };
            if let Err(e) = ledger.record_action(scope, &done).await {
                tracing::error!(error = %e, "could not record a rollback");
            }
            entry(RollbackStatus::RolledBack, report)
        }
        Err(e) => {
            if let Err(release) = ledger.release_action(scope, Mode::Enforce, &name, &target.id).await {
                tracing::warn!(error = %release, "could not give back the claim of a failed rollback");
            }
            entry(RollbackStatus::Failed, json!(e.to_string()))
        }
    }
}
