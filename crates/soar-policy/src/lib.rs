//! soar's policy engine: Rego v1 policies evaluated with `regorus`.
//!
//! - [`Bundle`]: one phase's policy files (`policies/<phase>` plus `policies/common`) and data,
//!   embedded at build time or read from a folder, with a content-hash revision.
//! - [`PhaseEngine`]: compiled once per cold start, evaluated per alert on a clone, under a time
//!   limit; an undefined decision or any error is a [`soar_core::PolicyError`], never an action.
//! - [`PolicySet`]: the four engines behind soar-core's [`soar_core::Policies`] port.
//! - [`testing`]: the runner behind `soar policy test`.

mod bundle;
mod engine;
pub mod input;
pub mod limits;
pub mod testing;

pub use bundle::{Bundle, BundleError, PolicyTree};
pub use engine::{DEFAULT_TIME_LIMIT, PhaseEngine, PolicySet};
