//! Which revision of an alert this is, so that a redelivery is a duplicate and a real update is
//! evaluated again. The state store applies the rule ([`crate::ports::AlertLog::register_alert`]):
//!
//! 1. the same revision seen before (same timestamp, same content) is a duplicate: a redelivery,
//!    or the same finding by a second route (native event and Security Hub copy);
//! 2. else, a revision with a timestamp older than the latest one seen is a late copy: duplicate;
//! 3. else it is new, or an update to evaluate again: a newer timestamp, the same timestamp with
//!    changed content, or no usable timestamp with content not seen before.
//!
//! A timestamp is usable when it is not far ahead of this clock ([`MAX_CLOCK_AHEAD`]): a finding
//! stamped in the future (a wrong clock, or a forged `updatedAt`) would otherwise make every
//! real update look older and hide it. Such a revision is ordered by content alone.

use crate::alert::Alert;
use chrono::{DateTime, Utc};
use sha2::Digest;
use std::time::Duration;

/// How far ahead of this clock an alert's timestamp may be and still order its revisions.
/// GuardDuty stamps findings with its own clock; minutes cover any skew between AWS services.
pub const MAX_CLOCK_AHEAD: Duration = Duration::from_secs(15 * 60);

/// One revision of an alert as deduplication sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    /// `updated_at` (else `created_at`), normalised; `None` when there is none or it is too far
    /// ahead of this clock to order anything.
    pub timestamp: Option<String>,
    /// 16 hex digits of SHA-256 over what a decision depends on: type, severity, the sample and
    /// archived flags, every resource (kind and id) and every indicator of what happened (kind,
    /// value, role; the resource's own `local` addresses left out).
    /// The same finding by two routes has the same digest; a changed finding a different one.
    pub digest: String,
}

impl Revision {
    pub fn of(alert: &Alert) -> Revision {
        Revision::at(alert, Utc::now())
    }

    /// As seen at `now` (tests fix the clock).
    pub fn at(alert: &Alert, now: DateTime<Utc>) -> Revision {
        let limit = now + chrono::Duration::from_std(MAX_CLOCK_AHEAD).unwrap_or_default();
        let timestamp = alert
            .updated_at
            .as_deref()
            .or(alert.created_at.as_deref())
            .filter(|t| crate::time::parse_timestamp_str(t).is_some_and(|t| t <= limit))
            .map(String::from);
        Revision {
            timestamp,
            digest: content_digest(alert),
        }
    }

    /// The timestamp, or `unversioned`.
    pub fn label(&self) -> &str {
        self.timestamp.as_deref().unwrap_or("unversioned")
    }

    /// The key of exactly this revision: `<timestamp or unversioned>#<digest>`.
    pub fn exact_key(&self) -> String {
        format!("{}#{}", self.label(), self.digest)
    }
}

fn content_digest(alert: &Alert) -> String {
    let mut resources: Vec<String> = alert
        .all_resources()
        .map(|r| format!("{}\u{1f}{}", r.kind, r.id))
        .collect();
    resources.sort();
    resources.dedup();
    let mut indicators: Vec<String> = alert
        .indicators
        .iter()
        // The resource's own addresses are facts about it, written differently by each route
        // (GuardDuty's ENIs, ASFF's `IpV4Addresses`): not part of what happened.
        .filter(|i| i.depth == 0 && i.role != "local")
        .map(|i| format!("{}\u{1f}{}\u{1f}{}", i.kind.as_str(), i.value, i.role))
        .collect();
    indicators.sort();
    indicators.dedup();
    let text = format!(
        "{}\u{1e}{}\u{1e}{}\u{1e}{}\u{1e}{}\u{1e}{}",
        alert.kind,
        alert.severity,
        alert.sample,
        alert.archived,
        resources.join("\u{1d}"),
        indicators.join("\u{1d}")
    );
    let digest = sha2::Sha256::digest(text.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{Indicator, IndicatorKind, Resource};

    fn alert(updated: Option<&str>) -> Alert {
        let mut resource = Resource::unknown();
        resource.id = "i-1".into();
        Alert {
            id: "a".into(),
            source: "guardduty".into(),
            source_id: "a".into(),
            account: String::new(),
            region: String::new(),
            kind: "UnauthorizedAccess:EC2/TorClient".into(),
            severity: 8.0,
            severity_label: "high".into(),
            title: String::new(),
            description: String::new(),
            resource,
            related_resources: Vec::new(),
            indicators: vec![Indicator::new(IndicatorKind::Ip, "198.51.100.7", "x", "remote")],
            created_at: None,
            updated_at: updated.map(String::from),
            sample: false,
            archived: false,
            labels: Vec::new(),
            finding: None,
            raw: serde_json::Value::Null,
        }
    }

    #[test]
    fn a_timestamp_far_ahead_of_the_clock_orders_nothing() {
        let now = Utc::now();
        let soon = crate::time::format_timestamp(&(now + chrono::Duration::minutes(5)));
        let far = crate::time::format_timestamp(&(now + chrono::Duration::days(365)));
        assert_eq!(
            Revision::at(&alert(Some(&soon)), now).timestamp.as_deref(),
            Some(soon.as_str())
        );
        assert_eq!(Revision::at(&alert(Some(&far)), now).timestamp, None);
        assert_eq!(Revision::at(&alert(None), now).label(), "unversioned");
    }

    #[test]
    fn the_digest_follows_what_decisions_read_and_nothing_else() {
        let base = alert(Some("2026-11-20T09:00:00.000Z"));
        let mut relabelled = base.clone();
        relabelled.title = "another title".into();
        relabelled.raw = serde_json::json!({"route": "securityhub"});
        assert_eq!(Revision::of(&base), Revision::of(&relabelled));
        let mut changed = base.clone();
        changed.severity = 9.0;
        assert_ne!(Revision::of(&base).digest, Revision::of(&changed).digest);
        let mut another_address = base.clone();
        another_address.indicators[0].value = "198.51.100.8".into();
        assert_ne!(Revision::of(&base).digest, Revision::of(&another_address).digest);
    }
}
