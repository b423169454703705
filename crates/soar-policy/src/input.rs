//! Policy inputs into the engine's values, built for one-shot documents.
//!
//! regorus's own `Value::from_json_str` interns every object key in a SipHash set (a win for
//! long arrays of like objects, which policy inputs are not) and inserts keys into the object
//! one at a time; on soar's inputs that made parsing cost more than the decision itself
//! (callgrind: 64% of a decision's instructions). Here each object's entries are collected
//! first and built in one sorted pass. The values are the ones regorus builds: same numbers,
//! same strings, the last of duplicate keys wins.

use regorus::Value;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::BTreeMap;
use std::fmt;

/// JSON text to an engine value.
pub fn from_json_str(text: &str) -> Result<Value, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = (&mut deserializer).deserialize_any(InputVisitor)?;
    deserializer.end()?;
    Ok(value)
}

/// An in-memory JSON tree to an engine value, without going through text.
pub fn from_json_value(value: &serde_json::Value) -> Value {
    match value {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => number(n),
        serde_json::Value::String(s) => Value::from(s.as_str()),
        serde_json::Value::Array(items) => Value::from(items.iter().map(from_json_value).collect::<Vec<_>>()),
        serde_json::Value::Object(map) => object(
            map.iter()
                .map(|(k, v)| (Value::from(k.as_str()), from_json_value(v)))
                .collect(),
        ),
    }
}

fn number(n: &serde_json::Number) -> Value {
    if let Some(u) = n.as_u64() {
        Value::from(u)
    } else if let Some(i) = n.as_i64() {
        Value::from(i)
    } else {
        // Without serde_json's arbitrary precision every other JSON number is a finite f64.
        Value::from(n.as_f64().unwrap_or(f64::NAN))
    }
}

/// `BTreeMap::from_iter` sorts once and bulk-builds the tree (keeping the last of equal keys),
/// rather than searching the tree for every insert.
fn object(entries: Vec<(Value, Value)>) -> Value {
    if entries.is_empty() {
        return Value::new_object();
    }
    Value::from(entries.into_iter().collect::<BTreeMap<_, _>>())
}

struct InputVisitor;

impl<'de> Visitor<'de> for InputVisitor {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        if !v.is_finite() {
            return Err(E::custom(format!("invalid non-finite number in input: {v}")));
        }
        Ok(Value::from(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(Seed)? {
            items.push(item);
        }
        Ok(Value::from(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(key) = map.next_key_seed(KeySeed)? {
            entries.push((key, map.next_value_seed(Seed)?));
        }
        Ok(object(entries))
    }
}

/// A value anywhere in the document.
struct Seed;

impl<'de> DeserializeSeed<'de> for Seed {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(InputVisitor)
    }
}

/// An object key: always a string in JSON.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_str(InputVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The engine's own parser is the reference: same values, same errors for bad text.
    fn same_as_regorus(text: &str) {
        let ours = from_json_str(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let theirs = Value::from_json_str(text).expect("regorus parses it");
        assert_eq!(ours, theirs, "{text}");
        let tree: serde_json::Value = serde_json::from_str(text).expect("valid JSON");
        assert_eq!(from_json_value(&tree), theirs, "{text} (from the JSON tree)");
    }

    #[test]
    fn builds_the_values_the_engine_builds() {
        for text in [
            "null",
            "true",
            "0",
            "-1",
            "18446744073709551615",
            "-9223372036854775808",
            "1.5",
            "-0.25e3",
            "1e300",
            "123456789012345678901234567890",
            r#""plain""#,
            r#""esc\"aped\u00e9\n""#,
            "[]",
            "{}",
            r#"[1, "two", [3], {"four": 4}]"#,
            r#"{"b": 1, "a": {"y": [true, null], "x": ""}, "\u0063": "c"}"#,
            r#"{"alert": {"indicators": [{"type": "ip", "value": "10.0.0.1"}, {"type": "ip", "value": "198.51.100.23"}]}}"#,
        ] {
            same_as_regorus(text);
        }
    }

    #[test]
    fn the_last_of_duplicate_keys_wins_as_in_the_engine() {
        let text = r#"{"k": 1, "j": 0, "k": 2, "k": 3}"#;
        assert_eq!(from_json_str(text).unwrap(), Value::from_json_str(text).unwrap());
        assert_eq!(from_json_str(text).unwrap()["k"], Value::from(3u64));
    }

    #[test]
    fn rejects_what_is_not_one_json_document() {
        for bad in ["", "{", r#"{"a": }"#, "[1,]", "1 2", "{\"a\": 1} x", "nan", "1e400"] {
            assert!(from_json_str(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
