//! SQS: handing documents to the next phase, and the queue operations `soar local pump` uses to
//! deliver messages to functions the way Lambda's event source does.

use crate::AwsError;
use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{MessageAttributeValue, QueueAttributeName};
use serde_json::Value;
use soar_core::document::{Document, Serialized};
use soar_core::ports::{ForwardError, Forwarder};
use std::time::Duration;

/// SQS caps a message at 256 KiB by default; the raw finding is the only large part and it is
/// already stored with the alert, so it is dropped from the message past this size.
const MAX_MESSAGE_BYTES: usize = 200 * 1024;

/// Serialises a document for the next queue, without the raw payload if it would be too large.
pub fn message_body(doc: &Document) -> String {
    let body = serde_json::to_string(doc).unwrap_or_default();
    if body.len() <= MAX_MESSAGE_BYTES {
        return body;
    }
    let mut slim = doc.clone();
    slim.alert.raw = Value::Null;
    serde_json::to_string(&slim).unwrap_or_default()
}

/// The next phase's queue.
#[derive(Clone)]
pub struct SqsForwarder {
    client: Client,
    queue_url: String,
}

impl SqsForwarder {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        SqsForwarder {
            client,
            queue_url: queue_url.into(),
        }
    }
}

#[async_trait]
impl Forwarder for SqsForwarder {
    async fn forward(&self, doc: &Serialized<'_>) -> Result<(), ForwardError> {
        self.send(doc, None).await
    }

    async fn forward_after(&self, doc: &Serialized<'_>, delay: Duration) -> Result<(), ForwardError> {
        // SQS takes 0..=900 seconds.
        self.send(doc, Some(delay.as_secs().min(900) as i32)).await
    }
}

impl SqsForwarder {
    async fn send(&self, serialized: &Serialized<'_>, delay_seconds: Option<i32>) -> Result<(), ForwardError> {
        let doc = serialized.document;
        // The phase's JSON as it is, unless it is too large for a message.
        let body = if serialized.json.len() <= MAX_MESSAGE_BYTES {
            serialized.json.to_string()
        } else {
            message_body(doc)
        };
        let alert_id = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(&doc.alert.id)
            .build()
            .map_err(|e| ForwardError(e.to_string()))?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .message_attributes("alert_id", alert_id)
            .set_delay_seconds(delay_seconds)
            .send()
            .await
            .map_err(|e| {
                ForwardError(format!(
                    "SQS {} ({})",
                    AwsError::from_sdk("SendMessage", e),
                    self.queue_url
                ))
            })?;
        Ok(())
    }
}

/// A received message: what Lambda's SQS event source puts in a record.
#[derive(Debug, Clone)]
pub struct ReceivedMessage {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
}

/// Plain queue operations on one queue.
#[derive(Clone)]
pub struct SqsQueue {
    client: Client,
    pub url: String,
}

impl SqsQueue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        SqsQueue {
            client,
            url: url.into(),
        }
    }

    pub async fn send(&self, body: &str) -> Result<(), String> {
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| format!("SQS SendMessage to {}: {}", self.url, e.into_service_error()))?;
        Ok(())
    }

    /// Up to `max` messages (1–10), waiting up to `wait_seconds` for the first.
    pub async fn receive(&self, max: i32, wait_seconds: i32) -> Result<Vec<ReceivedMessage>, String> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max.clamp(1, 10))
            .wait_time_seconds(wait_seconds)
            .send()
            .await
            .map_err(|e| format!("SQS ReceiveMessage from {}: {}", self.url, e.into_service_error()))?;
        Ok(out
            .messages()
            .iter()
            .map(|m| ReceivedMessage {
                message_id: m.message_id().unwrap_or_default().to_string(),
                receipt_handle: m.receipt_handle().unwrap_or_default().to_string(),
                body: m.body().unwrap_or_default().to_string(),
            })
            .collect())
    }

    pub async fn delete(&self, receipt_handle: &str) -> Result<(), String> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .send()
            .await
            .map_err(|e| format!("SQS DeleteMessage on {}: {}", self.url, e.into_service_error()))?;
        Ok(())
    }

    /// Makes a message visible again at once (a failed batch item, as Lambda does after the
    /// visibility timeout), so local runs do not wait.
    pub async fn release(&self, receipt_handle: &str) -> Result<(), String> {
        self.release_after(receipt_handle, 0).await
    }

    /// Makes a message visible again after `seconds` (what its visibility timeout would do).
    pub async fn release_after(&self, receipt_handle: &str, seconds: i32) -> Result<(), String> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(seconds)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "SQS ChangeMessageVisibility on {}: {}",
                    self.url,
                    e.into_service_error()
                )
            })?;
        Ok(())
    }

    pub async fn arn(&self) -> Result<String, String> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| format!("SQS GetQueueAttributes on {}: {}", self.url, e.into_service_error()))?;
        out.attributes()
            .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
            .cloned()
            .ok_or_else(|| format!("queue {} has no ARN", self.url))
    }

    /// Approximate number of visible messages.
    pub async fn depth(&self) -> Result<u64, String> {
        self.count(QueueAttributeName::ApproximateNumberOfMessages).await
    }

    /// Approximate number of messages received and not yet deleted or visible again.
    pub async fn in_flight(&self) -> Result<u64, String> {
        self.count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .await
    }

    /// Approximate number of messages sent with a delay that has not passed yet.
    pub async fn delayed(&self) -> Result<u64, String> {
        self.count(QueueAttributeName::ApproximateNumberOfMessagesDelayed).await
    }

    async fn count(&self, attribute: QueueAttributeName) -> Result<u64, String> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(attribute.clone())
            .send()
            .await
            .map_err(|e| format!("SQS GetQueueAttributes on {}: {}", self.url, e.into_service_error()))?;
        Ok(out
            .attributes()
            .and_then(|a| a.get(&attribute))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use soar_core::input::{Incoming, parse_input};

    const FINDING: &str =
        r#"{"id": "f1", "type": "Recon:EC2/Portscan", "severity": 2, "service": {"serviceName": "guardduty"}}"#;

    #[test]
    fn oversized_documents_drop_the_raw_payload() {
        let incoming = parse_input(FINDING.as_bytes()).remove(0).result.unwrap();
        let Incoming::Normalised(mut alert) = incoming else {
            unreachable!()
        };
        alert.raw = json!({"pad": "x".repeat(MAX_MESSAGE_BYTES)});
        let body = message_body(&Document::new(*alert));
        assert!(body.len() < MAX_MESSAGE_BYTES);
        assert!(!body.contains("\"raw\""));
    }
}
