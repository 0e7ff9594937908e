//! Credentials for this stage of natter: staff API tokens and signed contact tokens.
//!
//! - Staff API tokens are `nat_` + 32 random bytes (base64url). Only their SHA-256 is
//!   stored, so a database leak does not leak usable tokens; 256 bits of entropy make a slow
//!   hash unnecessary.
//! - Contact tokens are minted by a staff token (the host platform's backend, or the widget
//!   flow later): `nct_<payload>.<mac>` where the payload is base64url JSON
//!   `{"w": workspace, "a": account, "e": expiry (Unix seconds)}` and the MAC is
//!   HMAC-SHA256 over `nct_<payload>` with a per-deployment key kept in the database (so every
//!   node verifies the same tokens). Stateless to verify; the account is still loaded, so a
//!   deactivated contact is refused at once.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use natter_core::ids::{AccountId, WorkspaceId};
use natter_core::{Error, ErrorCode};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const STAFF_TOKEN_PREFIX: &str = "nat_";
pub const CONTACT_TOKEN_PREFIX: &str = "nct_";
/// Longest token accepted; anything longer is refused before any work is done on it.
const MAX_TOKEN_BYTES: usize = 512;

/// A new random staff API token.
pub fn new_api_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{STAFF_TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The stored form of a staff API token.
pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// 32 random bytes for a new signing key.
pub fn new_key() -> Vec<u8> {
    let mut bytes = vec![0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

#[derive(Serialize, Deserialize)]
struct ContactClaims {
    w: i64,
    a: i64,
    e: i64,
}

fn mac(key: &[u8], signed: &str) -> Result<Hmac<Sha256>, Error> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).map_err(|_| Error::internal())?;
    mac.update(signed.as_bytes());
    Ok(mac)
}

/// Mints a contact token valid until `expires_at` (Unix seconds).
pub fn mint_contact_token(
    key: &[u8],
    workspace: WorkspaceId,
    account: AccountId,
    expires_at: i64,
) -> Result<String, Error> {
    let claims = ContactClaims {
        w: workspace.0,
        a: account.0,
        e: expires_at,
    };
    let json = serde_json::to_vec(&claims).map_err(|_| Error::internal())?;
    let signed = format!("{CONTACT_TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(json));
    let tag = mac(key, &signed)?.finalize().into_bytes();
    Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(tag)))
}

fn unauthenticated(message: &str) -> Error {
    Error::new(ErrorCode::Unauthenticated, message)
}

/// Checks a contact token's signature and expiry; returns whom it names.
pub fn verify_contact_token(
    key: &[u8],
    token: &str,
    now_secs: i64,
) -> Result<(WorkspaceId, AccountId), Error> {
    let (signed, tag) = token
        .rsplit_once('.')
        .ok_or_else(|| unauthenticated("malformed contact token"))?;
    let tag = URL_SAFE_NO_PAD
        .decode(tag)
        .map_err(|_| unauthenticated("malformed contact token"))?;
    mac(key, signed)?
        .verify_slice(&tag)
        .map_err(|_| unauthenticated("invalid contact token"))?;
    let payload = signed
        .strip_prefix(CONTACT_TOKEN_PREFIX)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .ok_or_else(|| unauthenticated("malformed contact token"))?;
    let claims: ContactClaims =
        serde_json::from_slice(&payload).map_err(|_| unauthenticated("malformed contact token"))?;
    if claims.e <= now_secs {
        return Err(unauthenticated("contact token expired"));
    }
    Ok((WorkspaceId(claims.w), AccountId(claims.a)))
}

/// Which kind of credential a bearer string is, before any lookup.
pub enum Credential<'a> {
    Staff(&'a str),
    Contact(&'a str),
}

/// Sorts a presented token by prefix; refuses empty, oversized or unknown ones.
pub fn classify(token: &str) -> Result<Credential<'_>, Error> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(unauthenticated("token too long"));
    }
    if token.starts_with(STAFF_TOKEN_PREFIX) {
        Ok(Credential::Staff(token))
    } else if token.starts_with(CONTACT_TOKEN_PREFIX) {
        Ok(Credential::Contact(token))
    } else {
        Err(unauthenticated("missing or unrecognised token"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_minted_contact_token_verifies_until_it_expires() {
        let key = new_key();
        let token = mint_contact_token(&key, WorkspaceId(3), AccountId(9), 1_000).unwrap();
        assert_eq!(
            verify_contact_token(&key, &token, 999).unwrap(),
            (WorkspaceId(3), AccountId(9))
        );
        let err = verify_contact_token(&key, &token, 1_000).unwrap_err();
        assert_eq!(err.code, ErrorCode::Unauthenticated);
    }

    #[test]
    fn a_contact_token_signed_with_another_key_is_refused() {
        let token = mint_contact_token(&new_key(), WorkspaceId(1), AccountId(1), i64::MAX).unwrap();
        assert!(verify_contact_token(&new_key(), &token, 0).is_err());
    }

    #[test]
    fn a_contact_token_with_an_altered_payload_is_refused() {
        let key = new_key();
        let token = mint_contact_token(&key, WorkspaceId(1), AccountId(1), i64::MAX).unwrap();
        let (_, tag) = token.rsplit_once('.').unwrap();
        let forged_claims = URL_SAFE_NO_PAD.encode(br#"{"w":1,"a":2,"e":9999999999}"#);
        let forged = format!("{CONTACT_TOKEN_PREFIX}{forged_claims}.{tag}");
        assert!(verify_contact_token(&key, &forged, 0).is_err());
    }

    #[test]
    fn staff_tokens_are_random_and_hash_to_32_bytes() {
        let a = new_api_token();
        assert!(a.starts_with(STAFF_TOKEN_PREFIX));
        assert_ne!(a, new_api_token());
        assert_eq!(hash_token(&a).len(), 32);
    }
}
