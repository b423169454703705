//! Policy bundles: which files decide a phase, and their revision.

use serde_json::Value;
use sha2::{Digest, Sha256};
use soar_core::Phase;
use std::path::{Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/embedded_policies.rs"));

const COMMON: &str = "common";

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("cannot read policy folder {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is not valid JSON: {message}")]
    Data { path: String, message: String },
    #[error("no policy files for phase `{phase}` (expected {phase}/*.rego)")]
    Empty { phase: Phase },
}

/// One phase's policy: its own files, `common/`, and the merged `data.json` of both.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub phase: Phase,
    /// `(path relative to the policy root, Rego source)`, tests excluded unless asked for.
    pub modules: Vec<(String, String)>,
    pub data: Value,
    /// First 12 hex digits of a SHA-256 over every module and the data.
    pub revision: String,
}

/// The Rego modules and merged data of one folder plus `common`.
pub(crate) struct Sources {
    pub modules: Vec<(String, String)>,
    pub data: Value,
    pub revision: String,
}

/// Every file of a policy tree, relative paths with `/`.
#[derive(Debug, Clone)]
pub struct PolicyTree {
    files: Vec<(String, String)>,
}

impl PolicyTree {
    /// The tree built into this binary.
    pub fn embedded() -> Self {
        PolicyTree {
            files: EMBEDDED.iter().map(|(p, c)| (p.to_string(), c.to_string())).collect(),
        }
    }

    /// A tree on disk (`soar run --policies DIR`, `soar policy test DIR`).
    pub fn from_dir(dir: &Path) -> Result<Self, BundleError> {
        let mut files = Vec::new();
        read_tree(dir, dir, &mut files)?;
        files.sort();
        Ok(PolicyTree { files })
    }

    /// A tree from `(relative path, contents)` pairs, such as the files of a git revision;
    /// anything but `.rego` and `data.json` is left out, as when reading a folder.
    pub fn from_files(files: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut files: Vec<(String, String)> = files
            .into_iter()
            .filter(|(path, _)| path.ends_with(".rego") || path.rsplit('/').next() == Some("data.json"))
            .collect();
        files.sort();
        PolicyTree { files }
    }

    pub fn files(&self) -> &[(String, String)] {
        &self.files
    }

    /// The bundle for `phase`; with `include_tests` the `*_test.rego` files come along.
    pub fn bundle(&self, phase: Phase, include_tests: bool) -> Result<Bundle, BundleError> {
        let Sources {
            modules,
            data,
            revision,
        } = self.sources(phase.as_str(), include_tests)?;
        Bundle {
            phase,
            modules,
            data,
            revision,
        }
        .check()
    }

    /// Modules and data for a folder of the tree (a phase, or `common` alone).
    pub(crate) fn sources(&self, folder: &str, include_tests: bool) -> Result<Sources, BundleError> {
        let in_folder = |path: &str, folder: &str| path.strip_prefix(folder).is_some_and(|rest| rest.starts_with('/'));
        let mut modules = Vec::new();
        let mut data = Value::Object(Default::default());
        for (path, contents) in &self.files {
            if !(in_folder(path, COMMON) || in_folder(path, folder)) {
                continue;
            }
            if path.ends_with(".rego") {
                if include_tests || !is_test_file(path) {
                    modules.push((path.clone(), contents.clone()));
                }
            } else if path.ends_with("data.json") {
                let value: Value = serde_json::from_str(contents).map_err(|e| BundleError::Data {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
                merge(&mut data, value);
            }
        }
        let revision = revision(&modules, &data);
        Ok(Sources {
            modules,
            data,
            revision,
        })
    }
}

impl Bundle {
    /// The bundle of `phase` built into this binary.
    pub fn embedded(phase: Phase) -> Result<Bundle, BundleError> {
        PolicyTree::embedded().bundle(phase, false)
    }

    fn check(self) -> Result<Bundle, BundleError> {
        let prefix = format!("{}/", self.phase.as_str());
        if self.modules.iter().any(|(p, _)| p.starts_with(&prefix)) {
            Ok(self)
        } else {
            Err(BundleError::Empty { phase: self.phase })
        }
    }

    /// `data.soar.config`, the organisation's settings.
    pub fn config(&self) -> Value {
        self.data.pointer("/soar/config").cloned().unwrap_or(Value::Null)
    }
}

pub(crate) fn is_test_file(path: &str) -> bool {
    path.ends_with("_test.rego")
}

fn read_tree(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) -> Result<(), BundleError> {
    let io = |source| BundleError::Io {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_dir() {
            read_tree(root, &path, out)?;
        } else if path.extension().is_some_and(|e| e == "rego") || path.file_name().is_some_and(|n| n == "data.json") {
            let contents = std::fs::read_to_string(&path).map_err(|source| BundleError::Io {
                path: path.clone(),
                source,
            })?;
            let relative = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            out.push((relative, contents));
        }
    }
    Ok(())
}

/// Deep merge: objects merge key by key, anything else is replaced (phase data overrides common).
fn merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (slot, value) => *slot = value,
    }
}

fn revision(modules: &[(String, String)], data: &Value) -> String {
    let mut hash = Sha256::new();
    for (path, contents) in modules {
        hash.update(path.as_bytes());
        hash.update([0]);
        hash.update(contents.as_bytes());
        hash.update([0]);
    }
    hash.update(data.to_string().as_bytes());
    hash.finalize().iter().take(6).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_bundles_cover_every_phase_without_tests() {
        let tree = PolicyTree::embedded();
        for phase in Phase::ALL {
            let bundle = tree.bundle(phase, false).unwrap();
            assert!(bundle.modules.iter().all(|(p, _)| !is_test_file(p)), "{phase}");
            assert!(bundle.modules.iter().any(|(p, _)| p.starts_with("common/")), "{phase}");
            assert_eq!(bundle.revision.len(), 12);
            assert!(bundle.config().is_object(), "data.soar.config missing for {phase}");
        }
    }

    #[test]
    fn revision_changes_with_content() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("ingest")).unwrap();
        std::fs::write(
            dir.path().join("ingest/a.rego"),
            "package soar.ingest\ndecision := {\"accept\": true}\n",
        )
        .unwrap();
        let first = PolicyTree::from_dir(dir.path())
            .unwrap()
            .bundle(Phase::Ingest, false)
            .unwrap()
            .revision;
        std::fs::write(
            dir.path().join("ingest/a.rego"),
            "package soar.ingest\ndecision := {\"accept\": false}\n",
        )
        .unwrap();
        let second = PolicyTree::from_dir(dir.path())
            .unwrap()
            .bundle(Phase::Ingest, false)
            .unwrap()
            .revision;
        assert_ne!(first, second);
        assert!(matches!(
            PolicyTree::from_dir(dir.path()).unwrap().bundle(Phase::Enrich, false),
            Err(BundleError::Empty { .. })
        ));
    }
}
