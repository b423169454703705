//! A fault-injecting proxy between soar's functions and the local AWS endpoint: every AWS call a
//! function makes goes through it (its `AWS_ENDPOINT_URL` is the proxy), and a set share of the
//! calls fail the ways AWS calls fail in a storm:
//!
//! - **throttled**: the service's own throttling error in its own protocol (DynamoDB's and SQS's
//!   `ThrottlingException`, EC2's `RequestLimitExceeded`, IAM's, STS's and SNS's `Throttling`,
//!   S3's `SlowDown`, Lambda's `TooManyRequestsException`), before the call reaches the endpoint;
//! - **server error**: HTTP 503 with the protocol's `ServiceUnavailable`, before the call;
//! - **timeout**: no answer until well past the client's attempt timeout; half of these reach
//!   the endpoint first (the change is made, the answer is lost);
//! - **reset**: the connection is closed without an answer; half after the call reached the
//!   endpoint.
//!
//! The faults after the call reached the endpoint are the hard case: the client cannot tell a
//! change that happened from one that did not, and retries it. Which call fails is drawn from a
//! seeded generator: the n-th call through the proxy meets the same fault in every run, though
//! which call is n-th varies when functions call at the same time. Listens on 127.0.0.1 only.

use crate::server::Server;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often each fault happens, in calls per thousand, and how long a timeout holds the answer.
#[derive(Debug, Clone, Copy)]
pub struct FaultPlan {
    pub throttle_per_mille: u32,
    pub server_error_per_mille: u32,
    pub timeout_per_mille: u32,
    pub reset_per_mille: u32,
    /// How long a timed-out call hangs: longer than the client's attempt timeout.
    pub hang: Duration,
    pub seed: u64,
}

impl FaultPlan {
    /// A tenth of all calls fail: 4 % throttled, 3 % server errors, 1.5 % timeouts, 1.5 % resets.
    pub fn tenth(hang: Duration, seed: u64) -> FaultPlan {
        FaultPlan {
            throttle_per_mille: 40,
            server_error_per_mille: 30,
            timeout_per_mille: 15,
            reset_per_mille: 15,
            hang,
            seed,
        }
    }
}

/// One kind of injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    Throttle,
    ServerError,
    /// The answer is held past the client's timeout; `true`: the call reached the endpoint.
    Timeout(bool),
    /// The connection is closed without an answer; `true`: the call reached the endpoint.
    Reset(bool),
}

/// What the proxy saw: every call by operation (`DynamoDB_20120810.PutItem`, `EC2.CreateSnapshot`),
/// and the faults it injected by kind.
#[derive(Debug, Default, Clone)]
pub struct FaultCounts {
    pub calls: BTreeMap<String, u64>,
    pub faults: BTreeMap<String, u64>,
}

impl FaultCounts {
    pub fn total_calls(&self) -> u64 {
        self.calls.values().sum()
    }
    pub fn total_faults(&self) -> u64 {
        self.faults.values().sum()
    }
}

struct Shared {
    upstream: String,
    plan: FaultPlan,
    http: reqwest::Client,
    draws: AtomicU64,
    counts: Mutex<FaultCounts>,
}

/// The running proxy; stops when dropped.
pub struct FaultProxy {
    pub port: u16,
    shared: Arc<Shared>,
    _server: Server,
}

impl FaultProxy {
    /// Starts the proxy in front of `upstream` (`http://127.0.0.1:<port>`) on a thread of its own.
    pub fn start(upstream: &str, plan: FaultPlan) -> Result<FaultProxy, String> {
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_string(),
            plan,
            http: soar_https::web_client().no_proxy().build().map_err(|e| e.to_string())?,
            draws: AtomicU64::new(0),
            counts: Mutex::new(FaultCounts::default()),
        });
        let serving = shared.clone();
        let server = Server::start("fault-proxy", move |request| handle(serving.clone(), request))?;
        Ok(FaultProxy {
            port: server.port,
            shared,
            _server: server,
        })
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn counts(&self) -> FaultCounts {
        self.shared.counts.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The proxy's own failure, which makes hyper drop the connection (a reset).
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection reset by the fault proxy")
    }
}

impl std::error::Error for Dropped {}

async fn handle(shared: Arc<Shared>, request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Dropped> {
    let (head, body) = request.into_parts();
    let body = body.collect().await.map_err(|_| Dropped)?.to_bytes();
    let call = Call::read(&head, &body);
    let fault = shared.draw();
    {
        let mut counts = shared.counts.lock().unwrap_or_else(|e| e.into_inner());
        *counts.calls.entry(call.operation.clone()).or_default() += 1;
        if let Some(fault) = fault {
            *counts.faults.entry(format!("{fault:?}")).or_default() += 1;
        }
    }
    match fault {
        Some(Fault::Throttle) => return Ok(call.protocol.error(ErrorKind::Throttle)),
        Some(Fault::ServerError) => return Ok(call.protocol.error(ErrorKind::Unavailable)),
        Some(Fault::Timeout(false)) => {
            tokio::time::sleep(shared.plan.hang).await;
            return Err(Dropped);
        }
        Some(Fault::Reset(false)) => return Err(Dropped),
        _ => {}
    }
    let answer = shared.forward(&head, body).await;
    match fault {
        Some(Fault::Timeout(true)) => {
            tokio::time::sleep(shared.plan.hang).await;
            Err(Dropped)
        }
        Some(Fault::Reset(true)) => Err(Dropped),
        _ => answer,
    }
}

impl Shared {
    /// The fault for the next call, if any (a seeded splitmix64 draw).
    fn draw(&self) -> Option<Fault> {
        let n = self.draws.fetch_add(1, Ordering::Relaxed);
        let mut z = self.plan.seed.wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let roll = (z % 1000) as u32;
        let after = (z >> 32) & 1 == 1;
        let p = &self.plan;
        let mut edge = p.throttle_per_mille;
        if roll < edge {
            return Some(Fault::Throttle);
        }
        edge += p.server_error_per_mille;
        if roll < edge {
            return Some(Fault::ServerError);
        }
        edge += p.timeout_per_mille;
        if roll < edge {
            return Some(Fault::Timeout(after));
        }
        edge += p.reset_per_mille;
        if roll < edge {
            return Some(Fault::Reset(after));
        }
        None
    }

    async fn forward(&self, head: &hyper::http::request::Parts, body: Bytes) -> Result<Response<Full<Bytes>>, Dropped> {
        let path = head.uri.path_and_query().map_or("/", |p| p.as_str());
        let mut request = self
            .http
            .request(head.method.clone(), format!("{}{path}", self.upstream));
        for (name, value) in &head.headers {
            if name != hyper::header::HOST && name != hyper::header::CONTENT_LENGTH {
                request = request.header(name, value);
            }
        }
        let answer = request.body(body).send().await.map_err(|_| Dropped)?;
        let mut response = Response::builder().status(answer.status());
        for (name, value) in answer.headers() {
            if name != hyper::header::CONTENT_LENGTH && name != hyper::header::TRANSFER_ENCODING {
                response = response.header(name, value);
            }
        }
        let bytes = answer.bytes().await.map_err(|_| Dropped)?;
        response.body(Full::new(bytes)).map_err(|_| Dropped)
    }
}

/// The wire protocols of the services soar calls (Smithy's names), which say how an error reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// DynamoDB, SQS, ECS, STS-less JSON services: `X-Amz-Target` and a `__type` field.
    AwsJson,
    /// EC2's query protocol: `<Response><Errors><Error>`.
    Ec2Query,
    /// IAM, STS, SNS: `<ErrorResponse><Error>`.
    AwsQuery,
    /// Lambda, GuardDuty, Security Hub: `X-Amzn-ErrorType` and a JSON body.
    RestJson,
    /// S3: `<Error>`.
    RestXml,
}

enum ErrorKind {
    Throttle,
    Unavailable,
}

struct Call {
    protocol: Protocol,
    operation: String,
}

impl Call {
    fn read(head: &hyper::http::request::Parts, body: &[u8]) -> Call {
        if let Some(target) = head.headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
            return Call {
                protocol: Protocol::AwsJson,
                operation: target.to_string(),
            };
        }
        let form = std::str::from_utf8(body).unwrap_or_default();
        let field = |name: &str| {
            form.split('&')
                .find_map(|pair| pair.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
                .map(String::from)
        };
        if let Some(action) = field("Action") {
            // EC2's API version; the other query services have their own.
            let ec2 = field("Version").as_deref() == Some("2016-11-15");
            return Call {
                protocol: if ec2 { Protocol::Ec2Query } else { Protocol::AwsQuery },
                operation: format!("{}.{action}", if ec2 { "EC2" } else { "Query" }),
            };
        }
        let path = head.uri.path();
        // GuardDuty's and Security Hub's REST paths (the finding services, see crate::findings).
        if path.starts_with("/detector") || path.starts_with("/findings/") {
            let service = if path.starts_with("/detector") {
                "GuardDuty"
            } else {
                "SecurityHub"
            };
            let shape: Vec<&str> = path
                .split('/')
                .enumerate()
                .map(|(i, s)| if service == "GuardDuty" && i == 2 { "*" } else { s })
                .collect();
            return Call {
                protocol: Protocol::RestJson,
                operation: format!("{service}.{} {}", head.method, shape.join("/")),
            };
        }
        if path.starts_with("/2015-03-31/") || path.starts_with("/2017-") {
            return Call {
                protocol: Protocol::RestJson,
                operation: format!("Lambda.{} {}", head.method, first_segments(path, 3)),
            };
        }
        Call {
            protocol: Protocol::RestXml,
            operation: format!("S3.{}", head.method),
        }
    }
}

fn first_segments(path: &str, n: usize) -> String {
    path.split('/').take(n + 1).collect::<Vec<_>>().join("/")
}

impl Protocol {
    /// The service's own error answer: status, headers and body as the SDK parses them.
    fn error(self, kind: ErrorKind) -> Response<Full<Bytes>> {
        let (status, code) = match (kind, self) {
            (ErrorKind::Unavailable, _) => (StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable"),
            (ErrorKind::Throttle, Protocol::AwsJson) => (StatusCode::BAD_REQUEST, "ThrottlingException"),
            (ErrorKind::Throttle, Protocol::Ec2Query) => (StatusCode::SERVICE_UNAVAILABLE, "RequestLimitExceeded"),
            (ErrorKind::Throttle, Protocol::AwsQuery) => (StatusCode::BAD_REQUEST, "Throttling"),
            (ErrorKind::Throttle, Protocol::RestJson) => (StatusCode::TOO_MANY_REQUESTS, "TooManyRequestsException"),
            (ErrorKind::Throttle, Protocol::RestXml) => (StatusCode::SERVICE_UNAVAILABLE, "SlowDown"),
        };
        let message = "injected by soar's fault proxy";
        let (content_type, body) = match self {
            Protocol::AwsJson => (
                "application/x-amz-json-1.0",
                format!(r#"{{"__type":"{code}","message":"{message}"}}"#),
            ),
            Protocol::RestJson => ("application/json", format!(r#"{{"message":"{message}"}}"#)),
            Protocol::Ec2Query => (
                "text/xml",
                format!(
                    "<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>fault</RequestID></Response>"
                ),
            ),
            Protocol::AwsQuery => (
                "text/xml",
                format!(
                    "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>fault</RequestId></ErrorResponse>"
                ),
            ),
            Protocol::RestXml => (
                "application/xml",
                format!("<Error><Code>{code}</Code><Message>{message}</Message><RequestId>fault</RequestId></Error>"),
            ),
        };
        let mut response = Response::builder()
            .status(status)
            .header("content-type", content_type)
            .header("x-amzn-errortype", code);
        if self == Protocol::AwsJson {
            // SQS (query-compatible JSON) reads its error code from this header first.
            response = response.header("x-amzn-query-error", format!("{code};Sender"));
        }
        response
            .body(Full::new(Bytes::from(body)))
            .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
    }
}
