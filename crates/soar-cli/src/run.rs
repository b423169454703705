//! `soar run`: every input through all four phases, in memory, remediation in dry run.

use crate::inputs;
use crate::report::{InputReport, human};
use clap::Args;
use soar_core::parse_input;
use soar_core::pipeline::Pipeline;
use soar_core::ports::{IntelProvider, Inventory};
use soar_intel::{EnvSecrets, IntelConfig};
use soar_offline::files::{ThreatListProvider, load_inventory};
use soar_offline::memory::StaticInventory;
use soar_policy::{DEFAULT_TIME_LIMIT, PolicySet};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Args)]
pub(crate) struct RunArgs {
    /// Policy folder (default: the policies built into this binary).
    #[arg(long)]
    policies: Option<PathBuf>,
    /// Inventory JSON: {"instances": [{"id", "tags", "owner", "environment"}]}.
    #[arg(long)]
    inventory: Option<PathBuf>,
    /// Folder of threat lists: ip*.txt, domain*.txt, hash*.txt.
    #[arg(long)]
    intel: Option<PathBuf>,
    /// Intelligence providers to ask over HTTPS (VirusTotal, AbuseIPDB, GreyNoise, OTX), as JSON:
    /// {"providers": [{"type": "virustotal", "secret": "soar/virustotal"}]}. Keys come from the
    /// environment: secret `soar/virustotal` is SOAR_SECRET_SOAR_VIRUSTOTAL.
    #[arg(long, value_name = "FILE")]
    intel_config: Option<PathBuf>,
    /// One JSON object per input instead of the readable summary.
    #[arg(long)]
    json: bool,
    /// Alert files or folders (every file below): JSON or NDJSON, gzip-compressed or not; `-`
    /// reads standard input.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

pub(crate) async fn run(args: RunArgs) -> Result<ExitCode, String> {
    let policies = Arc::new(match &args.policies {
        Some(dir) => PolicySet::from_dir(dir, DEFAULT_TIME_LIMIT),
        None => PolicySet::embedded(DEFAULT_TIME_LIMIT),
    });
    // A malformed `data.soar.config` would make the guard rails match nothing: no run on it.
    policies.refuse_bad_config()?;
    for problem in soar_offline::check(&policies) {
        // Not fatal here (a function would refuse to start): the affected alerts end
        // `undetermined` with the error, and nothing is done, which is worth seeing in a dry run.
        eprintln!("soar: warning: {problem}");
    }
    let inventory: Arc<dyn Inventory> = match &args.inventory {
        Some(path) => Arc::new(load_inventory(path).map_err(|e| e.to_string())?),
        None => Arc::new(StaticInventory::default()),
    };
    let mut providers: Vec<Arc<dyn IntelProvider>> = Vec::new();
    if let Some(dir) = &args.intel {
        providers.push(Arc::new(ThreatListProvider::load(dir).map_err(|e| e.to_string())?));
    }
    let intel = match &args.intel_config {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            IntelConfig::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => IntelConfig::default(),
    };
    // Generic HTTP providers declared in the policy data take part whenever they are declared.
    let generic = soar_intel::generic_specs(&policies.config_value()).map_err(|e| e.to_string())?;
    providers.extend(soar_intel::build(&intel, &generic, Arc::new(EnvSecrets)).map_err(|e| e.to_string())?);
    let org = policies.org_config().clone();
    let (mut parts, _) = soar_offline::in_memory_parts(policies, org);
    // Each alert is printed as it is done: the state keeps no history, so memory grows only by
    // what dedup, the ledger and the incidents (printed at the end) must remember per alert.
    let state = Arc::new(soar_offline::memory::MemoryState::lean());
    parts.state = state.clone();
    parts.inventory = inventory;
    parts.providers = providers;
    let pipeline = Pipeline::new(parts);

    let mut any_rejected = false;
    let stdout = std::io::stdout();
    for (label, file) in args.files.iter().flat_map(|path| inputs::read_each(path)) {
        let units = match file {
            Ok(units) => units,
            Err(e) => {
                emit(&stdout, args.json, &InputReport::rejected(label, e), None);
                any_rejected = true;
                continue;
            }
        };
        for unit in units {
            match unit {
                Ok(unit) => any_rejected |= process(&pipeline, &unit, args.json, &stdout).await,
                Err(e) => {
                    emit(&stdout, args.json, &InputReport::rejected(label.clone(), e), None);
                    any_rejected = true;
                }
            }
        }
    }
    if !args.json {
        use std::io::Write;
        let _ = stdout
            .lock()
            .write_all(crate::report::incidents_text(&state.incidents()).as_bytes());
    }
    Ok(if any_rejected {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Runs every alert in one input; `true` if any was rejected.
async fn process(pipeline: &Pipeline, unit: &inputs::RawInput, json: bool, stdout: &std::io::Stdout) -> bool {
    let mut rejected = false;
    for parsed in parse_input(unit.bytes()) {
        let label = match &parsed.part {
            Some(part) => format!("{} {part}", unit.label),
            None => unit.label.clone(),
        };
        let report = match parsed.result {
            Ok(incoming) => {
                let outcome = pipeline.run(incoming).await;
                let report = InputReport::from_outcome(label, &outcome);
                emit(stdout, json, &report, outcome.document.as_ref());
                report
            }
            Err(e) => {
                let report = InputReport::rejected(label, e.to_string());
                emit(stdout, json, &report, None);
                report
            }
        };
        rejected |= report.is_rejected();
    }
    rejected
}

fn emit(stdout: &std::io::Stdout, json: bool, report: &InputReport, doc: Option<&soar_core::Document>) {
    let mut out = stdout.lock();
    let text = if json {
        serde_json::to_string(report).unwrap_or_else(|e| format!("{{\"error\": \"cannot serialise report: {e}\"}}"))
    } else {
        human(report, doc)
    };
    // A closed pipe (`soar run ... | head`) is not an error worth a panic.
    let _ = writeln!(out, "{text}");
}
