//! Notifications over real HTTP (a local webhook receiver) and a real local endpoint (moto).

// Test code: a failed unwrap is the test failing, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use soar_aws::sdk;
use soar_core::ports::{Notification, Notifier};
use soar_respond::{AwsNotifier, Webhook};
use soar_tests::Moto;
use soar_tests::fake_http::{FakeHttp, Recorded, Reply};

/// A Slack-style incoming webhook on 127.0.0.1 that answers `status`; its URL has Slack's path.
async fn webhook(status: u16) -> (FakeHttp, String) {
    let server = FakeHttp::start(move |_| Reply::text(status, "ok")).await;
    let url = format!("{}/services/T000/B000/XXXX", server.url());
    (server, url)
}

/// The one request the webhook received.
fn the_request(server: &FakeHttp) -> Recorded {
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    requests[0].clone()
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
    let (server, url) = webhook(200).await;
    let notifier = AwsNotifier::new(None, Some(Webhook::from_url(url)));
    let result = notifier.notify(&notification()).await.unwrap();
    assert_eq!(result["delivered"][0]["webhook"], "posted");
    let request = the_request(&server);
    assert_eq!(
        (request.method.as_str(), request.target.as_str()),
        ("POST", "/services/T000/B000/XXXX")
    );
    let body: serde_json::Value = serde_json::from_str(&request.body).unwrap();
    assert!(body["text"].as_str().unwrap().contains("ec2.isolate i-1: executed"));
}

#[tokio::test]
async fn a_failing_webhook_is_an_error() {
    let (_server, url) = webhook(500).await;
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
    let (server, url) = webhook(200).await;
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
    assert!(the_request(&server).body.contains("ec2.isolate"));
}
