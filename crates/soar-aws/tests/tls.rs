//! The AWS clients' TLS against a real HTTPS endpoint: moto serving a certificate made here. The
//! bundle named as `AWS_CA_BUNDLE` would be is trusted; the Amazon roots alone refuse a
//! certificate they did not issue.

// Test code: a failed unwrap is the test failing, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_sdk_sqs::error::DisplayErrorContext;
use soar_aws::sdk;
use soar_tests::Moto;
use std::path::{Path, PathBuf};

/// A self-signed certificate for 127.0.0.1, and its key, as PEM files in `dir`.
fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    let certificate = params.self_signed(&key).unwrap();
    let (cert_path, key_path) = (dir.join("endpoint.pem"), dir.join("endpoint.key"));
    std::fs::write(&cert_path, certificate.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (cert_path, key_path)
}

#[tokio::test]
async fn aws_clients_trust_the_named_bundle_and_refuse_other_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path());
    let moto = Moto::start_https(&cert, &key);
    assert!(moto.endpoint().starts_with("https://"));

    let trusting = sdk::local_trusting(&moto.endpoint(), cert.to_str()).await.unwrap();
    let sqs = aws_sdk_sqs::Client::new(&trusting);
    let created = sqs.create_queue().queue_name("over-tls").send().await;
    let url = created
        .map_err(|e| DisplayErrorContext(e).to_string())
        .unwrap()
        .queue_url
        .unwrap();
    let listed = sqs.list_queues().send().await.unwrap();
    assert_eq!(listed.queue_urls(), [url]);

    let amazon_roots_only = sdk::local(&moto.endpoint()).await.unwrap();
    let refused = aws_sdk_sqs::Client::new(&amazon_roots_only).list_queues().send().await;
    let error = DisplayErrorContext(refused.unwrap_err()).to_string();
    assert!(error.contains("UnknownIssuer"), "{error}");
}
