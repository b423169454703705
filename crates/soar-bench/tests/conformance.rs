//! Differential conformance: every phase decision over the whole corpus is the same in soar's
//! engine (regorus) and in the reference OPA engine, on the same bundles, data and inputs.
//! `make opa-ref` fetches the reference library; without it this test says so and passes.

// Test code: a failed unwrap is the test failing, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use soar_bench::corpus;
use soar_bench::opa::OpaLibrary;
use soar_bench::reference::{ReferencePhases, canonical};
use soar_core::decision::{Policies, PolicyError};
use soar_policy::{DEFAULT_TIME_LIMIT, PolicySet, PolicyTree};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

#[tokio::test]
async fn every_phase_decision_matches_the_reference_engine() {
    let path = OpaLibrary::default_path(root());
    let lib = match OpaLibrary::load(&path) {
        Ok(lib) => lib,
        Err(e) => {
            eprintln!("SKIPPED: the reference OPA library is not installed ({e}); `make opa-ref` installs it");
            return;
        }
    };
    let tree = PolicyTree::embedded();
    let reference = ReferencePhases::load(&lib, &tree).expect("the bundles load into OPA");
    let soar = Arc::new(PolicySet::from_tree(&tree, DEFAULT_TIME_LIMIT));

    let alerts = corpus::alerts(root()).unwrap();
    let inputs = corpus::phase_inputs(&alerts, soar.clone()).await;
    let mut per_phase: BTreeMap<String, usize> = BTreeMap::new();
    let mut differences = Vec::new();
    for (phase, input) in &inputs {
        *per_phase.entry(phase.to_string()).or_default() += 1;
        let ours = match soar.decide(*phase, input) {
            Ok(decision) => Some(decision),
            Err(PolicyError::Undefined { .. }) => None,
            Err(e) => panic!("soar failed on a {phase} input: {e}"),
        };
        let theirs = reference
            .decide(*phase, &input.to_string())
            .unwrap_or_else(|e| panic!("OPA failed on a {phase} input: {e}"));
        if ours.as_ref().map(canonical) != theirs.as_ref().map(canonical) {
            differences.push(format!(
                "{phase}: soar {}\n      opa  {}\n      input {}",
                ours.map_or("undefined".into(), |v| v.to_string()),
                theirs.map_or("undefined".into(), |v| v.to_string()),
                input
            ));
        }
    }
    assert!(alerts.len() >= 250, "corpus of {} alerts", alerts.len());
    assert!(per_phase.len() == 4, "every phase is exercised: {per_phase:?}");
    assert!(
        differences.is_empty(),
        "{} of {} decisions differ:\n{}",
        differences.len(),
        inputs.len(),
        differences.iter().take(5).cloned().collect::<Vec<_>>().join("\n")
    );
    eprintln!(
        "{} decisions identical over {} alerts: {per_phase:?}",
        inputs.len(),
        alerts.len()
    );
}
