//! One phase's decisions over the corpus, in a loop: the workload to profile. Run from the
//! repository root, e.g.
//! `cargo build --profile profiling -p soar-bench --example decide` then
//! `valgrind --tool=callgrind target/profiling/examples/decide ingest 2`.

// A benchmark driver: a failed unwrap stops the measurement, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use soar_core::document::Phase;
use soar_policy::{DEFAULT_TIME_LIMIT, PolicySet};
use std::sync::Arc;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let phase: Phase = match args.next().as_deref() {
        Some("ingest") | None => Phase::Ingest,
        Some("enrich") => Phase::Enrich,
        Some("evaluate") => Phase::Evaluate,
        Some("remediate") => Phase::Remediate,
        Some(other) => panic!("unknown phase {other}"),
    };
    let passes: usize = args.next().map(|n| n.parse().expect("passes")).unwrap_or(20);
    let root = std::env::current_dir().expect("cwd");
    let set = Arc::new(PolicySet::embedded(DEFAULT_TIME_LIMIT));
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let alerts = soar_bench::corpus::alerts(&root).expect("corpus: run from the repository root");
    let texts: Vec<String> = runtime
        .block_on(soar_bench::corpus::phase_inputs(&alerts, set.clone()))
        .into_iter()
        .filter(|(p, _)| *p == phase)
        .map(|(_, v)| v.to_string())
        .collect();
    if passes == 0 {
        // `decide <phase> 0`: print the inputs instead (one JSON document per line).
        texts.iter().for_each(|t| println!("{t}"));
        return;
    }
    let engine = set.engine(phase).expect("phase loads");
    let started = Instant::now();
    for _ in 0..passes {
        for text in &texts {
            std::hint::black_box(engine.decide_json(text).expect("decision"));
        }
    }
    let n = (passes * texts.len()) as u32;
    println!("{phase}: {} decisions, mean {:.1?}", n, started.elapsed() / n);
}
