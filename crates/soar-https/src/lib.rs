//! The TLS setup of every HTTPS client soar makes, in one place.
//!
//! - AWS SDK clients ([`aws_http_client`]) trust the Amazon Trust Services roots, which every AWS
//!   service endpoint chains to, embedded in the binary, or the bundle named by `AWS_CA_BUNDLE`
//!   (the variable the AWS CLI and SDKs read for a custom bundle: a TLS-inspecting proxy, an
//!   HTTPS local endpoint). Reading and parsing the system's whole trust store instead costs a
//!   function 2-3 ms of every cold start (146 files on Debian), for roots AWS never uses.
//! - Web clients ([`web_client`]) reach third parties (intelligence providers, webhooks) and trust
//!   the system's roots, loaded by the client when it is built; callers build them on first use.
//!
//! Both use rustls with the `ring` provider rather than the SDK's default aws-lc-rs: the same TLS
//! 1.2/1.3 suites for these clients, and 0.7 MB less in each function binary.

use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// The Amazon Trust Services root certificates (Amazon Root CA 1-4, Starfield Services Root G2,
/// and Starfield Class 2, which cross-signs it), copied from Debian's ca-certificates
/// 20230311+deb12u1 (Mozilla's CA list); see <https://www.amazontrust.com/repository/>.
const AMAZON_TRUST_SERVICES: &str = include_str!("amazon-trust-services.pem");

/// The environment variable naming a PEM bundle to trust instead of the Amazon roots.
pub const CA_BUNDLE_VARIABLE: &str = "AWS_CA_BUNDLE";

#[derive(Debug, thiserror::Error)]
pub enum HttpsError {
    #[error("cannot read the CA bundle {path} named by {CA_BUNDLE_VARIABLE}: {source}")]
    ReadBundle { path: String, source: std::io::Error },
    #[error("the CA bundle {path} named by {CA_BUNDLE_VARIABLE} holds no PEM certificate")]
    EmptyBundle { path: String },
    #[error("cannot set up TLS for the AWS clients: {0}")]
    Tls(String),
    #[error("cannot build the web client: {0}")]
    Web(#[from] reqwest::Error),
}

/// The roots AWS SDK clients trust: the bundle at `ca_bundle` if given, else the embedded Amazon
/// Trust Services roots.
pub(crate) fn aws_trust_roots(ca_bundle: Option<&str>) -> Result<String, HttpsError> {
    let Some(path) = ca_bundle.filter(|p| !p.is_empty()) else {
        return Ok(AMAZON_TRUST_SERVICES.to_string());
    };
    let pem = std::fs::read_to_string(path).map_err(|source| HttpsError::ReadBundle {
        path: path.to_string(),
        source,
    })?;
    if !pem.contains("-----BEGIN CERTIFICATE-----") {
        return Err(HttpsError::EmptyBundle { path: path.to_string() });
    }
    Ok(pem)
}

/// The HTTP client for AWS SDK clients: rustls with ring, trusting [`aws_trust_roots`] of
/// `ca_bundle` (the functions pass `AWS_CA_BUNDLE`).
pub fn aws_http_client(ca_bundle: Option<&str>) -> Result<SharedHttpClient, HttpsError> {
    let roots = aws_trust_roots(ca_bundle)?;
    let context = TlsContext::builder()
        .with_trust_store(TrustStore::empty().with_native_roots(false).with_pem_certificate(roots))
        .build()
        .map_err(|e| HttpsError::Tls(e.to_string()))?;
    Ok(aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .tls_context(context)
        .build_https())
}

/// A builder for clients to third-party HTTPS services, with soar's user agent. The clients it
/// builds load the system's trust store: build them when first needed ([`LazyWebClient`]), not at
/// cold start.
pub fn web_client() -> reqwest::ClientBuilder {
    // reqwest takes its rustls provider from the process default; ring is the only one built in.
    // Installing it again (another client, another test) is refused harmlessly.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().user_agent(concat!("soar/", env!("CARGO_PKG_VERSION")))
}

/// A [`web_client`] built on first use, with `timeout` (when given) for connecting and for each
/// whole request.
#[derive(Debug, Default)]
pub struct LazyWebClient {
    timeout: Option<std::time::Duration>,
    client: std::sync::OnceLock<reqwest::Client>,
}

impl LazyWebClient {
    pub fn with_timeout(timeout: std::time::Duration) -> Self {
        LazyWebClient {
            timeout: Some(timeout),
            client: Default::default(),
        }
    }

    pub fn get(&self) -> &reqwest::Client {
        self.client.get_or_init(|| {
            let mut builder = web_client();
            if let Some(timeout) = self.timeout {
                builder = builder.timeout(timeout).connect_timeout(timeout);
            }
            builder.build().unwrap_or_default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certificates(pem: &str) -> usize {
        pem.matches("-----BEGIN CERTIFICATE-----").count()
    }

    #[test]
    fn aws_clients_trust_the_amazon_roots_unless_a_bundle_is_named() {
        assert_eq!(certificates(&aws_trust_roots(None).unwrap()), 6);
        assert_eq!(certificates(&aws_trust_roots(Some("")).unwrap()), 6);
        let dir = tempfile::tempdir().unwrap();
        let bundle = dir.path().join("proxy.pem");
        let one = AMAZON_TRUST_SERVICES
            .split_inclusive("-----END CERTIFICATE-----\n")
            .next()
            .unwrap();
        std::fs::write(&bundle, one).unwrap();
        assert_eq!(certificates(&aws_trust_roots(bundle.to_str()).unwrap()), 1);
    }

    #[test]
    fn a_missing_or_empty_bundle_is_named_in_the_error() {
        let err = aws_trust_roots(Some("/nonexistent/ca.pem")).unwrap_err().to_string();
        assert!(
            err.contains("/nonexistent/ca.pem") && err.contains(CA_BUNDLE_VARIABLE),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap();
        let bundle = dir.path().join("empty.pem");
        std::fs::write(&bundle, "not a certificate\n").unwrap();
        let err = aws_trust_roots(bundle.to_str()).unwrap_err().to_string();
        assert!(err.contains("no PEM certificate"), "{err}");
    }

    #[test]
    fn the_embedded_roots_make_a_tls_context() {
        use rustls::pki_types::pem::PemObject;
        // The smithy builder parses the PEM when the connector is made; a broken embedded file
        // would only show on the first AWS call, so make one here.
        let ders: Vec<_> = rustls::pki_types::CertificateDer::pem_slice_iter(AMAZON_TRUST_SERVICES.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
        let mut roots = rustls::RootCertStore::empty();
        let (valid, invalid) = roots.add_parsable_certificates(ders);
        assert_eq!((valid, invalid), (6, 0));
        assert!(aws_http_client(None).is_ok());
    }

    #[test]
    fn web_clients_build_with_the_ring_provider() {
        web_client().build().unwrap();
        web_client().build().unwrap();
    }
}
