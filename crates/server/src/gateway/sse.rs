//! The fallback transport: events over Server-Sent Events, client frames over POST.
//!
//! `GET /v1/events` streams the same frames as the WebSocket, one JSON frame per SSE `data`
//! line. Durable events carry their id in the SSE `id` field, so a browser `EventSource`
//! resumes by itself with `Last-Event-ID`. Browsers cannot set headers on an
//! `EventSource`, so the token may come as `access_token` in the query string here (and
//! only here). `POST /v1/frames` takes any client frame but `hello` and answers with the
//! frame the WebSocket would have sent.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use futures_util::stream;
use natter_core::EventId;
use natter_core::protocol::{ClientFrame, ServerFrame};
use natter_core::{Error, ErrorCode};
use natter_realtime::Outbound;
use serde::Deserialize;
use utoipa::IntoParams;

use super::feed::Feed;
use super::{handle_frame, parse_frame, to_json};
use crate::api::{ApiError, ApiQuery, CallerPrincipal, Text};
use crate::app::App;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Resume after this event id (the `Last-Event-ID` header takes precedence).
    pub last_event_id: Option<i64>,
    /// The token, for clients that cannot send an `Authorization` header.
    pub access_token: Option<String>,
}

/// `ready` and `resync` carry the position the stream starts from as their SSE id, so a
/// browser's `EventSource` reconnects from there (and not, after a resync, from the stale
/// cursor that caused it).
fn sse_position(frame: &ServerFrame, position: EventId) -> Event {
    Event::default()
        .id(position.0.to_string())
        .data(to_json(frame))
}

fn outbound_event(item: Outbound) -> Event {
    match item {
        Outbound::Event { id, frame, .. } => Event::default()
            .id(id.0.to_string())
            .data(String::from_utf8_lossy(&frame)),
        Outbound::Ephemeral(frame) => Event::default().data(String::from_utf8_lossy(&frame)),
        Outbound::Revoked => Event::default().comment("revoked"),
    }
}

/// The event stream: `ready` (and `resync` if needed), replayed events, then live events.
/// Ends when the client is too slow (reconnect and resume) or the node shuts down.
#[utoipa::path(get, path = "/v1/events", tag = "realtime", security(("bearer" = [])),
    params(EventsQuery,
           ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this event")),
    responses((status = 200, description = "text/event-stream of server frames"),
              (status = 401, body = natter_core::Error)))]
pub async fn events(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<EventsQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let header_token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let token = header_token
        .or(query.access_token.as_deref())
        .ok_or_else(|| Error::new(ErrorCode::Unauthenticated, "missing token"))?;
    let principal = app.authenticate(token.trim()).await?;
    principal.require(crate::auth::Scope::Read)?;
    if let crate::auth::Via::Contact {
        website: Some(website),
    } = principal.via
    {
        let text = |name| {
            headers
                .get(name)
                .and_then(|v: &axum::http::HeaderValue| v.to_str().ok())
        };
        app.visitor_website(
            website,
            text(axum::http::header::ORIGIN),
            text(axum::http::header::HOST),
        )
        .await?;
    }
    let account = principal.account;
    let last_event_id = match headers.get("last-event-id") {
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .ok_or_else(|| Error::invalid("Last-Event-ID must be an event id"))?,
        ),
        None => query.last_event_id,
    };
    let (feed, opening) = Feed::open(&app, account, last_event_id.map(EventId)).await?;
    let position = feed.position();
    let mut first = vec![sse_position(&opening.ready, position)];
    first.extend(opening.resync.as_ref().map(|f| sse_position(f, position)));

    // Axum's graceful shutdown waits for open responses, so the stream ends on shutdown.
    let heartbeat = Duration::from_secs(app.config.realtime.heartbeat_secs);
    let live = stream::unfold((app, feed), |(app, mut feed)| async move {
        let item = tokio::select! {
            () = app.shutdown.cancelled() => return None,
            item = feed.next(&app) => item,
        };
        match item {
            // Credentials revoked: end the stream; reconnecting with them fails with 401.
            Ok(Some(Outbound::Revoked)) => None,
            Ok(Some(item)) => Some((Ok(outbound_event(item)), (app, feed))),
            // Too slow, or storage failed: end the stream; the client reconnects and resumes.
            Ok(None) | Err(_) => None,
        }
    });
    let stream = futures_util::StreamExt::chain(stream::iter(first.into_iter().map(Ok)), live);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(heartbeat)))
}

/// Sends one client frame (not `hello`: the bearer token authenticates) and returns the
/// server's answer: `ack`, `ok`, `pong` or `error`.
#[utoipa::path(post, path = "/v1/frames", tag = "realtime", security(("bearer" = [])),
    request_body = ClientFrame,
    responses((status = 200, body = ServerFrame),
              (status = 400, body = natter_core::Error),
              (status = 401, body = natter_core::Error)))]
pub async fn frames(
    State(app): State<Arc<App>>,
    CallerPrincipal(principal): CallerPrincipal,
    Text(body): Text,
) -> Result<Json<ServerFrame>, ApiError> {
    let frame = parse_frame(&body).map_err(|bad| ApiError(bad.error))?;
    if matches!(frame, ClientFrame::Hello { .. }) {
        return Err(ApiError(Error::new(
            ErrorCode::MalformedRequest,
            "hello is for WebSockets; authenticate with the Authorization header",
        )));
    }
    match handle_frame(&app, &principal, frame).await {
        Some(ServerFrame::Error { code, message, .. }) => Err(ApiError(Error::new(code, message))),
        Some(answer) => Ok(Json(answer)),
        None => Ok(Json(ServerFrame::Ok { req: None })),
    }
}
