//! Delivering queue messages to functions the way Lambda's SQS event source does, for local runs
//! and tests: receive up to ten messages, invoke the function with them as an SQS event, delete
//! the ones that succeeded, make the batch item failures visible again (the queue's redrive policy
//! parks them in the dead-letter queue after `maxReceiveCount` deliveries).

use async_trait::async_trait;
use serde_json::{Value, json};
use soar_aws::{ReceivedMessage, SqsQueue};
use std::collections::HashSet;

/// Invokes a function by name with a payload (cargo lambda's emulator, or in-process in tests).
#[async_trait]
pub trait Invoke: Send + Sync {
    async fn invoke(&self, function: &str, payload: Value) -> Result<Value, String>;
}

/// A queue and the function its event source mapping feeds.
pub struct Route {
    pub queue: SqsQueue,
    pub function: String,
}

/// One delivery of a batch, for the caller's timeline.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub function: String,
    pub messages: usize,
    pub failed: Vec<String>,
    pub response: Value,
}

/// The SQS event Lambda would pass for these messages.
pub(crate) fn sqs_event(queue_arn: &str, messages: &[ReceivedMessage]) -> Value {
    let region = queue_arn.split(':').nth(3).unwrap_or("us-east-1");
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            json!({
                "messageId": m.message_id,
                "receiptHandle": m.receipt_handle,
                "body": m.body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            })
        })
        .collect();
    json!({"Records": records})
}

/// Delivers until every queue stays empty for `idle_rounds` passes in a row, or `max_deliveries`
/// batches were delivered. Returns every delivery in order.
pub async fn drain(
    routes: &[Route],
    invoker: &dyn Invoke,
    idle_rounds: u32,
    max_deliveries: usize,
) -> Result<Vec<Delivery>, String> {
    let mut arns = Vec::new();
    for route in routes {
        arns.push(route.queue.arn().await?);
    }
    let mut deliveries = Vec::new();
    let mut idle = 0;
    while idle < idle_rounds && deliveries.len() < max_deliveries {
        let mut moved = false;
        for (route, arn) in routes.iter().zip(&arns) {
            let messages = route.queue.receive(10, 0).await?;
            if messages.is_empty() {
                continue;
            }
            moved = true;
            deliveries.push(deliver(route, arn, &messages, invoker).await?);
        }
        idle = if moved { 0 } else { idle + 1 };
        if !moved {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
    Ok(deliveries)
}

async fn deliver(
    route: &Route,
    arn: &str,
    messages: &[ReceivedMessage],
    invoker: &dyn Invoke,
) -> Result<Delivery, String> {
    let response = invoker.invoke(&route.function, sqs_event(arn, messages)).await;
    // A function error fails the whole batch, as with Lambda.
    let failed: HashSet<String> = match &response {
        Ok(value) => value["batchItemFailures"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["itemIdentifier"].as_str().map(String::from))
            .collect(),
        Err(_) => messages.iter().map(|m| m.message_id.clone()).collect(),
    };
    for m in messages {
        if failed.contains(&m.message_id) {
            route.queue.release(&m.receipt_handle).await?;
        } else {
            route.queue.delete(&m.receipt_handle).await?;
        }
    }
    Ok(Delivery {
        function: route.function.clone(),
        messages: messages.len(),
        failed: messages
            .iter()
            .filter(|m| failed.contains(&m.message_id))
            .map(|m| m.message_id.clone())
            .collect(),
        response: response.unwrap_or_else(|e| json!({"error": e})),
    })
}
