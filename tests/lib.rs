//! Shared helpers for soar's tests: fixture paths and the local stack (moto) on 127.0.0.1.

use std::path::{Path, PathBuf};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

/// `tests/fixtures/<relative>`.
pub fn fixture(relative: &str) -> PathBuf {
    root().join("tests/fixtures").join(relative)
}

/// A moto server for one test, stopped when dropped.
pub struct Moto(soar_local::Moto);

impl Moto {
    pub fn start() -> Moto {
        Moto(soar_local::Moto::start(&root()).unwrap_or_else(|e| panic!("{e}")))
    }

    pub fn endpoint(&self) -> String {
        self.0.endpoint()
    }
}
