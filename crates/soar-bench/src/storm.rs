//! An alert storm: many GuardDuty findings through all four phases in one process.

use crate::corpus;
use serde_json::{Value, json};
use soar_core::parse_input;
use soar_policy::PolicySet;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `n` distinct alerts (the generated variations, each with its own id).
pub fn alerts(n: usize, offset: usize) -> Vec<Vec<u8>> {
    let root = std::env::current_dir().unwrap_or_default();
    let template: Vec<Value> = corpus::alerts(&root)
        .unwrap_or_default()
        .into_iter()
        .filter(|(label, _)| label.starts_with("gen-"))
        .filter_map(|(_, bytes)| serde_json::from_slice(&bytes).ok())
        .collect();
    (0..n)
        .map(|i| {
            let mut alert = template[i % template.len()].clone();
            alert["detail"]["id"] = json!(format!("storm-{}", offset + i));
            alert.to_string().into_bytes()
        })
        .collect()
}

/// How long `alerts` take through all four phases in one process (in-memory adapters, dry run).
pub fn run(policies: Arc<PolicySet>, alerts: Vec<Vec<u8>>) -> Duration {
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let pipeline = corpus::pipeline(policies);
    let started = Instant::now();
    runtime.block_on(async {
        for bytes in &alerts {
            for parsed in parse_input(bytes) {
                if let Ok(incoming) = parsed.result {
                    std::hint::black_box(pipeline.run(incoming).await);
                }
            }
        }
    });
    started.elapsed()
}
