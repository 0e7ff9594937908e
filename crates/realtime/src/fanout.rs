//! Delivery of committed events to this node's connections, in event-id order.
//!
//! Events reach the sequencer from two sides: from this node right after it commits them,
//! and from other nodes over the [`bus`](crate::bus). Either may arrive out of order, late, or
//! not at all (a node can die between commit and publish; the bus can be down). Event ids are
//! gap-free and commit-ordered (see `natter_store::events`), so the sequencer knows exactly
//! which id comes next: it holds back anything that arrives early, and when the next id has
//! not arrived within `gap_timeout` it reads it from storage, with its recipients, and
//! delivers it from there. A periodic look at the log's head catches events that nothing on
//! the bus announced (the bus was down, or this node's subscription was reconnecting).
//!
//! So a connection sees every event meant for it once, in order, whatever happens between
//! nodes; the bus only makes delivery fast.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use natter_core::ids::{AccountId, EventId};
use natter_core::time::now_millis;
use natter_store::{CommittedEvent, Store};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::bus::Bus;
use crate::hub::{Hub, Outbound, event_frame};

/// Tuning of the sequencer.
#[derive(Debug, Clone)]
pub struct FanoutConfig {
    /// How long the next event may be missing before it is read from storage.
    pub gap_timeout: Duration,
    /// How often the log's head is checked for events nobody announced.
    pub poll_interval: Duration,
    /// Events read from storage per query when filling a gap.
    pub fill_batch: u32,
}

/// The node's fan-out: hand it committed events and ephemeral frames.
pub struct Fanout {
    hub: Arc<Hub>,
    sequencer: mpsc::UnboundedSender<CommittedEvent>,
    bus: Option<Arc<Bus>>,
}

impl Fanout {
    /// Starts the sequencer after the log's current head (`head`), with an optional bus.
    /// The caller reads `head` before it serves any request, so nothing is skipped.
    pub fn start(
        hub: Arc<Hub>,
        store: Store,
        head: EventId,
        config: FanoutConfig,
        redis_url: Option<&str>,
        shutdown: CancellationToken,
    ) -> Result<Self, redis::RedisError> {
        let (sequencer, inbox) = mpsc::unbounded_channel();
        let bus = redis_url
            .map(|url| Bus::start(url, sequencer.clone(), Arc::clone(&hub), shutdown.clone()))
            .transpose()?;
        let task = Sequencer {
            hub: Arc::clone(&hub),
            store,
            next: head.0 + 1,
            buffer: BTreeMap::new(),
            waiting_since: None,
            config,
        };
        tokio::spawn(task.run(inbox, shutdown));
        Ok(Self {
            hub,
            sequencer,
            bus,
        })
    }

    /// Delivers events this node just committed, and announces them to the other nodes.
    pub fn committed(&self, events: Vec<CommittedEvent>) {
        for event in events {
            if let Some(bus) = &self.bus {
                bus.publish_event(&event);
            }
            // The sequencer only stops at shutdown; an event committed then is still in the
            // log for any client that resumes.
            let _ = self.sequencer.send(event);
        }
    }

    /// Delivers an ephemeral frame (typing) here and on the other nodes. Never stored.
    pub fn ephemeral(&self, recipients: &[AccountId], frame: bytes::Bytes) {
        if let Some(bus) = &self.bus {
            bus.publish_ephemeral(recipients, &frame);
        }
        self.hub
            .publish(recipients, &Outbound::Ephemeral(Arc::new(frame)));
    }

    /// True if a typing event of `account` in `conversation` should go out now: at most one
    /// per `throttle` across the whole cluster when the bus is up, per node otherwise.
    pub async fn allow_typing(
        &self,
        account: AccountId,
        conversation: natter_core::ConversationId,
        throttle: Duration,
    ) -> bool {
        if let Some(bus) = &self.bus
            && let Some(allowed) = bus.allow_typing(account, conversation, throttle).await
        {
            return allowed;
        }
        self.hub.allow_typing(account, conversation, throttle)
    }

    /// Ends every connection of `account`, on this node and (through the bus) on the others.
    pub fn disconnect(&self, account: AccountId) {
        if let Some(bus) = &self.bus {
            bus.publish_disconnect(account);
        }
        self.hub.disconnect(account);
    }

    /// `None` without a bus; otherwise whether it is connected.
    pub fn bus_healthy(&self) -> Option<bool> {
        self.bus.as_ref().map(|b| b.healthy())
    }
}

struct Sequencer {
    hub: Arc<Hub>,
    store: Store,
    /// The id of the next event to deliver.
    next: i64,
    /// Events that arrived ahead of `next`.
    buffer: BTreeMap<i64, CommittedEvent>,
    /// Since when `next` has been missing while later events wait.
    waiting_since: Option<Instant>,
    config: FanoutConfig,
}

impl Sequencer {
    async fn run(
        mut self,
        mut inbox: mpsc::UnboundedReceiver<CommittedEvent>,
        shutdown: CancellationToken,
    ) {
        let mut poll = tokio::time::interval(self.config.poll_interval);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The head seen at the previous poll: an id still undelivered a whole poll interval
        // after it was committed is fetched rather than awaited.
        let mut previous_head = 0;
        loop {
            let gap_deadline = self.waiting_since.map(|t| t + self.config.gap_timeout);
            tokio::select! {
                () = shutdown.cancelled() => return,
                event = inbox.recv() => {
                    let Some(event) = event else { return };
                    self.accept(event);
                    while let Ok(event) = inbox.try_recv() {
                        self.accept(event);
                    }
                }
                () = sleep_until(gap_deadline), if gap_deadline.is_some() => {
                    if let Some(&first) = self.buffer.keys().next() {
                        self.fill(first - 1).await;
                    }
                }
                _ = poll.tick() => {
                    match self.store.head().await {
                        Ok(head) => {
                            let head = head.last_event_id.0;
                            if previous_head >= self.next {
                                self.fill(previous_head).await;
                            }
                            previous_head = head;
                        }
                        Err(e) => tracing::warn!(error = %e, "fan-out cannot read the event head"),
                    }
                }
            }
            self.drain();
            metrics::gauge!("natter_fanout_buffered_events").set(self.buffer.len() as f64);
        }
    }

    fn accept(&mut self, event: CommittedEvent) {
        // Anything below `next` was delivered already (from this node, the bus or storage).
        if event.id.0 >= self.next {
            self.buffer.insert(event.id.0, event);
        }
    }

    /// Delivers buffered events while they are in sequence.
    fn drain(&mut self) {
        while let Some(event) = self.buffer.remove(&self.next) {
            self.deliver(&event);
        }
        self.waiting_since = match (self.buffer.is_empty(), self.waiting_since) {
            (true, _) => None,
            (false, Some(since)) => Some(since),
            (false, None) => Some(Instant::now()),
        };
    }

    /// Reads and delivers the events from `next` through `to` from storage.
    async fn fill(&mut self, to: i64) {
        while self.next <= to {
            let from = self.next;
            let events = match self
                .store
                .events_between(EventId(from), EventId(to), self.config.fill_batch)
                .await
            {
                Ok(events) => events,
                Err(e) => {
                    tracing::warn!(error = %e, from, to, "fan-out cannot fill a gap; will retry");
                    // Try again after another gap timeout rather than spinning.
                    self.waiting_since = Some(Instant::now());
                    return;
                }
            };
            metrics::counter!("natter_fanout_gap_fills_total").increment(1);
            let Some(first) = events.first().map(|e| e.id.0) else {
                // Nothing stored in the range: pruned, which only a node far behind can see.
                tracing::warn!(from, to, "events missing from storage; skipping ahead");
                self.next = to + 1;
                break;
            };
            if first > self.next {
                tracing::warn!(
                    from = self.next,
                    to = first - 1,
                    "events missing from storage"
                );
                self.next = first;
            }
            for event in &events {
                if event.id.0 == self.next {
                    self.deliver(event);
                }
            }
        }
        self.buffer = self.buffer.split_off(&self.next);
    }

    fn deliver(&mut self, event: &CommittedEvent) {
        let frame = event_frame(event.id, event.at, &event.payload);
        let queued = self.hub.publish(
            &event.recipients,
            &Outbound::Event {
                id: event.id,
                frame: Arc::new(frame),
                width: u32::try_from(event.recipients.len()).unwrap_or(u32::MAX),
            },
        );
        self.next = event.id.0 + 1;
        metrics::counter!("natter_deliveries_total").increment(queued as u64);
        let latency_ms = now_millis().saturating_sub(event.at).max(0);
        metrics::histogram!("natter_delivery_latency_seconds").record(latency_ms as f64 / 1000.0);
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
