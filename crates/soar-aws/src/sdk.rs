//! SDK configuration. Every client is built from one [`SdkConfig`] loaded at cold start; the
//! standard variables (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL` for a local endpoint) apply.

pub use aws_config::SdkConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, Region};

/// The configuration of the function's own account, from the environment.
pub async fn load() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// Like [`load`], pointed at `endpoint` (a local moto server) when given.
pub async fn load_with_endpoint(endpoint: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(url) = endpoint {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

/// A local endpoint (moto): fixed region and dummy credentials, nothing from the environment.
pub async fn local(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "soar-local",
        ))
        .load()
        .await
}

/// Credentials for acting in `account`: the responder role `role_name` there, assumed through STS
/// with the function's own credentials. Findings about resources in other accounts are answered
/// with these; the role's trust policy names the central account.
pub async fn for_account(base: &SdkConfig, account: &str, role_name: &str, region: Option<&str>) -> SdkConfig {
    let partition = base
        .region()
        .map(|r| r.as_ref())
        .filter(|r| r.starts_with("cn-"))
        .map_or("aws", |_| "aws-cn");
    let role_arn = format!("arn:{partition}:iam::{account}:role/{role_name}");
    let provider = AssumeRoleProvider::builder(role_arn)
        .session_name("soar-responder")
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
