//! Where the policy share of a cold start goes: loading and compiling the bundles, then the
//! contract probe. `cargo run --profile profiling -p soar-bench --example startup`.

use soar_policy::{DEFAULT_TIME_LIMIT, PolicySet, PolicyTree};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
        assert!(set.check().is_empty());
        check_t += t.elapsed();
    }
    let n = runs as u32;
    println!(
        "embedded tree {:.2?}, four engines compiled and warmed {:.2?}, contract probe {:.2?}",
        tree_t / n,
        compile_t / n,
        check_t / n
    );
}
