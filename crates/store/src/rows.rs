//! Row → domain record mapping. Column lists live next to the mapping that reads them so the
//! two cannot drift apart.

use natter_core::ids::{AccountId, ConversationId, MessageId, WebsiteId, WorkspaceId};
use natter_core::model::{
    Account, AccountKind, Conversation, ConversationKind, ConversationStatus, IdentityState,
    Message, MessageFormat, MessageKind, Participant, ParticipantRole, Reaction, StaffRole,
    Visibility,
};
use natter_core::time::Millis;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::StoreError;

macro_rules! account_columns {
    () => {
        "account_id, workspace_id, kind, role, identity, \
     external_id, name, email, avatar_url, created_at"
    };
}
pub(crate) use account_columns;

/// `account_columns!` for queries that join `account` as `a`.
macro_rules! a_account_columns {
    () => {
        "a.account_id, a.workspace_id, a.kind, a.role, \
     a.identity, a.external_id, a.name, a.email, a.avatar_url, a.created_at"
    };
}
pub(crate) use a_account_columns;

macro_rules! conversation_columns {
    () => {
        "c.conversation_id, c.workspace_id, c.kind, \
     c.status, c.subject, c.listing, c.website_id, c.last_seq, c.last_activity_at, c.created_at, c.updated_at"
    };
}
pub(crate) use conversation_columns;

/// `conversation_columns!` unqualified, for `returning` (SQLite does not accept aliases there).
macro_rules! returning_conversation_columns {
    () => {
        "conversation_id, workspace_id, kind, status, subject, listing, website_id, last_seq, \
         last_activity_at, created_at, updated_at"
    };
}
pub(crate) use returning_conversation_columns;

/// `participant_columns!` unqualified, for `returning`.
macro_rules! returning_participant_columns {
    () => {
        "conversation_id, account_id, role, visibility, history_from_seq, joined_at, left_at, \
         read_seq, delivered_seq"
    };
}
pub(crate) use returning_participant_columns;

macro_rules! participant_columns {
    () => {
        "p.conversation_id, p.account_id, p.role, \
     p.visibility, p.history_from_seq, p.joined_at, p.left_at, p.read_seq, p.delivered_seq"
    };
}
pub(crate) use participant_columns;

macro_rules! message_columns {
    () => {
        "m.message_id, m.conversation_id, m.seq, m.sender_id, \
     m.kind, m.format, m.body, m.client_msg_id, m.created_at, m.edited_at, m.deleted_at"
    };
}
pub(crate) use message_columns;

fn text_enum<T>(row: &AnyRow, column: &str, parse: fn(&str) -> Option<T>) -> Result<T, StoreError> {
    let text: String = row.try_get(column)?;
    parse(&text).ok_or_else(|| StoreError::Corrupt(format!("{column} = {text:?}")))
}

fn optional_enum<T>(
    row: &AnyRow,
    column: &str,
    parse: fn(&str) -> Option<T>,
) -> Result<Option<T>, StoreError> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|t| parse(&t).ok_or_else(|| StoreError::Corrupt(format!("{column} = {t:?}"))))
        .transpose()
}

pub(crate) fn account(row: &AnyRow) -> Result<Account, StoreError> {
    Ok(Account {
        id: AccountId(row.try_get("account_id")?),
        workspace_id: WorkspaceId(row.try_get("workspace_id")?),
        kind: text_enum(row, "kind", AccountKind::parse)?,
        role: optional_enum(row, "role", StaffRole::parse)?,
        identity: optional_enum(row, "identity", IdentityState::parse)?,
        external_id: row.try_get("external_id")?,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        avatar_url: row.try_get("avatar_url")?,
        created_at: row.try_get("created_at")?,
    })
}

pub(crate) fn conversation(row: &AnyRow) -> Result<Conversation, StoreError> {
    let listing: Option<String> = row.try_get("listing")?;
    let listing = listing
        .map(|text| serde_json::from_str(&text))
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("listing: {e}")))?;
    Ok(Conversation {
        id: ConversationId(row.try_get("conversation_id")?),
        workspace_id: WorkspaceId(row.try_get("workspace_id")?),
        kind: text_enum(row, "kind", ConversationKind::parse)?,
        status: text_enum(row, "status", ConversationStatus::parse)?,
        subject: row.try_get("subject")?,
        listing,
        website_id: row.try_get::<Option<i64>, _>("website_id")?.map(WebsiteId),
        last_seq: row.try_get("last_seq")?,
        last_activity_at: row.try_get("last_activity_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Reads participant columns. Queries that join `conversation` can select both column lists
/// at once: the only shared column, `conversation_id`, holds the same value in each.
pub(crate) fn participant(row: &AnyRow) -> Result<Participant, StoreError> {
    Ok(Participant {
        conversation_id: ConversationId(row.try_get("conversation_id")?),
        account_id: AccountId(row.try_get("account_id")?),
        role: text_enum(row, "role", ParticipantRole::parse)?,
        visibility: text_enum(row, "visibility", Visibility::parse)?,
        history_from_seq: row.try_get("history_from_seq")?,
        joined_at: row.try_get("joined_at")?,
        left_at: row.try_get("left_at")?,
        read_seq: row.try_get("read_seq")?,
        delivered_seq: row.try_get("delivered_seq")?,
    })
}

/// One (message, reaction) row of a history page as the database writes it into JSON:
/// `message_columns!` in order, then the reaction's emoji and account (null without one).
type PageRow<'a> = (
    i64,
    i64,
    i64,
    Option<i64>,
    &'a str,
    &'a str,
    String,
    Option<String>,
    Millis,
    Option<Millis>,
    Option<Millis>,
    Option<String>,
    Option<i64>,
);

/// The messages of a history page read as one JSON array of [`PageRow`]s, in page order,
/// with each message's reaction rows next to each other.
pub(crate) fn messages_from_json(page: &str) -> Result<Vec<Message>, StoreError> {
    let corrupt = |what: String| StoreError::Corrupt(format!("history page: {what}"));
    let rows: Vec<PageRow<'_>> = serde_json::from_str(page).map_err(|e| corrupt(e.to_string()))?;
    let mut messages: Vec<Message> = Vec::with_capacity(rows.len());
    for (
        id,
        conversation,
        seq,
        sender,
        kind,
        format,
        body,
        client_msg_id,
        created_at,
        edited_at,
        deleted_at,
        emoji,
        account,
    ) in rows
    {
        if messages.last().is_none_or(|m| m.id.0 != id) {
            messages.push(Message {
                id: MessageId(id),
                conversation_id: ConversationId(conversation),
                seq,
                sender_id: sender.map(AccountId),
                kind: MessageKind::parse(kind).ok_or_else(|| corrupt(format!("kind {kind:?}")))?,
                format: MessageFormat::parse(format)
                    .ok_or_else(|| corrupt(format!("format {format:?}")))?,
                body,
                client_msg_id,
                created_at,
                edited_at,
                deleted_at,
                reactions: Vec::new(),
            });
        }
        if let (Some(message), Some(emoji), Some(account)) = (messages.last_mut(), emoji, account) {
            message.reactions.push(Reaction {
                emoji,
                account_id: AccountId(account),
            });
        }
    }
    Ok(messages)
}

pub(crate) fn message(row: &AnyRow) -> Result<Message, StoreError> {
    Ok(Message {
        id: MessageId(row.try_get("message_id")?),
        conversation_id: ConversationId(row.try_get("conversation_id")?),
        seq: row.try_get("seq")?,
        sender_id: row.try_get::<Option<i64>, _>("sender_id")?.map(AccountId),
        kind: text_enum(row, "kind", MessageKind::parse)?,
        format: text_enum(row, "format", MessageFormat::parse)?,
        body: row.try_get("body")?,
        client_msg_id: row.try_get("client_msg_id")?,
        created_at: row.try_get("created_at")?,
        edited_at: row.try_get("edited_at")?,
        deleted_at: row.try_get("deleted_at")?,
        reactions: Vec::new(),
    })
}
