//! The agent web app's real-time sign-in: a `hello` with an empty token is authenticated by
//! the upgrade's session cookie, only from the server's own origin and only for a fully
//! signed-in session, and the socket ends with the session. Through the real binary, on both
//! backends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, Client, Server};
use futures_util::SinkExt;
use reqwest::header::{COOKIE, SET_COOKIE};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const PASSWORD: &str = "sturdy lantern 42 ferns";
/// The close code of a refused or revoked credential (`close::UNAUTHENTICATED`).
const UNAUTHENTICATED: u16 = 4001;

/// A browser's view of a session: its cookie and CSRF token.
struct Session {
    cookie: String,
    csrf: String,
    state: String,
}

/// Signs in with a password, as the web app does.
async fn sign_in(server: &Server, email: &str) -> Session {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/auth/login", server.base))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cookie = response
        .headers()
        .get(SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .strip_prefix("natter_session=")
        .unwrap()
        .to_string();
    let body: Value = response.json().await.unwrap();
    Session {
        cookie,
        csrf: body["csrf_token"].as_str().unwrap().to_string(),
        state: body["state"].as_str().unwrap().to_string(),
    }
}

/// A REST call with the session cookie (and its CSRF token, which writes need).
async fn call(
    server: &Server,
    session: &Session,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", server.base))
        .header(COOKIE, format!("natter_session={}", session.cookie))
        .header("x-csrf-token", &session.csrf);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The owner invites an agent, who accepts with `PASSWORD`; returns the agent's id.
async fn invited(server: &Server, email: &str) -> i64 {
    let (status, account) = server
        .admin()
        .post(
            "/v1/staff/invitations",
            json!({"email": email, "role": "agent"}),
        )
        .await;
    assert_eq!(status, 201, "{account}");
    let mails = server.mails();
    let (_, _, mail) = mails.iter().rev().find(|(to, _, _)| to == email).unwrap();
    let start = mail.find("#token=").unwrap() + "#token=".len();
    let token = mail[start..].split_whitespace().next().unwrap();
    let (status, body) = server
        .api("")
        .post(
            "/v1/auth/invitations/accept",
            json!({"token": token, "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    account["id"].as_i64().unwrap()
}

/// The server's own origin, as a browser on one of its pages (e.g. `/app`) sends it.
fn own_origin(server: &Server) -> String {
    server.base.clone()
}

/// Opens `/v1/ws` with these `Origin` and session cookie and sends `hello` with an empty
/// token. The answer (`ready`, or a close) is left for the caller to read.
async fn open(server: &Server, origin: Option<&str>, cookie: Option<&str>) -> Client {
    let mut request = server.ws_url().into_client_request().unwrap();
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
    }
    if let Some(cookie) = cookie {
        request.headers_mut().insert(
            "cookie",
            format!("natter_session={cookie}").parse().unwrap(),
        );
    }
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let hello = json!({"type": "hello", "token": ""});
    socket
        .send(Message::Text(hello.to_string().into()))
        .await
        .unwrap();
    Client {
        socket,
        cursor: None,
        ready: Value::Null,
    }
}

/// Waits for the server to close `client`; returns the close code and reason.
async fn close_of(client: &mut Client) -> (u16, String) {
    use futures_util::StreamExt;
    loop {
        let message = tokio::time::timeout(common::WAIT, client.socket.next())
            .await
            .expect("timed out waiting for close");
        match message {
            Some(Ok(Message::Close(Some(frame)))) => {
                return (u16::from(frame.code), frame.reason.to_string());
            }
            Some(Ok(Message::Close(None))) | None => return (1005, String::new()),
            Some(Err(e)) => panic!("socket error instead of close: {e}"),
            Some(Ok(Message::Text(text))) => panic!("a frame instead of close: {text}"),
            Some(Ok(_)) => continue,
        }
    }
}

both_backends!(
    a_signed_in_agents_same_origin_socket_with_an_empty_token_gets_ready_and_events,
    a_signed_in_agents_same_origin_socket_with_an_empty_token_gets_ready_and_events
);
async fn a_signed_in_agents_same_origin_socket_with_an_empty_token_gets_ready_and_events(
    backend: Backend,
) {
    let server = Server::start(backend).await;
    let sam = invited(&server, "sam@example.com").await;
    let session = sign_in(&server, "sam@example.com").await;
    assert_eq!(session.state, "active");

    let mut socket = open(&server, Some(&own_origin(&server)), Some(&session.cookie)).await;
    let ready = socket.next_frame().await;
    assert_eq!(ready["type"], "ready", "{ready}");
    assert_eq!(ready["account_id"], sam);

    let admin = server.admin();
    let (contact, _) = admin.contact("ann").await;
    let conversation = admin
        .conversation("support", &[(contact, "customer"), (sam, "agent")])
        .await;
    let (status, body) = admin
        .post(
            &format!("/v1/conversations/{conversation}/messages"),
            json!({"body": "hello from the admin", "client_msg_id": "m1"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let event = socket.next_event("message_created").await;
    assert_eq!(event["data"]["message"]["body"], "hello from the admin");

    // The socket acts as the session's account, writes included (as a cookie REST call can).
    let ack = socket.send_message(conversation, "on my way", "s1").await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let (status, messages) = call(
        &server,
        &session,
        "GET",
        &format!("/v1/conversations/{conversation}/messages"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{messages}");
    let last = messages.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["body"].clone(), last["sender_id"].clone()),
        (json!("on my way"), json!(sam)),
        "{last}"
    );
}

both_backends!(
    an_empty_token_without_a_fully_signed_in_same_origin_cookie_is_refused,
    an_empty_token_without_a_fully_signed_in_same_origin_cookie_is_refused
);
async fn an_empty_token_without_a_fully_signed_in_same_origin_cookie_is_refused(backend: Backend) {
    let server = Server::start(backend).await;
    invited(&server, "sam@example.com").await;
    let session = sign_in(&server, "sam@example.com").await;
    let own = own_origin(&server);
    let refused = (UNAUTHENTICATED, "unauthenticated".to_string());

    // No cookie at all.
    let mut socket = open(&server, Some(&own), None).await;
    assert_eq!(close_of(&mut socket).await, refused, "without a cookie");

    // A good cookie from another site's page (cross-site WebSocket hijacking), or from no
    // page at all.
    for origin in [Some("http://evil.example"), Some("null"), None] {
        let mut socket = open(&server, origin, Some(&session.cookie)).await;
        assert_eq!(close_of(&mut socket).await, refused, "origin {origin:?}");
    }
    // A cookie that is no session.
    let mut socket = open(&server, Some(&own), Some("not-a-session")).await;
    assert_eq!(close_of(&mut socket).await, refused, "an unknown cookie");

    // A session half way through signing in (`mfa`): Mia turns on TOTP, then signs in again.
    invited(&server, "mia@example.com").await;
    let mia = sign_in(&server, "mia@example.com").await;
    let (status, setup) = call(&server, &mia, "POST", "/v1/auth/totp/setup", None).await;
    assert_eq!(status, 200, "{setup}");
    let secret = totp_rs::Secret::try_from_base32(setup["secret"].as_str().unwrap()).unwrap();
    let secret = secret.as_bytes().to_vec();
    let totp = natter_server::auth::totp(&secret, "mia@example.com").unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (status, body) = call(
        &server,
        &mia,
        "POST",
        "/v1/auth/totp/enable",
        Some(json!({"code": totp.generate(now).to_string()})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let halfway = sign_in(&server, "mia@example.com").await;
    assert_eq!(halfway.state, "mfa");
    let mut socket = open(&server, Some(&own), Some(&halfway.cookie)).await;
    assert_eq!(close_of(&mut socket).await, refused, "an mfa session");

    // The same cookie and origin with a session that is signed in work (the refusals above
    // were for the reasons given).
    let mut socket = open(&server, Some(&own), Some(&session.cookie)).await;
    assert_eq!(socket.next_frame().await["type"], "ready");
}

both_backends!(
    signing_out_closes_the_sessions_socket_and_its_cookie_no_longer_connects,
    signing_out_closes_the_sessions_socket_and_its_cookie_no_longer_connects
);
async fn signing_out_closes_the_sessions_socket_and_its_cookie_no_longer_connects(
    backend: Backend,
) {
    let server = Server::start(backend).await;
    invited(&server, "sam@example.com").await;
    let own = own_origin(&server);

    let session = sign_in(&server, "sam@example.com").await;
    let mut socket = open(&server, Some(&own), Some(&session.cookie)).await;
    assert_eq!(socket.next_frame().await["type"], "ready");
    let (status, _) = call(&server, &session, "POST", "/v1/auth/logout", None).await;
    assert_eq!(status, 204);
    assert_eq!(
        close_of(&mut socket).await,
        (UNAUTHENTICATED, "revoked".to_string())
    );
    let mut again = open(&server, Some(&own), Some(&session.cookie)).await;
    assert_eq!(
        close_of(&mut again).await,
        (UNAUTHENTICATED, "unauthenticated".to_string())
    );

    // Revoking the session from another device (a lost laptop) closes its socket too.
    let laptop = sign_in(&server, "sam@example.com").await;
    let phone = sign_in(&server, "sam@example.com").await;
    let mut socket = open(&server, Some(&own), Some(&laptop.cookie)).await;
    assert_eq!(socket.next_frame().await["type"], "ready");
    let (status, sessions) = call(&server, &laptop, "GET", "/v1/auth/sessions", None).await;
    assert_eq!(status, 200, "{sessions}");
    let laptop_id = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let (status, body) = call(
        &server,
        &phone,
        "DELETE",
        &format!("/v1/auth/sessions/{laptop_id}"),
        None,
    )
    .await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(
        close_of(&mut socket).await,
        (UNAUTHENTICATED, "revoked".to_string())
    );
    let mut again = open(&server, Some(&own), Some(&laptop.cookie)).await;
    assert_eq!(close_of(&mut again).await.0, UNAUTHENTICATED);
    // The phone's session still connects.
    let mut socket = open(&server, Some(&own), Some(&phone.cookie)).await;
    assert_eq!(socket.next_frame().await["type"], "ready");
}
