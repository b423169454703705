//! A scripted HTTP/1.1 server on 127.0.0.1 for tests of HTTP clients (intelligence providers,
//! webhooks): every request is recorded; a responder function decides each answer, including
//! its status, headers, body and how long it takes.

// Test code: a failed unwrap is the test failing, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path and query, as sent (`/api/v3/ip_addresses/198.51.100.1`).
    pub target: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub at: Instant,
    /// Wall-clock time of arrival, for quota windows aligned to the epoch.
    pub wall: std::time::SystemTime,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The answer to one request.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Wait this long before answering (a slow provider).
    pub delay: Duration,
}

impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }

    pub fn text(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

/// The server (wiremock's, on 127.0.0.1); stops when dropped.
pub struct FakeHttp {
    server: MockServer,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl FakeHttp {
    pub async fn start(responder: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> FakeHttp {
        // A server of its own, not one from wiremock's pool: nothing carries over between tests.
        let server = MockServer::builder().start().await;
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = requests.clone();
        // Recorded here, as the request arrives: wiremock's own log has no arrival times.
        let respond = move |request: &Request| {
            let request = Recorded::from(request);
            recorded.lock().unwrap_or_else(|e| e.into_inner()).push(request.clone());
            responder(&request).into_template()
        };
        Mock::given(any()).respond_with(respond).mount(&server).await;
        FakeHttp { server, requests }
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn url(&self) -> String {
        self.server.uri()
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl From<&Request> for Recorded {
    fn from(request: &Request) -> Recorded {
        let target = match request.url.query() {
            Some(query) => format!("{}?{query}", request.url.path()),
            None => request.url.path().to_string(),
        };
        Recorded {
            method: request.method.to_string(),
            target,
            headers: request
                .headers
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_string(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: String::from_utf8_lossy(&request.body).into_owned(),
            at: Instant::now(),
            wall: std::time::SystemTime::now(),
        }
    }
}

impl Reply {
    fn into_template(self) -> ResponseTemplate {
        let mut template = ResponseTemplate::new(self.status)
            .set_body_bytes(self.body.into_bytes())
            .set_delay(self.delay);
        for (name, value) in self.headers {
            template = template.append_header(name.as_str(), value.as_str());
        }
        template
    }
}
