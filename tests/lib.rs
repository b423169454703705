//! Shared helpers for soar's tests: fixture paths and the local stack (moto) on 127.0.0.1.

// Test code: a failed unwrap is the test failing, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod fake_http;
pub mod slack;

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

/// The `soar` binary of this build (`make bins` builds it before the tests run).
pub fn soar_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // <target>/debug/deps/<test> -> <target>/debug/soar
    let soar = exe
        .parent()
        .and_then(Path::parent)
        .map(|debug| debug.join("soar"))
        .expect("test executable sits in <target>/debug/deps");
    assert!(soar.exists(), "{} not found: build it with `make bins`", soar.display());
    soar
}

/// A copy of the default policy folder at `to`, for tests that change a rule.
pub fn copy_policies(to: &Path) {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("create policy copy");
        for entry in std::fs::read_dir(from).expect("read policies") {
            let path = entry.expect("entry").path();
            let target = to.join(path.file_name().expect("file name"));
            if path.is_dir() {
                copy(&path, &target);
            } else {
                std::fs::copy(&path, &target).expect("copy policy file");
            }
        }
    }
    copy(&root().join("policies"), to);
}

/// A moto server for one test, stopped when dropped.
pub struct Moto(soar_local::Moto);

impl Moto {
    pub fn start() -> Moto {
        Moto(soar_local::Moto::start(&root()).unwrap_or_else(|e| panic!("{e}")))
    }

    /// Moto answering one request at a time (see `soar_local::Moto::start_serial`).
    pub fn start_serial() -> Moto {
        Moto(soar_local::Moto::start_serial(&root()).unwrap_or_else(|e| panic!("{e}")))
    }

    /// Moto over HTTPS with the certificate and key in these PEM files.
    pub fn start_https(certificate: &std::path::Path, key: &std::path::Path) -> Moto {
        Moto(soar_local::Moto::start_https(&root(), certificate, key).unwrap_or_else(|e| panic!("{e}")))
    }

    pub fn endpoint(&self) -> String {
        self.0.endpoint()
    }
}
