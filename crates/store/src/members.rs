//! Member lists the committer keeps between batches.
//!
//! Every batch needs the active members of each conversation it writes to, to address its
//! events. Reading them each time cost a send to a room of 1,000 members 1,000 participant
//! rows (about 15% of the server's core at 300,000 deliveries/s in the fan-out benchmark), and
//! the list changes far less often than messages arrive. So the committer keeps the lists it
//! read, each with the `member_version` of its conversation at the time, and on the next batch
//! reads only the versions (one primary-key lookup per conversation) and the lists whose
//! version moved.
//!
//! The lists must be exact, not nearly right: a member missing from one gets no live events,
//! and a stale one gets messages of a conversation they left. Three things make them exact:
//!
//! - The version is kept by database triggers on `participant` (migration 0009), so it moves
//!   with every change to who is a member, whichever code path, node or transaction made it.
//!   (Those changes all come after [`crate::events::reserve`] in their transactions, so the
//!   triggers take the version row after the counter, always in that order. Read and
//!   delivery marks, which move before it, are not among the columns the triggers watch.)
//! - The versions are read where the lists were read before: after the batch's own joins and
//!   after [`crate::events::reserve`], when every participant change with an earlier event id
//!   is committed and visible (see [`crate::events::members_of`]). A version is read before
//!   its list, so a change that commits in between can only make the list newer than its
//!   version, which costs one more read next time, never a stale list.
//! - A list read by a batch is kept only once that batch has committed ([`MemberCache::keep`]):
//!   a batch that rolls back (taking its staff joins and their version bumps with it) could
//!   otherwise leave a list that a later, different change gives the same version number.

use std::collections::HashMap;
use std::sync::Arc;

use natter_core::ids::ConversationId;
use sqlx::{Any, Row, Transaction};

use crate::events::{self, Member};
use crate::lists::{self, Params};
use crate::{Backend, StoreError};

/// Members kept across all lists at most (about 32 bytes each, so 8 MiB; an empty list counts
/// as one). Past it the cache starts again from empty: simpler than eviction order, and a node
/// whose busy conversations have more members than this between them reads lists as it did
/// before the cache.
const MAX_MEMBERS: usize = 1 << 18;

/// The active members of each conversation a batch writes to.
pub(crate) type Lists = HashMap<ConversationId, Arc<[Member]>>;

/// The committer's member lists, each with the version it was read at.
#[derive(Default)]
pub(crate) struct MemberCache {
    lists: HashMap<ConversationId, (i64, Arc<[Member]>)>,
    /// Members across `lists`.
    held: usize,
}

/// What a batch read: every list it needs, and which of them came from the database (at
/// which version), to keep once the batch commits.
pub(crate) struct Read {
    pub lists: Lists,
    fresh: Vec<(ConversationId, i64)>,
}

impl MemberCache {
    /// The active members of each of `conversations`, from the cache where its version still
    /// matches. Call it where [`events::members_of`] would be called.
    pub(crate) async fn members_of(
        &self,
        tx: &mut Transaction<'static, Any>,
        backend: Backend,
        conversations: Vec<ConversationId>,
    ) -> Result<Read, StoreError> {
        let versions = versions_of(tx, backend, &conversations).await?;
        let mut lists = Lists::with_capacity(conversations.len());
        let mut fresh = Vec::new();
        for conversation in conversations {
            // No row: nothing has changed the conversation's members since versions began.
            let version = versions.get(&conversation).copied().unwrap_or(0);
            match self.lists.get(&conversation) {
                Some((kept, list)) if *kept == version => {
                    lists.insert(conversation, Arc::clone(list));
                }
                _ => fresh.push((conversation, version)),
            }
        }
        if !fresh.is_empty() {
            let wanted = fresh.iter().map(|(c, _)| *c).collect();
            let mut read = events::members_of(tx, backend, wanted).await?;
            for (conversation, _) in &fresh {
                // A conversation with no active member has no row in the answer.
                let list = read.remove(conversation).unwrap_or_default();
                lists.insert(*conversation, list.into());
            }
        }
        Ok(Read { lists, fresh })
    }

    /// Keeps the lists `read` took from the database. Only for a batch that committed.
    pub(crate) fn keep(&mut self, read: Read) {
        let Read { mut lists, fresh } = read;
        for (conversation, version) in fresh {
            let Some(list) = lists.remove(&conversation) else {
                continue;
            };
            if let Some((_, old)) = self.lists.remove(&conversation) {
                self.held -= weight(&old);
            }
            if weight(&list) > MAX_MEMBERS {
                continue;
            }
            if self.held + weight(&list) > MAX_MEMBERS {
                self.clear();
            }
            self.held += weight(&list);
            self.lists.insert(conversation, (version, list));
        }
    }

    /// Forgets every list. For a batch that failed: after a failover to a replica that lost
    /// the last commits, or a restore, versions can go back and be reached again by different
    /// changes, so a list kept from before could match a version it no longer belongs to.
    pub(crate) fn clear(&mut self) {
        self.lists.clear();
        self.held = 0;
    }
}

/// What a list counts against [`MAX_MEMBERS`]: its members, and at least one for the entry
/// itself, so that lists of conversations nobody is left in cannot pile up uncounted.
fn weight(list: &[Member]) -> usize {
    list.len().max(1)
}

/// The `member_version` of each of `conversations` that has one.
async fn versions_of(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    conversations: &[ConversationId],
) -> Result<HashMap<ConversationId, i64>, StoreError> {
    let ids = lists::pad_with_last(conversations.to_vec());
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!(
        "select conversation_id, version from member_version where conversation_id in ({})",
        Params::new(backend).rows(ids.len(), 1)
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for id in &ids {
        query = query.bind(id.0);
    }
    query
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|row| {
            Ok((
                ConversationId(row.try_get("conversation_id")?),
                row.try_get("version")?,
            ))
        })
        .collect()
}
