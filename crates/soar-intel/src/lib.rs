//! Threat-intelligence providers over HTTPS for soar's enrich phase, each an
//! [`soar_core::ports::IntelProvider`] marked external (the egress guard keeps internal
//! indicators away from them) and answering in one shape (`{verdict, score, tags, link, details}`
//! plus related indicators for recursion):
//!
//! - [`apis`]: VirusTotal v3, AbuseIPDB v2, GreyNoise community, AlienVault OTX;
//! - [`generic`]: lookups an organisation declares in policy data, internal or external;
//! - [`http`]: timeouts, retries with backoff, `Retry-After`;
//! - [`config`]: which providers, keys, quotas and cache lifetimes a deployment uses;
//! - [`secrets`]: API keys from the environment for local runs (AWS Secrets Manager in `soar-aws`).
//!
//! Quotas are kept by the enrich step through the shared state store, not here, so every
//! function instance counts against the same window.

pub mod apis;
pub mod config;
pub mod generic;
pub mod http;
pub mod provider;
pub mod secrets;

pub use config::{IntelConfig, IntelError, build, generic_specs};
pub use provider::{Assessment, Reputation};
pub use secrets::EnvSecrets;
