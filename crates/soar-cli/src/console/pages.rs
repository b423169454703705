//! The console's pages: each reads the table, builds its view (see `view`) and renders it.

use super::app::{App, STYLE};
use super::view;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use soar_core::approval::{Answer, ApprovalKey};
use soar_core::ports::{ActionLedger, AlertLog, IncidentLog};
use std::sync::Arc;

/// A page, or the error page with its status.
type Page = Result<Html<String>, (StatusCode, Html<String>)>;

impl App {
    fn render(&self, template: &str, context: Value) -> Page {
        let mut context = context;
        context["operator"] = json!(self.operator);
        context["token"] = json!(self.token);
        self.templates
            .get_template(template)
            .and_then(|t| t.render(minijinja::value::Serde(&context)))
            .map(Html)
            .map_err(|e| self.failed(StatusCode::INTERNAL_SERVER_ERROR, &format!("rendering {template}: {e}")))
    }

    fn failed(&self, status: StatusCode, message: &str) -> (StatusCode, Html<String>) {
        let page = self
            .templates
            .get_template("error.html")
            .and_then(|t| {
                t.render(minijinja::value::Serde(
                    json!({"status": status.as_u16(), "message": message}),
                ))
            })
            .unwrap_or_else(|_| minijinja::HtmlEscape(message).to_string());
        (status, Html(page))
    }

    /// The stored document of alert `id`; the error page when there is none or the table fails.
    async fn stored(&self, id: &str) -> Result<soar_core::Document, (StatusCode, Html<String>)> {
        self.state
            .load_document(id)
            .await
            .map_err(|e| self.unavailable(e))?
            .ok_or_else(|| self.failed(StatusCode::NOT_FOUND, &format!("no alert `{id}` in the table")))
    }

    fn unavailable(&self, e: impl std::fmt::Display) -> (StatusCode, Html<String>) {
        self.failed(
            StatusCode::BAD_GATEWAY,
            &format!("the state table could not be read: {e}"),
        )
    }
}

/// The filters of the index page (empty: any).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Filters {
    #[serde(default)]
    verdict: String,
    #[serde(default)]
    severity: String,
    #[serde(default)]
    account: String,
}

/// How many incidents and alerts the index lists, newest first.
const LISTED: usize = 200;

pub(crate) async fn index(State(app): State<Arc<App>>, Query(filters): Query<Filters>) -> Page {
    let incidents = app
        .state
        .recent_incidents(LISTED)
        .await
        .map_err(|e| app.unavailable(e))?;
    let alerts = app.state.recent_alerts(LISTED).await.map_err(|e| app.unavailable(e))?;
    let waiting = app.state.waiting_approvals().await.map_err(|e| app.unavailable(e))?;
    let keep = |verdict: &str, severity: &str, account: Option<&str>| {
        (filters.verdict.is_empty() || filters.verdict == verdict)
            && (filters.severity.is_empty() || filters.severity == severity)
            && (filters.account.trim().is_empty() || account.is_none_or(|a| a == filters.account.trim()))
    };
    let incidents: Vec<Value> = incidents
        .iter()
        .filter(|i| keep(&i.verdict, &i.severity, None))
        .map(view::incident_row)
        .collect();
    let alerts: Vec<Value> = alerts
        .iter()
        .filter(|a| keep(&a.verdict, &a.severity, Some(&a.account)))
        .map(view::alert_row)
        .collect();
    app.render(
        "index.html",
        json!({
            "filters": {"verdict": filters.verdict, "severity": filters.severity, "account": filters.account},
            "verdicts": ["incident", "false_positive", "undetermined", "none"],
            "severities": soar_core::incident::SEVERITIES.iter().rev().collect::<Vec<_>>(),
            "incidents": incidents, "alerts": alerts, "waiting": waiting.len(),
        }),
    )
}

#[derive(Debug, Deserialize)]
pub(crate) struct Id {
    id: String,
}

pub(crate) async fn alert(State(app): State<Arc<App>>, Query(Id { id }): Query<Id>) -> Page {
    let doc = app.stored(&id).await?;
    let ledger = app
        .state
        .ledger(doc.ledger_scope())
        .await
        .map_err(|e| app.unavailable(e))?;
    let waiting = app.state.waiting_approvals().await.map_err(|e| app.unavailable(e))?;
    let waiting: Vec<Value> = waiting
        .iter()
        .filter(|w| w.scope == doc.ledger_scope())
        .filter(|w| w.ticket.alert_id == doc.alert.id || (w.ticket.alert_id.is_empty() && w.scope == doc.alert.id))
        .map(view::waiting_row)
        .collect();
    app.render("alert.html", view::alert_page(&doc, &ledger, waiting))
}

pub(crate) async fn incident(State(app): State<Arc<App>>, Query(Id { id }): Query<Id>) -> Page {
    let incident = app
        .state
        .load_incident(&id)
        .await
        .map_err(|e| app.unavailable(e))?
        .ok_or_else(|| app.failed(StatusCode::NOT_FOUND, &format!("no incident `{id}` in the table")))?;
    let ledger = app.state.ledger(&id).await.map_err(|e| app.unavailable(e))?;
    let waiting = app.state.waiting_approvals().await.map_err(|e| app.unavailable(e))?;
    let waiting: Vec<Value> = waiting
        .iter()
        .filter(|w| w.scope == id)
        .map(view::waiting_row)
        .collect();
    app.render("incident.html", view::incident_page(&incident, &ledger, waiting))
}

pub(crate) async fn approvals(State(app): State<Arc<App>>) -> Page {
    let waiting = app.state.waiting_approvals().await.map_err(|e| app.unavailable(e))?;
    let rows: Vec<Value> = waiting.iter().map(view::waiting_row).collect();
    app.render("approvals.html", json!({"waiting": rows}))
}

/// An Approve or Deny form.
#[derive(Debug, Deserialize)]
pub(crate) struct AnswerForm {
    scope: String,
    action: String,
    target: String,
    digest: String,
    answer: String,
    token: String,
}

pub(crate) async fn answer(State(app): State<Arc<App>>, Form(form): Form<AnswerForm>) -> Page {
    if !constant_time_eq(form.token.as_bytes(), app.token.as_bytes()) {
        return Err(app.failed(
            StatusCode::FORBIDDEN,
            "this form is not from this console run: reload the page and answer again",
        ));
    }
    let answer = match form.answer.as_str() {
        "approve" => Answer::Approve,
        "deny" => Answer::Deny,
        other => return Err(app.failed(StatusCode::BAD_REQUEST, &format!("`{other}` is not approve or deny"))),
    };
    let key = ApprovalKey {
        scope: form.scope,
        action: form.action,
        target: form.target,
        digest: form.digest,
    };
    let now = chrono::Utc::now().timestamp();
    let result = app.approvals.answer(&key, answer, &app.operator, now).await;
    let (status, context) = match result {
        Ok(answered) => (
            StatusCode::OK,
            json!({"ok": true, "outcome": answered.outcome(), "alert_href": view::link("/alert", &answered.alert_id), "key": key}),
        ),
        Err(refusal) => (
            StatusCode::CONFLICT,
            json!({"ok": false, "outcome": format!("Not taken: {refusal}"), "key": key}),
        ),
    };
    let page = app.render("answered.html", context)?;
    if status == StatusCode::OK {
        Ok(page)
    } else {
        Err((status, page))
    }
}

pub(crate) async fn replay(State(app): State<Arc<App>>, Query(Id { id }): Query<Id>) -> Page {
    let doc = app.stored(&id).await?;
    let comparison = crate::replay::compare(&doc, app.policies.clone())
        .await
        .map_err(|e| app.failed(StatusCode::UNPROCESSABLE_ENTITY, &e))?;
    app.render("replay.html", view::replay_page(&doc, &comparison))
}

pub(crate) async fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response()
}

/// Compares two byte strings in time that depends only on their lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
