//! `soar console`: a web console an operator runs on their own machine, with their own AWS
//! credentials (or against the local stack): incidents and alerts, an alert's whole story, the
//! actions waiting for approval with Approve and Deny, and a replay under the current policies.
//!
//! Server-rendered pages (axum, minijinja templates escaped as HTML), no JavaScript. It listens on
//! 127.0.0.1 only and answers only requests addressed to it there (a `Host` of 127.0.0.1 or
//! localhost and its port: a page elsewhere cannot reach it through DNS rebinding), and takes a
//! form only with this run's token (a page elsewhere cannot post one). Answers go through
//! `soar_core::pipeline::Approvals` with the operator's STS identity (`via: console`), so the
//! approver policy and every check of Slack's buttons and `soar approve` apply.

mod app;
mod pages;
mod view;

pub(crate) use app::App;

use crate::aws_cmd::{config, required};
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use soar_aws::{DynamoClient, DynamoState, sdk};
use soar_core::approval::Approver;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

/// The templates, built in.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("index.html", include_str!("templates/index.html")),
    ("alert.html", include_str!("templates/alert.html")),
    ("incident.html", include_str!("templates/incident.html")),
    ("approvals.html", include_str!("templates/approvals.html")),
    ("answered.html", include_str!("templates/answered.html")),
    ("replay.html", include_str!("templates/replay.html")),
    ("error.html", include_str!("templates/error.html")),
    ("ledger_table.html", include_str!("templates/ledger_table.html")),
    ("waiting_table.html", include_str!("templates/waiting_table.html")),
];

/// `soar console`: serves until Ctrl-C, against the table and remediate queue the environment
/// names. `port` 0 takes a free one; the first line printed is the URL.
pub(crate) async fn run(
    endpoint: Option<&str>,
    port: u16,
    policies: Option<&Path>,
    name: Option<&str>,
) -> Result<ExitCode, String> {
    let aws = config(endpoint).await?;
    let deployment = (required("SOAR_TABLE")?, required("SOAR_REMEDIATE_QUEUE_URL")?);
    serve(&aws, deployment, (port, "/"), policies, name).await?;
    Ok(ExitCode::SUCCESS)
}

/// Serves the console of the deployment `(table, remediate queue URL)` on 127.0.0.1:`port` until
/// Ctrl-C; prints the URL of `start` (a page path) first.
pub(crate) async fn serve(
    aws: &sdk::SdkConfig,
    (table, remediate_queue): (String, String),
    (port, start): (u16, &str),
    policies: Option<&Path>,
    name: Option<&str>,
) -> Result<(), String> {
    let state = DynamoState::new(DynamoClient::new(aws), table);
    let policies = crate::replay::policy_set(policies)?;
    let arn = sdk::caller_arn(aws).await?;
    let operator = Approver {
        name: name.map_or_else(|| arn.clone(), String::from),
        id: arn,
        via: "console".into(),
        team: None,
    };
    let approvals = crate::aws_cmd::answering(aws, state.clone(), remediate_queue, policies.clone())?;
    let listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let app = Arc::new(App {
        state: Arc::new(state),
        approvals,
        policies,
        operator,
        token: token()?,
        templates: templates()?,
        port: address.port(),
    });
    println!(
        "soar console: http://{address}{start} (answering as {}; Ctrl-C stops it)",
        app.operator.id
    );
    axum::serve(listener, router(app))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| format!("console: {e}"))
}

/// The pages, behind the request guard.
pub(crate) fn router(app: Arc<App>) -> Router {
    use axum::routing::get;
    Router::new()
        .route("/", get(pages::index))
        .route("/alert", get(pages::alert))
        .route("/incident", get(pages::incident))
        .route("/approvals", get(pages::approvals).post(pages::answer))
        .route("/replay", get(pages::replay))
        .route("/style.css", get(pages::style))
        .layer(axum::middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

/// 32 random bytes in hex, from the operating system.
fn token() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness for the form token: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn templates() -> Result<minijinja::Environment<'static>, String> {
    let mut env = minijinja::Environment::new();
    for (name, source) in TEMPLATES {
        env.add_template(name, source)
            .map_err(|e| format!("console template {name}: {e}"))?;
    }
    Ok(env)
}

/// Refuses requests not addressed to this console on 127.0.0.1 (DNS rebinding) and posts from
/// another origin; adds the headers that keep pages from being framed or scripted.
async fn guard(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let ours = |value: &str| {
        [format!("127.0.0.1:{}", app.port), format!("localhost:{}", app.port)].contains(&value.to_string())
    };
    let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok());
    if !host.is_some_and(ours) {
        return (StatusCode::MISDIRECTED_REQUEST, "not this console's address").into_response();
    }
    // A page elsewhere may still make the browser fetch one of these (an image, a link): each
    // costs table scans with the operator's credentials, so what the browser marks as coming
    // from another site is refused too (no header: not a browser, or an old one).
    let fetched_from = request.headers().get("sec-fetch-site").and_then(|h| h.to_str().ok());
    if matches!(fetched_from, Some("cross-site" | "same-site")) {
        return (StatusCode::FORBIDDEN, "a request from another site").into_response();
    }
    let origin = request.headers().get(header::ORIGIN).and_then(|h| h.to_str().ok());
    let same_origin = origin.is_none_or(|o| o.strip_prefix("http://").is_some_and(ours));
    if request.method() == axum::http::Method::POST && !same_origin {
        return (StatusCode::FORBIDDEN, "a form from another site").into_response();
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
