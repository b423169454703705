//! The phase bundles loaded into OPA exactly as soar loads them into regorus, and the comparison
//! of decisions.

use crate::opa::{OpaEngine, OpaError, OpaLibrary};
use serde_json::Value;
use soar_core::document::Phase;
use soar_policy::PolicyTree;

/// One OPA engine per phase with that phase's bundle (its modules and merged data).
pub struct ReferencePhases<'lib> {
    engines: Vec<(Phase, OpaEngine<'lib>)>,
}

impl<'lib> ReferencePhases<'lib> {
    pub fn load(lib: &'lib OpaLibrary, tree: &PolicyTree) -> Result<Self, OpaError> {
        let mut engines = Vec::new();
        for phase in Phase::ALL {
            let bundle = tree
                .bundle(phase, false)
                .map_err(|e| OpaError::Protocol(e.to_string()))?;
            let mut engine = OpaEngine::new(lib);
            for (path, source) in &bundle.modules {
                engine.add_policy(path, source)?;
            }
            engine.add_data(&bundle.data.to_string())?;
            engines.push((phase, engine));
        }
        Ok(ReferencePhases { engines })
    }

    pub fn engine(&self, phase: Phase) -> &OpaEngine<'lib> {
        &self
            .engines
            .iter()
            .find(|(p, _)| *p == phase)
            .expect("every phase is loaded")
            .1
    }

    /// The phase's decision for `input` (JSON text), `None` when undefined.
    pub fn decide(&self, phase: Phase, input: &str) -> Result<Option<Value>, OpaError> {
        self.engine(phase)
            .eval_document(&format!("soar.{phase}.decision"), input)
    }
}

/// Decisions compared as the Rust side reads them: Rego sets become JSON arrays whose order
/// each engine chooses, so arrays are compared as sorted multisets, recursively.
pub fn canonical(value: &Value) -> Value {
    match value {
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(canonical).collect();
            items.sort_by_key(|v| v.to_string());
            Value::Array(items)
        }
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), canonical(v))).collect()),
        other => other.clone(),
    }
}
