//! What a write-back says (`securityhub.update_finding`, `guardduty.feedback`): Rust writes it
//! from the document, so that the finding's note states the verdict as soar reached it, whatever
//! the policy's parameters add.

use crate::action::{Action, NOTE_LIMIT, Summary};
use crate::alert::Alert;
use crate::document::{ActionStatus, Document, TraceEntry};
use crate::verdict::VerdictKind;

/// Why Rust does not write this back, whatever the policy says, if it does not:
/// - a person triaged the finding in Security Hub (its delivered `Workflow.Status` is not
///   `NEW`): their triage is not overridden;
/// - the write would hide a finding (archive it, or resolve or suppress it) that soar cannot
///   confirm at its source first: only GuardDuty's findings can be (ListFindings on their id,
///   account and type), another product's stays in sight.
pub(crate) fn refusal(alert: &Alert, action: &Action) -> Option<(ActionStatus, String)> {
    let finding = alert.finding.as_ref()?;
    if let Action::SecurityHubUpdateFinding { .. } = action
        && let Some(status) = finding
            .workflow_status
            .as_deref()
            .filter(|s| !s.trim().eq_ignore_ascii_case("NEW"))
    {
        return Some((
            ActionStatus::SkippedProtected,
            format!("a person set Workflow.Status {status} in Security Hub: soar does not override their triage"),
        ));
    }
    if action.hides_finding() && finding.detector_id.is_none() {
        return Some((
            ActionStatus::SkippedInvalidTarget,
            format!(
                "soar archives, resolves or suppresses only findings it confirms at their source first (GuardDuty's): this finding of {} stays in sight",
                finding.product_arn
            ),
        ));
    }
    None
}

/// `action` with its [`Summary`] filled in from `doc` (and `current`, the remediate decision
/// being carried out); other actions unchanged.
pub(crate) fn summarised(doc: &Document, action: Action, current: &TraceEntry) -> Action {
    match action {
        Action::SecurityHubUpdateFinding {
            workflow_status, note, ..
        } => {
            let summary = summary(doc, current, note.as_deref());
            Action::SecurityHubUpdateFinding {
                workflow_status,
                note,
                summary,
            }
        }
        Action::GuardDutyFeedback { feedback, comments, .. } => {
            let summary = match comments.as_deref() {
                Some(given) => Summary {
                    text: limited(&one_line(given)),
                    verification_state: None,
                },
                None => summary(doc, current, None),
            };
            Action::GuardDutyFeedback {
                feedback,
                comments,
                summary,
            }
        }
        other => other,
    }
}

/// One line, at most [`NOTE_LIMIT`] characters: the verdict and its severity, the incident, this
/// alert's actions so far with their outcome, the policy revision of each phase, then `note`.
/// Example: `soar: incident (high). Incident inc-… (3 alerts). Actions: ec2.isolate i-0abc
/// executed; notify security-oncall executed. Policies: ingest 1a2b, …, remediate 9f8e.`
fn summary(doc: &Document, current: &TraceEntry, note: Option<&str>) -> Summary {
    let verdict = doc.verdict.as_ref();
    let kind = verdict.map_or(VerdictKind::Undetermined, |v| v.verdict);
    let mut parts = vec![format!(
        "soar: {} ({})",
        kind.as_str(),
        verdict.map_or("unknown", |v| v.severity.as_str())
    )];
    if let Some(incident) = &doc.incident {
        parts.push(format!("Incident {} ({} alerts)", incident.id, incident.alerts));
    }
    let actions: Vec<String> = doc
        .actions
        .iter()
        .map(|a| format!("{} {} {}", a.request.action, a.request.target.id, a.status.as_str()))
        .collect();
    parts.push(if actions.is_empty() {
        "Actions: none before this".to_string()
    } else {
        format!("Actions: {}", actions.join("; "))
    });
    // The last decision of each phase (enrich may decide several rounds).
    let mut revisions: Vec<(String, String)> = Vec::new();
    for entry in doc.trace.iter().chain(std::iter::once(current)) {
        let phase = entry.phase.to_string();
        revisions.retain(|(p, _)| *p != phase);
        revisions.push((phase, entry.revision.clone()));
    }
    let revisions: Vec<String> = revisions.iter().map(|(p, r)| format!("{p} {r}")).collect();
    parts.push(format!("Policies: {}", revisions.join(", ")));
    if let Some(note) = note.map(str::trim).filter(|n| !n.is_empty()) {
        parts.push(note.to_string());
    }
    Summary {
        text: limited(&one_line(&format!("{}.", parts.join(". ")))),
        verification_state: match kind {
            VerdictKind::Incident => Some("TRUE_POSITIVE"),
            VerdictKind::FalsePositive => Some("FALSE_POSITIVE"),
            VerdictKind::Undetermined => None,
        },
    }
}

/// Control characters (line breaks included) become spaces: a note is one line.
fn one_line(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// The first [`NOTE_LIMIT`] characters, the last one `…` when text was cut.
fn limited(text: &str) -> String {
    if text.chars().count() <= NOTE_LIMIT {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(NOTE_LIMIT - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::WorkflowStatus;
    use crate::document::{ActionRecord, ActionRequest, ActionStatus, Mode, Phase, Target, Verdict};
    use crate::input::{Incoming, parse_input};
    use serde_json::json;

    fn document() -> Document {
        let finding = json!({
            "id": "f1", "type": "UnauthorizedAccess:EC2/TorClient", "severity": 8, "accountId": "111122223333",
            "region": "eu-west-1", "arn": "arn:aws:guardduty:eu-west-1:111122223333:detector/d1/finding/f1",
            "resource": {"resourceType": "Instance", "instanceDetails": {"instanceId": "i-1"}},
            "service": {"serviceName": "guardduty"},
        });
        let alert = match parse_input(finding.to_string().as_bytes()).remove(0).result {
            Ok(Incoming::Normalised(alert)) => alert,
            other => panic!("not a finding: {other:?}"),
        };
        let mut doc = Document::new(*alert);
        doc.verdict = Some(Verdict {
            verdict: VerdictKind::Incident,
            severity: "high".into(),
            reasons: vec!["tor".into()],
            page: true,
            error: None,
        });
        for (phase, revision) in [
            (Phase::Ingest, "r-in"),
            (Phase::Enrich, "r-en1"),
            (Phase::Enrich, "r-en2"),
        ] {
            doc.trace.push(entry(phase, revision));
        }
        doc.actions.push(ActionRecord {
            request: ActionRequest {
                action: "ec2.isolate".into(),
                target: Target {
                    kind: crate::alert::ResourceKind::Instance,
                    id: "i-1".into(),
                },
                params: json!({}),
                requires_approval: false,
                reason: String::new(),
            },
            mode: Mode::Enforce,
            status: ActionStatus::Executed,
            detail: json!({}),
            ledger_target: None,
        });
        doc
    }

    fn entry(phase: Phase, revision: &str) -> TraceEntry {
        TraceEntry {
            phase,
            revision: revision.into(),
            micros: 0,
            decision: None,
            error: None,
            notes: Vec::new(),
        }
    }

    fn text_of(action: &Action) -> &Summary {
        match action {
            Action::SecurityHubUpdateFinding { summary, .. } | Action::GuardDutyFeedback { summary, .. } => summary,
            _ => panic!("not a write-back"),
        }
    }

    #[test]
    fn the_note_states_verdict_actions_and_revisions_and_the_policy_only_adds_to_it() {
        let doc = document();
        let action = Action::SecurityHubUpdateFinding {
            workflow_status: WorkflowStatus::Notified,
            note: Some("see the runbook\nsecond line".into()),
            summary: Summary::default(),
        };
        let done = summarised(&doc, action, &entry(Phase::Remediate, "r-re"));
        let summary = text_of(&done);
        assert_eq!(
            summary.text,
            "soar: incident (high). Actions: ec2.isolate i-1 executed. Policies: ingest r-in, enrich r-en2, remediate r-re. see the runbook second line."
        );
        assert_eq!(summary.verification_state, Some("TRUE_POSITIVE"));
    }

    #[test]
    fn a_long_note_is_cut_to_security_hubs_limit() {
        let doc = document();
        let action = Action::SecurityHubUpdateFinding {
            workflow_status: WorkflowStatus::Notified,
            note: Some("é".repeat(2000)),
            summary: Summary::default(),
        };
        let done = summarised(&doc, action, &entry(Phase::Remediate, "r"));
        let text = &text_of(&done).text;
        assert_eq!(text.chars().count(), NOTE_LIMIT);
        assert!(text.ends_with('…'));
    }

    #[test]
    fn feedback_comments_given_by_the_policy_replace_the_summary() {
        let mut doc = document();
        doc.verdict.as_mut().unwrap().verdict = VerdictKind::FalsePositive;
        let given = Action::GuardDutyFeedback {
            feedback: crate::action::Feedback::NotUseful,
            comments: Some("authorized scanner".into()),
            summary: Summary::default(),
        };
        let done = summarised(&doc, given, &entry(Phase::Remediate, "r"));
        assert_eq!(text_of(&done).text, "authorized scanner");
        let written = Action::GuardDutyFeedback {
            feedback: crate::action::Feedback::NotUseful,
            comments: None,
            summary: Summary::default(),
        };
        let done = summarised(&doc, written, &entry(Phase::Remediate, "r"));
        assert!(
            text_of(&done).text.starts_with("soar: false_positive (high)."),
            "{done:?}"
        );
    }
}
