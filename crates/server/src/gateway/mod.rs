//! The real-time gateway: WebSocket at `/v1/ws`, and the same protocol over SSE (`/v1/events`)
//! plus POST (`/v1/frames`) for networks that block WebSockets. Both transports share frame
//! parsing, frame handling and the [`feed::Feed`] that replays missed events from storage
//! before switching to live ones.

pub mod feed;
pub mod sse;
pub mod ws;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use natter_core::protocol::{ClientFrame, ServerFrame};
use natter_core::{Error, ErrorCode};
use natter_store::Cursor;

use crate::app::{App, PostMessage};
use crate::auth::{Principal, Scope};

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/ws", get(ws::upgrade))
        .route("/v1/events", get(sse::events))
        .route("/v1/frames", post(sse::frames))
}

/// The client frame types, to tell an unknown type from a malformed known one.
const CLIENT_FRAME_TYPES: &[&str] = &[
    "hello",
    "send",
    "typing",
    "read",
    "delivered",
    "react",
    "ping",
];

/// Longest `ref` a client may attach (it is echoed back verbatim).
const MAX_REF_BYTES: usize = 64;

/// A frame that could not be parsed, with the `ref` it carried (if any) for the error frame.
pub struct BadFrame {
    pub req: Option<String>,
    pub error: Error,
}

/// Parses one client frame. Invalid JSON is `malformed_request`; a `type` the server does not
/// know is `unknown_frame`; a known type with bad fields is `malformed_request`.
pub fn parse_frame(text: &str) -> Result<ClientFrame, BadFrame> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| BadFrame {
        req: None,
        error: Error::new(ErrorCode::MalformedRequest, format!("invalid JSON: {e}")),
    })?;
    let req = value.get("ref").and_then(|r| r.as_str());
    if req.is_some_and(|r| r.len() > MAX_REF_BYTES) {
        return Err(BadFrame {
            req: None,
            error: Error::new(
                ErrorCode::MalformedRequest,
                format!("ref must be at most {MAX_REF_BYTES} bytes"),
            ),
        });
    }
    let req = req.map(str::to_string);
    let kind = value.get("type").and_then(|t| t.as_str());
    match kind {
        Some(kind) if CLIENT_FRAME_TYPES.contains(&kind) => {}
        Some(kind) => {
            let kind: String = kind.chars().take(32).collect();
            return Err(BadFrame {
                req,
                error: Error::new(
                    ErrorCode::UnknownFrame,
                    format!("unknown frame type {kind:?}"),
                ),
            });
        }
        None => {
            return Err(BadFrame {
                req,
                error: Error::new(
                    ErrorCode::MalformedRequest,
                    "a frame needs a string \"type\"",
                ),
            });
        }
    }
    serde_json::from_value(value).map_err(|e| BadFrame {
        req,
        error: Error::new(ErrorCode::MalformedRequest, e.to_string()),
    })
}

/// The error frame for `error`, echoing the client's `ref`.
pub fn error_frame(req: Option<String>, error: Error) -> ServerFrame {
    ServerFrame::Error {
        req,
        code: error.code,
        message: error.message,
    }
}

/// Handles one frame from an authenticated client (anything but `hello`) and returns the
/// answer, if the frame has one (`typing` has none unless it fails). Frames that change
/// anything need the `write` scope when the client uses an API token.
pub async fn handle_frame(
    app: &App,
    principal: &Principal,
    frame: ClientFrame,
) -> Option<ServerFrame> {
    let account = &principal.account;
    if !matches!(frame, ClientFrame::Ping { .. } | ClientFrame::Hello { .. })
        && let Err(e) = principal.require(Scope::Write)
    {
        return Some(error_frame(frame_ref(&frame), e));
    }
    match frame {
        ClientFrame::Hello { .. } => Some(error_frame(
            None,
            Error::new(ErrorCode::MalformedRequest, "already authenticated"),
        )),
        ClientFrame::Send {
            req,
            conversation_id,
            client_msg_id,
            kind,
            format,
            body,
        } => {
            let input = PostMessage {
                conversation_id,
                client_msg_id,
                kind,
                format,
                body,
            };
            let sent = match app.check_visitor_send(principal).await {
                Ok(()) => app.post_message(account, input).await,
                Err(e) => Err(e),
            };
            Some(match sent {
                Ok(outcome) => ServerFrame::Ack {
                    req,
                    conversation_id,
                    message_id: outcome.message.id,
                    seq: outcome.message.seq,
                    duplicate: outcome.duplicate,
                },
                Err(e) => error_frame(req, e),
            })
        }
        ClientFrame::Typing {
            req,
            conversation_id,
        } => app
            .typing(account, conversation_id)
            .await
            .err()
            .map(|e| error_frame(req, e)),
        ClientFrame::Read {
            req,
            conversation_id,
            seq,
        } => Some(ok_or_error(
            req,
            app.move_cursor(account, conversation_id, Cursor::Read, seq)
                .await
                .map(drop),
        )),
        ClientFrame::Delivered {
            req,
            conversation_id,
            seq,
        } => Some(ok_or_error(
            req,
            app.move_cursor(account, conversation_id, Cursor::Delivered, seq)
                .await
                .map(drop),
        )),
        ClientFrame::React {
            req,
            conversation_id,
            message_id,
            emoji,
            remove,
        } => Some(ok_or_error(
            req,
            app.react(account, conversation_id, message_id, &emoji, !remove)
                .await,
        )),
        ClientFrame::Ping { req } => Some(ServerFrame::Pong { req }),
    }
}

/// The `ref` a frame carries, for its error.
fn frame_ref(frame: &ClientFrame) -> Option<String> {
    match frame {
        ClientFrame::Send { req, .. }
        | ClientFrame::Typing { req, .. }
        | ClientFrame::Read { req, .. }
        | ClientFrame::Delivered { req, .. }
        | ClientFrame::React { req, .. }
        | ClientFrame::Ping { req } => req.clone(),
        ClientFrame::Hello { .. } => None,
    }
}

fn ok_or_error(req: Option<String>, result: Result<(), Error>) -> ServerFrame {
    match result {
        Ok(()) => ServerFrame::Ok { req },
        Err(e) => error_frame(req, e),
    }
}

/// Serialises a server frame. Our frames always serialise; the fallback keeps the edge
/// free of panics all the same.
pub fn to_json(frame: &ServerFrame) -> String {
    serde_json::to_string(frame).unwrap_or_else(|e| {
        tracing::error!(error = %e, "cannot serialise a server frame");
        r#"{"type":"error","ref":null,"code":"internal","message":"internal error"}"#.to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> ErrorCode {
        match parse_frame(text) {
            Ok(_) => panic!("{text} parsed"),
            Err(bad) => bad.error.code,
        }
    }

    #[test]
    fn invalid_json_unknown_types_and_bad_fields_get_distinct_codes() {
        assert_eq!(code("{not json"), ErrorCode::MalformedRequest);
        assert_eq!(code(r#"{"type":"dance"}"#), ErrorCode::UnknownFrame);
        assert_eq!(
            code(r#"{"type":"send","body":1}"#),
            ErrorCode::MalformedRequest
        );
        assert_eq!(code(r#"{"no":"type"}"#), ErrorCode::MalformedRequest);
    }

    #[test]
    fn a_bad_frame_keeps_its_ref_for_the_error() {
        let Err(bad) = parse_frame(r#"{"type":"send","ref":"r9"}"#) else {
            panic!("parsed");
        };
        assert_eq!(bad.req.as_deref(), Some("r9"));
    }
}
