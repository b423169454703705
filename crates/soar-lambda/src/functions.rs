//! The phase functions as the Lambda runtime drives them, without the runtime: one SQS record (or
//! one EventBridge event) in, an outcome out. The Lambda crates only wire these to
//! `lambda_runtime` and the AWS adapters, so the whole record-level behaviour is testable here.
//!
//! Outcomes decide what SQS does with a record: `Done` deletes it; `Rejected` (can never succeed:
//! malformed, not an alert) and `Retry` (a dependency failed) are reported as batch item failures,
//! so the record is retried and, after the queue's `maxReceiveCount`, parked in the dead-letter
//! queue instead of being retried forever.

use serde_json::{Value, json};
use soar_core::document::{Document, SCHEMA_VERSION, Serialized};
use soar_core::input::{Incoming, InputError, parse_body};
use soar_core::pipeline::{IngestStatus, Ingestor, PhaseStep, Stepped, run_step};
use soar_core::ports::{AlertLog, Forwarder};
use std::sync::Arc;
use tracing::Instrument;

#[derive(Debug, Clone, PartialEq)]
pub enum RecordOutcome {
    /// Processed (accepted and handed on, or suppressed): delete the message.
    Done { alert_id: String, status: String },
    /// Can never succeed; reported so the queue parks it in the dead-letter queue.
    Rejected { reason: String },
    /// A dependency failed; deliver again later.
    Retry { reason: String },
}

impl RecordOutcome {
    pub fn is_done(&self) -> bool {
        matches!(self, RecordOutcome::Done { .. })
    }

    /// One outcome for a message that carried several alerts: `Retry` when any must be retried
    /// (the alerts already done are duplicates when it comes back), else `Rejected` when any
    /// was rejected (the message goes to the dead-letter queue, where a person reads it), else
    /// the first alert's `Done`.
    pub fn worst(outcomes: Vec<RecordOutcome>) -> RecordOutcome {
        let rank = |o: &RecordOutcome| match o {
            RecordOutcome::Retry { .. } => 0,
            RecordOutcome::Rejected { .. } => 1,
            RecordOutcome::Done { .. } => 2,
        };
        outcomes
            .into_iter()
            .enumerate()
            .min_by_key(|(i, o)| (rank(o), *i))
            .map(|(_, o)| o)
            .unwrap_or_else(|| RecordOutcome::Rejected {
                reason: "the message carries no alert".into(),
            })
    }

    pub fn to_json(&self) -> Value {
        match self {
            RecordOutcome::Done { alert_id, status } => json!({"status": status, "alert_id": alert_id}),
            RecordOutcome::Rejected { reason } => json!({"status": "rejected", "error": reason}),
            RecordOutcome::Retry { reason } => json!({"status": "retry", "error": reason}),
        }
    }
}

/// The ingest function: an EventBridge event or one record body of the fan-in queue.
pub struct IngestFunction {
    pub ingestor: Ingestor,
    pub next: Arc<dyn Forwarder>,
}

impl IngestFunction {
    /// One recognised input ([`soar_core::input::parse_value`] gives one per SQS record): the
    /// ingest step (which keeps an accepted alert), then the hand-over to enrich.
    pub async fn handle_parsed(&self, parsed: Result<Incoming, InputError>) -> RecordOutcome {
        let incoming = match parsed {
            Ok(incoming) => incoming,
            Err(e) => {
                tracing::warn!(error = %e, "input rejected");
                return RecordOutcome::Rejected { reason: e.to_string() };
            }
        };
        let outcome = self.ingestor.ingest(incoming).await;
        let Some(doc) = outcome.document else {
            let reason = outcome.error.unwrap_or(outcome.reason);
            return match outcome.status {
                IngestStatus::Failed => RecordOutcome::Retry { reason },
                IngestStatus::Suppressed => RecordOutcome::Done {
                    alert_id: String::new(),
                    status: "suppressed".into(),
                },
                _ => {
                    tracing::warn!(error = %reason, "alert rejected");
                    RecordOutcome::Rejected { reason }
                }
            };
        };
        let span = tracing::info_span!("alert", alert_id = %doc.alert.id, phase = "ingest");
        async {
            tracing::info!(status = outcome.status.as_str(), reason = %outcome.reason, "ingested");
            if outcome.status == IngestStatus::Accepted
                && let Some(json) = &outcome.json
            {
                if let Err(e) = self.next.forward(&Serialized::of(&doc, json)).await {
                    return RecordOutcome::Retry { reason: e.to_string() };
                }
                self.ingestor.handed_on(&doc).await;
            }
            RecordOutcome::Done {
                alert_id: doc.alert.id.clone(),
                status: outcome.status.as_str().into(),
            }
        }
        .instrument(span)
        .await
    }

    /// One SQS record body (as the fan-in queue delivers it): one alert, or several when it
    /// carries a Security Hub event; never another SQS event ([`soar_core::input::parse_body`]).
    /// The record's outcome is the worst of its alerts' ([`RecordOutcome::worst`]).
    pub async fn handle_body(&self, body: &str) -> RecordOutcome {
        let mut outcomes = Vec::new();
        for parsed in parse_body(body) {
            outcomes.push(self.handle_parsed(parsed.result).await);
        }
        RecordOutcome::worst(outcomes)
    }
}

/// enrich, evaluate and remediate: a message document in, the grown document out (to `next`).
pub struct DocumentFunction {
    pub step: Box<dyn PhaseStep>,
    /// Where the grown document is kept.
    pub alerts: Arc<dyn AlertLog>,
    /// The next phase's queue; `None` for remediate, the last phase.
    pub next: Option<Arc<dyn Forwarder>>,
    /// This function's own queue, for enrichment deferred until a provider's quota frees up.
    pub retry_later: Option<Arc<dyn Forwarder>>,
}

impl DocumentFunction {
    pub async fn handle_body(&self, body: &str) -> RecordOutcome {
        let phase = self.step.phase();
        let mut doc: Document = match serde_json::from_str(body) {
            Ok(doc) => doc,
            Err(e) => {
                let reason = format!("not a soar message document: {e}");
                tracing::warn!(%phase, error = %reason, "record rejected");
                return RecordOutcome::Rejected { reason };
            }
        };
        if doc.schema_version != SCHEMA_VERSION {
            return RecordOutcome::Rejected {
                reason: format!(
                    "schema_version {} is not supported (expected {SCHEMA_VERSION})",
                    doc.schema_version
                ),
            };
        }
        let span = tracing::info_span!("alert", alert_id = %doc.alert.id, phase = phase.as_str());
        self.handle_document(&mut doc).instrument(span).await
    }

    async fn handle_document(&self, doc: &mut Document) -> RecordOutcome {
        let may_defer = self.retry_later.is_some();
        let json = match run_step(self.step.as_ref(), self.alerts.as_ref(), doc, may_defer).await {
            Err(e) => return RecordOutcome::Retry { reason: e.to_string() },
            Ok(Stepped::Deferred { delay, reason }) => {
                // A delayed copy replaces this message (which is then deleted): deferral does not
                // use up the receive count that leads to the dead-letter queue. Without a queue to
                // put it on, the message itself comes back.
                let Some(queue) = &self.retry_later else {
                    return RecordOutcome::Retry { reason };
                };
                let forwarded = match Serialized::text(doc) {
                    Ok(json) => queue.forward_after(&Serialized::of(doc, &json), delay).await,
                    Err(e) => return RecordOutcome::Retry { reason: e.to_string() },
                };
                if let Err(e) = forwarded {
                    return RecordOutcome::Retry { reason: e.to_string() };
                }
                tracing::info!(%reason, delay_s = delay.as_secs(), "enrichment deferred");
                return RecordOutcome::Done {
                    alert_id: doc.alert.id.clone(),
                    status: "deferred".into(),
                };
            }
            Ok(Stepped::Done { json }) => json,
        };
        if let Some(next) = &self.next
            && let Err(e) = next.forward(&Serialized::of(doc, &json)).await
        {
            return RecordOutcome::Retry { reason: e.to_string() };
        }
        let status = doc.verdict.as_ref().map_or("done", |v| v.verdict.as_str());
        tracing::info!(status, actions = doc.actions.len(), "phase done");
        RecordOutcome::Done {
            alert_id: doc.alert.id.clone(),
            status: status.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use soar_core::decision::{Policies, PolicyError};
    use soar_core::document::Phase;
    use soar_core::input::parse_input;
    use soar_core::pipeline::{Parts, Pipeline};
    use soar_core::ports::ForwardError;
    use soar_offline::memory::MemoryState;
    use std::sync::Mutex;

    struct AcceptAll;
    impl Policies for AcceptAll {
        fn revision(&self, _: Phase) -> String {
            "test".into()
        }
        fn decide(&self, phase: Phase, _: &Value) -> Result<Value, PolicyError> {
            match phase {
                Phase::Ingest => Ok(json!({"accept": true})),
                Phase::Enrich => Ok(json!({"lookups": []})),
                Phase::Evaluate => Ok(json!({"verdict": "undetermined", "severity": "low"})),
                Phase::Remediate => Ok(json!({"actions": []})),
            }
        }
    }

    #[derive(Default)]
    struct Queue {
        sent: Mutex<Vec<String>>,
        delayed: Mutex<Vec<(String, std::time::Duration)>>,
        broken: bool,
    }
    #[async_trait]
    impl Forwarder for Queue {
        async fn forward(&self, doc: &Serialized<'_>) -> Result<(), ForwardError> {
            if self.broken {
                return Err(ForwardError("queue down".into()));
            }
            self.sent.lock().unwrap().push(doc.json.to_string());
            Ok(())
        }
        async fn forward_after(&self, doc: &Serialized<'_>, delay: std::time::Duration) -> Result<(), ForwardError> {
            self.delayed.lock().unwrap().push((doc.json.to_string(), delay));
            Ok(())
        }
    }

    fn ingest_function(queue: Arc<Queue>) -> IngestFunction {
        let (parts, _state): (Parts, Arc<MemoryState>) =
            soar_offline::in_memory_parts(Arc::new(AcceptAll), Default::default());
        let pipeline = Pipeline::new(parts);
        IngestFunction {
            ingestor: pipeline.ingestor,
            next: queue,
        }
    }

    const FINDING: &str =
        r#"{"id": "f1", "type": "Recon:EC2/Portscan", "severity": 2, "service": {"serviceName": "guardduty"}}"#;

    #[tokio::test]
    async fn good_records_are_forwarded_bad_ones_rejected_duplicates_done() {
        let queue = Arc::new(Queue::default());
        let f = ingest_function(queue.clone());
        assert!(f.handle_body(FINDING).await.is_done());
        assert!(matches!(f.handle_body("{oops").await, RecordOutcome::Rejected { .. }));
        let again = f.handle_body(FINDING).await;
        assert_eq!(
            again,
            RecordOutcome::Done {
                alert_id: "guardduty///f1".into(),
                status: "suppressed".into()
            }
        );
        assert_eq!(queue.sent.lock().unwrap().len(), 1, "the duplicate is not forwarded");
    }

    /// The payload's shape is decided by one rule: a body that is itself an SQS event is refused
    /// whether it arrives in a batch or as one record body, and the batch names the record.
    #[tokio::test]
    async fn a_record_body_that_is_an_sqs_event_is_refused_on_every_path() {
        let queue = Arc::new(Queue::default());
        let f = ingest_function(queue.clone());
        let inner = json!({"Records": [{"messageId": "inner", "body": FINDING}]}).to_string();
        assert!(
            matches!(f.handle_body(&inner).await, RecordOutcome::Rejected { reason } if reason.contains("another SQS event"))
        );
        let batch = json!({"Records": [
            {"messageId": "m1", "eventSource": "aws:sqs", "body": inner},
            {"messageId": "m2", "eventSource": "aws:sqs", "body": FINDING}
        ]});
        let response = crate::handle_ingest(&f, batch).await.unwrap();
        assert_eq!(response["batchItemFailures"], json!([{"itemIdentifier": "m1"}]));
        assert_eq!(queue.sent.lock().unwrap().len(), 1, "the good record goes on");
    }

    #[tokio::test]
    async fn a_failing_queue_means_retry() {
        let f = ingest_function(Arc::new(Queue {
            broken: true,
            ..Queue::default()
        }));
        assert!(matches!(f.handle_body(FINDING).await, RecordOutcome::Retry { .. }));
    }

    #[tokio::test]
    async fn document_functions_reject_what_is_not_a_document() {
        let (parts, state) = soar_offline::in_memory_parts(Arc::new(AcceptAll), Default::default());
        let pipeline = Pipeline::new(parts);
        let queue = Arc::new(Queue::default());
        let f = DocumentFunction {
            step: Box::new(pipeline.evaluator),
            alerts: state,
            next: Some(queue.clone()),
            retry_later: None,
        };
        assert!(matches!(f.handle_body("[]").await, RecordOutcome::Rejected { .. }));
        let incoming = parse_input(FINDING.as_bytes()).remove(0).result.unwrap();
        let Incoming::Normalised(alert) = incoming else {
            unreachable!()
        };
        let mut doc = Document::new(*alert);
        doc.schema_version = 99;
        assert!(matches!(
            f.handle_body(&serde_json::to_string(&doc).unwrap()).await,
            RecordOutcome::Rejected { .. }
        ));
        doc.schema_version = SCHEMA_VERSION;
        let out = f.handle_body(&serde_json::to_string(&doc).unwrap()).await;
        assert_eq!(
            out,
            RecordOutcome::Done {
                alert_id: "guardduty///f1".into(),
                status: "undetermined".into()
            }
        );
        let forwarded: Document = serde_json::from_str(&queue.sent.lock().unwrap()[0]).unwrap();
        assert_eq!(forwarded.trace.last().unwrap().phase, Phase::Evaluate);
    }

    /// Asks `intel` about every indicator; undetermined whatever it hears.
    struct LookAll;
    impl Policies for LookAll {
        fn revision(&self, _: Phase) -> String {
            "test".into()
        }
        fn decide(&self, phase: Phase, input: &Value) -> Result<Value, PolicyError> {
            match phase {
                Phase::Enrich => Ok(
                    json!({"lookups": input["alert"]["indicators"].as_array().unwrap().iter()
                    .map(|i| json!({"provider": "intel", "indicator": {"type": i["type"], "value": i["value"]}}))
                    .collect::<Vec<_>>()}),
                ),
                other => AcceptAll.decide(other, input),
            }
        }
    }

    fn document_with_ip(id: &str, ip: &str) -> Document {
        let Ok(Incoming::Normalised(mut alert)) = parse_input(FINDING.as_bytes()).remove(0).result else {
            unreachable!()
        };
        alert.id = id.into();
        alert.indicators = vec![soar_core::alert::Indicator::new(
            soar_core::alert::IndicatorKind::Ip,
            ip,
            "test",
            "remote",
        )];
        Document::new(*alert)
    }

    #[tokio::test]
    async fn a_full_provider_quota_defers_the_alert_then_lets_it_go_on_without() {
        use soar_core::ports::RateWindow;
        let intel = soar_offline::memory::CannedProvider::new("intel", &[soar_core::alert::IndicatorKind::Ip])
            .with_rate_limit(RateWindow {
                requests: 1,
                seconds: 3600,
            });
        let (mut parts, state) = soar_offline::in_memory_parts(Arc::new(LookAll), Default::default());
        parts.providers = vec![Arc::new(intel)];
        let pipeline = Pipeline::new(parts);
        let (next, own) = (Arc::new(Queue::default()), Arc::new(Queue::default()));
        let f = DocumentFunction {
            step: Box::new(pipeline.enricher),
            alerts: state,
            next: Some(next.clone()),
            retry_later: Some(own.clone()),
        };
        let body = |d: &Document| serde_json::to_string(d).unwrap();

        assert!(
            f.handle_body(&body(&document_with_ip("a", "198.51.100.1")))
                .await
                .is_done()
        );
        assert_eq!(next.sent.lock().unwrap().len(), 1);

        let out = f.handle_body(&body(&document_with_ip("b", "198.51.100.2"))).await;
        assert_eq!(
            out,
            RecordOutcome::Done {
                alert_id: "b".into(),
                status: "deferred".into()
            }
        );
        assert_eq!(next.sent.lock().unwrap().len(), 1, "not handed on yet");
        let (deferred, delay) = own.delayed.lock().unwrap()[0].clone();
        assert!(delay > std::time::Duration::ZERO && delay <= std::time::Duration::from_secs(900));
        let mut deferred: Document = serde_json::from_str(&deferred).unwrap();
        assert!(deferred.deferred_since.is_some());
        assert!(
            deferred.enrichments.is_empty() && deferred.trace.is_empty(),
            "unchanged but for the mark"
        );

        // Still within max_deferral: deferred again. Past it: goes on without the lookup, and says so.
        assert_eq!(f.handle_body(&body(&deferred)).await.to_json()["status"], "deferred");
        deferred.deferred_since = Some("2020-01-01T00:00:00.000Z".into());
        assert_eq!(f.handle_body(&body(&deferred)).await.to_json()["status"], "done");
        let handed_on: Document = serde_json::from_str(&next.sent.lock().unwrap()[1]).unwrap();
        let notes = &handed_on.trace.last().unwrap().notes;
        assert!(
            notes
                .iter()
                .any(|n| n.contains("`intel` rate limit reached (1 per 3600s")
                    && n.contains("deferred since 2020-01-01T00:00:00.000Z, going on without it")),
            "{notes:?}"
        );
        assert!(handed_on.enrichments.iter().all(|e| e.provider != "intel"));
    }
}
