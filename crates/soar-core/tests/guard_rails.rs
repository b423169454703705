//! The Rust guard rails hold whatever the policies say: these tests use a scripted policy port
//! that asks for the worst (isolate everything, send everything out) and check what happens.

// Test code: a failed unwrap is the test failing, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use soar_core::ActionKind;
use soar_core::alert::IndicatorKind;
use soar_core::approval::{Answer, ApprovalKey, Approver, Refusal, waiting_record};
use soar_core::decision::{Policies, PolicyError};
use soar_core::document::{ActionStatus, Mode, Phase, VerdictKind};
use soar_core::egress::OrgConfig;
use soar_core::input::{Incoming, parse_input};
use soar_core::pipeline::Approvals;
use soar_core::pipeline::{IngestStatus, Pipeline, Settings};
use soar_core::ports::{ActionLedger, AlertLog, InventoryRecord};
use soar_offline::memory::{CannedProvider, MemoryState, RecordingNotifier, RecordingRemediator, StaticInventory};
use std::collections::BTreeSet;
use std::sync::Arc;

/// Decisions per phase, fixed; `Err` simulates a broken policy.
struct Scripted(Vec<(Phase, Result<Value, PolicyError>)>);

impl Policies for Scripted {
    fn revision(&self, _: Phase) -> String {
        "scripted".into()
    }
    fn decide(&self, phase: Phase, input: &Value) -> Result<Value, PolicyError> {
        // Enrich: ask for every indicator at every provider, once (the second round gets nothing new).
        if phase == Phase::Enrich && !self.0.iter().any(|(p, _)| *p == Phase::Enrich) {
            let lookups: Vec<Value> = input["alert"]["indicators"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|i| {
                    input["context"]["providers"].as_array().unwrap().iter().map(
                        move |p| json!({"provider": p["name"], "indicator": {"type": i["type"], "value": i["value"]}}),
                    )
                })
                .collect();
            return Ok(json!({"lookups": lookups}));
        }
        self.0
            .iter()
            .find(|(p, _)| *p == phase)
            .map(|(_, d)| d.clone())
            .unwrap_or(Err(PolicyError::Undefined { phase }))
    }
    /// One approver: Slack user `U0OK`.
    fn decide_approver(&self, input: &Value) -> Result<Value, PolicyError> {
        let allow = input["approver"]["id"] == "U0OK";
        Ok(json!({"allow": allow, "reasons": [if allow { "U0OK is the approver" } else { "only U0OK approves" }]}))
    }
}

fn worst_case() -> Scripted {
    Scripted(vec![
        (Phase::Ingest, Ok(json!({"accept": true}))),
        (
            Phase::Evaluate,
            Ok(json!({"verdict": "incident", "severity": "high", "reasons": ["scripted"], "page": true})),
        ),
        (
            Phase::Remediate,
            Ok(json!({"actions": [
                {"type": "ec2.isolate", "target": {"kind": "Instance", "id": "i-0123456789abcdef0"}},
                {"type": "ec2.snapshot", "target": {"kind": "Instance", "id": "i-0123456789abcdef0"}},
                {"type": "ec2.isolate", "target": {"kind": "Instance", "id": "i-0fedcba9876543210"}},
                {"type": "ec2.stop", "target": {"kind": "Instance", "id": "i-0123456789abcdef0"}, "requires_approval": true},
                {"type": "rm.rf", "target": {"kind": "Instance", "id": "i-0123456789abcdef0"}},
                {"type": "notify", "target": {"kind": "Channel", "id": "oncall"}}
            ]})),
        ),
    ])
}

fn finding(remote_ip: &str, sample: bool) -> Incoming {
    let finding = json!({
        "id": "f1", "type": "UnauthorizedAccess:EC2/TorClient", "severity": 8, "accountId": "1", "region": "eu-west-1",
        "updatedAt": "2026-11-20T09:00:00Z",
        "resource": {"resourceType": "Instance", "instanceDetails": {"instanceId": "i-0123456789abcdef0"}},
        "service": {"serviceName": "guardduty", "additionalInfo": {"sample": sample},
            "action": {"networkConnectionAction": {"remoteIpDetails": {"ipAddressV4": remote_ip}}}}
    });
    parse_input(finding.to_string().as_bytes()).remove(0).result.unwrap()
}

struct Harness {
    pipeline: Pipeline,
    state: Arc<MemoryState>,
    remediator: Arc<RecordingRemediator>,
    notifier: Arc<RecordingNotifier>,
    external: Arc<CannedProvider>,
}

fn harness(policies: Scripted, inventory: impl soar_core::ports::Inventory + 'static, settings: Settings) -> Harness {
    let (mut parts, state) = soar_offline::in_memory_parts(Arc::new(policies), OrgConfig::default());
    let remediator = Arc::new(RecordingRemediator::default());
    let notifier = Arc::new(RecordingNotifier::default());
    let external = Arc::new(CannedProvider::new("intel-co", &[IndicatorKind::Ip]));
    parts.inventory = Arc::new(inventory);
    parts.providers = vec![external.clone()];
    parts.remediator = remediator.clone();
    parts.notifier = notifier.clone();
    parts.settings = settings;
    Harness {
        pipeline: Pipeline::new(parts),
        state,
        remediator,
        notifier,
        external,
    }
}

fn enforce() -> Settings {
    Settings {
        mode: Mode::Enforce,
        ..Settings::default()
    }
}

fn statuses(doc: &soar_core::Document) -> Vec<(String, String, ActionStatus)> {
    doc.actions
        .iter()
        .map(|a| (a.request.action.clone(), a.request.target.id.clone(), a.status))
        .collect()
}

#[tokio::test]
async fn dry_run_is_the_default_and_calls_nothing() {
    let h = harness(worst_case(), StaticInventory::default(), Settings::default());
    let out = h.pipeline.run(finding("198.51.100.7", false)).await;
    let doc = out.document.unwrap();
    assert!(doc.actions.iter().all(|a| a.mode == Mode::DryRun));
    assert!(
        doc.actions
            .iter()
            .any(|a| a.request.action == "ec2.isolate" && a.status == ActionStatus::Planned)
    );
    assert!(h.remediator.calls().is_empty());
    assert!(h.notifier.sent().is_empty());
}

#[tokio::test]
async fn enforce_carries_out_allowed_actions_once_and_refuses_the_rest() {
    let h = harness(worst_case(), StaticInventory::default(), enforce());
    let doc = h.pipeline.run(finding("198.51.100.7", false)).await.document.unwrap();
    let s = statuses(&doc);
    assert!(
        s.contains(&(
            "ec2.isolate".into(),
            "i-0123456789abcdef0".into(),
            ActionStatus::Executed
        )),
        "{s:?}"
    );
    assert!(
        s.contains(&(
            "ec2.stop".into(),
            "i-0123456789abcdef0".into(),
            ActionStatus::PendingApproval
        )),
        "{s:?}"
    );
    assert!(
        s.contains(&(
            "rm.rf".into(),
            "i-0123456789abcdef0".into(),
            ActionStatus::SkippedNotAllowed
        )),
        "{s:?}"
    );
    assert_eq!(h.notifier.sent().len(), 1);
    let called: Vec<_> = h
        .remediator
        .calls()
        .into_iter()
        .map(|r| (r.action, r.target.id))
        .collect();
    assert_eq!(
        called,
        vec![
            ("ec2.isolate".into(), "i-0123456789abcdef0".into()),
            ("ec2.snapshot".into(), "i-0123456789abcdef0".into()),
        ],
        "an instance the alert does not name is never a target"
    );
    assert!(
        s.contains(&(
            "ec2.isolate".into(),
            "i-0fedcba9876543210".into(),
            ActionStatus::SkippedInvalidTarget
        )),
        "{s:?}"
    );
    assert_eq!(h.state.recorded_actions().len(), doc.actions.len());
}

#[tokio::test]
async fn a_redelivered_alert_is_a_duplicate_and_the_ledger_blocks_repeats() {
    let h = harness(worst_case(), StaticInventory::default(), enforce());
    let first = h.pipeline.run(finding("198.51.100.7", false)).await;
    let calls = h.remediator.calls().len();
    let again = h.pipeline.run(finding("198.51.100.7", false)).await;
    assert_eq!(again.status, IngestStatus::Suppressed);
    assert!(again.reason.starts_with("duplicate"), "{}", again.reason);
    assert_eq!(again.document.unwrap().verdict, first.document.unwrap().verdict);
    assert_eq!(h.remediator.calls().len(), calls);

    // The same document reaching remediate twice (SQS redelivery) acts once.
    let mut doc = h.state.document("guardduty/1/eu-west-1/f1").unwrap();
    doc.actions.clear();
    h.pipeline.responder.remediate(&mut doc).await;
    assert!(
        doc.actions
            .iter()
            .filter(|a| a.request.action.starts_with("ec2.") && a.request.target.id == "i-0123456789abcdef0")
            .filter(|a| a.status != ActionStatus::PendingApproval)
            .all(|a| a.status == ActionStatus::Duplicate)
    );
    assert_eq!(h.remediator.calls().len(), calls);
}

#[tokio::test]
async fn a_newer_revision_is_evaluated_again() {
    let h = harness(worst_case(), StaticInventory::default(), Settings::default());
    h.pipeline.run(finding("198.51.100.7", false)).await;
    let Incoming::Normalised(mut alert) = finding("198.51.100.7", false) else {
        unreachable!()
    };
    alert.updated_at = Some("2026-11-21T09:00:00.000Z".into());
    let out = h.pipeline.run(Incoming::Normalised(alert)).await;
    assert_eq!(out.status, IngestStatus::Accepted);
    assert!(out.document.unwrap().trace[0].notes[0].contains("newer revision"));
}

#[tokio::test]
async fn sample_findings_are_never_acted_on_even_if_the_policy_says_so() {
    let h = harness(worst_case(), StaticInventory::default(), enforce());
    let doc = h.pipeline.run(finding("198.51.100.7", true)).await.document.unwrap();
    assert!(!doc.actions.is_empty());
    assert!(doc.actions.iter().all(|a| a.status == ActionStatus::SkippedSample));
    assert!(h.remediator.calls().is_empty() && h.notifier.sent().is_empty());
}

#[tokio::test]
async fn protected_resources_are_untouched_whoever_asks() {
    let protected = InventoryRecord {
        tags: [("soar:protected".to_string(), "true".to_string())].into(),
        ..InventoryRecord::default()
    };
    let inventory = StaticInventory::default()
        .with("i-0123456789abcdef0", protected.clone())
        .with("i-0fedcba9876543210", protected);
    let h = harness(worst_case(), inventory, enforce());
    let doc = h.pipeline.run(finding("198.51.100.7", false)).await.document.unwrap();
    for (action, target, status) in statuses(&doc) {
        if action.starts_with("ec2.") && target == "i-0123456789abcdef0" {
            assert_eq!(status, ActionStatus::SkippedProtected, "{action} on {target}");
        }
    }
    assert!(h.remediator.calls().is_empty());
}

#[tokio::test]
async fn allow_list_and_hourly_cap_hold() {
    let settings = Settings {
        mode: Mode::Enforce,
        allowed_actions: Some(BTreeSet::from([ActionKind::Ec2Isolate, ActionKind::Ec2Snapshot])),
        max_actions_per_hour: 1,
        ..Settings::default()
    };
    let h = harness(worst_case(), StaticInventory::default(), settings);
    let doc = h.pipeline.run(finding("198.51.100.7", false)).await.document.unwrap();
    let s = statuses(&doc);
    assert!(
        s.contains(&(
            "ec2.isolate".into(),
            "i-0123456789abcdef0".into(),
            ActionStatus::Executed
        )),
        "{s:?}"
    );
    assert!(
        s.contains(&(
            "ec2.snapshot".into(),
            "i-0123456789abcdef0".into(),
            ActionStatus::SkippedRateLimited
        )),
        "the second action is over the cap of one: {s:?}"
    );
    assert!(
        s.contains(&(
            "ec2.isolate".into(),
            "i-0fedcba9876543210".into(),
            ActionStatus::SkippedInvalidTarget
        )),
        "{s:?}"
    );
    assert!(
        s.contains(&("notify".into(), "oncall".into(), ActionStatus::SkippedNotAllowed)),
        "{s:?}"
    );
    assert_eq!(h.remediator.calls().len(), 1);
}

#[tokio::test]
async fn internal_indicators_never_reach_an_external_provider() {
    let h = harness(worst_case(), StaticInventory::default(), Settings::default());
    let doc = h.pipeline.run(finding("10.0.0.9", false)).await.document.unwrap();
    assert!(h.external.requests().is_empty(), "{:?}", h.external.requests());
    let notes = &doc.trace.iter().find(|t| t.phase == Phase::Enrich).unwrap().notes;
    assert!(
        notes
            .iter()
            .any(|n| n.contains("egress refused") && n.contains("10.0.0.9") && n.contains("10.0.0.0/8")),
        "{notes:?}"
    );

    let h = harness(worst_case(), StaticInventory::default(), Settings::default());
    h.pipeline.run(finding("198.51.100.7", false)).await;
    assert_eq!(h.external.requests().len(), 1, "a public IP may go out");
}

/// The only action after a policy error: Rust's own escalation notification, naming the alert,
/// the phase and the error.
fn assert_escalated_only(h: &Harness, doc: &soar_core::Document, phase: &str, error: &str) {
    let s = statuses(doc);
    assert_eq!(
        s,
        vec![(
            "notify".to_string(),
            "security-oncall".to_string(),
            ActionStatus::Executed
        )],
        "{phase}"
    );
    assert!(h.remediator.calls().is_empty(), "{phase}");
    let sent = h.notifier.sent();
    assert_eq!(sent.len(), 1, "{phase}");
    let text = format!("{} {}", sent[0].subject, sent[0].message);
    for part in [doc.alert.id.as_str(), phase, error] {
        assert!(text.contains(part), "{phase}: `{part}` missing from {text}");
    }
}

#[tokio::test]
async fn a_policy_error_anywhere_means_undetermined_and_escalation_only() {
    for broken in [Phase::Ingest, Phase::Enrich, Phase::Evaluate, Phase::Remediate] {
        let mut script = worst_case();
        script.0.retain(|(p, _)| *p != broken);
        script.0.push((
            broken,
            Err(PolicyError::Evaluation {
                phase: broken,
                message: "boom".into(),
            }),
        ));
        let h = harness(script, StaticInventory::default(), enforce());
        let out = h.pipeline.run(finding("198.51.100.7", false)).await;
        let doc = out.document.unwrap();
        let verdict = doc.verdict.clone().unwrap();
        assert_eq!(verdict.verdict, VerdictKind::Undetermined, "{broken}");
        assert!(verdict.error.unwrap().contains("boom"), "{broken}");
        assert_escalated_only(&h, &doc, broken.as_str(), "boom");
        assert!(out.error.unwrap().contains("boom"));
    }
}

#[tokio::test]
async fn the_escalation_reaches_a_person_whatever_the_allow_list_and_cap() {
    let mut script = worst_case();
    script.0.retain(|(p, _)| *p != Phase::Evaluate);
    script.0.push((
        Phase::Evaluate,
        Err(PolicyError::Evaluation {
            phase: Phase::Evaluate,
            message: "boom".into(),
        }),
    ));
    let settings = Settings {
        mode: Mode::Enforce,
        allowed_actions: Some(BTreeSet::from([ActionKind::Ec2Isolate])),
        max_actions_per_hour: 0,
        ..Settings::default()
    };
    let h = harness(script, StaticInventory::default(), settings);
    let doc = h.pipeline.run(finding("198.51.100.7", false)).await.document.unwrap();
    assert_escalated_only(&h, &doc, "evaluate", "boom");
}

#[tokio::test]
async fn a_malformed_decision_is_a_policy_error() {
    let mut script = worst_case();
    script.0.retain(|(p, _)| *p != Phase::Evaluate);
    script
        .0
        .push((Phase::Evaluate, Ok(json!({"verdict": "maybe", "severity": "high"}))));
    let h = harness(script, StaticInventory::default(), enforce());
    let doc = h.pipeline.run(finding("198.51.100.7", false)).await.document.unwrap();
    assert_eq!(doc.verdict.clone().unwrap().verdict, VerdictKind::Undetermined);
    assert_escalated_only(&h, &doc, "evaluate", "verdict");
}

#[tokio::test]
async fn an_alert_with_thousands_of_indicators_is_escalated_not_acted_on() {
    let h = harness(worst_case(), StaticInventory::default(), enforce());
    let indicators: Vec<Value> = (0..5000)
        .map(|n| json!({"ipAddressV4": format!("198.51.{}.{}", n / 250, n % 250)}))
        .collect();
    let finding = json!({
        "id": "big", "type": "Recon:EC2/PortProbeUnprotectedPort", "severity": 8, "accountId": "1", "region": "eu-west-1",
        "resource": {"resourceType": "Instance", "instanceDetails": {"instanceId": "i-0123456789abcdef0"}},
        "service": {"serviceName": "guardduty", "action": {"portProbeAction": {"portProbeDetails":
            indicators.iter().map(|i| json!({"remoteIpDetails": i})).collect::<Vec<_>>()}}}
    });
    let incoming = parse_input(finding.to_string().as_bytes()).remove(0).result.unwrap();
    let doc = h.pipeline.run(incoming).await.document.unwrap();
    assert_escalated_only(&h, &doc, "ingest", "5000 indicators");
}

/// The waiting alert's remediate queue, as approvals see it: what was queued again.
#[derive(Default)]
struct Requeued(std::sync::Mutex<Vec<String>>);

#[async_trait::async_trait]
impl soar_core::ports::Forwarder for Requeued {
    async fn forward(&self, doc: &soar_core::document::Serialized<'_>) -> Result<(), soar_core::ports::ForwardError> {
        self.0.lock().unwrap().push(doc.document.alert.id.clone());
        Ok(())
    }
    async fn forward_after(
        &self,
        doc: &soar_core::document::Serialized<'_>,
        _: std::time::Duration,
    ) -> Result<(), soar_core::ports::ForwardError> {
        self.forward(doc).await
    }
}

fn answering(h: &Harness, policies: Arc<dyn Policies>) -> (Approvals, Arc<Requeued>) {
    let queue = Arc::new(Requeued::default());
    let approvals = Approvals {
        policies,
        ledger: h.state.clone(),
        alerts: h.state.clone(),
        incidents: h.state.clone(),
        remediate: queue.clone(),
    };
    (approvals, queue)
}

fn slack_user(id: &str) -> Approver {
    Approver {
        id: id.into(),
        name: id.to_lowercase(),
        via: "slack".into(),
        team: Some("T1".into()),
    }
}

/// The key the question's buttons carry for the waiting stop.
fn stop_key(doc: &soar_core::Document) -> ApprovalKey {
    let (record, ticket) = waiting_record(doc, "ec2.stop", "i-0123456789abcdef0").expect("the stop waits");
    ApprovalKey::of(doc.ledger_scope(), record, &ticket)
}

fn stops(h: &Harness) -> usize {
    h.remediator.calls().iter().filter(|c| c.action == "ec2.stop").count()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[tokio::test]
async fn an_approved_action_runs_once_on_the_next_delivery() {
    let h = harness(worst_case(), StaticInventory::default(), enforce());
    let doc = h.pipeline.run(finding("198.51.100.7", false)).await.document.unwrap();
    let stop = doc.actions.iter().find(|a| a.request.action == "ec2.stop").unwrap();
    assert_eq!(stop.status, ActionStatus::PendingApproval);
    assert_eq!(
        stop.detail["waiting"],
        "soar approve guardduty/1/eu-west-1/f1 ec2.stop i-0123456789abcdef0"
    );
    assert!(
        stop.detail["approval"]["digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert_eq!(stops(&h), 0);

    let (approvals, queue) = answering(&h, Arc::new(worst_case()));
    let key = stop_key(&doc);
    let answered = approvals
        .answer(&key, Answer::Approve, &slack_user("U0OK"), now())
        .await
        .unwrap();
    assert_eq!(answered.by, "slack:U0OK (u0ok)");
    assert_eq!(
        queue.0.lock().unwrap().as_slice(),
        std::slice::from_ref(&doc.alert.id),
        "queued for remediate again"
    );
    // A second press (or a second approver) finds nothing waiting: one execution.
    let again = approvals
        .answer(&key, Answer::Approve, &slack_user("U0OK"), now())
        .await;
    assert!(
        matches!(&again, Err(Refusal::NotWaiting(why)) if why.contains("approved already by slack:U0OK")),
        "{again:?}"
    );
    assert_eq!(queue.0.lock().unwrap().len(), 1);

    let mut again = doc.clone();
    again.actions.clear();
    h.pipeline.responder.remediate(&mut again).await;
    let stop = again.actions.iter().find(|a| a.request.action == "ec2.stop").unwrap();
    assert_eq!(stop.status, ActionStatus::Executed);
    assert_eq!(stops(&h), 1);

    let mut third = doc.clone();
    third.actions.clear();
    h.pipeline.responder.remediate(&mut third).await;
    let stop = third.actions.iter().find(|a| a.request.action == "ec2.stop").unwrap();
    assert_eq!(stop.status, ActionStatus::Duplicate);
    assert_eq!(stops(&h), 1);
}

#[tokio::test]
async fn an_approver_the_policy_does_not_name_is_refused_and_nothing_changes() {
    let h = harness(worst_case(), StaticInventory::default(), enforce());
    let doc = h.pipeline.run(finding("198.51.100.7", false)).await.document.unwrap();
    let (approvals, queue) = answering(&h, Arc::new(worst_case()));
    let refused = approvals
        .answer(&stop_key(&doc), Answer::Approve, &slack_user("U0MALLORY"), now())
        .await;
    assert!(
        matches!(&refused, Err(Refusal::NotAllowed { reason, .. }) if reason == "only U0OK approves"),
        "{refused:?}"
    );
    assert!(queue.0.lock().unwrap().is_empty());
    let state = h
        .state
        .approval(doc.ledger_scope(), "ec2.stop", "i-0123456789abcdef0")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.status, "pending_approval");
    // A policy that fails lets no one answer.
    struct NoRule;
    impl Policies for NoRule {
        fn revision(&self, _: Phase) -> String {
            "none".into()
        }
        fn decide(&self, phase: Phase, _: &Value) -> Result<Value, PolicyError> {
            Err(PolicyError::Undefined { phase })
        }
    }
    let (no_rule, _) = answering(&h, Arc::new(NoRule));
    let refused = no_rule
        .answer(&stop_key(&doc), Answer::Approve, &slack_user("U0OK"), now())
        .await;
    assert!(matches!(refused, Err(Refusal::Policy(_))), "{refused:?}");
}

#[tokio::test]
async fn an_approval_for_another_plan_is_refused_at_the_press_and_at_execution() {
    let h = harness(worst_case(), StaticInventory::default(), enforce());
    let doc = h.pipeline.run(finding("198.51.100.7", false)).await.document.unwrap();
    let (approvals, _) = answering(&h, Arc::new(worst_case()));
    let key = stop_key(&doc);

    // The button of an older question (another digest) does not apply.
    let stale = ApprovalKey {
        digest: "sha256:0000".into(),
        ..key.clone()
    };
    let refused = approvals
        .answer(&stale, Answer::Approve, &slack_user("U0OK"), now())
        .await;
    assert!(matches!(refused, Err(Refusal::PlanChanged { .. })), "{refused:?}");

    // Approved, then a new policy revision is deployed before remediate runs it: not carried
    // out, asked again under the new digest.
    approvals
        .answer(&key, Answer::Approve, &slack_user("U0OK"), now())
        .await
        .unwrap();
    struct Redeployed(Scripted);
    impl Policies for Redeployed {
        fn revision(&self, _: Phase) -> String {
            "redeployed".into()
        }
        fn decide(&self, phase: Phase, input: &Value) -> Result<Value, PolicyError> {
            self.0.decide(phase, input)
        }
    }
    let responder = responder_with(&h, Arc::new(Redeployed(worst_case())));
    let mut again = doc.clone();
    again.actions.clear();
    responder.remediate(&mut again).await;
    let stop = again.actions.iter().find(|a| a.request.action == "ec2.stop").unwrap();
    assert_eq!(stop.status, ActionStatus::PendingApproval, "{stop:?}");
    assert_ne!(stop_key(&again).digest, key.digest);
    assert_eq!(stops(&h), 0, "an approval of another plan runs nothing");
    // The old button stays refused; the new question's is taken.
    h.state.save_document(&serialized(&again)).await.unwrap();
    let refused = approvals
        .answer(&key, Answer::Approve, &slack_user("U0OK"), now())
        .await;
    assert!(matches!(refused, Err(Refusal::PlanChanged { .. })), "{refused:?}");
}

#[tokio::test]
async fn an_unanswered_question_expires_and_nothing_runs() {
    let settings = Settings {
        approval_ttl: std::time::Duration::from_secs(60),
        ..enforce()
    };
    let h = harness(worst_case(), StaticInventory::default(), settings);
    let doc = h.pipeline.run(finding("198.51.100.7", false)).await.document.unwrap();
    let (approvals, queue) = answering(&h, Arc::new(worst_case()));
    assert!(approvals.expire_due(now()).await.unwrap().is_empty(), "not due yet");
    let expired = approvals.expire_due(now() + 61).await.unwrap();
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].key, stop_key(&doc));
    let state = h
        .state
        .approval(doc.ledger_scope(), "ec2.stop", "i-0123456789abcdef0")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.status, "expired");
    let late = approvals
        .answer(&stop_key(&doc), Answer::Approve, &slack_user("U0OK"), now() + 62)
        .await;
    assert!(
        matches!(&late, Err(Refusal::NotWaiting(why)) if why.contains("expired")),
        "{late:?}"
    );
    assert!(queue.0.lock().unwrap().is_empty());
    let mut again = doc.clone();
    again.actions.clear();
    h.pipeline.responder.remediate(&mut again).await;
    assert_eq!(stops(&h), 0);

    // A press that comes after the expiry, before any sweep, records it too.
    let h = harness(
        worst_case(),
        StaticInventory::default(),
        Settings {
            approval_ttl: std::time::Duration::from_secs(60),
            ..enforce()
        },
    );
    let doc = h.pipeline.run(finding("198.51.100.7", false)).await.document.unwrap();
    let (approvals, _) = answering(&h, Arc::new(worst_case()));
    let late = approvals
        .answer(&stop_key(&doc), Answer::Approve, &slack_user("U0OK"), now() + 61)
        .await;
    assert!(matches!(late, Err(Refusal::Expired { .. })), "{late:?}");
    let state = h
        .state
        .approval(doc.ledger_scope(), "ec2.stop", "i-0123456789abcdef0")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (state.status.as_str(), state.decided_by.as_deref()),
        ("expired", Some("soar:soar (expired unanswered)"))
    );
}

#[tokio::test]
async fn a_denied_action_never_runs() {
    let h = harness(worst_case(), StaticInventory::default(), enforce());
    let doc = h.pipeline.run(finding("198.51.100.7", false)).await.document.unwrap();
    let (approvals, queue) = answering(&h, Arc::new(worst_case()));
    let denied = approvals
        .answer(&stop_key(&doc), Answer::Deny, &slack_user("U0OK"), now())
        .await
        .unwrap();
    assert!(denied.outcome().starts_with("Denied by slack:U0OK"));
    assert!(queue.0.lock().unwrap().is_empty(), "a denial queues nothing");
    let mut again = doc.clone();
    again.actions.clear();
    h.pipeline.responder.remediate(&mut again).await;
    let stop = again.actions.iter().find(|a| a.request.action == "ec2.stop").unwrap();
    assert_eq!(stop.status, ActionStatus::Duplicate);
    assert!(
        stop.detail.as_str().unwrap().contains("denied by slack:U0OK"),
        "{stop:?}"
    );
    assert_eq!(stops(&h), 0);
}

/// A responder over the harness's state and fakes, deciding with `policies`.
fn responder_with(h: &Harness, policies: Arc<dyn Policies>) -> soar_core::pipeline::Responder {
    soar_core::pipeline::Responder {
        policies,
        decisions: h.state.clone(),
        ledger: h.state.clone(),
        inventory: Arc::new(StaticInventory::default()),
        remediator: h.remediator.clone(),
        notifier: h.notifier.clone(),
        approvals: Arc::new(soar_core::ports::NoApprovalChannel),
        settings: enforce(),
    }
}

fn serialized(doc: &soar_core::Document) -> soar_core::document::Serialized<'static> {
    let text: &'static str = Box::leak(soar_core::document::Serialized::text(doc).unwrap().into_boxed_str());
    let doc: &'static soar_core::Document = Box::leak(Box::new(doc.clone()));
    soar_core::document::Serialized::of(doc, text)
}

/// The worst-case policies with `decision` as the remediate phase's answer.
fn remediating(decision: Value) -> Scripted {
    let mut script = worst_case();
    script.0.retain(|(p, _)| *p != Phase::Remediate);
    script.0.push((Phase::Remediate, Ok(decision)));
    script
}

/// A malformed parameter is the policy's error in dry run as much as in enforce: the field is
/// named, nothing is planned, and a person is told (so a dry run never plans what enforce refuses).
#[tokio::test]
async fn a_malformed_action_parameter_is_named_in_dry_run_as_in_enforce() {
    for settings in [Settings::default(), enforce()] {
        let mode = settings.mode;
        let script = remediating(json!({"actions": [
            {"type": "ec2.isolate", "target": {"kind": "Instance", "id": "i-0123456789abcdef0"}},
            {"type": "ec2.tag", "target": {"kind": "Instance", "id": "i-0123456789abcdef0"}, "params": {"tags": ["soar:x"]}},
            {"type": "notify", "target": {"kind": "Channel", "id": "oncall"}}
        ]}));
        let h = harness(script, StaticInventory::default(), settings);
        let doc = h.pipeline.run(finding("198.51.100.7", false)).await.document.unwrap();
        let error = doc
            .trace
            .iter()
            .find(|t| t.phase == Phase::Remediate)
            .unwrap()
            .error
            .clone();
        let error = error.unwrap_or_default();
        assert!(error.contains("`decision.actions[1].params.tags`"), "{mode:?}: {error}");
        assert_eq!(
            doc.verdict.as_ref().unwrap().verdict,
            VerdictKind::Undetermined,
            "{mode:?}"
        );
        let s = statuses(&doc);
        assert_eq!(s.len(), 1, "{mode:?}: only the escalation: {s:?}");
        assert_eq!(
            (s[0].0.as_str(), s[0].1.as_str()),
            ("notify", "security-oncall"),
            "{mode:?}"
        );
        assert!(h.remediator.calls().is_empty(), "{mode:?}");
    }
}

/// A delivery that registered the revision and failed before handing the alert on: the
/// redelivery is processed (the ledger still keeps each action to one), not suppressed as a
/// duplicate of an alert that never went on.
#[tokio::test]
async fn a_revision_registered_but_never_stored_is_processed_on_redelivery() {
    use soar_core::ports::AlertLog;
    let h = harness(worst_case(), StaticInventory::default(), Settings::default());
    let incoming = finding("198.51.100.7", false);
    let Incoming::Normalised(alert) = incoming.clone() else {
        unreachable!()
    };
    h.state.register_alert(&soar_core::Document::new(*alert)).await.unwrap();
    let out = h.pipeline.run(incoming).await;
    assert_eq!(out.status, IngestStatus::Accepted, "{}", out.reason);
    let doc = out.document.unwrap();
    assert!(doc.actions.iter().any(|a| a.status == ActionStatus::Planned));
    // Handed on now: a copy is a duplicate.
    let again = h.pipeline.run(finding("198.51.100.7", false)).await;
    assert_eq!(again.status, IngestStatus::Suppressed, "{}", again.reason);
}

/// A session key (`ASIA…`) cannot be deactivated: a policy asking for it is refused by Rust in
/// dry run and enforce alike, with the reason, and nothing is called.
#[tokio::test]
async fn a_session_key_is_never_deactivated_whatever_the_policy_says() {
    for settings in [Settings::default(), enforce()] {
        let mode = settings.mode;
        let script = remediating(json!({"actions": [
            {"type": "iam.deactivate_access_key", "target": {"kind": "AccessKey", "id": "ASIAEXAMPLESESSION01"}}
        ]}));
        let h = harness(script, StaticInventory::default(), settings);
        let finding = json!({"id": "f2", "type": "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
            "severity": 8, "accountId": "1", "region": "eu-west-1", "updatedAt": "2026-11-20T09:00:00Z",
            "resource": {"resourceType": "AccessKey", "accessKeyDetails": {"accessKeyId": "ASIAEXAMPLESESSION01",
                "userName": "app-role", "userType": "AssumedRole"}},
            "service": {"serviceName": "guardduty", "action": {}}});
        let incoming = parse_input(finding.to_string().as_bytes()).remove(0).result.unwrap();
        let doc = h.pipeline.run(incoming).await.document.unwrap();
        let s = statuses(&doc);
        assert_eq!(s.len(), 1, "{mode:?}: {s:?}");
        assert_eq!(s[0].2, ActionStatus::SkippedInvalidTarget, "{mode:?}: {s:?}");
        let why = doc.actions[0].detail.to_string();
        assert!(
            why.contains("session credentials cannot be deactivated"),
            "{mode:?}: {why}"
        );
        assert!(h.remediator.calls().is_empty(), "{mode:?}");
    }
}

/// A write-back goes to the alert's own finding only, as its parser read it: another finding,
/// a GuardDuty action on another product's finding, or an alert whose ARN contradicts its own
/// account is refused by Rust; the note is Rust's (a policy cannot write it), and a dry run
/// shows the exact request.
#[tokio::test]
async fn a_write_back_reaches_only_the_alerts_own_finding_with_rusts_note() {
    const ARN: &str = "arn:aws:guardduty:eu-west-1:111111111111:detector/d1/finding/f1";
    let finding = |arn: &str| {
        let finding = json!({"id": "f1", "arn": arn, "type": "UnauthorizedAccess:EC2/TorClient", "severity": 8,
            "accountId": "111111111111", "region": "eu-west-1", "updatedAt": "2026-11-20T09:00:00Z",
            "resource": {"resourceType": "Instance", "instanceDetails": {"instanceId": "i-0123456789abcdef0"}},
            "service": {"serviceName": "guardduty", "action": {}}});
        parse_input(finding.to_string().as_bytes()).remove(0).result.unwrap()
    };
    let target = |id: &str| json!({"kind": "Finding", "id": id});
    let other = "arn:aws:guardduty:eu-west-1:111111111111:detector/d1/finding/f2";
    let script = || {
        remediating(json!({"actions": [
            {"type": "securityhub.update_finding", "target": target(ARN), "params": {"workflow_status": "NOTIFIED", "note": "runbook 7"}},
            {"type": "guardduty.archive_finding", "target": target(other)},
            {"type": "guardduty.feedback", "target": target(ARN), "params": {"feedback": "USEFUL"}}
        ]}))
    };
    // Dry run: planned with the request it would send, the note written by Rust.
    let h = harness(script(), StaticInventory::default(), Settings::default());
    let doc = h.pipeline.run(finding(ARN)).await.document.unwrap();
    let s = statuses(&doc);
    assert_eq!(s[0].2, ActionStatus::Planned, "{s:?}");
    let plan = doc.actions[0].detail["api_calls"][0].as_str().unwrap();
    assert!(
        plan.starts_with(&format!("securityhub:BatchUpdateFindings FindingIdentifiers=[{{Id={ARN},ProductArn=arn:aws:securityhub:eu-west-1::product/aws/guardduty}}] Workflow.Status=NOTIFIED VerificationState=TRUE_POSITIVE Note.Text=\"soar: incident (high).")),
        "{plan}"
    );
    assert!(
        plan.contains("Policies: ingest scripted") && plan.contains("runbook 7"),
        "{plan}"
    );
    assert_eq!(s[1].2, ActionStatus::SkippedInvalidTarget, "another finding: {s:?}");
    assert!(
        doc.actions[1]
            .detail
            .to_string()
            .contains("is not this alert's finding")
    );
    assert_eq!(s[2].2, ActionStatus::Planned, "{s:?}");
    // Enforce: carried out once each, with Rust's summary in the action the adapter receives.
    let h = harness(script(), StaticInventory::default(), enforce());
    let doc = h.pipeline.run(finding(ARN)).await.document.unwrap();
    let calls = h.remediator.calls();
    assert_eq!(calls.len(), 2, "{:?}", statuses(&doc));
    let soar_core::Action::SecurityHubUpdateFinding { summary, .. } = &calls[0].detail else {
        panic!("{calls:?}")
    };
    assert_eq!(summary.verification_state, Some("TRUE_POSITIVE"));
    assert!(summary.text.ends_with("runbook 7."), "{}", summary.text);
    // A finding whose ARN names another account addresses nothing: every write-back is refused.
    let forged = "arn:aws:guardduty:eu-west-1:999999999999:detector/d1/finding/f1";
    let h = harness(
        remediating(json!({"actions": [{"type": "guardduty.archive_finding", "target": target(forged)}]})),
        StaticInventory::default(),
        enforce(),
    );
    let doc = h.pipeline.run(finding(forged)).await.document.unwrap();
    assert_eq!(statuses(&doc)[0].2, ActionStatus::SkippedInvalidTarget);
    assert!(
        doc.actions[0]
            .detail
            .to_string()
            .contains("has no finding in Security Hub or GuardDuty")
    );
    assert!(h.remediator.calls().is_empty());
}

/// GuardDuty archives and rates only GuardDuty's findings: another product's finding in
/// Security Hub is refused for them, whatever the policy says.
#[tokio::test]
async fn guardduty_write_backs_refuse_another_products_finding() {
    let id = "arn:aws:inspector2:eu-west-1:111111111111:finding/abc";
    let asff = json!({"SchemaVersion": "2018-10-08", "Id": id,
        "ProductArn": "arn:aws:securityhub:eu-west-1::product/aws/inspector", "AwsAccountId": "111111111111",
        "Region": "eu-west-1", "Types": ["Software and Configuration Checks/Vulnerabilities/CVE"],
        "Severity": {"Label": "HIGH"}, "Title": "CVE", "UpdatedAt": "2026-11-20T09:00:00Z",
        "Workflow": {"Status": "NEW"},
        "Resources": [{"Type": "AwsEc2Instance", "Id": "arn:aws:ec2:eu-west-1:111111111111:instance/i-0123456789abcdef0"}]});
    let script = remediating(json!({"actions": [
        {"type": "guardduty.archive_finding", "target": {"kind": "Finding", "id": id}},
        {"type": "securityhub.update_finding", "target": {"kind": "Finding", "id": id}, "params": {"workflow_status": "NOTIFIED"}}
    ]}));
    let h = harness(script, StaticInventory::default(), enforce());
    let incoming = parse_input(asff.to_string().as_bytes()).remove(0).result.unwrap();
    let doc = h.pipeline.run(incoming).await.document.unwrap();
    let s = statuses(&doc);
    assert_eq!(s[0].2, ActionStatus::SkippedInvalidTarget, "{s:?}");
    assert!(
        doc.actions[0]
            .detail
            .to_string()
            .contains("not a GuardDuty finding ARN")
    );
    assert_eq!(s[1].2, ActionStatus::Executed, "{s:?}");
    assert_eq!(h.remediator.calls().len(), 1);
}

/// The hourly caps are counted apart: with the actions' cap used up, containment waits while the
/// verdict is still written back (a flood of false positives written back never uses up the
/// budget an incident's containment needs), and the other way round.
#[tokio::test]
async fn write_backs_do_not_use_up_the_containment_budget() {
    const ARN: &str = "arn:aws:guardduty:eu-west-1:111111111111:detector/d1/finding/f1";
    let finding = json!({"id": "f1", "arn": ARN, "type": "UnauthorizedAccess:EC2/TorClient", "severity": 8,
        "accountId": "111111111111", "region": "eu-west-1", "updatedAt": "2026-11-20T09:00:00Z",
        "resource": {"resourceType": "Instance", "instanceDetails": {"instanceId": "i-0123456789abcdef0"}},
        "service": {"serviceName": "guardduty", "action": {}}});
    let script = || {
        remediating(json!({"actions": [
            {"type": "ec2.isolate", "target": {"kind": "Instance", "id": "i-0123456789abcdef0"}},
            {"type": "guardduty.feedback", "target": {"kind": "Finding", "id": ARN}, "params": {"feedback": "USEFUL"}}
        ]}))
    };
    let run = |settings: Settings| {
        let h = harness(script(), StaticInventory::default(), settings);
        let incoming = parse_input(finding.to_string().as_bytes()).remove(0).result.unwrap();
        async move {
            let doc = h.pipeline.run(incoming).await.document.unwrap();
            let s: Vec<ActionStatus> = statuses(&doc).into_iter().map(|(_, _, st)| st).collect();
            s
        }
    };
    let no_actions = Settings {
        max_actions_per_hour: 0,
        ..enforce()
    };
    assert_eq!(
        run(no_actions).await,
        [ActionStatus::SkippedRateLimited, ActionStatus::Executed]
    );
    let no_write_backs = Settings {
        max_write_backs_per_hour: 0,
        ..enforce()
    };
    assert_eq!(
        run(no_write_backs).await,
        [ActionStatus::Executed, ActionStatus::SkippedRateLimited]
    );
}

/// An inventory that cannot answer: `transient` says whether asking again may help.
struct Unreadable {
    transient: bool,
}

#[async_trait::async_trait]
impl soar_core::ports::Inventory for Unreadable {
    async fn describe(
        &self,
        _: &soar_core::Resource,
    ) -> Result<Option<InventoryRecord>, soar_core::ports::ProviderError> {
        Err(soar_core::ports::ProviderError::new("ec2", "DescribeInstances: throttled").transient(self.transient))
    }
}

/// Protection that cannot be read is protection: never acted on. When the read may pass
/// (throttled, a server error), the action waits for the alert to come back instead of being
/// skipped for good (an incident's only alert would otherwise never be contained).
#[tokio::test]
async fn protection_that_cannot_be_read_stops_the_action_and_a_passing_failure_retries() {
    let script = || {
        remediating(json!({"actions": [
            {"type": "ec2.isolate", "target": {"kind": "Instance", "id": "i-0123456789abcdef0"}}
        ]}))
    };
    for (transient, expected) in [
        (true, ActionStatus::Interrupted),
        (false, ActionStatus::SkippedProtected),
    ] {
        let h = harness(script(), Unreadable { transient }, enforce());
        let out = h.pipeline.run(finding("198.51.100.7", false)).await;
        let doc = out.document.unwrap();
        assert_eq!(
            statuses(&doc)[0].2,
            expected,
            "transient {transient}: {:?}",
            doc.actions
        );
        assert!(h.remediator.calls().is_empty());
    }
}
