//! Single sign-on over HTTP: the workspace's provider settings (owners), the public "is SSO
//! on" check for the sign-in page, and the two legs of the browser flow (start, callback).
//! The flow itself lives in `crate::sso`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use natter_core::Error;
use natter_core::ids::WorkspaceId;
pub use natter_core::staff_api::SsoStatus;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::{ApiError, ApiPath, ApiQuery, Body, Caller, ClientOrigin};
use crate::app::App;
use crate::ratelimit::Limit;
use crate::sso::{ATTEMPT_TTL_SECS, SsoCallback, SsoSettings, SsoUpdate};

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/workspace/sso", get(settings).put(update_settings))
        .route("/v1/auth/sso/callback", get(callback))
        .route("/v1/auth/sso/{workspace_id}", get(status))
        .route("/v1/auth/sso/{workspace_id}/start", get(start))
}

/// The cookie that ties a sign-in at the provider to the browser that started it.
pub const ATTEMPT_COOKIE: &str = "natter_sso";

/// The attempt cookie: HttpOnly, sent only to the SSO paths, and `SameSite=Lax` because the
/// callback is a top-level navigation coming from the provider's site (`Strict` would drop it).
fn attempt_cookie(app: &App, value: &str, max_age: i64) -> HeaderValue {
    let secure = if app.config.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let text = format!(
        "{ATTEMPT_COOKIE}={value}; Path=/v1/auth/sso; HttpOnly; SameSite=Lax; \
         Max-Age={max_age}{secure}"
    );
    // The value is base64url (or empty), so the header is always valid.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value)
}

fn host(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::HOST).and_then(|v| v.to_str().ok())
}

/// A `302 Found` to `location`, never cached (it carries a one-time sign-in).
fn found(location: &str) -> Result<Response, ApiError> {
    let location = HeaderValue::from_str(location).map_err(|_| ApiError(Error::internal()))?;
    let mut response = StatusCode::FOUND.into_response();
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, location);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SsoSettingsRequest {
    /// The provider's issuer identifier (https; http only on loopback). Discovery must work
    /// when `enabled` is true.
    pub issuer: String,
    pub client_id: String,
    /// Required the first time; leave out to keep the stored one. Stored sealed, never
    /// returned.
    #[serde(default)]
    pub client_secret: Option<String>,
    pub enabled: bool,
    /// Create an agent account for a verified email that has none here (default false).
    #[serde(default)]
    pub auto_create: bool,
}

/// The workspace's single sign-on settings (owners and admins). The client secret is never
/// shown; `redirect_uri` is what to register with the provider.
#[utoipa::path(get, path = "/v1/workspace/sso", tag = "sso", security(("bearer" = [])),
    responses((status = 200, body = SsoSettings),
              (status = 404, description = "never configured", body = natter_core::Error)))]
pub async fn settings(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    headers: HeaderMap,
) -> Result<Json<SsoSettings>, ApiError> {
    let redirect_uri = app.sso_redirect_uri(host(&headers))?;
    let settings = app
        .sso_settings(&actor, redirect_uri)
        .await?
        .ok_or_else(|| Error::not_found("single sign-on settings"))?;
    Ok(Json(settings))
}

/// Configures the workspace's OpenID provider (owners only).
#[utoipa::path(put, path = "/v1/workspace/sso", tag = "sso", security(("bearer" = [])),
    request_body = SsoSettingsRequest,
    responses((status = 200, body = SsoSettings), (status = 400, body = natter_core::Error),
              (status = 403, body = natter_core::Error)))]
pub async fn update_settings(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    headers: HeaderMap,
    Body(req): Body<SsoSettingsRequest>,
) -> Result<Json<SsoSettings>, ApiError> {
    let redirect_uri = app.sso_redirect_uri(host(&headers))?;
    let update = SsoUpdate {
        issuer: req.issuer,
        client_id: req.client_id,
        client_secret: req.client_secret,
        enabled: req.enabled,
        auto_create: req.auto_create,
    };
    Ok(Json(
        app.set_sso_settings(&actor, update, redirect_uri).await?,
    ))
}

/// Whether a workspace offers single sign-on (no authentication: the sign-in page asks).
#[utoipa::path(get, path = "/v1/auth/sso/{workspace_id}", tag = "sso",
    params(("workspace_id" = i64, Path, description = "The workspace")),
    responses((status = 200, body = SsoStatus)))]
pub async fn status(
    State(app): State<Arc<App>>,
    ApiPath(workspace_id): ApiPath<i64>,
) -> Result<Json<SsoStatus>, ApiError> {
    Ok(Json(SsoStatus {
        enabled: app.sso_enabled(WorkspaceId(workspace_id)).await?,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StartQuery {
    /// Where to go once signed in: a path on this server (default `/app`).
    pub return_to: Option<String>,
}

/// Starts signing in with the workspace's provider: `302` to its authorization endpoint,
/// with a short-lived HttpOnly cookie that the callback needs. Rate limited per address.
#[utoipa::path(get, path = "/v1/auth/sso/{workspace_id}/start", tag = "sso",
    params(("workspace_id" = i64, Path, description = "The workspace"), StartQuery),
    responses((status = 302, description = "To the identity provider"),
              (status = 403, description = "SSO is not enabled", body = natter_core::Error),
              (status = 503, description = "The provider cannot be reached", body = natter_core::Error)))]
pub async fn start(
    State(app): State<Arc<App>>,
    ClientOrigin(origin): ClientOrigin,
    headers: HeaderMap,
    ApiPath(workspace_id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<StartQuery>,
) -> Result<Response, ApiError> {
    app.limits
        .check(Limit::LoginPerIp, origin.ip.as_deref().unwrap_or_default())
        .await?;
    let redirect_uri = app.sso_redirect_uri(host(&headers))?;
    let redirect = app
        .sso_start(
            WorkspaceId(workspace_id),
            query.return_to.as_deref(),
            redirect_uri,
        )
        .await?;
    let mut response = found(&redirect.authorization_url)?;
    response.headers_mut().append(
        header::SET_COOKIE,
        attempt_cookie(&app, &redirect.browser_token, ATTEMPT_TTL_SECS),
    );
    Ok(response)
}

/// Where the provider sends the browser back. On success: the session cookie (exactly as
/// password sign-in sets it; the session is `mfa` if a TOTP code is still owed) and `302` to
/// the `return_to` of the start. Refusals are `401 unauthenticated` (unknown, replayed or
/// foreign state, invalid ID token, unverified or unknown email), `403 forbidden` (SSO
/// switched off meanwhile) or `503 unavailable` (provider unreachable).
#[utoipa::path(get, path = "/v1/auth/sso/callback", tag = "sso",
    params(("state" = String, Query, description = "From the start"),
           ("code" = Option<String>, Query, description = "The authorization code"),
           ("error" = Option<String>, Query, description = "The provider's refusal"),
           ("iss" = Option<String>, Query, description = "The provider that answered (RFC 9207)")),
    responses((status = 302, description = "Signed in; to the return path"),
              (status = 401, body = natter_core::Error)))]
pub async fn callback(
    State(app): State<Arc<App>>,
    ClientOrigin(origin): ClientOrigin,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<SsoCallback>,
) -> Result<Response, ApiError> {
    app.limits
        .check(Limit::LoginPerIp, origin.ip.as_deref().unwrap_or_default())
        .await?;
    let browser = cookie_value(&headers, ATTEMPT_COOKIE);
    let (signed_in, return_to) = app.sso_callback(&query, browser, &origin).await?;
    let max_age = i64::try_from(app.config.auth.session_ttl_secs).unwrap_or(i64::MAX);
    let mut response = found(&return_to)?;
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        super::auth::cookie(&app, &signed_in.session_token, max_age),
    );
    // The attempt is used up. On a refusal the cookie is left alone: a forged callback must
    // not cancel the real sign-in this browser may have under way (a stale cookie expires).
    headers.append(header::SET_COOKIE, attempt_cookie(&app, "", 0));
    Ok(response)
}
