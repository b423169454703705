//! The runtime glue every soar function shares, so each `main.rs` only wires:
//!
//! - [`Config`]: the `SOAR_*` environment, with errors that name the variable;
//! - [`init_logging`]: JSON logs for CloudWatch, one `alert` span per alert carrying its id;
//! - [`sqs_batch`]: one SQS batch through a record handler, as a partial batch response;
//! - [`run_sqs`] / [`run_ingest`]: the handlers on `lambda_runtime`;
//! - [`wire`]: each function's parts from its configuration.

pub mod approvals;
mod config;
pub mod functions;
pub mod wire;

pub use config::{
    AWS_ATTEMPT_TIMEOUT, Config, ConfigError, DEFAULT_AWS_ATTEMPT_TIMEOUT, FUNCTION_VARIABLES, LOG_VARIABLE,
    SlackConfig,
};

use crate::functions::{DocumentFunction, IngestFunction, RecordOutcome};
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
pub use soar_core::Phase;
use soar_core::input::{is_sqs_event, parse_value};
use soar_policy::{DEFAULT_TIME_LIMIT, PolicySet};
use std::future::Future;
use std::sync::Arc;

/// JSON lines on stdout (CloudWatch Logs), level from `SOAR_LOG` (default `info`). Fields of the
/// current span (`alert_id`, `phase`) are on every line, so Logs Insights can follow one alert
/// across the four functions with `filter span.alert_id = "..."`.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env(LOG_VARIABLE)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .init();
}

/// What a function's cold start compiles: the bundle of the phase it runs. The contract probe
/// over all four phases ran when this binary was built (soar-lambda's build script refuses to
/// build a function around bundles that fail it), so the cold start repeats only what can
/// differ here: the bundle loads and compiles. A bundle that does not stops the cold start
/// (Lambda reports an init error and the alerts wait in the queue).
pub fn policies_for(phase: Phase) -> Result<Arc<PolicySet>, PolicyProblems> {
    checked(PolicySet::embedded_phases(&[phase], DEFAULT_TIME_LIMIT))
}

fn checked(set: PolicySet) -> Result<Arc<PolicySet>, PolicyProblems> {
    let set = Arc::new(set);
    let problems = set.problems();
    if problems.is_empty() {
        return Ok(set);
    }
    for problem in &problems {
        tracing::error!(%problem, "policy bundle problem");
    }
    Err(PolicyProblems(problems))
}

/// Why the embedded policies cannot run, one problem a line.
#[derive(Debug, thiserror::Error)]
#[error("the built-in policies cannot run:\n{}", .0.join("\n"))]
pub struct PolicyProblems(pub Vec<String>);

/// The guard-rail settings, once per cold start: what this deployment may do.
pub fn log_settings(config: &Config) {
    let allowed = config
        .allowed_actions
        .as_ref()
        .map(|a| a.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(","));
    tracing::info!(
        mode = config.mode.as_str(),
        allowed_actions = allowed.as_deref().unwrap_or("all"),
        max_actions_per_hour = config.max_actions_per_hour,
        responder_role = config.responder_role_name.as_deref().unwrap_or("none"),
        "remediation settings"
    );
}

/// Runs each record of a batch on its own; the response lists the records SQS should deliver
/// again (and, after the queue's `maxReceiveCount`, park in the dead-letter queue).
pub(crate) async fn sqs_batch<F, Fut>(event: SqsEvent, handle: F) -> SqsBatchResponse
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = RecordOutcome>,
{
    let mut response = SqsBatchResponse::default();
    for record in event.records {
        let message_id = record.message_id.unwrap_or_default();
        let outcome = match record.body {
            Some(body) => handle(body).await,
            None => RecordOutcome::Rejected {
                reason: "SQS record without a body".into(),
            },
        };
        log_record(&message_id, &outcome);
        if !outcome.is_done() {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = message_id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

fn log_record(message_id: &str, outcome: &RecordOutcome) {
    match outcome {
        RecordOutcome::Done { alert_id, status } => tracing::debug!(%message_id, %alert_id, %status, "record done"),
        RecordOutcome::Rejected { reason } => {
            tracing::error!(%message_id, %reason, "record rejected: it cannot succeed and goes to the dead-letter queue after its retries")
        }
        RecordOutcome::Retry { reason } => {
            tracing::warn!(%message_id, %reason, "record failed: it will be delivered again")
        }
    }
}

/// One SQS batch of message documents (enrich, evaluate, remediate).
pub async fn handle_documents(function: &DocumentFunction, event: SqsEvent) -> SqsBatchResponse {
    sqs_batch(event, |body| async move { function.handle_body(&body).await }).await
}

/// enrich, evaluate, remediate: SQS batches of message documents.
pub async fn run_sqs(function: DocumentFunction) -> Result<(), Error> {
    let function = &function;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(handle_documents(function, event.payload).await)
    }))
    .await
}

/// ingest: an EventBridge event invoked directly by a rule, an SNS event from a topic it is
/// subscribed to, or an SQS batch from the fan-in queue. One rule says what an SQS event is ([`soar_core::input::is_sqs_event`], which
/// [`soar_core::input::parse_value`] follows too): an SQS event gives one input per record,
/// answered as a partial batch response.
pub async fn handle_ingest(function: &IngestFunction, payload: Value) -> Result<Value, Error> {
    let batch = is_sqs_event(&payload);
    let mut parsed = parse_value(payload);
    if batch {
        let mut response = SqsBatchResponse::default();
        for record in parsed {
            let message_id = record.message_id.unwrap_or_default();
            let outcome = function.handle_parsed(record.result).await;
            log_record(&message_id, &outcome);
            // A message that carries several alerts is failed once, whichever of them failed.
            if !outcome.is_done()
                && !response
                    .batch_item_failures
                    .iter()
                    .any(|f| f.item_identifier == message_id)
            {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = message_id;
                response.batch_item_failures.push(failure);
            }
        }
        return Ok(serde_json::to_value(response)?);
    }
    // An EventBridge event or an SNS event: one alert, or one per finding or SNS record.
    let mut outcomes = Vec::new();
    for input in parsed.drain(..) {
        outcomes.push(function.handle_parsed(input.result).await);
    }
    // A direct invoke is retried by Lambda only on error: errors are for what a retry can fix
    // (the alerts already done are duplicates on the retry).
    if let Some(RecordOutcome::Retry { reason }) = outcomes.iter().find(|o| matches!(o, RecordOutcome::Retry { .. })) {
        return Err(reason.clone().into());
    }
    Ok(match outcomes.len() {
        1 => outcomes[0].to_json(),
        _ => Value::Array(outcomes.iter().map(RecordOutcome::to_json).collect()),
    })
}

pub async fn run_ingest(function: IngestFunction) -> Result<(), Error> {
    let function = &function;
    // Read so that a key repeated in the event keeps every value (see soar_core::json).
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<soar_core::json::KeepDuplicates>| async move {
            handle_ingest(function, event.payload.0).await
        },
    ))
    .await
}

/// approvals: Function URL requests (Slack's presses) and the schedule's sweep events.
pub async fn run_approvals(function: approvals::ApprovalsFunction) -> Result<(), Error> {
    let function = &function;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        Ok::<_, Error>(function.handle(event.payload).await)
    }))
    .await
}
