//! Group commit for message sends.
//!
//! A send is acknowledged only after it is committed, and a commit is an fsync (SQLite with
//! `synchronous = full`) or a WAL flush (PostgreSQL) plus the statements around it. One
//! transaction per send therefore caps a node at roughly one send per commit, and on
//! PostgreSQL every send also queues on the `event_counter` row lock until its commit. So
//! sends do not commit one by one: [`Store::post_message`] hands each to the node's committer
//! task over a bounded queue and waits for its answer on a oneshot channel. The committer
//! takes everything that is queued (up to [`MAX_BATCH`]) whenever it is free and commits it
//! as one transaction: one read per kind of row, one multi-row insert of the messages,
//! one [`events::reserve`] for all their event ids, one multi-row insert of the events, one
//! commit. There is no timer: a lone send is taken at once, and batches form by themselves
//! from the sends that arrive while the previous commit is in flight.
//!
//! Guarantees are those of one transaction per send:
//! - **Acknowledged means committed.** Every caller of a batch is answered after its commit
//!   (or its failure); a failed transaction acknowledges none of its sends.
//! - **Idempotency.** A `client_msg_id` already stored answers with the stored message; two
//!   sends with the same id in one batch store one message, and the later one answers as a
//!   duplicate of the earlier. A batch locks its conversations before it looks the ids up, so
//!   another node's batch with the same id (ids are per conversation) waits for this one's
//!   commit and then finds the message; the unique index stays the backstop (see below).
//! - **Gap-free, commit-ordered event ids.** A batch takes one contiguous run of ids as late
//!   as possible (after its message rows), in queue order, so per conversation `seq` and event
//!   id grow together. Conversation rows are locked in id order (PostgreSQL) before the
//!   counter, so batches of different nodes cannot deadlock.
//! - **One bad send does not fail the others.** Everything that can refuse a send today (the
//!   conversation is missing or in another workspace, the sender may not read it, the
//!   `client_msg_id` is taken) is decided in memory from three set-based reads at the start of
//!   the batch, with the same checks in the same order as a single send, so a refused send
//!   gets exactly the error it got alone and is simply left out of the writes. Savepoints per
//!   send would give the same isolation, but cost two more round trips per send and rule out
//!   the multi-row statements that make a batch cheap on PostgreSQL. What cannot be decided in
//!   advance — a database error on a write (a value the engine rejects, the unique index hit
//!   by another node's racing retry) — rolls the batch back, and its sends are then committed
//!   one transaction each (the single-send path), so each gets the answer it gets alone.
//!   Errors that say the database is unreachable, and any failure of the commit itself, are
//!   answered to every send of the batch without a retry: a commit that failed on a lost
//!   connection may have happened, and retrying sends without a `client_msg_id` could store
//!   them twice.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use natter_core::ids::{AccountId, ConversationId, MessageId};
use natter_core::model::{
    Account, Conversation, Message, MessageKind, Participant, ParticipantRole, Visibility,
};
use natter_core::policy;
use natter_core::protocol::EventPayload;
use natter_core::time::{Millis, now_millis};
use sqlx::{Any, Row, Transaction};
use tokio::sync::{mpsc, oneshot};

use crate::conversations::{NewParticipant, join_in_tx};
use crate::error::not_found;
use crate::events::{self, Draft};
use crate::lists::{self, Params};
use crate::members::{self, MemberCache};
use crate::messages::{NewMessage, PostOutcome, audience_of, reactions_in_tx};
use crate::rows::{self, conversation_columns, message_columns, participant_columns};
use crate::{Backend, Committed, Store, StoreError};

/// The most sends one transaction carries. At 20,000 sends/s and a commit of a few
/// milliseconds a batch holds around a hundred; the bound keeps one statement's parameters
/// (8 per message row) far below both engines' limits and one batch's latency bounded.
pub(crate) const MAX_BATCH: usize = 256;

/// Sends waiting for the committer. A full queue makes callers wait (backpressure on the
/// connections that send), rather than growing memory without bound.
const QUEUE: usize = 4 * MAX_BATCH;

type Answer = Result<Committed<PostOutcome>, StoreError>;

struct Request {
    sender: Account,
    new: NewMessage,
    reply: oneshot::Sender<Answer>,
}

/// The handle to a store's committer task, shared by every clone of the [`Store`].
#[derive(Clone, Default)]
pub(crate) struct Committer {
    /// Started on the first send (on the runtime of that caller), and again if the task is
    /// gone (its runtime was shut down).
    queue: Arc<Mutex<Option<mpsc::Sender<Request>>>>,
}

impl std::fmt::Debug for Committer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Committer")
    }
}

impl Committer {
    /// Posts through the committer; see the module docs.
    pub(crate) async fn submit(
        &self,
        store: &Store,
        sender: &Account,
        new: &NewMessage,
    ) -> Result<Committed<PostOutcome>, StoreError> {
        let Some(queue) = self.queue(store) else {
            // Outside a Tokio runtime there is no task to hand the send to.
            return store.post_message_alone(sender, new).await;
        };
        let (reply, answer) = oneshot::channel();
        let request = Request {
            sender: sender.clone(),
            new: new.clone(),
            reply,
        };
        if let Err(mpsc::error::SendError(request)) = queue.send(request).await {
            // The task ended between the check and the send (its runtime is shutting down).
            return store
                .post_message_alone(&request.sender, &request.new)
                .await;
        }
        // No answer means the task was stopped mid-batch (runtime shutdown): the send may or
        // may not have committed, exactly as when a connection drops during a commit; the
        // client's retry with its client_msg_id settles it.
        answer
            .await
            .unwrap_or(Err(StoreError::Unavailable(sqlx::Error::WorkerCrashed)))
    }

    fn queue(&self, store: &Store) -> Option<mpsc::Sender<Request>> {
        // Nothing under this lock can panic; a poisoned lock still holds a usable value.
        let mut slot = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(queue) = slot.as_ref().filter(|q| !q.is_closed()) {
            return Some(queue.clone());
        }
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let (queue, requests) = mpsc::channel(QUEUE);
        runtime.spawn(run(store.detached(), requests));
        *slot = Some(queue.clone());
        Some(queue)
    }
}

impl Store {
    /// The same database without the committer handle, for the committer task itself: if the
    /// task held a full clone, the queue's sender inside it would keep the task alive after
    /// every other clone of the store is gone.
    fn detached(&self) -> Store {
        Store {
            write: self.write.clone(),
            read: self.read.clone(),
            backend: self.backend,
            committer: Committer::default(),
            account_changes: std::sync::Arc::clone(&self.account_changes),
        }
    }
}

/// The committer task: one batch at a time, until every sender handle is dropped. One task
/// per node on both engines: SQLite has one writer connection anyway, and on PostgreSQL a
/// second committer (tried, to overlap one batch's round trips with the other's commit) made
/// batches smaller and queued them on the counter row: 5,000 sends/s went from a delivery
/// p99 of 17 ms to 165 ms in the benchmark.
async fn run(store: Store, mut requests: mpsc::Receiver<Request>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut members = MemberCache::default();
    while requests.recv_many(&mut batch, MAX_BATCH).await > 0 {
        // A caller that went away before its send was taken (its connection closed) is not
        // committed, as its own transaction would not have been.
        batch.retain(|r: &Request| !r.reply.is_closed());
        if !batch.is_empty() {
            store
                .commit_batch(std::mem::take(&mut batch), &mut members)
                .await;
            batch.reserve(MAX_BATCH);
        }
    }
}

/// Where a batch failed.
enum Failed {
    /// Before the commit: the transaction is rolled back.
    Before(StoreError),
    /// The commit itself: it may or may not have happened.
    Commit(StoreError),
}

/// What one send of a batch turned out to be.
enum Slot {
    /// Refused (as it would be alone); left out of the writes.
    Refused(StoreError),
    /// Its `client_msg_id` is stored already.
    Stored(Message),
    /// Its `client_msg_id` is the same as that of the earlier send at this index.
    SameAs(usize),
    /// A new message, written by this batch.
    New(Fresh),
}

struct Fresh {
    message: Message,
    /// The sender joins as an agent first (a staff reply from the queue).
    joins: bool,
    /// The events of this send, in the batch's event list.
    events: usize,
}

impl Store {
    /// Commits a batch and answers every caller.
    async fn commit_batch(&self, batch: Vec<Request>, members: &mut MemberCache) {
        let (sends, replies): (Vec<(Account, NewMessage)>, Vec<oneshot::Sender<Answer>>) = batch
            .into_iter()
            .map(|r| ((r.sender, r.new), r.reply))
            .unzip();
        let outcome = self.post_batch(&sends, members).await;
        if outcome.is_err() {
            // See `MemberCache::clear`: a failure may be a failover.
            members.clear();
        }
        let answers = match outcome {
            Ok(answers) => answers,
            Err(Failed::Before(e @ StoreError::Database(_))) => {
                tracing::warn!(error = %e, sends = sends.len(),
                    "a batch of sends was rolled back; committing them one by one");
                let mut answers = Vec::with_capacity(sends.len());
                for (sender, new) in &sends {
                    answers.push(self.post_message_alone(sender, new).await);
                }
                answers
            }
            Err(Failed::Before(e) | Failed::Commit(e)) => {
                tracing::warn!(error = %e, sends = sends.len(), "a batch of sends failed");
                sends.iter().map(|_| Err(replicate(&e))).collect()
            }
        };
        for (reply, answer) in replies.into_iter().zip(answers) {
            // A caller that stopped waiting has nobody to tell; its send stands (if it
            // committed, its events reach the fan-out through the log's catch-up).
            let _ = reply.send(answer);
        }
    }

    /// Runs a batch in one transaction; returns one answer per send, in order.
    async fn post_batch(
        &self,
        sends: &[(Account, NewMessage)],
        members: &mut MemberCache,
    ) -> Result<Vec<Answer>, Failed> {
        let now = now_millis();
        let mut tx = self.begin().await.map_err(Failed::Before)?;
        let (slots, events, read) = self
            .write_batch(&mut tx, sends, now, members)
            .await
            .map_err(Failed::Before)?;
        if slots.iter().any(|s| matches!(s, Slot::New(_))) {
            tx.commit()
                .await
                .map_err(|e| Failed::Commit(StoreError::from(e)))?;
            if let Some(read) = read {
                members.keep(read);
            }
        } else {
            // Nothing was written: the answers come from committed rows, and rolling back
            // spares PostgreSQL the commit record its row locks would need.
            let _ = tx.rollback().await;
        }
        Ok(answers(slots, events))
    }

    /// Decides every send and writes the new ones; returns the slots, the batch's events in id
    /// order, and the member lists it read (to keep once the batch commits).
    async fn write_batch(
        &self,
        tx: &mut Transaction<'static, Any>,
        sends: &[(Account, NewMessage)],
        now: Millis,
        members: &MemberCache,
    ) -> Result<
        (
            Vec<Slot>,
            Vec<events::CommittedEvent>,
            Option<members::Read>,
        ),
        StoreError,
    > {
        let conversations = self.lock_conversations(tx, sends).await?;
        let in_workspace = |sender: &Account, new: &NewMessage| {
            conversations
                .get(&new.conversation_id)
                .filter(|c| c.workspace_id == sender.workspace_id)
        };
        let pairs: Vec<(ConversationId, AccountId)> = sends
            .iter()
            .filter(|(sender, new)| in_workspace(sender, new).is_some())
            .map(|(sender, new)| (new.conversation_id, sender.id))
            .collect();
        let participants = participants(tx, self.backend, pairs).await?;
        let keys: Vec<(ConversationId, AccountId, &str)> = sends
            .iter()
            .filter(|(sender, new)| {
                in_workspace(sender, new).is_some()
                    && policy::may_read(sender, participants.get(&(new.conversation_id, sender.id)))
            })
            .filter_map(|(sender, new)| {
                Some((
                    new.conversation_id,
                    sender.id,
                    new.client_msg_id.as_deref()?,
                ))
            })
            .collect();
        let stored = stored_by_client_id(tx, self.backend, keys).await?;

        // The checks of a single send, in its order, for each send in queue order.
        let mut slots = Vec::with_capacity(sends.len());
        let mut first_with_key: HashMap<(ConversationId, AccountId, &str), usize> = HashMap::new();
        let mut last_seq: HashMap<ConversationId, i64> = HashMap::new();
        let mut joined: HashSet<(ConversationId, AccountId)> = HashSet::new();
        let mut event_count = 0;
        for (index, (sender, new)) in sends.iter().enumerate() {
            let Some(conversation) = in_workspace(sender, new) else {
                slots.push(Slot::Refused(not_found("conversation")));
                continue;
            };
            let participant = participants.get(&(conversation.id, sender.id));
            if !policy::may_read(sender, participant) {
                slots.push(Slot::Refused(not_found("conversation")));
                continue;
            }
            if let Some(key) = new.client_msg_id.as_deref() {
                if let Some(message) = stored.get(&(conversation.id, sender.id, key)) {
                    let mut message = message.clone();
                    message.reactions = reactions_in_tx(tx, message.id).await?;
                    slots.push(Slot::Stored(message));
                    continue;
                }
                match first_with_key.entry((conversation.id, sender.id, key)) {
                    Entry::Occupied(first) => {
                        slots.push(Slot::SameAs(*first.get()));
                        continue;
                    }
                    Entry::Vacant(slot) => {
                        slot.insert(index);
                    }
                }
            }
            let seq = last_seq
                .entry(conversation.id)
                .or_insert(conversation.last_seq);
            *seq += 1;
            // Staff join by replying (once); an internal note does not make them a
            // participant (the join would be visible to the contact).
            let joins = new.kind != MessageKind::Note
                && participant.is_none_or(|p| p.left_at.is_some())
                && joined.insert((conversation.id, sender.id));
            let events = 1 + usize::from(joins);
            event_count += events;
            slots.push(Slot::New(Fresh {
                message: Message {
                    id: MessageId(0),
                    conversation_id: conversation.id,
                    seq: *seq,
                    sender_id: Some(sender.id),
                    kind: new.kind,
                    format: new.format,
                    body: new.body.clone(),
                    client_msg_id: new.client_msg_id.clone(),
                    created_at: now,
                    edited_at: None,
                    deleted_at: None,
                    reactions: vec![],
                },
                joins,
                events,
            }));
        }
        if event_count == 0 {
            return Ok((slots, vec![], None));
        }

        advance_conversations(tx, self.backend, &last_seq, now).await?;
        insert_messages(tx, self.backend, &mut slots).await?;

        // The counter row is taken last (see `events`), once for the whole batch.
        let first = events::reserve(tx, event_count).await?;
        let mut drafts = Vec::with_capacity(event_count);
        for slot in &slots {
            let Slot::New(fresh) = slot else { continue };
            let message = &fresh.message;
            if fresh.joins
                && let (Some(sender), Some(conversation)) = (
                    message.sender_id,
                    conversations.get(&message.conversation_id),
                )
            {
                let joined = NewParticipant {
                    account_id: sender,
                    role: ParticipantRole::Agent,
                    visibility: Visibility::Full,
                };
                let joined_event_id = first + i64::try_from(drafts.len()).unwrap_or(i64::MAX);
                let participant =
                    join_in_tx(tx, conversation, &joined, joined_event_id, now).await?;
                drafts.push(Draft::new(EventPayload::ParticipantJoined { participant }));
            }
            drafts.push(Draft {
                audience: audience_of(message.kind),
                message_seq: Some(message.seq),
                ..Draft::new(EventPayload::MessageCreated {
                    message: message.clone(),
                })
            });
        }
        let written: Vec<ConversationId> = last_seq.keys().copied().collect();
        let read = members.members_of(tx, self.backend, written).await?;
        let events =
            events::append_batch(tx, self.backend, first, now, &read.lists, drafts).await?;
        Ok((slots, events, Some(read)))
    }

    /// Loads the batch's conversations; on PostgreSQL also locks them, in id order, so that
    /// batches of different nodes touching the same conversations queue instead of
    /// deadlocking, and the `last_seq` read here is the one this batch advances.
    async fn lock_conversations(
        &self,
        tx: &mut Transaction<'static, Any>,
        sends: &[(Account, NewMessage)],
    ) -> Result<HashMap<ConversationId, Conversation>, StoreError> {
        let mut ids: Vec<ConversationId> = sends.iter().map(|(_, n)| n.conversation_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let ids = lists::pad_with_last(ids);
        let lock = match self.backend {
            // The lock an `update` of `last_seq` takes anyway, taken up front. Not `for
            // update`: that would also block the foreign-key checks (`for key share`) of
            // transactions that insert rows about the conversation, and one of those holding
            // the counter row would deadlock with this batch.
            Backend::Postgres => " for no key update",
            // One writer: the transaction already excludes every other write.
            Backend::Sqlite => "",
        };
        let sql = format!(
            concat!(
                "select ",
                conversation_columns!(),
                " from conversation c where c.conversation_id in ({})
                 order by c.conversation_id{}"
            ),
            Params::new(self.backend).rows(ids.len(), 1),
            lock
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in &ids {
            query = query.bind(id.0);
        }
        query
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|row| rows::conversation(row).map(|c| (c.id, c)))
            .collect()
    }
}

/// The participation of each (conversation, sender) pair, active or not.
async fn participants(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    mut pairs: Vec<(ConversationId, AccountId)>,
) -> Result<HashMap<(ConversationId, AccountId), Participant>, StoreError> {
    pairs.sort_unstable();
    pairs.dedup();
    let pairs = lists::pad_with_last(pairs);
    if pairs.is_empty() {
        return Ok(HashMap::new());
    }
    let list = Params::new(backend).rows(pairs.len(), 2);
    let sql = match backend {
        // See `stored_by_client_id` for why the two engines get different joins.
        Backend::Sqlite => format!(
            concat!(
                "select ",
                participant_columns!(),
                " from (values {}) as v cross join participant p
                 where p.conversation_id = v.column1 and p.account_id = v.column2"
            ),
            list
        ),
        Backend::Postgres => format!(
            concat!(
                "select ",
                participant_columns!(),
                " from (values {}) as v cross join lateral
                   (select * from participant
                    where conversation_id = v.column1 and account_id = v.column2 limit 1) p"
            ),
            list
        ),
    };
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (conversation, account) in &pairs {
        query = query.bind(conversation.0).bind(account.0);
    }
    // A padded pair repeats a row; the map keeps one.
    query
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|row| rows::participant(row).map(|p| ((p.conversation_id, p.account_id), p)))
        .collect()
}

/// The stored messages with the given (conversation, sender, `client_msg_id`) keys.
async fn stored_by_client_id<'a>(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    mut keys: Vec<(ConversationId, AccountId, &'a str)>,
) -> Result<HashMap<(ConversationId, AccountId, &'a str), Message>, StoreError> {
    keys.sort_unstable();
    keys.dedup();
    let keys = lists::pad_with_last(keys);
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    // Each key must be one probe of the partial unique index (whose predicate `client_msg_id
    // is not null` is repeated so that the engines may use it), whatever the size of the
    // table: a scan would grow with the message table. SQLite loops over the list of a `cross
    // join` first, in the order written. PostgreSQL reuses the plan of a prepared statement,
    // and one made while the table was small is a hash join over a scan of the whole table
    // (seen in the benchmark: thousands of scans a minute, until autovacuum analysed the
    // table); a `lateral` subquery with `limit` cannot be turned into that join, so it stays
    // a loop of index probes.
    let list = Params::new(backend).rows(keys.len(), 3);
    let sql = match backend {
        Backend::Sqlite => format!(
            concat!(
                "select ",
                message_columns!(),
                " from (values {}) as v cross join message m
                 where m.conversation_id = v.column1 and m.sender_id = v.column2
                   and m.client_msg_id = v.column3 and m.client_msg_id is not null"
            ),
            list
        ),
        Backend::Postgres => format!(
            concat!(
                "select ",
                message_columns!(),
                " from (values {}) as v cross join lateral
                   (select * from message
                    where conversation_id = v.column1 and sender_id = v.column2
                      and client_msg_id = v.column3 and client_msg_id is not null
                    limit 1) m"
            ),
            list
        ),
    };
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (conversation, sender, key) in &keys {
        query = query.bind(conversation.0).bind(sender.0).bind(*key);
    }
    let rows = query.fetch_all(&mut **tx).await?;
    let mut out = HashMap::with_capacity(rows.len());
    for row in &rows {
        let message = rows::message(row)?;
        // Map the row back to the borrowed key it answers.
        if let (Some(sender), Some(stored_key)) =
            (message.sender_id, message.client_msg_id.as_deref())
            && let Some(key) = keys
                .iter()
                .find(|(c, s, k)| *c == message.conversation_id && *s == sender && *k == stored_key)
        {
            out.insert(*key, message);
        }
    }
    Ok(out)
}

/// Moves each written conversation's `last_seq` to the batch's last seq, in one statement.
/// A `case` over primary-key lookups rather than `update … from (values …)`, whose join order
/// SQLite may turn into a scan of the conversation table.
async fn advance_conversations(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    last_seq: &HashMap<ConversationId, i64>,
    now: Millis,
) -> Result<(), StoreError> {
    let mut pairs: Vec<(ConversationId, i64)> = last_seq.iter().map(|(c, s)| (*c, *s)).collect();
    pairs.sort_unstable();
    let pairs = lists::pad_with_last(pairs);
    let mut params = Params::new(backend);
    let mut cases = String::with_capacity(pairs.len() * 16);
    for _ in &pairs {
        cases.push_str(&format!(" when {} then {}", params.one(), params.one()));
    }
    let (activity, updated) = (params.one(), params.one());
    let ids = params.rows(pairs.len(), 1);
    let sql = format!(
        "update conversation
         set last_seq = case conversation_id{cases} end,
             last_activity_at = {activity}, updated_at = {updated}
         where conversation_id in ({ids})"
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (conversation, seq) in &pairs {
        query = query.bind(conversation.0).bind(*seq);
    }
    query = query.bind(now).bind(now);
    for (conversation, _) in &pairs {
        query = query.bind(conversation.0);
    }
    query.execute(&mut **tx).await?;
    Ok(())
}

/// Inserts the new messages of a batch in one statement and fills in their ids.
async fn insert_messages(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    slots: &mut [Slot],
) -> Result<(), StoreError> {
    let fresh: Vec<&Message> = slots
        .iter()
        .filter_map(|s| match s {
            Slot::New(fresh) => Some(&fresh.message),
            _ => None,
        })
        .collect();
    // Padding rows are all nulls; `conversation_id is not null` leaves them out (see `lists`).
    let width = lists::padded(fresh.len());
    let sql = format!(
        "insert into message
             (conversation_id, seq, sender_id, kind, format, body, client_msg_id, created_at)
         select column1, column2, column3, column4, column5, column6, column7, column8
         from (values {}) as v where column1 is not null
         returning message_id, conversation_id, seq",
        Params::new(backend).rows(width, 8)
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for message in &fresh {
        query = query
            .bind(Some(message.conversation_id.0))
            .bind(Some(message.seq))
            .bind(message.sender_id.map(|s| s.0))
            .bind(Some(message.kind.as_str()))
            .bind(Some(message.format.as_str()))
            .bind(Some(message.body.as_str()))
            .bind(message.client_msg_id.as_deref())
            .bind(Some(message.created_at));
    }
    for _ in fresh.len()..width {
        query = query
            .bind(None::<i64>)
            .bind(None::<i64>)
            .bind(None::<i64>)
            .bind(None::<&str>)
            .bind(None::<&str>)
            .bind(None::<&str>)
            .bind(None::<&str>)
            .bind(None::<i64>);
    }
    let rows = query.fetch_all(&mut **tx).await?;
    // Neither engine promises that `returning` follows the order of the rows; (conversation,
    // seq) is unique.
    let mut ids: HashMap<(i64, i64), i64> = HashMap::with_capacity(rows.len());
    for row in &rows {
        ids.insert(
            (row.try_get("conversation_id")?, row.try_get("seq")?),
            row.try_get("message_id")?,
        );
    }
    for slot in slots {
        if let Slot::New(fresh) = slot {
            let key = (fresh.message.conversation_id.0, fresh.message.seq);
            let id = ids.get(&key).ok_or_else(|| {
                StoreError::Corrupt(format!("no id returned for message {key:?}"))
            })?;
            fresh.message.id = MessageId(*id);
        }
    }
    Ok(())
}

/// One answer per slot, in order, after the commit.
fn answers(slots: Vec<Slot>, events: Vec<events::CommittedEvent>) -> Vec<Answer> {
    let mut events = events.into_iter();
    let mut written: Vec<Option<Message>> = Vec::with_capacity(slots.len());
    let mut answers = Vec::with_capacity(slots.len());
    for slot in slots {
        let (answer, message) = match slot {
            Slot::Refused(e) => (Err(e), None),
            Slot::Stored(message) => (Ok(duplicate(message)), None),
            Slot::SameAs(first) => match written.get(first).cloned().flatten() {
                Some(message) => (Ok(duplicate(message)), None),
                None => (
                    Err(StoreError::Corrupt(
                        "a duplicate send refers to no new message".into(),
                    )),
                    None,
                ),
            },
            Slot::New(fresh) => {
                let answer = Committed {
                    value: PostOutcome {
                        message: fresh.message.clone(),
                        duplicate: false,
                    },
                    events: events.by_ref().take(fresh.events).collect(),
                };
                (Ok(answer), Some(fresh.message))
            }
        };
        answers.push(answer);
        written.push(message);
    }
    answers
}

fn duplicate(message: Message) -> Committed<PostOutcome> {
    Committed {
        value: PostOutcome {
            message,
            duplicate: true,
        },
        events: vec![],
    }
}

/// The same error for another send of a failed batch (the driver's error is not `Clone`;
/// its text is kept for the logs, its kind for the status shown).
fn replicate(e: &StoreError) -> StoreError {
    match e {
        StoreError::Domain(e) => StoreError::Domain(e.clone()),
        StoreError::Unavailable(e) => {
            StoreError::Unavailable(sqlx::Error::Io(std::io::Error::other(e.to_string())))
        }
        StoreError::Database(e) => StoreError::Database(sqlx::Error::Protocol(e.to_string())),
        StoreError::Corrupt(text) => StoreError::Corrupt(text.clone()),
    }
}
