//! Administration: invitations, roles, deactivation, API tokens, workspace security
//! settings and the audit log.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};
use natter_core::ids::AccountId;
use natter_core::model::{Account, ApiTokenInfo, AuditEntry};
pub use natter_core::staff_api::{Invitation, Security, UpdateStaff};
use natter_store::AuditQuery;
use serde::Deserialize;
use utoipa::IntoParams;

use super::{ApiError, ApiPath, ApiQuery, Body, Caller};
use crate::app::App;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/staff/invitations", post(invite))
        .route(
            "/v1/staff/{account_id}",
            patch(update_staff).delete(deactivate),
        )
        .route("/v1/staff/{account_id}/tokens", get(list_tokens))
        .route("/v1/tokens/{token_id}", delete(revoke_token))
        .route(
            "/v1/workspace/security",
            get(security).patch(update_security),
        )
        .route("/v1/audit", get(audit))
}

/// Invites a staff member: creates the account and emails a single-use link to set a
/// password (owners and admins; only owners invite owners).
#[utoipa::path(post, path = "/v1/staff/invitations", tag = "admin", security(("bearer" = [])),
    request_body = Invitation,
    responses((status = 201, body = Account), (status = 403, body = natter_core::Error),
              (status = 409, body = natter_core::Error)))]
pub async fn invite(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    Body(req): Body<Invitation>,
) -> Result<(StatusCode, Json<Account>), ApiError> {
    let account = app.invite(&actor, &req.email, req.name, req.role).await?;
    Ok((StatusCode::CREATED, Json(account)))
}

/// Changes a staff member's role.
#[utoipa::path(patch, path = "/v1/staff/{account_id}", tag = "admin", security(("bearer" = [])),
    request_body = UpdateStaff,
    params(("account_id" = i64, Path, description = "The staff account")),
    responses((status = 200, body = Account), (status = 403, body = natter_core::Error),
              (status = 404, body = natter_core::Error)))]
pub async fn update_staff(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<i64>,
    Body(req): Body<UpdateStaff>,
) -> Result<Json<Account>, ApiError> {
    Ok(Json(app.set_role(&actor, AccountId(id), req.role).await?))
}

/// Deactivates a staff member: their sessions and API tokens stop working at once.
#[utoipa::path(delete, path = "/v1/staff/{account_id}", tag = "admin", security(("bearer" = [])),
    params(("account_id" = i64, Path, description = "The staff account")),
    responses((status = 204, description = "Deactivated"), (status = 403, body = natter_core::Error),
              (status = 404, body = natter_core::Error)))]
pub async fn deactivate(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    app.deactivate_staff(&actor, AccountId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A staff member's API tokens (secrets are never shown again).
#[utoipa::path(get, path = "/v1/staff/{account_id}/tokens", tag = "admin",
    security(("bearer" = [])),
    params(("account_id" = i64, Path, description = "The staff account")),
    responses((status = 200, body = Vec<ApiTokenInfo>), (status = 403, body = natter_core::Error)))]
pub async fn list_tokens(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Vec<ApiTokenInfo>>, ApiError> {
    Ok(Json(app.api_tokens(&actor, AccountId(id)).await?))
}

/// Revokes an API token (one's own; owners and admins any in the workspace).
#[utoipa::path(delete, path = "/v1/tokens/{token_id}", tag = "admin", security(("bearer" = [])),
    params(("token_id" = i64, Path, description = "The token")),
    responses((status = 204, description = "Revoked"), (status = 404, body = natter_core::Error)))]
pub async fn revoke_token(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    app.revoke_api_token(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The workspace's security settings.
#[utoipa::path(get, path = "/v1/workspace/security", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = Security)))]
pub async fn security(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
) -> Result<Json<Security>, ApiError> {
    Ok(Json(Security {
        mfa_required: app.workspace_mfa(&actor).await?,
    }))
}

/// Changes the security settings (owners only).
#[utoipa::path(patch, path = "/v1/workspace/security", tag = "admin", security(("bearer" = [])),
    request_body = Security,
    responses((status = 200, body = Security), (status = 403, body = natter_core::Error)))]
pub async fn update_security(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    Body(req): Body<Security>,
) -> Result<Json<Security>, ApiError> {
    app.set_mfa_required(&actor, req.mfa_required).await?;
    Ok(Json(req))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    /// Only this action, e.g. `login.failed`.
    pub action: Option<String>,
    /// Only this actor.
    pub actor_id: Option<i64>,
    /// Entries older than this id (the last id of the previous page).
    pub before: Option<i64>,
    /// Entries at or after this time (ms since the epoch).
    pub since: Option<i64>,
    pub limit: Option<u32>,
}

/// The audit log, newest first (owners and admins). Append-only: no endpoint edits it.
#[utoipa::path(get, path = "/v1/audit", tag = "admin", security(("bearer" = [])),
    params(AuditParams),
    responses((status = 200, body = Vec<AuditEntry>), (status = 403, body = natter_core::Error)))]
pub async fn audit(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    ApiQuery(q): ApiQuery<AuditParams>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    let query = AuditQuery {
        action: q.action,
        actor_id: q.actor_id.map(AccountId),
        before: q.before,
        since: q.since,
        limit: q.limit.unwrap_or(0),
    };
    Ok(Json(app.audit_log(&actor, query).await?))
}
