//! SDK configuration. Every client is built from one [`SdkConfig`] loaded at cold start; the
//! standard variables (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL` for a local endpoint) apply.

pub use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use std::time::Duration;

/// One attempt of an AWS call when the deployment names no other: a few times the slowest
/// answer AWS's control planes usually give (IAM, EC2 snapshots), so that three attempts and
/// their backoff fit in the shortest function timeout (30 s).
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// Who the caller is: the ARN STS GetCallerIdentity gives for these credentials (an approver's
/// identity when they answer with `soar approve` or the console). Errors: STS's.
pub async fn caller_arn(config: &SdkConfig) -> Result<String, String> {
    let out = aws_sdk_sts::Client::new(config)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| format!("STS GetCallerIdentity: {}", e.into_service_error()))?;
    out.arn()
        .map(String::from)
        .ok_or_else(|| "STS GetCallerIdentity answered without an ARN".into())
}

/// The configuration of the caller's own account, from the SDK's default chains (environment,
/// profile files, SSO, IMDS: for a person's tools; functions use [`load_function`]); `AWS_CA_BUNDLE` names
/// the certificates to trust instead of the Amazon roots (see soar-https).
///
/// `attempt_timeout` bounds one attempt of a call (connecting included): an answer that never
/// comes is retried like a throttled one, under the SDK's standard retry mode (3 attempts,
/// exponential backoff with jitter), instead of holding the invocation until Lambda ends it.
/// The backoff starts at a tenth of the attempt timeout (500 ms by default): a call that must
/// wait longer comes back with the alert's message instead of holding the batch.
pub async fn load(attempt_timeout: Duration) -> Result<SdkConfig, soar_https::HttpsError> {
    let ca_bundle = std::env::var(soar_https::CA_BUNDLE_VARIABLE).ok();
    Ok(defaults(ca_bundle.as_deref())?
        .timeout_config(timeouts(attempt_timeout))
        .retry_config(retries(attempt_timeout))
        .load()
        .await)
}

/// Why a function's configuration could not be loaded (each names what to set).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Https(#[from] soar_https::HttpsError),
    #[error("AWS_REGION is not set: Lambda sets it; elsewhere set it to the region the function runs in")]
    MissingRegion,
}

/// The configuration of a Lambda function, from the variables Lambda sets and nothing else:
/// `AWS_REGION`, the execution role's `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/
/// `AWS_SESSION_TOKEN`, `AWS_ENDPOINT_URL` (a local endpoint in tests) and `AWS_CA_BUNDLE`.
/// Timeouts and retries as [`load`].
///
/// Unlike [`load`], no profile file, IMDS, ECS or web-identity provider is consulted: Lambda
/// never needs them, a missing region is a start-up error instead of a search of the
/// instance metadata service, and the providers' code stays out of the deployed binaries (the
/// linker drops what is never called).
///
/// Errors: [`LoadError::MissingRegion`] when `AWS_REGION` is unset or empty; a CA bundle that
/// cannot be read (see soar-https).
pub fn load_function(attempt_timeout: Duration) -> Result<SdkConfig, LoadError> {
    function_config(&std::env::vars().collect(), attempt_timeout)
}

fn function_config(
    vars: &std::collections::HashMap<String, String>,
    attempt_timeout: Duration,
) -> Result<SdkConfig, LoadError> {
    let var = |name: &str| vars.get(name).filter(|v| !v.is_empty()).cloned();
    let region = var("AWS_REGION").ok_or(LoadError::MissingRegion)?;
    let http = soar_https::aws_http_client(var(soar_https::CA_BUNDLE_VARIABLE).as_deref())?;
    let credentials = aws_config::environment::credentials::EnvironmentVariableCredentialsProvider::new();
    let mut config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(aws_sdk_sqs::config::SharedCredentialsProvider::new(credentials))
        .http_client(http)
        .sleep_impl(aws_sdk_sqs::config::SharedAsyncSleep::new(TokioSleep))
        .timeout_config(timeouts(attempt_timeout))
        .retry_config(retries(attempt_timeout));
    if let Some(endpoint) = var("AWS_ENDPOINT_URL") {
        config = config.endpoint_url(endpoint);
    }
    let endpoints = ServiceEndpoints::from_vars(vars.clone());
    Ok(config.service_config(endpoints).build())
}

/// One service's endpoint instead of `AWS_ENDPOINT_URL`: the variables
/// `AWS_ENDPOINT_URL_<SERVICE>`, where `<SERVICE>` is the SDK's service id upper-cased with
/// spaces as `_` (`AWS_ENDPOINT_URL_SECURITYHUB`, `AWS_ENDPOINT_URL_GUARDDUTY`; AWS SDKs and
/// Tools Reference Guide, "Service-specific endpoints"). The SDK clients ask it first and fall
/// back to the general endpoint. Tests send a service moto lacks to a recording endpoint with it.
#[derive(Debug, Clone, Default)]
pub struct ServiceEndpoints(std::collections::BTreeMap<String, String>);

const ENDPOINT_VARIABLE: &str = "AWS_ENDPOINT_URL";

impl ServiceEndpoints {
    /// The `AWS_ENDPOINT_URL_<SERVICE>` entries among `vars` (empty values ignored).
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let prefix = format!("{ENDPOINT_VARIABLE}_");
        ServiceEndpoints(
            vars.into_iter()
                .filter(|(name, value)| name.starts_with(&prefix) && !value.is_empty())
                .collect(),
        )
    }

    /// `service_id` (as the SDK names it: `SecurityHub`, `GuardDuty`) sent to `url`.
    pub fn with(mut self, service_id: &str, url: &str) -> Self {
        self.0.insert(variable(service_id), url.to_string());
        self
    }
}

/// `AWS_ENDPOINT_URL_<SERVICE ID>`.
fn variable(service_id: &str) -> String {
    format!(
        "{ENDPOINT_VARIABLE}_{}",
        service_id.to_ascii_uppercase().replace(' ', "_")
    )
}

impl aws_types::service_config::LoadServiceConfig for ServiceEndpoints {
    fn load_config(&self, key: aws_types::service_config::ServiceConfigKey<'_>) -> Option<String> {
        if key.env() != ENDPOINT_VARIABLE {
            return None;
        }
        self.0.get(&variable(key.service_id())).cloned()
    }
}

/// Retries and timeouts wait on tokio's timer (the SDK's own default, without the loader).
#[derive(Debug)]
struct TokioSleep;

impl aws_sdk_sqs::config::AsyncSleep for TokioSleep {
    fn sleep(&self, duration: Duration) -> aws_sdk_sqs::config::Sleep {
        aws_sdk_sqs::config::Sleep::new(tokio::time::sleep(duration))
    }
}

fn timeouts(attempt_timeout: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(attempt_timeout.min(Duration::from_secs(3)))
        .operation_attempt_timeout(attempt_timeout)
        .build()
}

fn retries(attempt_timeout: Duration) -> RetryConfig {
    RetryConfig::standard().with_initial_backoff(attempt_timeout / 10)
}

/// A local endpoint (moto): fixed region and dummy credentials, nothing from the environment.
/// Errors: as [`local_trusting`] (the embedded Amazon roots always make a TLS context).
pub async fn local(endpoint: &str) -> Result<SdkConfig, soar_https::HttpsError> {
    local_trusting(endpoint, None).await
}

/// A local endpoint as [`local`], over HTTPS with a certificate the PEM bundle at `ca_bundle`
/// vouches for (`None`: the Amazon roots, as for AWS itself).
///
/// `AWS_ENDPOINT_URL_<SERVICE>` variables send their service elsewhere ([`ServiceEndpoints`]: a
/// local stand-in for an API the endpoint lacks).
pub async fn local_trusting(endpoint: &str, ca_bundle: Option<&str>) -> Result<SdkConfig, soar_https::HttpsError> {
    let loaded = defaults(ca_bundle)?
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "soar-local",
        ))
        .load()
        .await;
    // The endpoint set on the built configuration, not on the loader: the loader marks its own as
    // set in code, and the clients then ignore every service-specific endpoint.
    Ok(loaded
        .into_builder()
        .endpoint_url(endpoint)
        .service_config(ServiceEndpoints::from_vars(std::env::vars()))
        .build())
}

/// The SDK's defaults with soar's HTTPS client (see soar-https).
fn defaults(ca_bundle: Option<&str>) -> Result<aws_config::ConfigLoader, soar_https::HttpsError> {
    let http = soar_https::aws_http_client(ca_bundle)?;
    Ok(aws_config::defaults(BehaviorVersion::latest()).http_client(http))
}

/// The role session name of each user of the responder role. The member account's trust policy
/// lets each central function assume the role only under its own name, and the role's permission
/// policy lets only `soar-remediate` sessions change anything (`aws:userid` ends in the session
/// name): the enrich function, which reads outside data, can describe but never contain.
pub mod session {
    pub const ENRICH: &str = "soar-enrich";
    pub const REMEDIATE: &str = "soar-remediate";
    /// A person's tool (`soar rollback`) assuming a role of their own.
    pub const OPERATOR: &str = "soar-operator";
}

/// Credentials for acting in `account`: the role `role_name` there, assumed through STS with the
/// caller's own credentials as `session_name` (see [`session`]). Findings about resources in other
/// accounts are answered with these; the role's trust policy names the central account.
pub async fn for_account(
    base: &SdkConfig,
    account: &str,
    (role_name, session_name): (&str, &str),
    region: Option<&str>,
) -> SdkConfig {
    let partition = base
        .region()
        .map(|r| r.as_ref())
        .filter(|r| r.starts_with("cn-"))
        .map_or("aws", |_| "aws-cn");
    let role_arn = format!("arn:{partition}:iam::{account}:role/{role_name}");
    let provider = AssumeRoleProvider::builder(role_arn)
        .session_name(session_name)
        .configure(base)
        .build()
        .await;
    let mut config = base
        .to_builder()
        .credentials_provider(aws_sdk_sqs::config::SharedCredentialsProvider::new(provider));
    if let Some(region) = region.filter(|r| !r.is_empty()) {
        config = config.region(Region::new(region.to_string()));
    }
    config.build()
}

/// SDK configurations per (account, region) for acting where a finding's resource lives: the
/// function's own configuration for its own account, the assumed responder role elsewhere.
/// Built once per cold start; assumed-role configurations are cached (their credentials refresh
/// themselves).
pub struct AccountConfigs {
    base: SdkConfig,
    role_name: Option<String>,
    session_name: &'static str,
    own_account: tokio::sync::OnceCell<String>,
    cache: tokio::sync::Mutex<std::collections::HashMap<(String, String), SdkConfig>>,
}

impl AccountConfigs {
    /// `session_name`: who assumes `role_name` in other accounts (one of [`session`]).
    pub fn new(base: SdkConfig, role_name: Option<String>, session_name: &'static str) -> Self {
        AccountConfigs {
            base,
            role_name,
            session_name,
            own_account: tokio::sync::OnceCell::new(),
            cache: Default::default(),
        }
    }

    pub fn base(&self) -> &SdkConfig {
        &self.base
    }

    /// The account the function runs in (STS GetCallerIdentity, once).
    pub(crate) async fn own_account(&self) -> Result<&str, String> {
        self.own_account
            .get_or_try_init(|| async {
                let out = aws_sdk_sts::Client::new(&self.base)
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| format!("STS GetCallerIdentity: {}", e.into_service_error()))?;
                Ok::<_, String>(out.account().unwrap_or_default().to_string())
            })
            .await
            .map(String::as_str)
    }

    /// The configuration for acting in `account`/`region` (empty means the function's own).
    pub async fn for_resource(&self, account: &str, region: &str) -> Result<SdkConfig, String> {
        let own = self.own_account().await?;
        let own_region = self.base.region().map(|r| r.as_ref().to_string()).unwrap_or_default();
        let same_account = account.is_empty() || account == own;
        let same_region = region.is_empty() || region == own_region;
        if same_account && same_region {
            return Ok(self.base.clone());
        }
        let key = (account.to_string(), region.to_string());
        let mut cache = self.cache.lock().await;
        if let Some(config) = cache.get(&key) {
            return Ok(config.clone());
        }
        let config = if same_account {
            self.base.to_builder().region(Region::new(region.to_string())).build()
        } else {
            let role = self.role_name.as_deref().ok_or_else(|| {
                format!("the resource is in account {account}: set SOAR_RESPONDER_ROLE_NAME to the role soar may assume there")
            })?;
            for_account(&self.base, account, (role, self.session_name), Some(region)).await
        };
        cache.insert(key, config.clone());
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<SdkConfig, LoadError> {
        let vars: std::collections::HashMap<String, String> =
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        function_config(&vars, DEFAULT_ATTEMPT_TIMEOUT)
    }

    #[test]
    fn a_function_without_a_region_does_not_start() {
        for vars in [&[][..], &[("AWS_REGION", "")][..]] {
            let error = config(vars).unwrap_err();
            assert!(matches!(error, LoadError::MissingRegion));
            assert!(error.to_string().contains("AWS_REGION"), "{error}");
        }
    }

    #[test]
    fn a_function_takes_its_region_and_endpoint_from_lambdas_variables() {
        let config = config(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
        ])
        .unwrap();
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:5000"));
        assert!(config.credentials_provider().is_some());
        assert!(config.sleep_impl().is_some(), "retries and timeouts need a timer");
        let timeouts = config.timeout_config().unwrap();
        assert_eq!(timeouts.operation_attempt_timeout(), Some(DEFAULT_ATTEMPT_TIMEOUT));
        let without_endpoint = super::tests::config(&[("AWS_REGION", "us-east-1")]).unwrap();
        assert_eq!(without_endpoint.endpoint_url(), None);
    }

    /// `AWS_ENDPOINT_URL_<SERVICE>` sends one service elsewhere; the others keep the general
    /// endpoint (asked the way the SDK's generated client configuration asks: service id, the
    /// general variable's name, the profile key).
    #[test]
    fn a_service_endpoint_variable_sends_that_service_alone_elsewhere() {
        use aws_types::service_config::ServiceConfigKey;
        let config = config(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
            ("AWS_ENDPOINT_URL_SECURITYHUB", "http://127.0.0.1:6000"),
            ("AWS_ENDPOINT_URL_SQS", ""),
        ])
        .unwrap();
        let endpoint = |service: &str, env: &str| {
            let key = ServiceConfigKey::builder()
                .service_id(service)
                .env(env)
                .profile("endpoint_url")
                .build()
                .unwrap();
            config.service_config().unwrap().load_config(key)
        };
        assert_eq!(
            endpoint("SecurityHub", "AWS_ENDPOINT_URL").as_deref(),
            Some("http://127.0.0.1:6000")
        );
        assert_eq!(endpoint("SQS", "AWS_ENDPOINT_URL"), None, "an empty one is not set");
        assert_eq!(endpoint("GuardDuty", "AWS_ENDPOINT_URL"), None);
        assert_eq!(endpoint("SecurityHub", "AWS_USE_FIPS_ENDPOINT"), None);
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:5000"));
        let named = ServiceEndpoints::default().with("Security Hub", "http://x");
        assert_eq!(named.0.keys().collect::<Vec<_>>(), ["AWS_ENDPOINT_URL_SECURITY_HUB"]);
    }
}
