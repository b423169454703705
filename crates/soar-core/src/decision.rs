//! The policy port and the typed decisions each phase's policy returns (`data.soar.<phase>.decision`).
//!
//! The core never evaluates Rego itself: it hands an input document to a [`Policies`]
//! implementation (regorus in `soar-policy`, a closure-backed fake in tests) and checks that the
//! answer has the shape below. Anything else is a [`PolicyError`], and a policy error never leads
//! to an action.

use crate::alert::IndicatorKind;
use crate::document::{ActionRequest, Phase};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PolicyError {
    #[error("the {phase} policy bundle could not be loaded: {message}")]
    NotLoaded { phase: Phase, message: String },
    #[error("data.soar.{phase}.decision is undefined for this input (no rule matched)")]
    Undefined { phase: Phase },
    #[error("the {phase} policy failed: {message}")]
    Evaluation { phase: Phase, message: String },
    #[error("the {phase} policy returned a decision of the wrong shape: {message}")]
    InvalidDecision { phase: Phase, message: String },
}

/// Evaluates the phase policies. Implementations must be cheap to call per alert (compile once).
pub trait Policies: Send + Sync {
    /// Content hash of the bundle that decides `phase`, recorded with every decision.
    fn revision(&self, phase: Phase) -> String;
    /// The raw value of `data.soar.<phase>.decision` for `input`.
    fn decide(&self, phase: Phase, input: &Value) -> Result<Value, PolicyError>;

    /// The same, for an input already serialized as JSON text (how the pipeline hands it over:
    /// an engine that builds its own values from text skips a JSON tree per decision).
    fn decide_text(&self, phase: Phase, input: &str) -> Result<Value, PolicyError> {
        let input: Value = serde_json::from_str(input).map_err(|e| PolicyError::Evaluation {
            phase,
            message: format!("the policy input is not JSON: {e}"),
        })?;
        self.decide(phase, &input)
    }

    /// The raw value of `data.soar.approvals.decision` for `input` (who may answer an action
    /// waiting for approval; the rule ships in the remediate bundle): `{"allow": bool, "reasons":
    /// [string]}`. A set without that rule fails, so no one may answer (fail closed).
    fn decide_approver(&self, input: &Value) -> Result<Value, PolicyError> {
        let _ = input;
        Err(PolicyError::NotLoaded {
            phase: Phase::Remediate,
            message: "no approver policy (data.soar.approvals.decision) in this policy set".into(),
        })
    }
}

/// The shape each phase's `decision` must have, as a policy author reads it in an error message.
/// The remediate contract lists the action types of [`crate::action::ActionKind`] and their parameters.
pub fn contract(phase: Phase) -> String {
    match phase {
        Phase::Ingest => "{accept: bool, reason?: string, labels?: [string], alert?: object}".into(),
        Phase::Enrich => {
            "{lookups?: [{provider: string, indicator: {type: ip|domain|url|hash|..., value: string}}]}".into()
        }
        Phase::Evaluate => "{verdict: \"incident\"|\"false_positive\"|\"undetermined\", severity: \"informational\"|\"low\"|\"medium\"|\"high\"|\"critical\", reasons?: [string], page?: bool, incident?: {key: string, window_minutes?: 1..10080, also?: [string]}}".into(),
        Phase::Remediate => format!(
            "{{actions?: [{{type: {}, target: {{kind: string, id: string}}, params?: object, requires_approval?: bool, reason?: string}}]}} with params by type: {}; none for the others",
            crate::action::ActionKind::names("|"),
            crate::action::ActionKind::params_by_type()
        ),
    }
}

/// A decision that does not fit [`contract`]: names the offending field (`actions[0].target.id`)
/// and states the contract, so the policy author sees what to fix without reading Rust.
pub fn shape_error(phase: Phase, field: &str, problem: impl std::fmt::Display) -> PolicyError {
    let field = if field.is_empty() || field == "." {
        "decision".to_string()
    } else {
        format!("decision.{field}")
    };
    PolicyError::InvalidDecision {
        phase,
        message: format!("`{field}`: {problem}; the {phase} contract is {}", contract(phase)),
    }
}

/// Evaluates and parses a decision into its typed form.
pub fn decide_typed<T: DeserializeOwned>(
    policies: &dyn Policies,
    phase: Phase,
    input: &str,
) -> (Option<Value>, Result<T, PolicyError>) {
    match policies.decide_text(phase, input) {
        Ok(raw) => {
            let typed = serde_path_to_error::deserialize(&raw).map_err(|e| {
                let field = e.path().to_string();
                shape_error(phase, &field, e.into_inner())
            });
            (Some(raw), typed)
        }
        Err(e) => (None, Err(e)),
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct IngestDecision {
    pub accept: bool,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub labels: Vec<String>,
    /// For alerts from other tools: the policy's mapping of the raw alert onto soar's fields.
    #[serde(default)]
    pub alert: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct LookupRequest {
    pub provider: String,
    pub indicator: IndicatorRef,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize)]
pub struct IndicatorRef {
    #[serde(rename = "type")]
    pub kind: IndicatorKind,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct EnrichDecision {
    #[serde(default)]
    pub lookups: Vec<LookupRequest>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct EvaluateDecision {
    pub verdict: crate::document::VerdictKind,
    pub severity: String,
    #[serde(default)]
    pub reasons: Vec<String>,
    #[serde(default)]
    pub page: bool,
    /// The incident this alert belongs to; `None`: the alert is answered alone.
    #[serde(default)]
    pub incident: Option<crate::incident::Grouping>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct RemediateDecision {
    #[serde(default)]
    pub actions: Vec<ActionRequest>,
}
