//! `soar policy diff --base REV`: which alerts the working tree's policies would handle
//! differently from the policies at git revision REV. The corpus is the scenarios (each with its
//! own inventory and canned intelligence) plus any alert files given; both policy versions see
//! exactly the same inputs, in memory, dry run. Exit code 0 when nothing changed, 3 when
//! something did, so CI can label or gate a pull request.

use crate::inputs;
use crate::scenario::{self, AlertOutcome, LoadedScenario};
use soar_core::Phase;
use soar_core::parse_input;
use soar_core::pipeline::Pipeline;
use soar_policy::{DEFAULT_TIME_LIMIT, PolicySet, PolicyTree};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Arc;

/// Exit code when at least one alert's handling changed.
pub(crate) const CHANGED: u8 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    Text,
    Markdown,
}

#[derive(clap::Args)]
pub(crate) struct DiffArgs {
    /// The git revision to compare with (a commit, branch or tag, e.g. `origin/main`).
    #[arg(long)]
    base: String,
    /// The policy folder, in a git work tree; its working-tree contents are the new version.
    #[arg(long, default_value = "policies")]
    policies: PathBuf,
    /// Scenario folder to include (default: `scenarios/` inside the policy folder, when present).
    #[arg(long)]
    scenarios: Option<PathBuf>,
    /// More alerts: JSON or NDJSON files, or folders of them.
    #[arg(long)]
    corpus: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// One alert as both versions handled it.
struct Compared {
    label: String,
    base: AlertOutcome,
    head: AlertOutcome,
}

impl Compared {
    fn changed(&self) -> bool {
        let (b, h) = (&self.base, &self.head);
        (&b.status, &b.verdict, &b.severity, &b.actions) != (&h.status, &h.verdict, &h.severity, &h.actions)
    }
}

pub(crate) async fn run(args: DiffArgs) -> Result<ExitCode, String> {
    let base_tree = tree_at(&args.policies, &args.base)?;
    let head_tree = PolicyTree::from_dir(&args.policies).map_err(|e| e.to_string())?;
    let base = Arc::new(PolicySet::from_tree(&base_tree, DEFAULT_TIME_LIMIT));
    let head = Arc::new(PolicySet::from_tree(&head_tree, DEFAULT_TIME_LIMIT));
    for (side, set) in [("base", &base), ("working tree", &head)] {
        for problem in set.problems() {
            eprintln!("soar: warning: {side} policies: {problem}");
        }
    }

    let mut compared = Vec::new();
    let scenario_dir = args
        .scenarios
        .clone()
        .unwrap_or_else(|| args.policies.join("scenarios"));
    if args.scenarios.is_some() || scenario_dir.is_dir() {
        for file in scenario::files(&scenario_dir)? {
            let loaded = LoadedScenario::load(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let (b, h) = (loaded.run(base.clone()).await, loaded.run(head.clone()).await);
            let single = b.len() == 1;
            for (i, (b, h)) in b.into_iter().zip(h).enumerate() {
                let label = if single {
                    loaded.name.clone()
                } else {
                    format!("{}#{i}", loaded.name)
                };
                compared.push(Compared {
                    label: label.clone(),
                    base: b.map_err(|e| format!("{label}: {e}"))?,
                    head: h.map_err(|e| format!("{label}: {e}"))?,
                });
            }
        }
    }
    for path in corpus_files(&args.corpus)? {
        let (b, h) = (
            run_file(&path, base.clone()).await?,
            run_file(&path, head.clone()).await?,
        );
        compared.extend(
            b.into_iter()
                .zip(h)
                .map(|((label, base), (_, head))| Compared { label, base, head }),
        );
    }
    if compared.is_empty() {
        return Err("the corpus is empty: give --corpus files or a policy folder with scenarios/".into());
    }

    let revisions = |set: &PolicySet| {
        Phase::ALL
            .iter()
            .map(|p| format!("{p} {}", soar_core::Policies::revision(set, *p)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let header = (args.base.as_str(), revisions(&base), revisions(&head));
    let report = match args.format {
        Format::Text => text(&compared, header),
        Format::Markdown => markdown(&compared, header.0),
    };
    print!("{report}");
    Ok(if compared.iter().any(Compared::changed) {
        ExitCode::from(CHANGED)
    } else {
        ExitCode::SUCCESS
    })
}

/// The policy files of `dir` as they were at `rev`, read with git.
fn tree_at(dir: &Path, rev: &str) -> Result<PolicyTree, String> {
    let git = |args: &[&str]| -> Result<Vec<u8>, String> {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .map_err(|e| format!("cannot run git (needed for --base): {e}"))?;
        if out.status.success() {
            Ok(out.stdout)
        } else {
            Err(format!(
                "git {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    };
    let commit = git(&["rev-parse", "--verify", "--quiet", &format!("{rev}^{{commit}}")])
        .map_err(|_| format!("`{rev}` is not a commit of the repository holding {}", dir.display()))?;
    let commit = String::from_utf8_lossy(&commit).trim().to_string();
    // Paths relative to `dir`: ls-tree lists relative to the current directory, `-C dir` sets it.
    let listing = git(&["ls-tree", "-r", "-z", "--name-only", &commit, "."])?;
    let mut files = Vec::new();
    for path in listing.split(|b| *b == 0).filter(|p| !p.is_empty()) {
        let path = String::from_utf8_lossy(path).into_owned();
        if !(path.ends_with(".rego") || path.ends_with("data.json")) {
            continue;
        }
        let contents = git(&["show", &format!("{commit}:./{path}")])?;
        files.push((path, String::from_utf8_lossy(&contents).into_owned()));
    }
    if files.is_empty() {
        return Err(format!("no policy files in {} at {rev}", dir.display()));
    }
    Ok(PolicyTree::from_files(files))
}

/// The files of the given paths; folders give their `.json` and `.ndjson` files, sorted.
fn corpus_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "json" || e == "ndjson"))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

/// Every alert of one file through one fresh pipeline (empty inventory, no providers).
async fn run_file(path: &Path, policies: Arc<PolicySet>) -> Result<Vec<(String, AlertOutcome)>, String> {
    let org = policies.org_config().clone();
    let pipeline = Pipeline::new(soar_offline::in_memory_parts(policies, org).0);
    let mut outcomes = Vec::new();
    for unit in inputs::read(path)? {
        for parsed in parse_input(unit.bytes()) {
            let label = match &parsed.part {
                Some(part) => format!("{} {part}", unit.label),
                None => unit.label.clone(),
            };
            let outcome = match parsed.result {
                Ok(incoming) => AlertOutcome::of(&pipeline.run(incoming).await),
                Err(_) => AlertOutcome::rejected(),
            };
            outcomes.push((label, outcome));
        }
    }
    Ok(outcomes)
}

fn show(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("none")
}

fn text(compared: &[Compared], (rev, base_revisions, head_revisions): (&str, String, String)) -> String {
    let mut out = String::new();
    _ = writeln!(out, "base     {rev}: {base_revisions}");
    _ = writeln!(out, "working  tree: {head_revisions}");
    for c in compared.iter().filter(|c| c.changed()) {
        let id = c.head.alert_id.as_deref().or(c.base.alert_id.as_deref()).unwrap_or("");
        _ = writeln!(out, "CHANGED {}  {id}", c.label);
        for (field, base, head) in [
            ("status", Some(c.base.status.clone()), Some(c.head.status.clone())),
            ("verdict", c.base.verdict.clone(), c.head.verdict.clone()),
            ("severity", c.base.severity.clone(), c.head.severity.clone()),
        ] {
            if base != head {
                _ = writeln!(out, "  {field:<9} {} -> {}", show(&base), show(&head));
            }
        }
        for (sign, action) in action_changes(&c.base.actions, &c.head.actions) {
            _ = writeln!(out, "  action    {sign} {action}");
        }
    }
    let changed = compared.iter().filter(|c| c.changed()).count();
    _ = writeln!(
        out,
        "{} alerts compared, {changed} changed, {} unchanged",
        compared.len(),
        compared.len() - changed
    );
    out
}

/// Removed actions (`-`) then added ones (`+`).
fn action_changes<'a>(base: &'a BTreeSet<String>, head: &'a BTreeSet<String>) -> Vec<(char, &'a str)> {
    base.difference(head)
        .map(|a| ('-', a.as_str()))
        .chain(head.difference(base).map(|a| ('+', a.as_str())))
        .collect()
}

/// A table for a pull-request comment: changed alerts only, changed cells as `old → **new**`.
fn markdown(compared: &[Compared], rev: &str) -> String {
    let changed: Vec<&Compared> = compared.iter().filter(|c| c.changed()).collect();
    let mut out = String::new();
    _ = writeln!(
        out,
        "### soar policy diff: {} of {} alerts handled differently than at `{rev}`\n",
        changed.len(),
        compared.len()
    );
    if changed.is_empty() {
        _ = writeln!(
            out,
            "No alert in the corpus changes status, verdict, severity or actions."
        );
        return out;
    }
    _ = writeln!(out, "| Alert | Status | Verdict | Severity | Actions |");
    _ = writeln!(out, "|---|---|---|---|---|");
    let cell = |base: &Option<String>, head: &Option<String>| {
        if base == head {
            escape(show(head))
        } else {
            format!("{} → **{}**", escape(show(base)), escape(show(head)))
        }
    };
    for c in changed {
        let actions = action_changes(&c.base.actions, &c.head.actions)
            .into_iter()
            .map(|(sign, a)| format!("{} `{}`", if sign == '-' { "−" } else { "+" }, escape(a)))
            .collect::<Vec<_>>()
            .join("<br>");
        _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} |",
            escape(&c.label),
            cell(&Some(c.base.status.clone()), &Some(c.head.status.clone())),
            cell(&c.base.verdict, &c.head.verdict),
            cell(&c.base.severity, &c.head.severity),
            if actions.is_empty() {
                "unchanged".into()
            } else {
                actions
            },
        );
    }
    out
}

fn escape(s: &str) -> String {
    s.replace('|', "\\|")
}
