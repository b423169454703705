//! evaluate: the evaluate policy's verdict for each alert, then on to the remediate queue.

use soar_aws::{DynamoState, SqsForwarder, sdk};
use soar_core::functions::{DocumentFunction, Step};
use soar_core::pipeline::Evaluator;
use soar_lambda::Config;
use std::sync::Arc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    soar_lambda::init_logging();
    let config = Config::from_env()?;
    let aws = sdk::load().await;
    let state = Arc::new(DynamoState::new(aws_sdk_dynamodb::Client::new(&aws), config.table()?));
    let next = SqsForwarder::new(aws_sdk_sqs::Client::new(&aws), config.remediate_queue_url()?);
    let function = DocumentFunction {
        step: Step::Evaluate(Evaluator {
            policies: soar_lambda::policies(),
            state: state.clone(),
        }),
        state,
        next: Some(Arc::new(next)),
    };
    soar_lambda::run_sqs(function).await
}
