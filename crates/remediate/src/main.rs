//! remediate: the last phase. Applies the guard rails and carries out (or, in dry run, records)
//! what the remediate policy decided, in the account of the alert's resource.

use soar_lambda::{Config, wire};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    soar_lambda::init_logging();
    let config = Config::from_env()?;
    soar_lambda::log_settings(&config);
    let aws = soar_aws::sdk::load_function(config.aws_attempt_timeout)?;
    let function = wire::remediate(&config, &aws, soar_lambda::policies_for(soar_lambda::Phase::Remediate)?)?;
    soar_lambda::run_sqs(function).await
}
