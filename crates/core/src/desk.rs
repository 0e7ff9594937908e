//! The agent workspace's API bodies: the inbox with its counts, labels, canned responses,
//! per-agent notification preferences and bulk actions (docs/desk-api.md). Generated for
//! TypeScript (feature `ts`) like [`crate::api`]; the limits the server enforces live here too
//! so the web app can show them without a copy.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::ids::{AccountId, ConversationId, WebsiteId};
use crate::model::{Conversation, MessageKind};

/// At most this many labels on one conversation.
pub const MAX_LABELS: usize = 20;
/// A label's length in characters, after trimming.
pub const MAX_LABEL_CHARS: usize = 40;
/// At most this many conversations in one bulk request.
pub const MAX_BULK: usize = 100;
/// A canned response's shortcut length.
pub const MAX_SHORTCUT_CHARS: usize = 32;
pub const MAX_CANNED_TITLE_CHARS: usize = 100;
pub const MAX_CANNED_BODY_CHARS: usize = 5_000;
/// Canned responses per workspace (shared and personal together).
pub const MAX_CANNED_PER_WORKSPACE: usize = 1_000;
/// Conversations one agent may mute.
pub const MAX_MUTED_CONVERSATIONS: usize = 1_000;
/// Search text length in characters.
pub const MAX_SEARCH_CHARS: usize = 100;
/// A message preview in the inbox, in characters.
pub const PREVIEW_CHARS: usize = 140;

// --- inbox -------------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize, IntoParams)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, optional_fields = nullable)
)]
#[serde(deny_unknown_fields)]
pub struct InboxParams {
    /// `all` (default), `mine` (the caller takes part) or `unassigned` (no staff member does).
    #[serde(default)]
    pub view: Option<String>,
    #[serde(default)]
    pub website_id: Option<i64>,
    /// `open`, `pending`, `resolved` or `archived`.
    #[serde(default)]
    pub status: Option<String>,
    /// Only conversations with this label.
    #[serde(default)]
    pub label: Option<String>,
    /// Search text, matched case-insensitively against the subject and the contact's name and
    /// email.
    #[serde(default)]
    pub q: Option<String>,
    /// `activity` (default: newest activity first) or `waiting` (oldest activity first).
    #[serde(default)]
    pub sort: Option<String>,
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default)]
    pub limit: Option<u32>,
}

/// Someone in an inbox row: the contact, or an assigned staff member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct InboxPerson {
    pub id: AccountId,
    pub name: Option<String>,
    pub email: Option<String>,
}

/// The newest message of a conversation, shortened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct MessagePreview {
    pub seq: i64,
    pub kind: MessageKind,
    pub sender_id: Option<AccountId>,
    /// At most [`PREVIEW_CHARS`] characters; empty for a deleted message.
    pub body: String,
    pub created_at: i64,
}

/// One row of the inbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct InboxItem {
    pub conversation: Conversation,
    pub labels: Vec<String>,
    /// The (first) contact taking part, if any.
    pub contact: Option<InboxPerson>,
    /// The staff members taking part.
    pub assignees: Vec<InboxPerson>,
    /// Messages the caller has not read (not notes, not their own); every such message when
    /// the caller does not take part.
    pub unread: i64,
    pub last_message: Option<MessagePreview>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct InboxPage {
    pub items: Vec<InboxItem>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct WebsiteCount {
    pub website_id: WebsiteId,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct LabelCount {
    pub label: String,
    pub count: i64,
}

/// How many open or pending conversations each inbox view holds for the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct InboxCounts {
    pub all: i64,
    pub mine: i64,
    pub unassigned: i64,
    /// Of `mine`, those with messages the caller has not read.
    pub unread_mine: i64,
    pub by_website: Vec<WebsiteCount>,
    pub by_label: Vec<LabelCount>,
}

// --- labels ------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct LabelsInput {
    pub labels: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct LabelList {
    pub items: Vec<LabelCount>,
}

/// Cleans a set of labels: trimmed, non-empty, at most [`MAX_LABEL_CHARS`] characters, without
/// control characters, duplicates (case-insensitive) collapsed in first-seen order, at most
/// [`MAX_LABELS`]. The error says what is wrong.
pub fn normalise_labels(labels: &[String]) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for raw in labels {
        let label = normalise_label(raw)?;
        if !out.iter().any(|l| l.to_lowercase() == label.to_lowercase()) {
            out.push(label);
        }
    }
    if out.len() > MAX_LABELS {
        return Err(format!("at most {MAX_LABELS} labels per conversation"));
    }
    Ok(out)
}

/// One label, trimmed and checked.
pub fn normalise_label(raw: &str) -> Result<String, String> {
    let label = raw.trim();
    if label.is_empty() {
        return Err("a label must not be empty".into());
    }
    if label.chars().count() > MAX_LABEL_CHARS {
        return Err(format!("a label has at most {MAX_LABEL_CHARS} characters"));
    }
    if label.chars().any(char::is_control) {
        return Err("a label must not contain control characters".into());
    }
    Ok(label.to_string())
}

// --- canned responses --------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct CannedResponse {
    pub id: i64,
    /// Typed after `/` in the composer.
    pub shortcut: String,
    pub title: String,
    pub body: String,
    /// Workspace-wide (managed by owners and admins); otherwise personal to `owner_id`.
    pub shared: bool,
    pub owner_id: Option<AccountId>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, optional_fields = nullable)
)]
#[serde(deny_unknown_fields)]
pub struct CannedInput {
    pub shortcut: String,
    pub title: String,
    pub body: String,
    /// Workspace-wide (owners and admins only). Default: personal.
    #[serde(default)]
    pub shared: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, optional_fields = nullable)
)]
#[serde(deny_unknown_fields)]
pub struct CannedPatch {
    #[serde(default)]
    pub shortcut: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct CannedList {
    pub items: Vec<CannedResponse>,
}

/// Checks a shortcut: 1 to [`MAX_SHORTCUT_CHARS`] of `a-z 0-9 - _`.
pub fn check_shortcut(shortcut: &str) -> Result<(), String> {
    let ok_chars = shortcut
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if shortcut.is_empty() || shortcut.len() > MAX_SHORTCUT_CHARS || !ok_chars {
        return Err(format!(
            "shortcut must be 1 to {MAX_SHORTCUT_CHARS} of a-z, 0-9, - and _"
        ));
    }
    Ok(())
}

// --- preferences -------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct SoundPreferences {
    pub new_conversation: bool,
    pub new_message: bool,
    pub assigned: bool,
}

/// Do-not-disturb hours in the agent's time zone; `start` after `end` spans midnight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    /// `HH:MM`, 24-hour.
    pub start: String,
    /// `HH:MM`, 24-hour.
    pub end: String,
    /// An IANA time zone, e.g. `Europe/London`.
    pub time_zone: String,
}

/// An agent's notification preferences (saved per staff member).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct AgentPreferences {
    /// Desktop notifications wanted (the browser's permission is asked separately).
    pub desktop: bool,
    pub sounds: SoundPreferences,
    /// 0 to 100.
    pub volume: u8,
    /// A temporary mute, until this time (ms since the epoch).
    pub muted_until: Option<i64>,
    pub quiet_hours: Option<QuietHours>,
    /// At most [`MAX_MUTED_CONVERSATIONS`].
    pub muted_conversations: Vec<ConversationId>,
}

impl Default for AgentPreferences {
    fn default() -> Self {
        Self {
            desktop: true,
            sounds: SoundPreferences {
                new_conversation: true,
                new_message: true,
                assigned: true,
            },
            volume: 70,
            muted_until: None,
            quiet_hours: None,
            muted_conversations: Vec::new(),
        }
    }
}

fn check_clock(field: &str, value: &str) -> Result<(), String> {
    let ok = value.len() == 5
        && value.as_bytes().get(2) == Some(&b':')
        && value[..2].parse::<u8>().is_ok_and(|h| h < 24)
        && value[3..].parse::<u8>().is_ok_and(|m| m < 60)
        && value[..2]
            .bytes()
            .chain(value[3..].bytes())
            .all(|b| b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(format!("{field} must be HH:MM (24-hour)"))
    }
}

impl AgentPreferences {
    /// Checks the limits and formats; the time zone is checked by the server (which has the
    /// time zone database).
    pub fn check(&self) -> Result<(), String> {
        if self.volume > 100 {
            return Err("volume must be 0 to 100".into());
        }
        if self.muted_conversations.len() > MAX_MUTED_CONVERSATIONS {
            return Err(format!(
                "at most {MAX_MUTED_CONVERSATIONS} muted conversations"
            ));
        }
        if let Some(q) = &self.quiet_hours {
            check_clock("quiet_hours.start", &q.start)?;
            check_clock("quiet_hours.end", &q.end)?;
            if q.time_zone.is_empty() || q.time_zone.len() > 64 {
                return Err("quiet_hours.time_zone must be an IANA time zone".into());
            }
        }
        Ok(())
    }
}

// --- contacts ----------------------------------------------------------------------------------

/// What staff may correct about a contact from the context panel. A verified contact's name
/// and email come from the host platform and cannot be changed here.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, optional_fields = nullable)
)]
#[serde(deny_unknown_fields)]
pub struct ContactEdit {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub company: Option<String>,
}

// --- bulk actions ------------------------------------------------------------------------------

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, optional_fields = nullable)
)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    /// 1 to [`MAX_BULK`] distinct conversations.
    pub conversation_ids: Vec<ConversationId>,
    /// `resolve`, `reopen`, `archive`, `assign`, `label` or `unlabel`.
    pub action: String,
    /// For `assign`: the staff member (default: the caller).
    #[serde(default)]
    pub account_id: Option<AccountId>,
    /// For `label` and `unlabel`.
    #[serde(default)]
    pub label: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct BulkOutcome {
    pub conversation_id: ConversationId,
    pub ok: bool,
    /// The error code when it failed.
    pub code: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct BulkResult {
    pub results: Vec<BulkOutcome>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn labels_are_trimmed_and_duplicates_collapse_whatever_their_case() {
        let got = normalise_labels(&[" VIP ".into(), "vip".into(), "billing".into()]).unwrap();
        assert_eq!(got, vec!["VIP".to_string(), "billing".to_string()]);
    }

    #[test]
    fn empty_long_and_too_many_labels_are_refused() {
        assert!(normalise_labels(&["  ".into()]).is_err());
        assert!(normalise_labels(&["x".repeat(MAX_LABEL_CHARS + 1)]).is_err());
        assert!(normalise_labels(&["a\u{7}".into()]).is_err());
        let many: Vec<String> = (0..=MAX_LABELS).map(|i| format!("l{i}")).collect();
        assert!(normalise_labels(&many).is_err());
        assert_eq!(
            normalise_labels(&many[..MAX_LABELS]).unwrap().len(),
            MAX_LABELS
        );
    }

    #[test]
    fn shortcuts_allow_only_lowercase_letters_digits_dashes_and_underscores() {
        assert!(check_shortcut("refund-policy_2").is_ok());
        for bad in [
            "",
            "Refund",
            "a b",
            "/x",
            &"a".repeat(MAX_SHORTCUT_CHARS + 1),
        ] {
            assert!(check_shortcut(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn preferences_check_volume_clock_times_and_the_mute_list() {
        assert!(AgentPreferences::default().check().is_ok());
        let mut p = AgentPreferences {
            volume: 101,
            ..Default::default()
        };
        assert!(p.check().is_err());
        p.volume = 100;
        for (start, end, ok) in [
            ("22:00", "07:30", true),
            ("24:00", "07:00", false),
            ("7:00", "08:00", false),
            ("07:60", "08:00", false),
            ("+1:00", "08:00", false),
        ] {
            p.quiet_hours = Some(QuietHours {
                start: start.into(),
                end: end.into(),
                time_zone: "Europe/London".into(),
            });
            assert_eq!(p.check().is_ok(), ok, "{start}-{end}");
        }
        p.quiet_hours = None;
        p.muted_conversations = vec![ConversationId(1); MAX_MUTED_CONVERSATIONS + 1];
        assert!(p.check().is_err());
    }
}
