//! Every GuardDuty finding type of the checked-in list (`tests/fixtures/guardduty/finding-types.tsv`,
//! compiled from the GuardDuty User Guide's finding-type reference) is accepted, read with its
//! resource and indicators, and reaches a verdict under the default policies; a type of a family
//! no evaluate rule knows ends `undetermined`. `docs/finding-types.md` is generated from the same
//! runs and must be in step (`make docs` writes it).

// Test code: a failed unwrap is the test failing, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod generate;

use generate::{FindingType, finding, load};
use soar_core::alert::ResourceKind;
use soar_core::input::{Incoming, parse_input};
use soar_core::pipeline::{IngestStatus, Pipeline};

fn rows() -> Vec<FindingType> {
    let tsv = std::fs::read_to_string(soar_tests::fixture("guardduty/finding-types.tsv")).unwrap();
    load(&tsv)
}

/// The resource kind soar reads for GuardDuty's `resourceType`.
fn expected_kind(resource_type: &str) -> ResourceKind {
    ResourceKind::from_name(resource_type)
}

/// One finding type through the pipeline: (the row, the document).
struct Run {
    row: FindingType,
    doc: soar_core::Document,
}

async fn run_all() -> Vec<Run> {
    let policies = soar_offline::embedded_policies().unwrap();
    let mut runs = Vec::new();
    for row in rows() {
        let event = serde_json::json!({"version": "0", "detail-type": "GuardDuty Finding", "source": "aws.guardduty",
            "account": "111122223333", "region": "eu-west-1", "time": "2026-11-20T09:05:00Z", "detail": finding(&row)});
        let mut parsed = parse_input(event.to_string().as_bytes());
        assert_eq!(parsed.len(), 1, "{}", row.finding_type);
        let incoming = match parsed.remove(0).result {
            Ok(incoming @ Incoming::Normalised(_)) => incoming,
            other => panic!("{}: not read as a GuardDuty finding: {other:?}", row.finding_type),
        };
        // A fresh pipeline per type: each is its own first delivery.
        let pipeline = Pipeline::new(soar_offline::in_memory_parts(policies.clone(), policies.org_config().clone()).0);
        let outcome = pipeline.run(incoming).await;
        assert_eq!(
            outcome.status,
            IngestStatus::Accepted,
            "{}: {}",
            row.finding_type,
            outcome.reason
        );
        runs.push(Run {
            row,
            doc: outcome.document.unwrap(),
        });
    }
    runs
}

/// A type raised on several resource types (Runtime Monitoring on EC2, EKS and ECS) is read
/// with each of them.
#[test]
fn every_resource_type_of_a_finding_type_is_read_with_its_resource() {
    for row in rows() {
        for resource_type in &row.also {
            let variant = FindingType {
                resource_type: resource_type.clone(),
                ..row.clone()
            };
            let mut parsed = parse_input(finding(&variant).to_string().as_bytes());
            let alert = match parsed.remove(0).result {
                Ok(Incoming::Normalised(alert)) => alert,
                other => panic!("{} on {resource_type}: {other:?}", row.finding_type),
            };
            assert_eq!(
                alert.resource.kind,
                expected_kind(resource_type),
                "{}",
                row.finding_type
            );
            assert!(
                !alert.resource.id.is_empty(),
                "{} on {resource_type}: no id",
                row.finding_type
            );
        }
    }
}

#[tokio::test]
async fn every_listed_finding_type_is_read_and_reaches_a_verdict() {
    let known: Vec<String> = {
        let data: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(soar_tests::root().join("policies/common/data.json")).unwrap(),
        )
        .unwrap();
        serde_json::from_value(data["soar"]["config"]["evaluate"]["known_families"].clone()).unwrap()
    };
    let runs = run_all().await;
    assert!(
        runs.len() >= 100,
        "the list holds every documented type: {}",
        runs.len()
    );
    for Run { row, doc } in &runs {
        let alert = &doc.alert;
        let name = &row.finding_type;
        assert_eq!(&alert.kind, name);
        assert_eq!(alert.resource.kind, expected_kind(&row.resource_type), "{name}");
        // The guide names no resource type for a few families (custom detection rules, backup
        // scans): read as an unknown resource, judged by their indicators.
        if row.resource_type != "Unknown" {
            assert!(!alert.resource.id.is_empty(), "{name}: the resource has no id");
        }
        assert!(!alert.indicators.is_empty(), "{name}: no indicator read");
        let verdict = doc.verdict.as_ref().unwrap_or_else(|| panic!("{name}: no verdict"));
        assert!(verdict.error.is_none(), "{name}: {:?}", verdict.error);
        let family = name.split(':').next().unwrap_or_default();
        if !known.iter().any(|k| k == family) {
            assert_eq!(
                verdict.verdict.as_str(),
                "undetermined",
                "{name}: an unknown family needs a person"
            );
        }
    }
}

/// `docs/finding-types.md` as the default policies answer each type today.
fn table(runs: &[Run]) -> String {
    let mut out = String::from(
        "# GuardDuty finding types\n\n\
         Generated by `make docs` from `tests/fixtures/guardduty/finding-types.tsv` (every finding type in the\n\
         GuardDuty User Guide's reference; see its README for sources) and the default policies: each type's\n\
         generated finding (`tests/finding_types/generate.rs`) through the pipeline in dry run, no intelligence\n\
         providers, no inventory. `make test` fails when this file is out of step.\n\n\
         | type | GuardDuty resource | soar resource | source | verdict | why | default actions |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for Run { row, doc } in runs {
        let verdict = doc.verdict.as_ref().unwrap();
        let mut actions: Vec<String> = doc.actions.iter().map(|a| a.request.action.clone()).collect();
        actions.dedup();
        let why = verdict.reasons.first().cloned().unwrap_or_default().replace('|', "\\|");
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} ({}) | {} | {} |\n",
            row.finding_type,
            row.resource_type,
            doc.alert.resource.kind,
            if row.status == "retired" {
                format!("{} (retired type)", row.source)
            } else {
                row.source.clone()
            },
            verdict.verdict.as_str(),
            verdict.severity,
            why,
            if actions.is_empty() {
                "none".to_string()
            } else {
                actions.join(", ")
            }
        ));
    }
    out
}

#[tokio::test]
async fn the_finding_type_table_is_in_step() {
    let text = table(&run_all().await);
    let path = soar_tests::root().join("docs/finding-types.md");
    if std::env::var_os("SOAR_WRITE_DOCS").is_some() {
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == text,
        "docs/finding-types.md is out of step with the finding-type list or the default policies: run `make docs`"
    );
}
