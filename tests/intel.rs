//! The threat-intelligence providers in the pipeline, over real HTTP to local fakes of their
//! APIs: the shared cache, the egress guard, and quotas kept across concurrent function instances
//! (the latter on a moto server, as the functions run in AWS).

// Test code: a failed unwrap is the test failing, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use async_trait::async_trait;
use serde_json::{Value, json};
use soar_core::decision::{Policies, PolicyError};
use soar_core::document::{Document, Phase};
use soar_core::egress::OrgConfig;
use soar_core::parse_input;
use soar_core::pipeline::Pipeline;
use soar_core::ports::{IntelProvider, Secret, SecretError, SecretSource};
use soar_intel::{IntelConfig, build, generic_specs};
use soar_lambda::functions::RecordOutcome;
use soar_policy::{DEFAULT_TIME_LIMIT, PolicySet};
use soar_tests::fake_http::{FakeHttp, Recorded, Reply};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

const KINDS: [&str; 4] = ["virustotal", "abuseipdb", "greynoise", "otx"];

struct Keys;

#[async_trait]
impl SecretSource for Keys {
    async fn secret(&self, _: &str) -> Result<Secret, SecretError> {
        Ok(Secret::from("k"))
    }
}

/// Answers every provider's request with "not known" (each API's 404).
async fn fake_api() -> FakeHttp {
    FakeHttp::start(|_| Reply::json(404, json!({"message": "not found"}))).await
}

/// The four public providers (and any `extra` generic ones), each at its own fake server.
async fn providers(quota: Value, extra: Value) -> (Vec<Arc<dyn IntelProvider>>, BTreeMap<&'static str, FakeHttp>) {
    let mut servers = BTreeMap::new();
    let mut configs = Vec::new();
    for kind in KINDS {
        let server = fake_api().await;
        configs.push(json!({"type": kind, "secret": "soar/k", "base_url": server.url(), "rate_limits": quota}));
        servers.insert(kind, server);
    }
    let config = IntelConfig::parse(&json!({"providers": configs}).to_string()).unwrap();
    let generic = generic_specs(&extra).unwrap();
    (build(&config, &generic, Arc::new(Keys)).unwrap(), servers)
}

/// The Tor-client finding with its own id and remote address.
fn tor_finding(id: &str, ip: &str) -> Vec<u8> {
    std::fs::read_to_string(soar_tests::fixture("scenarios/tor-client.json"))
        .unwrap()
        .replace("c2b7f1d0a9e84c6fb1d3e5a7c9f0b2d4", id)
        .replace("198.51.100.23", ip)
        .into_bytes()
}

#[tokio::test]
async fn a_hundred_alerts_sharing_ten_indicators_make_at_most_ten_lookups_per_provider() {
    let plenty = json!([{"requests": 1000, "seconds": 60}]);
    let (providers, servers) = providers(plenty, json!({})).await;
    let policies = Arc::new(PolicySet::embedded(DEFAULT_TIME_LIMIT));
    let (mut parts, _) = soar_offline::in_memory_parts(policies.clone(), policies.org_config().clone());
    parts.providers = providers;
    let pipeline = Pipeline::new(parts);

    let mut cached = 0;
    for n in 0..100 {
        let ip = format!("198.51.100.{}", 1 + n % 10);
        let incoming = parse_input(&tor_finding(&format!("storm-{n}"), &ip))
            .remove(0)
            .result
            .unwrap();
        let doc = pipeline.run(incoming).await.document.unwrap();
        cached += doc.enrichments.iter().filter(|e| e.cached).count();
    }
    for (kind, server) in &servers {
        let asked: BTreeSet<String> = server.requests().iter().map(|r| r.target.clone()).collect();
        assert_eq!(server.requests().len(), 10, "{kind}: {asked:?}");
        assert_eq!(asked.len(), 10, "{kind}: one lookup per indicator");
    }
    assert_eq!(cached, 4 * 90, "every other lookup is a recorded cache hit");
}

/// Asks every provider about every indicator: proves the Rust egress guard, not the policy.
struct AskEverything(Arc<PolicySet>);

impl Policies for AskEverything {
    fn revision(&self, phase: Phase) -> String {
        self.0.revision(phase)
    }

    fn decide(&self, phase: Phase, input: &Value) -> Result<Value, PolicyError> {
        if phase != Phase::Enrich {
            return self.0.decide(phase, input);
        }
        let lookups: Vec<Value> =
            input["context"]["providers"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|p| {
                    input["alert"]["indicators"].as_array().unwrap().iter().map(
                        move |i| json!({"provider": p["name"], "indicator": {"type": i["type"], "value": i["value"]}}),
                    )
                })
                .collect();
        Ok(json!({"lookups": lookups}))
    }
}

#[tokio::test]
async fn internal_indicators_never_reach_an_external_provider() {
    const INTERNAL: [&str; 8] = [
        "10.1.2.3",
        "192.168.1.10",
        "172.16.5.4",
        "100.64.1.1",
        "db.corp.example.com",
        "build.example.internal",
        "printer.local",
        "5d41402abc4b2a76b9719d911017c592",
    ];
    let observables: Vec<Value> = INTERNAL
        .iter()
        .map(|v| {
            let kind = if v.chars().all(|c| c.is_ascii_digit() || c == '.') {
                "ip"
            } else if v.len() == 32 && !v.contains('.') {
                "hash"
            } else {
                "domain"
            };
            json!({"type": kind, "value": v, "role": "remote"})
        })
        .chain([
            json!({"type": "ip", "value": "203.0.113.50", "role": "remote"}),
            json!({"type": "domain", "value": "evil.example.net", "role": "remote"}),
        ])
        .collect();
    let alert = json!({"source": "edr", "id": "egress-1", "type": "Execution:Runtime/ReverseShell", "severity": 8,
                       "account": "111122223333", "region": "eu-west-1", "observables": observables});
    let embedded = Arc::new(PolicySet::embedded(DEFAULT_TIME_LIMIT));
    let everything: Arc<dyn Policies> = Arc::new(AskEverything(embedded.clone()));
    for (label, policies) in [
        ("default policies", embedded.clone() as Arc<dyn Policies>),
        ("ask-everything", everything),
    ] {
        // A generic provider the organisation declared (external by default), beside the public four.
        let partner = fake_api().await;
        let declared = json!({"intel": {"http": [{
            "name": "partner", "indicator_kinds": ["ip", "domain", "hash"],
            "url": format!("{}/lookup/{{value}}", partner.url()),
        }]}});
        let (providers, servers) = providers(json!([{"requests": 1000, "seconds": 60}]), declared).await;
        let mut org: OrgConfig = embedded.org_config().clone();
        org.internal_hashes.push("5d41402abc4b2a76b9719d911017c592".into());
        let (mut parts, _) = soar_offline::in_memory_parts(policies, org);
        parts.providers = providers;
        let incoming = parse_input(alert.to_string().as_bytes()).remove(0).result.unwrap();
        let doc = Pipeline::new(parts).run(incoming).await.document.unwrap();

        let mut all: Vec<(String, Recorded)> = servers
            .iter()
            .flat_map(|(k, s)| s.requests().into_iter().map(move |r| (k.to_string(), r)))
            .collect();
        all.extend(partner.requests().into_iter().map(|r| ("partner".to_string(), r)));
        for (provider, request) in &all {
            for internal in INTERNAL {
                assert!(
                    !request.target.contains(internal) && !request.body.contains(internal),
                    "{label}: {internal} reached {provider}: {}",
                    request.target
                );
            }
        }
        // Not vacuous: the external address did go out, to every provider that takes IPs.
        let reached: BTreeSet<&str> = all
            .iter()
            .filter(|(_, r)| r.target.contains("203.0.113.50"))
            .map(|(p, _)| p.as_str())
            .collect();
        assert_eq!(reached.len(), 5, "{label}: {reached:?}");
        if label == "ask-everything" {
            let notes = &doc.trace.iter().find(|t| t.phase == Phase::Enrich).unwrap().notes;
            assert!(
                notes
                    .iter()
                    .any(|n| n.starts_with("egress refused: ip `10.1.2.3` is internal")),
                "{notes:?}"
            );
            assert!(
                notes
                    .iter()
                    .any(|n| n.contains("`5d41402abc4b2a76b9719d911017c592` is internal")),
                "{notes:?}"
            );
        }
    }
}

/// Two enrich function instances, as Lambda runs them, sharing one table: VirusTotal's quota
/// of 4 requests a minute holds across both, and what does not fit is deferred, not lost.
#[tokio::test]
async fn a_quota_of_four_a_minute_holds_across_two_concurrent_instances() {
    use soar_aws::sdk;
    use soar_lambda::{Config, wire};
    let moto = soar_tests::Moto::start();
    let aws = sdk::local(&moto.endpoint()).await.unwrap();
    let env = soar_local::setup::setup(&aws, "soar").await.unwrap();
    let config = Config::from_lookup(|k| env.vars.get(k).cloned()).unwrap();
    let policies = soar_offline::embedded_policies().unwrap();
    let vt = FakeHttp::start(|_| Reply::json(404, json!({"error": {"code": "NotFoundError"}}))).await;
    let instance = || {
        let intel = IntelConfig::parse(
            &json!({"providers": [{"type": "virustotal", "secret": "soar/vt", "base_url": vt.url(),
                                   "rate_limits": [{"requests": 4, "seconds": 60}]}]})
            .to_string(),
        )
        .unwrap();
        let providers = build(&intel, &[], Arc::new(Keys)).unwrap();
        wire::enrich(&config, &aws, policies.clone(), providers).unwrap()
    };
    let (a, b) = (instance(), instance());

    // Twelve alerts, each with its own remote address: twelve lookups wanted.
    let (parts, _) = soar_offline::in_memory_parts(policies.clone(), policies.org_config().clone());
    let ingest = Pipeline::new(parts).ingestor;
    let mut bodies = Vec::new();
    for n in 0..12 {
        let incoming = parse_input(&tor_finding(&format!("quota-{n}"), &format!("198.51.100.{}", 100 + n)))
            .remove(0)
            .result
            .unwrap();
        let doc: Document = ingest.ingest(incoming).await.document.unwrap();
        bodies.push(serde_json::to_string(&doc).unwrap());
    }
    let (first, second) = tokio::join!(run(&a, bodies[..6].to_vec()), run(&b, bodies[6..].to_vec()));
    let outcomes: Vec<RecordOutcome> = first.into_iter().chain(second).collect();

    // The quota as the shared table counted it, window by window: one counter per minute for
    // the provider (not one per instance), no counter above the quota, and every request the
    // provider received took a slot. The windows are read from the table, not from arrival
    // times at the fake: a slot taken at :59.9 may arrive at :00.1.
    let requests = vt.requests();
    let per_window = quota_windows(&aws, &env.vars["SOAR_TABLE"], "virustotal").await;
    let minutes: BTreeMap<u64, usize> = per_window
        .iter()
        .map(|(key, n)| {
            let minute = key
                .strip_prefix("RATE#intel#virustotal#60s#")
                .and_then(|i| i.parse().ok());
            (
                minute.unwrap_or_else(|| panic!("one shared counter per minute, got {key}")),
                *n,
            )
        })
        .collect();
    assert_eq!(minutes.len(), per_window.len(), "{per_window:?}");
    assert!(minutes.values().all(|n| *n <= 4), "{per_window:?}");
    // Every request took a slot. A slot may go unused: an increment the SDK sent again after
    // its answer was lost (a slow local endpoint under load) counts twice, which errs on the
    // safe side of the provider's quota.
    let slots = minutes.values().sum::<usize>();
    assert!(
        requests.len() <= slots && slots <= requests.len() + 2,
        "every request the provider received took a slot ({} requests, {slots} slots: {per_window:?})",
        requests.len()
    );
    for r in &requests {
        let arrived = r.wall.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() / 60;
        assert!(
            minutes.contains_key(&arrived) || minutes.contains_key(&(arrived - 1)),
            "a request arrived in minute {arrived}, counted in {minutes:?}"
        );
    }
    assert!(requests.len() >= 4, "the quota was used: {per_window:?}");
    let deferred = outcomes.iter().filter(|o| o.to_json()["status"] == "deferred").count();
    let handed_on = outcomes.iter().filter(|o| o.is_done()).count() - deferred;
    assert_eq!(deferred + handed_on, 12, "{outcomes:?}");
    assert_eq!(handed_on, requests.len(), "each alert handed on made its one lookup");
    assert!(deferred >= 4, "{outcomes:?}");

    // The deferred alerts wait in the enrich queue with a delay, marked, their enrichment unchanged.
    let enrich_queue = soar_aws::SqsQueue::new(aws_sdk_sqs::Client::new(&aws), &env.vars["SOAR_ENRICH_QUEUE_URL"]);
    let delayed = enrich_queue.delayed().await.unwrap();
    assert_eq!(delayed as usize, deferred);
}

/// The lookup-quota counters of `provider` in the state table: window key to requests granted.
async fn quota_windows(aws: &soar_aws::sdk::SdkConfig, table: &str, provider: &str) -> BTreeMap<String, usize> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let scan = aws_sdk_dynamodb::Client::new(aws)
        .scan()
        .table_name(table)
        .filter_expression("begins_with(pk, :prefix)")
        .expression_attribute_values(":prefix", AttributeValue::S(format!("RATE#intel#{provider}#")))
        .send()
        .await
        .unwrap();
    scan.items()
        .iter()
        .map(|item| {
            let key = item["pk"].as_s().unwrap().clone();
            let granted = item["requests"].as_n().unwrap().parse().unwrap();
            (key, granted)
        })
        .collect()
}

/// One instance works through its share of the batch, record by record.
async fn run(f: &soar_lambda::functions::DocumentFunction, bodies: Vec<String>) -> Vec<RecordOutcome> {
    let mut outcomes = Vec::new();
    for body in bodies {
        outcomes.push(f.handle_body(&body).await);
    }
    outcomes
}

#[tokio::test]
async fn addresses_a_domain_resolved_to_are_looked_up_one_level_deeper_internal_ones_never() {
    let vt = FakeHttp::start(|r| {
        if r.target.ends_with("/domains/evil.example.net") {
            Reply::json(
                200,
                json!({"data": {"attributes": {
                    "last_analysis_stats": {"malicious": 4, "suspicious": 0, "harmless": 50, "undetected": 10},
                    "last_dns_records": [{"type": "A", "value": "203.0.113.77"}, {"type": "A", "value": "10.0.0.9"}]}}}),
            )
        } else {
            Reply::json(404, json!({"error": {"code": "NotFoundError"}}))
        }
    })
    .await;
    let intel =
        IntelConfig::parse(&json!({"providers": [{"type": "virustotal", "base_url": vt.url()}]}).to_string()).unwrap();
    let policies = Arc::new(PolicySet::embedded(DEFAULT_TIME_LIMIT));
    let (mut parts, _) = soar_offline::in_memory_parts(policies.clone(), policies.org_config().clone());
    parts.providers = build(&intel, &[], Arc::new(Keys)).unwrap();
    let alert = json!({"source": "proxy", "id": "dns-1", "type": "Impact:EC2/MaliciousDomainRequest.Reputation",
                       "severity": 5, "observables": [{"type": "domain", "value": "evil.example.net", "role": "remote"}]});
    let incoming = parse_input(alert.to_string().as_bytes()).remove(0).result.unwrap();
    let doc = Pipeline::new(parts).run(incoming).await.document.unwrap();

    let targets: Vec<String> = vt.requests().iter().map(|r| r.target.clone()).collect();
    assert_eq!(
        targets,
        ["/api/v3/domains/evil.example.net", "/api/v3/ip_addresses/203.0.113.77"],
        "the internal address stays home"
    );
    let deeper = doc
        .enrichments
        .iter()
        .find(|e| e.indicator.as_ref().is_some_and(|i| i.value == "203.0.113.77"))
        .unwrap();
    assert_eq!(deeper.depth, 1);
    let linked = doc.alert.indicators.iter().find(|i| i.value == "203.0.113.77").unwrap();
    assert_eq!(linked.seen_in, "enrichment:virustotal");
}
