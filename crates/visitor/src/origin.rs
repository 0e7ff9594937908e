//! Which websites may embed the chat widget: patterns an admin types, matched against the
//! browser's `Origin` header.
//!
//! Accepted patterns (case-insensitive):
//!
//! - an exact host: `example.com`, `www.example.com`, `localhost`, `127.0.0.1`, `[::1]`;
//!   internationalised names are accepted in Unicode or punycode (`bücher.de`);
//! - a wildcard subdomain: `*.example.com` matches `a.example.com` and `a.b.example.com`,
//!   but not `example.com` itself (list both to allow both). The part after `*.` must have
//!   at least two labels, so `*.com` is refused;
//! - an optional scheme, `http://` or `https://`, restricting the match to it; without one
//!   both match;
//! - an optional port, `localhost:3000`. Without one only the scheme's default port
//!   matches (443 or 80): a site on a non-default port is a different site, and must be
//!   listed as such;
//! - a single trailing `/` is tolerated, since admins paste URLs; any other path, a query,
//!   a fragment or credentials are refused, as are whitespace, `*` alone, wildcards
//!   anywhere but the first label, empty input and anything longer than 253 characters.
//!
//! An `Origin` of `null` (sandboxed frames, `file:` pages, some redirects) never matches.

use std::fmt;

use serde::{Deserialize, Serialize};
use url::{Host, Url};

/// One allowed-origin pattern. Serializes as the canonical text form (lowercase, punycode),
/// e.g. "https://*.example.com:8443".
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DomainPattern {
    scheme: Option<Scheme>,
    host: HostPattern,
    port: Option<u16>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Scheme {
    Http,
    Https,
}

impl Scheme {
    fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum HostPattern {
    /// A domain (lowercase ASCII), an IPv4 address, or an IPv6 address in brackets: the
    /// serialization `url` gives an `Origin` host, so comparison is plain equality.
    Exact(String),
    /// `*.suffix`: any host ending in `.suffix`.
    Subdomains(String),
}

const MAX_LEN: usize = 253;

impl DomainPattern {
    /// Parses an admin's entry; the error says what is wrong with it.
    pub fn parse(input: &str) -> Result<DomainPattern, String> {
        if input.is_empty() {
            return Err("the domain is empty".into());
        }
        if input.len() > MAX_LEN {
            return Err(format!("the domain is longer than {MAX_LEN} characters"));
        }
        if input.chars().any(char::is_whitespace) {
            return Err("the domain contains whitespace".into());
        }
        let lower = input.to_lowercase();
        let (scheme, rest) = if let Some(rest) = lower.strip_prefix("https://") {
            (Some(Scheme::Https), rest)
        } else if let Some(rest) = lower.strip_prefix("http://") {
            (Some(Scheme::Http), rest)
        } else if lower.contains("://") {
            return Err("only http:// and https:// may be given as a scheme".into());
        } else {
            (None, lower.as_str())
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if let Some(c) = rest
            .chars()
            .find(|c| matches!(c, '/' | '?' | '#' | '@' | '\\'))
        {
            return Err(format!(
                "enter a domain without a path, query or credentials (found {c:?}); e.g. \
                 example.com or https://example.com"
            ));
        }
        let (host, port) = split_port(rest)?;
        let host = if let Some(suffix) = host.strip_prefix("*.") {
            HostPattern::Subdomains(parse_wildcard_suffix(suffix)?)
        } else if host.contains('*') {
            return Err(
                "a wildcard may only stand for whole subdomains, as in *.example.com".into(),
            );
        } else {
            HostPattern::Exact(parse_host(host)?)
        };
        Ok(DomainPattern { scheme, host, port })
    }

    /// Whether a browser `Origin` header value (e.g. `https://a.example.com:8443`) is
    /// allowed by this pattern.
    pub fn matches(&self, origin: &str) -> bool {
        let origin = origin.trim();
        if origin.eq_ignore_ascii_case("null") || origin.len() > 2 * MAX_LEN {
            return false;
        }
        let Ok(url) = Url::parse(origin) else {
            return false;
        };
        let scheme = match url.scheme() {
            "https" => Scheme::Https,
            "http" => Scheme::Http,
            _ => return false,
        };
        if self.scheme.is_some_and(|s| s != scheme) {
            return false;
        }
        // `url` drops a port that is the scheme's default, so `None` means 443 or 80.
        if url.port() != self.port {
            return false;
        }
        let Some(host) = url.host() else {
            return false;
        };
        match (&self.host, host) {
            (HostPattern::Exact(want), Host::Domain(got)) => want == got.trim_end_matches('.'),
            (HostPattern::Exact(want), ip) => *want == ip.to_string(),
            (HostPattern::Subdomains(suffix), Host::Domain(got)) => got
                .trim_end_matches('.')
                .strip_suffix(suffix.as_str())
                .is_some_and(|prefix| prefix.len() > 1 && prefix.ends_with('.')),
            (HostPattern::Subdomains(_), _) => false,
        }
    }
}

/// Splits "host:port", minding IPv6 brackets.
fn split_port(s: &str) -> Result<(&str, Option<u16>), String> {
    let (host, port) = if s.starts_with('[') {
        match s.find(']') {
            Some(end) => match &s[end + 1..] {
                "" => (s, None),
                rest => match rest.strip_prefix(':') {
                    Some(port) => (&s[..=end], Some(port)),
                    None => return Err("unexpected text after the IPv6 address".into()),
                },
            },
            None => return Err("an IPv6 address must end with ]".into()),
        }
    } else {
        match s.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (s, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(port) if port > 0 && p.bytes().all(|b| b.is_ascii_digit()) => Some(port),
            _ => return Err(format!("{p:?} is not a port number from 1 to 65535")),
        },
    };
    if host.is_empty() {
        return Err("the domain is empty".into());
    }
    Ok((host, port))
}

/// An exact host, in the form `url` gives an `Origin`'s host.
fn parse_host(host: &str) -> Result<String, String> {
    let host = host.strip_suffix('.').unwrap_or(host);
    match Host::parse(host) {
        Ok(Host::Domain(domain)) => {
            check_labels(&domain)?;
            Ok(domain)
        }
        Ok(ip) => Ok(ip.to_string()),
        Err(e) => Err(format!("{host:?} is not a valid domain: {e}")),
    }
}

fn parse_wildcard_suffix(suffix: &str) -> Result<String, String> {
    let suffix = suffix.strip_suffix('.').unwrap_or(suffix);
    if suffix.contains('*') {
        return Err("only one wildcard, as the first label, is allowed (*.example.com)".into());
    }
    match Host::parse(suffix) {
        Ok(Host::Domain(domain)) => {
            check_labels(&domain)?;
            if !domain.contains('.') {
                return Err(format!(
                    "*.{domain} would allow every site under .{domain}; name your own \
                     domain, as in *.example.{domain}"
                ));
            }
            Ok(domain)
        }
        Ok(_) => Err("a wildcard cannot be used with an IP address".into()),
        Err(e) => Err(format!("{suffix:?} is not a valid domain: {e}")),
    }
}

/// Letters, digits and inner hyphens, 1–63 per label (after IDNA, so punycode for
/// internationalised names). `url` alone accepts more than DNS does, e.g. `_` or `!`.
fn check_labels(domain: &str) -> Result<(), String> {
    for label in domain.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok {
            return Err(format!(
                "{domain:?} is not a valid domain (label {label:?})"
            ));
        }
    }
    Ok(())
}

impl fmt::Display for DomainPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(scheme) = self.scheme {
            write!(f, "{}://", scheme.as_str())?;
        }
        match &self.host {
            HostPattern::Exact(host) => f.write_str(host)?,
            HostPattern::Subdomains(suffix) => write!(f, "*.{suffix}")?,
        }
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for DomainPattern {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DomainPattern::parse(s)
    }
}

impl TryFrom<String> for DomainPattern {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        DomainPattern::parse(&s)
    }
}

impl From<DomainPattern> for String {
    fn from(p: DomainPattern) -> String {
        p.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(s: &str) -> DomainPattern {
        DomainPattern::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn origins_match_patterns_as_the_table_says() {
        // (pattern, origin, allowed)
        let rows: &[(&str, &str, bool)] = &[
            ("example.com", "https://example.com", true),
            ("example.com", "http://example.com", true),
            ("example.com", "https://EXAMPLE.com", true),
            ("Example.COM", "https://example.com", true),
            ("example.com", "https://example.com:443", true),
            ("example.com", "https://example.com:8443", false),
            ("example.com", "https://www.example.com", false),
            ("example.com", "https://notexample.com", false),
            ("example.com", "https://example.com.evil.net", false),
            ("example.com", "null", false),
            ("example.com", "NULL", false),
            ("example.com", "", false),
            ("example.com", "ftp://example.com", false),
            ("example.com", "chrome-extension://example.com", false),
            ("www.example.com", "https://www.example.com", true),
            ("www.example.com", "https://example.com", false),
            ("*.example.com", "https://a.example.com", true),
            ("*.example.com", "https://a.b.example.com", true),
            ("*.example.com", "https://example.com", false),
            ("*.example.com", "https://aexample.com", false),
            ("*.example.com", "https://a.example.com.evil.net", false),
            ("*.example.com", "https://a.example.com:8443", false),
            ("*.example.com:8443", "https://a.example.com:8443", true),
            ("https://example.com", "https://example.com", true),
            ("https://example.com", "http://example.com", false),
            ("http://example.com", "http://example.com:80", true),
            ("https://example.com/", "https://example.com", true),
            ("https://*.example.com", "https://shop.example.com", true),
            ("https://*.example.com", "http://shop.example.com", false),
            ("localhost:3000", "http://localhost:3000", true),
            ("localhost:3000", "http://localhost:3001", false),
            ("localhost:3000", "http://localhost", false),
            ("localhost", "http://localhost", true),
            ("127.0.0.1:8080", "http://127.0.0.1:8080", true),
            ("127.0.0.1:8080", "http://127.0.0.2:8080", false),
            ("[::1]:3000", "http://[::1]:3000", true),
            ("bücher.de", "https://xn--bcher-kva.de", true),
            ("*.bücher.de", "https://shop.xn--bcher-kva.de", true),
            ("example.com", "https://example.com.", true),
        ];
        for (p, origin, allowed) in rows {
            assert_eq!(pattern(p).matches(origin), *allowed, "{p} vs {origin:?}");
        }
    }

    #[test]
    fn bad_patterns_are_rejected_with_a_reason() {
        let rows: &[(&str, &str)] = &[
            ("", "empty"),
            ("*", "wildcard"),
            ("*.com", "every site"),
            ("*.", "not a valid domain"),
            ("https://", "empty"),
            ("example.com/path", "without a path"),
            ("https://example.com/app/", "without a path"),
            ("example.com?x=1", "without a path"),
            ("user@example.com", "credentials"),
            ("exa mple.com", "whitespace"),
            (" example.com", "whitespace"),
            ("example.com\n", "whitespace"),
            ("ftp://example.com", "scheme"),
            ("a.*.example.com", "wildcard"),
            ("*example.com", "wildcard"),
            ("*.*.example.com", "only one wildcard"),
            ("*.127.0.0.1", "IP address"),
            ("example.com:0", "port number"),
            ("example.com:65536", "port number"),
            ("example.com:http", "port number"),
            ("example.com:", "port number"),
            ("exa_mple.com", "not a valid domain"),
            ("-example.com", "not a valid domain"),
            ("[::1", "must end with ]"),
        ];
        for (input, reason) in rows {
            let err = DomainPattern::parse(input).unwrap_err();
            assert!(err.contains(reason), "{input:?}: {err}");
        }
        let long = format!("{}.com", "a.".repeat(126));
        assert!(DomainPattern::parse(&long).unwrap_err().contains("253"));
    }

    #[test]
    fn patterns_serialize_as_their_canonical_text() {
        let p = pattern("HTTPS://*.Bücher.DE:8443/");
        assert_eq!(p.to_string(), "https://*.xn--bcher-kva.de:8443");
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, r#""https://*.xn--bcher-kva.de:8443""#);
        assert_eq!(serde_json::from_str::<DomainPattern>(&json).unwrap(), p);
        assert!(serde_json::from_str::<DomainPattern>(r#""*.com""#).is_err());
        assert_eq!(pattern("[::1]:3000").to_string(), "[::1]:3000");
    }
}
