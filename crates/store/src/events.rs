//! The global event log.
//!
//! Every durable event gets an id from `event_counter`, bumped inside the transaction that
//! caused the event. The counter row is a lock (PostgreSQL row lock; SQLite's single
//! writer), so ids are handed out in commit order and a rolled-back transaction gives its ids
//! back: the log has no gaps and "every event after N" read from storage is complete. An
//! account's stream is the part of the log it may see (its conversations, while it was a
//! participant, minus staff-only events for contacts, minus messages before its visible
//! history), so the global id doubles as the account's monotonic event id and resume cursor.
//!
//! Writers touch the counter last, so it is held only for the tail of a transaction, and no
//! two writers can wait on each other in opposite order.
//!
//! Group commit (`crate::committer`) puts many sends in one transaction: it reserves all their
//! ids with one [`reserve`] and writes them with one [`append_batch`], so a batch is one
//! contiguous, gap-free run of ids, in the order the sends were taken from the queue.

use std::collections::HashMap;
use std::sync::Arc;

use natter_core::ids::{AccountId, ConversationId, EventId};
use natter_core::protocol::EventPayload;
use natter_core::time::Millis;
use sqlx::{Any, Row, Transaction};

use crate::lists::{self, Params};
use crate::{Backend, Store, StoreError};

/// Who may see an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Audience {
    All,
    /// Internal notes and what happens to them.
    Staff,
}

impl Audience {
    fn as_str(self) -> &'static str {
        match self {
            Audience::All => "all",
            Audience::Staff => "staff",
        }
    }
}

/// An event about to be appended.
pub(crate) struct Draft {
    pub payload: EventPayload,
    pub audience: Audience,
    /// The seq of the message concerned, for `since_joined` participants.
    pub message_seq: Option<i64>,
    /// Also deliver to this account even though it is no longer a member (the one who left).
    pub also: Option<AccountId>,
}

impl Draft {
    pub fn new(payload: EventPayload) -> Self {
        Self {
            payload,
            audience: Audience::All,
            message_seq: None,
            also: None,
        }
    }
}

/// A member of a conversation, as needed to decide who receives an event.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub account_id: AccountId,
    pub is_staff: bool,
    pub history_from_seq: i64,
    /// The event the member joined with: events before it are not theirs (the replay rule in
    /// [`Store::events_after`]). A batch reads members once, after its joins, so it needs this
    /// to leave someone who joins later in the batch out of the earlier sends.
    pub joined_event_id: i64,
}

impl Member {
    /// Whether this member receives `draft` (given the id it gets): staff-only events go to
    /// staff, and nothing about messages before the member's visible history.
    fn receives(&self, draft: &Draft) -> bool {
        (draft.audience == Audience::All || self.is_staff)
            && draft
                .message_seq
                .is_none_or(|seq| seq >= self.history_from_seq)
    }
}

/// A committed event with the accounts that must receive it live.
#[derive(Debug, Clone)]
pub struct CommittedEvent {
    pub id: EventId,
    pub at: Millis,
    pub conversation_id: ConversationId,
    /// The payload's JSON, serialised once for every recipient.
    pub payload: Arc<str>,
    pub recipients: Vec<AccountId>,
}

/// The result of a write together with the events it committed, in id order.
#[derive(Debug)]
pub struct Committed<T> {
    pub value: T,
    pub events: Vec<CommittedEvent>,
}

/// A stored event read back for replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    pub id: EventId,
    pub at: Millis,
    pub payload: String,
}

/// The state of the log: the newest id and the newest pruned id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub last_event_id: EventId,
    /// Cursors below this were pruned; a client holding one must resync.
    pub pruned_through: EventId,
}

/// Active members of a conversation (inside the writing transaction, so the recipient list
/// matches the committed state).
pub(crate) async fn members(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    conversation_id: ConversationId,
) -> Result<Vec<Member>, StoreError> {
    Ok(members_of(tx, backend, vec![conversation_id])
        .await?
        .remove(&conversation_id)
        .unwrap_or_default())
}

/// Active members of each of `conversations`, in one query (a batch of sends touches many
/// conversations). Call it after [`reserve`]: the counter row is then held, so every
/// participant change that took an id before this batch is committed and visible here, and
/// none can commit until this batch does — the recipients match the replay rules.
///
/// Each conversation's members come back as one aggregated text (`id,staff,from,joined;…`)
/// rather than a row each: a send to a room of 1,000 members read 1,000 rows, and every row
/// is a hand-off from SQLite's worker thread plus a conversion per column — measured as about
/// a tenth of the server's CPU in the 1,000-member fan-out benchmark.
pub(crate) async fn members_of(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    conversations: Vec<ConversationId>,
) -> Result<HashMap<ConversationId, Vec<Member>>, StoreError> {
    let mut out: HashMap<ConversationId, Vec<Member>> = HashMap::new();
    let conversations = lists::pad_with_last(conversations);
    if conversations.is_empty() {
        return Ok(out);
    }
    let aggregate = match backend {
        Backend::Sqlite => "group_concat",
        Backend::Postgres => "string_agg",
    };
    // `in` is a set: the padding's repeats return no conversation twice.
    let sql = format!(
        "select p.conversation_id,
                {aggregate}(p.account_id || ',' || (case when a.kind = 'staff' then 1 else 0 end)
                    || ',' || p.history_from_seq || ',' || p.joined_event_id, ';') as members
         from participant p join account a on a.account_id = p.account_id
         where p.conversation_id in ({}) and p.left_at is null
         group by p.conversation_id",
        Params::new(backend).rows(conversations.len(), 1)
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for id in &conversations {
        query = query.bind(id.0);
    }
    for row in query.fetch_all(&mut **tx).await? {
        let conversation = ConversationId(row.try_get("conversation_id")?);
        let members: String = row.try_get("members")?;
        out.insert(conversation, parse_members(&members)?);
    }
    Ok(out)
}

/// Reads the aggregate of [`members_of`]: `account_id,is_staff,history_from_seq,joined_event_id`
/// per member, members separated by `;`.
fn parse_members(text: &str) -> Result<Vec<Member>, StoreError> {
    let corrupt = || StoreError::Corrupt(format!("member list {text:?}"));
    text.split(';')
        .map(|member| {
            let mut fields = member.split(',').map(|f| f.parse::<i64>());
            let mut next = || fields.next().and_then(Result::ok).ok_or_else(corrupt);
            let parsed = Member {
                account_id: AccountId(next()?),
                is_staff: next()? == 1,
                history_from_seq: next()?,
                joined_event_id: next()?,
            };
            match fields.next() {
                None => Ok(parsed),
                Some(_) => Err(corrupt()),
            }
        })
        .collect()
}

/// Takes `count` ids from the counter; returns the first. Call it as late in the transaction
/// as possible (see the module docs).
pub(crate) async fn reserve(
    tx: &mut Transaction<'static, Any>,
    count: usize,
) -> Result<i64, StoreError> {
    let count = i64::try_from(count).map_err(|_| StoreError::Corrupt("event count".into()))?;
    let last: i64 = sqlx::query_scalar(
        "update event_counter set last_event_id = last_event_id + $1
         where singleton = 1 returning last_event_id",
    )
    .bind(count)
    .fetch_one(&mut **tx)
    .await?;
    Ok(last - count + 1)
}

/// Appends `drafts` with ids from `first` on and computes each one's recipients among
/// `members`.
pub(crate) async fn append(
    tx: &mut Transaction<'static, Any>,
    first: i64,
    at: Millis,
    members: &[Member],
    drafts: Vec<Draft>,
) -> Result<Vec<CommittedEvent>, StoreError> {
    let mut out = Vec::with_capacity(drafts.len());
    for (offset, draft) in (0..).zip(drafts) {
        let id = first + offset;
        let conversation_id = draft.payload.conversation_id();
        let payload = serde_json::to_string(&draft.payload)
            .map_err(|e| StoreError::Corrupt(format!("event payload: {e}")))?;
        sqlx::query(
            "insert into event (event_id, conversation_id, audience, message_seq, payload, created_at)
             values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(conversation_id.0)
        .bind(draft.audience.as_str())
        .bind(draft.message_seq)
        .bind(payload.as_str())
        .bind(at)
        .execute(&mut **tx)
        .await?;
        let mut recipients: Vec<AccountId> = members
            .iter()
            .filter(|m| m.receives(&draft))
            .map(|m| m.account_id)
            .collect();
        if let Some(extra) = draft.also
            && !recipients.contains(&extra)
        {
            recipients.push(extra);
        }
        out.push(CommittedEvent {
            id: EventId(id),
            at,
            conversation_id,
            payload: payload.into(),
            recipients,
        });
    }
    Ok(out)
}

/// Appends the events of a batch of writes, with ids from `first` on, in one statement. Each
/// event's recipients are the members of its conversation in `members` (from
/// [`members_of`], read after the batch's joins) who had joined by that event, with the same
/// audience and visible-history rules as [`append`]. Returns the events in id order.
pub(crate) async fn append_batch(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    first: i64,
    at: Millis,
    members: &crate::members::Lists,
    drafts: Vec<Draft>,
) -> Result<Vec<CommittedEvent>, StoreError> {
    let mut rows: Vec<(Draft, String)> = Vec::with_capacity(drafts.len());
    for draft in drafts {
        let payload = serde_json::to_string(&draft.payload)
            .map_err(|e| StoreError::Corrupt(format!("event payload: {e}")))?;
        rows.push((draft, payload));
    }
    // Padding rows are all nulls; `event_id is not null` leaves them out (see `lists`).
    let width = lists::padded(rows.len());
    let sql = format!(
        "insert into event (event_id, conversation_id, audience, message_seq, payload, created_at)
         select column1, column2, column3, column4, column5, column6
         from (values {}) as v where column1 is not null",
        Params::new(backend).rows(width, 6)
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (id, (draft, payload)) in (first..).zip(&rows) {
        query = query
            .bind(Some(id))
            .bind(Some(draft.payload.conversation_id().0))
            .bind(Some(draft.audience.as_str()))
            .bind(draft.message_seq)
            .bind(Some(payload.as_str()))
            .bind(Some(at));
    }
    for _ in rows.len()..width {
        query = query
            .bind(None::<i64>)
            .bind(None::<i64>)
            .bind(None::<&str>)
            .bind(None::<i64>)
            .bind(None::<&str>)
            .bind(None::<i64>);
    }
    query.execute(&mut **tx).await?;

    let mut out = Vec::with_capacity(rows.len());
    for (id, (draft, payload)) in (first..).zip(rows) {
        let conversation_id = draft.payload.conversation_id();
        let mut recipients: Vec<AccountId> = members
            .get(&conversation_id)
            .map(|list| &**list)
            .unwrap_or_default()
            .iter()
            .filter(|m| m.joined_event_id <= id && m.receives(&draft))
            .map(|m| m.account_id)
            .collect();
        if let Some(extra) = draft.also
            && !recipients.contains(&extra)
        {
            recipients.push(extra);
        }
        out.push(CommittedEvent {
            id: EventId(id),
            at,
            conversation_id,
            payload: payload.into(),
            recipients,
        });
    }
    Ok(out)
}

impl Store {
    /// The newest event id and the pruning floor.
    pub async fn head(&self) -> Result<Head, StoreError> {
        let row = sqlx::query(
            "select last_event_id, pruned_through from event_counter where singleton = 1",
        )
        .fetch_one(&self.read)
        .await?;
        Ok(Head {
            last_event_id: EventId(row.try_get("last_event_id")?),
            pruned_through: EventId(row.try_get("pruned_through")?),
        })
    }

    /// Events after `after` that `account` may see, oldest first, at most `limit`. The same
    /// rules as the live recipient computation in [`append`]: the account's conversations,
    /// from the event it joined with through the event it left with, staff-only events only
    /// for staff, and nothing about messages before its visible history.
    pub async fn events_after(
        &self,
        account: AccountId,
        is_staff: bool,
        after: EventId,
        limit: u32,
    ) -> Result<Vec<EventRecord>, StoreError> {
        // The limit is written into the statement, not bound: SQLite prepares a statement
        // with a bound LIMIT again on every execution (see `Store::history`, where that was
        // measured); it is a `u32`, so only digits reach the SQL, and callers use a constant.
        let sql = format!(
            "select e.event_id, e.created_at, e.payload
             from participant p
             join event e on e.conversation_id = p.conversation_id
             where p.account_id = $1
               and e.event_id > $2
               and e.event_id >= p.joined_event_id
               and (p.left_event_id is null or e.event_id <= p.left_event_id)
               and (e.audience = 'all' or $3 = 1)
               and (e.message_seq is null or e.message_seq >= p.history_from_seq)
             order by e.event_id
             limit {limit}"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(account.0)
            .bind(after.0)
            .bind(i64::from(is_staff))
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(EventRecord {
                    id: EventId(row.try_get("event_id")?),
                    at: row.try_get("created_at")?,
                    payload: row.try_get("payload")?,
                })
            })
            .collect()
    }

    /// Events with ids in `from..=to` (at most `limit`), each with the accounts that should
    /// receive it, computed from the participant table with the same rules as
    /// [`Store::events_after`] (so they match what [`append`] computed at commit). Nodes use
    /// this to fill gaps in the live stream: an event whose publication was lost (a node died
    /// between commit and publish, the bus was down) is delivered from storage instead.
    pub async fn events_between(
        &self,
        from: EventId,
        to: EventId,
        limit: u32,
    ) -> Result<Vec<CommittedEvent>, StoreError> {
        let rows = sqlx::query(
            "select e.event_id, e.created_at, e.conversation_id, e.payload, p.account_id
             from event e
             left join participant p
               on p.conversation_id = e.conversation_id
              and e.event_id >= p.joined_event_id
              and (p.left_event_id is null or e.event_id <= p.left_event_id)
              and (e.message_seq is null or e.message_seq >= p.history_from_seq)
              and (e.audience = 'all'
                   or exists (select 1 from account a
                              where a.account_id = p.account_id and a.kind = 'staff'))
             where e.event_id >= $1 and e.event_id <= $2
             order by e.event_id, p.account_id",
        )
        .bind(from.0)
        .bind(to.0.min(from.0.saturating_add(i64::from(limit)) - 1))
        .fetch_all(&self.read)
        .await?;
        let mut out: Vec<CommittedEvent> = Vec::new();
        for row in &rows {
            let id = EventId(row.try_get("event_id")?);
            let recipient: Option<i64> = row.try_get("account_id")?;
            if out.last().is_none_or(|e| e.id != id) {
                let payload: String = row.try_get("payload")?;
                out.push(CommittedEvent {
                    id,
                    at: row.try_get("created_at")?,
                    conversation_id: ConversationId(row.try_get("conversation_id")?),
                    payload: payload.into(),
                    recipients: Vec::new(),
                });
            }
            if let (Some(event), Some(account)) = (out.last_mut(), recipient) {
                event.recipients.push(AccountId(account));
            }
        }
        Ok(out)
    }

    /// Deletes events created before `before` and raises the pruning floor; returns how many
    /// were deleted. Clients whose cursor falls below the floor are told to resync.
    pub async fn prune_events(&self, before: Millis) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let through: Option<i64> =
            sqlx::query_scalar("select max(event_id) from event where created_at < $1")
                .bind(before)
                .fetch_one(&mut *tx)
                .await?;
        let Some(through) = through else {
            return Ok(0);
        };
        let deleted = sqlx::query("delete from event where event_id <= $1")
            .bind(through)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("update event_counter set pruned_through = $1 where singleton = 1")
            .bind(through)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_aggregated_member_list_reads_back_every_member_and_field() {
        let members = parse_members("7,1,0,12;9,0,40,300").unwrap();
        assert_eq!(members.len(), 2);
        assert_eq!(members[0].account_id, AccountId(7));
        assert!(members[0].is_staff);
        assert_eq!(
            (members[0].history_from_seq, members[0].joined_event_id),
            (0, 12)
        );
        assert_eq!(members[1].account_id, AccountId(9));
        assert!(!members[1].is_staff);
        assert_eq!(
            (members[1].history_from_seq, members[1].joined_event_id),
            (40, 300)
        );
    }

    #[test]
    fn a_malformed_member_list_is_an_error_not_a_wrong_recipient() {
        for bad in ["", "7,1,0", "7,1,0,12,5", "x,1,0,12", "7,1,0,12;"] {
            assert!(parse_members(bad).is_err(), "{bad:?}");
        }
    }
}
