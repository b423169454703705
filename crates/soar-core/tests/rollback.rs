//! `soar rollback`'s flow (soar_core::rollback): selection, dry run, exactly once through the
//! ledger, actions that cannot be undone, records without rollback data, failures.

// Test code: a failed unwrap is the test failing, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use async_trait::async_trait;
use serde_json::{Value, json};
use soar_core::action::{Action, ActionKind};
use soar_core::alert::{Alert, ResourceKind};
use soar_core::document::{ActionRecord, ActionRequest, ActionStatus, Document, Mode, Target};
use soar_core::input::{Incoming, parse_input};
use soar_core::ports::{ActionError, ActionLedger, Claim, InventoryRecord, Remediator};
use soar_core::rollback::{RollbackStatus, Selection, Undo, rollback};
use soar_offline::memory::{MemoryState, RecordingRemediator};
use std::collections::BTreeMap;

fn alert() -> Alert {
    let finding = json!({"schemaVersion": "2.0", "accountId": "111122223333", "region": "eu-west-1", "id": "f1",
        "type": "UnauthorizedAccess:EC2/TorClient", "severity": 8, "updatedAt": "2026-11-20T09:00:00Z",
        "resource": {"resourceType": "Instance", "instanceDetails": {"instanceId": "i-0123456789abcdef0"}},
        "service": {"serviceName": "guardduty", "additionalInfo": {}}});
    match parse_input(finding.to_string().as_bytes()).remove(0).result.unwrap() {
        Incoming::Normalised(alert) => *alert,
        other => panic!("{other:?}"),
    }
}

fn record(action: &str, kind: ResourceKind, id: &str, status: ActionStatus, detail: Value) -> ActionRecord {
    ActionRecord {
        ledger_target: None,
        request: ActionRequest {
            action: action.into(),
            target: Target { kind, id: id.into() },
            params: Value::Null,
            requires_approval: false,
            reason: String::new(),
        },
        mode: Mode::Enforce,
        status,
        detail,
    }
}

/// An alert whose remediation isolated the instance, snapshotted it, throttled a function (an
/// older record without rollback data), failed to deactivate a key, and notified.
fn document() -> Document {
    let mut doc = Document::new(alert());
    let groups = Undo::RestoreGroups {
        instance_id: "i-0123456789abcdef0".into(),
        groups: BTreeMap::from([("eni-1".into(), vec!["sg-web".into()])]),
    };
    let protect = Undo::Unprotect {
        instance_id: "i-0123456789abcdef0".into(),
    };
    let instance =
        |action, status, detail| record(action, ResourceKind::Instance, "i-0123456789abcdef0", status, detail);
    doc.actions = vec![
        instance("ec2.isolate", ActionStatus::Executed, json!({"undo": groups.data()})),
        instance("ec2.snapshot", ActionStatus::Executed, json!({"snapshots": []})),
        instance("ec2.protect", ActionStatus::Executed, json!({"undo": protect.data()})),
        record(
            "lambda.throttle",
            ResourceKind::Lambda,
            "payments",
            ActionStatus::Executed,
            json!({}),
        ),
        record(
            "iam.deactivate_access_key",
            ResourceKind::AccessKey,
            "AKIAEXAMPLEUSERKEY01",
            ActionStatus::Failed,
            json!("denied"),
        ),
        record(
            "notify",
            ResourceKind::Other("Channel".into()),
            "oncall",
            ActionStatus::Executed,
            json!({}),
        ),
    ];
    doc
}

fn summary(results: &[soar_core::rollback::RolledBack]) -> Vec<(String, RollbackStatus)> {
    results.iter().map(|r| (r.action.clone(), r.status.clone())).collect()
}

#[tokio::test]
async fn a_dry_run_lists_the_calls_newest_first_and_claims_nothing() {
    let (ledger, remediator) = (MemoryState::new(), RecordingRemediator::default());
    let out = rollback(&document(), &Selection::default(), Mode::DryRun, &ledger, &remediator)
        .await
        .unwrap();
    assert_eq!(
        summary(&out),
        [
            ("lambda.throttle".into(), RollbackStatus::NotReversible),
            ("ec2.protect".into(), RollbackStatus::Planned),
            ("ec2.isolate".into(), RollbackStatus::Planned),
        ],
        "the snapshot, the failed action and the notification are not offered"
    );
    assert!(
        out[0]
            .detail
            .as_str()
            .unwrap()
            .contains("no rollback data recorded (detail.undo)")
    );
    assert_eq!(
        out[2].detail["api_calls"],
        json!([
            "ec2:ModifyNetworkInterfaceAttribute NetworkInterfaceId=eni-1 Groups=[sg-web]",
            "ec2:ModifyInstanceAttribute InstanceId=i-0123456789abcdef0 Groups=[sg-web]"
        ])
    );
    assert!(remediator.undone().is_empty());
    let claim = ledger
        .claim_action(
            &document().alert.id,
            Mode::Enforce,
            "rollback:ec2.isolate",
            "i-0123456789abcdef0",
        )
        .await
        .unwrap();
    assert_eq!(claim, Claim::New, "a dry run takes no ledger entry");
}

#[tokio::test]
async fn enforce_undoes_each_action_once() {
    let (ledger, remediator) = (MemoryState::new(), RecordingRemediator::default());
    let doc = document();
    let selection = Selection {
        action: Some(ActionKind::Ec2Isolate),
        target: None,
    };
    let first = rollback(&doc, &selection, Mode::Enforce, &ledger, &remediator)
        .await
        .unwrap();
    assert_eq!(summary(&first), [("ec2.isolate".into(), RollbackStatus::RolledBack)]);
    let again = rollback(&doc, &selection, Mode::Enforce, &ledger, &remediator)
        .await
        .unwrap();
    assert_eq!(
        summary(&again),
        [("ec2.isolate".into(), RollbackStatus::AlreadyRolledBack)]
    );
    assert_eq!(remediator.undone().len(), 1);
    assert!(matches!(remediator.undone()[0].1, Undo::RestoreGroups { .. }));
}

#[tokio::test]
async fn naming_what_cannot_be_undone_says_so_and_nothing_matching_is_an_error() {
    let (ledger, remediator) = (MemoryState::new(), RecordingRemediator::default());
    let doc = document();
    let snapshot = Selection {
        action: Some(ActionKind::Ec2Snapshot),
        target: None,
    };
    let out = rollback(&doc, &snapshot, Mode::Enforce, &ledger, &remediator)
        .await
        .unwrap();
    assert_eq!(summary(&out), [("ec2.snapshot".into(), RollbackStatus::NotReversible)]);
    assert_eq!(out[0].detail, json!("ec2.snapshot cannot be undone"));
    for selection in [
        Selection {
            action: Some(ActionKind::IamDeactivateAccessKey),
            target: None,
        },
        Selection {
            action: Some(ActionKind::Ec2Isolate),
            target: Some("i-0000000000000000f".into()),
        },
    ] {
        let err = rollback(&doc, &selection, Mode::Enforce, &ledger, &remediator)
            .await
            .unwrap_err();
        assert!(err.contains("executed: ec2.isolate i-0123456789abcdef0"), "{err}");
    }
    assert!(remediator.undone().is_empty());
}

/// A remediator whose every rollback fails (the role lacks a permission).
struct Denied;

#[async_trait]
impl Remediator for Denied {
    async fn execute(
        &self,
        _: &Alert,
        _: &str,
        _: &Target,
        _: &Action,
        _: Option<&InventoryRecord>,
    ) -> Result<Value, ActionError> {
        unreachable!("rollback never carries an action out")
    }
    async fn undo(&self, _: &Alert, target: &Target, _: &Undo) -> Result<Value, ActionError> {
        Err(ActionError {
            action: "rollback".into(),
            target: target.id.clone(),
            message: "access denied".into(),
            transient: false,
        })
    }
}

#[tokio::test]
async fn a_failed_rollback_gives_its_ledger_entry_back() {
    let ledger = MemoryState::new();
    let doc = document();
    let selection = Selection {
        action: Some(ActionKind::Ec2Protect),
        target: None,
    };
    let out = rollback(&doc, &selection, Mode::Enforce, &ledger, &Denied)
        .await
        .unwrap();
    assert_eq!(summary(&out), [("ec2.protect".into(), RollbackStatus::Failed)]);
    assert!(out[0].detail.as_str().unwrap().contains("access denied"));
    let retry = rollback(
        &doc,
        &selection,
        Mode::Enforce,
        &ledger,
        &RecordingRemediator::default(),
    )
    .await
    .unwrap();
    assert_eq!(summary(&retry), [("ec2.protect".into(), RollbackStatus::RolledBack)]);
}
