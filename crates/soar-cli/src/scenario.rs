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
use soar_core::alert::IndicatorKind;
use soar_core::egress::Locality;
use soar_core::memory::CannedProvider;
use soar_core::parse_input;
use soar_core::pipeline::{Parts, Pipeline};
use soar_core::ports::{IntelProvider, Lookup};
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

/// Runs every scenario in `dir`; returns (passed, failed) and prints as it goes.
pub async fn run(dir: &Path, policies: Arc<PolicySet>) -> Result<(usize, usize), String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read scenario folder {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let (mut passed, mut failed) = (0, 0);
    for file in files {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match run_one(&file, policies.clone()).await {
            Ok(()) => {
                passed += 1;
                println!("ok   {name}");
            }
            Err(problems) => {
                failed += 1;
                println!("FAIL {name}");
                for p in problems {
                    println!("     {p}");
                }
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    Ok((passed, failed))
}

async fn run_one(file: &Path, policies: Arc<PolicySet>) -> Result<(), Vec<String>> {
    let text = std::fs::read_to_string(file).map_err(|e| vec![e.to_string()])?;
    let scenario: Scenario = serde_json::from_str(&text).map_err(|e| vec![format!("not a scenario: {e}")])?;
    if scenario.inputs.len() != scenario.expect.len() {
        return Err(vec![format!(
            "{} inputs but {} expectations",
            scenario.inputs.len(),
            scenario.expect.len()
        )]);
    }
    let base = file.parent().unwrap_or(Path::new("."));

    let org = policies.org_config().clone();
    let (mut parts, _) = Parts::in_memory(policies, org);
    if let Some(inventory) = &scenario.inventory {
        let inventory =
            soar_core::files::parse_inventory(&inventory.to_string()).map_err(|e| vec![format!("inventory: {e}")])?;
        parts.inventory = Arc::new(inventory);
    }
    let providers: Vec<Arc<CannedProvider>> = scenario
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

    let mut problems = Vec::new();
    for (i, (input, expect)) in scenario.inputs.iter().zip(&scenario.expect).enumerate() {
        let bytes = match input {
            Value::String(path) => {
                std::fs::read(base.join(path)).map_err(|e| vec![format!("input {i}: {path}: {e}")])?
            }
            inline => inline.to_string().into_bytes(),
        };
        let before: Vec<usize> = providers.iter().map(|p| p.requests().len()).collect();
        let mut parsed = parse_input(&bytes);
        if parsed.len() != 1 {
            problems.push(format!(
                "input {i}: a scenario input must be one alert, found {}",
                parsed.len()
            ));
            continue;
        }
        let (status, verdict, severity, actions) = match parsed.remove(0).result {
            Err(_) => ("rejected".to_string(), None, None, BTreeSet::new()),
            Ok(incoming) => {
                let out = pipeline.run(incoming).await;
                let doc = out.document.as_ref();
                let verdict = doc.and_then(|d| d.verdict.as_ref());
                let actions = doc
                    .map(|d| {
                        d.actions
                            .iter()
                            .filter(|a| a.status.is_effective())
                            .map(|a| format!("{} {}", a.request.action, a.request.target.id))
                            .collect()
                    })
                    .unwrap_or_default();
                (
                    out.status.as_str().to_string(),
                    verdict.map(|v| v.verdict.as_str().to_string()),
                    verdict.map(|v| v.severity.clone()),
                    actions,
                )
            }
        };
        let mut check = |field: &str, expected: &Option<String>, actual: &Option<String>| {
            if let Some(expected) = expected
                && Some(expected) != actual.as_ref()
            {
                problems.push(format!(
                    "input {i}: {field}: expected {expected}, actual {}",
                    actual.as_deref().unwrap_or("none")
                ));
            }
        };
        check("status", &expect.status, &Some(status));
        check("verdict", &expect.verdict, &verdict);
        check("severity", &expect.severity, &severity);
        if let Some(expected) = &expect.actions
            && expected != &actions
        {
            problems.push(format!(
                "input {i}: actions:\n       expected {expected:?}\n       actual   {actions:?}"
            ));
        }
        if let Some(expected) = &expect.lookups {
            for (p, start) in providers.iter().zip(before) {
                let got: BTreeSet<String> = p.requests()[start..].iter().map(|ind| ind.value.clone()).collect();
                let want = expected.get(p.name()).cloned().unwrap_or_default();
                if got != want {
                    problems.push(format!(
                        "input {i}: lookups at {}: expected {want:?}, actual {got:?}",
                        p.name()
                    ));
                }
            }
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(problems) }
}
