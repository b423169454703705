//! The HTTP client every provider uses: a timeout per request, retries with exponential backoff
//! on 5xx and connection errors, and 429 handled by `Retry-After`: waited out when short, handed
//! back to the enrich step (which defers the alert) when long.
//!
//! Error messages are built from status codes and error kinds only: never the URL (which may
//! carry a key), a header or a response body.

use backon::{ExponentialBuilder, Retryable};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::{RequestBuilder, StatusCode};
use serde_json::Value;
use soar_core::ports::ProviderError;
use soar_https::LazyWebClient;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
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

    /// Sends the request `build` makes (once per attempt) and reads a JSON answer. Retries
    /// (backon's exponential backoff from `settings.backoff`, doubling) on connection errors,
    /// 5xx and a 429 whose `Retry-After` is short; a server's short `Retry-After` replaces the
    /// backoff's wait.
    pub async fn json(&self, provider: &str, build: impl Fn() -> RequestBuilder) -> Result<Answer, ProviderError> {
        let settings = self.settings;
        let attempts = AtomicU32::new(0);
        // The backoff's wait for the attempt after the last one: the wait a 429 without
        // `Retry-After` hands back when the retries are used up.
        let next_backoff_ms = AtomicU64::new(settings.backoff.as_millis() as u64);
        let (build, attempts_ref) = (&build, &attempts);
        let backoff = ExponentialBuilder::new()
            .with_min_delay(settings.backoff)
            .with_factor(2.0)
            .without_max_delay()
            .with_max_times(settings.retries as usize);
        let answer = (move || async move {
            attempts_ref.fetch_add(1, Ordering::Relaxed);
            self.attempt(build()).await
        })
        .retry(backoff)
        .sleep(tokio::time::sleep)
        .when(|failed| failed.worth_retrying(settings.max_retry_wait))
        .adjust(|failed, next| {
            // As the backoff counts: the first attempt's wait is `backoff`, doubling after.
            let attempt = attempts.load(Ordering::Relaxed).saturating_sub(1);
            let backoff_now = settings.backoff.saturating_mul(2u32.saturating_pow(attempt));
            next_backoff_ms.store(backoff_now.as_millis() as u64, Ordering::Relaxed);
            next.and_then(|wait| failed.wait(wait, settings.max_retry_wait))
        })
        .notify(|failed, wait| tracing::debug!(provider, %failed, ?wait, "trying the provider again"))
        .await;
        let backoff = Duration::from_millis(next_backoff_ms.load(Ordering::Relaxed));
        answer.map_err(|failed| failed.into_error(provider, attempts.load(Ordering::Relaxed), backoff))
    }

    /// One request and its answer.
    async fn attempt(&self, request: RequestBuilder) -> Result<Answer, Failed> {
        let no_answer = || Failed::Final(format!("no answer within {}s", self.settings.timeout.as_secs_f32()));
        let response = request.send().await.map_err(|e| match e {
            e if e.is_timeout() => no_answer(),
            e if e.is_connect() || e.is_request() => Failed::Transport(describe(&e)),
            e => Failed::Final(format!("request failed: {}", describe(&e))),
        })?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(Failed::Quota { retry_after });
        }
        if status.is_server_error() {
            let status = status.as_u16();
            return Err(Failed::Server { status, retry_after });
        }
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(Failed::Final(format!(
                "HTTP {}: the API key was refused",
                status.as_u16()
            )));
        }
        let not_found = status == StatusCode::NOT_FOUND;
        if !status.is_success() && !not_found {
            return Err(Failed::Final(format!("HTTP {}", status.as_u16())));
        }
        let body = match response.bytes().await {
            Ok(b) if b.len() > MAX_BODY_BYTES => {
                return Err(Failed::Final(format!("answer larger than {MAX_BODY_BYTES} bytes")));
            }
            Ok(b) => b,
            Err(e) if e.is_timeout() => return Err(no_answer()),
            Err(e) => return Err(Failed::Final(format!("reading the answer failed: {}", describe(&e)))),
        };
        if not_found {
            // Some providers explain a miss in JSON; others send nothing or HTML.
            return Ok(Answer::NotFound(serde_json::from_slice(&body).unwrap_or(Value::Null)));
        }
        serde_json::from_slice(&body)
            .map(Answer::Json)
            .map_err(|e| Failed::Final(format!("malformed JSON in the answer ({e})")))
    }
}

/// Why one attempt gave no answer.
#[derive(Debug, thiserror::Error)]
enum Failed {
    /// The request did not get through (cannot connect, could not be sent).
    #[error("{0}")]
    Transport(String),
    /// HTTP 5xx.
    #[error("HTTP {status}")]
    Server { status: u16, retry_after: Option<Duration> },
    /// HTTP 429: the provider's quota is used up for now.
    #[error("HTTP 429")]
    Quota { retry_after: Option<Duration> },
    /// Another attempt would get the same answer.
    #[error("{0}")]
    Final(String),
}

impl Failed {
    /// A 429 is worth another attempt only when the provider's wait is short enough to spend
    /// in place; a longer one goes back to the enrich step, which defers the alert.
    fn worth_retrying(&self, max_wait: Duration) -> bool {
        match self {
            Failed::Transport(_) | Failed::Server { .. } => true,
            Failed::Quota { retry_after } => retry_after.is_none_or(|wait| wait <= max_wait),
            Failed::Final(_) => false,
        }
    }

    /// How long to wait before the next attempt: the server's `Retry-After` when it gives a
    /// short one, else the backoff's `next`. `None`: no further attempt, because a quota
    /// without `Retry-After` would be waited out longer than `max_wait` (the alert is deferred).
    fn wait(&self, next: Duration, max_wait: Duration) -> Option<Duration> {
        match self {
            Failed::Quota { retry_after: None } if next > max_wait => None,
            Failed::Server { retry_after, .. } | Failed::Quota { retry_after } => {
                Some(retry_after.filter(|wait| *wait <= max_wait).unwrap_or(next))
            }
            Failed::Transport(_) | Failed::Final(_) => Some(next),
        }
    }

    /// The provider error after the last attempt; `backoff` is the wait the backoff would have
    /// given the next one (what a quota without `Retry-After` hands back).
    fn into_error(self, provider: &str, attempts: u32, backoff: Duration) -> ProviderError {
        let message = match self {
            Failed::Transport(detail) => format!("request failed: {detail}"),
            Failed::Server { status, .. } => format!("HTTP {status} after {attempts} attempts"),
            Failed::Quota { retry_after } => {
                let wait = retry_after.unwrap_or(backoff);
                return ProviderError {
                    retry_after: Some(wait.max(Duration::from_secs(1))),
                    ..ProviderError::new(provider, format!("HTTP 429 (quota), Retry-After {}s", wait.as_secs()))
                };
            }
            Failed::Final(message) => message,
        };
        ProviderError::new(provider, message)
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

/// What stays unencoded in a path segment or query value: RFC 3986's unreserved characters.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Percent-encodes a path segment or query value (RFC 3986 unreserved characters stay).
pub fn encode(value: &str) -> String {
    utf8_percent_encode(value, UNRESERVED).to_string()
}

/// Unpadded base64url (RFC 4648 section 5), as VirusTotal identifies URLs.
pub fn base64url(value: &str) -> String {
    URL_SAFE_NO_PAD.encode(value)
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
