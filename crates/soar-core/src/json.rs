//! Reading alert JSON without losing what a duplicate key said.
//!
//! RFC 8259 leaves objects with repeated names undefined, and parsers disagree: serde_json keeps
//! the last value, others the first. For an alert that is a trap: `{"sample": true, "sample":
//! false}` reads as a real finding to one reader and a sample to another. soar keeps every
//! value: a key repeated with different values becomes the list of them in order (two objects
//! merge key by key instead, and two lists are joined), so a guard-rail flag read from it sees
//! all of them (and any one marking a sample, a test or a protected resource wins), and a field
//! that must be a single value (an id, a severity) is rejected with its name instead of being
//! silently picked.

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// Parses JSON text as [`serde_json::from_slice`] does (same errors and nesting limit), but a
/// key repeated in one object with different values is kept as an array of all its values.
pub fn from_slice_keeping_duplicates(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let KeepDuplicates(value) = KeepDuplicates::deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// A JSON value read as [`from_slice_keeping_duplicates`] reads it, for payloads another library
/// deserializes (the Lambda runtime parses a direct invocation's event into this).
#[derive(Debug, Clone, PartialEq)]
pub struct KeepDuplicates(pub Value);

impl<'de> Deserialize<'de> for KeepDuplicates {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor).map(KeepDuplicates)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(KeepDuplicates(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let KeepDuplicates(value) = map.next_value()?;
            match object.get_mut(&key) {
                None => {
                    object.insert(key, value);
                }
                Some(existing) => {
                    let first = existing.take();
                    *existing = merge(first, value);
                }
            }
        }
        Ok(Value::Object(object))
    }
}

/// The value of a key given twice: two objects merge key by key (so `service` given twice
/// still has its `additionalInfo`), equal values stay one, anything else becomes the list of
/// every value (lists are joined, so `tags` given twice has every tag).
fn merge(first: Value, second: Value) -> Value {
    match (first, second) {
        (Value::Object(mut a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(existing) => {
                        let old = existing.take();
                        *existing = merge(old, v);
                    }
                    None => {
                        a.insert(k, v);
                    }
                }
            }
            Value::Object(a)
        }
        (a, b) if a == b => a,
        (a, b) => {
            let mut values = match a {
                Value::Array(items) => items,
                other => vec![other],
            };
            match b {
                Value::Array(items) => values.extend(items),
                other => values.push(other),
            }
            Value::Array(values)
        }
    }
}

/// A guard-rail flag (sample, test, archived) read the safe way: `false` only when the value
/// clearly says no (`false`, `"false"`, `" FALSE "`, `"f"`, `0`, `"0"`, `"no"`, `"n"`, `"off"`,
/// `""`, `null`, absent); any other value, and any of several values (a repeated key), that does not clearly
/// say no means yes.
pub fn flag_set(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64() != Some(0.0),
        Some(Value::String(s)) => !says_no(s),
        // An empty list where a flag belongs says nothing clearly: the safe side.
        Some(Value::Array(values)) => values.is_empty() || values.iter().any(|v| flag_set(Some(v))),
        // An object where a flag belongs: unreadable, so the safe side.
        Some(Value::Object(_)) => true,
    }
}

/// Whether any of the flags `names` is set ([`flag_set`]) in `value`: an object, or a list of
/// them (a parent key given twice). Key names match in any case and spacing (`"Test "`).
pub fn flag_in(value: &Value, names: &[&str]) -> bool {
    objects(value).into_iter().any(|object| flag_in_object(object, names))
}

/// [`flag_in`] for one object.
pub fn flag_in_object(object: &Map<String, Value>, names: &[&str]) -> bool {
    object
        .iter()
        .any(|(k, v)| names.iter().any(|n| k.trim().eq_ignore_ascii_case(n)) && flag_set(Some(v)))
}

/// The objects `value` holds: itself, or the objects in it when it is a list (a key given twice
/// with an object and something else, see [`from_slice_keeping_duplicates`]).
pub fn objects(value: &Value) -> Vec<&Map<String, Value>> {
    match value {
        Value::Object(object) => vec![object],
        Value::Array(items) => items.iter().flat_map(objects).collect(),
        _ => Vec::new(),
    }
}

/// `false`, `no`, `off`, `0` or nothing, in any case and spacing.
pub fn says_no(s: &str) -> bool {
    matches!(
        s.trim().to_ascii_lowercase().as_str(),
        "false" | "no" | "off" | "0" | "n" | "f" | ""
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn repeated_keys_keep_every_value() {
        let v = from_slice_keeping_duplicates(br#"{"a": 1, "s": true, "s": false, "s": "x", "b": {"c": 2, "c": 2}}"#)
            .unwrap();
        assert_eq!(v, json!({"a": 1, "s": [true, false, "x"], "b": {"c": 2}}));
        // A parent given twice merges: neither copy hides the other's flag or tags.
        let v = from_slice_keeping_duplicates(
            br#"{"service": {"additionalInfo": {"sample": true}}, "service": {"archived": false},
                "tags": [{"key": "soar:protected", "value": "true"}], "tags": [{"key": "Name", "value": "web"}]}"#,
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"service": {"additionalInfo": {"sample": true}, "archived": false},
                   "tags": [{"key": "soar:protected", "value": "true"}, {"key": "Name", "value": "web"}]})
        );
    }

    #[test]
    fn same_errors_and_limits_as_serde_json() {
        assert!(from_slice_keeping_duplicates(b"{").is_err());
        assert!(from_slice_keeping_duplicates(b"{} x").is_err());
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let e = from_slice_keeping_duplicates(deep.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("recursion limit"), "{e}");
        let v = from_slice_keeping_duplicates(br#"[1.5, -3, 18446744073709551615, null, "\u00e9"]"#).unwrap();
        assert_eq!(v, json!([1.5, -3, 18446744073709551615u64, null, "é"]));
    }

    #[test]
    fn flags_read_the_safe_way() {
        for yes in [
            json!(true),
            json!("true"),
            json!(" TRUE "),
            json!(1),
            json!("1"),
            json!("yes"),
            json!([false, true]),
            json!({}),
        ] {
            assert!(flag_set(Some(&yes)), "{yes}");
        }
        for no in [
            json!(false),
            json!("false"),
            json!(" False "),
            json!(0),
            json!("0"),
            json!("no"),
            json!(""),
            json!(null),
            json!([false, "false"]),
        ] {
            assert!(!flag_set(Some(&no)), "{no}");
        }
        assert!(!flag_set(None));
    }
}
