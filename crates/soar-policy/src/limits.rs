//! The bounds no policy can escape: a wall-clock limit on every evaluation and a memory bound.
//!
//! regorus checks its execution timer between units of work (rule bodies, loop iterations,
//! instructions), so a builtin that does one huge piece of work at once, `numbers.range(0,
//! 100000000)` materialising a hundred million numbers, is not stopped by time: it is stopped
//! by memory. With its `allocator-memory-limits` feature regorus installs its allocation-counting
//! build of mimalloc as the global allocator of every binary that links it (the functions, the
//! `soar` command, the tests), and every builtin and evaluation path checks the bytes allocated,
//! so such a rule fails as soon as it asks for more than the bound instead of taking seconds
//! and gigabytes. (mimalloc is also the faster allocator here: glibc's malloc was a quarter of
//! a decision's instructions, see `make bench`.)

use std::num::NonZeroU64;
use std::sync::Once;

/// Bytes a process may have allocated while it evaluates a policy (regorus's global limit): a
/// rule that pushes past it fails with a memory-limit error. Far above what soar needs (the
/// functions peak near 25 MB, see `make bench`).
pub const PROCESS_MEMORY_LIMIT: u64 = 384 * 1024 * 1024;

/// Bytes one decision on the bytecode VM may allocate (regorus's per-execution budget).
pub const EVALUATION_MEMORY_BUDGET: NonZeroU64 = NonZeroU64::new(64 * 1024 * 1024).expect("non-zero");

/// Sets the process-wide memory limit once; every policy evaluation in this process is bounded
/// from then on. Called by everything that builds engines.
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        regorus::set_global_memory_limit(Some(PROCESS_MEMORY_LIMIT));
    });
}

/// Whether an evaluation error is one of the bounds (time, memory, instructions) rather than a
/// fault of the policy's logic: a bound is final, the evaluation is not tried again elsewhere.
pub(crate) fn is_limit(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("exceeded") && (m.contains("limit") || m.contains("budget"))
}
