//! Nothing internal leaves: every writing in `tests/fixtures/trust/egress-table.ndjson` (unusual
//! but valid ways of writing internal addresses, names, URLs, e-mail addresses and hashes, and
//! public controls) goes through the whole pipeline with every intelligence provider pointed at
//! a recording server on 127.0.0.1, once with the built-in policies and once with an enrich
//! policy that asks every provider about every indicator in every writing. An internal value
//! must reach no server; a public one must reach one.

// Test code: a failed unwrap is the test failing, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use async_trait::async_trait;
use serde_json::{Value, json};
use soar_core::parse_input;
use soar_core::pipeline::Pipeline;
use soar_core::ports::{IntelProvider, Secret, SecretError, SecretSource};
use soar_intel::{IntelConfig, build, generic_specs};
use soar_policy::{DEFAULT_TIME_LIMIT, PolicySet};
use soar_tests::fake_http::{FakeHttp, Reply};
use std::sync::Arc;

struct Keys;

#[async_trait]
impl SecretSource for Keys {
    async fn secret(&self, _: &str) -> Result<Secret, SecretError> {
        Ok(Secret::from("egress-test-key"))
    }
}

struct Row {
    kind: String,
    value: String,
    internal: bool,
    why: String,
}

fn table() -> Vec<Row> {
    let text = std::fs::read_to_string(soar_tests::fixture("trust/egress-table.ndjson")).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            Row {
                kind: v["kind"].as_str().unwrap().into(),
                value: v["value"].as_str().unwrap().into(),
                internal: v["expect"] == "internal",
                why: v["why"].as_str().unwrap_or_default().into(),
            }
        })
        .collect()
}

/// Every external provider soar has, each at its own recording server: the four public APIs
/// (quotas lifted) and a generic HTTP provider declared external for every indicator kind.
async fn external_providers() -> (Vec<Arc<dyn IntelProvider>>, Vec<FakeHttp>) {
    let mut servers = Vec::new();
    let mut configs = Vec::new();
    for kind in ["virustotal", "abuseipdb", "greynoise", "otx"] {
        let server = FakeHttp::start(|_| Reply::json(404, json!({"message": "not found"}))).await;
        configs.push(json!({"type": kind, "secret": "soar/k", "base_url": server.url(),
            "rate_limits": [{"requests": 100000, "seconds": 60}]}));
        servers.push(server);
    }
    let generic_server = FakeHttp::start(|_| Reply::json(404, json!({}))).await;
    let generic = generic_specs(&json!({"intel": {"http": [{
        "name": "anything", "locality": "external",
        "indicator_kinds": ["ip", "domain", "url", "email", "hash", "access_key", "user"],
        "method": "POST", "url": format!("{}/lookup/{{type}}/{{value}}", generic_server.url()),
        "headers": {"X-Indicator": "{value}"}, "body": "{\"value\": \"{value}\"}",
    }]}}))
    .unwrap();
    servers.push(generic_server);
    let config = IntelConfig::parse(&json!({"providers": configs}).to_string()).unwrap();
    (build(&config, &generic, Arc::new(Keys)).unwrap(), servers)
}

/// An enrich policy that asks every provider about every indicator of the round, by its
/// canonical value and by the text as written.
const ASK_EVERYTHING: &str = r#"package soar.enrich

decision := {"lookups": [l |
	some ind in input.alert.indicators
	object.get(ind, "depth", 0) == input.context.depth
	some p in input.context.providers
	some value in {ind.value, object.get(ind, "written", ind.value)}
	l := {"provider": p.name, "indicator": {"type": ind.type, "value": value}}
]}
"#;

fn policies(ask_everything: bool) -> (Arc<PolicySet>, Option<tempfile::TempDir>) {
    if !ask_everything {
        return (Arc::new(PolicySet::embedded(DEFAULT_TIME_LIMIT)), None);
    }
    let dir = tempfile::tempdir().unwrap();
    soar_tests::copy_policies(dir.path());
    std::fs::write(dir.path().join("enrich/enrich.rego"), ASK_EVERYTHING).unwrap();
    std::fs::remove_file(dir.path().join("enrich/enrich_test.rego")).unwrap();
    let set = PolicySet::from_dir(dir.path(), DEFAULT_TIME_LIMIT);
    assert!(set.problems().is_empty(), "{:?}", set.problems());
    (Arc::new(set), Some(dir))
}

fn requests(servers: &[FakeHttp]) -> Vec<String> {
    requests_since(servers, &vec![0; servers.len()])
}

fn counts(servers: &[FakeHttp]) -> Vec<usize> {
    servers.iter().map(|s| s.requests().len()).collect()
}

/// What each server received after it had received `before[i]` requests.
fn requests_since(servers: &[FakeHttp], before: &[usize]) -> Vec<String> {
    servers
        .iter()
        .zip(before)
        .flat_map(|(s, n)| s.requests().into_iter().skip(*n))
        .map(|r| format!("{} {} {:?} {}", r.method, r.target, r.headers, r.body))
        .collect()
}

async fn run_table(ask_everything: bool) {
    let rows = table();
    let internal = rows.iter().filter(|r| r.internal).count();
    assert!(
        internal >= 150 && rows.len() - internal >= 20,
        "the table keeps its size"
    );
    let (policies, _dir) = policies(ask_everything);
    let (providers, servers) = external_providers().await;
    let (mut parts, _) = soar_offline::in_memory_parts(policies.clone(), policies.org_config().clone());
    parts.providers = providers;
    let pipeline = Pipeline::new(parts);

    let mut leaks = Vec::new();
    let mut silent = Vec::new();
    for (n, row) in rows.iter().enumerate() {
        let alert = json!({"source": "edr", "id": format!("egress-{n}"), "type": "Recon:Test", "severity": 5,
            "indicators": [{"type": row.kind, "value": row.value}]});
        let before = counts(&servers);
        let incoming = parse_input(alert.to_string().as_bytes()).remove(0).result.unwrap();
        let out = pipeline.run(incoming).await;
        let sent = requests_since(&servers, &before);
        // Answers from a provider, fresh or from the cache (two writings of one public address
        // are one lookup: the second is a cache hit).
        let answered = out
            .document
            .iter()
            .any(|d| d.enrichments.iter().any(|e| e.provider != "inventory"));
        if row.internal && (!sent.is_empty() || answered) {
            leaks.push(format!(
                "{} {:?} ({}) reached a provider: {sent:?}",
                row.kind, row.value, row.why
            ));
        }
        if !row.internal && !answered {
            let notes: Vec<String> = out
                .document
                .iter()
                .flat_map(|d| d.trace.iter().flat_map(|t| t.notes.clone()))
                .collect();
            silent.push(format!(
                "{} {:?} ({}) was not sent: {notes:?}",
                row.kind, row.value, row.why
            ));
        }
    }
    assert!(
        leaks.is_empty(),
        "{} of {internal} internal writings left:\n{}",
        leaks.len(),
        leaks.join("\n")
    );
    assert!(
        silent.is_empty(),
        "public controls that should have been looked up:\n{}",
        silent.join("\n")
    );
}

#[tokio::test]
async fn no_internal_writing_reaches_a_provider_under_the_built_in_policies() {
    run_table(false).await;
}

#[tokio::test]
async fn no_internal_writing_reaches_a_provider_when_the_policy_asks_for_everything() {
    run_table(true).await;
}

/// `../shared/cases/trust/guardduty-dns-domain-with-port.json`.
#[tokio::test]
async fn a_guardduty_dns_domain_with_a_port_stays_home() {
    for ask_everything in [false, true] {
        let (policies, _dir) = policies(ask_everything);
        let (providers, servers) = external_providers().await;
        let (mut parts, _) = soar_offline::in_memory_parts(policies.clone(), policies.org_config().clone());
        parts.providers = providers;
        let pipeline = Pipeline::new(parts);
        let bytes = std::fs::read(soar_tests::fixture("trust/cases/guardduty-dns-domain-with-port.json")).unwrap();
        let out = pipeline.run(parse_input(&bytes).remove(0).result.unwrap()).await;
        let doc = out.document.unwrap();
        let domain = doc
            .alert
            .indicators
            .iter()
            .find(|i| i.written.as_deref() == Some("vpn.corp.example.com:53"))
            .expect("the domain is an indicator");
        assert_eq!(domain.value, "vpn.corp.example.com");
        assert!(requests(&servers).is_empty(), "{:?}", requests(&servers));
    }
}
