//! Which providers a deployment uses, and with which keys: the intelligence configuration
//! (`--intel-config FILE` for `soar run`, `SOAR_INTEL_CONFIG` for the enrich function), plus the
//! generic HTTP providers the policy data declares (`data.soar.config.intel.http`).
//!
//! ```json
//! {"providers": [
//!    {"type": "virustotal", "secret": "soar/virustotal"},
//!    {"type": "abuseipdb", "secret": "soar/abuseipdb", "rate_limits": [{"requests": 3000, "seconds": 86400}]},
//!    {"type": "greynoise"},
//!    {"type": "otx", "secret": "soar/otx", "cache_ttl_seconds": 3600}],
//!  "max_deferral_seconds": 900}
//! ```
//!
//! Optional per provider: `name` (default: the type), `base_url`, `timeout_ms`, `retries`,
//! `rate_limits` (default: the provider's published free-tier quota), `cache_ttl_seconds`.

use crate::apis::{AbuseIpDb, GreyNoise, Otx, VirusTotal};
use crate::generic::{Generic, GenericSpec};
use crate::http::{Http, HttpSettings};
use crate::provider::{Api, HttpProvider, Limits};
use serde::Deserialize;
use serde_json::Value;
use soar_core::egress::Locality;
use soar_core::ports::{IntelProvider, RateWindow, SecretSource};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum IntelError {
    #[error("intelligence configuration: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderType {
    Virustotal,
    Abuseipdb,
    Greynoise,
    Otx,
}

impl ProviderType {
    fn name(self) -> &'static str {
        match self {
            ProviderType::Virustotal => "virustotal",
            ProviderType::Abuseipdb => "abuseipdb",
            ProviderType::Greynoise => "greynoise",
            ProviderType::Otx => "otx",
        }
    }

    /// The published free-tier quotas: VirusTotal public API 4/min and 500/day, AbuseIPDB free
    /// 1,000 checks/day, GreyNoise community about 50 lookups/week, OTX 10,000 requests/hour.
    fn default_limits(self) -> Vec<RateWindow> {
        let w = |requests, seconds| RateWindow { requests, seconds };
        match self {
            ProviderType::Virustotal => vec![w(4, 60), w(500, 86_400)],
            ProviderType::Abuseipdb => vec![w(1_000, 86_400)],
            ProviderType::Greynoise => vec![w(50, 7 * 86_400)],
            ProviderType::Otx => vec![w(10_000, 3_600)],
        }
    }

    fn default_url(self) -> &'static str {
        match self {
            ProviderType::Virustotal => VirusTotal::DEFAULT_URL,
            ProviderType::Abuseipdb => AbuseIpDb::DEFAULT_URL,
            ProviderType::Greynoise => GreyNoise::DEFAULT_URL,
            ProviderType::Otx => Otx::DEFAULT_URL,
        }
    }

    fn api(self, base_url: String) -> Box<dyn Api> {
        match self {
            ProviderType::Virustotal => Box::new(VirusTotal { base_url }),
            ProviderType::Abuseipdb => Box::new(AbuseIpDb { base_url }),
            ProviderType::Greynoise => Box::new(GreyNoise { base_url }),
            ProviderType::Otx => Box::new(Otx { base_url }),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    #[serde(rename = "type")]
    pub kind: ProviderType,
    #[serde(default)]
    pub name: Option<String>,
    /// The secret holding the API key (Secrets Manager name; locally an environment variable).
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    #[serde(default)]
    pub retries: Option<u32>,
    #[serde(default)]
    pub rate_limits: Option<Vec<RateWindow>>,
    #[serde(default)]
    pub cache_ttl_seconds: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntelConfig {
    #[serde(default)]
    pub providers: Vec<ProviderConfig>,
    /// How long an alert may wait for a provider quota before going on without it.
    #[serde(default)]
    pub max_deferral_seconds: Option<u64>,
}

impl IntelConfig {
    pub fn parse(text: &str) -> Result<Self, IntelError> {
        serde_json::from_str(text).map_err(|e| {
            IntelError::Invalid(format!(
                "{e} (expected {{\"providers\": [{{\"type\": \"virustotal|abuseipdb|greynoise|otx\", \"secret\": \"...\"}}]}})"
            ))
        })
    }

    pub fn max_deferral(&self) -> Option<Duration> {
        self.max_deferral_seconds.map(Duration::from_secs)
    }
}

/// The generic providers declared in policy data (`data.soar.config`, given as `config`).
pub fn generic_specs(config: &Value) -> Result<Vec<GenericSpec>, IntelError> {
    let Some(list) = config.pointer("/intel/http") else {
        return Ok(Vec::new());
    };
    let specs: Vec<GenericSpec> = serde_json::from_value(list.clone())
        .map_err(|e| IntelError::Invalid(format!("data.soar.config.intel.http: {e}")))?;
    let problems: Vec<String> = specs.iter().flat_map(GenericSpec::problems).collect();
    if problems.is_empty() {
        Ok(specs)
    } else {
        Err(IntelError::Invalid(problems.join("; ")))
    }
}

fn settings(timeout_ms: Option<u64>, retries: Option<u32>) -> HttpSettings {
    let defaults = HttpSettings::default();
    HttpSettings {
        timeout: timeout_ms.map(Duration::from_millis).unwrap_or(defaults.timeout),
        retries: retries.unwrap_or(defaults.retries),
        ..defaults
    }
}

/// Every configured provider, ready to look things up. Names must be unique: the policy asks
/// for providers by name.
pub fn build(
    config: &IntelConfig,
    generic: &[GenericSpec],
    secrets: Arc<dyn SecretSource>,
) -> Result<Vec<Arc<dyn IntelProvider>>, IntelError> {
    let mut providers: Vec<Arc<dyn IntelProvider>> = Vec::new();
    for p in &config.providers {
        let name = p.name.clone().unwrap_or_else(|| p.kind.name().to_string());
        let base_url = p.base_url.clone().unwrap_or_else(|| p.kind.default_url().to_string());
        providers.push(Arc::new(HttpProvider::new(
            name,
            Locality::External,
            p.kind.api(base_url.trim_end_matches('/').to_string()),
            Http::new(settings(p.timeout_ms, p.retries)),
            Limits {
                rate_limits: p.rate_limits.clone().unwrap_or_else(|| p.kind.default_limits()),
                cache_ttl: p.cache_ttl_seconds.map(Duration::from_secs),
            },
            p.secret.clone().map(|s| (s, secrets.clone())),
        )));
    }
    for spec in generic {
        providers.push(Arc::new(HttpProvider::new(
            spec.name.clone(),
            spec.locality,
            Box::new(Generic { spec: spec.clone() }),
            Http::new(settings(spec.timeout_ms, None)),
            Limits {
                rate_limits: spec.rate_limits.clone(),
                cache_ttl: spec.cache_ttl_seconds.map(Duration::from_secs),
            },
            spec.secret.clone().map(|s| (s, secrets.clone())),
        )));
    }
    let mut seen = BTreeSet::new();
    for p in &providers {
        if !seen.insert(p.name().to_string()) {
            return Err(IntelError::Invalid(format!("two providers are named `{}`", p.name())));
        }
    }
    Ok(providers)
}
