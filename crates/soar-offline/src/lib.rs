//! soar without AWS: adapters behind soar-core's ports that keep everything in the process or
//! read it from files. `soar run`, `soar replay`, the contract probe and the tests use them; the
//! Lambda functions use the AWS adapters instead and do not link this crate (the probe runs in
//! soar-lambda's build script).
//!
//! - [`memory`]: the state of one run ([`memory::MemoryState`]), an inventory from a table,
//!   canned intelligence answers, and remediators and notifiers that only record;
//! - [`files`]: an inventory and threat lists read from JSON and text files;
//! - [`replay`]: a stored document's recorded facts as the parts of a new run;
//! - [`probe`]: sample alerts through all four phases, to check a bundle's decisions.

pub mod files;
pub mod memory;
pub mod probe;
pub mod replay;

pub use probe::{check, check_contract, embedded_policies};

use memory::{MemoryState, RecordingNotifier, RecordingRemediator, StaticInventory};
use soar_core::decision::Policies;
use soar_core::egress::OrgConfig;
use soar_core::pipeline::{Parts, Settings};
use std::sync::Arc;

/// In-memory state, recorded side effects, an empty inventory, no providers, dry run: nothing
/// leaves the process. Replace the fields that a caller has real adapters for.
pub fn in_memory_parts(policies: Arc<dyn Policies>, org: OrgConfig) -> (Parts, Arc<MemoryState>) {
    let state = Arc::new(MemoryState::new());
    let parts = Parts {
        policies,
        org,
        state: state.clone(),
        inventory: Arc::new(StaticInventory::default()),
        providers: Vec::new(),
        remediator: Arc::new(RecordingRemediator::default()),
        notifier: Arc::new(RecordingNotifier::default()),
        settings: Settings::default(),
    };
    (parts, state)
}
