//! Replay: a stored alert's recorded inputs, ready to run through other (usually newer)
//! policies in memory. The document keeps everything the policies saw: the raw alert, the
//! inventory's answer about its resource, and every provider answer with its depth. Replay never
//! asks a provider or the inventory again: the world has moved on since, and the question is
//! what the *policies* would decide differently on the same facts.
//!
//! Lookups the new policies ask for that were never made are answered "not found" and listed, so
//! the reader knows which differences rest on facts the recording does not have.

use crate::memory::{CannedProvider, StaticInventory};
use soar_core::alert::Alert;
use soar_core::alert::IndicatorKind;
use soar_core::document::{Document, EnrichmentStatus};
use soar_core::egress::{Locality, OrgConfig};
use soar_core::input::guardduty::alert_from_finding;
use soar_core::input::{Incoming, InputError, parse_value};
use soar_core::pipeline::INVENTORY_PROVIDER;
use soar_core::ports::{IntelProvider, InventoryRecord, Lookup};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// What the recording holds, as parts of an in-memory pipeline.
pub struct Recording {
    pub incoming: Incoming,
    pub inventory: StaticInventory,
    pub providers: Vec<Arc<dyn IntelProvider>>,
}

impl Recording {
    pub fn from_document(doc: &Document, org: &OrgConfig) -> Result<Self, InputError> {
        let alert = &doc.alert;
        // A finding soar normalised itself is read again from its raw form by today's parser;
        // another tool's alert goes to the ingest policy again.
        let incoming = match alert.source.as_str() {
            "guardduty" | "securityhub" => Incoming::Normalised(Box::new(normalise_again(&alert.raw)?)),
            _ => Incoming::Generic {
                source: alert.source.clone(),
                raw: alert.raw.clone(),
            },
        };

        let mut inventory = StaticInventory::default();
        if let Some(found) = doc
            .enrichments
            .iter()
            .find(|e| e.provider == INVENTORY_PROVIDER && e.status == EnrichmentStatus::Found)
        {
            let mut data = found.data.clone();
            // Derived by the enricher, not part of the inventory's answer.
            if let Some(obj) = data.as_object_mut() {
                obj.remove("protected");
            }
            if let Ok(record) = serde_json::from_value::<InventoryRecord>(data) {
                inventory = inventory.with(&alert.resource.id, record);
            }
        }

        let mut by_provider: BTreeMap<&str, Vec<&soar_core::document::Enrichment>> = BTreeMap::new();
        for e in doc.enrichments.iter().filter(|e| e.provider != INVENTORY_PROVIDER) {
            by_provider.entry(&e.provider).or_default().push(e);
        }
        let providers = by_provider
            .into_iter()
            .map(|(name, answers)| Arc::new(recorded_provider(doc, org, name, &answers)) as Arc<dyn IntelProvider>)
            .collect();
        Ok(Recording {
            incoming,
            inventory,
            providers,
        })
    }
}

/// One provider as the recording knows it: the kinds it was asked about, internal if it was ever
/// asked about an internal indicator (an external one never is), and its answers. Indicators a
/// provider linked are found in the alert (`seen_in: enrichment:<provider>`, one level deeper);
/// they are handed back with the first answer that provider found at the level above.
fn recorded_provider(
    doc: &Document,
    org: &OrgConfig,
    name: &str,
    answers: &[&soar_core::document::Enrichment],
) -> CannedProvider {
    let indicators: Vec<_> = answers.iter().filter_map(|e| e.indicator.as_ref()).collect();
    let kinds: Vec<IndicatorKind> = indicators
        .iter()
        .map(|i| i.kind)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let locality = if indicators.iter().any(|i| org.internal_reason(i).is_some()) {
        Locality::Internal
    } else {
        Locality::External
    };
    let seen_in = format!("enrichment:{name}");
    let mut provider = CannedProvider::new(name, &kinds).with_locality(locality);
    let mut linked_depths = BTreeSet::new();
    for e in answers {
        let Some(indicator) = &e.indicator else { continue };
        provider = match e.status {
            EnrichmentStatus::Error => {
                let message = e.data.get("error").and_then(|m| m.as_str()).unwrap_or("recorded error");
                provider.failing(&indicator.value, message)
            }
            status => {
                let found = status == EnrichmentStatus::Found;
                let related = if found && linked_depths.insert(e.depth) {
                    doc.alert
                        .indicators
                        .iter()
                        .filter(|i| i.seen_in == seen_in && i.depth == e.depth + 1)
                        .cloned()
                        .collect()
                } else {
                    Vec::new()
                };
                provider.answering(
                    &indicator.value,
                    Lookup {
                        found,
                        data: e.data.clone(),
                        related,
                    },
                )
            }
        };
    }
    provider
}

/// Lookups made in a replay that the recording has no answer for: `provider: value`.
pub fn unrecorded_lookups(recorded: &Document, replayed: &Document) -> Vec<String> {
    let known: BTreeSet<(&str, &str)> = recorded
        .enrichments
        .iter()
        .filter_map(|e| e.indicator.as_ref().map(|i| (e.provider.as_str(), i.value.as_str())))
        .collect();
    replayed
        .enrichments
        .iter()
        .filter_map(|e| e.indicator.as_ref().map(|i| (e.provider.as_str(), i.value.as_str())))
        .filter(|key| !known.contains(key))
        .map(|(p, v)| format!("{p}: {v}"))
        .collect()
}

/// The alert a stored raw finding reads as today: a GuardDuty finding (what a GuardDuty event's
/// `detail` holds), or a whole event or ASFF finding that the input parser recognises.
fn normalise_again(raw: &serde_json::Value) -> Result<Alert, InputError> {
    let whole_payload = raw.get("detail-type").is_some() || raw.get("SchemaVersion").is_some();
    if !whole_payload {
        return alert_from_finding(raw);
    }
    let mut parsed = parse_value(raw.clone());
    match (parsed.len(), parsed.pop().map(|p| p.result)) {
        (1, Some(Ok(Incoming::Normalised(alert)))) => Ok(*alert),
        (1, Some(Err(e))) => Err(e),
        (n, _) => Err(InputError::WrongShape(format!(
            "the stored raw finding reads as {n} inputs, not one finding"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use soar_core::decision::{Policies, PolicyError};
    use soar_core::document::Phase;
    use soar_core::input::parse_input;
    use soar_core::pipeline::Pipeline;
    use soar_core::ports::IntelProvider;

    /// Looks every indicator up at `intel` (recursing), calls an incident when anything is found.
    struct Curious;

    impl Policies for Curious {
        fn revision(&self, _: Phase) -> String {
            "curious".into()
        }
        fn decide(&self, phase: Phase, input: &Value) -> Result<Value, PolicyError> {
            let found = input["enrichments"]
                .as_array()
                .is_some_and(|es| es.iter().any(|e| e["status"] == "found" && e["provider"] == "intel"));
            Ok(match phase {
                Phase::Ingest => json!({"accept": true}),
                Phase::Enrich => json!({"lookups": input["alert"]["indicators"].as_array().unwrap().iter()
                    .map(|i| json!({"provider": "intel", "indicator": {"type": i["type"], "value": i["value"]}}))
                    .collect::<Vec<_>>()}),
                Phase::Evaluate if found => json!({"verdict": "incident", "severity": "high"}),
                Phase::Evaluate => json!({"verdict": "undetermined", "severity": "medium"}),
                Phase::Remediate => json!({"actions": []}),
            })
        }
    }

    #[tokio::test]
    async fn a_replay_with_the_same_policies_reproduces_the_enrichments_and_verdict() {
        let finding = include_str!("../../../tests/fixtures/scenarios/tor-client.json");
        let mut org = OrgConfig::default();
        org.enrich.max_depth = 2;
        let related = soar_core::alert::Indicator::new(IndicatorKind::Domain, "bad.example.net", "x", "related");
        let intel = CannedProvider::new("intel", &[IndicatorKind::Ip, IndicatorKind::Domain])
            .answering(
                "198.51.100.23",
                Lookup {
                    found: true,
                    data: json!({"listed": "tor"}),
                    related: vec![related],
                },
            )
            .failing("bad.example.net", "HTTP 503");
        let (mut parts, _) = crate::in_memory_parts(Arc::new(Curious), org.clone());
        parts.providers = vec![Arc::new(intel) as Arc<dyn IntelProvider>];
        parts.inventory = Arc::new(StaticInventory::default().with(
            "i-0a1b2c3d4e5f60718",
            InventoryRecord {
                owner: Some("payments".into()),
                ..Default::default()
            },
        ));
        let incoming = parse_input(finding.as_bytes()).remove(0).result.unwrap();
        let original = Pipeline::new(parts).run(incoming).await.document.unwrap();
        assert!(original.enrichments.iter().any(|e| e.status == EnrichmentStatus::Error));

        let recording = Recording::from_document(&original, &org).unwrap();
        let (mut parts, _) = crate::in_memory_parts(Arc::new(Curious), org);
        parts.inventory = Arc::new(recording.inventory);
        parts.providers = recording.providers;
        let replayed = Pipeline::new(parts).run(recording.incoming).await.document.unwrap();

        let strip = |d: &Document| {
            d.enrichments
                .iter()
                .map(|e| {
                    (
                        e.provider.clone(),
                        e.indicator.clone(),
                        e.status,
                        e.data.clone(),
                        e.depth,
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(&replayed), strip(&original));
        assert_eq!(replayed.verdict, original.verdict);
        assert_eq!(replayed.alert.indicators, original.alert.indicators);
        assert!(unrecorded_lookups(&original, &replayed).is_empty());
    }
}
