//! The Block Kit messages of approvals (Slack API, "Block Kit" reference): the question, with
//! the alert, verdict, reasons, the exact action, target and parameters, its dry-run plan and
//! the Approve and Deny buttons; and the answered form, where the outcome replaces the buttons.
//!
//! Every text that comes from a finding is escaped (`&`, `<`, `>`, as Slack's "Formatting text
//! for app surfaces" asks), so a finding cannot forge a link, a mention or a channel-wide ping,
//! and cut to Block Kit's limits (3,000 characters per section, 150 per header).

use serde_json::{Value, json};
use soar_core::approval::{ApprovalKey, approve_command};
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

/// A `mrkdwn` section, `verbatim` so that Slack turns nothing in it into a link or a mention.
fn section(text: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": cut(text, SECTION_LIMIT), "verbatim": true}})
}

fn context(text: &str) -> Value {
    json!({"type": "context", "elements": [{"type": "mrkdwn", "text": cut(text, SECTION_LIMIT), "verbatim": true}]})
}

/// A preformatted block of `text` that nothing in it can close (backticks become quotes).
fn preformatted(title: &str, text: &str) -> String {
    format!("*{title}*\n```{}```", escape(&text.replace('`', "'")))
}

/// Slack's limit on a button's `value`.
const VALUE_LIMIT: usize = 2000;

/// The question: `(blocks, fallback text)`. The Approve button is left out when the plan does
/// not fit the message whole (or its key does not fit a button): no one approves what they could
/// not see; `soar approve` and the console still can.
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
    let action = format!(
        "*Action* {} on {} {}\n*Why* {}",
        code(&request.action),
        code(request.target.kind.as_str()),
        code(&request.target.id),
        escape(&request.reason),
    );
    let params = preformatted(
        "Parameters",
        &serde_json::to_string_pretty(&request.params).unwrap_or_default(),
    );
    let calls = match ask.plan {
        Value::Array(calls) => calls.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("\n"),
        other => other.to_string(),
    };
    let plan = preformatted("Plan (the calls it makes)", &calls);
    let key = ApprovalKey::of(ask.scope, ask.record, ask.ticket);
    let value = serde_json::to_string(&key).unwrap_or_default();
    let whole = [&params, &plan].iter().all(|t| t.chars().count() <= SECTION_LIMIT) && value.len() <= VALUE_LIMIT;
    let expires = chrono::DateTime::from_timestamp(ask.ticket.expires_at, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default();
    let command = approve_command(ask.scope, &request.action, ask.record.ledger_target());
    let mut footer = format!(
        "{} · plan {} · expires {expires} · or: {}",
        code(ask.scope),
        code(&short(&ask.ticket.digest)),
        code(&command),
    );
    if !whole {
        footer.push_str(" · the plan is too long for this message: read it with `soar alerts show` or the console, and approve there");
    }
    let mut buttons = Vec::new();
    if whole {
        buttons.push(json!({"type": "button", "action_id": APPROVE, "style": "primary", "value": value,
            "text": {"type": "plain_text", "text": "Approve"},
            "confirm": {"title": {"type": "plain_text", "text": "Carry this out?"},
                        "text": {"type": "plain_text", "text": cut(&format!("{} on {} runs once, as planned above.", request.action, ask.record.ledger_target()), 300)},
                        "confirm": {"type": "plain_text", "text": "Approve"},
                        "deny": {"type": "plain_text", "text": "Cancel"}}}));
    }
    if value.len() <= VALUE_LIMIT {
        buttons.push(
            json!({"type": "button", "action_id": DENY, "style": "danger", "value": value,
            "text": {"type": "plain_text", "text": "Deny"}}),
        );
    }
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": cut(&headline, HEADER_LIMIT)}}),
        section(&facts),
        section(&action),
        section(&params),
        section(&plan),
        context(&footer),
    ];
    if !buttons.is_empty() {
        blocks.push(json!({"type": "actions", "block_id": "soar_approval", "elements": buttons}));
    }
    (blocks, escape(&cut(&headline, HEADER_LIMIT)))
}

/// The answered form: what it was about and what became of it, no buttons.
pub fn settled(what: &str, outcome: &str) -> (Vec<Value>, String) {
    let text = format!("{} — {}", what, outcome);
    let blocks = vec![section(&format!("*{}*", escape(what))), context(&escape(outcome))];
    (blocks, escape(&cut(&text, HEADER_LIMIT)))
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
