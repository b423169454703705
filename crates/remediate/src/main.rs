//! remediate: the last phase. Applies the guard rails and carries out (or, in dry run, records)
//! what the remediate policy decided, in the account of the alert's resource.

use soar_aws::sdk::AccountConfigs;
use soar_aws::{DynamoState, sdk};
use soar_core::functions::{DocumentFunction, Step};
use soar_core::pipeline::Responder;
use soar_ec2::Ec2;
use soar_lambda::Config;
use soar_respond::{AwsNotifier, AwsRemediator, Webhook};
use std::sync::Arc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    soar_lambda::init_logging();
    let config = Config::from_env()?;
    let aws = sdk::load().await;
    let state = Arc::new(DynamoState::new(aws_sdk_dynamodb::Client::new(&aws), config.table()?));
    let sns = config
        .notify_topic_arn
        .clone()
        .map(|topic| (aws_sdk_sns::Client::new(&aws), topic));
    let webhook = config
        .webhook_secret_id
        .clone()
        .map(|secret| Webhook::from_secret(aws_sdk_secretsmanager::Client::new(&aws), secret));
    let accounts = Arc::new(AccountConfigs::new(aws, config.responder_role_name.clone()));
    let responder = Responder {
        policies: soar_lambda::policies(),
        state: state.clone(),
        // Protection is read live from EC2 just before acting.
        inventory: Arc::new(Ec2::new(accounts.clone())),
        remediator: Arc::new(AwsRemediator::new(accounts)),
        notifier: Arc::new(AwsNotifier::new(sns, webhook)),
        settings: config.settings(),
    };
    soar_lambda::log_settings(&config);
    let function = DocumentFunction {
        step: Step::Remediate(responder),
        state,
        next: None,
    };
    soar_lambda::run_sqs(function).await
}
