//! How every step asks its policy: the input it sees, the trace entry a decision leaves, and the
//! verdict after a policy error.

use crate::alert::Alert;
use crate::decision::{Policies, PolicyError, decide_typed};
use crate::document::{ActionRecord, Document, Enrichment, Phase, TraceEntry, Verdict, VerdictKind};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::time::Instant;

/// The input every policy sees: the document so far plus `context`, nothing else. The raw
/// payload and the trace stay out: ingest has the payload as `input.raw`, later phases work on
/// the normalised alert, the trace is the record of earlier decisions (not facts to decide on),
/// and every byte of input costs time in every decision.
pub(crate) fn policy_input(doc: &mut Document, context: Value) -> String {
    let raw = std::mem::take(&mut doc.alert.raw);
    let view = PolicyView {
        schema_version: doc.schema_version,
        alert: &doc.alert,
        enrichments: &doc.enrichments,
        verdict: &doc.verdict,
        actions: &doc.actions,
        deferred_since: &doc.deferred_since,
        incident: &doc.incident,
        context: &context,
    };
    // Text, not a `serde_json::Value`: the engine builds its own values from it, and a tree
    // built only to be converted and dropped cost more than the decision (see `make bench`).
    let input = serde_json::to_string(&view).unwrap_or_else(|_| "{}".into());
    doc.alert.raw = raw;
    input
}

/// The document's fields as [`policy_input`] shows them (serialized like the document itself).
#[derive(Serialize)]
struct PolicyView<'a> {
    schema_version: u32,
    alert: &'a Alert,
    enrichments: &'a [Enrichment],
    verdict: &'a Option<Verdict>,
    actions: &'a [ActionRecord],
    #[serde(skip_serializing_if = "Option::is_none")]
    deferred_since: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    incident: &'a Option<crate::incident::IncidentLink>,
    context: &'a Value,
}

/// Evaluates one phase policy and records its footprint.
pub(crate) fn run_policy<T: DeserializeOwned>(
    policies: &dyn Policies,
    phase: Phase,
    input: &str,
) -> (TraceEntry, Result<T, PolicyError>) {
    let started = Instant::now();
    let (raw, typed) = decide_typed::<T>(policies, phase, input);
    let entry = TraceEntry {
        phase,
        revision: policies.revision(phase),
        micros: started.elapsed().as_micros() as u64,
        decision: raw,
        error: typed.as_ref().err().map(ToString::to_string),
        notes: Vec::new(),
    };
    (entry, typed)
}

/// The fallback verdict after a policy error: a human must look, nothing is done automatically.
pub(crate) fn undetermined_after_error(doc: &Document, error: &str) -> Verdict {
    Verdict {
        verdict: VerdictKind::Undetermined,
        severity: doc.alert.severity_label.clone(),
        reasons: vec![format!("policy error, escalated for review: {error}")],
        page: false,
        error: Some(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{Incoming, parse_input};
    use serde_json::json;

    fn guardduty_document() -> Document {
        let finding = json!({
            "id": "f1", "type": "UnauthorizedAccess:EC2/TorClient", "severity": 8, "accountId": "1",
            "region": "eu-west-1", "updatedAt": "2026-11-20T09:00:00Z",
            "resource": {"resourceType": "Instance", "instanceDetails": {"instanceId": "i-1"}},
            "service": {"serviceName": "guardduty", "action": {"networkConnectionAction": {"remoteIpDetails": {"ipAddressV4": "198.51.100.7"}}}}
        });
        match parse_input(finding.to_string().as_bytes()).remove(0).result {
            Ok(Incoming::Normalised(alert)) => Document::new(*alert),
            other => panic!("not a GuardDuty finding: {other:?}"),
        }
    }

    /// The view is written field by field; this keeps it equal to the document's own JSON (minus
    /// the raw payload and the trace) when the document gains a field.
    #[test]
    fn the_policy_input_is_the_document_without_raw_and_trace_plus_context() {
        let mut doc = guardduty_document();
        doc.deferred_since = Some("2026-11-20T09:05:00Z".into());
        doc.verdict = Some(Verdict {
            verdict: VerdictKind::Incident,
            severity: "high".into(),
            reasons: vec!["tor".into()],
            page: true,
            error: None,
        });
        doc.trace.push(TraceEntry {
            phase: Phase::Ingest,
            revision: "r1".into(),
            micros: 3,
            decision: Some(json!({"accept": true})),
            error: None,
            notes: vec!["a note".into()],
        });
        assert!(!doc.alert.raw.is_null());
        let before = doc.clone();

        let input: Value = serde_json::from_str(&policy_input(&mut doc, json!({"phase": "evaluate"}))).unwrap();

        let mut expected = serde_json::to_value(&before).unwrap();
        expected["alert"].as_object_mut().unwrap().remove("raw");
        expected.as_object_mut().unwrap().remove("trace");
        expected["context"] = json!({"phase": "evaluate"});
        assert_eq!(input, expected);
        assert_eq!(doc, before, "the document is given back whole");
    }
}
