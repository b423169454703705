//! The generic HTTP provider: an organisation's own lookup (CMDB, internal threat list, an
//! intelligence service soar has no code for), described in policy data, no Rust needed.
//!
//! ```json
//! {"soar": {"config": {"intel": {"http": [{
//!   "name": "cmdb", "locality": "internal", "indicator_kinds": ["ip", "domain"],
//!   "url": "https://cmdb.corp.example.com/api/lookup?{type}={value}",
//!   "method": "GET", "headers": {"Authorization": "Bearer {secret}"}, "secret": "soar/cmdb",
//!   "found": "/found", "verdict": "/risk/verdict", "score": "/risk/score", "tags": "/labels",
//!   "link": "https://cmdb.corp.example.com/hosts/{value}",
//!   "related": [{"pointer": "/hostnames", "type": "domain"}],
//!   "rate_limits": [{"requests": 60, "seconds": 60}], "cache_ttl_seconds": 3600
//! }]}}}}
//! ```
//!
//! `{value}` and `{type}` are the indicator (percent-encoded in the URL and in header values,
//! JSON-escaped in a `body` template), `{secret}` the named secret. Each template is expanded
//! once: text an indicator brings in is never expanded again. The JSON pointers pick the answer's
//! fields; without `found`, any 2xx answer counts as found and a 404 as not found. A provider
//! is `external` unless it says otherwise, so the egress guard applies by default.

use crate::http::{Answer, Http, encode};
use crate::provider::{Api, Assessment, Reputation, number, related, strings};
use serde::Deserialize;
use serde_json::{Value, json};
use soar_core::alert::{Indicator, IndicatorKind};
use soar_core::egress::Locality;
use soar_core::ports::ExposeSecret;
use soar_core::ports::{RateWindow, Secret};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenericSpec {
    pub name: String,
    #[serde(default = "external")]
    pub locality: Locality,
    pub indicator_kinds: Vec<IndicatorKind>,
    pub url: String,
    #[serde(default = "get")]
    pub method: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A request body template (for POST lookups).
    #[serde(default)]
    pub body: Option<String>,
    /// The secret named here fills `{secret}`.
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default)]
    pub found: Option<String>,
    #[serde(default)]
    pub verdict: Option<String>,
    #[serde(default)]
    pub score: Option<String>,
    #[serde(default)]
    pub tags: Option<String>,
    #[serde(default)]
    pub link: Option<String>,
    #[serde(default)]
    pub related: Vec<RelatedSpec>,
    #[serde(default)]
    pub rate_limits: Vec<RateWindow>,
    #[serde(default)]
    pub cache_ttl_seconds: Option<u64>,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelatedSpec {
    pub pointer: String,
    #[serde(rename = "type")]
    pub kind: IndicatorKind,
}

fn external() -> Locality {
    Locality::External
}

fn get() -> String {
    "GET".into()
}

impl GenericSpec {
    /// Problems a person must fix before this provider can be used, one message each.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let name = &self.name;
        if !(self.url.starts_with("https://") || self.url.starts_with("http://")) {
            problems.push(format!("intel.http `{name}`: url must start with https:// or http://"));
        }
        if !["GET", "POST"].contains(&self.method.to_uppercase().as_str()) {
            problems.push(format!("intel.http `{name}`: method must be GET or POST"));
        }
        let uses_secret = self.url.contains("{secret}")
            || self.headers.values().any(|v| v.contains("{secret}"))
            || self.body.as_deref().is_some_and(|b| b.contains("{secret}"));
        if uses_secret && self.secret.is_none() {
            problems.push(format!("intel.http `{name}`: uses {{secret}} but names no `secret`"));
        }
        for pointer in [&self.found, &self.verdict, &self.score, &self.tags]
            .into_iter()
            .flatten()
        {
            if !pointer.is_empty() && !pointer.starts_with('/') {
                problems.push(format!(
                    "intel.http `{name}`: `{pointer}` is not a JSON pointer (starts with /)"
                ));
            }
        }
        if self.indicator_kinds.is_empty() {
            problems.push(format!("intel.http `{name}`: indicator_kinds is empty"));
        }
        problems
    }
}

/// Expands `template` once: each `{value}`, `{type}` and `{secret}` written in the template is
/// replaced, and what is put in is never read as a template again, so an indicator that
/// contains `{secret}` is sent as that text and can never make a request carry the key. Any
/// other brace is copied as it is (JSON bodies are full of them).
fn fill(template: &str, indicator: &Indicator, key: Option<&Secret>, escape: fn(&str) -> String) -> String {
    let mut out = String::with_capacity(template.len() + indicator.value.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open..];
        let (placeholder, expansion) = if after.starts_with("{value}") {
            ("{value}", Some(escape(&indicator.value)))
        } else if after.starts_with("{type}") {
            ("{type}", Some(indicator.kind.as_str().to_string()))
        } else if after.starts_with("{secret}") {
            ("{secret}", key.map(|k| k.expose_secret().to_string()))
        } else {
            ("{", None)
        };
        match expansion {
            Some(text) => out.push_str(&text),
            None => out.push_str(placeholder),
        }
        rest = &after[placeholder.len()..];
    }
    out.push_str(rest);
    out
}

/// A JSON string's contents, escaped, for body templates.
fn json_escaped(s: &str) -> String {
    let quoted = Value::String(s.to_string()).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

pub struct Generic {
    pub spec: GenericSpec,
}

impl Api for Generic {
    fn kinds(&self) -> &[IndicatorKind] {
        &self.spec.indicator_kinds
    }

    fn request(&self, http: &Http, indicator: &Indicator, key: Option<&Secret>) -> reqwest::RequestBuilder {
        let url = fill(&self.spec.url, indicator, key, encode);
        let mut request = if self.spec.method.eq_ignore_ascii_case("POST") {
            http.client().post(url)
        } else {
            http.client().get(url)
        };
        // Header values carry the indicator percent-encoded, as the URL does: an indicator can
        // hold any character, a header line cannot (a CR or LF would start another header).
        for (name, value) in &self.spec.headers {
            request = request.header(name, fill(value, indicator, key, encode));
        }
        if let Some(body) = &self.spec.body {
            request = request
                .header("content-type", "application/json")
                .body(fill(body, indicator, key, json_escaped));
        }
        request.header("accept", "application/json")
    }

    fn assess(&self, indicator: &Indicator, answer: Answer) -> Result<Assessment, String> {
        let link = self.spec.link.as_ref().map(|l| fill(l, indicator, None, encode));
        let body = match answer {
            Answer::Json(v) => v,
            Answer::NotFound(_) => return Ok(Assessment::not_found(link)),
        };
        let found = match &self.spec.found {
            Some(pointer) => match body.pointer(pointer) {
                Some(Value::Bool(b)) => *b,
                Some(Value::Null) | None => false,
                Some(Value::Number(n)) => n.as_f64() != Some(0.0),
                Some(Value::Array(a)) => !a.is_empty(),
                Some(_) => true,
            },
            None => !body.is_null(),
        };
        let verdict = match self.spec.verdict.as_ref().and_then(|p| body.pointer(p)) {
            Some(v) => serde_json::from_value(v.clone()).map_err(|_| {
                format!(
                    "{v} at {} is not malicious|suspicious|harmless|unknown",
                    self.spec.verdict.as_deref().unwrap_or_default()
                )
            })?,
            None => Reputation::Unknown,
        };
        let score = self
            .spec
            .score
            .as_ref()
            .and_then(|p| number(&body, p))
            .map(|s| s.clamp(0.0, 100.0) as u32);
        let related = self
            .spec
            .related
            .iter()
            .flat_map(|r| {
                strings(&body, &r.pointer)
                    .into_iter()
                    .map(move |v| related(r.kind, &v, &self.spec.name))
            })
            .collect();
        Ok(Assessment {
            found,
            verdict,
            score,
            tags: self.spec.tags.as_ref().map(|p| strings(&body, p)).unwrap_or_default(),
            link,
            details: json!({}),
            related,
        })
    }
}
