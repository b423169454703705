//! The state store on one DynamoDB table with string keys `pk`/`sk` and a TTL attribute
//! `expires_at`. Conditional writes give dedup and exactly-once actions:
//!
//! | item | pk | sk |
//! |---|---|---|
//! | latest document of an alert | `ALERT#<id>` | `META` |
//! | latest revision per resource (dedup) | `ALERT#<id>` | `REV#<resource kind>#<resource id>` |
//! | one exact revision (dedup; `handed_at` once it went on to enrich) | `ALERT#<id>` | `SEEN#<resource kind>#<resource id>#<revision>` |
//! | decision of a phase | `ALERT#<id>` | `DECISION#<phase>` |
//! | action ledger | `ALERT#<id>` | `ACTION#<type>#<target>` (enforce) or `PLAN#<type>#<target>` (dry run) |
//! | outcome of a refused action | `ALERT#<id>` | `SKIP#<type>#<target>` |
//! | enrichment cache | `INTEL#<provider>#<kind>:<value>` | `CACHE` |
//! | action ledger of an incident (same items as an alert's) | `INCIDENT#<incident id>` | `ACTION#…`, `PLAN#…`, `SKIP#…` |
//! | the latest incident of a key (alert times seen, version) | `INCIDENTKEY#<key>` | `HEAD` |
//! | an incident (key, opening time, window, worst verdict and severity) | `INCIDENT#<incident id>` | `SUMMARY` |
//! | an alert of an incident | `INCIDENT#<incident id>` | `MEMBER#<alert id>` |
//! | the link an alert revision was given (a redelivery gets it back) | `ALERT#<id>` | `INCIDENT#<revision>` |
//! | hourly action counter | `RATE#actions#<YYYY-MM-DDTHH>` | `COUNT` |
//! | provider request counter | `RATE#intel#<provider>#<window>s#<window index>` | `COUNT` |

use crate::AwsError;
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::Utc;
use serde_json::Value;
use soar_core::alert::Indicator;
use soar_core::approval::{ApprovalKey, ApprovalState, ApprovalTicket, Approver, Waiting};
use soar_core::dedup::Revision;
use soar_core::document::{ActionRecord, ActionStatus, Document, Mode, Serialized, TraceEntry};
use soar_core::ports::{
    ActionLedger, AlertLog, Budget, Claim, DecisionLog, Lookup, LookupCache, RateWindow, Registration, Slot, StateError,
};
use std::collections::HashMap;
use std::time::Duration;

/// How long alert records, decisions and the ledger are kept (DynamoDB TTL).
pub(crate) const RETENTION: Duration = Duration::from_secs(90 * 24 * 3600);

/// Key builders, public so tools (`soar approve`, tests) address the same items.
pub mod keys {
    use soar_core::document::Mode;

    pub fn alert(alert_id: &str) -> String {
        format!("ALERT#{alert_id}")
    }
    /// The partition of a ledger: an incident's (its id never holds a `/`, every alert id does:
    /// see `soar_core::incident::incident_id`) or an alert's.
    pub fn scope(scope: &str) -> String {
        if soar_core::incident::is_incident_id(scope) {
            incident(scope)
        } else {
            alert(scope)
        }
    }
    pub fn incident(incident_id: &str) -> String {
        format!("INCIDENT#{incident_id}")
    }
    pub(crate) fn incident_head(key: &str) -> String {
        format!("INCIDENTKEY#{key}")
    }
    pub fn ledger(mode: Mode, action: &str, target: &str) -> String {
        match mode {
            Mode::Enforce => format!("ACTION#{action}#{target}"),
            Mode::DryRun => format!("PLAN#{action}#{target}"),
        }
    }
    /// The partition listing every action waiting for approval (the expiry sweep, the console).
    pub const WAITING: &str = "APPROVALS";
    /// An entry of [`WAITING`]: the ledger entry it points at.
    pub fn waiting(scope: &str, action: &str, target: &str) -> String {
        format!("{scope}#{action}#{target}")
    }
    pub fn skipped(action: &str, target: &str) -> String {
        format!("SKIP#{action}#{target}")
    }
    pub(crate) fn rate_window(hour: &str) -> String {
        format!("RATE#actions#{hour}")
    }
    pub(crate) fn lookup_window(provider: &str, seconds: u64, index: u64) -> String {
        format!("RATE#intel#{provider}#{seconds}s#{index}")
    }
}

/// One ledger item as `soar approve` and the tests read it.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerEntry {
    pub sk: String,
    pub status: String,
    pub mode: String,
    pub detail: String,
    /// When the outcome was recorded, else when the entry was claimed (RFC 3339); empty if neither.
    pub at: String,
}

/// One stored alert as `soar alerts list` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertSummary {
    pub alert_id: String,
    pub alert_type: String,
    pub verdict: String,
    /// The verdict's severity label, else the alert's (empty for alerts saved before it was kept).
    pub severity: String,
    /// The account of the alert's resource.
    pub account: String,
    /// RFC 3339 time of the last save.
    pub updated: String,
}

#[derive(Clone)]
pub struct DynamoState {
    client: Client,
    table: String,
    /// How long a claim protects an action from being taken over (see [`Claim::Resumed`]).
    claim_lease: Duration,
}

/// The lease of a claim when the deployment names none: Lambda's longest function timeout, so
/// a claim is never taken over while its holder may still run.
pub(crate) const DEFAULT_CLAIM_LEASE: Duration = Duration::from_secs(900);

/// A token that tells this claim from any other (process, time, sequence), so that a claim
/// write the SDK retried after it had succeeded is recognised as this invocation's own.
fn claim_token() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!(
        "{}-{nanos}-{}",
        std::process::id(),
        SEQUENCE.fetch_add(1, Ordering::Relaxed)
    )
}

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A string attribute of an item, empty when absent.
pub(crate) fn string_attr(item: &HashMap<String, AttributeValue>, key: &str) -> String {
    item.get(key).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default()
}

fn expires(after: Duration) -> AttributeValue {
    n(Utc::now().timestamp() + after.as_secs() as i64)
}

/// A failed DynamoDB call as the state port reports it (the kind named: see [`AwsError`]).
pub(crate) fn err<E, R>(op: &'static str, e: SdkError<E, R>) -> StateError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    StateError(format!("DynamoDB {}", AwsError::from_sdk(op, e)))
}

/// A conditional write that lost: the item was there (dedup, a claim taken, a cap reached).
pub(crate) fn conditional_failed<E, R>(e: &SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    matches!(AwsError::of("", e), AwsError::ConditionFailed { .. })
}

impl DynamoState {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoState {
            client,
            table: table.into(),
            claim_lease: DEFAULT_CLAIM_LEASE,
        }
    }

    /// The lease of this function's claims of actions and registrations of alerts: at least
    /// the function's timeout (`SOAR_CLAIM_LEASE_SECONDS`), and shorter than its queue's
    /// visibility timeout, so that a retry after a crash finds the lease run out.
    pub fn with_claim_lease(mut self, lease: Duration) -> Self {
        self.claim_lease = lease;
        self
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// One item by key, read consistently.
    pub(crate) async fn get_item(
        &self,
        pk: String,
        sk: &str,
    ) -> Result<Option<HashMap<String, AttributeValue>>, StateError> {
        self.get(pk, sk).await
    }

    async fn get(&self, pk: String, sk: &str) -> Result<Option<HashMap<String, AttributeValue>>, StateError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| err("GetItem", e))?;
        Ok(out.item)
    }

    /// Every ledger, plan and skip item of an alert or an incident (`scope`).
    pub async fn ledger(&self, alert_id: &str) -> Result<Vec<LedgerEntry>, StateError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(keys::scope(alert_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| err("Query", e))?;
        Ok(out
            .items()
            .iter()
            .filter(|item| {
                let sk = string_attr(item, "sk");
                sk.starts_with("ACTION#") || sk.starts_with("PLAN#") || sk.starts_with("SKIP#")
            })
            .map(|item| LedgerEntry {
                sk: string_attr(item, "sk"),
                status: string_attr(item, "status"),
                mode: string_attr(item, "mode"),
                detail: string_attr(item, "detail"),
                at: Some(string_attr(item, "recorded_at"))
                    .filter(|t| !t.is_empty())
                    .unwrap_or_else(|| string_attr(item, "claimed_at")),
            })
            .collect())
    }

    /// Every item whose sort key is `sk` (with only the `projection` attributes, if given),
    /// following the pages of the scan: for operators' listings, never a per-alert path.
    pub(crate) async fn scan_sort_key(
        &self,
        sk: &str,
        projection: Option<&str>,
    ) -> Result<Vec<HashMap<String, AttributeValue>>, StateError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("sk = :sk")
                .expression_attribute_values(":sk", s(sk))
                .set_projection_expression(projection.map(String::from))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| err("Scan", e))?;
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    /// The `limit` most recently updated alerts, newest first. A scan: fine for an operator's
    /// command over a table that TTL keeps to 90 days, not for a per-alert code path.
    pub async fn recent_alerts(&self, limit: usize) -> Result<Vec<AlertSummary>, StateError> {
        let items = self
            .scan_sort_key("META", Some("pk, alert_type, verdict, severity, account, updated"))
            .await?;
        let mut alerts: Vec<AlertSummary> = items
            .iter()
            .map(|item| AlertSummary {
                alert_id: string_attr(item, "pk").trim_start_matches("ALERT#").to_string(),
                alert_type: string_attr(item, "alert_type"),
                verdict: string_attr(item, "verdict"),
                severity: string_attr(item, "severity"),
                account: string_attr(item, "account"),
                updated: string_attr(item, "updated"),
            })
            .collect();
        alerts.sort_by(|a, b| b.updated.cmp(&a.updated).then_with(|| a.alert_id.cmp(&b.alert_id)));
        alerts.truncate(limit);
        Ok(alerts)
    }
}

#[async_trait]
impl AlertLog for DynamoState {
    /// The rule of [`soar_core::dedup`], with conditional writes so that racing invocations
    /// agree: the exact revision is recorded once (a second record of it is a duplicate), then
    /// the latest usable timestamp moves forward only (an older one is a late copy).
    async fn register_alert(&self, doc: &Document) -> Result<Registration, StateError> {
        let revision = Revision::of(&doc.alert);
        let resource = &doc.alert.resource;
        let pk = keys::alert(&doc.alert.id);
        let sk = format!("REV#{}#{}", resource.kind, resource.id);
        let (token, now) = (claim_token(), Utc::now().timestamp());
        let exact = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(&pk))
            .item("sk", s(seen_key(doc)))
            .item("owner", s(&token))
            .item("registered_at", n(now))
            .item("expires_at", expires(RETENTION))
            .condition_expression("attribute_not_exists(sk)")
            .send()
            .await;
        match exact {
            Ok(_) => {}
            Err(e) if conditional_failed(&e) => match self.seen_before(doc, &token, now).await? {
                Seen::HandedOn => {
                    return Ok(Registration::Duplicate {
                        latest: self.latest_revision(&pk, &sk, &revision).await?,
                    });
                }
                Seen::InProgress => return Ok(Registration::InProgress),
                // This write, retried by the SDK after it had succeeded.
                Seen::Mine => {}
                // A delivery that died before handing the alert on: this one takes it over
                // (under a lease of its own, so that copies arriving meanwhile wait).
                Seen::Abandoned { owner } => {
                    if !self.take_over_registration(doc, (&owner, &token), now).await? {
                        return Ok(Registration::InProgress);
                    }
                }
            },
            Err(e) => return Err(err("PutItem", e)),
        }
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&pk))
            .key("sk", s(&sk))
            .expression_attribute_values(":exp", expires(RETENTION))
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::UpdatedOld);
        let update = match &revision.timestamp {
            Some(timestamp) => update
                .update_expression("SET revision = :rev, expires_at = :exp ADD seen :one")
                .condition_expression("attribute_not_exists(revision) OR revision <= :rev")
                .expression_attribute_values(":rev", s(timestamp)),
            // No usable timestamp: content not seen before is evaluated, ordering nothing.
            None => update.update_expression("SET expires_at = :exp ADD seen :one"),
        };
        match update.send().await {
            Ok(out) => {
                let old = out.attributes();
                let previous = old.and_then(|a| a.get("revision")).and_then(|v| v.as_s().ok()).cloned();
                let seen = old.is_some_and(|a| a.contains_key("seen") || a.contains_key("revision"));
                Ok(match (previous, seen) {
                    (Some(previous), _) => Registration::Updated { previous },
                    (None, true) => Registration::Updated {
                        previous: "unversioned".into(),
                    },
                    (None, false) => Registration::New,
                })
            }
            Err(e) if conditional_failed(&e) => Ok(Registration::Duplicate {
                latest: self.latest_revision(&pk, &sk, &revision).await?,
            }),
            Err(e) => Err(err("UpdateItem", e)),
        }
    }

    async fn mark_handed_on(&self, doc: &Document) -> Result<(), StateError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(keys::alert(&doc.alert.id)))
            .key("sk", s(seen_key(doc)))
            .update_expression("SET handed_at = :now")
            .expression_attribute_values(":now", n(Utc::now().timestamp()))
            .send()
            .await
            .map_err(|e| err("UpdateItem", e))?;
        Ok(())
    }

    async fn save_document(&self, serialized: &Serialized<'_>) -> Result<(), StateError> {
        let (doc, body) = (serialized.document, serialized.json);
        let verdict = doc.verdict.as_ref().map_or("none", |v| v.verdict.as_str());
        let severity = doc
            .verdict
            .as_ref()
            .map_or(doc.alert.severity_label.as_str(), |v| v.severity.as_str());
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(keys::alert(&doc.alert.id)))
            .item("sk", s("META"))
            .item("document", s(body))
            .item("alert_type", s(&doc.alert.kind))
            .item("verdict", s(verdict))
            // What `soar alerts list` and the console filter on, without reading the document.
            .item("severity", s(severity))
            .item("account", s(&doc.alert.account))
            .item("updated", s(Utc::now().to_rfc3339()))
            .item("expires_at", expires(RETENTION))
            .send()
            .await
            .map_err(|e| err("PutItem", e))?;
        Ok(())
    }

    async fn load_document(&self, alert_id: &str) -> Result<Option<Document>, StateError> {
        let Some(item) = self.get(keys::alert(alert_id), "META").await? else {
            return Ok(None);
        };
        let body = string_attr(&item, "document");
        serde_json::from_str(&body)
            .map(Some)
            .map_err(|e| StateError(format!("stored document of {alert_id}: {e}")))
    }
}

#[async_trait]
impl DecisionLog for DynamoState {
    async fn put_decision(&self, alert_id: &str, entry: &TraceEntry) -> Result<(), StateError> {
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(keys::alert(alert_id)))
            .item("sk", s(format!("DECISION#{}", entry.phase)))
            .item("revision", s(&entry.revision))
            .item("micros", n(entry.micros))
            .item("decided_at", s(Utc::now().to_rfc3339()))
            .item("expires_at", expires(RETENTION));
        if let Some(decision) = &entry.decision {
            put = put.item("decision", s(decision.to_string()));
        }
        if let Some(error) = &entry.error {
            put = put.item("error", s(error));
        }
        if !entry.notes.is_empty() {
            put = put.item("notes", AttributeValue::L(entry.notes.iter().map(s).collect()));
        }
        put.send().await.map_err(|e| err("PutItem", e))?;
        Ok(())
    }
}

impl DynamoState {
    /// Takes over a claim whose lease ran out from `previous` (its status and approval stay);
    /// `false` when another invocation took it first.
    async fn take_over(
        &self,
        pk: String,
        sk: String,
        (previous, token): (&str, &str),
        now: i64,
    ) -> Result<bool, StateError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .update_expression("SET #owner = :token, lease_until = :lease")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":token", s(token))
            .expression_attribute_values(":lease", n(now + self.claim_lease.as_secs() as i64));
        // Only from the holder read a moment ago: of two invocations taking over, one wins.
        let update = if previous.is_empty() {
            update.condition_expression("attribute_not_exists(#owner)")
        } else {
            update
                .condition_expression("#owner = :previous")
                .expression_attribute_values(":previous", s(previous))
        };
        let result = update.send().await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if conditional_failed(&e) => Ok(false),
            Err(e) => Err(err("UpdateItem", e)),
        }
    }
}

/// The item of one exact revision of an alert (see [`soar_core::dedup`]).
fn seen_key(doc: &Document) -> String {
    let resource = &doc.alert.resource;
    format!(
        "SEEN#{}#{}#{}",
        resource.kind,
        resource.id,
        Revision::of(&doc.alert).exact_key()
    )
}

/// What became of the delivery that registered a revision first.
enum Seen {
    /// It handed the alert on: this is a copy.
    HandedOn,
    /// It may still be handing it on.
    InProgress,
    /// It is this very delivery (the SDK repeated its write).
    Mine,
    /// It died before handing the alert on (its lease ran out).
    Abandoned { owner: String },
}

impl DynamoState {
    async fn seen_before(&self, doc: &Document, token: &str, now: i64) -> Result<Seen, StateError> {
        let item = self
            .get(keys::alert(&doc.alert.id), &seen_key(doc))
            .await?
            .unwrap_or_default();
        let registered_at = item
            .get("registered_at")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<i64>().ok());
        let owner = string_attr(&item, "owner");
        Ok(match registered_at {
            _ if owner == token => Seen::Mine,
            // Handed on, or registered before registrations were leased (always handed on then).
            _ if item.contains_key("handed_at") => Seen::HandedOn,
            None => Seen::HandedOn,
            Some(at) if at + self.claim_lease.as_secs() as i64 > now => Seen::InProgress,
            Some(_) => Seen::Abandoned { owner },
        })
    }

    /// Takes an abandoned registration over from `previous`; `false` when another delivery
    /// took it first or it was handed on meanwhile.
    async fn take_over_registration(
        &self,
        doc: &Document,
        (previous, token): (&str, &str),
        now: i64,
    ) -> Result<bool, StateError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(keys::alert(&doc.alert.id)))
            .key("sk", s(seen_key(doc)))
            .update_expression("SET #owner = :token, registered_at = :now")
            .condition_expression("#owner = :previous AND attribute_not_exists(handed_at)")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":token", s(token))
            .expression_attribute_values(":previous", s(previous))
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if conditional_failed(&e) => Ok(false),
            Err(e) => Err(err("UpdateItem", e)),
        }
    }

    /// An approved action is handed out exactly once, to whoever flips it first, under a lease
    /// like a claim's.
    async fn take_approved(&self, pk: String, sk: String, token: &str, now: i64) -> Result<Claim, StateError> {
        let (pk_again, sk_again) = (pk.clone(), sk.clone());
        let approved = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .update_expression("SET #status = :executing, #owner = :owner, lease_until = :lease")
            .condition_expression("#status = :approved")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":executing", s("executing"))
            .expression_attribute_values(":approved", s("approved"))
            .expression_attribute_values(":owner", s(token))
            .expression_attribute_values(":lease", n(now + self.claim_lease.as_secs() as i64))
            .send()
            .await;
        match approved {
            Ok(_) => Ok(Claim::Approved),
            // This very flip, retried by the SDK after it had succeeded, or another's.
            Err(e) if conditional_failed(&e) => {
                let item = self.get(pk_again, &sk_again).await?.unwrap_or_default();
                Ok(if string_attr(&item, "owner") == token {
                    Claim::Approved
                } else {
                    Claim::Busy
                })
            }
            Err(e) => Err(err("UpdateItem", e)),
        }
    }
}

#[async_trait]
impl ActionLedger for DynamoState {
    async fn claim_action(&self, alert_id: &str, mode: Mode, action: &str, target: &str) -> Result<Claim, StateError> {
        let (pk, sk) = (keys::scope(alert_id), keys::ledger(mode, action, target));
        let (token, now) = (claim_token(), Utc::now().timestamp());
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(&pk))
            .item("sk", s(&sk))
            .item("status", s("claimed"))
            .item("mode", s(mode.as_str()))
            .item("owner", s(&token))
            .item("lease_until", n(now + self.claim_lease.as_secs() as i64))
            .item("claimed_at", s(Utc::now().to_rfc3339()))
            .item("expires_at", expires(RETENTION))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => return Ok(Claim::New),
            Err(e) if conditional_failed(&e) => {}
            Err(e) => return Err(err("PutItem", e)),
        }
        let held = self.get(pk.clone(), &sk).await?.unwrap_or_default();
        let status = string_attr(&held, "status");
        let lease_until = held
            .get("lease_until")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<i64>().ok());
        match status.as_str() {
            // The SDK retried this very write after it had succeeded.
            _ if string_attr(&held, "owner") == token => Ok(Claim::New),
            "approved" => self.take_approved(pk, sk, &token, now).await,
            // Held by an invocation that may still be acting.
            "claimed" | "executing" if lease_until.is_some_and(|until| until >= now) => Ok(Claim::Busy),
            // Its holder died before recording an outcome: taken over, approval and all.
            "claimed" | "executing" => {
                let previous = string_attr(&held, "owner");
                let taken = self.take_over(pk, sk, (&previous, &token), now).await?;
                Ok(match (taken, status.as_str()) {
                    (false, _) => Claim::Busy,
                    (true, "executing") => Claim::Approved,
                    (true, _) => Claim::Resumed,
                })
            }
            _ => Ok(Claim::Taken),
        }
    }

    async fn approval(&self, scope: &str, action: &str, target: &str) -> Result<Option<ApprovalState>, StateError> {
        let Some(item) = self
            .get(keys::scope(scope), &keys::ledger(Mode::Enforce, action, target))
            .await?
        else {
            return Ok(None);
        };
        let detail: Value = serde_json::from_str(&string_attr(&item, "detail")).unwrap_or(Value::Null);
        let decided_by = Some(string_attr(&item, "answered_by")).filter(|b| !b.is_empty());
        Ok(Some(ApprovalState {
            status: string_attr(&item, "status"),
            request: serde_json::from_str(&string_attr(&item, "request")).ok(),
            ticket: ApprovalTicket::of_detail(&detail),
            decided_by,
            approver: serde_json::from_str(&string_attr(&item, "approver")).ok(),
        }))
    }

    async fn answer_approval(
        &self,
        scope: &str,
        (action, target): (&str, &str),
        digest: &str,
        status: &str,
        approver: &Approver,
    ) -> Result<bool, StateError> {
        let (pk, sk) = (keys::scope(scope), keys::ledger(Mode::Enforce, action, target));
        let by = approver.recorded();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&pk))
            .key("sk", s(&sk))
            .update_expression("SET #status = :answer, answered_by = :who, approver = :approver, answered_at = :at")
            .condition_expression("#status = :pending AND digest = :digest")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":answer", s(status))
            .expression_attribute_values(":pending", s(ActionStatus::PendingApproval.as_str()))
            .expression_attribute_values(":digest", s(digest))
            .expression_attribute_values(":who", s(&by))
            .expression_attribute_values(":approver", s(serde_json::to_string(approver).unwrap_or_default()))
            .expression_attribute_values(":at", s(Utc::now().to_rfc3339()))
            .send()
            .await;
        let answered = match result {
            Ok(_) => true,
            // Answered already by this very call, retried by the SDK after it had succeeded.
            Err(e) if conditional_failed(&e) => {
                let item = self.get(pk, &sk).await?.unwrap_or_default();
                string_attr(&item, "status") == status
                    && string_attr(&item, "answered_by") == by
                    && string_attr(&item, "digest") == digest
            }
            Err(e) => return Err(err("UpdateItem", e)),
        };
        if answered {
            self.unlist_waiting(scope, action, target).await;
        }
        Ok(answered)
    }

    async fn waiting_approvals(&self) -> Result<Vec<Waiting>, StateError> {
        let mut waiting = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(keys::WAITING))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| err("Query", e))?;
            for item in out.items() {
                let (scope, action, target) = (
                    string_attr(item, "scope"),
                    string_attr(item, "action"),
                    string_attr(item, "target"),
                );
                // The list is a pointer: the ledger entry says whether it still waits.
                match self.approval(&scope, &action, &target).await? {
                    Some(state) if state.status == ActionStatus::PendingApproval.as_str() => {
                        if let Some(ticket) = state.ticket {
                            waiting.push(Waiting {
                                scope,
                                action,
                                target,
                                ticket,
                            });
                        }
                    }
                    _ => self.unlist_waiting(&scope, &action, &target).await,
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        waiting.sort_by(|a, b| a.ticket.asked_at.cmp(&b.ticket.asked_at));
        Ok(waiting)
    }

    /// A plain claim is deleted; an approved one being carried out goes back to `approved`, so
    /// that the retry carries it out without asking a person again.
    async fn release_action(&self, alert_id: &str, mode: Mode, action: &str, target: &str) -> Result<(), StateError> {
        let (pk, sk) = (keys::scope(alert_id), keys::ledger(mode, action, target));
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(&pk))
            .key("sk", s(&sk))
            .condition_expression("attribute_not_exists(#status) OR #status <> :executing")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":executing", s("executing"))
            .send()
            .await;
        match deleted {
            Ok(_) => return Ok(()),
            Err(e) if conditional_failed(&e) => {}
            Err(e) => return Err(err("DeleteItem", e)),
        }
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .update_expression("SET #status = :approved REMOVE #owner, lease_until")
            .condition_expression("#status = :executing")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":approved", s("approved"))
            .expression_attribute_values(":executing", s("executing"))
            .send()
            .await
            .map_err(|e| err("UpdateItem", e))?;
        Ok(())
    }

    async fn record_action(&self, alert_id: &str, record: &ActionRecord) -> Result<(), StateError> {
        let (action, target) = (&record.request.action, record.ledger_target());
        // Outcomes of claimed actions update the ledger item; a duplicate leaves the original alone;
        // refusals go to their own item so they never block a later claim.
        let sk = match record.status {
            ActionStatus::Duplicate => return Ok(()),
            ActionStatus::Planned | ActionStatus::Executed | ActionStatus::Failed | ActionStatus::PendingApproval => {
                keys::ledger(record.mode, action, target)
            }
            _ => keys::skipped(action, target),
        };
        let ticket = (record.status == ActionStatus::PendingApproval && record.mode == Mode::Enforce)
            .then(|| ApprovalTicket::of_detail(&record.detail))
            .flatten();
        // An update, not a put: the answer to an approved action (who, when, under which
        // approver policy identity) stays beside its outcome. Asking again clears it.
        let mut expression = String::from(
            "SET #status = :status, #mode = :mode, #request = :request, #detail = :detail, \
             recorded_at = :at, expires_at = :exp",
        );
        if ticket.is_some() {
            expression.push_str(", digest = :digest REMOVE #owner, lease_until, answered_by, approver, answered_at");
        } else {
            expression.push_str(" REMOVE #owner, lease_until");
        }
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(keys::scope(alert_id)))
            .key("sk", s(sk))
            .update_expression(expression)
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#mode", "mode")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_names("#request", "request")
            .expression_attribute_names("#detail", "detail")
            .expression_attribute_values(":status", s(record.status.as_str()))
            .expression_attribute_values(":mode", s(record.mode.as_str()))
            .expression_attribute_values(
                ":request",
                s(serde_json::to_string(&record.request).unwrap_or_default()),
            )
            .expression_attribute_values(":detail", s(record.detail.to_string()))
            .expression_attribute_values(":at", s(Utc::now().to_rfc3339()))
            .expression_attribute_values(":exp", expires(RETENTION));
        if let Some(ticket) = &ticket {
            // The plan an answer must name (the condition of `answer_approval`).
            update = update.expression_attribute_values(":digest", s(&ticket.digest));
        }
        update.send().await.map_err(|e| err("UpdateItem", e))?;
        if let Some(ticket) = ticket {
            self.list_waiting(alert_id, record, &ticket).await?;
        }
        Ok(())
    }

    async fn take_action_budget(&self, budget: Budget, max_per_hour: u32) -> Result<bool, StateError> {
        let hour = Utc::now().format("%Y-%m-%dT%H").to_string();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(keys::rate_window(&hour)))
            .key("sk", s("COUNT"))
            .update_expression("ADD #count :one SET expires_at = :exp")
            .condition_expression("attribute_not_exists(#count) OR #count < :max")
            .expression_attribute_names("#count", budget.as_str())
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(max_per_hour))
            .expression_attribute_values(":exp", expires(Duration::from_secs(2 * 3600)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if conditional_failed(&e) => Ok(false),
            Err(e) => Err(err("UpdateItem", e)),
        }
    }
}

#[async_trait]
impl LookupCache for DynamoState {
    async fn cached_lookup(&self, provider: &str, indicator: &Indicator) -> Result<Option<Lookup>, StateError> {
        let pk = format!("INTEL#{provider}#{}:{}", indicator.kind, indicator.value);
        let Some(item) = self.get(pk, "CACHE").await? else {
            return Ok(None);
        };
        // TTL deletion is lazy: an expired item may still be there.
        let expires_at = item
            .get("expires_at")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<i64>().ok());
        if expires_at.is_none_or(|t| t <= Utc::now().timestamp()) {
            return Ok(None);
        }
        let body = string_attr(&item, "lookup");
        Ok(serde_json::from_str(&body).ok())
    }

    async fn cache_lookup(
        &self,
        provider: &str,
        indicator: &Indicator,
        lookup: &Lookup,
        ttl: Duration,
    ) -> Result<(), StateError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item(
                "pk",
                s(format!("INTEL#{provider}#{}:{}", indicator.kind, indicator.value)),
            )
            .item("sk", s("CACHE"))
            .item("lookup", s(serde_json::to_string(lookup).unwrap_or_default()))
            .item("expires_at", expires(ttl))
            .send()
            .await
            .map_err(|e| err("PutItem", e))?;
        Ok(())
    }

    async fn take_lookup_slot(&self, provider: &str, window: RateWindow) -> Result<Slot, StateError> {
        let (index, retry_after) = soar_core::time::fixed_window(window.seconds);
        // One conditional increment per request: of any number of racing instances, exactly
        // `requests` succeed in a window.
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(keys::lookup_window(provider, window.seconds, index)))
            .key("sk", s("COUNT"))
            .update_expression("ADD requests :one SET expires_at = :exp")
            .condition_expression("attribute_not_exists(requests) OR requests < :max")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(window.requests))
            .expression_attribute_values(":exp", expires(Duration::from_secs(window.seconds * 2 + 60)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Slot::Granted),
            Err(e) if conditional_failed(&e) => Ok(Slot::Full { retry_after }),
            Err(e) => Err(err("UpdateItem", e)),
        }
    }
}

impl DynamoState {
    /// Puts a waiting action on the list the expiry sweep and the console read.
    async fn list_waiting(
        &self,
        scope: &str,
        record: &ActionRecord,
        ticket: &ApprovalTicket,
    ) -> Result<(), StateError> {
        let (action, target) = (&record.request.action, record.ledger_target());
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(keys::WAITING))
            .item("sk", s(keys::waiting(scope, action, target)))
            .item("scope", s(scope))
            .item("action", s(action))
            .item("target", s(target))
            .item("approval_expires_at", n(ticket.expires_at))
            .item("expires_at", expires(RETENTION))
            .send()
            .await
            .map_err(|e| err("PutItem", e))?;
        Ok(())
    }

    /// Takes an answered action off the waiting list. Best effort: a stale pointer is skipped
    /// (and removed) by the next listing.
    async fn unlist_waiting(&self, scope: &str, action: &str, target: &str) {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(keys::WAITING))
            .key("sk", s(keys::waiting(scope, action, target)))
            .send()
            .await;
        if let Err(e) = deleted {
            tracing::warn!(error = %err("DeleteItem", e), "could not take an answered action off the waiting list");
        }
    }

    /// The latest usable timestamp registered for an alert's resource, else this revision's label.
    async fn latest_revision(&self, pk: &str, sk: &str, revision: &Revision) -> Result<String, StateError> {
        Ok(self
            .get(pk.to_string(), sk)
            .await?
            .and_then(|item| item.get("revision").and_then(|v| v.as_s().ok()).cloned())
            .unwrap_or_else(|| revision.label().to_string()))
    }
}

/// The waiting action `soar approve` names: `id` is an alert id or an incident id (`inc-…`; an
/// alert of an incident has its actions in the incident's ledger); `target` may be left out when
/// one `action` waits. The digest is the one waiting now: the person approves the plan
/// `soar alerts show` / `soar incidents show` displays. Errors: nothing (or several) waiting.
pub async fn waiting_key(
    state: &DynamoState,
    id: &str,
    action: &str,
    target: Option<&str>,
) -> Result<ApprovalKey, String> {
    let scope = if soar_core::incident::is_incident_id(id) {
        id.to_string()
    } else {
        state
            .load_document(id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no stored document for {id}"))?
            .ledger_scope()
            .to_string()
    };
    let prefix = format!("ACTION#{action}#");
    let target = match target {
        Some(t) => t.to_string(),
        None => {
            let pending: Vec<String> = state
                .ledger(&scope)
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .filter(|e| e.status == ActionStatus::PendingApproval.as_str())
                .filter_map(|e| e.sk.strip_prefix(&prefix).map(String::from))
                .collect();
            match pending.as_slice() {
                [one] => one.clone(),
                [] => return Err(format!("no {action} is waiting for approval on {id}")),
                many => {
                    return Err(format!(
                        "several {action} wait on {id}; name the target: {}",
                        many.join(", ")
                    ));
                }
            }
        }
    };
    let waiting = state
        .approval(&scope, action, &target)
        .await
        .map_err(|e| e.to_string())?
        .filter(|a| a.status == ActionStatus::PendingApproval.as_str())
        .ok_or_else(|| format!("no {action} on {target} is waiting for approval on {id}"))?;
    let ticket = waiting
        .ticket
        .ok_or_else(|| format!("{action} on {target} waits without a plan digest"))?;
    Ok(ApprovalKey {
        scope,
        action: action.to_string(),
        target,
        digest: ticket.digest,
    })
}
