//! `soar policy test` and `soar policy eval`.

use crate::{inputs, scenario};
use serde_json::Value;
use soar_core::pipeline::Pipeline;
use soar_core::{Phase, Policies, parse_input};
use soar_policy::{DEFAULT_TIME_LIMIT, PolicySet, PolicyTree, testing};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

fn tree(dir: Option<&Path>) -> Result<PolicyTree, String> {
    match dir {
        Some(dir) => PolicyTree::from_dir(dir).map_err(|e| e.to_string()),
        None => Ok(PolicyTree::embedded()),
    }
}

/// `Ok` unless a floor is given and coverage is below it.
fn enforce_floor(fail_under: Option<f64>, actual: Option<f64>, what: &str) -> bool {
    match (fail_under, actual) {
        (Some(min), Some(actual)) if actual < min => {
            eprintln!("soar: {what} line coverage {actual:.1}% is below the required {min}%");
            false
        }
        (Some(_), None) => {
            eprintln!("soar: no policy line was measured, so coverage cannot be checked");
            false
        }
        _ => true,
    }
}

pub(crate) fn test(dir: Option<&Path>, coverage: bool, fail_under: Option<f64>) -> Result<ExitCode, String> {
    let tree = tree(dir)?;
    let mut report = testing::run(&tree, coverage);
    // The decisions' shape is part of the policies' contract with the Rust side: the same probe
    // a function runs before it starts (skipped when a bundle did not even load: already reported).
    if report.load_errors.is_empty() {
        let set = Arc::new(PolicySet::from_tree(&tree, DEFAULT_TIME_LIMIT));
        report
            .load_errors
            .extend(soar_offline::check(&set).into_iter().map(|p| format!("contract: {p}")));
    }
    print!("{}", report.render(coverage));
    let tests_pass = report.failed() == 0 && report.passed() > 0;
    let covered = enforce_floor(fail_under, report.coverage_percent(), "the policy tests'");
    Ok(if tests_pass && covered {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `soar policy scenario`: every scenario in `dir`, with coverage when asked.
pub(crate) async fn scenario(
    policies: Option<&Path>,
    dir: &Path,
    coverage: bool,
    fail_under: Option<f64>,
) -> Result<ExitCode, String> {
    let tree = tree(policies)?;
    let set = Arc::new(if coverage {
        PolicySet::with_coverage(&tree, DEFAULT_TIME_LIMIT)
    } else {
        PolicySet::from_tree(&tree, DEFAULT_TIME_LIMIT)
    });
    set.refuse_bad_config()?;
    let (passed, failed) = scenario::run(dir, set.clone()).await?;
    let measured = set.coverage();
    if let Some(measured) = &measured {
        print!("{}", measured.render());
    }
    let covered = enforce_floor(fail_under, measured.and_then(|c| c.percent()), "the scenarios'");
    Ok(if failed == 0 && passed > 0 && covered {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// A ready policy input (with `context`) is evaluated as it is; any alert is run through the
/// phases before `phase` in memory, and the decision `phase` took is printed.
pub(crate) async fn eval(phase: Phase, policies: Option<&Path>, file: &Path) -> Result<ExitCode, String> {
    let set = match policies {
        Some(dir) => PolicySet::from_dir(dir, DEFAULT_TIME_LIMIT),
        None => PolicySet::embedded(DEFAULT_TIME_LIMIT),
    };
    set.refuse_bad_config()?;
    let mut units = inputs::read(file)?;
    if units.len() != 1 {
        return Err(format!(
            "{}: policy eval takes one input, found {}",
            file.display(),
            units.len()
        ));
    }
    let unit = units.remove(0);
    let bytes = unit.bytes();
    let value: Value = serde_json::from_slice(bytes).map_err(|e| format!("{}: not valid JSON: {e}", file.display()))?;

    if value.get("context").is_some() {
        return Ok(print_decision(set.decide(phase, &value).map_err(|e| e.to_string())));
    }
    let mut parsed = parse_input(bytes);
    if parsed.len() != 1 {
        return Err(format!(
            "{}: policy eval takes one alert, found {}",
            file.display(),
            parsed.len()
        ));
    }
    let incoming = parsed
        .remove(0)
        .result
        .map_err(|e| format!("{}: {e}", file.display()))?;
    let org = set.org_config().clone();
    let pipeline = Pipeline::new(soar_offline::in_memory_parts(Arc::new(set), org).0);
    let outcome = pipeline.run(incoming).await;
    let entry = outcome
        .document
        .as_ref()
        .and_then(|d| d.trace.iter().find(|t| t.phase == phase).cloned());
    match entry {
        Some(entry) => Ok(print_decision(match entry.error {
            Some(e) => Err(e),
            None => Ok(entry.decision.unwrap_or(Value::Null)),
        })),
        None => Err(format!(
            "the alert never reached the {phase} phase ({}: {})",
            outcome.status.as_str(),
            outcome.error.unwrap_or(outcome.reason)
        )),
    }
}

fn print_decision(result: Result<Value, String>) -> ExitCode {
    match result {
        Ok(decision) => {
            println!("{}", serde_json::to_string_pretty(&decision).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("soar: policy error: {e}");
            ExitCode::from(1)
        }
    }
}
