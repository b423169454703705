//! The shipped policies, end to end in one process, over the public fixtures and soar's scenarios.

// Test code: a failed unwrap is the test failing, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use soar_core::alert::IndicatorKind;
use soar_core::document::{ActionStatus, Phase, VerdictKind};
use soar_core::parse_input;
use soar_core::pipeline::{IngestStatus, Pipeline, RunOutcome};
use soar_core::ports::{IntelProvider, Inventory};
use soar_offline::files::{ThreatListProvider, load_inventory};
use soar_offline::memory::{CannedProvider, StaticInventory};
use soar_policy::{DEFAULT_TIME_LIMIT, PolicySet};
use soar_tests::fixture;
use std::sync::Arc;

fn pipeline(inventory: Arc<dyn Inventory>, providers: Vec<Arc<dyn IntelProvider>>) -> Pipeline {
    let policies = PolicySet::embedded(DEFAULT_TIME_LIMIT);
    assert!(policies.problems().is_empty(), "{:?}", policies.problems());
    let org = policies.org_config().clone();
    let (mut parts, _) = soar_offline::in_memory_parts(Arc::new(policies), org);
    parts.inventory = inventory;
    parts.providers = providers;
    Pipeline::new(parts)
}

async fn run_file(pipeline: &Pipeline, relative: &str) -> RunOutcome {
    let bytes = std::fs::read(fixture(relative)).unwrap();
    let incoming = parse_input(&bytes).remove(0).result.unwrap();
    pipeline.run(incoming).await
}

#[tokio::test]
async fn every_guardduty_fixture_gets_a_verdict_and_samples_get_no_action() {
    let mut files: Vec<_> = std::fs::read_dir(fixture("guardduty"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.retain(|p| p.extension().is_some_and(|e| e == "json"));
    files.sort();
    assert_eq!(files.len(), 11);
    for path in files {
        // A fresh pipeline per file: the panther fixtures share one finding id and revision.
        let p = pipeline(Arc::new(StaticInventory::default()), Vec::new());
        let incoming = parse_input(&std::fs::read(&path).unwrap()).remove(0).result.unwrap();
        let out = p.run(incoming).await;
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let doc = out
            .document
            .unwrap_or_else(|| panic!("{name}: no document ({:?})", out.error));
        assert!(doc.verdict.is_some(), "{name}");
        assert!(out.error.is_none(), "{name}: {:?}", out.error);
        if doc.alert.sample {
            assert_eq!(out.status, IngestStatus::Suppressed, "{name}");
            assert!(doc.actions.is_empty(), "{name}");
        }
        assert!(doc.trace.iter().all(|t| t.revision.len() == 12), "{name}");
    }
}

#[tokio::test]
async fn tor_client_on_an_unprotected_instance_is_isolated_in_dry_run() {
    let inventory = Arc::new(load_inventory(&fixture("scenarios/inventory.json")).unwrap());
    let intel: Arc<dyn IntelProvider> = Arc::new(ThreatListProvider::load(&fixture("intel")).unwrap());
    let out = run_file(&pipeline(inventory, vec![intel]), "scenarios/tor-client.json").await;
    let doc = out.document.unwrap();
    let verdict = doc.verdict.as_ref().unwrap();
    assert_eq!(verdict.verdict, VerdictKind::Incident);
    assert!(verdict.page);
    let isolate = doc
        .actions
        .iter()
        .find(|a| a.request.action == "ec2.isolate")
        .expect("isolation planned");
    assert_eq!(isolate.request.target.id, "i-0a1b2c3d4e5f60718");
    assert_eq!(isolate.status, ActionStatus::Planned);
    assert!(
        doc.enrichments
            .iter()
            .any(|e| e.provider == "threatlist" && e.data["comment"] == "Tor guard node")
    );
}

#[tokio::test]
async fn the_same_finding_on_a_protected_instance_is_not_isolated() {
    let inventory = Arc::new(load_inventory(&fixture("scenarios/inventory-protected.json")).unwrap());
    let out = run_file(&pipeline(inventory, Vec::new()), "scenarios/tor-client.json").await;
    let doc = out.document.unwrap();
    assert_eq!(doc.verdict.as_ref().unwrap().verdict, VerdictKind::Incident);
    assert!(
        doc.actions.iter().all(|a| !a.request.action.starts_with("ec2.")),
        "{:?}",
        doc.actions
    );
    assert!(doc.actions.iter().any(|a| a.request.action == "notify"));
}

#[tokio::test]
async fn a_private_remote_ip_never_reaches_an_external_provider() {
    let external = Arc::new(CannedProvider::new(
        "virustotal",
        &[IndicatorKind::Ip, IndicatorKind::Domain],
    ));
    let p = pipeline(Arc::new(StaticInventory::default()), vec![external.clone()]);
    let out = run_file(&p, "scenarios/private-remote-ip.json").await;
    assert!(external.requests().is_empty(), "{:?}", external.requests());
    let doc = out.document.unwrap();
    let enrich = doc.trace.iter().find(|t| t.phase == Phase::Enrich).unwrap();
    let withheld = &enrich.decision.as_ref().unwrap()["rounds"][0]["withheld"];
    assert!(
        withheld
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["indicator"] == "10.99.0.7" && w["reason"] == "internal indicator"),
        "{withheld}"
    );

    // The public remote IP of the Tor finding does go out: the fake is really wired in.
    run_file(&p, "scenarios/tor-client.json").await;
    assert_eq!(
        external.requests().iter().map(|i| i.value.as_str()).collect::<Vec<_>>(),
        vec!["198.51.100.23"]
    );
}

#[tokio::test]
async fn a_broken_policy_folder_ends_undetermined_with_an_escalation_only() {
    let dir = tempfile::tempdir().unwrap();
    for phase in ["ingest", "enrich", "evaluate", "remediate"] {
        std::fs::create_dir_all(dir.path().join(phase)).unwrap();
        std::fs::write(
            dir.path().join(phase).join("p.rego"),
            format!("package soar.{phase}\ndecision := {{ broken\n"),
        )
        .unwrap();
    }
    let policies = PolicySet::from_dir(dir.path(), DEFAULT_TIME_LIMIT);
    assert_eq!(policies.problems().len(), 4);
    let p = Pipeline::new(soar_offline::in_memory_parts(Arc::new(policies), Default::default()).0);
    let out = run_file(&p, "scenarios/tor-client.json").await;
    let doc = out.document.unwrap();
    assert_eq!(doc.verdict.unwrap().verdict, VerdictKind::Undetermined);
    // No action but Rust's own notification, which names the alert, the phase and the error.
    assert_eq!(doc.actions.len(), 1, "{:?}", doc.actions);
    let notify = &doc.actions[0].request;
    assert_eq!(notify.action, "notify");
    let message = notify.params["message"].as_str().unwrap();
    assert!(
        message.contains(&doc.alert.id) && message.contains("ingest phase failed"),
        "{message}"
    );
    assert!(message.contains("could not be loaded"), "{message}");
    assert!(out.error.unwrap().contains("could not be loaded"));
}

/// A round follows only when the last one linked new indicators: a lookup that links nothing ends
/// enrichment (no second policy call to hear that every lookup was made), one that links a domain
/// gets that domain its own round.
#[tokio::test]
async fn another_enrich_round_follows_only_what_the_last_one_linked() {
    use soar_core::alert::Indicator;
    use soar_core::ports::Lookup;
    let rounds = |doc: &soar_core::document::Document| {
        let enrich = doc.trace.iter().find(|t| t.phase == Phase::Enrich).unwrap();
        enrich.decision.as_ref().unwrap()["rounds"].as_array().unwrap().len()
    };
    let listed = |related: Vec<Indicator>| Lookup {
        found: true,
        data: serde_json::json!({"verdict": "malicious"}),
        related,
    };

    let quiet = Arc::new(
        CannedProvider::new("virustotal", &[IndicatorKind::Ip, IndicatorKind::Domain])
            .answering("198.51.100.23", listed(Vec::new())),
    );
    let p = pipeline(Arc::new(StaticInventory::default()), vec![quiet.clone()]);
    let doc = run_file(&p, "scenarios/tor-client.json").await.document.unwrap();
    assert_eq!(quiet.requests().len(), 1);
    assert_eq!(rounds(&doc), 1, "nothing linked, nothing more to ask");

    let linking = Arc::new(
        CannedProvider::new("virustotal", &[IndicatorKind::Ip, IndicatorKind::Domain]).answering(
            "198.51.100.23",
            listed(vec![Indicator::new(
                IndicatorKind::Domain,
                "c2.evil.example",
                "virustotal",
                "related",
            )]),
        ),
    );
    let p = pipeline(Arc::new(StaticInventory::default()), vec![linking.clone()]);
    let doc = run_file(&p, "scenarios/tor-client.json").await.document.unwrap();
    let asked: Vec<String> = linking.requests().iter().map(|i| i.value.clone()).collect();
    assert_eq!(asked, vec!["198.51.100.23", "c2.evil.example"]);
    assert_eq!(rounds(&doc), 2, "the linked domain's round, then nothing new");
}

/// The tor-client fixture as finding `id` at `severity` (0-10) and time `at` (RFC 3339).
fn tor_finding(id: &str, severity: f64, at: &str) -> soar_core::Incoming {
    let mut finding: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture("scenarios/tor-client.json")).unwrap()).unwrap();
    finding["detail"]["id"] = serde_json::json!(id);
    finding["detail"]["severity"] = serde_json::json!(severity);
    finding["detail"]["updatedAt"] = serde_json::json!(at);
    parse_input(finding.to_string().as_bytes()).remove(0).result.unwrap()
}

/// What each alert's notification came to: (status, ledger target).
fn notices(out: &RunOutcome) -> Vec<(ActionStatus, String)> {
    let doc = out.document.as_ref().unwrap();
    doc.actions
        .iter()
        .filter(|a| a.request.action == "notify")
        .map(|a| (a.status, a.ledger_target().to_string()))
        .collect()
}

/// Paging follows each alert's verdict: a first alert that does not page (severity 7.5, under
/// the page threshold of 8) gives the incident its notice; a later one that pages still pages
/// (once per severity), and the rest of the incident gets one follow-up per window.
#[tokio::test]
async fn an_incident_pages_when_an_alert_says_so_and_follows_up_once_per_window() {
    let p = pipeline(Arc::new(StaticInventory::default()), Vec::new());
    let quiet = p.run(tor_finding("quiet", 7.5, "2026-11-30T10:00:00Z")).await;
    let loud = p.run(tor_finding("loud", 8.5, "2026-11-30T10:05:00Z")).await;
    let again = p.run(tor_finding("again", 8.5, "2026-11-30T10:06:00Z")).await;
    let more = p.run(tor_finding("more", 8.5, "2026-11-30T10:07:00Z")).await;
    assert!(!quiet.document.as_ref().unwrap().verdict.as_ref().unwrap().page);
    assert_eq!(
        notices(&quiet),
        [(ActionStatus::Planned, "security-oncall".to_string())]
    );
    assert_eq!(
        notices(&loud),
        [(ActionStatus::Planned, "security-oncall#page#high".to_string())]
    );
    assert_eq!(
        notices(&again),
        [(ActionStatus::Planned, "security-oncall#follow-up#0".to_string())]
    );
    assert_eq!(notices(&more)[0].0, ActionStatus::Duplicate);
    let ids: Vec<_> = [&quiet, &loud, &again, &more]
        .iter()
        .map(|o| o.document.as_ref().unwrap().incident.as_ref().unwrap().id.clone())
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
}

/// An alert that comes back (its remediate phase run again) never notifies about itself twice,
/// and a copy far older than the incident going on gets its own incident without taking the
/// key from it.
#[tokio::test]
async fn an_alert_run_again_does_not_notify_twice_and_a_stale_copy_does_not_split_the_incident() {
    let p = pipeline(Arc::new(StaticInventory::default()), Vec::new());
    let first = p.run(tor_finding("first", 8.5, "2026-11-30T10:00:00Z")).await;
    let mut doc = first.document.clone().unwrap();
    doc.actions.clear();
    doc.trace.truncate(3);
    p.responder.remediate(&mut doc).await;
    let notify = doc.actions.iter().find(|a| a.request.action == "notify").unwrap();
    assert_eq!(notify.status, ActionStatus::Duplicate, "{notify:?}");
    let incident = first.document.as_ref().unwrap().incident.clone().unwrap();

    let stale = p.run(tor_finding("stale", 8.5, "2026-11-27T10:00:00Z")).await;
    let stale_incident = stale.document.unwrap().incident.unwrap();
    assert_ne!(stale_incident.id, incident.id);
    let next = p.run(tor_finding("next", 8.5, "2026-11-30T10:10:00Z")).await;
    assert_eq!(next.document.unwrap().incident.unwrap().id, incident.id);
}
