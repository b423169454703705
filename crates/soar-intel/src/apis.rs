//! The public providers' documented APIs, each mapped to the common [`Assessment`].
//!
//! | provider | request | found when | verdict |
//! |---|---|---|---|
//! | VirusTotal v3 | `GET /api/v3/{ip_addresses,domains,urls,files}/{id}`, `x-apikey` | 200 | engines flagging it: >= 2 malicious, >= 1 suspicious |
//! | AbuseIPDB v2 | `GET /api/v2/check?ipAddress=&maxAgeInDays=90`, `Key` | `totalReports > 0` | confidence >= 75 malicious, >= 25 suspicious |
//! | GreyNoise community | `GET /v3/community/{ip}`, `key` | `noise` or `riot` | its `classification` |
//! | AlienVault OTX | `GET /api/v1/indicators/{IPv4,IPv6,domain,url,file}/{value}/general`, `X-OTX-API-KEY` | `pulse_info.count > 0` | >= 3 pulses malicious, >= 1 suspicious |

use crate::http::{Answer, Http, base64url, encode};
use crate::provider::{Api, Assessment, Reputation, number, related, strings};
use serde_json::{Value, json};
use soar_core::alert::{Indicator, IndicatorKind};
use soar_core::ports::ExposeSecret;
use soar_core::ports::Secret;

/// A GET for JSON, with the API key in `key_header` when there is one.
fn get_json(http: &Http, url: String, key_header: &str, key: Option<&Secret>) -> reqwest::RequestBuilder {
    let request = http.client().get(url).header("accept", "application/json");
    match key {
        Some(key) => request.header(key_header, key.expose_secret()),
        None => request,
    }
}

fn json_of(answer: Answer) -> Result<Value, Option<Value>> {
    match answer {
        Answer::Json(v) => Ok(v),
        Answer::NotFound(v) => Err(Some(v)),
    }
}

/// VirusTotal API v3.
pub struct VirusTotal {
    pub base_url: String,
}

impl VirusTotal {
    pub const DEFAULT_URL: &str = "https://www.virustotal.com";

    fn collection(kind: IndicatorKind) -> (&'static str, &'static str) {
        match kind {
            IndicatorKind::Ip => ("ip_addresses", "ip-address"),
            IndicatorKind::Domain => ("domains", "domain"),
            IndicatorKind::Url => ("urls", "url"),
            _ => ("files", "file"),
        }
    }

    fn id(indicator: &Indicator) -> String {
        match indicator.kind {
            IndicatorKind::Url => base64url(&indicator.value),
            _ => encode(&indicator.value),
        }
    }

    fn link(indicator: &Indicator) -> String {
        let (_, gui) = Self::collection(indicator.kind);
        format!("https://www.virustotal.com/gui/{gui}/{}", Self::id(indicator))
    }
}

impl Api for VirusTotal {
    fn kinds(&self) -> &[IndicatorKind] {
        &[
            IndicatorKind::Ip,
            IndicatorKind::Domain,
            IndicatorKind::Url,
            IndicatorKind::Hash,
        ]
    }

    fn request(&self, http: &Http, indicator: &Indicator, key: Option<&Secret>) -> reqwest::RequestBuilder {
        let (collection, _) = Self::collection(indicator.kind);
        let url = format!("{}/api/v3/{collection}/{}", self.base_url, Self::id(indicator));
        get_json(http, url, "x-apikey", key)
    }

    fn assess(&self, indicator: &Indicator, answer: Answer) -> Result<Assessment, String> {
        let body = match json_of(answer) {
            Ok(v) => v,
            Err(_) => return Ok(Assessment::not_found(None)),
        };
        let attributes = body.pointer("/data/attributes").ok_or("no data.attributes")?;
        let stats = attributes
            .get("last_analysis_stats")
            .ok_or("no data.attributes.last_analysis_stats")?;
        let count = |k: &str| stats.get(k).and_then(Value::as_u64).unwrap_or(0);
        let (malicious, suspicious) = (count("malicious"), count("suspicious"));
        let engines = malicious + suspicious + count("harmless") + count("undetected");
        let verdict = if malicious >= 2 {
            Reputation::Malicious
        } else if malicious >= 1 || suspicious >= 1 {
            Reputation::Suspicious
        } else if engines > 0 {
            Reputation::Harmless
        } else {
            Reputation::Unknown
        };
        let score = (engines > 0).then(|| ((malicious * 100 + suspicious * 50) / engines).min(100) as u32);
        // A domain's A records: the addresses it resolved to, offered back for recursion.
        let related_ips = attributes
            .get("last_dns_records")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|r| r.get("type").and_then(Value::as_str) == Some("A"))
            .filter_map(|r| r.get("value").and_then(Value::as_str))
            .map(|ip| related(IndicatorKind::Ip, ip, "virustotal"))
            .collect();
        Ok(Assessment {
            found: true,
            verdict,
            score,
            tags: strings(attributes, "/tags"),
            link: Some(Self::link(indicator)),
            details: json!({
                "malicious": malicious, "suspicious": suspicious, "engines": engines,
                "reputation": attributes.get("reputation"),
            }),
            related: related_ips,
        })
    }
}

/// AbuseIPDB API v2, `check`.
pub struct AbuseIpDb {
    pub base_url: String,
}

impl AbuseIpDb {
    pub const DEFAULT_URL: &str = "https://api.abuseipdb.com";
}

impl Api for AbuseIpDb {
    fn kinds(&self) -> &[IndicatorKind] {
        &[IndicatorKind::Ip]
    }

    fn request(&self, http: &Http, indicator: &Indicator, key: Option<&Secret>) -> reqwest::RequestBuilder {
        let url = format!(
            "{}/api/v2/check?ipAddress={}&maxAgeInDays=90",
            self.base_url,
            encode(&indicator.value)
        );
        get_json(http, url, "key", key)
    }

    fn assess(&self, indicator: &Indicator, answer: Answer) -> Result<Assessment, String> {
        let link = Some(format!("https://www.abuseipdb.com/check/{}", encode(&indicator.value)));
        let body = match json_of(answer) {
            Ok(v) => v,
            Err(_) => return Ok(Assessment::not_found(link)),
        };
        let data = body.get("data").ok_or("no data")?;
        let confidence = number(data, "/abuseConfidenceScore").ok_or("no data.abuseConfidenceScore")? as u32;
        let reports = number(data, "/totalReports").unwrap_or(0.0) as u64;
        let whitelisted = data.get("isWhitelisted").and_then(Value::as_bool) == Some(true);
        let verdict = if whitelisted {
            Reputation::Harmless
        } else if confidence >= 75 {
            Reputation::Malicious
        } else if confidence >= 25 {
            Reputation::Suspicious
        } else if reports == 0 {
            Reputation::Unknown
        } else {
            Reputation::Harmless
        };
        let mut tags = Vec::new();
        if data.get("isTor").and_then(Value::as_bool) == Some(true) {
            tags.push("tor".to_string());
        }
        tags.extend(strings(data, "/usageType"));
        Ok(Assessment {
            found: reports > 0,
            verdict,
            score: Some(confidence.min(100)),
            tags,
            link,
            details: json!({
                "total_reports": reports, "distinct_users": data.get("numDistinctUsers"),
                "country": data.get("countryCode"), "isp": data.get("isp"),
                "last_reported_at": data.get("lastReportedAt"),
            }),
            related: strings(data, "/hostnames")
                .iter()
                .map(|h| related(IndicatorKind::Domain, h, "abuseipdb"))
                .collect(),
        })
    }
}

/// GreyNoise community API: is this address scanning the internet, or a known business service?
pub struct GreyNoise {
    pub base_url: String,
}

impl GreyNoise {
    pub const DEFAULT_URL: &str = "https://api.greynoise.io";
}

impl Api for GreyNoise {
    fn kinds(&self) -> &[IndicatorKind] {
        &[IndicatorKind::Ip]
    }

    fn request(&self, http: &Http, indicator: &Indicator, key: Option<&Secret>) -> reqwest::RequestBuilder {
        let url = format!("{}/v3/community/{}", self.base_url, encode(&indicator.value));
        get_json(http, url, "key", key)
    }

    fn assess(&self, indicator: &Indicator, answer: Answer) -> Result<Assessment, String> {
        let link = format!("https://viz.greynoise.io/ip/{}", encode(&indicator.value));
        let body = match json_of(answer) {
            Ok(v) => v,
            // A 404 is GreyNoise's "not observed scanning, not a known service".
            Err(_) => return Ok(Assessment::not_found(Some(link))),
        };
        let flag = |k: &str| body.get(k).and_then(Value::as_bool) == Some(true);
        let (noise, riot) = (flag("noise"), flag("riot"));
        let classification = body
            .get("classification")
            .and_then(Value::as_str)
            .ok_or("no classification")?;
        let (verdict, score) = match classification {
            "malicious" => (Reputation::Malicious, 90),
            "benign" => (Reputation::Harmless, 0),
            _ if noise => (Reputation::Suspicious, 50),
            _ => (Reputation::Unknown, 0),
        };
        let mut tags = Vec::new();
        if noise {
            tags.push("internet_scanner".to_string());
        }
        if riot {
            tags.push("common_business_service".to_string());
        }
        tags.extend(strings(&body, "/name").into_iter().filter(|n| n != "unknown"));
        Ok(Assessment {
            found: noise || riot,
            verdict,
            score: Some(score),
            tags,
            link: body
                .get("link")
                .and_then(Value::as_str)
                .map(String::from)
                .or(Some(link)),
            details: json!({"classification": classification, "last_seen": body.get("last_seen")}),
            related: Vec::new(),
        })
    }
}

/// AlienVault OTX indicator API, `general` section.
pub struct Otx {
    pub base_url: String,
}

impl Otx {
    pub const DEFAULT_URL: &str = "https://otx.alienvault.com";

    fn section(indicator: &Indicator) -> (&'static str, &'static str) {
        match indicator.kind {
            IndicatorKind::Ip if indicator.value.contains(':') => ("IPv6", "ip"),
            IndicatorKind::Ip => ("IPv4", "ip"),
            IndicatorKind::Domain => ("domain", "domain"),
            IndicatorKind::Url => ("url", "url"),
            _ => ("file", "file"),
        }
    }
}

impl Api for Otx {
    fn kinds(&self) -> &[IndicatorKind] {
        &[
            IndicatorKind::Ip,
            IndicatorKind::Domain,
            IndicatorKind::Url,
            IndicatorKind::Hash,
        ]
    }

    fn request(&self, http: &Http, indicator: &Indicator, key: Option<&Secret>) -> reqwest::RequestBuilder {
        let (section, _) = Self::section(indicator);
        let url = format!(
            "{}/api/v1/indicators/{section}/{}/general",
            self.base_url,
            encode(&indicator.value)
        );
        get_json(http, url, "x-otx-api-key", key)
    }

    fn assess(&self, indicator: &Indicator, answer: Answer) -> Result<Assessment, String> {
        let (_, page) = Self::section(indicator);
        let link = Some(format!(
            "https://otx.alienvault.com/indicator/{page}/{}",
            encode(&indicator.value)
        ));
        let body = match json_of(answer) {
            Ok(v) => v,
            Err(_) => return Ok(Assessment::not_found(link)),
        };
        let pulses = number(&body, "/pulse_info/count").ok_or("no pulse_info.count")? as u64;
        let verdict = match pulses {
            0 => Reputation::Unknown,
            1 | 2 => Reputation::Suspicious,
            _ => Reputation::Malicious,
        };
        let mut tags: Vec<String> = body
            .pointer("/pulse_info/pulses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .flat_map(|p| strings(p, "/tags"))
            .collect();
        tags.sort();
        tags.dedup();
        tags.truncate(20);
        Ok(Assessment {
            found: pulses > 0,
            verdict,
            score: Some((pulses * 20).min(100) as u32),
            tags,
            link,
            details: json!({"pulses": pulses, "reputation": body.get("reputation")}),
            related: Vec::new(),
        })
    }
}
