//! The whole function chain on a local AWS endpoint (moto): the four functions as the Lambda
//! binaries build them (`soar_lambda::wire`), fed by the same pump that `soar local pump` uses.

// Test code: a failed unwrap is the test failing, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use async_trait::async_trait;
use serde_json::{Value, json};
use soar_aws::{DynamoState, SqsQueue, sdk};
use soar_core::document::{Document, Mode};
use soar_lambda::functions::{DocumentFunction, IngestFunction};
use soar_lambda::{Config, wire};
use soar_local::findings::{FindingServices, MOTO_LACKS, Organisation, Published};
use soar_local::lab::{self, LabFinding, LabInstance};
use soar_local::pump::{Invoke, Route, drain};
use soar_local::setup::{Environment, setup};
use soar_tests::Moto;
use soar_tests::slack::SlackStandIn;

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";

struct Functions {
    ingest: IngestFunction,
    enrich: DocumentFunction,
    evaluate: DocumentFunction,
    remediate: DocumentFunction,
}

#[async_trait]
impl Invoke for Functions {
    async fn invoke(&self, function: &str, payload: Value) -> Result<Value, String> {
        let documents = match function {
            "ingest" => {
                return soar_lambda::handle_ingest(&self.ingest, payload)
                    .await
                    .map_err(|e| e.to_string());
            }
            "enrich" => &self.enrich,
            "evaluate" => &self.evaluate,
            "remediate" => &self.remediate,
            other => return Err(format!("no function {other}")),
        };
        let event = serde_json::from_value(payload).map_err(|e| e.to_string())?;
        Ok(serde_json::to_value(soar_lambda::handle_documents(documents, event).await).unwrap())
    }
}

struct Stack {
    moto: Moto,
    /// Security Hub's and GuardDuty's finding APIs, which moto lacks (see its MOTO_LACKS).
    findings: FindingServices,
    aws: sdk::SdkConfig,
    env: Environment,
    functions: Functions,
    state: DynamoState,
}

impl Stack {
    async fn start(mode: Mode) -> Stack {
        Self::start_with(mode, &[]).await
    }

    async fn start_with(mode: Mode, extra: &[(&str, &str)]) -> Stack {
        Self::start_full(mode, extra, Organisation::default()).await
    }

    /// `organisation`: GuardDuty's administrator relationships, as the finding services answer them.
    async fn start_full(mode: Mode, extra: &[(&str, &str)], organisation: Organisation) -> Stack {
        let moto = Moto::start();
        let findings = FindingServices::start_with(Organisation {
            detector_id: if organisation.detector_id.is_empty() {
                "lab".into()
            } else {
                organisation.detector_id.clone()
            },
            ..organisation
        })
        .unwrap();
        let endpoints = sdk::ServiceEndpoints::default()
            .with("SecurityHub", &findings.endpoint())
            .with("GuardDuty", &findings.endpoint());
        let aws = sdk::local(&moto.endpoint())
            .await
            .unwrap()
            .into_builder()
            .service_config(endpoints)
            .build();
        let env = setup(&aws, "soar").await.expect("setup");
        let topic = aws_sdk_sns::Client::new(&aws)
            .create_topic()
            .name("soar-oncall")
            .send()
            .await
            .unwrap();
        let mut vars = env.vars.clone();
        vars.insert("SOAR_MODE".into(), mode.as_str().into());
        vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        vars.insert("SOAR_NOTIFY_TOPIC_ARN".into(), topic.topic_arn().unwrap().into());
        let config = Config::from_lookup(|k| vars.get(k).cloned()).unwrap();
        let policies = soar_offline::embedded_policies().expect("built-in policies");
        let functions = Functions {
            ingest: wire::ingest(&config, &aws, policies.clone()).unwrap(),
            enrich: wire::enrich(&config, &aws, policies.clone(), Vec::new()).unwrap(),
            evaluate: wire::evaluate(&config, &aws, policies.clone()).unwrap(),
            remediate: wire::remediate(&config, &aws, policies).unwrap(),
        };
        let state = DynamoState::new(aws_sdk_dynamodb_client(&aws), env.vars["SOAR_TABLE"].clone());
        Stack {
            moto,
            findings,
            aws,
            env,
            functions,
            state,
        }
    }

    fn queue(&self, phase: &str) -> SqsQueue {
        SqsQueue::new(
            aws_sdk_sqs::Client::new(&self.aws),
            &self.env.vars[&format!("SOAR_{}_QUEUE_URL", phase.to_uppercase())],
        )
    }

    fn routes(&self) -> Vec<Route> {
        ["ingest", "enrich", "evaluate", "remediate"]
            .into_iter()
            .map(|f| Route {
                queue: self.queue(f),
                function: f.to_string(),
            })
            .collect()
    }

    /// Puts the event on the (local) EventBridge bus: the rule delivers it to the ingest queue.
    async fn publish(&self, event: &Value) {
        let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .source(event["source"].as_str().unwrap())
            .detail_type(event["detail-type"].as_str().unwrap())
            .detail(event["detail"].to_string())
            .build();
        let out = aws_sdk_eventbridge::Client::new(&self.aws)
            .put_events()
            .entries(entry)
            .send()
            .await
            .unwrap();
        assert_eq!(out.failed_entry_count(), 0);
    }

    async fn run(&self) {
        drain(&self.routes(), &self.functions, 3, 50).await.expect("pump");
    }

    async fn document(&self, finding_id: &str) -> Document {
        use soar_core::ports::AlertLog;
        let alert_id = format!("guardduty/{ACCOUNT}/{REGION}/{finding_id}");
        self.state
            .load_document(&alert_id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no document for {alert_id}"))
    }

    async fn groups(&self, instance: &LabInstance) -> Vec<String> {
        lab::eni_groups(&self.aws, &instance.network_interface_id)
            .await
            .unwrap()
            .into_iter()
            .map(|(_, name)| name)
            .collect()
    }
}

fn aws_sdk_dynamodb_client(aws: &sdk::SdkConfig) -> soar_aws::DynamoClient {
    soar_aws::DynamoClient::new(aws)
}

fn tor(id: &str) -> LabFinding<'_> {
    LabFinding {
        account: ACCOUNT,
        region: REGION,
        id,
        finding_type: "UnauthorizedAccess:EC2/TorClient",
        severity: 8.0,
        remote_ip: "198.51.100.23",
        sample: false,
    }
}

/// The message evaluate handed remediate for `doc` (its first three phases, no actions): what a
/// redelivery of the remediate message carries.
fn evaluated(doc: &Document) -> String {
    serde_json::to_string(&Document {
        actions: Vec::new(),
        trace: doc.trace[..3].to_vec(),
        ..doc.clone()
    })
    .unwrap()
}

fn statuses(doc: &Document) -> Vec<(String, String)> {
    doc.actions
        .iter()
        .map(|a| (a.request.action.clone(), a.status.as_str().to_string()))
        .collect()
}

#[tokio::test]
async fn enforce_isolates_snapshots_and_is_exactly_once() {
    let stack = Stack::start(Mode::Enforce).await;
    let web = lab::create_instance(&stack.aws, "web-1", &[]).await.unwrap();
    stack.publish(&lab::guardduty_event(&web, &tor("f-enforce"))).await;
    stack.run().await;

    let doc = stack.document("f-enforce").await;
    assert_eq!(doc.verdict.as_ref().unwrap().verdict.as_str(), "incident");
    let s = statuses(&doc);
    for action in ["ec2.isolate", "ec2.snapshot", "ec2.protect", "ec2.tag", "notify"] {
        assert!(
            s.contains(&(action.to_string(), "executed".to_string())),
            "{action}: {s:?}"
        );
    }
    let groups = stack.groups(&web).await;
    assert_eq!(groups.len(), 1);
    assert!(groups[0].starts_with("soar-quarantine-"), "{groups:?}");
    let snapshots = lab::snapshots_for(&stack.aws, &doc.alert.id).await.unwrap();
    assert!(!snapshots.is_empty());
    let phases: Vec<_> = doc.trace.iter().map(|t| t.phase.as_str()).collect();
    assert_eq!(phases, ["ingest", "enrich", "evaluate", "remediate"]);

    // The same remediate message delivered twice: one ledger entry, one set of side effects.
    let body = evaluated(&doc);
    let remediate = stack.queue("remediate");
    remediate.send(&body).await.unwrap();
    remediate.send(&body).await.unwrap();
    stack.run().await;
    assert_eq!(lab::snapshots_for(&stack.aws, &doc.alert.id).await.unwrap(), snapshots);
    let ledger = stack.state.ledger(doc.ledger_scope()).await.unwrap();
    assert_eq!(
        ledger
            .iter()
            .filter(|e| e.sk.starts_with("ACTION#ec2.snapshot#"))
            .count(),
        1,
        "{ledger:?}"
    );
    assert_eq!(
        ledger
            .iter()
            .find(|e| e.sk.starts_with("ACTION#ec2.isolate#"))
            .unwrap()
            .status,
        "executed"
    );
    // The redeliveries met the ledger (one snapshot, above); the alert's record still says what
    // it did, with the rollback data, rather than the retries' duplicates.
    let again = statuses(&stack.document("f-enforce").await);
    let ec2_again: Vec<_> = again.iter().filter(|(a, _)| a.starts_with("ec2.")).collect();
    assert_eq!(ec2_again.len(), 4, "{again:?}");
    assert!(ec2_again.iter().all(|(_, s)| s == "executed"), "{again:?}");
}

#[tokio::test]
async fn dry_run_records_the_plan_and_touches_nothing_and_guard_rails_hold() {
    let stack = Stack::start(Mode::DryRun).await;
    let web = lab::create_instance(&stack.aws, "web-1", &[]).await.unwrap();
    let before = stack.groups(&web).await;
    stack.publish(&lab::guardduty_event(&web, &tor("f-dry"))).await;

    // A sample finding about the same instance, and a malformed message on the fan-in queue.
    stack
        .publish(&lab::guardduty_event(
            &web,
            &LabFinding {
                sample: true,
                ..tor("f-sample")
            },
        ))
        .await;
    stack.queue("ingest").send("{not json").await.unwrap();
    stack.run().await;

    let doc = stack.document("f-dry").await;
    assert!(
        statuses(&doc).iter().all(|(_, s)| s == "planned"),
        "{:?}",
        statuses(&doc)
    );
    assert!(statuses(&doc).iter().any(|(a, _)| a == "ec2.isolate"));
    assert_eq!(stack.groups(&web).await, before);
    let ledger = stack.state.ledger(doc.ledger_scope()).await.unwrap();
    assert!(
        ledger
            .iter()
            .any(|e| e.sk.starts_with("PLAN#ec2.isolate#") && e.status == "planned"),
        "{ledger:?}"
    );

    use soar_core::ports::AlertLog;
    let sample_id = format!("guardduty/{ACCOUNT}/{REGION}/f-sample");
    assert_eq!(
        stack.state.load_document(&sample_id).await.unwrap(),
        None,
        "a sample is suppressed at ingest"
    );
    assert!(stack.state.ledger(&sample_id).await.unwrap().is_empty());

    // The malformed message was retried, then parked in the dead-letter queue.
    let dlq_url = stack.env.vars["SOAR_INGEST_QUEUE_URL"].clone() + "-dlq";
    let dlq = SqsQueue::new(aws_sdk_sqs::Client::new(&stack.aws), dlq_url);
    let parked = dlq.receive(10, 1).await.unwrap();
    assert_eq!(
        parked.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["{not json"]
    );
}

#[tokio::test]
async fn a_protected_instance_is_untouched_in_enforce_mode() {
    let stack = Stack::start(Mode::Enforce).await;
    let db = lab::create_instance(&stack.aws, "db-1", &[("soar:protected", "true")])
        .await
        .unwrap();
    let before = stack.groups(&db).await;
    stack.publish(&lab::guardduty_event(&db, &tor("f-protected"))).await;
    stack.run().await;
    let doc = stack.document("f-protected").await;
    assert_eq!(doc.verdict.as_ref().unwrap().verdict.as_str(), "incident");
    assert!(
        statuses(&doc).iter().all(|(a, _)| !a.starts_with("ec2.")),
        "{:?}",
        statuses(&doc)
    );
    assert_eq!(stack.groups(&db).await, before);
    assert!(lab::snapshots_for(&stack.aws, &doc.alert.id).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_iam_user_finding_deactivates_that_users_key() {
    let stack = Stack::start(Mode::Enforce).await;
    let iam = aws_sdk_iam::Client::new(&stack.aws);
    iam.create_user().user_name("alice").send().await.unwrap();
    let key = iam.create_access_key().user_name("alice").send().await.unwrap();
    let key_id = key.access_key().unwrap().access_key_id().to_string();
    let finding = json!({
        "schemaVersion": "2.0", "accountId": ACCOUNT, "region": REGION, "id": "f-iam",
        "type": "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS", "severity": 8,
        "updatedAt": "2026-11-20T09:00:00Z", "title": "Credentials used from outside AWS",
        "resource": {"resourceType": "AccessKey", "accessKeyDetails": {"accessKeyId": key_id, "userName": "alice", "userType": "IAMUser"}},
        "service": {"serviceName": "guardduty", "archived": false, "additionalInfo": {},
            "action": {"actionType": "AWS_API_CALL", "awsApiCallAction": {"api": "ListBuckets", "remoteIpDetails": {"ipAddressV4": "198.51.100.23"}}}}
    });
    stack.queue("ingest").send(&finding.to_string()).await.unwrap();
    stack.run().await;
    let doc = stack.document("f-iam").await;
    assert!(
        statuses(&doc).contains(&("iam.deactivate_access_key".into(), "executed".into())),
        "{:?}",
        statuses(&doc)
    );
    let status = || async {
        iam.list_access_keys()
            .user_name("alice")
            .send()
            .await
            .unwrap()
            .access_key_metadata()[0]
            .status()
            .map(|s| s.as_str().to_string())
    };
    assert_eq!(status().await.as_deref(), Some("Inactive"));
    let [dry, _, _] = roll_back_three_times(&stack, &doc.alert.id, &["iam.deactivate_access_key"]);
    assert!(
        dry.contains(&format!(
            "iam:UpdateAccessKey UserName=alice AccessKeyId={key_id} Status=Active"
        )),
        "{dry}"
    );
    assert_eq!(status().await.as_deref(), Some("Active"));
}

#[tokio::test]
async fn approval_releases_a_parked_action_and_protection_is_read_live() {
    let stack = Stack::start(Mode::Enforce).await;
    let ec2 = soar_ec2::Ec2::new(std::sync::Arc::new(soar_aws::sdk::AccountConfigs::new(
        stack.aws.clone(),
        None,
        sdk::session::REMEDIATE,
    )));

    // A critical incident: ec2.stop waits for a person.
    let web = lab::create_instance(&stack.aws, "web-1", &[]).await.unwrap();
    let original_groups = stack.groups(&web).await;
    stack
        .publish(&lab::guardduty_event(
            &web,
            &LabFinding {
                severity: 9.5,
                ..tor("f-critical")
            },
        ))
        .await;
    stack.run().await;
    let doc = stack.document("f-critical").await;
    assert!(
        statuses(&doc).contains(&("ec2.stop".into(), "pending_approval".into())),
        "{:?}",
        statuses(&doc)
    );
    assert_eq!(
        ec2.describe_instance("", "", &web.instance_id)
            .await
            .unwrap()
            .unwrap()
            .state,
        "running"
    );

    // `soar approve` as the operator's AWS identity (moto's caller, of account 123456789012,
    // which the default approver policy lets answer from the CLI).
    let (code, out) = soar_cli(&stack, &["approve", &doc.alert.id, "ec2.stop", "--approver", "alice"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!("approved ec2.stop on {}", web.instance_id)) && out.contains("Approved by cli:arn:aws:"),
        "{out}"
    );
    stack.run().await;
    let doc = stack.document("f-critical").await;
    assert!(
        statuses(&doc).contains(&("ec2.stop".into(), "executed".into())),
        "{:?}",
        doc.actions.iter().map(|a| a.detail.to_string()).collect::<Vec<_>>()
    );
    let state = ec2
        .describe_instance("", "", &web.instance_id)
        .await
        .unwrap()
        .unwrap()
        .state;
    assert!(state == "stopping" || state == "stopped", "{state}");
    let (code, out) = soar_cli(&stack, &["approve", &doc.alert.id, "ec2.stop"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("no ec2.stop is waiting"), "{out}");

    // Everything reversible rolls back, newest first: started, unprotected, groups restored.
    assert_ne!(stack.groups(&web).await, original_groups);
    let [dry, _, _] = roll_back_three_times(&stack, &doc.alert.id, &[]);
    let (start, groups) = (
        dry.find("ec2:StartInstances").unwrap(),
        dry.find("ec2:ModifyNetworkInterfaceAttribute").unwrap(),
    );
    assert!(start < groups, "the stop is undone before the isolation: {dry}");
    assert!(
        !dry.contains("ec2.snapshot"),
        "a snapshot is evidence, not undone: {dry}"
    );
    assert_eq!(stack.groups(&web).await, original_groups);
    let facts = ec2.describe_instance("", "", &web.instance_id).await.unwrap().unwrap();
    assert!(facts.state == "pending" || facts.state == "running", "{}", facts.state);
    let termination = aws_sdk_ec2::Client::new(&stack.aws)
        .describe_instance_attribute()
        .instance_id(&web.instance_id)
        .attribute(aws_sdk_ec2::types::InstanceAttributeName::DisableApiTermination)
        .send()
        .await
        .unwrap();
    assert_eq!(
        termination.disable_api_termination().and_then(|v| v.value()),
        Some(false)
    );

    // Tagged protected after evaluation, just before remediate: the live read stops every EC2 action.
    let app = lab::create_instance(&stack.aws, "app-1", &[]).await.unwrap();
    let before = stack.groups(&app).await;
    stack.publish(&lab::guardduty_event(&app, &tor("f-late"))).await;
    let mut routes = stack.routes();
    let remediate = routes.pop().unwrap();
    drain(&routes, &stack.functions, 3, 50).await.unwrap();
    let tags: soar_core::action::Tags = serde_json::from_value(json!({"soar:protected": "true"})).unwrap();
    ec2.tag("", "", &app.instance_id, &tags).await.unwrap();
    drain(&[remediate], &stack.functions, 3, 50).await.unwrap();
    let doc = stack.document("f-late").await;
    let ec2_actions: Vec<_> = statuses(&doc)
        .into_iter()
        .filter(|(a, _)| a.starts_with("ec2."))
        .collect();
    assert!(!ec2_actions.is_empty());
    assert!(
        ec2_actions.iter().all(|(_, s)| s == "skipped_protected"),
        "{ec2_actions:?}"
    );
    assert_eq!(stack.groups(&app).await, before);
}

#[tokio::test]
async fn a_finding_in_a_member_account_is_answered_there_with_the_responder_role() {
    const MEMBER: &str = "111122223333";
    let stack = Stack::start_with(Mode::Enforce, &[("SOAR_RESPONDER_ROLE_NAME", "soar-responder")]).await;
    // The lab instance lives in the member account: create it with the role soar will assume there.
    let member = sdk::for_account(
        &stack.aws,
        MEMBER,
        ("soar-responder", sdk::session::REMEDIATE),
        Some(REGION),
    )
    .await;
    let web = lab::create_instance(&member, "member-web", &[]).await.unwrap();
    let finding = LabFinding {
        account: MEMBER,
        ..tor("f-member")
    };
    stack.publish(&lab::guardduty_event(&web, &finding)).await;
    stack.run().await;

    use soar_core::ports::AlertLog;
    let doc = stack
        .state
        .load_document(&format!("guardduty/{MEMBER}/{REGION}/f-member"))
        .await
        .unwrap()
        .unwrap();
    assert!(
        statuses(&doc).contains(&("ec2.isolate".into(), "executed".into())),
        "{:?}",
        statuses(&doc)
    );
    let groups = lab::eni_groups(&member, &web.network_interface_id).await.unwrap();
    assert!(
        groups.iter().all(|(_, name)| name.starts_with("soar-quarantine-")),
        "{groups:?}"
    );
    // Nothing of the kind exists in the central account.
    assert!(lab::eni_groups(&stack.aws, &web.network_interface_id).await.is_err());
}

/// `soar` against this stack's table.
fn soar_cli(stack: &Stack, args: &[&str]) -> (Option<i32>, String) {
    let endpoint = stack.moto.endpoint();
    let out = std::process::Command::new(soar_tests::soar_binary())
        .args(args)
        .args(["--endpoint-url", &endpoint])
        .envs(stack.findings.vars())
        .env("SOAR_TABLE", &stack.env.vars["SOAR_TABLE"])
        .env("SOAR_REMEDIATE_QUEUE_URL", &stack.env.vars["SOAR_REMEDIATE_QUEUE_URL"])
        .output()
        .expect("soar runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    (out.status.code(), format!("{stdout}{stderr}"))
}

#[tokio::test]
async fn replay_reruns_a_stored_alert_and_alerts_browse_the_table() {
    let stack = Stack::start(Mode::DryRun).await;
    let web = lab::create_instance(&stack.aws, "web-1", &[]).await.unwrap();
    stack.publish(&lab::guardduty_event(&web, &tor("f-replay"))).await;
    stack.run().await;
    let doc = stack.document("f-replay").await;
    assert_eq!(doc.verdict.as_ref().unwrap().verdict.as_str(), "incident");
    let id = doc.alert.id.as_str();

    let (code, out) = soar_cli(&stack, &["replay", id]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("no difference"), "{out}");
    assert!(out.contains(&format!("ec2.isolate {}", web.instance_id)), "{out}");

    // The analyst raises the incident threshold above this finding's severity (8).
    let changed = tempfile::tempdir().unwrap();
    soar_tests::copy_policies(changed.path());
    let data = changed.path().join("common/data.json");
    let text = std::fs::read_to_string(&data).unwrap();
    std::fs::write(
        &data,
        text.replace("\"incident_min_severity\": 7", "\"incident_min_severity\": 9"),
    )
    .unwrap();
    let (code, out) = soar_cli(&stack, &["replay", id, "--policies", changed.path().to_str().unwrap()]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("DIFFERS"), "{out}");
    assert!(out.contains("evaluate") && out.contains("decision changed"), "{out}");
    assert!(out.contains("ingest     ") && out.contains("same decision"), "{out}");

    let (code, out) = soar_cli(&stack, &["alerts", "list"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains(id) && out.contains("incident"), "{out}");
    let (code, out) = soar_cli(&stack, &["alerts", "show", id]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!("ledger     PLAN#ec2.isolate#{}", web.instance_id)),
        "{out}"
    );
    assert!(out.contains("trace      remediate"), "{out}");

    let (code, out) = soar_cli(&stack, &["replay", "guardduty/no/such/alert"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("no alert `guardduty/no/such/alert`"), "{out}");
}

/// `make bench`: finding on the local EventBridge bus to the instance in its quarantine group,
/// over 20 findings (enforce mode, the functions as wired for Lambda, moto behind them). Writes
/// `bench/e2e.json`, which `soar-bench` merges into bench/results. Not a pass/fail test.
#[tokio::test]
#[ignore = "a measurement: run by make bench"]
async fn e2e_finding_to_isolation_latency() {
    // 20 incidents of 5 actions each: above the default hourly cap, which would (rightly) stop them.
    let stack = Stack::start_with(Mode::Enforce, &[("SOAR_MAX_ACTIONS_PER_HOUR", "1000")]).await;
    let mut samples = Vec::new();
    for n in 0..20 {
        let instance = lab::create_instance(&stack.aws, &format!("web-{n}"), &[])
            .await
            .unwrap();
        let event = lab::guardduty_event(&instance, &tor(&format!("f-e2e-{n}")));
        let started = std::time::Instant::now();
        stack.publish(&event).await;
        let isolated = async {
            loop {
                let groups = stack.groups(&instance).await;
                if groups.iter().any(|g| g.starts_with("soar-quarantine-")) {
                    return started.elapsed();
                }
                assert!(
                    started.elapsed() < std::time::Duration::from_secs(60),
                    "finding {n} not isolated within a minute"
                );
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        };
        let (took, _) = tokio::join!(isolated, stack.run());
        samples.push(took);
    }
    samples.sort();
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    let (p50, p95) = (ms(samples[samples.len() / 2]), ms(samples[(samples.len() * 95) / 100]));
    let report = json!({"findings": samples.len(), "p50_ms": p50, "p95_ms": p95});
    let dir = soar_tests::root().join("bench");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("e2e.json"), report.to_string()).unwrap();
    eprintln!("finding to isolation: {report}");
}

/// The ASFF copy Security Hub makes of a native GuardDuty event (the fields soar reads; the
/// rest as in `tests/fixtures/intake/cases/securityhub-imported-guardduty-finding.json`).
fn security_hub_copy(native: &Value) -> Value {
    let finding = &native["detail"];
    let instance = finding["resource"]["instanceDetails"]["instanceId"].as_str().unwrap();
    let remote = &finding["service"]["action"]["networkConnectionAction"]["remoteIpDetails"]["ipAddressV4"];
    json!({
        "version": "0", "id": "hub-copy", "detail-type": "Security Hub Findings - Imported",
        "source": "aws.securityhub", "account": ACCOUNT, "region": REGION, "time": native["time"],
        "resources": [format!("arn:aws:securityhub:{REGION}::product/aws/guardduty/{}", finding["arn"].as_str().unwrap())],
        "detail": {"findings": [{
            "SchemaVersion": "2018-10-08", "Id": finding["arn"],
            "ProductArn": format!("arn:aws:securityhub:{REGION}::product/aws/guardduty"),
            "ProductName": "GuardDuty", "CompanyName": "Amazon", "AwsAccountId": ACCOUNT, "Region": REGION,
            "GeneratorId": format!("arn:aws:guardduty:{REGION}:{ACCOUNT}:detector/lab"),
            "Types": ["TTPs/Command and Control/UnauthorizedAccess:EC2-TorClient"],
            "CreatedAt": finding["createdAt"], "UpdatedAt": finding["updatedAt"],
            "Severity": {"Product": finding["severity"], "Label": "HIGH", "Normalized": 60},
            "Title": finding["title"], "Description": finding["description"],
            "ProductFields": {
                "aws/guardduty/service/action/actionType": "NETWORK_CONNECTION",
                "aws/guardduty/service/action/networkConnectionAction/remoteIpDetails/ipAddressV4": remote,
                "aws/guardduty/service/archived": "false"
            },
            "Resources": [{"Type": "AwsEc2Instance", "Id": format!("arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{instance}"),
                           "Partition": "aws", "Region": REGION}],
            "RecordState": "ACTIVE", "Workflow": {"Status": "NEW"}
        }]}
    })
}

/// Both routes on: the native event and Security Hub's copy of one finding arrive in one SQS
/// batch. One alert, one set of actions: the copy is a duplicate of the native event.
#[tokio::test]
async fn a_security_hub_copy_and_the_native_event_in_one_batch_are_one_alert() {
    let stack = Stack::start(Mode::Enforce).await;
    let web = lab::create_instance(&stack.aws, "web-1", &[]).await.unwrap();
    let native = lab::guardduty_event(&web, &tor("f-both"));
    let copy = security_hub_copy(&native);
    let ingest = stack.queue("ingest");
    ingest.send(&copy.to_string()).await.unwrap();
    ingest.send(&native.to_string()).await.unwrap();
    let deliveries = drain(&stack.routes(), &stack.functions, 3, 50).await.expect("pump");
    let ingest_batches: Vec<_> = deliveries.iter().filter(|d| d.function == "ingest").collect();
    assert_eq!(ingest_batches.len(), 1, "one batch carried both: {deliveries:?}");

    let doc = stack.document("f-both").await;
    assert_eq!(doc.verdict.as_ref().unwrap().verdict.as_str(), "incident");
    let s = statuses(&doc);
    for action in ["ec2.isolate", "ec2.snapshot", "notify"] {
        let done: Vec<_> = s.iter().filter(|(a, st)| a == action && st == "executed").collect();
        assert_eq!(done.len(), 1, "{action} once: {s:?}");
    }
    let ledger = stack.state.ledger(doc.ledger_scope()).await.unwrap();
    let isolations = ledger
        .iter()
        .filter(|e| e.sk.starts_with("ACTION#ec2.isolate#"))
        .count();
    assert_eq!(isolations, 1, "{ledger:?}");
    // One alert went on past ingest: the enrich, evaluate and remediate functions saw one message.
    for phase in ["enrich", "evaluate", "remediate"] {
        let messages: usize = deliveries
            .iter()
            .filter(|d| d.function == phase)
            .map(|d| d.messages)
            .sum();
        assert_eq!(messages, 1, "{phase}: {deliveries:?}");
    }
}

/// A GuardDuty finding of `finding_type` about `resource` (a GuardDuty `Resource` block), from a
/// remote address, in the stack's account and region.
fn finding_about(id: &str, finding_type: &str, resource: Value) -> Value {
    json!({
        "schemaVersion": "2.0", "accountId": ACCOUNT, "region": REGION, "id": id,
        "type": finding_type, "severity": 8, "updatedAt": "2026-11-20T09:00:00Z", "title": finding_type,
        "resource": resource,
        "service": {"serviceName": "guardduty", "archived": false, "additionalInfo": {},
            "action": {"actionType": "AWS_API_CALL", "awsApiCallAction": {"api": "GetObject",
                "remoteIpDetails": {"ipAddressV4": "198.51.100.23"}}}}
    })
}

/// `soar rollback` on the alert: dry run (nothing changes), then `--enforce`, then again.
/// Returns the three outputs.
fn roll_back_three_times(stack: &Stack, alert_id: &str, selection: &[&str]) -> [String; 3] {
    let args = |extra: &[&str]| -> Vec<String> {
        ["rollback", alert_id]
            .iter()
            .chain(selection)
            .chain(extra)
            .map(|s| s.to_string())
            .collect()
    };
    let run = |extra: &[&str]| {
        let args = args(extra);
        let (code, out) = soar_cli(stack, &args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(code, Some(0), "{out}");
        out
    };
    let dry = run(&[]);
    assert!(dry.contains("dry run: nothing changed"), "{dry}");
    let done = run(&["--enforce"]);
    assert!(done.contains("rolled_back"), "{done}");
    let again = run(&["--enforce"]);
    assert!(
        again.contains("already_rolled_back") && !again.contains("\nrolled_back"),
        "{again}"
    );
    [dry, done, again]
}

/// Instance-role credentials used outside AWS: the role's older sessions are revoked and the
/// profile comes off the instance (no key deactivation); `soar rollback` undoes both, once.
#[tokio::test]
async fn stolen_instance_role_credentials_are_revoked_detached_and_rolled_back() {
    let stack = Stack::start(Mode::Enforce).await;
    let (iam, ec2) = (
        aws_sdk_iam::Client::new(&stack.aws),
        aws_sdk_ec2::Client::new(&stack.aws),
    );
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let role = iam
        .create_role()
        .role_name("app-server-role")
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
    let role_id = role.role().unwrap().role_id().to_string();
    let profile = iam
        .create_instance_profile()
        .instance_profile_name("app-server")
        .send()
        .await
        .unwrap();
    let profile_arn = profile.instance_profile().unwrap().arn().to_string();
    iam.add_role_to_instance_profile()
        .instance_profile_name("app-server")
        .role_name("app-server-role")
        .send()
        .await
        .unwrap();
    let web = lab::create_instance(&stack.aws, "app-1", &[]).await.unwrap();
    ec2.associate_iam_instance_profile()
        .instance_id(&web.instance_id)
        .iam_instance_profile(
            aws_sdk_ec2::types::IamInstanceProfileSpecification::builder()
                .arn(&profile_arn)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let finding = finding_about(
        "f-role",
        "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
        json!({"resourceType": "AccessKey",
            "accessKeyDetails": {"accessKeyId": "ASIAEXAMPLETEMPKEY01", "principalId": format!("{role_id}:{}", web.instance_id),
                "userName": "app-server-role", "userType": "AssumedRole"},
            "instanceDetails": {"instanceId": web.instance_id}}),
    );
    stack.queue("ingest").send(&finding.to_string()).await.unwrap();
    stack.run().await;
    let doc = stack.document("f-role").await;
    let got = statuses(&doc);
    for action in ["iam.revoke_role_sessions", "ec2.detach_instance_profile"] {
        assert!(
            got.contains(&(action.into(), "executed".into())),
            "{action}: {got:?} {:?}",
            doc.actions
        );
    }
    assert!(!got.iter().any(|(a, _)| a == "iam.deactivate_access_key"), "{got:?}");
    let revocation = iam
        .get_role_policy()
        .role_name("app-server-role")
        .policy_name("soar-revoke-older-sessions")
        .send()
        .await
        .unwrap();
    // IAM answers with the document URL-encoded (`aws%3ATokenIssueTime`).
    assert!(
        revocation.policy_document().contains("TokenIssueTime"),
        "{revocation:?}"
    );
    let associated = |ec2: aws_sdk_ec2::Client, id: String| async move {
        ec2.describe_iam_instance_profile_associations()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("instance-id")
                    .values(id)
                    .build(),
            )
            .send()
            .await
            .unwrap()
            .iam_instance_profile_associations()
            .iter()
            .filter(|a| a.state().map(|s| s.as_str()) == Some("associated"))
            .count()
    };
    assert_eq!(associated(ec2.clone(), web.instance_id.clone()).await, 0);

    let [dry, _, _] = roll_back_three_times(&stack, &doc.alert.id, &[]);
    assert!(dry.contains("iam:DeleteRolePolicy RoleName=app-server-role"), "{dry}");
    assert!(
        dry.contains(&format!(
            "ec2:AssociateIamInstanceProfile InstanceId={}",
            web.instance_id
        )),
        "{dry}"
    );
    let gone = iam
        .get_role_policy()
        .role_name("app-server-role")
        .policy_name("soar-revoke-older-sessions")
        .send()
        .await;
    assert!(gone.is_err(), "the revocation policy is deleted");
    assert_eq!(associated(ec2, web.instance_id.clone()).await, 1);
    let ledger = stack.state.ledger(doc.ledger_scope()).await.unwrap();
    for action in ["iam.revoke_role_sessions", "ec2.detach_instance_profile"] {
        let sk = format!("ACTION#rollback:{action}#");
        let entries: Vec<_> = ledger.iter().filter(|e| e.sk.starts_with(&sk)).collect();
        assert_eq!(entries.len(), 1, "{action}: {ledger:?}");
        assert_eq!(entries[0].status, "executed");
    }
}

/// Every bucket of an S3 finding gets its public access blocked and the Lambda function of a
/// Lambda finding is throttled; rollback puts back each bucket's previous block (or none) and
/// the function's previous reserved concurrency.
#[tokio::test]
async fn buckets_and_functions_are_contained_and_rolled_back() {
    let stack = Stack::start(Mode::Enforce).await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&stack.aws)
            .force_path_style(true)
            .build(),
    );
    for bucket in ["data-a", "data-b", "www-site"] {
        s3.create_bucket().bucket(bucket).send().await.unwrap();
    }
    // Tagged protected on the bucket itself, not in the finding: read live before acting.
    let protected = aws_sdk_s3::types::Tag::builder()
        .key("soar:protected")
        .value("true")
        .build()
        .unwrap();
    s3.put_bucket_tagging()
        .bucket("www-site")
        .tagging(
            aws_sdk_s3::types::Tagging::builder()
                .tag_set(protected)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let partial = aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .ignore_public_acls(false)
        .block_public_policy(false)
        .restrict_public_buckets(false)
        .build();
    s3.put_public_access_block()
        .bucket("data-a")
        .public_access_block_configuration(partial)
        .send()
        .await
        .unwrap();
    let finding = finding_about(
        "f-s3",
        "Exfiltration:S3/MaliciousIPCaller",
        json!({"resourceType": "S3Bucket",
            "accessKeyDetails": {"accessKeyId": "ASIAEXAMPLETEMPKEY02", "userName": "etl-role", "userType": "AssumedRole"},
            "s3BucketDetails": [{"name": "data-a", "arn": "arn:aws:s3:::data-a"}, {"name": "data-b", "arn": "arn:aws:s3:::data-b"},
                {"name": "www-site", "arn": "arn:aws:s3:::www-site"}]}),
    );
    stack.queue("ingest").send(&finding.to_string()).await.unwrap();

    let iam = aws_sdk_iam::Client::new(&stack.aws);
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    iam.create_role()
        .role_name("etl-role")
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
    let role = iam
        .create_role()
        .role_name("payments-fn")
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
    let lambda = aws_sdk_lambda::Client::new(&stack.aws);
    lambda
        .create_function()
        .function_name("payments")
        .runtime(aws_sdk_lambda::types::Runtime::Python312)
        .role(role.role().unwrap().arn())
        .handler("index.handler")
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(zip_with_handler().into())
                .build(),
        )
        .send()
        .await
        .unwrap();
    lambda
        .put_function_concurrency()
        .function_name("payments")
        .reserved_concurrent_executions(5)
        .send()
        .await
        .unwrap();
    let finding = finding_about(
        "f-fn",
        "Backdoor:Lambda/C&CActivity.B",
        json!({"resourceType": "Lambda", "lambdaDetails": {"functionName": "payments",
            "functionArn": format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:payments")}}),
    );
    stack.queue("ingest").send(&finding.to_string()).await.unwrap();
    stack.run().await;

    let doc = stack.document("f-s3").await;
    let blocked: Vec<_> = doc
        .actions
        .iter()
        .filter(|a| a.request.action == "s3.block_public_access" && a.status.as_str() == "executed")
        .map(|a| a.request.target.id.clone())
        .collect();
    assert_eq!(blocked, ["data-a", "data-b"], "{:?}", doc.actions);
    let site = doc.actions.iter().find(|a| a.request.target.id == "www-site").unwrap();
    assert_eq!(site.status.as_str(), "skipped_protected", "{site:?}");
    assert!(
        statuses(&doc).contains(&("iam.revoke_role_sessions".into(), "executed".into())),
        "the caller's role: {:?}",
        doc.actions
    );
    let block = |bucket: &'static str| {
        let s3 = s3.clone();
        async move {
            s3.get_public_access_block()
                .bucket(bucket)
                .send()
                .await
                .ok()
                .and_then(|o| o.public_access_block_configuration().cloned())
                .map(|c| {
                    (
                        c.block_public_acls(),
                        c.ignore_public_acls(),
                        c.block_public_policy(),
                        c.restrict_public_buckets(),
                    )
                })
        }
    };
    let all = Some((Some(true), Some(true), Some(true), Some(true)));
    assert_eq!(block("data-a").await, all);
    assert_eq!(block("data-b").await, all);

    let fn_doc = stack.document("f-fn").await;
    assert!(
        statuses(&fn_doc).contains(&("lambda.throttle".into(), "executed".into())),
        "{:?}",
        fn_doc.actions
    );
    let reserved = || async {
        lambda
            .get_function_concurrency()
            .function_name("payments")
            .send()
            .await
            .unwrap()
            .reserved_concurrent_executions()
    };
    assert_eq!(reserved().await, Some(0));

    let [dry, _, _] = roll_back_three_times(&stack, &doc.alert.id, &["s3.block_public_access"]);
    assert!(dry.contains("s3:DeleteBucketPublicAccessBlock Bucket=data-b"), "{dry}");
    assert!(
        dry.contains("s3:PutBucketPublicAccessBlock Bucket=data-a BlockPublicAcls=true IgnorePublicAcls=false"),
        "{dry}"
    );
    assert_eq!(
        block("data-a").await,
        Some((Some(true), Some(false), Some(false), Some(false)))
    );
    assert_eq!(block("data-b").await, None);

    let [dry, _, _] = roll_back_three_times(&stack, &fn_doc.alert.id, &["lambda.throttle", "payments"]);
    assert!(
        dry.contains("lambda:PutFunctionConcurrency FunctionName=payments ReservedConcurrentExecutions=5"),
        "{dry}"
    );
    assert_eq!(reserved().await, Some(5));
}

/// An ECS runtime finding: the task's stop waits for a person, is carried out once when approved,
/// and cannot be rolled back (the rollback says so and changes nothing).
#[tokio::test]
async fn an_ecs_task_is_stopped_only_after_approval_and_cannot_be_rolled_back() {
    let stack = Stack::start(Mode::Enforce).await;
    let ecs = aws_sdk_ecs::Client::new(&stack.aws);
    let cluster = ecs.create_cluster().cluster_name("prod-ecs").send().await.unwrap();
    let cluster_arn = cluster.cluster().unwrap().cluster_arn().unwrap().to_string();
    let container = aws_sdk_ecs::types::ContainerDefinition::builder()
        .name("app")
        .image("example/app:1")
        .memory(128)
        .build();
    ecs.register_task_definition()
        .family("app")
        .container_definitions(container)
        // Bridge networking: moto runs such a task on its managed capacity without a subnet.
        .network_mode(aws_sdk_ecs::types::NetworkMode::Bridge)
        .cpu("256")
        .memory("512")
        .send()
        .await
        .unwrap();
    let run = ecs
        .run_task()
        .cluster("prod-ecs")
        .task_definition("app")
        .launch_type(aws_sdk_ecs::types::LaunchType::Fargate)
        .send()
        .await
        .unwrap();
    let task_arn = run.tasks()[0].task_arn().unwrap().to_string();
    let finding = finding_about(
        "f-ecs",
        "CryptoCurrency:Runtime/BitcoinTool.B",
        json!({"resourceType": "ECSCluster",
            "ecsClusterDetails": {"name": "prod-ecs", "arn": cluster_arn,
                "taskDetails": {"arn": task_arn, "definitionArn": "app:1", "launchType": "FARGATE"}},
            "containerDetails": {"id": "0123456789ab", "name": "app", "image": "example/app:1"}}),
    );
    stack.queue("ingest").send(&finding.to_string()).await.unwrap();
    stack.run().await;
    let doc = stack.document("f-ecs").await;
    assert!(
        statuses(&doc).contains(&("ecs.stop_task".into(), "pending_approval".into())),
        "{:?}",
        doc.actions
    );
    let notify = doc.actions.iter().find(|a| a.request.action == "notify").unwrap();
    assert!(
        notify.request.params["commands"][0]
            .as_str()
            .unwrap()
            .starts_with("aws ecs describe-tasks --cluster"),
        "{notify:?}"
    );
    let desired = || async {
        ecs.describe_tasks()
            .cluster("prod-ecs")
            .tasks(&task_arn)
            .send()
            .await
            .unwrap()
            .tasks()[0]
            .desired_status()
            .map(String::from)
    };
    assert_eq!(desired().await.as_deref(), Some("RUNNING"));

    let (code, out) = soar_cli(&stack, &["rollback", &doc.alert.id]);
    assert_eq!(code, Some(2), "nothing executed yet: {out}");
    let (code, out) = soar_cli(&stack, &["approve", &doc.alert.id, "ecs.stop_task"]);
    assert_eq!(code, Some(0), "{out}");
    stack.run().await;
    let doc = stack.document("f-ecs").await;
    assert!(
        statuses(&doc).contains(&("ecs.stop_task".into(), "executed".into())),
        "{:?}",
        doc.actions
    );
    assert_eq!(desired().await.as_deref(), Some("STOPPED"));
    let (code, out) = soar_cli(&stack, &["rollback", &doc.alert.id, "ecs.stop_task", "--enforce"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("not_reversible") && out.contains("ecs.stop_task cannot be undone"),
        "{out}"
    );
}

/// In dry run every new action is planned with the exact API calls it would make, nothing is
/// called, and there is nothing to roll back.
#[tokio::test]
async fn the_new_actions_are_planned_with_their_api_calls_in_dry_run() {
    let stack = Stack::start(Mode::DryRun).await;
    let findings = [
        finding_about(
            "f-plan-role",
            "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
            json!({"resourceType": "AccessKey",
                "accessKeyDetails": {"accessKeyId": "ASIAEXAMPLETEMPKEY03", "userName": "app-server-role", "userType": "AssumedRole"},
                "instanceDetails": {"instanceId": "i-0123456789abcdef0"}}),
        ),
        finding_about(
            "f-plan-s3",
            "Exfiltration:S3/MaliciousIPCaller",
            json!({"resourceType": "S3Bucket", "s3BucketDetails": [{"name": "data-a"}]}),
        ),
        finding_about(
            "f-plan-fn",
            "Backdoor:Lambda/C&CActivity.B",
            json!({"resourceType": "Lambda", "lambdaDetails": {"functionName": "payments"}}),
        ),
    ];
    for finding in &findings {
        stack.queue("ingest").send(&finding.to_string()).await.unwrap();
    }
    stack.run().await;
    let planned = |doc: &Document, action: &str| -> Vec<String> {
        let record = doc
            .actions
            .iter()
            .find(|a| a.request.action == action)
            .unwrap_or_else(|| panic!("{action} not planned: {:?}", doc.actions));
        assert_eq!(record.status.as_str(), "planned", "{record:?}");
        serde_json::from_value(record.detail["api_calls"].clone()).unwrap()
    };
    let role = stack.document("f-plan-role").await;
    assert_eq!(
        planned(&role, "iam.revoke_role_sessions")[1],
        "iam:PutRolePolicy RoleName=app-server-role PolicyName=soar-revoke-older-sessions (Deny * when aws:TokenIssueTime is before the time of the action)"
    );
    assert_eq!(
        planned(&role, "ec2.detach_instance_profile")[0],
        "ec2:DescribeIamInstanceProfileAssociations Filters=[instance-id=i-0123456789abcdef0]"
    );
    let bucket = stack.document("f-plan-s3").await;
    assert!(
        planned(&bucket, "s3.block_public_access")[1]
            .starts_with("s3:PutBucketPublicAccessBlock Bucket=data-a BlockPublicAcls=true")
    );
    let function = stack.document("f-plan-fn").await;
    assert_eq!(
        planned(&function, "lambda.throttle")[1],
        "lambda:PutFunctionConcurrency FunctionName=payments ReservedConcurrentExecutions=0"
    );
    let (code, out) = soar_cli(&stack, &["rollback", &function.alert.id]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("executed: none"), "{out}");
}

/// An empty zip archive (only the end-of-central-directory record, PKWARE APPNOTE 4.3.16):
/// CreateFunction needs code, and the function is never invoked here.
fn zip_with_handler() -> Vec<u8> {
    let mut out = 0x0605_4b50u32.to_le_bytes().to_vec();
    out.extend_from_slice(&[0; 18]);
    out
}

/// Every notification the topic delivered since the last call: (subject, pages).
async fn delivered(inbox: &SqsQueue) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    loop {
        let batch = inbox.receive(10, 0).await.unwrap();
        if batch.is_empty() {
            return out;
        }
        for m in batch {
            inbox.delete(&m.receipt_handle).await.unwrap();
            let envelope: Value = serde_json::from_str(&m.body).unwrap();
            let page = &envelope["MessageAttributes"][soar_respond::PAGE_ATTRIBUTE]["Value"];
            out.push((envelope["Subject"].as_str().unwrap_or("").to_string(), page == "true"));
        }
    }
}

impl Stack {
    /// A queue of the test's subscribed to the notification topic.
    async fn inbox(&self) -> SqsQueue {
        let sns = aws_sdk_sns::Client::new(&self.aws);
        let topic = sns.create_topic().name("soar-oncall").send().await.unwrap();
        let sqs = aws_sdk_sqs::Client::new(&self.aws);
        let queue = sqs.create_queue().queue_name("test-inbox").send().await.unwrap();
        let inbox = SqsQueue::new(sqs, queue.queue_url().unwrap());
        sns.subscribe()
            .topic_arn(topic.topic_arn().unwrap())
            .protocol("sqs")
            .endpoint(inbox.arn().await.unwrap())
            .send()
            .await
            .unwrap();
        inbox
    }
}

/// Fifty findings about one instance within 15 minutes, in random order, with duplicates and a
/// redelivered remediate message: one incident holding all fifty, one isolation, one page, and
/// at most one follow-up per window.
#[tokio::test]
async fn fifty_findings_about_one_instance_are_one_incident_answered_once() {
    let stack = Stack::start(Mode::Enforce).await;
    let inbox = stack.inbox().await;
    let web = lab::create_instance(&stack.aws, "web-1", &[]).await.unwrap();
    let now = chrono::Utc::now();
    let ids: Vec<String> = (0..50).map(|i| format!("f-burst-{i:02}")).collect();
    let mut events: Vec<Value> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let mut event = lab::guardduty_event(&web, &tor(id));
            // Spread over 15 minutes, not in the order they are sent.
            let at = now - chrono::Duration::seconds(((i * 37) % 900) as i64);
            event["detail"]["updatedAt"] = json!(soar_core::time::format_timestamp(&at));
            event
        })
        .collect();
    // A fixed shuffle, then three duplicates of findings already in the burst.
    events.sort_by_key(|e| {
        let id = e["detail"]["id"].as_str().unwrap().to_string();
        (id.bytes().map(u64::from).sum::<u64>() * 7919) % 101
    });
    for i in [3, 17, 41] {
        events.push(events[i].clone());
    }
    for event in &events {
        stack.publish(event).await;
    }
    stack.run().await;

    let mut incident_ids = std::collections::BTreeSet::new();
    let mut isolations = 0;
    for id in &ids {
        let doc = stack.document(id).await;
        assert!(
            doc.trace.iter().any(|t| t.phase.as_str() == "remediate"),
            "{id} was not answered: {:?}",
            doc.trace
        );
        incident_ids.insert(doc.incident.as_ref().expect("linked to an incident").id.clone());
        isolations += doc
            .actions
            .iter()
            .filter(|a| a.request.action == "ec2.isolate" && a.status.as_str() == "executed")
            .count();
    }
    assert_eq!(incident_ids.len(), 1, "{incident_ids:?}");
    assert_eq!(isolations, 1);
    let incident_id = incident_ids.into_iter().next().unwrap();
    use soar_core::ports::IncidentLog;
    let incident = stack.state.load_incident(&incident_id).await.unwrap().unwrap();
    assert_eq!(incident.alerts.len(), 50, "{incident:?}");
    assert_eq!(incident.key, format!("{ACCOUNT}/instance/{}", web.instance_id));

    // One redelivery of a remediate message: nothing is done again.
    let doc = stack.document(&ids[5]).await;
    stack.queue("remediate").send(&evaluated(&doc)).await.unwrap();
    stack.run().await;

    let ledger = stack.state.ledger(&incident_id).await.unwrap();
    let executed = |prefix: &str| {
        ledger
            .iter()
            .filter(|e| e.sk.starts_with(prefix) && e.status == "executed")
            .count()
    };
    assert_eq!(executed("ACTION#ec2.isolate#"), 1, "{ledger:?}");
    assert_eq!(executed("ACTION#ec2.snapshot#"), 1, "{ledger:?}");
    let notes = delivered(&inbox).await;
    let pages: Vec<_> = notes.iter().filter(|(_, page)| *page).collect();
    let follow_ups: Vec<_> = notes.iter().filter(|(s, _)| s.contains(" update: ")).collect();
    assert_eq!(pages.len(), 1, "{notes:?}");
    // The test runs well within one 30-minute window.
    assert!(follow_ups.len() <= 1, "{notes:?}");
    assert_eq!(notes.len(), pages.len() + follow_ups.len(), "{notes:?}");
    let (code, out) = soar_cli(&stack, &["incidents", "show", &incident_id]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("alerts     50"), "{out}");
    assert!(out.contains("ec2.isolate") && out.contains("timeline"), "{out}");
    let (code, out) = soar_cli(&stack, &["incidents", "list"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains(&incident_id), "{out}");
    println!(
        "INCIDENT alerts={} incidents=1 isolations={isolations} pages={} follow_ups={}",
        incident.alerts.len(),
        pages.len(),
        follow_ups.len()
    );
}

/// Two alerts of one key joining at the same moment, from two function instances (two state
/// clients), end in one incident; repeated over many keys.
#[tokio::test]
async fn alerts_joining_at_once_make_one_incident() {
    use soar_core::incident::{Grouping, IncidentMember, Joining};
    use soar_core::ports::IncidentLog;
    // Atomic conditional writes, as DynamoDB's (moto's threaded server is not: see start_serial).
    let moto = Moto::start_serial();
    let aws = sdk::local(&moto.endpoint()).await.unwrap();
    let env = setup(&aws, "race").await.expect("setup");
    let table = env.vars["SOAR_TABLE"].clone();
    let (one, other) = (
        DynamoState::new(aws_sdk_dynamodb_client(&aws), table.clone()),
        DynamoState::new(aws_sdk_dynamodb_client(&aws), table),
    );
    let now = chrono::Utc::now();
    let member = |alert: &str| IncidentMember {
        alert_id: alert.to_string(),
        kind: "UnauthorizedAccess:EC2/TorClient".into(),
        title: "t".into(),
        severity: "high".into(),
        verdict: soar_core::document::VerdictKind::Incident,
        at: soar_core::time::format_timestamp(&now),
        joined_at: soar_core::time::format_timestamp(&now),
    };
    for round in 0..20 {
        let grouping = Grouping {
            key: format!("{ACCOUNT}/instance/i-race{round:04}"),
            window_minutes: 30,
            also: Vec::new(),
        };
        let joining = |alert: String| Joining {
            grouping: &grouping,
            member: member(&alert),
            revision: "r1".into(),
            at: now,
            now,
        };
        let (a, b) = (joining(format!("a/{round}")), joining(format!("b/{round}")));
        let (first, second) = tokio::join!(one.join_incident(&a), other.join_incident(&b));
        let (first, second) = (first.unwrap(), second.unwrap());
        assert_eq!(first.id, second.id, "round {round}: {first:?} {second:?}");
        assert_eq!(
            [first.opened, second.opened].iter().filter(|o| **o).count(),
            1,
            "round {round}"
        );
        let incident = one.load_incident(&first.id).await.unwrap().unwrap();
        assert_eq!(incident.alerts.len(), 2, "round {round}: {incident:?}");
        // A redelivery of one of them gets its first link back.
        let again = other.join_incident(&b).await.unwrap();
        assert_eq!(again, second);
    }
}

/// A GuardDuty finding as Security Hub delivers it (ASFF), low severity: the default policies
/// call it a false positive. In `account`, with the detector `detector`.
fn low_finding_from_security_hub(id: &str, account: &str, detector: &str) -> Value {
    let arn = format!("arn:aws:guardduty:{REGION}:{account}:detector/{detector}/finding/{id}");
    json!({
        "version": "0", "id": format!("hub-{id}"), "detail-type": "Security Hub Findings - Imported",
        "source": "aws.securityhub", "account": account, "region": REGION, "time": "2026-11-20T09:00:00Z",
        "resources": [format!("arn:aws:securityhub:{REGION}::product/aws/guardduty/{arn}")],
        "detail": {"findings": [{
            "SchemaVersion": "2018-10-08", "Id": arn,
            "ProductArn": format!("arn:aws:securityhub:{REGION}::product/aws/guardduty"),
            "ProductName": "GuardDuty", "CompanyName": "Amazon", "AwsAccountId": account, "Region": REGION,
            "GeneratorId": format!("arn:aws:guardduty:{REGION}:{account}:detector/{detector}"),
            "Types": ["TTPs/Discovery/Recon:EC2-PortProbeUnprotectedPort"],
            "CreatedAt": "2026-11-20T09:00:00Z", "UpdatedAt": "2026-11-20T09:00:00Z",
            "Severity": {"Product": 2, "Label": "LOW", "Normalized": 20},
            "Title": "Unprotected port on EC2 instance i-0123456789abcdef0 is being probed.",
            "Resources": [{"Type": "AwsEc2Instance",
                "Id": format!("arn:aws:ec2:{REGION}:{account}:instance/i-0123456789abcdef0"),
                "Partition": "aws", "Region": REGION}],
            "RecordState": "ACTIVE", "Workflow": {"Status": "NEW"}
        }]}
    })
}

const WRITE_BACKS: [&str; 3] = [
    "guardduty.feedback",
    "guardduty.archive_finding",
    "securityhub.update_finding",
];

/// The verdict written back (issue 18): a false positive from Security Hub is archived and rated
/// in GuardDuty and suppressed in Security Hub with soar's note. Planned with the exact requests
/// in dry run (nothing sent); carried out exactly once in enforce, through a duplicate delivery
/// and a redelivered remediate message; `soar rollback` unarchives it and puts the workflow back.
/// The finding APIs are a recording endpoint on 127.0.0.1: see MOTO_LACKS.
#[tokio::test]
async fn a_false_positive_is_written_back_planned_in_dry_run_and_once_in_enforce() {
    eprintln!("recording endpoint for Security Hub and GuardDuty: {MOTO_LACKS}");
    let event = low_finding_from_security_hub("fp1", ACCOUNT, "lab");
    let published = Published {
        id: "fp1".into(),
        account: ACCOUNT.into(),
        finding_type: "Recon:EC2/PortProbeUnprotectedPort".into(),
        severity: 2.0,
    };
    let arn = format!("arn:aws:guardduty:{REGION}:{ACCOUNT}:detector/lab/finding/fp1");

    let dry = Stack::start(Mode::DryRun).await;
    dry.queue("ingest").send(&event.to_string()).await.unwrap();
    dry.run().await;
    let doc = dry.document("fp1").await;
    assert_eq!(doc.verdict.as_ref().unwrap().verdict.as_str(), "false_positive");
    let plan: Vec<_> = statuses(&doc);
    for action in WRITE_BACKS {
        assert!(plan.contains(&(action.into(), "planned".into())), "{plan:?}");
    }
    let calls = |action: &str| {
        let record = doc.actions.iter().find(|a| a.request.action == action).unwrap();
        record.detail["api_calls"].to_string()
    };
    assert!(
        calls("securityhub.update_finding").contains(&format!(
            "BatchUpdateFindings FindingIdentifiers=[{{Id={arn},ProductArn=arn:aws:securityhub:{REGION}::product/aws/guardduty}}] Workflow.Status=SUPPRESSED VerificationState=FALSE_POSITIVE"
        )),
        "{}",
        calls("securityhub.update_finding")
    );
    assert!(
        calls("guardduty.archive_finding")
            .contains("ArchiveFindings DetectorId=<the owner's detector> FindingIds=[fp1]")
    );
    assert!(calls("guardduty.feedback").contains("Feedback=NOT_USEFUL"));
    assert!(
        dry.findings.recorded().is_empty(),
        "a dry run sends nothing: {:?}",
        dry.findings.recorded()
    );

    // Enforce, with a duplicate delivery of the event.
    let stack = Stack::start(Mode::Enforce).await;
    stack.findings.publish(published);
    let ingest = stack.queue("ingest");
    ingest.send(&event.to_string()).await.unwrap();
    ingest.send(&event.to_string()).await.unwrap();
    stack.run().await;
    let doc = stack.document("fp1").await;
    for action in WRITE_BACKS {
        assert!(
            statuses(&doc).contains(&(action.into(), "executed".into())),
            "{:?}",
            doc.actions
        );
    }
    let once = |stack: &Stack| {
        for operation in [
            "BatchUpdateFindings",
            "ArchiveFindings",
            "UpdateFindingsFeedback",
            "GetAdministratorAccount",
        ] {
            assert_eq!(
                stack.findings.calls(operation).len(),
                1,
                "{operation}: {:?}",
                stack.findings.recorded()
            );
        }
        // GuardDuty confirms the finding before each of the three writes.
        assert_eq!(stack.findings.calls("ListFindings").len(), 3);
    };
    once(&stack);
    let update = &stack.findings.calls("BatchUpdateFindings")[0];
    assert_eq!(
        update.body["FindingIdentifiers"],
        json!([{"Id": arn, "ProductArn": format!("arn:aws:securityhub:{REGION}::product/aws/guardduty")}])
    );
    assert_eq!(update.body["Workflow"], json!({"Status": "SUPPRESSED"}));
    assert_eq!(update.body["VerificationState"], "FALSE_POSITIVE");
    let note = update.body["Note"]["Text"].as_str().unwrap();
    assert!(note.starts_with("soar: false_positive (low)."), "{note}");
    assert!(
        note.contains("Policies: ingest ") && note.contains("remediate "),
        "{note}"
    );
    assert!(note.chars().count() <= 512);
    assert_eq!(update.body["Note"]["UpdatedBy"], "soar");
    let archive = &stack.findings.calls("ArchiveFindings")[0];
    assert_eq!(archive.path, "/detector/lab/findings/archive");
    assert_eq!(archive.body, json!({"findingIds": ["fp1"]}));
    let feedback = &stack.findings.calls("UpdateFindingsFeedback")[0];
    assert_eq!(feedback.body["feedback"], "NOT_USEFUL");
    assert!(
        feedback.body["comments"]
            .as_str()
            .unwrap()
            .starts_with("soar: false_positive")
    );

    // Rollback: unarchived and the workflow put back, once; the feedback cannot be undone.
    let alert_id = doc.alert.id.clone();
    roll_back_three_times(&stack, &alert_id, &["guardduty.archive_finding"]);
    assert_eq!(stack.findings.calls("UnarchiveFindings").len(), 1);
    assert!(stack.findings.findings().archived.is_empty());
    roll_back_three_times(&stack, &alert_id, &["securityhub.update_finding"]);
    let restored = stack.findings.calls("BatchUpdateFindings");
    assert_eq!(restored.len(), 2, "{restored:?}");
    assert_eq!(restored[1].body["Workflow"], json!({"Status": "NEW"}));
    assert_eq!(restored[1].body["VerificationState"], "UNKNOWN");
    let (code, out) = soar_cli(&stack, &["rollback", &alert_id, "guardduty.feedback", "--enforce"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("guardduty.feedback cannot be undone"), "{out}");

    // The remediate message delivered again (Lambda retried it): the ledger answers, nothing is
    // written back a second time, and what was rolled back stays rolled back.
    stack.queue("remediate").send(&evaluated(&doc)).await.unwrap();
    stack.run().await;
    assert_eq!(stack.findings.calls("ArchiveFindings").len(), 1);
    assert_eq!(stack.findings.calls("UpdateFindingsFeedback").len(), 1);
    assert_eq!(
        stack.findings.calls("BatchUpdateFindings").len(),
        2,
        "the write and its rollback"
    );
    // The alert's record keeps what it did (with the rollback data), not the retry's duplicates.
    let doc = stack.document("fp1").await;
    for action in WRITE_BACKS {
        assert!(
            statuses(&doc).contains(&(action.into(), "executed".into())),
            "{:?}",
            doc.actions
        );
    }
    let ledger = stack.state.ledger(doc.ledger_scope()).await.unwrap();
    for action in WRITE_BACKS {
        let executed = ledger
            .iter()
            .filter(|e| e.sk.starts_with(&format!("ACTION#{action}#")) && e.status == "executed")
            .count();
        assert_eq!(executed, 1, "{action}: {ledger:?}");
    }
}

/// A member account's finding is archived by the GuardDuty administrator account (here the
/// account soar runs in) with the administrator's own detector: GetAdministratorAccount in the
/// member account, then ListDetectors where the administrator is.
#[tokio::test]
async fn a_member_accounts_false_positive_is_archived_by_the_administrator() {
    const MEMBER: &str = "111122223333";
    let organisation = Organisation {
        administrators: [("member-detector".to_string(), ACCOUNT.to_string())].into(),
        detector_id: "admin-detector".into(),
    };
    let stack = Stack::start_full(
        Mode::Enforce,
        &[("SOAR_RESPONDER_ROLE_NAME", "soar-responder")],
        organisation,
    )
    .await;
    let event = low_finding_from_security_hub("fp-member", MEMBER, "member-detector");
    stack.findings.publish(Published {
        id: "fp-member".into(),
        account: MEMBER.into(),
        finding_type: "Recon:EC2/PortProbeUnprotectedPort".into(),
        severity: 2.0,
    });
    stack.queue("ingest").send(&event.to_string()).await.unwrap();
    stack.run().await;
    let alert_id = format!("guardduty/{MEMBER}/{REGION}/fp-member");
    use soar_core::ports::AlertLog;
    let doc = stack.state.load_document(&alert_id).await.unwrap().unwrap();
    let archive = doc
        .actions
        .iter()
        .find(|a| a.request.action == "guardduty.archive_finding")
        .unwrap();
    assert_eq!(archive.status.as_str(), "executed", "{archive:?}");
    assert_eq!(archive.detail["account"], ACCOUNT);
    assert_eq!(archive.detail["administrator"], true);
    let asked = stack.findings.calls("GetAdministratorAccount");
    assert_eq!(asked.len(), 1, "asked once, then known");
    assert_eq!(asked[0].path, "/detector/member-detector/administrator");
    assert_eq!(stack.findings.calls("ListDetectors").len(), 1);
    let archived = stack.findings.calls("ArchiveFindings");
    assert_eq!(archived.len(), 1);
    assert_eq!(archived[0].path, "/detector/admin-detector/findings/archive");
    let feedback = stack.findings.calls("UpdateFindingsFeedback");
    assert_eq!(feedback[0].path, "/detector/admin-detector/findings/feedback");
}

/// A false positive about a finding GuardDuty does not have as described (a forged alert naming
/// a real finding's id, or a stale copy): nothing is hidden or rated, and the refusal is recorded.
#[tokio::test]
async fn a_finding_guardduty_does_not_confirm_is_neither_hidden_nor_rated() {
    let stack = Stack::start(Mode::Enforce).await;
    // GuardDuty has fp-real, but as a high-severity backdoor, not the low probe the alert says.
    stack.findings.publish(Published {
        id: "fp-real".into(),
        account: ACCOUNT.into(),
        finding_type: "Backdoor:EC2/C&CActivity.B".into(),
        severity: 8.0,
    });
    let event = low_finding_from_security_hub("fp-real", ACCOUNT, "lab");
    stack.queue("ingest").send(&event.to_string()).await.unwrap();
    stack.run().await;
    let doc = stack.document("fp-real").await;
    for action in WRITE_BACKS {
        let record = doc.actions.iter().find(|a| a.request.action == action).unwrap();
        assert_eq!(record.status.as_str(), "failed", "{record:?}");
        assert!(
            record.detail.to_string().contains("has no finding fp-real"),
            "{record:?}"
        );
    }
    for operation in ["BatchUpdateFindings", "ArchiveFindings", "UpdateFindingsFeedback"] {
        assert!(
            stack.findings.calls(operation).is_empty(),
            "{operation}: {:?}",
            stack.findings.recorded()
        );
    }
    assert_eq!(stack.findings.calls("ListFindings").len(), 3);
}

/// An attack sequence takes in the incidents of what it names (issue 18): the open incident of a
/// signal about another instance is absorbed (listed in the sequence's, marked absorbed by it),
/// and later alerts of that instance, or of the sequence's principal, join the sequence's
/// incident. The same on both state stores: DynamoDB (moto) and memory.
async fn an_attack_sequence_absorbs_what_it_names(log: &dyn soar_core::ports::IncidentLog) {
    use soar_core::incident::{Grouping, IncidentMember, Joining};
    let grouping = |key: &str, also: &[&str]| Grouping {
        key: key.to_string(),
        window_minutes: 30,
        also: also.iter().map(|k| k.to_string()).collect(),
    };
    fn joining<'a>(grouping: &'a Grouping, alert: &str) -> Joining<'a> {
        let now = chrono::Utc::now();
        Joining {
            grouping,
            member: IncidentMember {
                alert_id: alert.to_string(),
                kind: "Backdoor:EC2/C&CActivity.B".into(),
                title: "t".into(),
                severity: "high".into(),
                verdict: soar_core::document::VerdictKind::Incident,
                at: soar_core::time::format_timestamp(&now),
                joined_at: soar_core::time::format_timestamp(&now),
            },
            revision: "r1".into(),
            at: now,
            now,
        }
    }
    let (a, b, p) = ("1/instance/i-a", "1/instance/i-b", "1/principal/app-role");
    let signal = log
        .join_incident(&joining(&grouping(b, &[]), "signal-b"))
        .await
        .unwrap();
    let sequence_grouping = grouping(a, &[b, p]);
    let sequence = log
        .join_incident(&joining(&sequence_grouping, "sequence"))
        .await
        .unwrap();
    assert!(sequence.opened && sequence.id != signal.id, "{sequence:?}");
    let later_b = log.join_incident(&joining(&grouping(b, &[]), "later-b")).await.unwrap();
    let later_p = log.join_incident(&joining(&grouping(p, &[]), "later-p")).await.unwrap();
    assert_eq!(
        (later_b.id.as_str(), later_p.id.as_str()),
        (sequence.id.as_str(), sequence.id.as_str())
    );
    // Delivered again, the sequence gets its link back and absorbs nothing twice.
    let again = log
        .join_incident(&joining(&sequence_grouping, "sequence"))
        .await
        .unwrap();
    assert_eq!(again, sequence);
    let taking = log.load_incident(&sequence.id).await.unwrap().unwrap();
    assert_eq!(taking.absorbed, std::slice::from_ref(&signal.id));
    let mut members: Vec<&str> = taking.alerts.iter().map(|m| m.alert_id.as_str()).collect();
    members.sort();
    assert_eq!(members, ["later-b", "later-p", "sequence"]);
    let absorbed = log.load_incident(&signal.id).await.unwrap().unwrap();
    assert_eq!(absorbed.absorbed_by.as_deref(), Some(sequence.id.as_str()));
    assert_eq!(absorbed.alerts.len(), 1, "its own alerts stay its own");
}

#[tokio::test]
async fn an_attack_sequence_absorbs_the_open_incidents_of_what_it_names() {
    let moto = Moto::start_serial();
    let aws = sdk::local(&moto.endpoint()).await.unwrap();
    let env = setup(&aws, "absorb").await.expect("setup");
    let dynamo = DynamoState::new(aws_sdk_dynamodb_client(&aws), env.vars["SOAR_TABLE"].clone());
    an_attack_sequence_absorbs_what_it_names(&dynamo).await;
    an_attack_sequence_absorbs_what_it_names(&soar_offline::memory::MemoryState::new()).await;
}

// ------------------------------------------------------------------------------------------------
// Approvals in Slack: remediate asks in a Slack stand-in; the approvals function, under cargo
// lambda's emulator, takes the presses.

/// The Secrets Manager names of the Slack app's bot token and signing secret.
const BOT_TOKEN_SECRET: &str = "soar/slack-bot-token";
const SIGNING_SECRET_ID: &str = "soar/slack-signing-secret";

/// What remediate and the approvals function read to reach the stand-in.
fn slack_vars(slack: &SlackStandIn) -> Vec<(String, String)> {
    [
        ("SOAR_SLACK_BOT_TOKEN_SECRET_ID", BOT_TOKEN_SECRET.to_string()),
        ("SOAR_SLACK_SIGNING_SECRET_ID", SIGNING_SECRET_ID.to_string()),
        ("SOAR_SLACK_CHANNEL", soar_tests::slack::CHANNEL.to_string()),
        ("SOAR_SLACK_API_URL", slack.api_url()),
        ("SOAR_SLACK_RESPONSE_URL_PREFIX", slack.hooks()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// A stack that asks in `slack`, the Slack app's secrets in its Secrets Manager, and the
/// approvals function under the emulator (warmed up: its first invocation builds it).
async fn slack_stack(slack: &SlackStandIn, extra: &[(&str, &str)]) -> (Stack, soar_local::LambdaEmulator) {
    let vars = slack_vars(slack);
    let mut all: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    all.extend_from_slice(extra);
    let stack = Stack::start_with(Mode::Enforce, &all).await;
    let secrets = aws_sdk_secretsmanager::Client::new(&stack.aws);
    for (name, value) in [
        (BOT_TOKEN_SECRET, "xoxb-test-token"),
        (SIGNING_SECRET_ID, soar_tests::slack::SIGNING_SECRET),
    ] {
        secrets
            .create_secret()
            .name(name)
            .secret_string(value)
            .send()
            .await
            .unwrap();
    }
    let mut env: Vec<(String, String)> = stack.env.vars.clone().into_iter().collect();
    env.extend(vars);
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    for (k, v) in [
        ("AWS_ENDPOINT_URL", stack.moto.endpoint()),
        ("AWS_ACCESS_KEY_ID", "testing".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
        ("AWS_REGION", REGION.to_string()),
    ] {
        env.push((k.to_string(), v));
    }
    let log = tempfile::NamedTempFile::new().unwrap().into_file();
    let emulator = soar_local::LambdaEmulator::start(&soar_tests::root(), &env, log).unwrap();
    let swept = emulator
        .invoker()
        .invoke(
            "approvals",
            json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}),
        )
        .await
        .unwrap();
    assert_eq!(swept, json!({"expired": 0}), "nothing waits yet");
    (stack, emulator)
}

/// POSTs `body` to the approvals function's URL with `headers`: (status, JSON answer).
async fn post_press(emulator: &soar_local::LambdaEmulator, body: &str, headers: &[(&str, String)]) -> (u16, Value) {
    let url = format!("http://127.0.0.1:{}/lambda-url/approvals/", emulator.port);
    let mut request = soar_https::web_client()
        .build()
        .unwrap()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| json!({"raw": text})),
    )
}

async fn ledger_status(stack: &Stack, doc: &Document, action: &str, target: &str) -> String {
    use soar_core::ports::ActionLedger;
    stack
        .state
        .approval(doc.ledger_scope(), action, target)
        .await
        .unwrap()
        .map(|a| a.status)
        .unwrap_or_default()
}

#[tokio::test]
async fn slack_presses_are_checked_and_an_approval_runs_once() {
    use soar_tests::slack::{SIGNING_SECRET, signed};
    let slack = SlackStandIn::start().await;
    let (stack, emulator) = slack_stack(&slack, &[]).await;
    let web = lab::create_instance(&stack.aws, "web-1", &[]).await.unwrap();
    let critical = LabFinding {
        severity: 9.5,
        ..tor("f-slack")
    };
    stack.publish(&lab::guardduty_event(&web, &critical)).await;
    stack.run().await;
    let doc = stack.document("f-slack").await;
    let id = web.instance_id.as_str();
    assert_eq!(ledger_status(&stack, &doc, "ec2.stop", id).await, "pending_approval");

    // The question: the alert, verdict, reasons, the exact action and its plan, two buttons.
    let questions = slack.questions();
    assert_eq!(questions.len(), 1, "{questions:?}");
    let question = questions[0].to_string();
    for expected in [
        "ec2.stop",
        id,
        "ec2:StopInstances",
        "incident",
        "UnauthorizedAccess:EC2/TorClient",
    ] {
        assert!(question.contains(expected), "{expected} missing from {question}");
    }
    let approve = SlackStandIn::button(&questions[0], "soar_approve");
    let now = chrono::Utc::now().timestamp();

    // Badly signed, or signed five minutes too early: 401, nothing read.
    let body = slack.press("U0ONCALL1", "soar_approve", &approve);
    let (status, answer) = post_press(&emulator, &body, &signed("not-the-secret", &body, now)).await;
    assert_eq!(status, 401, "{answer}");
    let (status, answer) = post_press(&emulator, &body, &signed(SIGNING_SECRET, &body, now - 400)).await;
    assert_eq!(status, 401, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("timestamp"), "{answer}");
    let tampered = body.replace("U0ONCALL1", "U0ONCALL2");
    let (status, _) = post_press(&emulator, &tampered, &signed(SIGNING_SECRET, &body, now)).await;
    assert_eq!(status, 401, "a body changed after signing");
    assert_eq!(ledger_status(&stack, &doc, "ec2.stop", id).await, "pending_approval");

    // Signed, by someone the approver policy does not name: refused, told only to them.
    let stranger = slack.press("U0STRANGER", "soar_approve", &approve);
    let (status, answer) = post_press(&emulator, &stranger, &signed(SIGNING_SECRET, &stranger, now)).await;
    assert_eq!((status, &answer["ok"]), (200, &json!(false)), "{answer}");
    assert!(
        answer["refused"].as_str().unwrap().contains("may not approve ec2.stop"),
        "{answer}"
    );
    let told = slack.received("/hooks/press-U0STRANGER");
    assert_eq!(told[0]["response_type"], "ephemeral", "{told:?}");
    assert_eq!(ledger_status(&stack, &doc, "ec2.stop", id).await, "pending_approval");

    // The on-call approves: the message says so, the alert goes back to remediate.
    let (status, answer) = post_press(&emulator, &body, &signed(SIGNING_SECRET, &body, now)).await;
    assert_eq!((status, &answer["ok"]), (200, &json!(true)), "{answer}");
    let replaced = slack.received("/hooks/press-U0ONCALL1");
    assert_eq!(replaced[0]["replace_original"], true);
    assert!(
        replaced[0].to_string().contains("Approved by slack:U0ONCALL1"),
        "{replaced:?}"
    );
    // A second press (the same person, or another approver) finds it answered.
    let other = slack.press("U0ONCALL2", "soar_approve", &approve);
    let (_, answer) = post_press(&emulator, &other, &signed(SIGNING_SECRET, &other, now)).await;
    assert!(
        answer["refused"]
            .as_str()
            .unwrap()
            .contains("approved already by slack:U0ONCALL1"),
        "{answer}"
    );

    stack.run().await;
    let doc = stack.document("f-slack").await;
    assert!(
        statuses(&doc).contains(&("ec2.stop".into(), "executed".into())),
        "{:?}",
        statuses(&doc)
    );
    assert_eq!(ledger_status(&stack, &doc, "ec2.stop", id).await, "executed");
    let state = soar_ec2::Ec2::new(std::sync::Arc::new(sdk::AccountConfigs::new(
        stack.aws.clone(),
        None,
        sdk::session::REMEDIATE,
    )))
    .describe_instance("", "", id)
    .await
    .unwrap()
    .unwrap()
    .state;
    assert!(state == "stopping" || state == "stopped", "{state}");
    // The question now shows the outcome in place of its buttons.
    let updates = slack.received("/api/chat.update");
    assert!(
        updates
            .iter()
            .any(|u| u["ts"] == "1700000000.000001" && u.to_string().contains("executed")),
        "{updates:?}"
    );
    // The answer is in the alert's decision record, the approved stop once in its document.
    assert_eq!(
        doc.actions.iter().filter(|a| a.request.action == "ec2.stop").count(),
        1,
        "{:?}",
        statuses(&doc)
    );

    // Another instance's question, then a new policy revision re-plans it: the old message is
    // superseded, its button refused, and a new question asked.
    let db = lab::create_instance(&stack.aws, "db-1", &[]).await.unwrap();
    stack
        .publish(&lab::guardduty_event(
            &db,
            &LabFinding {
                severity: 9.5,
                ..tor("f-slack-2")
            },
        ))
        .await;
    stack.run().await;
    let doc2 = stack.document("f-slack-2").await;
    let old = SlackStandIn::button(slack.questions().last().unwrap(), "soar_approve");
    let redeployed = redeployed_remediate(&stack, &slack);
    redeployed.handle_body(&evaluated(&doc2)).await;
    assert_eq!(slack.questions().len(), 3, "asked again for the new plan");
    let new = SlackStandIn::button(slack.questions().last().unwrap(), "soar_approve");
    assert_ne!(old, new);
    let stale = slack.press("U0ONCALL1", "soar_approve", &old);
    let (_, answer) = post_press(&emulator, &stale, &signed(SIGNING_SECRET, &stale, now)).await;
    assert!(
        answer["refused"].as_str().unwrap().contains("the plan changed"),
        "{answer}"
    );
    assert_eq!(
        ledger_status(&stack, &doc2, "ec2.stop", &db.instance_id).await,
        "pending_approval"
    );
}

/// remediate of the same deployment after a policy change (another revision of the data).
fn redeployed_remediate(stack: &Stack, slack: &SlackStandIn) -> DocumentFunction {
    let dir = tempfile::tempdir().unwrap();
    soar_tests::copy_policies(dir.path());
    let data = dir.path().join("common/data.json");
    let mut value: Value = serde_json::from_str(&std::fs::read_to_string(&data).unwrap()).unwrap();
    value["soar"]["config"]["remediate"]["stop_min_severity"] = json!(8.5);
    std::fs::write(&data, value.to_string()).unwrap();
    let policies = std::sync::Arc::new(soar_policy::PolicySet::from_dir(
        dir.path(),
        soar_policy::DEFAULT_TIME_LIMIT,
    ));
    let mut vars = stack.env.vars.clone();
    vars.insert("SOAR_MODE".into(), "enforce".into());
    vars.extend(slack_vars(slack));
    let config = Config::from_lookup(|k| vars.get(k).cloned()).unwrap();
    wire::remediate(&config, &stack.aws, policies).unwrap()
}

#[tokio::test]
async fn an_unanswered_slack_question_expires_and_nothing_runs() {
    use soar_tests::slack::{SIGNING_SECRET, signed};
    let slack = SlackStandIn::start().await;
    let (stack, emulator) = slack_stack(&slack, &[("SOAR_APPROVAL_TTL_SECONDS", "2")]).await;
    let web = lab::create_instance(&stack.aws, "web-1", &[]).await.unwrap();
    stack
        .publish(&lab::guardduty_event(
            &web,
            &LabFinding {
                severity: 9.5,
                ..tor("f-expiry")
            },
        ))
        .await;
    stack.run().await;
    let doc = stack.document("f-expiry").await;
    let id = web.instance_id.as_str();
    assert_eq!(ledger_status(&stack, &doc, "ec2.stop", id).await, "pending_approval");
    let approve = SlackStandIn::button(&slack.questions()[0], "soar_approve");

    // Past its time, the schedule's sweep records it expired and says so in the channel.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let swept = emulator
        .invoker()
        .invoke(
            "approvals",
            json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}),
        )
        .await
        .unwrap();
    assert_eq!(swept, json!({"expired": 1}));
    assert_eq!(ledger_status(&stack, &doc, "ec2.stop", id).await, "expired");
    let updates = slack.received("/api/chat.update");
    assert!(
        updates.iter().any(|u| u.to_string().contains("Expired unanswered")),
        "{updates:?}"
    );

    // A late press is refused; the alert coming back stops nothing.
    let body = slack.press("U0ONCALL1", "soar_approve", &approve);
    let now = chrono::Utc::now().timestamp();
    let (_, answer) = post_press(&emulator, &body, &signed(SIGNING_SECRET, &body, now)).await;
    assert!(answer["refused"].as_str().unwrap().contains("expired"), "{answer}");
    stack.queue("remediate").send(&evaluated(&doc)).await.unwrap();
    stack.run().await;
    let doc = stack.document("f-expiry").await;
    assert!(
        !statuses(&doc).contains(&("ec2.stop".into(), "executed".into())),
        "{:?}",
        statuses(&doc)
    );
}

// ------------------------------------------------------------------------------------------------
// The console in a real browser (headless Chromium through its WebDriver, Debian's packages).

/// A child process killed when dropped.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `soar console` on a free port against the stack: the process and its URL (its first line).
fn start_console(stack: &Stack) -> (Child, String) {
    use std::io::BufRead;
    // Owned by the guard at once: a console that fails before its first line is still stopped.
    let mut child = Child(
        std::process::Command::new(soar_tests::soar_binary())
            .args(["console", "--port", "0", "--endpoint-url", &stack.moto.endpoint()])
            .env("SOAR_TABLE", &stack.env.vars["SOAR_TABLE"])
            .env("SOAR_REMEDIATE_QUEUE_URL", &stack.env.vars["SOAR_REMEDIATE_QUEUE_URL"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("soar console starts"),
    );
    let mut line = String::new();
    std::io::BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no URL in the console's first line: {line}"))
        .trim_end_matches('/')
        .to_string();
    (child, url)
}

/// Debian's chromedriver on a free port, and a headless Chromium session through it.
async fn browser() -> (Child, fantoccini::Client, tempfile::TempDir) {
    let driver = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("chromedriver not found: `make browser` installs Debian's chromium and chromium-driver");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new(driver)
        .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".into()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let child = Child(child);
    let profile = tempfile::tempdir().unwrap();
    let args = [
        "--headless=new".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-dev-shm-usage".into(),
        "--no-first-run".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--window-size=1366,900".into(),
        format!("--user-data-dir={}", profile.path().display()),
    ];
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({"binary": "/usr/bin/chromium", "args": args}),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let webdriver = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if let Ok(client) = fantoccini::ClientBuilder::new(connector.clone())
            .capabilities(capabilities.clone())
            .connect(&webdriver)
            .await
        {
            return (child, client, profile);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no WebDriver session on {webdriver}");
}

/// Where the screenshots go: under the build folder.
fn screenshot_path(name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("console");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[tokio::test]
async fn the_console_shows_the_story_and_approves_in_the_browser() {
    use fantoccini::Locator;
    // The demo's flow: a critical Tor finding on a lab instance, contained in enforce mode, its
    // stop waiting for a person.
    let stack = Stack::start(Mode::Enforce).await;
    let web = lab::create_instance(&stack.aws, "web-1", &[]).await.unwrap();
    stack
        .publish(&lab::guardduty_event(
            &web,
            &LabFinding {
                severity: 9.5,
                ..tor("f-console")
            },
        ))
        .await;
    stack.run().await;
    let doc = stack.document("f-console").await;
    let incident = doc.incident.clone().expect("an incident").id;
    let (_console, url) = start_console(&stack);
    let (_driver, client, _profile) = browser().await;

    // The index: the incident and the alert, newest first; every field labelled.
    client.goto(&format!("{url}/")).await.unwrap();
    let index = client.source().await.unwrap();
    assert!(index.contains(&incident) && index.contains(&doc.alert.id), "{index}");
    for field in client
        .find_all(Locator::Css("input:not([type=hidden]), select"))
        .await
        .unwrap()
    {
        let id = field.attr("id").await.unwrap().expect("a field with an id");
        client
            .find(Locator::Css(&format!("label[for='{id}']")))
            .await
            .unwrap_or_else(|_| panic!("no label for #{id}"));
    }

    // The alert's story: each phase, the actions with their status, the ledger.
    client
        .find(Locator::LinkText(&doc.alert.id))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client.wait().for_element(Locator::Id("timeline-h")).await.unwrap();
    let page = client.find(Locator::Css("main")).await.unwrap().text().await.unwrap();
    for expected in [
        "Timeline",
        "ingest",
        "enrich",
        "evaluate",
        "remediate",
        "policy revision",
        "ec2.isolate",
        "executed",
        "ec2.stop",
        "pending_approval",
        "Ledger",
        &incident,
        "Waiting for approval",
    ] {
        assert!(
            page.contains(expected),
            "{expected} missing from the alert page:\n{page}"
        );
    }
    std::fs::write(screenshot_path("alert.png"), client.screenshot().await.unwrap()).unwrap();

    // Approve the stop on the page: answered as the operator's AWS identity, through the
    // approver policy; remediate carries it out once.
    client
        .find(Locator::Css("button.approve"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let answered = client
        .wait()
        .for_element(Locator::Css("p[role=status]"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(answered.contains("Approved by console:arn:aws:"), "{answered}");
    std::fs::write(screenshot_path("answered.png"), client.screenshot().await.unwrap()).unwrap();
    stack.run().await;
    let doc = stack.document("f-console").await;
    assert!(
        statuses(&doc).contains(&("ec2.stop".into(), "executed".into())),
        "{:?}",
        statuses(&doc)
    );
    client.goto(&format!("{url}/approvals")).await.unwrap();
    let approvals = client.find(Locator::Css("main")).await.unwrap().text().await.unwrap();
    assert!(approvals.contains("Nothing is waiting"), "{approvals}");

    // Replay under the current policies: the same decision.
    client
        .goto(&format!("{url}/replay?id={}", doc.alert.id.replace('/', "%2F")))
        .await
        .unwrap();
    let replay = client.find(Locator::Css("main")).await.unwrap().text().await.unwrap();
    assert!(replay.contains("No difference"), "{replay}");
    std::fs::write(screenshot_path("replay.png"), client.screenshot().await.unwrap()).unwrap();

    // A form from elsewhere (no token) changes nothing.
    let http = soar_https::web_client().build().unwrap();
    let forged = http
        .post(format!("{url}/approvals"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("scope=x&action=ec2.stop&target=i-1&digest=d&answer=approve&token=guess")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 403);
    // Another site's page (its Origin, or what the browser says of the fetch) and a name other
    // than 127.0.0.1's (DNS rebinding) are refused, whatever they carry.
    for (request, expected) in [
        (
            http.post(format!("{url}/approvals"))
                .header("origin", "http://evil.example"),
            403,
        ),
        (http.post(format!("{url}/approvals")).header("origin", "null"), 403),
        (http.get(format!("{url}/")).header("sec-fetch-site", "cross-site"), 403),
        (http.get(format!("{url}/")).header("host", "rebound.example"), 421),
    ] {
        assert_eq!(request.send().await.unwrap().status().as_u16(), expected);
    }
    client.close().await.unwrap();
}
