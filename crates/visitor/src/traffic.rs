//! Where a visit came from: the traffic source, from the landing page URL and the referrer.
//!
//! # Rules
//!
//! Campaign tags are deliberate statements by the site's own marketers, so they win over
//! the referrer, which browsers often trim or drop. The first rule that applies decides:
//!
//! 1. **paid**: an ad click id (`gclid`, `gbraid`, `wbraid`, `dclid`, `msclkid`, `ttclid`,
//!    `li_fat_id`, `twclid`) or a paid `utm_medium`: `cpc`, `ppc`, `cpm`, `cpv`, `cpa`,
//!    `cpp`, `display`, `banner`, `retargeting`, `remarketing`, `sem`, `ad`, `ads`,
//!    `sponsored`, or anything starting with `paid` (`paid`, `paidsearch`, `paid_social`, …).
//!    `fbclid` is *not* a paid signal: Facebook and Instagram add it to every outbound link,
//!    including ordinary posts, so it is recorded as the click id but counts as social
//!    (rule 4) unless a paid `utm_medium` says otherwise.
//! 2. A recognised `utm_medium`: `email`, `e-mail`, `e_mail`, `mail`, `newsletter` →
//!    **email**; `social`, `social-media`, `social_media`, `social-network`, `sm`,
//!    `organic_social` → **social**; `organic`, `seo` → **organic_search**; `referral`,
//!    `link`, `affiliate` → **referral**.
//! 3. A `utm_source` (with no or an unrecognised medium): if it names a known search engine,
//!    social network or email service (`utm_source=linkedin`, `utm_source=newsletter`), that
//!    category; otherwise **referral**: someone tagged the link to know where it was
//!    placed, which makes it a referral from that place.
//! 4. `fbclid` present → **social**.
//! 5. The referrer: a webmail site or mail app (Gmail, Outlook, Yahoo Mail, any
//!    `mail.*`/`webmail.*` host) → **email**; a search engine (Google on any country
//!    domain, Bing, DuckDuckGo, Yahoo, Yandex, Baidu, Ecosia, Brave Search, Startpage,
//!    Qwant, Naver, Seznam, Kagi, …) → **organic_search**; a social network (Facebook,
//!    Instagram, X/Twitter and `t.co`, LinkedIn and `lnkd.in`, Reddit, YouTube, TikTok,
//!    Pinterest, Threads, Bluesky, Mastodon, Hacker News, messengers, …) → **social**; the
//!    landing page's own host or `own_host` (ignoring a leading `www.`) → **internal**; any
//!    other referrer → **referral**. Android apps send `android-app://<package>` referrers;
//!    the common ones (Gmail, the Google app, Facebook, LinkedIn, …) are recognised too.
//! 6. No usable referrer → **direct**.
//!
//! All input is untrusted: values are length-capped and nothing here fails.

use serde::{Deserialize, Serialize};
use url::Url;
use url::form_urlencoded;

/// The marketing channel a visit belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    OrganicSearch,
    Paid,
    Social,
    Email,
    Referral,
    Direct,
    Internal,
}

impl Source {
    /// The serialized name, e.g. "organic_search", for storage and filtering.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::OrganicSearch => "organic_search",
            Source::Paid => "paid",
            Source::Social => "social",
            Source::Email => "email",
            Source::Referral => "referral",
            Source::Direct => "direct",
            Source::Internal => "internal",
        }
    }
}

/// Campaign tags from the landing URL (`utm_*` query parameters), decoded and trimmed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Utm {
    pub source: Option<String>,
    pub medium: Option<String>,
    pub campaign: Option<String>,
    pub term: Option<String>,
    pub content: Option<String>,
}

impl Utm {
    pub fn is_empty(&self) -> bool {
        self.source.is_none()
            && self.medium.is_none()
            && self.campaign.is_none()
            && self.term.is_none()
            && self.content.is_none()
    }
}

/// Which ad platform's click id a landing URL carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClickIdKind {
    /// Google Ads.
    Gclid,
    /// Facebook/Instagram (also on organic links; see the module rules).
    Fbclid,
    /// Microsoft Advertising.
    Msclkid,
    /// TikTok Ads.
    Ttclid,
    /// LinkedIn Ads.
    LiFatId,
    /// X/Twitter Ads.
    Twclid,
    /// Google Display & Video 360 / Campaign Manager.
    Dclid,
    /// Google Ads on iOS, web-to-app.
    Wbraid,
    /// Google Ads on iOS, app-to-web.
    Gbraid,
}

impl ClickIdKind {
    /// The query parameter's name.
    pub fn param(self) -> &'static str {
        match self {
            ClickIdKind::Gclid => "gclid",
            ClickIdKind::Fbclid => "fbclid",
            ClickIdKind::Msclkid => "msclkid",
            ClickIdKind::Ttclid => "ttclid",
            ClickIdKind::LiFatId => "li_fat_id",
            ClickIdKind::Twclid => "twclid",
            ClickIdKind::Dclid => "dclid",
            ClickIdKind::Wbraid => "wbraid",
            ClickIdKind::Gbraid => "gbraid",
        }
    }
}

/// When a URL carries several click ids, the first in this order is reported: ad-platform
/// ids before `fbclid`, which Facebook adds to organic links too.
const CLICK_ID_ORDER: [ClickIdKind; 9] = [
    ClickIdKind::Gclid,
    ClickIdKind::Gbraid,
    ClickIdKind::Wbraid,
    ClickIdKind::Dclid,
    ClickIdKind::Msclkid,
    ClickIdKind::Ttclid,
    ClickIdKind::LiFatId,
    ClickIdKind::Twclid,
    ClickIdKind::Fbclid,
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClickId {
    pub kind: ClickIdKind,
    pub value: String,
}

/// The classified origin of one visit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Traffic {
    pub source: Source,
    /// The well-known site or app behind the classification, when there is one: "Google",
    /// "LinkedIn", "Gmail", … (from the referrer, or from `utm_source` when that decided).
    pub source_name: Option<String>,
    /// The referrer's host, lowercased (for an Android app referrer, its package name).
    pub referrer_host: Option<String>,
    /// The landing URL without campaign tags, click ids, credentials and fragment, e.g.
    /// `https://example.com/pricing?plan=pro`. An unparsable URL is kept as given.
    pub landing_page: String,
    pub utm: Utm,
    pub click_id: Option<ClickId>,
}

const MAX_URL: usize = 2048;
const MAX_VALUE: usize = 256;

/// Classifies a visit. `landing_url` is the page the widget was loaded on, `referrer` the
/// page's `document.referrer` (empty means none), `own_host` the site's canonical host if
/// the operator configured one (e.g. "example.com"), for recognising internal navigation
/// across hosts.
pub fn classify(landing_url: &str, referrer: Option<&str>, own_host: Option<&str>) -> Traffic {
    let landing_url = truncate(landing_url.trim(), MAX_URL);
    let landing = Url::parse(landing_url).ok();
    let (landing_page, utm, click_id) = match &landing {
        Some(url) => clean_landing(url),
        None => (landing_url.to_owned(), Utm::default(), None),
    };
    let referrer = referrer
        .map(|r| truncate(r.trim(), MAX_URL))
        .and_then(parse_referrer);
    let referrer_host = referrer.as_ref().map(|r| r.host.clone());

    let (source, source_name) = decide(
        &utm,
        click_id.as_ref(),
        referrer.as_ref(),
        landing.as_ref().and_then(Url::host_str),
        own_host,
    );
    Traffic {
        source,
        source_name: source_name.map(str::to_owned),
        referrer_host,
        landing_page,
        utm,
        click_id,
    }
}

fn decide(
    utm: &Utm,
    click_id: Option<&ClickId>,
    referrer: Option<&Referrer>,
    landing_host: Option<&str>,
    own_host: Option<&str>,
) -> (Source, Option<&'static str>) {
    let medium = utm.medium.as_deref().map(str::to_ascii_lowercase);
    let medium = medium.as_deref();
    // The name of whatever the referrer is known as, for reporting alongside a utm decision.
    let referrer_name = referrer.and_then(|r| known(r).map(|(name, _)| name));

    let utm_source_name = utm
        .source
        .as_deref()
        .and_then(known_name)
        .map(|(name, _)| name);

    // 1. Paid.
    let ad_click = click_id.is_some_and(|c| c.kind != ClickIdKind::Fbclid);
    if ad_click || medium.is_some_and(is_paid_medium) {
        let name = click_id
            .map(|c| click_network(c.kind))
            .or(utm_source_name)
            .or(referrer_name);
        return (Source::Paid, name);
    }
    // 2. A recognised medium. The referrer is not asked for a name here: a newsletter
    // opened from a Google results page is still the newsletter's visit.
    if let Some(source) = medium.and_then(medium_source) {
        return (source, utm_source_name);
    }
    // 3. A campaign source.
    if let Some(utm_source) = utm.source.as_deref() {
        return match known_name(utm_source) {
            Some((name, source)) => (source, Some(name)),
            None => (Source::Referral, None),
        };
    }
    // 4. A Facebook click id without campaign tags.
    if click_id.is_some_and(|c| c.kind == ClickIdKind::Fbclid) {
        return (Source::Social, referrer_name.or(Some("Facebook")));
    }
    // 5. The referrer.
    let Some(referrer) = referrer else {
        return (Source::Direct, None);
    };
    if let Some((name, source)) = known(referrer) {
        return (source, Some(name));
    }
    let same_site = |host: &str| strip_www(&referrer.host) == strip_www(host);
    let own = own_host.map(normalize_own_host);
    if referrer.web
        && (landing_host.is_some_and(same_site) || own.as_deref().is_some_and(same_site))
    {
        return (Source::Internal, None);
    }
    (Source::Referral, None)
}

fn is_paid_medium(medium: &str) -> bool {
    medium.starts_with("paid")
        || matches!(
            medium,
            "cpc"
                | "ppc"
                | "cpm"
                | "cpv"
                | "cpa"
                | "cpp"
                | "display"
                | "banner"
                | "retargeting"
                | "remarketing"
                | "sem"
                | "ad"
                | "ads"
                | "sponsored"
        )
}

fn medium_source(medium: &str) -> Option<Source> {
    match medium {
        "email" | "e-mail" | "e_mail" | "e mail" | "mail" | "newsletter" => Some(Source::Email),
        "social" | "social-media" | "social_media" | "social media" | "social-network"
        | "social_network" | "social network" | "sm" | "organic_social" | "organic-social" => {
            Some(Source::Social)
        }
        "organic" | "seo" => Some(Source::OrganicSearch),
        "referral" | "link" | "affiliate" | "affiliates" => Some(Source::Referral),
        _ => None,
    }
}

fn click_network(kind: ClickIdKind) -> &'static str {
    match kind {
        ClickIdKind::Gclid | ClickIdKind::Gbraid | ClickIdKind::Wbraid | ClickIdKind::Dclid => {
            "Google"
        }
        ClickIdKind::Msclkid => "Microsoft",
        ClickIdKind::Ttclid => "TikTok",
        ClickIdKind::LiFatId => "LinkedIn",
        ClickIdKind::Twclid => "X",
        ClickIdKind::Fbclid => "Facebook",
    }
}

/// Splits the landing URL into the cleaned page and the tags it carried. The query is
/// filtered segment by segment rather than re-serialized, so the parameters that stay keep
/// their original encoding.
fn clean_landing(url: &Url) -> (String, Utm, Option<ClickId>) {
    let mut utm = Utm::default();
    let mut click_ids: Vec<ClickId> = Vec::new();
    let mut kept: Vec<&str> = Vec::new();
    for segment in url.query().unwrap_or("").split('&') {
        if segment.is_empty() {
            continue;
        }
        let Some((key, value)) = form_urlencoded::parse(segment.as_bytes()).next() else {
            kept.push(segment);
            continue;
        };
        let key = key.to_ascii_lowercase();
        let value = clean_value(&value);
        let slot = match key.as_str() {
            "utm_source" => Some(&mut utm.source),
            "utm_medium" => Some(&mut utm.medium),
            "utm_campaign" => Some(&mut utm.campaign),
            "utm_term" => Some(&mut utm.term),
            "utm_content" => Some(&mut utm.content),
            _ => None,
        };
        if let Some(slot) = slot {
            // The first occurrence wins, like most analytics tools.
            if slot.is_none() {
                *slot = value;
            }
            continue;
        }
        if key.starts_with("utm_") {
            // utm_id, utm_source_platform, …: campaign noise too.
            continue;
        }
        if let Some(kind) = CLICK_ID_ORDER.iter().find(|k| k.param() == key) {
            if let Some(value) = value {
                click_ids.push(ClickId { kind: *kind, value });
            }
            continue;
        }
        kept.push(segment);
    }
    let click_id = CLICK_ID_ORDER
        .iter()
        .find_map(|kind| click_ids.iter().find(|c| c.kind == *kind).cloned());

    let mut page = url.clone();
    page.set_fragment(None);
    // Credentials in a URL are never something to store; the setters fail only for URLs
    // that cannot have them, which then have none.
    let _ = page.set_username("");
    let _ = page.set_password(None);
    if kept.is_empty() {
        page.set_query(None);
    } else {
        page.set_query(Some(&kept.join("&")));
    }
    (page.into(), utm, click_id)
}

fn clean_value(value: &str) -> Option<String> {
    let value = truncate(value.trim(), MAX_VALUE);
    (!value.is_empty()).then(|| value.to_owned())
}

struct Referrer {
    /// Lowercased host without a trailing dot, or an Android app's package name.
    host: String,
    /// A web page (http/https) rather than an app.
    web: bool,
}

fn parse_referrer(referrer: &str) -> Option<Referrer> {
    if referrer.is_empty() {
        return None;
    }
    let url = Url::parse(referrer).ok()?;
    let web = match url.scheme() {
        "http" | "https" => true,
        "android-app" => false,
        // about:blank, chrome://, file:, … tell nothing about where the visitor came from.
        _ => return None,
    };
    let host = url.host_str()?.trim_end_matches('.').to_ascii_lowercase();
    // Longer than any DNS name: made up, so it says nothing either.
    (!host.is_empty() && host.len() <= 253).then_some(Referrer { host, web })
}

fn strip_www(host: &str) -> &str {
    host.strip_prefix("www.").unwrap_or(host)
}

/// Accepts "example.com", "Example.com:8080" or "https://example.com/" as the own host.
fn normalize_own_host(own: &str) -> String {
    let own = own.trim();
    let host = match Url::parse(own) {
        Ok(url) if url.has_host() && own.contains("://") => {
            url.host_str().unwrap_or_default().to_owned()
        }
        _ => own.split([':', '/']).next().unwrap_or_default().to_owned(),
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// How a table entry matches a host.
enum Pattern {
    /// The domain itself or any subdomain of it.
    Domain(&'static str),
    /// The label on any country or generic top-level domain: `google` matches `google.com`,
    /// `www.google.co.uk`, `google.de`, but not `google.example.net`.
    AnyTld(&'static str),
    /// A host whose first label is this and which has at least three labels
    /// (`mail.example.com`), for the generic webmail rule.
    FirstLabel(&'static str),
}

use Pattern::{AnyTld, Domain, FirstLabel};

/// Known sites, first match wins (webmail before search, so `mail.google.com` is email).
const SITES: &[(Pattern, &str, Source)] = &[
    // Webmail.
    (Domain("mail.google.com"), "Gmail", Source::Email),
    (Domain("inbox.google.com"), "Gmail", Source::Email),
    (Domain("outlook.live.com"), "Outlook", Source::Email),
    (Domain("outlook.office.com"), "Outlook", Source::Email),
    (Domain("outlook.office365.com"), "Outlook", Source::Email),
    (Domain("mail.yahoo.com"), "Yahoo Mail", Source::Email),
    (Domain("mail.yahoo.co.jp"), "Yahoo Mail", Source::Email),
    (Domain("mail.proton.me"), "Proton Mail", Source::Email),
    (Domain("mail.zoho.com"), "Zoho Mail", Source::Email),
    (Domain("e.mail.ru"), "Mail.ru", Source::Email),
    (Domain("mail.yandex.ru"), "Yandex Mail", Source::Email),
    (Domain("mail.yandex.com"), "Yandex Mail", Source::Email),
    (Domain("mail.aol.com"), "AOL Mail", Source::Email),
    (FirstLabel("mail"), "Webmail", Source::Email),
    (FirstLabel("webmail"), "Webmail", Source::Email),
    (FirstLabel("email"), "Webmail", Source::Email),
    // Search engines.
    (AnyTld("google"), "Google", Source::OrganicSearch),
    (Domain("bing.com"), "Bing", Source::OrganicSearch),
    (
        Domain("duckduckgo.com"),
        "DuckDuckGo",
        Source::OrganicSearch,
    ),
    (AnyTld("yahoo"), "Yahoo", Source::OrganicSearch),
    (AnyTld("yandex"), "Yandex", Source::OrganicSearch),
    (Domain("ya.ru"), "Yandex", Source::OrganicSearch),
    (Domain("baidu.com"), "Baidu", Source::OrganicSearch),
    (Domain("ecosia.org"), "Ecosia", Source::OrganicSearch),
    (
        Domain("search.brave.com"),
        "Brave Search",
        Source::OrganicSearch,
    ),
    (Domain("startpage.com"), "Startpage", Source::OrganicSearch),
    (Domain("qwant.com"), "Qwant", Source::OrganicSearch),
    (Domain("ask.com"), "Ask", Source::OrganicSearch),
    (Domain("search.aol.com"), "AOL", Source::OrganicSearch),
    (Domain("naver.com"), "Naver", Source::OrganicSearch),
    (Domain("seznam.cz"), "Seznam", Source::OrganicSearch),
    (Domain("search.daum.net"), "Daum", Source::OrganicSearch),
    (Domain("sogou.com"), "Sogou", Source::OrganicSearch),
    (Domain("so.com"), "360 Search", Source::OrganicSearch),
    (Domain("kagi.com"), "Kagi", Source::OrganicSearch),
    (Domain("mojeek.com"), "Mojeek", Source::OrganicSearch),
    (
        Domain("petalsearch.com"),
        "Petal Search",
        Source::OrganicSearch,
    ),
    // Social networks and messengers.
    (Domain("facebook.com"), "Facebook", Source::Social),
    (Domain("fb.com"), "Facebook", Source::Social),
    (Domain("fb.me"), "Facebook", Source::Social),
    (Domain("messenger.com"), "Facebook", Source::Social),
    (Domain("instagram.com"), "Instagram", Source::Social),
    (Domain("t.co"), "X", Source::Social),
    (Domain("twitter.com"), "X", Source::Social),
    (Domain("x.com"), "X", Source::Social),
    (Domain("linkedin.com"), "LinkedIn", Source::Social),
    (Domain("lnkd.in"), "LinkedIn", Source::Social),
    (Domain("reddit.com"), "Reddit", Source::Social),
    (Domain("redd.it"), "Reddit", Source::Social),
    (Domain("youtube.com"), "YouTube", Source::Social),
    (Domain("youtu.be"), "YouTube", Source::Social),
    (Domain("tiktok.com"), "TikTok", Source::Social),
    (AnyTld("pinterest"), "Pinterest", Source::Social),
    (Domain("pin.it"), "Pinterest", Source::Social),
    (Domain("threads.net"), "Threads", Source::Social),
    (Domain("threads.com"), "Threads", Source::Social),
    (Domain("bsky.app"), "Bluesky", Source::Social),
    (Domain("mastodon.social"), "Mastodon", Source::Social),
    (Domain("tumblr.com"), "Tumblr", Source::Social),
    (Domain("snapchat.com"), "Snapchat", Source::Social),
    (Domain("vk.com"), "VK", Source::Social),
    (Domain("weibo.com"), "Weibo", Source::Social),
    (Domain("quora.com"), "Quora", Source::Social),
    (
        Domain("news.ycombinator.com"),
        "Hacker News",
        Source::Social,
    ),
    (Domain("xing.com"), "XING", Source::Social),
    (Domain("discord.com"), "Discord", Source::Social),
    (Domain("t.me"), "Telegram", Source::Social),
    (Domain("web.telegram.org"), "Telegram", Source::Social),
    (Domain("wa.me"), "WhatsApp", Source::Social),
    (Domain("whatsapp.com"), "WhatsApp", Source::Social),
    (Domain("slack.com"), "Slack", Source::Social),
];

/// Android app package names, as sent in `android-app://<package>/` referrers.
const APPS: &[(&str, &str, Source)] = &[
    ("com.google.android.gm", "Gmail", Source::Email),
    ("com.microsoft.office.outlook", "Outlook", Source::Email),
    (
        "com.yahoo.mobile.client.android.mail",
        "Yahoo Mail",
        Source::Email,
    ),
    ("ch.protonmail.android", "Proton Mail", Source::Email),
    (
        "com.google.android.googlequicksearchbox",
        "Google",
        Source::OrganicSearch,
    ),
    ("com.facebook.katana", "Facebook", Source::Social),
    ("com.facebook.lite", "Facebook", Source::Social),
    ("com.facebook.orca", "Facebook", Source::Social),
    ("com.instagram.android", "Instagram", Source::Social),
    ("com.twitter.android", "X", Source::Social),
    ("com.linkedin.android", "LinkedIn", Source::Social),
    ("com.reddit.frontpage", "Reddit", Source::Social),
    ("com.google.android.youtube", "YouTube", Source::Social),
    ("com.zhiliaoapp.musically", "TikTok", Source::Social),
    ("com.pinterest", "Pinterest", Source::Social),
    ("org.telegram.messenger", "Telegram", Source::Social),
    ("com.whatsapp", "WhatsApp", Source::Social),
    ("com.Slack", "Slack", Source::Social),
];

/// What a referrer is known as.
fn known(referrer: &Referrer) -> Option<(&'static str, Source)> {
    if !referrer.web {
        return APPS
            .iter()
            .find(|(package, _, _)| package.eq_ignore_ascii_case(&referrer.host))
            .map(|(_, name, source)| (*name, *source));
    }
    known_host(&referrer.host)
}

fn known_host(host: &str) -> Option<(&'static str, Source)> {
    SITES
        .iter()
        .find(|(pattern, _, _)| host_matches(pattern, host))
        .map(|(_, name, source)| (*name, *source))
}

fn host_matches(pattern: &Pattern, host: &str) -> bool {
    match pattern {
        Domain(domain) => {
            host == *domain
                || host
                    .strip_suffix(domain)
                    .is_some_and(|rest| rest.ends_with('.'))
        }
        AnyTld(label) => {
            let labels: Vec<&str> = host.split('.').collect();
            labels.iter().enumerate().any(|(i, l)| {
                let tail = &labels[i + 1..];
                l == label
                    && (1..=2).contains(&tail.len())
                    && tail.iter().all(|t| {
                        (2..=3).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_alphabetic())
                    })
            })
        }
        FirstLabel(label) => {
            let mut labels = host.split('.');
            labels.next() == Some(*label) && labels.count() >= 2
        }
    }
}

/// What a `utm_source` value names, e.g. "google", "LinkedIn", "facebook.com", "newsletter".
fn known_name(utm_source: &str) -> Option<(&'static str, Source)> {
    let name = utm_source.trim().to_ascii_lowercase();
    match name.as_str() {
        "newsletter" | "email" | "e-mail" | "mail" | "mailchimp" | "sendgrid" | "brevo"
        | "sendinblue" | "klaviyo" | "hubspot_email" => return Some(("Email", Source::Email)),
        "ig" => return Some(("Instagram", Source::Social)),
        "fb" => return Some(("Facebook", Source::Social)),
        "twitter" => return Some(("X", Source::Social)),
        _ => {}
    }
    if name.contains('.') {
        return known_host(strip_www(&name));
    }
    // A bare name: match it against the tables' site names ("linkedin" → "LinkedIn") and,
    // failing that, as a host on ".com" ("duckduckgo" → duckduckgo.com).
    SITES
        .iter()
        .find(|(_, site, _)| site.eq_ignore_ascii_case(&name))
        .map(|(_, site, source)| (*site, *source))
        .or_else(|| known_host(&format!("{name}.com")))
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

#[cfg(test)]
mod tests {
    use super::*;

    const LANDING: &str = "https://www.example.com/pricing?plan=pro";

    /// (what the row shows, landing URL, referrer, expected source, expected name)
    type Row = (
        &'static str,
        &'static str,
        Option<&'static str>,
        Source,
        Option<&'static str>,
    );

    #[test]
    fn every_row_of_the_rule_table_classifies_as_documented() {
        use Source::*;
        let rows: &[Row] = &[
            ("no referrer is direct", LANDING, None, Direct, None),
            (
                "an empty referrer is direct",
                LANDING,
                Some(""),
                Direct,
                None,
            ),
            (
                "about:blank is direct",
                LANDING,
                Some("about:blank"),
                Direct,
                None,
            ),
            (
                "google without utm is organic search",
                LANDING,
                Some("https://www.google.com/"),
                OrganicSearch,
                Some("Google"),
            ),
            (
                "a google country domain is organic search",
                LANDING,
                Some("https://www.google.co.uk/"),
                OrganicSearch,
                Some("Google"),
            ),
            (
                "bing is organic search",
                LANDING,
                Some("https://www.bing.com/search?q=natter"),
                OrganicSearch,
                Some("Bing"),
            ),
            (
                "duckduckgo is organic search",
                LANDING,
                Some("https://duckduckgo.com/"),
                OrganicSearch,
                Some("DuckDuckGo"),
            ),
            (
                "yahoo search is organic search",
                LANDING,
                Some("https://search.yahoo.com/"),
                OrganicSearch,
                Some("Yahoo"),
            ),
            (
                "yandex is organic search",
                LANDING,
                Some("https://yandex.ru/"),
                OrganicSearch,
                Some("Yandex"),
            ),
            (
                "baidu is organic search",
                LANDING,
                Some("https://www.baidu.com/link?url=x"),
                OrganicSearch,
                Some("Baidu"),
            ),
            (
                "ecosia is organic search",
                LANDING,
                Some("https://www.ecosia.org/"),
                OrganicSearch,
                Some("Ecosia"),
            ),
            (
                "brave search is organic search",
                LANDING,
                Some("https://search.brave.com/"),
                OrganicSearch,
                Some("Brave Search"),
            ),
            (
                "startpage is organic search",
                LANDING,
                Some("https://www.startpage.com/"),
                OrganicSearch,
                Some("Startpage"),
            ),
            (
                "a gclid is paid even from google",
                "https://example.com/?gclid=Cj0KCQ",
                Some("https://www.google.com/"),
                Paid,
                Some("Google"),
            ),
            (
                "an msclkid without referrer is paid",
                "https://example.com/?msclkid=abc",
                None,
                Paid,
                Some("Microsoft"),
            ),
            (
                "utm_medium cpc is paid",
                "https://example.com/?utm_source=google&utm_medium=cpc",
                None,
                Paid,
                Some("Google"),
            ),
            (
                "utm_medium paid_social is paid",
                "https://example.com/?utm_source=facebook&utm_medium=paid_social",
                Some("https://l.facebook.com/"),
                Paid,
                Some("Facebook"),
            ),
            (
                "utm_medium display is paid",
                "https://example.com/?utm_medium=Display",
                None,
                Paid,
                None,
            ),
            (
                "a fbclid alone is social, not paid",
                "https://example.com/?fbclid=IwAR0abc",
                None,
                Social,
                Some("Facebook"),
            ),
            (
                "a fbclid with a paid medium is paid",
                "https://example.com/?fbclid=IwAR0abc&utm_medium=cpc",
                Some("https://m.facebook.com/"),
                Paid,
                Some("Facebook"),
            ),
            (
                "utm_medium email is email",
                "https://example.com/?utm_source=spring&utm_medium=email",
                None,
                Email,
                None,
            ),
            (
                "utm_medium newsletter is email",
                "https://example.com/?utm_medium=newsletter",
                Some("https://www.google.com/"),
                Email,
                None,
            ),
            (
                "a gmail referrer is email",
                LANDING,
                Some("https://mail.google.com/"),
                Email,
                Some("Gmail"),
            ),
            (
                "an outlook referrer is email",
                LANDING,
                Some("https://outlook.live.com/"),
                Email,
                Some("Outlook"),
            ),
            (
                "a generic webmail host is email",
                LANDING,
                Some("https://webmail.example.org/"),
                Email,
                Some("Webmail"),
            ),
            (
                "the gmail android app is email",
                LANDING,
                Some("android-app://com.google.android.gm/"),
                Email,
                Some("Gmail"),
            ),
            (
                "facebook is social",
                LANDING,
                Some("https://l.facebook.com/"),
                Social,
                Some("Facebook"),
            ),
            (
                "instagram is social",
                LANDING,
                Some("https://l.instagram.com/"),
                Social,
                Some("Instagram"),
            ),
            (
                "t.co is social",
                LANDING,
                Some("https://t.co/abc123"),
                Social,
                Some("X"),
            ),
            (
                "lnkd.in is social",
                LANDING,
                Some("https://lnkd.in/xyz"),
                Social,
                Some("LinkedIn"),
            ),
            (
                "reddit is social",
                LANDING,
                Some("https://out.reddit.com/"),
                Social,
                Some("Reddit"),
            ),
            (
                "youtube is social",
                LANDING,
                Some("https://www.youtube.com/"),
                Social,
                Some("YouTube"),
            ),
            (
                "tiktok is social",
                LANDING,
                Some("https://www.tiktok.com/"),
                Social,
                Some("TikTok"),
            ),
            (
                "pinterest on a country domain is social",
                LANDING,
                Some("https://www.pinterest.co.uk/"),
                Social,
                Some("Pinterest"),
            ),
            (
                "the linkedin android app is social",
                LANDING,
                Some("android-app://com.linkedin.android/"),
                Social,
                Some("LinkedIn"),
            ),
            (
                "utm_medium social is social",
                "https://example.com/?utm_source=mastodon&utm_medium=social",
                None,
                Social,
                Some("Mastodon"),
            ),
            (
                "utm_source linkedin without a medium is social",
                "https://example.com/?utm_source=linkedin",
                None,
                Social,
                Some("LinkedIn"),
            ),
            (
                "utm_source newsletter without a medium is email",
                "https://example.com/?utm_source=newsletter",
                None,
                Email,
                Some("Email"),
            ),
            (
                "an unknown utm_source without a medium is referral",
                "https://example.com/?utm_source=partner-blog",
                Some("https://www.example.com/other"),
                Referral,
                None,
            ),
            (
                "an unknown medium falls back to the source",
                "https://example.com/?utm_source=facebook&utm_medium=story",
                None,
                Social,
                Some("Facebook"),
            ),
            (
                "the same host is internal",
                LANDING,
                Some("https://www.example.com/blog/post"),
                Internal,
                None,
            ),
            (
                "the same host without www is internal",
                LANDING,
                Some("https://example.com/"),
                Internal,
                None,
            ),
            (
                "the configured own host is internal",
                "https://app.example.com/",
                Some("https://shop.example.net/cart"),
                Internal,
                None,
            ),
            (
                "a subdomain of the site is a referral",
                LANDING,
                Some("https://blog.example.com/"),
                Referral,
                None,
            ),
            (
                "any other site is a referral",
                LANDING,
                Some("https://news.example.org/article"),
                Referral,
                None,
            ),
            (
                "a google lookalike is a referral",
                LANDING,
                Some("https://google.example.net/"),
                Referral,
                None,
            ),
            (
                "an unknown android app is a referral",
                LANDING,
                Some("android-app://org.example.reader/"),
                Referral,
                None,
            ),
        ];
        for (what, landing, referrer, source, name) in rows {
            let own = (*landing == "https://app.example.com/").then_some("shop.example.net");
            let traffic = classify(landing, *referrer, own);
            assert_eq!(traffic.source, *source, "{what}: {traffic:?}");
            assert_eq!(traffic.source_name.as_deref(), *name, "{what}: {traffic:?}");
        }
        assert!(rows.len() >= 20);
    }

    #[test]
    fn utm_tags_and_click_ids_are_extracted_and_stripped_from_the_landing_page() {
        let traffic = classify(
            "https://user:pw@Example.com/pricing?plan=pro&utm_source=Google&UTM_MEDIUM=cpc\
             &utm_campaign=spring%20sale&utm_term=chat+widget&utm_content=ad-2&utm_id=42\
             &gclid=Cj0KCQ&q=a%2Bb#section",
            Some("https://www.google.de/"),
            None,
        );
        assert_eq!(traffic.source, Source::Paid);
        assert_eq!(
            traffic.landing_page,
            "https://example.com/pricing?plan=pro&q=a%2Bb"
        );
        assert_eq!(
            traffic.utm,
            Utm {
                source: Some("Google".into()),
                medium: Some("cpc".into()),
                campaign: Some("spring sale".into()),
                term: Some("chat widget".into()),
                content: Some("ad-2".into()),
            }
        );
        assert_eq!(
            traffic.click_id,
            Some(ClickId {
                kind: ClickIdKind::Gclid,
                value: "Cj0KCQ".into()
            })
        );
        assert_eq!(traffic.referrer_host.as_deref(), Some("www.google.de"));
    }

    #[test]
    fn an_ad_click_id_is_preferred_over_fbclid_when_both_are_present() {
        let traffic = classify(
            "https://example.com/?fbclid=F&ttclid=T&li_fat_id=L",
            None,
            None,
        );
        assert_eq!(traffic.click_id.unwrap().kind, ClickIdKind::Ttclid);
        assert_eq!(traffic.landing_page, "https://example.com/");
        assert_eq!(traffic.source, Source::Paid);
    }

    #[test]
    fn every_click_id_parameter_is_recognised() {
        for kind in CLICK_ID_ORDER {
            let traffic = classify(
                &format!("https://example.com/?{}=v1", kind.param()),
                None,
                None,
            );
            assert_eq!(traffic.click_id.as_ref().map(|c| c.kind), Some(kind));
            assert_eq!(traffic.landing_page, "https://example.com/");
        }
    }

    #[test]
    fn an_unparsable_landing_url_is_kept_and_still_classified_by_referrer() {
        let traffic = classify("not a url", Some("https://duckduckgo.com/"), None);
        assert_eq!(traffic.landing_page, "not a url");
        assert_eq!(traffic.source, Source::OrganicSearch);
        assert!(traffic.utm.is_empty());
    }

    #[test]
    fn hostile_lengths_are_capped() {
        let long = "x".repeat(10_000);
        let traffic = classify(
            &format!("https://example.com/?utm_campaign={long}&p={long}"),
            Some(&format!("https://{long}.example/")),
            None,
        );
        assert!(traffic.landing_page.len() <= MAX_URL);
        assert_eq!(traffic.utm.campaign.map(|c| c.len()), Some(MAX_VALUE));
        assert_eq!(traffic.referrer_host, None);
        assert_eq!(traffic.source, Source::Direct);
    }

    #[test]
    fn traffic_serializes_with_snake_case_names() {
        let traffic = classify(
            "https://example.com/?li_fat_id=abc&utm_source=linkedin&utm_medium=paid_social",
            Some("https://www.linkedin.com/"),
            None,
        );
        let json = serde_json::to_value(&traffic).unwrap();
        assert_eq!(json["source"], "paid");
        assert_eq!(json["click_id"]["kind"], "li_fat_id");
        assert_eq!(json["utm"]["medium"], "paid_social");
        assert_eq!(Source::OrganicSearch.as_str(), "organic_search");
        let back: Traffic = serde_json::from_value(json).unwrap();
        assert_eq!(back, traffic);
    }
}
