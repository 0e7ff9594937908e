//! Messages, reactions and read/delivered cursors.

use natter_core::ids::{ConversationId, MessageId};
use natter_core::model::{
    Account, Message, MessageFormat, MessageKind, Participant, ParticipantRole, Reaction,
    Visibility,
};
use natter_core::policy;
use natter_core::protocol::EventPayload;
use natter_core::time::{Millis, now_millis};
use natter_core::{Error, ErrorCode};
use sqlx::{Any, Row, Transaction};

use crate::conversations::{NewParticipant, conversation_in_tx, join_in_tx, participant_in_tx};
use crate::error::{domain, not_found};
use crate::events::{self, Audience, Draft};
use crate::rows::{self, message_columns};
use crate::{Backend, Committed, Store, StoreError};

/// A message to post.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub conversation_id: ConversationId,
    pub client_msg_id: Option<String>,
    pub kind: MessageKind,
    pub format: MessageFormat,
    pub body: String,
}

/// What a post did.
#[derive(Debug, Clone)]
pub struct PostOutcome {
    pub message: Message,
    /// True when the `client_msg_id` was already stored: nothing was written.
    pub duplicate: bool,
}

/// Which slice of history to read.
#[derive(Debug, Clone, Copy)]
pub struct HistoryQuery {
    /// Messages with `seq` below this (newest first internally, returned oldest first).
    pub before: Option<i64>,
    /// Messages with `seq` above this, oldest first. Ignored when `before` is set.
    pub after: Option<i64>,
    pub limit: u32,
}

/// Which cursor to move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    Read,
    Delivered,
}

pub(crate) fn audience_of(kind: MessageKind) -> Audience {
    if kind == MessageKind::Note {
        Audience::Staff
    } else {
        Audience::All
    }
}

/// Loads a message of a conversation of the account's workspace, with the account's
/// participation, and applies the read policy: what the account may not see is "not found".
async fn visible_message_in_tx(
    tx: &mut Transaction<'static, Any>,
    account: &Account,
    conversation_id: ConversationId,
    message_id: MessageId,
) -> Result<(Message, Option<Participant>), StoreError> {
    conversation_in_tx(tx, account.workspace_id, conversation_id).await?;
    let participant = participant_in_tx(tx, conversation_id, account.id).await?;
    if !policy::may_read(account, participant.as_ref()) {
        return Err(not_found("conversation"));
    }
    let row = sqlx::query(concat!(
        "select ",
        message_columns!(),
        " from message m
         where m.message_id = $1 and m.conversation_id = $2"
    ))
    .bind(message_id.0)
    .bind(conversation_id.0)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| not_found("message"))?;
    let mut message = rows::message(&row)?;
    if !policy::may_see_message(account, participant.as_ref(), &message) {
        return Err(not_found("message"));
    }
    message.reactions = reactions_in_tx(tx, message.id).await?;
    Ok((message, participant))
}

pub(crate) async fn reactions_in_tx(
    tx: &mut Transaction<'static, Any>,
    message: MessageId,
) -> Result<Vec<Reaction>, StoreError> {
    let rows = sqlx::query(
        "select emoji, account_id from reaction where message_id = $1
         order by created_at, account_id, emoji",
    )
    .bind(message.0)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Reaction {
                emoji: r.try_get("emoji")?,
                account_id: natter_core::AccountId(r.try_get("account_id")?),
            })
        })
        .collect()
}

impl Store {
    /// Posts a message. Idempotent on (`sender`, `client_msg_id`): a retry returns the stored
    /// message with `duplicate: true` and emits nothing. A staff member who is not yet a
    /// participant joins as an agent first (the support desk's "reply from the queue"),
    /// except for internal notes.
    /// Authorization of the message kind is the caller's (`policy::may_post_kind`).
    ///
    /// Sends are group-committed: this waits for the node's committer to commit the send
    /// together with the others queued at that moment (see `committer`). The answer is the
    /// same as if the send had its own transaction, and comes after the commit.
    pub async fn post_message(
        &self,
        sender: &Account,
        new: &NewMessage,
    ) -> Result<Committed<PostOutcome>, StoreError> {
        self.committer.submit(self, sender, new).await
    }

    /// Posts a message in a transaction of its own: the committer's path for the sends of a
    /// batch that the database refused, so that each gets the answer it gets alone.
    pub(crate) async fn post_message_alone(
        &self,
        sender: &Account,
        new: &NewMessage,
    ) -> Result<Committed<PostOutcome>, StoreError> {
        match self.try_post_message(sender, new).await {
            // Two nodes racing on the same client_msg_id: the loser's insert hits the unique
            // index after the winner committed; answer with the winner's message.
            Err(e) if e.violates("message_client_msg_id_key") => {
                let message = self
                    .message_by_client_id(sender, new)
                    .await?
                    .ok_or_else(|| StoreError::Corrupt("client_msg_id vanished".into()))?;
                Ok(Committed {
                    value: PostOutcome {
                        message,
                        duplicate: true,
                    },
                    events: vec![],
                })
            }
            other => other,
        }
    }

    async fn message_by_client_id(
        &self,
        sender: &Account,
        new: &NewMessage,
    ) -> Result<Option<Message>, StoreError> {
        let row = sqlx::query(concat!(
            "select ",
            message_columns!(),
            " from message m
             where m.conversation_id = $1 and m.sender_id = $2 and m.client_msg_id = $3"
        ))
        .bind(new.conversation_id.0)
        .bind(sender.id.0)
        .bind(new.client_msg_id.as_deref())
        .fetch_optional(&self.write)
        .await?;
        row.as_ref().map(rows::message).transpose()
    }

    async fn try_post_message(
        &self,
        sender: &Account,
        new: &NewMessage,
    ) -> Result<Committed<PostOutcome>, StoreError> {
        let now = now_millis();
        let mut tx = self.begin().await?;
        let conversation =
            conversation_in_tx(&mut tx, sender.workspace_id, new.conversation_id).await?;
        let participant = participant_in_tx(&mut tx, conversation.id, sender.id).await?;
        if !policy::may_read(sender, participant.as_ref()) {
            return Err(not_found("conversation"));
        }
        if let Some(client_msg_id) = new.client_msg_id.as_deref() {
            let existing = sqlx::query(concat!(
                "select ",
                message_columns!(),
                " from message m
                 where m.conversation_id = $1 and m.sender_id = $2 and m.client_msg_id = $3"
            ))
            .bind(conversation.id.0)
            .bind(sender.id.0)
            .bind(client_msg_id)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(row) = existing {
                let mut message = rows::message(&row)?;
                message.reactions = reactions_in_tx(&mut tx, message.id).await?;
                return Ok(Committed {
                    value: PostOutcome {
                        message,
                        duplicate: true,
                    },
                    events: vec![],
                });
            }
        }
        let seq: i64 = sqlx::query_scalar(
            "update conversation set last_seq = last_seq + 1, last_activity_at = $1,
                 updated_at = $1
             where conversation_id = $2 returning last_seq",
        )
        .bind(now)
        .bind(conversation.id.0)
        .fetch_one(&mut *tx)
        .await?;
        let message_id: i64 = sqlx::query_scalar(
            "insert into message
                 (conversation_id, seq, sender_id, kind, format, body, client_msg_id, created_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8)
             returning message_id",
        )
        .bind(conversation.id.0)
        .bind(seq)
        .bind(sender.id.0)
        .bind(new.kind.as_str())
        .bind(new.format.as_str())
        .bind(new.body.as_str())
        .bind(new.client_msg_id.as_deref())
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let message = Message {
            id: MessageId(message_id),
            conversation_id: conversation.id,
            seq,
            sender_id: Some(sender.id),
            kind: new.kind,
            format: new.format,
            body: new.body.clone(),
            client_msg_id: new.client_msg_id.clone(),
            created_at: now,
            edited_at: None,
            deleted_at: None,
            reactions: vec![],
        };

        // Staff join by replying; an internal note does not make them a participant (the
        // join would be visible to the contact).
        let joins = new.kind != MessageKind::Note
            && participant.as_ref().is_none_or(|p| p.left_at.is_some());
        let first = events::reserve(&mut tx, if joins { 2 } else { 1 }).await?;
        let mut drafts = Vec::with_capacity(2);
        if joins {
            let joined = NewParticipant {
                account_id: sender.id,
                role: ParticipantRole::Agent,
                visibility: Visibility::Full,
            };
            let participant = join_in_tx(&mut tx, &conversation, &joined, first, now).await?;
            drafts.push(Draft::new(EventPayload::ParticipantJoined { participant }));
        }
        drafts.push(Draft {
            audience: audience_of(message.kind),
            message_seq: Some(seq),
            ..Draft::new(EventPayload::MessageCreated {
                message: message.clone(),
            })
        });
        let members = events::members(&mut tx, self.backend, conversation.id).await?;
        let events = events::append(&mut tx, first, now, &members, drafts).await?;
        tx.commit().await?;
        Ok(Committed {
            value: PostOutcome {
                message,
                duplicate: false,
            },
            events,
        })
    }

    /// A page of history as `viewer` may see it, oldest first. `participant` is the viewer's
    /// participation, already checked with `policy::may_read`.
    pub async fn history(
        &self,
        viewer: &Account,
        participant: Option<&Participant>,
        conversation_id: ConversationId,
        query: HistoryQuery,
    ) -> Result<Vec<Message>, StoreError> {
        let from_seq = participant.map_or(1, |p| p.history_from_seq);
        let staff = i64::from(viewer.is_staff());
        // One statement per page: the page (newest first below `before`, or oldest first
        // above `after`, then limited) joined with its reactions, oldest first. A page
        // without reactions costs no second round trip, and one with them no second scan.
        //
        // The page comes back as one row: a JSON array with an array per (message, reaction)
        // row, built by the database. Read as 50 rows, every column of every row was copied
        // out of SQLite, converted into sqlx's `Any` value and handed over from SQLite's
        // worker thread one row at a time: about 40% of the instructions of a history
        // request on SQLite (callgrind; see docs/benchmarks.md).
        //
        // The limit is written into the statement, not bound: the bundled SQLite (3.51) reads
        // a bound LIMIT while planning and marks the statement to be prepared again whenever
        // that parameter is bound, so a bound limit cost a full parse and plan on every page
        // (measured: 14% of the instructions of a history request). It is a `u32` checked by
        // the caller, so nothing but digits reaches the SQL; each distinct limit is one more
        // statement in the connection's statement cache, which evicts the least used.
        let (seq_bound, order, seq) = match (query.before, query.after) {
            (Some(before), _) => ("seq < $2", "desc", before),
            (None, after) => ("seq > $2", "asc", after.unwrap_or(0)),
        };
        let (aggregate, array) = match self.backend {
            Backend::Sqlite => ("json_group_array", "json_array"),
            Backend::Postgres => ("json_agg", "json_build_array"),
        };
        let sql = format!(
            concat!(
                "select coalesce(cast({aggregate}({array}(",
                message_columns!(),
                ", r.emoji, r.account_id)
                   order by m.seq, r.created_at, r.account_id, r.emoji) as text), '[]')
                 from (select * from message
                       where conversation_id = $1 and {seq_bound} and seq >= $3
                         and (kind <> 'note' or $4 = 1)
                       order by seq {order} limit {limit}) m
                 left join reaction r on r.message_id = m.message_id"
            ),
            aggregate = aggregate,
            array = array,
            seq_bound = seq_bound,
            order = order,
            limit = query.limit,
        );
        let page: String = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(conversation_id.0)
            .bind(seq)
            .bind(from_seq)
            .bind(staff)
            .fetch_one(&self.read)
            .await?;
        rows::messages_from_json(&page)
    }

    /// Replaces the body of the editor's own message. Emits `message_edited`.
    pub async fn edit_message(
        &self,
        editor: &Account,
        conversation_id: ConversationId,
        message_id: MessageId,
        body: &str,
    ) -> Result<Committed<Message>, StoreError> {
        let now = now_millis();
        let mut tx = self.begin().await?;
        let (mut message, _) =
            visible_message_in_tx(&mut tx, editor, conversation_id, message_id).await?;
        if message.sender_id != Some(editor.id) {
            return Err(domain(
                ErrorCode::Forbidden,
                "you can only edit your own messages",
            ));
        }
        if message.deleted_at.is_some() {
            return Err(domain(ErrorCode::Conflict, "the message was deleted"));
        }
        sqlx::query("update message set body = $1, edited_at = $2 where message_id = $3")
            .bind(body)
            .bind(now)
            .bind(message_id.0)
            .execute(&mut *tx)
            .await?;
        message.body = body.to_string();
        message.edited_at = Some(now);
        let draft = Draft {
            audience: audience_of(message.kind),
            message_seq: Some(message.seq),
            ..Draft::new(EventPayload::MessageEdited {
                message: message.clone(),
            })
        };
        let events = self.finish(tx, conversation_id, now, vec![draft]).await?;
        Ok(Committed {
            value: message,
            events,
        })
    }

    /// Deletes a message, leaving a tombstone (empty body, `deleted_at`). Senders delete
    /// their own messages; owners and admins may delete any (moderation). Emits
    /// `message_deleted`.
    pub async fn delete_message(
        &self,
        actor: &Account,
        conversation_id: ConversationId,
        message_id: MessageId,
    ) -> Result<Committed<()>, StoreError> {
        let now = now_millis();
        let mut tx = self.begin().await?;
        let (message, _) =
            visible_message_in_tx(&mut tx, actor, conversation_id, message_id).await?;
        policy::may_delete_message(actor, &message)?;
        if message.deleted_at.is_some() {
            return Ok(Committed {
                value: (),
                events: vec![],
            });
        }
        sqlx::query("update message set body = '', deleted_at = $1 where message_id = $2")
            .bind(now)
            .bind(message_id.0)
            .execute(&mut *tx)
            .await?;
        sqlx::query("delete from reaction where message_id = $1")
            .bind(message_id.0)
            .execute(&mut *tx)
            .await?;
        let draft = Draft {
            audience: audience_of(message.kind),
            message_seq: Some(message.seq),
            ..Draft::new(EventPayload::MessageDeleted {
                conversation_id,
                message_id,
                seq: message.seq,
                deleted_at: now,
            })
        };
        let events = self.finish(tx, conversation_id, now, vec![draft]).await?;
        Ok(Committed { value: (), events })
    }

    /// Adds or removes `account`'s reaction. Adding one that exists, or removing one that
    /// does not, changes nothing and emits nothing.
    pub async fn react(
        &self,
        account: &Account,
        conversation_id: ConversationId,
        message_id: MessageId,
        emoji: &str,
        add: bool,
        max_per_account: u32,
    ) -> Result<Committed<()>, StoreError> {
        let now = now_millis();
        let mut tx = self.begin().await?;
        let (message, _) =
            visible_message_in_tx(&mut tx, account, conversation_id, message_id).await?;
        if message.deleted_at.is_some() {
            return Err(domain(ErrorCode::Conflict, "the message was deleted"));
        }
        let changed = if add {
            let mine = message
                .reactions
                .iter()
                .filter(|r| r.account_id == account.id)
                .count();
            if mine >= max_per_account as usize
                && !message
                    .reactions
                    .iter()
                    .any(|r| r.account_id == account.id && r.emoji == emoji)
            {
                return Err(domain(
                    ErrorCode::Conflict,
                    "you have reached the reaction limit on this message",
                ));
            }
            sqlx::query(
                "insert into reaction (message_id, account_id, emoji, created_at)
                 values ($1, $2, $3, $4) on conflict do nothing",
            )
            .bind(message_id.0)
            .bind(account.id.0)
            .bind(emoji)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        } else {
            sqlx::query(
                "delete from reaction where message_id = $1 and account_id = $2 and emoji = $3",
            )
            .bind(message_id.0)
            .bind(account.id.0)
            .bind(emoji)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        };
        if changed == 0 {
            return Ok(Committed {
                value: (),
                events: vec![],
            });
        }
        let payload = if add {
            EventPayload::ReactionAdded {
                conversation_id,
                message_id,
                account_id: account.id,
                emoji: emoji.to_string(),
            }
        } else {
            EventPayload::ReactionRemoved {
                conversation_id,
                message_id,
                account_id: account.id,
                emoji: emoji.to_string(),
            }
        };
        let draft = Draft {
            audience: audience_of(message.kind),
            message_seq: Some(message.seq),
            ..Draft::new(payload)
        };
        let events = self.finish(tx, conversation_id, now, vec![draft]).await?;
        Ok(Committed { value: (), events })
    }

    /// Moves `account`'s read or delivered cursor forward to `seq` (clamped to the newest
    /// message). Moving it backwards, or to where it is, changes nothing and emits nothing.
    /// Reading also counts as delivery.
    pub async fn move_cursor(
        &self,
        account: &Account,
        conversation_id: ConversationId,
        cursor: Cursor,
        seq: i64,
    ) -> Result<Committed<i64>, StoreError> {
        if seq < 0 {
            return Err(StoreError::Domain(Error::invalid(
                "seq must not be negative",
            )));
        }
        let now = now_millis();
        let mut tx = self.begin().await?;
        let conversation =
            conversation_in_tx(&mut tx, account.workspace_id, conversation_id).await?;
        let participant = match participant_in_tx(&mut tx, conversation_id, account.id).await? {
            Some(p) if p.left_at.is_none() => p,
            // Staff may read conversations they are not in, but only participants have cursors.
            _ => return Err(not_found("conversation")),
        };
        let target = seq.min(conversation.last_seq);
        let current = match cursor {
            Cursor::Read => participant.read_seq,
            Cursor::Delivered => participant.delivered_seq,
        };
        if target <= current {
            return Ok(Committed {
                value: current,
                events: vec![],
            });
        }
        let sql = match cursor {
            Cursor::Read => {
                "update participant set read_seq = $1,
                     delivered_seq = case when delivered_seq < $1 then $1 else delivered_seq end
                 where conversation_id = $2 and account_id = $3"
            }
            Cursor::Delivered => {
                "update participant set delivered_seq = $1
                 where conversation_id = $2 and account_id = $3"
            }
        };
        sqlx::query(sql)
            .bind(target)
            .bind(conversation_id.0)
            .bind(account.id.0)
            .execute(&mut *tx)
            .await?;
        let payload = match cursor {
            Cursor::Read => EventPayload::Read {
                conversation_id,
                account_id: account.id,
                seq: target,
            },
            Cursor::Delivered => EventPayload::Delivered {
                conversation_id,
                account_id: account.id,
                seq: target,
            },
        };
        let events = self
            .finish(tx, conversation_id, now, vec![Draft::new(payload)])
            .await?;
        Ok(Committed {
            value: target,
            events,
        })
    }

    /// Appends `drafts` for the conversation's current members and commits.
    async fn finish(
        &self,
        mut tx: Transaction<'static, Any>,
        conversation_id: ConversationId,
        now: Millis,
        drafts: Vec<Draft>,
    ) -> Result<Vec<events::CommittedEvent>, StoreError> {
        // Members are read after the counter row is taken: every participant change with a
        // lower id has committed by then, so the live recipients match the replay rules.
        let first = events::reserve(&mut tx, drafts.len()).await?;
        let members = events::members(&mut tx, self.backend, conversation_id).await?;
        let events = events::append(&mut tx, first, now, &members, drafts).await?;
        tx.commit().await?;
        Ok(events)
    }
}
