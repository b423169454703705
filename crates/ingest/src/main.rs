//! ingest: parse, validate, deduplicate and store each alert, then hand it to the enrich queue.

use soar_lambda::{Config, wire};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    soar_lambda::init_logging();
    let config = Config::from_env()?;
    let aws = soar_aws::sdk::load_function(config.aws_attempt_timeout)?;
    let function = wire::ingest(&config, &aws, soar_lambda::policies_for(soar_lambda::Phase::Ingest)?)?;
    soar_lambda::run_ingest(function).await
}
