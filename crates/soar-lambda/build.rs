//! The contract probe over the policy bundles the functions embed, when they are built: sample
//! alerts run through all four phases, and a policy error on any of them fails the build. A
//! function is never built around bundles that fail it, so its cold start compiles only the bundle
//! of its own phase (see `policies_for`) instead of all four for the probe.
//!
//! soar-policy embeds `policies/` and is rebuilt when a policy changes; cargo then rebuilds and
//! reruns this script, which depends on it.

use soar_policy::{DEFAULT_TIME_LIMIT, PolicySet};
use std::sync::Arc;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let problems = soar_offline::check(&Arc::new(PolicySet::embedded(DEFAULT_TIME_LIMIT)));
    if !problems.is_empty() {
        // A message and a failed exit, not a panic: the author needs the problems, not a backtrace.
        eprintln!(
            "\nsoar: the embedded policies fail the contract probe (`soar policy test` shows the same):\n{}\n",
            problems.join("\n")
        );
        std::process::exit(1);
    }
}
