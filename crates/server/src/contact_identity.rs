//! Verified contacts: a host platform proves who a widget visitor or marketplace user is,
//! either with `user_hash = HMAC-SHA256(workspace secret, user_id)` (hex), computed by its
//! backend and passed to the widget's `identify`, or with a JWT its backend mints (HS256
//! shared secret, or RS256/ES256 with a PEM key or a JWKS URL; `exp`, `iss`, `aud` checked)
//! carrying `sub` (the user id), `name` and `email`. A proven identity makes the contact
//! `verified`. An unproven claim never takes over a verified contact, and when the workspace
//! requires verification, unverified contacts are refused — at sign-in and again at every
//! conversation they open and message they send.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use natter_core::ids::WorkspaceId;
use natter_core::model::{Account, IdentityState};
use natter_core::{Error, ErrorCode};
use natter_store::{ContactIdentitySettings, JwtSettings, NewContact};
use serde::Deserialize;
use sha2::Sha256;

use crate::app::App;
use crate::auth;

/// What a visitor presents to become a contact.
#[derive(Debug, Clone)]
pub struct Identify {
    pub workspace: WorkspaceId,
    pub user_id: Option<String>,
    pub user_hash: Option<String>,
    pub jwt: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    /// A website's own sealed `user_hash` secret, used instead of the workspace's.
    pub website_secret: Option<Vec<u8>>,
    /// The anonymous contact the visitor was until now: a new identity is given to it in
    /// place (keeping its conversations) unless that identity already has a contact.
    pub upgrade: Option<natter_core::AccountId>,
}

/// Claims natter reads from a host-platform JWT.
#[derive(Debug, Deserialize)]
struct PlatformClaims {
    sub: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

/// JWKS documents fetched from host platforms, by URL.
#[derive(Default)]
pub struct JwksCache {
    entries: Mutex<HashMap<String, (Instant, jsonwebtoken::jwk::JwkSet)>>,
}

/// How long a fetched JWKS is trusted before it is fetched again.
const JWKS_TTL: Duration = Duration::from_secs(300);
/// A JWKS is refetched for an unknown key id at most this often.
const JWKS_MIN_REFRESH: Duration = Duration::from_secs(30);
const MAX_JWT_BYTES: usize = 8 * 1024;

fn refused(message: &str) -> Error {
    Error::new(ErrorCode::Unauthenticated, message)
}

/// `user_hash` as the host platform computes it: lowercase hex of HMAC-SHA256(secret, id).
pub fn user_hash(secret: &[u8], user_id: &str) -> Result<String, Error> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| Error::internal())?;
    mac.update(user_id.as_bytes());
    Ok(mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

fn algorithm(name: &str) -> Result<Algorithm, Error> {
    match name {
        "HS256" => Ok(Algorithm::HS256),
        "RS256" => Ok(Algorithm::RS256),
        "ES256" => Ok(Algorithm::ES256),
        _ => Err(Error::invalid(
            "jwt.algorithm must be HS256, RS256 or ES256",
        )),
    }
}

impl App {
    /// Turns a visitor's claim into a contact and a contact token, verifying what it can.
    pub async fn identify_contact(
        &self,
        request: Identify,
    ) -> Result<(Account, String, i64), Error> {
        if !self
            .store
            .workspace_exists(request.workspace)
            .await
            .map_err(Self::public_error)?
        {
            return Err(Error::not_found("workspace"));
        }
        let settings = self
            .store
            .contact_identity(request.workspace)
            .await
            .map_err(Self::public_error)?;
        for (field, value) in [("user_id", &request.user_id), ("name", &request.name)] {
            if value
                .as_ref()
                .is_some_and(|v| v.is_empty() || v.len() > 200)
            {
                return Err(Error::invalid(format!("{field} must be 1 to 200 bytes")));
            }
        }
        let (external_id, name, email, verified) = if let Some(jwt) = &request.jwt {
            let claims = self.verify_platform_jwt(&settings, jwt).await?;
            if request.user_id.as_ref().is_some_and(|id| *id != claims.sub) {
                return Err(refused("user_id does not match the token"));
            }
            (
                Some(claims.sub),
                claims.name.or(request.name),
                claims.email.or(request.email),
                true,
            )
        } else if let (Some(id), Some(hash)) = (&request.user_id, &request.user_hash) {
            let sealed = request
                .website_secret
                .as_ref()
                .or(settings.hmac_secret.as_ref())
                .ok_or_else(|| refused("identity verification is not set up for this workspace"))?;
            let secret = auth::open(&self.identity_key, sealed)?;
            let expected = user_hash(&secret, id)?;
            if !auth::constant_time_eq(expected.as_bytes(), hash.trim().to_lowercase().as_bytes()) {
                return Err(refused("user_hash does not match user_id"));
            }
            (Some(id.clone()), request.name, request.email, true)
        } else {
            if settings.require_verified {
                return Err(Error::forbidden(
                    "this workspace only talks to verified contacts: identify with user_hash or a token",
                ));
            }
            if let Some(id) = &request.user_id
                && let Some(existing) = self
                    .store
                    .contact_by_external_id(request.workspace, id)
                    .await
                    .map_err(Self::public_error)?
                && existing.identity == Some(IdentityState::Verified)
            {
                // An unproven claim must not open a verified person's conversations.
                return Err(Error::forbidden("this user must identify with proof"));
            }
            (request.user_id, request.name, request.email, false)
        };
        if let Some(email) = &email {
            crate::app::check_email(email)?;
        }
        let new = NewContact {
            workspace_id: request.workspace,
            external_id,
            name,
            email,
            verified,
        };
        let upgraded = match (request.upgrade, &new.external_id) {
            (Some(account), Some(_)) => self
                .store
                .claim_external_id(account, &new)
                .await
                .map_err(Self::public_error)?,
            _ => None,
        };
        let contact = match upgraded {
            Some(contact) => contact,
            None => self
                .store
                .upsert_contact(&new)
                .await
                .map_err(Self::public_error)?,
        };
        let (token, expires_at) = self.contact_token(&contact)?;
        Ok((contact, token, expires_at))
    }

    async fn verify_platform_jwt(
        &self,
        settings: &ContactIdentitySettings,
        token: &str,
    ) -> Result<PlatformClaims, Error> {
        if token.len() > MAX_JWT_BYTES {
            return Err(refused("token too long"));
        }
        let config = settings
            .jwt
            .as_ref()
            .ok_or_else(|| refused("token verification is not set up for this workspace"))?;
        let expected = algorithm(&config.algorithm)?;
        let header = jsonwebtoken::decode_header(token).map_err(|_| refused("malformed token"))?;
        if header.alg != expected {
            return Err(refused("token signed with an unexpected algorithm"));
        }
        let key = self.decoding_key(config, header.kid.as_deref()).await?;
        let mut validation = Validation::new(expected);
        validation.leeway = 30;
        let mut required = vec!["exp", "sub"];
        if let Some(issuer) = &config.issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        match &config.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        let data =
            jsonwebtoken::decode::<PlatformClaims>(token, &key, &validation).map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                refused(match e.kind() {
                    ErrorKind::ExpiredSignature => "token expired",
                    ErrorKind::InvalidAudience => "token is for another audience",
                    ErrorKind::InvalidIssuer => "token from another issuer",
                    ErrorKind::InvalidSignature => "token signature is invalid",
                    _ => "token is invalid",
                })
            })?;
        if data.claims.sub.is_empty() || data.claims.sub.len() > 200 {
            return Err(refused("token sub must be 1 to 200 bytes"));
        }
        Ok(data.claims)
    }

    async fn decoding_key(
        &self,
        config: &JwtSettings,
        kid: Option<&str>,
    ) -> Result<DecodingKey, Error> {
        let bad_key = |_| Error::internal();
        match (
            config.algorithm.as_str(),
            &config.secret,
            &config.public_key,
            &config.jwks_url,
        ) {
            ("HS256", Some(sealed), _, _) => Ok(DecodingKey::from_secret(&auth::open(
                &self.identity_key,
                sealed,
            )?)),
            ("RS256", _, Some(pem), _) => {
                DecodingKey::from_rsa_pem(pem.as_bytes()).map_err(bad_key)
            }
            ("ES256", _, Some(pem), _) => DecodingKey::from_ec_pem(pem.as_bytes()).map_err(bad_key),
            (_, _, _, Some(url)) => {
                let jwk = self.jwk(url, kid).await?;
                DecodingKey::from_jwk(&jwk).map_err(|_| refused("the JWKS key cannot be used"))
            }
            _ => Err(refused(
                "token verification is not fully set up for this workspace",
            )),
        }
    }

    /// The key `kid` from the JWKS at `url`, fetched (and cached) as needed.
    async fn jwk(&self, url: &str, kid: Option<&str>) -> Result<jsonwebtoken::jwk::Jwk, Error> {
        let find = |set: &jsonwebtoken::jwk::JwkSet| match kid {
            Some(kid) => set.find(kid).cloned(),
            None if set.keys.len() == 1 => set.keys.first().cloned(),
            None => None,
        };
        let cached = {
            let entries = self.jwks.entries.lock().unwrap_or_else(|p| p.into_inner());
            entries.get(url).cloned()
        };
        if let Some((fetched, set)) = &cached {
            let fresh = fetched.elapsed() < JWKS_TTL;
            if let Some(jwk) = find(set).filter(|_| fresh) {
                return Ok(jwk);
            }
            if fetched.elapsed() < JWKS_MIN_REFRESH {
                return Err(refused("no key in the platform's JWKS matches the token"));
            }
        }
        let set: jsonwebtoken::jwk::JwkSet = self
            .http
            .get(url)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| {
                tracing::warn!(error = %e, %url, "cannot fetch the platform's JWKS");
                Error::unavailable()
            })?
            .json()
            .await
            .map_err(|_| Error::new(ErrorCode::Unavailable, "the platform's JWKS is not valid"))?;
        let jwk = find(&set);
        self.jwks
            .entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(url.to_string(), (Instant::now(), set));
        jwk.ok_or_else(|| refused("no key in the platform's JWKS matches the token"))
    }

    /// Refuses unverified contacts where the workspace requires verification (checked when
    /// they open conversations and send messages, not only at sign-in).
    pub async fn check_contact_may_chat(&self, actor: &Account) -> Result<(), Error> {
        if actor.is_staff() || actor.identity == Some(IdentityState::Verified) {
            return Ok(());
        }
        let settings = self
            .store
            .contact_identity(actor.workspace_id)
            .await
            .map_err(Self::public_error)?;
        if settings.require_verified {
            return Err(Error::forbidden(
                "this workspace only talks to verified contacts",
            ));
        }
        Ok(())
    }

    /// The settings as admins see them (no secrets).
    pub async fn contact_identity_settings(
        &self,
        actor: &Account,
    ) -> Result<ContactIdentitySettings, Error> {
        crate::app::check_admin(actor)?;
        self.store
            .contact_identity(actor.workspace_id)
            .await
            .map_err(Self::public_error)
    }

    /// Replaces the settings (owners and admins). `jwt_secret` is sealed before storing.
    pub async fn set_contact_identity(
        &self,
        actor: &Account,
        require_verified: bool,
        jwt: Option<(JwtSettings, Option<String>)>,
    ) -> Result<ContactIdentitySettings, Error> {
        crate::app::check_admin(actor)?;
        let mut settings = self
            .store
            .contact_identity(actor.workspace_id)
            .await
            .map_err(Self::public_error)?;
        settings.require_verified = require_verified;
        settings.jwt = match jwt {
            None => None,
            Some((mut config, secret)) => {
                let alg = algorithm(&config.algorithm)?;
                config.secret = match (alg, secret) {
                    (Algorithm::HS256, Some(secret)) if secret.len() >= 32 => {
                        Some(auth::seal(&self.identity_key, secret.as_bytes())?)
                    }
                    (Algorithm::HS256, _) => {
                        return Err(Error::invalid("HS256 needs a secret of at least 32 bytes"));
                    }
                    _ => None,
                };
                if alg != Algorithm::HS256 {
                    match (&config.public_key, &config.jwks_url) {
                        (Some(pem), None) => {
                            let ok = if alg == Algorithm::RS256 {
                                DecodingKey::from_rsa_pem(pem.as_bytes()).is_ok()
                            } else {
                                DecodingKey::from_ec_pem(pem.as_bytes()).is_ok()
                            };
                            if !ok {
                                return Err(Error::invalid(
                                    "public_key is not a PEM key for the algorithm",
                                ));
                            }
                        }
                        (None, Some(url))
                            if url.starts_with("https://") || url.starts_with("http://") => {}
                        _ => {
                            return Err(Error::invalid(
                                "RS256 and ES256 need exactly one of public_key or jwks_url",
                            ));
                        }
                    }
                }
                Some(config)
            }
        };
        self.store
            .set_contact_identity(actor.workspace_id, &settings)
            .await
            .map_err(Self::public_error)?;
        self.audit(
            actor,
            "settings.changed",
            Some(("workspace", actor.workspace_id.to_string())),
            serde_json::json!({"contact_identity": {
                "require_verified": settings.require_verified,
                "jwt": settings.jwt.as_ref().map(|j| j.algorithm.clone()),
            }}),
        )
        .await;
        Ok(settings)
    }

    /// Generates a new HMAC secret for `user_hash`, returned once (hex).
    pub async fn rotate_contact_hmac_secret(&self, actor: &Account) -> Result<String, Error> {
        crate::app::check_admin(actor)?;
        let secret: String = auth::new_key().iter().map(|b| format!("{b:02x}")).collect();
        let mut settings = self
            .store
            .contact_identity(actor.workspace_id)
            .await
            .map_err(Self::public_error)?;
        settings.hmac_secret = Some(auth::seal(&self.identity_key, secret.as_bytes())?);
        self.store
            .set_contact_identity(actor.workspace_id, &settings)
            .await
            .map_err(Self::public_error)?;
        self.audit(
            actor,
            "settings.changed",
            Some(("workspace", actor.workspace_id.to_string())),
            serde_json::json!({"contact_identity": {"hmac_secret": "rotated"}}),
        )
        .await;
        Ok(secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_hash_is_lowercase_hex_hmac_sha256_of_the_user_id() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            user_hash(b"Jefe", "what do ya want for nothing?").unwrap(),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
