//! Alerts from other tools: the ingest policy maps the raw alert onto soar's fields, and this
//! builds the alert from that mapping, naming the mapped field the policy got wrong.

use super::error::InputError;
use super::fields::{severity_value, tags_in, text};
use crate::alert::{Alert, Indicator, IndicatorKind, Resource, ResourceKind, severity_label};
use crate::json::flag_set;
use serde_json::Value;

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
    let severity = severity_value(mapping.get("severity")).map_err(|got| {
        InputError::invalid(
            field("severity"),
            format!("expected a number from 0 to 10 or a label, got {got}"),
        )
    })?;
    let account = text(mapping.get("account")).unwrap_or_default();
    let region = text(mapping.get("region")).unwrap_or_default();

    let resource = mapped_resource(mapping, raw, &account, &region);
    let indicators = mapped_indicators(mapping)?;

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
        related_resources: Vec::new(),
        indicators: crate::canonical::indicators(indicators),
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
        finding: None,
        raw: raw.clone(),
    })
}

/// The mapped `resource` (kind, id, tags), in the alert's account and region; protected also
/// when the tool's own alert says so, whatever the mapping kept of it.
fn mapped_resource(mapping: &Value, raw: &Value, account: &str, region: &str) -> Resource {
    let mut resource = Resource::unknown();
    if let Some(r) = mapping.get("resource").filter(|r| r.is_object()) {
        resource.kind = ResourceKind::from_name(&text(r.get("kind")).unwrap_or_else(|| "Unknown".into()));
        resource.id = text(r.get("id")).unwrap_or_default().trim().to_string();
        (resource.tags, resource.protected) = tags_in(&[r]);
    }
    resource.account = account.to_string();
    resource.region = region.to_string();
    // Protection the tool's own alert states counts whatever the mapping kept of it.
    let raw_resources: Vec<&Value> = [raw, raw.get("detail").unwrap_or(&Value::Null)]
        .into_iter()
        .filter_map(|r| r.get("resource"))
        .collect();
    if tags_in(&raw_resources).1 {
        resource.protected = true;
        resource
            .tags
            .insert(crate::alert::PROTECTED_TAG.to_string(), "true".to_string());
    }
    resource
}

/// The mapped `indicators`, each once; the error names the one the mapping got wrong.
fn mapped_indicators(mapping: &Value) -> Result<Vec<Indicator>, InputError> {
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
    Ok(indicators)
}
