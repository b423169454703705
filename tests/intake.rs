//! The intake cases from the field (`tests/fixtures/intake/cases/`, copied from
//! `shared/cases/intake/` with its README's expectations): findings in every shape real
//! deployments deliver them. Each shape is read in process and, as a user would, by the `soar`
//! binary; the Security Hub and native routes of one finding are one alert.

// Test code: a failed unwrap is the test failing, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use soar_core::alert::{IndicatorKind, ResourceKind};
use soar_core::input::{Incoming, parse_input};
use soar_core::pipeline::{IngestStatus, Pipeline};
use std::process::{Command, Output};
use std::sync::Arc;

fn case(name: &str) -> String {
    soar_tests::fixture(&format!("intake/cases/{name}"))
        .display()
        .to_string()
}

fn bytes(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

fn soar(args: &[&str]) -> Output {
    Command::new(soar_tests::soar_binary())
        .args(args)
        .output()
        .expect("soar runs")
}

/// `soar run --json` on `files`: one report per alert.
fn run_json(files: &[&str]) -> Vec<Value> {
    let mut args = vec!["run", "--json"];
    args.extend_from_slice(files);
    let out = soar(&args);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// The one normalised alert an input holds.
fn one_alert(bytes: &[u8]) -> soar_core::alert::Alert {
    let mut parsed = parse_input(bytes);
    assert_eq!(parsed.len(), 1, "{parsed:?}");
    match parsed.remove(0).result {
        Ok(Incoming::Normalised(alert)) => *alert,
        other => panic!("not a normalised finding: {other:?}"),
    }
}

fn pipeline() -> Pipeline {
    let policies = soar_offline::embedded_policies().unwrap();
    let org = policies.org_config().clone();
    Pipeline::new(soar_offline::in_memory_parts(policies, org).0)
}

/// What a run did: verdict, and each action's type, target and status.
fn decided(doc: &soar_core::Document) -> (String, Vec<String>) {
    let verdict = doc
        .verdict
        .as_ref()
        .map(|v| v.verdict.as_str().to_string())
        .unwrap_or_default();
    let actions = doc
        .actions
        .iter()
        .map(|a| format!("{} {} {}", a.request.action, a.request.target.id, a.status.as_str()))
        .collect();
    (verdict, actions)
}

#[test]
fn a_guardduty_finding_through_security_hub_is_the_native_alert() {
    let via_hub = one_alert(&bytes(&case("securityhub-imported-guardduty-finding.json")));
    let native = one_alert(&bytes(
        &soar_tests::fixture("intake/guardduty-native-twin-of-securityhub.json")
            .display()
            .to_string(),
    ));
    assert_eq!(
        via_hub.id,
        "guardduty/111122223333/eu-west-1/f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1"
    );
    assert_eq!(
        via_hub.id, native.id,
        "one identity, so one route's copy is the other's duplicate"
    );
    assert_eq!(via_hub.source, "guardduty");
    assert_eq!(via_hub.kind, "UnauthorizedAccess:EC2/TorClient");
    assert_eq!((via_hub.severity, via_hub.severity_label.as_str()), (8.0, "high"));
    assert_eq!(
        (via_hub.account.as_str(), via_hub.region.as_str()),
        ("111122223333", "eu-west-1")
    );
    assert_eq!(via_hub.resource.kind, ResourceKind::Instance);
    assert_eq!(via_hub.resource.id, native.resource.id);
    assert_eq!(
        via_hub.revision(),
        native.revision(),
        "the same revision of the finding"
    );
    let remote = |a: &soar_core::alert::Alert| -> Vec<String> {
        a.indicators
            .iter()
            .filter(|i| i.role == "remote")
            .map(|i| i.value.clone())
            .collect()
    };
    assert_eq!(remote(&via_hub), remote(&native));
    assert_eq!(remote(&via_hub), ["198.51.100.23"]);
}

#[tokio::test]
async fn both_routes_of_one_finding_are_handled_once_with_the_same_decision() {
    let twin = soar_tests::fixture("intake/guardduty-native-twin-of-securityhub.json")
        .display()
        .to_string();
    // Apart, each route reaches the same verdict and actions.
    let hub = pipeline()
        .run(one_alert_incoming(&case("securityhub-imported-guardduty-finding.json")))
        .await;
    let native = pipeline().run(one_alert_incoming(&twin)).await;
    let (hub_doc, native_doc) = (hub.document.unwrap(), native.document.unwrap());
    // The verdict goes back to Security Hub only from the route that proves the finding is
    // there (the default policies leave GuardDuty's own events alone, `securityhub_has_guardduty`).
    let (mut hub_decided, native_decided) = (decided(&hub_doc), decided(&native_doc));
    let written_back: Vec<String> = hub_decided
        .1
        .iter()
        .filter(|a| a.starts_with("securityhub.update_finding arn:aws:guardduty:"))
        .cloned()
        .collect();
    assert_eq!(written_back.len(), 1, "{hub_decided:?}");
    hub_decided.1.retain(|a| !written_back.contains(a));
    assert_eq!(hub_decided, native_decided);
    assert_eq!(decided(&hub_doc).0, "incident");
    assert!(
        decided(&hub_doc)
            .1
            .iter()
            .any(|a| a.starts_with("ec2.isolate i-0a1b2c3d4e5f60718")),
        "{:?}",
        decided(&hub_doc)
    );

    // Together, the second is a duplicate, whichever comes first.
    for (first, second) in [
        (&case("securityhub-imported-guardduty-finding.json"), &twin),
        (&twin, &case("securityhub-imported-guardduty-finding.json")),
    ] {
        let shared = pipeline();
        assert_eq!(
            shared.run(one_alert_incoming(first)).await.status,
            IngestStatus::Accepted
        );
        let again = shared.run(one_alert_incoming(second)).await;
        assert_eq!(again.status, IngestStatus::Suppressed, "{}", again.reason);
        assert!(again.reason.starts_with("duplicate"), "{}", again.reason);
    }
}

fn one_alert_incoming(path: &str) -> Incoming {
    Incoming::Normalised(Box::new(one_alert(&bytes(path))))
}

#[test]
fn a_security_hub_event_gives_one_alert_per_finding_and_a_bad_one_fails_alone() {
    let mut event: Value =
        serde_json::from_slice(&bytes(&case("securityhub-imported-guardduty-finding.json"))).unwrap();
    let good = event["detail"]["findings"][0].clone();
    let mut inspector = good.clone();
    inspector["Id"] = json!("arn:aws:inspector2:eu-west-1:111122223333:finding/0123");
    inspector["ProductArn"] = json!("arn:aws:securityhub:eu-west-1::product/aws/inspector");
    inspector["ProductName"] = json!("Inspector");
    inspector["Types"] = json!(["Software and Configuration Checks/Vulnerabilities/CVE"]);
    inspector["Severity"] = json!({"Label": "CRITICAL", "Normalized": 95});
    inspector["ProductFields"] = json!({});
    let mut broken = good.clone();
    broken.as_object_mut().unwrap().remove("Id");
    event["detail"]["findings"] = json!([good, inspector, broken]);
    let parsed = parse_input(event.to_string().as_bytes());
    assert_eq!(parsed.len(), 3);
    let other = match &parsed[1].result {
        Ok(Incoming::Normalised(alert)) => alert,
        other => panic!("{other:?}"),
    };
    assert_eq!(other.source, "securityhub");
    assert_eq!(other.kind, "Software and Configuration Checks/Vulnerabilities/CVE");
    assert_eq!(other.severity_label, "critical");
    assert_eq!(other.resource.id, "i-0a1b2c3d4e5f60718");
    let err = parsed[2].result.as_ref().unwrap_err().to_string();
    assert!(err.contains("`detail.findings[2].Id`"), "{err}");
    assert_eq!(parsed[2].part.as_deref(), Some("detail.findings[2]"));
    assert!(parsed[0].result.is_ok());
}

#[test]
fn an_sns_envelope_in_an_sqs_record_is_the_event_delivered_raw() {
    let record: Value = serde_json::from_slice(&bytes(&case("sqs-record-with-sns-envelope.json"))).unwrap();
    let notification: Value = serde_json::from_str(record["Records"][0]["body"].as_str().unwrap()).unwrap();
    let raw_event = notification["Message"].as_str().unwrap();
    let unwrapped = one_alert(&bytes(&case("sqs-record-with-sns-envelope.json")));
    assert_eq!(unwrapped, one_alert(raw_event.as_bytes()));
    assert_eq!(unwrapped.kind, "UnauthorizedAccess:EC2/TorClient");
    // The same notification as a Lambda function subscribed to the topic receives it.
    let sns_event = json!({"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0",
        "EventSubscriptionArn": "arn:aws:sns:eu-west-1:111122223333:guardduty-findings:0d1e",
        "Sns": notification}]});
    assert_eq!(one_alert(sns_event.to_string().as_bytes()), unwrapped);
    // An envelope whose message is not an alert names the field.
    let mut bad = notification.clone();
    bad["Message"] = json!("not json");
    let err = parse_input(bad.to_string().as_bytes())
        .remove(0)
        .result
        .unwrap_err()
        .to_string();
    assert!(err.contains("`Message`"), "{err}");
}

#[test]
fn a_malware_scan_that_found_threats_is_an_alert_about_the_object() {
    let alert = one_alert(&bytes(&case("malware-protection-s3-threats-found.json")));
    assert_eq!(alert.kind, "Object:S3/MaliciousFile");
    assert_eq!(alert.resource.kind, ResourceKind::S3Object);
    assert_eq!(
        alert.resource.id,
        "arn:aws:s3:::example-uploads-bucket/incoming/invoice-2026-11.zip"
    );
    assert_eq!(alert.resource.attributes["bucket_name"], "example-uploads-bucket");
    assert_eq!(
        alert.resource.attributes["version_id"],
        "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"
    );
    assert_eq!(alert.resource.attributes["etag"], "0123456789abcdef0123456789abcdef");
    assert!(
        alert
            .indicators
            .iter()
            .any(|i| i.kind == IndicatorKind::ThreatName && i.value == "EICAR-Test-File (not a virus)"),
        "{:?}",
        alert.indicators
    );
    let reports = run_json(&[&case("malware-protection-s3-threats-found.json")]);
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0]["verdict"], "incident", "{}", reports[0]);
}

#[test]
fn a_malware_scan_that_found_nothing_is_suppressed_with_a_reason() {
    let mut event: Value = serde_json::from_slice(&bytes(&case("malware-protection-s3-threats-found.json"))).unwrap();
    event["detail"]["scanResultDetails"] = json!({"scanResultStatus": "NO_THREATS_FOUND", "threats": null});
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("clean.json");
    std::fs::write(&file, event.to_string()).unwrap();
    let reports = run_json(&[&file.display().to_string()]);
    assert_eq!(reports[0]["status"], "suppressed", "{}", reports[0]);
    assert!(
        reports[0]["reason"].as_str().unwrap().contains("found no threats"),
        "{}",
        reports[0]
    );

    // Another status goes on for a person to see; an unknown detail-type from GuardDuty is
    // mapped like another tool's alert, never rejected for a missing finding id.
    event["detail"]["scanResultDetails"] = json!({"scanResultStatus": "UNSUPPORTED"});
    std::fs::write(&file, event.to_string()).unwrap();
    let reports = run_json(&[&file.display().to_string()]);
    assert_eq!(reports[0]["verdict"], "undetermined", "{}", reports[0]);
    let other = json!({"detail-type": "GuardDuty Runtime Monitoring Coverage", "source": "aws.guardduty",
                       "account": "111122223333", "region": "eu-west-1", "detail": {"coverageStatus": "UNHEALTHY"}});
    let parsed = parse_input(other.to_string().as_bytes()).remove(0).result.unwrap();
    assert!(matches!(parsed, Incoming::Generic { .. }), "{parsed:?}");
}

#[test]
fn a_guardduty_s3_export_is_read_line_by_line() {
    let reports = run_json(&[&case("guardduty-s3-export.jsonl.gz")]);
    let lines = {
        use std::io::Read;
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(&bytes(&case("guardduty-s3-export.jsonl.gz"))[..])
            .read_to_string(&mut text)
            .unwrap();
        text.lines().filter(|l| !l.trim().is_empty()).count()
    };
    assert!(lines > 1);
    assert_eq!(reports.len(), lines, "{reports:?}");
    assert!(reports.iter().all(|r| r["status"] != "rejected"), "{reports:?}");
    // A folder of inputs is every file below it.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("AWSLogs/111122223333/GuardDuty/eu-west-1")).unwrap();
    std::fs::copy(
        case("guardduty-s3-export.jsonl.gz"),
        dir.path()
            .join("AWSLogs/111122223333/GuardDuty/eu-west-1/export.jsonl.gz"),
    )
    .unwrap();
    assert_eq!(run_json(&[&dir.path().display().to_string()]).len(), lines);
}

#[test]
fn an_ndjson_file_with_a_broken_first_line_keeps_its_good_lines() {
    let finding = std::fs::read_to_string(soar_tests::fixture("scenarios/tor-client.json")).unwrap();
    let line: Value = serde_json::from_str(&finding).unwrap();
    let text = format!("\u{feff}{{\"broken\": \r\n{}\r\n{}\r", line, line);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("alerts.ndjson");
    std::fs::write(&file, text).unwrap();
    let reports = run_json(&[&file.display().to_string()]);
    assert_eq!(reports.len(), 3, "{reports:?}");
    assert_eq!(reports[0]["status"], "rejected");
    assert_ne!(reports[1]["status"], "rejected");
    assert_ne!(reports[2]["status"], "rejected");
}

#[tokio::test]
async fn every_instance_session_and_endpoint_of_an_attack_sequence_is_seen() {
    let alert = one_alert(&bytes(&case("attack-sequence-over-instances.json")));
    let related: Vec<(String, String)> = alert
        .related_resources
        .iter()
        .map(|r| (r.kind.to_string(), r.id.clone()))
        .collect();
    assert_eq!(
        related,
        [
            ("Instance".to_string(), "i-0101010101010a001".to_string()),
            ("Instance".into(), "i-0101010101010a002".into()),
            ("AccessKey".into(), "ASIAEXAMPLEGROUPSS01".into())
        ]
    );
    assert_eq!(
        alert.related_resources[2].attributes["session_issuer"],
        "arn:aws:iam::111122223333:role/worker-role"
    );
    let has = |kind: IndicatorKind, value: &str, role: &str| {
        alert
            .indicators
            .iter()
            .any(|i| i.kind == kind && i.value == value && i.role == role)
    };
    assert!(
        has(IndicatorKind::Ip, "203.0.113.9", "remote"),
        "{:?}",
        alert.indicators
    );
    assert!(
        has(IndicatorKind::AccessKey, "ASIAEXAMPLEGROUPSS01", "actor"),
        "{:?}",
        alert.indicators
    );

    // Through the pipeline: the endpoint is looked up and both instances are contained.
    let policies = soar_offline::embedded_policies().unwrap();
    let (mut parts, _) = soar_offline::in_memory_parts(policies.clone(), policies.org_config().clone());
    let provider = Arc::new(soar_offline::memory::CannedProvider::new(
        "virustotal",
        &[IndicatorKind::Ip],
    ));
    parts.providers = vec![provider.clone()];
    let doc = Pipeline::new(parts)
        .run(Incoming::Normalised(Box::new(alert)))
        .await
        .document
        .unwrap();
    let looked_up: Vec<String> = provider.requests().into_iter().map(|i| i.value).collect();
    assert!(looked_up.contains(&"203.0.113.9".to_string()), "{looked_up:?}");
    let (verdict, actions) = decided(&doc);
    assert_eq!(verdict, "incident");
    for instance in ["i-0101010101010a001", "i-0101010101010a002"] {
        assert!(
            actions
                .iter()
                .any(|a| a.starts_with(&format!("ec2.isolate {instance}"))),
            "{actions:?}"
        );
    }
}

#[test]
fn ipv6_addresses_are_read_wherever_ipv4_ones_are() {
    let finding = json!({"id": "v6", "type": "Recon:EC2/PortProbeUnprotectedPort", "severity": 2, "accountId": "111122223333",
        "region": "eu-west-1", "resource": {"resourceType": "Instance", "instanceDetails": {"instanceId": "i-0123456789abcdef0",
            "networkInterfaces": [{"privateIpAddress": "10.0.0.5", "ipv6Addresses": ["2001:db8:1::5"],
                                   "privateIpAddresses": [{"privateIpAddress": "10.0.0.6"}]}]}},
        "service": {"serviceName": "guardduty", "action": {"portProbeAction": {"portProbeDetails": [
            {"remoteIpDetails": {"ipAddressV4": "198.51.100.1"}}, {"remoteIpDetails": {"ipAddressV6": "2001:db8:ffff::1"}}]}}}});
    let alert = one_alert(finding.to_string().as_bytes());
    let ips: Vec<(&str, &str)> = alert
        .indicators
        .iter()
        .filter(|i| i.kind == IndicatorKind::Ip)
        .map(|i| (i.value.as_str(), i.role.as_str()))
        .collect();
    for expected in [
        ("198.51.100.1", "remote"),
        ("2001:db8:ffff::1", "remote"),
        ("2001:db8:1::5", "local"),
        ("10.0.0.6", "local"),
    ] {
        assert!(ips.contains(&expected), "{expected:?} in {ips:?}");
    }
    for (action, details) in [
        (
            "awsApiCallAction",
            json!({"remoteIpDetails": {"ipAddressV6": "2001:db8:aa::1"}}),
        ),
        (
            "kubernetesApiCallAction",
            json!({"remoteIpDetails": {"ipAddressV6": "2001:db8:bb::1"}, "sourceIps": ["2001:db8:cc::1"]}),
        ),
        (
            "rdsLoginAttemptAction",
            json!({"remoteIpDetails": {"ipAddressV6": "2001:db8:dd::1"}}),
        ),
        (
            "networkConnectionAction",
            json!({"remoteIpDetails": {"ipAddressV6": "2001:db8:ee::1"}}),
        ),
    ] {
        let mut f = finding.clone();
        f["service"]["action"] = json!({ action: details });
        let alert = one_alert(f.to_string().as_bytes());
        let remote: Vec<&str> = alert
            .indicators
            .iter()
            .filter(|i| i.role == "remote")
            .map(|i| i.value.as_str())
            .collect();
        assert!(
            !remote.is_empty() && remote.iter().all(|v| v.starts_with("2001:db8:")),
            "{action}: {remote:?}"
        );
    }
}

#[test]
fn every_bucket_and_the_instance_behind_a_credential_finding_are_resources() {
    let s3 = json!({"id": "s3", "type": "Exfiltration:S3/AnomalousBehavior", "severity": 8, "accountId": "111122223333",
        "region": "eu-west-1", "resource": {"resourceType": "S3Bucket", "s3BucketDetails": [
            {"name": "first", "tags": []}, {"name": "second", "tags": [{"key": "soar:protected", "value": "true"}]}]},
        "service": {"serviceName": "guardduty"}});
    let alert = one_alert(s3.to_string().as_bytes());
    assert_eq!(alert.resource.id, "first");
    assert_eq!(alert.related_resources.len(), 1);
    assert_eq!(alert.related_resources[0].id, "second");
    assert!(alert.related_resources[0].is_protected());

    let credentials = one_alert(&bytes(&case("instance-credentials-used-outside-aws.json")));
    assert_eq!(credentials.resource.kind, ResourceKind::AccessKey);
    let behind: Vec<_> = credentials
        .related_resources
        .iter()
        .map(|r| (r.kind.clone(), r.id.as_str()))
        .collect();
    assert_eq!(behind, [(ResourceKind::Instance, "i-0a1b2c3d4e5f60718")]);
    assert_eq!(
        credentials.related_resources[0].attributes["instance_profile"],
        "arn:aws:iam::111122223333:instance-profile/app-server"
    );
}

/// Registers a revision and, unless it is a copy, hands it on (as the ingest function does once
/// the alert is on the enrich queue).
async fn seen(log: &dyn soar_core::ports::AlertLog, doc: &soar_core::Document) -> soar_core::ports::Registration {
    let registration = log.register_alert(doc).await.unwrap();
    if !matches!(registration, soar_core::ports::Registration::Duplicate { .. }) {
        log.mark_handed_on(doc).await.unwrap();
    }
    registration
}

/// Deduplication never hides a newer revision and never repeats a redelivery, in memory and in
/// DynamoDB alike: an unversioned alert followed by a versioned one, a far-future `updatedAt`,
/// the same id and time with changed content.
async fn dedup_rules(log: &dyn soar_core::ports::AlertLog) {
    use soar_core::ports::Registration;
    let base = one_alert(&bytes(&case("instance-credentials-used-outside-aws.json")));
    let doc = |updated: Option<&str>, severity: f64| {
        let mut alert = base.clone();
        alert.updated_at = updated.map(String::from);
        alert.created_at = None;
        alert.severity = severity;
        soar_core::Document::new(alert)
    };
    let is_new_or_update = |r: &Registration| !matches!(r, Registration::Duplicate { .. });
    let unversioned = doc(None, 8.0);
    assert_eq!(seen(log, &unversioned).await, Registration::New);
    assert!(
        matches!(seen(log, &unversioned).await, Registration::Duplicate { .. }),
        "a redelivery"
    );
    let versioned = doc(Some("2026-11-22T03:06:00.000Z"), 8.0);
    assert!(
        is_new_or_update(&seen(log, &versioned).await),
        "a version after none is newer"
    );
    // A forged or mistaken far-future stamp orders nothing: later real updates still count.
    // (A far-future stamp on content seen before would be that content again: a duplicate.)
    let future = doc(Some("2099-01-01T00:00:00.000Z"), 8.5);
    assert!(is_new_or_update(&seen(log, &future).await));
    assert!(matches!(seen(log, &future).await, Registration::Duplicate { .. }));
    let update = doc(Some("2026-11-22T04:00:00.000Z"), 8.0);
    assert!(is_new_or_update(&seen(log, &update).await), "hidden by a future stamp");
    // The same time with changed content is an update; a late copy of an older time is not.
    let changed = doc(Some("2026-11-22T04:00:00.000Z"), 9.0);
    assert!(is_new_or_update(&seen(log, &changed).await));
    assert!(matches!(seen(log, &changed).await, Registration::Duplicate { .. }));
    let late = doc(Some("2026-11-22T03:30:00.000Z"), 7.0);
    assert!(
        matches!(seen(log, &late).await, Registration::Duplicate { .. }),
        "older than the latest"
    );
}

#[tokio::test]
async fn dedup_never_hides_a_newer_revision_in_memory() {
    dedup_rules(&soar_offline::memory::MemoryState::new()).await;
}

#[tokio::test]
async fn dedup_never_hides_a_newer_revision_in_dynamodb() {
    let moto = soar_tests::Moto::start();
    let aws = soar_aws::sdk::local(&moto.endpoint()).await.unwrap();
    let env = soar_local::setup::setup(&aws, "soar").await.unwrap();
    let state = soar_aws::DynamoState::new(soar_aws::DynamoClient::new(&aws), env.vars["SOAR_TABLE"].clone());
    dedup_rules(&state).await;
}

#[test]
fn instance_credentials_used_outside_aws_revoke_sessions_and_never_deactivate_the_session_key() {
    let reports = run_json(&[&case("instance-credentials-used-outside-aws.json")]);
    assert_eq!(reports.len(), 1);
    let r = &reports[0];
    assert_eq!(r["verdict"], "incident", "{r}");
    let planned: Vec<&str> = r["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["type"].as_str().unwrap())
        .collect();
    assert!(!planned.contains(&"iam.deactivate_access_key"), "{r}");
    let detach = r["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["type"] == "ec2.detach_instance_profile");
    assert_eq!(
        detach.map(|a| a["target"].clone()),
        Some(json!("i-0a1b2c3d4e5f60718")),
        "{r}"
    );
    // What ends credentials already taken: the role's sessions issued before now are revoked.
    let revoke = r["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["type"] == "iam.revoke_role_sessions")
        .unwrap_or_else(|| panic!("no session revocation planned: {r}"));
    assert_eq!(revoke["target"], json!("ASIAEXAMPLETEMPKEY01"), "{r}");
    assert_eq!(revoke["status"], json!("planned"), "{r}");
    assert!(planned.contains(&"notify"), "a person is told: {r}");
}

/// From an attacker's review: what a crafted finding must not achieve.
#[test]
fn a_crafted_security_hub_finding_cannot_pass_as_guardduty_or_dodge_the_flags() {
    let event: Value = serde_json::from_slice(&bytes(&case("securityhub-imported-guardduty-finding.json"))).unwrap();
    let genuine = event["detail"]["findings"][0].clone();
    let read = |finding: &Value| one_alert(finding.to_string().as_bytes());
    // Only Security Hub's own product ARN makes a finding GuardDuty's; a name or an id does not.
    let mut forged = genuine.clone();
    forged["ProductArn"] = json!("arn:aws:securityhub:eu-west-1:111122223333:product/111122223333/default");
    forged["ProductName"] = json!("GuardDuty");
    let alert = read(&forged);
    assert_eq!(alert.source, "securityhub");
    assert!(alert.id.starts_with("securityhub/"), "{}", alert.id);
    // A closing state given twice, or as a list, closes.
    for closed in [
        r#"{"RecordState": "ACTIVE", "RecordState": "ARCHIVED"}"#,
        r#"{"RecordState": ["ARCHIVED"]}"#,
        r#"{"Workflow": {"Status": "NEW"}, "Workflow": {"Status": "SUPPRESSED"}}"#,
    ] {
        let mut text = genuine.to_string();
        text.pop();
        let patch = closed.trim_start_matches('{');
        let finding = format!("{text}, {patch}");
        let alert = one_alert(finding.as_bytes());
        assert!(alert.archived, "{closed}");
    }
    // GuardDuty's sample flag in the flattened `additionalInfo/value`.
    let mut sample = genuine.clone();
    sample["ProductFields"]["aws/guardduty/service/additionalInfo/value"] = json!("{\"sample\":true}");
    assert!(read(&sample).sample);
    // Protection tags in any spelling.
    let mut tagged = genuine.clone();
    tagged["Resources"][0]["tags"] = json!({"soar:protected": "true"});
    assert!(read(&tagged).resource.is_protected());
    let mut sequence: Value = serde_json::from_slice(&bytes(&case("attack-sequence-over-instances.json"))).unwrap();
    sequence["detail"]["service"]["detection"]["sequence"]["resources"][0]["Tags"] =
        json!([{"Key": "soar:protected", "Value": "true"}]);
    sequence["detail"]["service"]["detection"]["sequence"]["resources"][1]["resourceType"] = json!("ec2_instance");
    let alert = one_alert(sequence.to_string().as_bytes());
    assert!(alert.related_resources[0].is_protected());
    assert_eq!(
        alert.related_resources[1].kind,
        ResourceKind::Instance,
        "resource types in any case"
    );
}

#[tokio::test]
async fn a_sequence_resource_in_another_account_is_not_acted_on() {
    let mut sequence: Value = serde_json::from_slice(&bytes(&case("attack-sequence-over-instances.json"))).unwrap();
    sequence["detail"]["service"]["detection"]["sequence"]["resources"][1]["accountId"] = json!("999988887777");
    let alert = one_alert(sequence.to_string().as_bytes());
    let doc = pipeline()
        .run(Incoming::Normalised(Box::new(alert)))
        .await
        .document
        .unwrap();
    let on_other: Vec<_> = doc
        .actions
        .iter()
        .filter(|a| a.request.target.id == "i-0101010101010a002")
        .collect();
    assert!(!on_other.is_empty());
    assert!(
        on_other.iter().all(|a| a.status.as_str() == "skipped_invalid_target"),
        "{:?}",
        on_other
            .iter()
            .map(|a| (&a.request.action, a.status.as_str(), &a.detail))
            .collect::<Vec<_>>()
    );
}

#[test]
fn lists_are_read_entry_by_entry_and_bounded() {
    let native: Value =
        serde_json::from_str(&std::fs::read_to_string(soar_tests::fixture("scenarios/tor-client.json")).unwrap())
            .unwrap();
    let event: Value = serde_json::from_slice(&bytes(&case("securityhub-imported-guardduty-finding.json"))).unwrap();
    let asff = event["detail"]["findings"][0].clone();
    // boto3's answer, and an export mixing ASFF and native findings.
    let boto3 = json!({"Findings": [native["detail"].clone()], "ResponseMetadata": {"HTTPStatusCode": 200}});
    assert!(matches!(
        parse_input(boto3.to_string().as_bytes())[0].result,
        Ok(Incoming::Normalised(_))
    ));
    let mixed = json!({"Findings": [asff, native["detail"].clone()]});
    let parsed = parse_input(mixed.to_string().as_bytes());
    assert_eq!(parsed.len(), 2);
    assert!(
        parsed.iter().all(|p| matches!(p.result, Ok(Incoming::Normalised(_)))),
        "{parsed:?}"
    );
    // More entries than one input may carry: the first are read, one error says so.
    let flood = Value::Array(
        (0..soar_core::input::MAX_ALERTS + 5)
            .map(|i| json!({"id": i, "type": "x"}))
            .collect(),
    );
    let parsed = parse_input(flood.to_string().as_bytes());
    assert_eq!(parsed.len(), soar_core::input::MAX_ALERTS + 1);
    let err = parsed.last().unwrap().result.as_ref().unwrap_err().to_string();
    assert!(err.contains("more than the 1000"), "{err}");
}
