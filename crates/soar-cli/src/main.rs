//! `soar`: run alerts through the whole pipeline on one machine, and test and evaluate policies.

mod aws_cmd;
mod console;
mod diff;
mod incidents;
mod inputs;
mod local;
mod policy_cmd;
mod replay;
mod report;
mod run;
mod scenario;

use clap::{Parser, Subcommand};
use soar_core::approval::Answer;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "soar",
    version,
    about = "Automated security response for AWS, decided by Rego policies"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run alerts through ingest, enrich, evaluate and remediate (dry run, in-memory state).
    Run(run::RunArgs),
    /// Test and evaluate policies.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Create (idempotently) the table, queues and EventBridge rule; print the functions' environment.
    Setup {
        /// A local endpoint such as a moto server (dummy credentials are used).
        #[arg(long)]
        endpoint_url: Option<String>,
        /// Name prefix of the resources.
        #[arg(long, default_value = "soar")]
        prefix: String,
    },
    /// Approve (or, with --deny, deny) an action waiting as pending_approval, as your AWS identity
    /// (STS GetCallerIdentity), which the approver policy (data.soar.config.approvers) must allow;
    /// an approval queues the alert for remediate again. Reads SOAR_TABLE and
    /// SOAR_REMEDIATE_QUEUE_URL.
    Approve {
        /// The alert (or, for an alert of an incident, the alert or its incident `inc-…`).
        alert_id: String,
        /// The action type, e.g. ec2.stop.
        action: String,
        /// The target; may be left out when only one such action waits.
        target: Option<String>,
        #[arg(long)]
        endpoint_url: Option<String>,
        /// Your name as the ledger records it beside your AWS identity (default: the ARN).
        #[arg(long)]
        approver: Option<String>,
        /// Deny instead: the action is never carried out.
        #[arg(long)]
        deny: bool,
    },
    /// A web console on 127.0.0.1: incidents and alerts, an alert's timeline, actions waiting for
    /// approval (answered as your AWS identity, through the approver policy) and replay under the
    /// current policies. Reads SOAR_TABLE and SOAR_REMEDIATE_QUEUE_URL; prints its URL first.
    Console {
        /// The port on 127.0.0.1 (0: a free one).
        #[arg(long, default_value_t = 8780)]
        port: u16,
        /// Policy folder for replays and answers (default: the policies built into this binary).
        #[arg(long)]
        policies: Option<PathBuf>,
        /// Your name beside your AWS identity in the ledger (default: the ARN).
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        endpoint_url: Option<String>,
    },
    /// Undo an alert's executed actions from their recorded rollback data: all of them, one type,
    /// or one type on one target, newest first. A dry run (the API calls it would make) unless
    /// --enforce; each rollback is carried out and recorded in the action ledger once. Reads
    /// SOAR_TABLE, and SOAR_ROLLBACK_ROLE_NAME (a role the operator may assume) for resources in
    /// member accounts.
    Rollback {
        alert_id: String,
        /// The action type, e.g. ec2.isolate (default: every executed action that can be undone).
        action: Option<String>,
        /// The target, e.g. the instance id (default: every target of that action).
        target: Option<String>,
        /// Carry the rollback out (default: print what it would do).
        #[arg(long)]
        enforce: bool,
        #[arg(long)]
        endpoint_url: Option<String>,
    },
    /// Re-run a stored alert's recorded inputs through the current policies and show what would
    /// differ from what was decided then (exit code 3 when anything would). Reads SOAR_TABLE.
    Replay {
        alert_id: String,
        /// Policy folder (default: the policies built into this binary).
        #[arg(long)]
        policies: Option<PathBuf>,
        #[arg(long)]
        endpoint_url: Option<String>,
    },
    /// Browse stored alerts, their decisions and actions. Reads SOAR_TABLE.
    #[command(subcommand)]
    Alerts(AlertsCommand),
    /// Browse incidents: their alerts, verdict, actions and timeline. Reads SOAR_TABLE.
    #[command(subcommand)]
    Incidents(IncidentsCommand),
    /// The function set on this machine (moto server, cargo lambda emulator).
    #[command(subcommand)]
    Local(LocalCommand),
}

#[derive(Subcommand)]
enum IncidentsCommand {
    /// The incidents an alert joined most recently, newest first.
    List {
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        endpoint_url: Option<String>,
    },
    /// One incident: its alerts, worst verdict and severity, actions (its ledger) and timeline.
    Show {
        incident_id: String,
        /// The incident and its ledger as JSON.
        #[arg(long)]
        json: bool,
        #[arg(long)]
        endpoint_url: Option<String>,
    },
}

#[derive(Subcommand)]
enum AlertsCommand {
    /// The most recently updated alerts, newest first.
    List {
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        endpoint_url: Option<String>,
    },
    /// One alert: verdict and reasons, enrichments, actions, each phase's trace, the action ledger.
    Show {
        alert_id: String,
        /// The stored document and ledger as JSON.
        #[arg(long)]
        json: bool,
        #[arg(long)]
        endpoint_url: Option<String>,
    },
}

#[derive(Subcommand)]
enum LocalCommand {
    /// Deliver the queues' messages to the functions like Lambda's SQS event source, until empty.
    /// Reads SOAR_{INGEST,ENRICH,EVALUATE,REMEDIATE}_QUEUE_URL.
    Pump {
        /// The port of `cargo lambda watch --invoke-address 127.0.0.1`.
        #[arg(long)]
        invoke_port: u16,
        #[arg(long)]
        endpoint_url: Option<String>,
    },
    /// Start everything, answer GuardDuty findings about a lab instance, print the timeline, stop everything.
    /// Run from the repository root after `make venv`.
    Demo {
        /// Keep the stack running afterwards with `soar console` on 127.0.0.1:8780, until Ctrl-C.
        #[arg(long)]
        keep: bool,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Run every `test_` rule in the policy folder; ends with `N passed, N failed`.
    Test {
        /// Report line coverage per policy file.
        #[arg(long)]
        coverage: bool,
        /// Fail when the policies' line coverage is below this percentage (implies --coverage).
        #[arg(long, value_name = "PERCENT")]
        fail_under: Option<f64>,
        /// Policy folder (default: the policies built into this binary).
        dir: Option<PathBuf>,
    },
    /// Run the scenarios (alerts, inventory, canned intelligence, expected outcome); ends with `N passed, N failed`.
    Scenario {
        /// Policy folder (default: the policies built into this binary).
        #[arg(long)]
        policies: Option<PathBuf>,
        /// Report line coverage per policy file, with the lines no scenario reached.
        #[arg(long)]
        coverage: bool,
        /// Fail when the scenarios' line coverage is below this percentage (implies --coverage).
        #[arg(long, value_name = "PERCENT")]
        fail_under: Option<f64>,
        /// Scenario folder.
        #[arg(default_value = "policies/scenarios")]
        dir: PathBuf,
    },
    /// Show which alerts the working tree's policies handle differently from those at a git
    /// revision (status, verdict, severity, actions); exit code 3 when any changed.
    Diff(diff::DiffArgs),
    /// Print one phase's raw decision for an input.
    Eval {
        /// ingest, enrich, evaluate or remediate.
        #[arg(long)]
        phase: soar_core::Phase,
        /// Policy folder (default: the policies built into this binary).
        #[arg(long)]
        policies: Option<PathBuf>,
        /// An alert (any shape `soar run` takes), or a ready policy input with a `context` key.
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SOAR_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("soar: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match dispatch(cli.command, &runtime) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("soar: {message}");
            ExitCode::from(2)
        }
    }
}

/// Runs one command; `Err` is the message for the user.
fn dispatch(command: Command, runtime: &tokio::runtime::Runtime) -> Result<ExitCode, String> {
    match command {
        Command::Run(args) => runtime.block_on(run::run(args)),
        Command::Policy(PolicyCommand::Test {
            coverage,
            fail_under,
            dir,
        }) => policy_cmd::test(dir.as_deref(), coverage || fail_under.is_some(), fail_under),
        Command::Policy(PolicyCommand::Eval { phase, policies, file }) => {
            runtime.block_on(policy_cmd::eval(phase, policies.as_deref(), &file))
        }
        Command::Policy(PolicyCommand::Scenario {
            policies,
            coverage,
            fail_under,
            dir,
        }) => runtime.block_on(policy_cmd::scenario(
            policies.as_deref(),
            &dir,
            coverage || fail_under.is_some(),
            fail_under,
        )),
        Command::Policy(PolicyCommand::Diff(args)) => runtime.block_on(diff::run(args)),
        Command::Setup { endpoint_url, prefix } => {
            runtime.block_on(aws_cmd::run_setup(endpoint_url.as_deref(), &prefix))
        }
        Command::Rollback {
            alert_id,
            action,
            target,
            enforce,
            endpoint_url,
        } => runtime.block_on(aws_cmd::run_rollback(
            endpoint_url.as_deref(),
            &alert_id,
            (action.as_deref(), target.as_deref()),
            enforce,
        )),
        Command::Approve {
            alert_id,
            action,
            target,
            endpoint_url,
            approver,
            deny,
        } => runtime.block_on(aws_cmd::run_approve(
            endpoint_url.as_deref(),
            (&alert_id, &action, target.as_deref()),
            approver.as_deref(),
            if deny { Answer::Deny } else { Answer::Approve },
        )),
        Command::Console {
            port,
            policies,
            name,
            endpoint_url,
        } => runtime.block_on(console::run(
            endpoint_url.as_deref(),
            port,
            policies.as_deref(),
            name.as_deref(),
        )),
        Command::Replay {
            alert_id,
            policies,
            endpoint_url,
        } => runtime.block_on(replay::replay(endpoint_url.as_deref(), &alert_id, policies.as_deref())),
        Command::Alerts(AlertsCommand::List { limit, endpoint_url }) => {
            runtime.block_on(replay::list(endpoint_url.as_deref(), limit))
        }
        Command::Alerts(AlertsCommand::Show {
            alert_id,
            json,
            endpoint_url,
        }) => runtime.block_on(replay::show(endpoint_url.as_deref(), &alert_id, json)),
        Command::Incidents(command) => runtime.block_on(incidents_command(command)),
        Command::Local(command) => runtime.block_on(local_command(command)),
    }
}

async fn local_command(command: LocalCommand) -> Result<ExitCode, String> {
    match command {
        LocalCommand::Pump {
            invoke_port,
            endpoint_url,
        } => local::run_pump(endpoint_url.as_deref(), invoke_port).await,
        LocalCommand::Demo { keep } => match std::env::current_dir() {
            Ok(dir) if dir.join("crates/ingest").is_dir() => local::run_demo(&dir, keep).await,
            _ => Err("run `soar local demo` from the repository root (where crates/ingest is)".into()),
        },
    }
}

async fn incidents_command(command: IncidentsCommand) -> Result<ExitCode, String> {
    match command {
        IncidentsCommand::List { limit, endpoint_url } => incidents::list(endpoint_url.as_deref(), limit).await,
        IncidentsCommand::Show {
            incident_id,
            json,
            endpoint_url,
        } => incidents::show(endpoint_url.as_deref(), &incident_id, json).await,
    }
}
