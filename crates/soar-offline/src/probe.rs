//! The contract probe: sample alerts run through all four phases in memory, and every decision
//! of the wrong shape or policy runtime error is reported. A function runs it before it takes
//! traffic (a bundle that fails it never starts) and `soar policy test` reports it with the tests.
//!
//! An undefined decision is not a contract problem: a policy may leave alerts it has no rule for
//! to the `undetermined` fallback.

use crate::memory::{CannedProvider, StaticInventory};
use serde_json::json;
use soar_core::alert::IndicatorKind;
use soar_core::decision::{Policies, PolicyError};
use soar_core::egress::OrgConfig;
use soar_core::input::parse_input;
use soar_core::pipeline::Pipeline;
use soar_core::ports::{InventoryRecord, Lookup};
use soar_policy::{DEFAULT_TIME_LIMIT, PolicySet};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

/// Alerts that reach every phase under sensible policies: a GuardDuty EC2 finding with an
/// external IP (an incident with actions under the default policies) and another tool's alert.
const PROBE_ALERTS: [(&str, &str); 2] = [
    (
        "GuardDuty TorClient finding",
        include_str!("../../../tests/fixtures/scenarios/tor-client.json"),
    ),
    (
        "generic alert",
        r#"{"source": "falco", "id": "probe-1", "rule": "Terminal shell in container", "priority": "high",
            "account": "111122223333", "region": "eu-west-1", "resource": {"type": "Container", "id": "probe"},
            "observables": [{"type": "ip", "value": "203.0.113.50"}]}"#,
    ),
];

/// Everything that must stop a process from running these policies, one line each: the load
/// problems, then (when all four phases are compiled and loaded) the contract probe's findings.
/// A function's own one-phase set has only load problems to report: the probe over the same
/// embedded bundles ran when the function was built.
pub fn check(policies: &Arc<PolicySet>) -> Vec<String> {
    let problems = policies.problems();
    if !problems.is_empty() || !policies.compiles_every_phase() {
        return problems;
    }
    check_contract(policies.clone(), policies.org_config().clone())
}

/// The policies built into this binary, all four phases, [`check`]ed: for processes that run
/// the whole pipeline (`soar run`, the tests, the local stack). `Err` lists the problems.
pub fn embedded_policies() -> Result<Arc<PolicySet>, Vec<String>> {
    let set = Arc::new(PolicySet::embedded(DEFAULT_TIME_LIMIT));
    let problems = check(&set);
    if problems.is_empty() { Ok(set) } else { Err(problems) }
}

/// Every contract violation or policy error the probe alerts meet, one line each (`[]` when fine).
pub fn check_contract(policies: Arc<dyn Policies>, org: OrgConfig) -> Vec<String> {
    // The probe alerts are not alerts: their way through the pipeline stays out of the logs (a
    // function would otherwise log a verdict and planned actions for them at every cold start,
    // and pay for writing them); what the probe finds is returned.
    tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::new(), || probe(policies, org))
}

fn probe(policies: Arc<dyn Policies>, org: OrgConfig) -> Vec<String> {
    let (mut parts, _) = crate::in_memory_parts(policies, org);
    parts.inventory = Arc::new(StaticInventory::default().with(
        "i-0a1b2c3d4e5f60718",
        InventoryRecord {
            tags: [("Name".to_string(), "probe".to_string())].into(),
            ..Default::default()
        },
    ));
    let malicious = Lookup {
        found: true,
        data: json!({"malicious": true, "score": 100, "tags": ["tor_exit_node"]}),
        related: Vec::new(),
    };
    parts.providers = vec![Arc::new(
        CannedProvider::new(
            "probe-intel",
            &[
                IndicatorKind::Ip,
                IndicatorKind::Domain,
                IndicatorKind::Hash,
                IndicatorKind::Url,
            ],
        )
        .answering("198.51.100.23", malicious.clone())
        .answering("203.0.113.50", malicious),
    )];
    let pipeline = Pipeline::new(parts);

    let mut problems = Vec::new();
    for (name, text) in PROBE_ALERTS {
        for parsed in parse_input(text.as_bytes()) {
            let Ok(incoming) = parsed.result else { continue };
            let outcome = run_to_completion(pipeline.run(incoming));
            let Some(outcome) = outcome else {
                problems.push(format!("{name}: the in-memory run did not complete"));
                continue;
            };
            let trace = outcome.document.map(|d| d.trace).unwrap_or_default();
            for entry in trace {
                let Some(error) = entry.error else { continue };
                let undefined = PolicyError::Undefined { phase: entry.phase }.to_string();
                if error != undefined {
                    problems.push(format!("{} phase, probe alert `{name}`: {error}", entry.phase));
                }
            }
        }
    }
    problems
}

/// Polls a future that never waits: every in-memory adapter answers at once, so one poll
/// finishes the run without an async runtime (the probe runs before one may exist).
fn run_to_completion<F: Future>(future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use soar_core::document::Phase;

    struct Fixed(fn(Phase) -> Result<Value, PolicyError>);

    impl Policies for Fixed {
        fn revision(&self, _: Phase) -> String {
            "test".into()
        }
        fn decide(&self, phase: Phase, _: &Value) -> Result<Value, PolicyError> {
            (self.0)(phase)
        }
    }

    fn good(phase: Phase) -> Result<Value, PolicyError> {
        Ok(match phase {
            Phase::Ingest => {
                json!({"accept": true, "alert": {"id": "probe-1", "type": "Execution:Runtime/Shell", "severity": 7}})
            }
            Phase::Enrich => json!({"lookups": []}),
            Phase::Evaluate => json!({"verdict": "incident", "severity": "high"}),
            Phase::Remediate => json!({"actions": [{"type": "notify", "target": {"kind": "Channel", "id": "oncall"}}]}),
        })
    }

    #[test]
    fn well_shaped_decisions_pass() {
        assert_eq!(
            check_contract(Arc::new(Fixed(good)), OrgConfig::default()),
            Vec::<String>::new()
        );
    }

    /// Counts the events it is shown (every level enabled).
    #[derive(Clone, Default)]
    struct EventCounter(Arc<std::sync::atomic::AtomicUsize>);

    impl tracing::Subscriber for EventCounter {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, _: &tracing::Event<'_>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    #[test]
    fn the_probe_alerts_leave_nothing_in_the_logs() {
        let counter = EventCounter::default();
        let problems = tracing::subscriber::with_default(counter.clone(), || {
            tracing::info!("the counter sees events");
            check_contract(Arc::new(Fixed(good)), OrgConfig::default())
        });
        assert!(problems.is_empty());
        assert_eq!(counter.0.load(std::sync::atomic::Ordering::Relaxed), 1);
    }

    #[test]
    fn a_missing_field_is_named_with_the_contract() {
        let policies = Fixed(|phase| match phase {
            Phase::Evaluate => Ok(json!({"verdict": "incident", "sev": "high"})),
            other => good(other),
        });
        let problems = check_contract(Arc::new(policies), OrgConfig::default());
        assert!(!problems.is_empty());
        assert!(problems[0].contains("missing field `severity`"), "{}", problems[0]);
        assert!(
            problems[0].contains("the evaluate contract is {verdict:"),
            "{}",
            problems[0]
        );
    }

    #[test]
    fn a_nested_wrong_type_is_named_by_its_path() {
        let policies = Fixed(|phase| match phase {
            Phase::Remediate => Ok(json!({"actions": [{"type": "ec2.isolate", "target": "i-1"}]})),
            other => good(other),
        });
        let problems = check_contract(Arc::new(policies), OrgConfig::default());
        assert!(!problems.is_empty());
        assert!(problems[0].starts_with("remediate phase"), "{}", problems[0]);
        assert!(problems[0].contains("`decision.actions[0].target`"), "{}", problems[0]);
    }

    #[test]
    fn undefined_decisions_are_not_contract_problems_but_errors_are() {
        let undefined = Fixed(|phase| Err(PolicyError::Undefined { phase }));
        assert!(check_contract(Arc::new(undefined), OrgConfig::default()).is_empty());
        let failing = Fixed(|phase| {
            Err(PolicyError::Evaluation {
                phase,
                message: "1:1 type error".into(),
            })
        });
        let problems = check_contract(Arc::new(failing), OrgConfig::default());
        assert!(problems.iter().any(|p| p.contains("type error")), "{problems:?}");
    }

    /// A policy tree in a temporary folder.
    fn tree(files: &[(&str, &str)]) -> (tempfile::TempDir, soar_policy::PolicyTree) {
        let dir = tempfile::tempdir().unwrap();
        for (path, contents) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, contents).unwrap();
        }
        let tree = soar_policy::PolicyTree::from_dir(dir.path()).unwrap();
        (dir, tree)
    }

    #[test]
    fn the_default_bundles_run_on_bytecode() {
        let set = Arc::new(PolicySet::embedded(DEFAULT_TIME_LIMIT));
        for phase in Phase::ALL {
            assert!(set.engine(phase).unwrap().uses_bytecode(), "{phase}");
        }
        // The probe alerts (GuardDuty and generic, every phase) are decided on the VM alone:
        // strict builtin errors do not send real input to the interpreter.
        assert_eq!(check(&set), Vec::<String>::new());
        for phase in Phase::ALL {
            assert_eq!(set.engine(phase).unwrap().interpreter_fallbacks(), 0, "{phase}");
        }
    }

    #[test]
    fn check_reports_a_wrong_shape_against_the_contract() {
        let (_d, t) = tree(&[
            ("ingest/i.rego", "package soar.ingest\ndecision := {\"accept\": true}\n"),
            ("enrich/e.rego", "package soar.enrich\ndecision := {}\n"),
            (
                "evaluate/e.rego",
                "package soar.evaluate\ndecision := {\"verdict\": \"incident\", \"severity\": 7}\n",
            ),
            ("remediate/r.rego", "package soar.remediate\ndecision := {}\n"),
        ]);
        let problems = check(&Arc::new(PolicySet::from_tree(&t, DEFAULT_TIME_LIMIT)));
        assert!(!problems.is_empty());
        assert!(
            problems[0].contains("`decision.severity`: invalid type: integer `7`, expected a string"),
            "{problems:?}"
        );
    }

    #[test]
    fn check_reports_load_problems_and_skips_the_probe_for_a_one_phase_set() {
        // A function's one-phase set: nothing to report, and the probe (all four phases) is not
        // run on it.
        let set = Arc::new(PolicySet::embedded_phases(&[Phase::Evaluate], DEFAULT_TIME_LIMIT));
        assert_eq!(check(&set), Vec::<String>::new());
        let (_d, t) = tree(&[("ingest/i.rego", "package soar.ingest\ndecision := {\n")]);
        let broken = Arc::new(PolicySet::from_tree(&t, DEFAULT_TIME_LIMIT));
        let problems = check(&broken);
        assert!(problems.iter().any(|p| p.contains("ingest")), "{problems:?}");
        assert!(embedded_policies().is_ok());
    }
}
