//! soar's end-to-end tests. `pipeline.rs` runs the shipped policies over the fixtures in one
//! process; later, the local-AWS tests (moto, cargo lambda) live here too.

use std::path::PathBuf;

/// `tests/fixtures/<relative>`.
pub fn fixture(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(relative)
}
