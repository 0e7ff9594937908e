//! Staff single sign-on with OpenID Connect, configured per workspace. `impl App` continues
//! here; HTTP lives in `api::sso`, storage in `natter_store::sso`.
//!
//! The flow is the authorization code flow with PKCE (S256):
//!
//! 1. [`App::sso_start`] reads the provider's discovery document, creates a pending attempt
//!    (state, nonce, PKCE verifier, redirect URI) stored under SHA-256 hashes of the `state`
//!    and of a random token that the browser keeps in an HttpOnly cookie, and sends the browser
//!    to the provider.
//! 2. [`App::sso_callback`] takes (deletes) the attempt only when both the `state` and the
//!    browser's cookie match, so a callback works once and only in the browser that started
//!    the sign-in (no login CSRF, no replay). It exchanges the code with the verifier and the
//!    client secret, checks the ID token (signature against the provider's JWKS, `iss`, `aud`,
//!    `exp`, `nonce`), takes the email the provider vouches for (`email_verified`), finds the
//!    workspace's staff account with it, and opens a session exactly as password sign-in does:
//!    a person with TOTP still owes their code (`mfa`).
//!
//! The OpenID logic (discovery, token request, ID token checks) is the `openidconnect` crate;
//! its HTTP goes through one shared `reqwest` client that never follows redirects, times out,
//! and caps response sizes. See docs/security.md.

use std::sync::OnceLock;
use std::time::Duration;

use natter_core::ids::WorkspaceId;
use natter_core::model::StaffRole;
use natter_core::time::now_millis;
use natter_core::{Error, ErrorCode};
use natter_store::{Credentials, NewAudit, NewSsoAttempt, NewStaff, SsoConfig, SsoConfigUpdate};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreClientAuthMethod, CoreIdToken, CoreIdTokenVerifier,
    CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AccessToken, AuthType, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret,
    CsrfToken, EndUserEmail, EndpointMaybeSet, EndpointNotSet, EndpointSet, HttpRequest,
    HttpResponse, IssuerUrl, JwsSigningAlgorithm, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, SubjectIdentifier, TokenResponse,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::App;
use crate::auth;
use crate::identity::{Origin, SignIn};

/// How long a sign-in may stay at the provider (typing a password, a second factor there).
pub const ATTEMPT_TTL_SECS: i64 = 600;
/// Largest discovery document, key set or token response read from a provider. Real ones are
/// a few kilobytes; the cap keeps a misbehaving provider from filling memory.
const MAX_PROVIDER_RESPONSE_BYTES: usize = 1 << 20;
/// How long one request to a provider may take before the sign-in fails as `unavailable`.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);
/// Where the browser goes after signing in when the sign-in page asked for nothing else.
pub const DEFAULT_RETURN_TO: &str = "/app";

/// A workspace's SSO settings as owners and admins see them (never the client secret).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SsoSettings {
    /// The provider's issuer identifier, e.g. `https://accounts.example.com`.
    pub issuer: String,
    pub client_id: String,
    pub enabled: bool,
    /// Whether a verified email without a staff account here becomes a new agent account.
    pub auto_create: bool,
    /// The redirect URI to register with the provider.
    pub redirect_uri: String,
    pub updated_at: i64,
}

/// New SSO settings (validated by [`App::set_sso_settings`]).
pub struct SsoUpdate {
    pub issuer: String,
    pub client_id: String,
    /// `None` keeps the stored secret; required the first time.
    pub client_secret: Option<String>,
    pub enabled: bool,
    pub auto_create: bool,
}

/// Where to send the browser to sign in, and the token for its attempt cookie.
pub struct SsoRedirect {
    pub authorization_url: String,
    pub browser_token: String,
}

/// The query of the provider's redirect back to natter.
#[derive(Debug, Default, Deserialize)]
pub struct SsoCallback {
    pub state: Option<String>,
    pub code: Option<String>,
    /// Set instead of `code` when the provider refused (e.g. `access_denied`).
    pub error: Option<String>,
    /// The issuer that answered (RFC 9207), when the provider says it: it must be ours.
    pub iss: Option<String>,
}

/// What a valid ID token says about the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IdTokenIdentity {
    pub subject: String,
    /// The email and whether the provider verified it, when the token carries one.
    pub email: Option<(String, bool)>,
    pub name: Option<String>,
}

fn refused(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::Unauthenticated, message)
}

fn not_enabled() -> Error {
    Error::forbidden("single sign-on is not enabled for this workspace")
}

fn provider_unavailable() -> Error {
    Error::new(
        ErrorCode::Unavailable,
        "the identity provider could not be reached or answered wrongly; try again",
    )
}

// ----- HTTP to the provider ---------------------------------------------------------------

#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    #[error(transparent)]
    Transport(#[from] reqwest::Error),
    #[error("the response is larger than {MAX_PROVIDER_RESPONSE_BYTES} bytes")]
    TooLarge,
    #[error(transparent)]
    Http(#[from] openidconnect::http::Error),
}

/// One client for every provider: it pools connections, and building it loads the system's
/// root certificates, which is not free.
fn http_client() -> Result<&'static reqwest::Client, FetchError> {
    static CLIENT: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                // A provider never needs redirects for discovery, keys or tokens, and following
                // them would let a configured issuer point natter at arbitrary addresses.
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(Duration::from_secs(5))
                .timeout(PROVIDER_TIMEOUT)
                .user_agent(concat!("natter/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| FetchError::Client(e.clone()))
}

/// The HTTP client `openidconnect` calls: one request, the whole (capped) response.
async fn fetch(request: HttpRequest) -> Result<HttpResponse, FetchError> {
    let (parts, body) = request.into_parts();
    let mut response = http_client()?
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await?;
    let mut builder = openidconnect::http::Response::builder().status(response.status());
    if let Some(headers) = builder.headers_mut() {
        *headers = response.headers().clone();
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_PROVIDER_RESPONSE_BYTES {
            return Err(FetchError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(builder.body(body)?)
}

/// Reads the provider's discovery document and key set. Done on every start and callback
/// rather than cached: sign-ins are rare, and a fresh key set follows key rotation at once.
async fn discover(issuer: &str) -> Result<CoreProviderMetadata, String> {
    let issuer = IssuerUrl::new(issuer.to_string()).map_err(|e| format!("issuer: {e}"))?;
    CoreProviderMetadata::discover_async(issuer, &fetch)
        .await
        .map_err(|e| match e {
            openidconnect::DiscoveryError::Request(e) => format!("could not be reached ({e})"),
            openidconnect::DiscoveryError::Response(status, _, _) => {
                format!("answered HTTP {status}")
            }
            openidconnect::DiscoveryError::Parse(_) => {
                "did not serve a valid OpenID configuration or key set".to_string()
            }
            other => other.to_string(),
        })
}

/// A client for one provider, as discovery leaves it: the authorization endpoint is known,
/// the token and UserInfo endpoints may be.
type ProviderClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The email in the provider's UserInfo answer, for providers that leave it out of the ID
/// token of a code flow. The request checks that the answer names the same subject as the
/// ID token.
async fn userinfo_email(
    client: &ProviderClient,
    access_token: &AccessToken,
    subject: &str,
) -> Result<String, Error> {
    let request = client
        .user_info(
            access_token.clone(),
            Some(SubjectIdentifier::new(subject.to_string())),
        )
        .map_err(|_| refused("the identity provider did not share an email address"))?;
    let claims: CoreUserInfoClaims = request.request_async(&fetch).await.map_err(|e| {
        tracing::warn!(error = %e, "SSO: UserInfo request failed");
        match e {
            openidconnect::UserInfoError::ClaimsVerification(_) => {
                refused("the identity provider's UserInfo answer is about someone else")
            }
            _ => provider_unavailable(),
        }
    })?;
    vouched_email(claims.email(), claims.email_verified())
}

/// The algorithms an ID token may be signed with: the provider's, but only those verified
/// with its published keys. `HS*` would be "signed" with the client secret and `none` not at
/// all; neither proves the provider issued the token.
fn signing_algs(supported: &[CoreJwsSigningAlgorithm]) -> Vec<CoreJwsSigningAlgorithm> {
    let algs: Vec<_> = supported
        .iter()
        .filter(|alg| **alg != CoreJwsSigningAlgorithm::None && !alg.uses_shared_secret())
        .cloned()
        .collect();
    if algs.is_empty() {
        // What OpenID Connect makes mandatory for every provider.
        vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256]
    } else {
        algs
    }
}

/// The ID token checks for a client: its id (the audience), the provider's issuer and keys
/// (from discovery), and only the algorithms [`signing_algs`] allows.
fn id_token_verifier<'a>(
    client: &'a ProviderClient,
    provider_algs: &[CoreJwsSigningAlgorithm],
) -> CoreIdTokenVerifier<'a> {
    client
        .id_token_verifier()
        .set_allowed_algs(signing_algs(provider_algs))
}

/// How to present the client secret: HTTP Basic unless the provider says it only takes it in
/// the form body.
fn auth_type(metadata: &CoreProviderMetadata) -> AuthType {
    match metadata.token_endpoint_auth_methods_supported() {
        Some(methods)
            if !methods.contains(&CoreClientAuthMethod::ClientSecretBasic)
                && methods.contains(&CoreClientAuthMethod::ClientSecretPost) =>
        {
            AuthType::RequestBody
        }
        _ => AuthType::BasicAuth,
    }
}

// ----- checks ------------------------------------------------------------------------------

/// Issuers must be https; plain http only on the loopback interface (a provider on the same
/// machine, as in tests and development).
fn check_issuer(issuer: &str) -> Result<(), Error> {
    let invalid = |why: &str| Error::invalid(format!("issuer {why}"));
    if issuer.len() > 2048 {
        return Err(Error::new(ErrorCode::TooLarge, "issuer is too long"));
    }
    let url = openidconnect::url::Url::parse(issuer).map_err(|_| invalid("is not a URL"))?;
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(invalid("must not have a query, a fragment or credentials"));
    }
    let loopback = match url.host() {
        Some(openidconnect::url::Host::Domain(domain)) => domain == "localhost",
        Some(openidconnect::url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(openidconnect::url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err(invalid("has no host")),
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(invalid(
            "must use https (http only on the loopback interface)",
        )),
    }
}

fn check_field(field: &str, value: &str, max: usize) -> Result<(), Error> {
    if value.trim().is_empty() {
        return Err(Error::invalid(format!("{field} must not be empty")));
    }
    if value.len() > max {
        return Err(Error::new(
            ErrorCode::TooLarge,
            format!("{field} is longer than {max} bytes"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(format!(
            "{field} must not contain control characters"
        )));
    }
    Ok(())
}

/// Where to go after signing in: a path on this server, never another site. `//host` and
/// `/\host` are refused because browsers read both as "another host". Only printable ASCII is
/// accepted (browsers percent-encode the rest), so the path is always a valid `Location`.
pub(crate) fn check_return_to(return_to: Option<&str>) -> Result<String, Error> {
    let Some(path) = return_to.filter(|p| !p.is_empty()) else {
        return Ok(DEFAULT_RETURN_TO.to_string());
    };
    let relative = path.starts_with('/')
        && !path.starts_with("//")
        && path.len() <= 512
        && path.chars().all(|c| c.is_ascii_graphic() && c != '\\');
    if relative {
        Ok(path.to_string())
    } else {
        Err(Error::invalid(
            "return_to must be a path on this server, like /app/inbox",
        ))
    }
}

/// Checks an ID token: signature with the provider's keys (and an allowed algorithm), `iss`,
/// `aud` (and no untrusted extra audience), `exp`, and `nonce`; then reads who it names.
pub(crate) fn verify_id_token(
    token: &CoreIdToken,
    verifier: &CoreIdTokenVerifier<'_>,
    nonce: &Nonce,
) -> Result<IdTokenIdentity, Error> {
    let claims = token.claims(verifier, nonce).map_err(|e| {
        tracing::warn!(error = %e, "SSO: ID token refused");
        refused(match e {
            ClaimsVerificationError::Expired(_) => "the ID token has expired",
            ClaimsVerificationError::InvalidAudience(_) => {
                "the ID token was issued to another client (audience)"
            }
            ClaimsVerificationError::InvalidIssuer(_) => {
                "the ID token was issued by another provider (issuer)"
            }
            ClaimsVerificationError::InvalidNonce(_) => {
                "the ID token belongs to another sign-in (nonce)"
            }
            ClaimsVerificationError::SignatureVerification(_) => {
                "the ID token's signature does not verify with the provider's keys"
            }
            _ => "the ID token is not valid",
        })
    })?;
    Ok(IdTokenIdentity {
        subject: claims.subject().to_string(),
        email: claims
            .email()
            .map(|email| (email.to_string(), claims.email_verified() == Some(true))),
        name: claims
            .name()
            .and_then(|name| name.get(None))
            .map(|name| name.to_string()),
    })
}

/// The email the provider vouches for: present and marked verified. An unverified email is
/// refused, since anyone could type the address of a staff member into their own account.
fn vouched_email(email: Option<&EndUserEmail>, verified: Option<bool>) -> Result<String, Error> {
    match (email, verified) {
        (Some(email), Some(true)) => Ok(email.to_string()),
        (Some(_), _) => Err(refused(
            "the identity provider has not verified this email address",
        )),
        (None, _) => Err(refused(
            "the identity provider did not share an email address",
        )),
    }
}

/// A display name from the provider, made safe to store: no control characters, bounded.
fn clean_name(name: &str) -> Option<String> {
    let name: String = name.chars().filter(|c| !c.is_control()).take(200).collect();
    Some(name.trim().to_string()).filter(|n| !n.is_empty())
}

// ----- the domain operations ----------------------------------------------------------------

impl App {
    /// The redirect URI natter registers with providers: under `public_url` when it is set,
    /// else under the address the browser used (`host`), which suits a single machine.
    pub fn sso_redirect_uri(&self, host: Option<&str>) -> Result<String, Error> {
        let base = if self.config.public_url.is_empty() {
            let host = host
                // Host and port only: no user info that could make the URI mean another host.
                .filter(|h| !h.contains('@') && h.parse::<axum::http::uri::Authority>().is_ok())
                .ok_or_else(|| Error::invalid("the request has no valid Host header"))?;
            format!("http://{host}")
        } else {
            self.config.public_url.trim_end_matches('/').to_string()
        };
        Ok(format!("{base}/v1/auth/sso/callback"))
    }

    /// The workspace's SSO settings (owners and admins), `None` if never configured.
    pub async fn sso_settings(
        &self,
        actor: &natter_core::model::Account,
        redirect_uri: String,
    ) -> Result<Option<SsoSettings>, Error> {
        crate::app::check_admin(actor)?;
        let config = self
            .store
            .sso_config(actor.workspace_id)
            .await
            .map_err(Self::public_error)?;
        Ok(config.map(|c| SsoSettings {
            issuer: c.issuer,
            client_id: c.client_id,
            enabled: c.enabled,
            auto_create: c.auto_create,
            redirect_uri,
            updated_at: c.updated_at,
        }))
    }

    /// Configures the workspace's identity provider (owners only). When it is to be enabled,
    /// discovery must work now, so a typo shows here rather than at the next sign-in.
    pub async fn set_sso_settings(
        &self,
        actor: &natter_core::model::Account,
        update: SsoUpdate,
        redirect_uri: String,
    ) -> Result<SsoSettings, Error> {
        if actor.role != Some(StaffRole::Owner) {
            return Err(Error::forbidden("only owners change single sign-on"));
        }
        check_issuer(&update.issuer)?;
        check_field("client_id", &update.client_id, 255)?;
        if let Some(secret) = &update.client_secret {
            check_field("client_secret", secret, 1024)?;
        }
        if update.enabled {
            discover(&update.issuer)
                .await
                .map_err(|why| Error::invalid(format!("issuer: its OpenID configuration {why}")))?;
        }
        let sealed = update
            .client_secret
            .as_deref()
            .map(|s| auth::seal(&self.identity_key, s.as_bytes()))
            .transpose()?;
        let stored = self
            .store
            .put_sso_config(&SsoConfigUpdate {
                workspace_id: actor.workspace_id,
                issuer: &update.issuer,
                client_id: &update.client_id,
                sealed_client_secret: sealed.as_deref(),
                enabled: update.enabled,
                auto_create: update.auto_create,
            })
            .await
            .map_err(Self::public_error)?;
        if !stored {
            return Err(Error::invalid(
                "client_secret is required when configuring single sign-on the first time",
            ));
        }
        self.audit(
            actor,
            "settings.changed",
            Some(("workspace", actor.workspace_id.to_string())),
            serde_json::json!({"sso": {
                "issuer": update.issuer, "client_id": update.client_id,
                "enabled": update.enabled, "auto_create": update.auto_create,
                "client_secret_changed": update.client_secret.is_some(),
            }}),
        )
        .await;
        self.sso_settings(actor, redirect_uri)
            .await?
            .ok_or_else(Error::internal)
    }

    /// Whether staff of this workspace can sign in with SSO (public: the sign-in page asks).
    pub async fn sso_enabled(&self, workspace: WorkspaceId) -> Result<bool, Error> {
        Ok(self
            .store
            .sso_config(workspace)
            .await
            .map_err(Self::public_error)?
            .is_some_and(|c| c.enabled))
    }

    async fn enabled_sso(&self, workspace: WorkspaceId) -> Result<SsoConfig, Error> {
        self.store
            .sso_config(workspace)
            .await
            .map_err(Self::public_error)?
            .filter(|c| c.enabled)
            .ok_or_else(not_enabled)
    }

    /// Starts a sign-in: returns the provider URL to send the browser to, and the token the
    /// browser must keep (in an HttpOnly cookie) to finish it.
    pub async fn sso_start(
        &self,
        workspace: WorkspaceId,
        return_to: Option<&str>,
        redirect_uri: String,
    ) -> Result<SsoRedirect, Error> {
        let return_to = check_return_to(return_to)?;
        let config = self.enabled_sso(workspace).await?;
        let metadata = discover(&config.issuer).await.map_err(|why| {
            tracing::warn!(workspace = %workspace, issuer = %config.issuer, %why, "SSO discovery failed");
            provider_unavailable()
        })?;
        let redirect = RedirectUrl::new(redirect_uri.clone()).map_err(|_| Error::internal())?;
        // The secret is not needed to build the authorization URL.
        let client =
            CoreClient::from_provider_metadata(metadata, ClientId::new(config.client_id), None)
                .set_redirect_uri(redirect);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                || CsrfToken::new(auth::random_token(32)),
                || Nonce::new(auth::random_token(32)),
            )
            .add_scope(Scope::new("email".to_string()))
            .add_scope(Scope::new("profile".to_string()))
            .set_pkce_challenge(challenge)
            .url();
        let browser_token = auth::random_token(32);
        self.store
            .create_sso_attempt(&NewSsoAttempt {
                workspace_id: workspace,
                state_hash: &auth::hash_token(state.secret()),
                browser_hash: &auth::hash_token(&browser_token),
                nonce: nonce.secret(),
                pkce_verifier: verifier.secret(),
                redirect_uri: &redirect_uri,
                return_to: &return_to,
                expires_at: now_millis() + ATTEMPT_TTL_SECS * 1000,
            })
            .await
            .map_err(Self::public_error)?;
        Ok(SsoRedirect {
            authorization_url: url.to_string(),
            browser_token,
        })
    }

    /// Finishes a sign-in when the provider sends the browser back. Returns the session and
    /// where to send the browser. Every refusal after the attempt is found is audited as
    /// `login.sso_failed`.
    pub async fn sso_callback(
        &self,
        callback: &SsoCallback,
        browser_token: Option<&str>,
        origin: &Origin,
    ) -> Result<(SignIn, String), Error> {
        let unknown = || {
            refused(
                "this sign-in is unknown, used, expired or was started in another browser; \
                 start again",
            )
        };
        let (Some(state), Some(browser)) = (callback.state.as_deref(), browser_token) else {
            return Err(unknown());
        };
        if state.len() > 128 || browser.len() > 128 {
            return Err(unknown());
        }
        let attempt = self
            .store
            .take_sso_attempt(&auth::hash_token(state), &auth::hash_token(browser))
            .await
            .map_err(Self::public_error)?
            .ok_or_else(unknown)?;
        let workspace = attempt.workspace_id;
        match self.finish_sso(&attempt, callback, origin).await {
            Ok((signed_in, subject)) => {
                self.audit_entry(NewAudit {
                    workspace_id: workspace,
                    actor_id: Some(signed_in.account.id),
                    action: "login.sso_succeeded",
                    target_type: Some("account"),
                    target_id: Some(signed_in.account.id.to_string()),
                    ip: origin.ip.clone(),
                    detail: Some(serde_json::json!({
                        "state": signed_in.state.as_str(), "subject": subject,
                    })),
                })
                .await;
                Ok((signed_in, attempt.return_to))
            }
            Err(e) => {
                self.audit_entry(NewAudit {
                    workspace_id: workspace,
                    actor_id: None,
                    action: "login.sso_failed",
                    target_type: None,
                    target_id: None,
                    ip: origin.ip.clone(),
                    detail: Some(serde_json::json!({"reason": e.message})),
                })
                .await;
                Err(e)
            }
        }
    }

    /// The part of the callback after the attempt was taken. Returns the session and the
    /// provider's subject (for the audit log).
    async fn finish_sso(
        &self,
        attempt: &natter_store::SsoAttempt,
        callback: &SsoCallback,
        origin: &Origin,
    ) -> Result<(SignIn, String), Error> {
        if let Some(error) = &callback.error {
            // The provider's error code is shown, but only if it looks like one.
            let code: String = error
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(64)
                .collect();
            return Err(refused(format!(
                "the identity provider did not sign you in ({code})"
            )));
        }
        let config = self.enabled_sso(attempt.workspace_id).await?;
        if callback
            .iss
            .as_ref()
            .is_some_and(|iss| *iss != config.issuer)
        {
            // A mix-up attack: the answer comes from a provider other than the one asked.
            return Err(refused("the answer came from another identity provider"));
        }
        let code = callback
            .code
            .as_deref()
            .filter(|c| !c.is_empty() && c.len() <= 4096)
            .ok_or_else(|| refused("the identity provider sent no authorization code"))?;
        let metadata = discover(&config.issuer).await.map_err(|why| {
            tracing::warn!(issuer = %config.issuer, %why, "SSO discovery failed");
            provider_unavailable()
        })?;
        let algs = metadata.id_token_signing_alg_values_supported().clone();
        let auth_type = auth_type(&metadata);
        let secret = auth::open(&self.identity_key, &config.sealed_client_secret)?;
        let secret = String::from_utf8(secret).map_err(|_| Error::internal())?;
        let redirect =
            RedirectUrl::new(attempt.redirect_uri.clone()).map_err(|_| Error::internal())?;
        let client: ProviderClient = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(config.client_id.clone()),
            Some(ClientSecret::new(secret)),
        )
        .set_redirect_uri(redirect)
        .set_auth_type(auth_type);
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|_| refused("the identity provider has no token endpoint"))?
            .set_pkce_verifier(PkceCodeVerifier::new(attempt.pkce_verifier.clone()))
            .request_async(&fetch)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(answer) => {
                    tracing::warn!(error = %answer, "SSO: the token endpoint refused the code");
                    refused("the identity provider did not accept the sign-in; start again")
                }
                other => {
                    tracing::warn!(error = %other, "SSO: token request failed");
                    provider_unavailable()
                }
            })?;
        let id_token = tokens
            .id_token()
            .ok_or_else(|| refused("the identity provider sent no ID token"))?;
        let verifier = id_token_verifier(&client, &algs);
        let identity = verify_id_token(id_token, &verifier, &Nonce::new(attempt.nonce.clone()))?;
        let email = match &identity.email {
            Some((email, verified)) => {
                vouched_email(Some(&EndUserEmail::new(email.clone())), Some(*verified))?
            }
            // Many providers put the email in the UserInfo answer rather than the ID token
            // of a code flow; the request checks that it names the same subject.
            None => userinfo_email(&client, tokens.access_token(), &identity.subject).await?,
        };
        let credentials = self
            .sso_account(&config, &email, identity.name.as_deref())
            .await?;
        let state = crate::identity::initial_session_state(&credentials);
        // Unlike a password sign-in, failed-attempt counters are left alone: they also count
        // wrong TOTP codes, and signing in at the provider must not reset that lockout.
        let signed_in = self
            .open_session(credentials.account, state, origin)
            .await?;
        Ok((signed_in, identity.subject))
    }

    /// The workspace's active staff account with this email; with `auto_create`, a new agent
    /// account when there is none.
    async fn sso_account(
        &self,
        config: &SsoConfig,
        email: &str,
        name: Option<&str>,
    ) -> Result<Credentials, Error> {
        let found = self
            .store
            .credentials_by_email(email)
            .await
            .map_err(Self::public_error)?
            .into_iter()
            .find(|c| c.account.workspace_id == config.workspace_id);
        if let Some(credentials) = found {
            return Ok(credentials);
        }
        if !config.auto_create {
            return Err(refused(
                "no staff account of this workspace has this email; ask an admin to invite you",
            ));
        }
        check_field("email", email, 254)?;
        let account = self
            .store
            .create_staff(&NewStaff {
                workspace_id: config.workspace_id,
                email: email.to_string(),
                name: name.and_then(clean_name),
                role: StaffRole::Agent,
            })
            .await
            .map_err(|e| match Self::public_error(e) {
                // The email is taken by a deactivated account: it stays shut out.
                e if e.code == ErrorCode::Conflict => {
                    refused("the staff account with this email is deactivated")
                }
                e => e,
            })?;
        self.audit_entry(NewAudit {
            workspace_id: config.workspace_id,
            actor_id: None,
            action: "staff.created",
            target_type: Some("account"),
            target_id: Some(account.id.to_string()),
            ip: None,
            detail: Some(serde_json::json!({"email": email, "role": "agent", "via": "sso"})),
        })
        .await;
        self.store
            .credentials(account.id)
            .await
            .map_err(Self::public_error)?
            .ok_or_else(Error::internal)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use openidconnect::core::{
        CoreHmacKey, CoreIdTokenClaims, CoreJsonWebKeySet, CoreRsaPrivateSigningKey,
    };
    use openidconnect::{JsonWebKeyId, PrivateSigningKey};
    use serde_json::{Value, json};
    use std::str::FromStr;

    /// A provider signing key made for these tests only (`openssl genrsa -traditional 2048`).
    const PROVIDER_KEY: &str = r"-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEAinQou01h6Kbhx02Vbkfpfaa+GDSYAjKqHrUUx/Fb60RNJuxO
O2CQWuQy0WAN53mvMOCWA05u6cGmetGucGBcfH7SBFHabBCXxmPaYsDs8+wRWMeN
RhApV/2xmwP5QNBIfMQENhRRPDZcSYF4Ygo0vzLGgLJk1YmI+ccdWaezUviln6Jk
6ZrXc4gyrDeCqDuUlsx4kIEpbImX0j85xC9fJQiaRdofidvMx/uYqkA/pB8rsxkH
qqksUNG0AVgZEhKjauie7b3ZlzhUmeQw+PZr/XqBhefh/1ql9UPFqaPtQP01fh2b
3qVV7rVVvYRAdgz9Em571MifRohqSqcMTU1AsQIDAQABAoIBAAic0LLUDbjf9rAD
7L17NjRVhMIzNVh/p9L4rzX/1tiz+zumW/h4GYq54spg+ARz7pizA8npXV9npzBB
LmF5sQ8igXR41gY+Yv6ZlApsF2FWCD82TJy04SmC08NBlEX6nuO5+swVZ/c/p26A
IgmxOlZBdZUoY7rfzxhAkVwUIUTSMOb7/XoASXU85Gq4pU22uMZp+3lqhKneVHRq
gLnp3Gxf1QUyG7LfJLbWAnOh7JUu7Ld8j+SD+V66vZugUFsz4YFKI1tEkAuuqdtq
S+SKdCwO96qaKSHbwHbW3K8zdc3HdO+A4q5p/8We/J0aU6zsQ+b4kSYT2hnwUY3h
0TmhnJUCgYEAwV4He8O9X4U4ObsiQanHWC7fofcA2Ngk+BnI55cc+UD8LUA3ufHA
8I1QnloFLxm/hTNVjjdA23rwPpce0lkiKvgbxMrvgePk2uVVPd950exQd97pvvOY
HCFx4dB9hjtZlFlSwyj+MdUvCxo+iDGXCVP0+YMaj1aQfTFx9s32TfUCgYEAt0y1
/luFzx7QuV7IO+6cxVqElvaQZqjFPsvqZ5AkMem/McnsgHC6AlTW4olZxgsGUJ3b
N/NcZFIRGVWRrVwpDTMJ2S8qgZHHxP3gtIjRADPZiTNVwLUkLiQNMtMo4e2uovOa
h59NXRwxXLOSR+1OCoYaLbWSO5fXLc/a40O51k0CgYBf8Es+OMvIjMxsuFAyzA2/
zuHd9jNRY0xUXFa1sOALOxbjTK1ZcH0N3M9XAcr4p4nCiMm2Gevv+XshUtFUBC1T
rG36ocVbaLqvcIFuhWZnpRv3nX3T5ABgVKewJkVhSCkV1YuekMQt7Vu94nOMFy6c
zi8JbObMn2Jo+xNUJLRD0QKBgCJYhWF71L7Sj1msoOhZ9ZYlN+LxoG0cApmZq/pr
z9xqaCD0LRSECtaU/w7Dnca2GiDQ81qwhwdlOT7+AaXyNt76SUYgyF4u6rfGumwZ
ls/q50AGFnNdfcIHj1GOr4Jl/usZqkLvXperyLQOEcLYfF8McatO8m+oK/GxmNos
vo2hAoGBAJ05b3fliNH/kABeZC7CzWmF8m1qBM/0C0yI1Z+Q5Y0M8HTbAapzE0Hm
c6/Ay1bWD6eyomHrkh6CczmtnKkAknQkkfr6T+EpCLAHNaaGLQ3JnrNwSPfBJkih
19Z1V/UPHPY9Klbt3FAwaQfBflP0bB8e+x6u6vXgPnblM0+2Ormq
-----END RSA PRIVATE KEY-----";
    const ISSUER: &str = "https://id.example.com";
    const CLIENT_ID: &str = "natter";
    const CLIENT_SECRET: &str = "natter-client-secret";
    const NONCE: &str = "nonce-of-this-sign-in";

    fn provider_key() -> CoreRsaPrivateSigningKey {
        CoreRsaPrivateSigningKey::from_pem(PROVIDER_KEY, Some(JsonWebKeyId::new("k1".into())))
            .unwrap()
    }

    /// What discovery would give for a provider that signs with RS256 and (like many) also
    /// advertises HS256; its key set holds the public half of the provider key.
    fn provider() -> (ProviderClient, Vec<CoreJwsSigningAlgorithm>) {
        let metadata: CoreProviderMetadata = serde_json::from_value(json!({
            "issuer": ISSUER,
            "authorization_endpoint": format!("{ISSUER}/auth"),
            "token_endpoint": format!("{ISSUER}/token"),
            "jwks_uri": format!("{ISSUER}/jwks"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "HS256"],
        }))
        .unwrap();
        let metadata = metadata.set_jwks(CoreJsonWebKeySet::new(vec![
            provider_key().as_verification_key(),
        ]));
        let algs = metadata.id_token_signing_alg_values_supported().clone();
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(CLIENT_ID.into()),
            Some(ClientSecret::new(CLIENT_SECRET.into())),
        );
        (client, algs)
    }

    /// Claims of a valid ID token for this sign-in, with `changes` applied (null removes).
    fn claims(changes: Value) -> CoreIdTokenClaims {
        let now = now_millis() / 1000;
        let mut claims = json!({
            "iss": ISSUER, "aud": CLIENT_ID, "sub": "person-1", "iat": now, "exp": now + 300,
            "nonce": NONCE, "email": "ann@example.com", "email_verified": true, "name": "Ann",
        });
        for (key, value) in changes.as_object().unwrap() {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(key);
            } else {
                claims[key] = value.clone();
            }
        }
        serde_json::from_value(claims).unwrap()
    }

    fn signed_by_provider(changes: Value) -> CoreIdToken {
        CoreIdToken::new(
            claims(changes),
            &provider_key(),
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            None,
            None,
        )
        .unwrap()
    }

    fn check(token: &CoreIdToken) -> Result<IdTokenIdentity, Error> {
        let (client, algs) = provider();
        verify_id_token(
            token,
            &id_token_verifier(&client, &algs),
            &Nonce::new(NONCE.into()),
        )
    }

    fn refusal(token: &CoreIdToken) -> String {
        let err = check(token).unwrap_err();
        assert_eq!(err.code, ErrorCode::Unauthenticated);
        err.message
    }

    #[test]
    fn a_valid_id_token_names_the_person_and_their_verified_email() {
        let identity = check(&signed_by_provider(json!({}))).unwrap();
        assert_eq!(
            identity,
            IdTokenIdentity {
                subject: "person-1".into(),
                email: Some(("ann@example.com".into(), true)),
                name: Some("Ann".into()),
            }
        );
    }

    #[test]
    fn an_id_token_issued_to_another_client_is_refused() {
        let token = signed_by_provider(json!({"aud": "other-client"}));
        assert!(refusal(&token).contains("another client"));
    }

    #[test]
    fn an_id_token_that_also_names_an_untrusted_audience_is_refused() {
        let token = signed_by_provider(json!({"aud": [CLIENT_ID, "other-client"]}));
        assert!(refusal(&token).contains("another client"));
    }

    #[test]
    fn an_id_token_from_another_issuer_is_refused() {
        let token = signed_by_provider(json!({"iss": "https://evil.example.com"}));
        assert!(refusal(&token).contains("another provider"));
    }

    #[test]
    fn an_expired_id_token_is_refused() {
        let now = now_millis() / 1000;
        let token = signed_by_provider(json!({"iat": now - 900, "exp": now - 600}));
        assert!(refusal(&token).contains("expired"));
    }

    #[test]
    fn an_id_token_of_another_sign_in_is_refused_by_its_nonce() {
        let token = signed_by_provider(json!({"nonce": "nonce-of-another-sign-in"}));
        assert!(refusal(&token).contains("nonce"));
        let token = signed_by_provider(json!({"nonce": null}));
        assert!(refusal(&token).contains("nonce"));
    }

    #[test]
    fn an_id_token_whose_claims_were_altered_does_not_verify() {
        let token = signed_by_provider(json!({})).to_string();
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged_claims = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            serde_json::to_vec(&claims(json!({"email": "owner@example.com"}))).unwrap(),
        );
        parts[1] = &forged_claims;
        let forged = CoreIdToken::from_str(&parts.join(".")).unwrap();
        assert!(refusal(&forged).contains("signature"));
    }

    #[test]
    fn an_id_token_signed_with_the_client_secret_instead_of_a_provider_key_is_refused() {
        // Anyone holding the client secret could mint this; the JWKS never vouched for it.
        let token = CoreIdToken::new(
            claims(json!({})),
            &CoreHmacKey::new(CLIENT_SECRET.as_bytes()),
            CoreJwsSigningAlgorithm::HmacSha256,
            None,
            None,
        )
        .unwrap();
        assert!(refusal(&token).contains("signature"));
        // It is natter's rule that refuses it: the provider advertises HS256, and the library
        // alone would accept the token.
        let (client, algs) = provider();
        let permissive = client.id_token_verifier().set_allowed_algs(algs);
        assert!(token.claims(&permissive, &Nonce::new(NONCE.into())).is_ok());
    }

    #[test]
    fn only_algorithms_checked_with_the_providers_keys_are_allowed() {
        use CoreJwsSigningAlgorithm::*;
        assert_eq!(
            signing_algs(&[HmacSha256, None, EcdsaP256Sha256, RsaSsaPssSha256]),
            vec![EcdsaP256Sha256, RsaSsaPssSha256]
        );
        assert_eq!(signing_algs(&[HmacSha512]), vec![RsaSsaPkcs1V15Sha256]);
    }

    #[test]
    fn only_an_email_the_provider_verified_is_accepted() {
        let email = EndUserEmail::new("ann@example.com".into());
        assert_eq!(
            vouched_email(Some(&email), Some(true)).unwrap(),
            "ann@example.com"
        );
        for verified in [Some(false), Option::None] {
            let err = vouched_email(Some(&email), verified).unwrap_err();
            assert_eq!(err.code, ErrorCode::Unauthenticated);
            assert!(err.message.contains("not verified"));
        }
        assert!(vouched_email(Option::None, Some(true)).is_err());
        let identity = check(&signed_by_provider(json!({"email_verified": false}))).unwrap();
        assert_eq!(identity.email, Some(("ann@example.com".into(), false)));
    }

    #[test]
    fn return_paths_stay_on_this_server() {
        assert_eq!(check_return_to(Option::None).unwrap(), "/app");
        assert_eq!(
            check_return_to(Some("/app/inbox?x=1")).unwrap(),
            "/app/inbox?x=1"
        );
        for outside in [
            "https://evil.example.com",
            "//evil.example.com",
            "/\\evil.example.com",
            "app",
            "javascript:alert(1)",
            "/app\r\nSet-Cookie: x=1",
            "/app/caf\u{e9}",
        ] {
            let err = check_return_to(Some(outside)).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidField, "{outside}");
        }
    }

    #[test]
    fn issuers_use_https_except_on_the_loopback_interface() {
        assert!(check_issuer("https://login.example.com/realms/staff").is_ok());
        assert!(check_issuer("http://127.0.0.1:8081").is_ok());
        assert!(check_issuer("http://localhost:8081").is_ok());
        for bad in [
            "http://login.example.com",
            "http://10.0.0.5",
            "ftp://login.example.com",
            "https://login.example.com/?tenant=1",
            "https://user:pw@login.example.com",
            "not a url",
        ] {
            assert_eq!(
                check_issuer(bad).unwrap_err().code,
                ErrorCode::InvalidField,
                "{bad}"
            );
        }
    }

    #[test]
    fn a_display_name_from_the_provider_is_bounded_and_printable() {
        assert_eq!(
            clean_name(" Ann\u{7} Example ").as_deref(),
            Some("Ann Example")
        );
        assert_eq!(clean_name(&"x".repeat(500)).map(|n| n.len()), Some(200));
        assert_eq!(clean_name("\n\t"), Option::None);
    }
}
