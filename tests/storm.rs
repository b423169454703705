//! An alert storm under faults: hundreds of findings (distinct, duplicated, across several
//! instances and access keys, a few malformed) through the four function binaries, each a
//! process under a Lambda runtime API of its own, in enforce mode, while a proxy in front of the
//! local AWS endpoint fails a tenth of all AWS calls (throttling, 5xx, timeouts and resets,
//! half of those after the call reached the endpoint) and functions are killed mid-batch.
//!
//! What must hold: every alert ends in a terminal state recorded in the table, or in a
//! dead-letter queue; nothing is lost; no change is made twice (one snapshot per volume per
//! alert in moto, every instance in its quarantine group alone, every key inactive, no claim left
//! unfinished in the ledger); only the malformed inputs are in the dead-letter queues. The counts
//! are printed. Notifications are delivered at least once: a Publish whose answer was lost is sent
//! again (SNS standard topics have no deduplication), and the repeats are counted.
//!
//! `SOAR_STORM_FINDINGS` sets the number of findings (default 500); `make bench` runs a longer
//! storm and has its counts written to `SOAR_STORM_REPORT` (bench/storm.json).

// Test code: a failed unwrap is the test failing, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use soar_aws::{DynamoState, SqsQueue, sdk};
use soar_core::ports::AlertLog;
use soar_local::faults::{FaultPlan, FaultProxy};
use soar_local::findings::{FindingServices, Published};
use soar_local::lab::{self, LabFinding, LabInstance};
use soar_local::pump::{Pacing, Route, drain_paced};
use soar_local::runtime::{FunctionProcess, Functions};
use soar_local::setup::setup;
use soar_tests::Moto;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";
const FUNCTIONS: [&str; 4] = ["ingest", "enrich", "evaluate", "remediate"];
/// A claim outlives a killed invocation by this much, and its messages come back after it ran out.
const LEASE_SECONDS: i32 = 2;

/// What one storm came to.
#[derive(Debug, Default)]
struct Tally {
    findings: usize,
    distinct: usize,
    duplicates: usize,
    malformed: usize,
    terminal: usize,
    dead_lettered: usize,
    lost: Vec<String>,
    changes_twice: Vec<String>,
    /// Ledger entries recorded as failed for good (a transient failure must never end so).
    failed_actions: Vec<String>,
    /// Tor alerts without a snapshot of their instance's volume.
    unsnapshotted: Vec<String>,
    /// False positives not archived, or not rated, in GuardDuty.
    not_written_back: Vec<String>,
    unfinished_claims: Vec<String>,
    notifications: usize,
    repeated_notifications: usize,
    kills: u64,
    deliveries: usize,
    aws_calls: u64,
    faults: BTreeMap<String, u64>,
}

fn binary(name: &str) -> PathBuf {
    let soar = soar_tests::soar_binary();
    let path = soar.with_file_name(name);
    assert!(path.exists(), "{} not found: build it with `make bins`", path.display());
    path
}

/// A GuardDuty finding about an access key of an IAM user.
fn key_finding(id: &str, user: &str, key_id: &str) -> Value {
    json!({
        "schemaVersion": "2.0", "accountId": ACCOUNT, "region": REGION, "id": id,
        "type": "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS", "severity": 8,
        "updatedAt": "2026-11-20T09:00:00Z", "title": "Credentials used from outside AWS",
        "resource": {"resourceType": "AccessKey", "accessKeyDetails": {"accessKeyId": key_id, "userName": user, "userType": "IAMUser"}},
        "service": {"serviceName": "guardduty", "archived": false, "additionalInfo": {},
            "action": {"actionType": "AWS_API_CALL", "awsApiCallAction": {"api": "ListBuckets", "remoteIpDetails": {"ipAddressV4": "198.51.100.23"}}}}
    })
}

/// Bodies that can never be an alert, each failing another way.
const MALFORMED: [&str; 5] = [
    "{\"detail-type\": \"GuardDuty Finding\", \"source\": \"aws.guardduty\", \"detail\": ",
    "not json at all",
    "{\"detail-type\": \"GuardDuty Finding\", \"source\": \"aws.guardduty\", \"detail\": {\"id\": 7, \"type\": []}}",
    "[]",
    "{\"Records\": [{\"eventSource\": \"aws:sqs\", \"body\": \"{}\"}]}",
];

struct Storm {
    _moto: Moto,
    aws: sdk::SdkConfig,
    env: BTreeMap<String, String>,
    proxy: FaultProxy,
    /// GuardDuty's and Security Hub's finding APIs (moto lacks them), behind a fault proxy of
    /// their own: the write-backs meet the same faults.
    findings: FindingServices,
    findings_proxy: FaultProxy,
    functions: Functions,
    state: DynamoState,
    notifications: SqsQueue,
}

impl Storm {
    async fn start(log: &Path) -> Storm {
        // Atomic conditional writes, as DynamoDB's: the ledger and the incidents race here.
        let moto = Moto::start_serial();
        let aws = sdk::local(&moto.endpoint()).await.unwrap();
        let env = setup(&aws, "storm").await.expect("setup");
        let sns = aws_sdk_sns::Client::new(&aws);
        let topic = sns.create_topic().name("storm-oncall").send().await.unwrap();
        let topic_arn = topic.topic_arn().unwrap().to_string();
        // Every notification lands in a queue of the test's, to be counted.
        let sqs = aws_sdk_sqs::Client::new(&aws);
        let inbox = sqs.create_queue().queue_name("storm-inbox").send().await.unwrap();
        let inbox = SqsQueue::new(sqs.clone(), inbox.queue_url().unwrap());
        sns.subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(inbox.arn().await.unwrap())
            .send()
            .await
            .unwrap();
        // The functions' attempt timeout is 500 ms; a timed-out call hangs 800 ms.
        let proxy = FaultProxy::start(&moto.endpoint(), FaultPlan::tenth(Duration::from_millis(800), 17)).unwrap();
        let findings = FindingServices::start().unwrap();
        let findings_proxy =
            FaultProxy::start(&findings.endpoint(), FaultPlan::tenth(Duration::from_millis(800), 29)).unwrap();
        let mut vars: BTreeMap<String, String> = env.vars.clone().into_iter().collect();
        for (k, v) in [
            ("AWS_ENDPOINT_URL_GUARDDUTY", findings_proxy.endpoint()),
            ("AWS_ENDPOINT_URL_SECURITYHUB", findings_proxy.endpoint()),
            ("AWS_ENDPOINT_URL", proxy.endpoint()),
            ("AWS_REGION", REGION.into()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("SOAR_MODE", "enforce".into()),
            ("SOAR_NOTIFY_TOPIC_ARN", topic_arn),
            ("SOAR_MAX_ACTIONS_PER_HOUR", "1000000".into()),
            ("SOAR_MAX_WRITE_BACKS_PER_HOUR", "1000000".into()),
            ("SOAR_CLAIM_LEASE_SECONDS", LEASE_SECONDS.to_string()),
            ("SOAR_AWS_ATTEMPT_TIMEOUT_MS", "500".into()),
            ("SOAR_LOG", "warn".into()),
        ] {
            vars.insert(k.into(), v);
        }
        let file = std::fs::File::create(log).unwrap();
        let functions = Functions(
            FUNCTIONS
                .iter()
                .map(|f| {
                    let env = vars.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                    FunctionProcess::new(f, binary(f), env, file.try_clone().ok()).unwrap()
                })
                .collect(),
        );
        let state = DynamoState::new(soar_aws::DynamoClient::new(&aws), vars["SOAR_TABLE"].clone());
        Storm {
            _moto: moto,
            aws,
            env: vars,
            proxy,
            findings,
            findings_proxy,
            functions,
            state,
            notifications: inbox,
        }
    }

    fn queue(&self, url: &str) -> SqsQueue {
        SqsQueue::new(aws_sdk_sqs::Client::new(&self.aws), url)
    }

    fn routes(&self) -> Vec<Route> {
        FUNCTIONS
            .iter()
            .map(|f| Route {
                queue: self.queue(&self.env[&format!("SOAR_{}_QUEUE_URL", f.to_uppercase())]),
                function: f.to_string(),
            })
            .collect()
    }

    /// Every message body left in the phases' dead-letter queues.
    async fn dead_letters(&self) -> Vec<String> {
        let sqs = aws_sdk_sqs::Client::new(&self.aws);
        let mut bodies = Vec::new();
        for f in FUNCTIONS {
            let url = sqs
                .get_queue_url()
                .queue_name(format!("storm-{f}-dlq"))
                .send()
                .await
                .unwrap()
                .queue_url()
                .unwrap()
                .to_string();
            let queue = self.queue(&url);
            loop {
                let batch = queue.receive(10, 0).await.unwrap();
                if batch.is_empty() {
                    break;
                }
                for m in batch {
                    queue.delete(&m.receipt_handle).await.unwrap();
                    bodies.push(m.body);
                }
            }
        }
        bodies
    }
}

/// The findings of a storm of `n`: a tenth duplicates (the same body again), one in a hundred
/// malformed (at least one of each kind), the rest distinct, spread over the instances and keys.
struct Findings {
    bodies: Vec<String>,
    /// Every distinct alert id.
    ids: BTreeSet<String>,
    /// The instances of the Tor-client alerts: all the alerts about one instance are one incident
    /// (the default grouping), and each such instance must end with one snapshot of its volume.
    tor: BTreeSet<String>,
    /// The GuardDuty finding ids of the low-severity probes: false positives, to be archived
    /// and rated in GuardDuty.
    false_positives: BTreeSet<String>,
    malformed: usize,
}

fn findings(n: usize, instances: &[LabInstance], keys: &[(String, String)]) -> Findings {
    let malformed = (n / 100).max(MALFORMED.len());
    let duplicates = n / 10;
    let distinct = n - malformed - duplicates;
    let mut bodies = Vec::new();
    let mut ids = BTreeSet::new();
    let mut tor = BTreeSet::new();
    let mut false_positives = BTreeSet::new();
    for i in 0..distinct {
        let id = format!("storm-{i:05}");
        // A fifth stolen keys, a fifth Tor clients (isolated, snapshotted, tagged), the rest
        // low-severity probes (evaluated, no action): a storm is mostly noise.
        let (finding_type, severity) = match i % 5 {
            0 => ("UnauthorizedAccess:EC2/TorClient", 8.0),
            _ => ("Recon:EC2/PortProbeUnprotectedPort", 2.0),
        };
        let body = if i % 5 == 4 {
            let (user, key) = &keys[i % keys.len()];
            key_finding(&id, user, key)
        } else {
            let finding = LabFinding {
                account: ACCOUNT,
                region: REGION,
                id: &id,
                finding_type,
                severity,
                remote_ip: "198.51.100.23",
                sample: false,
            };
            lab::guardduty_event(&instances[i % instances.len()], &finding)
        };
        ids.insert(format!("guardduty/{ACCOUNT}/{REGION}/{id}"));
        if i % 5 == 0 {
            tor.insert(instances[i % instances.len()].instance_id.clone());
        }
        if matches!(i % 5, 1..=3) {
            false_positives.insert(id.clone());
        }
        bodies.push(body.to_string());
    }
    for i in 0..duplicates {
        bodies.push(bodies[(i * 7) % distinct].clone());
    }
    for i in 0..malformed {
        bodies.push(MALFORMED[i % MALFORMED.len()].to_string());
    }
    // Interleaved, so duplicates and malformed inputs share batches with good ones.
    let len = bodies.len();
    let mut order: Vec<usize> = (0..len).collect();
    order.sort_by_key(|i| (i * 7919) % len);
    Findings {
        bodies: order.into_iter().map(|i| bodies[i].clone()).collect(),
        ids,
        tor,
        false_positives,
        malformed,
    }
}

/// The ledger an alert's actions went to: its incident's, or its own.
async fn doc_scope(storm: &Storm, id: &str) -> String {
    match storm.state.load_document(id).await.unwrap() {
        Some(doc) => doc.ledger_scope().to_string(),
        None => id.to_string(),
    }
}

async fn check(storm: &Storm, findings: &Findings, instances: &[LabInstance], tally: &mut Tally) {
    let ids = &findings.ids;
    let dead = storm.dead_letters().await;
    tally.dead_lettered = dead.len();
    for body in &dead {
        assert!(
            MALFORMED.contains(&body.as_str()),
            "a good input in a dead-letter queue: {body}"
        );
    }
    // Every snapshot soar made, by volume (one DescribeSnapshots): an incident's instance is
    // snapshotted once, whichever of its alerts got there first.
    let mut snapshots: BTreeMap<String, usize> = BTreeMap::new();
    let mut snapshotted = BTreeSet::new();
    let described = aws_sdk_ec2::Client::new(&storm.aws)
        .describe_snapshots()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("tag-key")
                .values("soar:alert-id")
                .build(),
        )
        .send()
        .await
        .unwrap();
    for snapshot in described.snapshots() {
        *snapshots
            .entry(snapshot.volume_id().unwrap_or("").to_string())
            .or_default() += 1;
        let instance = snapshot.tags().iter().find(|t| t.key() == Some("soar:instance-id"));
        snapshotted.insert(instance.and_then(|t| t.value()).unwrap_or("").to_string());
    }
    for (key, n) in &snapshots {
        if *n > 1 {
            tally.changes_twice.push(format!("{key}: {n} snapshots"));
        }
    }
    for instance in instances.iter().filter(|i| findings.tor.contains(&i.instance_id)) {
        if !snapshotted.contains(&instance.instance_id) {
            tally.unsnapshotted.push(instance.instance_id.clone());
        }
    }
    // Every false positive archived and rated not useful in GuardDuty, under faults too.
    let written = storm.findings.findings();
    for id in &findings.false_positives {
        let key = ("lab".to_string(), id.clone());
        if !written.archived.contains(&key) || written.feedback.get(&key).map(String::as_str) != Some("NOT_USEFUL") {
            // What its record says, for the report.
            let alert = format!("guardduty/{ACCOUNT}/{REGION}/{id}");
            let doc = storm.state.load_document(&alert).await.unwrap();
            let actions: Vec<String> = doc
                .iter()
                .flat_map(|d| &d.actions)
                .map(|a| format!("{} {}: {}", a.request.action, a.status.as_str(), a.detail))
                .collect();
            tally.not_written_back.push(format!("{id}: {actions:?}"));
        }
    }
    let mut scopes = BTreeSet::new();
    for id in ids {
        let doc = storm.state.load_document(id).await.unwrap();
        let finished =
            doc.is_some_and(|d| d.verdict.is_some() && d.trace.iter().any(|t| t.phase.as_str() == "remediate"));
        if finished {
            tally.terminal += 1;
        } else {
            tally.lost.push(id.clone());
        }
        scopes.insert(doc_scope(storm, id).await);
    }
    // Each ledger once: an incident's holds the actions of all its alerts.
    for scope in &scopes {
        for entry in storm.state.ledger(scope).await.unwrap() {
            match entry.status.as_str() {
                "claimed" | "executing" => tally.unfinished_claims.push(format!("{scope} {}", entry.sk)),
                "failed" => tally
                    .failed_actions
                    .push(format!("{scope} {}: {}", entry.sk, entry.detail)),
                _ => {}
            }
        }
    }
    // Every instance ends in its quarantine group alone.
    for instance in instances {
        let groups = lab::eni_groups(&storm.aws, &instance.network_interface_id)
            .await
            .unwrap();
        assert_eq!(groups.len(), 1, "{}: {groups:?}", instance.instance_id);
        assert!(
            groups[0].1.contains("quarantine"),
            "{}: {groups:?}",
            instance.instance_id
        );
    }
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    loop {
        let batch = storm.notifications.receive(10, 0).await.unwrap();
        if batch.is_empty() {
            break;
        }
        for m in batch {
            storm.notifications.delete(&m.receipt_handle).await.unwrap();
            let body: Value = serde_json::from_str(&m.body).unwrap_or_default();
            let text = format!(
                "{}\n{}",
                body["Subject"].as_str().unwrap_or(""),
                body["Message"].as_str().unwrap_or("")
            );
            *seen.entry(text).or_default() += 1;
        }
    }
    tally.notifications = seen.values().sum();
    tally.repeated_notifications = seen.values().filter(|n| **n > 1).map(|n| n - 1).sum();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_under_faults_loses_nothing_and_changes_nothing_twice() {
    let n: usize = std::env::var("SOAR_STORM_FINDINGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let log = std::env::temp_dir().join(format!("soar-storm-{}.log", std::process::id()));
    let storm = Storm::start(&log).await;
    let mut instances = Vec::new();
    for i in 0..4 {
        instances.push(
            lab::create_instance(&storm.aws, &format!("storm-{i}"), &[])
                .await
                .unwrap(),
        );
    }
    let iam = aws_sdk_iam::Client::new(&storm.aws);
    let mut keys = Vec::new();
    for user in ["alice", "bob", "carol"] {
        iam.create_user().user_name(user).send().await.unwrap();
        let key = iam.create_access_key().user_name(user).send().await.unwrap();
        keys.push((user.to_string(), key.access_key().unwrap().access_key_id().to_string()));
    }
    let storm_findings = findings(n, &instances, &keys);
    // GuardDuty has the probes as the alerts say (soar confirms a finding before it hides it).
    for id in &storm_findings.false_positives {
        storm.findings.publish(Published {
            id: id.clone(),
            account: ACCOUNT.into(),
            finding_type: "Recon:EC2/PortProbeUnprotectedPort".into(),
            severity: 2.0,
        });
    }
    let (bodies, ids, malformed) = (&storm_findings.bodies, &storm_findings.ids, storm_findings.malformed);
    // Killed twice mid-batch where it hurts most (remediate, while acting), once in enrich.
    let remediate = storm.functions.get("remediate").unwrap();
    remediate.kill_during(3, Duration::from_millis(120));
    remediate.kill_during(9, Duration::from_millis(40));
    storm
        .functions
        .get("enrich")
        .unwrap()
        .kill_during(5, Duration::from_millis(60));

    let ingest = storm.queue(&storm.env["SOAR_INGEST_QUEUE_URL"]);
    for body in bodies {
        ingest.send(body).await.unwrap();
    }
    let started = Instant::now();
    let pacing = Pacing {
        failed_visibility: 1,
        crashed_visibility: LEASE_SECONDS + 1,
        settle: true,
        parallel: true,
    };
    let deliveries = drain_paced(&storm.routes(), &storm.functions, pacing, (10, 100_000))
        .await
        .expect("pump");
    let elapsed = started.elapsed();

    let mut tally = Tally {
        findings: bodies.len(),
        distinct: ids.len(),
        duplicates: bodies.len() - ids.len() - malformed,
        malformed,
        deliveries: deliveries.len(),
        kills: storm
            .functions
            .0
            .iter()
            .map(|f| f.killed.load(std::sync::atomic::Ordering::Relaxed))
            .sum(),
        ..Tally::default()
    };
    let counts = storm.proxy.counts();
    let finding_counts = storm.findings_proxy.counts();
    tally.aws_calls = counts.total_calls() + finding_counts.total_calls();
    tally.faults = counts.faults.clone();
    for (kind, n) in &finding_counts.faults {
        *tally.faults.entry(kind.clone()).or_default() += n;
    }
    let injected_faults = counts.total_faults() + finding_counts.total_faults();
    check(&storm, &storm_findings, &instances, &mut tally).await;
    for (user, key) in &keys {
        let listed = iam.list_access_keys().user_name(user).send().await.unwrap();
        let status = listed
            .access_key_metadata()
            .iter()
            .find(|k| k.access_key_id() == Some(key.as_str()));
        assert_eq!(
            status.and_then(|k| k.status()).map(|s| s.as_str()),
            Some("Inactive"),
            "{user}'s key"
        );
    }
    println!(
        "STORM findings={} distinct={} duplicates={} malformed={} terminal={} dead_lettered={} lost={} changed_twice={} unfinished_claims={} kills={} deliveries={} aws_calls={} injected_faults={} calls_per_alert={:.1} notifications={} repeated_notifications={} seconds={:.1} alerts_per_second={:.1}",
        tally.findings,
        tally.distinct,
        tally.duplicates,
        tally.malformed,
        tally.terminal,
        tally.dead_lettered,
        tally.lost.len(),
        tally.changes_twice.len(),
        tally.unfinished_claims.len(),
        tally.kills,
        tally.deliveries,
        tally.aws_calls,
        injected_faults,
        tally.aws_calls as f64 / tally.findings as f64,
        tally.notifications,
        tally.repeated_notifications,
        elapsed.as_secs_f64(),
        tally.findings as f64 / elapsed.as_secs_f64(),
    );
    println!("faults by kind: {:?}", tally.faults);
    if let Ok(path) = std::env::var("SOAR_STORM_REPORT") {
        let report = json!({
            "findings": tally.findings, "distinct": tally.distinct, "duplicates": tally.duplicates,
            "malformed": tally.malformed, "terminal": tally.terminal, "dead_lettered": tally.dead_lettered,
            "lost": tally.lost.len(), "changed_twice": tally.changes_twice.len(), "kills": tally.kills,
            "aws_calls": tally.aws_calls, "injected_faults": injected_faults,
            "calls_per_alert": tally.aws_calls as f64 / tally.findings as f64,
            "repeated_notifications": tally.repeated_notifications,
            "seconds": elapsed.as_secs_f64(),
            "alerts_per_second": tally.findings as f64 / elapsed.as_secs_f64(),
        });
        std::fs::write(&path, report.to_string()).unwrap();
    }
    println!("function log: {}", log.display());
    assert!(tally.kills >= 2, "the functions were killed {} times", tally.kills);
    assert!(tally.lost.is_empty(), "lost: {:?}", tally.lost);
    assert!(
        tally.changes_twice.is_empty(),
        "changed twice: {:?}",
        tally.changes_twice
    );
    assert!(
        tally.unfinished_claims.is_empty(),
        "claims never finished: {:?}",
        tally.unfinished_claims
    );
    assert!(
        tally.failed_actions.is_empty(),
        "failed for good: {:?}",
        tally.failed_actions
    );
    assert!(
        tally.not_written_back.is_empty(),
        "false positives not archived and rated in GuardDuty: {:?}",
        tally.not_written_back
    );
    assert!(
        tally.unsnapshotted.is_empty(),
        "never snapshotted: {:?}",
        tally.unsnapshotted
    );
    assert_eq!(
        tally.dead_lettered, tally.malformed,
        "the malformed inputs, and only they, are dead-lettered"
    );
    assert_eq!(tally.terminal, tally.distinct);
}
