//! The `soar` binary as a user runs it.

// Test code: a failed unwrap is the test failing, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(relative)
}

fn soar(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_soar"))
        .args(args)
        .output()
        .expect("soar runs")
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn every_guardduty_fixture_gets_a_verdict_and_samples_no_action() {
    let dir = repo("tests/fixtures/guardduty");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| p.display().to_string())
        .collect();
    files.sort();
    let mut args = vec!["run", "--json"];
    args.extend(files.iter().map(String::as_str));
    let out = soar(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let reports = json_lines(&out);
    assert_eq!(reports.len(), files.len());
    for r in &reports {
        assert!(r["verdict"].is_string(), "{r}");
        for key in [
            "input",
            "alert_id",
            "status",
            "reason",
            "severity",
            "actions",
            "enrichments",
            "trace",
            "error",
        ] {
            assert!(r.get(key).is_some(), "missing {key}: {r}");
        }
        let finding: Value =
            serde_json::from_str(&std::fs::read_to_string(r["input"].as_str().unwrap()).unwrap()).unwrap();
        if finding["service"]["additionalInfo"]["sample"] == true {
            assert_eq!(r["status"], "suppressed", "{r}");
            assert_eq!(r["actions"].as_array().unwrap().len(), 0, "{r}");
        }
    }
}

#[test]
fn tor_finding_isolates_unless_protected() {
    let finding = repo("tests/fixtures/scenarios/tor-client.json");
    let out = soar(&[
        "run",
        "--json",
        "--inventory",
        repo("tests/fixtures/scenarios/inventory.json").to_str().unwrap(),
        finding.to_str().unwrap(),
    ]);
    let r = &json_lines(&out)[0];
    assert_eq!(r["verdict"], "incident");
    let isolate = r["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["type"] == "ec2.isolate")
        .expect("isolation");
    assert_eq!(isolate["target"], "i-0a1b2c3d4e5f60718");
    assert_eq!(isolate["mode"], "dry_run");
    assert_eq!(isolate["status"], "planned");
    let phases: Vec<&str> = r["trace"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["phase"].as_str().unwrap())
        .collect();
    assert_eq!(phases, ["ingest", "enrich", "evaluate", "remediate"]);
    assert!(r["trace"][0]["micros"].is_u64() && r["trace"][0]["revision"].is_string());

    let out = soar(&[
        "run",
        "--json",
        "--inventory",
        repo("tests/fixtures/scenarios/inventory-protected.json")
            .to_str()
            .unwrap(),
        finding.to_str().unwrap(),
    ]);
    let r = &json_lines(&out)[0];
    assert_eq!(r["verdict"], "incident");
    assert!(
        r["actions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["type"] != "ec2.isolate"),
        "{r}"
    );
}

#[test]
fn malformed_inputs_fail_alone_with_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: Vec<u8>| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path.display().to_string()
    };
    let not_json = write("not-json.json", b"this is not json".to_vec());
    let wrong_shape = write("wrong-shape.json", b"[1, 2, 3]".to_vec());
    let mut huge = b"{\"pad\": \"".to_vec();
    huge.extend(std::iter::repeat_n(b'x', 10 * 1024 * 1024));
    huge.extend(b"\"}");
    let huge = write("huge.json", huge);
    let deep = write(
        "deep.json",
        format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes(),
    );
    let missing_type = write(
        "no-type.json",
        br#"{"id": "x", "service": {"serviceName": "guardduty"}}"#.to_vec(),
    );
    let good = repo("tests/fixtures/scenarios/tor-client.json").display().to_string();

    let out = soar(&[
        "run",
        "--json",
        &not_json,
        &good,
        &wrong_shape,
        &huge,
        &deep,
        &missing_type,
        "/no/such/file.json",
    ]);
    assert_eq!(out.status.code(), Some(1), "any rejection exits 1");
    let reports = json_lines(&out);
    assert_eq!(reports.len(), 7);
    let error_of = |i: usize| reports[i]["error"].as_str().unwrap_or_default().to_string();
    assert_eq!(reports[1]["verdict"], "incident", "the good input is processed");
    for i in [0, 2, 3, 4, 5, 6] {
        assert_eq!(reports[i]["status"], "rejected", "{}", reports[i]);
    }
    assert!(error_of(0).contains("not valid JSON"), "{}", error_of(0));
    assert!(error_of(2).contains("got an array"), "{}", error_of(2));
    assert!(error_of(3).contains("at most 1048576 bytes"), "{}", error_of(3));
    assert!(error_of(4).contains("nested deeper than 128"), "{}", error_of(4));
    assert!(error_of(5).contains("`type`"), "{}", error_of(5));
    assert!(error_of(6).contains("cannot read"), "{}", error_of(6));
}

#[test]
fn ndjson_stdin_and_sqs_batches() {
    let ndjson = repo("tests/fixtures/scenarios/generic-alerts.ndjson");
    let out = soar(&["run", "--json", ndjson.to_str().unwrap()]);
    let reports = json_lines(&out);
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[0]["status"], "accepted");
    assert_eq!(reports[0]["alert_id"], "falco/111122223333/eu-west-1/falco-7781");
    assert_eq!(reports[1]["status"], "suppressed");

    let body = std::fs::read_to_string(repo("tests/fixtures/scenarios/tor-client.json")).unwrap();
    let event = serde_json::json!({"Records": [
        {"messageId": "ok", "body": body},
        {"messageId": "bad", "body": "{broken"}
    ]});
    let mut child = Command::new(env!("CARGO_BIN_EXE_soar"))
        .args(["run", "--json", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(event.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let reports = json_lines(&out);
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[0]["input"], "- Records[0] (ok)");
    assert_eq!(reports[0]["verdict"], "incident");
    assert_eq!(reports[1]["status"], "rejected");
    assert!(reports[1]["error"].as_str().unwrap().contains("Records[1].body"));
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_broken_policy_folder_means_undetermined_and_no_action() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("evaluate")).unwrap();
    std::fs::write(
        dir.path().join("evaluate/e.rego"),
        "package soar.evaluate\ndecision := {{{\n",
    )
    .unwrap();
    let finding = repo("tests/fixtures/scenarios/tor-client.json");
    let out = soar(&[
        "run",
        "--json",
        "--policies",
        dir.path().to_str().unwrap(),
        finding.to_str().unwrap(),
    ]);
    let r = &json_lines(&out)[0];
    assert_eq!(r["verdict"], "undetermined", "{r}");
    // Nothing is acted on; Rust's escalation tells a person, naming the first phase that failed.
    let actions = r["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{r}");
    assert_eq!(actions[0]["type"], "notify", "{r}");
    assert_eq!(actions[0]["reason"], "escalation: the ingest phase failed", "{r}");
    assert!(r["error"].as_str().unwrap().contains("could not be loaded"), "{r}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("warning"));
}

#[test]
fn policy_test_prints_the_closing_line() {
    let out = soar(&["policy", "test", repo("policies").to_str().unwrap()]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap();
    let passed: usize = last.strip_suffix(" passed, 0 failed").expect(last).parse().unwrap();
    assert!(passed >= 40, "{last}");

    let out = soar(&["policy", "test", "--coverage"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("remediate/remediate.rego: "));
}

#[test]
fn policy_eval_prints_one_phase_decision() {
    let finding = repo("tests/fixtures/scenarios/tor-client.json");
    let out = soar(&["policy", "eval", "--phase", "evaluate", finding.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let decision: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(decision["verdict"], "incident");

    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.json");
    std::fs::write(&input, r#"{"source": "guardduty", "alert": {"sample": true, "archived": false, "type": "X:Y/Z"}, "raw": {}, "context": {}}"#).unwrap();
    let out = soar(&["policy", "eval", "--phase", "ingest", input.to_str().unwrap()]);
    let decision: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(decision["accept"], false);
}

#[test]
fn policy_coverage_below_the_floor_fails() {
    let policies = repo("policies");
    let out = soar(&["policy", "test", "--fail-under", "99.9", policies.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("below the required 99.9%"));
    let floor = std::fs::read_to_string(repo("policies/coverage-threshold")).unwrap();
    let out = soar(&[
        "policy",
        "test",
        "--fail-under",
        floor.trim(),
        policies.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("all policies: "));
}

#[test]
fn scenarios_pass_and_a_wrong_expectation_fails_with_a_diff() {
    let out = soar(&["policy", "scenario", repo("policies/scenarios").to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.trim_end().ends_with(" passed, 0 failed"), "{stdout}");

    let dir = tempfile::tempdir().unwrap();
    let scenario = serde_json::json!({
        "inputs": [{"id": "x1", "type": "Recon:EC2/PortProbeUnprotectedPort", "severity": 2, "service": {"serviceName": "guardduty"}}],
        "expect": [{"verdict": "incident", "actions": ["ec2.isolate i-1"]}]
    });
    std::fs::write(dir.path().join("wrong.json"), scenario.to_string()).unwrap();
    let out = soar(&["policy", "scenario", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("FAIL wrong.json"), "{stdout}");
    assert!(
        stdout.contains("verdict: expected incident, actual false_positive"),
        "{stdout}"
    );
    assert!(stdout.contains("0 passed, 1 failed"), "{stdout}");
}

/// A git repository holding a copy of the default policies (scenarios left out, so the corpus
/// is exactly what a test gives), committed.
fn policy_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    soar_tests::copy_policies(&policies);
    std::fs::remove_dir_all(policies.join("scenarios")).unwrap();
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir.path())
            .args([
                "-c",
                "user.name=soar",
                "-c",
                "user.email=soar@example.com",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    git(&["init", "--quiet"]);
    git(&["add", "."]);
    git(&["commit", "--quiet", "-m", "policies"]);
    dir
}

/// The Tor-client finding at several severities, one alert per line with its own id.
fn severity_corpus(dir: &Path, severities: &[f64]) -> PathBuf {
    let finding: Value =
        serde_json::from_str(&std::fs::read_to_string(repo("tests/fixtures/scenarios/tor-client.json")).unwrap())
            .unwrap();
    // One instance per finding (the third is the fixture's own i-0a1b2c3d4e5f60718): findings
    // about one instance are one incident, answered once, and this corpus is about thresholds.
    let lines: Vec<String> = severities
        .iter()
        .enumerate()
        .map(|(i, severity)| {
            let mut f = finding.clone();
            f["detail"]["severity"] = serde_json::json!(severity);
            f["detail"]["id"] = serde_json::json!(format!("sev-{severity}"));
            f["detail"]["resource"]["instanceDetails"]["instanceId"] =
                serde_json::json!(format!("i-0a1b2c3d4e5f607{:02x}", 0x16 + i));
            f.to_string()
        })
        .collect();
    let path = dir.join("corpus.ndjson");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

#[test]
fn policy_diff_reports_exactly_the_alerts_a_lower_isolation_threshold_changes() {
    let repo_dir = policy_repo();
    let policies = repo_dir.path().join("policies");
    let corpus = severity_corpus(repo_dir.path(), &[2.0, 4.5, 5.5, 6.5, 8.0, 8.9]);
    let diff = |format: &str| {
        soar(&[
            "policy",
            "diff",
            "--base",
            "HEAD",
            "--policies",
            policies.to_str().unwrap(),
            "--corpus",
            corpus.to_str().unwrap(),
            "--format",
            format,
        ])
    };

    let unchanged = diff("text");
    assert_eq!(
        unchanged.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&unchanged.stderr)
    );
    assert!(String::from_utf8_lossy(&unchanged.stdout).contains("6 alerts compared, 0 changed"));

    // The analyst's change: incidents (and so isolation) from severity 5 instead of 7.
    let data = policies.join("common/data.json");
    let text = std::fs::read_to_string(&data).unwrap();
    assert!(text.contains("\"incident_min_severity\": 7"));
    std::fs::write(
        &data,
        text.replace("\"incident_min_severity\": 7", "\"incident_min_severity\": 5"),
    )
    .unwrap();

    let changed = diff("text");
    let stdout = String::from_utf8_lossy(&changed.stdout);
    assert_eq!(
        changed.status.code(),
        Some(3),
        "{stdout}{}",
        String::from_utf8_lossy(&changed.stderr)
    );
    let changed_ids: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("CHANGED "))
        .map(|l| l.rsplit('/').next().unwrap())
        .collect();
    assert_eq!(changed_ids, ["sev-5.5", "sev-6.5"], "{stdout}");
    assert!(stdout.contains("verdict   undetermined -> incident"), "{stdout}");
    assert!(
        stdout.contains("action    + ec2.isolate i-0a1b2c3d4e5f60718"),
        "{stdout}"
    );
    assert!(stdout.contains("6 alerts compared, 2 changed, 4 unchanged"), "{stdout}");

    let markdown = diff("markdown");
    assert_eq!(markdown.status.code(), Some(3));
    let md = String::from_utf8_lossy(&markdown.stdout);
    assert!(md.contains("2 of 6 alerts handled differently than at `HEAD`"), "{md}");
    assert!(md.contains("| Alert | Status | Verdict | Severity | Actions |"), "{md}");
    assert_eq!(md.lines().filter(|l| l.starts_with("| `")).count(), 2, "{md}");
    assert!(md.contains("undetermined → **incident**"), "{md}");
}

#[test]
fn policy_diff_names_an_unknown_revision() {
    let repo_dir = policy_repo();
    let policies = repo_dir.path().join("policies");
    let out = soar(&[
        "policy",
        "diff",
        "--base",
        "no-such-branch",
        "--policies",
        policies.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("`no-such-branch` is not a commit"), "{stderr}");
}

#[tokio::test]
async fn run_with_intel_config_shows_what_each_lookup_returned_and_what_was_withheld() {
    use soar_tests::fake_http::{FakeHttp, Reply};
    let vt = FakeHttp::start(|r| {
        if r.target.ends_with("/198.51.100.23") {
            Reply::json(
                200,
                serde_json::json!({"data": {"attributes": {
                    "last_analysis_stats": {"malicious": 9, "suspicious": 0, "harmless": 60, "undetected": 11},
                    "tags": ["tor"]}}}),
            )
        } else {
            Reply::json(404, serde_json::json!({"error": {"code": "NotFoundError"}}))
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("intel.json");
    std::fs::write(
        &config,
        serde_json::json!({"providers": [{"type": "virustotal", "secret": "soar/vt", "base_url": vt.url()}]})
            .to_string(),
    )
    .unwrap();
    let args = [
        "run".to_string(),
        "--intel-config".into(),
        config.display().to_string(),
        repo("tests/fixtures/scenarios/tor-client.json").display().to_string(),
        repo("tests/fixtures/scenarios/private-remote-ip.json")
            .display()
            .to_string(),
    ];
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_soar"))
            .args(&args)
            .env("SOAR_SECRET_SOAR_VT", "vt-key-1234")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout.contains(
            "enrich    virustotal: ip 198.51.100.23: found, malicious, score 11, tags tor, https://www.virustotal.com/gui/ip-address/198.51.100.23"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("withheld  virustotal: 10.99.0.7: internal indicator (enrich policy)"),
        "{stdout}"
    );
    let requests = vt.requests();
    assert!(requests.iter().all(|r| !r.target.contains("10.99.0.7")), "{requests:?}");
    assert!(requests.iter().all(|r| r.header("x-apikey") == Some("vt-key-1234")));
    assert!(!stdout.contains("vt-key-1234"));
}
