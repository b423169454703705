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

/// Bytes a process may have allocated while it evaluates a policy (regorus's global limit), when
/// it does not run in Lambda: a rule that pushes past it fails with a memory-limit error. Far
/// above what soar needs (the functions peak near 25 MB, see `make bench`).
pub(crate) const PROCESS_MEMORY_LIMIT: u64 = 384 * 1024 * 1024;

/// The process-wide bound in force: in Lambda, half the function's memory
/// (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, in MB, set by the Lambda runtime), so that a runaway rule
/// fails as a policy error (and is escalated) before the function runs out of memory and the
/// alert is retried into the dead-letter queue; elsewhere [`PROCESS_MEMORY_LIMIT`].
pub(crate) fn process_memory_limit() -> u64 {
    std::env::var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        .ok()
        .and_then(|mb| mb.trim().parse::<u64>().ok())
        .map(|mb| (mb * 1024 * 1024 / 2).max(64 * 1024 * 1024))
        .unwrap_or(PROCESS_MEMORY_LIMIT)
}

/// Bytes one decision on the bytecode VM may allocate (regorus's per-execution budget).
pub const EVALUATION_MEMORY_BUDGET: NonZeroU64 = NonZeroU64::new(64 * 1024 * 1024).expect("non-zero");

/// Sets the process-wide memory limit once; every policy evaluation in this process is bounded
/// from then on. Called by everything that builds engines.
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        regorus::set_global_memory_limit(Some(process_memory_limit()));
    });
}

/// Whether a VM error is one of the bounds (time, memory, instructions) rather than a fault of
/// the policy's logic: a bound is final, the evaluation is not tried again on the interpreter.
/// A bound a builtin hits inside the VM comes back as that builtin's error, so its message is
/// read too (regorus's `LimitError` wording: "exceeded ... limit").
pub(crate) fn is_vm_limit(error: &regorus::rvm::vm::VmError) -> bool {
    use regorus::rvm::vm::VmError;
    matches!(
        error,
        VmError::TimeLimitExceeded { .. }
            | VmError::MemoryLimitExceeded { .. }
            | VmError::MemoryBudgetExceeded { .. }
            | VmError::InstructionLimitExceeded { .. }
    ) || {
        let m = error.to_string().to_ascii_lowercase();
        m.contains("exceeded") && (m.contains("limit") || m.contains("budget"))
    }
}
/// Work units between clock reads: often enough to stop within a few ms, rarely enough to be cheap.
pub(crate) const TIMER_CHECK_INTERVAL: std::num::NonZeroU32 = std::num::NonZeroU32::new(64).expect("non-zero");
