//! Incidents: related alerts answered as one. The evaluate policy names each alert's incident key
//! and window (`decision.incident`, see [`Grouping`]); the state store links the alert to the open
//! incident of that key, or opens one ([`crate::ports::IncidentLog`]); remediate then answers the
//! incident once: its actions are claimed in the incident's ledger, its first notification pages,
//! later alerts send at most one follow-up per window, and a higher severity pages once more.

use crate::verdict::VerdictKind;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// The window when the policy names none: alerts of one key at most this far apart are one
/// incident (the default of the issue that introduced grouping, and of most SOARs' correlation).
pub const DEFAULT_WINDOW_MINUTES: u32 = 30;
/// The longest window a policy may ask for (a week).
pub const MAX_WINDOW_MINUTES: u32 = 7 * 24 * 60;
/// The longest an incident spans, first alert to last, whatever its window: a key that keeps
/// raising findings (GuardDuty updates a finding for as long as the activity goes on) starts a
/// new incident after this, answered afresh (its actions claimed again in a new ledger).
pub const MAX_SPAN: chrono::TimeDelta = chrono::TimeDelta::hours(24);
/// The longest key, in bytes (the key is part of a DynamoDB key, at most 1 KiB).
pub const MAX_KEY_BYTES: usize = 512;
/// The most keys one incident takes in besides its own ([`Grouping::also`]): each costs a few
/// state store writes when the alert joins.
pub const MAX_ALSO: usize = 32;

/// What the evaluate policy asks for: `decision.incident = {key, window_minutes?, also?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grouping {
    /// Alerts with the same key within the window are one incident (`<account>/instance/<id>`).
    pub key: String,
    /// Minutes, 1 to [`MAX_WINDOW_MINUTES`]; default [`DEFAULT_WINDOW_MINUTES`].
    #[serde(default = "default_window")]
    pub window_minutes: u32,
    /// More keys the incident takes in (an attack sequence's: every instance and principal it
    /// names, which GuardDuty correlated into one attack). An open incident of such a key is
    /// absorbed (listed in this one, and marked absorbed by it), and the key's later alerts join
    /// this incident. At most [`MAX_ALSO`], each checked as `key` is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<String>,
}

fn default_window() -> u32 {
    DEFAULT_WINDOW_MINUTES
}

impl Grouping {
    /// `Err((field, problem))` for a key that is empty, too long or holds control characters, or
    /// a window out of range (the caller names the field in the policy's error).
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        check_key(&self.key).map_err(|problem| ("incident.key", problem))?;
        if self.also.len() > MAX_ALSO {
            return Err((
                "incident.also",
                format!("names {} keys, at most {MAX_ALSO}", self.also.len()),
            ));
        }
        for (i, key) in self.also.iter().enumerate() {
            check_key(key).map_err(|problem| ("incident.also", format!("[{i}] {problem}")))?;
        }
        if !(1..=MAX_WINDOW_MINUTES).contains(&self.window_minutes) {
            return Err((
                "incident.window_minutes",
                format!("is {}, expected 1 to {MAX_WINDOW_MINUTES}", self.window_minutes),
            ));
        }
        Ok(())
    }

    pub fn window(&self) -> Duration {
        Duration::from_secs(u64::from(self.window_minutes) * 60)
    }

    /// The keys of [`Grouping::also`] once each, without the incident's own.
    pub fn absorbed_keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = Vec::new();
        for key in &self.also {
            if *key != self.key && !keys.contains(&key.as_str()) {
                keys.push(key);
            }
        }
        keys
    }
}

/// A key that is empty, too long or holds control characters is refused.
fn check_key(key: &str) -> Result<(), String> {
    if key.trim().is_empty() {
        return Err("is empty".into());
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(format!("is {} bytes, at most {MAX_KEY_BYTES}", key.len()));
    }
    if key.chars().any(char::is_control) {
        return Err("holds a control character".into());
    }
    Ok(())
}

/// An alert's place in its incident, as the document carries it to remediate (policies see it
/// as `input.incident`). The same alert delivered again gets the same link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentLink {
    /// `inc-` and 24 hex digits ([`incident_id`]).
    pub id: String,
    pub key: String,
    /// This alert opened the incident.
    pub opened: bool,
    /// Alerts linked so far, this one included.
    pub alerts: u32,
    /// The incident's severity before this alert joined; `None` when it opened the incident.
    #[serde(default)]
    pub previous_severity: Option<String>,
    /// The incident's severity with this alert: the highest of its alerts.
    pub severity: String,
    /// The incident's verdict with this alert: the worst of its alerts.
    pub verdict: VerdictKind,
    pub window_minutes: u32,
    /// When the incident was opened (RFC 3339, the time soar opened it): follow-up windows count
    /// from here.
    pub opened_at: String,
}

impl IncidentLink {
    /// This alert raised the incident's severity (a person is paged once more).
    pub fn escalated(&self) -> bool {
        self.previous_severity
            .as_deref()
            .is_some_and(|before| severity_rank(&self.severity) > severity_rank(before))
    }

    /// The follow-up window `now` falls in: 0 for the first `window_minutes` after the incident
    /// opened, then 1, ... (one follow-up per window).
    pub fn follow_up_window(&self, now: DateTime<Utc>) -> u64 {
        let opened = DateTime::parse_from_rfc3339(&self.opened_at).map_or(now, |t| t.with_timezone(&Utc));
        let elapsed = (now - opened).num_seconds().max(0) as u64;
        elapsed / (u64::from(self.window_minutes.max(1)) * 60)
    }
}

/// One alert as its incident keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentMember {
    pub alert_id: String,
    /// Finding type.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub severity: String,
    pub verdict: VerdictKind,
    /// The alert's own time (RFC 3339): its `updated_at`, else when soar saw it.
    pub at: String,
    /// When it joined (RFC 3339).
    pub joined_at: String,
}

/// An alert asking to join the incident of `grouping.key`.
#[derive(Debug, Clone)]
pub struct Joining<'a> {
    pub grouping: &'a Grouping,
    pub member: IncidentMember,
    /// The alert's revision ([`crate::alert::Alert::revision`]): the same revision joining again
    /// is a redelivery.
    pub revision: String,
    /// The alert's time: it joins an incident whose alerts are within the window of it.
    pub at: DateTime<Utc>,
    /// Now, as the state store's clock for the incident (opening time, follow-up windows).
    pub now: DateTime<Utc>,
}

/// An incident as the state store holds it (what `soar incidents show` prints).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: String,
    pub key: String,
    pub opened_at: String,
    pub window_minutes: u32,
    pub severity: String,
    pub verdict: VerdictKind,
    /// Oldest first by their own time.
    pub alerts: Vec<IncidentMember>,
    /// The incidents this one absorbed (an attack sequence took in their keys while they were
    /// open): their alerts and actions stay theirs, their keys' later alerts join this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub absorbed: Vec<String>,
    /// The incident that absorbed this one, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub absorbed_by: Option<String>,
}

/// Severity labels from least to most severe (GuardDuty's and soar's verdict labels).
pub const SEVERITIES: [&str; 5] = ["informational", "low", "medium", "high", "critical"];

/// 0 (informational, or a label soar does not know) to 4 (critical).
pub fn severity_rank(label: &str) -> u8 {
    SEVERITIES.iter().position(|s| *s == label).unwrap_or(0) as u8
}

/// The worse of two verdicts: an incident outweighs undetermined, which outweighs a false positive.
pub fn verdict_rank(verdict: VerdictKind) -> u8 {
    match verdict {
        VerdictKind::FalsePositive => 0,
        VerdictKind::Undetermined => 1,
        VerdictKind::Incident => 2,
    }
}

/// The id of the incident `first_alert` opens under `key` at `opened_at`: `inc-` and the first
/// 12 bytes of a SHA-256 in hex. It never holds a `/`, which every alert id does
/// (`<source>/<account>/<region>/<id>`), so an incident's ledger can never be an alert's.
pub fn incident_id(key: &str, opened_at: &str, first_alert: &str) -> String {
    let mut digest = Sha256::new();
    for part in [key, opened_at, first_alert] {
        digest.update((part.len() as u64).to_be_bytes());
        digest.update(part.as_bytes());
    }
    let hex: String = digest.finalize()[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("inc-{hex}")
}

/// Whether `scope` (an alert id or an incident id) names an incident.
pub fn is_incident_id(scope: &str) -> bool {
    scope.starts_with("inc-") && !scope.contains('/')
}

/// Where an alert at `at` goes, given the latest incident of its key (its alerts from `first` to
/// `last`) and the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Into that incident: within the window after its last alert (or among its alerts), and
    /// the incident would span at most [`MAX_SPAN`].
    Join,
    /// A new incident, which becomes the key's latest: the old one went quiet (more than the
    /// window since its last alert) or would span too long.
    OpenNew,
    /// An incident of its own that does not replace the key's latest: an alert so much older
    /// than the latest incident that it cannot join it (a late copy, or a forged timestamp),
    /// which must not take the key away from the incident still going on.
    Alone,
}

/// [`Placement`] of an alert at `at` against the key's latest incident.
pub fn placement(at: DateTime<Utc>, (first, last): (DateTime<Utc>, DateTime<Utc>), window: Duration) -> Placement {
    let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
    let (new_first, new_last) = (first.min(at), last.max(at));
    if at > last + window {
        Placement::OpenNew
    } else if new_last - new_first <= MAX_SPAN {
        Placement::Join
    } else if at > last {
        Placement::OpenNew
    } else {
        Placement::Alone
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grouping(key: &str, window_minutes: u32) -> Grouping {
        Grouping {
            key: key.into(),
            window_minutes,
            also: Vec::new(),
        }
    }

    #[test]
    fn a_grouping_names_the_field_it_gets_wrong() {
        assert!(grouping("111122223333/instance/i-1", 30).check().is_ok());
        for (bad, field) in [
            (grouping(" ", 30), "incident.key"),
            (grouping(&"k".repeat(MAX_KEY_BYTES + 1), 30), "incident.key"),
            (grouping("a\nb", 30), "incident.key"),
            (grouping("k", 0), "incident.window_minutes"),
            (grouping("k", MAX_WINDOW_MINUTES + 1), "incident.window_minutes"),
            (
                Grouping {
                    also: vec!["ok".into(), "a\u{7}b".into()],
                    ..grouping("k", 30)
                },
                "incident.also",
            ),
            (
                Grouping {
                    also: vec!["x".into(); MAX_ALSO + 1],
                    ..grouping("k", 30)
                },
                "incident.also",
            ),
        ] {
            assert_eq!(bad.check().unwrap_err().0, field, "{bad:?}");
        }
        let parsed: Grouping = serde_json::from_str(r#"{"key":"k"}"#).unwrap();
        assert_eq!(parsed.window_minutes, DEFAULT_WINDOW_MINUTES);
        let sequence: Grouping = serde_json::from_str(r#"{"key":"k","also":["a","k","b","a"]}"#).unwrap();
        assert_eq!(sequence.absorbed_keys(), ["a", "b"], "once each, not its own");
        assert!(serde_json::from_str::<Grouping>(r#"{"key":"k","windw":5}"#).is_err());
    }

    #[test]
    fn incident_ids_never_look_like_alert_ids() {
        let id = incident_id("k", "2026-11-30T00:00:00Z", "guardduty/1/us-east-1/abc");
        assert!(is_incident_id(&id) && id.len() == 28, "{id}");
        assert_ne!(
            id,
            incident_id("k", "2026-11-30T00:00:00Z", "guardduty/1/us-east-1/abd")
        );
        // Length-prefixed parts: moving a character from one part to the next changes the id.
        assert_ne!(incident_id("ab", "c", "d"), incident_id("a", "bc", "d"));
        assert!(!is_incident_id("inc-x/111122223333/us-east-1/1"));
        assert!(!is_incident_id("guardduty/111122223333/us-east-1/1"));
    }

    #[test]
    fn late_alerts_join_and_never_take_the_key_away() {
        let t = |m: i64| DateTime::<Utc>::from_timestamp(1_800_000_000 + m * 60, 0).unwrap();
        let window = Duration::from_secs(30 * 60);
        let span = (t(0), t(10));
        assert_eq!(placement(t(40), span, window), Placement::Join);
        assert_eq!(placement(t(41), span, window), Placement::OpenNew);
        // Out of order: an earlier alert joins the incident going on, however early, up to a day.
        assert_eq!(placement(t(-31), span, window), Placement::Join);
        assert_eq!(placement(t(10 - 24 * 60), span, window), Placement::Join);
        assert_eq!(placement(t(9 - 24 * 60), span, window), Placement::Alone);
        // An incident that keeps going ends after a day: the next alert opens a new one.
        let long = (t(0), t(24 * 60 - 5));
        assert_eq!(placement(t(24 * 60 + 1), long, window), Placement::OpenNew);
    }

    #[test]
    fn escalation_and_follow_up_windows() {
        let link = IncidentLink {
            id: "inc-1".into(),
            key: "k".into(),
            opened: false,
            alerts: 2,
            previous_severity: Some("medium".into()),
            severity: "high".into(),
            verdict: VerdictKind::Incident,
            window_minutes: 30,
            opened_at: "2026-11-30T10:00:00Z".into(),
        };
        assert!(link.escalated());
        assert!(
            !IncidentLink {
                previous_severity: Some("high".into()),
                ..link.clone()
            }
            .escalated()
        );
        assert!(
            !IncidentLink {
                previous_severity: None,
                ..link.clone()
            }
            .escalated()
        );
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(link.follow_up_window(at("2026-11-30T10:29:59Z")), 0);
        assert_eq!(link.follow_up_window(at("2026-11-30T10:30:00Z")), 1);
        assert_eq!(link.follow_up_window(at("2026-11-30T09:00:00Z")), 0);
    }
}
