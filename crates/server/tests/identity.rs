//! Staff identity end to end: password sign-in with sessions and CSRF, lockout and rate
//! limits, TOTP and recovery codes, MFA enforcement, reset and invitation links, scoped and
//! revocable API tokens, deactivation, the audit log — through the real binary, on both
//! backends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, Server};
use reqwest::header::{COOKIE, SET_COOKIE};
use serde_json::{Value, json};

const PASSWORD: &str = "sturdy lantern 42 ferns";

/// A browser-like client: keeps the session cookie and the CSRF token by hand, so the test
/// sees exactly what a browser would send.
struct Browser {
    base: String,
    http: reqwest::Client,
    cookie: Option<String>,
    csrf: Option<String>,
}

impl Browser {
    fn new(server: &Server) -> Self {
        Browser {
            base: server.base.clone(),
            http: reqwest::Client::new(),
            cookie: None,
            csrf: None,
        }
    }

    async fn call(
        &mut self,
        method: &str,
        path: &str,
        body: Option<Value>,
        csrf: bool,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(cookie) = &self.cookie {
            request = request.header(COOKIE, format!("natter_session={cookie}"));
        }
        if csrf && let Some(token) = &self.csrf {
            request = request.header("x-csrf-token", token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        if let Some(set) = headers.get(SET_COOKIE) {
            let value = set.to_str().unwrap().split(';').next().unwrap();
            let token = value.strip_prefix("natter_session=").unwrap().to_string();
            self.cookie = (!token.is_empty()).then_some(token);
        }
        let text = response.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if let Some(token) = value.get("csrf_token").and_then(Value::as_str) {
            self.csrf = Some(token.to_string());
        }
        (status, value, headers)
    }

    async fn login(&mut self, email: &str, password: &str) -> (u16, Value) {
        let (status, body, _) = self
            .call(
                "POST",
                "/v1/auth/login",
                Some(json!({"email": email, "password": password})),
                false,
            )
            .await;
        (status, body)
    }
}

/// The owner invites a staff member, who accepts with `PASSWORD`; returns their email and id.
async fn invited(server: &Server, email: &str, role: &str) -> i64 {
    let (status, account) = server
        .admin()
        .post(
            "/v1/staff/invitations",
            json!({"email": email, "role": role}),
        )
        .await;
    assert_eq!(status, 201, "{account}");
    let token = link_token(server, email);
    let (status, body) = server
        .api("")
        .post(
            "/v1/auth/invitations/accept",
            json!({"token": token, "password": PASSWORD, "name": "Sam"}),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    account["id"].as_i64().unwrap()
}

/// The token of the newest link mailed to `to`.
fn link_token(server: &Server, to: &str) -> String {
    let mails = server.mails();
    let (_, _, body) = mails
        .iter()
        .rev()
        .find(|(t, _, _)| t == to)
        .expect("a mail");
    let start = body.find("#token=").unwrap() + "#token=".len();
    body[start..].split_whitespace().next().unwrap().to_string()
}

fn totp_code(secret_base32: &str, email: &str, offset_secs: i64) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret_base32).unwrap();
    let secret = secret.as_bytes().to_vec();
    let totp = natter_server::auth::totp(&secret, email).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    totp.generate((now + offset_secs) as u64).to_string()
}

both_backends!(
    a_password_sign_in_gives_a_cookie_session_whose_writes_need_the_csrf_token,
    a_password_sign_in_gives_a_cookie_session_whose_writes_need_the_csrf_token
);
async fn a_password_sign_in_gives_a_cookie_session_whose_writes_need_the_csrf_token(
    backend: Backend,
) {
    let server = Server::start(backend).await;
    let id = invited(&server, "sam@example.com", "agent").await;
    let mut browser = Browser::new(&server);
    let (status, session) = browser.login("sam@example.com", PASSWORD).await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["state"], "active");
    assert_eq!(session["account"]["name"], "Sam");

    let (status, me, headers) = browser.call("GET", "/v1/me", None, false).await;
    assert_eq!((status, me["id"].as_i64()), (200, Some(id)));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");

    let create = json!({"kind": "support", "participants": [{"account_id": id, "role": "agent"}]});
    let (status, error, _) = browser
        .call("POST", "/v1/conversations", Some(create.clone()), false)
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (403, Some("forbidden")),
        "no CSRF token"
    );
    let (status, _, _) = browser
        .call("POST", "/v1/conversations", Some(create), true)
        .await;
    assert_eq!(status, 201, "with the CSRF token");

    let (status, sessions, _) = browser.call("GET", "/v1/auth/sessions", None, false).await;
    assert_eq!(status, 200);
    assert_eq!(sessions.as_array().unwrap().len(), 1);
    assert_eq!(sessions[0]["current"], true);

    let cookie = browser.cookie.clone();
    let (status, _, headers) = browser.call("POST", "/v1/auth/logout", None, true).await;
    assert_eq!(status, 204);
    assert!(headers[SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
    // The old cookie no longer works even if a client keeps sending it.
    browser.cookie = cookie;
    let (status, _, _) = browser.call("GET", "/v1/me", None, false).await;
    assert_eq!(status, 401);
}

both_backends!(
    wrong_passwords_are_refused_then_lock_the_account_with_retry_after,
    wrong_passwords_are_refused_then_lock_the_account_with_retry_after
);
async fn wrong_passwords_are_refused_then_lock_the_account_with_retry_after(backend: Backend) {
    let server = Server::start_with(
        backend,
        &[("NATTER_RATE_LIMITS_LOGIN_FAILURES_BEFORE_LOCK", "3")],
    )
    .await;
    invited(&server, "sam@example.com", "agent").await;
    let mut browser = Browser::new(&server);
    let (status, body) = browser.login("nobody@example.com", PASSWORD).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("unauthenticated"))
    );
    for _ in 0..3 {
        let (status, _) = browser.login("sam@example.com", "not the password").await;
        assert_eq!(status, 401);
    }
    // Locked now: even the right password is refused until the lock expires.
    let (status, _, headers) = browser
        .call(
            "POST",
            "/v1/auth/login",
            Some(json!({"email": "sam@example.com", "password": PASSWORD})),
            false,
        )
        .await;
    assert_eq!(status, 429);
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");

    let (_, failures) = server.admin().get("/v1/audit?action=login.failed").await;
    assert_eq!(failures.as_array().unwrap().len(), 3, "{failures}");
    assert!(
        failures[0]["ip"]
            .as_str()
            .is_some_and(|ip| ip == "127.0.0.1")
    );
}

both_backends!(
    sign_in_attempts_are_rate_limited_per_address,
    sign_in_attempts_are_rate_limited_per_address
);
async fn sign_in_attempts_are_rate_limited_per_address(backend: Backend) {
    let server = Server::start_with(backend, &[("NATTER_RATE_LIMITS_LOGINS_PER_IP", "4")]).await;
    let mut browser = Browser::new(&server);
    for _ in 0..4 {
        let (status, _) = browser.login("who@example.com", "whatever it is").await;
        assert_eq!(status, 401);
    }
    let (status, body, headers) = browser
        .call(
            "POST",
            "/v1/auth/login",
            Some(json!({"email": "who@example.com", "password": "x"})),
            false,
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (429, Some("rate_limited")));
    assert!(headers.contains_key("retry-after"));
}

both_backends!(
    totp_enrolment_then_sign_in_needs_a_code_that_works_once_or_a_recovery_code,
    totp_enrolment_then_sign_in_needs_a_code_that_works_once_or_a_recovery_code
);
async fn totp_enrolment_then_sign_in_needs_a_code_that_works_once_or_a_recovery_code(
    backend: Backend,
) {
    let server = Server::start(backend).await;
    invited(&server, "sam@example.com", "admin").await;
    let mut browser = Browser::new(&server);
    browser.login("sam@example.com", PASSWORD).await;
    let (status, setup, _) = browser
        .call("POST", "/v1/auth/totp/setup", None, true)
        .await;
    assert_eq!(status, 200, "{setup}");
    let secret = setup["secret"].as_str().unwrap().to_string();
    assert!(
        setup["otpauth_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/natter:")
    );
    let (status, _, _) = browser
        .call(
            "POST",
            "/v1/auth/totp/enable",
            Some(json!({"code": "000000"})),
            true,
        )
        .await;
    assert_eq!(status, 400, "a wrong code does not enable TOTP");
    let code = totp_code(&secret, "sam@example.com", 0);
    let (status, codes, _) = browser
        .call(
            "POST",
            "/v1/auth/totp/enable",
            Some(json!({"code": code})),
            true,
        )
        .await;
    assert_eq!(status, 200);
    let recovery: Vec<String> = serde_json::from_value(codes["recovery_codes"].clone()).unwrap();
    assert_eq!(recovery.len(), 10);

    // Signing in now stops half way.
    let mut second = Browser::new(&server);
    let (_, session) = second.login("sam@example.com", PASSWORD).await;
    assert_eq!(session["state"], "mfa");
    let (status, _, _) = second.call("GET", "/v1/me", None, false).await;
    assert_eq!(status, 401, "a half-signed-in session reaches nothing");
    // The code used for enrolment cannot be used again.
    let (status, _, _) = second
        .call(
            "POST",
            "/v1/auth/second-factor",
            Some(json!({"code": code})),
            true,
        )
        .await;
    assert_eq!(status, 401, "a TOTP code works once");
    let next = totp_code(&secret, "sam@example.com", 30);
    let (status, done, _) = second
        .call(
            "POST",
            "/v1/auth/second-factor",
            Some(json!({"code": next})),
            true,
        )
        .await;
    assert_eq!(
        (status, done["state"].as_str()),
        (200, Some("active")),
        "{done}"
    );
    let (status, _, _) = second.call("GET", "/v1/me", None, false).await;
    assert_eq!(status, 200);

    // A recovery code also works, once.
    let mut third = Browser::new(&server);
    third.login("sam@example.com", PASSWORD).await;
    let (status, _, _) = third
        .call(
            "POST",
            "/v1/auth/second-factor",
            Some(json!({"code": recovery[0]})),
            true,
        )
        .await;
    assert_eq!(status, 200);
    let mut fourth = Browser::new(&server);
    fourth.login("sam@example.com", PASSWORD).await;
    let (status, _, _) = fourth
        .call(
            "POST",
            "/v1/auth/second-factor",
            Some(json!({"code": recovery[0]})),
            true,
        )
        .await;
    assert_eq!(status, 401, "a recovery code works once");
}

both_backends!(
    a_workspace_that_requires_mfa_for_admins_holds_an_admin_at_enrolment,
    a_workspace_that_requires_mfa_for_admins_holds_an_admin_at_enrolment
);
async fn a_workspace_that_requires_mfa_for_admins_holds_an_admin_at_enrolment(backend: Backend) {
    let server = Server::start(backend).await;
    invited(&server, "ada@example.com", "admin").await;
    invited(&server, "sam@example.com", "agent").await;
    let (status, _) = server
        .admin()
        .call(
            "PATCH",
            "/v1/workspace/security",
            Some(json!({"mfa_required": "admins"})),
        )
        .await;
    assert_eq!(status, 200);

    let mut agent = Browser::new(&server);
    assert_eq!(
        agent.login("sam@example.com", PASSWORD).await.1["state"],
        "active"
    );

    let mut admin = Browser::new(&server);
    let (_, session) = admin.login("ada@example.com", PASSWORD).await;
    assert_eq!(session["state"], "enrol");
    let (status, body, _) = admin.call("GET", "/v1/conversations", None, false).await;
    assert_eq!(status, 401, "{body}");
    let (_, setup, _) = admin.call("POST", "/v1/auth/totp/setup", None, true).await;
    let code = totp_code(setup["secret"].as_str().unwrap(), "ada@example.com", 0);
    let (status, _, _) = admin
        .call(
            "POST",
            "/v1/auth/totp/enable",
            Some(json!({"code": code})),
            true,
        )
        .await;
    assert_eq!(status, 200);
    let (status, _, _) = admin.call("GET", "/v1/conversations", None, false).await;
    assert_eq!(
        status, 200,
        "enrolled: the same session is now fully signed in"
    );
    // And the requirement cannot be dodged by switching TOTP off.
    let code = totp_code(setup["secret"].as_str().unwrap(), "ada@example.com", 30);
    let (status, _, _) = admin
        .call(
            "POST",
            "/v1/auth/totp/disable",
            Some(json!({"code": code})),
            true,
        )
        .await;
    assert_eq!(status, 403);
}

both_backends!(
    a_password_reset_link_works_once_and_ends_old_sessions,
    a_password_reset_link_works_once_and_ends_old_sessions
);
async fn a_password_reset_link_works_once_and_ends_old_sessions(backend: Backend) {
    let server = Server::start(backend).await;
    invited(&server, "sam@example.com", "agent").await;
    let mut old = Browser::new(&server);
    old.login("sam@example.com", PASSWORD).await;

    let anon = server.api("");
    let (status, _) = anon
        .post(
            "/v1/auth/password-reset",
            json!({"email": "sam@example.com"}),
        )
        .await;
    assert_eq!(status, 202);
    let (status, _) = anon
        .post(
            "/v1/auth/password-reset",
            json!({"email": "nobody@example.com"}),
        )
        .await;
    assert_eq!(status, 202, "the same answer for unknown emails");
    let token = link_token(&server, "sam@example.com");
    assert!(
        server
            .mails()
            .iter()
            .all(|(to, _, _)| to != "nobody@example.com")
    );

    let (status, body) = anon
        .post(
            "/v1/auth/password-reset/confirm",
            json!({"token": token, "password": "short"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_field"))
    );
    let new_password = "another sturdy lantern 7";
    let (status, _) = anon
        .post(
            "/v1/auth/password-reset/confirm",
            json!({"token": token, "password": new_password}),
        )
        .await;
    assert_eq!(status, 204, "a weak password did not burn the token");
    let (status, body) = anon
        .post(
            "/v1/auth/password-reset/confirm",
            json!({"token": token, "password": new_password}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("unauthenticated")),
        "replayed"
    );

    let (status, _, _) = old.call("GET", "/v1/me", None, false).await;
    assert_eq!(status, 401, "sessions from before the reset ended");
    let mut browser = Browser::new(&server);
    assert_eq!(browser.login("sam@example.com", PASSWORD).await.0, 401);
    assert_eq!(browser.login("sam@example.com", new_password).await.0, 200);
}

both_backends!(
    an_expired_reset_link_is_refused,
    an_expired_reset_link_is_refused
);
async fn an_expired_reset_link_is_refused(backend: Backend) {
    let server = Server::start_with(backend, &[("NATTER_AUTH_PASSWORD_RESET_TTL_SECS", "1")]).await;
    invited(&server, "sam@example.com", "agent").await;
    let anon = server.api("");
    anon.post(
        "/v1/auth/password-reset",
        json!({"email": "sam@example.com"}),
    )
    .await;
    let token = link_token(&server, "sam@example.com");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, _) = anon
        .post(
            "/v1/auth/password-reset/confirm",
            json!({"token": token, "password": "another sturdy lantern 7"}),
        )
        .await;
    assert_eq!(status, 401);
}

both_backends!(
    api_tokens_are_limited_to_their_scopes_and_stop_working_when_revoked,
    api_tokens_are_limited_to_their_scopes_and_stop_working_when_revoked
);
async fn api_tokens_are_limited_to_their_scopes_and_stop_working_when_revoked(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin();
    let me = admin.me().await;
    let (status, issued) = admin
        .post(
            &format!("/v1/staff/{me}/tokens"),
            json!({"name": "dashboard", "scopes": ["read"]}),
        )
        .await;
    assert_eq!(status, 201);
    let reader = server.api(issued["token"].as_str().unwrap());
    assert_eq!(reader.get("/v1/conversations").await.0, 200);
    let (status, body) = reader
        .post(
            "/v1/conversations",
            json!({"kind": "support", "participants": []}),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    assert_eq!(
        reader.post("/v1/contacts", json!({"name": "x"})).await.0,
        403
    );

    let (status, bad) = admin
        .post(
            &format!("/v1/staff/{me}/tokens"),
            json!({"name": "x", "scopes": ["root"]}),
        )
        .await;
    assert_eq!((status, bad["code"].as_str()), (400, Some("invalid_field")));

    let (_, tokens) = admin.get(&format!("/v1/staff/{me}/tokens")).await;
    let dashboard = tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "dashboard")
        .unwrap()
        .clone();
    assert_eq!(dashboard["scopes"], json!(["read"]));
    assert!(dashboard["last_used_at"].is_i64(), "last use is recorded");
    let id = dashboard["id"].as_i64().unwrap();
    assert_eq!(
        admin
            .call("DELETE", &format!("/v1/tokens/{id}"), None)
            .await
            .0,
        204
    );
    assert_eq!(reader.get("/v1/conversations").await.0, 401);
    let (_, log) = admin.get("/v1/audit?action=token.revoked").await;
    assert_eq!(log[0]["target_id"], id.to_string());
}

both_backends!(
    a_deactivated_staff_member_loses_sessions_and_tokens_at_once,
    a_deactivated_staff_member_loses_sessions_and_tokens_at_once
);
async fn a_deactivated_staff_member_loses_sessions_and_tokens_at_once(backend: Backend) {
    let server = Server::start(backend).await;
    let sam = invited(&server, "sam@example.com", "agent").await;
    let mut browser = Browser::new(&server);
    browser.login("sam@example.com", PASSWORD).await;
    let (_, issued) = server
        .admin()
        .post(
            &format!("/v1/staff/{sam}/tokens"),
            json!({"name": "script"}),
        )
        .await;
    let token = server.api(issued["token"].as_str().unwrap());
    assert_eq!(token.get("/v1/me").await.0, 200);

    // An agent cannot deactivate anyone; the owner can.
    let (status, _, _) = browser
        .call(
            "DELETE",
            &format!("/v1/staff/{}", server.admin().me().await),
            None,
            true,
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        server
            .admin()
            .call("DELETE", &format!("/v1/staff/{sam}"), None)
            .await
            .0,
        204
    );
    assert_eq!(browser.call("GET", "/v1/me", None, false).await.0, 401);
    assert_eq!(token.get("/v1/me").await.0, 401);
    assert_eq!(browser.login("sam@example.com", PASSWORD).await.0, 401);
}

both_backends!(
    roles_change_only_by_those_allowed_and_the_audit_log_records_who_did_what,
    roles_change_only_by_those_allowed_and_the_audit_log_records_who_did_what
);
async fn roles_change_only_by_those_allowed_and_the_audit_log_records_who_did_what(
    backend: Backend,
) {
    let server = Server::start(backend).await;
    let owner = server.admin();
    let owner_id = owner.me().await;
    let ada = invited(&server, "ada@example.com", "admin").await;
    let sam = invited(&server, "sam@example.com", "agent").await;
    let mut admin = Browser::new(&server);
    admin.login("ada@example.com", PASSWORD).await;

    let (status, _, _) = admin
        .call(
            "PATCH",
            &format!("/v1/staff/{sam}"),
            Some(json!({"role": "owner"})),
            true,
        )
        .await;
    assert_eq!(status, 403, "an admin cannot make owners");
    let (status, body, _) = admin
        .call(
            "PATCH",
            &format!("/v1/staff/{sam}"),
            Some(json!({"role": "admin"})),
            true,
        )
        .await;
    assert_eq!((status, body["role"].as_str()), (200, Some("admin")));

    let mut agent_browser = Browser::new(&server);
    let (_, _) = agent_browser.login("sam@example.com", PASSWORD).await;
    let (status, log, _) = agent_browser.call("GET", "/v1/audit", None, false).await;
    assert_eq!(status, 200, "sam is an admin now: {log}");

    let (_, log) = owner.get(&format!("/v1/audit?actor_id={ada}")).await;
    let change = log
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "staff.role_changed")
        .expect("the role change is in the audit log");
    assert_eq!(change["target_id"], sam.to_string());
    assert_eq!(change["detail"]["to"], "admin");
    let (_, invited_entries) = owner.get("/v1/audit?action=staff.invited").await;
    assert!(
        invited_entries
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["actor_id"] == owner_id)
    );
    // Paging: newest first, `before` continues.
    let (_, page) = owner.get("/v1/audit?limit=2").await;
    let page = page.as_array().unwrap().clone();
    assert_eq!(page.len(), 2);
    assert!(page[0]["id"].as_i64() > page[1]["id"].as_i64());
    let (_, next) = owner
        .get(&format!("/v1/audit?limit=2&before={}", page[1]["id"]))
        .await;
    assert!(next[0]["id"].as_i64() < page[1]["id"].as_i64());
}

#[tokio::test]
async fn the_command_line_creates_a_user_who_signs_in_with_a_password() {
    let server = Server::start(Backend::Sqlite).await;
    let account = created_by_cli(&server, "ops@example.com", "admin");
    assert_eq!(account["role"], "admin");
    let mut browser = Browser::new(&server);
    assert_eq!(browser.login("ops@example.com", PASSWORD).await.0, 200);
}

both_backends!(
    requests_with_one_api_token_are_rate_limited_with_retry_after,
    requests_with_one_api_token_are_rate_limited_with_retry_after
);
async fn requests_with_one_api_token_are_rate_limited_with_retry_after(backend: Backend) {
    let server =
        Server::start_with(backend, &[("NATTER_RATE_LIMITS_REQUESTS_PER_TOKEN", "5")]).await;
    let admin = server.admin();
    for _ in 0..5 {
        assert_eq!(admin.get("/v1/me").await.0, 200);
    }
    let (status, body) = admin.get("/v1/me").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("rate_limited")),
        "{body}"
    );
    assert!(
        body["retry_after"]
            .as_u64()
            .is_some_and(|s| (1..=60).contains(&s))
    );
    // Another credential is not affected: a session signs in and works.
    created_by_cli(&server, "ops@example.com", "agent");
    let mut browser = Browser::new(&server);
    assert_eq!(browser.login("ops@example.com", PASSWORD).await.0, 200);
    assert_eq!(browser.call("GET", "/v1/me", None, false).await.0, 200);
}

/// Creates a staff account with `PASSWORD` through the command line (no API token used);
/// returns the account it printed.
fn created_by_cli(server: &Server, email: &str, role: &str) -> Value {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_natter"))
        .args(["admin", "create-user", "--email", email, "--role", role])
        .env("NATTER_DATA_DIR", server.data_dir())
        .env("NATTER_DATABASE_URL", server.database_url())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}
