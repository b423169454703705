//! Enrich: the policy says which indicator goes to which provider; the Rust side looks things up,
//! guards egress, caches, enforces depth and budget, and asks the policy again about what each
//! round linked (the next depth's indicators) while depth and budget last.

use super::policy::{policy_input, run_policy};
use super::settings::Settings;
use crate::alert::{Indicator, PROTECTED_TAG, tags_mark_protected};
use crate::decision::{EnrichDecision, LookupRequest, Policies};
use crate::document::{Document, Enrichment, EnrichmentStatus, Phase, TraceEntry};
use crate::egress::{Locality, OrgConfig};
use crate::ports::{DecisionLog, IntelProvider, Inventory, Lookup, LookupCache, ProviderError, Slot};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The provider name under which inventory facts about the alert's resource are recorded.
pub const INVENTORY_PROVIDER: &str = "inventory";

pub struct Enricher {
    pub policies: Arc<dyn Policies>,
    pub decisions: Arc<dyn DecisionLog>,
    /// Provider answers shared by every instance, and the providers' quotas.
    pub cache: Arc<dyn LookupCache>,
    pub inventory: Arc<dyn Inventory>,
    pub providers: Vec<Arc<dyn IntelProvider>>,
    pub org: OrgConfig,
    pub settings: Settings,
}

/// What a phase step came to (only enrich defers).
#[derive(Debug, Clone, PartialEq)]
pub enum StepResult {
    Done,
    /// A provider's shared quota is used up: the document is unchanged (but for
    /// `deferred_since`) and should come back after `delay`, not go on without the lookup yet.
    Deferred {
        delay: Duration,
        reason: String,
    },
    /// An action could not be finished in this attempt (AWS throttled, failed on its side or did
    /// not answer; another attempt still holds its claim): the document is not kept, and the
    /// alert's message is delivered again. What was done is in the ledger and is not repeated.
    Retry {
        reason: String,
    },
}

/// SQS delays a message at most 15 minutes.
const MAX_DELAY: Duration = Duration::from_secs(900);

/// An enrichment across its rounds.
#[derive(Default)]
struct Progress {
    /// Lookups counted against the budget.
    used: u32,
    /// (provider, kind, canonical value) already asked.
    done: HashSet<(String, crate::alert::IndicatorKind, String)>,
    /// Each round's raw decision, for the trace.
    rounds: Vec<Value>,
    /// The longest wait a full quota asks for, and why; only when deferral is allowed.
    deferral: Option<(Duration, String)>,
    may_defer: bool,
    /// How long the alert has been deferred already.
    waited: Option<Duration>,
}

/// Adds the indicators a provider linked (canonical, each once, within the alert's cap) at the
/// next depth; `true` when any was new.
fn add_related(
    doc: &mut Document,
    related: Vec<Indicator>,
    provider: &str,
    depth: u32,
    entry: &mut TraceEntry,
) -> bool {
    let mut found_new = false;
    // Canonical before anything classifies or sends them in the next round.
    for mut indicator in crate::canonical::indicators(related) {
        // The cap ingest holds an alert to holds for what providers add, too.
        if doc.alert.indicators.len() >= super::ingest::MAX_INDICATORS {
            entry.notes.push(format!(
                "`{provider}` linked more indicators than the {} an alert may carry: the rest are left out",
                super::ingest::MAX_INDICATORS
            ));
            break;
        }
        if !doc.alert.indicators.iter().any(|i| i.key() == indicator.key()) {
            indicator.depth = depth + 1;
            indicator.seen_in = format!("enrichment:{provider}");
            doc.alert.indicators.push(indicator);
            found_new = true;
        }
    }
    found_new
}

/// A lookup's fate, for the round loop.
enum LookupResult {
    /// Counted against the budget; the indicators the provider linked.
    Counted(Vec<Indicator>),
    /// Refused or failed before counting (the reason is a trace note).
    Skipped,
    /// Over a shared quota; may be deferred.
    RateLimited { retry_after: Duration, reason: String },
}

impl Enricher {
    /// Enriches `doc`. With `may_defer` (the enrich function, which can put the message back on
    /// its queue with a delay), a full provider quota defers the alert until the quota frees up,
    /// for at most `settings.max_deferral` after the first deferral; after that, or without
    /// `may_defer` (one-process runs), the alert goes on without those lookups, and the trace says so.
    pub async fn enrich(&self, doc: &mut Document, may_defer: bool) -> StepResult {
        // What a deferral puts back. The raw payload is left out of the copy (it is most of the
        // document and enrichment never changes it).
        let raw = std::mem::take(&mut doc.alert.raw);
        let before = doc.clone();
        doc.alert.raw = raw;
        let waited = doc
            .deferred_since
            .as_deref()
            .and_then(crate::time::parse_timestamp_str)
            .map(|since| (chrono::Utc::now() - since).to_std().unwrap_or_default());
        let mut progress = Progress {
            may_defer: may_defer && waited.is_none_or(|w| w < self.settings.max_deferral),
            waited,
            ..Progress::default()
        };
        let started = Instant::now();
        let mut entry = TraceEntry {
            phase: Phase::Enrich,
            revision: self.policies.revision(Phase::Enrich),
            micros: 0,
            decision: None,
            error: None,
            notes: Vec::new(),
        };
        self.describe_resource(doc, &mut entry).await;
        let mut depth = 0u32;
        while self.round(doc, depth, &mut progress, &mut entry).await {
            depth += 1;
        }
        if let Some((delay, reason)) = progress.deferral {
            let since = before.deferred_since.clone().unwrap_or_else(crate::time::now);
            let raw = std::mem::take(&mut doc.alert.raw);
            *doc = before;
            doc.alert.raw = raw;
            doc.deferred_since = Some(since);
            let delay = delay.clamp(Duration::from_secs(1), MAX_DELAY);
            tracing::info!(reason = %reason, delay_s = delay.as_secs(), "enrichment deferred");
            return StepResult::Deferred { delay, reason };
        }
        entry.decision = Some(json!({"rounds": progress.rounds}));
        entry.micros = started.elapsed().as_micros() as u64;
        for note in &entry.notes {
            tracing::info!(note = %note, "enrich");
        }
        if let Err(e) = self.decisions.put_decision(&doc.alert.id, &entry).await {
            tracing::warn!(error = %e, "could not record the enrich decision");
        }
        doc.trace.push(entry);
        StepResult::Done
    }

    /// One round at `depth`: the policy asks, the lookups it asks for that were not made yet are
    /// made. `true` when another round should follow: this one linked new indicators (the next
    /// round's, at `depth + 1`) and depth and budget are left.
    async fn round(&self, doc: &mut Document, depth: u32, progress: &mut Progress, entry: &mut TraceEntry) -> bool {
        let limits = self.org.enrich;
        // The policy sees what the guard will enforce (`ind.internal`), so its decisions and
        // its audit list agree with the guard's. Each indicator is classified in the round
        // that brings it (earlier rounds' keep their mark).
        for indicator in doc.alert.indicators.iter_mut().filter(|i| i.depth == depth) {
            indicator.internal = self.org.internal_reason(indicator).is_some();
        }
        let used = progress.used;
        let context = json!({
            "phase": "enrich",
            "depth": depth,
            "max_depth": limits.max_depth,
            "budget": {"max_lookups": limits.max_lookups, "used": used, "remaining": limits.max_lookups.saturating_sub(used)},
            "mode": self.settings.mode.as_str(),
            "providers": self.providers.iter().map(|p| json!({
                "name": p.name(), "locality": p.locality(), "indicator_kinds": p.indicator_kinds(),
            })).collect::<Vec<_>>(),
        });
        let input = policy_input(doc, context);
        let (round, decision) = run_policy::<EnrichDecision>(self.policies.as_ref(), Phase::Enrich, &input);
        progress.rounds.push(round.decision.unwrap_or(Value::Null));
        let decision = match decision {
            Ok(d) => d,
            Err(e) => {
                entry.error = Some(e.to_string());
                return false;
            }
        };
        let fresh: Vec<LookupRequest> = decision
            .lookups
            .into_iter()
            // Two writings of one indicator are one lookup.
            .filter(|l| {
                let asked =
                    crate::canonical::indicator(Indicator::new(l.indicator.kind, l.indicator.value.clone(), "", ""));
                progress.done.insert((l.provider.clone(), asked.kind, asked.value))
            })
            .collect();
        if fresh.is_empty() {
            return false;
        }
        let mut found_new = false;
        for request in fresh {
            found_new |= self.make_lookup(doc, &request, depth, progress, entry).await;
        }
        // The next round looks at the indicators this one linked (depth + 1); without any, it
        // would ask the policy again only to hear that every lookup was made.
        if !found_new {
            return false;
        }
        if depth >= limits.max_depth || progress.used >= limits.max_lookups {
            entry.notes.push(format!(
                "recursion stopped at depth {depth} (max_depth {}, {} lookups used)",
                limits.max_depth, progress.used
            ));
            return false;
        }
        true
    }

    /// One requested lookup within the budget and quotas; `true` when it linked new indicators.
    async fn make_lookup(
        &self,
        doc: &mut Document,
        request: &LookupRequest,
        depth: u32,
        progress: &mut Progress,
        entry: &mut TraceEntry,
    ) -> bool {
        let max = self.org.enrich.max_lookups;
        if progress.used >= max {
            entry.notes.push(format!(
                "lookup budget of {max} exhausted: {} `{}` at {} not looked up",
                request.indicator.kind, request.indicator.value, request.provider
            ));
            return false;
        }
        match self.lookup(doc, request, depth, entry).await {
            LookupResult::Counted(related) => {
                progress.used += 1;
                add_related(doc, related, &request.provider, depth, entry)
            }
            LookupResult::Skipped => false,
            LookupResult::RateLimited { retry_after, reason } => {
                if progress.may_defer {
                    let longest = progress
                        .deferral
                        .as_ref()
                        .map_or(retry_after, |(d, _)| retry_after.max(*d));
                    progress.deferral = Some((longest, reason));
                } else {
                    let why = match (&doc.deferred_since, progress.waited) {
                        (Some(since), Some(w)) => format!(
                            "deferred since {since}, going on without it after {}s (max_deferral {}s)",
                            w.as_secs(),
                            self.settings.max_deferral.as_secs()
                        ),
                        _ => "not waited for in a one-process run".to_string(),
                    };
                    entry.notes.push(format!(
                        "{reason}: {} `{}` not looked up ({why})",
                        request.indicator.kind, request.indicator.value
                    ));
                }
                false
            }
        }
    }

    /// The organisation's own record of the alert's resource: its tags override the finding's
    /// (the inventory is current; the finding is a snapshot), so `soar:protected` set there counts.
    async fn describe_resource(&self, doc: &mut Document, entry: &mut TraceEntry) {
        if doc.alert.resource.id.is_empty() {
            return;
        }
        let (status, data) = match self.inventory.describe(&doc.alert.resource).await {
            Ok(Some(record)) => {
                // Any protection signal wins over any other: an inventory that says
                // `soar:protected=false` does not unprotect what the finding marks protected.
                let protected = doc.alert.resource.is_protected() || tags_mark_protected(&record.tags);
                doc.alert.resource.tags.extend(record.tags.clone());
                if protected {
                    doc.alert.resource.protected = true;
                    doc.alert
                        .resource
                        .tags
                        .insert(PROTECTED_TAG.to_string(), "true".to_string());
                }
                let mut data = serde_json::to_value(&record).unwrap_or(Value::Null);
                data["protected"] = json!(protected);
                (EnrichmentStatus::Found, data)
            }
            Ok(None) => (EnrichmentStatus::NotFound, Value::Null),
            Err(e) => {
                entry.notes.push(format!("inventory lookup failed: {e}"));
                (EnrichmentStatus::Error, json!({"error": e.to_string()}))
            }
        };
        doc.enrichments.push(Enrichment {
            provider: INVENTORY_PROVIDER.into(),
            indicator: None,
            status,
            data,
            cached: false,
            depth: 0,
        });
    }

    /// One lookup after the guards: egress, provider kinds, cache, the shared quota.
    async fn lookup(
        &self,
        doc: &mut Document,
        request: &LookupRequest,
        depth: u32,
        entry: &mut TraceEntry,
    ) -> LookupResult {
        let Some((indicator, provider)) = self.resolve(doc, request, entry) else {
            return LookupResult::Skipped;
        };
        let (result, was_cached) = match self.ask(provider.as_ref(), &indicator, entry).await {
            Ok(answer) => answer,
            Err(limited) => return limited,
        };
        let (status, data, related) = match result {
            Ok(lookup) => {
                if !was_cached {
                    let ttl = provider.cache_ttl().unwrap_or(self.settings.cache_ttl);
                    if let Err(e) = self.cache.cache_lookup(provider.name(), &indicator, &lookup, ttl).await {
                        entry.notes.push(format!("could not cache a lookup: {e}"));
                    }
                }
                let status = if lookup.found {
                    EnrichmentStatus::Found
                } else {
                    EnrichmentStatus::NotFound
                };
                (status, lookup.data, lookup.related)
            }
            Err(e) => {
                entry.notes.push(e.to_string());
                (EnrichmentStatus::Error, json!({"error": e.message}), Vec::new())
            }
        };
        doc.enrichments.push(Enrichment {
            provider: provider.name().to_string(),
            indicator: Some(indicator),
            status,
            data,
            cached: was_cached,
            depth,
        });
        LookupResult::Counted(related)
    }

    /// The alert's indicator the request names (in any writing), in canonical form, and the
    /// provider it names, once the egress guard and the provider's kinds allow it; `None` (with a
    /// trace note) otherwise.
    fn resolve(
        &self,
        doc: &Document,
        request: &LookupRequest,
        entry: &mut TraceEntry,
    ) -> Option<(Indicator, Arc<dyn IntelProvider>)> {
        // The policy may name an indicator in any writing: it is the alert's indicator with the
        // same canonical form (or the same text as written).
        let asked = crate::canonical::indicator(Indicator::new(
            request.indicator.kind,
            request.indicator.value.clone(),
            "",
            "",
        ));
        let Some(indicator) = doc.alert.indicators.iter().find(|i| {
            i.key() == asked.key()
                || (i.kind == request.indicator.kind && i.written.as_deref() == Some(&request.indicator.value))
        }) else {
            entry.notes.push(format!(
                "policy asked about {} `{}`, which is not an indicator of this alert: ignored",
                request.indicator.kind, request.indicator.value
            ));
            return None;
        };
        let Some(provider) = self.providers.iter().find(|p| p.name() == request.provider) else {
            entry.notes.push(format!(
                "no provider named `{}` is configured: {} `{}` not looked up",
                request.provider, indicator.kind, indicator.value
            ));
            return None;
        };
        // What a provider receives is the canonical value (a document from an older version of
        // soar may still carry a value as written).
        let indicator = crate::canonical::indicator(indicator.clone());
        // The egress guard: after the policy, whatever it returned.
        if provider.locality() == Locality::External
            && let Some(why) = self.org.internal_reason(&indicator)
        {
            entry.notes.push(format!(
                "egress refused: {} `{}` is internal ({why}); `{}` is an external provider",
                indicator.kind,
                indicator.value,
                provider.name()
            ));
            tracing::warn!(indicator = %indicator.value, provider = provider.name(), "egress refused");
            return None;
        }
        if !provider.indicator_kinds().contains(&indicator.kind) {
            entry.notes.push(format!(
                "provider `{}` does not handle {} indicators",
                provider.name(),
                indicator.kind
            ));
            return None;
        }
        Some((indicator, provider.clone()))
    }

    /// The answer from the shared cache, else from the provider within its shared quotas; with
    /// whether it came from the cache. `Err`: a quota is full (or cannot be counted).
    async fn ask(
        &self,
        provider: &dyn IntelProvider,
        indicator: &Indicator,
        entry: &mut TraceEntry,
    ) -> Result<(Result<Lookup, ProviderError>, bool), LookupResult> {
        match self.cache.cached_lookup(provider.name(), indicator).await {
            Ok(Some(hit)) => return Ok((Ok(hit), true)),
            Ok(None) => {}
            Err(e) => entry.notes.push(format!("cache unavailable: {e}")),
        }
        for window in provider.rate_limits() {
            match self.cache.take_lookup_slot(provider.name(), *window).await {
                Ok(Slot::Granted) => {}
                Ok(Slot::Full { retry_after }) => {
                    return Err(LookupResult::RateLimited {
                        retry_after,
                        reason: format!(
                            "`{}` rate limit reached ({} per {}s, shared by all instances)",
                            provider.name(),
                            window.requests,
                            window.seconds
                        ),
                    });
                }
                // Without the counter the quota cannot be kept: do not spend it blind.
                Err(e) => {
                    return Err(LookupResult::RateLimited {
                        retry_after: Duration::from_secs(30),
                        reason: format!("`{}` rate limiter unavailable ({e})", provider.name()),
                    });
                }
            }
        }
        match provider.lookup(indicator).await {
            Err(ProviderError {
                retry_after: Some(retry_after),
                message,
                ..
            }) => Err(LookupResult::RateLimited {
                retry_after,
                reason: format!("`{}` answered 429 ({message})", provider.name()),
            }),
            result => Ok((result, false)),
        }
    }
}
