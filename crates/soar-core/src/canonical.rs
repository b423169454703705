//! Indicators in canonical form: what a value *is*, whatever way it was written.
//!
//! An attacker (or a sloppy tool) can write an internal address in many ways that naive string
//! matching misses: `184418310` is 10.254.0.6, `64:ff9b::10.40.7.9` is 10.40.7.9 behind NAT64,
//! `wiki.corp．example．com` (full-width dots) is `wiki.corp.example.com`, and an HTTP client reads
//! `http://10.9.8.7\@files.example.net/x` as a request to 10.9.8.7. Every indicator is parsed here
//! before anything classifies it or sends it anywhere, with the parsers the rest of the world
//! uses (the `url` crate's WHATWG URL and host parser, which includes IDNA/UTS-46 and the WHATWG
//! IPv4 reading; `mailparse` for RFC 5322 addresses), so soar reads a value the way the systems
//! it protects would.
//!
//! A value that does not parse as its declared kind is read as what it actually is (an address
//! typed `hash` is an address). What still cannot be read is [`Unreadable`], which the egress
//! guard treats as internal: fail closed.

use crate::alert::{Indicator, IndicatorKind};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use url::Url;

/// A host as the WHATWG URL standard reads it: an address or an ASCII (punycode) domain name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Ip(IpAddr),
    /// Lower-case ASCII, IDNA-mapped, without a trailing dot.
    Domain(String),
    /// A URL written inside another one whose host cannot be read (why): treated as internal.
    Unreadable(String),
}

/// An indicator value in canonical form, with its actual kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Canonical {
    /// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are given as the IPv4 address.
    Ip(IpAddr),
    Domain(String),
    /// The WHATWG serialisation of the URL (without user name and password, which are nobody
    /// else's business), its host, and the hosts and addresses written in its path, query and
    /// fragment (`?next=http://10.0.0.1/`), which leave with it.
    Url {
        url: String,
        host: Host,
        carried: Vec<Host>,
        /// The path, query and fragment, percent-decoded (repeatedly) and lower-cased, for
        /// the classifier's search for internal names written into them.
        rest: String,
    },
    /// `local@domain` (the domain canonical) and the host that receives its mail.
    Email {
        address: String,
        host: Host,
    },
    /// Lower-case hex: 32 (MD5), 40 (SHA-1), 64 (SHA-256) or 128 (SHA-512) digits.
    Hash(String),
    AccessKey(String),
    User(String),
    ThreatName(String),
}

impl Canonical {
    pub fn kind(&self) -> IndicatorKind {
        match self {
            Canonical::Ip(_) => IndicatorKind::Ip,
            Canonical::Domain(_) => IndicatorKind::Domain,
            Canonical::Url { .. } => IndicatorKind::Url,
            Canonical::Email { .. } => IndicatorKind::Email,
            Canonical::Hash(_) => IndicatorKind::Hash,
            Canonical::AccessKey(_) => IndicatorKind::AccessKey,
            Canonical::User(_) => IndicatorKind::User,
            Canonical::ThreatName(_) => IndicatorKind::ThreatName,
        }
    }

    /// The value as it is sent to a provider and stored.
    pub fn value(&self) -> String {
        match self {
            Canonical::Ip(ip) => ip.to_string(),
            Canonical::Domain(d) => d.clone(),
            Canonical::Url { url, .. } => url.clone(),
            Canonical::Email { address, .. } => address.clone(),
            Canonical::Hash(h) | Canonical::AccessKey(h) | Canonical::User(h) | Canonical::ThreatName(h) => h.clone(),
        }
    }
}

/// Bytes an indicator value may have.
pub(crate) const MAX_INDICATOR_BYTES: usize = 8 * 1024;

/// A value soar cannot read as any indicator kind; treated as internal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unreadable(pub String);

/// Reads `raw`, declared as `kind`, into its canonical form. A value that is not of its declared
/// kind is read as the first kind it is (IP, e-mail, URL with a scheme, domain, hash).
pub fn canonicalize(kind: IndicatorKind, raw: &str) -> Result<Canonical, Unreadable> {
    // Longer than any URL browsers and servers accept (8 KiB is the common limit): not an
    // indicator, and parsing it would only cost time.
    if raw.len() > MAX_INDICATOR_BYTES {
        return Err(Unreadable(format!(
            "{} bytes, more than the {MAX_INDICATOR_BYTES} an indicator may have",
            raw.len()
        )));
    }
    let first = match parse_as(kind, raw) {
        Ok(c) => return Ok(c),
        Err(e) => e,
    };
    if first.conclusive {
        return Err(Unreadable(first.reason));
    }
    if matches!(
        kind,
        IndicatorKind::AccessKey | IndicatorKind::User | IndicatorKind::ThreatName
    ) {
        return Err(Unreadable(first.reason));
    }
    let cleaned = clean(raw);
    let mut fallbacks = vec![IndicatorKind::Ip];
    if cleaned.contains('@') && !has_scheme(&cleaned) {
        fallbacks.push(IndicatorKind::Email);
    }
    if has_scheme(&cleaned) {
        fallbacks.push(IndicatorKind::Url);
    }
    fallbacks.extend([IndicatorKind::Domain, IndicatorKind::Hash]);
    for other in fallbacks.into_iter().filter(|k| *k != kind) {
        if let Ok(c) = parse_as(other, raw) {
            return Ok(c);
        }
    }
    Err(Unreadable(format!("not a readable {kind}: {}", first.reason)))
}

struct Failure {
    reason: String,
    /// The value is recognisably of the declared kind but unusable (a network, not an
    /// address): reading it as another kind would only misread it.
    conclusive: bool,
}

fn fail(reason: impl Into<String>) -> Failure {
    Failure {
        reason: reason.into(),
        conclusive: false,
    }
}

fn parse_as(kind: IndicatorKind, raw: &str) -> Result<Canonical, Failure> {
    match kind {
        IndicatorKind::Ip => parse_ip(strip_decoration(&clean(raw))).map(Canonical::Ip),
        IndicatorKind::Domain => parse_domain(raw),
        IndicatorKind::Url => parse_url(raw),
        IndicatorKind::Email => parse_email(raw),
        IndicatorKind::Hash => parse_hash(strip_decoration(&clean(raw))).map(Canonical::Hash),
        IndicatorKind::AccessKey => non_empty(raw).map(Canonical::AccessKey),
        IndicatorKind::User => non_empty(raw).map(Canonical::User),
        IndicatorKind::ThreatName => non_empty(raw).map(Canonical::ThreatName),
    }
}

fn non_empty(raw: &str) -> Result<String, Failure> {
    let v = raw.trim();
    if v.is_empty() {
        Err(fail("empty value"))
    } else {
        Ok(v.to_string())
    }
}

/// Characters that render as nothing (Unicode Default_Ignorable_Code_Point, the ones seen in
/// practice): an attacker can put them inside a name to make it look like another.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}'
        | '\u{1BCA0}'..='\u{1BCA3}' | '\u{E0000}'..='\u{E0FFF}')
}

/// Trimmed (Unicode white space), invisible characters removed, defanged forms refanged.
fn clean(raw: &str) -> String {
    let visible: String = raw.chars().filter(|c| !is_invisible(*c)).collect();
    refang(visible.trim())
}

/// Undoes the common ways analysts "defang" indicators so nobody clicks them: `[.]`, `(.)`,
/// `{.}`, `[dot]`, `hxxp`, `[:]`, `[://]`, `[@]`, `[at]`.
fn refang(value: &str) -> String {
    const PAIRS: &[(&str, &str)] = &[
        ("[.]", "."),
        ("(.)", "."),
        ("{.}", "."),
        ("[dot]", "."),
        ("(dot)", "."),
        ("{dot}", "."),
        ("[://]", "://"),
        ("[:]", ":"),
        ("[@]", "@"),
        ("[at]", "@"),
        ("(at)", "@"),
        ("{at}", "@"),
        ("[/]", "/"),
    ];
    let mut out = value.to_string();
    for (from, to) in PAIRS {
        if out.to_ascii_lowercase().contains(from) {
            out = replace_ignore_ascii_case(&out, from, to);
        }
    }
    for (from, to) in [("hxxps", "https"), ("hxxp", "http"), ("fxp", "ftp")] {
        if let Some(rest) = strip_prefix_ignore_case(&out, from) {
            out = format!("{to}{rest}");
        }
    }
    out
}

/// `value` without `prefix` (ASCII, any case), if it starts with it.
fn strip_prefix_ignore_case<'a>(value: &'a str, prefix: &str) -> Option<&'a str> {
    value
        .get(..prefix.len())
        .filter(|head| head.eq_ignore_ascii_case(prefix))
        .map(|_| &value[prefix.len()..])
}

fn replace_ignore_ascii_case(haystack: &str, needle: &str, with: &str) -> String {
    let lower = haystack.to_ascii_lowercase();
    let mut out = String::with_capacity(haystack.len());
    let mut last = 0;
    for (at, _) in lower.match_indices(needle) {
        out.push_str(&haystack[last..at]);
        out.push_str(with);
        last = at + needle.len();
    }
    out.push_str(&haystack[last..]);
    out
}

/// Quotes, brackets and punctuation that tools and people put around a bare address, name or
/// digest (`"10.0.0.1"`, `(corp.example.com)`, `10.0.0.1,`): not part of the value.
fn strip_decoration(value: &str) -> &str {
    value.trim_matches(|c: char| {
        c.is_whitespace()
            || matches!(
                c,
                '"' | '\''
                    | '`'
                    | '('
                    | ')'
                    | '{'
                    | '}'
                    | '<'
                    | '>'
                    | ','
                    | ';'
                    | '!'
                    | '|'
                    | '\u{201C}'
                    | '\u{201D}'
                    | '\u{2018}'
                    | '\u{2019}'
                    | '\u{00AB}'
                    | '\u{00BB}'
                    | '\u{FF02}'
                    | '\u{FF07}'
                    | '\u{FF08}'
                    | '\u{FF09}'
                    | '\u{FF0C}'
                    | '\u{FF1B}'
                    | '\u{3001}'
                    | '\u{300C}'
                    | '\u{300D}'
            )
    })
}

/// `scheme:` at the start, as RFC 3986 spells a scheme.
fn has_scheme(value: &str) -> bool {
    let Some((scheme, _)) = value.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        // `host:port` is not a scheme: a scheme is followed by `/`, or is one a URL names.
        && (value[scheme.len() + 1..].starts_with('/')
            || value[scheme.len() + 1..].starts_with('\\')
            || is_special_scheme(scheme)
            || scheme.eq_ignore_ascii_case("mailto"))
}

/// The WHATWG URL standard's special schemes, whose host is parsed as a domain or address.
fn is_special_scheme(scheme: &str) -> bool {
    ["http", "https", "ftp", "ws", "wss", "file"]
        .iter()
        .any(|s| s.eq_ignore_ascii_case(scheme))
}

/// An address: whitespace, brackets, a port, a host prefix length (`/32`, `/128`) and an IPv6
/// zone id removed; IPv4 read as the WHATWG URL standard reads a host (`10.5`, `0xa.0.0.1`,
/// `012.0.0.1`, `167772161`). IPv4-mapped IPv6 becomes the IPv4 address.
fn parse_ip(value: &str) -> Result<IpAddr, Failure> {
    let mut v = value.trim();
    // `[v6]:port` or `[v6]`, and `v4:port`.
    if let Some(rest) = v.strip_prefix('[') {
        let Some((inside, after)) = rest.split_once(']') else {
            return Err(fail("unclosed `[`"));
        };
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return Err(fail("text after the bracketed address"));
        }
        v = inside;
    } else if v.matches(':').count() == 1
        && let Some((host, port)) = v.split_once(':')
        && is_port(port)
    {
        v = host;
    }
    if let Some((address, bits)) = v.rsplit_once('/') {
        let bits: u8 = bits.trim().parse().map_err(|_| fail("not an address"))?;
        let ip = parse_bare_ip(address)?;
        let host_bits = if ip.is_ipv4() { 32 } else { 128 };
        if bits != host_bits {
            return Err(Failure {
                reason: format!("`{value}` is a network, not an address"),
                conclusive: true,
            });
        }
        return Ok(ip);
    }
    parse_bare_ip(v)
}

fn is_port(port: &str) -> bool {
    !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit())
}

fn parse_bare_ip(value: &str) -> Result<IpAddr, Failure> {
    let v = value.trim();
    let without_zone = v.split_once('%').map_or(v, |(a, _)| a);
    if without_zone.contains(':') {
        return without_zone
            .parse::<Ipv6Addr>()
            .map(|ip| unmap(IpAddr::V6(ip)))
            .map_err(|_| fail(format!("`{v}` is not an IPv6 address")));
    }
    match url::Host::parse(v) {
        Ok(url::Host::Ipv4(ip)) => Ok(IpAddr::V4(ip)),
        _ => Err(fail(format!("`{v}` is not an IP address"))),
    }
}

/// `::ffff:a.b.c.d` is the IPv4 address it maps.
fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// A domain name (or an address written where a name was expected), from anything an alert
/// may carry in a domain field: `host:port`, `user@host`, a URL, a trailing dot, defanged.
fn parse_domain(raw: &str) -> Result<Canonical, Failure> {
    let value = strip_decoration(&clean(raw)).to_string();
    if value.is_empty() {
        return Err(fail("empty value"));
    }
    let url = if has_scheme(&value) {
        value.clone()
    } else {
        format!("http://{value}")
    };
    let host = url_host(&url)?;
    match host {
        Host::Ip(ip) => Ok(Canonical::Ip(ip)),
        Host::Domain(d) => Ok(Canonical::Domain(d)),
        Host::Unreadable(why) => Err(fail(why)),
    }
}

/// The host of a URL as an HTTP client reads it; a URL without a scheme is read as `http://`.
fn parse_url(raw: &str) -> Result<Canonical, Failure> {
    let value = clean(raw);
    if value.is_empty() {
        return Err(fail("empty value"));
    }
    if strip_prefix_ignore_case(&value, "mailto:").is_some() {
        return parse_email(&value);
    }
    let text = if has_scheme(&value) {
        value
    } else {
        format!("http://{value}")
    };
    let mut url = Url::parse(&text).map_err(|e| fail(format!("not a URL: {e}")))?;
    let host = host_of(&url)?;
    // Credentials in a URL are never sent to anyone (`set_*` fail only for URLs without a host).
    let _ = url.set_username("");
    let _ = url.set_password(None);
    let rest = [url.path(), url.query().unwrap_or(""), url.fragment().unwrap_or("")].join(" ");
    let rest = decoded_text(&rest);
    Ok(Canonical::Url {
        carried: hosts_in(&rest),
        url: url.to_string(),
        host,
        rest,
    })
}

/// Text as a reader of it would see it: percent-decoded until nothing changes (double encoding
/// hides nothing), invalid UTF-8 replaced rather than left encoded,
/// invisible characters removed, the ideographic and full-width dots made dots, lower-cased.
fn decoded_text(text: &str) -> String {
    let mut current = text.to_string();
    // Each round that changes anything shortens the text, so this ends; the bound is for safety.
    for _ in 0..64 {
        let next = percent_encoding::percent_decode_str(&current)
            .decode_utf8_lossy()
            .into_owned();
        if next == current {
            break;
        }
        current = next;
    }
    current
        .chars()
        .filter(|c| !is_invisible(*c))
        .map(|c| match c {
            '\u{3002}' | '\u{FF0E}' | '\u{FF61}' => '.',
            c => c,
        })
        .collect::<String>()
        .to_lowercase()
}

/// Addresses and host names written anywhere in `text` (a URL's path and query, decoded):
/// the host of every URL written into it (`?next=http://db.corp.example.com:8443/`, read by the
/// same parser; one that cannot be read is [`Host::Unreadable`]), every dotted IPv4 address
/// (`x.10.0.0.1`, `10.0.0.1_`), and tokens between delimiters that read as an address or as a
/// name with a dot.
fn hosts_in(text: &str) -> Vec<Host> {
    let mut hosts = embedded_url_hosts(text);
    hosts.extend(dotted_quads(text).into_iter().map(|ip| Host::Ip(IpAddr::V4(ip))));
    // `?to=root@localhost`: the host after an `@` is a host, one label or not.
    for (at, _) in text.match_indices('@') {
        let host: String = text[at + 1..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '[' | ']' | ':'))
            .take(256)
            .collect();
        let host = host.trim_end_matches(':');
        if let Ok(ip) = parse_ip(host) {
            hosts.push(Host::Ip(ip));
        } else if let Ok(url::Host::Domain(d)) = url::Host::parse(host)
            && let Ok(name) = checked_name(&d)
        {
            hosts.push(name);
        }
    }
    hosts.extend(
        text.split(|c: char| !(c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '[' | ']' | '%')))
            .map(strip_decoration)
            .filter(|t| t.contains('.') || t.matches(':').count() > 1)
            .filter_map(|token| {
                if let Ok(ip) = parse_ip(token) {
                    return Some(Host::Ip(ip));
                }
                match url::Host::parse(token.trim_end_matches(':')) {
                    Ok(url::Host::Domain(d)) if d.contains('.') => checked_name(&d).ok(),
                    _ => None,
                }
            }),
    );
    hosts
}

/// URLs written into `text` that an HTTP client would follow: `scheme://...`, a special scheme
/// without slashes (`http:localhost/`), and scheme-relative `//host/` or `\\host\` after a
/// delimiter (`?next=//localhost/`). Each is read by the same parser as the URL itself; one that
/// cannot be read is [`Host::Unreadable`]. At most [`MAX_EMBEDDED_URLS`] are read, each from at
/// most 2 KiB of text, so a crafted indicator cannot make this slow; more is unreadable.
fn embedded_url_hosts(text: &str) -> Vec<Host> {
    let bytes = text.as_bytes();
    let mut starts: Vec<(usize, &'static str)> = Vec::new();
    for (colon, _) in text.match_indices(':') {
        let scheme_start = text[..colon]
            .char_indices()
            .rev()
            .take(16)
            .take_while(|(_, c)| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            .last()
            .map(|(i, _)| i);
        let Some(scheme_start) = scheme_start else { continue };
        let scheme = &text[scheme_start..colon];
        if scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && (is_special_scheme(scheme) || text[colon + 1..].starts_with("//"))
        {
            starts.push((scheme_start, ""));
        }
    }
    // Two slashes in any mix (`//`, `\\`, `/\`, `\/`): browsers read each as `//`.
    let slash = |c: u8| c == b'/' || c == b'\\';
    let pairs = (0..bytes.len().saturating_sub(1)).filter(|&i| slash(bytes[i]) && slash(bytes[i + 1]));
    for i in pairs {
        let before = text[..i].chars().next_back();
        if before.is_none_or(|c| !(c.is_alphanumeric() || matches!(c, '/' | '\\' | ':' | '.' | '-' | '_'))) {
            starts.push((i, "http:"));
        }
    }
    starts.sort_unstable();
    starts.dedup();
    if starts.len() > MAX_EMBEDDED_URLS {
        return vec![Host::Unreadable(format!(
            "more than {MAX_EMBEDDED_URLS} URLs written inside it"
        ))];
    }
    starts
        .into_iter()
        .map(|(start, prefix)| {
            let mut end = (start + 2048).min(bytes.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            let slice = &text[start..end];
            let slice = slice
                .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>'))
                .map_or(slice, |i| &slice[..i]);
            let candidate = format!("{prefix}{slice}");
            Url::parse(&candidate)
                .map_err(|e| fail(e.to_string()))
                .and_then(|url| host_of(&url))
                .unwrap_or_else(|e| Host::Unreadable(format!("`{candidate}`: {}", e.reason)))
        })
        .collect()
}

/// URLs read from inside one indicator (see [`embedded_url_hosts`]).
const MAX_EMBEDDED_URLS: usize = 64;

/// Every dotted-decimal IPv4 address in `text`, wherever it sits (`x.10.0.0.1`, `10.0.0.1_`,
/// `10.0.0.1.5` holds 10.0.0.1): four consecutive numeric labels of a run of digits and dots.
fn dotted_quads(text: &str) -> Vec<Ipv4Addr> {
    let mut found = Vec::new();
    for run in text.split(|c: char| !(c.is_ascii_digit() || c == '.')) {
        let labels: Vec<&str> = run.split('.').collect();
        for window in labels.windows(4) {
            if window.iter().all(|l| !l.is_empty() && l.len() <= 3)
                && let Ok(ip) = window.join(".").parse::<Ipv4Addr>()
            {
                found.push(ip);
            }
        }
    }
    found
}

fn url_host(text: &str) -> Result<Host, Failure> {
    let url = Url::parse(text).map_err(|e| fail(format!("not a host name: {e}")))?;
    host_of(&url)
}

fn host_of(url: &Url) -> Result<Host, Failure> {
    let host = match url.host() {
        Some(url::Host::Ipv4(ip)) => Host::Ip(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Host::Ip(unmap(IpAddr::V6(ip))),
        Some(url::Host::Domain(d)) if url.is_special() => Host::Domain(d.to_string()),
        // A non-special scheme's host is opaque to the URL parser (percent-encoded, not mapped):
        // read it as a special scheme's host would be.
        Some(url::Host::Domain(d)) => {
            let decoded = percent_decode(d);
            match url::Host::parse(&decoded) {
                Ok(url::Host::Ipv4(ip)) => Host::Ip(IpAddr::V4(ip)),
                Ok(url::Host::Ipv6(ip)) => Host::Ip(unmap(IpAddr::V6(ip))),
                Ok(url::Host::Domain(d)) => Host::Domain(d),
                Err(e) => return Err(fail(format!("unreadable host `{d}`: {e}"))),
            }
        }
        None => return Err(fail("a URL without a host")),
    };
    Ok(match host {
        Host::Domain(d) => checked_name(&d)?,
        ip => ip,
    })
}

/// A name the URL parser accepted, as DNS would see it: trailing dots removed (and then read
/// again, since `10.0.0.1..` is the address to a resolver), no empty label, and nothing but
/// letters, digits, `-` and `_` in any label, Unicode labels included. The WHATWG host parser
/// lets `"`, `,`, `(` and more through, and IDNA turns `“` into punycode: such a "name" is no
/// name at all, and reading it as an unknown public one would let `"10.0.0.1"` out.
fn checked_name(name: &str) -> Result<Host, Failure> {
    let trimmed = name.trim_end_matches('.');
    if trimmed.is_empty() {
        return Err(fail("an empty host name"));
    }
    if trimmed.len() != name.len() {
        match url::Host::parse(trimmed) {
            Ok(url::Host::Ipv4(ip)) => return Ok(Host::Ip(IpAddr::V4(ip))),
            Ok(url::Host::Ipv6(ip)) => return Ok(Host::Ip(unmap(IpAddr::V6(ip)))),
            _ => {}
        }
    }
    let (unicode, errors) = idna::domain_to_unicode(trimmed);
    if errors.is_err() {
        return Err(fail(format!("`{trimmed}` has a label that is not valid punycode")));
    }
    for label in unicode.split('.') {
        if label.is_empty() {
            return Err(fail(format!("`{trimmed}` has an empty label")));
        }
        if let Some(c) = label.chars().find(|c| !is_name_char(*c)) {
            return Err(fail(format!(
                "`{trimmed}` has {c:?} in a label, which no host name has"
            )));
        }
    }
    // Every top-level domain has a letter: `10.0.0.1_` or `1.2.3.4.5` is a mangled address.
    if !unicode
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.chars().any(char::is_alphabetic))
    {
        return Err(fail(format!(
            "`{trimmed}` ends in a label without a letter, as no top-level domain does"
        )));
    }
    Ok(Host::Domain(trimmed.to_string()))
}

/// Letters, digits, combining marks and joiners of any script, `-` and `_`; not punctuation,
/// symbols, spaces or controls (Unicode's punctuation and symbol blocks, as far as they matter).
fn is_name_char(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || c == '-' || c == '_';
    }
    !(c.is_whitespace()
        || c.is_control()
        || matches!(c,
            '\u{00A0}'..='\u{00BF}' | '\u{00D7}' | '\u{00F7}' | '\u{2000}'..='\u{206F}'
            | '\u{2190}'..='\u{23FF}' | '\u{2500}'..='\u{27BF}' | '\u{2800}'..='\u{28FF}'
            | '\u{2E00}'..='\u{2E7F}' | '\u{3000}'..='\u{303F}' | '\u{FE30}'..='\u{FE6F}'
            | '\u{FF01}'..='\u{FF0F}' | '\u{FF1A}'..='\u{FF20}' | '\u{FF3B}'..='\u{FF40}'
            | '\u{FF5B}'..='\u{FF65}' | '\u{FFF0}'..='\u{FFFF}'))
}

/// Percent-decoded text; bytes that are not UTF-8 stay encoded (and so fail as host names).
fn percent_decode(s: &str) -> String {
    match percent_encoding::percent_decode_str(s).decode_utf8() {
        Ok(decoded) => decoded.into_owned(),
        Err(_) => s.to_string(),
    }
}

/// An RFC 5322 address (display name, comments, quoted local part, `mailto:`, a `?query`);
/// the domain as a host, an address literal `[10.0.0.5]` / `[IPv6:fd00::1]` as an address.
fn parse_email(raw: &str) -> Result<Canonical, Failure> {
    let mut value = clean(raw);
    if let Some(rest) = strip_prefix_ignore_case(&value, "mailto:") {
        value = rest.to_string();
    }
    let list = mailparse::addrparse(&value).map_err(|e| fail(format!("not an e-mail address: {e}")))?;
    let addresses: Vec<String> = list
        .iter()
        .flat_map(|a| match a {
            mailparse::MailAddr::Single(s) => vec![s.addr.clone()],
            mailparse::MailAddr::Group(g) => g.addrs.iter().map(|s| s.addr.clone()).collect(),
        })
        .collect();
    let [address] = addresses.as_slice() else {
        return Err(Failure {
            reason: format!("{} addresses in one e-mail indicator", addresses.len()),
            conclusive: addresses.len() > 1,
        });
    };
    let address = address.split('?').next().unwrap_or_default().trim();
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Err(fail("an e-mail address without `@`"));
    };
    // An unquoted `@` in the local part is not an address: which host would take it is a guess.
    if local.is_empty() || (!local.starts_with('"') && local.contains('@')) {
        return Err(Failure {
            reason: format!("`{address}` has an ambiguous local part"),
            conclusive: true,
        });
    }
    let host = match domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
        Some(literal) => {
            let literal = strip_prefix_ignore_case(literal, "ipv6:").unwrap_or(literal);
            Host::Ip(parse_bare_ip(literal)?)
        }
        None => url_host(&format!("http://{domain}"))?,
    };
    let shown = match &host {
        Host::Ip(IpAddr::V6(ip)) => format!("[IPv6:{ip}]"),
        Host::Ip(ip) => format!("[{ip}]"),
        Host::Domain(d) | Host::Unreadable(d) => d.clone(),
    };
    Ok(Canonical::Email {
        address: format!("{local}@{shown}"),
        host,
    })
}

/// Lower-case hex of a known digest length, after an algorithm prefix (`md5:`, `sha256=`).
fn parse_hash(value: &str) -> Result<String, Failure> {
    let mut v = value.trim();
    for prefix in ["md5", "sha1", "sha-1", "sha256", "sha-256", "sha512", "sha-512"] {
        if let Some(rest) = strip_prefix_ignore_case(v, prefix)
            && let Some(digest) = rest.strip_prefix(':').or_else(|| rest.strip_prefix('='))
        {
            v = digest.trim();
            break;
        }
    }
    if matches!(v.len(), 32 | 40 | 64 | 128) && v.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(v.to_ascii_lowercase())
    } else {
        Err(fail("not an MD5, SHA-1, SHA-256 or SHA-512 digest in hex"))
    }
}

/// IPv4 addresses carried inside an IPv6 address, by the transition mechanisms that embed one
/// (RFC 4291 compatible, RFC 6052 NAT64, RFC 6145 translated, RFC 3056 6to4, RFC 4380 Teredo
/// server and client). An IPv6 address is internal if any address it carries is.
pub fn embedded_ipv4(ip: Ipv6Addr) -> Vec<Ipv4Addr> {
    // (ISATAP, RFC 5214, too.)
    let bits = u128::from(ip);
    let low32 = Ipv4Addr::from(bits as u32);
    let seg = ip.segments();
    let mut out = Vec::new();
    // IPv4-compatible ::a.b.c.d (deprecated, still parsed by stacks): the first 96 bits zero.
    if bits >> 32 == 0 && bits > 1 {
        out.push(low32);
    }
    // IPv4-mapped ::ffff:a.b.c.d and translated ::ffff:0:a.b.c.d.
    if bits >> 32 == 0xffff || bits >> 32 == 0xffff_0000 {
        out.push(low32);
    }
    // NAT64 well-known prefix 64:ff9b::/96.
    if bits >> 32 == 0x0064_ff9b_0000_0000_0000_0000 {
        out.push(low32);
    }
    // NAT64 local-use 64:ff9b:1::/48 (RFC 8215): any of the RFC 6052 prefix lengths may be in
    // use, so every position it defines counts.
    if seg[0] == 0x64 && seg[1] == 0xff9b && seg[2] == 1 {
        let bytes = ip.octets();
        out.push(low32);
        out.push(Ipv4Addr::new(bytes[6], bytes[7], bytes[9], bytes[10])); // /48
        out.push(Ipv4Addr::new(bytes[7], bytes[9], bytes[10], bytes[11])); // /56
        out.push(Ipv4Addr::new(bytes[9], bytes[10], bytes[11], bytes[12])); // /64
    }
    // 6to4 2002:AABB:CCDD::/48.
    if seg[0] == 0x2002 {
        out.push(Ipv4Addr::from(((seg[1] as u32) << 16) | seg[2] as u32));
    }
    // ISATAP (RFC 5214): an interface identifier `0000:5efe` or `0200:5efe` under any prefix.
    if seg[4] & 0xfdff == 0 && seg[5] == 0x5efe {
        out.push(low32);
    }
    // Teredo 2001:0000::/32: server address in bits 32-63, client address inverted in the last 32.
    if seg[0] == 0x2001 && seg[1] == 0 {
        out.push(Ipv4Addr::from(((seg[2] as u32) << 16) | seg[3] as u32));
        out.push(Ipv4Addr::from(!(bits as u32)));
    }
    out
}

/// IPv4 addresses written in dotted form at the end of an IPv6 literal anywhere in `text`
/// (`2600:1f18::10.0.0.1`): whatever the prefix, whoever wrote it meant that IPv4 address (a
/// network-specific NAT64 prefix, RFC 6052, can be any /96), so it is classified too.
pub fn dotted_ipv4_in_ipv6(text: &str) -> Vec<Ipv4Addr> {
    text.match_indices(':')
        .filter_map(|(at, _)| {
            let tail: String = text[at + 1..]
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            (tail.matches('.').count() == 3).then(|| tail.parse().ok()).flatten()
        })
        .collect()
}

/// `indicator` with its actual kind and canonical value ([`canonicalize`]); the text as written
/// is kept in `written`. A value that cannot be read stays as written: the egress guard treats
/// it as internal.
pub fn indicator(mut indicator: Indicator) -> Indicator {
    if let Ok(c) = canonicalize(indicator.kind, &indicator.value) {
        let value = c.value();
        if value != indicator.value || c.kind() != indicator.kind {
            let written = std::mem::replace(&mut indicator.value, value);
            indicator.written.get_or_insert(written);
            indicator.kind = c.kind();
        }
    }
    indicator
}

/// Canonicalises every indicator ([`indicator`]) and drops repeats of one (kind, value): two
/// writings of one address are one indicator.
pub fn indicators(indicators: Vec<Indicator>) -> Vec<Indicator> {
    let mut out: Vec<Indicator> = Vec::with_capacity(indicators.len());
    let mut seen = std::collections::HashSet::new();
    for indicator in indicators.into_iter().map(indicator) {
        if seen.insert((indicator.kind, indicator.value.clone())) {
            out.push(indicator);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use IndicatorKind::*;

    fn c(kind: IndicatorKind, raw: &str) -> Canonical {
        canonicalize(kind, raw).unwrap_or_else(|e| panic!("{kind} `{raw}`: {e}"))
    }

    fn ip(s: &str) -> Canonical {
        Canonical::Ip(s.parse().unwrap())
    }

    #[test]
    fn addresses_in_every_writing() {
        for (raw, want) in [
            (" 192.168.44.2:3389 ", "192.168.44.2"),
            ("0xa.0x28.7.9", "10.40.7.9"),
            ("184418310", "10.254.0.6"),
            ("10.5", "10.0.0.5"),
            ("012.0.0.1", "10.0.0.1"),
            ("10.0.0.1/32", "10.0.0.1"),
            ("[fe80::1%eth0]:22", "fe80::1"),
            ("::ffff:10.0.0.1", "10.0.0.1"),
            ("64:ff9b::10.40.7.9", "64:ff9b::a28:709"),
        ] {
            assert_eq!(c(Ip, raw), ip(want), "{raw}");
        }
        assert!(canonicalize(Ip, "10.0.0.0/8").is_err(), "a network is not an address");
    }

    #[test]
    fn names_are_mapped_and_unwrapped() {
        assert_eq!(
            c(Domain, "wiki.corp\u{FF0E}example\u{3002}com"),
            Canonical::Domain("wiki.corp.example.com".into())
        );
        assert_eq!(
            c(Domain, "git.corp.example.com:8443"),
            Canonical::Domain("git.corp.example.com".into())
        );
        assert_eq!(
            c(Domain, "build[.]corp[.]example[.]com."),
            Canonical::Domain("build.corp.example.com".into())
        );
        assert_eq!(
            c(Domain, "co\u{200B}rp.EXAMPLE.com"),
            Canonical::Domain("corp.example.com".into())
        );
        assert_eq!(c(Domain, "184418310"), ip("10.254.0.6"));
    }

    #[test]
    fn urls_have_the_host_a_client_would_use() {
        let host = |raw: &str| match c(Url, raw) {
            Canonical::Url { host, .. } => host,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            host("http://2886729996/admin"),
            Host::Ip("172.16.1.12".parse().unwrap())
        );
        assert_eq!(
            host("http://10.9.8.7\\@files.example.net/x"),
            Host::Ip("10.9.8.7".parse().unwrap())
        );
        assert_eq!(
            host("http:/db.corp.example.com/dump"),
            Host::Domain("db.corp.example.com".into())
        );
        assert_eq!(
            host("hxxp://evil[.]example[.]net/a"),
            Host::Domain("evil.example.net".into())
        );
        assert_eq!(
            host("ssh://%63orp.example.com/"),
            Host::Domain("corp.example.com".into())
        );
        assert!(canonicalize(Url, "data:text/plain,hi").is_err());
        // Credentials are never passed on; hosts in the path and query travel with the URL.
        match c(Url, "https://admin:S3cret@files.example.net/go?to=http://10.0.0.1/") {
            Canonical::Url { url, carried, .. } => {
                assert_eq!(url, "https://files.example.net/go?to=http://10.0.0.1/");
                assert!(carried.contains(&Host::Ip("10.0.0.1".parse().unwrap())), "{carried:?}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn emails_and_hashes() {
        assert_eq!(
            c(Email, "Ops Team <ops@corp.example.com>"),
            Canonical::Email {
                address: "ops@corp.example.com".into(),
                host: Host::Domain("corp.example.com".into())
            }
        );
        assert_eq!(
            c(Email, "root@[10.0.0.5]"),
            Canonical::Email {
                address: "root@[10.0.0.5]".into(),
                host: Host::Ip("10.0.0.5".parse().unwrap())
            }
        );
        assert_eq!(
            c(Hash, "MD5:D41D8CD98F00B204E9800998ECF8427E"),
            Canonical::Hash("d41d8cd98f00b204e9800998ecf8427e".into())
        );
        // Not a hash: read as what it is.
        assert_eq!(c(Hash, "10.11.12.13"), ip("10.11.12.13"));
    }

    #[test]
    fn embedded_addresses() {
        let v6 = |s: &str| s.parse::<Ipv6Addr>().unwrap();
        assert!(embedded_ipv4(v6("2002:0a00:0001::1")).contains(&Ipv4Addr::new(10, 0, 0, 1)));
        // Teredo client 10.0.0.1 inverted: f5ff:fffe.
        assert!(embedded_ipv4(v6("2001:0:4136:e378:8000:63bf:f5ff:fffe")).contains(&Ipv4Addr::new(10, 0, 0, 1)));
        assert!(embedded_ipv4(v6("::10.0.0.1")).contains(&Ipv4Addr::new(10, 0, 0, 1)));
    }
}
