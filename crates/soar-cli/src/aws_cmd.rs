//! `soar setup` and `soar approve`: the commands that talk to AWS (or a local endpoint).

use soar_aws::{DynamoClient, DynamoState, SqsQueue, approve_and_requeue, sdk};
use soar_local::setup::setup;
use std::process::ExitCode;

/// `--endpoint-url` means a local endpoint (moto): dummy credentials. Without it, the standard
/// AWS environment (credentials, region, `AWS_ENDPOINT_URL`) applies.
pub(crate) async fn config(endpoint: Option<&str>) -> Result<sdk::SdkConfig, String> {
    match endpoint {
        Some(url) => sdk::local(url).await.map_err(|e| e.to_string()),
        None => sdk::load().await.map_err(|e| e.to_string()),
    }
}

pub(crate) async fn run_setup(endpoint: Option<&str>, prefix: &str) -> Result<ExitCode, String> {
    let aws = config(endpoint).await?;
    let mut env = setup(&aws, prefix).await?;
    if let Some(url) = endpoint {
        env.vars.insert("AWS_ENDPOINT_URL".into(), url.to_string());
    }
    print!("{}", env.render());
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn required(name: &str) -> Result<String, String> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("{name} is not set (the output of `soar setup` has it)"))
}

/// Approves a pending action and hands the alert to the remediate queue again, where the
/// remediate function carries the approved action out (once).
pub(crate) async fn run_approve(
    endpoint: Option<&str>,
    alert_id: &str,
    action: &str,
    target: Option<&str>,
    approver: &str,
) -> Result<ExitCode, String> {
    let aws = config(endpoint).await?;
    let state = DynamoState::new(DynamoClient::new(&aws), required("SOAR_TABLE")?);
    let queue = SqsQueue::new(aws_sdk_sqs::Client::new(&aws), required("SOAR_REMEDIATE_QUEUE_URL")?);
    let target = approve_and_requeue(&state, &queue, alert_id, action, target, approver).await?;
    println!("approved {action} on {target} for {alert_id} (by {approver}); the alert is queued for remediate");
    Ok(ExitCode::SUCCESS)
}
