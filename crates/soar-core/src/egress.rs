//! The egress guard's view of the organisation: which indicators are internal, and which
//! providers may see them.
//!
//! The enrich policy decides which indicator goes to which provider, but the last word on data
//! leaving the organisation is here, in Rust, after the policy: an internal indicator is never
//! handed to an external provider, whatever the policy returned. Every value is read into its
//! canonical form first ([`crate::canonical`]), so the way it is written cannot change what it
//! is. Internal means:
//!
//! - an address in a range IANA's special-purpose registries mark as not globally reachable
//!   (RFC 6890 and successors: private, shared, loopback, link-local, benchmarking, reserved,
//!   unique-local, site-local, multicast, ...), other than the documentation ranges, which
//!   examples and tests use for public addresses; an IPv6 address that carries an IPv4 address
//!   (mapped, compatible, NAT64, 6to4, Teredo) is internal when what it carries is;
//! - an address in `data.soar.config.internal_cidrs`;
//! - a name under `data.soar.config.internal_domains` or a non-public suffix (`internal`,
//!   `local`, `localhost`, `home.arpa`, `arpa`, `invalid`), or a single-label name;
//! - a URL or e-mail address whose host is internal, or a URL with an internal host or address
//!   in its path or query; a hash in `internal_hashes`;
//! - an IPv6 address written with an internal IPv4 address inside it (`2600:1f18::10.0.0.1`,
//!   whatever the prefix), or carrying one in an ISATAP interface id;
//! - access key ids and user names (always the organisation's own);
//! - anything that cannot be read as an indicator at all.

use crate::alert::{Indicator, IndicatorKind};
use crate::canonical::{Canonical, Host, canonicalize, embedded_ipv4};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::net::IpAddr;
use std::sync::OnceLock;

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

/// The parts of `data.soar.config` the Rust side enforces itself, parsed once into typed values.
/// A malformed entry is a [`ConfigError`] naming it (`data.soar.config.internal_cidrs[0]`), so
/// a typo stops start-up instead of silently matching nothing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawOrgConfig", into = "RawOrgConfig")]
pub struct OrgConfig {
    pub internal_cidrs: Vec<IpNet>,
    /// Canonical (IDNA-mapped, lower-case ASCII) names; each covers itself and its subdomains.
    pub internal_domains: Vec<String>,
    /// Lower-case hex digests.
    pub internal_hashes: Vec<String>,
    pub enrich: EnrichLimits,
    /// `remediate.notify_channel`: where Rust's escalation notifications go.
    pub notify_channel: Option<String>,
}

/// `data.soar.config` as written.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct RawOrgConfig {
    #[serde(default)]
    internal_cidrs: Vec<Value>,
    #[serde(default)]
    internal_domains: Vec<Value>,
    #[serde(default)]
    internal_hashes: Vec<Value>,
    #[serde(default)]
    enrich: EnrichLimits,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    remediate: Option<RawRemediate>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct RawRemediate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    notify_channel: Option<String>,
}

/// A malformed entry of `data.soar.config`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("data.soar.config.{field}: {problem}")]
pub struct ConfigError {
    /// Where the entry is, `internal_cidrs[2]`.
    pub field: String,
    pub problem: String,
}

impl TryFrom<RawOrgConfig> for OrgConfig {
    type Error = ConfigError;

    fn try_from(raw: RawOrgConfig) -> Result<Self, ConfigError> {
        let entries = |name: &'static str, values: Vec<Value>| {
            values.into_iter().enumerate().map(move |(i, v)| {
                let field = format!("{name}[{i}]");
                match v {
                    Value::String(s) if s.trim() != s => Err(ConfigError {
                        field,
                        problem: format!("{s:?} has white space around it"),
                    }),
                    Value::String(s) if s.is_empty() => Err(ConfigError {
                        field,
                        problem: "is empty".into(),
                    }),
                    Value::String(s) => Ok((field, s)),
                    other => Err(ConfigError {
                        field,
                        problem: format!("{other} is not a string"),
                    }),
                }
            })
        };
        let mut config = OrgConfig {
            enrich: raw.enrich,
            notify_channel: raw
                .remediate
                .and_then(|r| r.notify_channel)
                .filter(|c| !c.trim().is_empty()),
            ..OrgConfig::default()
        };
        for entry in entries("internal_cidrs", raw.internal_cidrs) {
            let (field, s) = entry?;
            let net = s
                .parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| ConfigError {
                    field,
                    problem: format!("{s:?} is not a CIDR such as 10.0.0.0/8 or fd00::/8 (or a single address)"),
                })?;
            config.internal_cidrs.push(net.trunc());
        }
        for entry in entries("internal_domains", raw.internal_domains) {
            let (field, s) = entry?;
            let bad = |problem: String| ConfigError {
                field: field.clone(),
                problem,
            };
            if s.contains(['/', ':', '@', ' ', '*']) {
                return Err(bad(format!(
                    "{s:?} is not a bare domain name (no scheme, port, path, user or wildcard: `corp.example.com` covers its subdomains)"
                )));
            }
            match canonicalize(IndicatorKind::Domain, &s) {
                Ok(Canonical::Domain(name)) => config.internal_domains.push(name),
                Ok(Canonical::Ip(_)) => {
                    return Err(bad(format!("{s:?} is an address: list it in internal_cidrs")));
                }
                _ => return Err(bad(format!("{s:?} is not a domain name"))),
            }
        }
        for entry in entries("internal_hashes", raw.internal_hashes) {
            let (field, s) = entry?;
            match canonicalize(IndicatorKind::Hash, &s) {
                Ok(Canonical::Hash(h)) => config.internal_hashes.push(h),
                _ => {
                    return Err(ConfigError {
                        field,
                        problem: format!("{s:?} is not an MD5, SHA-1, SHA-256 or SHA-512 digest in hex"),
                    });
                }
            }
        }
        Ok(config)
    }
}

impl From<OrgConfig> for RawOrgConfig {
    fn from(c: OrgConfig) -> Self {
        RawOrgConfig {
            internal_cidrs: c.internal_cidrs.iter().map(|n| Value::String(n.to_string())).collect(),
            internal_domains: c.internal_domains.into_iter().map(Value::String).collect(),
            internal_hashes: c.internal_hashes.into_iter().map(Value::String).collect(),
            enrich: c.enrich,
            remediate: c.notify_channel.map(|c| RawRemediate {
                notify_channel: Some(c),
            }),
        }
    }
}

impl OrgConfig {
    /// Reads `data.soar.config` (or the part of it the Rust side enforces).
    pub fn from_value(config: &Value) -> Result<Self, ConfigError> {
        let raw: RawOrgConfig = serde_path_to_error::deserialize(config).map_err(|e| ConfigError {
            field: e.path().to_string(),
            problem: e.into_inner().to_string(),
        })?;
        OrgConfig::try_from(raw)
    }
}

/// Address ranges that are not globally reachable, by IANA's IPv4 and IPv6 Special-Purpose
/// Address Registries (RFC 6890, updated by RFCs 8190, 9637 and others), plus multicast. The
/// documentation ranges are left out on purpose: see [`DOCUMENTATION`].
const NOT_GLOBALLY_REACHABLE: &[(&str, &str)] = &[
    ("0.0.0.0/8", "\"this network\" (RFC 791)"),
    ("10.0.0.0/8", "private-use (RFC 1918)"),
    ("100.64.0.0/10", "shared address space (RFC 6598)"),
    ("127.0.0.0/8", "loopback (RFC 1122)"),
    (
        "169.254.0.0/16",
        "link-local (RFC 3927), which holds the instance metadata service",
    ),
    ("172.16.0.0/12", "private-use (RFC 1918)"),
    ("192.0.0.0/24", "IETF protocol assignments (RFC 6890)"),
    ("192.168.0.0/16", "private-use (RFC 1918)"),
    ("198.18.0.0/15", "benchmarking (RFC 2544)"),
    ("224.0.0.0/4", "multicast (RFC 5771)"),
    ("240.0.0.0/4", "reserved (RFC 1112), with the limited broadcast address"),
    ("::/128", "the unspecified address (RFC 4291)"),
    ("::1/128", "loopback (RFC 4291)"),
    ("64:ff9b:1::/48", "local-use IPv4/IPv6 translation (RFC 8215)"),
    ("100::/64", "discard-only (RFC 6666)"),
    ("100:0:0:1::/64", "dummy IPv6 prefix (RFC 9780)"),
    ("2001:2::/48", "benchmarking (RFC 5180)"),
    ("2001:10::/28", "ORCHID (RFC 4843, deprecated)"),
    (
        "3fff::/20",
        "documentation (RFC 9637), not one of the example ranges soar treats as public",
    ),
    ("5f00::/16", "segment routing SIDs (RFC 9602)"),
    ("fc00::/7", "unique-local (RFC 4193)"),
    ("fe80::/10", "link-local (RFC 4291)"),
    ("fec0::/10", "site-local (RFC 3879, deprecated)"),
    ("ff00::/8", "multicast (RFC 4291)"),
];

/// The ranges documentation and examples use for public addresses (RFC 5737, RFC 3849): soar's
/// fixtures stand public hosts there, so they are treated as public.
const DOCUMENTATION: &[&str] = &["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32"];

/// The parts of 192.0.0.0/24 and 2001::/23 (IETF protocol assignments) that the registries
/// mark globally reachable (and Teredo, 2001::/32, classified by the addresses it carries).
const IETF_GLOBAL_EXCEPTIONS: &[&str] = &[
    "192.0.0.9/32",
    "192.0.0.10/32",
    "2001::/32",
    "2001:1::1/128",
    "2001:1::2/128",
    "2001:1::3/128",
    "2001:3::/32",
    "2001:4:112::/48",
    "2001:20::/28",
    "2001:30::/28",
];

struct Ranges {
    internal: Vec<(IpNet, &'static str)>,
    documentation: Vec<IpNet>,
    ietf: IpNet,
    ietf_exceptions: Vec<IpNet>,
}

fn ranges() -> &'static Ranges {
    static RANGES: OnceLock<Ranges> = OnceLock::new();
    RANGES.get_or_init(|| {
        // The tables are constants; `built_in_ranges_parse` (below) proves each one parses.
        #[allow(clippy::expect_used)]
        let net = |s: &str| s.parse::<IpNet>().expect("a valid built-in range");
        Ranges {
            internal: NOT_GLOBALLY_REACHABLE.iter().map(|(s, why)| (net(s), *why)).collect(),
            documentation: DOCUMENTATION.iter().map(|s| net(s)).collect(),
            ietf: net("2001::/23"),
            ietf_exceptions: IETF_GLOBAL_EXCEPTIONS.iter().map(|s| net(s)).collect(),
        }
    })
}

/// Name suffixes that never resolve publicly: AWS's `compute.internal`, mDNS `local`,
/// `localhost` and `invalid` (RFC 6761), `home.arpa` (RFC 8375) and the rest of `arpa`, whose
/// reverse-lookup names spell out addresses.
const ALWAYS_INTERNAL_SUFFIXES: &[&str] = &["internal", "local", "localhost", "invalid", "arpa"];

impl OrgConfig {
    /// `Some(reason)` when the indicator is internal and must not leave the organisation.
    pub fn internal_reason(&self, indicator: &Indicator) -> Option<String> {
        let canonical = match canonicalize(indicator.kind, &indicator.value) {
            Ok(canonical) => canonical,
            Err(e) => return Some(format!("unreadable, treated as internal: {e}")),
        };
        if let Some(why) = self.classify(&canonical) {
            return Some(why);
        }
        // An IPv4 address written into an IPv6 literal under a prefix no rule knows.
        let written = indicator.written.as_deref().unwrap_or(&indicator.value);
        crate::canonical::dotted_ipv4_in_ipv6(written)
            .into_iter()
            .find_map(|v4| self.internal_ip_reason(IpAddr::V4(v4)))
            .map(|why| format!("an IPv6 address written with an IPv4 address inside: {why}"))
    }

    /// `Some(reason)` when a canonical indicator is internal.
    pub(crate) fn classify(&self, canonical: &Canonical) -> Option<String> {
        match canonical {
            Canonical::Ip(ip) => self.internal_ip_reason(*ip),
            Canonical::Domain(name) => self.internal_domain_reason(name),
            Canonical::Url {
                host, carried, rest, ..
            } => self.internal_host_reason(host).or_else(|| {
                carried
                    .iter()
                    .find_map(|h| self.internal_host_reason(h))
                    .or_else(|| self.internal_name_written_in(rest))
                    .map(|why| format!("the URL carries an internal host in its path or query: {why}"))
            }),
            Canonical::Email { host, .. } => self.internal_host_reason(host),
            Canonical::Hash(h) => self
                .internal_hashes
                .iter()
                .any(|x| x == h)
                .then(|| "hash of an internal file (data.soar.config.internal_hashes)".into()),
            Canonical::AccessKey(_) => Some("access key ids are the organisation's own".into()),
            Canonical::User(_) => Some("user names are the organisation's own".into()),
            Canonical::ThreatName(_) => Some("a scanner's name for a threat is not looked up".into()),
        }
    }

    fn internal_host_reason(&self, host: &Host) -> Option<String> {
        match host {
            Host::Ip(ip) => self.internal_ip_reason(*ip),
            Host::Domain(name) => self.internal_domain_reason(name),
            Host::Unreadable(why) => Some(format!("a URL inside it cannot be read, treated as internal: {why}")),
        }
    }

    /// An internal domain (or non-public suffix) written as a name anywhere in `text` (lower
    /// case), even where no parser would read a host: `?h=db..corp.example.com`,
    /// `db.corp.example.com_`. It must end where a name ends (`corp.example.com.evil.example.net`
    /// is another name) and, for the suffixes, follow a dot.
    fn internal_name_written_in(&self, text: &str) -> Option<String> {
        let ends_a_name = |after: Option<char>| after.is_none_or(|c| !(c.is_alphanumeric() || c == '-' || c == '.'));
        let found = |needle: &str, needs_dot: bool| {
            text.match_indices(needle).any(|(at, _)| {
                let before = text[..at].chars().next_back();
                let after = text[at + needle.len()..].chars().next();
                let starts = if needs_dot {
                    before == Some('.')
                } else {
                    before.is_none_or(|c| !(c.is_alphanumeric() || c == '-'))
                };
                starts && ends_a_name(after)
            })
        };
        if let Some(d) = self.internal_domains.iter().find(|d| found(d, false)) {
            return Some(format!("the internal domain {d} is written in it"));
        }
        ALWAYS_INTERNAL_SUFFIXES
            .iter()
            .find(|s| found(s, true))
            .map(|s| format!("a name under the non-public suffix .{s} is written in it"))
    }

    fn internal_ip_reason(&self, ip: IpAddr) -> Option<String> {
        let r = ranges();
        if let Some(net) = self.internal_cidrs.iter().find(|n| n.contains(&ip)) {
            return Some(format!(
                "{ip} is in the internal range {net} (data.soar.config.internal_cidrs)"
            ));
        }
        if let IpAddr::V6(v6) = ip {
            for v4 in embedded_ipv4(v6) {
                if let Some(why) = self.internal_ip_reason(IpAddr::V4(v4)) {
                    return Some(format!("{ip} carries the IPv4 address {v4}: {why}"));
                }
            }
        }
        if r.documentation.iter().any(|n| n.contains(&ip)) {
            return None;
        }
        if r.ietf_exceptions.iter().any(|n| n.contains(&ip)) {
            return None;
        }
        if let Some((net, why)) = r.internal.iter().find(|(n, _)| n.contains(&ip)) {
            return Some(format!("{ip} is in {net}, {why}: not globally reachable"));
        }
        if r.ietf.contains(&ip) {
            return Some(format!(
                "{ip} is in 2001::/23, IETF protocol assignments (RFC 2928): not globally reachable"
            ));
        }
        None
    }

    fn internal_domain_reason(&self, name: &str) -> Option<String> {
        if !name.contains('.') {
            return Some(format!(
                "`{name}` is a single-label name, which only resolves inside a network"
            ));
        }
        let under = |suffix: &str| name == suffix || name.strip_suffix(suffix).is_some_and(|p| p.ends_with('.'));
        if let Some(d) = self.internal_domains.iter().find(|d| under(d)) {
            return Some(format!(
                "{name} is under the internal domain {d} (data.soar.config.internal_domains)"
            ));
        }
        ALWAYS_INTERNAL_SUFFIXES
            .iter()
            .find(|s| under(s))
            .map(|s| format!("{name} is under the non-public suffix .{s}"))
    }
}

/// `true` when `ip` is inside `cidr` (`a.b.c.d/n`, IPv6, or one address); a malformed CIDR
/// matches nothing. For threat lists, where an unreadable entry must not match everything;
/// `data.soar.config` is parsed strictly instead ([`OrgConfig`]).
pub fn cidr_contains(cidr: &str, ip: IpAddr) -> bool {
    let net = cidr
        .trim()
        .parse::<IpNet>()
        .or_else(|_| cidr.trim().parse::<IpAddr>().map(IpNet::from));
    match net {
        Ok(net) => {
            net.contains(&ip)
                || matches!(ip, IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some_and(|v4| net.contains(&IpAddr::V4(v4))))
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn built_in_ranges_parse() {
        for range in NOT_GLOBALLY_REACHABLE
            .iter()
            .map(|(s, _)| *s)
            .chain(DOCUMENTATION.iter().copied())
        {
            assert!(range.parse::<IpNet>().is_ok(), "{range}");
        }
        assert!(!ranges().internal.is_empty());
    }

    fn ind(kind: IndicatorKind, value: &str) -> Indicator {
        Indicator::new(kind, value, "test", "remote")
    }

    fn config() -> OrgConfig {
        OrgConfig::from_value(&json!({
            "internal_cidrs": ["203.0.113.0/24"],
            "internal_domains": ["corp.example.com"],
            "internal_hashes": ["D41D8CD98F00B204E9800998ECF8427E"],
        }))
        .unwrap()
    }

    #[test]
    fn private_special_and_configured_addresses_are_internal() {
        let c = config();
        for ip in [
            "10.1.2.3",
            "172.31.0.1",
            "192.168.1.1",
            "127.0.0.1",
            "100.64.0.1",
            "169.254.169.254",
            "198.18.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "fd00::1",
            "fec0::1",
            "::",
            "203.0.113.9",
            "::ffff:10.0.0.1",
            "64:ff9b::10.40.7.9",
            "64:ff9b:1::1",
            "2002:c0a8:0101::1",
            "2001:0:4136:e378:8000:63bf:f5ff:fffe",
            "2001:2::1",
        ] {
            assert!(c.internal_reason(&ind(IndicatorKind::Ip, ip)).is_some(), "{ip}");
        }
        for ip in [
            "198.51.100.7",
            "192.0.2.1",
            "8.8.8.8",
            "2001:db8::1",
            "172.32.0.1",
            "64:ff9b::c633:6407",
        ] {
            assert_eq!(c.internal_reason(&ind(IndicatorKind::Ip, ip)), None, "{ip}");
        }
    }

    #[test]
    fn unreadable_values_never_leave() {
        let c = config();
        assert!(c.internal_reason(&ind(IndicatorKind::Ip, "not-an-ip")).is_some());
        assert!(c.internal_reason(&ind(IndicatorKind::Email, "nobody")).is_some());
        assert!(c.internal_reason(&ind(IndicatorKind::Url, "http:///path")).is_some());
        assert!(c.internal_reason(&ind(IndicatorKind::Domain, "")).is_some());
        assert!(c.internal_reason(&ind(IndicatorKind::Ip, "8.0.0.0/4")).is_some());
    }

    #[test]
    fn internal_domains_cover_subdomains_only() {
        let c = config();
        for name in [
            "db.corp.example.com",
            "CORP.example.com.",
            "ip-10-0-0-1.ec2.internal",
            "intranet",
            "1.0.0.10.in-addr.arpa",
        ] {
            assert!(c.internal_reason(&ind(IndicatorKind::Domain, name)).is_some(), "{name}");
        }
        for name in [
            "notcorp.example.com",
            "evil.example.net",
            "corp.example.com.evil.example.net",
        ] {
            assert_eq!(c.internal_reason(&ind(IndicatorKind::Domain, name)), None, "{name}");
        }
    }

    #[test]
    fn urls_emails_hashes_and_identities() {
        let c = config();
        let internal = |kind, v: &str| c.internal_reason(&ind(kind, v)).is_some();
        assert!(internal(
            IndicatorKind::Url,
            "https://user@wiki.corp.example.com:8443/x"
        ));
        assert!(internal(IndicatorKind::Url, "http://[fd00::5]/"));
        assert!(!internal(IndicatorKind::Url, "https://evil.example.net/payload"));
        assert!(internal(IndicatorKind::Email, "alice@corp.example.com"));
        assert!(!internal(IndicatorKind::Email, "mallory@evil.example.net"));
        assert!(internal(IndicatorKind::Hash, "md5:d41d8cd98f00b204e9800998ecf8427e"));
        assert!(!internal(IndicatorKind::Hash, "0cc175b9c0f1b6a831c399e269772661"));
        assert!(internal(IndicatorKind::AccessKey, "AKIAEXAMPLE"));
        assert!(internal(IndicatorKind::User, "alice"));
    }

    #[test]
    fn malformed_configuration_names_the_entry() {
        let err = |config: Value| OrgConfig::from_value(&config).unwrap_err().to_string();
        let e = err(json!({"internal_cidrs": ["10.0.0.0/8", "198.51.100.0/33"]}));
        assert!(
            e.contains("data.soar.config.internal_cidrs[1]") && e.contains("198.51.100.0/33"),
            "{e}"
        );
        let e = err(json!({"internal_domains": ["corp.example.com "]}));
        assert!(
            e.contains("data.soar.config.internal_domains[0]") && e.contains("white space"),
            "{e}"
        );
        let e = err(json!({"internal_domains": ["https://corp.example.com"]}));
        assert!(e.contains("internal_domains[0]"), "{e}");
        let e = err(json!({"internal_hashes": ["abc"]}));
        assert!(e.contains("internal_hashes[0]"), "{e}");
        let e = err(json!({"internal_cidrs": [10]}));
        assert!(e.contains("internal_cidrs[0]"), "{e}");
        let ok = OrgConfig::from_value(&json!({"internal_domains": ["Wiki.CORP\u{FF0E}example.com"]}));
        assert!(ok.is_ok(), "{ok:?}");
    }

    #[test]
    fn threat_list_cidrs_that_do_not_parse_match_nothing() {
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(!cidr_contains("10.0.0.0/33", ip));
        assert!(!cidr_contains("nonsense/8", ip));
        assert!(cidr_contains("0.0.0.0/0", ip));
        assert!(cidr_contains("10.0.0.1", ip));
    }
}
