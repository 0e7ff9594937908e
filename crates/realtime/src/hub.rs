//! The node's connection registry.
//!
//! Each open connection (WebSocket or SSE) subscribes for its account and gets a bounded
//! queue. Publishing puts an already-serialised frame on the queue of every connection of
//! every recipient without waiting: a queue that is full belongs to a slow consumer, which is
//! dropped from the registry (its connection then closes and the client resumes from its
//! cursor). So a slow client never slows delivery to anyone else, and memory per connection
//! stays bounded.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use natter_core::ids::{AccountId, ConversationId, EventId};
use natter_core::time::Millis;
use tokio::sync::{Notify, mpsc};

/// A frame waiting to be written to one connection.
///
/// Frames are behind an `Arc` (one allocation per event, shared by every recipient) to keep
/// this type at 24 bytes instead of 48: every connection's queue allocates its first block
/// of 32 slots up front, so the slot size is paid by every idle connection (about 0.75 KiB
/// each at 48 bytes).
#[derive(Debug, Clone)]
pub enum Outbound {
    /// A durable event; `id` lets the connection skip what it already replayed. `width` is
    /// the number of accounts it went to at once (0 for one read back for a single
    /// connection): a connection may hold frames of [`WIDE_EVENT_RECIPIENTS`] accounts or
    /// more for a few milliseconds to write several at once (`realtime.write_pace_ms`), the
    /// longer the wider (`realtime.room_writes_per_sec`).
    Event {
        id: EventId,
        frame: Arc<Bytes>,
        width: u32,
    },
    /// An ephemeral frame (typing) that has no id and is never replayed.
    Ephemeral(Arc<Bytes>),
    /// The account's credentials were revoked or the account deactivated: close with
    /// "unauthenticated" (the client must not simply resume with the same token).
    Revoked,
}

impl Outbound {
    /// An event sent to at least [`WIDE_EVENT_RECIPIENTS`] accounts at once.
    pub fn is_wide(&self) -> bool {
        matches!(self, Self::Event { width, .. } if *width as usize >= WIDE_EVENT_RECIPIENTS)
    }
}

/// Events for at least this many accounts are *wide* ([`Outbound::Event`]). A conversation of
/// people talking (a contact, an agent or two, a seller and a courier) stays well below it;
/// a big room or a workspace-wide broadcast reaches it, and there the cost of a delivery is
/// mostly its own `write`.
pub const WIDE_EVENT_RECIPIENTS: usize = 64;

/// Serialises an `event` frame around an already-serialised payload, so the payload JSON
/// produced once at commit is reused for every recipient and every replay.
pub fn event_frame(id: EventId, at: Millis, payload: &str) -> Bytes {
    Bytes::from(format!(
        "{{\"type\":\"event\",\"id\":{},\"at\":{at},\"data\":{payload}}}",
        id.0
    ))
}

struct Subscriber {
    id: u64,
    tx: mpsc::Sender<Outbound>,
    urgent: Arc<Urgent>,
}

impl Subscriber {
    /// Queues `item`; tells a connection holding a wide event when this must not wait behind
    /// it (see [`Urgent`]).
    fn send(&self, item: Outbound) -> Result<(), mpsc::error::TrySendError<Outbound>> {
        let narrow = !item.is_wide();
        // Counted before it is queued, so the connection never takes it out uncounted.
        if narrow {
            self.urgent.queued.fetch_add(1, Ordering::AcqRel);
        }
        if let Err(e) = self.tx.try_send(item) {
            if narrow {
                self.urgent.queued.fetch_sub(1, Ordering::AcqRel);
            }
            return Err(e);
        }
        if narrow || nearly_full(self.tx.capacity(), self.tx.max_capacity()) {
            self.urgent.notify.notify_one();
        }
        Ok(())
    }
}

/// A queue with `free` of its `capacity` slots left is three quarters full: a connection
/// holding a wide event must write before it overflows.
fn nearly_full(free: usize, capacity: usize) -> bool {
    free <= capacity / 4
}

/// What a connection holding a wide event (for `realtime.write_pace_ms`) must not keep
/// waiting for: frames that are not wide (an event of a small conversation, typing, a
/// revocation: they would otherwise wait behind the held one), and a queue filling up (it
/// would overflow into a slow-consumer close). The hub counts the first and wakes the
/// connection for both; the connection does not poll its queue while it holds, so a big
/// room's frames cost no wake-up each.
#[derive(Default)]
pub struct Urgent {
    /// Frames in the queue that are not wide.
    queued: AtomicUsize,
    notify: Notify,
}

/// The node's registry of live connections.
#[derive(Default)]
pub struct Hub {
    /// Connections per account. A std mutex: it is held only to clone senders or push/remove
    /// an entry, never across an await.
    subscribers: Mutex<HashMap<AccountId, Vec<Subscriber>>>,
    next_id: AtomicU64,
    /// Last forwarded typing event per (account, conversation), for server-side throttling.
    typing: Mutex<HashMap<(AccountId, ConversationId), Instant>>,
    /// Connections closed because their queue overflowed (exposed as a metric).
    slow_consumers: AtomicU64,
    /// Bumped for an account whenever its connections are ended ([`Hub::disconnect`]: a
    /// credential revoked, a password changed, the account deactivated), on this node or on
    /// another through the bus, so that credentials cached on this node are dropped too.
    revocations: natter_store::ChangeStamps,
}

/// A live subscription. Dropping it unregisters the connection.
pub struct Subscription {
    hub: Arc<Hub>,
    account: AccountId,
    id: u64,
    /// Frames for this connection. Closed (after the queued frames) when the hub dropped the
    /// connection as a slow consumer. Take frames out with [`Subscription::recv`] and
    /// [`Subscription::try_recv`], which keep the count of urgent ones.
    rx: mpsc::Receiver<Outbound>,
    urgent: Arc<Urgent>,
}

impl Subscription {
    /// The next frame (`None` once the hub dropped this connection). Cancel-safe.
    pub async fn recv(&mut self) -> Option<Outbound> {
        let item = self.rx.recv().await?;
        self.took(&item);
        Some(item)
    }

    /// The next frame if one is queued.
    pub fn try_recv(&mut self) -> Option<Outbound> {
        let item = self.rx.try_recv().ok()?;
        self.took(&item);
        Some(item)
    }

    fn took(&self, item: &Outbound) {
        if !item.is_wide() {
            self.urgent.queued.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// True when the queue holds a frame that is not wide, or is three quarters full.
    pub fn urgent(&self) -> bool {
        self.urgent.queued.load(Ordering::Acquire) > 0
            || nearly_full(
                self.rx.max_capacity().saturating_sub(self.rx.len()),
                self.rx.max_capacity(),
            )
    }

    /// Completes when [`Self::urgent`] may have become true (or spuriously). Cancel-safe.
    pub async fn urgent_changed(&self) {
        self.urgent.notify.notified().await;
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.remove(self.account, self.id);
    }
}

/// Typing entries older than this are forgotten when the table is swept.
const TYPING_SWEEP_AGE: Duration = Duration::from_secs(30);
/// The typing table is swept once it has this many entries.
const TYPING_SWEEP_AT: usize = 10_000;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the maps inconsistent (each operation is a
    // single insert/remove), so a poisoned lock is still safe to use.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Hub {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Registers a connection of `account` with a queue of `capacity` frames.
    pub fn subscribe(self: &Arc<Self>, account: AccountId, capacity: usize) -> Subscription {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let urgent = Arc::new(Urgent::default());
        lock(&self.subscribers)
            .entry(account)
            .or_default()
            .push(Subscriber {
                id,
                tx,
                urgent: Arc::clone(&urgent),
            });
        Subscription {
            hub: Arc::clone(self),
            account,
            id,
            rx,
            urgent,
        }
    }

    fn remove(&self, account: AccountId, id: u64) {
        let mut subscribers = lock(&self.subscribers);
        if let Some(list) = subscribers.get_mut(&account) {
            list.retain(|s| s.id != id);
            if list.is_empty() {
                subscribers.remove(&account);
            }
        }
    }

    /// Queues `item` for every connection of every recipient. Never waits. Returns how many
    /// connections it was queued for.
    pub fn publish(&self, recipients: &[AccountId], item: &Outbound) -> usize {
        let mut delivered = 0;
        let mut subscribers = lock(&self.subscribers);
        for account in recipients {
            let Some(list) = subscribers.get_mut(account) else {
                continue;
            };
            list.retain(|s| match s.send(item.clone()) {
                Ok(()) => {
                    delivered += 1;
                    true
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    self.slow_consumers.fetch_add(1, Ordering::Relaxed);
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            });
            if list.is_empty() {
                subscribers.remove(account);
            }
        }
        delivered
    }

    /// True if a typing event from `account` in `conversation` should be forwarded now (at
    /// most one per `throttle`).
    pub fn allow_typing(
        &self,
        account: AccountId,
        conversation: ConversationId,
        throttle: Duration,
    ) -> bool {
        let now = Instant::now();
        let mut typing = lock(&self.typing);
        if typing.len() >= TYPING_SWEEP_AT {
            typing.retain(|_, at| now.duration_since(*at) < TYPING_SWEEP_AGE.max(throttle));
        }
        match typing.get(&(account, conversation)) {
            Some(at) if now.duration_since(*at) < throttle => false,
            _ => {
                typing.insert((account, conversation), now);
                true
            }
        }
    }

    /// Ends every connection of `account` on this node (token revoked, account
    /// deactivated). Returns how many there were.
    pub fn disconnect(&self, account: AccountId) -> usize {
        self.revocations.bump(account);
        let removed = lock(&self.subscribers).remove(&account).unwrap_or_default();
        for subscriber in &removed {
            // Best effort: if the queue is full, dropping the sender closes it anyway.
            let _ = subscriber.send(Outbound::Revoked);
        }
        removed.len()
    }

    /// The account's revocation stamp: take it before checking a credential to cache it; it
    /// moves with every later [`Hub::disconnect`] of the account.
    pub fn revocation_stamp(&self, account: AccountId) -> u64 {
        self.revocations.stamp(account)
    }

    /// Open connections on this node.
    /// Every account with at least one connection to this node.
    pub fn accounts(&self) -> Vec<AccountId> {
        lock(&self.subscribers)
            .iter()
            .filter(|(_, s)| !s.is_empty())
            .map(|(a, _)| *a)
            .collect()
    }

    /// Which of `accounts` have at least one connection to this node.
    pub fn connected(&self, accounts: &[AccountId]) -> Vec<AccountId> {
        let subscribers = lock(&self.subscribers);
        accounts
            .iter()
            .copied()
            .filter(|a| subscribers.get(a).is_some_and(|s| !s.is_empty()))
            .collect()
    }

    pub fn connections(&self) -> usize {
        lock(&self.subscribers).values().map(Vec::len).sum()
    }

    /// Connections dropped as slow consumers since start.
    pub fn slow_consumers(&self) -> u64 {
        self.slow_consumers.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn frame(id: i64) -> Outbound {
        Outbound::Event {
            id: EventId(id),
            frame: Arc::new(event_frame(EventId(id), 0, "{}")),
            width: 0,
        }
    }

    #[test]
    fn a_queued_frame_takes_no_more_than_three_words() {
        // Each connection's queue reserves 32 slots of this size up front.
        assert!(std::mem::size_of::<Outbound>() <= 24);
    }

    #[tokio::test]
    async fn a_published_event_reaches_every_connection_of_every_recipient_only() {
        let hub = Hub::new();
        let mut a1 = hub.subscribe(AccountId(1), 8);
        let mut a2 = hub.subscribe(AccountId(1), 8);
        let mut b = hub.subscribe(AccountId(2), 8);
        assert_eq!(hub.publish(&[AccountId(1)], &frame(1)), 2);
        assert!(matches!(
            a1.rx.recv().await,
            Some(Outbound::Event { id: EventId(1), .. })
        ));
        assert!(matches!(
            a2.rx.recv().await,
            Some(Outbound::Event { id: EventId(1), .. })
        ));
        assert!(b.rx.try_recv().is_err());
    }

    #[tokio::test]
    async fn a_full_queue_drops_that_connection_and_not_the_others() {
        let hub = Hub::new();
        let mut slow = hub.subscribe(AccountId(1), 2);
        let mut fast = hub.subscribe(AccountId(2), 8);
        for id in 1..=3 {
            hub.publish(&[AccountId(1), AccountId(2)], &frame(id));
            fast.rx.recv().await.unwrap();
        }
        assert_eq!(hub.slow_consumers(), 1);
        // The slow connection gets what was queued, then sees its queue closed.
        assert!(slow.rx.recv().await.is_some());
        assert!(slow.rx.recv().await.is_some());
        assert!(slow.rx.recv().await.is_none());
        assert_eq!(hub.connections(), 1);
    }

    #[tokio::test]
    async fn dropping_a_subscription_unregisters_it() {
        let hub = Hub::new();
        let sub = hub.subscribe(AccountId(1), 2);
        assert_eq!(hub.connections(), 1);
        drop(sub);
        assert_eq!(hub.connections(), 0);
        assert_eq!(hub.publish(&[AccountId(1)], &frame(1)), 0);
    }

    #[test]
    fn typing_is_forwarded_at_most_once_per_throttle_window() {
        let hub = Hub::new();
        let window = Duration::from_secs(60);
        assert!(hub.allow_typing(AccountId(1), ConversationId(1), window));
        assert!(!hub.allow_typing(AccountId(1), ConversationId(1), window));
        assert!(hub.allow_typing(AccountId(1), ConversationId(2), window));
        assert!(hub.allow_typing(AccountId(1), ConversationId(1), Duration::ZERO));
    }

    #[test]
    fn an_event_frame_is_valid_json_with_the_payload_inline() {
        let frame = event_frame(EventId(7), 5, r#"{"type":"read","seq":3}"#);
        let text = std::str::from_utf8(&frame).unwrap();
        assert_eq!(
            text,
            r#"{"type":"event","id":7,"at":5,"data":{"type":"read","seq":3}}"#
        );
    }
}
