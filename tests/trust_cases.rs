//! The trust cases from the field (`tests/fixtures/trust/cases/`, copied from
//! `shared/cases/trust/` with its README's expectations): guard rails that hold on messy input,
//! configuration typos that stop soar instead of silently disabling it, and policy failures
//! that escalate instead of silencing. Each runs the `soar` binary as a user would.

// Test code: a failed unwrap is the test failing, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::io::Read;
use std::process::{Command, Output, Stdio};

fn case(name: &str) -> String {
    soar_tests::fixture(&format!("trust/cases/{name}"))
        .display()
        .to_string()
}

fn soar(args: &[&str]) -> Output {
    Command::new(soar_tests::soar_binary())
        .args(args)
        .output()
        .expect("soar runs")
}

fn reports(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn run_json(args: &[&str]) -> Value {
    let mut all = vec!["run", "--json"];
    all.extend_from_slice(args);
    let out = soar(&all);
    let mut reports = reports(&out);
    assert_eq!(reports.len(), 1, "{}", String::from_utf8_lossy(&out.stderr));
    reports.remove(0)
}

/// Actions that change (or in a dry run would change) something, other than telling people.
fn effective_non_notify(report: &Value) -> Vec<String> {
    report["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["type"] != "notify")
        .filter(|a| ["planned", "executed", "pending_approval"].contains(&a["status"].as_str().unwrap()))
        .map(|a| format!("{} {} {}", a["type"], a["target"], a["status"]))
        .collect()
}

#[test]
fn the_findings_own_protected_tag_wins_over_an_inventory_that_says_otherwise() {
    let r = run_json(&[
        "--inventory",
        &case("inventory-says-not-protected.json"),
        &case("protected-in-finding.json"),
    ]);
    assert_eq!(r["verdict"], "incident", "{r}");
    assert!(effective_non_notify(&r).is_empty(), "{r}");
}

#[test]
fn a_protected_tag_given_twice_true_then_false_is_protected() {
    let r = run_json(&[&case("protected-tag-twice.json")]);
    assert!(effective_non_notify(&r).is_empty(), "{r}");
}

#[test]
fn a_resource_id_with_a_trailing_space_is_the_protected_instance() {
    let r = run_json(&[
        "--inventory",
        &case("inventory-protects-i-0c0ffee0c0ffee001.json"),
        &case("resource-id-trailing-space.json"),
    ]);
    assert_eq!(r["verdict"], "incident", "{r}");
    assert!(effective_non_notify(&r).is_empty(), "{r}");
    // The resource's id was read trimmed: the inventory found the protected instance.
    assert_eq!(r["enrichments"][0]["data"]["protected"], true, "{r}");
}

#[test]
fn test_and_sample_flags_in_any_writing_mean_no_action() {
    for name in [
        "generic-test-flag-as-string.json",
        "sample-flag-as-number.json",
        "sample-flag-in-value-object.json",
    ] {
        let r = run_json(&[&case(name)]);
        assert_eq!(r["status"], "suppressed", "{name}: {r}");
        assert_eq!(r["actions"].as_array().unwrap().len(), 0, "{name}: {r}");
    }
}

#[test]
fn an_alert_with_five_thousand_indicators_is_escalated_with_a_notification_only() {
    let r = run_json(&[&case("many-indicators-high-severity.json")]);
    let actions = r["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{r}");
    assert_eq!(actions[0]["type"], "notify", "{r}");
    assert_eq!(actions[0]["status"], "planned", "{r}");
    assert_eq!(r["verdict"], "undetermined", "{r}");
    assert!(r["error"].as_str().unwrap().contains("5000 indicators"), "{r}");
}

/// A change to the policy data.
type Edit = fn(&mut Value);

/// A copy of the policies with `data.json` changed by `edit`.
fn policies_with_data(edit: impl Fn(&mut Value)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    soar_tests::copy_policies(dir.path());
    let path = dir.path().join("common/data.json");
    let mut data: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut data);
    std::fs::write(&path, serde_json::to_string_pretty(&data).unwrap()).unwrap();
    dir
}

#[test]
fn a_typo_in_the_configuration_stops_soar_naming_the_entry() {
    let cases: [(&str, Edit); 2] = [
        ("internal_cidrs[4]", |d| {
            d["soar"]["config"]["internal_cidrs"]
                .as_array_mut()
                .unwrap()
                .push("198.51.100.0/33".into())
        }),
        ("internal_domains[0]", |d| {
            d["soar"]["config"]["internal_domains"][0] = "corp.example.com ".into()
        }),
    ];
    let alert = soar_tests::fixture("scenarios/tor-client.json").display().to_string();
    for (entry, edit) in cases {
        let dir = policies_with_data(edit);
        let policies = dir.path().display().to_string();

        let out = soar(&["run", "--policies", &policies, &alert]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "soar run refuses: {stderr}");
        assert!(out.stdout.is_empty(), "and runs nothing");
        assert!(stderr.contains(&format!("data.soar.config.{entry}")), "{stderr}");

        let out = soar(&["policy", "test", &policies]);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.status.success(), "soar policy test fails: {text}");
        assert!(text.contains(&format!("data.soar.config.{entry}")), "{text}");

        // `soar run` and a function's build check the same way (soar_offline::check).
        let set = std::sync::Arc::new(soar_policy::PolicySet::from_dir(
            dir.path(),
            soar_policy::DEFAULT_TIME_LIMIT,
        ));
        let problems = soar_offline::check(&set);
        assert!(
            problems
                .iter()
                .any(|p| p.contains(&format!("data.soar.config.{entry}"))),
            "{problems:?}"
        );
    }
}

/// A copy of the policies in which a rule evaluate's decision uses runs for seconds and would
/// take gigabytes: a comprehension over `numbers.range(0, 100000000)`.
fn slow_policies() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    soar_tests::copy_policies(dir.path());
    let path = dir.path().join("evaluate/evaluate.rego");
    let mut rego = std::fs::read_to_string(&path).unwrap();
    rego.push_str(
        "\nslow := count([x | some x in numbers.range(0, 100000000); x % 7 == 3])\n\n\
         incident_reasons contains \"never\" if slow < 0\n",
    );
    std::fs::write(&path, rego).unwrap();
    dir
}

/// Runs `soar` and reports its output and peak resident memory in KiB (from `wait4`).
// The child is reaped by `wait4`, which also reports its peak memory (std's `wait` cannot).
#[allow(clippy::zombie_processes)]
fn soar_with_peak_memory(args: &[&str]) -> (String, String, bool, i64) {
    let mut child = Command::new(soar_tests::soar_binary())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("soar runs");
    let mut stdout = String::new();
    let mut stderr = String::new();
    child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    let mut status = 0;
    // SAFETY: `usage` is a plain C struct the call fills; the pid is our own child, waited once.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid);
    let success = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    (stdout, stderr, success, usage.ru_maxrss)
}

/// The memory a runaway rule could take without the bound is gigabytes (2.4 GB measured).
const PEAK_RSS_BOUND_KIB: i64 = 400 * 1024;

#[test]
fn a_runaway_rule_is_stopped_and_escalated_on_every_path() {
    let dir = slow_policies();
    let policies = dir.path().display().to_string();
    let alert = soar_tests::fixture("scenarios/tor-client.json").display().to_string();
    let limit_micros = soar_policy::DEFAULT_TIME_LIMIT.as_micros() as u64;

    // `soar run`: escalated with a notification and no other action, the evaluation stopped
    // within twice the limit (the trace records its duration).
    let (stdout, stderr, _, peak) = soar_with_peak_memory(&["run", "--json", "--policies", &policies, &alert]);
    let report: Value = serde_json::from_str(stdout.lines().next().unwrap_or("{}")).unwrap();
    assert_eq!(report["verdict"], "undetermined", "{report} {stderr}");
    let actions = report["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{report}");
    assert_eq!(actions[0]["type"], "notify", "{report}");
    let evaluate = report["trace"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["phase"] == "evaluate")
        .unwrap();
    let error = evaluate["error"].as_str().unwrap();
    assert!(error.contains("limit"), "{error}");
    assert!(evaluate["micros"].as_u64().unwrap() <= 2 * limit_micros, "{evaluate}");
    assert!(peak < PEAK_RSS_BOUND_KIB, "peak RSS {peak} KiB");

    // `soar policy eval`: the decision fails with the limit, promptly and in bounded memory.
    let (stdout, stderr, ok, peak) =
        soar_with_peak_memory(&["policy", "eval", "--phase", "evaluate", "--policies", &policies, &alert]);
    assert!(!ok, "{stdout}");
    assert!(format!("{stdout}{stderr}").contains("limit"), "{stdout}{stderr}");
    assert!(peak < PEAK_RSS_BOUND_KIB, "peak RSS {peak} KiB");

    // `soar policy test`: the evaluate tests that reach the rule fail with the limit.
    let (stdout, stderr, ok, peak) = soar_with_peak_memory(&["policy", "test", &policies]);
    assert!(!ok, "{stdout}");
    assert!(format!("{stdout}{stderr}").contains("limit"), "{stdout}{stderr}");
    assert!(peak < PEAK_RSS_BOUND_KIB, "peak RSS {peak} KiB");

    // `soar policy scenario`: the scenarios fail, they do not hang.
    let scenarios = soar_tests::root().join("policies/scenarios").display().to_string();
    let (stdout, _, ok, peak) = soar_with_peak_memory(&["policy", "scenario", "--policies", &policies, &scenarios]);
    assert!(!ok, "{stdout}");
    assert!(peak < PEAK_RSS_BOUND_KIB, "peak RSS {peak} KiB");
}
