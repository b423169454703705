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
    run_all_at(None).await
}

/// Each type's finding through the pipeline; `severity`: GuardDuty's number for every finding
/// instead of each type's documented one (the response table shows what an incident gets).
async fn run_all_at(severity: Option<f64>) -> Vec<Run> {
    let policies = soar_offline::embedded_policies().unwrap();
    let mut runs = Vec::new();
    for row in rows() {
        let mut detail = finding(&row);
        if let Some(severity) = severity {
            detail["severity"] = serde_json::json!(severity);
        }
        let event = serde_json::json!({"version": "0", "detail-type": "GuardDuty Finding", "source": "aws.guardduty",
            "account": "111122223333", "region": "eu-west-1", "time": "2026-11-20T09:05:00Z", "detail": detail});
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

/// Resource types whose containment no AWS API does safely: the default answer is a notification
/// carrying the commands a responder runs (the remediate policy's `commands`).
const NOTIFY_ONLY: &[(&str, &str)] = &[
    (
        "RDSDBInstance",
        "the database user is contained in the engine (the notification carries the SQL and the RDS command)",
    ),
    (
        "S3Object",
        "the object is quarantined by tagging and the bucket policy (the notification carries the commands)",
    ),
    ("Unknown", "the finding names no resource"),
];

/// The scenario files whose inputs are findings about `resource_type`.
fn scenarios_about(resource_type: &str) -> Vec<String> {
    let dir = soar_tests::root().join("policies/scenarios");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let path = e.ok()?.path();
            let text = std::fs::read_to_string(&path).ok()?;
            let needle = match resource_type {
                // Malware Protection for S3 reports the object in its own event.
                "S3Object" => "GuardDuty Malware Protection Object Scan Result".to_string(),
                other => format!("\"resourceType\": \"{other}\""),
            };
            text.contains(&needle)
                .then(|| path.file_name().unwrap().to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    names
}

/// `docs/responses.md`: per GuardDuty resource type, the actions the default policies take on
/// its incidents and whether `soar rollback` undoes each.
fn responses(runs: &[Run]) -> String {
    use std::collections::BTreeMap;
    let mut by_type: BTreeMap<&str, (usize, Vec<String>)> = BTreeMap::new();
    for Run { row, doc } in runs {
        let entry = by_type.entry(row.resource_type.as_str()).or_default();
        entry.0 += 1;
        for a in &doc.actions {
            if !entry.1.contains(&a.request.action) {
                entry.1.push(a.request.action.clone());
            }
        }
    }
    let mut out = String::from(
        "# Default responses\n\n\
         Generated by `make docs` from `tests/fixtures/guardduty/finding-types.tsv` and the default policies:\n\
         each type's generated finding at severity 8 (high, so an incident unless a policy rule says\n\
         otherwise), dry run, no intelligence, no inventory. For each GuardDuty resource type: the actions\n\
         its findings get, whether `soar rollback`\n\
         undoes each (and what it puts back), and the scenarios in `policies/scenarios/` about it.\n\
         `make test` fails when this file is out of step, when a resource type has no scenario, or when one\n\
         gets only a notification where an AWS API could contain it.\n\n\
         | GuardDuty resource | types | default actions | rollback | scenarios |\n\
         |---|---|---|---|---|\n",
    );
    for (resource_type, (count, actions)) in &by_type {
        let rollback: Vec<String> = actions
            .iter()
            .filter_map(|a| soar_core::ActionKind::parse(a).ok())
            .map(|k| match k.undo() {
                Some(what) => format!("{k}: yes, {what}"),
                None => format!("{k}: no"),
            })
            .collect();
        let mut shown = actions.clone();
        if let Some((_, why)) = NOTIFY_ONLY.iter().find(|(t, _)| t == resource_type) {
            shown.push(format!("({why})"));
        }
        out.push_str(&format!(
            "| {resource_type} | {count} | {} | {} | {} |\n",
            shown.join(", "),
            rollback.join("; "),
            scenarios_about(resource_type).join(", ")
        ));
    }
    out
}

#[tokio::test]
async fn every_resource_type_has_a_useful_response_and_a_scenario() {
    // High (8): what each type gets when it is an incident.
    let runs = run_all_at(Some(8.0)).await;
    let text = responses(&runs);
    let path = soar_tests::root().join("docs/responses.md");
    if std::env::var_os("SOAR_WRITE_DOCS").is_some() {
        std::fs::write(&path, &text).unwrap();
    } else {
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            checked_in == text,
            "docs/responses.md is out of step with the finding-type list or the default policies: run `make docs`"
        );
    }
    let mut types: Vec<&str> = runs.iter().map(|r| r.row.resource_type.as_str()).collect();
    types.sort();
    types.dedup();
    for resource_type in types {
        assert!(
            !scenarios_about(resource_type).is_empty(),
            "no scenario in policies/scenarios is about a {resource_type} finding"
        );
        let contained = runs
            .iter()
            .filter(|r| r.row.resource_type == resource_type)
            .flat_map(|r| &r.doc.actions)
            .any(|a| a.request.action != "notify");
        assert!(
            contained || NOTIFY_ONLY.iter().any(|(t, _)| *t == resource_type),
            "{resource_type}: the default policies only notify, and an AWS API could contain it"
        );
    }
}
