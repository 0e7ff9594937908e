//! Change stamps: a cheap way for a cache to learn that an account it holds has changed.
//!
//! A fixed table of counters, one slot per `account_id % SLOTS`. A writer bumps the slot of
//! an account *after* its change is committed; a cache reads the slot *before* it reads the
//! account from storage and keeps the value with what it read. The entry is stale as soon
//! as the slot moved on: a change committed while the read was running bumps the slot after
//! the stamp was taken, so the entry can never hide it. Accounts sharing a slot only cost an
//! extra miss. Lock-free and fixed-size, so every write can afford it.

use std::sync::atomic::{AtomicU64, Ordering};

use natter_core::ids::AccountId;

const SLOTS: usize = 4096;

pub struct ChangeStamps {
    slots: Box<[AtomicU64]>,
}

impl Default for ChangeStamps {
    fn default() -> Self {
        Self {
            slots: (0..SLOTS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl std::fmt::Debug for ChangeStamps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeStamps").finish_non_exhaustive()
    }
}

impl ChangeStamps {
    fn slot(&self, account: AccountId) -> &AtomicU64 {
        // rem_euclid: ids are positive, but a negative one must not index out of range.
        let index = account.0.rem_euclid(SLOTS as i64) as usize;
        &self.slots[index]
    }

    /// The account's current stamp (take it before reading the account).
    pub fn stamp(&self, account: AccountId) -> u64 {
        self.slot(account).load(Ordering::SeqCst)
    }

    /// Records that the account changed (call it after the change is committed).
    pub fn bump(&self, account: AccountId) {
        self.slot(account).fetch_add(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bump_moves_the_stamp_of_that_account_and_not_of_another_slot() {
        let stamps = ChangeStamps::default();
        let before = stamps.stamp(AccountId(7));
        let other = stamps.stamp(AccountId(8));
        stamps.bump(AccountId(7));
        assert_ne!(stamps.stamp(AccountId(7)), before);
        assert_eq!(stamps.stamp(AccountId(8)), other);
    }
}
