//! The event feed of one connection: missed events replayed from storage, then live events
//! from the hub, each exactly once and in id order.
//!
//! Opening subscribes to the hub *before* reading the log's head, so no event can fall
//! between the two: an event committed before the head read is in storage (replayed if the
//! client resumes, or part of the state it fetches after `ready` if it starts fresh); one
//! committed after is also queued live. Anything queued live with an id at or below what was
//! already sent is a duplicate of the replay and is skipped.

use std::collections::VecDeque;

use natter_core::Error;
use natter_core::ids::EventId;
use natter_core::model::Account;
use natter_core::protocol::{PROTOCOL_VERSION, ServerFrame};
use natter_realtime::{Outbound, Subscription, event_frame};

use crate::app::App;

pub struct Feed {
    sub: Subscription,
    account: Account,
    /// The id of the last event handed out (the client's cursor once it processes it).
    cursor: EventId,
    /// Still reading missed events from storage.
    replaying: bool,
    /// Replayed events read from storage and not yet handed out.
    pending: VecDeque<Outbound>,
    batch: u32,
}

/// What to tell the client first, in this order.
pub struct Opening {
    pub ready: ServerFrame,
    /// Set when the cursor could not be honoured.
    pub resync: Option<ServerFrame>,
}

impl Feed {
    /// Subscribes `account` and positions the feed after `last_event_id` (or at the head).
    pub async fn open(
        app: &App,
        account: Account,
        last_event_id: Option<EventId>,
    ) -> Result<(Self, Opening), Error> {
        let sub = app
            .hub
            .subscribe(account.id, app.config.limits.ws_outbound_queue);
        let head = app.store.head().await.map_err(App::public_error)?;
        let (cursor, resumed, resync) = match last_event_id {
            None => (head.last_event_id, false, None),
            Some(id) if id < head.pruned_through || id > head.last_event_id => {
                let reason = if id > head.last_event_id {
                    "the cursor is ahead of this server's event log"
                } else {
                    "the cursor is older than the events this server keeps"
                };
                let frame = ServerFrame::Resync {
                    head_event_id: head.last_event_id,
                    reason: reason.to_string(),
                };
                (head.last_event_id, false, Some(frame))
            }
            Some(id) => (id, true, None),
        };
        let ready = ServerFrame::Ready {
            v: PROTOCOL_VERSION,
            account_id: account.id,
            workspace_id: account.workspace_id,
            head_event_id: head.last_event_id,
            heartbeat_ms: app.config.realtime.heartbeat_secs.saturating_mul(1000),
            resumed,
        };
        let feed = Self {
            sub,
            account,
            cursor,
            replaying: resumed,
            pending: VecDeque::new(),
            batch: app.config.realtime.replay_batch.max(1),
        };
        Ok((feed, Opening { ready, resync }))
    }

    /// Where the stream stands: the id of the last event handed out (or skipped as already
    /// known to the client).
    pub fn position(&self) -> EventId {
        self.cursor
    }

    /// The next frame to send. `Ok(None)` means the hub dropped this connection as a slow
    /// consumer: close it and let the client resume. Cancel-safe: state changes only after
    /// each await completes.
    pub async fn next(&mut self, app: &App) -> Result<Option<Outbound>, Error> {
        loop {
            if let Some(item) = self.take_ready() {
                return Ok(Some(item));
            }
            if self.replaying {
                // Boxed: the storage future is large and alive only while catching up.
                let page = Box::pin(app.store.events_after(
                    self.account.id,
                    self.account.is_staff(),
                    self.cursor,
                    self.batch,
                ))
                .await
                .map_err(App::public_error)?;
                if page.is_empty() {
                    self.replaying = false;
                }
                self.pending
                    .extend(page.into_iter().map(|e| Outbound::Event {
                        id: e.id,
                        frame: std::sync::Arc::new(event_frame(e.id, e.at, &e.payload)),
                        // A replay is written in batches already.
                        width: 0,
                    }));
                continue;
            }
            match self.sub.recv().await {
                Some(item) => {
                    if let Some(item) = self.accept(item) {
                        return Ok(Some(item));
                    }
                }
                None => return Ok(None),
            }
        }
    }

    /// The next frame if one is ready without waiting (to batch socket writes).
    pub fn try_next(&mut self) -> Option<Outbound> {
        if let Some(item) = self.take_ready() {
            return Some(item);
        }
        if self.replaying {
            return None;
        }
        while let Some(item) = self.sub.try_recv() {
            if let Some(item) = self.accept(item) {
                return Some(item);
            }
        }
        None
    }

    /// True when the hub queued something that must not wait behind a held wide event (see
    /// `natter_realtime::hub::Urgent`).
    pub fn urgent(&self) -> bool {
        self.sub.urgent()
    }

    /// Completes when [`Self::urgent`] may have become true. Cancel-safe.
    pub async fn urgent_changed(&self) {
        self.sub.urgent_changed().await;
    }

    /// Puts an item back to be returned first by the next call.
    pub fn unread(&mut self, item: Outbound) {
        self.pending.push_front(item);
    }

    fn take_ready(&mut self) -> Option<Outbound> {
        let item = self.pending.pop_front()?;
        if let Outbound::Event { id, .. } = &item {
            self.cursor = *id;
        }
        Some(item)
    }

    /// Filters a live item: events already replayed are dropped.
    fn accept(&mut self, item: Outbound) -> Option<Outbound> {
        match &item {
            Outbound::Event { id, .. } if *id <= self.cursor => None,
            Outbound::Event { id, .. } => {
                self.cursor = *id;
                Some(item)
            }
            Outbound::Ephemeral(_) | Outbound::Revoked => Some(item),
        }
    }
}
