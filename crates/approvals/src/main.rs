//! approvals: answers to actions waiting for approval. Slack's button presses arrive through the
//! function's URL; an EventBridge schedule invokes it to expire unanswered questions.

use soar_lambda::{Config, wire};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    soar_lambda::init_logging();
    let config = Config::from_env()?;
    let aws = soar_aws::sdk::load_function(config.aws_attempt_timeout)?;
    // The approver rule ships in the remediate bundle.
    let function = wire::approvals(&config, &aws, soar_lambda::policies_for(soar_lambda::Phase::Remediate)?)?;
    soar_lambda::run_approvals(function).await
}
