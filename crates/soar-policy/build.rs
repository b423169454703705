//! Embeds the policy tree (`policies/` at the workspace root) into the binary: every `.rego` and
//! `data.json` file becomes an `include_str!`, so each function ships the exact bundle it was
//! built and tested with. The revision hash is computed from the same bytes at load time.
//!
//! It also parses them: a policy with a syntax error, or a phase folder without its
//! `package soar.<phase>`, fails the build with the file, line and column, so no function binary
//! is ever built around a bundle that cannot load. (Decision shapes are checked by the contract
//! probe in `soar policy test`, and when the functions are built: soar-lambda's build script.)

// A build script reports a failure by panicking: cargo prints the message and stops the build.
#![allow(clippy::unwrap_used, clippy::expect_used)]

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
    if let Err(problem) = check_phases(&files) {
        // A message and a failed exit, not a panic: the author needs the policy's line, not a backtrace.
        eprintln!(
            "\nsoar: the policies in {} do not compile:\n{problem}\n",
            root.display()
        );
        std::process::exit(1);
    }

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

/// Each phase folder with `common/` (tests included: a broken test is a broken build too) must
/// parse and declare its package.
fn check_phases(files: &[(String, PathBuf)]) -> Result<(), String> {
    for phase in ["ingest", "enrich", "evaluate", "remediate"] {
        let mut engine = regorus::Engine::new();
        for (relative, absolute) in files {
            let in_bundle = relative.starts_with(&format!("{phase}/")) || relative.starts_with("common/");
            if !in_bundle || !relative.ends_with(".rego") {
                continue;
            }
            let source = std::fs::read_to_string(absolute).map_err(|e| format!("{relative}: {e}"))?;
            engine.add_policy(relative.clone(), source).map_err(|e| e.to_string())?;
        }
        let packages = engine.get_packages().map_err(|e| e.to_string())?;
        let wanted = format!("data.soar.{phase}");
        if !packages.contains(&wanted) {
            return Err(format!("no module in {phase}/ declares `package soar.{phase}`"));
        }
    }
    Ok(())
}
