//! Conversations and participants.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
pub use natter_core::api::{
    ConversationDetail, ConversationList, CreateConversationRequest, ListQuery, ParticipantSpec,
    Person,
};
use natter_core::ids::{AccountId, ConversationId};
use natter_core::model::{Conversation, Participant, Visibility};
pub use natter_core::staff_api::UpdateConversation;

use super::{ApiError, ApiPath, ApiQuery, Body, Caller, CallerPrincipal};
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

/// Who takes part, by name (and photo), as `viewer` may see them.
async fn people(
    app: &App,
    viewer: &natter_core::model::Account,
    conversation: &Conversation,
) -> Result<Vec<Person>, ApiError> {
    let names = app
        .store
        .participant_names(conversation.id)
        .await
        .map_err(App::public_error)?;
    // A photo is fetched by the visitor's browser from a host the agent chose, which learns
    // the visitor's address: where the website turned agent photos off, visitors get none.
    let photos_for_visitors = match conversation.website_id {
        Some(w) if !viewer.is_staff() => app
            .websites
            .by_id(app, w)
            .await?
            .is_none_or(|site| site.settings.appearance.show_agent_photos),
        _ => true,
    };
    Ok(names
        .into_iter()
        .map(|p| Person {
            account_id: p.account_id,
            kind: if p.staff { "staff" } else { "contact" }.to_string(),
            name: p.name,
            avatar_url: p.avatar_url.filter(|_| photos_for_visitors),
        })
        .collect())
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
    CallerPrincipal(principal): CallerPrincipal,
    Body(req): Body<CreateConversationRequest>,
) -> Result<(StatusCode, Json<ConversationDetail>), ApiError> {
    let actor = principal.account;
    // A widget visitor's chat belongs to the website its token is bound to.
    let website_id = match principal.via {
        crate::auth::Via::Contact { website } => website,
        _ => None,
    };
    let input = CreateConversation {
        kind: req.kind,
        subject: req.subject,
        listing: req.listing,
        website_id,
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
    if let Some(website) = website_id
        && let Some(site) = app.websites.by_id(&app, website).await?
    {
        // The website's agents learn of the new chat at once (their inbox refreshes).
        app.notify_staff(
            &site,
            &natter_core::protocol::ServerFrame::InboxChanged {
                conversation: conversation.clone(),
            },
        )
        .await;
    }
    let people = people(&app, &actor, &conversation).await?;
    Ok((
        StatusCode::CREATED,
        Json(ConversationDetail {
            conversation,
            participants,
            people,
        }),
    ))
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
    let people = people(&app, &actor, &conversation).await?;
    Ok(Json(ConversationDetail {
        conversation,
        participants,
        people,
    }))
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
