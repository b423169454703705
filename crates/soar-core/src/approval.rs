//! Approvals bound to the exact plan: the digest a person approves, the ticket a waiting action
//! carries, and the key a button press names.
//!
//! An action the policy (or the deployment, `SOAR_APPROVAL_REQUIRED_ACTIONS`) marks
//! `requires_approval` waits in the ledger as `pending_approval` with an [`ApprovalTicket`]: the
//! [`plan_digest`] of what would run, when it was asked and when the question expires. Whoever
//! approves (Slack, `soar approve`, the console) names the digest they saw; an approval whose
//! digest is not the one waiting, or that comes after the expiry, does not apply. remediate
//! compares the digest again before it carries an approved action out, so a plan that changed
//! between the press and the execution (a new policy revision, other parameters) is asked again
//! rather than run on an approval given for something else.

use crate::document::ActionRequest;
use crate::document::{ActionRecord, ActionStatus, Document};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// How long a question waits for an answer when the deployment sets nothing
/// (`SOAR_APPROVAL_TTL_SECONDS`): long enough for an on-call responder to be reached, short
/// enough that an approval is not given on a stale picture of the incident.
pub const DEFAULT_APPROVAL_TTL: Duration = Duration::from_secs(2 * 3600);

/// Where a message asking for approval is, to update it with the outcome (Slack's channel id
/// and message `ts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRef {
    pub channel: String,
    pub ts: String,
}

/// What a waiting action carries: the digest of its plan and the question's lifetime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalTicket {
    /// [`plan_digest`]: `sha256:` and 64 hex digits.
    pub digest: String,
    /// RFC 3339 UTC.
    pub asked_at: String,
    /// Unix seconds: after this, the question is answered `expired` and nothing runs.
    pub expires_at: i64,
    /// The message that asked (none when no approval channel is configured, or posting failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<MessageRef>,
    /// The alert whose document asked (of the incident, when the scope is one): the one queued
    /// again once approved.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub alert_id: String,
}

impl ApprovalTicket {
    pub fn new(digest: String, now: chrono::DateTime<chrono::Utc>, ttl: Duration) -> Self {
        ApprovalTicket {
            digest,
            asked_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            expires_at: now.timestamp() + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2),
            message: None,
            alert_id: String::new(),
        }
    }

    pub fn expired(&self, now: i64) -> bool {
        now >= self.expires_at
    }

    /// The ticket of a waiting action, from its record's `detail` (`{"waiting": …, "approval": …}`).
    pub fn of_detail(detail: &Value) -> Option<ApprovalTicket> {
        serde_json::from_value(detail.get("approval")?.clone()).ok()
    }
}

/// The command a person runs to approve, each argument quoted for a POSIX shell: ids come from
/// findings, and a pasted command must not run anything a finding put in them.
pub fn approve_command(scope: &str, action: &str, target: &str) -> String {
    let quote = |arg: &str| {
        let plain = !arg.is_empty()
            && arg
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_./:@%+=,".contains(&b));
        if plain {
            arg.to_string()
        } else {
            format!("'{}'", arg.replace('\'', r"'\''"))
        }
    };
    format!("soar approve {} {} {}", quote(scope), quote(action), quote(target))
}

/// The `detail` of an action parked for approval: what to do and the ticket.
pub fn waiting_detail(how: &str, ticket: &ApprovalTicket) -> Value {
    json!({"waiting": how, "approval": ticket})
}

/// What a person approves, beside the request itself.
#[derive(Debug, Clone, Copy)]
pub struct PlanContext<'a> {
    /// The ledger scope: the alert, or the incident it belongs to, whose ledger the action is
    /// claimed in. The scope rather than the alert id: fifty findings of one incident planning
    /// the same isolation are one question, not fifty.
    pub scope: &'a str,
    /// Where the action runs: the account and region of the alert's resource.
    pub account: &'a str,
    pub region: &'a str,
    /// The AWS calls it makes (`Action::api_calls`), principals and all.
    pub calls: &'a Value,
    /// The remediate policy revision that asked for it.
    pub policy_revision: &'a str,
}

/// The digest of a plan a person approves: SHA-256 over the canonical JSON (keys sorted, no
/// spaces) of the action type, its target, its parameters and everything in [`PlanContext`].
pub fn plan_digest(request: &ActionRequest, context: &PlanContext<'_>) -> String {
    let plan = json!({
        "scope": context.scope,
        "account": context.account,
        "region": context.region,
        "action": request.action,
        "target": {"kind": request.target.kind.as_str(), "id": request.target.id},
        "params": request.params,
        "calls": context.calls,
        "policy_revision": context.policy_revision,
    });
    let mut text = String::new();
    canonical_json(&plan, &mut text);
    format!("sha256:{}", hex_digits(&Sha256::digest(text.as_bytes())))
}

fn hex_digits(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// JSON with object keys in sorted order, whatever order the map kept them in.
fn canonical_json(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical_json(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// What a button (or `soar approve`, or the console's form) names: the ledger entry and the
/// digest of the plan the person saw. Serialised as the Slack button's `value` (JSON, well
/// under Slack's 2,000 characters for any AWS resource id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalKey {
    /// The ledger scope: the alert id, or the incident id (`inc-…`).
    pub scope: String,
    pub action: String,
    /// The ledger target (the request's target id).
    pub target: String,
    pub digest: String,
}

impl ApprovalKey {
    pub fn of(scope: &str, record: &ActionRecord, ticket: &ApprovalTicket) -> Self {
        ApprovalKey {
            scope: scope.to_string(),
            action: record.request.action.clone(),
            target: record.ledger_target().to_string(),
            digest: ticket.digest.clone(),
        }
    }
}

/// Approve or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Approve,
    Deny,
}

impl Answer {
    pub fn as_str(self) -> &'static str {
        match self {
            Answer::Approve => "approve",
            Answer::Deny => "deny",
        }
    }

    /// The ledger status the answer leaves (`approved`, `denied`).
    pub fn status(self) -> &'static str {
        match self {
            Answer::Approve => "approved",
            Answer::Deny => "denied",
        }
    }
}

/// Who answers, as the channel authenticated them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approver {
    /// The identity the policy matches: a Slack user id (`U…`), an AWS principal ARN.
    pub id: String,
    /// For people reading the record (Slack user name, the ARN again).
    pub name: String,
    /// `slack`, `cli` or `console`.
    pub via: String,
    /// The Slack workspace (team id), when via Slack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
}

impl Approver {
    /// How the ledger records the approver: `via:id (name)`.
    pub fn recorded(&self) -> String {
        if self.name.is_empty() || self.name == self.id {
            format!("{}:{}", self.via, self.id)
        } else {
            format!("{}:{} ({})", self.via, self.id, self.name)
        }
    }
}

/// A ledger entry's approval state, as the ledger keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalState {
    /// `pending_approval`, `approved`, `executing`, `executed`, `failed`, `denied`, `expired`, …
    pub status: String,
    pub request: Option<ActionRequest>,
    pub ticket: Option<ApprovalTicket>,
    /// Who approved, denied or expired it (`via:id (name)`; `soar:soar` for an expiry).
    pub decided_by: Option<String>,
    /// The same, whole: remediate asks the approver policy again before it acts on an approval.
    pub approver: Option<Approver>,
}

/// A waiting action the ledger lists for the expiry sweep and the console.
#[derive(Debug, Clone, PartialEq)]
pub struct Waiting {
    pub scope: String,
    pub action: String,
    pub target: String,
    pub ticket: ApprovalTicket,
}

/// The ledger status of an action whose question expired unanswered.
pub const EXPIRED: &str = "expired";

/// Who records an expiry.
pub fn expiry_recorder() -> Approver {
    Approver {
        id: "soar".into(),
        name: "expired unanswered".into(),
        via: "soar".into(),
        team: None,
    }
}

/// Why an answer was not taken; each says what the person can do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{0}")]
    NotWaiting(String),
    #[error(
        "the plan changed since this approval was asked (it named {asked}, the action now waits under {now}): answer the new request"
    )]
    PlanChanged { asked: String, now: String },
    #[error("the request expired at {at} unanswered; nothing was carried out")]
    Expired { at: String },
    #[error("{approver} may not {answer} {action}: {reason}")]
    NotAllowed {
        approver: String,
        answer: &'static str,
        action: String,
        reason: String,
    },
    #[error("the approver policy failed, so no one may answer until it is fixed: {0}")]
    Policy(String),
    #[error("state store: {0}")]
    State(String),
    #[error("the alert could not be queued for remediate again: {0}")]
    Queue(String),
}

/// The waiting record of `doc` for (`action`, ledger `target`), with its ticket.
pub fn waiting_record<'a>(doc: &'a Document, action: &str, target: &str) -> Option<(&'a ActionRecord, ApprovalTicket)> {
    doc.actions
        .iter()
        .filter(|a| a.status == ActionStatus::PendingApproval)
        .filter(|a| a.request.action == action && a.ledger_target() == target)
        .find_map(|a| ApprovalTicket::of_detail(&a.detail).map(|t| (a, t)))
}

/// A malformed entry of `data.soar.config.approvers`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("data.soar.config.{field}: {problem}")]
pub struct ApproversError {
    /// Where the entry is: `approvers[2].account`.
    pub field: String,
    pub problem: String,
}

/// One entry of `data.soar.config.approvers` as the approver policy reads it.
// Some fields are only checked for shape (serde reads them; the policy uses them).
#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApproverEntry {
    #[serde(default)]
    name: Option<String>,
    via: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    team: Option<String>,
    #[serde(default)]
    account: Option<String>,
    #[serde(default)]
    actions: Option<Vec<String>>,
    #[serde(default)]
    answers: Option<Vec<Answer>>,
}

/// Checks `data.soar.config.approvers` (when present): each entry names a known channel and an
/// identity that channel can prove, and only known actions. A typo there would silently let no
/// one (or the wrong people) answer, so it stops start-up instead, naming the entry.
///
/// Errors: [`ApproversError`] at `approvers[i]` or one of its fields.
pub fn check_approvers(config: &Value) -> Result<(), ApproversError> {
    let Some(list) = config.get("approvers") else {
        return Ok(());
    };
    let bad = |field: String, problem: String| ApproversError { field, problem };
    let entries = list
        .as_array()
        .ok_or_else(|| bad("approvers".into(), "is not a list".into()))?;
    for (i, raw) in entries.iter().enumerate() {
        let at = |field: &str| format!("approvers[{i}]{field}");
        let entry: ApproverEntry = serde_json::from_value(raw.clone()).map_err(|e| bad(at(""), e.to_string()))?;
        let nonempty = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        match entry.via.as_str() {
            "slack" if !nonempty(&entry.id) => {
                return Err(bad(at(".id"), "a Slack entry names the user id (U…)".into()));
            }
            "slack" if entry.account.is_some() => {
                return Err(bad(at(".account"), "Slack users have no AWS account: use id".into()));
            }
            "cli" | "console" if !nonempty(&entry.id) && !nonempty(&entry.account) => {
                return Err(bad(at(""), "names neither an id (principal ARN) nor an account".into()));
            }
            "cli" | "console" if entry.team.is_some() => {
                return Err(bad(
                    at(".team"),
                    "team is a Slack workspace; AWS principals have none".into(),
                ));
            }
            "slack" | "cli" | "console" => {}
            other => return Err(bad(at(".via"), format!("{other:?} is not slack, cli or console"))),
        }
        if nonempty(&entry.id) && entry.account.is_some() {
            return Err(bad(
                at(""),
                "names both an id and an account: which one it grants would be unclear".into(),
            ));
        }
        if let Some(account) = &entry.account
            && !(account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(bad(
                at(".account"),
                format!("{account:?} is not a 12-digit AWS account id"),
            ));
        }
        for (j, action) in entry.actions.iter().flatten().enumerate() {
            crate::action::ActionKind::parse(action).map_err(|e| bad(at(&format!(".actions[{j}]")), e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ResourceKind;
    use crate::document::Target;

    fn request(params: Value) -> ActionRequest {
        ActionRequest {
            action: "ec2.isolate".into(),
            target: Target {
                kind: ResourceKind::Instance,
                id: "i-0abc".into(),
            },
            params,
            requires_approval: true,
            reason: "anything".into(),
        }
    }

    #[test]
    fn the_digest_binds_the_whole_plan() {
        let calls = json!(["ec2:StopInstances InstanceIds=[i-0abc]"]);
        let context = PlanContext {
            scope: "a-1",
            account: "111122223333",
            region: "eu-west-1",
            calls: &calls,
            policy_revision: "rev1",
        };
        let params = json!({"b": 1, "a": [1, 2]});
        let base = plan_digest(&request(params.clone()), &context);
        assert!(base.starts_with("sha256:") && base.len() == 7 + 64, "{base}");
        // Key order is not part of the plan.
        let reordered: Value = serde_json::from_str(r#"{"a": [1, 2], "b": 1}"#).unwrap();
        assert_eq!(base, plan_digest(&request(reordered), &context));
        // The reason is prose, not the plan.
        let mut reworded = request(params.clone());
        reworded.reason = "other words".into();
        assert_eq!(base, plan_digest(&reworded, &context));
        let other_calls = json!(["ec2:StopInstances InstanceIds=[i-0def]"]);
        for changed in [
            PlanContext {
                scope: "a-2",
                ..context
            },
            PlanContext {
                account: "444455556666",
                ..context
            },
            PlanContext {
                region: "us-east-1",
                ..context
            },
            PlanContext {
                calls: &other_calls,
                ..context
            },
            PlanContext {
                policy_revision: "rev2",
                ..context
            },
        ] {
            assert_ne!(base, plan_digest(&request(params.clone()), &changed));
        }
        assert_ne!(base, plan_digest(&request(json!({"b": 2, "a": [1, 2]})), &context));
        assert_ne!(base, plan_digest(&request(json!({"b": 1, "a": [2, 1]})), &context));
        let mut other_target = request(params);
        other_target.target.id = "i-0def".into();
        assert_ne!(base, plan_digest(&other_target, &context));
    }

    #[test]
    fn the_approve_command_is_safe_to_paste() {
        assert_eq!(
            approve_command("guardduty/1/eu-west-1/f1", "ec2.stop", "i-0abc"),
            "soar approve guardduty/1/eu-west-1/f1 ec2.stop i-0abc"
        );
        assert_eq!(
            approve_command("a", "s3.block_public_access", "x$(rm -rf ~)`id`;'q'"),
            r"soar approve a s3.block_public_access 'x$(rm -rf ~)`id`;'\''q'\'''"
        );
    }

    #[test]
    fn approver_entries_that_say_nothing_clear_stop_start_up() {
        let check = |entries: Value| check_approvers(&json!({"approvers": entries})).map_err(|e| e.to_string());
        assert_eq!(
            check(json!([{"via": "slack", "id": "U1", "team": "T1"}, {"via": "cli", "account": "123456789012"}])),
            Ok(())
        );
        for (entries, field) in [
            (json!([{"via": "slack"}]), "approvers[0].id"),
            (json!([{"via": "email", "id": "a@b"}]), "approvers[0].via"),
            (json!([{"via": "cli", "account": "1234"}]), "approvers[0].account"),
            (json!([{"via": "console"}]), "approvers[0]"),
            (json!([{"via": "slack", "id": "U1", "actoins": []}]), "approvers[0]"),
            (
                json!([{"via": "slack", "id": "U1"}, {"via": "cli", "id": "arn:x", "actions": ["ec2.nuke"]}]),
                "approvers[1].actions[0]",
            ),
            (
                json!([{"via": "slack", "id": "U1", "answers": ["maybe"]}]),
                "approvers[0]",
            ),
        ] {
            let error = check(entries.clone()).unwrap_err();
            assert!(
                error.starts_with(&format!("data.soar.config.{field}:")),
                "{entries}: {error}"
            );
        }
        assert!(check_approvers(&json!({})).is_ok());
    }

    #[test]
    fn a_ticket_expires_at_its_time_and_reads_back_from_the_detail() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-30T10:00:00Z")
            .unwrap()
            .to_utc();
        let ticket = ApprovalTicket::new("sha256:00".into(), now, Duration::from_secs(60));
        assert!(!ticket.expired(now.timestamp() + 59));
        assert!(ticket.expired(now.timestamp() + 60));
        let detail = waiting_detail("soar approve a-1 ec2.isolate i-0abc", &ticket);
        assert_eq!(ApprovalTicket::of_detail(&detail), Some(ticket));
        assert_eq!(ApprovalTicket::of_detail(&json!("waiting")), None);
    }
}
