//! `make bench`: soar's speed, measured side by side, written to bench/results.{md,json}.
//!
//! Run from the repository root on a release build. Every number here comes from this run on
//! this machine; compare ratios, not absolute times, across machines.

// A benchmark harness, not a runtime crate: a failed expectation stops the measurement with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde::Serialize;
use serde_json::{Value, json};
use soar_bench::coldstart;
use soar_bench::corpus;
use soar_bench::cost::{self, FunctionCost, Price};
use soar_bench::opa::OpaLibrary;
use soar_bench::reference::ReferencePhases;
use soar_bench::stats::{Summary, median, summarise};
use soar_bench::storm;
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
struct LambdaArtifacts {
    architecture: &'static str,
    bytes: BTreeMap<String, u64>,
}

#[derive(Serialize)]
struct ColdStart {
    function: String,
    median_ms: f64,
    p90_ms: f64,
}

/// One function binary's peak memory through a smaller and a larger stream of alerts (a fresh
/// process each), and what the difference says per alert.
#[derive(Serialize)]
struct Memory {
    function: String,
    runs: Vec<MemoryRun>,
    /// (peak of the larger run - peak of the smaller) / (alerts between them), KiB; near 0
    /// when memory is flat with the number of alerts.
    growth_kib_per_alert: f64,
    /// The larger run's peak plus that growth up to 10,000 alerts.
    projected_10k_mb: f64,
}

#[derive(Serialize)]
struct MemoryRun {
    alerts: usize,
    invocations: usize,
    errors: usize,
    peak_rss_mb: f64,
    seconds: f64,
    /// False when the time limit stopped the run first (the numbers are of the part done).
    finished: bool,
}

/// The two stream lengths of the memory runs: moto answers a few hundred calls a second (and
/// slows as its tables grow), so 10,000 alerts through each function would take hours; the
/// growth between these two says what 10,000 would need. 1,000 and 3,000 took 14 minutes of
/// `make bench`'s 45.
const MEMORY_ALERTS: [usize; 2] = [500, 1_500];

#[derive(Serialize)]
struct Results {
    corpus_alerts: usize,
    latency: Vec<PhaseLatency>,
    /// Per function: compiling and warming the bundle of its phase, the policy share of its cold start.
    policy_compile_ms: BTreeMap<String, f64>,
    cold_start: Vec<ColdStart>,
    throughput_one_thread: f64,
    throughput_all_cores: f64,
    cores: usize,
    binary_bytes: BTreeMap<String, u64>,
    /// `target/lambda/<function>/bootstrap` as `make build` left them, when every function has one.
    lambda_artifacts: Option<LambdaArtifacts>,
    memory: Vec<Memory>,
    /// Per function, from the memory runs' durations (empty without them).
    cost: Vec<FunctionCost>,
    price: Price,
    /// From `bench/e2e.json` (the local-stack test `make bench` runs first), when present.
    end_to_end: Option<Value>,
    /// From `bench/storm.json` (tests/storm.rs under `make bench`), when present.
    storm: Option<Value>,
}

fn main() -> Result<(), String> {
    // regorus's parser reports (and backtracks on) anyhow errors; with RUST_BACKTRACE set in the
    // shell each would capture a backtrace, doubling the compile time measured here. Lambda sets
    // neither variable; library backtraces stay off unless asked for explicitly.
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        // SAFETY: first thing in main, before any other thread exists.
        unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    }
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

    // Cold starts and throughput first: the latency comparison loads the reference engine, whose Go
    // runtime keeps threads alive in this process for the rest of the run.
    let cold_start = cold_starts(&functions_dir);
    let policy_compile_ms = policy_compile_ms();
    let (one, all, cores) = throughput(&policies);
    let latency = latency(&tree, &policies, &inputs, &root)?;
    // The peak-memory runs take minutes (16,000 alerts through moto); SOAR_BENCH_MEMORY=0 skips them.
    let memory = if std::env::var("SOAR_BENCH_MEMORY").as_deref() == Ok("0") {
        Vec::new()
    } else {
        runtime
            .block_on(memory(&root, &functions_dir, policies.clone()))
            .unwrap_or_else(|e| {
                eprintln!("peak memory not measured: {e}");
                Vec::new()
            })
    };
    let binary_bytes = FUNCTIONS
        .iter()
        .filter_map(|f| Some((f.to_string(), std::fs::metadata(functions_dir.join(f)).ok()?.len())))
        .collect();
    let lambda_artifacts = cost::lambda_artifacts(&functions_dir.join(".."), &FUNCTIONS)
        .map(|(architecture, bytes)| LambdaArtifacts { architecture, bytes });
    let cost = costs(&root, &memory);
    let results = Results {
        corpus_alerts: alerts.len(),
        latency,
        policy_compile_ms,
        cold_start,
        throughput_one_thread: one,
        throughput_all_cores: all,
        cores,
        binary_bytes,
        lambda_artifacts,
        memory,
        cost,
        price: cost::ARM64_PRICE,
        end_to_end: std::fs::read_to_string(root.join("bench/e2e.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok()),
        storm: std::fs::read_to_string(root.join("bench/storm.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok()),
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

/// Per phase, JSON input text in and JSON decision text out, every captured input. Each pass runs
/// soar over the phase's inputs, then OPA over the same inputs: both engines alternate through the
/// same machine state, and neither starts a decision in caches the other just used.
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
        // The first pass warms caches and allocators on both sides; it is not counted.
        for pass in 0..=PASSES {
            for text in &texts {
                let started = Instant::now();
                let decision = engine.decide_json(text);
                let took = started.elapsed();
                std::hint::black_box(decision.ok());
                if pass > 0 {
                    ours.push(took);
                }
            }
            if let Some(reference) = &reference {
                for c_text in &c_texts {
                    let started = Instant::now();
                    let decision = reference.engine(phase).eval_document_raw(&path, c_text);
                    let took = started.elapsed();
                    std::hint::black_box(decision.ok());
                    if pass > 0 {
                        theirs.push(took);
                    }
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

/// Per function, loading, compiling and warming the embedded bundle of its phase: the policy
/// share of its cold start (the contract probe over all four ran when it was built).
fn policy_compile_ms() -> BTreeMap<String, f64> {
    Phase::ALL
        .into_iter()
        .map(|phase| {
            let mut samples: Vec<Duration> = (0..COLD_STARTS)
                .map(|_| {
                    let started = Instant::now();
                    let set = Arc::new(PolicySet::embedded_phases(&[phase], DEFAULT_TIME_LIMIT));
                    std::hint::black_box(set.problems());
                    started.elapsed()
                })
                .collect();
            (phase.to_string(), median(&mut samples).as_secs_f64() * 1e3)
        })
        .collect()
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

fn throughput(policies: &Arc<PolicySet>) -> (f64, f64, usize) {
    let one =
        THROUGHPUT_ALERTS as f64 / storm::run(policies.clone(), storm::alerts(THROUGHPUT_ALERTS, 0)).as_secs_f64();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = THROUGHPUT_ALERTS / cores;
    let batches: Vec<Vec<Vec<u8>>> = (0..cores).map(|c| storm::alerts(per, c * per)).collect();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for batch in batches {
            let policies = policies.clone();
            scope.spawn(move || storm::run(policies, batch));
        }
    });
    let all = (per * cores) as f64 / started.elapsed().as_secs_f64();
    (one, all, cores)
}

/// A moto server on a free local port, stopped when dropped.
struct Moto(std::process::Child, String);

impl Moto {
    fn start(root: &Path) -> Result<Moto, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let child = std::process::Command::new(root.join(".venv/bin/moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start .venv/bin/moto_server (make venv): {e}"))?;
        let moto = Moto(child, format!("http://127.0.0.1:{port}"));
        for _ in 0..300 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(moto);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err("moto did not start listening".into())
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// SQS events of ten records each, as Lambda's event source batches them.
fn sqs_events(bodies: &[String], queue: &str) -> Vec<String> {
    bodies
        .chunks(10)
        .enumerate()
        .map(|(n, chunk)| {
            let records: Vec<Value> = chunk
                .iter()
                .enumerate()
                .map(|(i, body)| {
                    json!({"messageId": format!("m-{n}-{i}"), "receiptHandle": "r", "body": body,
                           "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
                           "eventSource": "aws:sqs", "eventSourceARN": format!("arn:aws:sqs:us-east-1:123456789012:{queue}"),
                           "awsRegion": "us-east-1"})
                })
                .collect();
            json!({"Records": records}).to_string()
        })
        .collect()
}

/// Each function binary working through [`MEMORY_ALERTS`] alerts (in SQS batches of ten) against
/// a local moto server, with the documents each phase receives made by the phases before it in
/// memory.
/// How long each function's memory run may take (`SOAR_BENCH_MEMORY_MINUTES`, 10 by default):
/// moto answers a few hundred calls a second, and enrich makes several per alert.
fn memory_time_limit() -> Duration {
    let minutes = std::env::var("SOAR_BENCH_MEMORY_MINUTES")
        .ok()
        .and_then(|m| m.parse::<u64>().ok())
        .unwrap_or(10);
    Duration::from_secs(minutes * 60)
}

async fn memory(root: &Path, dir: &Path, policies: Arc<PolicySet>) -> Result<Vec<Memory>, String> {
    if FUNCTIONS.iter().any(|f| !dir.join(f).exists()) {
        return Err(format!("function binaries missing in {}", dir.display()));
    }
    let moto = Moto::start(root)?;
    let setup = std::process::Command::new(root.join("target/debug/soar"))
        .args(["setup", "--endpoint-url", &moto.1])
        .output()
        .map_err(|e| format!("cannot run target/debug/soar setup (make bins): {e}"))?;
    if !setup.status.success() {
        return Err(format!("soar setup: {}", String::from_utf8_lossy(&setup.stderr)));
    }
    let mut env: Vec<(String, String)> = String::from_utf8_lossy(&setup.stdout)
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect();
    for (k, v) in [
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_LAMBDA_FUNCTION_NAME", "bench"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("SOAR_MODE", "dry_run"),
        ("SOAR_LOG", "warn"),
    ] {
        env.push((k.into(), v.into()));
    }

    let mut out = Vec::new();
    for (function, bodies) in phase_inputs(policies).await? {
        let mut runs = Vec::new();
        // Each run reads its own alerts (ingest would call the second run's duplicates).
        let mut offset = 0;
        for alerts in MEMORY_ALERTS {
            let slice = &bodies[offset..(offset + alerts).min(bodies.len())];
            offset += alerts;
            let events = sqs_events(slice, function);
            eprintln!(
                "memory: {function}, {} alerts in {} invocations",
                slice.len(),
                events.len()
            );
            match soar_bench::rss::run(&dir.join(function), &env, &events, memory_time_limit()) {
                Ok(run) => runs.push(MemoryRun {
                    alerts: slice.len(),
                    invocations: run.invocations,
                    errors: run.errors,
                    peak_rss_mb: run.peak_rss_kib as f64 / 1024.0,
                    seconds: run.elapsed.as_secs_f64(),
                    finished: run.finished,
                }),
                Err(e) => eprintln!("memory: {function} not measured: {e}"),
            }
        }
        let [small, large] = &runs[..] else { continue };
        let done = |r: &MemoryRun| (r.invocations * 10).min(r.alerts) as f64;
        let growth = (large.peak_rss_mb - small.peak_rss_mb) * 1024.0 / (done(large) - done(small)).max(1.0);
        out.push(Memory {
            function: function.into(),
            growth_kib_per_alert: growth,
            projected_10k_mb: large.peak_rss_mb + growth.max(0.0) * (10_000.0 - done(large)) / 1024.0,
            runs,
        });
    }
    drop(moto);
    Ok(out)
}

/// What a million alerts cost through each function: its mean duration per invocation (a batch of
/// ten) in the memory runs, at the memory infra/template.yaml gives it, at [`cost::ARM64_PRICE`].
fn costs(root: &Path, memory: &[Memory]) -> Vec<FunctionCost> {
    let sizes = std::fs::read_to_string(root.join("infra/template.yaml"))
        .map_err(|e| format!("infra/template.yaml: {e}"))
        .and_then(|t| cost::memory_sizes(&t, &FUNCTIONS));
    let sizes = match sizes {
        Ok(sizes) => sizes,
        Err(e) => {
            eprintln!("cost not computed: {e}");
            return Vec::new();
        }
    };
    memory
        .iter()
        .filter_map(|m| {
            let invocations: usize = m.runs.iter().map(|r| r.invocations).sum();
            let seconds: f64 = m.runs.iter().map(|r| r.seconds).sum();
            let ms = seconds * 1e3 / (invocations > 0).then_some(invocations as f64)?;
            Some(cost::per_million_alerts(
                &m.function,
                sizes[&m.function],
                ms,
                10,
                &cost::ARM64_PRICE,
            ))
        })
        .collect()
}

/// The message each phase receives, made by the phases before it in memory.
async fn phase_inputs(policies: Arc<PolicySet>) -> Result<[(&'static str, Vec<String>); 4], String> {
    let alerts = storm::alerts(THROUGHPUT_ALERTS, 1_000_000);
    let steps = corpus::pipeline(policies);
    let (mut enrich_in, mut evaluate_in, mut remediate_in) = (Vec::new(), Vec::new(), Vec::new());
    for bytes in &alerts {
        let Some(Ok(incoming)) = parse_input(bytes).pop().map(|p| p.result) else {
            continue;
        };
        let Some(mut doc) = steps.ingestor.ingest(incoming).await.document else {
            continue;
        };
        enrich_in.push(serde_json::to_string(&doc).map_err(|e| e.to_string())?);
        steps.enricher.enrich(&mut doc, false).await;
        evaluate_in.push(serde_json::to_string(&doc).map_err(|e| e.to_string())?);
        steps.evaluator.evaluate(&mut doc).await;
        remediate_in.push(serde_json::to_string(&doc).map_err(|e| e.to_string())?);
    }
    let ingest_in: Vec<String> = alerts.iter().map(|b| String::from_utf8_lossy(b).into_owned()).collect();
    Ok([
        ("ingest", ingest_in),
        ("enrich", enrich_in),
        ("evaluate", evaluate_in),
        ("remediate", remediate_in),
    ])
}

fn render(r: &Results, functions_dir: &Path) -> String {
    let mut out = String::new();
    render_latency(&mut out, r);
    render_cold_start(&mut out, r, functions_dir);
    render_load(&mut out, r);
    render_end_to_end(&mut out, r, functions_dir);
    render_storm(&mut out, r);
    render_cost(&mut out, r);
    out
}

fn render_cost(out: &mut String, r: &Results) {
    let p = &r.price;
    let _ = writeln!(
        out,
        "\n## Lambda cost per million alerts ({}, {})\n",
        p.architecture, p.region
    );
    if r.cost.is_empty() {
        let _ = writeln!(out, "Not computed: it needs the peak-memory runs' durations.");
        return;
    }
    let _ = writeln!(
        out,
        "| function | memory | ms per invocation (10 alerts) | USD per million alerts |"
    );
    let _ = writeln!(out, "|---|---|---|---|");
    for c in &r.cost {
        let _ = writeln!(
            out,
            "| {} | {} MB | {:.0} | {:.2} |",
            c.function, c.memory_mb, c.ms_per_invocation, c.usd_per_million_alerts
        );
    }
    let _ = writeln!(
        out,
        "| all four | | | {:.2} |\n\n\
         At the published on-demand price for {} in {} as of {} (${} per GB-second, first tier; ${:.2} per \
         million requests), every alert through all four functions in full batches of ten, billed for the \
         durations of the peak-memory runs above at each function's `MemorySize` in infra/template.yaml. \
         Those durations are the {} release binaries against moto on this machine, which answers each \
         AWS call in milliseconds to tens of milliseconds: an upper bound for the same work against AWS.",
        r.cost.iter().map(|c| c.usd_per_million_alerts).sum::<f64>(),
        p.architecture,
        p.region,
        p.as_of,
        p.per_gb_second_usd,
        p.per_million_requests_usd,
        std::env::consts::ARCH,
    );
}

fn render_latency(out: &mut String, r: &Results) {
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
         the same process, on the same bundles, data and inputs; each of the {PASSES} passes over a phase's inputs \
         runs soar's engine over all of them, then OPA's.\n"
    );
}

fn render_cold_start(out: &mut String, r: &Results, functions_dir: &Path) {
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
            "\nOf which compiling and warming the function's policy bundle (measured in process): {}.\n",
            r.policy_compile_ms
                .iter()
                .map(|(phase, ms)| format!("{phase} {ms:.2} ms"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}

fn render_load(out: &mut String, r: &Results) {
    let _ = writeln!(
        out,
        "## Throughput (all four phases, one process, in-memory adapters, dry run)\n"
    );
    let _ = writeln!(out, "| threads | alerts/s |");
    let _ = writeln!(out, "|---|---|");
    let _ = writeln!(out, "| 1 | {:.0} |", r.throughput_one_thread);
    let _ = writeln!(out, "| {} | {:.0} |", r.cores, r.throughput_all_cores);
    let _ = writeln!(
        out,
        "\n## Peak memory (each function binary, a fresh process per run, local moto behind it)\n"
    );
    if r.memory.is_empty() {
        let _ = writeln!(out, "Not measured.");
        return;
    }
    let _ = writeln!(
        out,
        "| function | peak RSS at {} / {} alerts | failed | growth per alert | projected at 10,000 | time |",
        MEMORY_ALERTS[0], MEMORY_ALERTS[1]
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for m in &r.memory {
        let peaks: Vec<String> = m
            .runs
            .iter()
            .map(|run| {
                let cut = if run.finished { "" } else { " (time limit)" };
                format!("{:.1} MB{cut}", run.peak_rss_mb)
            })
            .collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.2} KiB | {:.1} MB | {:.0} s |",
            m.function,
            peaks.join(" / "),
            m.runs.iter().map(|run| run.errors).sum::<usize>(),
            m.growth_kib_per_alert,
            m.projected_10k_mb,
            m.runs.iter().map(|run| run.seconds).sum::<f64>()
        );
    }
}

fn render_storm(out: &mut String, r: &Results) {
    let Some(s) = &r.storm else { return };
    let _ = writeln!(
        out,
        "\n## A storm under faults (tests/storm.rs)\n\n\
         {} findings ({} distinct, {} duplicates, {} malformed) through the four function binaries \
         on moto, enforce mode, with a tenth of all AWS calls failing (throttled, 5xx, timed out, reset; \
         {} faults injected) and the functions killed {} times mid-batch: {} alerts ended in a recorded \
         terminal state, {} malformed inputs in the dead-letter queues, {} lost, {} changes made twice. \
         {:.1} AWS calls per finding (retries included); {:.1} findings/s end to end ({:.0} s; moto and the \
         injected waits set the pace).",
        s["findings"],
        s["distinct"],
        s["duplicates"],
        s["malformed"],
        s["injected_faults"],
        s["kills"],
        s["terminal"],
        s["dead_lettered"],
        s["lost"],
        s["changed_twice"],
        s["calls_per_alert"].as_f64().unwrap_or(0.0),
        s["alerts_per_second"].as_f64().unwrap_or(0.0),
        s["seconds"].as_f64().unwrap_or(0.0),
    );
}

fn render_end_to_end(out: &mut String, r: &Results, functions_dir: &Path) {
    let _ = writeln!(out, "\n## End to end on the local stack\n");
    match &r.end_to_end {
        Some(e) => {
            let _ = writeln!(
                out,
                "GuardDuty finding put on the local EventBridge bus to the instance in its quarantine group \
                 (enforce mode, moto, the functions as wired for Lambda, the local SQS pump), over {} findings: \
                 p50 {:.0} ms, p95 {:.0} ms.",
                e["findings"],
                e["p50_ms"].as_f64().unwrap_or(0.0),
                e["p95_ms"].as_f64().unwrap_or(0.0)
            );
        }
        None => {
            let _ = writeln!(
                out,
                "Not measured (bench/e2e.json missing: `make bench` measures it first)."
            );
        }
    }
    let _ = writeln!(out, "\n## Function binaries (stripped)\n");
    let deployed = r.lambda_artifacts.as_ref();
    let _ = writeln!(
        out,
        "| function | {} | deployed ({}) |",
        functions_dir.display(),
        deployed.map_or("not built", |a| a.architecture)
    );
    let _ = writeln!(out, "|---|---|---|");
    let mb = |bytes: Option<&u64>| bytes.map_or("-".into(), |b| format!("{:.1} MB", *b as f64 / 1e6));
    for (f, bytes) in &r.binary_bytes {
        let _ = writeln!(
            out,
            "| {f} | {} | {} |",
            mb(Some(bytes)),
            mb(deployed.and_then(|a| a.bytes.get(f)))
        );
    }
    let _ = writeln!(
        out,
        "\nDeployed: `target/lambda/<function>/bootstrap` as `make build` left them (arm64 unless built with \
         ARCH=x86_64); `make bench` does not build them."
    );
}
