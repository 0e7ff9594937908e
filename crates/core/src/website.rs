//! Websites (widget installations) as the widget and the agent-facing API see them: the
//! public widget configuration, the visitor's profile and sessions. The admin-editable
//! settings that hold these parts are [`crate::staff_api::WebsiteSettings`] (with
//! [`crate::hours`]); the server validates them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::{AccountId, WebsiteId};
use crate::time::Millis;

/// How the widget looks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct Appearance {
    /// `#rrggbb`.
    pub primary_color: String,
    /// `bottom-right` or `bottom-left`.
    pub position: String,
    #[serde(default)]
    pub logo_url: Option<String>,
    pub welcome_text: String,
    pub launcher_text: String,
    pub show_agent_photos: bool,
}

impl Default for Appearance {
    fn default() -> Self {
        Self {
            primary_color: "#4f46e5".into(),
            position: "bottom-right".into(),
            logo_url: None,
            welcome_text: "Hi! How can we help?".into(),
            launcher_text: "Chat with us".into(),
            show_agent_photos: true,
        }
    }
}

/// One field of the pre-chat or offline form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct FormField {
    /// `name`, `email` and `phone` fill the contact's profile; any other key is a custom
    /// field kept with the profile.
    pub key: String,
    /// `name`, `email`, `phone` or `text`.
    pub kind: String,
    pub label: String,
    pub required: bool,
}

/// The form shown before the first message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct Prechat {
    pub enabled: bool,
    #[serde(default)]
    pub fields: Vec<FormField>,
}

/// A greeting the widget shows by itself after a delay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct AutoGreet {
    pub text: String,
    pub delay_ms: u32,
}

/// The form shown outside business hours or when nobody is online.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct OfflineForm {
    pub text: String,
    #[serde(default)]
    pub fields: Vec<FormField>,
}

impl Default for OfflineForm {
    fn default() -> Self {
        Self {
            text: "We're away right now. Leave a message and we'll reply by email.".into(),
            fields: vec![
                FormField {
                    key: "name".into(),
                    kind: "name".into(),
                    label: "Name".into(),
                    required: false,
                },
                FormField {
                    key: "email".into(),
                    kind: "email".into(),
                    label: "Email".into(),
                    required: true,
                },
            ],
        }
    }
}

/// What the widget may collect (UK GDPR / PECR).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct Privacy {
    /// When true the widget stores nothing for tracking (no visitor id, no page trail)
    /// until the host page calls `consent(true)`; chat still works.
    pub consent_required: bool,
    /// `full`, `truncated` (IPv4 /24, IPv6 /48) or `none` (no address kept).
    pub ip_mode: String,
}

impl Default for Privacy {
    fn default() -> Self {
        Self {
            consent_required: false,
            ip_mode: "truncated".into(),
        }
    }
}

/// Whether anyone can answer now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct WidgetStatus {
    /// Inside business hours (always true without hours).
    pub open: bool,
    /// Agents who may serve the website and are connected now.
    pub agents_online: u32,
    /// When business hours next begin, if closed.
    pub next_open_at: Option<Millis>,
}

/// The public part of a website's configuration: what the widget needs to render.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct WidgetConfig {
    pub key: String,
    pub name: String,
    pub appearance: Appearance,
    pub prechat: Prechat,
    pub auto_greet: Option<AutoGreet>,
    pub offline: OfflineForm,
    pub privacy: Privacy,
    pub locale: String,
    pub status: WidgetStatus,
}

/// What is known about a contact beyond name and email.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ContactProfile {
    pub account_id: AccountId,
    /// The website the contact first came from.
    pub website_id: Option<WebsiteId>,
    pub phone: Option<String>,
    pub company: Option<String>,
    /// From `identify`'s `customData`.
    #[schema(value_type = Option<Object>)]
    pub custom_data: Option<serde_json::Value>,
    /// Pre-chat and offline form answers by field key.
    #[schema(value_type = Option<Object>)]
    pub fields: Option<serde_json::Value>,
}

/// One visit of a visitor to a website, enriched on the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct VisitorSession {
    pub id: i64,
    pub website_id: WebsiteId,
    pub account_id: AccountId,
    pub started_at: Millis,
    pub last_seen_at: Millis,
    pub ended_at: Option<Millis>,
    /// As the website's privacy mode allows.
    pub ip: Option<String>,
    pub location: Location,
    pub device: Device,
    pub traffic: Traffic,
    pub screen_width: Option<i64>,
    pub screen_height: Option<i64>,
    pub language: Option<String>,
    /// The browser's time zone (the geo database's is in `location`).
    pub time_zone: Option<String>,
    pub page_views: i64,
    pub current_url: Option<String>,
    pub current_title: Option<String>,
    pub current_page_at: Option<Millis>,
    pub exit_intent_at: Option<Millis>,
}

/// Where a visitor is, from the GeoIP database.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Location {
    pub country_code: Option<String>,
    pub country: Option<String>,
    pub region: Option<String>,
    pub city: Option<String>,
    pub time_zone: Option<String>,
}

/// What a visitor browses with, from the user agent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Device {
    pub browser: Option<String>,
    pub browser_version: Option<String>,
    pub os: Option<String>,
    pub os_version: Option<String>,
    /// `desktop`, `mobile`, `tablet`, `bot` or `other`.
    pub device_type: Option<String>,
}

/// Where a visit came from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Traffic {
    /// `organic_search`, `paid`, `social`, `email`, `referral`, `direct` or `internal`.
    pub source: String,
    pub referrer: Option<String>,
    pub landing_page: Option<String>,
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
    pub utm_term: Option<String>,
    pub utm_content: Option<String>,
    pub click_id_kind: Option<String>,
    pub click_id: Option<String>,
}

/// A page of a session's navigation path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct PageView {
    pub url: String,
    pub title: Option<String>,
    pub referrer: Option<String>,
    pub started_at: Millis,
    /// Time on the page, once the visitor moved on.
    pub duration_ms: Option<i64>,
}

/// A visitor on a website now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct LiveVisitor {
    pub session: VisitorSession,
    pub name: Option<String>,
    pub email: Option<String>,
    /// `anonymous`, `partial`, `identified` or `verified`.
    pub identity: String,
    /// Visited this website before this session.
    pub returning: bool,
    pub time_on_site_ms: i64,
}

/// Chats waiting in one team's queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct TeamWaiting {
    pub team_id: Option<i64>,
    pub waiting: u32,
}
