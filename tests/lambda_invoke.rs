//! Each function under cargo lambda's emulator, invoked with `cargo lambda invoke --data-file` on
//! the event files in tests/events, against a moto server.

// Test code: a failed unwrap is the test failing, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use soar_aws::{SqsQueue, sdk};
use soar_local::pump::Invoke;
use soar_local::setup::setup;
use soar_local::{LambdaEmulator, venv_dir};
use soar_tests::{Moto, root};
use std::process::Command;

fn cargo_lambda_invoke(port: u16, function: &str, event_file: &str) -> Value {
    let mut path = std::ffi::OsString::from(venv_dir(&root()).join("bin"));
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_default());
    let out = Command::new("cargo")
        .current_dir(root())
        .env("PATH", path)
        .args([
            "lambda",
            "invoke",
            function,
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
            &port.to_string(),
        ])
        .args([
            "--data-file",
            &format!("tests/events/{event_file}"),
            "--output-format",
            "json",
        ])
        .output()
        .expect("cargo lambda invoke runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{function} {event_file}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{function} answered non-JSON ({e}): {stdout}"))
}

fn failures(response: &Value) -> Vec<&str> {
    response["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn each_function_answers_its_events_under_the_emulator() {
    let moto = Moto::start();
    let aws = sdk::local(&moto.endpoint()).await.unwrap();
    let env = setup(&aws, "soar").await.unwrap();
    let mut function_env: Vec<(String, String)> = env.vars.clone().into_iter().collect();
    for (k, v) in [
        ("AWS_ENDPOINT_URL", moto.endpoint()),
        ("AWS_ACCESS_KEY_ID", "testing".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
        ("AWS_REGION", "us-east-1".to_string()),
    ] {
        function_env.push((k.to_string(), v));
    }
    let log = tempfile::tempfile().unwrap();
    let emulator = LambdaEmulator::start(&root(), &function_env, log).unwrap();
    // The first invocation of a function builds it; an empty batch is harmless.
    for function in ["ingest", "enrich", "evaluate", "remediate"] {
        let empty = emulator
            .invoker()
            .invoke(function, json!({"Records": []}))
            .await
            .unwrap();
        assert_eq!(empty, json!({"batchItemFailures": []}), "{function}");
    }

    let accepted = cargo_lambda_invoke(emulator.port, "ingest", "eventbridge-guardduty.json");
    assert_eq!(accepted["status"], "accepted", "{accepted}");
    assert_eq!(
        accepted["alert_id"],
        "guardduty/111122223333/eu-west-1/c2b7f1d0a9e84c6fb1d3e5a7c9f0b2d4"
    );
    let enrich_queue = SqsQueue::new(aws_sdk_sqs::Client::new(&aws), &env.vars["SOAR_ENRICH_QUEUE_URL"]);
    assert_eq!(
        enrich_queue.depth().await.unwrap(),
        1,
        "the accepted alert waits for enrich"
    );

    let batch = cargo_lambda_invoke(emulator.port, "ingest", "sqs-ingest-mixed.json");
    assert_eq!(failures(&batch), ["malformed"], "{batch}");

    for function in ["enrich", "evaluate", "remediate"] {
        let batch = cargo_lambda_invoke(emulator.port, function, &format!("sqs-{function}-mixed.json"));
        assert_eq!(failures(&batch), ["malformed"], "{function}: {batch}");
    }
    let remediate_queue = SqsQueue::new(aws_sdk_sqs::Client::new(&aws), &env.vars["SOAR_REMEDIATE_QUEUE_URL"]);
    assert_eq!(
        remediate_queue.depth().await.unwrap(),
        1,
        "evaluate handed its good document on"
    );
}
