//! Staff single sign-on end to end, against a real OpenID provider: the certified
//! `oidc-provider` library started on loopback from `tests/oidc/provider.mjs`, and the real
//! natter binary on both backends. A cookie-keeping HTTP client plays the browser and follows
//! the redirects through the provider's (non-interactive) login and consent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

use common::{Backend, Server};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use serde_json::{Value, json};

const CLIENT_ID: &str = "natter";
const CLIENT_SECRET: &str = "natter-test-secret";
const CALLBACK: &str = "/v1/auth/sso/callback";

fn oidc_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc")
}

/// Installs the provider's node_modules from the lock file the first time (tests run in
/// parallel threads; one installs, the others wait).
fn ensure_node_modules() {
    static INSTALL: Mutex<()> = Mutex::new(());
    let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = oidc_dir();
    if dir.join("node_modules/oidc-provider/package.json").exists() {
        return;
    }
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .output()
        .expect("npm must be installed (Node 20 or newer)");
    assert!(
        out.status.success(),
        "npm ci in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A running OpenID provider that knows natter's client (and a second one,
/// `other-client`) with natter's callback as redirect URI.
struct Provider {
    issuer: String,
    child: Child,
    log: tempfile::NamedTempFile,
}

impl Provider {
    fn start(server: &Server) -> Self {
        ensure_node_modules();
        let log = tempfile::NamedTempFile::new().unwrap();
        let mut child = Command::new("node")
            .arg("provider.mjs")
            .current_dir(oidc_dir())
            .env("REDIRECT_URI", format!("{}{CALLBACK}", server.base))
            .env("CLIENT_ID", CLIENT_ID)
            .env("CLIENT_SECRET", CLIENT_SECRET)
            .stdout(Stdio::piped())
            .stderr(log.reopen().unwrap())
            .spawn()
            .expect("node must be installed");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let issuer = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(issuer) = line.strip_prefix("issuer ") {
                        break issuer.trim().to_string();
                    }
                }
                _ => panic!(
                    "the provider exited during start: {}",
                    std::fs::read_to_string(log.path()).unwrap_or_default()
                ),
            }
        };
        // Keep draining stdout (oidc-provider prints notices) so the process never blocks.
        std::thread::spawn(move || for _ in lines {});
        Provider { issuer, child, log }
    }

    async fn control(&self, what: &str, body: Value) {
        let response = reqwest::Client::new()
            .post(format!("{}/__test/{what}", self.issuer))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
    }

    /// Changes who signs in next.
    async fn person(&self, email: &str, verified: bool) {
        self.control("user", json!({"email": email, "email_verified": verified}))
            .await;
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A browser: keeps cookies for every site, follows redirects, but stops before natter's
/// callback (so a test can look at, alter or replay it) and before `/app` (which is the web
/// app, not this test's business).
struct Browser {
    http: reqwest::Client,
    base: String,
}

struct Page {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .map(|v| v.to_str().unwrap())
            .unwrap_or_default()
    }

    fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }

    fn sets_session(&self) -> bool {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("natter_session="))
    }
}

impl Browser {
    fn new(server: &Server) -> Self {
        let policy = reqwest::redirect::Policy::custom(|attempt| {
            let path = attempt.url().path();
            if path == CALLBACK || path == "/app" || path.starts_with("/app/") {
                attempt.stop()
            } else if attempt.previous().len() > 20 {
                attempt.error("too many redirects")
            } else {
                attempt.follow()
            }
        });
        Browser {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(policy)
                .build()
                .unwrap(),
            base: server.base.clone(),
        }
    }

    async fn request(
        &self,
        method: reqwest::Method,
        url: &str,
        csrf: Option<&str>,
        body: Option<Value>,
    ) -> Page {
        let url = if url.starts_with("http") {
            url.to_string()
        } else {
            format!("{}{url}", self.base)
        };
        let mut request = self.http.request(method, url);
        if let Some(csrf) = csrf {
            request = request.header("x-csrf-token", csrf);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        Page {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        }
    }

    async fn get(&self, url: &str) -> Page {
        self.request(reqwest::Method::GET, url, None, None).await
    }

    async fn post(&self, url: &str, csrf: Option<&str>, body: Value) -> Page {
        self.request(reqwest::Method::POST, url, csrf, Some(body))
            .await
    }

    /// Starts SSO for `workspace`, signs in at the provider, and returns the callback URL the
    /// provider sent the browser back to (not yet opened).
    async fn sign_in_at_provider(&self, workspace: i64, return_to: Option<&str>) -> String {
        let query = return_to
            .map(|r| format!("?return_to={}", r.replace('/', "%2F")))
            .unwrap_or_default();
        let page = self
            .get(&format!("/v1/auth/sso/{workspace}/start{query}"))
            .await;
        assert!(
            matches!(page.status, 302 | 303),
            "{} {}",
            page.status,
            page.body
        );
        let callback = page.location().to_string();
        assert!(
            callback.starts_with(&format!("{}{CALLBACK}?", self.base)),
            "the provider sent the browser to {callback:?}"
        );
        callback
    }

    /// The whole sign-in: start, provider, callback. Returns the callback's answer.
    async fn sign_in(&self, workspace: i64) -> Page {
        let callback = self.sign_in_at_provider(workspace, None).await;
        self.get(&callback).await
    }
}

/// Replaces one query parameter of `url`.
fn with_param(url: &str, name: &str, value: &str) -> String {
    let mut url = reqwest::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == name {
                value.to_string()
            } else {
                v.into()
            };
            (k.into(), v)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    url.to_string()
}

/// The owner's workspace id.
async fn workspace(server: &Server) -> i64 {
    let (status, me) = server.admin().get("/v1/me").await;
    assert_eq!(status, 200, "{me}");
    me["workspace_id"].as_i64().unwrap()
}

async fn configure(server: &Server, provider: &Provider, enabled: bool, auto_create: bool) {
    let (status, body) = server
        .admin()
        .call(
            "PUT",
            "/v1/workspace/sso",
            Some(json!({
                "issuer": provider.issuer, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                "enabled": enabled, "auto_create": auto_create,
            })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// Creates a staff account; returns its id.
async fn staff(server: &Server, email: &str, role: &str) -> i64 {
    let (status, account) = server
        .admin()
        .post("/v1/staff", json!({"email": email, "role": role}))
        .await;
    assert_eq!(status, 201, "{account}");
    account["id"].as_i64().unwrap()
}

/// A full-scope API token for an account.
async fn token_for(server: &Server, account: i64) -> String {
    let (status, token) = server
        .admin()
        .post(
            &format!("/v1/staff/{account}/tokens"),
            json!({"name": "test"}),
        )
        .await;
    assert_eq!(status, 201, "{token}");
    token["token"].as_str().unwrap().to_string()
}

/// Audit entries with this action, newest first.
async fn audit(server: &Server, action: &str) -> Vec<Value> {
    let (status, entries) = server
        .admin()
        .get(&format!("/v1/audit?action={action}"))
        .await;
    assert_eq!(status, 200, "{entries}");
    entries.as_array().unwrap().clone()
}

// ----- the tests ---------------------------------------------------------------------------

async fn a_staff_member_signs_in_through_the_provider_and_gets_a_working_session(backend: Backend) {
    let server = Server::start(backend).await;
    let provider = Provider::start(&server);
    let workspace = workspace(&server).await;
    let ann = staff(&server, "Ann@Example.com", "agent").await;
    configure(&server, &provider, true, false).await;

    let browser = Browser::new(&server);
    let status = browser.get(&format!("/v1/auth/sso/{workspace}")).await;
    assert_eq!(status.body, json!({"enabled": true}));

    let callback = browser
        .sign_in_at_provider(workspace, Some("/app/inbox"))
        .await;
    assert!(callback.contains("code="), "{callback}");
    let page = browser.get(&callback).await;
    assert_eq!(page.status, 302, "{} {}", page.body, provider.log());
    assert_eq!(page.location(), "/app/inbox");
    let cookie = page
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|c| c.to_str().unwrap().to_string())
        .find(|c| c.starts_with("natter_session="))
        .expect("a session cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));

    // The cookie is a real session: reads work, and writes need the session's CSRF token.
    let me = browser.get("/v1/me").await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["id"], ann);
    let session = browser.get("/v1/auth/session").await;
    assert_eq!(session.body["state"], "active");
    let csrf = session.body["csrf_token"].as_str().unwrap().to_string();
    let contact = json!({"external_id": "c-1", "name": "Carla"});
    let refused = browser.post("/v1/contacts", None, contact.clone()).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    let created = browser.post("/v1/contacts", Some(&csrf), contact).await;
    assert_eq!(created.status, 200, "{}", created.body);

    let entries = audit(&server, "login.sso_succeeded").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["actor_id"], ann);
    assert_eq!(entries[0]["detail"]["subject"], "person-1");
}
both_backends!(
    a_staff_member_signs_in_through_the_provider_and_gets_a_working_session,
    a_staff_member_signs_in_through_the_provider_and_gets_a_working_session
);

async fn a_tampered_state_is_refused_and_does_not_spend_the_real_sign_in(backend: Backend) {
    let server = Server::start(backend).await;
    let provider = Provider::start(&server);
    let workspace = workspace(&server).await;
    staff(&server, "ann@example.com", "agent").await;
    configure(&server, &provider, true, false).await;

    let browser = Browser::new(&server);
    let callback = browser.sign_in_at_provider(workspace, None).await;
    let forged = with_param(&callback, "state", "forged-state-value");
    let page = browser.get(&forged).await;
    assert_eq!(page.status, 401, "{}", page.body);
    assert_eq!(page.code(), "unauthenticated");
    assert!(!page.sets_session());
    assert_eq!(browser.get("/v1/me").await.status, 401);

    let page = browser.get(&callback).await;
    assert_eq!(page.status, 302, "{}", page.body);
    assert_eq!(browser.get("/v1/me").await.status, 200);
}
both_backends!(
    a_tampered_state_is_refused_and_does_not_spend_the_real_sign_in,
    a_tampered_state_is_refused_and_does_not_spend_the_real_sign_in
);

async fn a_replayed_callback_is_refused(backend: Backend) {
    let server = Server::start(backend).await;
    let provider = Provider::start(&server);
    let workspace = workspace(&server).await;
    staff(&server, "ann@example.com", "agent").await;
    configure(&server, &provider, true, false).await;

    let browser = Browser::new(&server);
    let callback = browser.sign_in_at_provider(workspace, None).await;
    assert_eq!(browser.get(&callback).await.status, 302);
    let replay = browser.get(&callback).await;
    assert_eq!(replay.status, 401, "{}", replay.body);
    assert_eq!(replay.code(), "unauthenticated");
    assert!(!replay.sets_session());
    assert_eq!(audit(&server, "login.sso_succeeded").await.len(), 1);
}
both_backends!(
    a_replayed_callback_is_refused,
    a_replayed_callback_is_refused
);

async fn a_callback_opened_in_another_browser_is_refused(backend: Backend) {
    // Login CSRF: someone signs in at the provider and makes a victim's browser finish it.
    let server = Server::start(backend).await;
    let provider = Provider::start(&server);
    let workspace = workspace(&server).await;
    staff(&server, "ann@example.com", "agent").await;
    configure(&server, &provider, true, false).await;

    let attacker = Browser::new(&server);
    let callback = attacker.sign_in_at_provider(workspace, None).await;

    // A browser without any sign-in under way.
    let victim = Browser::new(&server);
    let page = victim.get(&callback).await;
    assert_eq!(page.status, 401, "{}", page.body);
    assert!(!page.sets_session());

    // A browser with its own sign-in under way: its cookie is not the attacker's.
    let own_callback = victim.sign_in_at_provider(workspace, None).await;
    let page = victim.get(&callback).await;
    assert_eq!(page.status, 401, "{}", page.body);
    assert!(!page.sets_session());
    assert_eq!(victim.get("/v1/me").await.status, 401);

    // Each callback works in the browser that started it.
    assert_eq!(victim.get(&own_callback).await.status, 302);
    assert_eq!(attacker.get(&callback).await.status, 302);
}
both_backends!(
    a_callback_opened_in_another_browser_is_refused,
    a_callback_opened_in_another_browser_is_refused
);

async fn an_unknown_email_is_refused_unless_the_workspace_creates_accounts(backend: Backend) {
    let server = Server::start(backend).await;
    let provider = Provider::start(&server);
    let workspace = workspace(&server).await;
    configure(&server, &provider, true, false).await;
    provider.person("newcomer@example.com", true).await;

    let page = Browser::new(&server).sign_in(workspace).await;
    assert_eq!(page.status, 401, "{}", page.body);
    assert!(
        page.body["message"]
            .as_str()
            .unwrap()
            .contains("no staff account")
    );
    assert!(!page.sets_session());
    let failures = audit(&server, "login.sso_failed").await;
    assert_eq!(failures.len(), 1);
    assert!(
        failures[0]["detail"]["reason"]
            .as_str()
            .unwrap()
            .contains("no staff account")
    );

    // Turning auto_create on without resending the secret keeps the stored one.
    let (status, body) = server
        .admin()
        .call(
            "PUT",
            "/v1/workspace/sso",
            Some(json!({"issuer": provider.issuer, "client_id": CLIENT_ID,
                        "enabled": true, "auto_create": true})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let browser = Browser::new(&server);
    let page = browser.sign_in(workspace).await;
    assert_eq!(page.status, 302, "{} {}", page.body, provider.log());
    let me = browser.get("/v1/me").await;
    assert_eq!(me.body["email"], "newcomer@example.com");
    assert_eq!(me.body["kind"], "staff");
    assert_eq!(me.body["role"], "agent");
}
both_backends!(
    an_unknown_email_is_refused_unless_the_workspace_creates_accounts,
    an_unknown_email_is_refused_unless_the_workspace_creates_accounts
);

async fn an_email_the_provider_has_not_verified_is_refused(backend: Backend) {
    let server = Server::start(backend).await;
    let provider = Provider::start(&server);
    let workspace = workspace(&server).await;
    staff(&server, "ann@example.com", "owner").await;
    configure(&server, &provider, true, true).await;
    provider.person("ann@example.com", false).await;

    let browser = Browser::new(&server);
    let page = browser.sign_in(workspace).await;
    assert_eq!(page.status, 401, "{}", page.body);
    assert!(
        page.body["message"]
            .as_str()
            .unwrap()
            .contains("not verified")
    );
    assert_eq!(browser.get("/v1/me").await.status, 401);
}
both_backends!(
    an_email_the_provider_has_not_verified_is_refused,
    an_email_the_provider_has_not_verified_is_refused
);

async fn sso_that_is_not_enabled_refuses_to_start_and_to_finish(backend: Backend) {
    let server = Server::start(backend).await;
    let provider = Provider::start(&server);
    let workspace = workspace(&server).await;
    staff(&server, "ann@example.com", "agent").await;
    let browser = Browser::new(&server);

    // Never configured.
    assert_eq!(
        browser.get(&format!("/v1/auth/sso/{workspace}")).await.body,
        json!({"enabled": false})
    );
    let start = browser
        .get(&format!("/v1/auth/sso/{workspace}/start"))
        .await;
    assert_eq!(start.status, 403, "{}", start.body);
    assert_eq!(start.code(), "forbidden");

    // Configured but switched off.
    configure(&server, &provider, false, false).await;
    assert_eq!(
        browser.get(&format!("/v1/auth/sso/{workspace}")).await.body,
        json!({"enabled": false})
    );
    let start = browser
        .get(&format!("/v1/auth/sso/{workspace}/start"))
        .await;
    assert_eq!(start.status, 403, "{}", start.body);

    // Switched off while someone is at the provider: the callback is refused too.
    configure(&server, &provider, true, false).await;
    let callback = browser.sign_in_at_provider(workspace, None).await;
    configure(&server, &provider, false, false).await;
    let page = browser.get(&callback).await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(!page.sets_session());
}
both_backends!(
    sso_that_is_not_enabled_refuses_to_start_and_to_finish,
    sso_that_is_not_enabled_refuses_to_start_and_to_finish
);

async fn an_id_token_issued_to_another_client_is_refused(backend: Backend) {
    let server = Server::start(backend).await;
    let provider = Provider::start(&server);
    let workspace = workspace(&server).await;
    staff(&server, "ann@example.com", "agent").await;
    configure(&server, &provider, true, false).await;
    // The provider signs, with its real key, ID tokens whose audience is its other client.
    provider
        .control("tamper", json!({"id_token_aud": "other-client"}))
        .await;

    let browser = Browser::new(&server);
    let page = browser.sign_in(workspace).await;
    assert_eq!(page.status, 401, "{}", page.body);
    assert!(
        page.body["message"]
            .as_str()
            .unwrap()
            .contains("another client")
    );
    assert_eq!(browser.get("/v1/me").await.status, 401);

    // The same provider, untampered, signs Ann in: the refusal was the audience.
    provider.control("tamper", json!({})).await;
    assert_eq!(browser.sign_in(workspace).await.status, 302);
}
both_backends!(
    an_id_token_issued_to_another_client_is_refused,
    an_id_token_issued_to_another_client_is_refused
);

async fn a_person_with_totp_still_owes_their_code_after_sso(backend: Backend) {
    let server = Server::start(backend).await;
    let provider = Provider::start(&server);
    let workspace = workspace(&server).await;
    staff(&server, "ann@example.com", "agent").await;
    configure(&server, &provider, true, false).await;

    // Ann signs in with SSO and turns TOTP on from that session.
    let first = Browser::new(&server);
    assert_eq!(first.sign_in(workspace).await.status, 302);
    let session = first.get("/v1/auth/session").await;
    assert_eq!(session.body["state"], "active", "{}", session.body);
    let csrf = session.body["csrf_token"].as_str().unwrap().to_string();
    let setup = first
        .post("/v1/auth/totp/setup", Some(&csrf), json!(null))
        .await;
    assert_eq!(setup.status, 200, "{}", setup.body);
    let secret = totp_rs::Secret::try_from_base32(setup.body["secret"].as_str().unwrap()).unwrap();
    let totp = natter_server::auth::totp(secret.as_bytes(), "ann@example.com").unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let code = totp.generate(now).to_string();
    let enabled = first
        .post("/v1/auth/totp/enable", Some(&csrf), json!({"code": code}))
        .await;
    assert_eq!(enabled.status, 200, "{}", enabled.body);
    let recovery = enabled.body["recovery_codes"][0]
        .as_str()
        .unwrap()
        .to_string();

    // The next SSO sign-in opens a session that still waits for the second factor.
    let browser = Browser::new(&server);
    assert_eq!(browser.sign_in(workspace).await.status, 302);
    let session = browser.get("/v1/auth/session").await;
    assert_eq!(session.body["state"], "mfa", "{}", session.body);
    assert_eq!(browser.get("/v1/me").await.status, 401);

    let csrf = session.body["csrf_token"].as_str().unwrap().to_string();
    let done = browser
        .post(
            "/v1/auth/second-factor",
            Some(&csrf),
            json!({"code": recovery}),
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(browser.get("/v1/me").await.status, 200);
}
both_backends!(
    a_person_with_totp_still_owes_their_code_after_sso,
    a_person_with_totp_still_owes_their_code_after_sso
);

async fn only_owners_configure_sso_and_the_secret_is_never_shown(backend: Backend) {
    let server = Server::start(backend).await;
    let provider = Provider::start(&server);
    let admin = staff(&server, "adam@example.com", "admin").await;
    let admin_api = server.api(&token_for(&server, admin).await);
    let settings = json!({"issuer": provider.issuer, "client_id": CLIENT_ID,
                          "client_secret": CLIENT_SECRET, "enabled": true});

    let (status, body) = admin_api
        .call("PUT", "/v1/workspace/sso", Some(settings.clone()))
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = server.admin().get("/v1/workspace/sso").await;
    assert_eq!(status, 404, "nothing is configured yet");

    // The first configuration needs the secret; a bad issuer is caught before saving.
    let mut without_secret = settings.clone();
    without_secret
        .as_object_mut()
        .unwrap()
        .remove("client_secret");
    without_secret["enabled"] = json!(false);
    let (status, body) = server
        .admin()
        .call("PUT", "/v1/workspace/sso", Some(without_secret))
        .await;
    assert_eq!(
        (status, body["code"].clone()),
        (400, json!("invalid_field"))
    );
    // An HTTP server that is no OpenID provider (natter itself), and a closed port: both are
    // local, so the test never waits on outside DNS or network.
    for issuer in [server.base.as_str(), "http://127.0.0.1:9"] {
        let mut bad = settings.clone();
        bad["issuer"] = json!(issuer);
        let (status, body) = server
            .admin()
            .call("PUT", "/v1/workspace/sso", Some(bad))
            .await;
        assert_eq!(
            (status, body["code"].clone()),
            (400, json!("invalid_field")),
            "{body}"
        );
    }

    let (status, body) = server
        .admin()
        .call("PUT", "/v1/workspace/sso", Some(settings))
        .await;
    assert_eq!(status, 200, "{body}");
    for (who, api) in [("owner", server.admin()), ("admin", admin_api)] {
        let (status, shown) = api.get("/v1/workspace/sso").await;
        assert_eq!(status, 200, "{who}: {shown}");
        assert_eq!(shown["issuer"], provider.issuer.as_str());
        assert_eq!(shown["enabled"], true);
        assert_eq!(
            shown["redirect_uri"],
            format!("{}{CALLBACK}", server.base).as_str()
        );
        assert!(!shown.to_string().contains(CLIENT_SECRET), "{who}: {shown}");
    }
    let changes = audit(&server, "settings.changed").await;
    assert_eq!(changes[0]["detail"]["sso"]["enabled"], true);
    assert!(!Value::Array(changes).to_string().contains(CLIENT_SECRET));
}
both_backends!(
    only_owners_configure_sso_and_the_secret_is_never_shown,
    only_owners_configure_sso_and_the_secret_is_never_shown
);
