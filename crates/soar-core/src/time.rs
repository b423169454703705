//! Lenient timestamps. GuardDuty and the tools around it write times as RFC 3339 strings, as
//! `YYYY-MM-DD hh:mm:ss.fff` without a zone, or as epoch seconds or milliseconds (numbers or
//! numeric strings). Everything is normalised to RFC 3339 UTC with millisecond precision, which
//! also sorts correctly as a string: the dedup logic compares revisions that way.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use serde_json::Value;

/// Epoch values above this are taken as milliseconds (1e11 seconds is the year 5138).
const MILLIS_THRESHOLD: f64 = 1e11;

/// Parses a timestamp in any of the shapes above. `None` when the value is not a time at all.
pub(crate) fn parse_timestamp(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::Number(n) => from_epoch(n.as_f64()?),
        Value::String(s) => parse_timestamp_str(s),
        _ => None,
    }
}

pub fn parse_timestamp_str(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(epoch) = text.parse::<f64>() {
        return from_epoch(epoch);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    // Zone-less forms are UTC in GuardDuty exports.
    for format in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f%#z",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some(Utc.from_utc_datetime(&t));
        }
        if let Ok(t) = DateTime::parse_from_str(text, format) {
            return Some(t.with_timezone(&Utc));
        }
    }
    None
}

fn from_epoch(epoch: f64) -> Option<DateTime<Utc>> {
    if !epoch.is_finite() || epoch < 0.0 {
        return None;
    }
    let millis = if epoch >= MILLIS_THRESHOLD {
        epoch
    } else {
        epoch * 1000.0
    };
    Utc.timestamp_millis_opt(millis as i64).single()
}

/// RFC 3339, UTC, milliseconds: `2020-02-14T18:12:22.316Z`.
pub fn format_timestamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The current fixed window of `seconds` (counted from the Unix epoch, so every process agrees
/// on it without talking): its index, and how long until the next one starts.
pub fn fixed_window(seconds: u64) -> (u64, std::time::Duration) {
    let seconds = seconds.max(1);
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let index = since_epoch.as_secs() / seconds;
    let next = std::time::Duration::from_secs((index + 1) * seconds);
    (index, next.saturating_sub(since_epoch))
}

/// The current time in the same form.
pub fn now() -> String {
    format_timestamp(&Utc::now())
}

/// Normalises a timestamp value, or `None` if it is not one.
pub fn normalise(value: &Value) -> Option<String> {
    parse_timestamp(value).map(|t| format_timestamp(&t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_shape_guardduty_uses_normalises_to_the_same_form() {
        let cases = [
            (json!("2020-02-14T18:12:22.316Z"), "2020-02-14T18:12:22.316Z"),
            (json!("2025-02-25 20:40:06.765"), "2025-02-25T20:40:06.765Z"),
            (json!("2025-02-25 20:40:06.000000000"), "2025-02-25T20:40:06.000Z"),
            (json!("2017-10-31T23:16:23Z"), "2017-10-31T23:16:23.000Z"),
            (json!(1492735675000u64), "2017-04-21T00:47:55.000Z"),
            (json!(1513721039), "2017-12-19T22:03:59.000Z"),
            (json!("1513721039"), "2017-12-19T22:03:59.000Z"),
            (json!("2020-02-14T19:12:22.316+01:00"), "2020-02-14T18:12:22.316Z"),
        ];
        for (input, expected) in cases {
            assert_eq!(normalise(&input).as_deref(), Some(expected), "{input}");
        }
    }

    #[test]
    fn non_times_are_none() {
        for input in [json!("yesterday"), json!(""), json!(null), json!({}), json!(-5)] {
            assert_eq!(normalise(&input), None, "{input}");
        }
    }
}
