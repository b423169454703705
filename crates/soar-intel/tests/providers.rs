//! Each provider against a local fake of its API (127.0.0.1): the documented request, the
//! answer mapped to the common shape, not-found, 429 with Retry-After, a slow answer, and
//! malformed answers. No test needs the internet.

// Test code: a failed unwrap is the test failing, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use async_trait::async_trait;
use serde_json::{Value, json};
use soar_core::alert::{Indicator, IndicatorKind};
use soar_core::ports::{IntelProvider, Lookup, ProviderError, Secret, SecretError, SecretSource};
use soar_intel::{IntelConfig, build, generic_specs};
use soar_tests::fake_http::{FakeHttp, Recorded, Reply};
use std::sync::Arc;
use std::time::Duration;

const KEY: &str = "test-key-6f1c2a";

struct TestSecrets;

#[async_trait]
impl SecretSource for TestSecrets {
    async fn secret(&self, name: &str) -> Result<Secret, SecretError> {
        match name {
            "soar/key" => Ok(Secret::from(KEY)),
            other => Err(SecretError {
                name: other.into(),
                message: "no such secret".into(),
            }),
        }
    }
}

fn provider(kind: &str, server: &FakeHttp, timeout_ms: u64) -> Arc<dyn IntelProvider> {
    let config = IntelConfig::parse(
        &json!({"providers": [{"type": kind, "secret": "soar/key", "base_url": server.url(), "timeout_ms": timeout_ms}]})
            .to_string(),
    )
    .unwrap();
    build(&config, &[], Arc::new(TestSecrets)).unwrap().remove(0)
}

fn ip(value: &str) -> Indicator {
    Indicator::new(IndicatorKind::Ip, value, "test", "remote")
}

/// A server answering `body` on the first request and recording everything.
async fn answering(status: u16, body: Value) -> FakeHttp {
    FakeHttp::start(move |_| Reply::json(status, body.clone())).await
}

async fn lookup(p: &Arc<dyn IntelProvider>, indicator: &Indicator) -> Result<Lookup, ProviderError> {
    p.lookup(indicator).await
}

fn only(server: &FakeHttp) -> Recorded {
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    requests[0].clone()
}

// --- the documented requests and answers ---------------------------------------------------------

#[tokio::test]
async fn virustotal_ip_domain_url_and_hash() {
    let server = FakeHttp::start(|r: &Recorded| {
        let attributes = if r.target.contains("/domains/") {
            json!({"last_analysis_stats": {"malicious": 0, "suspicious": 0, "harmless": 60, "undetected": 10},
                   "last_dns_records": [{"type": "A", "value": "203.0.113.7"}, {"type": "MX", "value": "mx.example.net"}]})
        } else {
            json!({"last_analysis_stats": {"malicious": 5, "suspicious": 1, "harmless": 50, "undetected": 14},
                   "reputation": -20, "tags": ["tor"]})
        };
        Reply::json(200, json!({"data": {"type": "x", "id": "x", "attributes": attributes}}))
    })
    .await;
    let vt = provider("virustotal", &server, 2000);

    let answer = lookup(&vt, &ip("198.51.100.23")).await.unwrap();
    assert!(answer.found);
    assert_eq!(answer.data["verdict"], "malicious");
    assert_eq!(answer.data["score"], 7);
    assert_eq!(answer.data["tags"], json!(["tor"]));
    assert_eq!(
        answer.data["link"],
        "https://www.virustotal.com/gui/ip-address/198.51.100.23"
    );
    assert_eq!(answer.data["details"]["malicious"], 5);

    let domain = lookup(&vt, &Indicator::new(IndicatorKind::Domain, "bad.example.net", "t", "r"))
        .await
        .unwrap();
    assert_eq!(domain.data["verdict"], "harmless");
    let related: Vec<_> = domain.related.iter().map(|i| (i.kind, i.value.as_str())).collect();
    assert_eq!(related, [(IndicatorKind::Ip, "203.0.113.7")]);

    lookup(
        &vt,
        &Indicator::new(IndicatorKind::Url, "http://example.com/", "t", "r"),
    )
    .await
    .unwrap();
    lookup(
        &vt,
        &Indicator::new(IndicatorKind::Hash, "44d88612fea8a8f36de82e1278abb02f", "t", "r"),
    )
    .await
    .unwrap();
    let requests = server.requests();
    let targets: Vec<&str> = requests.iter().map(|r| r.target.as_str()).collect();
    assert_eq!(
        targets,
        [
            "/api/v3/ip_addresses/198.51.100.23",
            "/api/v3/domains/bad.example.net",
            "/api/v3/urls/aHR0cDovL2V4YW1wbGUuY29tLw",
            "/api/v3/files/44d88612fea8a8f36de82e1278abb02f",
        ]
    );
    assert!(
        requests
            .iter()
            .all(|r| r.method == "GET" && r.header("x-apikey") == Some(KEY))
    );
}

#[tokio::test]
async fn abuseipdb_check() {
    let server = answering(
        200,
        json!({"data": {"ipAddress": "198.51.100.23", "isPublic": true, "abuseConfidenceScore": 100,
                        "countryCode": "NL", "usageType": "Data Center/Web Hosting/Transit", "isp": "Example",
                        "domain": "example.net", "hostnames": ["exit1.example.net"], "isTor": true,
                        "totalReports": 312, "numDistinctUsers": 80, "lastReportedAt": "2026-11-27T10:00:00+00:00",
                        "isWhitelisted": false}}),
    )
    .await;
    let answer = lookup(&provider("abuseipdb", &server, 2000), &ip("198.51.100.23"))
        .await
        .unwrap();
    assert!(answer.found);
    assert_eq!(answer.data["verdict"], "malicious");
    assert_eq!(answer.data["score"], 100);
    assert_eq!(answer.data["tags"], json!(["tor", "Data Center/Web Hosting/Transit"]));
    assert_eq!(answer.data["details"]["total_reports"], 312);
    assert_eq!(answer.related[0].value, "exit1.example.net");
    let request = only(&server);
    assert_eq!(request.target, "/api/v2/check?ipAddress=198.51.100.23&maxAgeInDays=90");
    assert_eq!(request.header("key"), Some(KEY));
    assert_eq!(request.header("accept"), Some("application/json"));
}

#[tokio::test]
async fn abuseipdb_without_reports_is_not_found() {
    let server = answering(
        200,
        json!({"data": {"ipAddress": "203.0.113.9", "abuseConfidenceScore": 0, "totalReports": 0, "isWhitelisted": null}}),
    )
    .await;
    let answer = lookup(&provider("abuseipdb", &server, 2000), &ip("203.0.113.9"))
        .await
        .unwrap();
    assert!(!answer.found);
    assert_eq!(answer.data["verdict"], "unknown");
}

#[tokio::test]
async fn greynoise_community() {
    let server = answering(
        200,
        json!({"ip": "198.51.100.23", "noise": true, "riot": false, "classification": "malicious",
               "name": "unknown", "link": "https://viz.greynoise.io/ip/198.51.100.23",
               "last_seen": "2026-11-27", "message": "Success"}),
    )
    .await;
    let answer = lookup(&provider("greynoise", &server, 2000), &ip("198.51.100.23"))
        .await
        .unwrap();
    assert!(answer.found);
    assert_eq!(answer.data["verdict"], "malicious");
    assert_eq!(answer.data["tags"], json!(["internet_scanner"]));
    assert_eq!(answer.data["link"], "https://viz.greynoise.io/ip/198.51.100.23");
    let request = only(&server);
    assert_eq!(request.target, "/v3/community/198.51.100.23");
    assert_eq!(request.header("key"), Some(KEY));
}

#[tokio::test]
async fn otx_general() {
    let server = answering(
        200,
        json!({"indicator": "198.51.100.23", "reputation": 0,
               "pulse_info": {"count": 4, "pulses": [{"name": "Tor exits", "tags": ["tor", "anonymizer"]},
                                                     {"name": "C2", "tags": ["c2", "tor"]}]}}),
    )
    .await;
    let otx = provider("otx", &server, 2000);
    let answer = lookup(&otx, &ip("198.51.100.23")).await.unwrap();
    assert!(answer.found);
    assert_eq!(answer.data["verdict"], "malicious");
    assert_eq!(answer.data["score"], 80);
    assert_eq!(answer.data["tags"], json!(["anonymizer", "c2", "tor"]));
    let request = only(&server);
    assert_eq!(request.target, "/api/v1/indicators/IPv4/198.51.100.23/general");
    assert_eq!(request.header("x-otx-api-key"), Some(KEY));
}

// --- the same failure cases for every provider ----------------------------------------------------

const ALL: [&str; 4] = ["virustotal", "abuseipdb", "greynoise", "otx"];

#[tokio::test]
async fn not_found_is_an_answer_not_an_error() {
    for kind in ALL {
        let server = answering(
            404,
            json!({"error": {"code": "NotFoundError"}, "message": "IP not observed"}),
        )
        .await;
        let answer = lookup(&provider(kind, &server, 2000), &ip("203.0.113.200"))
            .await
            .unwrap();
        assert!(!answer.found, "{kind}");
        assert_eq!(answer.data["verdict"], "unknown", "{kind}");
    }
}

#[tokio::test]
async fn a_short_retry_after_is_waited_out_and_a_long_one_handed_back() {
    for kind in ALL {
        // First answer 429 with Retry-After: 1, then the real answer.
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = calls.clone();
        let server = FakeHttp::start(move |_| {
            if counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                Reply::json(429, json!({"error": "quota"})).with_header("Retry-After", "1")
            } else {
                Reply::json(404, json!({}))
            }
        })
        .await;
        let p = provider(kind, &server, 2000);
        let answer = lookup(&p, &ip("203.0.113.201")).await.unwrap();
        assert!(!answer.found, "{kind}");
        let requests = server.requests();
        assert_eq!(requests.len(), 2, "{kind}");
        let waited = requests[1].at - requests[0].at;
        assert!(waited >= Duration::from_millis(950), "{kind}: retried after {waited:?}");

        let server = FakeHttp::start(|_| Reply::json(429, json!({})).with_header("Retry-After", "3600")).await;
        let err = lookup(&provider(kind, &server, 2000), &ip("203.0.113.202"))
            .await
            .unwrap_err();
        assert_eq!(err.retry_after, Some(Duration::from_secs(3600)), "{kind}: {err}");
        assert_eq!(server.requests().len(), 1, "{kind}: a long wait is not waited in place");
    }
}

#[tokio::test]
async fn a_slow_answer_times_out_with_a_clear_error() {
    for kind in ALL {
        let server = FakeHttp::start(|_| Reply::json(200, json!({})).after(Duration::from_millis(1500))).await;
        let err = lookup(&provider(kind, &server, 300), &ip("203.0.113.203"))
            .await
            .unwrap_err();
        assert!(err.message.contains("no answer within 0.3s"), "{kind}: {err}");
        assert_eq!(err.retry_after, None);
    }
}

#[tokio::test]
async fn malformed_answers_are_errors_naming_the_problem_never_the_key() {
    for kind in ALL {
        let broken = FakeHttp::start(|_| Reply::text(200, "{\"data\": ")).await;
        let err = lookup(&provider(kind, &broken, 2000), &ip("203.0.113.204"))
            .await
            .unwrap_err();
        assert!(err.message.contains("malformed JSON"), "{kind}: {err}");

        let wrong_shape = answering(200, json!({"unexpected": true})).await;
        let err = lookup(&provider(kind, &wrong_shape, 2000), &ip("203.0.113.205"))
            .await
            .unwrap_err();
        assert!(err.message.starts_with("unexpected answer: no "), "{kind}: {err}");

        let refused = answering(401, json!({"error": format!("bad key {KEY}")})).await;
        let err = lookup(&provider(kind, &refused, 2000), &ip("203.0.113.206"))
            .await
            .unwrap_err();
        assert!(
            err.message.contains("HTTP 401: the API key was refused"),
            "{kind}: {err}"
        );
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(!text.contains(KEY), "{kind}: the key leaked: {text}");
        }
    }
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff_then_reported() {
    let server = FakeHttp::start(|_| Reply::json(503, json!({}))).await;
    let err = lookup(&provider("virustotal", &server, 2000), &ip("203.0.113.207"))
        .await
        .unwrap_err();
    assert_eq!(server.requests().len(), 3);
    assert!(err.message.contains("HTTP 503 after 3 attempts"), "{err}");
}

#[tokio::test]
async fn a_missing_secret_is_named_without_a_value() {
    let server = answering(200, json!({})).await;
    let config = IntelConfig::parse(
        &json!({"providers": [{"type": "otx", "secret": "soar/absent", "base_url": server.url()}]}).to_string(),
    )
    .unwrap();
    let p = build(&config, &[], Arc::new(TestSecrets)).unwrap().remove(0);
    let err = p.lookup(&ip("203.0.113.208")).await.unwrap_err();
    assert!(err.message.contains("secret `soar/absent`"), "{err}");
    assert!(server.requests().is_empty());
}

// --- the generic HTTP provider ---------------------------------------------------------------------

fn generic(server: &FakeHttp, extra: Value) -> Arc<dyn IntelProvider> {
    let mut spec = json!({
        "name": "cmdb", "locality": "internal", "indicator_kinds": ["ip"],
        "url": format!("{}/api/lookup?{{type}}={{value}}", server.url()),
        "headers": {"Authorization": "Bearer {secret}"}, "secret": "soar/key",
        "found": "/found", "verdict": "/risk/verdict", "score": "/risk/score", "tags": "/labels",
        "link": "https://cmdb.example.com/hosts/{value}",
        "related": [{"pointer": "/hostnames", "type": "domain"}],
    });
    spec.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let specs = generic_specs(&json!({"intel": {"http": [spec]}})).unwrap();
    build(&IntelConfig::default(), &specs, Arc::new(TestSecrets))
        .unwrap()
        .remove(0)
}

#[tokio::test]
async fn generic_provider_follows_its_declaration() {
    let server = answering(
        200,
        json!({"found": true, "risk": {"verdict": "suspicious", "score": 40}, "labels": ["pci"],
               "hostnames": ["db-1.corp.example.com"]}),
    )
    .await;
    let cmdb = generic(&server, json!({}));
    assert_eq!(cmdb.locality(), soar_core::egress::Locality::Internal);
    let answer = cmdb.lookup(&ip("10.0.0.5")).await.unwrap();
    assert!(answer.found);
    assert_eq!(answer.data["verdict"], "suspicious");
    assert_eq!(answer.data["score"], 40);
    assert_eq!(answer.data["tags"], json!(["pci"]));
    assert_eq!(answer.data["link"], "https://cmdb.example.com/hosts/10.0.0.5");
    assert_eq!(answer.related[0].value, "db-1.corp.example.com");
    let request = only(&server);
    assert_eq!(request.target, "/api/lookup?ip=10.0.0.5");
    assert_eq!(request.header("authorization"), Some(format!("Bearer {KEY}").as_str()));
}

#[tokio::test]
async fn generic_provider_posts_a_body_and_reads_not_found() {
    let server = answering(404, json!({})).await;
    let cmdb = generic(
        &server,
        json!({"method": "POST", "url": format!("{}/search", server.url()), "body": "{\"query\": \"{value}\"}"}),
    );
    assert!(!cmdb.lookup(&ip("10.0.0.6")).await.unwrap().found);
    let request = only(&server);
    assert_eq!(request.method, "POST");
    assert_eq!(request.body, "{\"query\": \"10.0.0.6\"}");
}

#[test]
fn generic_declarations_are_checked() {
    let err = generic_specs(&json!({"intel": {"http": [{
        "name": "x", "indicator_kinds": ["ip"], "url": "ftp://x/{value}", "headers": {"k": "{secret}"}, "found": "found"
    }]}}))
    .unwrap_err()
    .to_string();
    assert!(err.contains("url must start with https://"), "{err}");
    assert!(err.contains("names no `secret`"), "{err}");
    assert!(err.contains("`found` is not a JSON pointer"), "{err}");
    let err = generic_specs(&json!({"intel": {"http": [{"name": "x"}]}}))
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing field"), "{err}");
    // External unless declared otherwise: the egress guard applies by default.
    let specs = generic_specs(
        &json!({"intel": {"http": [{"name": "x", "indicator_kinds": ["ip"], "url": "https://x/{value}"}]}}),
    )
    .unwrap();
    assert_eq!(specs[0].locality, soar_core::egress::Locality::External);
}

/// `../shared/cases/trust/secret-placeholder-in-indicator.json`: an indicator that contains
/// `{secret}` goes out as that text, in the URL, a header and the body, and the key appears
/// only where the template itself puts it.
#[tokio::test]
async fn an_indicator_cannot_make_a_request_carry_the_secret() {
    let server = answering(404, json!({})).await;
    let cmdb = generic(
        &server,
        json!({
            "indicator_kinds": ["domain"],
            "method": "POST",
            "url": format!("{}/q/{{value}}?t={{type}}", server.url()),
            "headers": {"Authorization": "Bearer {secret}", "X-Indicator": "{value}"},
            "body": "{\"q\": \"{value}\", \"kind\": \"{type}\"}",
        }),
    );
    for value in [
        "{secret}.files.example.net",
        "{value}{secret}",
        "{{secret}}",
        "{sec{secret}ret}",
        "a\r\nX-Key: {secret}",
    ] {
        let indicator = Indicator::new(IndicatorKind::Domain, value, "test", "remote");
        let _ = cmdb.lookup(&indicator).await;
    }
    let requests = server.requests();
    assert_eq!(requests.len(), 5, "every lookup was sent");
    for request in &requests {
        let everything = format!("{} {:?} {}", request.target, request.headers, request.body);
        let carried = everything.matches(KEY).count();
        assert_eq!(carried, 1, "the key appears once, in Authorization only: {everything}");
        assert_eq!(request.header("authorization"), Some(format!("Bearer {KEY}").as_str()));
    }
    let first = &requests[0];
    assert_eq!(first.target, "/q/%7Bsecret%7D.files.example.net?t=domain");
    assert_eq!(first.header("x-indicator"), Some("%7Bsecret%7D.files.example.net"));
    assert_eq!(
        first.body,
        "{\"q\": \"{secret}.files.example.net\", \"kind\": \"domain\"}"
    );
    // A line break in an indicator cannot start a header of its own.
    assert!(requests[4].header("x-key").is_none(), "{:?}", requests[4].headers);
}
