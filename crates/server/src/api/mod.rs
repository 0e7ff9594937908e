//! The HTTP API (v1): one module per resource, each with its own `router()`; one error type
//! with stable codes; extractors that turn every malformed request into that error.

mod accounts;
mod admin;
mod assets;
mod auth;
mod conversations;
mod desk;
mod health;
mod identify;
mod messages;
pub mod metrics;
pub mod openapi;
mod routing;
mod sso;
mod websites;
mod widget;

pub use websites::{ContactContext, TrackedView, install_snippet};

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection, StringRejection};
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use natter_core::model::{Account, SessionState};
use natter_core::{Error, ErrorCode};
use tower_http::trace::TraceLayer;

use crate::app::App;
use crate::auth::{Principal, Scope, Via};
use crate::identity::Origin;

/// The error of every handler: `{"code": "...", "message": "..."}` with the status its code
/// implies.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = self.0.retry_after;
        let mut response = (status, Json(self.0)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let code = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ErrorCode::TooLarge
        } else {
            ErrorCode::MalformedRequest
        };
        Self(Error::new(code, rejection.body_text()))
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self(Error::new(ErrorCode::InvalidField, rejection.body_text()))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self(Error::new(ErrorCode::InvalidField, rejection.body_text()))
    }
}

impl From<StringRejection> for ApiError {
    fn from(rejection: StringRejection) -> Self {
        let code = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ErrorCode::TooLarge
        } else {
            ErrorCode::MalformedRequest
        };
        Self(Error::new(code, rejection.body_text()))
    }
}

/// A JSON response serialised into one `Vec` first, then handed to hyper. axum's `Json`
/// serialises through a `BytesMut` writer, one non-inlined `put_slice` per token: for a
/// page of 50 messages that was 5% of a history request's instructions. Use it for large
/// hot responses.
pub struct JsonVec<T>(pub T);

impl<T: serde::Serialize> IntoResponse for JsonVec<T> {
    fn into_response(self) -> Response {
        // Most history pages fit (50 messages of a typical length); larger ones grow it.
        let mut buf = Vec::with_capacity(16 * 1024);
        match serde_json::to_writer(&mut buf, &self.0) {
            Ok(()) => (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                buf,
            )
                .into_response(),
            Err(e) => {
                tracing::error!(error = %e, "serialising a response");
                ApiError(Error::internal()).into_response()
            }
        }
    }
}

/// A UTF-8 text body (parsed by the handler); rejections become our error shape.
pub struct Text(pub String);

impl<S: Send + Sync> FromRequest<S> for Text {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        Ok(Text(String::from_request(req, state).await?))
    }
}

/// A JSON request body; malformed bodies become `malformed_request`, oversized ones
/// `too_large`.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Body<T>(pub T);

/// Path parameters; unparsable ones become `invalid_field`.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// Query parameters; unparsable ones become `invalid_field`.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// The authenticated caller's account: a bearer token (`Authorization: Bearer …`) or a
/// fully signed-in session cookie. Cookie-authenticated writes must carry the session's
/// `X-CSRF-Token`; API tokens must have the scope the route needs (see [`required_scope`]).
pub struct Caller(pub Account);

/// Like [`Caller`], with how the caller authenticated.
pub struct CallerPrincipal(pub Principal);

/// A session cookie in any state (for the second-factor and enrolment steps), or a bearer
/// principal.
pub struct AnySession(pub Principal, pub Option<natter_store::Session>);

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "natter_session";
/// The header that carries the CSRF token on cookie-authenticated writes.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The bearer token of a request, if it has one.
pub fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// The value of the session cookie, if the request has one.
pub fn session_cookie(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
}

/// The scope an API token needs for this request: reads need `read`; contact management
/// `contacts`; staff, tokens, settings, the audit log and account security `admin`; every
/// other write `write`.
pub fn required_scope(method: &Method, path: &str) -> Scope {
    let admin = [
        "/v1/staff",
        "/v1/tokens",
        "/v1/workspace",
        "/v1/audit",
        "/v1/auth",
    ]
    .iter()
    .any(|p| path.starts_with(p));
    // Websites' settings are admin business; their live visitors are for any reader.
    let website_admin = ["/v1/websites", "/v1/teams", "/v1/routing"]
        .iter()
        .any(|p| path.starts_with(p))
        && is_write(method);
    if admin || website_admin {
        Scope::Admin
    } else if path.starts_with("/v1/contacts") && is_write(method) {
        // Creating contacts and minting their tokens; reading their context is a read.
        Scope::Contacts
    } else if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        Scope::Read
    } else {
        Scope::Write
    }
}

fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Authenticates by bearer token, else by session cookie (returned with its session).
async fn authenticate(
    parts: &Parts,
    app: &App,
) -> Result<(Principal, Option<natter_store::Session>), ApiError> {
    if let Some(token) = bearer(parts) {
        return Ok((app.authenticate(token).await?, None));
    }
    let Some(cookie) = session_cookie(parts) else {
        return Err(ApiError(Error::new(
            ErrorCode::Unauthenticated,
            "sign in, or send Authorization: Bearer <token>",
        )));
    };
    let session = app.session(cookie).await?;
    if is_write(&parts.method) {
        let sent = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !crate::auth::constant_time_eq(sent.as_bytes(), session.csrf_token.as_bytes()) {
            return Err(ApiError(Error::forbidden(
                "missing or wrong X-CSRF-Token for a cookie-authenticated write",
            )));
        }
    }
    let principal = Principal {
        account: session.account.clone(),
        via: Via::Session {
            id: session.id,
            csrf: session.csrf_token.clone(),
        },
    };
    Ok((principal, Some(session)))
}

impl FromRequestParts<Arc<App>> for CallerPrincipal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        let (principal, session) = authenticate(parts, app).await?;
        if let Some(session) = session
            && session.state != SessionState::Active
        {
            return Err(ApiError(Error::new(
                ErrorCode::Unauthenticated,
                match session.state {
                    SessionState::Mfa => "finish signing in with your second factor",
                    _ => "set up a second factor first: this workspace requires one",
                },
            )));
        }
        principal.require(required_scope(&parts.method, parts.uri.path()))?;
        // A widget visitor's token works only from its website's pages.
        if let Via::Contact {
            website: Some(website),
        } = principal.via
        {
            app.visitor_website(website, header_text(parts, header::ORIGIN), host(parts))
                .await?;
        }
        Ok(CallerPrincipal(principal))
    }
}

impl FromRequestParts<Arc<App>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        let CallerPrincipal(principal) = CallerPrincipal::from_request_parts(parts, app).await?;
        Ok(Caller(principal.account))
    }
}

impl FromRequestParts<Arc<App>> for AnySession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        let (principal, session) = authenticate(parts, app).await?;
        principal.require(Scope::Admin)?;
        Ok(AnySession(principal, session))
    }
}

fn header_text(parts: &Parts, name: header::HeaderName) -> Option<&str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

/// The `Host` the request was sent to (HTTP/1.1 header, or HTTP/2's authority).
pub fn host(parts: &Parts) -> Option<&str> {
    header_text(parts, header::HOST).or_else(|| parts.uri.authority().map(|a| a.as_str()))
}

/// What the widget endpoints learn from the request: client address, user agent, the
/// page's origin and the host it called.
pub struct Facts(pub crate::websites::RequestFacts);

impl FromRequestParts<Arc<App>> for Facts {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        let ClientOrigin(origin) = ClientOrigin::from_request_parts(parts, app).await?;
        Ok(Facts(crate::websites::RequestFacts {
            ip: origin.ip.as_deref().and_then(|ip| ip.parse().ok()),
            user_agent: origin.user_agent,
            origin: header_text(parts, header::ORIGIN).map(str::to_string),
            host: host(parts).map(str::to_string),
        }))
    }
}

/// CORS for the widget: only origins some website allows get an answer, without
/// credentials (the widget sends bearer tokens, never cookies). Each request is then held
/// to its own website's domains by the handlers.
fn cors(app: Arc<App>) -> tower_http::cors::CorsLayer {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    CorsLayer::new()
        .allow_origin(AllowOrigin::async_predicate(
            move |origin: HeaderValue, _parts: &Parts| {
                let app = Arc::clone(&app);
                async move {
                    match origin.to_str() {
                        Ok(origin) => app.websites.any_allows(&app, origin).await,
                        Err(_) => false,
                    }
                }
            },
        ))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .max_age(std::time::Duration::from_secs(600))
}

/// Where a request came from: the peer address (or `X-Forwarded-For`'s first entry when
/// `trust_forwarded_for` is set) and the user agent.
pub struct ClientOrigin(pub Origin);

impl FromRequestParts<Arc<App>> for ClientOrigin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        let forwarded = app
            .config
            .trust_forwarded_for
            .then(|| {
                parts
                    .headers
                    .get("x-forwarded-for")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.split(',').next())
                    .map(|v| v.trim().to_string())
            })
            .flatten();
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_string());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(256).collect());
        Ok(ClientOrigin(Origin {
            ip: forwarded.or(peer),
            user_agent,
        }))
    }
}

fn header_layer(
    name: header::HeaderName,
    value: Option<&'static str>,
) -> tower_http::set_header::SetResponseHeaderLayer<Option<HeaderValue>> {
    tower_http::set_header::SetResponseHeaderLayer::if_not_present(
        name,
        value.map(HeaderValue::from_static),
    )
}

/// The whole HTTP surface of a node.
pub fn router(app: Arc<App>) -> Router {
    let body_limit = app.config.limits.http_body_bytes;
    let hsts = app.config.https();
    Router::new()
        .merge(health::router())
        .merge(metrics::router())
        .merge(accounts::router())
        .merge(auth::router())
        .merge(sso::router())
        .merge(admin::router())
        .merge(identify::router())
        .merge(conversations::router())
        .merge(messages::router())
        .merge(crate::gateway::router())
        .merge(openapi::router())
        .merge(websites::router())
        .merge(widget::router())
        .merge(routing::router())
        .merge(desk::router())
        .merge(assets::router(&app))
        .fallback(|| async { ApiError(Error::not_found("route")) })
        .layer(DefaultBodyLimit::max(body_limit))
        // Headers every response carries unless the handler set its own: no MIME sniffing,
        // no referrer leaks, not framable (the widget's pages will opt in per website), and
        // HSTS when natter is served over https.
        .layer(header_layer(
            header::X_CONTENT_TYPE_OPTIONS,
            Some("nosniff"),
        ))
        .layer(header_layer(header::REFERRER_POLICY, Some("no-referrer")))
        .layer(header_layer(
            header::CONTENT_SECURITY_POLICY,
            Some("frame-ancestors 'none'"),
        ))
        .layer(header_layer(header::X_FRAME_OPTIONS, Some("DENY")))
        .layer(header_layer(
            header::STRICT_TRANSPORT_SECURITY,
            hsts.then_some("max-age=31536000; includeSubDomains"),
        ))
        .layer(cors(Arc::clone(&app)))
        .layer(TraceLayer::new_for_http())
        .with_state(app)
}
