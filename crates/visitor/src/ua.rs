//! Browser, operating system and device type from a `User-Agent` header.
//!
//! Parsing uses [`ua_parser`] with the uap-core rule set (`regexes.yaml`), the community
//! standard behind most analytics tools. The rule set is the one shipped inside the
//! `ua-parser` package that `Cargo.lock` selects; `build.rs` turns it into static data at
//! build time, so nothing is read from disk at run time and the rules are versioned with the
//! lock file. The matcher is compiled once, on first use, and shared.
//!
//! Device type is derived from what uap reports (see [`DeviceType`]). Limits worth knowing:
//! Safari on iPadOS 13 and later sends a macOS desktop User-Agent, so those iPads show as
//! desktop; and Chrome's reduced User-Agent reports a frozen OS version (e.g. "Windows 10"
//! for Windows 11, Android "10" with model "K").

use std::borrow::Cow;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use ua_parser::{Extractor, device, os, user_agent};

/// What a User-Agent says about the visitor's software and device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// Browser or client family, e.g. "Chrome", "Mobile Safari", "Googlebot", "curl".
    pub browser: Option<String>,
    /// Browser version, up to three parts, e.g. "124.0.0".
    pub browser_version: Option<String>,
    /// Operating system family, e.g. "Windows", "Mac OS X", "iOS", "Android".
    pub os: Option<String>,
    /// Operating system version, up to three parts, e.g. "17.4" or "10.15.7".
    pub os_version: Option<String>,
    pub device_type: DeviceType,
}

/// Coarse kind of device, for an agent's overview and for filtering bots out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceType {
    Desktop,
    Mobile,
    Tablet,
    /// Crawlers, link previewers and command-line HTTP clients: not a person in a browser.
    Bot,
    /// Nothing recognisable (empty or unknown User-Agent).
    Other,
}

/// Parses a User-Agent header. Never fails: unknown parts are `None`, an unrecognisable
/// string gives [`DeviceType::Other`].
pub fn parse(user_agent: &str) -> Device {
    let unknown = Device {
        browser: None,
        browser_version: None,
        os: None,
        os_version: None,
        device_type: DeviceType::Other,
    };
    // Real User-Agents are a few hundred bytes; the rules look at the first ~400 characters
    // anyway, and a cap keeps a hostile multi-kilobyte header from costing regex time.
    let user_agent = truncate(user_agent.trim(), 1024);
    if user_agent.is_empty() {
        return unknown;
    }
    let Some(extractor) = EXTRACTOR.as_ref() else {
        return unknown;
    };
    let (ua, os, dev) = extractor.extract(user_agent);

    let browser = ua.as_ref().and_then(|u| known(&u.family));
    let browser_version = ua
        .as_ref()
        .and_then(|u| version([u.major, u.minor, u.patch]));
    let os_family = os.as_ref().and_then(|o| known(&o.os));
    let os_version = os
        .as_ref()
        .and_then(|o| version([o.major.as_deref(), o.minor.as_deref(), o.patch.as_deref()]));
    let device_family = dev.as_ref().map(|d| d.device.as_ref()).unwrap_or("Other");
    let device_type = device_type(
        user_agent,
        browser.as_deref(),
        os_family.as_deref(),
        device_family,
    );
    Device {
        browser,
        browser_version,
        os: os_family,
        os_version,
        device_type,
    }
}

/// uap's name for "not recognised".
fn known(family: &str) -> Option<String> {
    let family = family.trim();
    (!family.is_empty() && family != "Other").then(|| family.to_owned())
}

fn version(parts: [Option<&str>; 3]) -> Option<String> {
    let parts: Vec<&str> = parts
        .into_iter()
        .map_while(|p| p.map(str::trim).filter(|p| !p.is_empty()))
        .collect();
    (!parts.is_empty()).then(|| parts.join("."))
}

/// Command-line and library HTTP clients that uap names as a browser family. They are
/// automated traffic for our purposes, like crawlers.
const TOOL_FAMILIES: &[&str] = &[
    "curl",
    "Wget",
    "wget2",
    "Python Requests",
    "Python-urllib",
    "aiohttp",
    "Go-http-client",
    "Java",
    "okhttp",
    "axios",
    "HTTPie",
    "libwww-perl",
    "Apache-HttpClient",
    "PycURL",
    "libcurl-agent",
    "PostmanRuntime",
    "insomnia",
    "node-fetch",
    "undici",
    "HeadlessChrome",
];

const MOBILE_OSES: &[&str] = &[
    "iOS",
    "Windows Phone",
    "BlackBerry OS",
    "KaiOS",
    "Symbian OS",
    "Firefox OS",
    "Tizen",
    "HarmonyOS",
];

const DESKTOP_OSES: &[&str] = &[
    "Windows",
    "Mac OS X",
    "macOS",
    "Linux",
    "Ubuntu",
    "Debian",
    "Fedora",
    "Red Hat",
    "CentOS",
    "SUSE",
    "Mint",
    "Arch Linux",
    "Gentoo",
    "Chrome OS",
    "FreeBSD",
    "OpenBSD",
    "NetBSD",
    "Solaris",
];

/// Rules, first match wins:
/// 1. uap device "Spider" (its crawler rules), or a known command-line/library HTTP client
///    → bot;
/// 2. uap device iPad or Kindle, a "Tablet" token, or Android without the "Mobile" token
///    (Google's documented convention for Android tablets) → tablet;
/// 3. uap device iPhone/iPod, a mobile OS, Android, or a "Mobi" token (MDN's recommended
///    mobile test) → mobile;
/// 4. a desktop OS, or a recognised browser on an unrecognised OS → desktop;
/// 5. otherwise → other.
fn device_type(
    user_agent: &str,
    browser: Option<&str>,
    os: Option<&str>,
    device: &str,
) -> DeviceType {
    let bot_family = browser.is_some_and(|b| {
        TOOL_FAMILIES.iter().any(|t| t.eq_ignore_ascii_case(b))
            || b.ends_with("bot")
            || b.ends_with("Bot")
    });
    if device == "Spider" || bot_family {
        return DeviceType::Bot;
    }
    let android = os == Some("Android");
    let tablet_device = device == "iPad"
        || device.starts_with("Kindle")
        || device.eq_ignore_ascii_case("Generic Tablet");
    if tablet_device
        || user_agent.contains("Tablet;")
        || (android && !user_agent.contains("Mobile"))
    {
        return DeviceType::Tablet;
    }
    if matches!(device, "iPhone" | "iPod" | "Generic Smartphone")
        || os.is_some_and(|o| MOBILE_OSES.contains(&o))
        || android
        || user_agent.contains("Mobi")
    {
        return DeviceType::Mobile;
    }
    if os.is_some_and(|o| DESKTOP_OSES.contains(&o)) || browser.is_some() {
        return DeviceType::Desktop;
    }
    DeviceType::Other
}

fn truncate(s: &str, max_bytes: usize) -> &str {
    if s.len() <= max_bytes {
        return s;
    }
    let mut end = max_bytes;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

// Rows of the uap-core rule set, written by build.rs.

struct UaRow {
    regex: &'static str,
    family: Option<&'static str>,
    v1: Option<&'static str>,
    v2: Option<&'static str>,
    v3: Option<&'static str>,
    v4: Option<&'static str>,
}

struct OsRow {
    regex: &'static str,
    os: Option<&'static str>,
    v1: Option<&'static str>,
    v2: Option<&'static str>,
    v3: Option<&'static str>,
    v4: Option<&'static str>,
}

struct DeviceRow {
    regex: &'static str,
    ignore_case: bool,
    device: Option<&'static str>,
    brand: Option<&'static str>,
    model: Option<&'static str>,
}

include!(concat!(env!("OUT_DIR"), "/uap_regexes.rs"));

/// Compiled once: building the matcher for the ~1,200 rules takes a noticeable fraction of
/// a second, matching afterwards is fast. `None` only if the shipped rules failed
/// to compile, which the tests rule out for the locked version; parsing then degrades to
/// "unknown" rather than taking the server down.
static EXTRACTOR: LazyLock<Option<Extractor<'static>>> = LazyLock::new(|| build_extractor().ok());

fn build_extractor() -> Result<Extractor<'static>, ua_parser::Error> {
    let borrowed = |s: Option<&'static str>| s.map(Cow::Borrowed);
    let ua = USER_AGENT_PARSERS
        .iter()
        .try_fold(user_agent::Builder::new(), |builder, row| {
            builder.push(user_agent::Parser {
                regex: Cow::Borrowed(row.regex),
                family_replacement: borrowed(row.family),
                v1_replacement: borrowed(row.v1),
                v2_replacement: borrowed(row.v2),
                v3_replacement: borrowed(row.v3),
                v4_replacement: borrowed(row.v4),
            })
        })?
        .build()?;
    let os = OS_PARSERS
        .iter()
        .try_fold(os::Builder::new(), |builder, row| {
            builder.push(os::Parser {
                regex: Cow::Borrowed(row.regex),
                os_replacement: borrowed(row.os),
                os_v1_replacement: borrowed(row.v1),
                os_v2_replacement: borrowed(row.v2),
                os_v3_replacement: borrowed(row.v3),
                os_v4_replacement: borrowed(row.v4),
            })
        })?
        .build()?;
    let dev = DEVICE_PARSERS
        .iter()
        .try_fold(device::Builder::new(), |builder, row| {
            builder.push(device::Parser {
                regex: Cow::Borrowed(row.regex),
                regex_flag: row.ignore_case.then_some(device::Flag::IgnoreCase),
                device_replacement: borrowed(row.device),
                brand_replacement: borrowed(row.brand),
                model_replacement: borrowed(row.model),
            })
        })?
        .build()?;
    Ok(Extractor { ua, os, dev })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_uap_rules_all_compile() {
        // uap-core has had ~350 browser, ~150 OS and ~650 device rules for years; a much
        // smaller count means the build script read the file wrongly.
        let counts = (
            USER_AGENT_PARSERS.len(),
            OS_PARSERS.len(),
            DEVICE_PARSERS.len(),
        );
        assert!(
            counts.0 > 300 && counts.1 > 100 && counts.2 > 300,
            "{counts:?}"
        );
        if let Err(e) = build_extractor() {
            panic!("uap rules do not compile: {e}");
        }
        assert!(EXTRACTOR.is_some());
    }

    /// (what, User-Agent, browser, browser version, OS, OS version, device type)
    type Row = (
        &'static str,
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
        DeviceType,
    );

    #[test]
    fn real_user_agents_parse_as_expected() {
        use DeviceType::*;
        let rows: &[Row] = &[
            (
                "Chrome on Windows",
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/124.0.0.0 Safari/537.36",
                Some("Chrome"),
                Some("124.0.0"),
                Some("Windows"),
                Some("10"),
                Desktop,
            ),
            (
                "Safari on macOS",
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like \
                 Gecko) Version/17.4.1 Safari/605.1.15",
                Some("Safari"),
                Some("17.4.1"),
                Some("Mac OS X"),
                Some("10.15.7"),
                Desktop,
            ),
            (
                "Firefox on Linux",
                "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
                Some("Firefox"),
                Some("125.0"),
                Some("Linux"),
                None,
                Desktop,
            ),
            (
                "Firefox on Ubuntu",
                "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
                Some("Firefox"),
                Some("125.0"),
                Some("Ubuntu"),
                None,
                Desktop,
            ),
            (
                "Edge on Windows",
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51",
                Some("Edge"),
                Some("124.0.2478"),
                Some("Windows"),
                Some("10"),
                Desktop,
            ),
            (
                "Opera on Windows",
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/124.0.0.0 Safari/537.36 OPR/109.0.0.0",
                Some("Opera"),
                Some("109.0.0"),
                Some("Windows"),
                Some("10"),
                Desktop,
            ),
            (
                "Chrome on ChromeOS",
                "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/124.0.0.0 Safari/537.36",
                Some("Chrome"),
                Some("124.0.0"),
                Some("Chrome OS"),
                Some("14541.0.0"),
                Desktop,
            ),
            (
                "Safari on iPhone",
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 \
                 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
                Some("Mobile Safari"),
                Some("17.4.1"),
                Some("iOS"),
                Some("17.4.1"),
                Mobile,
            ),
            (
                "Chrome on iPhone",
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 \
                 (KHTML, like Gecko) CriOS/124.0.6367.111 Mobile/15E148 Safari/604.1",
                Some("Chrome Mobile iOS"),
                Some("124.0.6367"),
                Some("iOS"),
                Some("17.4"),
                Mobile,
            ),
            (
                "Chrome on Android (reduced UA)",
                "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/124.0.0.0 Mobile Safari/537.36",
                Some("Chrome Mobile"),
                Some("124.0.0"),
                Some("Android"),
                Some("10"),
                Mobile,
            ),
            (
                "Samsung Internet on a Galaxy phone",
                "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like \
                 Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
                Some("Samsung Internet"),
                Some("24.0"),
                Some("Android"),
                Some("14"),
                Mobile,
            ),
            (
                "Firefox on Android phone",
                "Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0",
                Some("Firefox Mobile"),
                Some("125.0"),
                Some("Android"),
                Some("14"),
                Mobile,
            ),
            (
                "Safari on iPad",
                "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like \
                 Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
                Some("Mobile Safari"),
                Some("16.6"),
                Some("iOS"),
                Some("16.6"),
                Tablet,
            ),
            (
                "Chrome on an Android tablet (no Mobile token)",
                "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/124.0.0.0 Safari/537.36",
                Some("Chrome"),
                Some("124.0.0"),
                Some("Android"),
                Some("13"),
                Tablet,
            ),
            (
                "Firefox on an Android tablet",
                "Mozilla/5.0 (Android 14; Tablet; rv:125.0) Gecko/125.0 Firefox/125.0",
                Some("Firefox Mobile"),
                Some("125.0"),
                Some("Android"),
                Some("14"),
                Tablet,
            ),
            (
                "Silk on a Kindle Fire",
                "Mozilla/5.0 (Linux; Android 11; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Silk/124.2.1 like Chrome/124.0.6367.118 Safari/537.36",
                Some("Amazon Silk"),
                Some("124.2.1"),
                Some("Android"),
                Some("11"),
                Tablet,
            ),
            (
                "Googlebot",
                "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
                Some("Googlebot"),
                Some("2.1"),
                None,
                None,
                Bot,
            ),
            (
                "Googlebot smartphone",
                "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 \
                 (KHTML, like Gecko) Chrome/124.0.6367.118 Mobile Safari/537.36 (compatible; \
                 Googlebot/2.1; +http://www.google.com/bot.html)",
                Some("Googlebot"),
                Some("2.1"),
                Some("Android"),
                Some("6.0.1"),
                Bot,
            ),
            (
                "Bingbot",
                "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
                Some("bingbot"),
                Some("2.0"),
                None,
                None,
                Bot,
            ),
            (
                "a link preview fetcher",
                "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
                Some("FacebookBot"),
                Some("1.1"),
                None,
                None,
                Bot,
            ),
            (
                "curl",
                "curl/8.5.0",
                Some("curl"),
                Some("8.5.0"),
                None,
                None,
                Bot,
            ),
            (
                "python-requests",
                "python-requests/2.31.0",
                Some("Python Requests"),
                Some("2.31"),
                None,
                None,
                Bot,
            ),
            (
                "headless Chrome",
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
                 HeadlessChrome/124.0.0.0 Safari/537.36",
                Some("HeadlessChrome"),
                Some("124.0.0"),
                Some("Windows"),
                Some("10"),
                Bot,
            ),
            ("an empty string", "", None, None, None, None, Other),
            ("whitespace", "   ", None, None, None, None, Other),
            ("gibberish", "hello world", None, None, None, None, Other),
        ];
        for (what, ua, browser, browser_version, os, os_version, device_type) in rows {
            let got = parse(ua);
            let want = Device {
                browser: browser.map(str::to_owned),
                browser_version: browser_version.map(str::to_owned),
                os: os.map(str::to_owned),
                os_version: os_version.map(str::to_owned),
                device_type: *device_type,
            };
            assert_eq!(got, want, "{what}: {ua}");
        }
        assert!(rows.len() >= 12);
    }

    #[test]
    fn a_huge_user_agent_is_parsed_from_its_start_without_panicking() {
        let mut ua = String::from("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) ");
        ua.push_str(&"é".repeat(100_000));
        assert_eq!(parse(&ua).device_type, DeviceType::Mobile);
    }

    #[test]
    fn a_device_serializes_with_snake_case_device_types() {
        let device =
            parse("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)");
        let json = serde_json::to_value(&device).unwrap();
        assert_eq!(json["device_type"], "bot");
        assert_eq!(json["browser"], "Googlebot");
        assert_eq!(serde_json::from_value::<Device>(json).unwrap(), device);
    }
}
