//! Property tests of the egress classifier: internal addresses and names, written in random
//! forms an attacker (or a sloppy tool) may use, are always classified internal; documentation
//! addresses and public names, written the same ways, never are.

// Test code: a failed unwrap is the test failing, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use soar_core::alert::{Indicator, IndicatorKind};
use soar_core::egress::OrgConfig;
use std::net::Ipv4Addr;

fn org() -> OrgConfig {
    OrgConfig::from_value(&serde_json::json!({
        "internal_cidrs": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"],
        "internal_domains": ["corp.example.com", "example.internal"],
    }))
    .unwrap()
}

fn internal(kind: IndicatorKind, value: &str) -> bool {
    org()
        .internal_reason(&Indicator::new(kind, value, "prop", "remote"))
        .is_some()
}

/// An address in a range that is internal by configuration or by IANA's registries.
fn internal_v4() -> impl Strategy<Value = Ipv4Addr> {
    prop_oneof![
        any::<u32>().prop_map(|n| Ipv4Addr::from(0x0a00_0000 | (n & 0x00ff_ffff))),
        any::<u32>().prop_map(|n| Ipv4Addr::from(0xac10_0000 | (n & 0x000f_ffff))),
        any::<u32>().prop_map(|n| Ipv4Addr::from(0xc0a8_0000 | (n & 0x0000_ffff))),
        any::<u32>().prop_map(|n| Ipv4Addr::from(0x7f00_0000 | (n & 0x00ff_ffff))),
        any::<u32>().prop_map(|n| Ipv4Addr::from(0xa9fe_0000 | (n & 0x0000_ffff))),
        any::<u32>().prop_map(|n| Ipv4Addr::from(0x6440_0000 | (n & 0x003f_ffff))),
        any::<u32>().prop_map(|n| Ipv4Addr::from(0xc612_0000 | (n & 0x0001_ffff))),
    ]
}

/// A documentation address (public by soar's rule).
fn public_v4() -> impl Strategy<Value = Ipv4Addr> {
    (
        prop_oneof![Just([192u8, 0, 2]), Just([198, 51, 100]), Just([203, 0, 113])],
        any::<u8>(),
    )
        .prop_map(|(p, last)| Ipv4Addr::new(p[0], p[1], p[2], last))
}

/// One way to write an IPv4 address that the WHATWG host parser (and so HTTP clients) reads as
/// that address, or that embeds it in IPv6.
fn write_v4(ip: Ipv4Addr, form: u8, port: u16) -> String {
    let o = ip.octets();
    let n = u32::from(ip);
    match form % 12 {
        0 => ip.to_string(),
        1 => n.to_string(),
        2 => format!("0x{n:x}"),
        3 => format!("0x{:x}.0x{:x}.0x{:x}.0x{:X}", o[0], o[1], o[2], o[3]),
        4 => format!("0{:o}.0{:o}.0{:o}.0{:o}", o[0], o[1], o[2], o[3]),
        5 => format!("{}.{}", o[0], n & 0x00ff_ffff),
        6 => format!("{}.{}.{}", o[0], o[1], n & 0xffff),
        7 => format!("{ip}:{port}"),
        8 => format!("  {ip}\t"),
        9 => format!("[::ffff:{ip}]"),
        10 => format!("64:ff9b::{ip}"),
        _ => format!("2002:{:02x}{:02x}:{:02x}{:02x}::1", o[0], o[1], o[2], o[3]),
    }
}

/// A name under an internal domain, written with case changes, full-width or ideographic dots,
/// invisible characters, a trailing dot, or defanged.
fn write_name(labels: &[String], suffix: &str, form: u8) -> String {
    let name = format!("{}.{suffix}", labels.join("."));
    match form % 8 {
        0 => name,
        1 => name.to_uppercase(),
        2 => name.replace('.', "\u{FF0E}"),
        3 => name.replace('.', "\u{3002}"),
        4 => format!("{name}."),
        5 => name.replace('.', "[.]"),
        6 => {
            let mut with_zero_width = String::new();
            for (i, c) in name.chars().enumerate() {
                with_zero_width.push(c);
                if i % 3 == 1 {
                    with_zero_width.push('\u{200B}');
                }
            }
            with_zero_width
        }
        _ => name
            .chars()
            .map(|c| match c {
                'a'..='z' => char::from_u32(c as u32 - 'a' as u32 + 0xFF41).unwrap(),
                other => other,
            })
            .collect(),
    }
}

fn labels() -> impl Strategy<Value = Vec<String>> {
    // `xn--` starts an IDNA (punycode) label; a random one is not valid punycode, so unreadable.
    let label = "[a-z][a-z0-9-]{0,10}[a-z0-9]".prop_filter("not an A-label", |l| !l.starts_with("xn--"));
    prop::collection::vec(label, 1..3)
}

/// The indicator kinds a host may travel in, and how each wraps it.
fn wrap(host: &str, how: u8) -> (IndicatorKind, String) {
    match how % 7 {
        0 => (IndicatorKind::Domain, host.to_string()),
        1 => (IndicatorKind::Url, format!("http://{host}/path?q=1")),
        2 => (
            IndicatorKind::Url,
            format!("https://user:pw@{host}:8443\\@files.example.net/"),
        ),
        3 => (IndicatorKind::Url, format!("HTTP:/{host}/x")),
        4 => (IndicatorKind::Email, format!("Ops <ops@{host}>")),
        5 => (IndicatorKind::Hash, host.to_string()),
        _ => (IndicatorKind::Url, format!("hxxp[://]{host}/x")),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn internal_addresses_are_internal_however_written(ip in internal_v4(), form in any::<u8>(), port in 1u16..) {
        let written = write_v4(ip, form, port);
        prop_assert!(internal(IndicatorKind::Ip, &written), "ip `{}` ({})", written, ip);
    }

    #[test]
    fn internal_addresses_inside_urls_names_and_mail_are_internal(ip in internal_v4(), form in any::<u8>(), how in any::<u8>()) {
        // Forms a URL host can take (no port, no spaces: those are the URL's own syntax).
        let written = write_v4(ip, form % 7, 1);
        let host = if written.contains(':') { format!("[{written}]") } else { written };
        let (kind, value) = wrap(&host, how);
        prop_assert!(internal(kind, &value), "{} `{}` ({})", kind, value, ip);
    }

    #[test]
    fn internal_names_are_internal_however_written(labels in labels(), form in any::<u8>(), how in any::<u8>(), suffix in prop_oneof![Just("corp.example.com"), Just("example.internal"), Just("ec2.internal"), Just("local")]) {
        let host = write_name(&labels, suffix, form);
        let (kind, value) = wrap(&host, how);
        prop_assert!(internal(kind, &value), "{} `{}`", kind, value);
    }

    #[test]
    fn public_addresses_and_names_written_the_same_ways_may_leave(ip in public_v4(), form in any::<u8>(), labels in labels(), name_form in any::<u8>()) {
        // Forms 7 and 8 add a port or spaces; 9-11 embed in IPv6: all still public.
        let written = write_v4(ip, form, 443);
        prop_assert!(!internal(IndicatorKind::Ip, &written), "ip `{}`", written);
        let host = write_name(&labels, "files.example.net", name_form);
        prop_assert!(!internal(IndicatorKind::Domain, &host), "domain `{}`", host);
        prop_assert!(!internal(IndicatorKind::Url, &format!("https://{host}/a.exe")), "url to `{}`", host);
    }
}
