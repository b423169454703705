//! ingest: parse, validate, deduplicate and store each alert, then hand it to the enrich queue.

use soar_aws::{DynamoState, SqsForwarder, sdk};
use soar_core::functions::IngestFunction;
use soar_core::pipeline::Ingestor;
use soar_lambda::Config;
use std::sync::Arc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    soar_lambda::init_logging();
    let config = Config::from_env()?;
    let aws = sdk::load().await;
    let state = Arc::new(DynamoState::new(aws_sdk_dynamodb::Client::new(&aws), config.table()?));
    let function = IngestFunction {
        ingestor: Ingestor {
            policies: soar_lambda::policies(),
            state,
        },
        next: Arc::new(SqsForwarder::new(
            aws_sdk_sqs::Client::new(&aws),
            config.enrich_queue_url()?,
        )),
    };
    soar_lambda::run_ingest(function).await
}
