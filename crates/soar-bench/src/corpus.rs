//! The benchmark and conformance corpus: the shared GuardDuty fixtures, the scenario fixtures,
//! and generated variations of a finding (every finding-type family, three severities, sample and
//! not, an external and an internal remote address), and the exact policy inputs each phase sees
//! when they run through the pipeline.

use serde_json::Value;
use soar_core::alert::IndicatorKind;
use soar_core::decision::{Policies, PolicyError};
use soar_core::document::Phase;
use soar_core::parse_input;
use soar_core::pipeline::{Parts, Pipeline};
use soar_core::ports::{InventoryRecord, Lookup};
use soar_offline::memory::{CannedProvider, StaticInventory};
use soar_policy::PolicySet;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Finding-type families (GuardDuty's, plus one soar does not know).
pub(crate) const FAMILIES: [&str; 20] = [
    "AttackSequence",
    "Backdoor",
    "Behavior",
    "CredentialAccess",
    "CryptoCurrency",
    "DefenseEvasion",
    "Discovery",
    "Execution",
    "Exfiltration",
    "Impact",
    "InitialAccess",
    "PenTest",
    "Persistence",
    "Policy",
    "PrivilegeEscalation",
    "Recon",
    "Stealth",
    "Trojan",
    "UnauthorizedAccess",
    "Unheard",
];

/// `(label, alert bytes)`, sorted fixtures first, then the generated variations.
pub fn alerts(root: &Path) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut alerts = Vec::new();
    for dir in ["tests/fixtures/guardduty", "tests/fixtures/scenarios"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json" || e == "ndjson"))
            .filter(|p| {
                !p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("inventory"))
            })
            .collect();
        files.sort();
        for file in files {
            let text = std::fs::read(&file)?;
            let label = file.file_name().unwrap_or_default().to_string_lossy().into_owned();
            if file.extension().is_some_and(|e| e == "ndjson") {
                for (n, line) in text.split(|b| *b == b'\n').filter(|l| !l.is_empty()).enumerate() {
                    alerts.push((format!("{label}:{}", n + 1), line.to_vec()));
                }
            } else {
                alerts.push((label, text));
            }
        }
    }
    let template = std::fs::read_to_string(root.join("tests/fixtures/scenarios/tor-client.json"))?;
    for family in FAMILIES {
        for severity in [2.0, 5.5, 8.0] {
            for sample in [false, true] {
                for ip in ["198.51.100.23", "10.20.30.40"] {
                    let id = format!("gen-{family}-{severity}-{sample}-{ip}");
                    let mut finding: Value = serde_json::from_str(&template).expect("the template is JSON");
                    let detail = &mut finding["detail"];
                    detail["id"] = id.clone().into();
                    detail["type"] = format!("{family}:EC2/Generated").into();
                    detail["severity"] = severity.into();
                    detail["service"]["additionalInfo"]["sample"] = sample.into();
                    detail["service"]["action"]["networkConnectionAction"]["remoteIpDetails"]["ipAddressV4"] =
                        ip.into();
                    alerts.push((id, finding.to_string().into_bytes()));
                }
            }
        }
    }
    Ok(alerts)
}

/// Records every policy input it passes on.
struct Recorder {
    inner: Arc<PolicySet>,
    seen: Mutex<Vec<(Phase, Value)>>,
}

impl Policies for Recorder {
    fn revision(&self, phase: Phase) -> String {
        self.inner.revision(phase)
    }

    fn decide(&self, phase: Phase, input: &Value) -> Result<Value, PolicyError> {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((phase, input.clone()));
        self.inner.decide(phase, input)
    }
}

/// An organisation around the corpus: the instance the fixtures name is inventoried, and an
/// external and an internal provider know some of the addresses (so evaluate sees enrichments).
fn parts(policies: Arc<dyn Policies>, set: &PolicySet) -> Parts {
    let (mut parts, _) = soar_offline::in_memory_parts(policies, set.org_config().clone());
    parts.inventory = Arc::new(StaticInventory::default().with(
        "i-0a1b2c3d4e5f60718",
        InventoryRecord {
            owner: Some("payments".into()),
            environment: Some("production".into()),
            ..Default::default()
        },
    ));
    let listed = Lookup {
        found: true,
        data: serde_json::json!({"verdict": "malicious", "score": 90, "tags": ["tor"]}),
        related: Vec::new(),
    };
    parts.providers = vec![
        Arc::new(
            CannedProvider::new(
                "intel",
                &[IndicatorKind::Ip, IndicatorKind::Domain, IndicatorKind::Hash],
            )
            .answering("198.51.100.23", listed.clone()),
        ),
        Arc::new(
            CannedProvider::new("threat-lists", &[IndicatorKind::Ip, IndicatorKind::Domain])
                .with_locality(soar_core::egress::Locality::Internal)
                .answering("203.0.113.50", listed),
        ),
    ];
    parts
}

/// Every `(phase, policy input)` the alerts produce on their way through the pipeline.
pub async fn phase_inputs(alerts: &[(String, Vec<u8>)], policies: Arc<PolicySet>) -> Vec<(Phase, Value)> {
    let recorder = Arc::new(Recorder {
        inner: policies.clone(),
        seen: Mutex::new(Vec::new()),
    });
    let pipeline = Pipeline::new(parts(recorder.clone(), &policies));
    for (_, bytes) in alerts {
        for parsed in parse_input(bytes) {
            if let Ok(incoming) = parsed.result {
                pipeline.run(incoming).await;
            }
        }
    }
    let seen = recorder.seen.lock().unwrap_or_else(|e| e.into_inner());
    seen.clone()
}

/// A pipeline over the corpus organisation, for throughput runs.
pub fn pipeline(policies: Arc<PolicySet>) -> Pipeline {
    Pipeline::new(parts(policies.clone(), &policies))
}
