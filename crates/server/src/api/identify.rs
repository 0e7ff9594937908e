//! Contact identity: the public `identify` entry point for widgets and apps, and the admin
//! settings that decide what counts as proof.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use natter_core::WorkspaceId;
pub use natter_core::api::Identified;
use natter_store::{ContactIdentitySettings, JwtSettings};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ApiError, Body, Caller, ClientOrigin};
use crate::app::App;
use crate::contact_identity::Identify;
use crate::ratelimit::Limit;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/contacts/identify", post(identify))
        .route(
            "/v1/workspace/contact-identity",
            get(settings).put(update_settings),
        )
        .route(
            "/v1/workspace/contact-identity/hmac-secret",
            post(rotate_secret),
        )
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentifyRequest {
    pub workspace_id: i64,
    /// The host platform's id for the person.
    #[serde(default)]
    pub user_id: Option<String>,
    /// Lowercase hex HMAC-SHA256 of `user_id` with the workspace's identity secret,
    /// computed by the platform's backend.
    #[serde(default)]
    pub user_hash: Option<String>,
    /// A JWT minted by the platform's backend (`sub`, `name`, `email`, `exp`, `iss`, `aud`).
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

/// Becomes a contact: anonymous (no `user_id`), claimed (`user_id` alone, only where the
/// workspace allows unverified contacts, and never for a verified user), or verified
/// (`user_id` + `user_hash`, or `token`). Public; rate limited per client address.
#[utoipa::path(post, path = "/v1/contacts/identify", tag = "accounts",
    request_body = IdentifyRequest,
    responses((status = 200, body = Identified),
              (status = 401, description = "the proof does not hold", body = natter_core::Error),
              (status = 403, description = "verification required", body = natter_core::Error),
              (status = 429, body = natter_core::Error)))]
pub async fn identify(
    State(app): State<Arc<App>>,
    ClientOrigin(origin): ClientOrigin,
    Body(req): Body<IdentifyRequest>,
) -> Result<Json<Identified>, ApiError> {
    app.limits
        .check(Limit::IdentifyPerIp, &origin.ip.unwrap_or_default())
        .await?;
    let (contact, token, expires_at) = app
        .identify_contact(Identify {
            workspace: WorkspaceId(req.workspace_id),
            user_id: req.user_id,
            user_hash: req.user_hash,
            jwt: req.token,
            name: req.name,
            email: req.email,
            website_secret: None,
            upgrade: None,
        })
        .await?;
    Ok(Json(Identified {
        contact,
        token,
        expires_at,
    }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JwtView {
    /// `HS256`, `RS256` or `ES256`.
    pub algorithm: String,
    /// HS256 only; write-only (never returned).
    #[serde(default, skip_serializing)]
    pub secret: Option<String>,
    #[serde(default)]
    pub public_key: Option<String>,
    #[serde(default)]
    pub jwks_url: Option<String>,
    #[serde(default)]
    pub issuer: Option<String>,
    #[serde(default)]
    pub audience: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactIdentityView {
    /// Refuse contacts who have not proven who they are.
    pub require_verified: bool,
    /// Read-only: whether a `user_hash` secret exists (rotate it to get one).
    #[serde(default)]
    pub hmac_configured: bool,
    #[serde(default)]
    pub jwt: Option<JwtView>,
}

fn view(settings: ContactIdentitySettings) -> ContactIdentityView {
    ContactIdentityView {
        require_verified: settings.require_verified,
        hmac_configured: settings.hmac_secret.is_some(),
        jwt: settings.jwt.map(|j| JwtView {
            algorithm: j.algorithm,
            secret: None,
            public_key: j.public_key,
            jwks_url: j.jwks_url,
            issuer: j.issuer,
            audience: j.audience,
        }),
    }
}

/// How contacts prove who they are (owners and admins). Secrets are never returned.
#[utoipa::path(get, path = "/v1/workspace/contact-identity", tag = "admin",
    security(("bearer" = [])),
    responses((status = 200, body = ContactIdentityView), (status = 403, body = natter_core::Error)))]
pub async fn settings(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
) -> Result<Json<ContactIdentityView>, ApiError> {
    Ok(Json(view(app.contact_identity_settings(&actor).await?)))
}

/// Replaces the settings (owners and admins).
#[utoipa::path(put, path = "/v1/workspace/contact-identity", tag = "admin",
    security(("bearer" = [])), request_body = ContactIdentityView,
    responses((status = 200, body = ContactIdentityView), (status = 400, body = natter_core::Error),
              (status = 403, body = natter_core::Error)))]
pub async fn update_settings(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    Body(req): Body<ContactIdentityView>,
) -> Result<Json<ContactIdentityView>, ApiError> {
    let jwt = req.jwt.map(|j| {
        (
            JwtSettings {
                algorithm: j.algorithm,
                secret: None,
                public_key: j.public_key,
                jwks_url: j.jwks_url,
                issuer: j.issuer,
                audience: j.audience,
            },
            j.secret,
        )
    });
    let settings = app
        .set_contact_identity(&actor, req.require_verified, jwt)
        .await?;
    Ok(Json(view(settings)))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HmacSecret {
    /// Give this to the platform's backend; shown once. The HMAC key is this string.
    pub secret: String,
}

/// Generates a new `user_hash` secret (the old one stops working).
#[utoipa::path(post, path = "/v1/workspace/contact-identity/hmac-secret", tag = "admin",
    security(("bearer" = [])),
    responses((status = 200, body = HmacSecret), (status = 403, body = natter_core::Error)))]
pub async fn rotate_secret(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
) -> Result<Json<HmacSecret>, ApiError> {
    Ok(Json(HmacSecret {
        secret: app.rotate_contact_hmac_secret(&actor).await?,
    }))
}
