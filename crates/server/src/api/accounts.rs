//! Accounts: the caller, staff accounts and their tokens, contacts and contact tokens.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use natter_core::ids::AccountId;
use natter_core::model::Account;
pub use natter_core::staff_api::{CreateStaff, CreateToken, IssuedToken, MeEdit};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{ApiError, ApiPath, Body, Caller};
use crate::app::App;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/me", get(me).patch(edit_me))
        .route("/v1/staff", post(create_staff))
        .route("/v1/staff/{account_id}/tokens", post(create_token))
        .route("/v1/contacts", post(upsert_contact))
        .route(
            "/v1/contacts/{account_id}/tokens",
            post(create_contact_token),
        )
}

/// The account the token belongs to.
#[utoipa::path(get, path = "/v1/me", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = Account), (status = 401, body = natter_core::Error)))]
pub async fn me(Caller(me): Caller) -> Json<Account> {
    Json(me)
}

/// Changes the caller's own name or photo (staff). Visitors see both next to the agent's
/// messages in the widget; the photo only where the website shows agent photos.
#[utoipa::path(patch, path = "/v1/me", tag = "accounts", security(("bearer" = [])),
    request_body = MeEdit,
    responses((status = 200, body = Account), (status = 400, body = natter_core::Error),
              (status = 401, body = natter_core::Error), (status = 403, body = natter_core::Error)))]
pub async fn edit_me(
    State(app): State<Arc<App>>,
    Caller(me): Caller,
    Body(edit): Body<MeEdit>,
) -> Result<Json<Account>, ApiError> {
    Ok(Json(app.edit_me(&me, &edit).await?))
}

/// Creates a staff account (owners and admins).
#[utoipa::path(post, path = "/v1/staff", tag = "accounts", security(("bearer" = [])),
    request_body = CreateStaff,
    responses((status = 201, body = Account), (status = 403, body = natter_core::Error),
              (status = 409, body = natter_core::Error)))]
pub async fn create_staff(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    Body(req): Body<CreateStaff>,
) -> Result<(StatusCode, Json<Account>), ApiError> {
    let account = app
        .create_staff(&actor, &req.email, req.name, req.role)
        .await?;
    Ok((StatusCode::CREATED, Json(account)))
}

/// Issues an API token for a staff account (one's own, or anyone's for owners/admins).
#[utoipa::path(post, path = "/v1/staff/{account_id}/tokens", tag = "accounts",
    security(("bearer" = [])), request_body = CreateToken,
    params(("account_id" = i64, Path, description = "The staff account")),
    responses((status = 201, body = IssuedToken), (status = 403, body = natter_core::Error),
              (status = 404, body = natter_core::Error)))]
pub async fn create_token(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    ApiPath(account_id): ApiPath<i64>,
    Body(req): Body<CreateToken>,
) -> Result<(StatusCode, Json<IssuedToken>), ApiError> {
    let scopes = match req.scopes {
        Some(list) => crate::auth::parse_scopes(&list.join(" "))?,
        None => crate::auth::Scope::ALL.to_vec(),
    };
    let token = app
        .create_api_token(&actor, AccountId(account_id), &req.name, &scopes)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(IssuedToken {
            token,
            expires_at: None,
        }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpsertContact {
    /// The host platform's id for this person; an existing contact with it is updated.
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

/// Creates a contact, or updates the one with the same `external_id` (staff only).
#[utoipa::path(post, path = "/v1/contacts", tag = "accounts", security(("bearer" = [])),
    request_body = UpsertContact,
    responses((status = 200, body = Account), (status = 403, body = natter_core::Error)))]
pub async fn upsert_contact(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    Body(req): Body<UpsertContact>,
) -> Result<Json<Account>, ApiError> {
    let contact = app
        .upsert_contact(&actor, req.external_id, req.name, req.email)
        .await?;
    Ok(Json(contact))
}

/// Mints a signed token for a contact, for the host platform to hand to its user's browser
/// or app (staff only).
#[utoipa::path(post, path = "/v1/contacts/{account_id}/tokens", tag = "accounts",
    security(("bearer" = [])),
    params(("account_id" = i64, Path, description = "The contact")),
    responses((status = 201, body = IssuedToken), (status = 403, body = natter_core::Error),
              (status = 404, body = natter_core::Error)))]
pub async fn create_contact_token(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    ApiPath(account_id): ApiPath<i64>,
) -> Result<(StatusCode, Json<IssuedToken>), ApiError> {
    let (token, expires_at) = app
        .mint_contact_token(&actor, AccountId(account_id))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(IssuedToken {
            token,
            expires_at: Some(expires_at),
        }),
    ))
}
