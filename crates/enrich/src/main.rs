//! enrich: what the organisation knows about the alert (EC2 inventory in the resource's account)
//! and what the enrich policy asks of the intelligence providers, then on to the evaluate queue.

use soar_lambda::{Config, wire};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    soar_lambda::init_logging();
    let config = Config::from_env()?;
    let aws = soar_aws::sdk::load_function(config.aws_attempt_timeout)?;
    let policies = soar_lambda::policies_for(soar_lambda::Phase::Enrich)?;
    let providers = wire::intel_providers(&config, &aws, &policies)?;
    let function = wire::enrich(&config, &aws, policies, providers)?;
    soar_lambda::run_sqs(function).await
}
