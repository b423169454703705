//! In-memory adapters behind the same ports as the AWS ones: the state of one `soar run`, and the
//! recording fakes tests use to prove what was (and was not) called.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use soar_core::action::Action;
use soar_core::alert::{Alert, Indicator, IndicatorKind, Resource};
use soar_core::approval::{ApprovalState, ApprovalTicket, Approver, EXPIRED, Waiting};
use soar_core::dedup::Revision;
use soar_core::document::{ActionRecord, ActionStatus, Document, Mode, Serialized, Target, TraceEntry};
use soar_core::egress::Locality;
use soar_core::incident::{self, Grouping, Incident, IncidentLink, Joining, Placement};
use soar_core::ports::{
    ActionError, ActionLedger, AlertLog, Budget, Claim, DecisionLog, IncidentLog, IntelProvider, Inventory,
    InventoryRecord, Lookup, LookupCache, Notification, Notifier, ProviderError, RateWindow, Registration, Remediator,
    Slot, StateError,
};
use soar_core::rollback::Undo;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The whole state of one process: nothing survives it.
#[derive(Default)]
pub struct MemoryState {
    inner: Mutex<StateInner>,
    /// Keeps only what deduplication and the ledger need (see [`MemoryState::lean`]).
    lean: bool,
}

#[derive(Default)]
struct StateInner {
    /// dedup key (alert id + resource) → latest revision seen
    /// Per alert and resource: the latest usable timestamp registered.
    revisions: HashMap<Key, Seen>,
    /// Every exact revision registered (`<alert>#<timestamp>#<digest>`), and whether it was
    /// handed on.
    exact_revisions: HashMap<Key, bool>,
    documents: HashMap<String, Document>,
    decisions: Vec<(String, TraceEntry)>,
    /// (alert, mode, action, target) → status
    ledger: HashMap<Key, &'static str>,
    /// Enforce-mode entries that asked for approval: their (scope, action, target), ticket and
    /// who answered.
    approvals: HashMap<Key, Asked>,
    actions: Vec<(String, ActionRecord)>,
    cache: HashMap<(String, IndicatorKind, String), (Lookup, Instant)>,
    /// per budget: the start of the current hour window and what was counted in it
    windows: HashMap<Budget, (Instant, u32)>,
    /// (provider, window length, window index) → requests counted
    lookup_windows: HashMap<(String, u64, u64), u32>,
    /// incident key → the latest incident of that key and the times of its alerts
    incident_heads: HashMap<String, IncidentHead>,
    /// incident id → the incident (kept in lean mode too: `soar run` prints them at the end)
    incidents: BTreeMap<String, Incident>,
    /// (alert, revision) → the link it was given
    joined: HashMap<Key, IncidentLink>,
}

/// An entry that asked for approval.
#[derive(Clone)]
struct Asked {
    scope: String,
    request: soar_core::document::ActionRequest,
    target: String,
    ticket: ApprovalTicket,
    decided_by: Option<Approver>,
}

/// The latest incident of a key: its id and the first and last alert times.
#[derive(Clone)]
struct IncidentHead {
    id: String,
    first: DateTime<Utc>,
    last: DateTime<Utc>,
}

impl MemoryState {
    pub fn new() -> Self {
        Self::default()
    }

    /// The state of a long `soar run`: memory stays flat with the number of alerts. Kept:
    /// the revisions seen, the ledger's statuses, the lookup cache, and each alert's verdict
    /// (which a later copy of it is given); not kept: the decision and action history, nor
    /// the documents beyond their verdicts (each is printed as it is done).
    pub fn lean() -> Self {
        MemoryState {
            lean: true,
            ..Self::default()
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StateInner> {
        // A panic in another test thread must not hide this one's state.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn document(&self, alert_id: &str) -> Option<Document> {
        self.lock().documents.get(alert_id).cloned()
    }

    pub fn recorded_actions(&self) -> Vec<(String, ActionRecord)> {
        self.lock().actions.clone()
    }

    pub fn decisions(&self) -> Vec<(String, TraceEntry)> {
        self.lock().decisions.clone()
    }

    /// Every incident, oldest first.
    pub fn incidents(&self) -> Vec<Incident> {
        let mut all: Vec<Incident> = self.lock().incidents.values().cloned().collect();
        all.sort_by(|a, b| (&a.opened_at, &a.id).cmp(&(&b.opened_at, &b.id)));
        all
    }
}

#[async_trait]
impl IncidentLog for MemoryState {
    async fn join_incident(&self, joining: &Joining<'_>) -> Result<IncidentLink, StateError> {
        let grouping = joining.grouping;
        let member = &joining.member;
        let mut inner = self.lock();
        let joined_key = key(&[&member.alert_id, &joining.revision]);
        if let Some(link) = inner.joined.get(&joined_key) {
            return Ok(link.clone());
        }
        let (id, opened, place) = take_head(&mut inner, joining);
        if place != Placement::Alone {
            absorb(&mut inner, grouping, &id, joining.at);
        }
        let Some(incident) = inner.incidents.get_mut(&id) else {
            return Err(StateError(format!("incident {id} has a head but no record")));
        };
        let previous_severity = (!opened).then(|| incident.severity.clone());
        if incident::severity_rank(&member.severity) > incident::severity_rank(&incident.severity) {
            incident.severity.clone_from(&member.severity);
        }
        if incident::verdict_rank(member.verdict) > incident::verdict_rank(incident.verdict) {
            incident.verdict = member.verdict;
        }
        match incident.alerts.iter_mut().find(|m| m.alert_id == member.alert_id) {
            Some(known) => *known = member.clone(),
            None => incident.alerts.push(member.clone()),
        }
        incident
            .alerts
            .sort_by(|a, b| (&a.at, &a.alert_id).cmp(&(&b.at, &b.alert_id)));
        let link = IncidentLink {
            id,
            key: grouping.key.clone(),
            opened,
            alerts: incident.alerts.len() as u32,
            previous_severity,
            severity: incident.severity.clone(),
            verdict: incident.verdict,
            window_minutes: incident.window_minutes,
            opened_at: incident.opened_at.clone(),
        };
        inner.joined.insert(joined_key, link.clone());
        Ok(link)
    }

    async fn load_incident(&self, id: &str) -> Result<Option<Incident>, StateError> {
        Ok(self.lock().incidents.get(id).cloned())
    }
}

/// Moves the head of the alert's key to take it in, or opens an incident there (or, for an
/// alert far older than the key's incident, one of its own): the incident's id, whether this
/// alert opened it, and the alert's placement.
fn take_head(inner: &mut StateInner, joining: &Joining<'_>) -> (String, bool, Placement) {
    let (grouping, member) = (joining.grouping, &joining.member);
    let latest = inner
        .incident_heads
        .get(&grouping.key)
        .map(|h| (h.id.clone(), h.first, h.last));
    let place = latest.as_ref().map_or(Placement::OpenNew, |(_, first, last)| {
        incident::placement(joining.at, (*first, *last), grouping.window())
    });
    let (id, opened) = match (place, latest) {
        (Placement::Join, Some((id, first, last))) => {
            let head = IncidentHead {
                id: id.clone(),
                first: first.min(joining.at),
                last: last.max(joining.at),
            };
            inner.incident_heads.insert(grouping.key.clone(), head);
            (id, false)
        }
        (place, _) => {
            let opened_at = soar_core::time::format_timestamp(&joining.now);
            let id = incident::incident_id(&grouping.key, &opened_at, &member.alert_id);
            if place != Placement::Alone {
                let head = IncidentHead {
                    id: id.clone(),
                    first: joining.at,
                    last: joining.at,
                };
                inner.incident_heads.insert(grouping.key.clone(), head);
            }
            let opened = Incident {
                id: id.clone(),
                key: grouping.key.clone(),
                opened_at,
                window_minutes: grouping.window_minutes,
                severity: member.severity.clone(),
                verdict: member.verdict,
                alerts: Vec::new(),
                absorbed: Vec::new(),
                absorbed_by: None,
            };
            inner.incidents.insert(id.clone(), opened);
            (id, true)
        }
    };
    (id, opened, place)
}

/// The keys of `grouping.also` taken into the incident `id` (see [`Grouping::also`]): each key's
/// head points at it from now on, and an incident open under one of them is absorbed.
fn absorb(inner: &mut StateInner, grouping: &Grouping, id: &str, at: DateTime<Utc>) {
    for key in grouping.absorbed_keys() {
        let head = inner.incident_heads.get(key).cloned();
        let place = head.as_ref().map_or(Placement::OpenNew, |h| {
            incident::placement(at, (h.first, h.last), grouping.window())
        });
        let (first, last) = match (place, head) {
            (_, Some(h)) if h.id == id => continue,
            (Placement::Alone, _) => continue,
            (Placement::Join, Some(h)) => {
                if let Some(open) = inner.incidents.get_mut(&h.id) {
                    open.absorbed_by = Some(id.to_string());
                }
                if let Some(taking) = inner.incidents.get_mut(id)
                    && !taking.absorbed.contains(&h.id)
                {
                    taking.absorbed.push(h.id.clone());
                }
                (h.first.min(at), h.last.max(at))
            }
            _ => (at, at),
        };
        let head = IncidentHead {
            id: id.to_string(),
            first,
            last,
        };
        inner.incident_heads.insert(key.to_string(), head);
    }
}

/// A key of the state's maps: 128 bits of the SHA-256 of its parts, each length-prefixed (so
/// no two lists of parts share a key). A long run keeps one per alert, action and revision: 16
/// bytes each rather than the alert id, action and target strings (ids alone are ~60 bytes).
type Key = [u8; 16];

fn key(parts: &[&str]) -> Key {
    use sha2::Digest;
    let mut hash = sha2::Sha256::new();
    for part in parts {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part.as_bytes());
    }
    let mut out = [0; 16];
    out.copy_from_slice(&hash.finalize()[..16]);
    out
}

fn ledger_key(alert_id: &str, mode: Mode, action: &str, target: &str) -> Key {
    key(&[alert_id, mode.as_str(), action, target])
}

/// What deduplication keeps of an alert's revisions.
#[derive(Debug, Clone, Default)]
struct Seen {
    latest: Option<String>,
}

/// Dedup identity: the alert and the resource it concerns (lesson: detector + rule alone hid a
/// second instance's incident).
pub(crate) fn dedup_key(doc: &Document) -> String {
    let r = &doc.alert.resource;
    format!("{}#{}#{}", doc.alert.id, r.kind, r.id)
}

#[async_trait]
impl AlertLog for MemoryState {
    /// The rule of [`soar_core::dedup`]: an exact revision seen before, or an older timestamp
    /// than the latest, is a duplicate; anything else is new or an update.
    async fn register_alert(&self, doc: &Document) -> Result<Registration, StateError> {
        let revision = Revision::of(&doc.alert);
        let dedup = dedup_key(doc);
        let mut inner = self.lock();
        let seen_before = inner.revisions.get(&key(&[&dedup])).cloned();
        let latest_label = |seen: &Option<Seen>| {
            seen.as_ref()
                .and_then(|s| s.latest.clone())
                .unwrap_or_else(|| revision.label().to_string())
        };
        // In one process a registration never handed on belonged to an attempt that failed
        // before handing it on: this one takes it over.
        let exact = key(&[&dedup, &revision.exact_key()]);
        if inner.exact_revisions.insert(exact, false) == Some(true) {
            inner.exact_revisions.insert(exact, true);
            return Ok(Registration::Duplicate {
                latest: latest_label(&seen_before),
            });
        }
        if let (Some(ts), Some(latest)) = (
            &revision.timestamp,
            seen_before.as_ref().and_then(|s| s.latest.as_ref()),
        ) && ts < latest
        {
            return Ok(Registration::Duplicate { latest: latest.clone() });
        }
        let seen = inner.revisions.entry(key(&[&dedup])).or_default();
        if let Some(ts) = &revision.timestamp {
            seen.latest = Some(ts.clone());
        }
        Ok(match seen_before {
            None => Registration::New,
            Some(before) => Registration::Updated {
                previous: before.latest.unwrap_or_else(|| "unversioned".into()),
            },
        })
    }

    async fn mark_handed_on(&self, doc: &Document) -> Result<(), StateError> {
        let exact = key(&[&dedup_key(doc), &Revision::of(&doc.alert).exact_key()]);
        self.lock().exact_revisions.insert(exact, true);
        Ok(())
    }

    async fn save_document(&self, doc: &Serialized<'_>) -> Result<(), StateError> {
        let doc = doc.document;
        let kept = if self.lean {
            // What a later copy of the alert is given (its verdict), under its id.
            let mut alert = doc.alert.clone();
            alert.raw = Value::Null;
            alert.indicators = Vec::new();
            alert.related_resources = Vec::new();
            alert.description = String::new();
            alert.labels = Vec::new();
            alert.resource.tags = Default::default();
            alert.resource.attributes = Default::default();
            let mut kept = Document::new(alert);
            kept.verdict.clone_from(&doc.verdict);
            kept
        } else {
            doc.clone()
        };
        self.lock().documents.insert(doc.alert.id.clone(), kept);
        Ok(())
    }

    async fn load_document(&self, alert_id: &str) -> Result<Option<Document>, StateError> {
        Ok(self.lock().documents.get(alert_id).cloned())
    }
}

#[async_trait]
impl DecisionLog for MemoryState {
    async fn put_decision(&self, alert_id: &str, entry: &TraceEntry) -> Result<(), StateError> {
        if !self.lean {
            self.lock().decisions.push((alert_id.to_string(), entry.clone()));
        }
        Ok(())
    }
}

#[async_trait]
impl ActionLedger for MemoryState {
    async fn claim_action(&self, alert_id: &str, mode: Mode, action: &str, target: &str) -> Result<Claim, StateError> {
        let mut inner = self.lock();
        let status = inner.ledger.entry(ledger_key(alert_id, mode, action, target));
        use std::collections::hash_map::Entry;
        Ok(match status {
            Entry::Vacant(v) => {
                v.insert("claimed");
                Claim::New
            }
            Entry::Occupied(mut o) if *o.get() == "approved" => {
                o.insert("executing");
                Claim::Approved
            }
            Entry::Occupied(_) => Claim::Taken,
        })
    }

    async fn approval(&self, scope: &str, action: &str, target: &str) -> Result<Option<ApprovalState>, StateError> {
        let inner = self.lock();
        let key = ledger_key(scope, Mode::Enforce, action, target);
        let Some(status) = inner.ledger.get(&key) else {
            return Ok(None);
        };
        let asked = inner.approvals.get(&key);
        Ok(Some(ApprovalState {
            status: status.to_string(),
            request: asked.map(|a| a.request.clone()),
            ticket: asked.map(|a| a.ticket.clone()),
            decided_by: asked.and_then(|a| a.decided_by.as_ref().map(Approver::recorded)),
            approver: asked.and_then(|a| a.decided_by.clone()),
        }))
    }

    async fn answer_approval(
        &self,
        scope: &str,
        (action, target): (&str, &str),
        digest: &str,
        status: &str,
        by: &Approver,
    ) -> Result<bool, StateError> {
        let status: &'static str = match status {
            "approved" => "approved",
            "denied" => "denied",
            EXPIRED => EXPIRED,
            other => return Err(StateError(format!("not an answer to an approval: {other}"))),
        };
        let mut inner = self.lock();
        let key = ledger_key(scope, Mode::Enforce, action, target);
        let waiting = inner.ledger.get(&key) == Some(&ActionStatus::PendingApproval.as_str())
            && inner.approvals.get(&key).is_some_and(|a| a.ticket.digest == digest);
        if !waiting {
            return Ok(false);
        }
        inner.ledger.insert(key, status);
        if let Some(asked) = inner.approvals.get_mut(&key) {
            asked.decided_by = Some(by.clone());
        }
        Ok(true)
    }

    async fn waiting_approvals(&self) -> Result<Vec<Waiting>, StateError> {
        let inner = self.lock();
        let mut waiting: Vec<Waiting> = inner
            .approvals
            .iter()
            .filter(|(key, _)| inner.ledger.get(*key) == Some(&ActionStatus::PendingApproval.as_str()))
            .map(|(_, a)| Waiting {
                scope: a.scope.clone(),
                action: a.request.action.clone(),
                target: a.target.clone(),
                ticket: a.ticket.clone(),
            })
            .collect();
        waiting.sort_by(|a, b| a.ticket.asked_at.cmp(&b.ticket.asked_at));
        Ok(waiting)
    }

    async fn release_action(&self, alert_id: &str, mode: Mode, action: &str, target: &str) -> Result<(), StateError> {
        let mut inner = self.lock();
        let key = ledger_key(alert_id, mode, action, target);
        // An approved action being carried out goes back to approved, not to nothing.
        match inner.ledger.get_mut(&key) {
            Some(status) if *status == "executing" => *status = "approved",
            _ => {
                inner.ledger.remove(&key);
            }
        }
        Ok(())
    }

    async fn record_action(&self, alert_id: &str, record: &ActionRecord) -> Result<(), StateError> {
        let mut inner = self.lock();
        let key = ledger_key(alert_id, record.mode, &record.request.action, record.ledger_target());
        if record.status != ActionStatus::Duplicate
            && let Some(status) = inner.ledger.get_mut(&key)
        {
            *status = record.status.as_str();
        }
        if record.status == ActionStatus::PendingApproval
            && record.mode == Mode::Enforce
            && let Some(ticket) = ApprovalTicket::of_detail(&record.detail)
        {
            let asked = Asked {
                scope: alert_id.to_string(),
                request: record.request.clone(),
                target: record.ledger_target().to_string(),
                ticket,
                decided_by: None,
            };
            inner.approvals.insert(key, asked);
        }
        if !self.lean {
            inner.actions.push((alert_id.to_string(), record.clone()));
        }
        Ok(())
    }

    async fn take_action_budget(&self, budget: Budget, max_per_hour: u32) -> Result<bool, StateError> {
        let mut inner = self.lock();
        let now = Instant::now();
        let window = inner.windows.entry(budget).or_insert((now, 0));
        if now.duration_since(window.0) >= Duration::from_secs(3600) {
            *window = (now, 0);
        }
        if window.1 >= max_per_hour {
            return Ok(false);
        }
        window.1 += 1;
        Ok(true)
    }
}

#[async_trait]
impl LookupCache for MemoryState {
    async fn cached_lookup(&self, provider: &str, indicator: &Indicator) -> Result<Option<Lookup>, StateError> {
        let key = (provider.to_string(), indicator.kind, indicator.value.clone());
        let inner = self.lock();
        Ok(inner
            .cache
            .get(&key)
            .filter(|(_, expires)| Instant::now() < *expires)
            .map(|(l, _)| l.clone()))
    }

    async fn cache_lookup(
        &self,
        provider: &str,
        indicator: &Indicator,
        lookup: &Lookup,
        ttl: Duration,
    ) -> Result<(), StateError> {
        let key = (provider.to_string(), indicator.kind, indicator.value.clone());
        self.lock().cache.insert(key, (lookup.clone(), Instant::now() + ttl));
        Ok(())
    }

    async fn take_lookup_slot(&self, provider: &str, window: RateWindow) -> Result<Slot, StateError> {
        let (index, retry_after) = soar_core::time::fixed_window(window.seconds);
        let mut inner = self.lock();
        let count = inner
            .lookup_windows
            .entry((provider.to_string(), window.seconds, index))
            .or_insert(0);
        if *count >= window.requests {
            return Ok(Slot::Full { retry_after });
        }
        *count += 1;
        Ok(Slot::Granted)
    }
}

/// An inventory held in memory, keyed by resource id.
#[derive(Default, Clone)]
pub struct StaticInventory {
    records: HashMap<String, InventoryRecord>,
}

impl StaticInventory {
    pub fn new(records: HashMap<String, InventoryRecord>) -> Self {
        StaticInventory { records }
    }

    pub fn with(mut self, id: &str, record: InventoryRecord) -> Self {
        self.records.insert(id.to_string(), record);
        self
    }
}

#[async_trait]
impl Inventory for StaticInventory {
    async fn describe(&self, resource: &Resource) -> Result<Option<InventoryRecord>, ProviderError> {
        Ok(self.records.get(&resource.id).cloned())
    }
}

/// Remediation that only writes down what it was asked to do (for `enforce` tests).
#[derive(Default)]
pub struct RecordingRemediator {
    calls: Mutex<Vec<RemediatorCall>>,
    undone: Mutex<Vec<(Target, Undo)>>,
}

/// One action a [`RecordingRemediator`] was asked to carry out.
#[derive(Debug, Clone, PartialEq)]
pub struct RemediatorCall {
    /// The action's wire name (`ec2.isolate`).
    pub action: String,
    pub target: Target,
    pub detail: Action,
}

impl RecordingRemediator {
    pub fn calls(&self) -> Vec<RemediatorCall> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The rollbacks it was asked to carry out, in order.
    pub fn undone(&self) -> Vec<(Target, Undo)> {
        self.undone.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[async_trait]
impl Remediator for RecordingRemediator {
    async fn execute(
        &self,
        alert: &Alert,
        _scope: &str,
        target: &Target,
        action: &Action,
        _described: Option<&InventoryRecord>,
    ) -> Result<Value, ActionError> {
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(RemediatorCall {
                action: action.kind().to_string(),
                target: target.clone(),
                detail: action.clone(),
            });
        Ok(json!({"recorded_by": "memory", "alert": alert.id}))
    }

    async fn undo(&self, alert: &Alert, target: &Target, undo: &Undo) -> Result<Value, ActionError> {
        self.undone
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((target.clone(), undo.clone()));
        Ok(json!({"recorded_by": "memory", "alert": alert.id, "undone": undo.api_calls()}))
    }
}

#[derive(Default)]
pub struct RecordingNotifier {
    sent: Mutex<Vec<Notification>>,
}

impl RecordingNotifier {
    pub fn sent(&self) -> Vec<Notification> {
        self.sent.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[async_trait]
impl Notifier for RecordingNotifier {
    async fn notify(&self, notification: &Notification) -> Result<Value, ActionError> {
        self.sent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(notification.clone());
        Ok(json!({"channel": notification.channel}))
    }
}

/// A stand-in for an intelligence service (external unless told otherwise): answers from a table
/// and records every request it receives, so tests and scenarios can prove an indicator never left.
pub struct CannedProvider {
    name: String,
    locality: Locality,
    kinds: Vec<IndicatorKind>,
    answers: BTreeMap<String, Lookup>,
    failures: BTreeMap<String, String>,
    rate_limits: Vec<RateWindow>,
    requests: Mutex<Vec<Indicator>>,
}

impl CannedProvider {
    pub fn new(name: &str, kinds: &[IndicatorKind]) -> Self {
        CannedProvider {
            name: name.into(),
            locality: Locality::External,
            kinds: kinds.to_vec(),
            answers: BTreeMap::new(),
            failures: BTreeMap::new(),
            rate_limits: Vec::new(),
            requests: Mutex::new(Vec::new()),
        }
    }

    pub fn with_locality(mut self, locality: Locality) -> Self {
        self.locality = locality;
        self
    }

    pub fn answering(mut self, value: &str, lookup: Lookup) -> Self {
        self.answers.insert(value.into(), lookup);
        self
    }

    /// A quota, as a real provider's free tier has.
    pub fn with_rate_limit(mut self, window: RateWindow) -> Self {
        self.rate_limits.push(window);
        self
    }

    /// Fails lookups of `value` with `message`, as a provider error would.
    pub fn failing(mut self, value: &str, message: &str) -> Self {
        self.failures.insert(value.into(), message.into());
        self
    }

    pub fn requests(&self) -> Vec<Indicator> {
        self.requests.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[async_trait]
impl IntelProvider for CannedProvider {
    fn name(&self) -> &str {
        &self.name
    }
    fn locality(&self) -> Locality {
        self.locality
    }
    fn indicator_kinds(&self) -> &[IndicatorKind] {
        &self.kinds
    }
    fn rate_limits(&self) -> &[RateWindow] {
        &self.rate_limits
    }
    async fn lookup(&self, indicator: &Indicator) -> Result<Lookup, ProviderError> {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(indicator.clone());
        if let Some(message) = self.failures.get(&indicator.value) {
            return Err(ProviderError::new(&self.name, message.clone()));
        }
        Ok(self.answers.get(&indicator.value).cloned().unwrap_or(Lookup {
            found: false,
            data: Value::Null,
            related: Vec::new(),
        }))
    }
}
