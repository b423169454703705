//! `make bench`: soar's speed, measured side by side, written to bench/results.{md,json}.
//!
//! Run from the repository root on a release build. Every number here comes from this run on
//! this machine; compare ratios, not absolute times, across machines.

use serde::Serialize;
use serde_json::{Value, json};
use soar_bench::coldstart;
use soar_bench::corpus;
use soar_bench::opa::OpaLibrary;
use soar_bench::reference::ReferencePhases;
use soar_bench::stats::{Summary, median, summarise};
use soar_core::document::Phase;
use soar_core::parse_input;
use soar_policy::{DEFAULT_TIME_LIMIT, PolicySet, PolicyTree};
use std::collections::BTreeMap;
use std::ffi::CString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

const FUNCTIONS: [&str; 4] = ["ingest", "enrich", "evaluate", "remediate"];
const PASSES: usize = 5;
const THROUGHPUT_ALERTS: usize = 10_000;
const COLD_STARTS: usize = 15;

#[derive(Serialize)]
struct PhaseLatency {
    phase: String,
    inputs: usize,
    soar: Summary,
    opa: Option<Summary>,
    /// OPA median / soar median.
    speedup: Option<f64>,
}

#[derive(Serialize)]
struct ColdStart {
    function: String,
    median_ms: f64,
    p90_ms: f64,
}

#[derive(Serialize)]
struct Results {
    corpus_alerts: usize,
    latency: Vec<PhaseLatency>,
    policy_compile_ms: f64,
    cold_start: Vec<ColdStart>,
    throughput_one_thread: f64,
    throughput_all_cores: f64,
    cores: usize,
    binary_bytes: BTreeMap<String, u64>,
}

fn main() -> Result<(), String> {
    let root = std::env::current_dir().map_err(|e| e.to_string())?;
    let functions_dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/release"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;

    let tree = PolicyTree::embedded();
    let policies = Arc::new(PolicySet::from_tree(&tree, DEFAULT_TIME_LIMIT));
    let alerts = corpus::alerts(&root).map_err(|e| format!("corpus: {e} (run from the repository root)"))?;
    let inputs = runtime.block_on(corpus::phase_inputs(&alerts, policies.clone()));
    eprintln!("corpus: {} alerts, {} phase decisions", alerts.len(), inputs.len());

    let latency = latency(&tree, &policies, &inputs, &root)?;
    let policy_compile_ms = policy_compile_ms();
    let cold_start = cold_starts(&functions_dir);
    let (one, all, cores) = throughput(&policies);
    let binary_bytes = FUNCTIONS
        .iter()
        .filter_map(|f| Some((f.to_string(), std::fs::metadata(functions_dir.join(f)).ok()?.len())))
        .collect();
    let results = Results {
        corpus_alerts: alerts.len(),
        latency,
        policy_compile_ms,
        cold_start,
        throughput_one_thread: one,
        throughput_all_cores: all,
        cores,
        binary_bytes,
    };
    let markdown = render(&results, &functions_dir);
    print!("{markdown}");
    std::fs::create_dir_all(root.join("bench")).map_err(|e| e.to_string())?;
    std::fs::write(root.join("bench/results.md"), &markdown).map_err(|e| e.to_string())?;
    let json = serde_json::to_string_pretty(&results).map_err(|e| e.to_string())?;
    std::fs::write(root.join("bench/results.json"), json + "\n").map_err(|e| e.to_string())?;
    eprintln!("wrote bench/results.md and bench/results.json");
    Ok(())
}

/// Per phase, JSON input text in and JSON decision text out, every captured input, soar and
/// OPA interleaved input by input so both see the same machine state.
fn latency(
    tree: &PolicyTree,
    policies: &PolicySet,
    inputs: &[(Phase, Value)],
    root: &Path,
) -> Result<Vec<PhaseLatency>, String> {
    let lib = OpaLibrary::load(&OpaLibrary::default_path(root))
        .map_err(|e| eprintln!("reference OPA engine unavailable ({e}): soar alone is measured"))
        .ok();
    let reference = match &lib {
        Some(lib) => Some(ReferencePhases::load(lib, tree).map_err(|e| e.to_string())?),
        None => None,
    };
    let mut out = Vec::new();
    for phase in Phase::ALL {
        let engine = policies.engine(phase).map_err(|e| e.to_string())?;
        let texts: Vec<String> = inputs
            .iter()
            .filter(|(p, _)| *p == phase)
            .map(|(_, v)| v.to_string())
            .collect();
        let c_texts: Vec<CString> = texts
            .iter()
            .map(|t| CString::new(t.as_str()).expect("JSON has no NUL"))
            .collect();
        let path = CString::new(format!("soar.{phase}.decision")).expect("no NUL");
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for pass in 0..=PASSES {
            for (text, c_text) in texts.iter().zip(&c_texts) {
                let started = Instant::now();
                let decision = engine.decide_json(text);
                let took = started.elapsed();
                std::hint::black_box(decision.ok());
                if let Some(reference) = &reference {
                    let started = Instant::now();
                    let decision = reference.engine(phase).eval_document_raw(&path, c_text);
                    let took_opa = started.elapsed();
                    std::hint::black_box(decision.ok());
                    if pass > 0 {
                        theirs.push(took_opa);
                    }
                }
                // The first pass warms caches and allocators on both sides; it is not counted.
                if pass > 0 {
                    ours.push(took);
                }
            }
        }
        let soar = summarise(&mut ours);
        let opa = (!theirs.is_empty()).then(|| summarise(&mut theirs));
        out.push(PhaseLatency {
            phase: phase.to_string(),
            inputs: texts.len(),
            speedup: opa.map(|o| o.median_us / soar.median_us),
            soar,
            opa,
        });
    }
    Ok(out)
}

/// Loading and compiling the four embedded bundles, warming them and running the contract
/// probe: the policy share of a function's cold start.
fn policy_compile_ms() -> f64 {
    let mut samples: Vec<Duration> = (0..COLD_STARTS)
        .map(|_| {
            let started = Instant::now();
            let set = Arc::new(PolicySet::embedded(DEFAULT_TIME_LIMIT));
            std::hint::black_box(set.check());
            started.elapsed()
        })
        .collect();
    median(&mut samples).as_secs_f64() * 1e3
}

fn cold_starts(dir: &Path) -> Vec<ColdStart> {
    let env: Vec<(&str, String)> = vec![
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        // A local endpoint nothing listens on: start-up must not need the network.
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9".into()),
        ("AWS_LAMBDA_FUNCTION_NAME", "soar-bench".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("SOAR_TABLE", "soar-state".into()),
        ("SOAR_ENRICH_QUEUE_URL", "http://127.0.0.1:9/q/enrich".into()),
        ("SOAR_EVALUATE_QUEUE_URL", "http://127.0.0.1:9/q/evaluate".into()),
        ("SOAR_REMEDIATE_QUEUE_URL", "http://127.0.0.1:9/q/remediate".into()),
        ("SOAR_LOG", "warn".into()),
    ];
    let mut out = Vec::new();
    for function in FUNCTIONS {
        let binary = dir.join(function);
        if !binary.exists() {
            eprintln!("{} not built: cold start not measured", binary.display());
            continue;
        }
        let mut samples = Vec::new();
        for _ in 0..COLD_STARTS {
            match coldstart::measure(&binary, &env) {
                Ok(d) => samples.push(d),
                Err(e) => {
                    eprintln!("cold start of {function}: {e}");
                    break;
                }
            }
        }
        if samples.is_empty() {
            continue;
        }
        samples.sort();
        out.push(ColdStart {
            function: function.into(),
            median_ms: samples[samples.len() / 2].as_secs_f64() * 1e3,
            p90_ms: samples[(samples.len() * 9) / 10].as_secs_f64() * 1e3,
        });
    }
    out
}

/// `n` distinct alerts (the generated variations, each with its own id).
fn storm(n: usize, offset: usize) -> Vec<Vec<u8>> {
    let root = std::env::current_dir().unwrap_or_default();
    let template: Vec<Value> = corpus::alerts(&root)
        .unwrap_or_default()
        .into_iter()
        .filter(|(label, _)| label.starts_with("gen-"))
        .filter_map(|(_, bytes)| serde_json::from_slice(&bytes).ok())
        .collect();
    (0..n)
        .map(|i| {
            let mut alert = template[i % template.len()].clone();
            alert["detail"]["id"] = json!(format!("storm-{}", offset + i));
            alert.to_string().into_bytes()
        })
        .collect()
}

/// Alerts per second through all four phases in one process (in-memory adapters, dry run).
fn run_storm(policies: Arc<PolicySet>, alerts: Vec<Vec<u8>>) -> Duration {
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let pipeline = corpus::pipeline(policies);
    let started = Instant::now();
    runtime.block_on(async {
        for bytes in &alerts {
            for parsed in parse_input(bytes) {
                if let Ok(incoming) = parsed.result {
                    std::hint::black_box(pipeline.run(incoming).await);
                }
            }
        }
    });
    started.elapsed()
}

fn throughput(policies: &Arc<PolicySet>) -> (f64, f64, usize) {
    let one = THROUGHPUT_ALERTS as f64 / run_storm(policies.clone(), storm(THROUGHPUT_ALERTS, 0)).as_secs_f64();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = THROUGHPUT_ALERTS / cores;
    let batches: Vec<Vec<Vec<u8>>> = (0..cores).map(|c| storm(per, c * per)).collect();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for batch in batches {
            let policies = policies.clone();
            scope.spawn(move || run_storm(policies, batch));
        }
    });
    let all = (per * cores) as f64 / started.elapsed().as_secs_f64();
    (one, all, cores)
}

fn render(r: &Results, functions_dir: &Path) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# soar benchmarks\n");
    let _ = writeln!(
        out,
        "`make bench` on this machine ({} cores); release build; corpus of {} alerts (the shared GuardDuty \
         fixtures, the scenario fixtures and generated variations: every finding family, three severities, \
         sample or not, external or internal remote address).\n",
        r.cores, r.corpus_alerts
    );
    let _ = writeln!(
        out,
        "## Policy decision latency per phase (JSON input in, JSON decision out)\n"
    );
    let _ = writeln!(
        out,
        "| phase | decisions | soar median | soar p99 | OPA median | OPA p99 | OPA / soar |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for l in &r.latency {
        let opa = |f: fn(&Summary) -> f64| l.opa.as_ref().map_or("-".into(), |o| format!("{:.1} µs", f(o)));
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} µs | {:.1} µs | {} | {} | {} |",
            l.phase,
            l.inputs * PASSES,
            l.soar.median_us,
            l.soar.p99_us,
            opa(|o| o.median_us),
            opa(|o| o.p99_us),
            l.speedup.map_or("-".into(), |s| format!("{s:.1}x")),
        );
    }
    let _ = writeln!(
        out,
        "\nThe reference is OPA v1.20.2's Go engine (`libopabridge.so` from `opa-golib-python-bindings==0.4.4`) in \
         the same process, on the same bundles, data and inputs, measured input by input alternately with soar's.\n"
    );
    let _ = writeln!(out, "## Cold start (process start to ready for the first event)\n");
    if r.cold_start.is_empty() {
        let _ = writeln!(
            out,
            "Not measured: no function binaries in {}.\n",
            functions_dir.display()
        );
    } else {
        let _ = writeln!(out, "| function | median | p90 |");
        let _ = writeln!(out, "|---|---|---|");
        for c in &r.cold_start {
            let _ = writeln!(out, "| {} | {:.1} ms | {:.1} ms |", c.function, c.median_ms, c.p90_ms);
        }
        let _ = writeln!(
            out,
            "\nOf which policy compilation, warm-up and the contract probe: {:.1} ms (measured in process).\n",
            r.policy_compile_ms
        );
    }
    let _ = writeln!(
        out,
        "## Throughput (all four phases, one process, in-memory adapters, dry run)\n"
    );
    let _ = writeln!(out, "| threads | alerts/s |");
    let _ = writeln!(out, "|---|---|");
    let _ = writeln!(out, "| 1 | {:.0} |", r.throughput_one_thread);
    let _ = writeln!(out, "| {} | {:.0} |", r.cores, r.throughput_all_cores);
    let _ = writeln!(out, "\n## Function binaries (stripped, {})\n", functions_dir.display());
    let _ = writeln!(out, "| function | size |");
    let _ = writeln!(out, "|---|---|");
    for (f, bytes) in &r.binary_bytes {
        let _ = writeln!(out, "| {f} | {:.1} MB |", *bytes as f64 / 1e6);
    }
    out
}
