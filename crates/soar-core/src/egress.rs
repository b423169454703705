//! The egress guard's view of the organisation: which indicators are internal, and which
//! providers may see them.
//!
//! The enrich policy decides which indicator goes to which provider, but the last word on data
//! leaving the organisation is here, in Rust, after the policy: an internal indicator (private or
//! configured address, internal domain, the organisation's own hashes, key ids and user names) is
//! never handed to an external provider, whatever the policy returned. Default deny.

use crate::alert::{Indicator, IndicatorKind};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Locality {
    /// Runs inside the organisation (inventory, own threat lists): may see anything.
    Internal,
    /// A third party: may only see indicators classified external.
    External,
}

/// Recursion limits for enrichment, carried in `data.soar.config.enrich`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrichLimits {
    /// Rounds after the first: 0 means indicators found by a lookup are never looked up.
    pub max_depth: u32,
    /// Provider lookups per alert, cache hits included.
    pub max_lookups: u32,
}

impl Default for EnrichLimits {
    fn default() -> Self {
        EnrichLimits {
            max_depth: 1,
            max_lookups: 25,
        }
    }
}

/// The parts of `data.soar.config` the Rust side enforces itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OrgConfig {
    #[serde(default)]
    pub internal_cidrs: Vec<String>,
    #[serde(default)]
    pub internal_domains: Vec<String>,
    #[serde(default)]
    pub internal_hashes: Vec<String>,
    #[serde(default)]
    pub enrich: EnrichLimits,
}

/// Address ranges that are internal everywhere, whatever the configuration says.
const ALWAYS_INTERNAL_CIDRS: &[&str] = &[
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "::1/128",
    "fc00::/7",
    "fe80::/10",
];

/// Name suffixes that never resolve publicly (AWS's `compute.internal`, mDNS, RFC 8375).
const ALWAYS_INTERNAL_SUFFIXES: &[&str] = &["internal", "local", "localhost", "home.arpa"];

impl OrgConfig {
    /// `Some(reason)` when the indicator is internal and must not leave the organisation.
    pub fn internal_reason(&self, indicator: &Indicator) -> Option<String> {
        let value = indicator.value.trim();
        match indicator.kind {
            IndicatorKind::Ip => self.internal_ip_reason(value),
            IndicatorKind::Domain => self.internal_domain_reason(value),
            IndicatorKind::Email => match value.rsplit_once('@') {
                Some((_, domain)) => self.internal_domain_reason(domain),
                None => Some("not a valid e-mail address, treated as internal".into()),
            },
            IndicatorKind::Url => match url_host(value) {
                Some(host) => match host.parse::<IpAddr>() {
                    Ok(_) => self.internal_ip_reason(&host),
                    Err(_) => self.internal_domain_reason(&host),
                },
                None => Some("URL without a readable host, treated as internal".into()),
            },
            IndicatorKind::Hash => self
                .internal_hashes
                .iter()
                .any(|h| h.eq_ignore_ascii_case(value))
                .then(|| "hash of an internal file (data.soar.config.internal_hashes)".into()),
            IndicatorKind::AccessKey => Some("access key ids are the organisation's own".into()),
            IndicatorKind::User => Some("user names are the organisation's own".into()),
        }
    }

    fn internal_ip_reason(&self, value: &str) -> Option<String> {
        let Ok(ip) = value.parse::<IpAddr>() else {
            // Something we cannot read is never sent out.
            return Some(format!("`{value}` is not an IP address, treated as internal"));
        };
        if let Some(cidr) = ALWAYS_INTERNAL_CIDRS.iter().find(|c| cidr_contains(c, ip)) {
            return Some(format!("{ip} is in the private range {cidr}"));
        }
        self.internal_cidrs
            .iter()
            .find(|c| cidr_contains(c, ip))
            .map(|cidr| format!("{ip} is in the internal range {cidr} (data.soar.config.internal_cidrs)"))
    }

    fn internal_domain_reason(&self, value: &str) -> Option<String> {
        let name = value.trim_end_matches('.').to_ascii_lowercase();
        if let Ok(ip) = name.parse::<IpAddr>() {
            return self.internal_ip_reason(&ip.to_string());
        }
        let under = |suffix: &str| {
            let suffix = suffix.trim_start_matches('.').to_ascii_lowercase();
            name == suffix || name.ends_with(&format!(".{suffix}"))
        };
        if let Some(s) = ALWAYS_INTERNAL_SUFFIXES.iter().find(|s| under(s)) {
            return Some(format!("{name} is under the non-public suffix .{s}"));
        }
        self.internal_domains
            .iter()
            .find(|d| under(d))
            .map(|d| format!("{name} is under the internal domain {d} (data.soar.config.internal_domains)"))
    }
}

/// `true` when `ip` is inside `cidr` (`a.b.c.d/n` or IPv6); a malformed CIDR matches nothing.
pub fn cidr_contains(cidr: &str, ip: IpAddr) -> bool {
    let (net, bits) = match cidr.split_once('/') {
        Some((net, bits)) => (net, bits.parse::<u32>().ok()),
        None => (cidr, None),
    };
    let Ok(net) = net.trim().parse::<IpAddr>() else {
        return false;
    };
    match (net, ip) {
        (IpAddr::V4(net), IpAddr::V4(ip)) => {
            let bits = bits.unwrap_or(32);
            if bits > 32 {
                return false;
            }
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            u32::from(net) & mask == u32::from(ip) & mask
        }
        (IpAddr::V6(net), IpAddr::V6(ip)) => {
            let bits = bits.unwrap_or(128);
            if bits > 128 {
                return false;
            }
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            u128::from(net) & mask == u128::from(ip) & mask
        }
        // An IPv4-mapped IPv6 address is the IPv4 address it carries.
        (IpAddr::V4(_), IpAddr::V6(ip)) => ip
            .to_ipv4_mapped()
            .is_some_and(|v4| cidr_contains(cidr, IpAddr::V4(v4))),
        (IpAddr::V6(_), IpAddr::V4(_)) => false,
    }
}

fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(bracketed) = host_port.strip_prefix('[') {
        bracketed.split_once(']')?.0
    } else {
        host_port.split(':').next()?
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ind(kind: IndicatorKind, value: &str) -> Indicator {
        Indicator::new(kind, value, "test", "remote")
    }

    fn config() -> OrgConfig {
        OrgConfig {
            internal_cidrs: vec!["203.0.113.0/24".into()],
            internal_domains: vec!["corp.example.com".into()],
            internal_hashes: vec!["ABCDEF".into()],
            ..OrgConfig::default()
        }
    }

    #[test]
    fn private_and_configured_addresses_are_internal() {
        let c = config();
        for ip in [
            "10.1.2.3",
            "172.31.0.1",
            "192.168.1.1",
            "127.0.0.1",
            "100.64.0.1",
            "fd00::1",
            "203.0.113.9",
            "::ffff:10.0.0.1",
        ] {
            assert!(c.internal_reason(&ind(IndicatorKind::Ip, ip)).is_some(), "{ip}");
        }
        for ip in ["198.51.100.7", "8.8.8.8", "2001:db8::1", "172.32.0.1"] {
            assert_eq!(c.internal_reason(&ind(IndicatorKind::Ip, ip)), None, "{ip}");
        }
    }

    #[test]
    fn unreadable_values_never_leave() {
        let c = config();
        assert!(c.internal_reason(&ind(IndicatorKind::Ip, "not-an-ip")).is_some());
        assert!(c.internal_reason(&ind(IndicatorKind::Email, "nobody")).is_some());
        assert!(c.internal_reason(&ind(IndicatorKind::Url, "http:///path")).is_some());
    }

    #[test]
    fn internal_domains_cover_subdomains_only() {
        let c = config();
        assert!(
            c.internal_reason(&ind(IndicatorKind::Domain, "db.corp.example.com"))
                .is_some()
        );
        assert!(
            c.internal_reason(&ind(IndicatorKind::Domain, "CORP.example.com."))
                .is_some()
        );
        assert!(
            c.internal_reason(&ind(IndicatorKind::Domain, "ip-10-0-0-1.ec2.internal"))
                .is_some()
        );
        assert_eq!(
            c.internal_reason(&ind(IndicatorKind::Domain, "notcorp.example.com")),
            None
        );
        assert_eq!(c.internal_reason(&ind(IndicatorKind::Domain, "evil.example.net")), None);
    }

    #[test]
    fn urls_emails_hashes_and_identities() {
        let c = config();
        assert!(
            c.internal_reason(&ind(IndicatorKind::Url, "https://user@wiki.corp.example.com:8443/x"))
                .is_some()
        );
        assert!(
            c.internal_reason(&ind(IndicatorKind::Url, "http://[fd00::5]/"))
                .is_some()
        );
        assert_eq!(
            c.internal_reason(&ind(IndicatorKind::Url, "https://evil.example.net/payload")),
            None
        );
        assert!(
            c.internal_reason(&ind(IndicatorKind::Email, "alice@corp.example.com"))
                .is_some()
        );
        assert_eq!(
            c.internal_reason(&ind(IndicatorKind::Email, "mallory@evil.example.net")),
            None
        );
        assert!(c.internal_reason(&ind(IndicatorKind::Hash, "abcdef")).is_some());
        assert_eq!(c.internal_reason(&ind(IndicatorKind::Hash, "123456")), None);
        assert!(
            c.internal_reason(&ind(IndicatorKind::AccessKey, "AKIAEXAMPLE"))
                .is_some()
        );
        assert!(c.internal_reason(&ind(IndicatorKind::User, "alice")).is_some());
    }

    #[test]
    fn malformed_cidrs_match_nothing() {
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(!cidr_contains("10.0.0.0/33", ip));
        assert!(!cidr_contains("nonsense/8", ip));
        assert!(cidr_contains("0.0.0.0/0", ip));
        assert!(cidr_contains("10.0.0.1", ip));
    }
}
