//! Messages, reactions, read/delivered cursors and typing.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, patch, post, put};
use axum::{Json, Router};
pub use natter_core::api::{
    CursorPosition, CursorRequest, HistoryParams, PostMessageRequest, PostedMessage,
};
use natter_core::ids::{ConversationId, MessageId};
use natter_core::model::Message;
pub use natter_core::staff_api::EditMessage;
use natter_store::Cursor;

use super::{ApiError, ApiPath, ApiQuery, Body, Caller, CallerPrincipal, JsonVec};
use crate::app::{App, PostMessage};

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route(
            "/v1/conversations/{conversation_id}/messages",
            get(history).post(post_message),
        )
        .route(
            "/v1/conversations/{conversation_id}/messages/{message_id}",
            patch(edit).delete(delete_message),
        )
        .route(
            "/v1/conversations/{conversation_id}/messages/{message_id}/reactions/{emoji}",
            put(add_reaction).delete(remove_reaction),
        )
        .route("/v1/conversations/{conversation_id}/read", post(read))
        .route(
            "/v1/conversations/{conversation_id}/delivered",
            post(delivered),
        )
        .route("/v1/conversations/{conversation_id}/typing", post(typing))
}

/// A page of history, oldest first, as the caller may see it (contacts never see notes).
#[utoipa::path(get, path = "/v1/conversations/{conversation_id}/messages", tag = "messages",
    security(("bearer" = [])),
    params(("conversation_id" = i64, Path, description = "The conversation"), HistoryParams),
    responses((status = 200, body = Vec<Message>), (status = 404, body = natter_core::Error)))]
pub async fn history(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<HistoryParams>,
) -> Result<JsonVec<Vec<Message>>, ApiError> {
    let messages = app
        .history(&actor, ConversationId(id), q.before, q.after, q.limit)
        .await?;
    Ok(JsonVec(messages))
}

/// Posts a message; answered after it is committed. 201 for a new message, 200 for a retry
/// of a `client_msg_id` already stored.
#[utoipa::path(post, path = "/v1/conversations/{conversation_id}/messages", tag = "messages",
    security(("bearer" = [])), request_body = PostMessageRequest,
    params(("conversation_id" = i64, Path, description = "The conversation")),
    responses((status = 201, body = PostedMessage),
              (status = 200, description = "A retry; the original message", body = PostedMessage),
              (status = 400, body = natter_core::Error),
              (status = 403, body = natter_core::Error),
              (status = 404, body = natter_core::Error),
              (status = 413, body = natter_core::Error)))]
pub async fn post_message(
    State(app): State<Arc<App>>,
    CallerPrincipal(principal): CallerPrincipal,
    ApiPath(id): ApiPath<i64>,
    Body(req): Body<PostMessageRequest>,
) -> Result<(StatusCode, Json<PostedMessage>), ApiError> {
    app.check_visitor_send(&principal).await?;
    let actor = principal.account;
    let outcome = app
        .post_message(
            &actor,
            PostMessage {
                conversation_id: ConversationId(id),
                client_msg_id: req.client_msg_id,
                kind: req.kind,
                format: req.format,
                body: req.body,
            },
        )
        .await?;
    let status = if outcome.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        Json(PostedMessage {
            message: outcome.message,
            duplicate: outcome.duplicate,
        }),
    ))
}

/// Replaces the body of one's own message.
#[utoipa::path(patch, path = "/v1/conversations/{conversation_id}/messages/{message_id}",
    tag = "messages", security(("bearer" = [])), request_body = EditMessage,
    params(("conversation_id" = i64, Path, description = "The conversation"),
           ("message_id" = i64, Path, description = "The message")),
    responses((status = 200, body = Message), (status = 403, body = natter_core::Error),
              (status = 404, body = natter_core::Error), (status = 409, body = natter_core::Error)))]
pub async fn edit(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    ApiPath((id, message)): ApiPath<(i64, i64)>,
    Body(req): Body<EditMessage>,
) -> Result<Json<Message>, ApiError> {
    let message = app
        .edit_message(&actor, ConversationId(id), MessageId(message), &req.body)
        .await?;
    Ok(Json(message))
}

/// Deletes a message (one's own; owners and admins any), leaving a tombstone.
#[utoipa::path(delete, path = "/v1/conversations/{conversation_id}/messages/{message_id}",
    tag = "messages", security(("bearer" = [])),
    params(("conversation_id" = i64, Path, description = "The conversation"),
           ("message_id" = i64, Path, description = "The message")),
    responses((status = 204, description = "Deleted"), (status = 403, body = natter_core::Error),
              (status = 404, body = natter_core::Error)))]
pub async fn delete_message(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    ApiPath((id, message)): ApiPath<(i64, i64)>,
) -> Result<StatusCode, ApiError> {
    app.delete_message(&actor, ConversationId(id), MessageId(message))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Adds the caller's reaction (idempotent).
#[utoipa::path(put,
    path = "/v1/conversations/{conversation_id}/messages/{message_id}/reactions/{emoji}",
    tag = "messages", security(("bearer" = [])),
    params(("conversation_id" = i64, Path, description = "The conversation"),
           ("message_id" = i64, Path, description = "The message"),
           ("emoji" = String, Path, description = "The emoji, URL-encoded")),
    responses((status = 204, description = "Added (or already there)"),
              (status = 400, body = natter_core::Error), (status = 404, body = natter_core::Error),
              (status = 409, body = natter_core::Error)))]
pub async fn add_reaction(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    ApiPath((id, message, emoji)): ApiPath<(i64, i64, String)>,
) -> Result<StatusCode, ApiError> {
    app.react(&actor, ConversationId(id), MessageId(message), &emoji, true)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes the caller's reaction (idempotent).
#[utoipa::path(delete,
    path = "/v1/conversations/{conversation_id}/messages/{message_id}/reactions/{emoji}",
    tag = "messages", security(("bearer" = [])),
    params(("conversation_id" = i64, Path, description = "The conversation"),
           ("message_id" = i64, Path, description = "The message"),
           ("emoji" = String, Path, description = "The emoji, URL-encoded")),
    responses((status = 204, description = "Removed (or was not there)"),
              (status = 404, body = natter_core::Error)))]
pub async fn remove_reaction(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    ApiPath((id, message, emoji)): ApiPath<(i64, i64, String)>,
) -> Result<StatusCode, ApiError> {
    app.react(
        &actor,
        ConversationId(id),
        MessageId(message),
        &emoji,
        false,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Marks messages read up to `seq`.
#[utoipa::path(post, path = "/v1/conversations/{conversation_id}/read", tag = "messages",
    security(("bearer" = [])), request_body = CursorRequest,
    params(("conversation_id" = i64, Path, description = "The conversation")),
    responses((status = 200, body = CursorPosition), (status = 404, body = natter_core::Error)))]
pub async fn read(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<i64>,
    Body(req): Body<CursorRequest>,
) -> Result<Json<CursorPosition>, ApiError> {
    let seq = app
        .move_cursor(&actor, ConversationId(id), Cursor::Read, req.seq)
        .await?;
    Ok(Json(CursorPosition { seq }))
}

/// Marks messages delivered up to `seq`.
#[utoipa::path(post, path = "/v1/conversations/{conversation_id}/delivered", tag = "messages",
    security(("bearer" = [])), request_body = CursorRequest,
    params(("conversation_id" = i64, Path, description = "The conversation")),
    responses((status = 200, body = CursorPosition), (status = 404, body = natter_core::Error)))]
pub async fn delivered(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<i64>,
    Body(req): Body<CursorRequest>,
) -> Result<Json<CursorPosition>, ApiError> {
    let seq = app
        .move_cursor(&actor, ConversationId(id), Cursor::Delivered, req.seq)
        .await?;
    Ok(Json(CursorPosition { seq }))
}

/// Signals that the caller is typing (ephemeral, throttled, never stored).
#[utoipa::path(post, path = "/v1/conversations/{conversation_id}/typing", tag = "messages",
    security(("bearer" = [])),
    params(("conversation_id" = i64, Path, description = "The conversation")),
    responses((status = 204, description = "Forwarded (or throttled)"),
              (status = 404, body = natter_core::Error)))]
pub async fn typing(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    app.typing(&actor, ConversationId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
