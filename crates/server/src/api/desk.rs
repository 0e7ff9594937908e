//! The agent workspace's endpoints: inbox and counts, labels, canned responses, preferences and
//! bulk actions (docs/desk-api.md).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, patch, post, put};
use axum::{Json, Router};
use natter_core::api::ProfileSaved;
use natter_core::desk::{
    AgentPreferences, BulkRequest, BulkResult, CannedInput, CannedList, CannedPatch,
    CannedResponse, ContactEdit, InboxCounts, InboxPage, InboxParams, LabelList, LabelsInput,
};
use natter_core::{AccountId, ConversationId};

use super::{ApiError, ApiPath, ApiQuery, Body, Caller};
use crate::app::App;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/inbox", get(inbox))
        .route("/v1/inbox/counts", get(inbox_counts))
        .route("/v1/labels", get(labels))
        .route(
            "/v1/conversations/{conversation_id}/labels",
            put(set_labels),
        )
        .route("/v1/conversations/bulk", post(bulk))
        .route(
            "/v1/canned-responses",
            get(canned_responses).post(create_canned),
        )
        .route(
            "/v1/canned-responses/{canned_id}",
            patch(update_canned).delete(delete_canned),
        )
        .route("/v1/me/preferences", get(preferences).put(set_preferences))
        .route("/v1/contacts/{account_id}", patch(edit_contact))
}

/// The workspace's conversations for staff, filtered, searched and sorted, each with its labels,
/// contact, assignees, newest message and unread count. Agents see the websites they serve
/// (and chats from no website).
#[utoipa::path(get, path = "/v1/inbox", tag = "desk", security(("bearer" = [])),
    params(InboxParams),
    responses((status = 200, body = InboxPage), (status = 400, body = natter_core::Error),
              (status = 403, body = natter_core::Error)))]
pub async fn inbox(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    ApiQuery(params): ApiQuery<InboxParams>,
) -> Result<Json<InboxPage>, ApiError> {
    Ok(Json(app.inbox(&actor, &params).await?))
}

/// How many open or pending conversations each inbox view holds (`website_id` and `q` narrow
/// every count; the other parameters are ignored).
#[utoipa::path(get, path = "/v1/inbox/counts", tag = "desk", security(("bearer" = [])),
    params(InboxParams),
    responses((status = 200, body = InboxCounts), (status = 400, body = natter_core::Error),
              (status = 403, body = natter_core::Error)))]
pub async fn inbox_counts(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    ApiQuery(params): ApiQuery<InboxParams>,
) -> Result<Json<InboxCounts>, ApiError> {
    Ok(Json(app.inbox_counts(&actor, &params).await?))
}

/// Labels in use on the conversations the caller may see, most used first.
#[utoipa::path(get, path = "/v1/labels", tag = "desk", security(("bearer" = [])),
    responses((status = 200, body = LabelList), (status = 403, body = natter_core::Error)))]
pub async fn labels(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
) -> Result<Json<LabelList>, ApiError> {
    Ok(Json(LabelList {
        items: app.labels_in_use(&actor).await?,
    }))
}

/// Replaces a conversation's labels (at most 20, each 1–40 characters; case-insensitive
/// duplicates collapse).
#[utoipa::path(put, path = "/v1/conversations/{conversation_id}/labels", tag = "desk",
    security(("bearer" = [])), params(("conversation_id" = i64, Path)), request_body = LabelsInput,
    responses((status = 200, body = LabelsInput), (status = 400, body = natter_core::Error),
              (status = 403, body = natter_core::Error), (status = 404, body = natter_core::Error)))]
pub async fn set_labels(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<i64>,
    Body(input): Body<LabelsInput>,
) -> Result<Json<LabelsInput>, ApiError> {
    let labels = app
        .set_labels(&actor, ConversationId(id), &input.labels)
        .await?;
    Ok(Json(LabelsInput { labels }))
}

/// Resolves, reopens, archives, assigns or labels up to 100 conversations; each succeeds or
/// fails on its own.
#[utoipa::path(post, path = "/v1/conversations/bulk", tag = "desk", security(("bearer" = [])),
    request_body = BulkRequest,
    responses((status = 200, body = BulkResult), (status = 400, body = natter_core::Error),
              (status = 403, body = natter_core::Error)))]
pub async fn bulk(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    Body(req): Body<BulkRequest>,
) -> Result<Json<BulkResult>, ApiError> {
    Ok(Json(BulkResult {
        results: app.bulk(&actor, &req).await?,
    }))
}

/// The workspace's canned responses and the caller's own, by shortcut.
#[utoipa::path(get, path = "/v1/canned-responses", tag = "desk", security(("bearer" = [])),
    responses((status = 200, body = CannedList), (status = 403, body = natter_core::Error)))]
pub async fn canned_responses(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
) -> Result<Json<CannedList>, ApiError> {
    Ok(Json(CannedList {
        items: app.canned_responses(&actor).await?,
    }))
}

/// Creates a canned response: personal, or workspace-wide (`shared`, owners and admins).
#[utoipa::path(post, path = "/v1/canned-responses", tag = "desk", security(("bearer" = [])),
    request_body = CannedInput,
    responses((status = 201, body = CannedResponse), (status = 400, body = natter_core::Error),
              (status = 403, body = natter_core::Error),
              (status = 409, description = "the shortcut is taken", body = natter_core::Error)))]
pub async fn create_canned(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    Body(input): Body<CannedInput>,
) -> Result<(StatusCode, Json<CannedResponse>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(app.create_canned(&actor, &input).await?),
    ))
}

/// Changes a canned response (one's own; admins also the workspace's).
#[utoipa::path(patch, path = "/v1/canned-responses/{canned_id}", tag = "desk",
    security(("bearer" = [])), params(("canned_id" = i64, Path)), request_body = CannedPatch,
    responses((status = 200, body = CannedResponse), (status = 400, body = natter_core::Error),
              (status = 403, body = natter_core::Error), (status = 404, body = natter_core::Error),
              (status = 409, body = natter_core::Error)))]
pub async fn update_canned(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<i64>,
    Body(patch): Body<CannedPatch>,
) -> Result<Json<CannedResponse>, ApiError> {
    Ok(Json(app.update_canned(&actor, id, &patch).await?))
}

/// Deletes a canned response (one's own; admins also the workspace's).
#[utoipa::path(delete, path = "/v1/canned-responses/{canned_id}", tag = "desk",
    security(("bearer" = [])), params(("canned_id" = i64, Path)),
    responses((status = 204), (status = 403, body = natter_core::Error),
              (status = 404, body = natter_core::Error)))]
pub async fn delete_canned(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    app.delete_canned(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's notification preferences (defaults until saved).
#[utoipa::path(get, path = "/v1/me/preferences", tag = "desk", security(("bearer" = [])),
    responses((status = 200, body = AgentPreferences), (status = 403, body = natter_core::Error)))]
pub async fn preferences(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
) -> Result<Json<AgentPreferences>, ApiError> {
    Ok(Json(app.preferences(&actor).await?))
}

/// Saves the caller's notification preferences (the whole object).
#[utoipa::path(put, path = "/v1/me/preferences", tag = "desk", security(("bearer" = [])),
    request_body = AgentPreferences,
    responses((status = 200, body = AgentPreferences), (status = 400, body = natter_core::Error),
              (status = 403, body = natter_core::Error)))]
pub async fn set_preferences(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    Body(prefs): Body<AgentPreferences>,
) -> Result<Json<AgentPreferences>, ApiError> {
    Ok(Json(app.set_preferences(&actor, &prefs).await?))
}

/// Corrects a contact's name, email, phone or company (staff who serve the contact's website;
/// a verified contact's name and email come from the host platform: 409).
#[utoipa::path(patch, path = "/v1/contacts/{account_id}", tag = "desk", security(("bearer" = [])),
    params(("account_id" = i64, Path)), request_body = ContactEdit,
    responses((status = 200, body = ProfileSaved), (status = 400, body = natter_core::Error),
              (status = 403, body = natter_core::Error), (status = 404, body = natter_core::Error),
              (status = 409, body = natter_core::Error)))]
pub async fn edit_contact(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<i64>,
    Body(edit): Body<ContactEdit>,
) -> Result<Json<ProfileSaved>, ApiError> {
    Ok(Json(app.edit_contact(&actor, AccountId(id), &edit).await?))
}
