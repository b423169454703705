//! `soar setup` and `soar approve`: the commands that talk to AWS (or a local endpoint).

use soar_aws::setup::setup;
use soar_aws::{DynamoClient, DynamoState, SqsQueue, sdk};
use soar_core::functions::message_body;
use soar_core::ports::StateStore;
use std::process::ExitCode;

/// `--endpoint-url` means a local endpoint (moto): dummy credentials. Without it, the standard
/// AWS environment (credentials, region, `AWS_ENDPOINT_URL`) applies.
pub async fn config(endpoint: Option<&str>) -> sdk::SdkConfig {
    match endpoint {
        Some(url) => sdk::local(url).await,
        None => sdk::load().await,
    }
}

pub async fn run_setup(endpoint: Option<&str>, prefix: &str) -> Result<ExitCode, String> {
    let aws = config(endpoint).await;
    let mut env = setup(&aws, prefix).await?;
    if let Some(url) = endpoint {
        env.vars.insert("AWS_ENDPOINT_URL".into(), url.to_string());
    }
    print!("{}", env.render());
    Ok(ExitCode::SUCCESS)
}

fn required(name: &str) -> Result<String, String> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("{name} is not set (the output of `soar setup` has it)"))
}

/// Approves a pending action and hands the alert to the remediate queue again, where the
/// remediate function carries the approved action out (once).
pub async fn run_approve(
    endpoint: Option<&str>,
    alert_id: &str,
    action: &str,
    target: Option<&str>,
    approver: &str,
) -> Result<ExitCode, String> {
    let aws = config(endpoint).await;
    let state = DynamoState::new(DynamoClient::new(&aws), required("SOAR_TABLE")?);
    let prefix = format!("ACTION#{action}#");
    let target = match target {
        Some(t) => t.to_string(),
        None => {
            let pending: Vec<String> = state
                .ledger(alert_id)
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .filter(|e| e.status == "pending_approval")
                .filter_map(|e| e.sk.strip_prefix(&prefix).map(String::from))
                .collect();
            match pending.as_slice() {
                [one] => one.clone(),
                [] => return Err(format!("no {action} is waiting for approval on {alert_id}")),
                many => {
                    return Err(format!(
                        "several {action} wait on {alert_id}; name the target: {}",
                        many.join(", ")
                    ));
                }
            }
        }
    };
    if !state
        .approve_action(alert_id, action, &target, approver)
        .await
        .map_err(|e| e.to_string())?
    {
        return Err(format!("no {action} on {target} is waiting for approval on {alert_id}"));
    }
    let doc = state
        .load_document(alert_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no stored document for {alert_id}"))?;
    let queue = SqsQueue::new(aws_sdk_sqs::Client::new(&aws), required("SOAR_REMEDIATE_QUEUE_URL")?);
    queue.send(&message_body(&doc)).await?;
    println!("approved {action} on {target} for {alert_id} (by {approver}); the alert is queued for remediate");
    Ok(ExitCode::SUCCESS)
}
