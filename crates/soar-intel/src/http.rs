//! The HTTP client every provider uses: a timeout per request, retries with exponential backoff
//! on 5xx and connection errors, and 429 handled by `Retry-After`: waited out when short, handed
//! back to the enrich step (which defers the alert) when long.
//!
//! Error messages are built from status codes and error kinds only: never the URL (which may
//! carry a key), a header or a response body.

use reqwest::{RequestBuilder, StatusCode};
use serde_json::Value;
use soar_core::ports::ProviderError;
use soar_https::LazyWebClient;
use std::sync::Arc;
use std::time::Duration;

/// Answers larger than this are not intelligence, they are a mistake.
const MAX_BODY_BYTES: usize = 1 << 20;

/// How hard to try.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HttpSettings {
    pub timeout: Duration,
    /// Further attempts after the first, on 429 (short Retry-After), 5xx and connection errors.
    pub retries: u32,
    /// First backoff; doubled per attempt.
    pub backoff: Duration,
    /// The longest Retry-After waited out in place; a longer one defers the alert instead.
    pub max_retry_wait: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            timeout: Duration::from_secs(5),
            retries: 2,
            backoff: Duration::from_millis(250),
            max_retry_wait: Duration::from_secs(5),
        }
    }
}

/// A provider's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Json(Value),
    /// The provider does not know the indicator (HTTP 404).
    NotFound(Value),
}

#[derive(Clone)]
pub struct Http {
    /// Built on first use: a cold start that looks nothing up (or not yet) does not load the
    /// system's trust store.
    client: Arc<LazyWebClient>,
    settings: HttpSettings,
}

impl Http {
    pub fn new(settings: HttpSettings) -> Self {
        Http {
            client: Arc::new(LazyWebClient::with_timeout(settings.timeout)),
            settings,
        }
    }

    pub fn settings(&self) -> HttpSettings {
        self.settings
    }

    pub fn client(&self) -> &reqwest::Client {
        self.client.get()
    }

    /// Sends the request `build` makes (once per attempt) and reads a JSON answer.
    pub async fn json(&self, provider: &str, build: impl Fn() -> RequestBuilder) -> Result<Answer, ProviderError> {
        let fail = |message: String| ProviderError::new(provider, message);
        let mut attempt = 0u32;
        loop {
            let backoff = self.settings.backoff * 2u32.saturating_pow(attempt);
            let may_retry = attempt < self.settings.retries;
            attempt += 1;
            let response = match build().send().await {
                Ok(r) => r,
                Err(e) if e.is_timeout() => {
                    return Err(fail(format!(
                        "no answer within {}s",
                        self.settings.timeout.as_secs_f32()
                    )));
                }
                Err(e) if may_retry && (e.is_connect() || e.is_request()) => {
                    tokio::time::sleep(backoff).await;
                    continue;
                }
                Err(e) => return Err(fail(format!("request failed: {}", describe(&e)))),
            };
            let status = response.status();
            if status == StatusCode::TOO_MANY_REQUESTS {
                let wait = retry_after(response.headers()).unwrap_or(backoff);
                if may_retry && wait <= self.settings.max_retry_wait {
                    tokio::time::sleep(wait).await;
                    continue;
                }
                return Err(ProviderError {
                    retry_after: Some(wait.max(Duration::from_secs(1))),
                    ..fail(format!("HTTP 429 (quota), Retry-After {}s", wait.as_secs()))
                });
            }
            if status.is_server_error() {
                if may_retry {
                    let wait = retry_after(response.headers())
                        .filter(|w| *w <= self.settings.max_retry_wait)
                        .unwrap_or(backoff);
                    tokio::time::sleep(wait).await;
                    continue;
                }
                return Err(fail(format!("HTTP {} after {attempt} attempts", status.as_u16())));
            }
            if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                return Err(fail(format!("HTTP {}: the API key was refused", status.as_u16())));
            }
            let not_found = status == StatusCode::NOT_FOUND;
            if !status.is_success() && !not_found {
                return Err(fail(format!("HTTP {}", status.as_u16())));
            }
            let body = match response.bytes().await {
                Ok(b) if b.len() > MAX_BODY_BYTES => {
                    return Err(fail(format!("answer larger than {MAX_BODY_BYTES} bytes")));
                }
                Ok(b) => b,
                Err(e) if e.is_timeout() => {
                    return Err(fail(format!(
                        "no answer within {}s",
                        self.settings.timeout.as_secs_f32()
                    )));
                }
                Err(e) => return Err(fail(format!("reading the answer failed: {}", describe(&e)))),
            };
            if not_found {
                // Some providers explain a miss in JSON; others send nothing or HTML.
                return Ok(Answer::NotFound(serde_json::from_slice(&body).unwrap_or(Value::Null)));
            }
            return serde_json::from_slice(&body)
                .map(Answer::Json)
                .map_err(|e| fail(format!("malformed JSON in the answer ({e})")));
        }
    }
}

/// What went wrong, without the URL.
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_connect() {
        "cannot connect"
    } else if e.is_redirect() {
        "too many redirects"
    } else if e.is_body() || e.is_decode() {
        "broken answer"
    } else {
        "transport error"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_string()
    } else {
        format!("{kind} ({detail})")
    }
}

/// `Retry-After: 30` or `Retry-After: Wed, 21 Oct 2015 07:28:00 GMT`.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    (when.with_timezone(&chrono::Utc) - chrono::Utc::now()).to_std().ok()
}

/// Percent-encodes a path segment or query value (RFC 3986 unreserved characters stay).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(byte as char),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// Unpadded base64url, as VirusTotal identifies URLs.
pub fn base64url(value: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = value.as_bytes();
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        assert_eq!(encode("a b/c?d=é"), "a%20b%2Fc%3Fd%3D%C3%A9");
        assert_eq!(base64url("http://example.com/"), "aHR0cDovL2V4YW1wbGUuY29tLw");
        assert_eq!(base64url("ab"), "YWI");
        assert_eq!(base64url("abc"), "YWJj");
    }

    #[test]
    fn retry_after_in_seconds_and_as_a_date() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::RETRY_AFTER, "30".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(30)));
        let later = (chrono::Utc::now() + chrono::Duration::seconds(120)).to_rfc2822();
        headers.insert(reqwest::header::RETRY_AFTER, later.parse().unwrap());
        let wait = retry_after(&headers).unwrap();
        assert!(
            wait > Duration::from_secs(100) && wait <= Duration::from_secs(120),
            "{wait:?}"
        );
    }
}
