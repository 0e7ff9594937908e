//! Identity storage: credentials, sessions, second factors, single-use tokens, API token
//! management, workspace security settings and the audit log.

use natter_core::ids::{AccountId, WorkspaceId};
use natter_core::model::{
    Account, ApiTokenInfo, AuditEntry, MfaRequired, SessionInfo, SessionState, StaffRole,
};
use natter_core::time::{Millis, now_millis};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::rows::{self, a_account_columns};
use crate::{Store, StoreError};

/// What sign-in needs to know about a staff account.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub account: Account,
    pub password_hash: Option<String>,
    /// Sealed TOTP secret, present once enrolment started.
    pub totp_secret: Option<Vec<u8>>,
    pub totp_enabled: bool,
    pub failed_logins: i64,
    pub locked_until: Option<Millis>,
    /// The workspace's second-factor requirement.
    pub mfa_required: MfaRequired,
}

/// A session found by its cookie.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: i64,
    pub account: Account,
    pub state: SessionState,
    pub csrf_token: String,
}

/// A new session.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    pub account: AccountId,
    pub token_hash: &'a [u8],
    pub csrf_token: &'a str,
    pub state: SessionState,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub expires_at: Millis,
}

/// An audit entry to append.
#[derive(Debug, Clone)]
pub struct NewAudit {
    pub workspace_id: WorkspaceId,
    pub actor_id: Option<AccountId>,
    pub action: &'static str,
    pub target_type: Option<&'static str>,
    pub target_id: Option<String>,
    pub ip: Option<String>,
    pub detail: Option<serde_json::Value>,
}

/// Filters for reading the audit log, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub action: Option<String>,
    pub actor_id: Option<AccountId>,
    /// Entries older than this id (the previous page's last id).
    pub before: Option<i64>,
    pub since: Option<Millis>,
    pub limit: u32,
}

/// One-time token purposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    PasswordReset,
    Invitation,
}

impl TokenPurpose {
    fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::PasswordReset => "password_reset",
            TokenPurpose::Invitation => "invitation",
        }
    }
}

/// How long a session's `last_seen_at` may lag, so that authenticating is not a write on
/// every request.
const LAST_SEEN_GRANULARITY_MS: i64 = 60_000;

fn credentials(row: &AnyRow) -> Result<Credentials, StoreError> {
    let mfa: String = row.try_get("mfa_required")?;
    Ok(Credentials {
        account: rows::account(row)?,
        password_hash: row.try_get("password_hash")?,
        totp_secret: row.try_get("totp_secret")?,
        totp_enabled: row.try_get::<Option<i64>, _>("totp_enabled_at")?.is_some(),
        failed_logins: row.try_get("failed_logins")?,
        locked_until: row.try_get("locked_until")?,
        mfa_required: MfaRequired::parse(&mfa)
            .ok_or_else(|| StoreError::Corrupt(format!("mfa_required = {mfa:?}")))?,
    })
}

fn session_info(row: &AnyRow, current: Option<i64>) -> Result<SessionInfo, StoreError> {
    let state: String = row.try_get("state")?;
    let id: i64 = row.try_get("session_id")?;
    Ok(SessionInfo {
        id,
        state: SessionState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("session state = {state:?}")))?,
        ip: row.try_get("ip")?,
        user_agent: row.try_get("user_agent")?,
        created_at: row.try_get("created_at")?,
        last_seen_at: row.try_get("last_seen_at")?,
        expires_at: row.try_get("expires_at")?,
        current: current == Some(id),
    })
}

fn token_info(row: &AnyRow) -> Result<ApiTokenInfo, StoreError> {
    let scopes: String = row.try_get("scopes")?;
    Ok(ApiTokenInfo {
        id: row.try_get("api_token_id")?,
        account_id: AccountId(row.try_get("account_id")?),
        name: row.try_get("name")?,
        scopes: scopes.split_whitespace().map(str::to_string).collect(),
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

macro_rules! credential_select {
    () => {
        concat!(
            "select ",
            a_account_columns!(),
            ", a.password_hash, a.totp_secret, a.totp_enabled_at, a.failed_logins,
               a.locked_until, w.mfa_required
             from account a join workspace w on w.workspace_id = a.workspace_id"
        )
    };
}

impl Store {
    /// Active staff accounts with this email (one per workspace), with what sign-in needs.
    pub async fn credentials_by_email(&self, email: &str) -> Result<Vec<Credentials>, StoreError> {
        let rows = sqlx::query(concat!(
            credential_select!(),
            " where a.kind = 'staff' and lower(a.email) = lower($1) and a.deactivated_at is null
              order by a.workspace_id"
        ))
        .bind(email)
        .fetch_all(&self.write)
        .await?;
        rows.iter().map(credentials).collect()
    }

    /// Sign-in facts of one active staff account.
    pub async fn credentials(&self, id: AccountId) -> Result<Option<Credentials>, StoreError> {
        let row = sqlx::query(concat!(
            credential_select!(),
            " where a.account_id = $1 and a.kind = 'staff' and a.deactivated_at is null"
        ))
        .bind(id.0)
        .fetch_optional(&self.write)
        .await?;
        row.as_ref().map(credentials).transpose()
    }

    pub async fn set_password_hash(&self, id: AccountId, hash: &str) -> Result<(), StoreError> {
        sqlx::query(
            "update account set password_hash = $1, failed_logins = 0, locked_until = null,
                 updated_at = $2
             where account_id = $3",
        )
        .bind(hash)
        .bind(now_millis())
        .bind(id.0)
        .execute(&self.write)
        .await?;
        self.account_changed(id);
        Ok(())
    }

    /// Counts a failed sign-in; `lock_until` (if any) locks the account until then. Returns
    /// the number of consecutive failures.
    pub async fn record_login_failure(
        &self,
        id: AccountId,
        lock_for_ms: impl Fn(i64) -> Option<i64>,
    ) -> Result<i64, StoreError> {
        let mut tx = self.begin().await?;
        let failures: i64 = sqlx::query_scalar(
            "update account set failed_logins = failed_logins + 1 where account_id = $1
             returning failed_logins",
        )
        .bind(id.0)
        .fetch_one(&mut *tx)
        .await?;
        if let Some(ms) = lock_for_ms(failures) {
            sqlx::query("update account set locked_until = $1 where account_id = $2")
                .bind(now_millis().saturating_add(ms))
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(failures)
    }

    pub async fn record_login_success(&self, id: AccountId) -> Result<(), StoreError> {
        sqlx::query(
            "update account set failed_logins = 0, locked_until = null where account_id = $1
               and (failed_logins <> 0 or locked_until is not null)",
        )
        .bind(id.0)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// Stores a sealed TOTP secret (enrolment started, not yet enabled), or clears TOTP.
    pub async fn set_totp_secret(
        &self,
        id: AccountId,
        sealed: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "update account set totp_secret = $1, totp_enabled_at = null, totp_last_step = null
             where account_id = $2",
        )
        .bind(sealed.map(<[u8]>::to_vec))
        .bind(id.0)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// Enables TOTP and replaces the recovery codes, in one transaction.
    pub async fn enable_totp(
        &self,
        id: AccountId,
        step: i64,
        recovery_hashes: &[Vec<u8>],
    ) -> Result<(), StoreError> {
        let now = now_millis();
        let mut tx = self.begin().await?;
        sqlx::query(
            "update account set totp_enabled_at = $1, totp_last_step = $2 where account_id = $3",
        )
        .bind(now)
        .bind(step)
        .bind(id.0)
        .execute(&mut *tx)
        .await?;
        sqlx::query("delete from recovery_code where account_id = $1")
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        for hash in recovery_hashes {
            sqlx::query(
                "insert into recovery_code (account_id, code_hash, created_at) values ($1, $2, $3)",
            )
            .bind(id.0)
            .bind(hash.clone())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Accepts TOTP time step `step` unless it (or a later one) was used already: a code works
    /// once.
    pub async fn accept_totp_step(&self, id: AccountId, step: i64) -> Result<bool, StoreError> {
        let updated = sqlx::query(
            "update account set totp_last_step = $1
             where account_id = $2 and (totp_last_step is null or totp_last_step < $1)",
        )
        .bind(step)
        .bind(id.0)
        .execute(&self.write)
        .await?
        .rows_affected();
        Ok(updated == 1)
    }

    /// Uses up a recovery code; false if it does not exist or was used.
    pub async fn use_recovery_code(&self, id: AccountId, hash: &[u8]) -> Result<bool, StoreError> {
        let updated = sqlx::query(
            "update recovery_code set used_at = $1
             where account_id = $2 and code_hash = $3 and used_at is null",
        )
        .bind(now_millis())
        .bind(id.0)
        .bind(hash.to_vec())
        .execute(&self.write)
        .await?
        .rows_affected();
        Ok(updated >= 1)
    }

    pub async fn create_session(&self, new: &NewSession<'_>) -> Result<i64, StoreError> {
        let now = now_millis();
        let id: i64 = sqlx::query_scalar(
            "insert into session (account_id, token_hash, csrf_token, state, ip, user_agent,
                                  created_at, last_seen_at, expires_at)
             values ($1, $2, $3, $4, $5, $6, $7, $7, $8) returning session_id",
        )
        .bind(new.account.0)
        .bind(new.token_hash.to_vec())
        .bind(new.csrf_token)
        .bind(new.state.as_str())
        .bind(new.ip)
        .bind(new.user_agent)
        .bind(now)
        .bind(new.expires_at)
        .fetch_one(&self.write)
        .await?;
        Ok(id)
    }

    /// The live session with this cookie hash and its (active) account.
    pub async fn session_by_token_hash(&self, hash: &[u8]) -> Result<Option<Session>, StoreError> {
        let now = now_millis();
        let row = sqlx::query(concat!(
            "select s.session_id, s.state, s.csrf_token, s.last_seen_at, ",
            a_account_columns!(),
            " from session s join account a on a.account_id = s.account_id
              where s.token_hash = $1 and s.revoked_at is null and s.expires_at > $2
                and a.deactivated_at is null"
        ))
        .bind(hash.to_vec())
        .bind(now)
        .fetch_optional(&self.read)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let id: i64 = row.try_get("session_id")?;
        let last_seen: i64 = row.try_get("last_seen_at")?;
        if now - last_seen > LAST_SEEN_GRANULARITY_MS {
            sqlx::query("update session set last_seen_at = $1 where session_id = $2")
                .bind(now)
                .bind(id)
                .execute(&self.write)
                .await?;
        }
        let state: String = row.try_get("state")?;
        Ok(Some(Session {
            id,
            account: rows::account(&row)?,
            state: SessionState::parse(&state)
                .ok_or_else(|| StoreError::Corrupt(format!("session state = {state:?}")))?,
            csrf_token: row.try_get("csrf_token")?,
        }))
    }

    pub async fn set_session_state(&self, id: i64, state: SessionState) -> Result<(), StoreError> {
        sqlx::query("update session set state = $1 where session_id = $2")
            .bind(state.as_str())
            .bind(id)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// The account's live sessions, newest first; `current` marks the caller's.
    pub async fn sessions(
        &self,
        account: AccountId,
        current: Option<i64>,
    ) -> Result<Vec<SessionInfo>, StoreError> {
        let rows = sqlx::query(
            "select session_id, state, ip, user_agent, created_at, last_seen_at, expires_at
             from session where account_id = $1 and revoked_at is null and expires_at > $2
             order by session_id desc",
        )
        .bind(account.0)
        .bind(now_millis())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(|r| session_info(r, current)).collect()
    }

    /// Revokes one of the account's sessions; false if there is no such live session.
    pub async fn revoke_session(&self, account: AccountId, id: i64) -> Result<bool, StoreError> {
        let updated = sqlx::query(
            "update session set revoked_at = $1
             where session_id = $2 and account_id = $3 and revoked_at is null",
        )
        .bind(now_millis())
        .bind(id)
        .bind(account.0)
        .execute(&self.write)
        .await?
        .rows_affected();
        Ok(updated == 1)
    }

    /// Revokes every live session of the account except `keep`; returns how many.
    pub async fn revoke_sessions(
        &self,
        account: AccountId,
        keep: Option<i64>,
    ) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "update session set revoked_at = $1
             where account_id = $2 and revoked_at is null and session_id <> $3",
        )
        .bind(now_millis())
        .bind(account.0)
        .bind(keep.unwrap_or(-1))
        .execute(&self.write)
        .await?
        .rows_affected())
    }

    pub async fn create_one_time_token(
        &self,
        account: AccountId,
        purpose: TokenPurpose,
        hash: &[u8],
        expires_at: Millis,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "insert into one_time_token (account_id, purpose, token_hash, expires_at, created_at)
             values ($1, $2, $3, $4, $5)",
        )
        .bind(account.0)
        .bind(purpose.as_str())
        .bind(hash.to_vec())
        .bind(expires_at)
        .bind(now_millis())
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// Uses up an unexpired, unused token of `purpose`; returns whose it was. A second use,
    /// an expired token or a token of another purpose gives `None`.
    pub async fn consume_one_time_token(
        &self,
        purpose: TokenPurpose,
        hash: &[u8],
    ) -> Result<Option<AccountId>, StoreError> {
        let now = now_millis();
        let id: Option<i64> = sqlx::query_scalar(
            "update one_time_token set used_at = $1
             where token_hash = $2 and purpose = $3 and used_at is null and expires_at > $1
             returning account_id",
        )
        .bind(now)
        .bind(hash.to_vec())
        .bind(purpose.as_str())
        .fetch_optional(&self.write)
        .await?;
        Ok(id.map(AccountId))
    }

    /// The account's API tokens (revoked ones included, marked), newest first.
    pub async fn api_tokens(&self, account: AccountId) -> Result<Vec<ApiTokenInfo>, StoreError> {
        let rows = sqlx::query(
            "select api_token_id, account_id, name, scopes, created_at, last_used_at, revoked_at
             from api_token where account_id = $1 order by api_token_id desc",
        )
        .bind(account.0)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(token_info).collect()
    }

    /// The token with this id if its owner is in `workspace`.
    pub async fn api_token(
        &self,
        workspace: WorkspaceId,
        id: i64,
    ) -> Result<Option<ApiTokenInfo>, StoreError> {
        let row = sqlx::query(
            "select t.api_token_id, t.account_id, t.name, t.scopes, t.created_at,
                    t.last_used_at, t.revoked_at
             from api_token t join account a on a.account_id = t.account_id
             where t.api_token_id = $1 and a.workspace_id = $2",
        )
        .bind(id)
        .bind(workspace.0)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(token_info).transpose()
    }

    pub async fn revoke_api_token(&self, id: i64) -> Result<bool, StoreError> {
        let updated = sqlx::query(
            "update api_token set revoked_at = $1 where api_token_id = $2 and revoked_at is null",
        )
        .bind(now_millis())
        .bind(id)
        .execute(&self.write)
        .await?
        .rows_affected();
        Ok(updated == 1)
    }

    pub async fn set_workspace_mfa(
        &self,
        workspace: WorkspaceId,
        required: MfaRequired,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "update workspace set mfa_required = $1, updated_at = $2 where workspace_id = $3",
        )
        .bind(required.as_str())
        .bind(now_millis())
        .bind(workspace.0)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    pub async fn workspace_mfa(&self, workspace: WorkspaceId) -> Result<MfaRequired, StoreError> {
        let text: String =
            sqlx::query_scalar("select mfa_required from workspace where workspace_id = $1")
                .bind(workspace.0)
                .fetch_one(&self.read)
                .await?;
        MfaRequired::parse(&text).ok_or_else(|| StoreError::Corrupt(format!("mfa = {text:?}")))
    }

    /// Changes a staff member's role.
    pub async fn set_role(
        &self,
        workspace: WorkspaceId,
        id: AccountId,
        role: StaffRole,
    ) -> Result<bool, StoreError> {
        let updated = sqlx::query(
            "update account set role = $1, updated_at = $2
             where account_id = $3 and workspace_id = $4 and kind = 'staff'
               and deactivated_at is null",
        )
        .bind(role.as_str())
        .bind(now_millis())
        .bind(id.0)
        .bind(workspace.0)
        .execute(&self.write)
        .await?
        .rows_affected();
        self.account_changed(id);
        Ok(updated == 1)
    }

    /// Deactivates an account and ends its sessions and API tokens, in one transaction.
    pub async fn deactivate(
        &self,
        workspace: WorkspaceId,
        id: AccountId,
    ) -> Result<bool, StoreError> {
        let now = now_millis();
        let mut tx = self.begin().await?;
        let updated = sqlx::query(
            "update account set deactivated_at = $1, updated_at = $1
             where account_id = $2 and workspace_id = $3 and deactivated_at is null",
        )
        .bind(now)
        .bind(id.0)
        .bind(workspace.0)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query(
            "update session set revoked_at = $1 where account_id = $2 and revoked_at is null",
        )
        .bind(now)
        .bind(id.0)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "update api_token set revoked_at = $1 where account_id = $2 and revoked_at is null",
        )
        .bind(now)
        .bind(id.0)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.account_changed(id);
        Ok(updated == 1)
    }

    /// Appends to the audit log.
    pub async fn audit(&self, entry: &NewAudit) -> Result<(), StoreError> {
        let detail = entry
            .detail
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("audit detail: {e}")))?;
        sqlx::query(
            "insert into audit_log (workspace_id, actor_id, action, target_type, target_id, ip,
                                    detail, created_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(entry.workspace_id.0)
        .bind(entry.actor_id.map(|a| a.0))
        .bind(entry.action)
        .bind(entry.target_type)
        .bind(entry.target_id.as_deref())
        .bind(entry.ip.as_deref())
        .bind(detail)
        .bind(now_millis())
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// A page of the workspace's audit log, newest first.
    pub async fn audit_log(
        &self,
        workspace: WorkspaceId,
        query: &AuditQuery,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "select audit_id, workspace_id, actor_id, action, target_type, target_id, ip, detail,
                    created_at
             from audit_log
             where workspace_id = $1
               and ($2 = '' or action = $2)
               and ($3 = 0 or actor_id = $3)
               and audit_id < $4
               and created_at >= $5
             order by audit_id desc
             limit $6",
        )
        .bind(workspace.0)
        .bind(query.action.clone().unwrap_or_default())
        .bind(query.actor_id.map_or(0, |a| a.0))
        .bind(query.before.unwrap_or(i64::MAX))
        .bind(query.since.unwrap_or(0))
        .bind(i64::from(query.limit))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|row| {
                let detail: Option<String> = row.try_get("detail")?;
                Ok(AuditEntry {
                    id: row.try_get("audit_id")?,
                    workspace_id: WorkspaceId(row.try_get("workspace_id")?),
                    actor_id: row.try_get::<Option<i64>, _>("actor_id")?.map(AccountId),
                    action: row.try_get("action")?,
                    target_type: row.try_get("target_type")?,
                    target_id: row.try_get("target_id")?,
                    ip: row.try_get("ip")?,
                    detail: detail
                        .map(|d| serde_json::from_str(&d))
                        .transpose()
                        .map_err(|e| StoreError::Corrupt(format!("audit detail: {e}")))?,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect()
    }
}
