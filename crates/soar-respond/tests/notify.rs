//! Notifications over real HTTP (a local webhook receiver) and a real local endpoint (moto).

// Test code: a failed unwrap is the test failing, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use soar_aws::sdk;
use soar_core::ports::{Notification, Notifier};
use soar_respond::{AwsNotifier, Webhook};
use soar_tests::Moto;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Accepts one HTTP request on 127.0.0.1, answers `status`, and returns the request.
async fn one_request(status: &'static str) -> (String, tokio::task::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/services/T000/B000/XXXX", listener.local_addr().unwrap());
    let handle = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = socket.read(&mut buf).await.unwrap();
            request.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&request).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                if body.len() >= length {
                    break;
                }
            }
            if n == 0 {
                break;
            }
        }
        let response = format!("HTTP/1.1 {status}\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
        socket.write_all(response.as_bytes()).await.unwrap();
        String::from_utf8_lossy(&request).to_string()
    });
    (url, handle)
}

fn notification() -> Notification {
    Notification {
        alert_id: "guardduty/1/us-east-1/f1".into(),
        channel: "security-oncall".into(),
        subject: "[soar] incident (high): Tor client".into(),
        message: "Actions:\n  - ec2.isolate i-1: executed (enforce)".into(),
        verdict: None,
        page: true,
    }
}

#[tokio::test]
async fn the_webhook_gets_a_slack_compatible_message() {
    let (url, request) = one_request("200 OK").await;
    let notifier = AwsNotifier::new(None, Some(Webhook::from_url(url)));
    let result = notifier.notify(&notification()).await.unwrap();
    assert_eq!(result["delivered"][0]["webhook"], "posted");
    let request = request.await.unwrap();
    assert!(request.starts_with("POST /services/T000/B000/XXXX"), "{request}");
    let body: serde_json::Value = serde_json::from_str(request.split_once("\r\n\r\n").unwrap().1).unwrap();
    assert!(body["text"].as_str().unwrap().contains("ec2.isolate i-1: executed"));
}

#[tokio::test]
async fn a_failing_webhook_is_an_error() {
    let (url, _request) = one_request("500 Internal Server Error").await;
    let notifier = AwsNotifier::new(None, Some(Webhook::from_url(url)));
    let err = notifier.notify(&notification()).await.unwrap_err();
    assert!(err.message.contains("500"), "{err}");
    let none = AwsNotifier::new(None, None).notify(&notification()).await.unwrap_err();
    assert!(none.message.contains("no notification channel"), "{none}");
}

#[tokio::test]
async fn webhook_url_from_a_secret_and_sns_topic() {
    let moto = Moto::start();
    let aws = sdk::local(&moto.endpoint()).await.unwrap();
    let (url, request) = one_request("200 OK").await;
    let secrets = aws_sdk_secretsmanager::Client::new(&aws);
    secrets
        .create_secret()
        .name("soar/webhook")
        .secret_string(&url)
        .send()
        .await
        .unwrap();
    let sns = aws_sdk_sns::Client::new(&aws);
    let topic = sns
        .create_topic()
        .name("soar-oncall")
        .send()
        .await
        .unwrap()
        .topic_arn()
        .unwrap()
        .to_string();
    let notifier = AwsNotifier::new(
        Some((sns, topic.clone())),
        Some(Webhook::from_secret(secrets, "soar/webhook")),
    );
    let result = notifier.notify(&notification()).await.unwrap();
    assert_eq!(result["delivered"][0]["sns"], topic);
    assert!(request.await.unwrap().contains("ec2.isolate"));
}
