//! `soar policy scenario [DIR]`: scenarios prove what the policies do with whole alerts. Each
//! `*.json` file in DIR gives input alerts, the organisation's inventory, canned answers per
//! intelligence provider, and the expected outcome of each input; the runner puts them through all
//! four phases (in-memory state, dry run), prints every mismatch as expected/actual, and ends with
//! `N passed, N failed`.
//!
//! ```json
//! {"description": "...",
//!  "inputs": ["../../tests/fixtures/scenarios/tor-client.json", {"id": "...", "type": "..."}],
//!  "inventory": {"instances": [{"id": "i-...", "tags": {"soar:protected": "true"}}]},
//!  "providers": [{"name": "virustotal", "locality": "external", "indicator_kinds": ["ip"],
//!                 "answers": {"198.51.100.23": {"found": true, "data": {"malicious": true}}}}],
//!  "expect": [{"status": "accepted", "verdict": "incident", "severity": "high",
//!              "actions": ["ec2.isolate i-...", "notify security-oncall"],
//!              "lookups": {"virustotal": ["198.51.100.23"]}}]}
//! ```
//! Input paths are relative to the scenario file. Every `expect` field is optional; `actions` is
//! the exact set of actions that would be carried out or wait for approval (`type target`), and
//! `lookups` the exact indicators each provider received.

use serde::Deserialize;
use serde_json::Value;
use soar_core::Document;
use soar_core::alert::IndicatorKind;
use soar_core::egress::Locality;
use soar_core::parse_input;
use soar_core::pipeline::{Pipeline, RunOutcome};
use soar_core::ports::{IntelProvider, Lookup};
use soar_offline::memory::{CannedProvider, StaticInventory};
use soar_policy::PolicySet;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    /// For the reader of the file.
    #[serde(default, rename = "description")]
    _description: String,
    inputs: Vec<Value>,
    #[serde(default)]
    inventory: Option<Value>,
    #[serde(default)]
    providers: Vec<ProviderSpec>,
    expect: Vec<Expectation>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderSpec {
    name: String,
    locality: Locality,
    indicator_kinds: Vec<IndicatorKind>,
    #[serde(default)]
    answers: BTreeMap<String, Lookup>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Expectation {
    status: Option<String>,
    verdict: Option<String>,
    severity: Option<String>,
    actions: Option<BTreeSet<String>>,
    lookups: Option<BTreeMap<String, BTreeSet<String>>>,
}

/// What became of one input alert: the fields scenarios expect and diffs compare.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct AlertOutcome {
    pub alert_id: Option<String>,
    pub status: String,
    pub verdict: Option<String>,
    pub severity: Option<String>,
    /// `type target` of every action carried out, planned or waiting for approval.
    pub actions: BTreeSet<String>,
    /// Indicators each provider was asked about.
    pub lookups: BTreeMap<String, BTreeSet<String>>,
}

impl AlertOutcome {
    /// Reads the outcome off a pipeline run.
    pub(crate) fn of(out: &RunOutcome) -> Self {
        let doc = out.document.as_ref();
        let verdict = doc.and_then(|d| d.verdict.as_ref());
        AlertOutcome {
            alert_id: doc.map(|d| d.alert.id.clone()),
            status: out.status.as_str().to_string(),
            verdict: verdict.map(|v| v.verdict.as_str().to_string()),
            severity: verdict.map(|v| v.severity.clone()),
            actions: doc.map(effective_actions).unwrap_or_default(),
            lookups: BTreeMap::new(),
        }
    }

    pub(crate) fn rejected() -> Self {
        AlertOutcome {
            status: "rejected".into(),
            ..Default::default()
        }
    }
}

/// `type target` of the actions that changed (or in dry run would change) something.
pub(crate) fn effective_actions(doc: &Document) -> BTreeSet<String> {
    doc.actions
        .iter()
        .filter(|a| a.status.is_effective())
        .map(|a| format!("{} {}", a.request.action, a.request.target.id))
        .collect()
}

/// A scenario file, read and checked, its inputs loaded.
pub(crate) struct LoadedScenario {
    pub name: String,
    inputs: Vec<Vec<u8>>,
    inventory: Option<StaticInventory>,
    providers: Vec<ProviderSpec>,
    expect: Vec<Expectation>,
}

/// The scenario files of `dir`, sorted.
pub(crate) fn files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read scenario folder {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    Ok(files)
}

impl LoadedScenario {
    pub(crate) fn load(file: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(file).map_err(|e| e.to_string())?;
        let scenario: Scenario = serde_json::from_str(&text).map_err(|e| format!("not a scenario: {e}"))?;
        if scenario.inputs.len() != scenario.expect.len() {
            return Err(format!(
                "{} inputs but {} expectations",
                scenario.inputs.len(),
                scenario.expect.len()
            ));
        }
        let base = file.parent().unwrap_or(Path::new("."));
        let inputs = scenario
            .inputs
            .iter()
            .enumerate()
            .map(|(i, input)| match input {
                Value::String(path) => std::fs::read(base.join(path)).map_err(|e| format!("input {i}: {path}: {e}")),
                inline => Ok(inline.to_string().into_bytes()),
            })
            .collect::<Result<_, _>>()?;
        let inventory = scenario
            .inventory
            .map(|inventory| soar_offline::files::parse_inventory(&inventory.to_string()))
            .transpose()
            .map_err(|e| format!("inventory: {e}"))?;
        Ok(LoadedScenario {
            name: file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            inputs,
            inventory,
            providers: scenario.providers,
            expect: scenario.expect,
        })
    }

    /// Runs the inputs in order through one in-memory pipeline (so a redelivery is a duplicate).
    pub(crate) async fn run(&self, policies: Arc<PolicySet>) -> Vec<Result<AlertOutcome, String>> {
        let org = policies.org_config().clone();
        let (mut parts, _) = soar_offline::in_memory_parts(policies, org);
        if let Some(inventory) = &self.inventory {
            parts.inventory = Arc::new(inventory.clone());
        }
        let providers: Vec<Arc<CannedProvider>> = self
            .providers
            .iter()
            .map(|p| {
                let canned = CannedProvider::new(&p.name, &p.indicator_kinds).with_locality(p.locality);
                Arc::new(
                    p.answers
                        .iter()
                        .fold(canned, |c, (value, lookup)| c.answering(value, lookup.clone())),
                )
            })
            .collect();
        parts.providers = providers.iter().map(|p| p.clone() as Arc<dyn IntelProvider>).collect();
        let pipeline = Pipeline::new(parts);

        let mut outcomes = Vec::new();
        for (i, bytes) in self.inputs.iter().enumerate() {
            let before: Vec<usize> = providers.iter().map(|p| p.requests().len()).collect();
            let mut parsed = parse_input(bytes);
            if parsed.len() != 1 {
                outcomes.push(Err(format!(
                    "input {i}: a scenario input must be one alert, found {}",
                    parsed.len()
                )));
                continue;
            }
            let mut outcome = match parsed.remove(0).result {
                Err(_) => AlertOutcome::rejected(),
                Ok(incoming) => AlertOutcome::of(&pipeline.run(incoming).await),
            };
            outcome.lookups = providers
                .iter()
                .zip(before)
                .map(|(p, start)| {
                    let asked = p.requests()[start..].iter().map(|ind| ind.value.clone()).collect();
                    (p.name().to_string(), asked)
                })
                .collect();
            outcomes.push(Ok(outcome));
        }
        outcomes
    }

    /// Every difference between the expectations and what happened, one message each.
    pub(crate) async fn check(&self, policies: Arc<PolicySet>) -> Vec<String> {
        let mut problems = Vec::new();
        for (i, (outcome, expect)) in self.run(policies).await.into_iter().zip(&self.expect).enumerate() {
            match outcome {
                Ok(actual) => problems.extend(
                    expect
                        .mismatches(&actual)
                        .into_iter()
                        .map(|p| format!("input {i}: {p}")),
                ),
                Err(e) => problems.push(e),
            }
        }
        problems
    }
}

impl Expectation {
    fn mismatches(&self, actual: &AlertOutcome) -> Vec<String> {
        let mut problems = Vec::new();
        let mut check = |field: &str, expected: &Option<String>, actual: Option<&String>| {
            if let Some(expected) = expected
                && Some(expected) != actual
            {
                problems.push(format!(
                    "{field}: expected {expected}, actual {}",
                    actual.map(String::as_str).unwrap_or("none")
                ));
            }
        };
        check("status", &self.status, Some(&actual.status));
        check("verdict", &self.verdict, actual.verdict.as_ref());
        check("severity", &self.severity, actual.severity.as_ref());
        if let Some(expected) = &self.actions
            && expected != &actual.actions
        {
            problems.push(format!(
                "actions:\n       expected {expected:?}\n       actual   {:?}",
                actual.actions
            ));
        }
        if let Some(expected) = &self.lookups {
            for (provider, got) in &actual.lookups {
                let want = expected.get(provider).cloned().unwrap_or_default();
                if got != &want {
                    problems.push(format!("lookups at {provider}: expected {want:?}, actual {got:?}"));
                }
            }
        }
        problems
    }
}

/// Runs every scenario in `dir`; returns (passed, failed) and prints as it goes.
pub(crate) async fn run(dir: &Path, policies: Arc<PolicySet>) -> Result<(usize, usize), String> {
    let (mut passed, mut failed) = (0, 0);
    for file in files(dir)? {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let problems = match LoadedScenario::load(&file) {
            Ok(scenario) => scenario.check(policies.clone()).await,
            Err(e) => vec![e],
        };
        if problems.is_empty() {
            passed += 1;
            println!("ok   {name}");
        } else {
            failed += 1;
            println!("FAIL {name}");
            for p in problems {
                println!("     {p}");
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    Ok((passed, failed))
}
