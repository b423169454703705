//! `soar policy test`: runs every `test_` rule of a policy tree. regorus has no `opa test`, but
//! `test_` rules and `with` work, so the runner loads each folder (a phase, or `common`) with its
//! tests, finds the test rules in the `*_test.rego` sources, and evaluates them one by one.

use crate::bundle::{PolicyTree, is_test_file};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

#[derive(Debug, Clone, PartialEq)]
pub struct TestResult {
    pub file: String,
    pub rule: String,
    /// `None` when the rule evaluated to `true`.
    pub failure: Option<String>,
}

#[derive(Debug, Default)]
pub struct TestReport {
    pub results: Vec<TestResult>,
    /// Load errors that stopped a whole folder (syntax errors, bad data): each counts as a failure.
    pub load_errors: Vec<String>,
    /// Lines of the policy files (tests excluded) the tests reached.
    pub coverage: Coverage,
}

/// Line coverage per policy file, merged over many evaluations (and engines: `common` files are
/// loaded by every phase, and a line counts as reached if any of them reached it).
#[derive(Debug, Default, Clone)]
pub struct Coverage {
    /// Per file: (reached lines, coverable lines).
    files: BTreeMap<String, (BTreeSet<u32>, BTreeSet<u32>)>,
}

impl Coverage {
    /// Adds one engine's report; test files are left out (they cover themselves).
    pub fn add(&mut self, report: regorus::coverage::Report) {
        for file in report.files.into_iter().filter(|f| !is_test_file(&f.path)) {
            let (covered, coverable) = self.files.entry(file.path).or_default();
            coverable.extend(file.covered.iter().chain(&file.not_covered));
            covered.extend(file.covered);
        }
    }

    /// Per file: (reached lines, coverable lines).
    pub fn counts(&self) -> BTreeMap<&str, (usize, usize)> {
        self.files
            .iter()
            .map(|(path, (covered, coverable))| (path.as_str(), (covered.len(), coverable.len())))
            .collect()
    }

    /// Coverable lines no evaluation reached, per file.
    pub fn not_reached(&self) -> BTreeMap<&str, Vec<u32>> {
        self.files
            .iter()
            .map(|(path, (covered, coverable))| (path.as_str(), coverable.difference(covered).copied().collect()))
            .collect()
    }

    /// Reached share of all coverable lines, in percent; `None` when nothing was measured.
    pub fn percent(&self) -> Option<f64> {
        let (covered, total) = self.counts().values().fold((0, 0), |(c, t), (fc, ft)| (c + fc, t + ft));
        (total > 0).then(|| covered as f64 * 100.0 / total as f64)
    }

    /// One line per file with its percentage and the lines not reached (`12-14, 30`), then the total.
    pub fn render(&self) -> String {
        let mut out = String::from("coverage:\n");
        let missing = self.not_reached();
        for (file, (covered, total)) in self.counts() {
            let pct = if total == 0 {
                100.0
            } else {
                covered as f64 * 100.0 / total as f64
            };
            _ = write!(out, "  {file}: {pct:.1}% ({covered}/{total} lines)");
            match missing.get(file) {
                Some(lines) if !lines.is_empty() => _ = writeln!(out, ", not reached: {}", line_ranges(lines)),
                _ => out.push('\n'),
            }
        }
        if let Some(total) = self.percent() {
            _ = writeln!(out, "  all policies: {total:.1}%");
        }
        out
    }
}

/// `[3, 4, 5, 9]` as `3-5, 9`.
fn line_ranges(lines: &[u32]) -> String {
    let mut ranges: Vec<(u32, u32)> = Vec::new();
    for &line in lines {
        match ranges.last_mut() {
            Some((_, end)) if *end + 1 == line => *end = line,
            _ => ranges.push((line, line)),
        }
    }
    ranges
        .iter()
        .map(|(a, b)| if a == b { a.to_string() } else { format!("{a}-{b}") })
        .collect::<Vec<_>>()
        .join(", ")
}

impl TestReport {
    pub fn passed(&self) -> usize {
        self.results.iter().filter(|r| r.failure.is_none()).count()
    }

    pub fn failed(&self) -> usize {
        self.results.len() - self.passed() + self.load_errors.len()
    }

    /// Covered share of the coverable policy lines (tests excluded), in percent; `None` without coverage.
    pub fn coverage_percent(&self) -> Option<f64> {
        self.coverage.percent()
    }

    /// Failures with their file, then the closing line `N passed, N failed`.
    pub fn render(&self, with_coverage: bool) -> String {
        let mut out = String::new();
        for error in &self.load_errors {
            _ = writeln!(out, "ERROR {error}");
        }
        for r in &self.results {
            if let Some(why) = &r.failure {
                _ = writeln!(out, "FAIL {}: {} ({why})", r.file, r.rule);
            }
        }
        if with_coverage {
            out.push_str(&self.coverage.render());
        }
        _ = writeln!(out, "{} passed, {} failed", self.passed(), self.failed());
        out
    }
}

/// Runs every test of `tree`.
pub fn run(tree: &PolicyTree, coverage: bool) -> TestReport {
    let mut report = TestReport::default();
    let mut folders: Vec<String> = tree
        .files()
        .iter()
        .filter_map(|(path, _)| path.split_once('/').map(|(folder, _)| folder.to_string()))
        .collect();
    folders.sort();
    folders.dedup();

    for folder in folders {
        let tests: Vec<(String, String, String)> = tree
            .files()
            .iter()
            .filter(|(path, _)| path.starts_with(&format!("{folder}/")) && is_test_file(path))
            .flat_map(|(path, source)| {
                let package = package_of(source);
                test_rules(source)
                    .into_iter()
                    .map(move |rule| (path.clone(), package.clone(), rule))
            })
            .collect();
        if tests.is_empty() {
            continue;
        }
        let crate::bundle::Sources { modules, data, .. } = match tree.sources(&folder, true) {
            Ok(b) => b,
            Err(e) => {
                report.load_errors.push(format!("{folder}: {e}"));
                continue;
            }
        };
        // Tests of `common` run against common alone; a phase's tests see common too.
        let modules: Vec<_> = modules
            .into_iter()
            .filter(|(p, _)| folder != "common" || p.starts_with("common/"))
            .collect();
        let mut engine = regorus::Engine::new();
        engine.set_enable_coverage(coverage);
        // A test evaluates decisions: the bounds every decision has hold here too.
        crate::limits::install();
        engine.set_execution_timer_config(regorus::utils::limits::ExecutionTimerConfig {
            limit: crate::DEFAULT_TIME_LIMIT,
            check_interval: crate::limits::TIMER_CHECK_INTERVAL,
        });
        let loaded = modules
            .iter()
            .try_for_each(|(path, source)| engine.add_policy(path.clone(), source.clone()).map(drop))
            .and_then(|()| engine.add_data(serde_json::from_value(data)?));
        if let Err(e) = loaded {
            report.load_errors.push(format!("{folder}: {e}"));
            continue;
        }
        for (file, package, rule) in tests {
            let path = format!("data.{package}.{rule}");
            let failure = match engine.eval_rule(path) {
                Ok(regorus::Value::Bool(true)) => None,
                Ok(regorus::Value::Undefined) => Some("undefined: a condition did not hold".to_string()),
                Ok(other) => Some(format!("evaluated to {other}, expected true")),
                Err(e) => Some(format!("error: {e}")),
            };
            report.results.push(TestResult { file, rule, failure });
        }
        if coverage && let Ok(cov) = engine.get_coverage_report() {
            report.coverage.add(cov);
        }
    }
    report
}

fn package_of(source: &str) -> String {
    source
        .lines()
        .find_map(|l| l.trim().strip_prefix("package "))
        .map(|p| p.trim().to_string())
        .unwrap_or_default()
}

/// Names of `test_` rules: rule heads start at column 0 (`test_x if {`, `test_x := ...`).
fn test_rules(source: &str) -> Vec<String> {
    let mut names: Vec<String> = source
        .lines()
        .filter(|l| l.starts_with("test_"))
        .map(|l| {
            l.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::line_ranges;

    #[test]
    fn line_ranges_merge_runs() {
        assert_eq!(line_ranges(&[3, 4, 5, 9, 11, 12]), "3-5, 9, 11-12");
        assert_eq!(line_ranges(&[]), "");
    }
}
