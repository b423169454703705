//! Recognising every shape, and refusing what is not an alert with the field named.

use super::*;
use crate::alert::{IndicatorKind, ResourceKind};
use serde_json::json;

fn finding() -> Value {
    json!({"id": "f1", "type": "Recon:EC2/PortProbeUnprotectedPort", "severity": 2, "accountId": "1",
           "region": "us-east-1", "service": {"serviceName": "guardduty", "action": {}}})
}

fn only(bytes: &[u8]) -> Result<Incoming, InputError> {
    let mut parsed = parse_input(bytes);
    assert_eq!(parsed.len(), 1);
    parsed.remove(0).result
}

#[test]
fn recognises_bare_findings_and_eventbridge_events() {
    assert!(matches!(
        only(finding().to_string().as_bytes()),
        Ok(Incoming::Normalised(_))
    ));
    let event =
        json!({"version": "0", "detail-type": "GuardDuty Finding", "source": "aws.guardduty", "detail": finding()});
    assert!(matches!(
        only(event.to_string().as_bytes()),
        Ok(Incoming::Normalised(_))
    ));
    // Another source's EventBridge event is another tool's alert, mapped by the ingest policy.
    let other = json!({"detail-type": "Inspector2 Finding", "source": "aws.inspector2", "detail": {"findings": []}});
    match only(other.to_string().as_bytes()) {
        Ok(Incoming::Generic { source, .. }) => assert_eq!(source, "aws.inspector2"),
        other => panic!("{other:?}"),
    }
    // Security Hub's own event is read finding by finding; one without findings says so.
    let hub = json!({"detail-type": "Security Hub Findings - Imported", "source": "aws.securityhub", "detail": {"findings": []}});
    let err = only(hub.to_string().as_bytes()).unwrap_err().to_string();
    assert!(err.contains("`detail.findings`"), "{err}");
}

#[test]
fn sqs_records_fail_alone() {
    let event = json!({"Records": [
        {"messageId": "m1", "body": finding().to_string()},
        {"messageId": "m2", "body": "{not json"},
        {"messageId": "m3"},
        {"messageId": "m4", "body": json!({"detail-type": "GuardDuty Finding", "source": "aws.guardduty", "detail": {"service": {}}}).to_string()},
    ]});
    let parsed = parse_input(event.to_string().as_bytes());
    assert_eq!(parsed.len(), 4);
    assert!(parsed[0].result.is_ok());
    assert_eq!(parsed[0].part.as_deref(), Some("Records[0] (m1)"));
    let e1 = parsed[1].result.as_ref().unwrap_err().to_string();
    assert!(e1.contains("Records[1].body") && e1.contains("not valid JSON"), "{e1}");
    let e2 = parsed[2].result.as_ref().unwrap_err().to_string();
    assert!(e2.contains("`Records[2].body` is missing"), "{e2}");
    let e3 = parsed[3].result.as_ref().unwrap_err().to_string();
    assert!(e3.contains("Records[3].body.detail.id"), "{e3}");
}

#[test]
fn malformed_inputs_get_clear_errors() {
    assert!(matches!(only(b"not json"), Err(InputError::NotJson(_))));
    let e = only(b"[1,2]").unwrap_err().to_string();
    assert!(e.contains("got an array"), "{e}");
    let e = only(b"{}").unwrap_err().to_string();
    assert!(e.contains("empty object"), "{e}");
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    let e = only(deep.as_bytes()).unwrap_err().to_string();
    assert!(e.contains("nested deeper than 128"), "{e}");
    let big = vec![b' '; MAX_INPUT_BYTES + 1];
    assert!(matches!(only(&big), Err(InputError::TooLarge { .. })));
    let e = only(br#"{"detail-type": "GuardDuty Finding", "source": "aws.guardduty", "detail": "x"}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("`detail`"), "{e}");
}

#[test]
fn generic_mapping_validates_fields() {
    let raw = json!({"alert_id": "x"});
    let ok = alert_from_mapping(
        "falco",
        &json!({"id": "x", "type": "Shell in container", "severity": "high",
        "resource": {"kind": "Container", "id": "c1"}, "indicators": [{"type": "ip", "value": "198.51.100.1"}]}),
        &raw,
    )
    .unwrap();
    assert_eq!(ok.id, "falco///x");
    assert_eq!(ok.severity, 7.0);
    assert_eq!(ok.resource.kind, ResourceKind::Container);
    assert_eq!(ok.indicators[0].kind, IndicatorKind::Ip);
    let e = alert_from_mapping("falco", &json!({"type": "t"}), &raw)
        .unwrap_err()
        .to_string();
    assert!(e.contains("decision.alert.id"), "{e}");
    let e = alert_from_mapping(
        "falco",
        &json!({"id": "x", "type": "t", "indicators": [{"type": "phone", "value": "1"}]}),
        &raw,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("indicators[0].type"), "{e}");
    // The tool's own alert says protected: no mapping can drop that.
    let raw = json!({"resource": {"type": "Instance", "id": "i-0abc1234", "tags": {"soar:protected": "true"}}});
    let mapped = alert_from_mapping(
        "edr",
        &json!({"id": "x", "type": "t", "resource": {"kind": "Instance", "id": "i-0abc1234", "tags": {}}}),
        &raw,
    )
    .unwrap();
    assert!(mapped.resource.is_protected());
}
