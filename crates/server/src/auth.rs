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
use natter_core::ids::{AccountId, WebsiteId, WorkspaceId};
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
    /// The website a widget visitor's token is bound to (absent for other contacts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    s: Option<i64>,
}

/// Whom a valid contact token names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContactClaim {
    pub workspace: WorkspaceId,
    pub account: AccountId,
    pub website: Option<WebsiteId>,
    /// When the token stops being valid (Unix seconds).
    pub expires_at: i64,
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
    website: Option<WebsiteId>,
    expires_at: i64,
) -> Result<String, Error> {
    let claims = ContactClaims {
        w: workspace.0,
        a: account.0,
        e: expires_at,
        s: website.map(|w| w.0),
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
pub fn verify_contact_token(key: &[u8], token: &str, now_secs: i64) -> Result<ContactClaim, Error> {
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
    Ok(ContactClaim {
        workspace: WorkspaceId(claims.w),
        account: AccountId(claims.a),
        website: claims.s.map(WebsiteId),
        expires_at: claims.e,
    })
}

/// Compares secrets without leaking where they differ through timing.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
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
        let token = mint_contact_token(&key, WorkspaceId(3), AccountId(9), None, 1_000).unwrap();
        assert_eq!(
            verify_contact_token(&key, &token, 999).unwrap(),
            ContactClaim {
                workspace: WorkspaceId(3),
                account: AccountId(9),
                website: None,
                expires_at: 1_000,
            }
        );
        let err = verify_contact_token(&key, &token, 1_000).unwrap_err();
        assert_eq!(err.code, ErrorCode::Unauthenticated);
    }

    #[test]
    fn a_contact_token_signed_with_another_key_is_refused() {
        let token =
            mint_contact_token(&new_key(), WorkspaceId(1), AccountId(1), None, i64::MAX).unwrap();
        assert!(verify_contact_token(&new_key(), &token, 0).is_err());
    }

    #[test]
    fn a_contact_token_with_an_altered_payload_is_refused() {
        let key = new_key();
        let token = mint_contact_token(
            &key,
            WorkspaceId(1),
            AccountId(1),
            Some(WebsiteId(4)),
            i64::MAX,
        )
        .unwrap();
        let (_, tag) = token.rsplit_once('.').unwrap();
        let forged_claims = URL_SAFE_NO_PAD.encode(br#"{"w":1,"a":2,"e":9999999999}"#);
        let forged = format!("{CONTACT_TOKEN_PREFIX}{forged_claims}.{tag}");
        assert!(verify_contact_token(&key, &forged, 0).is_err());
    }

    #[test]
    fn a_visitor_token_names_its_website_and_cannot_be_moved_to_another() {
        let key = new_key();
        let token = mint_contact_token(
            &key,
            WorkspaceId(1),
            AccountId(2),
            Some(WebsiteId(7)),
            i64::MAX,
        )
        .unwrap();
        assert_eq!(
            verify_contact_token(&key, &token, 0).unwrap().website,
            Some(WebsiteId(7))
        );
        let (_, tag) = token.rsplit_once('.').unwrap();
        let moved = URL_SAFE_NO_PAD.encode(br#"{"w":1,"a":2,"e":9999999999,"s":8}"#);
        let moved = format!("{CONTACT_TOKEN_PREFIX}{moved}.{tag}");
        assert!(verify_contact_token(&key, &moved, 0).is_err());
    }

    #[test]
    fn staff_tokens_are_random_and_hash_to_32_bytes() {
        let a = new_api_token();
        assert!(a.starts_with(STAFF_TOKEN_PREFIX));
        assert_ne!(a, new_api_token());
        assert_eq!(hash_token(&a).len(), 32);
    }
}

// ----- principals and scopes ------------------------------------------------------------------

/// What an API token may do. Sessions and contact tokens are not scoped (their limits come
/// from the account's role and the policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Read anything the account may read.
    Read,
    /// Post messages, receipts, reactions; create and update conversations.
    Write,
    /// Create contacts and mint contact tokens (a host platform's backend).
    Contacts,
    /// Manage staff, tokens, workspace settings; read the audit log.
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 4] = [Scope::Read, Scope::Write, Scope::Contacts, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Contacts => "contacts",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// How the caller authenticated.
#[derive(Debug, Clone)]
pub enum Via {
    /// A staff API token with these scopes; `key` (hex of part of its hash) names it for
    /// per-token rate limits without keeping the secret around.
    ApiToken { key: String, scopes: Vec<Scope> },
    /// A sign-in session (cookie); `csrf` must accompany writes.
    Session { id: i64, csrf: String },
    /// A contact token; a widget visitor's names the website it is bound to.
    Contact { website: Option<WebsiteId> },
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub account: natter_core::model::Account,
    pub via: Via,
}

impl Principal {
    /// Whether the credential allows `scope` (only API tokens are restricted).
    pub fn allows(&self, scope: Scope) -> bool {
        match &self.via {
            Via::ApiToken { scopes, .. } => scopes.contains(&scope),
            Via::Session { .. } | Via::Contact { .. } => true,
        }
    }

    pub fn require(&self, scope: Scope) -> Result<(), Error> {
        if self.allows(scope) {
            Ok(())
        } else {
            Err(Error::forbidden(format!(
                "this API token lacks the {:?} scope",
                scope.as_str()
            )))
        }
    }
}

/// Parses a space-separated scope list; an unknown scope is an error.
pub fn parse_scopes(text: &str) -> Result<Vec<Scope>, Error> {
    text.split_whitespace()
        .map(|s| Scope::parse(s).ok_or_else(|| Error::invalid(format!("unknown scope {s:?}"))))
        .collect()
}

// ----- passwords ------------------------------------------------------------------------------

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password accepted (argon2 takes any length; this bounds the work per request).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// The minimum strength rule: long enough, not all one character, not a well-known password.
pub fn check_password_strength(password: &str, email: &str) -> Result<(), Error> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Error::invalid(format!(
            "the password must have at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(Error::new(ErrorCode::TooLarge, "the password is too long"));
    }
    let lower = password.to_lowercase();
    let distinct: std::collections::HashSet<char> = lower.chars().collect();
    let local = email.split('@').next().unwrap_or_default().to_lowercase();
    const COMMON: &[&str] = &[
        "password",
        "passw0rd",
        "1234567890",
        "qwertyuiop",
        "letmein",
        "iloveyou",
        "welcome",
        "admin",
        "natter",
    ];
    if distinct.len() < 4
        || COMMON.iter().any(|c| lower.contains(c))
        || (!local.is_empty() && lower.contains(&local))
    {
        return Err(Error::invalid(
            "the password is too easy to guess: avoid common words, your email and repeats",
        ));
    }
    Ok(())
}

/// argon2id with the crate's default (OWASP-recommended) parameters, as a PHC string. Slow
/// on purpose: call it off the async runtime (`spawn_blocking`).
pub fn hash_password(password: &str) -> Result<String, Error> {
    use argon2::password_hash::PasswordHasher;
    argon2::Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|_| Error::internal())
}

/// Checks a password against a PHC string (constant-time comparison inside argon2).
pub fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::PasswordVerifier;
    argon2::Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok()
}

/// A hash of a fixed password, verified against when the email is unknown so that a failed
/// sign-in takes as long whether or not the account exists.
pub fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password("not the password of anyone").unwrap_or_default())
}

// ----- random secrets -------------------------------------------------------------------------

/// `bytes` random bytes, base64url.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// Ten recovery codes like `k3x9-p2mq-7tha`, from an alphabet without look-alikes.
pub fn new_recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    (0..10)
        .map(|_| {
            let chars: Vec<char> = (0..12)
                .map(|_| char::from(ALPHABET[(rng.next_u32() as usize) % ALPHABET.len()]))
                .collect();
            format!(
                "{}-{}-{}",
                chars[..4].iter().collect::<String>(),
                chars[4..8].iter().collect::<String>(),
                chars[8..].iter().collect::<String>()
            )
        })
        .collect()
}

/// The stored form of a recovery code (case and dashes do not matter when typing it).
pub fn hash_recovery_code(code: &str) -> Vec<u8> {
    let normalised: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    Sha256::digest(normalised.as_bytes()).to_vec()
}

// ----- TOTP -----------------------------------------------------------------------------------

/// Builds the TOTP checker for a raw secret (SHA-1, 6 digits, 30 s, ±1 step: what every
/// authenticator app supports).
pub fn totp(secret: &[u8], account_name: &str) -> Result<totp_rs::Totp, Error> {
    totp_rs::Builder::new()
        .with_secret(secret.to_vec())
        .with_account_name(account_name.replace(':', ""))
        .with_issuer(Some("natter"))
        .build()
        .map_err(|_| Error::internal())
}

/// Seals a secret with the deployment's identity key (ChaCha20-Poly1305, random nonce
/// prepended), so a database dump alone does not reveal TOTP secrets.
pub fn seal(key: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, Error> {
    use chacha20poly1305::aead::{Aead, KeyInit};
    let cipher =
        chacha20poly1305::ChaCha20Poly1305::new_from_slice(key).map_err(|_| Error::internal())?;
    let mut nonce = [0u8; 12];
    rand::rng().fill_bytes(&mut nonce);
    let mut out = nonce.to_vec();
    out.extend(
        cipher
            .encrypt(&chacha20poly1305::Nonce::from(nonce), plaintext)
            .map_err(|_| Error::internal())?,
    );
    Ok(out)
}

/// Opens what [`seal`] sealed.
pub fn open(key: &[u8], sealed: &[u8]) -> Result<Vec<u8>, Error> {
    use chacha20poly1305::aead::{Aead, KeyInit};
    let cipher =
        chacha20poly1305::ChaCha20Poly1305::new_from_slice(key).map_err(|_| Error::internal())?;
    let (nonce, ciphertext) = sealed.split_at_checked(12).ok_or_else(Error::internal)?;
    let nonce: [u8; 12] = nonce.try_into().map_err(|_| Error::internal())?;
    cipher
        .decrypt(&chacha20poly1305::Nonce::from(nonce), ciphertext)
        .map_err(|_| Error::internal())
}

#[cfg(test)]
mod identity_tests {
    use super::*;

    #[test]
    fn weak_passwords_are_refused_with_a_reason() {
        for weak in [
            "short",
            "aaaaaaaaaaaa",
            "MyPassword123",
            "ann.smith-2026!",
            "natter-natter",
        ] {
            assert!(
                check_password_strength(weak, "ann.smith@example.com").is_err(),
                "{weak}"
            );
        }
        assert!(check_password_strength("correct horse battery", "ann@example.com").is_ok());
    }

    #[test]
    fn a_password_hash_verifies_only_the_right_password() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse battery!", &hash));
    }

    #[test]
    fn a_sealed_secret_opens_only_with_its_key() {
        let key = new_key();
        let sealed = seal(&key, b"JBSWY3DPEHPK3PXP").unwrap();
        assert_eq!(open(&key, &sealed).unwrap(), b"JBSWY3DPEHPK3PXP");
        assert!(open(&new_key(), &sealed).is_err());
    }

    #[test]
    fn recovery_codes_are_distinct_and_forgiving_to_type() {
        let codes = new_recovery_codes();
        let set: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(set.len(), 10);
        let code = &codes[0];
        assert_eq!(
            hash_recovery_code(code),
            hash_recovery_code(&code.to_uppercase().replace('-', " "))
        );
    }

    #[test]
    fn a_totp_code_checks_within_one_step_and_not_beyond() {
        let totp = totp(&[7u8; 20], "ann@example.com").unwrap();
        let now = 1_800_000_000;
        let code = totp.generate(now).to_string();
        assert!(totp.check(&code, now + 30).is_some());
        assert!(totp.check(&code, now + 90).is_none());
        assert!(totp.to_url().unwrap().contains("otpauth://totp/"));
    }

    #[test]
    fn scopes_parse_and_unknown_ones_are_refused() {
        assert_eq!(
            parse_scopes("read write").unwrap(),
            vec![Scope::Read, Scope::Write]
        );
        assert!(parse_scopes("read everything").is_err());
    }
}
