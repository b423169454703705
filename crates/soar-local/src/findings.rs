//! A local stand-in for the finding APIs soar writes its verdicts to and moto (5.2.5) lacks:
//! Security Hub `BatchUpdateFindings`, and GuardDuty `ListFindings`, `ArchiveFindings`,
//! `UnarchiveFindings`, `UpdateFindingsFeedback`, `GetAdministratorAccount` (moto answers it with
//! upper-case keys the SDK does not read) and `ListDetectors`. GuardDuty's findings are the ones
//! a test [`FindingServices::publish`]es (any detector of the organisation sees them, as an
//! administrator's sees its members'). It receives the SDK's real requests (restJson1, paths
//! and bodies as the API references give them), records each, keeps what they changed, and
//! answers in the services' wire format. Functions reach it through `AWS_ENDPOINT_URL_SECURITYHUB`
//! and `AWS_ENDPOINT_URL_GUARDDUTY` (see soar-aws `sdk::ServiceEndpoints`). Listens on 127.0.0.1.

use crate::server::Server;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// The moto version whose service list this stands in for (tests/requirements.txt).
pub const MOTO_LACKS: &str = "moto 5.2.5 implements neither Security Hub BatchUpdateFindings nor GuardDuty ListFindings, ArchiveFindings, UnarchiveFindings or UpdateFindingsFeedback (and answers GetAdministratorAccount with keys the SDK does not read)";

/// A GuardDuty finding as ListFindings filters it.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    pub id: String,
    pub account: String,
    pub finding_type: String,
    pub severity: f64,
}

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The API operation (`BatchUpdateFindings`, `ArchiveFindings`, ...).
    pub operation: &'static str,
    pub path: String,
    pub body: Value,
}

/// What the requests changed.
#[derive(Debug, Clone, Default)]
pub struct Findings {
    /// `(detector, finding id)` archived.
    pub archived: BTreeSet<(String, String)>,
    /// `(detector, finding id)` → `USEFUL` / `NOT_USEFUL`.
    pub feedback: BTreeMap<(String, String), String>,
    /// Security Hub `Id` → the last `{Workflow, VerificationState, Note}` written.
    pub updates: BTreeMap<String, Value>,
}

#[derive(Default)]
struct State {
    recorded: Vec<Recorded>,
    findings: Findings,
    published: Vec<Published>,
}

/// GuardDuty's organisation as the stand-in answers it: each member detector's administrator
/// account, and the administrator's own detector (what ListDetectors answers).
#[derive(Debug, Clone, Default)]
pub struct Organisation {
    /// Member detector id → administrator account id.
    pub administrators: BTreeMap<String, String>,
    /// The detector ListDetectors answers (the administrator's, in these tests).
    pub detector_id: String,
}

/// The running stand-in; stops when dropped.
pub struct FindingServices {
    state: Arc<Mutex<State>>,
    server: Server,
}

impl FindingServices {
    /// Standalone accounts: no administrator, ListDetectors answers `lab`.
    pub fn start() -> Result<FindingServices, String> {
        FindingServices::start_with(Organisation {
            detector_id: "lab".into(),
            ..Organisation::default()
        })
    }

    pub fn start_with(organisation: Organisation) -> Result<FindingServices, String> {
        let state = Arc::new(Mutex::new(State::default()));
        let (serving, organisation) = (state.clone(), Arc::new(organisation));
        let server = Server::start("finding-services", move |request| {
            answer(serving.clone(), organisation.clone(), request)
        })?;
        Ok(FindingServices { state, server })
    }

    pub fn endpoint(&self) -> String {
        self.server.endpoint()
    }

    /// A finding GuardDuty has (what ListFindings answers from).
    pub fn publish(&self, finding: Published) {
        self.lock().published.push(finding);
    }

    /// The requests so far, in order.
    pub fn recorded(&self) -> Vec<Recorded> {
        self.lock().recorded.clone()
    }

    /// The requests of one operation.
    pub fn calls(&self, operation: &str) -> Vec<Recorded> {
        self.recorded()
            .into_iter()
            .filter(|r| r.operation == operation)
            .collect()
    }

    pub fn findings(&self) -> Findings {
        self.lock().findings.clone()
    }

    /// The variables that send both services here.
    pub fn vars(&self) -> [(String, String); 2] {
        ["SECURITYHUB", "GUARDDUTY"].map(|s| (format!("AWS_ENDPOINT_URL_{s}"), self.endpoint()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

type Answer = Response<Full<Bytes>>;

async fn answer(
    state: Arc<Mutex<State>>,
    organisation: Arc<Organisation>,
    request: Request<Incoming>,
) -> Result<Answer, hyper::Error> {
    let (head, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let path = head.uri.path().to_string();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    let (operation, reply) = match (&head.method, segments.as_slice()) {
        (&Method::PATCH, ["findings", "batchupdate"]) => {
            ("BatchUpdateFindings", batch_update(&mut state.findings, &body))
        }
        (&Method::GET, ["detector"]) => ("ListDetectors", ok(json!({"detectorIds": [organisation.detector_id]}))),
        (&Method::GET, ["detector", detector, "administrator"]) => (
            "GetAdministratorAccount",
            ok(match organisation.administrators.get(*detector) {
                Some(account) => json!({"administrator": {"accountId": account, "invitationId": "soar-local",
                    "relationshipStatus": "Enabled", "invitedAt": "2026-01-01T00:00:00Z"}}),
                None => json!({}),
            }),
        ),
        (&Method::POST, ["detector", _, "findings"]) => (
            "ListFindings",
            ok(json!({"findingIds": list_findings(&state.published, &body)})),
        ),
        (&Method::POST, ["detector", detector, "findings", verb]) => {
            let findings = &mut state.findings;
            let ids = finding_ids(&body);
            match *verb {
                "archive" => {
                    findings.archived.extend(ids.map(|id| (detector.to_string(), id)));
                    ("ArchiveFindings", ok(json!({})))
                }
                "unarchive" => {
                    for id in ids {
                        findings.archived.remove(&(detector.to_string(), id));
                    }
                    ("UnarchiveFindings", ok(json!({})))
                }
                "feedback" => {
                    let feedback = body["feedback"].as_str().unwrap_or_default().to_string();
                    findings
                        .feedback
                        .extend(ids.map(|id| ((detector.to_string(), id), feedback.clone())));
                    ("UpdateFindingsFeedback", ok(json!({})))
                }
                _ => ("Unknown", not_found(&path)),
            }
        }
        _ => ("Unknown", not_found(&path)),
    };
    state.recorded.push(Recorded { operation, path, body });
    Ok(reply)
}

/// The published findings that meet every criterion of a ListFindings request (`equals` on
/// `id`, `accountId` and `type`; `greaterThanOrEqual` and `lessThanOrEqual` on `severity`); a
/// criterion it does not know matches nothing.
fn list_findings(published: &[Published], body: &Value) -> Vec<String> {
    let criteria = body["findingCriteria"]["criterion"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let meets = |finding: &Published| {
        criteria.iter().all(|(field, condition)| {
            let equals = |value: &str| {
                condition["equals"]
                    .as_array()
                    .is_some_and(|v| v.iter().any(|e| e.as_str() == Some(value)))
            };
            match field.as_str() {
                "id" => equals(&finding.id),
                "accountId" => equals(&finding.account),
                "type" => equals(&finding.finding_type),
                "severity" => {
                    let at_least = condition["greaterThanOrEqual"].as_f64().unwrap_or(f64::MIN);
                    let at_most = condition["lessThanOrEqual"].as_f64().unwrap_or(f64::MAX);
                    (at_least..=at_most).contains(&finding.severity)
                }
                _ => false,
            }
        })
    };
    published.iter().filter(|f| meets(f)).map(|f| f.id.clone()).collect()
}

fn finding_ids(body: &Value) -> impl Iterator<Item = String> + '_ {
    body["findingIds"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(String::from)
}

/// Every identifier processed; what was written kept per `Id`.
fn batch_update(findings: &mut Findings, body: &Value) -> Answer {
    let identifiers = body["FindingIdentifiers"].as_array().cloned().unwrap_or_default();
    for identifier in &identifiers {
        if let Some(id) = identifier["Id"].as_str() {
            let written = json!({
                "Workflow": body["Workflow"], "VerificationState": body["VerificationState"], "Note": body["Note"],
            });
            findings.updates.insert(id.to_string(), written);
        }
    }
    ok(json!({"ProcessedFindings": identifiers, "UnprocessedFindings": []}))
}

fn ok(body: Value) -> Answer {
    respond(StatusCode::OK, "", body)
}

fn not_found(path: &str) -> Answer {
    let message = format!("soar-local's finding services do not implement {path}");
    respond(
        StatusCode::NOT_FOUND,
        "ResourceNotFoundException",
        json!({"message": message}),
    )
}

fn respond(status: StatusCode, error: &str, body: Value) -> Answer {
    let mut response = Response::builder()
        .status(status)
        .header("content-type", "application/json");
    if !error.is_empty() {
        response = response.header("x-amzn-errortype", error);
    }
    response
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}
