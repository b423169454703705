//! evaluate: the evaluate policy's verdict for each alert, then on to the remediate queue.

use soar_lambda::{Config, wire};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    soar_lambda::init_logging();
    let config = Config::from_env()?;
    let aws = soar_aws::sdk::load_function(config.aws_attempt_timeout)?;
    let function = wire::evaluate(&config, &aws, soar_lambda::policies_for(soar_lambda::Phase::Evaluate)?)?;
    soar_lambda::run_sqs(function).await
}
