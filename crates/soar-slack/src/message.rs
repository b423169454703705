//! The Block Kit messages of approvals (Slack API, "Block Kit" reference): the question, with
//! the alert, verdict, reasons, the exact action, target and parameters, its dry-run plan and
//! the Approve and Deny buttons; and the answered form, where the outcome replaces the buttons.
//!
//! Every text that comes from a finding is escaped (`&`, `<`, `>`, as Slack's "Formatting text
//! for app surfaces" asks), so a finding cannot forge a link, a mention or a channel-wide ping,
//! and cut to Block Kit's limits (3,000 characters per section, 150 per header).

use serde_json::{Value, json};
use soar_core::approval::ApprovalKey;
use soar_core::pipeline::short;
use soar_core::ports::ApprovalAsk;

/// The Approve button's `action_id`.
pub const APPROVE: &str = "soar_approve";
/// The Deny button's `action_id`.
pub const DENY: &str = "soar_deny";

/// Block Kit's limit on a section's text.
const SECTION_LIMIT: usize = 3000;
/// Block Kit's limit on a header's text.
const HEADER_LIMIT: usize = 150;

/// `text` safe in `mrkdwn`: Slack's three control characters escaped.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// `text` cut to `limit` characters, with an ellipsis when cut.
fn cut(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_string();
    }
    let mut out: String = text.chars().take(limit.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Inline code that the text cannot break out of (backticks would end it).
fn code(text: &str) -> String {
    format!("`{}`", escape(&text.replace('`', "'")))
}

fn section(text: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": cut(text, SECTION_LIMIT)}})
}

/// The question: `(blocks, fallback text)`.
pub fn ask(ask: &ApprovalAsk<'_>) -> (Vec<Value>, String) {
    let (doc, request) = (ask.doc, &ask.record.request);
    let alert = &doc.alert;
    let headline = format!("Approval needed: {} on {}", request.action, ask.record.ledger_target());
    let mut facts = format!(
        "*Alert* {}\n*Type* {} · severity {} · account {} · {}",
        escape(&alert.title),
        code(&alert.kind),
        alert.severity,
        code(&alert.account),
        escape(&alert.region),
    );
    if let Some(v) = &doc.verdict {
        facts.push_str(&format!("\n*Verdict* {} ({})", v.verdict.as_str(), escape(&v.severity)));
        for reason in v.reasons.iter().take(8) {
            facts.push_str(&format!("\n• {}", escape(reason)));
        }
    }
    let params = serde_json::to_string_pretty(&request.params).unwrap_or_default();
    let plan = match ask.plan {
        Value::Array(calls) => calls.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("\n"),
        other => other.to_string(),
    };
    let action = format!(
        "*Action* {} on {} {}\n*Why* {}\n*Parameters*\n```{}```\n*Plan (the calls it makes)*\n```{}```",
        code(&request.action),
        code(request.target.kind.as_str()),
        code(&request.target.id),
        escape(&request.reason),
        escape(&params.replace("```", "'''")),
        escape(&plan.replace("```", "'''")),
    );
    let key = ApprovalKey::of(ask.scope, ask.record, ask.ticket);
    let value = serde_json::to_string(&key).unwrap_or_default();
    let expires = chrono::DateTime::from_timestamp(ask.ticket.expires_at, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default();
    let context = format!(
        "{} · plan {} · expires {expires} · answer elsewhere: `soar approve {} {} {}`",
        code(ask.scope),
        code(&short(&ask.ticket.digest)),
        escape(ask.scope),
        escape(&request.action),
        escape(ask.record.ledger_target()),
    );
    let blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": cut(&headline, HEADER_LIMIT)}}),
        section(&facts),
        section(&action),
        json!({"type": "context", "elements": [{"type": "mrkdwn", "text": cut(&context, SECTION_LIMIT)}]}),
        json!({"type": "actions", "block_id": "soar_approval", "elements": [
            {"type": "button", "action_id": APPROVE, "style": "primary", "value": value,
             "text": {"type": "plain_text", "text": "Approve"},
             "confirm": {"title": {"type": "plain_text", "text": "Carry this out?"},
                         "text": {"type": "mrkdwn", "text": cut(&format!("{} on {} runs once, as planned above.", code(&request.action), code(ask.record.ledger_target())), 300)},
                         "confirm": {"type": "plain_text", "text": "Approve"},
                         "deny": {"type": "plain_text", "text": "Cancel"}}},
            {"type": "button", "action_id": DENY, "style": "danger", "value": value,
             "text": {"type": "plain_text", "text": "Deny"}},
        ]}),
    ];
    (blocks, cut(&headline, HEADER_LIMIT))
}

/// The answered form: what it was about and what became of it, no buttons.
pub fn settled(what: &str, outcome: &str) -> (Vec<Value>, String) {
    let text = format!("{} — {}", what, outcome);
    let blocks = vec![
        section(&format!("*{}*", escape(what))),
        json!({"type": "context", "elements": [{"type": "mrkdwn", "text": cut(&escape(outcome), SECTION_LIMIT)}]}),
    ];
    (blocks, cut(&text, HEADER_LIMIT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finding_text_cannot_forge_links_or_mentions() {
        assert_eq!(
            escape("<!channel> <https://x|click> & co"),
            "&lt;!channel&gt; &lt;https://x|click&gt; &amp; co"
        );
        assert_eq!(code("a`b<c>"), "`a'b&lt;c&gt;`");
        let long = "x".repeat(5000);
        let (blocks, _) = settled(&long, "done");
        assert!(blocks[0]["text"]["text"].as_str().unwrap().chars().count() <= SECTION_LIMIT);
    }
}
