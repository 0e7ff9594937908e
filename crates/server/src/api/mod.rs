//! The HTTP API (v1): one module per resource, each with its own `router()`; one error type
//! with stable codes; extractors that turn every malformed request into that error.

mod accounts;
mod conversations;
mod health;
mod messages;
pub mod metrics;
pub mod openapi;

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection, StringRejection};
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use natter_core::model::Account;
use natter_core::{Error, ErrorCode};
use tower_http::trace::TraceLayer;

use crate::app::App;

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
        let mut response = (status, Json(self.0)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
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

/// The authenticated caller, from `Authorization: Bearer <token>`.
pub struct Caller(pub Account);

/// The bearer token of a request, if it has one.
pub fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

impl FromRequestParts<Arc<App>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        let token = bearer(parts).ok_or_else(|| {
            Error::new(
                ErrorCode::Unauthenticated,
                "missing Authorization: Bearer token",
            )
        })?;
        Ok(Caller(app.authenticate(token).await?))
    }
}

/// The whole HTTP surface of a node.
pub fn router(app: Arc<App>) -> Router {
    let body_limit = app.config.limits.http_body_bytes;
    Router::new()
        .merge(health::router())
        .merge(metrics::router())
        .merge(accounts::router())
        .merge(conversations::router())
        .merge(messages::router())
        .merge(crate::gateway::router())
        .merge(openapi::router())
        .fallback(|| async { ApiError(Error::not_found("route")) })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(TraceLayer::new_for_http())
        .with_state(app)
}
