//! enrich: what the organisation knows about the alert (EC2 inventory in the resource's account)
//! and what the enrich policy asks of the intelligence providers, then on to the evaluate queue.

use soar_aws::sdk::AccountConfigs;
use soar_aws::{DynamoState, SqsForwarder, sdk};
use soar_core::functions::{DocumentFunction, Step};
use soar_core::pipeline::Enricher;
use soar_ec2::Ec2;
use soar_lambda::Config;
use std::sync::Arc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    soar_lambda::init_logging();
    let config = Config::from_env()?;
    let aws = sdk::load().await;
    let state = Arc::new(DynamoState::new(aws_sdk_dynamodb::Client::new(&aws), config.table()?));
    let next = SqsForwarder::new(aws_sdk_sqs::Client::new(&aws), config.evaluate_queue_url()?);
    let accounts = Arc::new(AccountConfigs::new(aws, config.responder_role_name.clone()));
    let policies = soar_lambda::policies();
    let enricher = Enricher {
        org: policies.org_config().clone(),
        policies,
        state: state.clone(),
        inventory: Arc::new(Ec2::new(accounts)),
        // External intelligence providers arrive with their own issue; the egress guard is already in place.
        providers: Vec::new(),
        settings: config.settings(),
    };
    let function = DocumentFunction {
        step: Step::Enrich(enricher),
        state,
        next: Some(Arc::new(next)),
    };
    soar_lambda::run_sqs(function).await
}
