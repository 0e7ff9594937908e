//! The REST API's request and response bodies that the staff-facing web apps build or read:
//! signing in and account security, staff and tokens, administration, queues and routing,
//! websites' visitor context, and the smaller staff edits (a conversation's status, a
//! message's body, whether SSO is on). Like [`crate::api`], the server's handlers use them as
//! they are and the TypeScript SDK gets them generated (feature `ts`), so neither side keeps a
//! copy of the other's.
//!
//! Optional request fields follow [`crate::api`]'s rule: `Option` fields are `field?: T | null`
//! (`ts(optional_fields = nullable)` on the type), and a non-`Option` field with
//! `#[serde(default)]` is marked `ts(optional = nullable)`, which makes it `field?: T`.
//!
//! A website's settings are here too, as data: the server checks them (it knows which domain
//! patterns parse and which time zones exist), so their validation stays there.

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::hours::BusinessHours;
use crate::ids::{AccountId, ConversationId, WebsiteId};
use crate::model::{Account, ConversationStatus, MfaRequired, SessionState, StaffRole};
use crate::website::{
    Appearance, AutoGreet, ContactProfile, OfflineForm, PageView, Prechat, Privacy, VisitorSession,
};

// --- signing in and account security (crates/server/src/api/auth.rs) ---------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, optional_fields = nullable)
)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    /// Needed only when the email has staff accounts in several workspaces.
    #[serde(default)]
    pub workspace_id: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct SessionView {
    pub account: Account,
    /// `active`; `mfa` (send the code to /v1/auth/second-factor); `enrol` (set up TOTP).
    pub state: SessionState,
    /// Send as `X-CSRF-Token` with every write made with the session cookie.
    pub csrf_token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    /// A 6-digit TOTP code, or a recovery code (`xxxx-xxxx-xxxx`).
    pub code: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    pub current_password: String,
    pub new_password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    pub email: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, optional_fields = nullable)
)]
#[serde(deny_unknown_fields)]
pub struct RedeemToken {
    /// The token from the emailed link.
    pub token: String,
    pub password: String,
    /// For invitations: the name to show.
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct TotpSetupView {
    /// For typing into an authenticator app.
    pub secret: String,
    /// `otpauth://` URI, for a QR code.
    pub otpauth_uri: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct RecoveryCodes {
    /// Shown once; each works once in place of a TOTP code.
    pub recovery_codes: Vec<String>,
}

// --- staff accounts and tokens (crates/server/src/api/accounts.rs) -----------------------------

/// A staff member's own display details (`PATCH /v1/me`): what colleagues and visitors see.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, optional_fields = nullable)
)]
#[serde(deny_unknown_fields)]
pub struct MeEdit {
    /// 1 to 200 characters.
    #[serde(default)]
    pub name: Option<String>,
    /// An `https://` URL of a photo; `""` removes it. Visitors see it in the widget when the
    /// website shows agent photos.
    #[serde(default)]
    pub avatar_url: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, optional_fields = nullable)
)]
#[serde(deny_unknown_fields)]
pub struct CreateStaff {
    pub email: String,
    #[serde(default)]
    pub name: Option<String>,
    pub role: StaffRole,
}

#[derive(Debug, Deserialize, ToSchema)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, optional_fields = nullable)
)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// A label to recognise the token by.
    pub name: String,
    /// Subset of `read`, `write`, `contacts`, `admin`; default all four.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct IssuedToken {
    /// The token. Shown once; only a hash is stored.
    pub token: String,
    /// Expiry in milliseconds since the epoch, for tokens that expire.
    pub expires_at: Option<i64>,
}

// --- administration (crates/server/src/api/admin.rs) -------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, optional_fields = nullable)
)]
#[serde(deny_unknown_fields)]
pub struct Invitation {
    pub email: String,
    #[serde(default)]
    pub name: Option<String>,
    pub role: StaffRole,
}

#[derive(Debug, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct UpdateStaff {
    pub role: StaffRole,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct Security {
    /// Who must sign in with a second factor.
    pub mfa_required: MfaRequired,
}

// --- queues and routing (crates/server/src/api/routing.rs, crates/server/src/routing.rs) -------

/// A rule's condition (stored as JSON): the first matching rule sets priority, team and
/// needed skills of a chat entering the queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// The chat comes from this website.
    Website(WebsiteId),
    /// The contact's `customData` (from `identify`) has `name` = `equals`:
    /// `{"attribute": {"name": "plan", "equals": "premium"}}`.
    Attribute { name: String, equals: String },
    /// The subject contains this word (case-insensitive).
    Keyword(String),
    /// Every chat.
    Always,
}

/// A routing rule as admins write it (and as the server returns it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, optional_fields = nullable)
)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[schema(value_type = Object)]
    pub when: Condition,
    /// `low`, `normal`, `high` or `urgent`.
    #[serde(default)]
    pub priority: Option<String>,
    #[serde(default)]
    pub team_id: Option<i64>,
    /// Skills a chat needs (skills-based teams).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub needs: Vec<String>,
}

/// A waiting chat as the queue view shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct QueueItem {
    pub conversation_id: ConversationId,
    pub website_id: Option<WebsiteId>,
    pub team_id: Option<i64>,
    pub priority: String,
    pub enqueued_at: i64,
    pub needs: Vec<String>,
    pub position: u32,
    pub estimated_wait_ms: Option<i64>,
    pub escalated_at: Option<i64>,
}

/// An agent's availability as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct AgentView {
    pub account_id: AccountId,
    /// `online`, `away`, `busy` or `offline`.
    pub status: String,
    pub capacity: u32,
    /// Open chats assigned now.
    pub load: u32,
    pub skills: Vec<String>,
    pub teams: Vec<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, optional_fields = nullable)
)]
#[serde(deny_unknown_fields)]
pub struct AgentStateInput {
    /// `online`, `away`, `busy` or `offline`.
    #[serde(default)]
    pub status: Option<String>,
    /// Concurrent chats (0 to 100).
    #[serde(default)]
    pub capacity: Option<u32>,
    #[serde(default)]
    pub skills: Option<Vec<String>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct TeamView {
    pub id: i64,
    pub name: String,
    /// `round_robin`, `least_loaded`, `skills_based` or `manual`.
    pub policy: String,
    pub members: Vec<AccountId>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, optional_fields = nullable)
)]
#[serde(deny_unknown_fields)]
pub struct TeamInput {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub policy: Option<String>,
    #[serde(default)]
    pub members: Option<Vec<AccountId>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, optional_fields = nullable)
)]
#[serde(deny_unknown_fields)]
pub struct TransferInput {
    /// Offer the chat to this agent (who must accept in time).
    #[serde(default)]
    pub to_agent: Option<AccountId>,
    /// Or put it back in the queue of this team.
    #[serde(default)]
    pub to_team: Option<i64>,
    /// Kept as an internal note on the conversation.
    #[serde(default)]
    pub note: Option<String>,
}

// --- websites (crates/server/src/api/websites.rs, crates/server/src/websites.rs) ---------------

/// Who may serve a website.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct AgentAccess {
    /// True: every agent of the workspace. False: only `account_ids` (owners and admins
    /// always may).
    pub all: bool,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub account_ids: Vec<AccountId>,
}

/// Per-website request budgets, per minute. 0 uses the node's default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(default, deny_unknown_fields)]
pub struct WebsiteRateLimits {
    /// New visitors (widget loads without a stored token) per client address.
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub visitors_per_ip: u32,
    /// Messages per visitor.
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub messages_per_visitor: u32,
    /// Page views, activity pings and tracked events per visitor.
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub tracking_per_visitor: u32,
}

/// Everything an admin configures about a website (stored as JSON).
// Every field may be left out of a request (it takes its default), but the server always
// sends them all and clients edit a copy of what they read and send it back whole; so in
// TypeScript the fields stay required, like those of the parts in `crate::website`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(default, deny_unknown_fields)]
pub struct WebsiteSettings {
    /// Hosts the widget may run on: `example.com`, `*.example.com` (subdomains only),
    /// optionally with a scheme (`https://shop.example.com`) or port (`localhost:3000`).
    pub allowed_domains: Vec<String>,
    pub appearance: Appearance,
    pub prechat: Prechat,
    pub auto_greet: Option<AutoGreet>,
    /// Opening hours in the website's time zone; none means always open.
    #[schema(value_type = Option<Object>)]
    pub business_hours: Option<BusinessHours>,
    pub offline: OfflineForm,
    pub privacy: Privacy,
    pub rate_limits: WebsiteRateLimits,
    /// The widget's language (`en` until more are translated).
    pub locale: String,
}

impl Default for WebsiteSettings {
    fn default() -> Self {
        Self {
            allowed_domains: Vec::new(),
            appearance: Appearance::default(),
            prechat: Prechat::default(),
            auto_greet: None,
            business_hours: None,
            offline: OfflineForm::default(),
            privacy: Privacy::default(),
            rate_limits: WebsiteRateLimits::default(),
            locale: "en".into(),
        }
    }
}

/// A website as staff see it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct WebsiteView {
    pub id: WebsiteId,
    /// The public key for the install snippet.
    pub key: String,
    pub name: String,
    pub settings: WebsiteSettings,
    pub agents: AgentAccess,
    /// Whether the website has its own `user_hash` secret (otherwise the workspace's is
    /// used).
    pub hmac_configured: bool,
    /// The snippet to paste before `</body>`.
    pub install_snippet: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, optional_fields = nullable)
)]
#[serde(deny_unknown_fields)]
pub struct CreateWebsite {
    pub name: String,
    #[serde(default)]
    pub settings: Option<WebsiteSettings>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, optional_fields = nullable)
)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebsite {
    #[serde(default)]
    pub name: Option<String>,
    /// Replaces every setting.
    #[serde(default)]
    pub settings: Option<WebsiteSettings>,
    #[serde(default)]
    pub agents: Option<AgentAccess>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct WebsiteSecret {
    /// `user_hash = hex(HMAC-SHA256(secret, user_id))`; shown once.
    pub secret: String,
}

/// What the agent's context panel shows about a contact.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ContactContext {
    pub contact: Account,
    pub profile: ContactProfile,
    /// Newest first (at most 10).
    pub sessions: Vec<VisitorSession>,
    /// The newest session's navigation path.
    pub page_trail: Vec<PageView>,
    /// The visitor's local time now (`HH:MM`), from the browser's or the geo time zone.
    pub local_time: Option<String>,
    /// Newest first (at most 20): name, properties, value, currency, at.
    pub events: Vec<TrackedView>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct TrackedView {
    pub name: String,
    #[schema(value_type = Option<Object>)]
    pub properties: Option<serde_json::Value>,
    pub value: Option<f64>,
    pub currency: Option<String>,
    pub at: i64,
}

// --- conversations, messages, SSO (crates/server/src/api/{conversations,messages,sso}.rs) ------

#[derive(Debug, Deserialize, ToSchema)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, optional_fields = nullable)
)]
#[serde(deny_unknown_fields)]
pub struct UpdateConversation {
    #[serde(default)]
    pub status: Option<ConversationStatus>,
    /// A new subject, or `null` to clear it.
    #[serde(default, deserialize_with = "some_nullable")]
    #[schema(value_type = Option<String>)]
    // Absent (leave it) and `null` (clear it) differ in Rust; in TypeScript both are just
    // "may be missing or null".
    #[cfg_attr(feature = "ts", ts(optional, type = "string | null"))]
    pub subject: Option<Option<String>>,
}

/// `Some(None)` for an explicit `null`, so that "clear it" differs from "not sent" (`None`,
/// through `#[serde(default)]`).
fn some_nullable<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct EditMessage {
    pub body: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct SsoStatus {
    /// Whether the sign-in page should offer "Sign in with SSO" for this workspace.
    pub enabled: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conversation_update_tells_a_cleared_subject_from_an_absent_one() {
        let cleared: UpdateConversation = serde_json::from_str(r#"{"subject": null}"#).unwrap();
        assert_eq!(cleared.subject, Some(None));
        let absent: UpdateConversation = serde_json::from_str("{}").unwrap();
        assert_eq!(absent.subject, None);
    }

    #[test]
    fn omitted_rule_and_rate_limit_fields_take_their_defaults() {
        let rule: Rule = serde_json::from_str(r#"{"when": "always"}"#).unwrap();
        assert!(rule.needs.is_empty() && rule.priority.is_none());
        let limits: WebsiteRateLimits = serde_json::from_str("{}").unwrap();
        assert_eq!(limits, WebsiteRateLimits::default());
    }

    #[test]
    fn website_settings_default_every_omitted_part_and_refuse_unknown_ones() {
        let settings: WebsiteSettings =
            serde_json::from_str(r#"{"allowed_domains": ["example.com"]}"#).unwrap();
        assert_eq!(
            settings,
            WebsiteSettings {
                allowed_domains: vec!["example.com".into()],
                ..WebsiteSettings::default()
            }
        );
        assert_eq!(settings.locale, "en");
        assert!(serde_json::from_str::<WebsiteSettings>(r#"{"colour": "red"}"#).is_err());
        assert!(serde_json::from_str::<CreateWebsite>(r#"{"name": "a", "x": 1}"#).is_err());
        let update: UpdateWebsite = serde_json::from_str("{}").unwrap();
        assert!(update.name.is_none() && update.settings.is_none() && update.agents.is_none());
    }

    #[test]
    fn staff_requests_refuse_unknown_fields() {
        assert!(
            serde_json::from_str::<LoginRequest>(r#"{"email": "a", "password": "b", "x": 1}"#)
                .is_err()
        );
        assert!(serde_json::from_str::<Condition>(r#"{"nope": 1}"#).is_err());
    }
}
