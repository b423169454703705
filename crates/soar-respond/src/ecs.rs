//! `ecs.stop_task`: StopTask on the task of an ECS runtime finding. Not reversible: ECS starts a
//! new task for a service; the stopped one (its memory, its writable layer) is gone.

use crate::RespondError;
use aws_sdk_ecs::Client;
use serde_json::{Value, json};
use soar_aws::AwsError;

pub(crate) async fn stop_task(client: &Client, cluster: &str, task: &str, reason: &str) -> Result<Value, RespondError> {
    let out = client
        .stop_task()
        .cluster(cluster)
        .task(task)
        .reason(reason)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("StopTask", e))?;
    let status = out.task().and_then(|t| t.desired_status()).unwrap_or_default();
    Ok(json!({"cluster": cluster, "task": task, "reason": reason, "desired_status": status}))
}
