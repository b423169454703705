//! Incidents on the state table (items in the table of [`crate::dynamo`]). Joining is
//! optimistic: the head item of a key carries a version, and a write that finds another version
//! reads again, so two alerts of one key joining at the same moment both end in one incident.

use crate::dynamo::{DynamoState, keys, n, s, string_attr as text};
use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, Select};
use chrono::{DateTime, Utc};
use soar_core::document::VerdictKind;
use soar_core::incident::{self, Incident, IncidentLink, IncidentMember, Joining};
use soar_core::ports::{IncidentLog, StateError};
use std::collections::HashMap;

/// Writes lost to other joiners of the same key before giving up (the alert comes back).
const JOIN_ATTEMPTS: u32 = 8;

/// Before another try at the head: 40 ms, doubling per lost write up to 640 ms, plus up to as
/// much again of jitter (from the clock: no two joiners wait alike), so that joiners of one key
/// in a storm spread out instead of colliding again (all 8 tries wait about 5 s at most).
async fn backoff(attempt: u32) {
    let base = 20u64 << attempt.min(5);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    let jitter = u64::from(nanos) % base.max(1);
    tokio::time::sleep(std::time::Duration::from_millis(base + jitter)).await;
}

type Item = HashMap<String, AttributeValue>;

fn millis(item: &Item, name: &str) -> Option<DateTime<Utc>> {
    let ms = item.get(name)?.as_n().ok()?.parse::<i64>().ok()?;
    DateTime::from_timestamp_millis(ms)
}

fn number(item: &Item, name: &str) -> Option<i64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

fn verdict(text: &str) -> Option<VerdictKind> {
    serde_json::from_value(serde_json::Value::String(text.to_string())).ok()
}

impl DynamoState {
    /// Moves the head of `grouping.key` to take in `joining.at`, or opens a new incident there
    /// (or, for an alert far older than the key's incident, one of its own: see
    /// [`incident::Placement`]). Returns the incident id and whether this alert opened it.
    async fn take_head(&self, joining: &Joining<'_>) -> Result<(String, bool), StateError> {
        let key = &joining.grouping.key;
        let at = joining.at.timestamp_millis();
        for attempt in 0..JOIN_ATTEMPTS {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let head = self.get_item(keys::incident_head(key), "HEAD").await?;
            let version = head.as_ref().and_then(|h| number(h, "version"));
            let span = head
                .as_ref()
                .and_then(|h| Some((millis(h, "first")?, millis(h, "last")?)));
            let place = span.map_or(incident::Placement::OpenNew, |span| {
                incident::placement(joining.at, span, joining.grouping.window())
            });
            let opened_at = soar_core::time::format_timestamp(&joining.now);
            let new_id = incident::incident_id(key, &opened_at, &joining.member.alert_id);
            if place == incident::Placement::Alone {
                return Ok((new_id, true));
            }
            let update = self.head_update(key, version);
            let (update, id, opened) = match (place, head.as_ref(), span) {
                (incident::Placement::Join, Some(h), Some((first, last))) => {
                    let id = text(h, "incident_id");
                    let update = update
                        .update_expression("SET #first = :first, #last = :last, version = :next, expires_at = :exp")
                        .expression_attribute_values(":first", n(first.timestamp_millis().min(at)))
                        .expression_attribute_values(":last", n(last.timestamp_millis().max(at)));
                    (update, id, false)
                }
                _ => {
                    let update = update
                        .update_expression(
                            "SET incident_id = :id, opened_at = :opened, #first = :at, #last = :at, version = :next, expires_at = :exp",
                        )
                        .expression_attribute_values(":id", s(&new_id))
                        .expression_attribute_values(":opened", s(opened_at))
                        .expression_attribute_values(":at", n(at));
                    (update, new_id, true)
                }
            };
            let written = update
                .expression_attribute_names("#first", "first")
                .expression_attribute_names("#last", "last")
                .send()
                .await;
            match written {
                Ok(_) if !id.is_empty() => return Ok((id, opened)),
                Ok(_) => return Err(StateError(format!("incident head of `{key}` holds no incident id"))),
                Err(e) if crate::dynamo::conditional_failed(&e) => continue,
                Err(e) => return Err(crate::dynamo::err("UpdateItem", e)),
            }
        }
        Err(StateError(format!(
            "incident `{key}`: {JOIN_ATTEMPTS} writes lost to other alerts joining it; retried later"
        )))
    }

    /// A write of the head of `key`, on condition that it is still at `version` (`None`: that it
    /// does not exist yet), raising its version; the caller sets what it moves.
    fn head_update(&self, key: &str, version: Option<i64>) -> UpdateItemFluentBuilder {
        let update = self
            .client()
            .update_item()
            .table_name(self.table())
            .key("pk", s(keys::incident_head(key)))
            .key("sk", s("HEAD"))
            .expression_attribute_values(":next", n(version.unwrap_or(0) + 1))
            .expression_attribute_values(":exp", n(expiry()));
        match version {
            Some(v) => update
                .condition_expression("version = :v")
                .expression_attribute_values(":v", n(v)),
            None => update.condition_expression("attribute_not_exists(pk)"),
        }
    }

    /// Takes the keys of `joining.grouping.also` into the incident `id` (see
    /// [`soar_core::incident::Grouping::also`]): each key's head points at it from now on, and
    /// an incident open under one of them is absorbed (`ABSORBED#<its id>` in this incident,
    /// `absorbed_by` in its summary).
    async fn absorb(&self, joining: &Joining<'_>, id: &str) -> Result<(), StateError> {
        for key in joining.grouping.absorbed_keys() {
            if let Some(open) = self.point_head(key, id, joining).await? {
                self.client()
                    .put_item()
                    .table_name(self.table())
                    .item("pk", s(keys::incident(id)))
                    .item("sk", s(format!("ABSORBED#{open}")))
                    .item("expires_at", n(expiry()))
                    .send()
                    .await
                    .map_err(|e| crate::dynamo::err("PutItem", e))?;
                self.client()
                    .update_item()
                    .table_name(self.table())
                    .key("pk", s(keys::incident(&open)))
                    .key("sk", s("SUMMARY"))
                    .update_expression("SET absorbed_by = :by")
                    .expression_attribute_values(":by", s(id))
                    .send()
                    .await
                    .map_err(|e| crate::dynamo::err("UpdateItem", e))?;
            }
        }
        Ok(())
    }

    /// Points the head of `key` at the incident `id` (taking in `joining.at`), unless it already
    /// does or the alert is far older than the key's incident. Returns the open incident it
    /// pointed at before, if any (absorbed).
    async fn point_head(&self, key: &str, id: &str, joining: &Joining<'_>) -> Result<Option<String>, StateError> {
        let at = joining.at.timestamp_millis();
        for attempt in 0..JOIN_ATTEMPTS {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let head = self.get_item(keys::incident_head(key), "HEAD").await?;
            let current = head.as_ref().map(|h| text(h, "incident_id"));
            if current.as_deref() == Some(id) {
                return Ok(None);
            }
            let span = head
                .as_ref()
                .and_then(|h| Some((millis(h, "first")?, millis(h, "last")?)));
            let place = span.map_or(incident::Placement::OpenNew, |span| {
                incident::placement(joining.at, span, joining.grouping.window())
            });
            let (first, last, open) = match (place, span) {
                (incident::Placement::Alone, _) => return Ok(None),
                (incident::Placement::Join, Some((first, last))) => (
                    first.timestamp_millis().min(at),
                    last.timestamp_millis().max(at),
                    current.filter(|c| !c.is_empty()),
                ),
                _ => (at, at, None),
            };
            let written = self
                .head_update(key, head.as_ref().and_then(|h| number(h, "version")))
                .update_expression(
                    "SET incident_id = :id, #first = :first, #last = :last, version = :next, expires_at = :exp",
                )
                .expression_attribute_values(":id", s(id))
                .expression_attribute_values(":first", n(first))
                .expression_attribute_values(":last", n(last))
                .expression_attribute_names("#first", "first")
                .expression_attribute_names("#last", "last")
                .send()
                .await;
            match written {
                Ok(_) => return Ok(open),
                Err(e) if crate::dynamo::conditional_failed(&e) => continue,
                Err(e) => return Err(crate::dynamo::err("UpdateItem", e)),
            }
        }
        Err(StateError(format!(
            "incident `{key}`: {JOIN_ATTEMPTS} writes lost to other alerts while an attack sequence took it in; retried later"
        )))
    }

    /// Makes sure the incident's summary exists and returns it as it was before this alert
    /// (empty when this call created it).
    async fn touch_summary(&self, id: &str, joining: &Joining<'_>) -> Result<Item, StateError> {
        let member = &joining.member;
        let out = self
            .client()
            .update_item()
            .table_name(self.table())
            .key("pk", s(keys::incident(id)))
            .key("sk", s("SUMMARY"))
            .update_expression(
                "SET #key = if_not_exists(#key, :key), opened_at = if_not_exists(opened_at, :opened), \
                 window_minutes = if_not_exists(window_minutes, :window), \
                 severity = if_not_exists(severity, :severity), severity_rank = if_not_exists(severity_rank, :srank), \
                 verdict = if_not_exists(verdict, :verdict), verdict_rank = if_not_exists(verdict_rank, :vrank), \
                 updated = :now, expires_at = :exp",
            )
            .expression_attribute_names("#key", "key")
            .expression_attribute_values(":key", s(&joining.grouping.key))
            .expression_attribute_values(":opened", s(soar_core::time::format_timestamp(&joining.now)))
            .expression_attribute_values(":window", n(joining.grouping.window_minutes))
            .expression_attribute_values(":severity", s(&member.severity))
            .expression_attribute_values(":srank", n(incident::severity_rank(&member.severity)))
            .expression_attribute_values(":verdict", s(member.verdict.as_str()))
            .expression_attribute_values(":vrank", n(incident::verdict_rank(member.verdict)))
            .expression_attribute_values(":now", s(soar_core::time::format_timestamp(&joining.now)))
            .expression_attribute_values(":exp", n(expiry()))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| crate::dynamo::err("UpdateItem", e))?;
        Ok(out.attributes.unwrap_or_default())
    }

    /// Raises `name` (with its `<name>_rank`) to `value` if that ranks higher: a conditional
    /// write, so concurrent joiners only ever raise it.
    async fn raise(&self, id: &str, name: &str, value: &str, rank: u8) -> Result<(), StateError> {
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .key("pk", s(keys::incident(id)))
            .key("sk", s("SUMMARY"))
            .update_expression("SET #v = :v, #r = :r")
            .condition_expression("#r < :r")
            .expression_attribute_names("#v", name)
            .expression_attribute_names("#r", format!("{name}_rank"))
            .expression_attribute_values(":v", s(value))
            .expression_attribute_values(":r", n(rank))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if crate::dynamo::conditional_failed(&e) => Ok(()),
            Err(e) => Err(crate::dynamo::err("UpdateItem", e)),
        }
    }

    /// How many alerts the incident holds (its member items).
    async fn member_count(&self, id: &str) -> Result<u32, StateError> {
        let out = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("pk = :pk AND begins_with(sk, :member)")
            .expression_attribute_values(":pk", s(keys::incident(id)))
            .expression_attribute_values(":member", s("MEMBER#"))
            .select(Select::Count)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| crate::dynamo::err("Query", e))?;
        Ok(out.count().max(0) as u32)
    }

    /// Every incident item (summary, members, ledger), following the pages of the query.
    async fn incident_items(&self, id: &str) -> Result<Vec<Item>, StateError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client()
                .query()
                .table_name(self.table())
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(keys::incident(id)))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| crate::dynamo::err("Query", e))?;
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }
}

/// One incident as `soar incidents list` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentSummary {
    pub id: String,
    pub key: String,
    pub verdict: String,
    pub severity: String,
    pub opened_at: String,
    /// When an alert last joined (RFC 3339).
    pub updated: String,
}

impl DynamoState {
    /// The `limit` incidents an alert joined most recently, newest first. A scan, as
    /// [`DynamoState::recent_alerts`]: for an operator's command, not a per-alert path.
    pub async fn recent_incidents(&self, limit: usize) -> Result<Vec<IncidentSummary>, StateError> {
        let mut incidents: Vec<IncidentSummary> = self
            .scan_sort_key("SUMMARY", None)
            .await?
            .iter()
            .map(|item| IncidentSummary {
                id: text(item, "pk").trim_start_matches("INCIDENT#").to_string(),
                key: text(item, "key"),
                verdict: text(item, "verdict"),
                severity: text(item, "severity"),
                opened_at: text(item, "opened_at"),
                updated: text(item, "updated"),
            })
            .collect();
        incidents.sort_by(|a, b| b.updated.cmp(&a.updated).then_with(|| a.id.cmp(&b.id)));
        incidents.truncate(limit);
        Ok(incidents)
    }
}

/// Incident items live as long as alert records (see `RETENTION` in the dynamo module).
fn expiry() -> i64 {
    Utc::now().timestamp() + crate::dynamo::RETENTION.as_secs() as i64
}

#[async_trait]
impl IncidentLog for DynamoState {
    async fn join_incident(&self, joining: &Joining<'_>) -> Result<IncidentLink, StateError> {
        let member = &joining.member;
        let joined_sk = format!("INCIDENT#{}", joining.revision);
        if let Some(item) = self.get_item(keys::alert(&member.alert_id), &joined_sk).await?
            && let Ok(link) = serde_json::from_str::<IncidentLink>(&text(&item, "link"))
        {
            return Ok(link);
        }
        let (id, opened) = self.take_head(joining).await?;
        let before = self.touch_summary(&id, joining).await?;
        self.absorb(joining, &id).await?;
        self.client()
            .put_item()
            .table_name(self.table())
            .item("pk", s(keys::incident(&id)))
            .item("sk", s(format!("MEMBER#{}", member.alert_id)))
            .item("member", s(serde_json::to_string(member).unwrap_or_default()))
            .item("at", s(&member.at))
            .item("expires_at", n(expiry()))
            .send()
            .await
            .map_err(|e| crate::dynamo::err("PutItem", e))?;
        let old_severity = Some(text(&before, "severity")).filter(|s| !s.is_empty());
        let old_verdict = verdict(&text(&before, "verdict"));
        let severity = match &old_severity {
            Some(old) if incident::severity_rank(old) >= incident::severity_rank(&member.severity) => old.clone(),
            _ => member.severity.clone(),
        };
        let verdict = match old_verdict {
            Some(old) if incident::verdict_rank(old) >= incident::verdict_rank(member.verdict) => old,
            _ => member.verdict,
        };
        if old_severity.as_deref().is_some_and(|old| old != severity) {
            self.raise(&id, "severity", &severity, incident::severity_rank(&severity))
                .await?;
        }
        if old_verdict.is_some_and(|old| old != verdict) {
            self.raise(&id, "verdict", verdict.as_str(), incident::verdict_rank(verdict))
                .await?;
        }
        let opened_at = Some(text(&before, "opened_at"))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| soar_core::time::format_timestamp(&joining.now));
        let window_minutes = number(&before, "window_minutes")
            .and_then(|w| u32::try_from(w).ok())
            .unwrap_or(joining.grouping.window_minutes);
        let link = IncidentLink {
            id: id.clone(),
            key: joining.grouping.key.clone(),
            opened,
            alerts: self.member_count(&id).await?,
            // An alert that finds a summary joined an incident that had a severity before it.
            previous_severity: if opened { None } else { old_severity },
            severity,
            verdict,
            window_minutes,
            opened_at,
        };
        self.client()
            .put_item()
            .table_name(self.table())
            .item("pk", s(keys::alert(&member.alert_id)))
            .item("sk", s(joined_sk))
            .item("link", s(serde_json::to_string(&link).unwrap_or_default()))
            .item("expires_at", n(expiry()))
            .send()
            .await
            .map_err(|e| crate::dynamo::err("PutItem", e))?;
        Ok(link)
    }

    async fn load_incident(&self, id: &str) -> Result<Option<Incident>, StateError> {
        let items = self.incident_items(id).await?;
        let Some(summary) = items.iter().find(|i| text(i, "sk") == "SUMMARY") else {
            return Ok(None);
        };
        let mut alerts: Vec<IncidentMember> = items
            .iter()
            .filter(|i| text(i, "sk").starts_with("MEMBER#"))
            .filter_map(|i| serde_json::from_str(&text(i, "member")).ok())
            .collect();
        alerts.sort_by(|a, b| (&a.at, &a.alert_id).cmp(&(&b.at, &b.alert_id)));
        Ok(Some(Incident {
            id: id.to_string(),
            key: text(summary, "key"),
            opened_at: text(summary, "opened_at"),
            window_minutes: number(summary, "window_minutes")
                .and_then(|w| u32::try_from(w).ok())
                .unwrap_or(0),
            severity: text(summary, "severity"),
            verdict: verdict(&text(summary, "verdict")).unwrap_or(VerdictKind::Undetermined),
            alerts,
            absorbed: items
                .iter()
                .filter_map(|i| text(i, "sk").strip_prefix("ABSORBED#").map(String::from))
                .collect(),
            absorbed_by: Some(text(summary, "absorbed_by")).filter(|b| !b.is_empty()),
        }))
    }
}
