//! `soar`: run alerts through the whole pipeline on one machine, and test and evaluate policies.

mod inputs;
mod policy_cmd;
mod report;
mod run;

use clap::{Parser, Subcommand};
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
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Run every `test_` rule in the policy folder; ends with `N passed, N failed`.
    Test {
        /// Report line coverage per policy file.
        #[arg(long)]
        coverage: bool,
        /// Policy folder (default: the policies built into this binary).
        dir: Option<PathBuf>,
    },
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
    let result = match cli.command {
        Command::Run(args) => runtime.block_on(run::run(args)),
        Command::Policy(PolicyCommand::Test { coverage, dir }) => policy_cmd::test(dir.as_deref(), coverage),
        Command::Policy(PolicyCommand::Eval { phase, policies, file }) => {
            runtime.block_on(policy_cmd::eval(phase, policies.as_deref(), &file))
        }
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("soar: {message}");
            ExitCode::from(2)
        }
    }
}
