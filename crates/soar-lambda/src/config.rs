//! The functions' configuration, read once per cold start from the environment.

use soar_core::action::ActionKind;
use soar_core::document::Mode;
use soar_core::pipeline::Settings;
use soar_intel::IntelConfig;
use std::collections::BTreeSet;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required (see the README, \"Environment\")")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {message}")]
    Invalid { name: &'static str, message: String },
}

/// The log filter variable (read by `init_logging`).
pub const LOG_VARIABLE: &str = "SOAR_LOG";

/// How long one attempt of an AWS call may take before the SDK gives up on it and retries
/// (milliseconds; default [`DEFAULT_AWS_ATTEMPT_TIMEOUT`]).
pub const AWS_ATTEMPT_TIMEOUT: &str = "SOAR_AWS_ATTEMPT_TIMEOUT_MS";

pub use soar_aws::sdk::DEFAULT_ATTEMPT_TIMEOUT as DEFAULT_AWS_ATTEMPT_TIMEOUT;

/// The variables each function reads, as the infrastructure template must set them; a test checks
/// this list against what [`Config`] reads and against `infra/template.yaml`, so they cannot drift.
pub const FUNCTION_VARIABLES: &[(&str, &[&str])] = &[
    (
        "ingest",
        &[
            "SOAR_TABLE",
            "SOAR_ENRICH_QUEUE_URL",
            "SOAR_CLAIM_LEASE_SECONDS",
            AWS_ATTEMPT_TIMEOUT,
            LOG_VARIABLE,
        ],
    ),
    (
        "enrich",
        &[
            "SOAR_TABLE",
            "SOAR_ENRICH_QUEUE_URL",
            "SOAR_EVALUATE_QUEUE_URL",
            "SOAR_MODE",
            "SOAR_RESPONDER_ROLE_NAME",
            "SOAR_INTEL_CONFIG",
            AWS_ATTEMPT_TIMEOUT,
            LOG_VARIABLE,
        ],
    ),
    (
        "evaluate",
        &[
            "SOAR_TABLE",
            "SOAR_REMEDIATE_QUEUE_URL",
            AWS_ATTEMPT_TIMEOUT,
            LOG_VARIABLE,
        ],
    ),
    (
        "remediate",
        &[
            "SOAR_TABLE",
            "SOAR_MODE",
            "SOAR_ALLOWED_ACTIONS",
            "SOAR_APPROVAL_REQUIRED_ACTIONS",
            "SOAR_MAX_ACTIONS_PER_HOUR",
            "SOAR_MAX_WRITE_BACKS_PER_HOUR",
            "SOAR_RESPONDER_ROLE_NAME",
            "SOAR_NOTIFY_TOPIC_ARN",
            "SOAR_WEBHOOK_SECRET_ID",
            "SOAR_CLAIM_LEASE_SECONDS",
            "SOAR_APPROVAL_TTL_SECONDS",
            "SOAR_SLACK_BOT_TOKEN_SECRET_ID",
            "SOAR_SLACK_CHANNEL",
            "SOAR_SLACK_API_URL",
            AWS_ATTEMPT_TIMEOUT,
            LOG_VARIABLE,
        ],
    ),
    (
        "approvals",
        &[
            "SOAR_TABLE",
            "SOAR_REMEDIATE_QUEUE_URL",
            "SOAR_SLACK_BOT_TOKEN_SECRET_ID",
            "SOAR_SLACK_SIGNING_SECRET_ID",
            "SOAR_SLACK_API_URL",
            "SOAR_SLACK_RESPONSE_URL_PREFIX",
            AWS_ATTEMPT_TIMEOUT,
            LOG_VARIABLE,
        ],
    ),
];

/// Slack for approvals: present when `SOAR_SLACK_BOT_TOKEN_SECRET_ID` is set.
#[derive(Debug, Clone, PartialEq)]
pub struct SlackConfig {
    /// Secrets Manager secret holding the bot token (`xoxb-…`).
    pub bot_token_secret_id: String,
    /// Where remediate asks (`SOAR_SLACK_CHANNEL`, a channel id such as `C0123ABCD`).
    pub channel: Option<String>,
    /// Secrets Manager secret holding the app's signing secret (the approvals function).
    pub signing_secret_id: Option<String>,
    /// Slack's Web API base (`SOAR_SLACK_API_URL`, default `https://slack.com/api/`).
    pub api_url: String,
    /// What a press's `response_url` must start with (`SOAR_SLACK_RESPONSE_URL_PREFIX`, default
    /// `https://hooks.slack.com/`).
    pub response_url_prefix: String,
}

impl SlackConfig {
    /// `None` without `SOAR_SLACK_BOT_TOKEN_SECRET_ID`. Every Slack variable is checked whether or
    /// not Slack is on: a mistyped URL is an error either way.
    fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Option<SlackConfig>, ConfigError> {
        let (channel, signing_secret_id) = (get("SOAR_SLACK_CHANNEL"), get("SOAR_SLACK_SIGNING_SECRET_ID"));
        let api_url = slack_url(
            "SOAR_SLACK_API_URL",
            get("SOAR_SLACK_API_URL").unwrap_or_else(|| soar_slack::API_URL.into()),
        )?;
        let response_url_prefix = slack_url(
            "SOAR_SLACK_RESPONSE_URL_PREFIX",
            get("SOAR_SLACK_RESPONSE_URL_PREFIX")
                .unwrap_or_else(|| soar_slack::interaction::RESPONSE_URL_PREFIX.into()),
        )?;
        Ok(
            get("SOAR_SLACK_BOT_TOKEN_SECRET_ID").map(|bot_token_secret_id| SlackConfig {
                bot_token_secret_id,
                channel,
                signing_secret_id,
                api_url,
                response_url_prefix,
            }),
        )
    }
}

/// A comma-separated list of action types (`SOAR_ALLOWED_ACTIONS`, ...). Errors: the unknown type.
fn action_list(name: &'static str, list: String) -> Result<BTreeSet<ActionKind>, ConfigError> {
    list.split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| ActionKind::parse(a).map_err(|message| ConfigError::Invalid { name, message }))
        .collect()
}

/// A Slack URL setting: HTTPS, or plain HTTP to this machine (a local stand-in for Slack).
fn slack_url(name: &'static str, value: String) -> Result<String, ConfigError> {
    let invalid = |message: String| ConfigError::Invalid { name, message };
    let url = url::Url::parse(&value).map_err(|e| invalid(format!("`{value}` is not a URL: {e}")))?;
    let local = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    match url.scheme() {
        "https" => Ok(value),
        "http" if local => Ok(value),
        _ => Err(invalid(format!(
            "`{value}` must be https (plain http only to 127.0.0.1, for a local stand-in)"
        ))),
    }
}

/// Everything a soar function reads from its environment.
// No `Default`: a zero lease or timeout is never what a deployment means; `from_lookup` gives
// every field its documented default.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub table: Option<String>,
    pub enrich_queue_url: Option<String>,
    pub evaluate_queue_url: Option<String>,
    pub remediate_queue_url: Option<String>,
    pub mode: Mode,
    /// `None`: every known action type.
    pub allowed_actions: Option<BTreeSet<ActionKind>>,
    /// Action types that always wait for approval (default: those that lose evidence).
    pub approval_required: BTreeSet<ActionKind>,
    pub max_actions_per_hour: u32,
    /// Cap on verdicts written back onto findings per hour, counted apart.
    pub max_write_backs_per_hour: u32,
    /// Role assumed in another account before acting there.
    pub responder_role_name: Option<String>,
    /// SNS topic for notifications.
    pub notify_topic_arn: Option<String>,
    /// Secrets Manager secret holding a Slack-compatible incoming-webhook URL.
    pub webhook_secret_id: Option<String>,
    /// The intelligence providers (enrich), their key secrets and quotas.
    pub intel: IntelConfig,
    /// How long a claim of an action (remediate) or an alert's registration not yet handed on
    /// (ingest) protects it from being taken over by a retry (`SOAR_CLAIM_LEASE_SECONDS`, default
    /// 900: Lambda's longest timeout). At least the function's timeout, below its queue's
    /// visibility timeout.
    pub claim_lease: Duration,
    /// One attempt of an AWS call ([`AWS_ATTEMPT_TIMEOUT`]).
    pub aws_attempt_timeout: Duration,
    /// How long an action waits for approval before it expires (`SOAR_APPROVAL_TTL_SECONDS`,
    /// default 7200).
    pub approval_ttl: Duration,
    pub slack: Option<SlackConfig>,
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// From any source of variables (tests pass a map; the process passes its environment).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| get(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let mode = match get("SOAR_MODE") {
            Some(v) => v.parse::<Mode>().map_err(|message| ConfigError::Invalid {
                name: "SOAR_MODE",
                message,
            })?,
            None => Mode::DryRun,
        };
        let allowed_actions = get("SOAR_ALLOWED_ACTIONS")
            .map(|list| action_list("SOAR_ALLOWED_ACTIONS", list))
            .transpose()?;
        // `none` is how a deployment says that nothing waits beyond what the policy asks.
        let approval_required = match get("SOAR_APPROVAL_REQUIRED_ACTIONS") {
            Some(list) if list.eq_ignore_ascii_case("none") => BTreeSet::new(),
            Some(list) => action_list("SOAR_APPROVAL_REQUIRED_ACTIONS", list)?,
            None => Settings::default().approval_required,
        };
        let cap = |name: &'static str, default: u32| match get(name) {
            Some(v) => v.parse().map_err(|_| ConfigError::Invalid {
                name,
                message: format!("`{v}` is not a whole number"),
            }),
            None => Ok(default),
        };
        let defaults = Settings::default();
        let max_actions_per_hour = cap("SOAR_MAX_ACTIONS_PER_HOUR", defaults.max_actions_per_hour)?;
        let max_write_backs_per_hour = cap("SOAR_MAX_WRITE_BACKS_PER_HOUR", defaults.max_write_backs_per_hour)?;
        let whole = |name: &'static str, default: u64| -> Result<u64, ConfigError> {
            match get(name) {
                Some(v) => match v.parse::<u64>() {
                    Ok(n) if n > 0 => Ok(n),
                    _ => Err(ConfigError::Invalid {
                        name,
                        message: format!("`{v}` is not a whole number above 0"),
                    }),
                },
                None => Ok(default),
            }
        };
        let claim_lease = Duration::from_secs(whole("SOAR_CLAIM_LEASE_SECONDS", 900)?);
        let aws_attempt_timeout = Duration::from_millis(whole(
            AWS_ATTEMPT_TIMEOUT,
            DEFAULT_AWS_ATTEMPT_TIMEOUT.as_millis() as u64,
        )?);
        let approval_ttl = Duration::from_secs(whole(
            "SOAR_APPROVAL_TTL_SECONDS",
            soar_core::approval::DEFAULT_APPROVAL_TTL.as_secs(),
        )?);
        let slack = SlackConfig::from_lookup(&get)?;
        let intel = match get("SOAR_INTEL_CONFIG") {
            Some(text) => IntelConfig::parse(&text).map_err(|e| ConfigError::Invalid {
                name: "SOAR_INTEL_CONFIG",
                message: e.to_string(),
            })?,
            None => IntelConfig::default(),
        };
        Ok(Config {
            table: get("SOAR_TABLE"),
            enrich_queue_url: get("SOAR_ENRICH_QUEUE_URL"),
            evaluate_queue_url: get("SOAR_EVALUATE_QUEUE_URL"),
            remediate_queue_url: get("SOAR_REMEDIATE_QUEUE_URL"),
            mode,
            allowed_actions,
            approval_required,
            max_actions_per_hour,
            max_write_backs_per_hour,
            responder_role_name: get("SOAR_RESPONDER_ROLE_NAME"),
            notify_topic_arn: get("SOAR_NOTIFY_TOPIC_ARN"),
            webhook_secret_id: get("SOAR_WEBHOOK_SECRET_ID"),
            intel,
            claim_lease,
            aws_attempt_timeout,
            approval_ttl,
            slack,
        })
    }

    pub fn table(&self) -> Result<&str, ConfigError> {
        self.table.as_deref().ok_or(ConfigError::Missing("SOAR_TABLE"))
    }

    pub fn enrich_queue_url(&self) -> Result<&str, ConfigError> {
        self.enrich_queue_url
            .as_deref()
            .ok_or(ConfigError::Missing("SOAR_ENRICH_QUEUE_URL"))
    }

    pub fn evaluate_queue_url(&self) -> Result<&str, ConfigError> {
        self.evaluate_queue_url
            .as_deref()
            .ok_or(ConfigError::Missing("SOAR_EVALUATE_QUEUE_URL"))
    }

    pub fn slack(&self) -> Result<&SlackConfig, ConfigError> {
        self.slack
            .as_ref()
            .ok_or(ConfigError::Missing("SOAR_SLACK_BOT_TOKEN_SECRET_ID"))
    }

    pub fn remediate_queue_url(&self) -> Result<&str, ConfigError> {
        self.remediate_queue_url
            .as_deref()
            .ok_or(ConfigError::Missing("SOAR_REMEDIATE_QUEUE_URL"))
    }

    /// The guard-rail settings of the pipeline steps.
    pub fn settings(&self) -> Settings {
        Settings {
            mode: self.mode,
            allowed_actions: self.allowed_actions.clone(),
            approval_required: self.approval_required.clone(),
            max_actions_per_hour: self.max_actions_per_hour,
            max_write_backs_per_hour: self.max_write_backs_per_hour,
            max_deferral: self.intel.max_deferral().unwrap_or(Settings::default().max_deferral),
            approval_ttl: self.approval_ttl,
            ..Settings::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_are_safe() {
        let c = config(&[]).unwrap();
        assert_eq!(c.mode, Mode::DryRun);
        assert_eq!(c.allowed_actions, None);
        assert_eq!(c.max_actions_per_hour, 20);
        assert_eq!(
            c.approval_required,
            BTreeSet::from([ActionKind::Ec2Stop, ActionKind::EcsStopTask])
        );
        assert!(
            config(&[("SOAR_APPROVAL_REQUIRED_ACTIONS", "none")])
                .unwrap()
                .approval_required
                .is_empty()
        );
        assert_eq!(c.table(), Err(ConfigError::Missing("SOAR_TABLE")));
        assert!(c.table().unwrap_err().to_string().contains("SOAR_TABLE is required"));
    }

    #[test]
    fn reads_every_variable() {
        let c = config(&[
            ("SOAR_TABLE", "t"),
            ("SOAR_MODE", "enforce"),
            ("SOAR_ALLOWED_ACTIONS", "ec2.isolate, notify"),
            ("SOAR_MAX_ACTIONS_PER_HOUR", "5"),
            ("SOAR_RESPONDER_ROLE_NAME", "soar-responder"),
        ])
        .unwrap();
        assert_eq!(c.mode, Mode::Enforce);
        assert_eq!(
            c.allowed_actions
                .unwrap()
                .into_iter()
                .map(ActionKind::as_str)
                .collect::<Vec<_>>(),
            ["ec2.isolate", "notify"]
        );
        assert_eq!(c.max_actions_per_hour, 5);
        assert_eq!(c.responder_role_name.as_deref(), Some("soar-responder"));
    }

    #[test]
    fn the_function_list_covers_every_variable_the_config_reads() {
        let read = std::cell::RefCell::new(std::collections::BTreeSet::new());
        Config::from_lookup(|name| {
            read.borrow_mut().insert(name.to_string());
            None
        })
        .unwrap();
        read.borrow_mut().insert(LOG_VARIABLE.to_string());
        let listed: std::collections::BTreeSet<String> = FUNCTION_VARIABLES
            .iter()
            .flat_map(|(_, vars)| vars.iter().map(|v| v.to_string()))
            .collect();
        assert_eq!(read.into_inner(), listed);
    }

    #[test]
    fn bad_values_name_the_variable() {
        let e = config(&[("SOAR_MODE", "yolo")]).unwrap_err().to_string();
        assert!(e.contains("SOAR_MODE"), "{e}");
        let e = config(&[("SOAR_ALLOWED_ACTIONS", "ec2.nuke")]).unwrap_err().to_string();
        assert!(e.contains("SOAR_ALLOWED_ACTIONS") && e.contains("ec2.nuke"), "{e}");
        let e = config(&[("SOAR_APPROVAL_REQUIRED_ACTIONS", "ec2.stop, ec2.explode")])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("SOAR_APPROVAL_REQUIRED_ACTIONS") && e.contains("ec2.explode"),
            "{e}"
        );
        for name in ["SOAR_CLAIM_LEASE_SECONDS", AWS_ATTEMPT_TIMEOUT] {
            let e = config(&[(name, "0")]).unwrap_err().to_string();
            assert!(e.contains(name) && e.contains("above 0"), "{e}");
        }
        let e = config(&[("SOAR_MAX_WRITE_BACKS_PER_HOUR", "-1")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("SOAR_MAX_WRITE_BACKS_PER_HOUR"), "{e}");
        let e = config(&[("SOAR_MAX_ACTIONS_PER_HOUR", "lots")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("SOAR_MAX_ACTIONS_PER_HOUR"), "{e}");
    }
}
