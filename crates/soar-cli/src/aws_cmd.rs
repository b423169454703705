//! `soar setup`, `soar approve` and `soar rollback`: the commands that talk to AWS (or a local
//! endpoint).

use soar_aws::{DynamoClient, DynamoState, SqsForwarder, sdk, waiting_key};
use soar_core::action::ActionKind;
use soar_core::approval::{Answer, Approver};
use soar_core::document::Mode;
use soar_core::pipeline::{Approvals, short};
use soar_core::ports::AlertLog;
use soar_core::rollback::{RollbackStatus, Selection, rollback};
use soar_local::setup::setup;
use soar_policy::PolicySet;
use std::process::ExitCode;
use std::sync::Arc;

/// `--endpoint-url` means a local endpoint (moto): dummy credentials. Without it, the standard
/// AWS environment (credentials, region, `AWS_ENDPOINT_URL`) applies.
pub(crate) async fn config(endpoint: Option<&str>) -> Result<sdk::SdkConfig, String> {
    match endpoint {
        Some(url) => sdk::local(url).await.map_err(|e| e.to_string()),
        None => sdk::load(sdk::DEFAULT_ATTEMPT_TIMEOUT).await.map_err(|e| e.to_string()),
    }
}

pub(crate) async fn run_setup(endpoint: Option<&str>, prefix: &str) -> Result<ExitCode, String> {
    let aws = config(endpoint).await?;
    let mut env = setup(&aws, prefix).await?;
    if let Some(url) = endpoint {
        env.vars.insert("AWS_ENDPOINT_URL".into(), url.to_string());
    }
    print!("{}", env.render());
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn required(name: &str) -> Result<String, String> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("{name} is not set (the output of `soar setup` has it)"))
}

/// Answers a waiting action as the caller's AWS identity (STS GetCallerIdentity), through the
/// same checks as Slack's buttons and the console (soar_core::pipeline::Approvals): the plan
/// waiting now, its expiry, and the approver policy of the policies built into this binary. An
/// approval queues the alert for remediate, which carries the action out once.
pub(crate) async fn run_approve(
    endpoint: Option<&str>,
    (id, action, target): (&str, &str, Option<&str>),
    name: Option<&str>,
    answer: Answer,
) -> Result<ExitCode, String> {
    let aws = config(endpoint).await?;
    let state = DynamoState::new(DynamoClient::new(&aws), required("SOAR_TABLE")?);
    let key = waiting_key(&state, id, action, target).await?;
    let arn = sdk::caller_arn(&aws).await?;
    let approver = Approver {
        name: name.map_or_else(|| arn.clone(), String::from),
        id: arn,
        via: "cli".into(),
        team: None,
    };
    let policies = Arc::new(PolicySet::embedded(soar_policy::DEFAULT_TIME_LIMIT));
    let approvals = answering(&aws, state, required("SOAR_REMEDIATE_QUEUE_URL")?, policies)?;
    let now = chrono::Utc::now().timestamp();
    let answered = approvals
        .answer(&key, answer, &approver, now)
        .await
        .map_err(|refusal| format!("not taken: {refusal}"))?;
    println!(
        "{} {action} on {} for {id} (plan {}): {}",
        answer.status(),
        key.target,
        short(&key.digest),
        answered.outcome()
    );
    Ok(ExitCode::SUCCESS)
}

/// [`Approvals`] on a deployment's table and remediate queue, deciding who may answer with
/// `policies` (remediate asks the deployed ones again before it acts on an approval).
pub(crate) fn answering(
    aws: &sdk::SdkConfig,
    state: DynamoState,
    remediate_queue: String,
    policies: Arc<PolicySet>,
) -> Result<Approvals, String> {
    policies.refuse_bad_config()?;
    let state = Arc::new(state);
    Ok(Approvals {
        policies,
        ledger: state.clone(),
        alerts: state.clone(),
        incidents: state,
        remediate: Arc::new(SqsForwarder::new(aws_sdk_sqs::Client::new(aws), remediate_queue)),
    })
}

/// Undoes executed actions of a stored alert (see `soar rollback --help`). Exit code 1 when a
/// rollback failed or the selection names an action that cannot be undone.
pub(crate) async fn run_rollback(
    endpoint: Option<&str>,
    alert_id: &str,
    (action, target): (Option<&str>, Option<&str>),
    enforce: bool,
) -> Result<ExitCode, String> {
    let selection = Selection {
        action: action.map(ActionKind::parse).transpose()?,
        target: target.map(String::from),
    };
    let aws = config(endpoint).await?;
    let state = DynamoState::new(DynamoClient::new(&aws), required("SOAR_TABLE")?);
    let doc = state
        .load_document(alert_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no alert `{alert_id}` in table {}", state.table()))?;
    // The functions' responder role trusts only the functions: in member accounts a person
    // rolls back with a role of their own there (docs/deploy.md lists what it needs).
    let role = std::env::var("SOAR_ROLLBACK_ROLE_NAME").ok().filter(|r| !r.is_empty());
    let remediator =
        soar_respond::AwsRemediator::new(Arc::new(sdk::AccountConfigs::new(aws, role, sdk::session::OPERATOR)));
    let mode = if enforce { Mode::Enforce } else { Mode::DryRun };
    let results = rollback(&doc, &selection, mode, &state, &remediator).await?;
    let mut code = ExitCode::SUCCESS;
    for r in &results {
        let detail = match &r.detail {
            serde_json::Value::Object(o) if o.contains_key("api_calls") => o["api_calls"]
                .as_array()
                .map(|calls| {
                    calls
                        .iter()
                        .filter_map(|c| c.as_str())
                        .collect::<Vec<_>>()
                        .join("\n      ")
                })
                .unwrap_or_default(),
            serde_json::Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        let status = serde_json::to_value(&r.status)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        println!("{status:<20} {} {}\n      {detail}", r.action, r.target);
        let named = selection.action.is_some() && r.status == RollbackStatus::NotReversible;
        if r.status == RollbackStatus::Failed || named {
            code = ExitCode::FAILURE;
        }
    }
    if !enforce {
        println!("dry run: nothing changed; add --enforce to carry it out");
    }
    Ok(code)
}
