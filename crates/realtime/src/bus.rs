//! The Redis pub/sub link between nodes.
//!
//! Every node publishes the events it commits to one channel and subscribes to it, so each
//! node can deliver every event to its own connections. The bus carries no state that
//! matters for correctness: a message lost while Redis is down is filled from storage by the
//! sequencer. Typing indicators travel on a second channel and are simply lost when Redis
//! is down (they are ephemeral by design). Redis also holds the cluster-wide typing
//! throttle, as keys that expire.
//!
//! Two tasks per node: a publisher draining a bounded queue (publishing never blocks a
//! request; if Redis is slow the queue drops, and the sequencer fills the gap), and a
//! subscriber that reconnects with backoff.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use natter_core::ids::{AccountId, ConversationId, EventId};
use natter_store::CommittedEvent;
use redis::AsyncCommands;
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::hub::{Hub, Outbound};

const EVENTS: &str = "natter:events";
const EPHEMERAL: &str = "natter:ephemeral";
/// Messages waiting for the publisher; beyond this they are dropped (storage fills in).
const PUBLISH_QUEUE: usize = 65_536;
/// Longest wait for a Redis answer on the request path (the typing throttle).
const COMMAND_TIMEOUT: Duration = Duration::from_millis(100);
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

pub struct Bus {
    /// Distinguishes this node's own ephemeral messages when they come back.
    node: u64,
    /// (channel, message) pairs for the publisher.
    outbox: mpsc::Sender<(&'static str, String)>,
    /// For commands (the typing throttle); set once the first connection succeeds.
    commands: tokio::sync::OnceCell<redis::aio::ConnectionManager>,
    client: redis::Client,
    /// True while the subscription is live.
    healthy: Arc<AtomicBool>,
}

/// A bus message as it travels through Redis.
#[derive(Deserialize)]
struct Wire<'a> {
    /// The node that published it.
    n: u64,
    /// Event id, time and conversation (events only).
    id: Option<i64>,
    at: Option<i64>,
    c: Option<i64>,
    /// Recipients.
    #[serde(default)]
    r: Vec<i64>,
    /// Event payload (events) or the whole frame (ephemeral), as raw JSON.
    #[serde(borrow, default)]
    p: Option<&'a RawValue>,
    /// An account whose connections must end (credentials revoked).
    #[serde(default)]
    kick: Option<i64>,
}

impl Bus {
    pub fn start(
        url: &str,
        sequencer: mpsc::UnboundedSender<CommittedEvent>,
        hub: Arc<Hub>,
        shutdown: CancellationToken,
    ) -> Result<Arc<Self>, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let (outbox, queue) = mpsc::channel(PUBLISH_QUEUE);
        let bus = Arc::new(Self {
            node: rand::random(),
            outbox,
            commands: tokio::sync::OnceCell::new(),
            client,
            healthy: Arc::new(AtomicBool::new(false)),
        });
        tokio::spawn(Arc::clone(&bus).publish_loop(queue, shutdown.clone()));
        tokio::spawn(Arc::clone(&bus).subscribe_loop(sequencer, hub, shutdown));
        Ok(bus)
    }

    pub fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    fn enqueue(&self, channel: &'static str, message: String) {
        if self.outbox.try_send((channel, message)).is_err() {
            metrics::counter!("natter_bus_dropped_total").increment(1);
        }
    }

    pub fn publish_event(&self, event: &CommittedEvent) {
        let recipients = join_ids(event.recipients.iter().map(|a| a.0));
        self.enqueue(
            EVENTS,
            format!(
                "{{\"n\":{},\"id\":{},\"at\":{},\"c\":{},\"r\":[{recipients}],\"p\":{}}}",
                self.node, event.id.0, event.at, event.conversation_id.0, event.payload
            ),
        );
    }

    pub fn publish_ephemeral(&self, recipients: &[AccountId], frame: &[u8]) {
        let recipients = join_ids(recipients.iter().map(|a| a.0));
        let frame = String::from_utf8_lossy(frame);
        self.enqueue(
            EPHEMERAL,
            format!("{{\"n\":{},\"r\":[{recipients}],\"p\":{frame}}}", self.node),
        );
    }

    /// Asks every node to end `account`'s connections.
    pub fn publish_disconnect(&self, account: AccountId) {
        self.enqueue(
            EPHEMERAL,
            format!("{{\"n\":{},\"kick\":{}}}", self.node, account.0),
        );
    }

    /// The cluster-wide typing throttle: `SET key 1 PX throttle NX` succeeds for the first
    /// caller in each window. `None` when Redis does not answer in time.
    pub async fn allow_typing(
        &self,
        account: AccountId,
        conversation: ConversationId,
        throttle: Duration,
    ) -> Option<bool> {
        if !self.healthy() {
            return None;
        }
        let mut conn = self.commands.get()?.clone();
        let key = format!("natter:typing:{}:{}", account.0, conversation.0);
        let millis = u64::try_from(throttle.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let mut set = redis::cmd("SET");
        set.arg(&key).arg(1).arg("PX").arg(millis).arg("NX");
        let reply = set.query_async::<Option<String>>(&mut conn);
        match tokio::time::timeout(COMMAND_TIMEOUT, reply).await {
            Ok(Ok(reply)) => Some(reply.is_some()),
            _ => None,
        }
    }

    async fn publish_loop(
        self: Arc<Self>,
        mut queue: mpsc::Receiver<(&'static str, String)>,
        shutdown: CancellationToken,
    ) {
        let mut backoff = BACKOFF_MIN;
        let mut conn = loop {
            match self.client.get_connection_manager().await {
                Ok(conn) => break conn,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot connect to Redis to publish; retrying");
                    // Drain what waits meanwhile: storage will fill these gaps.
                    while queue.try_recv().is_ok() {
                        metrics::counter!("natter_bus_dropped_total").increment(1);
                    }
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        };
        let _ = self.commands.set(conn.clone());
        loop {
            let (channel, message) = tokio::select! {
                () = shutdown.cancelled() => return,
                message = queue.recv() => match message {
                    Some(m) => m,
                    None => return,
                },
            };
            // The connection manager reconnects by itself; a failed publish is dropped and
            // left to the sequencer's gap filling.
            let sent: Result<i64, _> = conn.publish(channel, message).await;
            if let Err(e) = sent {
                metrics::counter!("natter_bus_dropped_total").increment(1);
                tracing::debug!(error = %e, "Redis publish failed");
            }
        }
    }

    async fn subscribe_loop(
        self: Arc<Self>,
        sequencer: mpsc::UnboundedSender<CommittedEvent>,
        hub: Arc<Hub>,
        shutdown: CancellationToken,
    ) {
        let mut backoff = BACKOFF_MIN;
        loop {
            match self.subscribe_once(&sequencer, &hub, &shutdown).await {
                Ok(()) => return,
                Err(e) => {
                    if self.healthy.swap(false, Ordering::Relaxed) {
                        tracing::warn!(error = %e, "lost the Redis subscription; events are filled from storage until it returns");
                    }
                    metrics::gauge!("natter_redis_up").set(0.0);
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }

    /// Subscribes and forwards messages until the connection fails (`Err`) or shutdown
    /// (`Ok`).
    async fn subscribe_once(
        &self,
        sequencer: &mpsc::UnboundedSender<CommittedEvent>,
        hub: &Hub,
        shutdown: &CancellationToken,
    ) -> Result<(), redis::RedisError> {
        let mut pubsub = self.client.get_async_pubsub().await?;
        pubsub.subscribe(EVENTS).await?;
        pubsub.subscribe(EPHEMERAL).await?;
        self.healthy.store(true, Ordering::Relaxed);
        metrics::gauge!("natter_redis_up").set(1.0);
        tracing::info!("subscribed to the Redis bus");
        let mut messages = pubsub.on_message();
        loop {
            let message = tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                message = messages.next() => message,
            };
            let Some(message) = message else {
                return Err(redis::RedisError::from((
                    redis::ErrorKind::Io,
                    "the subscription ended",
                )));
            };
            let Ok(wire) = serde_json::from_slice::<Wire>(message.get_payload_bytes()) else {
                tracing::warn!("ignoring an unreadable bus message");
                continue;
            };
            if let Some(account) = wire.kick {
                hub.disconnect(AccountId(account));
                continue;
            }
            let Some(payload) = wire.p else {
                continue;
            };
            let recipients: Vec<AccountId> = wire.r.iter().copied().map(AccountId).collect();
            match (wire.id, wire.at, wire.c) {
                (Some(id), Some(at), Some(c)) => {
                    let event = CommittedEvent {
                        id: EventId(id),
                        at,
                        conversation_id: ConversationId(c),
                        payload: payload.get().into(),
                        recipients,
                    };
                    if sequencer.send(event).is_err() {
                        return Ok(());
                    }
                }
                _ if wire.n != self.node => {
                    let frame = bytes::Bytes::copy_from_slice(payload.get().as_bytes());
                    hub.publish(&recipients, &Outbound::Ephemeral(Arc::new(frame)));
                }
                _ => {}
            }
        }
    }
}

fn join_ids(ids: impl Iterator<Item = i64>) -> String {
    let mut out = String::new();
    for (i, id) in ids.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&id.to_string());
    }
    out
}
