//! The one error vocabulary of the HTTP and WebSocket edge. Codes are stable snake_case
//! strings; clients (including the TypeScript SDK) switch on them, so a code is never
//! renamed once released. Messages are for humans and may change.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A stable, machine-readable error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request body or frame is not valid JSON or does not match the expected shape.
    MalformedRequest,
    /// A WebSocket frame whose `type` the server does not know.
    UnknownFrame,
    /// A field failed validation (the message says which).
    InvalidField,
    /// A text or JSON value is larger than the configured limit.
    TooLarge,
    /// No credentials were presented, or they are invalid or expired.
    Unauthenticated,
    /// The caller is known but may not do this.
    Forbidden,
    /// A widget request or socket from a page whose origin is not one of the website's
    /// allowed domains.
    OriginNotAllowed,
    /// The resource does not exist, or the caller may not know that it exists.
    NotFound,
    /// The change conflicts with the current state (e.g. editing a deleted message).
    Conflict,
    /// Too many requests; retry later.
    RateLimited,
    /// The first WebSocket frame must be `hello`, and only once.
    HelloRequired,
    /// The event cursor is older than the server keeps (or unknown); refetch state.
    ResyncRequired,
    /// The database is unreachable; the request did not take effect.
    Unavailable,
    /// Something failed inside the server; it is logged with details.
    Internal,
}

impl ErrorCode {
    /// The HTTP status that carries this code.
    pub fn http_status(self) -> u16 {
        match self {
            Self::MalformedRequest | Self::UnknownFrame | Self::InvalidField => 400,
            Self::HelloRequired | Self::ResyncRequired => 400,
            Self::TooLarge => 413,
            Self::Unauthenticated => 401,
            Self::Forbidden | Self::OriginNotAllowed => 403,
            Self::NotFound => 404,
            Self::Conflict => 409,
            Self::RateLimited => 429,
            Self::Unavailable => 503,
            Self::Internal => 500,
        }
    }

    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MalformedRequest => "malformed_request",
            Self::UnknownFrame => "unknown_frame",
            Self::InvalidField => "invalid_field",
            Self::TooLarge => "too_large",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::OriginNotAllowed => "origin_not_allowed",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::RateLimited => "rate_limited",
            Self::HelloRequired => "hello_required",
            Self::ResyncRequired => "resync_required",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }
}

/// An error that is safe to show to the caller: a stable code and a human message.
/// Internal causes (SQL errors, I/O) are logged where they happen and become `internal`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[error("{code:?}: {message}")]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
    /// For `rate_limited`: seconds until a retry may succeed (also sent as `Retry-After`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// `rate_limited`, retry after `seconds`.
    pub fn rate_limited(message: impl Into<String>, seconds: u64) -> Self {
        Self {
            retry_after: Some(seconds.max(1)),
            ..Self::new(ErrorCode::RateLimited, message)
        }
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidField, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }

    pub fn internal() -> Self {
        Self::new(ErrorCode::Internal, "internal error")
    }

    pub fn unavailable() -> Self {
        Self::new(
            ErrorCode::Unavailable,
            "the database is unavailable; try again",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_serialises_to_the_string_it_reports() {
        let codes = [
            ErrorCode::MalformedRequest,
            ErrorCode::UnknownFrame,
            ErrorCode::InvalidField,
            ErrorCode::TooLarge,
            ErrorCode::Unauthenticated,
            ErrorCode::Forbidden,
            ErrorCode::OriginNotAllowed,
            ErrorCode::NotFound,
            ErrorCode::Conflict,
            ErrorCode::RateLimited,
            ErrorCode::HelloRequired,
            ErrorCode::ResyncRequired,
            ErrorCode::Unavailable,
            ErrorCode::Internal,
        ];
        for code in codes {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }
}
