//! `soar setup`: the resources the functions need, created idempotently (running it twice changes
//! nothing): the state table, one queue per phase with its dead-letter queue, and an EventBridge
//! rule sending GuardDuty findings to the ingest (fan-in) queue.

use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_eventbridge::types::Target;
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::json;
use soar_aws::SqsQueue;
use soar_aws::sdk::SdkConfig;
use std::collections::BTreeMap;

/// Deliveries before a message is parked in its dead-letter queue.
pub(crate) const MAX_RECEIVE_COUNT: u32 = 3;
/// Longer than the slowest function's timeout, so a message is not handed out twice at once.
pub(crate) const VISIBILITY_TIMEOUT_SECONDS: u32 = 120;

pub const PHASES: [&str; 4] = ["ingest", "enrich", "evaluate", "remediate"];

/// What was created, as the functions' environment.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    pub vars: BTreeMap<String, String>,
    pub rule_name: String,
}

impl Environment {
    /// `KEY=VALUE` lines, sorted.
    pub fn render(&self) -> String {
        self.vars.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
    }
}

pub async fn setup(config: &SdkConfig, prefix: &str) -> Result<Environment, String> {
    let table = format!("{prefix}-state");
    create_table(&aws_sdk_dynamodb::Client::new(config), &table).await?;

    let sqs = aws_sdk_sqs::Client::new(config);
    let mut env = Environment::default();
    env.vars.insert("SOAR_TABLE".into(), table);
    let mut ingest_arn = String::new();
    for phase in PHASES {
        let (url, arn) = create_queue_with_dlq(&sqs, &format!("{prefix}-{phase}")).await?;
        env.vars.insert(format!("SOAR_{}_QUEUE_URL", phase.to_uppercase()), url);
        if phase == "ingest" {
            ingest_arn = arn;
        }
    }
    env.rule_name = format!("{prefix}-guardduty-findings");
    create_rule(&aws_sdk_eventbridge::Client::new(config), &env.rule_name, &ingest_arn).await?;
    if let Some(url) = std::env::var("AWS_ENDPOINT_URL").ok().filter(|u| !u.is_empty()) {
        env.vars.insert("AWS_ENDPOINT_URL".into(), url);
    }
    Ok(env)
}

async fn create_table(client: &aws_sdk_dynamodb::Client, table: &str) -> Result<(), String> {
    let key = |name: &str, kind: KeyType| KeySchemaElement::builder().attribute_name(name).key_type(kind).build();
    let attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
    };
    let created = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("pk", KeyType::Hash).map_err(|e| e.to_string())?)
        .key_schema(key("sk", KeyType::Range).map_err(|e| e.to_string())?)
        .attribute_definitions(attr("pk").map_err(|e| e.to_string())?)
        .attribute_definitions(attr("sk").map_err(|e| e.to_string())?)
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_in_use_exception()) => {}
        Err(e) => return Err(format!("DynamoDB CreateTable {table}: {}", e.into_service_error())),
    }
    client
        .wait_until_table_exists()
        .table_name(table)
        .wait(std::time::Duration::from_secs(60))
        .await
        .map_err(|e| format!("table {table} did not become active: {e}"))?;
    let ttl = TimeToLiveSpecification::builder()
        .attribute_name("expires_at")
        .enabled(true)
        .build()
        .map_err(|e| e.to_string())?;
    if let Err(e) = client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(ttl)
        .send()
        .await
    {
        // Enabling TTL twice is refused with a ValidationException; that is the idempotent case.
        let already = e
            .as_service_error()
            .map(|s| s.to_string())
            .is_some_and(|m| m.contains("already enabled"));
        if !already {
            tracing::warn!(table, error = %e.into_service_error(), "could not enable TTL");
        }
    }
    Ok(())
}

/// Creates (or finds) a queue and its dead-letter queue; returns the queue's URL and ARN.
async fn create_queue_with_dlq(sqs: &aws_sdk_sqs::Client, name: &str) -> Result<(String, String), String> {
    let dlq_url = create_queue(
        sqs,
        &format!("{name}-dlq"),
        &[(QueueAttributeName::MessageRetentionPeriod, "1209600".into())],
    )
    .await?;
    let dlq_arn = SqsQueue::new(sqs.clone(), &dlq_url).arn().await?;
    let redrive = json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT}).to_string();
    let url = create_queue(
        sqs,
        name,
        &[
            (QueueAttributeName::RedrivePolicy, redrive),
            (
                QueueAttributeName::VisibilityTimeout,
                VISIBILITY_TIMEOUT_SECONDS.to_string(),
            ),
        ],
    )
    .await?;
    let arn = SqsQueue::new(sqs.clone(), &url).arn().await?;
    Ok((url, arn))
}

async fn create_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    attributes: &[(QueueAttributeName, String)],
) -> Result<String, String> {
    let mut request = sqs.create_queue().queue_name(name);
    for (k, v) in attributes {
        request = request.attributes(k.clone(), v.clone());
    }
    match request.send().await {
        Ok(out) => Ok(out.queue_url().unwrap_or_default().to_string()),
        // Exists with other attributes (an older setup): keep it, and bring the attributes up to date.
        Err(e) if e.as_service_error().is_some_and(|s| s.is_queue_name_exists()) => {
            let url = sqs
                .get_queue_url()
                .queue_name(name)
                .send()
                .await
                .map_err(|e| format!("SQS GetQueueUrl {name}: {}", e.into_service_error()))?
                .queue_url()
                .unwrap_or_default()
                .to_string();
            let mut update = sqs.set_queue_attributes().queue_url(&url);
            for (k, v) in attributes {
                update = update.attributes(k.clone(), v.clone());
            }
            update
                .send()
                .await
                .map_err(|e| format!("SQS SetQueueAttributes {name}: {}", e.into_service_error()))?;
            Ok(url)
        }
        Err(e) => Err(format!("SQS CreateQueue {name}: {}", e.into_service_error())),
    }
}

async fn create_rule(events: &aws_sdk_eventbridge::Client, name: &str, queue_arn: &str) -> Result<(), String> {
    let pattern = json!({"source": ["aws.guardduty"], "detail-type": ["GuardDuty Finding"]}).to_string();
    events
        .put_rule()
        .name(name)
        .event_pattern(pattern)
        .description("GuardDuty findings to soar's ingest queue")
        .send()
        .await
        .map_err(|e| format!("EventBridge PutRule {name}: {}", e.into_service_error()))?;
    let target = Target::builder()
        .id("soar-ingest")
        .arn(queue_arn)
        .build()
        .map_err(|e| e.to_string())?;
    events
        .put_targets()
        .rule(name)
        .targets(target)
        .send()
        .await
        .map_err(|e| format!("EventBridge PutTargets {name}: {}", e.into_service_error()))?;
    Ok(())
}
