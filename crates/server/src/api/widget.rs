//! The widget's endpoints: public configuration, visits, identify, profile, page trail,
//! tracked events and the offline form. Each names the website by its public key and is
//! refused (`origin_not_allowed`) from pages outside the website's allowed domains.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
pub use natter_core::api::ProfileSaved;
use natter_core::website::WidgetConfig;

use super::{ApiError, ApiPath, Body, CallerPrincipal, Facts};
use crate::app::App;
use crate::widget::{
    Activity, OfflineMessage, OfflineReceived, PageInfo, ProfileInput, TrackedEvent, VisitorStart,
    VisitorStarted, WidgetIdentified, WidgetIdentify,
};

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/widget/{key}", get(config))
        .route("/v1/widget/{key}/visitors", post(start))
        .route("/v1/widget/{key}/identify", post(identify))
        .route("/v1/widget/{key}/profile", axum::routing::put(profile))
        .route("/v1/widget/{key}/pageviews", post(page_view))
        .route("/v1/widget/{key}/activity", post(activity))
        .route("/v1/widget/{key}/events", post(track))
        .route("/v1/widget/{key}/offline", post(offline))
}

/// The website's public configuration and whether anyone can answer now. Cacheable for a
/// short while (the status changes as agents come and go).
#[utoipa::path(get, path = "/v1/widget/{key}", tag = "widget",
    params(("key" = String, Path, description = "The website's public key")),
    responses((status = 200, body = WidgetConfig),
              (status = 403, description = "origin_not_allowed", body = natter_core::Error),
              (status = 404, body = natter_core::Error)))]
pub async fn config(
    State(app): State<Arc<App>>,
    Facts(facts): Facts,
    ApiPath(key): ApiPath<String>,
) -> Result<Response, ApiError> {
    let config = app
        .widget_config(&key, facts.origin.as_deref(), facts.host.as_deref())
        .await?;
    let mut response = Json(config).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=15"),
    );
    // The answer depends on the Origin (CORS), so shared caches must key on it.
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    Ok(response)
}

/// Starts or continues a visit; returns the visitor's token (bound to this website).
#[utoipa::path(post, path = "/v1/widget/{key}/visitors", tag = "widget",
    params(("key" = String, Path, description = "The website's public key")),
    request_body = VisitorStart,
    responses((status = 200, body = VisitorStarted),
              (status = 403, description = "origin_not_allowed", body = natter_core::Error),
              (status = 404, body = natter_core::Error), (status = 429, body = natter_core::Error)))]
pub async fn start(
    State(app): State<Arc<App>>,
    Facts(facts): Facts,
    ApiPath(key): ApiPath<String>,
    Body(req): Body<VisitorStart>,
) -> Result<Json<VisitorStarted>, ApiError> {
    Ok(Json(app.start_visitor(&key, &facts, req).await?))
}

/// `Natter.identify(…)`: proves (HMAC `user_hash` or a platform JWT) or states who the
/// visitor is. The returned token replaces the old one.
#[utoipa::path(post, path = "/v1/widget/{key}/identify", tag = "widget",
    security(("bearer" = [])),
    params(("key" = String, Path, description = "The website's public key")),
    request_body = WidgetIdentify,
    responses((status = 200, body = WidgetIdentified),
              (status = 401, body = natter_core::Error), (status = 403, body = natter_core::Error)))]
pub async fn identify(
    State(app): State<Arc<App>>,
    Facts(facts): Facts,
    CallerPrincipal(principal): CallerPrincipal,
    ApiPath(key): ApiPath<String>,
    Body(req): Body<WidgetIdentify>,
) -> Result<Json<WidgetIdentified>, ApiError> {
    Ok(Json(
        app.widget_identify(&principal, &key, &facts, req).await?,
    ))
}

/// Pre-chat answers and details given later (saved as they come).
#[utoipa::path(put, path = "/v1/widget/{key}/profile", tag = "widget",
    security(("bearer" = [])),
    params(("key" = String, Path, description = "The website's public key")),
    request_body = ProfileInput,
    responses((status = 200, body = ProfileSaved), (status = 400, body = natter_core::Error),
              (status = 403, body = natter_core::Error)))]
pub async fn profile(
    State(app): State<Arc<App>>,
    Facts(facts): Facts,
    CallerPrincipal(principal): CallerPrincipal,
    ApiPath(key): ApiPath<String>,
    Body(req): Body<ProfileInput>,
) -> Result<Json<ProfileSaved>, ApiError> {
    let (contact, profile) = app.widget_profile(&principal, &key, &facts, req).await?;
    Ok(Json(ProfileSaved { contact, profile }))
}

/// A page view of the host site (first page, or navigation in a single-page app).
#[utoipa::path(post, path = "/v1/widget/{key}/pageviews", tag = "widget",
    security(("bearer" = [])),
    params(("key" = String, Path, description = "The website's public key")),
    request_body = PageInfo,
    responses((status = 204), (status = 400, body = natter_core::Error),
              (status = 403, body = natter_core::Error), (status = 429, body = natter_core::Error)))]
pub async fn page_view(
    State(app): State<Arc<App>>,
    Facts(facts): Facts,
    CallerPrincipal(principal): CallerPrincipal,
    ApiPath(key): ApiPath<String>,
    Body(req): Body<PageInfo>,
) -> Result<StatusCode, ApiError> {
    app.widget_page_view(&principal, &key, &facts, req).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A heartbeat while the page is visible (every 30 s), exit intent, or leaving.
#[utoipa::path(post, path = "/v1/widget/{key}/activity", tag = "widget",
    security(("bearer" = [])),
    params(("key" = String, Path, description = "The website's public key")),
    request_body = Activity,
    responses((status = 204), (status = 403, body = natter_core::Error),
              (status = 429, body = natter_core::Error)))]
pub async fn activity(
    State(app): State<Arc<App>>,
    Facts(facts): Facts,
    CallerPrincipal(principal): CallerPrincipal,
    ApiPath(key): ApiPath<String>,
    Body(req): Body<Activity>,
) -> Result<StatusCode, ApiError> {
    app.widget_activity(&principal, &key, &facts, req).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `Natter.track(name, properties)`: a custom event or conversion.
#[utoipa::path(post, path = "/v1/widget/{key}/events", tag = "widget",
    security(("bearer" = [])),
    params(("key" = String, Path, description = "The website's public key")),
    request_body = TrackedEvent,
    responses((status = 204), (status = 400, body = natter_core::Error),
              (status = 409, description = "no visit is tracked (no consent)",
               body = natter_core::Error),
              (status = 429, body = natter_core::Error)))]
pub async fn track(
    State(app): State<Arc<App>>,
    Facts(facts): Facts,
    CallerPrincipal(principal): CallerPrincipal,
    ApiPath(key): ApiPath<String>,
    Body(req): Body<TrackedEvent>,
) -> Result<StatusCode, ApiError> {
    app.widget_track(&principal, &key, &facts, req).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The offline form: opens a pending conversation with the visitor's message.
#[utoipa::path(post, path = "/v1/widget/{key}/offline", tag = "widget",
    security(("bearer" = [])),
    params(("key" = String, Path, description = "The website's public key")),
    request_body = OfflineMessage,
    responses((status = 201, body = OfflineReceived), (status = 400, body = natter_core::Error),
              (status = 403, body = natter_core::Error), (status = 429, body = natter_core::Error)))]
pub async fn offline(
    State(app): State<Arc<App>>,
    Facts(facts): Facts,
    CallerPrincipal(principal): CallerPrincipal,
    ApiPath(key): ApiPath<String>,
    Body(req): Body<OfflineMessage>,
) -> Result<(StatusCode, Json<OfflineReceived>), ApiError> {
    let conversation_id = app.widget_offline(&principal, &key, &facts, req).await?;
    Ok((
        StatusCode::CREATED,
        Json(OfflineReceived { conversation_id }),
    ))
}
