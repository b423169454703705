//! What every HTTP provider shares: the common answer shape, secrets fetched once per cold start,
//! quotas and cache lifetime, and the [`IntelProvider`] implementation over an [`Api`].

use crate::http::{Answer, Http};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use soar_core::alert::{Indicator, IndicatorKind};
use soar_core::egress::Locality;
use soar_core::ports::{IntelProvider, Lookup, ProviderError, RateWindow, Secret, SecretSource};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;

/// The reputation verdict every provider's answer is mapped to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reputation {
    Malicious,
    Suspicious,
    Harmless,
    Unknown,
}

/// One provider's answer in the common enrichment shape (`Lookup.data`):
/// `{verdict, score (0-100), tags, link, details}` plus related indicators for recursion.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    /// The provider knows the indicator (listed, reported, observed).
    pub found: bool,
    pub verdict: Reputation,
    pub score: Option<u32>,
    pub tags: Vec<String>,
    /// Where a person reads more.
    pub link: Option<String>,
    /// A few provider-specific facts worth keeping (counts, classification), never the whole answer.
    pub details: Value,
    pub related: Vec<Indicator>,
}

impl Assessment {
    pub fn not_found(link: Option<String>) -> Self {
        Assessment {
            found: false,
            verdict: Reputation::Unknown,
            score: None,
            tags: Vec::new(),
            link,
            details: Value::Null,
            related: Vec::new(),
        }
    }

    pub(crate) fn into_lookup(self) -> Lookup {
        Lookup {
            found: self.found,
            data: json!({
                "verdict": self.verdict,
                "score": self.score,
                "tags": self.tags,
                "link": self.link,
                "details": self.details,
            }),
            related: self.related,
        }
    }
}

/// An indicator a provider linked to the one looked up (`seen_in` names the provider).
pub fn related(kind: IndicatorKind, value: &str, provider: &str) -> Indicator {
    Indicator::new(kind, value, format!("enrichment:{provider}"), "related")
}

/// One provider's HTTP API: how to ask, and how to read the answer.
pub trait Api: Send + Sync {
    fn kinds(&self) -> &[IndicatorKind];
    /// The request for `indicator`; `key` is the API key when the provider has one configured.
    fn request(&self, http: &Http, indicator: &Indicator, key: Option<&Secret>) -> reqwest::RequestBuilder;
    /// The answer in the common shape; `Err` names what is missing or malformed.
    fn assess(&self, indicator: &Indicator, answer: Answer) -> Result<Assessment, String>;
}

/// Quotas, cache lifetime and where the key is: the deployment's settings for one provider.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Limits {
    pub rate_limits: Vec<RateWindow>,
    pub cache_ttl: Option<Duration>,
}

/// An [`Api`] as an [`IntelProvider`].
pub struct HttpProvider {
    name: String,
    locality: Locality,
    api: Box<dyn Api>,
    http: Http,
    limits: Limits,
    secret_name: Option<String>,
    secrets: Arc<dyn SecretSource>,
    /// Fetched on the first lookup, then kept for the life of the process (one cold start).
    key: OnceCell<Secret>,
}

impl HttpProvider {
    pub fn new(
        name: impl Into<String>,
        locality: Locality,
        api: Box<dyn Api>,
        http: Http,
        limits: Limits,
        secret: Option<(String, Arc<dyn SecretSource>)>,
    ) -> Self {
        let (secret_name, secrets) = match secret {
            Some((name, source)) => (Some(name), source),
            None => (None, Arc::new(NoSecrets) as Arc<dyn SecretSource>),
        };
        HttpProvider {
            name: name.into(),
            locality,
            api,
            http,
            limits,
            secret_name,
            secrets,
            key: OnceCell::new(),
        }
    }

    async fn key(&self) -> Result<Option<&Secret>, ProviderError> {
        let Some(name) = &self.secret_name else {
            return Ok(None);
        };
        self.key
            .get_or_try_init(|| self.secrets.secret(name))
            .await
            .map(Some)
            .map_err(|e| ProviderError::new(&self.name, e.to_string()))
    }
}

#[async_trait]
impl IntelProvider for HttpProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn locality(&self) -> Locality {
        self.locality
    }

    fn indicator_kinds(&self) -> &[IndicatorKind] {
        self.api.kinds()
    }

    fn rate_limits(&self) -> &[RateWindow] {
        &self.limits.rate_limits
    }

    fn cache_ttl(&self) -> Option<Duration> {
        self.limits.cache_ttl
    }

    async fn lookup(&self, indicator: &Indicator) -> Result<Lookup, ProviderError> {
        let key = self.key().await?;
        let answer = self
            .http
            .json(&self.name, || self.api.request(&self.http, indicator, key))
            .await?;
        let assessment = self
            .api
            .assess(indicator, answer)
            .map_err(|why| ProviderError::new(&self.name, format!("unexpected answer: {why}")))?;
        tracing::debug!(provider = %self.name, found = assessment.found, verdict = ?assessment.verdict, "lookup");
        Ok(assessment.into_lookup())
    }
}

/// For providers without a key.
struct NoSecrets;

#[async_trait]
impl SecretSource for NoSecrets {
    async fn secret(&self, name: &str) -> Result<Secret, soar_core::ports::SecretError> {
        Err(soar_core::ports::SecretError {
            name: name.into(),
            message: "no secret source configured".into(),
        })
    }
}

/// `pointer` of `value` as a string list (an array of strings, or one string).
pub fn strings(value: &Value, pointer: &str) -> Vec<String> {
    match value.pointer(pointer) {
        Some(Value::Array(items)) => items.iter().filter_map(|i| i.as_str().map(String::from)).collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// `pointer` of `value` as a number, when it is one.
pub fn number(value: &Value, pointer: &str) -> Option<f64> {
    value.pointer(pointer).and_then(Value::as_f64)
}
