//! Per-workspace settings for verifying contacts' identities.

use natter_core::ids::WorkspaceId;
use natter_core::time::now_millis;
use sqlx::Row;

use crate::{Store, StoreError};

/// How a workspace verifies contacts. Secrets are stored sealed; callers seal and open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactIdentitySettings {
    pub require_verified: bool,
    /// Sealed HMAC secret for `user_hash`.
    pub hmac_secret: Option<Vec<u8>>,
    pub jwt: Option<JwtSettings>,
}

/// How to check host-platform JWTs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtSettings {
    /// `HS256`, `RS256` or `ES256`.
    pub algorithm: String,
    /// Sealed shared secret (HS256).
    pub secret: Option<Vec<u8>>,
    /// PEM public key (RS256/ES256).
    pub public_key: Option<String>,
    /// JWKS URL (RS256/ES256), instead of a fixed key.
    pub jwks_url: Option<String>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
}

impl Store {
    /// The workspace's settings (defaults when never set).
    pub async fn contact_identity(
        &self,
        workspace: WorkspaceId,
    ) -> Result<ContactIdentitySettings, StoreError> {
        let row = sqlx::query(
            "select require_verified, hmac_secret, jwt_algorithm, jwt_secret, jwt_public_key,
                    jwt_jwks_url, jwt_issuer, jwt_audience
             from contact_identity where workspace_id = $1",
        )
        .bind(workspace.0)
        .fetch_optional(&self.read)
        .await?;
        let Some(row) = row else {
            return Ok(ContactIdentitySettings::default());
        };
        let algorithm: Option<String> = row.try_get("jwt_algorithm")?;
        let jwt = match algorithm {
            None => None,
            Some(algorithm) => Some(JwtSettings {
                algorithm,
                secret: row.try_get("jwt_secret")?,
                public_key: row.try_get("jwt_public_key")?,
                jwks_url: row.try_get("jwt_jwks_url")?,
                issuer: row.try_get("jwt_issuer")?,
                audience: row.try_get("jwt_audience")?,
            }),
        };
        Ok(ContactIdentitySettings {
            require_verified: row.try_get::<i64, _>("require_verified")? == 1,
            hmac_secret: row.try_get("hmac_secret")?,
            jwt,
        })
    }

    /// Replaces the workspace's settings.
    pub async fn set_contact_identity(
        &self,
        workspace: WorkspaceId,
        settings: &ContactIdentitySettings,
    ) -> Result<(), StoreError> {
        let jwt = settings.jwt.as_ref();
        sqlx::query(
            "insert into contact_identity
                 (workspace_id, require_verified, hmac_secret, jwt_algorithm, jwt_secret,
                  jwt_public_key, jwt_jwks_url, jwt_issuer, jwt_audience, updated_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             on conflict (workspace_id) do update set
                 require_verified = excluded.require_verified,
                 hmac_secret = excluded.hmac_secret,
                 jwt_algorithm = excluded.jwt_algorithm,
                 jwt_secret = excluded.jwt_secret,
                 jwt_public_key = excluded.jwt_public_key,
                 jwt_jwks_url = excluded.jwt_jwks_url,
                 jwt_issuer = excluded.jwt_issuer,
                 jwt_audience = excluded.jwt_audience,
                 updated_at = excluded.updated_at",
        )
        .bind(workspace.0)
        .bind(i64::from(settings.require_verified))
        .bind(settings.hmac_secret.clone())
        .bind(jwt.map(|j| j.algorithm.clone()))
        .bind(jwt.and_then(|j| j.secret.clone()))
        .bind(jwt.and_then(|j| j.public_key.clone()))
        .bind(jwt.and_then(|j| j.jwks_url.clone()))
        .bind(jwt.and_then(|j| j.issuer.clone()))
        .bind(jwt.and_then(|j| j.audience.clone()))
        .bind(now_millis())
        .execute(&self.write)
        .await?;
        Ok(())
    }
}
