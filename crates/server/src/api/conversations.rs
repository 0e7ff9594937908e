//! Conversations and participants.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use natter_core::ids::{AccountId, ConversationId};
use natter_core::model::{
    Conversation, ConversationKind, ConversationStatus, ConversationSummary, Participant,
    ParticipantRole, Visibility,
};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiError, ApiPath, ApiQuery, Body, Caller};
use crate::app::{App, CreateConversation};

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/conversations", post(create).get(list))
        .route(
            "/v1/conversations/{conversation_id}",
            get(show).patch(update),
        )
        .route(
            "/v1/conversations/{conversation_id}/participants",
            post(add_participant),
        )
        .route(
            "/v1/conversations/{conversation_id}/participants/{account_id}",
            delete(remove_participant),
        )
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ParticipantSpec {
    pub account_id: AccountId,
    pub role: ParticipantRole,
    /// Default `full`.
    #[serde(default)]
    pub visibility: Option<Visibility>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConversationRequest {
    pub kind: ConversationKind,
    #[serde(default)]
    pub subject: Option<String>,
    /// Listing context (a JSON object), e.g. `{"title": "Bike", "price": "£120"}`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub listing: Option<serde_json::Value>,
    /// The first participants. A contact starting a support chat may leave this empty.
    #[serde(default)]
    pub participants: Vec<ParticipantSpec>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ConversationDetail {
    pub conversation: Conversation,
    pub participants: Vec<Participant>,
}

/// Creates a conversation. Staff may create any kind with any participants of their
/// workspace; a contact may only open a support conversation for itself.
#[utoipa::path(post, path = "/v1/conversations", tag = "conversations",
    security(("bearer" = [])), request_body = CreateConversationRequest,
    responses((status = 201, body = ConversationDetail),
              (status = 400, body = natter_core::Error),
              (status = 403, body = natter_core::Error),
              (status = 404, description = "A participant is not an account of the workspace",
               body = natter_core::Error)))]
pub async fn create(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    Body(req): Body<CreateConversationRequest>,
) -> Result<(StatusCode, Json<ConversationDetail>), ApiError> {
    let input = CreateConversation {
        kind: req.kind,
        subject: req.subject,
        listing: req.listing,
        participants: req
            .participants
            .into_iter()
            .map(|p| {
                (
                    p.account_id,
                    p.role,
                    p.visibility.unwrap_or(Visibility::Full),
                )
            })
            .collect(),
    };
    let (conversation, participants) = app.create_conversation(&actor, input).await?;
    Ok((
        StatusCode::CREATED,
        Json(ConversationDetail {
            conversation,
            participants,
        }),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size (default 50, at most `limits.page_max`).
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ConversationList {
    pub items: Vec<ConversationSummary>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The caller's conversations, newest activity first, with unread counts.
#[utoipa::path(get, path = "/v1/conversations", tag = "conversations",
    security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = ConversationList),
              (status = 400, body = natter_core::Error)))]
pub async fn list(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<ConversationList>, ApiError> {
    let page = app
        .list_conversations(&actor, query.cursor.as_deref(), query.limit)
        .await?;
    Ok(Json(ConversationList {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// A conversation with its active participants. 404 for anyone who may not see it.
#[utoipa::path(get, path = "/v1/conversations/{conversation_id}", tag = "conversations",
    security(("bearer" = [])),
    params(("conversation_id" = i64, Path, description = "The conversation")),
    responses((status = 200, body = ConversationDetail),
              (status = 404, body = natter_core::Error)))]
pub async fn show(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<ConversationDetail>, ApiError> {
    let (conversation, participants) = app.participants(&actor, ConversationId(id)).await?;
    Ok(Json(ConversationDetail {
        conversation,
        participants,
    }))
}

/// Distinguishes an absent field from an explicit `null` (which clears the subject).
fn some_nullable<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateConversation {
    #[serde(default)]
    pub status: Option<ConversationStatus>,
    /// A new subject, or `null` to clear it.
    #[serde(default, deserialize_with = "some_nullable")]
    #[schema(value_type = Option<String>)]
    pub subject: Option<Option<String>>,
}

/// Changes status or subject (staff only).
#[utoipa::path(patch, path = "/v1/conversations/{conversation_id}", tag = "conversations",
    security(("bearer" = [])), request_body = UpdateConversation,
    params(("conversation_id" = i64, Path, description = "The conversation")),
    responses((status = 200, body = Conversation),
              (status = 403, body = natter_core::Error),
              (status = 404, body = natter_core::Error)))]
pub async fn update(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<i64>,
    Body(req): Body<UpdateConversation>,
) -> Result<Json<Conversation>, ApiError> {
    let conversation = app
        .update_conversation(&actor, ConversationId(id), req.status, req.subject)
        .await?;
    Ok(Json(conversation))
}

/// Adds a participant (staff only). Adding someone already present changes nothing.
#[utoipa::path(post, path = "/v1/conversations/{conversation_id}/participants",
    tag = "conversations", security(("bearer" = [])), request_body = ParticipantSpec,
    params(("conversation_id" = i64, Path, description = "The conversation")),
    responses((status = 200, body = Participant),
              (status = 403, body = natter_core::Error),
              (status = 404, body = natter_core::Error)))]
pub async fn add_participant(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<i64>,
    Body(req): Body<ParticipantSpec>,
) -> Result<Json<Participant>, ApiError> {
    let participant = app
        .add_participant(
            &actor,
            ConversationId(id),
            req.account_id,
            req.role,
            req.visibility.unwrap_or(Visibility::Full),
        )
        .await?;
    Ok(Json(participant))
}

/// Removes a participant: staff may remove anyone, anyone may remove themselves (leave).
#[utoipa::path(delete, path = "/v1/conversations/{conversation_id}/participants/{account_id}",
    tag = "conversations", security(("bearer" = [])),
    params(("conversation_id" = i64, Path, description = "The conversation"),
           ("account_id" = i64, Path, description = "The participant")),
    responses((status = 204, description = "Removed"),
              (status = 403, body = natter_core::Error),
              (status = 404, body = natter_core::Error)))]
pub async fn remove_participant(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    ApiPath((id, account)): ApiPath<(i64, i64)>,
) -> Result<StatusCode, ApiError> {
    app.remove_participant(&actor, ConversationId(id), AccountId(account))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
