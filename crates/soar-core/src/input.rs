//! Recognising what arrived. soar accepts four shapes and tells them apart by their fields:
//!
//! - an SQS event: `{"Records": [{"body": "<any of the shapes below>"}]}`, one input per record;
//! - an EventBridge event: `{"detail-type": ..., "source": ..., "detail": {...}}`;
//! - a bare GuardDuty finding: an object with a `service` block from GuardDuty;
//! - anything else that is a JSON object: a generic alert from another tool, mapped by the ingest
//!   policy.
//!
//! A bad record in an SQS event fails alone; the other records go on.

use crate::alert::{Alert, Indicator, IndicatorKind, Resource, ResourceKind, severity_label};
use crate::guardduty::{self, text};
use crate::json::flag_set;
use serde_json::Value;

/// One alert is at most this large; GuardDuty findings are a few KiB and SQS caps a message at 1 MiB.
pub const MAX_INPUT_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InputError {
    #[error("input is {size} bytes; one alert may be at most {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("input is not valid JSON: {0}")]
    NotJson(String),
    #[error("input is not an alert: {0}")]
    WrongShape(String),
    #[error("field `{field}` is missing: {hint}")]
    Missing { field: String, hint: String },
    #[error("field `{field}` is invalid: {hint}")]
    Invalid { field: String, hint: String },
}

impl InputError {
    pub fn missing(field: impl Into<String>, hint: impl Into<String>) -> Self {
        InputError::Missing {
            field: field.into(),
            hint: hint.into(),
        }
    }
    pub fn invalid(field: impl Into<String>, hint: impl Into<String>) -> Self {
        InputError::Invalid {
            field: field.into(),
            hint: hint.into(),
        }
    }

    /// Prefixes the field with where it sits (`Records[2].body.detail`).
    fn within(self, prefix: &str) -> Self {
        match self {
            InputError::Missing { field, hint } => InputError::Missing {
                field: format!("{prefix}.{field}"),
                hint,
            },
            InputError::Invalid { field, hint } => InputError::Invalid {
                field: format!("{prefix}.{field}"),
                hint,
            },
            other => other,
        }
    }
}

/// A recognised input, not yet accepted by the ingest policy.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A GuardDuty finding, already normalised (the raw finding is inside the alert).
    GuardDuty(Box<Alert>),
    /// An alert from another tool; the ingest policy maps it. `source` comes from an EventBridge
    /// envelope or the alert's own `source` field.
    Generic { source: String, raw: Value },
}

impl Incoming {
    /// The raw payload, as the ingest policy sees it.
    pub fn raw(&self) -> &Value {
        match self {
            Incoming::GuardDuty(alert) => &alert.raw,
            Incoming::Generic { raw, .. } => raw,
        }
    }
}

/// One unit of work found in an input, with where it came from (`Records[1]`).
#[derive(Debug)]
pub struct ParsedInput {
    pub part: Option<String>,
    pub result: Result<Incoming, InputError>,
}

/// Reads one input (a file, a line of NDJSON, a Lambda payload). SQS events give one result per
/// record; every other shape gives exactly one.
pub fn parse_input(bytes: &[u8]) -> Vec<ParsedInput> {
    let whole = |result| vec![ParsedInput { part: None, result }];
    if bytes.len() > MAX_INPUT_BYTES {
        return whole(Err(InputError::TooLarge {
            size: bytes.len(),
            limit: MAX_INPUT_BYTES,
        }));
    }
    let value = match parse_json(bytes) {
        Ok(v) => v,
        Err(e) => return whole(Err(e)),
    };
    parse_value(value)
}

/// Like [`parse_input`], for a payload already parsed (the Lambda runtime parses the event).
pub fn parse_value(value: Value) -> Vec<ParsedInput> {
    match value.get("Records") {
        Some(Value::Array(records)) => records
            .iter()
            .enumerate()
            .map(|(i, record)| ParsedInput {
                part: Some(record_label(i, record)),
                result: sqs_record(i, record),
            })
            .collect(),
        Some(_) => vec![ParsedInput {
            part: None,
            result: Err(InputError::invalid(
                "Records",
                "an SQS event's `Records` must be an array",
            )),
        }],
        None => vec![ParsedInput {
            part: None,
            result: recognise(value),
        }],
    }
}

fn parse_json(bytes: &[u8]) -> Result<Value, InputError> {
    // A UTF-8 byte order mark, as some Windows tools write one, is not part of the JSON.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    crate::json::from_slice_keeping_duplicates(bytes).map_err(|e| {
        let msg = e.to_string();
        if msg.contains("recursion limit") {
            InputError::NotJson(format!("nested deeper than 128 levels ({msg})"))
        } else {
            InputError::NotJson(msg)
        }
    })
}

fn record_label(i: usize, record: &Value) -> String {
    match record.get("messageId").and_then(Value::as_str) {
        Some(id) => format!("Records[{i}] ({id})"),
        None => format!("Records[{i}]"),
    }
}

fn sqs_record(i: usize, record: &Value) -> Result<Incoming, InputError> {
    let prefix = format!("Records[{i}]");
    let body = record.get("body").and_then(Value::as_str).ok_or_else(|| {
        InputError::missing(
            format!("{prefix}.body"),
            "an SQS record carries its message as a string `body`",
        )
    })?;
    if body.len() > MAX_INPUT_BYTES {
        return Err(InputError::TooLarge {
            size: body.len(),
            limit: MAX_INPUT_BYTES,
        });
    }
    let value = parse_json(body.as_bytes()).map_err(|e| match e {
        InputError::NotJson(m) => InputError::invalid(format!("{prefix}.body"), format!("not valid JSON: {m}")),
        other => other,
    })?;
    if value.get("Records").is_some() {
        return Err(InputError::invalid(
            format!("{prefix}.body"),
            "an SQS record may not carry another SQS event",
        ));
    }
    recognise(value).map_err(|e| e.within(&format!("{prefix}.body")))
}

fn recognise(value: Value) -> Result<Incoming, InputError> {
    let Some(obj) = value.as_object() else {
        return Err(InputError::WrongShape(format!(
            "expected a JSON object (an EventBridge event, a GuardDuty finding, an SQS event or an alert), got {}",
            json_kind(&value)
        )));
    };
    if obj.contains_key("detail-type") || (obj.contains_key("detail") && obj.contains_key("source")) {
        let source = text(obj.get("source")).unwrap_or_default();
        let detail = obj.get("detail").filter(|d| d.is_object()).ok_or_else(|| {
            InputError::invalid(
                "detail",
                "an EventBridge event carries its payload as an object in `detail`",
            )
        })?;
        let detail_type = text(obj.get("detail-type")).unwrap_or_default();
        if source == "aws.guardduty" || detail_type == "GuardDuty Finding" {
            return guardduty::alert_from_finding(detail)
                .map(|a| Incoming::GuardDuty(Box::new(a)))
                .map_err(|e| e.within("detail"));
        }
        return Ok(Incoming::Generic {
            source: if source.is_empty() {
                "eventbridge".into()
            } else {
                source
            },
            raw: value,
        });
    }
    if looks_like_guardduty(&value) {
        return guardduty::alert_from_finding(&value).map(|a| Incoming::GuardDuty(Box::new(a)));
    }
    if obj.is_empty() {
        return Err(InputError::WrongShape("an empty object carries no alert".into()));
    }
    let source = text(obj.get("source"))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "generic".into());
    Ok(Incoming::Generic { source, raw: value })
}

fn looks_like_guardduty(value: &Value) -> bool {
    let service = &value["service"];
    service.is_object()
        && (service["serviceName"] == "guardduty"
            || service.get("detectorId").is_some()
            || value["arn"].as_str().is_some_and(|arn| arn.contains(":guardduty:")))
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Builds an alert from the ingest policy's mapping of a generic alert:
/// `{id, type, severity, title?, description?, account?, region?, updated_at?,
///   resource?: {kind, id, tags?}, indicators?: [{type, value}]}`.
/// The error names the mapped field the policy got wrong.
pub fn alert_from_mapping(source: &str, mapping: &Value, raw: &Value) -> Result<Alert, InputError> {
    let field = |name: &str| format!("decision.alert.{name}");
    if !mapping.is_object() {
        return Err(InputError::invalid(
            "decision.alert",
            "the ingest policy must map a generic alert to an object",
        ));
    }
    let source_id = text(mapping.get("id"))
        .filter(|s| !s.is_empty())
        .ok_or_else(|| InputError::missing(field("id"), "the generic alert has no identifier the policy could map"))?;
    let kind = text(mapping.get("type"))
        .filter(|s| !s.is_empty())
        .ok_or_else(|| InputError::missing(field("type"), "the generic alert has no type the policy could map"))?;
    let severity = guardduty::severity_value(mapping.get("severity")).map_err(|got| {
        InputError::invalid(
            field("severity"),
            format!("expected a number from 0 to 10 or a label, got {got}"),
        )
    })?;
    let account = text(mapping.get("account")).unwrap_or_default();
    let region = text(mapping.get("region")).unwrap_or_default();

    let mut resource = Resource::unknown();
    if let Some(r) = mapping.get("resource").filter(|r| r.is_object()) {
        resource.kind = ResourceKind::from_name(&text(r.get("kind")).unwrap_or_else(|| "Unknown".into()));
        resource.id = text(r.get("id")).unwrap_or_default().trim().to_string();
        (resource.tags, resource.protected) = guardduty::tags_in(&[r]);
    }
    resource.account.clone_from(&account);
    resource.region.clone_from(&region);
    // Protection the tool's own alert states counts whatever the mapping kept of it.
    let raw_resources: Vec<&Value> = [raw, raw.get("detail").unwrap_or(&Value::Null)]
        .into_iter()
        .filter_map(|r| r.get("resource"))
        .collect();
    if guardduty::tags_in(&raw_resources).1 {
        resource.protected = true;
        resource
            .tags
            .insert(crate::alert::PROTECTED_TAG.to_string(), "true".to_string());
    }

    let mut indicators = Vec::new();
    // An `indicators` key given twice arrives as a list of lists (see crate::json): all count.
    let items: Vec<&Value> = mapping
        .get("indicators")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|item| match item {
            Value::Array(inner) => inner.iter().collect(),
            other => vec![other],
        })
        .collect();
    for (i, item) in items.into_iter().enumerate() {
        // `IP`, ` Domain `: the kind, however the tool cased or spaced it.
        let declared = match item.get("type") {
            Some(Value::String(t)) => Value::String(t.trim().to_ascii_lowercase()),
            other => other.cloned().unwrap_or(Value::Null),
        };
        let kind: IndicatorKind = serde_json::from_value(declared).map_err(|_| {
            InputError::invalid(
                format!("decision.alert.indicators[{i}].type"),
                format!(
                    "got {}; expected ip, domain, hash, url, email, access_key or user",
                    item.get("type").unwrap_or(&Value::Null)
                ),
            )
        })?;
        let Some(value) = text(item.get("value")).filter(|v| !v.is_empty()) else {
            return Err(InputError::missing(
                format!("decision.alert.indicators[{i}].value"),
                "an indicator needs a value",
            ));
        };
        let seen_in = text(item.get("seen_in")).unwrap_or_else(|| format!("indicators[{i}]"));
        let role = text(item.get("role")).unwrap_or_else(|| "related".into());
        if !indicators
            .iter()
            .any(|x: &Indicator| x.kind == kind && x.value == value)
        {
            indicators.push(Indicator::new(kind, value, seen_in, &role));
        }
    }

    Ok(Alert {
        id: format!("{source}/{account}/{region}/{source_id}"),
        source: source.to_string(),
        source_id,
        account,
        region,
        title: text(mapping.get("title")).unwrap_or_else(|| kind.clone()),
        kind,
        severity,
        severity_label: severity_label(severity).into(),
        description: text(mapping.get("description")).unwrap_or_default(),
        resource,
        indicators: crate::alert::canonical_indicators(indicators),
        created_at: mapping.get("created_at").and_then(crate::time::normalise),
        updated_at: mapping.get("updated_at").and_then(crate::time::normalise),
        // The policy maps the tool's test flag; Rust reads it (and the raw alert's own `test` and
        // `sample`, wherever the generic schema puts them) the safe way, so no mapping can lose it.
        sample: flag_set(mapping.get("sample"))
            || [raw, raw.get("detail").unwrap_or(&Value::Null)]
                .iter()
                .any(|r| crate::json::flag_in(r, &["test", "sample"])),
        archived: false,
        labels: Vec::new(),
        raw: raw.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
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
            Ok(Incoming::GuardDuty(_))
        ));
        let event =
            json!({"version": "0", "detail-type": "GuardDuty Finding", "source": "aws.guardduty", "detail": finding()});
        assert!(matches!(only(event.to_string().as_bytes()), Ok(Incoming::GuardDuty(_))));
        let other = json!({"detail-type": "Security Hub Findings - Imported", "source": "aws.securityhub", "detail": {"findings": []}});
        match only(other.to_string().as_bytes()) {
            Ok(Incoming::Generic { source, .. }) => assert_eq!(source, "aws.securityhub"),
            other => panic!("{other:?}"),
        }
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
}
