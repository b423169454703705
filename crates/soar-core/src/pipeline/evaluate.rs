//! Evaluate: the policy gives the verdict; the Rust side checks its shape and keeps the record.

use super::policy::{policy_input, run_policy, undetermined_after_error};
use crate::decision::{EvaluateDecision, Policies, shape_error};
use crate::document::{Document, Phase, Verdict};
use crate::ports::DecisionLog;
use serde_json::json;
use std::sync::Arc;

const SEVERITIES: [&str; 5] = ["informational", "low", "medium", "high", "critical"];

pub struct Evaluator {
    pub policies: Arc<dyn Policies>,
    pub decisions: Arc<dyn DecisionLog>,
}

impl Evaluator {
    pub async fn evaluate(&self, doc: &mut Document) {
        let input = policy_input(doc, json!({"phase": "evaluate"}));
        let (mut entry, decision) = run_policy::<EvaluateDecision>(self.policies.as_ref(), Phase::Evaluate, &input);
        let decision = decision.and_then(|d| {
            if SEVERITIES.contains(&d.severity.as_str()) {
                Ok(d)
            } else {
                Err(shape_error(
                    Phase::Evaluate,
                    "severity",
                    format!("`{}` is not one of {}", d.severity, SEVERITIES.join(", ")),
                ))
            }
        });
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
        if let Err(e) = self.decisions.put_decision(&doc.alert.id, &entry).await {
            tracing::warn!(error = %e, "could not record the evaluate decision");
        }
        tracing::info!(verdict = verdict.verdict.as_str(), severity = %verdict.severity, page = verdict.page, "verdict");
        doc.verdict = Some(verdict);
        doc.trace.push(entry);
    }
}
