//! Enrich: the policy says which indicator goes to which provider; the Rust side looks things up,
//! guards egress, caches, enforces depth and budget, and asks the policy again while it wants more.

use super::{Settings, policy_input, run_policy};
use crate::alert::{Indicator, tags_mark_protected};
use crate::decision::{EnrichDecision, LookupRequest, Policies};
use crate::document::{Document, Enrichment, EnrichmentStatus, Phase, TraceEntry};
use crate::egress::{Locality, OrgConfig};
use crate::ports::{IntelProvider, Inventory, Lookup, StateStore};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

/// The provider name under which inventory facts about the alert's resource are recorded.
pub const INVENTORY_PROVIDER: &str = "inventory";

pub struct Enricher {
    pub policies: Arc<dyn Policies>,
    pub state: Arc<dyn StateStore>,
    pub inventory: Arc<dyn Inventory>,
    pub providers: Vec<Arc<dyn IntelProvider>>,
    pub org: OrgConfig,
    pub settings: Settings,
}

impl Enricher {
    pub async fn enrich(&self, doc: &mut Document) {
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

        let limits = self.org.enrich;
        let mut used = 0u32;
        let mut done: HashSet<(String, crate::alert::IndicatorKind, String)> = HashSet::new();
        let mut rounds = Vec::new();
        let mut depth = 0u32;
        loop {
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
            rounds.push(round.decision.unwrap_or(Value::Null));
            let decision = match decision {
                Ok(d) => d,
                Err(e) => {
                    entry.error = Some(e.to_string());
                    break;
                }
            };
            let fresh: Vec<LookupRequest> = decision
                .lookups
                .into_iter()
                .filter(|l| done.insert((l.provider.clone(), l.indicator.kind, l.indicator.value.clone())))
                .collect();
            if fresh.is_empty() {
                break;
            }
            let mut found_new = false;
            for request in fresh {
                if used >= limits.max_lookups {
                    entry.notes.push(format!(
                        "lookup budget of {} exhausted: {} `{}` at {} not looked up",
                        limits.max_lookups, request.indicator.kind, request.indicator.value, request.provider
                    ));
                    continue;
                }
                if let Some(related) = self.lookup(doc, &request, depth, &mut entry).await {
                    used += 1;
                    for mut indicator in related {
                        if !doc.alert.indicators.iter().any(|i| i.key() == indicator.key()) {
                            indicator.depth = depth + 1;
                            indicator.seen_in = format!("enrichment:{}", request.provider);
                            doc.alert.indicators.push(indicator);
                            found_new = true;
                        }
                    }
                }
            }
            if depth >= limits.max_depth || used >= limits.max_lookups {
                if found_new {
                    entry.notes.push(format!(
                        "recursion stopped at depth {depth} (max_depth {}, {used} lookups used)",
                        limits.max_depth
                    ));
                }
                break;
            }
            depth += 1;
        }
        entry.decision = Some(json!({"rounds": rounds}));
        entry.micros = started.elapsed().as_micros() as u64;
        for note in &entry.notes {
            tracing::info!(note = %note, "enrich");
        }
        if let Err(e) = self.state.put_decision(&doc.alert.id, &entry).await {
            tracing::warn!(error = %e, "could not record the enrich decision");
        }
        doc.trace.push(entry);
    }

    /// The organisation's own record of the alert's resource: its tags override the finding's
    /// (the inventory is current; the finding is a snapshot), so `soar:protected` set there counts.
    async fn describe_resource(&self, doc: &mut Document, entry: &mut TraceEntry) {
        if doc.alert.resource.id.is_empty() {
            return;
        }
        let (status, data) = match self.inventory.describe(&doc.alert.resource).await {
            Ok(Some(record)) => {
                doc.alert.resource.tags.extend(record.tags.clone());
                let protected = tags_mark_protected(&record.tags);
                let mut data = serde_json::to_value(&record).unwrap_or(Value::Null);
                data["protected"] = json!(protected || doc.alert.resource.is_protected());
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

    /// One lookup after the guards. `Some(related indicators)` when a lookup counted against the budget.
    async fn lookup(
        &self,
        doc: &mut Document,
        request: &LookupRequest,
        depth: u32,
        entry: &mut TraceEntry,
    ) -> Option<Vec<Indicator>> {
        let Some(indicator) = doc
            .alert
            .indicators
            .iter()
            .find(|i| i.kind == request.indicator.kind && i.value == request.indicator.value)
            .cloned()
        else {
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
        let cached = match self.state.cached_lookup(provider.name(), &indicator).await {
            Ok(hit) => hit,
            Err(e) => {
                entry.notes.push(format!("cache unavailable: {e}"));
                None
            }
        };
        let (result, was_cached) = match cached {
            Some(hit) => (Ok(hit), true),
            None => (provider.lookup(&indicator).await, false),
        };
        let (status, data, related) = match result {
            Ok(Lookup { found, data, related }) => {
                if !was_cached {
                    let lookup = Lookup {
                        found,
                        data: data.clone(),
                        related: related.clone(),
                    };
                    if let Err(e) = self
                        .state
                        .cache_lookup(provider.name(), &indicator, &lookup, self.settings.cache_ttl)
                        .await
                    {
                        entry.notes.push(format!("could not cache a lookup: {e}"));
                    }
                }
                let status = if found {
                    EnrichmentStatus::Found
                } else {
                    EnrichmentStatus::NotFound
                };
                (status, data, related)
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
        Some(related)
    }
}
