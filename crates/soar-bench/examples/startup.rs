//! Where the policy share of a cold start goes: what each function compiles (the bundle of its
//! phase), and what the build-time check does (all four bundles, then the contract probe).
//! `cargo run --profile profiling -p soar-bench --example startup`.

// A benchmark driver: a failed unwrap stops the measurement, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use soar_core::Phase;
use soar_policy::{DEFAULT_TIME_LIMIT, PolicySet, PolicyTree};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let runs = 15;
    let (mut tree_t, mut compile_t, mut check_t) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    for _ in 0..runs {
        let t = Instant::now();
        let tree = PolicyTree::embedded();
        tree_t += t.elapsed();
        let t = Instant::now();
        let set = Arc::new(PolicySet::from_tree(&tree, DEFAULT_TIME_LIMIT));
        compile_t += t.elapsed();
        let t = Instant::now();
        assert!(soar_offline::check(&set).is_empty());
        check_t += t.elapsed();
    }
    let n = runs as u32;
    println!(
        "embedded tree {:.2?}, four engines compiled and warmed {:.2?}, contract probe {:.2?}",
        tree_t / n,
        compile_t / n,
        check_t / n
    );
    for phase in Phase::ALL {
        let started = Instant::now();
        for _ in 0..runs {
            let set = Arc::new(PolicySet::embedded_phases(&[phase], DEFAULT_TIME_LIMIT));
            assert!(set.problems().is_empty());
        }
        println!(
            "{phase} function: its bundle compiled and warmed {:.2?}",
            started.elapsed() / n
        );
    }
}
