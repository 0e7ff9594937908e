//! Staff identity: sign-in with password and second factor, sessions, password reset,
//! invitations, TOTP enrolment, API token management, roles, workspace security settings
//! and the audit log. `impl App` continues here; HTTP lives in `api::auth` and `api::admin`.

use natter_core::ids::AccountId;
use natter_core::model::{
    Account, ApiTokenInfo, AuditEntry, MfaRequired, SessionInfo, SessionState, StaffRole,
};
use natter_core::time::now_millis;
use natter_core::{Error, ErrorCode};
use natter_store::{AuditQuery, NewAudit, NewSession, NewStaff, TokenPurpose};

use crate::app::App;
use crate::auth::{self, Principal, Via};

/// What a sign-in step produced.
pub struct SignIn {
    pub account: Account,
    pub state: SessionState,
    /// The cookie value; shown once.
    pub session_token: String,
    pub csrf_token: String,
}

/// Where the request came from, for sessions and the audit log.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// What TOTP enrolment shows the person once.
pub struct TotpSetup {
    pub secret_base32: String,
    pub otpauth_uri: String,
}

/// The state a new session starts in: a second factor owed, one to set up first (the
/// workspace requires it for this role), or signed in. Password and SSO sign-in share it.
pub(crate) fn initial_session_state(credentials: &natter_store::Credentials) -> SessionState {
    let role = credentials.account.role.unwrap_or(StaffRole::Agent);
    if credentials.totp_enabled {
        SessionState::Mfa
    } else if credentials.mfa_required.applies_to(role) {
        SessionState::Enrol
    } else {
        SessionState::Active
    }
}

fn wrong_credentials() -> Error {
    Error::new(ErrorCode::Unauthenticated, "wrong email or password")
}

impl App {
    /// Appends to the audit log. Failures are logged, never shown: the action already
    /// happened.
    pub async fn audit(
        &self,
        actor: &Account,
        action: &'static str,
        target: Option<(&'static str, String)>,
        detail: serde_json::Value,
    ) {
        self.audit_entry(NewAudit {
            workspace_id: actor.workspace_id,
            actor_id: Some(actor.id),
            action,
            target_type: target.as_ref().map(|t| t.0),
            target_id: target.map(|t| t.1),
            ip: None,
            detail: Some(detail).filter(|d| !d.is_null()),
        })
        .await;
    }

    pub async fn audit_entry(&self, entry: NewAudit) {
        if let Err(e) = self.store.audit(&entry).await {
            tracing::error!(error = %e, action = entry.action, "cannot write the audit log");
        }
    }

    fn session_expiry(&self) -> i64 {
        let ttl = i64::try_from(self.config.auth.session_ttl_secs).unwrap_or(i64::MAX / 2000);
        now_millis().saturating_add(ttl.saturating_mul(1000))
    }

    /// Verifies email and password and opens a session: `active`, or `mfa` when a TOTP code
    /// is still owed, or `enrol` when the workspace requires a second factor the person has
    /// not set up. Locked accounts and rate limits answer `rate_limited`.
    pub async fn sign_in(
        &self,
        email: &str,
        password: &str,
        workspace: Option<i64>,
        origin: &Origin,
    ) -> Result<SignIn, Error> {
        if password.len() > auth::MAX_PASSWORD_BYTES || email.len() > 254 {
            return Err(wrong_credentials());
        }
        let matches = self
            .store
            .credentials_by_email(email)
            .await
            .map_err(Self::public_error)?;
        let found = match workspace {
            Some(w) => matches.into_iter().find(|c| c.account.workspace_id.0 == w),
            None if matches.len() > 1 => {
                return Err(Error::invalid(
                    "this email has accounts in several workspaces; give workspace_id",
                ));
            }
            None => matches.into_iter().next(),
        };
        let Some(credentials) = found else {
            // Same work as a real check, so timing does not reveal whether the email exists.
            let password = password.to_string();
            let _ = tokio::task::spawn_blocking(move || {
                auth::verify_password(&password, auth::dummy_hash())
            })
            .await;
            return Err(wrong_credentials());
        };
        let account = credentials.account.clone();
        let now = now_millis();
        if let Some(until) = credentials.locked_until.filter(|u| *u > now) {
            let seconds = u64::try_from((until - now) / 1000 + 1).unwrap_or(60);
            return Err(Error::rate_limited(
                "too many failed sign-ins; the account is locked for a while",
                seconds,
            ));
        }
        let Some(hash) = credentials.password_hash.clone() else {
            return Err(wrong_credentials());
        };
        let candidate = password.to_string();
        let ok = tokio::task::spawn_blocking(move || auth::verify_password(&candidate, &hash))
            .await
            .map_err(|_| Error::internal())?;
        if !ok {
            self.record_failure(account.id).await?;
            self.audit_entry(NewAudit {
                workspace_id: account.workspace_id,
                actor_id: None,
                action: "login.failed",
                target_type: Some("account"),
                target_id: Some(account.id.to_string()),
                ip: origin.ip.clone(),
                detail: None,
            })
            .await;
            return Err(wrong_credentials());
        }
        self.store
            .record_login_success(account.id)
            .await
            .map_err(Self::public_error)?;
        let state = initial_session_state(&credentials);
        let signed_in = self.open_session(account, state, origin).await?;
        self.audit_entry(NewAudit {
            workspace_id: signed_in.account.workspace_id,
            actor_id: Some(signed_in.account.id),
            action: "login.succeeded",
            target_type: Some("account"),
            target_id: Some(signed_in.account.id.to_string()),
            ip: origin.ip.clone(),
            detail: Some(serde_json::json!({"state": state.as_str()})),
        })
        .await;
        Ok(signed_in)
    }

    pub(crate) async fn open_session(
        &self,
        account: Account,
        state: SessionState,
        origin: &Origin,
    ) -> Result<SignIn, Error> {
        let session_token = auth::random_token(32);
        let csrf_token = auth::random_token(24);
        self.store
            .create_session(&NewSession {
                account: account.id,
                token_hash: &auth::hash_token(&session_token),
                csrf_token: &csrf_token,
                state,
                ip: origin.ip.as_deref(),
                user_agent: origin.user_agent.as_deref(),
                expires_at: self.session_expiry(),
            })
            .await
            .map_err(Self::public_error)?;
        Ok(SignIn {
            account,
            state,
            session_token,
            csrf_token,
        })
    }

    /// The session behind a cookie value, in whatever state it is.
    pub async fn session(&self, cookie: &str) -> Result<natter_store::Session, Error> {
        if cookie.len() > 128 {
            return Err(Error::new(ErrorCode::Unauthenticated, "invalid session"));
        }
        self.store
            .session_by_token_hash(&auth::hash_token(cookie))
            .await
            .map_err(Self::public_error)?
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::Unauthenticated,
                    "the session ended; sign in again",
                )
            })
    }

    /// Completes a `mfa` session with a TOTP code or a recovery code.
    pub async fn second_factor(
        &self,
        session: &natter_store::Session,
        code: &str,
        origin: &Origin,
    ) -> Result<(), Error> {
        if session.state != SessionState::Mfa {
            return Err(Error::conflict(
                "this session does not wait for a second factor",
            ));
        }
        let account = &session.account;
        let credentials = self
            .store
            .credentials(account.id)
            .await
            .map_err(Self::public_error)?
            .ok_or_else(|| Error::new(ErrorCode::Unauthenticated, "the account is gone"))?;
        if credentials.locked_until.is_some_and(|u| u > now_millis()) {
            return Err(Error::rate_limited(
                "too many failed attempts; try later",
                60,
            ));
        }
        if !self.check_second_factor(&credentials, code).await? {
            self.record_failure(account.id).await?;
            return Err(Error::new(ErrorCode::Unauthenticated, "wrong code"));
        }
        self.store
            .record_login_success(account.id)
            .await
            .map_err(Self::public_error)?;
        self.store
            .set_session_state(session.id, SessionState::Active)
            .await
            .map_err(Self::public_error)?;
        self.audit_entry(NewAudit {
            workspace_id: account.workspace_id,
            actor_id: Some(account.id),
            action: "login.second_factor",
            target_type: Some("account"),
            target_id: Some(account.id.to_string()),
            ip: origin.ip.clone(),
            detail: None,
        })
        .await;
        Ok(())
    }

    /// Counts a failed sign-in step (password or second factor); past the threshold the
    /// account locks for 1, 2, 4 … minutes, at most an hour.
    async fn record_failure(&self, account: AccountId) -> Result<(), Error> {
        let threshold = i64::from(self.config.rate_limits.login_failures_before_lock);
        self.store
            .record_login_failure(account, |failures| {
                (threshold > 0 && failures >= threshold).then(|| {
                    let doublings = u32::try_from(failures - threshold).unwrap_or(6).min(6);
                    (60_000 * (1i64 << doublings)).min(3_600_000)
                })
            })
            .await
            .map_err(Self::public_error)?;
        Ok(())
    }

    /// A TOTP code, or (anything with a dash, or longer than a TOTP code) a recovery code,
    /// which is used up.
    async fn check_second_factor(
        &self,
        credentials: &natter_store::Credentials,
        code: &str,
    ) -> Result<bool, Error> {
        if code.contains('-') || code.len() > 8 {
            self.store
                .use_recovery_code(credentials.account.id, &auth::hash_recovery_code(code))
                .await
                .map_err(Self::public_error)
        } else {
            self.check_totp(credentials, code).await
        }
    }

    /// Checks a TOTP code against the stored secret, accepting each time step once.
    async fn check_totp(
        &self,
        credentials: &natter_store::Credentials,
        code: &str,
    ) -> Result<bool, Error> {
        let Some(sealed) = &credentials.totp_secret else {
            return Ok(false);
        };
        let secret = auth::open(&self.identity_key, sealed)?;
        let email = credentials.account.email.clone().unwrap_or_default();
        let totp = auth::totp(&secret, &email)?;
        let now = u64::try_from(now_millis() / 1000).unwrap_or(0);
        let Some(step) = totp.check(code.trim(), now) else {
            return Ok(false);
        };
        let step = i64::try_from(step).unwrap_or(i64::MAX);
        self.store
            .accept_totp_step(credentials.account.id, step)
            .await
            .map_err(Self::public_error)
    }

    /// Starts TOTP enrolment: a new secret, shown once (as base32 and an otpauth URI).
    pub async fn totp_setup(&self, account: &Account) -> Result<TotpSetup, Error> {
        let credentials = self
            .store
            .credentials(account.id)
            .await
            .map_err(Self::public_error)?
            .ok_or_else(|| Error::forbidden("only staff accounts use TOTP"))?;
        if credentials.totp_enabled {
            return Err(Error::conflict("TOTP is already enabled; disable it first"));
        }
        let secret: [u8; 20] = rand::random();
        let email = account.email.clone().unwrap_or_default();
        let totp = auth::totp(&secret, &email)?;
        let sealed = auth::seal(&self.identity_key, &secret)?;
        self.store
            .set_totp_secret(account.id, Some(&sealed))
            .await
            .map_err(Self::public_error)?;
        Ok(TotpSetup {
            secret_base32: totp.secret().to_base32(),
            otpauth_uri: totp.to_url().map_err(|_| Error::internal())?,
        })
    }

    /// Confirms enrolment with a code from the app; returns fresh recovery codes (shown
    /// once). An `enrol` session becomes `active`.
    pub async fn totp_enable(
        &self,
        account: &Account,
        code: &str,
        session: Option<i64>,
    ) -> Result<Vec<String>, Error> {
        let credentials = self
            .store
            .credentials(account.id)
            .await
            .map_err(Self::public_error)?
            .ok_or_else(|| Error::forbidden("only staff accounts use TOTP"))?;
        if credentials.totp_enabled {
            return Err(Error::conflict("TOTP is already enabled"));
        }
        let Some(sealed) = &credentials.totp_secret else {
            return Err(Error::conflict("start with TOTP setup"));
        };
        let secret = auth::open(&self.identity_key, sealed)?;
        let totp = auth::totp(&secret, account.email.as_deref().unwrap_or_default())?;
        let now = u64::try_from(now_millis() / 1000).unwrap_or(0);
        let step = totp
            .check(code.trim(), now)
            .ok_or_else(|| Error::invalid("wrong code; check the clock of the device"))?;
        let codes = auth::new_recovery_codes();
        let hashes: Vec<Vec<u8>> = codes.iter().map(|c| auth::hash_recovery_code(c)).collect();
        self.store
            .enable_totp(account.id, i64::try_from(step).unwrap_or(i64::MAX), &hashes)
            .await
            .map_err(Self::public_error)?;
        if let Some(session) = session {
            self.store
                .set_session_state(session, SessionState::Active)
                .await
                .map_err(Self::public_error)?;
        }
        self.audit(account, "mfa.enabled", None, serde_json::Value::Null)
            .await;
        Ok(codes)
    }

    /// Turns TOTP off after checking a current code (or a recovery code). Refused where the
    /// workspace requires a second factor for this role.
    pub async fn totp_disable(&self, account: &Account, code: &str) -> Result<(), Error> {
        let credentials = self
            .store
            .credentials(account.id)
            .await
            .map_err(Self::public_error)?
            .ok_or_else(|| Error::forbidden("only staff accounts use TOTP"))?;
        if !credentials.totp_enabled {
            return Err(Error::conflict("TOTP is not enabled"));
        }
        if credentials
            .mfa_required
            .applies_to(account.role.unwrap_or(StaffRole::Agent))
        {
            return Err(Error::forbidden(
                "this workspace requires a second factor for your role",
            ));
        }
        if !self.check_second_factor(&credentials, code).await? {
            return Err(Error::invalid("wrong code"));
        }
        self.store
            .set_totp_secret(account.id, None)
            .await
            .map_err(Self::public_error)?;
        self.audit(account, "mfa.disabled", None, serde_json::Value::Null)
            .await;
        Ok(())
    }

    /// Changes one's own password (the current one is required) and ends every other session.
    pub async fn change_password(
        &self,
        principal: &Principal,
        current: &str,
        new: &str,
    ) -> Result<(), Error> {
        let account = &principal.account;
        let credentials = self
            .store
            .credentials(account.id)
            .await
            .map_err(Self::public_error)?
            .ok_or_else(|| Error::forbidden("only staff accounts have passwords"))?;
        if let Some(hash) = credentials.password_hash.clone() {
            let current = current.to_string();
            let ok = tokio::task::spawn_blocking(move || auth::verify_password(&current, &hash))
                .await
                .map_err(|_| Error::internal())?;
            if !ok {
                return Err(Error::new(
                    ErrorCode::Unauthenticated,
                    "the current password is wrong",
                ));
            }
        }
        self.store_password(account, new).await?;
        let keep = match &principal.via {
            Via::Session { id, .. } => Some(*id),
            _ => None,
        };
        self.store
            .revoke_sessions(account.id, keep)
            .await
            .map_err(Self::public_error)?;
        self.audit(account, "password.changed", None, serde_json::Value::Null)
            .await;
        Ok(())
    }

    async fn store_password(&self, account: &Account, password: &str) -> Result<(), Error> {
        auth::check_password_strength(password, account.email.as_deref().unwrap_or_default())?;
        let password = password.to_string();
        let hash = tokio::task::spawn_blocking(move || auth::hash_password(&password))
            .await
            .map_err(|_| Error::internal())??;
        self.store
            .set_password_hash(account.id, &hash)
            .await
            .map_err(Self::public_error)
    }

    fn link(&self, path: &str, token: &str) -> String {
        let base = self.config.public_base_url();
        format!("{base}{path}#token={token}")
    }

    /// Emails a single-use reset link if the email belongs to a staff account. Answers the
    /// same either way, so it cannot be used to find accounts.
    pub async fn request_password_reset(&self, email: &str) -> Result<(), Error> {
        let matches = self
            .store
            .credentials_by_email(email)
            .await
            .map_err(Self::public_error)?;
        let ttl = i64::try_from(self.config.auth.password_reset_ttl_secs).unwrap_or(3600);
        for credentials in matches {
            let token = auth::random_token(32);
            self.store
                .create_one_time_token(
                    credentials.account.id,
                    TokenPurpose::PasswordReset,
                    &auth::hash_token(&token),
                    now_millis() + ttl * 1000,
                )
                .await
                .map_err(Self::public_error)?;
            let body = format!(
                "Someone asked to reset the password of your natter account.\n\n\
                 To choose a new password, open:\n{}\n\nThe link works once, for {} minutes. \
                 If you did not ask for this, ignore this email.",
                self.link("/app/reset-password", &token),
                ttl / 60
            );
            self.mailbox
                .send(email, "Reset your natter password", &body)
                .await?;
            self.audit(
                &credentials.account,
                "password.reset_requested",
                None,
                serde_json::Value::Null,
            )
            .await;
        }
        Ok(())
    }

    /// Sets a new password with a reset or invitation token; the token works once. Ends the
    /// account's sessions.
    pub async fn redeem_token(
        &self,
        purpose: TokenPurpose,
        token: &str,
        password: &str,
        name: Option<String>,
    ) -> Result<Account, Error> {
        if token.len() > 128 {
            return Err(Error::invalid("invalid token"));
        }
        // Check strength before spending the token, so a weak password does not burn it.
        auth::check_password_strength(password, "")?;
        let account_id = self
            .store
            .consume_one_time_token(purpose, &auth::hash_token(token))
            .await
            .map_err(Self::public_error)?
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::Unauthenticated,
                    "the link is invalid, used or expired",
                )
            })?;
        let account = self
            .store
            .account(account_id)
            .await
            .map_err(Self::public_error)?
            .ok_or_else(|| Error::new(ErrorCode::Unauthenticated, "the account is gone"))?;
        self.store_password(&account, password).await?;
        if let Some(name) = name.filter(|n| !n.trim().is_empty()) {
            self.store
                .set_name(account.id, &name)
                .await
                .map_err(Self::public_error)?;
        }
        self.store
            .revoke_sessions(account.id, None)
            .await
            .map_err(Self::public_error)?;
        // Sockets signed in with those sessions close too (on every node); sockets of the
        // account's still-valid API tokens reconnect by themselves.
        self.fanout.disconnect(account.id);
        let action = match purpose {
            TokenPurpose::PasswordReset => "password.reset",
            TokenPurpose::Invitation => "invitation.accepted",
        };
        self.audit(&account, action, None, serde_json::Value::Null)
            .await;
        Ok(account)
    }

    /// Invites a staff member: creates the account (no password yet) and emails a
    /// single-use link to set one. Owners and admins only; only owners invite owners.
    pub async fn invite(
        &self,
        actor: &Account,
        email: &str,
        name: Option<String>,
        role: StaffRole,
    ) -> Result<Account, Error> {
        let account = self.create_staff(actor, email, name, role).await?;
        let token = auth::random_token(32);
        let ttl = i64::try_from(self.config.auth.invitation_ttl_secs).unwrap_or(604_800);
        self.store
            .create_one_time_token(
                account.id,
                TokenPurpose::Invitation,
                &auth::hash_token(&token),
                now_millis() + ttl * 1000,
            )
            .await
            .map_err(Self::public_error)?;
        let body = format!(
            "You have been invited to natter as {}.\n\nTo set your password and sign in, open:\n{}\n\n\
             The link works once, for {} days.",
            role.as_str(),
            self.link("/app/accept-invitation", &token),
            ttl / 86_400
        );
        self.mailbox
            .send(email, "You are invited to natter", &body)
            .await?;
        self.audit(
            actor,
            "staff.invited",
            Some(("account", account.id.to_string())),
            serde_json::json!({"email": email, "role": role.as_str()}),
        )
        .await;
        Ok(account)
    }

    pub async fn sessions(&self, principal: &Principal) -> Result<Vec<SessionInfo>, Error> {
        let current = match &principal.via {
            Via::Session { id, .. } => Some(*id),
            _ => None,
        };
        self.store
            .sessions(principal.account.id, current)
            .await
            .map_err(Self::public_error)
    }

    pub async fn revoke_session(&self, account: &Account, id: i64) -> Result<(), Error> {
        if !self
            .store
            .revoke_session(account.id, id)
            .await
            .map_err(Self::public_error)?
        {
            return Err(Error::not_found("session"));
        }
        self.audit(
            account,
            "session.revoked",
            Some(("session", id.to_string())),
            serde_json::Value::Null,
        )
        .await;
        Ok(())
    }

    /// Ends the session behind a cookie (sign-out).
    pub async fn sign_out(&self, principal: &Principal) -> Result<(), Error> {
        if let Via::Session { id, .. } = &principal.via {
            self.store
                .revoke_session(principal.account.id, *id)
                .await
                .map_err(Self::public_error)?;
        }
        Ok(())
    }

    /// A staff member's API tokens: one's own, or anyone's for owners/admins.
    pub async fn api_tokens(
        &self,
        actor: &Account,
        of: AccountId,
    ) -> Result<Vec<ApiTokenInfo>, Error> {
        crate::app::check_staff(actor)?;
        if of != actor.id {
            crate::app::check_admin(actor)?;
        }
        self.store
            .account_in(actor.workspace_id, of)
            .await
            .map_err(Self::public_error)?;
        self.store.api_tokens(of).await.map_err(Self::public_error)
    }

    /// Revokes a token: one's own, or any in the workspace for owners/admins.
    pub async fn revoke_api_token(&self, actor: &Account, id: i64) -> Result<(), Error> {
        let token = self
            .store
            .api_token(actor.workspace_id, id)
            .await
            .map_err(Self::public_error)?
            .ok_or_else(|| Error::not_found("token"))?;
        if token.account_id != actor.id {
            crate::app::check_admin(actor)?;
            let holder = self
                .store
                .account_in(actor.workspace_id, token.account_id)
                .await
                .map_err(Self::public_error)?;
            if holder.role == Some(StaffRole::Owner) && actor.role != Some(StaffRole::Owner) {
                return Err(Error::forbidden(
                    "only an owner can revoke an owner's tokens",
                ));
            }
        }
        self.store
            .revoke_api_token(id)
            .await
            .map_err(Self::public_error)?;
        // Connections opened with the token end now; the account's others reconnect with
        // their own credentials.
        self.fanout.disconnect(token.account_id);
        self.audit(
            actor,
            "token.revoked",
            Some(("token", id.to_string())),
            serde_json::Value::Null,
        )
        .await;
        Ok(())
    }

    /// Changes a staff member's role (owners and admins; only owners touch owners).
    pub async fn set_role(
        &self,
        actor: &Account,
        of: AccountId,
        role: StaffRole,
    ) -> Result<Account, Error> {
        crate::app::check_admin(actor)?;
        let target = self
            .store
            .account_in(actor.workspace_id, of)
            .await
            .map_err(Self::public_error)?;
        let owner_involved = role == StaffRole::Owner || target.role == Some(StaffRole::Owner);
        if owner_involved && actor.role != Some(StaffRole::Owner) {
            return Err(Error::forbidden("only an owner can make or unmake owners"));
        }
        if target.id == actor.id && role != StaffRole::Owner && actor.role == Some(StaffRole::Owner)
        {
            return Err(Error::conflict(
                "an owner cannot demote themselves; ask another owner",
            ));
        }
        if !self
            .store
            .set_role(actor.workspace_id, of, role)
            .await
            .map_err(Self::public_error)?
        {
            return Err(Error::not_found("staff account"));
        }
        self.audit(
            actor,
            "staff.role_changed",
            Some(("account", of.to_string())),
            serde_json::json!({"from": target.role.map(StaffRole::as_str), "to": role.as_str()}),
        )
        .await;
        self.store
            .account_in(actor.workspace_id, of)
            .await
            .map_err(Self::public_error)
    }

    /// Deactivates a staff member: their sessions and tokens stop working at once.
    pub async fn deactivate_staff(&self, actor: &Account, of: AccountId) -> Result<(), Error> {
        crate::app::check_admin(actor)?;
        let target = self
            .store
            .account_in(actor.workspace_id, of)
            .await
            .map_err(Self::public_error)?;
        if !target.is_staff() {
            return Err(Error::not_found("staff account"));
        }
        if target.role == Some(StaffRole::Owner) && actor.role != Some(StaffRole::Owner) {
            return Err(Error::forbidden("only an owner can deactivate an owner"));
        }
        if target.id == actor.id {
            return Err(Error::conflict("you cannot deactivate yourself"));
        }
        self.store
            .deactivate(actor.workspace_id, of)
            .await
            .map_err(Self::public_error)?;
        self.fanout.disconnect(of);
        self.audit(
            actor,
            "staff.deactivated",
            Some(("account", of.to_string())),
            serde_json::Value::Null,
        )
        .await;
        Ok(())
    }

    pub async fn set_mfa_required(
        &self,
        actor: &Account,
        required: MfaRequired,
    ) -> Result<(), Error> {
        if actor.role != Some(StaffRole::Owner) {
            return Err(Error::forbidden("only owners change security settings"));
        }
        self.store
            .set_workspace_mfa(actor.workspace_id, required)
            .await
            .map_err(Self::public_error)?;
        self.audit(
            actor,
            "settings.changed",
            Some(("workspace", actor.workspace_id.to_string())),
            serde_json::json!({"mfa_required": required.as_str()}),
        )
        .await;
        Ok(())
    }

    pub async fn workspace_mfa(&self, actor: &Account) -> Result<MfaRequired, Error> {
        crate::app::check_staff(actor)?;
        self.store
            .workspace_mfa(actor.workspace_id)
            .await
            .map_err(Self::public_error)
    }

    /// The audit log (owners and admins).
    pub async fn audit_log(
        &self,
        actor: &Account,
        mut query: AuditQuery,
    ) -> Result<Vec<AuditEntry>, Error> {
        crate::app::check_admin(actor)?;
        let max = self.config.limits.page_max;
        if query.limit == 0 {
            query.limit = max.min(50);
        }
        if query.limit > max {
            return Err(Error::invalid(format!("limit must be at most {max}")));
        }
        self.store
            .audit_log(actor.workspace_id, &query)
            .await
            .map_err(Self::public_error)
    }

    /// Creates a staff account with a password (the command line's first set-up path).
    pub async fn create_user_with_password(
        &self,
        workspace: natter_core::WorkspaceId,
        email: &str,
        name: Option<String>,
        role: StaffRole,
        password: &str,
    ) -> Result<Account, Error> {
        auth::check_password_strength(password, email)?;
        let account = self
            .store
            .create_staff(&NewStaff {
                workspace_id: workspace,
                email: email.to_string(),
                name,
                role,
            })
            .await
            .map_err(Self::public_error)?;
        self.store_password(&account, password).await?;
        Ok(account)
    }
}
