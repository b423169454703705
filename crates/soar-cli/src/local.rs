//! `soar local pump` and `soar local demo`: the function set running on one machine, with a moto
//! server for AWS and cargo lambda's emulator for Lambda.

use crate::aws_cmd::config;
use serde_json::json;
use soar_aws::{DynamoClient, DynamoState, SqsQueue, sdk};
use soar_core::document::Document;
use soar_core::ports::AlertLog;
use soar_local::findings::{FindingServices, Published};
use soar_local::lab::{self, LabFinding};
use soar_local::pump::{Delivery, Invoke, Route, drain};
use soar_local::setup::setup;
use soar_local::{HttpInvoker, LambdaEmulator, Moto};
use std::path::Path;
use std::process::ExitCode;

const PHASES: [&str; 4] = ["ingest", "enrich", "evaluate", "remediate"];

fn routes(aws: &sdk::SdkConfig, url_of: impl Fn(&str) -> Result<String, String>) -> Result<Vec<Route>, String> {
    PHASES
        .iter()
        .map(|phase| {
            let url = url_of(&format!("SOAR_{}_QUEUE_URL", phase.to_uppercase()))?;
            Ok(Route {
                queue: SqsQueue::new(aws_sdk_sqs::Client::new(aws), url),
                function: phase.to_string(),
            })
        })
        .collect()
}

fn print_delivery(d: &Delivery) {
    let failed = if d.failed.is_empty() {
        String::new()
    } else {
        format!(", {} failed: {}", d.failed.len(), d.failed.join(" "))
    };
    println!("  delivered   {} message(s) to {}{failed}", d.messages, d.function);
}

/// Delivers the queues' messages to the emulator at 127.0.0.1:`port` until they stay empty.
pub(crate) async fn run_pump(endpoint: Option<&str>, port: u16) -> Result<ExitCode, String> {
    let aws = config(endpoint).await?;
    let routes = routes(&aws, |name| {
        std::env::var(name).map_err(|_| format!("{name} is not set (see `soar setup`)"))
    })?;
    let deliveries = drain(&routes, &HttpInvoker::new(port), 3, 1000).await?;
    deliveries.iter().for_each(print_delivery);
    let failed: usize = deliveries.iter().map(|d| d.failed.len()).sum();
    println!("{} batch(es) delivered, {failed} record failure(s)", deliveries.len());
    Ok(ExitCode::SUCCESS)
}

/// The whole system on this machine: moto, setup, a lab instance, the four functions under the
/// emulator, GuardDuty findings on the EventBridge bus, delivery, and the timeline.
pub(crate) async fn run_demo(workspace: &Path, keep: bool) -> Result<ExitCode, String> {
    println!("soar local demo: the four functions under cargo lambda's emulator, AWS on a local moto server\n");
    let moto = Moto::start(workspace)?;
    println!("  moto        {}", moto.endpoint());
    let findings = FindingServices::start()?;
    println!(
        "  findings    {} (Security Hub's and GuardDuty's finding APIs, which moto lacks)",
        findings.endpoint()
    );
    let aws = sdk::local(&moto.endpoint()).await.map_err(|e| e.to_string())?;
    let stage = stage(&aws).await?;
    let log_path = std::env::temp_dir().join(format!("soar-demo-{}.log", std::process::id()));
    let emulator = start_functions(workspace, (&moto, &findings), &stage, &log_path)?;
    let tor = LabFinding {
        account: DEMO_ACCOUNT,
        region: "us-east-1",
        id: "demo-tor-client",
        finding_type: "UnauthorizedAccess:EC2/TorClient",
        severity: 8.0,
        remote_ip: "198.51.100.23",
        sample: false,
    };
    let sample = LabFinding {
        id: "demo-sample",
        sample: true,
        ..tor.clone()
    };
    // Low severity, nothing corroborates it: a false positive, written back to GuardDuty.
    let probe = LabFinding {
        id: "demo-port-probe",
        finding_type: "Recon:EC2/PortProbeUnprotectedPort",
        severity: 2.0,
        ..tor.clone()
    };
    // GuardDuty has the probe as the alert says (soar confirms a finding before it hides it).
    findings.publish(Published {
        id: probe.id.into(),
        account: probe.account.into(),
        finding_type: probe.finding_type.into(),
        severity: probe.severity,
    });
    for finding in [&tor, &sample, &probe] {
        put_event(&aws, &lab::guardduty_event(&stage.web, finding)).await?;
        let kind = if finding.sample { "sample finding" } else { "finding" };
        println!(
            "  published   {kind} {} (severity {}) about {} on the EventBridge bus",
            finding.finding_type, finding.severity, stage.web.instance_id
        );
    }
    println!();
    let routes = routes(&aws, |name| {
        stage
            .env
            .vars
            .get(name)
            .cloned()
            .ok_or_else(|| format!("setup gave no {name}"))
    })?;
    let invoker = emulator.invoker();
    warm_up(&invoker).await;
    let deliveries = drain(&routes, &invoker, 3, 100).await?;
    deliveries.iter().for_each(print_delivery);
    let as_expected = report(&aws, &stage, (&tor, &sample), &log_path).await?
        & report_write_back(&aws, &stage, &probe, &findings).await?;
    if let Err(e) = console(&aws, &stage, &tor, keep).await {
        eprintln!("soar: the console did not start: {e}");
    }
    drop(emulator);
    drop(moto);
    println!("\nstopped the emulator and the moto server");
    if as_expected {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "soar: the demo did not end as expected; the functions' logs are in {}",
            log_path.display()
        );
        Ok(ExitCode::from(1))
    }
}

/// The console's port in the demo (`soar console`'s default).
const CONSOLE_PORT: u16 = 8780;

/// The web console of the demo's alert: with `keep`, served on this stack until Ctrl-C; without,
/// how to get it.
async fn console(aws: &sdk::SdkConfig, stage: &Stage, tor: &LabFinding<'_>, keep: bool) -> Result<(), String> {
    let alert_id = format!("guardduty/{DEMO_ACCOUNT}/us-east-1/{}", tor.id);
    let encoded: String = form_urlencoded::byte_serialize(alert_id.as_bytes()).collect();
    let page = format!("/alert?id={encoded}");
    if !keep {
        println!(
            "
  console     make demo-console: this demo, kept running, with the web console (soar console) at
              http://127.0.0.1:{CONSOLE_PORT}{page}"
        );
        return Ok(());
    }
    let var = |name: &str| {
        stage
            .env
            .vars
            .get(name)
            .cloned()
            .ok_or_else(|| format!("setup gave no {name}"))
    };
    let deployment = (var("SOAR_TABLE")?, var("SOAR_REMEDIATE_QUEUE_URL")?);
    println!();
    crate::console::serve(aws, deployment, (CONSOLE_PORT, &page), None, None).await
}

/// The account of the demo's findings (moto's default).
const DEMO_ACCOUNT: &str = "123456789012";

/// What the demo sets up before the functions start.
struct Stage {
    env: soar_local::setup::Environment,
    topic_arn: String,
    web: lab::LabInstance,
    before: Vec<(String, String)>,
}

/// The table, queues and rule, an SNS topic for people, and an instance to respond to.
async fn stage(aws: &sdk::SdkConfig) -> Result<Stage, String> {
    let env = setup(aws, "soar").await?;
    println!(
        "  setup       table {}, 4 queues with dead-letter queues, rule {}",
        env.vars["SOAR_TABLE"], env.rule_name
    );
    let topic = aws_sdk_sns::Client::new(aws)
        .create_topic()
        .name("soar-oncall")
        .send()
        .await
        .map_err(|e| format!("SNS CreateTopic: {}", e.into_service_error()))?;
    let web = lab::create_instance(
        aws,
        "web-1",
        &[("owner", "web-platform"), ("environment", "production")],
    )
    .await?;
    let before = lab::eni_groups(aws, &web.network_interface_id).await?;
    println!(
        "  instance    {} in {} ({}), security groups: {}",
        web.instance_id,
        web.vpc_id,
        web.private_ip,
        names(&before)
    );
    Ok(Stage {
        env,
        topic_arn: topic.topic_arn().unwrap_or_default().to_string(),
        web,
        before,
    })
}

/// The four functions under the emulator, in enforce mode against moto, logging to `log_path`.
fn start_functions(
    workspace: &Path,
    (moto, findings): (&Moto, &FindingServices),
    stage: &Stage,
    log_path: &Path,
) -> Result<LambdaEmulator, String> {
    let mut function_env: Vec<(String, String)> = stage.env.vars.clone().into_iter().collect();
    function_env.extend(findings.vars());
    function_env.extend(
        [
            ("AWS_ENDPOINT_URL", moto.endpoint()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("SOAR_MODE", "enforce".into()),
            ("SOAR_NOTIFY_TOPIC_ARN", stage.topic_arn.clone()),
        ]
        .map(|(k, v)| (k.to_string(), v)),
    );
    let log = std::fs::File::create(log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    let emulator = LambdaEmulator::start(workspace, &function_env, log)?;
    println!(
        "  emulator    cargo lambda watch on 127.0.0.1:{} (mode enforce; logs in {})",
        emulator.port,
        log_path.display()
    );
    Ok(emulator)
}

/// The timeline and what changed in the account; `true` when the incident was isolated and the
/// sample left alone.
async fn report(
    aws: &sdk::SdkConfig,
    stage: &Stage,
    (tor, sample): (&LabFinding<'_>, &LabFinding<'_>),
    log_path: &Path,
) -> Result<bool, String> {
    let web = &stage.web;
    let state = DynamoState::new(DynamoClient::new(aws), stage.env.vars["SOAR_TABLE"].clone());
    let alert_id = format!("guardduty/{DEMO_ACCOUNT}/us-east-1/{}", tor.id);
    let doc = state.load_document(&alert_id).await.map_err(|e| e.to_string())?;
    let after = lab::eni_groups(aws, &web.network_interface_id).await?;
    let snapshots = lab::snapshots_for(aws, &alert_id).await?;
    println!();
    match &doc {
        Some(doc) => print_timeline(doc),
        None => println!("no document was stored for {alert_id}: see {}", log_path.display()),
    }
    println!(
        "\n  security groups of {} before: {}",
        web.instance_id,
        names(&stage.before)
    );
    println!("  security groups of {} after:  {}", web.instance_id, names(&after));
    println!(
        "  snapshots tagged with the alert: {}",
        if snapshots.is_empty() {
            "none".into()
        } else {
            snapshots.join(", ")
        }
    );
    let sample_id = format!("guardduty/{DEMO_ACCOUNT}/us-east-1/{}", sample.id);
    let sample_stored = state
        .load_document(&sample_id)
        .await
        .map_err(|e| e.to_string())?
        .is_some();
    println!(
        "  sample finding {}: {}",
        sample.id,
        if sample_stored {
            "STORED (unexpected)"
        } else {
            "suppressed at ingest, nothing done"
        }
    );
    let isolated = after.iter().all(|(_, name)| name.starts_with("soar-quarantine-")) && !after.is_empty();
    Ok(doc.is_some() && isolated && !sample_stored)
}

/// The false positive's verdict as GuardDuty now has it; `true` when it was archived and rated.
async fn report_write_back(
    aws: &sdk::SdkConfig,
    stage: &Stage,
    probe: &LabFinding<'_>,
    findings: &FindingServices,
) -> Result<bool, String> {
    let state = DynamoState::new(DynamoClient::new(aws), stage.env.vars["SOAR_TABLE"].clone());
    let alert_id = format!("guardduty/{DEMO_ACCOUNT}/us-east-1/{}", probe.id);
    println!();
    match state.load_document(&alert_id).await.map_err(|e| e.to_string())? {
        Some(doc) => print_timeline(&doc),
        None => println!("no document was stored for {alert_id}"),
    }
    let written = findings.findings();
    let key = ("lab".to_string(), probe.id.to_string());
    let archived = written.archived.contains(&key);
    let feedback = written.feedback.get(&key).cloned();
    println!(
        "\n  in GuardDuty, finding {}: {}, feedback {}",
        probe.id,
        if archived { "archived" } else { "NOT archived" },
        feedback.as_deref().unwrap_or("none")
    );
    Ok(archived && feedback.as_deref() == Some("NOT_USEFUL"))
}

/// The first invocation of each function compiles it; do that before the clock matters.
async fn warm_up(invoker: &HttpInvoker) {
    for phase in PHASES {
        let _ = invoker.invoke(phase, json!({"Records": []})).await;
    }
}

async fn put_event(aws: &sdk::SdkConfig, event: &serde_json::Value) -> Result<(), String> {
    let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
        .source(event["source"].as_str().unwrap_or_default())
        .detail_type(event["detail-type"].as_str().unwrap_or_default())
        .detail(event["detail"].to_string())
        .build();
    let out = aws_sdk_eventbridge::Client::new(aws)
        .put_events()
        .entries(entry)
        .send()
        .await
        .map_err(|e| format!("EventBridge PutEvents: {}", e.into_service_error()))?;
    if out.failed_entry_count() > 0 {
        return Err(format!("EventBridge refused the event: {:?}", out.entries()));
    }
    Ok(())
}

fn names(groups: &[(String, String)]) -> String {
    groups
        .iter()
        .map(|(id, name)| format!("{name} ({id})"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_timeline(doc: &Document) {
    let a = &doc.alert;
    println!("timeline of {}", a.id);
    println!(
        "  received    {} severity {} on {} {}",
        a.kind, a.severity, a.resource.kind, a.resource.id
    );
    for t in &doc.trace {
        let took = format!("{:.1} ms, policy {}", t.micros as f64 / 1000.0, t.revision);
        match &t.error {
            Some(e) => println!("  {:<11} ERROR {e} ({took})", t.phase.as_str()),
            None => println!("  {:<11} done ({took})", t.phase.as_str()),
        }
        for note in &t.notes {
            println!("              note: {note}");
        }
    }
    for e in &doc.enrichments {
        let subject = e.indicator.as_ref().map_or_else(
            || format!("{} {}", a.resource.kind, a.resource.id),
            |i| format!("{} {}", i.kind, i.value),
        );
        println!("  enrichment  {}: {subject}: {:?}", e.provider, e.status);
    }
    if let Some(i) = &doc.incident {
        println!(
            "  incident    {} ({}; {} alert(s), {} {})",
            i.id,
            i.key,
            i.alerts,
            i.verdict.as_str(),
            i.severity
        );
    }
    if let Some(v) = &doc.verdict {
        println!(
            "  verdict     {} ({}{}): {}",
            v.verdict.as_str(),
            v.severity,
            if v.page { ", page" } else { "" },
            v.reasons.join("; ")
        );
    }
    for action in &doc.actions {
        println!(
            "  action      {} {}: {} [{}]",
            action.request.action,
            action.request.target.id,
            action.status.as_str(),
            action.mode.as_str()
        );
    }
}
