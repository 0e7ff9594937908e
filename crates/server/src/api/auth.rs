//! Signing in and account security: password sign-in with a second factor, sessions,
//! password change and reset, invitations, TOTP enrolment.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use natter_core::model::{Account, SessionInfo, SessionState};
pub use natter_core::staff_api::{
    ChangePassword, CodeRequest, LoginRequest, RecoveryCodes, RedeemToken, ResetRequest,
    SessionView, TotpSetupView,
};
use natter_core::{Error, ErrorCode};
use natter_store::TokenPurpose;

use super::{AnySession, ApiError, ApiPath, Body, CallerPrincipal, ClientOrigin, SESSION_COOKIE};
use crate::app::App;
use crate::auth::Via;
use crate::ratelimit::Limit;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/auth/login", post(login))
        .route("/v1/auth/second-factor", post(second_factor))
        .route("/v1/auth/logout", post(logout))
        .route("/v1/auth/session", get(current_session))
        .route("/v1/auth/sessions", get(sessions))
        .route("/v1/auth/sessions/{session_id}", delete(revoke_session))
        .route("/v1/auth/password", post(change_password))
        .route("/v1/auth/password-reset", post(request_reset))
        .route("/v1/auth/password-reset/confirm", post(confirm_reset))
        .route("/v1/auth/invitations/accept", post(accept_invitation))
        .route("/v1/auth/totp/setup", post(totp_setup))
        .route("/v1/auth/totp/enable", post(totp_enable))
        .route("/v1/auth/totp/disable", post(totp_disable))
}

pub(crate) fn cookie(app: &App, value: &str, max_age: i64) -> HeaderValue {
    let secure = if app.config.https() { "; Secure" } else { "" };
    let text = format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    );
    // Tokens are base64url, so the header is always valid.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Signs in with email and password. Sets the session cookie (HttpOnly, SameSite=Lax, Secure
/// under https) and returns the CSRF token. Rate limited per client address; repeated
/// failures lock the account for a growing time.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = SessionView),
              (status = 401, description = "wrong email or password", body = natter_core::Error),
              (status = 429, body = natter_core::Error)))]
pub async fn login(
    State(app): State<Arc<App>>,
    ClientOrigin(origin): ClientOrigin,
    Body(req): Body<LoginRequest>,
) -> Result<Response, ApiError> {
    let ip = origin.ip.clone().unwrap_or_default();
    app.limits.check(Limit::LoginPerIp, &ip).await?;
    let signed_in = app
        .sign_in(&req.email, &req.password, req.workspace_id, &origin)
        .await?;
    let max_age = i64::try_from(app.config.auth.session_ttl_secs).unwrap_or(i64::MAX);
    let mut response = Json(SessionView {
        account: signed_in.account,
        state: signed_in.state,
        csrf_token: signed_in.csrf_token,
    })
    .into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        cookie(&app, &signed_in.session_token, max_age),
    );
    Ok(response)
}

fn need_session(session: Option<natter_store::Session>) -> Result<natter_store::Session, ApiError> {
    session.ok_or_else(|| {
        ApiError(Error::new(
            ErrorCode::Unauthenticated,
            "this step needs the session cookie",
        ))
    })
}

/// Completes sign-in with the second factor.
#[utoipa::path(post, path = "/v1/auth/second-factor", tag = "auth", request_body = CodeRequest,
    responses((status = 200, body = SessionView), (status = 401, body = natter_core::Error)))]
pub async fn second_factor(
    State(app): State<Arc<App>>,
    ClientOrigin(origin): ClientOrigin,
    AnySession(_principal, session): AnySession,
    Body(req): Body<CodeRequest>,
) -> Result<Json<SessionView>, ApiError> {
    let session = need_session(session)?;
    app.second_factor(&session, &req.code, &origin).await?;
    Ok(Json(SessionView {
        account: session.account,
        state: SessionState::Active,
        csrf_token: session.csrf_token,
    }))
}

/// The current session (in any state), e.g. to recover the CSRF token after a reload.
#[utoipa::path(get, path = "/v1/auth/session", tag = "auth",
    responses((status = 200, body = SessionView), (status = 401, body = natter_core::Error)))]
pub async fn current_session(
    AnySession(_principal, session): AnySession,
) -> Result<Json<SessionView>, ApiError> {
    let session = need_session(session)?;
    Ok(Json(SessionView {
        account: session.account,
        state: session.state,
        csrf_token: session.csrf_token,
    }))
}

/// Ends the session and clears the cookie.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth",
    responses((status = 204, description = "Signed out")))]
pub async fn logout(
    State(app): State<Arc<App>>,
    AnySession(principal, session): AnySession,
) -> Result<Response, ApiError> {
    app.sign_out(&principal).await?;
    // Only a signed-in session can have opened sockets.
    if session.is_some_and(|s| s.state == SessionState::Active) {
        close_sockets(&app, &principal.account);
    }
    let mut headers = HeaderMap::new();
    headers.insert(header::SET_COOKIE, cookie(&app, "", 0));
    Ok((StatusCode::NO_CONTENT, headers).into_response())
}

/// The caller's live sessions.
#[utoipa::path(get, path = "/v1/auth/sessions", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Vec<SessionInfo>)))]
pub async fn sessions(
    State(app): State<Arc<App>>,
    CallerPrincipal(principal): CallerPrincipal,
) -> Result<Json<Vec<SessionInfo>>, ApiError> {
    Ok(Json(app.sessions(&principal).await?))
}

/// Revokes one of the caller's sessions (e.g. a lost laptop).
#[utoipa::path(delete, path = "/v1/auth/sessions/{session_id}", tag = "auth",
    security(("bearer" = [])),
    params(("session_id" = i64, Path, description = "The session")),
    responses((status = 204, description = "Revoked"), (status = 404, body = natter_core::Error)))]
pub async fn revoke_session(
    State(app): State<Arc<App>>,
    CallerPrincipal(principal): CallerPrincipal,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    app.revoke_session(&principal.account, id).await?;
    close_sockets(&app, &principal.account);
    Ok(StatusCode::NO_CONTENT)
}

/// Closes the account's open sockets on every node (4001 `revoked`) after one of its
/// sessions ended, as revoking a token does: a socket opened with the session cookie must
/// not outlive the session. The hub knows accounts, not sessions, so the account's other
/// sockets close too and reconnect with their own credentials, which still work.
fn close_sockets(app: &App, account: &Account) {
    app.fanout.disconnect(account.id);
}

/// Changes the caller's password; every other session of the account ends.
#[utoipa::path(post, path = "/v1/auth/password", tag = "auth", security(("bearer" = [])),
    request_body = ChangePassword,
    responses((status = 204, description = "Changed"), (status = 400, body = natter_core::Error),
              (status = 401, body = natter_core::Error)))]
pub async fn change_password(
    State(app): State<Arc<App>>,
    CallerPrincipal(principal): CallerPrincipal,
    Body(req): Body<ChangePassword>,
) -> Result<StatusCode, ApiError> {
    app.change_password(&principal, &req.current_password, &req.new_password)
        .await?;
    // Every other session of the account has ended.
    close_sockets(&app, &principal.account);
    Ok(StatusCode::NO_CONTENT)
}

/// Emails a password-reset link. Always 202, whether or not the email is known.
#[utoipa::path(post, path = "/v1/auth/password-reset", tag = "auth", request_body = ResetRequest,
    responses((status = 202, description = "If the account exists, an email is on its way"),
              (status = 429, body = natter_core::Error)))]
pub async fn request_reset(
    State(app): State<Arc<App>>,
    ClientOrigin(origin): ClientOrigin,
    Body(req): Body<ResetRequest>,
) -> Result<StatusCode, ApiError> {
    let ip = origin.ip.unwrap_or_default();
    app.limits.check(Limit::PasswordResetPerIp, &ip).await?;
    app.request_password_reset(&req.email).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Sets a new password with a reset link's token (single use; expires).
#[utoipa::path(post, path = "/v1/auth/password-reset/confirm", tag = "auth",
    request_body = RedeemToken,
    responses((status = 204, description = "Password set; sign in"),
              (status = 400, body = natter_core::Error), (status = 401, body = natter_core::Error)))]
pub async fn confirm_reset(
    State(app): State<Arc<App>>,
    Body(req): Body<RedeemToken>,
) -> Result<StatusCode, ApiError> {
    app.redeem_token(TokenPurpose::PasswordReset, &req.token, &req.password, None)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Accepts an invitation: sets the password (and name) with the emailed token.
#[utoipa::path(post, path = "/v1/auth/invitations/accept", tag = "auth",
    request_body = RedeemToken,
    responses((status = 204, description = "Password set; sign in"),
              (status = 400, body = natter_core::Error), (status = 401, body = natter_core::Error)))]
pub async fn accept_invitation(
    State(app): State<Arc<App>>,
    Body(req): Body<RedeemToken>,
) -> Result<StatusCode, ApiError> {
    app.redeem_token(
        TokenPurpose::Invitation,
        &req.token,
        &req.password,
        req.name,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Signed-in sessions (and `enrol` sessions) only: a second factor is not managed with API
/// tokens (a leaked token must not be able to enrol an attacker's authenticator).
fn enrolling(
    principal: &crate::auth::Principal,
    session: Option<&natter_store::Session>,
) -> Result<Option<i64>, ApiError> {
    match (session, &principal.via) {
        (Some(s), _) if s.state == SessionState::Mfa => Err(ApiError(Error::new(
            ErrorCode::Unauthenticated,
            "finish signing in with your second factor",
        ))),
        (Some(s), _) => Ok(Some(s.id)),
        (None, Via::ApiToken { .. }) => Err(ApiError(Error::forbidden(
            "a second factor is managed from a signed-in session, not with an API token",
        ))),
        (None, _) => Err(ApiError(Error::forbidden("only staff accounts use TOTP"))),
    }
}

/// Starts TOTP enrolment: a new secret, shown once.
#[utoipa::path(post, path = "/v1/auth/totp/setup", tag = "auth",
    responses((status = 200, body = TotpSetupView), (status = 409, body = natter_core::Error)))]
pub async fn totp_setup(
    State(app): State<Arc<App>>,
    AnySession(principal, session): AnySession,
) -> Result<Json<TotpSetupView>, ApiError> {
    enrolling(&principal, session.as_ref())?;
    let setup = app.totp_setup(&principal.account).await?;
    Ok(Json(TotpSetupView {
        secret: setup.secret_base32,
        otpauth_uri: setup.otpauth_uri,
    }))
}

/// Confirms enrolment with a current code; returns recovery codes (shown once).
#[utoipa::path(post, path = "/v1/auth/totp/enable", tag = "auth", request_body = CodeRequest,
    responses((status = 200, body = RecoveryCodes), (status = 400, body = natter_core::Error)))]
pub async fn totp_enable(
    State(app): State<Arc<App>>,
    AnySession(principal, session): AnySession,
    Body(req): Body<CodeRequest>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    let session_id = enrolling(&principal, session.as_ref())?;
    let codes = app
        .totp_enable(&principal.account, &req.code, session_id)
        .await?;
    Ok(Json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

/// Turns TOTP off (needs a current code or a recovery code).
#[utoipa::path(post, path = "/v1/auth/totp/disable", tag = "auth", security(("bearer" = [])),
    request_body = CodeRequest,
    responses((status = 204, description = "Disabled"), (status = 403, body = natter_core::Error)))]
pub async fn totp_disable(
    State(app): State<Arc<App>>,
    CallerPrincipal(principal): CallerPrincipal,
    Body(req): Body<CodeRequest>,
) -> Result<StatusCode, ApiError> {
    app.totp_disable(&principal.account, &req.code).await?;
    Ok(StatusCode::NO_CONTENT)
}
