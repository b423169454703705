//! Evaluate: the policy gives the verdict and names the alert's incident; the Rust side checks
//! the shape, links the alert to its incident in the state store and keeps the record.

use super::enrich::StepResult;
use super::policy::{policy_input, run_policy, undetermined_after_error};
use crate::decision::{EvaluateDecision, Policies, PolicyError, shape_error};
use crate::document::{Document, Phase, Verdict};
use crate::incident::{Grouping, IncidentMember, Joining, SEVERITIES};
use crate::ports::{DecisionLog, IncidentLog};
use chrono::Utc;
use serde_json::json;
use std::sync::Arc;

pub struct Evaluator {
    pub policies: Arc<dyn Policies>,
    pub decisions: Arc<dyn DecisionLog>,
    pub incidents: Arc<dyn IncidentLog>,
}

/// The decision's shape beyond its types: a known severity, a well-formed incident grouping.
fn checked(d: EvaluateDecision) -> Result<EvaluateDecision, PolicyError> {
    if !SEVERITIES.contains(&d.severity.as_str()) {
        return Err(shape_error(
            Phase::Evaluate,
            "severity",
            format!("`{}` is not one of {}", d.severity, SEVERITIES.join(", ")),
        ));
    }
    if let Some(grouping) = &d.incident {
        grouping
            .check()
            .map_err(|(field, problem)| shape_error(Phase::Evaluate, field, problem))?;
    }
    Ok(d)
}

impl Evaluator {
    /// [`StepResult::Retry`] when the incident could not be joined (the state store failed):
    /// the alert comes back rather than being answered alone.
    pub async fn evaluate(&self, doc: &mut Document) -> StepResult {
        let input = policy_input(doc, json!({"phase": "evaluate"}));
        let (mut entry, decision) = run_policy::<EvaluateDecision>(self.policies.as_ref(), Phase::Evaluate, &input);
        let decision = decision.and_then(checked);
        // After any policy error the alert is answered alone: a person is told about it, and a
        // broken decision cannot merge it into (or escalate) someone else's incident.
        let grouping = match (&decision, doc.first_error()) {
            (Ok(d), None) => d.incident.clone(),
            _ => None,
        };
        let verdict = match (decision, doc.first_error()) {
            // An earlier phase failed: whatever this policy says, a human decides.
            (Ok(_), Some(earlier)) => {
                entry.notes.push("an earlier policy error forces `undetermined`".into());
                undetermined_after_error(doc, earlier)
            }
            (Ok(d), None) => Verdict {
                verdict: d.verdict,
                severity: d.severity,
                reasons: d.reasons,
                page: d.page,
                error: None,
            },
            (Err(e), _) => {
                let message = e.to_string();
                entry.error = Some(message.clone());
                undetermined_after_error(doc, &message)
            }
        };
        if let Some(grouping) = grouping {
            match self.join(doc, &verdict, &grouping).await {
                Ok(()) => {}
                Err(reason) => return StepResult::Retry { reason },
            }
        }
        if let Err(e) = self.decisions.put_decision(&doc.alert.id, &entry).await {
            tracing::warn!(error = %e, "could not record the evaluate decision");
        }
        tracing::info!(verdict = verdict.verdict.as_str(), severity = %verdict.severity, page = verdict.page, incident = doc.incident.as_ref().map(|i| i.id.as_str()), "verdict");
        doc.verdict = Some(verdict);
        doc.trace.push(entry);
        StepResult::Done
    }

    /// Links the alert to its incident (the alert's own time decides the window; one in the
    /// future, or none, counts as now).
    async fn join(&self, doc: &mut Document, verdict: &Verdict, grouping: &Grouping) -> Result<(), String> {
        let now = Utc::now();
        let at = doc
            .alert
            .updated_at
            .as_deref()
            .or(doc.alert.created_at.as_deref())
            .and_then(crate::time::parse_timestamp_str)
            .filter(|t| *t <= now)
            .unwrap_or(now);
        let member = IncidentMember {
            alert_id: doc.alert.id.clone(),
            kind: doc.alert.kind.clone(),
            title: doc.alert.title.clone(),
            severity: verdict.severity.clone(),
            verdict: verdict.verdict,
            at: crate::time::format_timestamp(&at),
            joined_at: crate::time::format_timestamp(&now),
        };
        let joining = Joining {
            grouping,
            member,
            revision: doc.alert.revision().to_string(),
            at,
            now,
        };
        let link = self
            .incidents
            .join_incident(&joining)
            .await
            .map_err(|e| format!("the alert could not join its incident `{}`: {e}", grouping.key))?;
        tracing::info!(incident = %link.id, opened = link.opened, alerts = link.alerts, escalated = link.escalated(), "incident");
        doc.incident = Some(link);
        Ok(())
    }
}
