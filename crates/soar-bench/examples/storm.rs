//! The one-thread throughput run alone, for profiling the whole pipeline:
//! `cargo build --profile profiling -p soar-bench --example storm` then
//! `valgrind --tool=callgrind target/profiling/examples/storm 500` from the repository root.

// A benchmark driver: a failed unwrap stops the measurement, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use soar_policy::{DEFAULT_TIME_LIMIT, PolicySet};

use std::sync::Arc;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("alert count"))
        .unwrap_or(10_000);
    let policies = Arc::new(PolicySet::embedded(DEFAULT_TIME_LIMIT));
    let alerts = soar_bench::storm::alerts(n, 0);
    let took = soar_bench::storm::run(policies, alerts);
    println!(
        "{n} alerts in {took:.2?}: {:.0} alerts/s",
        n as f64 / took.as_secs_f64()
    );
}
