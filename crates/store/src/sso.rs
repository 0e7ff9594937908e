//! Single sign-on storage: each workspace's OpenID provider settings, and the pending sign-in
//! attempts that bind a provider's answer to the browser that started it (see
//! `migrations/*/0003_sso.sql`).

use natter_core::ids::WorkspaceId;
use natter_core::time::{Millis, now_millis};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Store, StoreError};

/// A workspace's identity provider settings.
#[derive(Debug, Clone)]
pub struct SsoConfig {
    pub workspace_id: WorkspaceId,
    pub issuer: String,
    pub client_id: String,
    /// Sealed with the deployment's identity key; only the domain layer opens it.
    pub sealed_client_secret: Vec<u8>,
    pub enabled: bool,
    pub auto_create: bool,
    pub updated_at: Millis,
}

/// New settings for a workspace's identity provider.
#[derive(Debug, Clone)]
pub struct SsoConfigUpdate<'a> {
    pub workspace_id: WorkspaceId,
    pub issuer: &'a str,
    pub client_id: &'a str,
    /// `None` keeps the stored secret (an owner switching SSO on or off need not retype it).
    pub sealed_client_secret: Option<&'a [u8]>,
    pub enabled: bool,
    pub auto_create: bool,
}

/// A sign-in sent to the provider.
#[derive(Debug, Clone)]
pub struct NewSsoAttempt<'a> {
    pub workspace_id: WorkspaceId,
    /// SHA-256 of the `state` parameter.
    pub state_hash: &'a [u8],
    /// SHA-256 of the browser's attempt cookie.
    pub browser_hash: &'a [u8],
    pub nonce: &'a str,
    pub pkce_verifier: &'a str,
    pub redirect_uri: &'a str,
    pub return_to: &'a str,
    pub expires_at: Millis,
}

/// A consumed sign-in attempt: what the callback needs to finish it.
#[derive(Debug, Clone)]
pub struct SsoAttempt {
    pub workspace_id: WorkspaceId,
    pub nonce: String,
    pub pkce_verifier: String,
    pub redirect_uri: String,
    pub return_to: String,
}

fn config(row: &AnyRow) -> Result<SsoConfig, StoreError> {
    Ok(SsoConfig {
        workspace_id: WorkspaceId(row.try_get("workspace_id")?),
        issuer: row.try_get("issuer")?,
        client_id: row.try_get("client_id")?,
        sealed_client_secret: row.try_get("client_secret")?,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        auto_create: row.try_get::<i64, _>("auto_create")? != 0,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    /// The workspace's identity provider settings, if SSO was ever configured.
    pub async fn sso_config(
        &self,
        workspace: WorkspaceId,
    ) -> Result<Option<SsoConfig>, StoreError> {
        let row = sqlx::query(
            "select workspace_id, issuer, client_id, client_secret, enabled, auto_create, updated_at
             from workspace_sso where workspace_id = $1",
        )
        .bind(workspace.0)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(config).transpose()
    }

    /// Creates or replaces the workspace's settings. Returns false (and changes nothing) when
    /// no secret is given and none is stored yet.
    pub async fn put_sso_config(&self, update: &SsoConfigUpdate<'_>) -> Result<bool, StoreError> {
        let now = now_millis();
        let changed = match update.sealed_client_secret {
            Some(secret) => sqlx::query(
                "insert into workspace_sso (workspace_id, issuer, client_id, client_secret,
                                            enabled, auto_create, created_at, updated_at)
                 values ($1, $2, $3, $4, $5, $6, $7, $7)
                 on conflict (workspace_id) do update set
                     issuer = excluded.issuer, client_id = excluded.client_id,
                     client_secret = excluded.client_secret, enabled = excluded.enabled,
                     auto_create = excluded.auto_create, updated_at = excluded.updated_at",
            )
            .bind(update.workspace_id.0)
            .bind(update.issuer)
            .bind(update.client_id)
            .bind(secret.to_vec())
            .bind(i64::from(update.enabled))
            .bind(i64::from(update.auto_create))
            .bind(now)
            .execute(&self.write)
            .await?
            .rows_affected(),
            // Not an upsert with `coalesce`: PostgreSQL checks `not null` on the proposed row
            // before it looks for the conflict, so a null secret would fail even on update.
            None => sqlx::query(
                "update workspace_sso set issuer = $1, client_id = $2, enabled = $3,
                     auto_create = $4, updated_at = $5
                 where workspace_id = $6",
            )
            .bind(update.issuer)
            .bind(update.client_id)
            .bind(i64::from(update.enabled))
            .bind(i64::from(update.auto_create))
            .bind(now)
            .bind(update.workspace_id.0)
            .execute(&self.write)
            .await?
            .rows_affected(),
        };
        Ok(changed >= 1)
    }

    /// Records a sign-in attempt, and purges expired ones so the table only ever holds
    /// attempts of the last few minutes.
    pub async fn create_sso_attempt(&self, new: &NewSsoAttempt<'_>) -> Result<(), StoreError> {
        let now = now_millis();
        let mut tx = self.begin().await?;
        sqlx::query("delete from sso_attempt where expires_at <= $1")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "insert into sso_attempt (workspace_id, state_hash, browser_hash, nonce, pkce_verifier,
                                      redirect_uri, return_to, created_at, expires_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(new.workspace_id.0)
        .bind(new.state_hash.to_vec())
        .bind(new.browser_hash.to_vec())
        .bind(new.nonce)
        .bind(new.pkce_verifier)
        .bind(new.redirect_uri)
        .bind(new.return_to)
        .bind(now)
        .bind(new.expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Consumes the unexpired attempt with this state that the same browser started. Deleting
    /// it is what makes a callback single use: a replay, a forged state or another browser's
    /// cookie gets `None`, and a wrong cookie does not burn the real browser's attempt.
    pub async fn take_sso_attempt(
        &self,
        state_hash: &[u8],
        browser_hash: &[u8],
    ) -> Result<Option<SsoAttempt>, StoreError> {
        let row = sqlx::query(
            "delete from sso_attempt
             where state_hash = $1 and browser_hash = $2 and expires_at > $3
             returning workspace_id, nonce, pkce_verifier, redirect_uri, return_to",
        )
        .bind(state_hash.to_vec())
        .bind(browser_hash.to_vec())
        .bind(now_millis())
        .fetch_optional(&self.write)
        .await?;
        row.map(|row| {
            Ok(SsoAttempt {
                workspace_id: WorkspaceId(row.try_get("workspace_id")?),
                nonce: row.try_get("nonce")?,
                pkce_verifier: row.try_get("pkce_verifier")?,
                redirect_uri: row.try_get("redirect_uri")?,
                return_to: row.try_get("return_to")?,
            })
        })
        .transpose()
    }
}
