//! The REST API's request and response bodies (and query strings) that clients build or read:
//! conversations, messages, contact identity and the website widget's endpoints. The server's
//! handlers use them as they are; the TypeScript SDK gets them generated (feature `ts`), so
//! neither side keeps a copy of the other's.
//!
//! In TypeScript, request fields the server may go without are optional: `Option` fields are
//! `field?: T | null`, and a non-`Option` field with `#[serde(default)]` is marked
//! `ts(optional = nullable)`, which makes it `field?: T` (not nullable: `T` is not an `Option`).

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::ids::{AccountId, ConversationId};
use crate::model::{
    Account, Conversation, ConversationKind, ConversationSummary, Message, MessageFormat,
    MessageKind, Participant, ParticipantRole, Visibility,
};
use crate::website::ContactProfile;

// --- conversations (crates/server/src/api/conversations.rs) ----------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, optional_fields = nullable)
)]
#[serde(deny_unknown_fields)]
pub struct ParticipantSpec {
    pub account_id: AccountId,
    pub role: ParticipantRole,
    /// Default `full`.
    #[serde(default)]
    pub visibility: Option<Visibility>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, optional_fields = nullable)
)]
#[serde(deny_unknown_fields)]
pub struct CreateConversationRequest {
    pub kind: ConversationKind,
    #[serde(default)]
    pub subject: Option<String>,
    /// Listing context (a JSON object), e.g. `{"title": "Bike", "price": "£120"}`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub listing: Option<serde_json::Value>,
    /// The first participants. A contact starting a support chat may leave this empty.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub participants: Vec<ParticipantSpec>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ConversationDetail {
    pub conversation: Conversation,
    pub participants: Vec<Participant>,
    /// Who the active participants are, for display (names as the accounts have them).
    #[serde(default)]
    pub people: Vec<Person>,
}

/// A participant as others see them.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Person {
    pub account_id: AccountId,
    /// `staff` or `contact`.
    pub kind: String,
    pub name: Option<String>,
    /// A staff member's photo URL (never a contact's).
    #[serde(default)]
    pub avatar_url: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, optional_fields = nullable)
)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size (default 50, at most `limits.page_max`).
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ConversationList {
    pub items: Vec<ConversationSummary>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

// --- messages (crates/server/src/api/messages.rs) ----------------------------------------------

#[derive(Debug, Deserialize, IntoParams)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, optional_fields = nullable)
)]
#[serde(deny_unknown_fields)]
pub struct HistoryParams {
    /// Messages with a `seq` below this (the page just before it).
    pub before: Option<i64>,
    /// Messages with a `seq` above this (the page just after it). Without `before` or
    /// `after`, the oldest messages.
    pub after: Option<i64>,
    /// Page size (default 50, at most `limits.page_max`).
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, optional_fields = nullable)
)]
#[serde(deny_unknown_fields)]
pub struct PostMessageRequest {
    pub body: String,
    /// Default `text`. `note` is staff-only and never reaches contacts.
    #[serde(default)]
    pub kind: Option<MessageKind>,
    /// Default `plain`.
    #[serde(default)]
    pub format: Option<MessageFormat>,
    /// Idempotency key: retrying with the same key returns the original message.
    #[serde(default)]
    pub client_msg_id: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct PostedMessage {
    pub message: Message,
    /// True when the `client_msg_id` had been used before and nothing new was stored.
    pub duplicate: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct CursorRequest {
    /// Everything up to and including this `seq`.
    pub seq: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct CursorPosition {
    /// Where the cursor stands now (it never moves backwards).
    pub seq: i64,
}

// --- contact identity (crates/server/src/api/identify.rs) --------------------------------------

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Identified {
    pub contact: Account,
    /// A contact token for the API and the real-time gateway.
    pub token: String,
    /// Milliseconds since the epoch.
    pub expires_at: i64,
}

// --- the website widget (crates/server/src/widget.rs, crates/server/src/api/widget.rs) ---------

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, optional_fields = nullable)
)]
#[serde(deny_unknown_fields)]
pub struct PageInfo {
    pub url: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub referrer: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct ScreenInfo {
    pub width: i64,
    pub height: i64,
}

/// The widget's first call on a page.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, optional_fields = nullable)
)]
#[serde(deny_unknown_fields)]
pub struct VisitorStart {
    /// The visitor token stored from an earlier page (continues the same visitor).
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub page: Option<PageInfo>,
    #[serde(default)]
    pub screen: Option<ScreenInfo>,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Whether the host page has the visitor's consent to tracking (only consulted when the
    /// website requires consent).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub consent: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct VisitorStarted {
    pub contact: Account,
    pub token: String,
    pub expires_at: i64,
    /// `None` when the website requires consent and the visitor has not given it: nothing
    /// is tracked, chat still works.
    pub session_id: Option<i64>,
    /// The visitor's newest open conversation on this website, to continue.
    pub conversation_id: Option<ConversationId>,
}

/// `Natter.identify(…)` from the host page.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, optional_fields = nullable)
)]
#[serde(deny_unknown_fields)]
pub struct WidgetIdentify {
    #[serde(default)]
    pub user_id: Option<String>,
    /// Hex HMAC-SHA256 of `user_id` with the website's (or workspace's) identity secret.
    #[serde(default)]
    pub user_hash: Option<String>,
    /// A platform JWT instead of `user_hash`.
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub company: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub custom_data: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct WidgetIdentified {
    pub contact: Account,
    pub profile: ContactProfile,
    /// Use this token from now on (it changes when the visitor turns out to be a known
    /// contact, whose conversations then follow them across devices).
    pub token: String,
    pub expires_at: i64,
}

/// Pre-chat form answers and details given later in the conversation.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, optional_fields = nullable)
)]
#[serde(deny_unknown_fields)]
pub struct ProfileInput {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    /// Custom fields by key (strings).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub fields: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ProfileSaved {
    pub contact: Account,
    pub profile: ContactProfile,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct Activity {
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub exit_intent: bool,
    /// False when the page was hidden for good (the visitor left).
    #[serde(default = "yes")]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub visible: bool,
}

fn yes() -> bool {
    true
}

/// `Natter.track(name, properties)`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, optional_fields = nullable)
)]
#[serde(deny_unknown_fields)]
pub struct TrackedEvent {
    pub name: String,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub properties: Option<serde_json::Map<String, serde_json::Value>>,
    /// A conversion's value (e.g. a purchase total).
    #[serde(default)]
    pub value: Option<f64>,
    /// ISO 4217 code of `value`.
    #[serde(default)]
    pub currency: Option<String>,
}

/// A message left while nobody can answer.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, optional_fields = nullable)
)]
#[serde(deny_unknown_fields)]
pub struct OfflineMessage {
    #[serde(default)]
    pub name: Option<String>,
    pub email: String,
    pub message: String,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub fields: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct OfflineReceived {
    pub conversation_id: ConversationId,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn omitted_request_fields_take_their_defaults() {
        let activity: Activity = serde_json::from_str("{}").unwrap();
        assert!(!activity.exit_intent);
        assert!(activity.visible);
        let start: VisitorStart = serde_json::from_str("{}").unwrap();
        assert!(!start.consent && start.page.is_none());
        let create: CreateConversationRequest =
            serde_json::from_str(r#"{"kind": "support"}"#).unwrap();
        assert!(create.participants.is_empty() && create.subject.is_none());
    }

    #[test]
    fn requests_refuse_unknown_fields() {
        assert!(serde_json::from_str::<PageInfo>(r#"{"url": "https://x", "nope": 1}"#).is_err());
        assert!(serde_json::from_str::<HistoryParams>(r#"{"since": 1}"#).is_err());
    }
}
