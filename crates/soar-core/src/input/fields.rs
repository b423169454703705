//! Readers of single fields shared by every input shape: text that may be a number, a
//! severity in any of GuardDuty's spellings, and tags in the EC2, GuardDuty or map form.

use serde_json::Value;
use std::collections::BTreeMap;

/// Strings and numbers alike, as text.
pub fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A number, a numeric string, or one of GuardDuty's labels; missing means 0.
pub fn severity_value(value: Option<&Value>) -> Result<f64, String> {
    let parsed = match value {
        None | Some(Value::Null) => return Ok(0.0),
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .or(match s.trim().to_ascii_lowercase().as_str() {
                "critical" => Some(9.0),
                "high" => Some(7.0),
                "medium" => Some(4.0),
                "low" => Some(1.0),
                "informational" | "info" => Some(0.0),
                _ => None,
            }),
        Some(_) => None,
    };
    match parsed {
        Some(s) if (0.0..=10.0).contains(&s) => Ok(s),
        _ => Err(value.map(|v| v.to_string()).unwrap_or_default()),
    }
}

/// The tags of `parents`: every key spelled `tags` in any case and spacing (`Tags` as the EC2
/// API spells it, next to GuardDuty's `tags`), merged as [`tags`] reads one.
pub fn tags_in(parents: &[&Value]) -> (BTreeMap<String, String>, bool) {
    let mut merged = BTreeMap::new();
    let mut protected = false;
    for parent in parents {
        for object in crate::json::objects(parent) {
            for value in named(object, "tags") {
                let (found, marked) = tags(Some(value));
                protected |= marked;
                for (k, v) in found {
                    merged.entry(k).or_insert(v);
                }
            }
        }
    }
    if protected {
        merged.insert(crate::alert::PROTECTED_TAG.to_string(), "true".to_string());
    }
    (merged, protected)
}

/// `[{key, value}]` (GuardDuty), `[{Key, Value}]` (EC2 API) or a plain map, and whether any of
/// them marks the resource protected ([`crate::alert::marks_protected`]). Read the safe way: a
/// key given twice keeps its first value in the map but every value counts for protection, as
/// do `key` and `Key` in one entry, a map inside the list (`tags` given twice, once each way);
/// and tags that cannot be read at all (a string, a number) mark the resource protected.
pub fn tags(value: Option<&Value>) -> (BTreeMap<String, String>, bool) {
    let mut entries: Vec<(String, String)> = Vec::new();
    let mut unreadable = false;
    collect_tags(value, &mut entries, &mut unreadable, 0);
    let protected = unreadable || entries.iter().any(|(k, v)| crate::alert::marks_protected(k, v));
    let mut tags = BTreeMap::new();
    for (k, v) in entries {
        tags.entry(k).or_insert(v);
    }
    if protected {
        tags.insert(crate::alert::PROTECTED_TAG.to_string(), "true".to_string());
    }
    (tags, protected)
}

fn collect_tags(value: Option<&Value>, entries: &mut Vec<(String, String)>, unreadable: &mut bool, depth: u8) {
    if depth > 4 {
        *unreadable = true;
        return;
    }
    match value {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for item in items {
                match item {
                    Value::Object(entry) => {
                        let field = |name: &str| -> Vec<String> {
                            entry
                                .iter()
                                .filter(|(k, _)| k.trim().eq_ignore_ascii_case(name))
                                .flat_map(|(_, v)| tag_texts(v))
                                .collect()
                        };
                        let keys = field("key");
                        if keys.is_empty() {
                            // A map of tags where an entry was expected.
                            collect_tags(Some(item), entries, unreadable, depth + 1);
                            continue;
                        }
                        let mut values = field("value");
                        if values.is_empty() {
                            values.push(String::new());
                        }
                        for k in &keys {
                            for v in &values {
                                entries.push((k.clone(), v.clone()));
                            }
                        }
                    }
                    Value::Array(_) => collect_tags(Some(item), entries, unreadable, depth + 1),
                    Value::Null => {}
                    _ => *unreadable = true,
                }
            }
        }
        Some(Value::Object(map)) => {
            for (k, v) in map {
                match v {
                    Value::Object(_) => *unreadable = true,
                    v => entries.extend(tag_texts(v).into_iter().map(|t| (k.clone(), t))),
                }
            }
        }
        Some(_) => *unreadable = true,
    }
}

/// A tag key or value as text; a list (a key given twice) gives each of its values.
fn tag_texts(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items.iter().flat_map(tag_texts).collect(),
        Value::Null => vec![String::new()],
        other => text(Some(other)).into_iter().collect(),
    }
}

/// The values of `object`'s keys spelled `name` in any case and spacing.
pub(super) fn named<'a>(object: &'a serde_json::Map<String, Value>, name: &str) -> Vec<&'a Value> {
    object
        .iter()
        .filter(|(k, _)| normal_key(k).eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
        .collect()
}

/// A key without surrounding space or invisible characters.
pub(super) fn normal_key(key: &str) -> String {
    key.chars()
        .filter(|c| !matches!(c, '\u{200B}'..='\u{200F}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}'))
        .collect::<String>()
        .trim()
        .to_string()
}
