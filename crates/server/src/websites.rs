//! Websites: where the widget is installed, who may use it from where, and what it learns
//! about visitors.
//!
//! Every widget request and socket carries the host page's `Origin` (the widget runs in a
//! same-origin iframe on purpose), and it must match one of the website's allowed domains;
//! CORS answers only those origins. A visitor's contact token is bound to its website, so a
//! token taken from one site cannot be used from another's pages.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use natter_core::model::{Account, StaffRole};
// The settings are natter-core's (shared with the web app); checking them is done here.
pub use natter_core::staff_api::{WebsiteRateLimits, WebsiteSettings};
use natter_core::time::now_millis;
use natter_core::website::{Device, FormField, Location, Traffic, WidgetConfig, WidgetStatus};
use natter_core::{AccountId, Error, ErrorCode, WebsiteId, WorkspaceId};
use natter_store::WebsiteRecord;
use natter_visitor::hours::HoursExt;
use natter_visitor::origin::DomainPattern;
use serde::Serialize;

use crate::app::App;

/// How long a node trusts its cached copy of a website (changes made on another node of a
/// cluster show within this time; changes made here show at once).
const CACHE_TTL: Duration = Duration::from_secs(5);
const MAX_DOMAINS: usize = 100;
const MAX_FORM_FIELDS: usize = 20;

fn invalid(message: impl Into<String>) -> Error {
    Error::invalid(message)
}

fn check_short(field: &str, value: &str, max: usize) -> Result<(), Error> {
    if value.len() > max || value.chars().any(char::is_control) {
        return Err(invalid(format!(
            "{field} must be at most {max} bytes without control characters"
        )));
    }
    Ok(())
}

/// An image URL that browsers will load from a page: `https://` only (the pages are served
/// with `img-src 'self' data: https:`, and an http image would be mixed content on an https
/// page), at most 2,048 bytes, no whitespace or control characters (which would let it break
/// out of an attribute or CSS).
pub(crate) fn check_image_url(field: &str, url: &str) -> Result<(), Error> {
    let well_formed = url.starts_with("https://")
        && url.len() > "https://".len()
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if !well_formed || url.len() > 2048 {
        return Err(invalid(format!(
            "{field} must be an https URL of at most 2048 bytes"
        )));
    }
    Ok(())
}

fn check_fields(form: &str, fields: &[FormField]) -> Result<(), Error> {
    if fields.len() > MAX_FORM_FIELDS {
        return Err(invalid(format!(
            "{form}.fields: at most {MAX_FORM_FIELDS} fields"
        )));
    }
    let mut keys = std::collections::HashSet::new();
    for f in fields {
        let key_ok = !f.key.is_empty()
            && f.key.len() <= 40
            && f.key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !key_ok {
            return Err(invalid(format!(
                "{form}.fields: key {:?} must be 1-40 of a-z, 0-9, _",
                f.key
            )));
        }
        if !keys.insert(f.key.as_str()) {
            return Err(invalid(format!("{form}.fields: key {:?} twice", f.key)));
        }
        if !matches!(f.kind.as_str(), "name" | "email" | "phone" | "text") {
            return Err(invalid(format!(
                "{form}.fields: kind must be name, email, phone or text"
            )));
        }
        check_short(&format!("{form}.fields.label"), &f.label, 100)?;
    }
    Ok(())
}

/// Checks every part of a website's settings; the first problem is the error. A free function
/// because [`WebsiteSettings`] is natter-core's type.
pub fn validate_settings(settings: &WebsiteSettings) -> Result<(), Error> {
    if settings.allowed_domains.len() > MAX_DOMAINS {
        return Err(invalid(format!(
            "allowed_domains: at most {MAX_DOMAINS} entries"
        )));
    }
    for domain in &settings.allowed_domains {
        DomainPattern::parse(domain)
            .map_err(|e| invalid(format!("allowed_domains: {domain:?}: {e}")))?;
    }
    let a = &settings.appearance;
    let hex = a.primary_color.len() == 7
        && a.primary_color.starts_with('#')
        && a.primary_color[1..].chars().all(|c| c.is_ascii_hexdigit());
    if !hex {
        return Err(invalid("appearance.primary_color must be #rrggbb"));
    }
    if !matches!(a.position.as_str(), "bottom-right" | "bottom-left") {
        return Err(invalid(
            "appearance.position must be bottom-right or bottom-left",
        ));
    }
    if let Some(url) = &a.logo_url {
        check_image_url("appearance.logo_url", url)?;
    }
    check_short("appearance.welcome_text", &a.welcome_text, 500)?;
    check_short("appearance.launcher_text", &a.launcher_text, 60)?;
    check_fields("prechat", &settings.prechat.fields)?;
    check_fields("offline", &settings.offline.fields)?;
    if !settings
        .offline
        .fields
        .iter()
        .any(|f| f.kind == "email" && f.required)
    {
        return Err(invalid(
            "offline.fields must ask for a required email (replies go there)",
        ));
    }
    check_short("offline.text", &settings.offline.text, 1000)?;
    if let Some(greet) = &settings.auto_greet {
        check_short("auto_greet.text", &greet.text, 500)?;
        if greet.text.trim().is_empty() || greet.delay_ms > 600_000 {
            return Err(invalid(
                "auto_greet needs a text and a delay_ms of at most 600000",
            ));
        }
    }
    if let Some(hours) = &settings.business_hours {
        hours
            .validate()
            .map_err(|e| invalid(format!("business_hours: {e}")))?;
    }
    if !matches!(
        settings.privacy.ip_mode.as_str(),
        "full" | "truncated" | "none"
    ) {
        return Err(invalid("privacy.ip_mode must be full, truncated or none"));
    }
    if settings.locale != "en" {
        return Err(invalid("locale: only \"en\" is available so far"));
    }
    Ok(())
}

/// A website with its settings parsed and its domains compiled.
#[derive(Debug, Clone)]
pub struct Website {
    pub record: WebsiteRecord,
    pub settings: WebsiteSettings,
    pub patterns: Vec<DomainPattern>,
}

impl Website {
    pub(crate) fn from_record(record: WebsiteRecord) -> Result<Self, Error> {
        let settings: WebsiteSettings = serde_json::from_str(&record.settings).map_err(|e| {
            tracing::error!(website = record.id.0, error = %e, "stored website settings do not parse");
            Error::internal()
        })?;
        let patterns = settings
            .allowed_domains
            .iter()
            .filter_map(|d| DomainPattern::parse(d).ok())
            .collect();
        Ok(Self {
            record,
            settings,
            patterns,
        })
    }

    /// Whether a browser `Origin` may use this website's widget.
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.patterns.iter().any(|p| p.matches(origin))
    }

    /// Whether `agent` may serve this website's visitors.
    pub fn served_by(&self, agent: &Account) -> bool {
        match agent.role {
            Some(StaffRole::Owner | StaffRole::Admin) => true,
            Some(StaffRole::Agent) => {
                !self.record.listed_agents_only || self.record.agents.contains(&agent.id)
            }
            None => false,
        }
    }
}

/// A cached lookup: when it was made, and the website (or that there is none).
type Cached = (Instant, Option<Arc<Website>>);

/// Websites by key and by id, kept for [`CACHE_TTL`].
#[derive(Default)]
pub struct WebsiteCache {
    by_key: Mutex<HashMap<String, Cached>>,
    by_id: Mutex<HashMap<WebsiteId, Cached>>,
    /// Every website's patterns, for CORS preflights (which carry no key or token).
    all: Mutex<Option<(Instant, Arc<Vec<DomainPattern>>)>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl WebsiteCache {
    fn fresh<K: std::hash::Hash + Eq>(
        map: &Mutex<HashMap<K, Cached>>,
        key: &K,
    ) -> Option<Option<Arc<Website>>> {
        lock(map)
            .get(key)
            .filter(|(at, _)| at.elapsed() < CACHE_TTL)
            .map(|(_, w)| w.clone())
    }

    fn remember(&self, key: Option<&str>, id: Option<WebsiteId>, site: Option<Arc<Website>>) {
        let now = Instant::now();
        let mut by_key = lock(&self.by_key);
        let mut by_id = lock(&self.by_id);
        // Bound the maps: unknown keys from the internet must not grow them forever.
        if by_key.len() > 10_000 {
            by_key.clear();
        }
        if by_id.len() > 10_000 {
            by_id.clear();
        }
        if let Some(site) = &site {
            by_key.insert(site.record.key.clone(), (now, Some(Arc::clone(site))));
            by_id.insert(site.record.id, (now, Some(Arc::clone(site))));
        }
        if let Some(key) = key {
            by_key.insert(key.to_string(), (now, site.clone()));
        }
        if let Some(id) = id {
            by_id.insert(id, (now, site));
        }
    }

    /// Forgets everything (after a change on this node).
    pub fn invalidate(&self) {
        lock(&self.by_key).clear();
        lock(&self.by_id).clear();
        *lock(&self.all) = None;
    }

    pub async fn by_key(&self, app: &App, key: &str) -> Result<Option<Arc<Website>>, Error> {
        if let Some(hit) = Self::fresh(&self.by_key, &key.to_string()) {
            return Ok(hit);
        }
        let record = app
            .store
            .website_by_key(key)
            .await
            .map_err(App::public_error)?;
        let site = record.map(Website::from_record).transpose()?.map(Arc::new);
        self.remember(Some(key), None, site.clone());
        Ok(site)
    }

    pub async fn by_id(&self, app: &App, id: WebsiteId) -> Result<Option<Arc<Website>>, Error> {
        if let Some(hit) = Self::fresh(&self.by_id, &id) {
            return Ok(hit);
        }
        let record = app
            .store
            .website_by_id(id)
            .await
            .map_err(App::public_error)?;
        let site = record.map(Website::from_record).transpose()?.map(Arc::new);
        self.remember(None, Some(id), site.clone());
        Ok(site)
    }

    /// Whether any website allows `origin` (CORS preflights).
    pub async fn any_allows(&self, app: &App, origin: &str) -> bool {
        let cached = lock(&self.all)
            .as_ref()
            .filter(|(at, _)| at.elapsed() < CACHE_TTL)
            .map(|(_, all)| Arc::clone(all));
        let all = match cached {
            Some(all) => all,
            None => match app.store.websites(None).await {
                Ok(records) => {
                    let patterns: Vec<DomainPattern> = records
                        .into_iter()
                        .filter_map(|r| Website::from_record(r).ok())
                        .flat_map(|w| w.patterns)
                        .collect();
                    let patterns = Arc::new(patterns);
                    *lock(&self.all) = Some((Instant::now(), Arc::clone(&patterns)));
                    patterns
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot load websites for CORS");
                    return false;
                }
            },
        };
        all.iter().any(|p| p.matches(origin))
    }
}

/// Whether `origin` names the host the request was sent to (natter's own pages).
pub fn same_origin(origin: &str, host: Option<&str>) -> bool {
    let authority = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    matches!((authority, host), (Some(a), Some(h)) if a.eq_ignore_ascii_case(h))
}

/// A fresh public website key.
fn new_key() -> String {
    format!("wk_{}", crate::auth::random_token(18))
}

/// What the server learns about a visit from the request itself.
#[derive(Debug, Clone, Default)]
pub struct RequestFacts {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    pub origin: Option<String>,
    pub host: Option<String>,
}

/// Enriches a visit: geolocation (when a database is configured), device, traffic source.
pub struct Enricher {
    geoip: Option<natter_visitor::geo::GeoIp>,
}

impl Enricher {
    pub fn new(config: &natter_core::config::GeoIpConfig) -> anyhow::Result<Self> {
        let geoip = if config.database.is_empty() {
            None
        } else {
            Some(
                natter_visitor::geo::GeoIp::open(&config.database)
                    .map_err(|e| anyhow::anyhow!("geoip.database {}: {e}", config.database))?,
            )
        };
        Ok(Self { geoip })
    }

    pub fn location(&self, ip: Option<IpAddr>) -> Location {
        let found = ip.and_then(|ip| self.geoip.as_ref().and_then(|g| g.lookup(ip)));
        match found {
            Some(l) => Location {
                country_code: l.country_code,
                country: l.country,
                region: l.region,
                city: l.city,
                time_zone: l.time_zone,
            },
            None => Location::default(),
        }
    }

    pub fn device(user_agent: Option<&str>) -> Device {
        let Some(ua) = user_agent.filter(|u| !u.is_empty()) else {
            return Device::default();
        };
        let d = natter_visitor::ua::parse(ua);
        Device {
            browser: d.browser,
            browser_version: d.browser_version,
            os: d.os,
            os_version: d.os_version,
            device_type: wire(d.device_type),
        }
    }

    pub fn traffic(landing: &str, referrer: Option<&str>) -> Traffic {
        let t = natter_visitor::traffic::classify(landing, referrer, None);
        let (click_id_kind, click_id) = match t.click_id {
            Some(c) => (wire(c.kind), Some(c.value)),
            None => (None, None),
        };
        Traffic {
            source: t.source.as_str().to_string(),
            referrer: referrer.filter(|r| !r.is_empty()).map(str::to_string),
            landing_page: Some(landing.to_string()),
            utm_source: t.utm.source,
            utm_medium: t.utm.medium,
            utm_campaign: t.utm.campaign,
            utm_term: t.utm.term,
            utm_content: t.utm.content,
            click_id_kind,
            click_id,
        }
    }
}

/// An enum's wire name (its serde form).
fn wire(value: impl Serialize) -> Option<String> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => Some(s),
        _ => None,
    }
}

/// The address kept for a visit, as the website's privacy mode allows.
pub fn kept_ip(ip: Option<IpAddr>, mode: &str) -> Option<String> {
    let ip = ip?;
    match mode {
        "full" => Some(ip.to_string()),
        "none" => None,
        _ => Some(natter_visitor::privacy::truncate_ip(ip).to_string()),
    }
}

impl App {
    // ----- admin ------------------------------------------------------------------------

    fn check_settings(settings: &WebsiteSettings) -> Result<String, Error> {
        validate_settings(settings)?;
        serde_json::to_string(settings).map_err(|_| Error::internal())
    }

    fn check_name(name: &str) -> Result<(), Error> {
        if name.trim().is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
            return Err(invalid(
                "name must be 1 to 200 bytes without control characters",
            ));
        }
        Ok(())
    }

    pub async fn create_website(
        &self,
        actor: &Account,
        name: &str,
        settings: &WebsiteSettings,
    ) -> Result<Arc<Website>, Error> {
        crate::app::check_admin(actor)?;
        Self::check_name(name)?;
        let json = Self::check_settings(settings)?;
        let record = self
            .store
            .create_website(actor.workspace_id, &new_key(), name, &json)
            .await
            .map_err(Self::public_error)?;
        self.websites.invalidate();
        self.audit(
            actor,
            "website.created",
            Some(("website", record.id.to_string())),
            serde_json::json!({"name": name}),
        )
        .await;
        Ok(Arc::new(Website::from_record(record)?))
    }

    /// The workspace's websites an actor may see: all for owners and admins, the ones they
    /// serve for agents.
    pub async fn list_websites(&self, actor: &Account) -> Result<Vec<Website>, Error> {
        crate::app::check_staff(actor)?;
        let mut sites = self.websites_of(actor.workspace_id).await?;
        sites.retain(|w| w.served_by(actor));
        Ok(sites)
    }

    /// Every live website of a workspace, settings parsed.
    pub(crate) async fn websites_of(&self, workspace: WorkspaceId) -> Result<Vec<Website>, Error> {
        self.store
            .websites(Some(workspace))
            .await
            .map_err(Self::public_error)?
            .into_iter()
            .map(Website::from_record)
            .collect()
    }

    /// One website, if the actor may see it.
    pub async fn website(&self, actor: &Account, id: WebsiteId) -> Result<Website, Error> {
        crate::app::check_staff(actor)?;
        let record = self
            .store
            .website(actor.workspace_id, id)
            .await
            .map_err(Self::public_error)?;
        let site = Website::from_record(record)?;
        if !site.served_by(actor) {
            return Err(Error::not_found("website"));
        }
        Ok(site)
    }

    pub async fn update_website(
        &self,
        actor: &Account,
        id: WebsiteId,
        name: Option<&str>,
        settings: Option<&WebsiteSettings>,
        access: Option<(bool, Vec<AccountId>)>,
    ) -> Result<Website, Error> {
        crate::app::check_admin(actor)?;
        if let Some(name) = name {
            Self::check_name(name)?;
        }
        let json = settings.map(Self::check_settings).transpose()?;
        if let Some((_, agents)) = &access
            && agents.len() > 1000
        {
            return Err(invalid("agents: at most 1000"));
        }
        let record = self
            .store
            .update_website(
                actor.workspace_id,
                id,
                &natter_store::WebsiteUpdate {
                    name: name.map(str::to_string),
                    settings: json,
                    access,
                },
            )
            .await
            .map_err(Self::public_error)?;
        self.websites.invalidate();
        self.audit(
            actor,
            "website.updated",
            Some(("website", id.to_string())),
            serde_json::json!({}),
        )
        .await;
        Website::from_record(record)
    }

    pub async fn delete_website(&self, actor: &Account, id: WebsiteId) -> Result<(), Error> {
        crate::app::check_admin(actor)?;
        self.store
            .delete_website(actor.workspace_id, id)
            .await
            .map_err(Self::public_error)?;
        self.websites.invalidate();
        self.audit(
            actor,
            "website.deleted",
            Some(("website", id.to_string())),
            serde_json::json!({}),
        )
        .await;
        Ok(())
    }

    /// A new `user_hash` secret for the website, shown once.
    pub async fn rotate_website_secret(
        &self,
        actor: &Account,
        id: WebsiteId,
    ) -> Result<String, Error> {
        crate::app::check_admin(actor)?;
        let secret = crate::auth::random_token(32);
        let sealed = crate::auth::seal(&self.identity_key, secret.as_bytes())?;
        self.store
            .set_website_hmac_secret(actor.workspace_id, id, &sealed)
            .await
            .map_err(Self::public_error)?;
        self.websites.invalidate();
        self.audit(
            actor,
            "website.secret_rotated",
            Some(("website", id.to_string())),
            serde_json::json!({}),
        )
        .await;
        Ok(secret)
    }

    // ----- access -----------------------------------------------------------------------

    /// Refuses a widget caller whose page is not on one of the website's domains. Requests
    /// without an `Origin` (servers, native apps) and natter's own pages pass.
    pub fn check_origin(
        site: &Website,
        origin: Option<&str>,
        host: Option<&str>,
    ) -> Result<(), Error> {
        match origin {
            None => Ok(()),
            Some(origin) if same_origin(origin, host) || site.allows_origin(origin) => Ok(()),
            Some(_) => Err(Error::new(
                ErrorCode::OriginNotAllowed,
                "this page's origin is not an allowed domain of the website",
            )),
        }
    }

    /// The live website a visitor's token is bound to, checked against the request origin.
    pub async fn visitor_website(
        &self,
        website: WebsiteId,
        origin: Option<&str>,
        host: Option<&str>,
    ) -> Result<Arc<Website>, Error> {
        let site = self
            .websites
            .by_id(self, website)
            .await?
            .ok_or_else(|| Error::new(ErrorCode::Unauthenticated, "the website was removed"))?;
        Self::check_origin(&site, origin, host)?;
        Ok(site)
    }

    /// Refuses an agent who does not serve the conversation's website (not-found: the
    /// conversation's existence is not theirs to learn).
    pub async fn check_serves(
        &self,
        actor: &Account,
        website: Option<WebsiteId>,
    ) -> Result<(), Error> {
        let Some(website) = website else {
            return Ok(());
        };
        if !actor.is_staff() || matches!(actor.role, Some(StaffRole::Owner | StaffRole::Admin)) {
            return Ok(());
        }
        match self.websites.by_id(self, website).await? {
            Some(site)
                if site.record.workspace_id == actor.workspace_id && !site.served_by(actor) =>
            {
                Err(Error::not_found("conversation"))
            }
            _ => Ok(()),
        }
    }

    // ----- the widget ---------------------------------------------------------------------

    /// Agents who may serve the website and are connected to this node now.
    pub async fn agents_online(&self, site: &Website) -> Result<u32, Error> {
        let staff = self
            .store
            .staff(site.record.workspace_id)
            .await
            .map_err(Self::public_error)?;
        let eligible: Vec<AccountId> = staff
            .iter()
            .filter(|a| site.served_by(a))
            .map(|a| a.id)
            .collect();
        let online = self.presence.online(&self.hub, &eligible).await;
        Ok(u32::try_from(online.len()).unwrap_or(u32::MAX))
    }

    /// The public configuration the widget renders, with whether anyone can answer now.
    pub async fn widget_config(
        &self,
        key: &str,
        origin: Option<&str>,
        host: Option<&str>,
    ) -> Result<WidgetConfig, Error> {
        let site = self
            .websites
            .by_key(self, key)
            .await?
            .ok_or_else(|| Error::not_found("website"))?;
        Self::check_origin(&site, origin, host)?;
        let now = now_millis();
        let (open, next_open_at) = match &site.settings.business_hours {
            None => (true, None),
            Some(hours) if hours.is_open(now) => (true, None),
            Some(hours) => (false, hours.next_open(now)),
        };
        let s = &site.settings;
        Ok(WidgetConfig {
            key: site.record.key.clone(),
            name: site.record.name.clone(),
            appearance: s.appearance.clone(),
            prechat: s.prechat.clone(),
            auto_greet: s.auto_greet.clone(),
            offline: s.offline.clone(),
            privacy: s.privacy.clone(),
            locale: s.locale.clone(),
            status: WidgetStatus {
                open,
                agents_online: self.agents_online(&site).await?,
                next_open_at,
            },
        })
    }
}

/// A visitor counts as live when seen this recently (the widget pings every 30 s).
const LIVE_WINDOW_MS: i64 = 2 * 60 * 1000;

impl App {
    /// Who is on a website now, for staff who serve it.
    pub async fn live_visitors(
        &self,
        actor: &Account,
        website: WebsiteId,
    ) -> Result<Vec<natter_core::website::LiveVisitor>, Error> {
        let site = self.website(actor, website).await?;
        let now = now_millis();
        let rows = self
            .store
            .live_visitors(site.record.id, now - LIVE_WINDOW_MS, 500)
            .await
            .map_err(Self::public_error)?;
        Ok(rows
            .into_iter()
            .map(
                |(session, contact, returning)| natter_core::website::LiveVisitor {
                    time_on_site_ms: now.saturating_sub(session.started_at),
                    session,
                    name: contact.name,
                    email: contact.email,
                    identity: contact
                        .identity
                        .map_or("anonymous", |i| i.as_str())
                        .to_string(),
                    returning,
                },
            )
            .collect())
    }

    /// A contact's profile, visits, page trail and tracked events (staff; agents only for
    /// contacts of websites they serve).
    pub async fn contact_context(
        &self,
        actor: &Account,
        contact: AccountId,
    ) -> Result<crate::api::ContactContext, Error> {
        crate::app::check_staff(actor)?;
        let account = self
            .store
            .account_in(actor.workspace_id, contact)
            .await
            .map_err(Self::public_error)?;
        if account.is_staff() {
            return Err(Error::not_found("contact"));
        }
        let profile = self
            .store
            .contact_profile(contact)
            .await
            .map_err(Self::public_error)?;
        self.check_serves(actor, profile.website_id)
            .await
            .map_err(|_| Error::not_found("contact"))?;
        let sessions = self
            .store
            .visitor_sessions(contact, 10)
            .await
            .map_err(Self::public_error)?;
        let page_trail = match sessions.first() {
            Some(s) => self
                .store
                .page_views(s.id, 200)
                .await
                .map_err(Self::public_error)?,
            None => Vec::new(),
        };
        let local_time = sessions.first().and_then(|s| {
            s.time_zone
                .as_deref()
                .or(s.location.time_zone.as_deref())
                .and_then(|tz| natter_visitor::hours::local_time(now_millis(), tz))
        });
        let events = self
            .store
            .visitor_events(contact, 20)
            .await
            .map_err(Self::public_error)?
            .into_iter()
            .map(
                |(name, properties, value, currency, at)| crate::api::TrackedView {
                    name,
                    properties,
                    value,
                    currency,
                    at,
                },
            )
            .collect();
        Ok(crate::api::ContactContext {
            contact: account,
            profile,
            sessions,
            page_trail,
            local_time,
            events,
        })
    }
}

impl App {
    /// Sends an ephemeral frame to the staff who serve `site` (on every node).
    pub async fn notify_staff(&self, site: &Website, frame: &natter_core::protocol::ServerFrame) {
        let staff = match self.store.staff(site.record.workspace_id).await {
            Ok(staff) => staff,
            Err(e) => {
                tracing::warn!(error = %e, "cannot load staff to notify");
                return;
            }
        };
        let recipients: Vec<AccountId> = staff
            .iter()
            .filter(|a| site.served_by(a))
            .map(|a| a.id)
            .collect();
        match serde_json::to_vec(frame) {
            Ok(json) => self.fanout.ephemeral(&recipients, json.into()),
            Err(e) => tracing::error!(error = %e, "cannot serialise a staff notification"),
        }
    }

    /// Tells the website's staff where a visitor is now.
    pub async fn notify_visitor(
        &self,
        site: &Website,
        session: natter_core::website::VisitorSession,
        action: &str,
    ) {
        let account = match self.store.account(session.account_id).await {
            Ok(Some(account)) => account,
            _ => return,
        };
        let returning = self.store.visited_before(&session).await.unwrap_or(false);
        let now = now_millis();
        let frame = natter_core::protocol::ServerFrame::Visitor {
            website_id: site.record.id,
            action: action.to_string(),
            visitor: Box::new(natter_core::website::LiveVisitor {
                time_on_site_ms: now.saturating_sub(session.started_at),
                returning,
                name: account.name,
                email: account.email,
                identity: account
                    .identity
                    .map_or("anonymous", |i| i.as_str())
                    .to_string(),
                session,
            }),
        };
        self.notify_staff(site, &frame).await;
    }
}
