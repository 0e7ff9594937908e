//! A short-lived cache of contact tokens already checked: token → the contact's account.
//!
//! Every request with a contact token (every history page, every widget call) verified the
//! token's MAC and loaded the account from the database, a query of its own. A hit here
//! skips both; only the exact token string that was verified can hit.
//!
//! When an entry stops being used:
//! - after [`CACHE_TTL`], or when the token expires, whichever comes first;
//! - at once on this node when the account's row changes (the store's change stamp moves
//!   after the commit: details edited, identity claimed, deactivated) or its connections
//!   are ended (the hub's revocation stamp moves on every `Fanout::disconnect`);
//! - on the other nodes of a cluster: `Fanout::disconnect` reaches every node's hub through
//!   Redis, so revocations and deactivations end cached entries there too, as they end
//!   sockets. Edits of a contact's details (name, email, identity) made on another node are
//!   not broadcast; this node may answer with the previous details for up to `CACHE_TTL`,
//!   the staleness the website cache already accepts, and nothing that grants access
//!   depends on them (a contact's access comes from its participations, read per request).
//!   If Redis is down, a `disconnect` may not reach another node; there the TTL bounds it,
//!   as it bounds changes made by another process on the same database (the command line).
//!
//! The website a visitor's token is bound to is not cached here: it is checked on every
//! request, through the website cache.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use natter_core::ids::{AccountId, WebsiteId};
use natter_core::model::Account;

/// How long a checked token is trusted without looking at the database again.
pub const CACHE_TTL: Duration = Duration::from_secs(5);
/// Entries kept at most; beyond this, stale ones are dropped, then all (tokens from the
/// internet must not grow the map without bound).
const MAX_ENTRIES: usize = 10_000;

/// The stamps an entry was made under: (the store's account stamp, the hub's revocation
/// stamp), both taken before the account was read.
pub type Stamps = (u64, u64);

struct Entry {
    at: Instant,
    /// The token's own expiry (Unix seconds).
    expires_at: i64,
    stamps: Stamps,
    account: Account,
    website: Option<WebsiteId>,
}

#[derive(Default)]
pub struct ContactAuthCache {
    entries: Mutex<HashMap<String, Entry>>,
}

impl ContactAuthCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The account and bound website of a token checked before, if that is still valid:
    /// within the TTL, before the token's expiry, and with `stamps` of the account
    /// unchanged since.
    pub fn get(
        &self,
        token: &str,
        now_secs: i64,
        stamps: impl Fn(AccountId) -> Stamps,
    ) -> Option<(Account, Option<WebsiteId>)> {
        let mut entries = self.lock();
        let entry = entries.get(token)?;
        if entry.at.elapsed() < CACHE_TTL
            && now_secs < entry.expires_at
            && stamps(entry.account.id) == entry.stamps
        {
            return Some((entry.account.clone(), entry.website));
        }
        entries.remove(token);
        None
    }

    /// Remembers a token just checked. `stamps` must have been taken before the account
    /// was read, so that a change committed meanwhile leaves the entry already stale.
    pub fn put(
        &self,
        token: &str,
        expires_at: i64,
        stamps: Stamps,
        account: Account,
        website: Option<WebsiteId>,
    ) {
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, e| e.at.elapsed() < CACHE_TTL);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(
            token.to_string(),
            Entry {
                at: Instant::now(),
                expires_at,
                stamps,
                account,
                website,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use natter_core::ids::WorkspaceId;
    use natter_core::model::AccountKind;

    fn contact(id: i64) -> Account {
        Account {
            id: AccountId(id),
            workspace_id: WorkspaceId(1),
            kind: AccountKind::Contact,
            role: None,
            identity: None,
            external_id: None,
            name: Some("Ann".into()),
            email: None,
            avatar_url: None,
            created_at: 0,
        }
    }

    #[test]
    fn a_cached_token_is_used_until_the_account_stamp_moves() {
        let cache = ContactAuthCache::default();
        cache.put("nct_a", 100, (3, 7), contact(9), Some(WebsiteId(2)));
        let hit = cache.get("nct_a", 50, |_| (3, 7));
        assert_eq!(
            hit.map(|(a, w)| (a.id, w)),
            Some((AccountId(9), Some(WebsiteId(2))))
        );
        // The account changed (store stamp) or was revoked (hub stamp): a miss, and gone.
        assert!(cache.get("nct_a", 50, |_| (4, 7)).is_none());
        cache.put("nct_a", 100, (3, 7), contact(9), None);
        assert!(cache.get("nct_a", 50, |_| (3, 8)).is_none());
        assert!(cache.get("nct_a", 50, |_| (3, 7)).is_none());
    }

    #[test]
    fn a_cached_token_is_not_used_once_the_token_itself_expired() {
        let cache = ContactAuthCache::default();
        cache.put("nct_b", 100, (0, 0), contact(1), None);
        assert!(cache.get("nct_b", 99, |_| (0, 0)).is_some());
        assert!(cache.get("nct_b", 100, |_| (0, 0)).is_none());
    }

    #[test]
    fn only_the_exact_token_that_was_checked_hits() {
        let cache = ContactAuthCache::default();
        cache.put("nct_c.tag", 100, (0, 0), contact(1), None);
        assert!(cache.get("nct_c.tah", 0, |_| (0, 0)).is_none());
        assert!(cache.get("nct_c.ta", 0, |_| (0, 0)).is_none());
    }
}
