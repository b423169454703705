//! Answering an action that waits for approval: the one path Slack's button, `soar approve` and
//! the console all take, so the same checks hold whoever answers.
//!
//! In order: the entry waits (`pending_approval`), under the digest the person saw (else the plan
//! changed), before its expiry (else it is recorded `expired`), the waiting alert's stored plan
//! agrees, and the approver policy (`data.soar.approvals.decision`) allows this approver this
//! answer for this action. Then the ledger flips the entry atomically (of two presses one wins),
//! and an approval queues the waiting alert for remediate again, which carries the action out
//! once (its claim is handed out once as `Claim::Approved`) after checking the digest again.

use crate::approval::{
    Answer, ApprovalKey, ApprovalState, Approver, EXPIRED, MessageRef, Refusal, expiry_recorder, waiting_record,
};
use crate::decision::Policies;
use crate::document::{ActionRequest, ActionStatus, Document, Serialized};
use crate::incident::is_incident_id;
use crate::ports::{ActionLedger, AlertLog, Forwarder, IncidentLog};
use serde_json::{Value, json};
use std::sync::Arc;

pub struct Approvals {
    pub policies: Arc<dyn Policies>,
    pub ledger: Arc<dyn ActionLedger>,
    pub alerts: Arc<dyn AlertLog>,
    pub incidents: Arc<dyn IncidentLog>,
    /// The remediate queue: an approved alert goes back through remediate.
    pub remediate: Arc<dyn Forwarder>,
}

/// An answer taken.
#[derive(Debug, Clone)]
pub struct Answered {
    pub answer: Answer,
    /// The alert queued again (approve), or whose action was denied.
    pub alert_id: String,
    pub request: ActionRequest,
    /// How the ledger records the approver.
    pub by: String,
    /// The question's message, to replace with the outcome.
    pub message: Option<MessageRef>,
    /// Why the policy allowed it.
    pub reasons: Vec<String>,
}

impl Answered {
    /// One line for the message that asked.
    pub fn outcome(&self) -> String {
        match self.answer {
            Answer::Approve => format!(
                "Approved by {}: queued for remediate, which carries it out once",
                self.by
            ),
            Answer::Deny => format!("Denied by {}: nothing is carried out", self.by),
        }
    }
}

/// A question the sweep expired.
#[derive(Debug, Clone)]
pub struct Expired {
    pub key: ApprovalKey,
    pub message: Option<MessageRef>,
}

impl Approvals {
    /// Takes `answer` from `approver` for the action `key` names, at `now` (Unix seconds).
    /// Errors: a [`Refusal`] saying why nothing changed.
    pub async fn answer(
        &self,
        key: &ApprovalKey,
        answer: Answer,
        approver: &Approver,
        now: i64,
    ) -> Result<Answered, Refusal> {
        let state = self.waiting(key).await?;
        let ticket = state.ticket.clone().ok_or_else(|| {
            Refusal::NotWaiting(format!(
                "{} on {} waits without a plan digest, so no approval can be bound to it",
                key.action, key.target
            ))
        })?;
        if ticket.digest != key.digest {
            return Err(Refusal::PlanChanged {
                asked: short(&key.digest),
                now: short(&ticket.digest),
            });
        }
        if ticket.expired(now) {
            self.expire(key).await?;
            return Err(Refusal::Expired {
                at: at(ticket.expires_at),
            });
        }
        let doc = self.waiting_alert(key, &ticket.alert_id).await?;
        let request = planned_request(&doc, key)?;
        let reasons = self.allowed(&doc, &request, answer, approver)?;
        let by = approver.recorded();
        let flipped = self
            .ledger
            .answer_approval(
                &key.scope,
                (&key.action, &key.target),
                &key.digest,
                answer.status(),
                approver,
            )
            .await
            .map_err(|e| Refusal::State(e.to_string()))?;
        if !flipped {
            // Answered (or asked again) between the read and the flip.
            let now_state = self.waiting(key).await.err();
            return Err(now_state.unwrap_or_else(|| Refusal::NotWaiting("answered meanwhile".into())));
        }
        tracing::info!(answer = answer.as_str(), %by, reasons = ?reasons, "answered a waiting action");
        if answer == Answer::Approve {
            self.requeue(&doc).await?;
        }
        Ok(Answered {
            answer,
            alert_id: doc.alert.id.clone(),
            request,
            by,
            message: ticket.message,
            reasons,
        })
    }

    /// Queues the alert for remediate again, which answers it afresh: what it did before is in
    /// the ledger (and comes back into the document as it finds each action taken), and the
    /// approved action runs.
    async fn requeue(&self, doc: &Document) -> Result<(), Refusal> {
        let again = Document {
            actions: Vec::new(),
            ..doc.clone()
        };
        let text = Serialized::text(&again).map_err(|e| Refusal::Queue(e.to_string()))?;
        self.remediate
            .forward(&Serialized::of(&again, &text))
            .await
            .map_err(|e| Refusal::Queue(e.to_string()))
    }

    /// Records every waiting action whose question expired by `now` as `expired` (nothing runs),
    /// and returns them, so the caller tells the people asked.
    pub async fn expire_due(&self, now: i64) -> Result<Vec<Expired>, Refusal> {
        let waiting = self
            .ledger
            .waiting_approvals()
            .await
            .map_err(|e| Refusal::State(e.to_string()))?;
        let mut expired = Vec::new();
        for w in waiting.into_iter().filter(|w| w.ticket.expired(now)) {
            let key = ApprovalKey {
                scope: w.scope,
                action: w.action,
                target: w.target,
                digest: w.ticket.digest.clone(),
            };
            if self.expire(&key).await? {
                expired.push(Expired {
                    key,
                    message: w.ticket.message,
                });
            }
        }
        Ok(expired)
    }

    /// The entry `key` names, waiting for an answer. Errors: none, or answered already.
    async fn waiting(&self, key: &ApprovalKey) -> Result<ApprovalState, Refusal> {
        let state = self
            .ledger
            .approval(&key.scope, &key.action, &key.target)
            .await
            .map_err(|e| Refusal::State(e.to_string()))?
            .ok_or_else(|| {
                Refusal::NotWaiting(format!(
                    "no {} on {} waits for approval in {}",
                    key.action, key.target, key.scope
                ))
            })?;
        if state.status != ActionStatus::PendingApproval.as_str() {
            let by = state
                .decided_by
                .as_deref()
                .map(|b| format!(" by {b}"))
                .unwrap_or_default();
            return Err(Refusal::NotWaiting(format!(
                "{} on {} is {} already{by}; nothing more to answer",
                key.action, key.target, state.status
            )));
        }
        Ok(state)
    }

    async fn expire(&self, key: &ApprovalKey) -> Result<bool, Refusal> {
        let flipped = self
            .ledger
            .answer_approval(
                &key.scope,
                (&key.action, &key.target),
                &key.digest,
                EXPIRED,
                &expiry_recorder(),
            )
            .await
            .map_err(|e| Refusal::State(e.to_string()))?;
        if flipped {
            tracing::info!(scope = %key.scope, action = %key.action, target = %key.target, "approval expired unanswered");
        }
        Ok(flipped)
    }

    /// The alert whose stored document waits for the action: the one the ticket names, else the
    /// scope itself, else the newest alert of the incident that does.
    async fn waiting_alert(&self, key: &ApprovalKey, asked_by: &str) -> Result<Document, Refusal> {
        let state = |e: crate::ports::StateError| Refusal::State(e.to_string());
        if !asked_by.is_empty()
            && let Some(doc) = self.alerts.load_document(asked_by).await.map_err(state)?
            && waiting_record(&doc, &key.action, &key.target).is_some()
        {
            return Ok(doc);
        }
        if !is_incident_id(&key.scope) {
            return self
                .alerts
                .load_document(&key.scope)
                .await
                .map_err(state)?
                .ok_or_else(|| Refusal::NotWaiting(format!("no stored document for alert {}", key.scope)));
        }
        let incident = self
            .incidents
            .load_incident(&key.scope)
            .await
            .map_err(state)?
            .ok_or_else(|| Refusal::NotWaiting(format!("no incident {}", key.scope)))?;
        for member in incident.alerts.iter().rev() {
            if let Some(doc) = self.alerts.load_document(&member.alert_id).await.map_err(state)?
                && waiting_record(&doc, &key.action, &key.target).is_some()
            {
                return Ok(doc);
            }
        }
        Err(Refusal::NotWaiting(format!(
            "no alert of {} has a stored document waiting for {} on {}",
            key.scope, key.action, key.target
        )))
    }

    /// The approver policy's reasons when it allows; a refusal otherwise (its error too).
    fn allowed(
        &self,
        doc: &Document,
        request: &ActionRequest,
        answer: Answer,
        approver: &Approver,
    ) -> Result<Vec<String>, Refusal> {
        let input = approver_input(doc, request, answer, approver);
        let decision = self
            .policies
            .decide_approver(&input)
            .map_err(|e| Refusal::Policy(e.to_string()))?;
        let reasons: Vec<String> = decision["reasons"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).map(String::from).collect())
            .unwrap_or_default();
        match decision["allow"].as_bool() {
            Some(true) => Ok(reasons),
            Some(false) => Err(Refusal::NotAllowed {
                approver: approver.recorded(),
                answer: answer.as_str(),
                action: request.action.clone(),
                reason: if reasons.is_empty() {
                    "the approver policy does not allow it".into()
                } else {
                    reasons.join("; ")
                },
            }),
            None => Err(Refusal::Policy(format!(
                "data.soar.approvals.decision must be {{\"allow\": bool, \"reasons\": [string]}}, got {decision}"
            ))),
        }
    }
}

/// The request `doc` waits to carry out under the digest `key` names. Errors: the plan changed,
/// or the alert plans it no more.
fn planned_request(doc: &Document, key: &ApprovalKey) -> Result<ActionRequest, Refusal> {
    match waiting_record(doc, &key.action, &key.target) {
        Some((record, stored)) if stored.digest == key.digest => Ok(record.request.clone()),
        Some((_, stored)) => Err(Refusal::PlanChanged {
            asked: short(&key.digest),
            now: short(&stored.digest),
        }),
        None => Err(Refusal::NotWaiting(format!(
            "alert {} no longer plans {} on {}",
            doc.alert.id, key.action, key.target
        ))),
    }
}

/// What the approver policy sees (`input`): the approver, the answer, the exact action, and the
/// alert's facts a rule may weigh (account, type, severity, verdict, incident).
pub fn approver_input(doc: &Document, request: &ActionRequest, answer: Answer, approver: &Approver) -> Value {
    json!({
        "approver": approver,
        "answer": answer.as_str(),
        "action": request,
        "alert": {
            "id": doc.alert.id, "account": doc.alert.account, "region": doc.alert.region,
            "type": doc.alert.kind, "severity": doc.alert.severity, "resource": doc.alert.resource,
        },
        "verdict": doc.verdict,
        "incident": doc.incident,
    })
}

/// A digest as people compare it: its first 12 hex digits.
pub fn short(digest: &str) -> String {
    digest
        .strip_prefix("sha256:")
        .unwrap_or(digest)
        .chars()
        .take(12)
        .collect()
}

fn at(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0).map_or_else(|| unix.to_string(), |t| t.to_rfc3339())
}
