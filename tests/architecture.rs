//! The architecture's rules (docs/architecture.md), checked on the sources so they hold as the
//! code grows: which crate may depend on which, no import circle between the files of a crate,
//! and no production function longer than a screen.

// Test code: a failed unwrap is the test failing, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The longest production function, in lines from `fn` to its closing brace.
const MAX_FUNCTION_LINES: usize = 80;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every crate under crates/: (name, directory).
fn crates() -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(workspace().join("crates"))
        .unwrap()
        .flatten()
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .filter(|(_, p)| p.join("Cargo.toml").exists())
        .collect();
    out.sort();
    out
}

/// The source with comments, string and char literals blanked (newlines kept, so line numbers
/// hold), and the test module at the end of the file (`#[cfg(test)] mod ...`) cut off.
fn code(source: &str) -> String {
    let b = source.as_bytes();
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    let blank = |out: &mut String, text: &[u8]| {
        out.extend(text.iter().map(|&c| if c == b'\n' { '\n' } else { ' ' }));
    };
    while i < b.len() {
        let rest = &b[i..];
        let end = if rest.starts_with(b"//") {
            rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len())
        } else if rest.starts_with(b"/*") {
            find(rest, b"*/").map_or(rest.len(), |e| e + 2)
        } else if rest.starts_with(b"r\"") || rest.starts_with(b"r#") || rest.starts_with(b"br\"") {
            let start = rest.iter().position(|&c| c == b'"').unwrap_or(0);
            let hashes = rest[..start].iter().filter(|&&c| c == b'#').count();
            let close: Vec<u8> = std::iter::once(b'"').chain(std::iter::repeat_n(b'#', hashes)).collect();
            find(&rest[start + 1..], &close).map_or(rest.len(), |e| start + 1 + e + close.len())
        } else if rest[0] == b'"' {
            let mut j = 1;
            while j < rest.len() && rest[j] != b'"' {
                j += if rest[j] == b'\\' { 2 } else { 1 };
            }
            j + 1
        } else if rest[0] == b'\'' {
            // A char literal ('x', '\n', '{'), not a lifetime ('a).
            if rest.get(1) == Some(&b'\\') {
                rest[2..].iter().position(|&c| c == b'\'').map_or(1, |e| e + 3)
            } else {
                let width = std::str::from_utf8(&rest[1..])
                    .ok()
                    .and_then(|s| s.chars().next())
                    .map_or(1, char::len_utf8);
                if rest.get(1 + width) == Some(&b'\'') {
                    width + 2
                } else {
                    1
                }
            }
        } else {
            0
        };
        if end == 0 {
            let ch = source[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        } else {
            let end = end.min(rest.len());
            if rest[0] == b'\'' && end == 1 {
                out.push('\'');
            } else {
                blank(&mut out, &rest[..end]);
            }
            i += end;
        }
    }
    match out.find("#[cfg(test)]\nmod ") {
        Some(cut) => out[..cut].to_string(),
        None => out,
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Functions longer than the limit: (file:line, name, lines).
fn long_functions(path: &Path) -> Vec<(String, String, usize)> {
    let text = code(&std::fs::read_to_string(path).unwrap());
    let line_of = |offset: usize| text[..offset].matches('\n').count() + 1;
    let mut found = Vec::new();
    let mut search = 0;
    while let Some(at) = text[search..].find("fn ") {
        let start = search + at;
        search = start + 3;
        let before = text[..start].chars().next_back().unwrap_or(' ');
        if before.is_alphanumeric() || before == '_' {
            continue;
        }
        let name: String = text[start + 3..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() {
            continue; // a `fn(..)` pointer type
        }
        // The body starts at the first `{` before any `;` (a declaration without a body).
        let Some(open) = text[start..].find(['{', ';']).map(|o| start + o) else {
            continue;
        };
        if &text[open..=open] == ";" {
            continue;
        }
        let mut depth = 0;
        let close = text[open..]
            .char_indices()
            .find(|&(_, c)| {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                depth == 0
            })
            .map(|(o, _)| open + o)
            .unwrap();
        let lines = line_of(close) - line_of(start) + 1;
        if lines > MAX_FUNCTION_LINES {
            found.push((format!("{}:{}", path.display(), line_of(start)), name, lines));
        }
    }
    found
}

#[test]
fn no_production_function_is_over_80_lines() {
    let mut files = Vec::new();
    for (_, dir) in crates() {
        rust_files(&dir.join("src"), &mut files);
        files.push(dir.join("build.rs"));
    }
    let long: Vec<_> = files
        .iter()
        .filter(|f| f.exists() && !f.ends_with("tests.rs"))
        .flat_map(|f| long_functions(f))
        .collect();
    assert!(
        long.is_empty(),
        "split these functions (at most {MAX_FUNCTION_LINES} lines each):\n{}",
        long.iter()
            .map(|(at, name, lines)| format!("  {at} {name}: {lines} lines"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The module path of a source file of a crate (`input::sqs` for src/input/sqs.rs).
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts
}

/// The modules a file names by path (`crate::a::b`, `super::c`, `self::d`), outside its tests.
fn references(text: &str, own: &[String], modules: &BTreeSet<Vec<String>>) -> BTreeSet<Vec<String>> {
    let mut out = BTreeSet::new();
    let bytes = text.as_bytes();
    for (at, _) in text
        .match_indices("crate::")
        .chain(text.match_indices("super::"))
        .chain(text.match_indices("self::"))
    {
        if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_' || bytes[at - 1] == b':') {
            continue;
        }
        let path: Vec<&str> = text[at..]
            .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .next()
            .unwrap_or("")
            .split("::")
            .filter(|s| !s.is_empty())
            .collect();
        let mut base: Vec<String> = match path[0] {
            "crate" => Vec::new(),
            "self" => own.to_vec(),
            _ => own[..own.len().saturating_sub(1)].to_vec(),
        };
        let mut target = base.clone();
        for part in &path[1..] {
            base.push(part.to_string());
            if modules.contains(&base) {
                target = base.clone();
            }
        }
        out.insert(target);
    }
    // A path relative to the file's own module (`use child::Item;`, `child::f()`).
    for (at, _) in text.match_indices("::") {
        let head = &text[..at];
        let ident_start = head
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(0, |p| p + 1);
        if head[..ident_start].ends_with("::") {
            continue;
        }
        let mut child = own.to_vec();
        child.push(head[ident_start..].to_string());
        if modules.contains(&child) {
            out.insert(child);
        }
    }
    // The crate root (lib.rs, main.rs) declares the modules and re-exports them: it is the
    // crate's face, not a module in a circle.
    out.retain(|target| target != own && !target.is_empty());
    out
}

#[test]
fn no_import_circle_between_files() {
    let mut circles = Vec::new();
    for (name, dir) in crates() {
        let src = dir.join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        files.retain(|f| !f.ends_with("tests.rs") && !f.starts_with(src.join("bin")));
        let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(&src, f)).collect();
        let graph: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = files
            .iter()
            .filter(|f| !module_of(&src, f).is_empty())
            .map(|f| {
                let own = module_of(&src, f);
                let text = code(&std::fs::read_to_string(f).unwrap());
                let refs = references(&text, &own, &modules);
                (own, refs)
            })
            .collect();
        for (from, targets) in &graph {
            for to in targets {
                if reaches(&graph, to, from, &mut BTreeSet::new()) {
                    circles.push(format!("{name}: {} <-> {}", from.join("::"), to.join("::")));
                }
            }
        }
    }
    assert!(circles.is_empty(), "import circles:\n  {}", circles.join("\n  "));
}

fn reaches(
    graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
    from: &Vec<String>,
    to: &Vec<String>,
    seen: &mut BTreeSet<Vec<String>>,
) -> bool {
    if from == to {
        return true;
    }
    if !seen.insert(from.clone()) {
        return false;
    }
    graph
        .get(from)
        .into_iter()
        .flatten()
        .any(|next| reaches(graph, next, to, seen))
}

/// The `[dependencies]` of a crate (not dev- or build-dependencies).
fn dependencies(dir: &Path) -> BTreeSet<String> {
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    let mut section = String::new();
    let mut out = BTreeSet::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line.to_string();
        } else if section == "[dependencies]"
            && let Some(name) = line
                .split(['=', '.', ' '])
                .next()
                .filter(|n| !n.is_empty() && !n.starts_with('#'))
        {
            out.insert(name.to_string());
        }
    }
    out
}

fn closure(name: &str, deps: &BTreeMap<String, BTreeSet<String>>, out: &mut BTreeSet<String>) {
    for dep in deps.get(name).into_iter().flatten() {
        if out.insert(dep.clone()) {
            closure(dep, deps, out);
        }
    }
}

#[test]
fn crates_depend_only_on_what_their_job_needs() {
    let deps: BTreeMap<String, BTreeSet<String>> = crates().into_iter().map(|(n, d)| (n, dependencies(&d))).collect();
    let core = &deps["soar-core"];
    assert!(
        core.iter()
            .all(|d| !d.starts_with("aws") && !d.starts_with("soar-") && d != "lambda_runtime"),
        "soar-core knows no AWS, no runtime and no other soar crate: {core:?}"
    );
    // soar-offline (in-memory state, recording fakes, the probe) is for tools and tests; the
    // functions' build script runs the probe, which links nothing into the function.
    let tooling = ["soar-local", "soar-cli", "soar-bench", "soar-offline"];
    for function in ["ingest", "enrich", "evaluate", "remediate"] {
        let mut linked = BTreeSet::new();
        closure(function, &deps, &mut linked);
        let wrong: Vec<_> = tooling.iter().filter(|t| linked.contains(**t)).collect();
        assert!(wrong.is_empty(), "the {function} function links tooling: {wrong:?}");
        assert!(
            !linked.contains("aws-sdk-eventbridge"),
            "{function} links the EventBridge SDK"
        );
    }
    let ec2: Vec<_> = deps
        .iter()
        .filter(|(_, d)| d.contains("aws-sdk-ec2"))
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(
        ec2,
        ["soar-ec2", "soar-local"],
        "the EC2 SDK stays in the EC2 adapter (and the lab tool)"
    );
}

#[test]
fn the_checks_see_what_they_check() {
    let long = "fn f() {\n".to_string() + &"    let _ = '{';\n".repeat(90) + "}\n";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.rs");
    std::fs::write(&path, &long).unwrap();
    assert_eq!(
        long_functions(&path).len(),
        1,
        "a 92-line function is found, braces in chars ignored"
    );
    let modules: BTreeSet<Vec<String>> = [vec![], vec!["a".to_string()], vec!["a".to_string(), "b".to_string()]].into();
    let refs = references(
        &code("use super::x;\nfn g() { crate::a::f() }\n// crate::zzz\n"),
        &["a".into(), "b".into()],
        &modules,
    );
    assert_eq!(refs, BTreeSet::from([vec!["a".to_string()]]));
    let refs = references(&code("pub use b::Thing;\n"), &["a".into()], &modules);
    assert_eq!(refs, BTreeSet::from([vec!["a".to_string(), "b".to_string()]]));
}
