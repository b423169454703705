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

/// When messages a function did not finish come back.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pacing {
    /// Seconds before a failed batch item is delivered again (Lambda: the queue's visibility
    /// timeout; 0 locally, so runs do not wait).
    pub failed_visibility: i32,
    /// Seconds before the messages of a batch whose invocation failed outright (the function
    /// crashed or was killed) are delivered again: longer than the claim lease, as the queue's
    /// visibility timeout is longer than the function's timeout.
    pub crashed_visibility: i32,
    /// Never end while a queue still holds a message in flight or delayed.
    pub settle: bool,
    /// Deliver to every function at once, as Lambda's event source mappings do (each function
    /// still gets one batch at a time); otherwise one delivery after another.
    pub parallel: bool,
}

/// Delivers until every queue stays empty for `idle_rounds` passes in a row, or `max_deliveries`
/// batches were delivered. Returns every delivery in order.
pub async fn drain(
    routes: &[Route],
    invoker: &dyn Invoke,
    idle_rounds: u32,
    max_deliveries: usize,
) -> Result<Vec<Delivery>, String> {
    drain_paced(routes, invoker, Pacing::default(), (idle_rounds, max_deliveries)).await
}

/// [`drain`] with the pacing of messages that come back.
pub async fn drain_paced(
    routes: &[Route],
    invoker: &dyn Invoke,
    pacing: Pacing,
    (idle_rounds, max_deliveries): (u32, usize),
) -> Result<Vec<Delivery>, String> {
    let mut arns = Vec::new();
    for route in routes {
        arns.push(route.queue.arn().await?);
    }
    let mut deliveries = Vec::new();
    let mut idle = 0;
    while idle < idle_rounds && deliveries.len() < max_deliveries {
        let mut moved = false;
        if pacing.parallel {
            let passes = routes
                .iter()
                .zip(&arns)
                .map(|(route, arn)| pass(route, arn, invoker, pacing));
            for delivered in futures_util::future::join_all(passes).await {
                if let Some(delivery) = delivered? {
                    moved = true;
                    deliveries.push(delivery);
                }
            }
        } else {
            for (route, arn) in routes.iter().zip(&arns) {
                if let Some(delivery) = pass(route, arn, invoker, pacing).await? {
                    moved = true;
                    deliveries.push(delivery);
                }
            }
        }
        idle = if moved || (pacing.settle && waiting(routes).await?) {
            0
        } else {
            idle + 1
        };
        if !moved {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
    Ok(deliveries)
}

/// One batch from the route's queue to its function, if the queue had any message.
async fn pass(route: &Route, arn: &str, invoker: &dyn Invoke, pacing: Pacing) -> Result<Option<Delivery>, String> {
    let messages = route.queue.receive(10, 0).await?;
    if messages.is_empty() {
        return Ok(None);
    }
    deliver(route, arn, &messages, invoker, pacing).await.map(Some)
}

/// Whether any queue holds a message that will be visible later (in flight or delayed).
async fn waiting(routes: &[Route]) -> Result<bool, String> {
    for route in routes {
        if route.queue.in_flight().await? + route.queue.delayed().await? > 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

async fn deliver(
    route: &Route,
    arn: &str,
    messages: &[ReceivedMessage],
    invoker: &dyn Invoke,
    pacing: Pacing,
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
    let after = match &response {
        Ok(_) => pacing.failed_visibility,
        Err(_) => pacing.crashed_visibility,
    };
    for m in messages {
        if failed.contains(&m.message_id) {
            route.queue.release_after(&m.receipt_handle, after).await?;
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
