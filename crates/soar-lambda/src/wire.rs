//! Each function's parts, built once per cold start from its [`Config`] and SDK configuration.
//! The binaries and the local-stack tests build the functions here, so what is tested is what runs.

use crate::Config;
use crate::ConfigError;
use crate::approvals::ApprovalsFunction;
use crate::functions::{DocumentFunction, IngestFunction};
use soar_aws::sdk::{AccountConfigs, SdkConfig, session};
use soar_aws::secrets::SecretsManager;
use soar_aws::{DynamoState, SqsForwarder};
use soar_core::pipeline::{Approvals, Enricher, Evaluator, Ingestor, Responder};
use soar_core::ports::{ApprovalChannel, IntelProvider, NoApprovalChannel};
use soar_ec2::Ec2;
use soar_policy::PolicySet;
use soar_respond::{AwsNotifier, AwsRemediator, Webhook};
use soar_slack::{SlackApi, SlackApprovals};
use std::sync::Arc;

fn state(config: &Config, aws: &SdkConfig) -> Result<Arc<DynamoState>, ConfigError> {
    Ok(Arc::new(
        DynamoState::new(aws_sdk_dynamodb::Client::new(aws), config.table()?).with_claim_lease(config.claim_lease),
    ))
}

fn forwarder(aws: &SdkConfig, url: &str) -> Arc<SqsForwarder> {
    Arc::new(SqsForwarder::new(aws_sdk_sqs::Client::new(aws), url))
}

pub fn ingest(config: &Config, aws: &SdkConfig, policies: Arc<PolicySet>) -> Result<IngestFunction, ConfigError> {
    let state = state(config, aws)?;
    Ok(IngestFunction {
        ingestor: Ingestor {
            policies,
            alerts: state.clone(),
            decisions: state,
        },
        next: forwarder(aws, config.enrich_queue_url()?),
    })
}

/// The intelligence providers of `SOAR_INTEL_CONFIG` and of the policy data's
/// `intel.http`, with keys from Secrets Manager.
pub fn intel_providers(
    config: &Config,
    aws: &SdkConfig,
    policies: &PolicySet,
) -> Result<Vec<Arc<dyn IntelProvider>>, ConfigError> {
    let invalid = |e: soar_intel::IntelError| ConfigError::Invalid {
        name: "SOAR_INTEL_CONFIG",
        message: e.to_string(),
    };
    let generic = soar_intel::generic_specs(&policies.config_value()).map_err(invalid)?;
    let secrets = Arc::new(SecretsManager::new(aws_sdk_secretsmanager::Client::new(aws)));
    soar_intel::build(&config.intel, &generic, secrets).map_err(invalid)
}

/// `providers`: the intelligence providers beside the EC2 inventory ([`intel_providers`]).
pub fn enrich(
    config: &Config,
    aws: &SdkConfig,
    policies: Arc<PolicySet>,
    providers: Vec<Arc<dyn IntelProvider>>,
) -> Result<DocumentFunction, ConfigError> {
    let state = state(config, aws)?;
    let accounts = Arc::new(AccountConfigs::new(
        aws.clone(),
        config.responder_role_name.clone(),
        session::ENRICH,
    ));
    let enricher = Enricher {
        org: policies.org_config().clone(),
        policies,
        decisions: state.clone(),
        cache: state.clone(),
        inventory: Arc::new(Ec2::new(accounts)),
        providers,
        settings: config.settings(),
    };
    Ok(DocumentFunction {
        step: Box::new(enricher),
        alerts: state,
        next: Some(forwarder(aws, config.evaluate_queue_url()?)),
        // Deferred enrichment comes back through this function's own queue.
        retry_later: Some(forwarder(aws, config.enrich_queue_url()?)),
    })
}

pub fn evaluate(config: &Config, aws: &SdkConfig, policies: Arc<PolicySet>) -> Result<DocumentFunction, ConfigError> {
    let state = state(config, aws)?;
    Ok(DocumentFunction {
        step: Box::new(Evaluator {
            policies,
            decisions: state.clone(),
            incidents: state.clone(),
        }),
        alerts: state,
        next: Some(forwarder(aws, config.remediate_queue_url()?)),
        retry_later: None,
    })
}

pub fn remediate(config: &Config, aws: &SdkConfig, policies: Arc<PolicySet>) -> Result<DocumentFunction, ConfigError> {
    let state = state(config, aws)?;
    let sns = config
        .notify_topic_arn
        .clone()
        .map(|topic| (aws_sdk_sns::Client::new(aws), topic));
    let webhook = config
        .webhook_secret_id
        .clone()
        .map(|secret| Webhook::from_secret(aws_sdk_secretsmanager::Client::new(aws), secret));
    let accounts = Arc::new(AccountConfigs::new(
        aws.clone(),
        config.responder_role_name.clone(),
        session::REMEDIATE,
    ));
    let mut settings = config.settings();
    settings.take_escalation_channel(policies.org_config());
    // Protection is read live just before acting, from the resource's own tags (an instance's
    // through DescribeInstances, a bucket's, a function's, a task's).
    let remediator = Arc::new(AwsRemediator::new(accounts));
    let responder = Responder {
        policies,
        decisions: state.clone(),
        ledger: state.clone(),
        inventory: remediator.clone(),
        remediator,
        notifier: Arc::new(AwsNotifier::new(sns, webhook)),
        approvals: approval_channel(config, aws)?,
        settings,
    };
    Ok(DocumentFunction {
        step: Box::new(responder),
        alerts: state,
        next: None,
        retry_later: None,
    })
}

/// Where remediate asks for approval: the Slack channel when Slack is configured (the bot token
/// and `SOAR_SLACK_CHANNEL`), else nowhere (people answer with `soar approve` or the console).
fn approval_channel(config: &Config, aws: &SdkConfig) -> Result<Arc<dyn ApprovalChannel>, ConfigError> {
    let Some(slack) = &config.slack else {
        return Ok(Arc::new(NoApprovalChannel));
    };
    let channel = slack
        .channel
        .clone()
        .ok_or(ConfigError::Missing("SOAR_SLACK_CHANNEL"))?;
    Ok(Arc::new(SlackApprovals {
        api: slack_api(slack, aws),
        channel,
    }))
}

fn slack_api(slack: &crate::config::SlackConfig, aws: &SdkConfig) -> SlackApi {
    let secrets = Arc::new(SecretsManager::new(aws_sdk_secretsmanager::Client::new(aws)));
    SlackApi::new(&slack.api_url, secrets, slack.bot_token_secret_id.clone())
}

/// The approvals function: Slack's button presses (behind its Function URL) and the expiry sweep
/// (on a schedule), answering through [`Approvals`] as `soar approve` does.
pub fn approvals(config: &Config, aws: &SdkConfig, policies: Arc<PolicySet>) -> Result<ApprovalsFunction, ConfigError> {
    let slack = config.slack()?;
    let signing_secret = slack
        .signing_secret_id
        .clone()
        .ok_or(ConfigError::Missing("SOAR_SLACK_SIGNING_SECRET_ID"))?;
    Ok(ApprovalsFunction {
        approvals: answering(config, aws, policies)?,
        slack: slack_api(slack, aws),
        secrets: Arc::new(SecretsManager::new(aws_sdk_secretsmanager::Client::new(aws))),
        signing_secret,
        response_url_prefix: slack.response_url_prefix.clone(),
    })
}

/// Answers to waiting actions against the deployment's table and remediate queue.
pub fn answering(config: &Config, aws: &SdkConfig, policies: Arc<PolicySet>) -> Result<Approvals, ConfigError> {
    let state = state(config, aws)?;
    Ok(Approvals {
        policies,
        ledger: state.clone(),
        alerts: state.clone(),
        incidents: state,
        remediate: forwarder(aws, config.remediate_queue_url()?),
    })
}
