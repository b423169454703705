//! remediate's side of approvals: asking (with the plan's digest and an expiry), asking again
//! when the plan changed, and checking an approval against the plan before carrying it out.

use super::settings::Settings;
use crate::approval::{
    Answer, ApprovalState, ApprovalTicket, EXPIRED, MessageRef, PlanContext, approve_command, plan_digest,
    waiting_detail,
};
use crate::decision::Policies;
use crate::document::{ActionRecord, ActionRequest, ActionStatus, Document, Mode, Phase, TraceEntry};
use crate::ports::{ActionLedger, ApprovalAsk, ApprovalChannel};
use serde_json::{Value, json};

/// What became of an action: its status and the detail recorded with it.
pub(super) type Outcome = (ActionStatus, Value);

/// The parts of remediate's responder that asking needs.
pub(super) struct Asker<'a> {
    pub(super) policies: &'a dyn Policies,
    pub(super) ledger: &'a dyn ActionLedger,
    pub(super) channel: &'a dyn ApprovalChannel,
    pub(super) settings: &'a Settings,
}

/// The action being claimed, as approvals need it.
pub(super) struct Asking<'a> {
    pub(super) doc: &'a Document,
    /// The ledger scope and target.
    pub(super) scope: &'a str,
    pub(super) target: &'a str,
    pub(super) request: &'a ActionRequest,
    /// The AWS calls it would make.
    pub(super) plan: &'a Value,
}

impl Asking<'_> {
    fn what(&self) -> String {
        format!("{} on {} ({})", self.request.action, self.target, self.scope)
    }
}

impl Asker<'_> {
    /// The digest of the plan as the current policy asks for it.
    fn digest(&self, asking: &Asking<'_>) -> String {
        let revision = self.policies.revision(Phase::Remediate);
        let context = PlanContext {
            scope: asking.scope,
            account: &asking.doc.alert.account,
            region: &asking.doc.alert.region,
            calls: asking.plan,
            policy_revision: &revision,
        };
        plan_digest(asking.request, &context)
    }

    /// Parks the action for approval with a new ticket and, in enforce mode, asks the approval
    /// channel. A channel that fails is noted: people can still answer with `soar approve` or
    /// the console.
    pub(super) async fn ask(&self, asking: &Asking<'_>, entry: &mut TraceEntry) -> Outcome {
        let mut ticket = ApprovalTicket::new(self.digest(asking), chrono::Utc::now(), self.settings.approval_ttl);
        ticket.alert_id.clone_from(&asking.doc.alert.id);
        let how = approve_command(asking.scope, &asking.request.action, asking.target);
        if self.settings.mode == Mode::Enforce {
            let record = ActionRecord {
                request: asking.request.clone(),
                mode: self.settings.mode,
                status: ActionStatus::PendingApproval,
                detail: Value::Null,
                ledger_target: Some(asking.target.to_string()).filter(|t| *t != asking.request.target.id),
            };
            let ask = ApprovalAsk {
                doc: asking.doc,
                record: &record,
                scope: asking.scope,
                ticket: &ticket,
                plan: asking.plan,
            };
            match self.channel.ask(&ask).await {
                Ok(message) => ticket.message = message,
                Err(e) => {
                    tracing::error!(error = %e, "could not ask for approval");
                    entry.notes.push(format!(
                        "could not post the approval request ({e}); answer with {how} or the console"
                    ));
                }
            }
        }
        (ActionStatus::PendingApproval, waiting_detail(&how, &ticket))
    }

    /// A claim taken before for an action that needs approval: still waiting under the same
    /// plan is a duplicate (asked once); waiting under another plan (a new policy revision, other
    /// parameters) is asked again, and the old question is answered "superseded", so that no one
    /// approves what would no longer run.
    pub(super) async fn asked_before(&self, asking: &Asking<'_>, entry: &mut TraceEntry) -> Outcome {
        let state = self
            .ledger
            .approval(asking.scope, &asking.request.action, asking.target)
            .await;
        let state = match state {
            Ok(Some(state)) => state,
            Ok(None) | Err(_) => {
                return duplicate("already claimed: done, planned or waiting for approval (action ledger)".into());
            }
        };
        // A question that expired unanswered is asked again when the alert (or another of its
        // incident) comes back: no one said no.
        if state.status == EXPIRED {
            entry.notes.push(format!(
                "{}: its earlier question expired unanswered; asked again",
                asking.what()
            ));
            return self.ask(asking, entry).await;
        }
        if state.status != ActionStatus::PendingApproval.as_str() {
            let by = state.decided_by.map(|b| format!(" by {b}")).unwrap_or_default();
            return duplicate(format!("already {}{by} (action ledger)", state.status));
        }
        let current = self.digest(asking);
        match state.ticket {
            Some(ticket) if ticket.digest == current => {
                duplicate("waiting for approval already, under the same plan (asked once)".into())
            }
            old => {
                entry.notes.push(format!(
                    "{}: the plan changed while it waited for approval; asked again",
                    asking.what()
                ));
                if let Some(message) = old.and_then(|t| t.message) {
                    self.settle(
                        &message,
                        asking,
                        "Superseded: the plan changed, a new request was posted. This one no longer applies.",
                    )
                    .await;
                }
                self.ask(asking, entry).await
            }
        }
    }

    /// An approved claim, handed to this invocation: carried out only if the approval was given
    /// for the plan the policy asks for now, not long after its question expired, by someone the
    /// deployed approver policy allows (whatever policy the answering tool ran). Otherwise it is
    /// asked again. Returns the message that asked (to tell the outcome).
    pub(super) async fn approved(
        &self,
        asking: &Asking<'_>,
        entry: &mut TraceEntry,
    ) -> Result<Option<MessageRef>, Outcome> {
        let state = self
            .ledger
            .approval(asking.scope, &asking.request.action, asking.target)
            .await
            .map_err(|e| {
                (
                    ActionStatus::Interrupted,
                    json!(format!("ledger unavailable, not acting now: {e}")),
                )
            })?;
        let by = state
            .as_ref()
            .and_then(|s| s.decided_by.clone())
            .unwrap_or_else(|| "someone".into());
        let ticket = state.as_ref().and_then(|s| s.ticket.clone());
        match self.refusal(asking, state.as_ref()) {
            None => {
                entry.notes.push(format!("{} was approved by {by}", asking.what()));
                Ok(ticket.and_then(|t| t.message))
            }
            Some(why) => {
                entry.notes.push(format!(
                    "{} was approved by {by} {why}: not carried out, asked again",
                    asking.what()
                ));
                if let Some(message) = ticket.and_then(|t| t.message) {
                    let outcome = format!("Approved by {by}, but {why}: not carried out. A new request was posted.");
                    self.settle(&message, asking, &outcome).await;
                }
                Err(self.ask(asking, entry).await)
            }
        }
    }

    /// Why an approval does not hold now, if it does not.
    fn refusal(&self, asking: &Asking<'_>, state: Option<&ApprovalState>) -> Option<String> {
        let Some(ticket) = state.and_then(|s| s.ticket.as_ref()) else {
            return Some("without a plan digest".into());
        };
        if ticket.digest != self.digest(asking) {
            return Some("for another plan than the policy asks for now".into());
        }
        // An approval left unused (its alert never came back) does not stay good for ever.
        let ttl = i64::try_from(self.settings.approval_ttl.as_secs()).unwrap_or(i64::MAX / 4);
        if chrono::Utc::now().timestamp() >= ticket.expires_at.saturating_add(ttl) {
            return Some("too long ago".into());
        }
        let Some(approver) = state.and_then(|s| s.approver.as_ref()) else {
            return Some("with no approver recorded".into());
        };
        let input = super::approve::approver_input(asking.doc, asking.request, Answer::Approve, approver);
        match self.policies.decide_approver(&input) {
            Ok(decision) if decision["allow"].as_bool() == Some(true) => None,
            Ok(_) => Some("and the deployed approver policy does not allow them".into()),
            Err(e) => Some(format!("and the approver policy failed ({e})")),
        }
    }

    /// Replaces an approved action's question with what became of it.
    pub(super) async fn tell_outcome(
        &self,
        message: &MessageRef,
        (scope, target): (&str, &str),
        request: &ActionRequest,
        (status, detail): &Outcome,
    ) {
        let what = format!("{} on {target} ({scope})", request.action);
        let detail = match detail {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        let detail: String = detail.chars().take(300).collect();
        let outcome = format!("{}: {detail}", status.as_str());
        if let Err(e) = self.channel.settle(message, &what, &outcome).await {
            tracing::warn!(error = %e, "could not update the approval message");
        }
    }

    async fn settle(&self, message: &MessageRef, asking: &Asking<'_>, outcome: &str) {
        if let Err(e) = self.channel.settle(message, &asking.what(), outcome).await {
            tracing::warn!(error = %e, "could not update the approval message");
        }
    }
}

fn duplicate(why: String) -> Outcome {
    (ActionStatus::Duplicate, json!(why))
}
