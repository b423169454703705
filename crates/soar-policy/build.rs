//! Embeds the policy tree (`policies/` at the workspace root) into the binary: every `.rego` and
//! `data.json` file becomes an `include_str!`, so each function ships the exact bundle it was
//! built and tested with. The revision hash is computed from the same bytes at load time.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest.join("../../policies");
    let root = root
        .canonicalize()
        .unwrap_or_else(|e| panic!("policy folder {} not found: {e}", root.display()));
    println!("cargo:rerun-if-changed={}", root.display());

    let mut files = Vec::new();
    collect(&root, &root, &mut files);
    files.sort();

    let mut out = String::from(
        "/// Every policy file, as `(path relative to policies/, contents)`.\npub(crate) static EMBEDDED: &[(&str, &str)] = &[\n",
    );
    for (relative, absolute) in &files {
        println!("cargo:rerun-if-changed={}", absolute.display());
        writeln!(
            out,
            "    ({relative:?}, include_str!({:?})),",
            absolute.display().to_string()
        )
        .unwrap();
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("embedded_policies.rs");
    std::fs::write(dest, out).expect("write embedded_policies.rs");
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            collect(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rego") || path.file_name().is_some_and(|n| n == "data.json") {
            let relative = path
                .strip_prefix(root)
                .expect("inside root")
                .to_string_lossy()
                .replace('\\', "/");
            out.push((relative, path));
        }
    }
}
