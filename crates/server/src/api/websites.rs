//! Websites for staff: configuration (owners and admins), live visitors and a contact's visit
//! context.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};
use axum::{Json, Router};
pub use natter_core::staff_api::{
    AgentAccess, ContactContext, CreateWebsite, TrackedView, UpdateWebsite, WebsiteSecret,
    WebsiteView,
};
use natter_core::website::LiveVisitor;
use natter_core::{AccountId, WebsiteId};

use super::{ApiError, ApiPath, Body, Caller};
use crate::app::App;
use crate::websites::Website;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/websites", get(list).post(create))
        .route(
            "/v1/websites/{website_id}",
            get(show).put(update).delete(remove),
        )
        .route("/v1/websites/{website_id}/hmac-secret", post(rotate_secret))
        .route("/v1/websites/{website_id}/visitors", get(live_visitors))
        .route("/v1/contacts/{account_id}/context", get(context))
}

/// A website as staff see it, with the install snippet for the address browsers use.
fn view(base: &str, site: &Website) -> WebsiteView {
    WebsiteView {
        id: site.record.id,
        key: site.record.key.clone(),
        name: site.record.name.clone(),
        settings: site.settings.clone(),
        agents: AgentAccess {
            all: !site.record.listed_agents_only,
            account_ids: site.record.agents.clone(),
        },
        hmac_configured: site.record.hmac_secret.is_some(),
        install_snippet: install_snippet(base, &site.record.key),
        created_at: site.record.created_at,
        updated_at: site.record.updated_at,
    }
}

/// Where browsers reach this server: `public_url`, else the address this request used.
fn base_url(app: &App, headers: &HeaderMap) -> String {
    if !app.config.public_url.is_empty() {
        return app.config.public_base_url();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| h.parse::<axum::http::uri::Authority>().is_ok() && !h.contains('@'));
    match host {
        Some(host) => format!("http://{host}"),
        None => app.config.public_base_url(),
    }
}

/// The one-line install: an async script that never blocks the host page, with a command
/// queue so `Natter('identify', …)` works before the widget loads.
pub fn install_snippet(base: &str, key: &str) -> String {
    format!(
        "<script>(function(w,d,k){{w.Natter=w.Natter||function(){{(w.Natter.q=w.Natter.q||[]).push(arguments)}};var s=d.createElement('script');s.async=true;s.src='{base}/widget.js';s.setAttribute('data-key',k);d.head.appendChild(s)}})(window,document,'{key}');</script>"
    )
}

/// Websites the caller may see (all for owners and admins; the ones they serve for agents).
#[utoipa::path(get, path = "/v1/websites", tag = "websites", security(("bearer" = [])),
    responses((status = 200, body = Vec<WebsiteView>), (status = 403, body = natter_core::Error)))]
pub async fn list(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Caller(actor): Caller,
) -> Result<Json<Vec<WebsiteView>>, ApiError> {
    let sites = app.list_websites(&actor).await?;
    let base = base_url(&app, &headers);
    Ok(Json(sites.iter().map(|s| view(&base, s)).collect()))
}

/// Adds a website (owners and admins). Settings default to a closed list of domains: add
/// the site's domains before installing the snippet.
#[utoipa::path(post, path = "/v1/websites", tag = "websites", security(("bearer" = [])),
    request_body = CreateWebsite,
    responses((status = 201, body = WebsiteView), (status = 400, body = natter_core::Error),
              (status = 403, body = natter_core::Error)))]
pub async fn create(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Caller(actor): Caller,
    Body(req): Body<CreateWebsite>,
) -> Result<(StatusCode, Json<WebsiteView>), ApiError> {
    let settings = req.settings.unwrap_or_default();
    let site = app.create_website(&actor, &req.name, &settings).await?;
    Ok((
        StatusCode::CREATED,
        Json(view(&base_url(&app, &headers), &site)),
    ))
}

#[utoipa::path(get, path = "/v1/websites/{website_id}", tag = "websites", security(("bearer" = [])),
    params(("website_id" = i64, Path)),
    responses((status = 200, body = WebsiteView), (status = 404, body = natter_core::Error)))]
pub async fn show(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<WebsiteView>, ApiError> {
    let site = app.website(&actor, WebsiteId(id)).await?;
    Ok(Json(view(&base_url(&app, &headers), &site)))
}

/// Changes a website (owners and admins).
#[utoipa::path(put, path = "/v1/websites/{website_id}", tag = "websites", security(("bearer" = [])),
    params(("website_id" = i64, Path)), request_body = UpdateWebsite,
    responses((status = 200, body = WebsiteView), (status = 400, body = natter_core::Error),
              (status = 403, body = natter_core::Error), (status = 404, body = natter_core::Error)))]
pub async fn update(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<i64>,
    Body(req): Body<UpdateWebsite>,
) -> Result<Json<WebsiteView>, ApiError> {
    let access = req.agents.map(|a| (!a.all, a.account_ids));
    let site = app
        .update_website(
            &actor,
            WebsiteId(id),
            req.name.as_deref(),
            req.settings.as_ref(),
            access,
        )
        .await?;
    Ok(Json(view(&base_url(&app, &headers), &site)))
}

/// Retires a website: its snippet and its visitors' tokens stop working; conversations stay.
#[utoipa::path(delete, path = "/v1/websites/{website_id}", tag = "websites", security(("bearer" = [])),
    params(("website_id" = i64, Path)),
    responses((status = 204), (status = 403, body = natter_core::Error),
              (status = 404, body = natter_core::Error)))]
pub async fn remove(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    app.delete_website(&actor, WebsiteId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new identity-verification secret for this website (the old one stops working).
#[utoipa::path(post, path = "/v1/websites/{website_id}/hmac-secret", tag = "websites",
    security(("bearer" = [])), params(("website_id" = i64, Path)),
    responses((status = 200, body = WebsiteSecret), (status = 403, body = natter_core::Error),
              (status = 404, body = natter_core::Error)))]
pub async fn rotate_secret(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<WebsiteSecret>, ApiError> {
    Ok(Json(WebsiteSecret {
        secret: app.rotate_website_secret(&actor, WebsiteId(id)).await?,
    }))
}

/// Who is on the website now (seen in the last two minutes), most recently active first.
#[utoipa::path(get, path = "/v1/websites/{website_id}/visitors", tag = "websites",
    security(("bearer" = [])), params(("website_id" = i64, Path)),
    responses((status = 200, body = Vec<LiveVisitor>), (status = 404, body = natter_core::Error)))]
pub async fn live_visitors(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Vec<LiveVisitor>>, ApiError> {
    Ok(Json(app.live_visitors(&actor, WebsiteId(id)).await?))
}

#[utoipa::path(get, path = "/v1/contacts/{account_id}/context", tag = "websites",
    security(("bearer" = [])), params(("account_id" = i64, Path)),
    responses((status = 200, body = ContactContext), (status = 403, body = natter_core::Error),
              (status = 404, body = natter_core::Error)))]
pub async fn context(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<ContactContext>, ApiError> {
    Ok(Json(app.contact_context(&actor, AccountId(id)).await?))
}
