//! The DynamoDB and SQS adapters against a real local endpoint (moto server).

// Test code: a failed unwrap is the test failing, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use soar_aws::{DynamoState, SqsForwarder, SqsQueue, sdk};
use soar_core::alert::{Indicator, IndicatorKind};
use soar_core::document::{ActionRecord, ActionRequest, ActionStatus, Document, Mode, Serialized, Target};
use soar_core::input::{Incoming, parse_input};
use soar_core::ports::{ActionLedger, AlertLog, Claim, Forwarder, Lookup, LookupCache, Registration};
use soar_local::setup::setup;
use soar_tests::Moto;
use std::time::Duration;

fn document(updated_at: &str) -> Document {
    let finding = json!({"id": "f1", "type": "Recon:EC2/Portscan", "severity": 5, "accountId": "1", "region": "us-east-1",
        "updatedAt": updated_at, "resource": {"resourceType": "Instance", "instanceDetails": {"instanceId": "i-1"}},
        "service": {"serviceName": "guardduty"}});
    let Ok(Incoming::Normalised(alert)) = parse_input(finding.to_string().as_bytes()).remove(0).result else {
        panic!("fixture parses")
    };
    Document::new(*alert)
}

async fn state(moto: &Moto) -> (DynamoState, sdk::SdkConfig, soar_local::setup::Environment) {
    let config = sdk::local(&moto.endpoint()).await.unwrap();
    let env = setup(&config, "t").await.expect("setup");
    let state = DynamoState::new(aws_sdk_dynamodb::Client::new(&config), env.vars["SOAR_TABLE"].clone());
    (state, config, env)
}

#[tokio::test]
async fn setup_is_idempotent_and_prints_the_environment() {
    let moto = Moto::start();
    let config = sdk::local(&moto.endpoint()).await.unwrap();
    let first = setup(&config, "soar").await.unwrap();
    let second = setup(&config, "soar").await.unwrap();
    assert_eq!(first.vars, second.vars);
    let rendered = first.render();
    for key in [
        "SOAR_TABLE=soar-state",
        "SOAR_INGEST_QUEUE_URL=",
        "SOAR_ENRICH_QUEUE_URL=",
        "SOAR_EVALUATE_QUEUE_URL=",
        "SOAR_REMEDIATE_QUEUE_URL=",
    ] {
        assert!(rendered.contains(key), "{key} missing from\n{rendered}");
    }
    let sqs = aws_sdk_sqs::Client::new(&config);
    let queues = sqs.list_queues().send().await.unwrap();
    assert_eq!(queues.queue_urls().iter().filter(|u| u.ends_with("-dlq")).count(), 4);
    let events = aws_sdk_eventbridge::Client::new(&config);
    let targets = events
        .list_targets_by_rule()
        .rule(&first.rule_name)
        .send()
        .await
        .unwrap();
    assert_eq!(targets.targets().len(), 1);
}

#[tokio::test]
async fn revisions_dedup_and_documents_round_trip() {
    let moto = Moto::start();
    let (state, _, _) = state(&moto).await;
    let first = document("2026-11-20T09:00:00Z");
    assert_eq!(state.register_alert(&first).await.unwrap(), Registration::New);
    // Not handed on yet: a copy waits while the first delivery may still be at it, and takes
    // over once its lease ran out (it died between registering and handing on).
    assert_eq!(state.register_alert(&first).await.unwrap(), Registration::InProgress);
    let expired = state.clone().with_claim_lease(std::time::Duration::ZERO);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let taken_over = expired.register_alert(&first).await.unwrap();
    assert!(
        matches!(taken_over, Registration::New | Registration::Updated { .. }),
        "taken over: {taken_over:?}"
    );
    state.mark_handed_on(&first).await.unwrap();
    assert_eq!(
        state.register_alert(&first).await.unwrap(),
        Registration::Duplicate {
            latest: "2026-11-20T09:00:00.000Z".into()
        }
    );
    let newer = document("2026-11-21T09:00:00Z");
    assert_eq!(
        state.register_alert(&newer).await.unwrap(),
        Registration::Updated {
            previous: "2026-11-20T09:00:00.000Z".into()
        }
    );
    state.mark_handed_on(&newer).await.unwrap();
    // A late copy of the older revision is a duplicate too.
    assert!(matches!(
        state.register_alert(&first).await.unwrap(),
        Registration::Duplicate { .. }
    ));
    // The same finding id on another resource is its own alert (lesson: never hide a second instance).
    let mut other = document("2026-11-20T09:00:00Z");
    other.alert.resource.id = "i-2".into();
    assert_eq!(state.register_alert(&other).await.unwrap(), Registration::New);

    let json = Serialized::text(&newer).unwrap();
    state.save_document(&Serialized::of(&newer, &json)).await.unwrap();
    assert_eq!(state.load_document(&newer.alert.id).await.unwrap(), Some(newer));
    assert_eq!(state.load_document("nope").await.unwrap(), None);
}

#[tokio::test]
async fn the_ledger_lets_exactly_one_racer_act() {
    let moto = Moto::start();
    let (state, _, _) = state(&moto).await;
    let mut racers = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let state = state.clone();
        racers.spawn(async move {
            state
                .claim_action("a1", Mode::Enforce, "ec2.isolate", "i-1")
                .await
                .unwrap()
                == Claim::New
        });
    }
    let wins = racers.join_all().await.into_iter().filter(|won| *won).count();
    assert_eq!(wins, 1);
    // Dry-run plans have their own ledger: a plan never blocks the real action later.
    assert!(
        state
            .claim_action("a1", Mode::DryRun, "ec2.isolate", "i-1")
            .await
            .unwrap()
            == Claim::New
    );

    let pending = ActionRecord {
        ledger_target: None,
        request: ActionRequest {
            action: "ec2.stop".into(),
            target: Target {
                kind: soar_core::ResourceKind::Instance,
                id: "i-1".into(),
            },
            params: json!({}),
            requires_approval: true,
            reason: "test".into(),
        },
        mode: Mode::Enforce,
        status: ActionStatus::PendingApproval,
        detail: soar_core::approval::waiting_detail(
            "soar approve a1 ec2.stop i-1",
            &soar_core::approval::ApprovalTicket::new(
                "sha256:plan".into(),
                chrono::Utc::now(),
                std::time::Duration::from_secs(600),
            ),
        ),
    };
    assert!(
        state
            .claim_action("a1", Mode::Enforce, "ec2.stop", "i-1")
            .await
            .unwrap()
            == Claim::New
    );
    state.record_action("a1", &pending).await.unwrap();
    let ledger = state.ledger("a1").await.unwrap();
    assert!(
        ledger
            .iter()
            .any(|e| e.sk == "ACTION#ec2.stop#i-1" && e.status == "pending_approval"),
        "{ledger:?}"
    );
    assert_eq!(
        state
            .claim_action("a1", Mode::Enforce, "ec2.stop", "i-1")
            .await
            .unwrap(),
        Claim::Taken
    );
    let waiting = state.waiting_approvals().await.unwrap();
    assert_eq!(
        waiting
            .iter()
            .map(|w| (
                w.scope.as_str(),
                w.action.as_str(),
                w.target.as_str(),
                w.ticket.digest.as_str()
            ))
            .collect::<Vec<_>>(),
        [("a1", "ec2.stop", "i-1", "sha256:plan")]
    );
    let answer = |digest: &'static str, by: &'static str| {
        let state = state.clone();
        async move {
            state
                .answer_approval(
                    "a1",
                    ("ec2.stop", "i-1"),
                    digest,
                    "approved",
                    &soar_core::approval::Approver {
                        id: by.into(),
                        name: by.into(),
                        via: "cli".into(),
                        team: None,
                    },
                )
                .await
                .unwrap()
        }
    };
    assert!(
        !answer("sha256:other-plan", "alice").await,
        "an answer names the plan waiting"
    );
    assert!(answer("sha256:plan", "alice").await);
    // The same approval again (the SDK repeating a call whose answer was lost) stands; another
    // person's finds nothing pending.
    assert!(answer("sha256:plan", "alice").await);
    assert!(!answer("sha256:plan", "bob").await, "only pending actions are approved");
    assert!(
        state.waiting_approvals().await.unwrap().is_empty(),
        "answered: off the list"
    );
    let approved = state.approval("a1", "ec2.stop", "i-1").await.unwrap().unwrap();
    assert_eq!(
        (approved.status.as_str(), approved.decided_by.as_deref()),
        ("approved", Some("cli:alice"))
    );
    assert_eq!(approved.approver.as_ref().unwrap().id, "alice");
    assert_eq!(
        state
            .claim_action("a1", Mode::Enforce, "ec2.stop", "i-1")
            .await
            .unwrap(),
        Claim::Approved
    );
    assert_eq!(
        state
            .claim_action("a1", Mode::Enforce, "ec2.stop", "i-1")
            .await
            .unwrap(),
        Claim::Busy,
        "handed out once: the invocation carrying it out holds it"
    );
    // Interrupted (AWS throttled): given back as approved, not as never claimed, so the retry
    // carries it out without asking a person again.
    state
        .release_action("a1", Mode::Enforce, "ec2.stop", "i-1")
        .await
        .unwrap();
    assert_eq!(
        state
            .claim_action("a1", Mode::Enforce, "ec2.stop", "i-1")
            .await
            .unwrap(),
        Claim::Approved
    );
    // A claim whose holder died (its lease ran out) is taken over once, then held again.
    let dead = state.clone().with_claim_lease(std::time::Duration::ZERO);
    assert_eq!(
        dead.claim_action("a2", Mode::Enforce, "ec2.isolate", "i-1")
            .await
            .unwrap(),
        Claim::New
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        state
            .claim_action("a2", Mode::Enforce, "ec2.isolate", "i-1")
            .await
            .unwrap(),
        Claim::Resumed
    );
    assert_eq!(
        state
            .claim_action("a2", Mode::Enforce, "ec2.isolate", "i-1")
            .await
            .unwrap(),
        Claim::Busy
    );

    // A refusal is recorded apart from the ledger, so it never blocks a later claim.
    let refused = ActionRecord {
        ledger_target: None,
        status: ActionStatus::SkippedRateLimited,
        ..pending
    };
    state.record_action("a1", &refused).await.unwrap();
    assert!(
        state
            .claim_action("a1", Mode::Enforce, "ec2.snapshot", "i-1")
            .await
            .unwrap()
            == Claim::New
    );
}

#[tokio::test]
async fn cache_ttl_hourly_cap_and_forwarding() {
    let moto = Moto::start();
    let (state, config, env) = state(&moto).await;
    let ip = Indicator::new(IndicatorKind::Ip, "198.51.100.7", "test", "remote");
    let lookup = Lookup {
        found: true,
        data: json!({"list": "tor"}),
        related: vec![],
    };
    state
        .cache_lookup("threatlist", &ip, &lookup, Duration::from_secs(600))
        .await
        .unwrap();
    assert_eq!(
        state.cached_lookup("threatlist", &ip).await.unwrap(),
        Some(lookup.clone())
    );
    state.cache_lookup("other", &ip, &lookup, Duration::ZERO).await.unwrap();
    assert_eq!(
        state.cached_lookup("other", &ip).await.unwrap(),
        None,
        "expired entries are misses"
    );

    assert!(
        state
            .take_action_budget(soar_core::ports::Budget::Actions, 2)
            .await
            .unwrap()
    );
    assert!(
        state
            .take_action_budget(soar_core::ports::Budget::Actions, 2)
            .await
            .unwrap()
    );
    assert!(
        !state
            .take_action_budget(soar_core::ports::Budget::Actions, 2)
            .await
            .unwrap()
    );
    // Write-backs are counted apart: the actions' cap reached leaves theirs untouched.
    assert!(
        state
            .take_action_budget(soar_core::ports::Budget::WriteBacks, 1)
            .await
            .unwrap()
    );
    assert!(
        !state
            .take_action_budget(soar_core::ports::Budget::WriteBacks, 1)
            .await
            .unwrap()
    );

    let sqs = aws_sdk_sqs::Client::new(&config);
    let url = env.vars["SOAR_ENRICH_QUEUE_URL"].clone();
    let doc = document("2026-11-20T09:00:00Z");
    let json = Serialized::text(&doc).unwrap();
    SqsForwarder::new(sqs.clone(), &url)
        .forward(&Serialized::of(&doc, &json))
        .await
        .unwrap();
    let queue = SqsQueue::new(sqs, &url);
    let messages = queue.receive(10, 1).await.unwrap();
    assert_eq!(messages.len(), 1);
    let received: Document = serde_json::from_str(&messages[0].body).unwrap();
    assert_eq!(received, doc);
    queue.delete(&messages[0].receipt_handle).await.unwrap();
    assert_eq!(queue.depth().await.unwrap(), 0);
}
