//! Slack's request signatures (Slack API, "Verifying requests from Slack"). Every request Slack
//! sends carries `X-Slack-Request-Timestamp` (Unix seconds) and `X-Slack-Signature`: `v0=` and
//! the hex HMAC-SHA256 of `v0:<timestamp>:<raw body>`, keyed with the app's signing secret. The
//! raw body is what is signed: check it before decoding anything from it.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header with the signature (HTTP header names are case-insensitive; Lambda Function URLs
/// deliver them in lower case).
pub const SIGNATURE_HEADER: &str = "x-slack-signature";
/// The header with the time Slack sent the request, Unix seconds.
pub const TIMESTAMP_HEADER: &str = "x-slack-request-timestamp";
/// How far from now a request's timestamp may be, either way, in seconds: Slack's recommended
/// five minutes. An older request is a replay (or a clock far off), and is refused.
pub const MAX_SKEW_SECONDS: i64 = 300;
/// The signature scheme's version, the prefix of the signed text and of the header.
const VERSION: &str = "v0";

/// Why a request is not taken as Slack's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no {0} header: not a request Slack signed")]
    Missing(&'static str),
    #[error("{TIMESTAMP_HEADER} `{0}` is not a Unix time in seconds")]
    BadTimestamp(String),
    #[error("{TIMESTAMP_HEADER} is {0} s from now, more than {MAX_SKEW_SECONDS} s: a replay, or a clock far off")]
    Stale(i64),
    #[error("{SIGNATURE_HEADER} is not `v0=` and 64 hex digits")]
    Malformed,
    #[error("{SIGNATURE_HEADER} does not match the body: not signed with this app's signing secret")]
    Mismatch,
}

/// The HMAC of `v0:<timestamp>:<body>` under `secret` (`None` only if the HMAC refused the key,
/// which HMAC, taking keys of any length, never does).
fn mac(secret: &[u8], timestamp: &str, body: &[u8]) -> Option<Hmac<Sha256>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).ok()?;
    mac.update(VERSION.as_bytes());
    mac.update(b":");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    Some(mac)
}

/// The `X-Slack-Signature` value Slack would send for `body` at `timestamp`: for the tests and
/// tools that stand in for Slack.
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let digest = mac(secret, timestamp, body).map(|m| hex::encode(m.finalize().into_bytes()));
    format!("{VERSION}={}", digest.unwrap_or_default())
}

/// Checks that `body` came from Slack: `timestamp` and `signature` are the two headers' values
/// (`None` when absent), `now` the current Unix time in seconds. The timestamp is checked first
/// (a replayed request is refused whatever its signature), then the signature, in constant time.
///
/// Errors: [`SignatureError`], naming the header that is wrong.
pub fn verify(
    secret: &[u8],
    (timestamp, signature): (Option<&str>, Option<&str>),
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let timestamp = timestamp.ok_or(SignatureError::Missing(TIMESTAMP_HEADER))?.trim();
    let signature = signature.ok_or(SignatureError::Missing(SIGNATURE_HEADER))?.trim();
    let sent: i64 = timestamp
        .parse()
        .map_err(|_| SignatureError::BadTimestamp(timestamp.chars().take(32).collect()))?;
    let skew = now.saturating_sub(sent);
    if skew.unsigned_abs() > MAX_SKEW_SECONDS.unsigned_abs() {
        return Err(SignatureError::Stale(skew));
    }
    let digest = signature
        .strip_prefix(VERSION)
        .and_then(|rest| rest.strip_prefix('='))
        .filter(|hex| hex.len() == 64)
        .and_then(|hex| hex::decode(hex).ok())
        .ok_or(SignatureError::Malformed)?;
    mac(secret, timestamp, body)
        .ok_or(SignatureError::Mismatch)?
        .verify_slice(&digest)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"8f742231b10e8888abcd99yyyzzz85a5";
    const SENT: i64 = 1_531_420_618;
    const BODY: &[u8] =
        b"payload=%7B%22type%22%3A%22block_actions%22%2C%22user%22%3A%7B%22id%22%3A%22U2CERLKJA%22%7D%7D";
    /// Computed independently (Python's `hmac.new(secret, b"v0:1531420618:" + body, sha256)`).
    const EXPECTED: &str = "v0=022029c1062bf831b6f2401e36b533681f749569159a6b32bbad8ad6040c24eb";

    fn check(timestamp: Option<&str>, signature: Option<&str>, body: &[u8], now: i64) -> Result<(), SignatureError> {
        verify(SECRET, (timestamp, signature), body, now)
    }

    #[test]
    fn a_request_slack_signed_passes_and_its_signature_is_slacks() {
        assert_eq!(sign(SECRET, "1531420618", BODY), EXPECTED);
        assert_eq!(check(Some("1531420618"), Some(EXPECTED), BODY, SENT + 10), Ok(()));
        let upper = EXPECTED.replace("022029c1", "022029C1");
        assert_eq!(check(Some("1531420618"), Some(&upper), BODY, SENT), Ok(()));
    }

    #[test]
    fn a_changed_body_another_secret_or_a_bad_header_is_refused() {
        let ts = Some("1531420618");
        let mut tampered = BODY.to_vec();
        tampered.push(b'x');
        assert_eq!(
            check(ts, Some(EXPECTED), &tampered, SENT),
            Err(SignatureError::Mismatch)
        );
        let other = sign(b"another app's secret", "1531420618", BODY);
        assert_eq!(check(ts, Some(&other), BODY, SENT), Err(SignatureError::Mismatch));
        // The timestamp is signed too: a fresh timestamp on an old signature does not pass.
        assert_eq!(
            check(Some("1531420619"), Some(EXPECTED), BODY, SENT),
            Err(SignatureError::Mismatch)
        );
        for malformed in [
            "v1=022029c1",
            "022029c1062bf831b6f2401e36b533681f749569159a6b32bbad8ad6040c24eb",
            "v0=zz",
            "v0=",
        ] {
            assert_eq!(
                check(ts, Some(malformed), BODY, SENT),
                Err(SignatureError::Malformed),
                "{malformed}"
            );
        }
        assert_eq!(
            check(None, Some(EXPECTED), BODY, SENT),
            Err(SignatureError::Missing(TIMESTAMP_HEADER))
        );
        assert_eq!(
            check(ts, None, BODY, SENT),
            Err(SignatureError::Missing(SIGNATURE_HEADER))
        );
        assert!(matches!(
            check(Some("yesterday"), Some(EXPECTED), BODY, SENT),
            Err(SignatureError::BadTimestamp(_))
        ));
    }

    #[test]
    fn a_request_more_than_five_minutes_away_is_refused_even_when_signed() {
        let ts = Some("1531420618");
        assert_eq!(check(ts, Some(EXPECTED), BODY, SENT + MAX_SKEW_SECONDS), Ok(()));
        assert_eq!(
            check(ts, Some(EXPECTED), BODY, SENT + MAX_SKEW_SECONDS + 1),
            Err(SignatureError::Stale(MAX_SKEW_SECONDS + 1))
        );
        assert_eq!(
            check(ts, Some(EXPECTED), BODY, SENT - MAX_SKEW_SECONDS - 1),
            Err(SignatureError::Stale(-MAX_SKEW_SECONDS - 1))
        );
        // An absurd timestamp neither overflows nor passes.
        assert!(matches!(
            check(Some("-9223372036854775808"), Some(EXPECTED), BODY, i64::MAX),
            Err(SignatureError::Stale(_))
        ));
    }
}
