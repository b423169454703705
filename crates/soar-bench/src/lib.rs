//! Benchmarks and conformance for soar's policy engine and pipeline:
//!
//! - [`opa`]: the reference OPA engine, `libopabridge.so`, loaded at run time;
//! - [`corpus`]: the alerts and the exact per-phase policy inputs they produce;
//! - [`reference`]: the same bundles in OPA, decision for decision, and the comparison;
//! - [`cost`]: the deployed artifacts and what a million alerts cost on Lambda.
//!
//! The `soar-bench` binary (`make bench`) measures; `tests/conformance.rs` (`make test`) proves
//! both engines decide the whole corpus identically.

// A benchmark harness, not a runtime crate: a failed expectation stops the measurement with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod coldstart;
pub mod corpus;
pub mod cost;
pub mod opa;
pub mod reference;
pub mod rss;
pub mod stats;
pub mod storm;
