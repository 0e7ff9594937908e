//! Conversations and their participants.

use natter_core::ids::{AccountId, ConversationId, WebsiteId, WorkspaceId};
use natter_core::model::{
    Account, Conversation, ConversationKind, ConversationStatus, ConversationSummary, Participant,
    ParticipantRole, Visibility,
};
use natter_core::protocol::EventPayload;
use natter_core::time::{Millis, now_millis};
use sqlx::{Any, Row, Transaction};

use crate::error::not_found;
use crate::events::{self, Draft};
use crate::rows::{
    self, conversation_columns, participant_columns, returning_conversation_columns,
    returning_participant_columns,
};
use crate::{Committed, Store, StoreError};

/// A participant to add.
#[derive(Debug, Clone)]
pub struct NewParticipant {
    pub account_id: AccountId,
    pub role: ParticipantRole,
    pub visibility: Visibility,
}

/// A conversation to create, with its first participants.
#[derive(Debug, Clone)]
pub struct NewConversation {
    pub workspace_id: WorkspaceId,
    pub kind: ConversationKind,
    pub subject: Option<String>,
    pub listing: Option<serde_json::Value>,
    /// The website a widget chat comes from.
    pub website_id: Option<WebsiteId>,
    pub participants: Vec<NewParticipant>,
}

/// One page of the caller's conversation list.
#[derive(Debug, Clone)]
pub struct ConversationPage {
    pub items: Vec<ConversationSummary>,
    /// Pass back as `cursor` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Loads a conversation inside a transaction, scoped to the workspace.
pub(crate) async fn conversation_in_tx(
    tx: &mut Transaction<'static, Any>,
    workspace: WorkspaceId,
    id: ConversationId,
) -> Result<Conversation, StoreError> {
    let row = sqlx::query(concat!(
        "select ",
        conversation_columns!(),
        " from conversation c
         where c.conversation_id = $1 and c.workspace_id = $2"
    ))
    .bind(id.0)
    .bind(workspace.0)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| not_found("conversation"))?;
    rows::conversation(&row)
}

/// Loads an account's participation (active or not) inside a transaction.
pub(crate) async fn participant_in_tx(
    tx: &mut Transaction<'static, Any>,
    conversation: ConversationId,
    account: AccountId,
) -> Result<Option<Participant>, StoreError> {
    let row = sqlx::query(concat!(
        "select ",
        participant_columns!(),
        " from participant p
         where p.conversation_id = $1 and p.account_id = $2"
    ))
    .bind(conversation.0)
    .bind(account.0)
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(rows::participant).transpose()
}

/// Inserts a participant, or brings back one who left, with its stream starting at
/// `joined_event_id`.
///
/// Call it after [`events::reserve`], as every change to who is a member must be: the
/// `member_version` triggers (migration 0009) then write that table while the counter is
/// held, and a write before the reserve would take the two in the other order and could
/// deadlock on PostgreSQL with a transaction that has the counter and bumps the same version.
pub(crate) async fn join_in_tx(
    tx: &mut Transaction<'static, Any>,
    conversation: &Conversation,
    new: &NewParticipant,
    joined_event_id: i64,
    now: Millis,
) -> Result<Participant, StoreError> {
    let history_from_seq = match new.visibility {
        Visibility::Full => 1,
        Visibility::SinceJoined => conversation.last_seq + 1,
    };
    let row = sqlx::query(concat!(
        "insert into participant
             (conversation_id, account_id, role, visibility, history_from_seq, joined_event_id,
              joined_at)
         values ($1, $2, $3, $4, $5, $6, $7)
         on conflict (conversation_id, account_id) do update
         set role = excluded.role, visibility = excluded.visibility,
             history_from_seq = excluded.history_from_seq,
             joined_event_id = excluded.joined_event_id, left_event_id = null,
             joined_at = excluded.joined_at, left_at = null
         returning ",
        returning_participant_columns!()
    ))
    .bind(conversation.id.0)
    .bind(new.account_id.0)
    .bind(new.role.as_str())
    .bind(new.visibility.as_str())
    .bind(history_from_seq)
    .bind(joined_event_id)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    rows::participant(&row)
}

/// Fails unless `account` is an active account of `workspace`.
async fn check_account_in_tx(
    tx: &mut Transaction<'static, Any>,
    workspace: WorkspaceId,
    account: AccountId,
) -> Result<(), StoreError> {
    let found: Option<i64> = sqlx::query_scalar(
        "select account_id from account
         where account_id = $1 and workspace_id = $2 and deactivated_at is null",
    )
    .bind(account.0)
    .bind(workspace.0)
    .fetch_optional(&mut **tx)
    .await?;
    found.map(|_| ()).ok_or_else(|| not_found("account"))
}

impl Store {
    /// Creates a conversation with its first participants. Emits `conversation_updated` and
    /// one `participant_joined` per participant.
    pub async fn create_conversation(
        &self,
        new: &NewConversation,
    ) -> Result<Committed<(Conversation, Vec<Participant>)>, StoreError> {
        let now = now_millis();
        let mut tx = self.begin().await?;
        for p in &new.participants {
            check_account_in_tx(&mut tx, new.workspace_id, p.account_id).await?;
        }
        let listing = new
            .listing
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("listing: {e}")))?;
        let row = sqlx::query(concat!(
            "insert into conversation
                 (workspace_id, kind, status, subject, listing, website_id, last_activity_at,
                  created_at, updated_at)
             values ($1, $2, 'open', $3, $4, $6, $5, $5, $5)
             returning ",
            returning_conversation_columns!()
        ))
        .bind(new.workspace_id.0)
        .bind(new.kind.as_str())
        .bind(new.subject.as_deref())
        .bind(listing)
        .bind(now)
        .bind(new.website_id.map(|w| w.0))
        .fetch_one(&mut *tx)
        .await?;
        let conversation = rows::conversation(&row)?;

        let first = events::reserve(&mut tx, 1 + new.participants.len()).await?;
        let mut participants = Vec::with_capacity(new.participants.len());
        for p in &new.participants {
            participants.push(join_in_tx(&mut tx, &conversation, p, first, now).await?);
        }
        let mut drafts = vec![Draft::new(EventPayload::ConversationUpdated {
            conversation: conversation.clone(),
        })];
        drafts.extend(participants.iter().map(|p| {
            Draft::new(EventPayload::ParticipantJoined {
                participant: p.clone(),
            })
        }));
        let members = events::members(&mut tx, self.backend, conversation.id).await?;
        let events = events::append(&mut tx, first, now, &members, drafts).await?;
        tx.commit().await?;
        Ok(Committed {
            value: (conversation, participants),
            events,
        })
    }

    /// A conversation of `workspace` and `account`'s participation in it (`None` if it never
    /// took part). Authorization is the caller's, through `natter_core::policy`.
    pub async fn conversation(
        &self,
        workspace: WorkspaceId,
        id: ConversationId,
        account: AccountId,
    ) -> Result<(Conversation, Option<Participant>), StoreError> {
        // One statement: every read of a conversation (history pages above all) needs the
        // reader's participation with it. The participant's own `conversation_id` is not
        // selected: the conversation's has the same value, and a missing participant (staff
        // who do not take part) would make it null. `p.account_id` is null exactly when
        // there is no participant, since it is part of the primary key.
        let row = sqlx::query(concat!(
            "select ",
            conversation_columns!(),
            ", p.account_id, p.role, p.visibility, p.history_from_seq, p.joined_at, p.left_at,
               p.read_seq, p.delivered_seq
             from conversation c
             left join participant p
               on p.conversation_id = c.conversation_id and p.account_id = $3
             where c.conversation_id = $1 and c.workspace_id = $2"
        ))
        .bind(id.0)
        .bind(workspace.0)
        .bind(account.0)
        .fetch_optional(&self.read)
        .await?
        .ok_or_else(|| not_found("conversation"))?;
        let conversation = rows::conversation(&row)?;
        let participant = match row.try_get::<Option<i64>, _>("account_id")? {
            Some(_) => Some(rows::participant(&row)?),
            None => None,
        };
        Ok((conversation, participant))
    }

    /// The active participants of a conversation.
    pub async fn participants(&self, id: ConversationId) -> Result<Vec<Participant>, StoreError> {
        let rows = sqlx::query(concat!(
            "select ",
            participant_columns!(),
            " from participant p
             where p.conversation_id = $1 and p.left_at is null
             order by p.joined_at, p.account_id"
        ))
        .bind(id.0)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(rows::participant).collect()
    }

    /// The conversations `account` takes part in, newest activity first, with unread counts.
    /// `cursor` is a `next_cursor` from a previous page.
    pub async fn list_conversations(
        &self,
        account: &Account,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<ConversationPage, StoreError> {
        let (activity, id) = match cursor {
            Some(c) => parse_cursor(c)?,
            None => (i64::MAX, i64::MAX),
        };
        // The unread count is a bounded index scan of (conversation_id, seq) after the read
        // cursor; it skips the caller's own messages and what the caller may not see.
        // A literal LIMIT, not a bound one (see `events_after`); `limit` is a `u32`.
        let sql = format!(
            concat!(
                "select ",
                conversation_columns!(),
                ", ",
                participant_columns!(),
                ",
                 (select count(*) from message m
                  where m.conversation_id = c.conversation_id
                    and m.seq > p.read_seq and m.seq >= p.history_from_seq
                    and m.deleted_at is null
                    and (m.kind <> 'note' or $2 = 1)
                    and (m.sender_id is null or m.sender_id <> $1)) as unread
             from participant p
             join conversation c on c.conversation_id = p.conversation_id
             where p.account_id = $1 and p.left_at is null
               and (c.last_activity_at < $3
                    or (c.last_activity_at = $3 and c.conversation_id < $4))
             order by c.last_activity_at desc, c.conversation_id desc
             limit {}"
            ),
            u64::from(limit) + 1
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(account.id.0)
            .bind(i64::from(account.is_staff()))
            .bind(activity)
            .bind(id)
            .fetch_all(&self.read)
            .await?;
        let mut items = rows
            .iter()
            .map(|row| {
                Ok(ConversationSummary {
                    conversation: rows::conversation(row)?,
                    me: rows::participant(row)?,
                    unread: row.try_get("unread")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|s| {
                format!(
                    "{}.{}",
                    s.conversation.last_activity_at, s.conversation.id.0
                )
            })
        } else {
            None
        };
        Ok(ConversationPage { items, next_cursor })
    }

    /// Changes status and/or subject. Emits `conversation_updated`.
    pub async fn update_conversation(
        &self,
        workspace: WorkspaceId,
        id: ConversationId,
        status: Option<ConversationStatus>,
        subject: Option<Option<String>>,
    ) -> Result<Committed<Conversation>, StoreError> {
        let now = now_millis();
        let mut tx = self.begin().await?;
        let current = conversation_in_tx(&mut tx, workspace, id).await?;
        let status = status.unwrap_or(current.status);
        let subject = subject.unwrap_or_else(|| current.subject.clone());
        if status == current.status && subject == current.subject {
            // Nothing changes: no write, no event.
            return Ok(Committed {
                value: current,
                events: vec![],
            });
        }
        let row = sqlx::query(concat!(
            "update conversation set status = $1, subject = $2, updated_at = $3
             where conversation_id = $4
             returning ",
            returning_conversation_columns!()
        ))
        .bind(status.as_str())
        .bind(subject)
        .bind(now)
        .bind(id.0)
        .fetch_one(&mut *tx)
        .await?;
        let conversation = rows::conversation(&row)?;
        // Members after the reserve, as everywhere: a join committing before it is then
        // visible, and one after it comes later in the log.
        let first = events::reserve(&mut tx, 1).await?;
        let members = events::members(&mut tx, self.backend, id).await?;
        let drafts = vec![Draft::new(EventPayload::ConversationUpdated {
            conversation: conversation.clone(),
        })];
        let events = events::append(&mut tx, first, now, &members, drafts).await?;
        tx.commit().await?;
        Ok(Committed {
            value: conversation,
            events,
        })
    }

    /// Adds a participant (or brings back one who left). Adding someone already present
    /// changes nothing and emits nothing. `max_participants` bounds the conversation's size.
    pub async fn add_participant(
        &self,
        workspace: WorkspaceId,
        id: ConversationId,
        new: &NewParticipant,
        max_participants: u32,
    ) -> Result<Committed<Participant>, StoreError> {
        let now = now_millis();
        let mut tx = self.begin().await?;
        let conversation = conversation_in_tx(&mut tx, workspace, id).await?;
        check_account_in_tx(&mut tx, workspace, new.account_id).await?;
        if let Some(existing) = participant_in_tx(&mut tx, id, new.account_id).await?
            && existing.left_at.is_none()
        {
            return Ok(Committed {
                value: existing,
                events: vec![],
            });
        }
        let active: i64 = sqlx::query_scalar(
            "select count(*) from participant where conversation_id = $1 and left_at is null",
        )
        .bind(id.0)
        .fetch_one(&mut *tx)
        .await?;
        if active >= i64::from(max_participants) {
            return Err(crate::error::domain(
                natter_core::ErrorCode::Conflict,
                "the conversation has reached its participant limit",
            ));
        }
        let first = events::reserve(&mut tx, 1).await?;
        let participant = join_in_tx(&mut tx, &conversation, new, first, now).await?;
        let members = events::members(&mut tx, self.backend, id).await?;
        let drafts = vec![Draft::new(EventPayload::ParticipantJoined {
            participant: participant.clone(),
        })];
        let events = events::append(&mut tx, first, now, &members, drafts).await?;
        tx.commit().await?;
        Ok(Committed {
            value: participant,
            events,
        })
    }

    /// Removes an active participant. Emits `participant_left`, which the one who left also
    /// receives (it is the last event of that conversation in its stream).
    pub async fn remove_participant(
        &self,
        workspace: WorkspaceId,
        id: ConversationId,
        account: AccountId,
    ) -> Result<Committed<()>, StoreError> {
        let now = now_millis();
        let mut tx = self.begin().await?;
        conversation_in_tx(&mut tx, workspace, id).await?;
        match participant_in_tx(&mut tx, id, account).await? {
            Some(p) if p.left_at.is_none() => {}
            _ => return Err(not_found("participant")),
        }
        let first = events::reserve(&mut tx, 1).await?;
        sqlx::query(
            "update participant set left_at = $1, left_event_id = $2
             where conversation_id = $3 and account_id = $4",
        )
        .bind(now)
        .bind(first)
        .bind(id.0)
        .bind(account.0)
        .execute(&mut *tx)
        .await?;
        let members = events::members(&mut tx, self.backend, id).await?;
        let mut draft = Draft::new(EventPayload::ParticipantLeft {
            conversation_id: id,
            account_id: account,
            left_at: now,
        });
        draft.also = Some(account);
        let events = events::append(&mut tx, first, now, &members, vec![draft]).await?;
        tx.commit().await?;
        Ok(Committed { value: (), events })
    }
}

pub(crate) fn parse_cursor(cursor: &str) -> Result<(i64, i64), StoreError> {
    let invalid = || {
        StoreError::Domain(natter_core::Error::invalid(
            "cursor is not one this server returned",
        ))
    };
    let (activity, id) = cursor.split_once('.').ok_or_else(invalid)?;
    Ok((
        activity.parse().map_err(|_| invalid())?,
        id.parse().map_err(|_| invalid())?,
    ))
}
