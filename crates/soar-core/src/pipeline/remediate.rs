//! Remediate: the policy lists actions; the Rust side applies the guard rails (sample findings,
//! policy errors, allow-list, protected resources, approval, exactly-once ledger, hourly cap) and
//! only then, in `enforce` mode, carries them out.

use super::{Settings, policy_input, run_policy, undetermined_after_error};
use crate::alert::{Resource, tags_mark_protected};
use crate::decision::{Policies, RemediateDecision};
use crate::document::{ActionRecord, ActionRequest, ActionStatus, Document, Mode, Phase, TraceEntry};
use crate::ports::{Claim, Inventory, Notification, Notifier, Remediator, StateStore};
use serde_json::{Value, json};
use std::sync::Arc;

/// Every action type soar can carry out. Anything else a policy asks for is refused.
pub const KNOWN_ACTIONS: &[&str] = &[
    "ec2.isolate",
    "ec2.snapshot",
    "ec2.stop",
    "ec2.tag",
    "ec2.protect",
    "iam.deactivate_access_key",
    "notify",
];

const NOTIFY: &str = "notify";

pub struct Responder {
    pub policies: Arc<dyn Policies>,
    pub state: Arc<dyn StateStore>,
    pub inventory: Arc<dyn Inventory>,
    pub remediator: Arc<dyn Remediator>,
    pub notifier: Arc<dyn Notifier>,
    pub settings: Settings,
}

impl Responder {
    pub async fn remediate(&self, doc: &mut Document) {
        let context = json!({"phase": "remediate", "mode": self.settings.mode.as_str()});
        let input = policy_input(doc, context);
        let (mut entry, decision) = run_policy::<RemediateDecision>(self.policies.as_ref(), Phase::Remediate, &input);

        let requests = match (decision, doc.first_error().map(String::from)) {
            (Err(e), _) => {
                let message = e.to_string();
                entry.error = Some(message.clone());
                doc.verdict = Some(undetermined_after_error(doc, &message));
                Vec::new()
            }
            (Ok(d), Some(earlier)) => {
                if !d.actions.is_empty() {
                    entry.notes.push(format!(
                        "{} action(s) not taken: an earlier policy error ({earlier}) means no automatic action",
                        d.actions.len()
                    ));
                }
                Vec::new()
            }
            (Ok(d), None) => d.actions,
        };

        let mut seen = Vec::new();
        for request in requests {
            let key = (request.action.clone(), request.target.clone());
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            let record = self.handle(doc, request, &mut entry).await;
            tracing::info!(action = %record.request.action, target = %record.request.target.id, status = record.status.as_str(), "action");
            if let Err(e) = self.state.record_action(&doc.alert.id, &record).await {
                tracing::error!(error = %e, "could not record an action");
            }
            doc.actions.push(record);
        }
        if let Err(e) = self.state.put_decision(&doc.alert.id, &entry).await {
            tracing::warn!(error = %e, "could not record the remediate decision");
        }
        doc.trace.push(entry);
    }

    async fn handle(&self, doc: &Document, request: ActionRequest, entry: &mut TraceEntry) -> ActionRecord {
        let mode = self.settings.mode;
        let record = |status: ActionStatus, detail: Value| ActionRecord {
            request: request.clone(),
            mode,
            status,
            detail,
        };

        if doc.alert.sample {
            return record(ActionStatus::SkippedSample, json!("sample finding: never acted on"));
        }
        if !KNOWN_ACTIONS.contains(&request.action.as_str()) {
            entry
                .notes
                .push(format!("unknown action type `{}` refused", request.action));
            return record(
                ActionStatus::SkippedNotAllowed,
                json!(format!("unknown action type; known: {}", KNOWN_ACTIONS.join(", "))),
            );
        }
        if let Some(allowed) = &self.settings.allowed_actions
            && !allowed.contains(&request.action)
        {
            return record(
                ActionStatus::SkippedNotAllowed,
                json!("not in this deployment's allowed actions (SOAR_ALLOWED_ACTIONS)"),
            );
        }
        if request.action != NOTIFY
            && let Some(why) = self.protection(doc, &request.target).await
        {
            entry
                .notes
                .push(format!("{} on {} refused: {why}", request.action, request.target.id));
            return record(ActionStatus::SkippedProtected, json!(why));
        }
        let target = request.target.id.as_str();
        let claim = self
            .state
            .claim_action(&doc.alert.id, mode, &request.action, target)
            .await;
        match claim {
            Ok(Claim::New) if request.requires_approval => {
                return record(
                    ActionStatus::PendingApproval,
                    json!(format!(
                        "waiting for approval: soar approve {} {} {target}",
                        doc.alert.id, request.action
                    )),
                );
            }
            Ok(Claim::New) => {}
            Ok(Claim::Approved) => entry.notes.push(format!("{} on {target} was approved", request.action)),
            Ok(Claim::Taken) => {
                return record(
                    ActionStatus::Duplicate,
                    json!("already done for this alert (action ledger)"),
                );
            }
            Err(e) => {
                return record(
                    ActionStatus::Failed,
                    json!(format!("ledger unavailable, not acting: {e}")),
                );
            }
        }
        if mode == Mode::DryRun {
            return record(ActionStatus::Planned, json!("dry run: not carried out"));
        }
        match self.state.take_action_budget(self.settings.max_actions_per_hour).await {
            Ok(true) => {}
            Ok(false) | Err(_) => {
                let _ = self
                    .state
                    .release_action(&doc.alert.id, mode, &request.action, target)
                    .await;
                entry.notes.push(format!(
                    "hourly action cap of {} reached",
                    self.settings.max_actions_per_hour
                ));
                return record(
                    ActionStatus::SkippedRateLimited,
                    json!("deployment-wide hourly action cap reached (SOAR_MAX_ACTIONS_PER_HOUR)"),
                );
            }
        }
        let result = if request.action == NOTIFY {
            self.notifier.notify(&notification(doc, &request)).await
        } else {
            self.remediator.execute(&doc.alert, &request).await
        };
        match result {
            Ok(detail) => record(ActionStatus::Executed, detail),
            Err(e) => record(ActionStatus::Failed, json!(e.to_string())),
        }
    }

    /// `Some(reason)` when the target must not be touched: tagged `soar:protected=true` in the
    /// alert (finding or inventory at enrich time) or, read live now, in the inventory. A target
    /// whose protection cannot be checked is treated as protected.
    async fn protection(&self, doc: &Document, target: &crate::document::Target) -> Option<String> {
        let resource = &doc.alert.resource;
        let own = target.kind == resource.kind && target.id == resource.id;
        if own && resource.is_protected() {
            return Some("resource is tagged soar:protected=true".into());
        }
        let probe = Resource {
            kind: target.kind.clone(),
            id: target.id.clone(),
            account: resource.account.clone(),
            region: resource.region.clone(),
            ..Resource::unknown()
        };
        match self.inventory.describe(&probe).await {
            Ok(Some(record)) if tags_mark_protected(&record.tags) => {
                Some("resource is tagged soar:protected=true (read live)".into())
            }
            Ok(_) => None,
            Err(e) => Some(format!("protection could not be checked, not acting: {e}")),
        }
    }
}

/// A message a person can act on: what happened, what soar did or waits to do, how to undo it.
fn notification(doc: &Document, request: &ActionRequest) -> Notification {
    let verdict = doc.verdict.clone();
    let label = verdict.as_ref().map(|v| v.verdict.as_str()).unwrap_or("undetermined");
    let severity = verdict.as_ref().map(|v| v.severity.as_str()).unwrap_or("unknown");
    let alert = &doc.alert;
    let mut lines = vec![
        format!("Alert {} ({}, severity {})", alert.id, alert.kind, alert.severity),
        format!(
            "Account {} region {}: {} {}",
            alert.account, alert.region, alert.resource.kind, alert.resource.id
        ),
        format!("Verdict: {label} ({severity})"),
    ];
    if let Some(v) = &verdict {
        lines.extend(v.reasons.iter().map(|r| format!("  - {r}")));
    }
    if let Some(message) = request.params["message"].as_str().filter(|m| !m.is_empty()) {
        lines.push(message.to_string());
    }
    if !doc.actions.is_empty() {
        lines.push("Actions:".into());
    }
    for a in &doc.actions {
        let (action, target) = (&a.request.action, &a.request.target.id);
        lines.push(format!(
            "  - {action} {target}: {} ({})",
            a.status.as_str(),
            a.mode.as_str()
        ));
        if a.status == ActionStatus::PendingApproval {
            lines.push(format!("    approve with: soar approve {} {action} {target}", alert.id));
        }
        for rollback in a.detail["rollback"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(a.detail.get("rollback").filter(|r| r.is_string()))
        {
            if let Some(command) = rollback.as_str() {
                lines.push(format!("    roll back: {command}"));
            }
        }
    }
    Notification {
        alert_id: alert.id.clone(),
        channel: request.target.id.clone(),
        subject: request.params["subject"]
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| format!("[soar] {label} ({severity}): {}", alert.title)),
        message: lines.join("\n"),
        page: verdict.as_ref().is_some_and(|v| v.page),
        verdict,
    }
}
