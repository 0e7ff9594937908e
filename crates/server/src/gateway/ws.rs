//! The WebSocket transport.
//!
//! One task per connection, one `select!` loop: inbound frames, outbound events, the
//! heartbeat and shutdown. Outbound frames ready at the same time are written as one batch
//! and flushed once. Handling an inbound frame (e.g. a send waiting for its commit) pauses
//! reading, which is the backpressure a client gets; events keep being written meanwhile.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures_util::SinkExt;
use natter_core::model::SessionState;
use natter_core::protocol::{ClientFrame, PROTOCOL_VERSION, ServerFrame, close};
use natter_core::{Error, ErrorCode};
use natter_realtime::Outbound;
use tokio::time::{Instant, MissedTickBehavior};

use super::feed::Feed;
use super::{error_frame, handle_frame, parse_frame, to_json};
use crate::app::App;
use crate::auth::{Principal, Scope, Via};

/// Outbound frames written per flush at most, so one busy connection cannot hog its task.
const WRITE_BATCH: usize = 64;

/// Frames of one batch are gathered up to this many bytes before they are written, so a
/// connection that has fallen behind catches up with a few `write`s instead of one per frame
/// (on loopback a `write` of a small frame costs about 6 µs of CPU, most of the cost of a
/// delivery). A lone frame is still written at once: the batch ends with a flush. The buffer
/// keeps its capacity, so a connection that once had a burst holds up to this much more.
const WRITE_COALESCE_BYTES: usize = 4096;

/// What `hello` needs from the upgrade request. Only these short strings are kept until then
/// (the request itself is gone once the connection is upgraded).
struct Handshake {
    /// The page's `Origin`: a widget visitor's token is checked against it, and a
    /// session-cookie `hello` needs it to be this server's own origin.
    origin: Option<String>,
    /// The `Host` the request was sent to.
    host: Option<String>,
    /// The session cookie, for a `hello` with an empty token (the agent app signs in with a
    /// password and holds only this HttpOnly cookie, never a token it could send).
    session: Option<String>,
}

/// Longest session cookie kept; `App::session` refuses longer ones anyway.
const MAX_SESSION_COOKIE: usize = 128;

/// Upgrades to a WebSocket with small buffers: an idle connection should cost a few KB.
pub async fn upgrade(
    State(app): State<Arc<App>>,
    parts: axum::http::request::Parts,
    ws: WebSocketUpgrade,
) -> Response {
    let text = |name| {
        parts
            .headers
            .get(name)
            .and_then(|v: &axum::http::HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let handshake = Handshake {
        origin: text(axum::http::header::ORIGIN),
        host: crate::api::host(&parts).map(str::to_string),
        session: crate::api::session_cookie(&parts)
            .filter(|c| c.len() <= MAX_SESSION_COOKIE)
            .map(str::to_string),
    };
    let frame_limit = app.config.limits.ws_frame_bytes;
    ws.read_buffer_size(512)
        .write_buffer_size(WRITE_COALESCE_BYTES)
        .max_write_buffer_size(
            frame_limit
                .saturating_mul(WRITE_BATCH)
                .max(1 << 20)
                .saturating_add(WRITE_COALESCE_BYTES),
        )
        // The transport refuses frames well past our limit; between the two, we close with
        // 1009 ourselves so the client learns why.
        .max_message_size(frame_limit.saturating_mul(2))
        .max_frame_size(frame_limit.saturating_mul(2))
        .on_upgrade(move |socket| async move {
            let _tracked = app.connections.token();
            run(app, socket, handshake).await;
        })
}

async fn send_frame(socket: &mut WebSocket, frame: &ServerFrame) -> bool {
    socket
        .send(Message::Text(Utf8Bytes::from(to_json(frame))))
        .await
        .is_ok()
}

async fn close_with(mut socket: WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    };
    // The peer may be gone already; nothing more to do then.
    let _ = socket.send(Message::Close(Some(frame))).await;
}

/// Waits for the `hello` frame and authenticates it.
async fn hello(
    app: &App,
    socket: &mut WebSocket,
    handshake: &Handshake,
) -> Result<(Principal, Option<natter_core::EventId>), (u16, &'static str)> {
    let limit = app.config.limits.ws_frame_bytes;
    // A deadline, not a per-frame timeout: pings must not keep an unauthenticated socket open.
    let deadline = Instant::now() + Duration::from_secs(app.config.realtime.hello_timeout_secs);
    let text = loop {
        match tokio::time::timeout_at(deadline, socket.recv()).await {
            Err(_) => return Err((close::HELLO_REQUIRED, "hello_timeout")),
            Ok(Some(Err(e))) if is_too_big(&e) => return Err((close::TOO_BIG, "too_large")),
            Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => {
                return Err((close::GOING_AWAY, "closed"));
            }
            Ok(Some(Ok(Message::Text(text)))) if text.len() > limit => {
                return Err((close::TOO_BIG, "too_large"));
            }
            Ok(Some(Ok(Message::Text(text)))) => break text,
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
            Ok(Some(Ok(Message::Binary(_)))) => {
                return Err((close::HELLO_REQUIRED, "hello_required"));
            }
        }
    };
    match parse_frame(&text) {
        Ok(ClientFrame::Hello {
            token,
            last_event_id,
            v,
        }) => {
            if v.is_some_and(|v| v != PROTOCOL_VERSION) {
                return Err((close::UNSUPPORTED_VERSION, "unsupported_version"));
            }
            let principal = if token.is_empty() {
                session_principal(app, handshake).await?
            } else {
                token_principal(app, &token, handshake).await?
            };
            Ok((principal, last_event_id))
        }
        _ => Err((close::HELLO_REQUIRED, "hello_required")),
    }
}

/// Authenticates a `hello` token (staff API token or contact token).
async fn token_principal(
    app: &App,
    token: &str,
    handshake: &Handshake,
) -> Result<Principal, (u16, &'static str)> {
    match app.authenticate(token).await {
        Ok(principal) if !principal.allows(Scope::Read) => {
            Err((close::UNAUTHENTICATED, "insufficient_scope"))
        }
        Ok(principal) => match principal.via {
            Via::Contact {
                website: Some(website),
            } => match app
                .visitor_website(
                    website,
                    handshake.origin.as_deref(),
                    handshake.host.as_deref(),
                )
                .await
            {
                Ok(_) => Ok(principal),
                Err(e) if e.code == ErrorCode::OriginNotAllowed => {
                    Err((close::ORIGIN_NOT_ALLOWED, "origin_not_allowed"))
                }
                Err(e) if e.code == ErrorCode::Unauthenticated => {
                    Err((close::UNAUTHENTICATED, "unauthenticated"))
                }
                Err(_) => Err((close::GOING_AWAY, "unavailable")),
            },
            _ => Ok(principal),
        },
        Err(e) if e.code == ErrorCode::Unauthenticated => {
            Err((close::UNAUTHENTICATED, "unauthenticated"))
        }
        Err(_) => Err((close::GOING_AWAY, "unavailable")),
    }
}

/// Authenticates a `hello` with an empty token by the upgrade's session cookie: the same
/// principal a cookie-authenticated REST call gets, for a fully signed-in session only.
///
/// Browsers send the cookie with a WebSocket that any page opens to this server, and a
/// socket has no CSRF token, so the upgrade must come from this server's own pages: its
/// `Origin` (which pages cannot forge) must name the `Host` it was sent to.
async fn session_principal(
    app: &App,
    handshake: &Handshake,
) -> Result<Principal, (u16, &'static str)> {
    const REFUSED: (u16, &str) = (close::UNAUTHENTICATED, "unauthenticated");
    let Some(cookie) = handshake.session.as_deref() else {
        return Err(REFUSED);
    };
    if !same_origin(handshake.origin.as_deref(), handshake.host.as_deref()) {
        return Err(REFUSED);
    }
    match app.session(cookie).await {
        // An `mfa` or `enrol` session has not finished signing in (as for REST calls).
        Ok(session) if session.state != SessionState::Active => Err(REFUSED),
        Ok(session) => Ok(Principal {
            account: session.account,
            via: Via::Session {
                id: session.id,
                csrf: session.csrf_token,
            },
        }),
        Err(e) if e.code == ErrorCode::Unauthenticated => Err(REFUSED),
        Err(_) => Err((close::GOING_AWAY, "unavailable")),
    }
}

/// Whether `origin` (`scheme://host[:port]`) names `host` (the request's `Host`, with its
/// port when not the default). Host names are case-insensitive; anything else must match
/// exactly, so an absent or `null` origin is never the same.
fn same_origin(origin: Option<&str>, host: Option<&str>) -> bool {
    let (Some(origin), Some(host)) = (origin, host) else {
        return false;
    };
    match origin.split_once("://") {
        Some(("http" | "https", authority)) => {
            !authority.is_empty() && authority.eq_ignore_ascii_case(host)
        }
        _ => false,
    }
}

async fn run(app: Arc<App>, mut socket: WebSocket, handshake: Handshake) {
    // Heavy futures (authentication, storage, frame handling) are boxed where they are
    // awaited: the connection task is sized for its largest state, and an idle connection
    // should pay for waiting, not for a database query it is not running.
    let authenticated = Box::pin(hello(&app, &mut socket, &handshake)).await;
    // The cookie is a credential: keep it no longer than needed.
    drop(handshake);
    let (principal, last_event_id) = match authenticated {
        Ok(hello) => hello,
        Err((code, reason)) => return close_with(socket, code, reason).await,
    };
    let opening = Box::pin(Feed::open(&app, principal.account.clone(), last_event_id));
    let (mut feed, opening) = match opening.await {
        Ok(opened) => opened,
        Err(_) => return close_with(socket, close::GOING_AWAY, "unavailable").await,
    };
    if !send_frame(&mut socket, &opening.ready).await {
        return;
    }
    if let Some(resync) = &opening.resync
        && !send_frame(&mut socket, resync).await
    {
        return;
    }

    let heartbeat = Duration::from_secs(app.config.realtime.heartbeat_secs);
    let idle_timeout = Duration::from_secs(app.config.realtime.idle_timeout_secs);
    let frame_limit = app.config.limits.ws_frame_bytes;
    let mut ticker = tokio::time::interval_at(Instant::now() + heartbeat, heartbeat);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_heard = Instant::now();
    let mut pacer = Pacer::new(
        Duration::from_millis(app.config.realtime.write_pace_ms),
        app.config.realtime.room_writes_per_sec,
    );

    loop {
        tokio::select! {
            biased;
            () = app.shutdown.cancelled() => {
                return close_with(socket, close::GOING_AWAY, "server_shutdown").await;
            }
            inbound = socket.recv() => {
                let text = match inbound {
                    Some(Err(e)) if is_too_big(&e) => {
                        return close_with(socket, close::TOO_BIG, "too_large").await;
                    }
                    None | Some(Err(_)) => return,
                    Some(Ok(Message::Close(_))) => {
                        // The transport queued its answer to the client's close; send it.
                        let _ = socket.flush().await;
                        return;
                    }
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {
                        last_heard = Instant::now();
                        continue;
                    }
                    Some(Ok(Message::Binary(_))) => {
                        last_heard = Instant::now();
                        let error = Error::new(ErrorCode::MalformedRequest,
                            "binary frames are not supported; send JSON text");
                        if !send_frame(&mut socket, &error_frame(None, error)).await {
                            return;
                        }
                        continue;
                    }
                };
                last_heard = Instant::now();
                if text.len() > frame_limit {
                    return close_with(socket, close::TOO_BIG, "too_large").await;
                }
                let (answer, ended) = match parse_frame(&text) {
                    Ok(frame) => {
                        let handling = Box::pin(handle_frame(&app, &principal, frame));
                        forward_while(&app, &mut socket, &mut feed, &mut pacer, handling).await
                    }
                    Err(bad) => (Some(error_frame(bad.req, bad.error)), None),
                };
                if let Some(answer) = answer
                    && !send_frame(&mut socket, &answer).await
                {
                    return;
                }
                if let Some(end) = ended {
                    return end.close(socket).await;
                }
            }
            outbound = paced_next(&mut pacer, &mut feed, &app) => {
                if let Err(end) = forward(&mut socket, &mut feed, &mut pacer, outbound).await {
                    return end.close(socket).await;
                }
            }
            _ = ticker.tick() => {
                if last_heard.elapsed() >= idle_timeout {
                    return close_with(socket, close::IDLE_TIMEOUT, "idle_timeout").await;
                }
                if socket.send(Message::Ping(Default::default())).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Why the feed ended a connection.
enum End {
    /// Close with this code and reason.
    Close(u16, &'static str),
    /// The peer is gone: nothing more can be written.
    Gone,
}

impl End {
    async fn close(self, socket: WebSocket) {
        if let Self::Close(code, reason) = self {
            close_with(socket, code, reason).await;
        }
    }
}

/// When a connection may write wide events (see `realtime.write_pace_ms`).
///
/// On loopback a `write` costs about 6 µs however small the frame, and every member of a big
/// room gets a frame per message: written one by one, the `write`s are most of what such a
/// fan-out costs the server (and the reads most of what it costs each client). So a wide
/// event ([`Outbound::is_wide`]) that comes less than the
/// pace after this connection's previous write goes back to the feed until the pace has
/// passed, and the frames that arrive meanwhile share its `write`. Events of ordinary
/// conversations are never held (they are written at once, with anything held before them),
/// nor is anything on a connection that was quiet for the pace; no frame waits longer than
/// the pace.
///
/// The pace grows with the room (`realtime.room_writes_per_sec`): with a fixed pace the
/// `write`s a room costs grow with its members, and 1,000 members writing every 20 ms were a
/// third of the server's core in the fan-out benchmark.
struct Pacer {
    /// The least wait; zero when pacing is off.
    pace: Duration,
    /// How many `write`s a second one room may cost the node; 0 when the pace does not grow.
    room_writes_per_sec: u64,
    /// This connection's last write, while it still paces the next one: never set when
    /// pacing is off, and cleared when a hold ends (the held event then goes whatever its
    /// pace).
    last_write: Option<Instant>,
    /// A wide event is back in the feed, waiting until then.
    held_until: Option<Instant>,
}

/// The longest a wide event waits, whatever its width (`realtime.write_pace_ms` has the same
/// ceiling): beyond a second, held events would look lost.
const MAX_PACE: Duration = Duration::from_secs(1);

impl Pacer {
    fn new(pace: Duration, room_writes_per_sec: u64) -> Self {
        Self {
            pace,
            room_writes_per_sec,
            last_write: None,
            held_until: None,
        }
    }

    /// The wait after a write for an event sent to `width` accounts.
    fn pace_for(&self, width: u32) -> Duration {
        let by_width = match self.room_writes_per_sec {
            0 => Duration::ZERO,
            rate => Duration::from_micros(u64::from(width).saturating_mul(1_000_000) / rate),
        };
        self.pace.max(by_width).min(MAX_PACE)
    }

    /// True when `item` must wait: the caller puts it back in the feed, and [`paced_next`]
    /// hands it out again once the pace has passed.
    fn holds(&mut self, item: &Outbound) -> bool {
        let (Outbound::Event { width, .. }, Some(last_write)) = (item, self.last_write) else {
            return false;
        };
        if !item.is_wide() {
            return false;
        }
        let until = last_write + self.pace_for(*width);
        self.held_until = (until > Instant::now()).then_some(until);
        self.held_until.is_some()
    }

    /// Ends a hold: the held event goes with the next write.
    fn release(&mut self) {
        self.held_until = None;
        self.last_write = None;
    }

    fn wrote(&mut self) {
        self.held_until = None;
        if !self.pace.is_zero() {
            self.last_write = Some(Instant::now());
        }
    }
}

/// The feed's next item, after the pace when a wide event is held.
///
/// While it is held the connection does not poll its queue (a big room's frames then cost no
/// wake-up each); the hub wakes it when something arrives that must not wait — an event of a
/// small conversation, typing, a revocation — or the queue is three quarters full, and the
/// hold ends there. Waiting here, in a branch of the connection's `select!`, keeps inbound
/// frames and the answers to them flowing meanwhile. Cancel-safe: the hold is in `pacer`.
async fn paced_next(
    pacer: &mut Pacer,
    feed: &mut Feed,
    app: &App,
) -> Result<Option<Outbound>, Error> {
    if let Some(until) = pacer.held_until {
        // Boxed: a timer is large, and an idle connection should not carry one.
        let mut pace = Box::pin(tokio::time::sleep_until(until));
        while !feed.urgent() {
            tokio::select! {
                () = &mut pace => break,
                () = feed.urgent_changed() => {}
            }
        }
        pacer.release();
    }
    feed.next(app).await
}

/// Writes what the feed handed out (and whatever else is ready).
async fn forward(
    socket: &mut WebSocket,
    feed: &mut Feed,
    pacer: &mut Pacer,
    outbound: Result<Option<Outbound>, Error>,
) -> Result<(), End> {
    match outbound {
        Ok(Some(Outbound::Revoked)) => Err(End::Close(close::UNAUTHENTICATED, "revoked")),
        Ok(Some(item)) if pacer.holds(&item) => {
            feed.unread(item);
            Ok(())
        }
        Ok(Some(item)) => {
            let written = write_batch(socket, feed, item).await;
            pacer.wrote();
            match written {
                true => Ok(()),
                false => Err(End::Gone),
            }
        }
        Ok(None) => Err(End::Close(close::SLOW_CONSUMER, "slow_consumer")),
        Err(_) => Err(End::Close(close::GOING_AWAY, "unavailable")),
    }
}

/// Runs `handling` (an inbound frame) to completion while the feed keeps being written.
///
/// A `send` waits for its commit, which under load is a batch's worth of milliseconds; the
/// connection's queue keeps filling meanwhile, with every event of every conversation the
/// client is in (its own sends' echoes included). Not writing it out then would drop a
/// client that sends into a busy room as a slow consumer for the server's own pause. The
/// frame being handled is never cancelled: when the feed ends the connection, the handling
/// still finishes (its write commits or not, as a whole), and the end is returned with the
/// answer.
async fn forward_while<F>(
    app: &App,
    socket: &mut WebSocket,
    feed: &mut Feed,
    pacer: &mut Pacer,
    mut handling: std::pin::Pin<Box<F>>,
) -> (Option<ServerFrame>, Option<End>)
where
    F: Future<Output = Option<ServerFrame>>,
{
    let mut ended = None;
    loop {
        tokio::select! {
            biased;
            answer = &mut handling => return (answer, ended),
            // `Feed::next` is cancel-safe, so losing this race to the answer loses nothing.
            outbound = paced_next(pacer, feed, app), if ended.is_none() => {
                if let Err(end) = forward(socket, feed, pacer, outbound).await {
                    ended = Some(end);
                }
            }
        }
    }
}

/// True when the transport refused a frame for its size (beyond twice our own limit, where
/// the transport stops reading it): the client still deserves a 1009.
fn is_too_big(error: &axum::Error) -> bool {
    std::error::Error::source(error)
        .and_then(|e| e.downcast_ref::<tungstenite::Error>())
        .is_some_and(|e| matches!(e, tungstenite::Error::Capacity(_)))
}

/// Writes `first` and whatever else is ready (up to [`WRITE_BATCH`]), then flushes once.
async fn write_batch(socket: &mut WebSocket, feed: &mut Feed, first: Outbound) -> bool {
    let mut item = Some(first);
    let mut written = 0;
    while let Some(next) = item.take() {
        let bytes = match next {
            // The last recipient takes the frame; the others share its buffer (a refcount).
            Outbound::Event { frame, .. } | Outbound::Ephemeral(frame) => {
                std::sync::Arc::unwrap_or_clone(frame)
            }
            // Leave the close to the main loop: hand it back and stop this batch here.
            Outbound::Revoked => {
                feed.unread(Outbound::Revoked);
                break;
            }
        };
        let Ok(text) = Utf8Bytes::try_from(bytes) else {
            tracing::error!("a queued frame is not UTF-8");
            return false;
        };
        if socket.feed(Message::Text(text)).await.is_err() {
            return false;
        }
        written += 1;
        if written < WRITE_BATCH {
            item = feed.try_next();
        }
    }
    socket.flush().await.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_origin_naming_the_requested_host_is_the_same_origin() {
        let host = Some("chat.example.com:8080");
        for (origin, same) in [
            (Some("http://chat.example.com:8080"), true),
            (Some("https://Chat.Example.COM:8080"), true),
            (Some("http://chat.example.com:8081"), false),
            (Some("http://chat.example.com"), false),
            (Some("https://evil.example"), false),
            (Some("http://chat.example.com:8080/"), false),
            (Some("ws://chat.example.com:8080"), false),
            (Some("null"), false),
            (None, false),
        ] {
            assert_eq!(same_origin(origin, host), same, "{origin:?}");
        }
        assert!(!same_origin(Some("http://chat.example.com:8080"), None));
    }
}
