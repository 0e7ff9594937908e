//! Websites and the widget's API, end to end through the real binary on both backends:
//! configuration, allowed origins (HTTP, CORS and sockets), visitors and their tokens,
//! per-website agents, secrets and rate limits, visit enrichment and live visitors, the
//! offline form and the staff inbox.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, Server};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const SHOP: &str = "https://shop.example.com";
const EVIL: &str = "https://evil.example.net";
const CHROME_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 \
     (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

/// A browser-like request: an `Origin`, optionally a bearer token, a user agent and a
/// forwarded client address.
struct Browser<'a> {
    server: &'a Server,
    origin: &'a str,
    token: Option<String>,
    forwarded_for: Option<&'a str>,
}

impl<'a> Browser<'a> {
    fn new(server: &'a Server, origin: &'a str) -> Self {
        Self {
            server,
            origin,
            token: None,
            forwarded_for: None,
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let (status, body, _) = self.raw(method, path, body).await;
        (status, body)
    }

    async fn raw(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = reqwest::Client::new()
            .request(method, format!("{}{path}", self.server.base))
            .header("origin", self.origin)
            .header("user-agent", CHROME_MAC);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(ip) = self.forwarded_for {
            request = request.header("x-forwarded-for", ip);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value, headers)
    }

    /// Starts a visit on `page`; returns the response and keeps the token.
    async fn start(&mut self, key: &str, page: &str, referrer: Option<&str>) -> Value {
        let (status, body) = self
            .call(
                "POST",
                &format!("/v1/widget/{key}/visitors"),
                Some(json!({
                    "token": self.token,
                    "page": {"url": page, "title": "Shop", "referrer": referrer},
                    "screen": {"width": 1440, "height": 900},
                    "language": "en-GB",
                    "time_zone": "Europe/London",
                    "consent": true
                })),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        self.token = Some(body["token"].as_str().unwrap().to_string());
        body
    }
}

fn settings(domains: &[&str]) -> Value {
    json!({
        "allowed_domains": domains,
        "appearance": {"primary_color": "#112233", "position": "bottom-left",
                       "welcome_text": "Hello from the shop", "launcher_text": "Help",
                       "show_agent_photos": false},
        "prechat": {"enabled": true, "fields": [
            {"key": "name", "kind": "name", "label": "Your name", "required": true},
            {"key": "order", "kind": "text", "label": "Order number", "required": false}]}
    })
}

/// Creates a website; returns (id, key).
async fn website(server: &Server, name: &str, settings: Value) -> (i64, String) {
    let (status, site) = server
        .admin()
        .post("/v1/websites", json!({"name": name, "settings": settings}))
        .await;
    assert_eq!(status, 201, "{site}");
    (
        site["id"].as_i64().unwrap(),
        site["key"].as_str().unwrap().to_string(),
    )
}

/// Connects a WebSocket with an `Origin` header; returns the close code if the server
/// refuses the hello, or `None` after `ready`.
async fn socket_close_code(server: &Server, origin: &str, token: &str) -> Option<u16> {
    let mut request = server.ws_url().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("origin", origin.parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    socket
        .send(Message::Text(
            json!({"type": "hello", "token": token}).to_string().into(),
        ))
        .await
        .unwrap();
    let frame = tokio::time::timeout(common::WAIT, socket.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    match frame {
        Message::Close(Some(close)) => Some(u16::from(close.code)),
        Message::Text(text) => {
            let value: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(value["type"], "ready", "{value}");
            None
        }
        other => panic!("unexpected frame {other:?}"),
    }
}

both_backends!(
    an_admin_configures_a_website_and_the_widget_reads_only_its_public_part,
    an_admin_configures_a_website_and_the_widget_reads_only_its_public_part
);
async fn an_admin_configures_a_website_and_the_widget_reads_only_its_public_part(backend: Backend) {
    let server = Server::start(backend).await;
    let (id, key) = website(&server, "Shop", settings(&["shop.example.com"])).await;
    assert!(key.starts_with("wk_"));
    let (status, secret) = server
        .admin()
        .post(&format!("/v1/websites/{id}/hmac-secret"), json!(null))
        .await;
    assert_eq!(status, 200);
    let secret = secret["secret"].as_str().unwrap().to_string();

    let (status, config, headers) = Browser::new(&server, SHOP)
        .raw("GET", &format!("/v1/widget/{key}"), None)
        .await;
    assert_eq!(status, 200, "{config}");
    assert_eq!(config["name"], "Shop");
    assert_eq!(config["appearance"]["primary_color"], "#112233");
    assert_eq!(config["prechat"]["fields"][0]["required"], true);
    assert_eq!(config["status"]["open"], true);
    assert!(config["status"]["agents_online"].is_number());
    assert!(!config.to_string().contains(&secret));
    assert!(config.get("allowed_domains").is_none());
    assert_eq!(headers["cache-control"], "public, max-age=15");
    assert_eq!(headers["access-control-allow-origin"], SHOP);

    // The admin view has everything (but never the secret), including the snippet.
    let (status, view) = server.admin().get(&format!("/v1/websites/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(view["hmac_configured"], true);
    assert!(view["install_snippet"].as_str().unwrap().contains(&key));
    assert!(!view.to_string().contains(&secret));

    // Bad settings are refused with the field named, and nothing changes.
    for (bad, field) in [
        (json!({"allowed_domains": ["*"]}), "allowed_domains"),
        (
            json!({"allowed_domains": ["a.com/path"]}),
            "allowed_domains",
        ),
        (
            json!({"appearance": {"primary_color": "red", "position": "bottom-left",
                  "welcome_text": "", "launcher_text": "", "show_agent_photos": true}}),
            "primary_color",
        ),
        (
            json!({"business_hours": {"time_zone": "Mars/Olympus", "weekly": {}}}),
            "business_hours",
        ),
        (
            json!({"privacy": {"consent_required": false, "ip_mode": "some"}}),
            "ip_mode",
        ),
        (json!({"colour": "red"}), "colour"),
    ] {
        let (status, error) = server
            .admin()
            .call(
                "PUT",
                &format!("/v1/websites/{id}"),
                Some(json!({"settings": bad})),
            )
            .await;
        assert!(status == 400, "{bad} -> {status} {error}");
        assert!(
            error["message"].as_str().unwrap().contains(field),
            "{bad} -> {error}"
        );
    }
    let (_, after) = server.admin().get(&format!("/v1/websites/{id}")).await;
    assert_eq!(after["settings"], view["settings"]);

    // A retired website's key stops working.
    let (status, _) = server
        .admin()
        .call("DELETE", &format!("/v1/websites/{id}"), None)
        .await;
    assert_eq!(status, 204);
    let (status, error) = Browser::new(&server, SHOP)
        .call("GET", &format!("/v1/widget/{key}"), None)
        .await;
    assert_eq!(status, 404, "{error}");
}

both_backends!(
    a_page_outside_the_allowed_domains_is_refused_over_http_cors_and_sockets,
    a_page_outside_the_allowed_domains_is_refused_over_http_cors_and_sockets
);
async fn a_page_outside_the_allowed_domains_is_refused_over_http_cors_and_sockets(
    backend: Backend,
) {
    let server = Server::start(backend).await;
    let (_, key) = website(&server, "Shop", settings(&["*.example.com"])).await;

    let evil = Browser::new(&server, EVIL);
    let (status, error) = evil.call("GET", &format!("/v1/widget/{key}"), None).await;
    assert_eq!(status, 403);
    assert_eq!(error["code"], "origin_not_allowed");
    let (status, error) = evil
        .call(
            "POST",
            &format!("/v1/widget/{key}/visitors"),
            Some(json!({})),
        )
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (403, Some("origin_not_allowed"))
    );

    // CORS preflights: answered for an allowed origin only.
    let preflight = |origin: &'static str| {
        reqwest::Client::new()
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/v1/widget/{key}/visitors", server.base),
            )
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let allowed = preflight(SHOP).await.unwrap();
    assert_eq!(allowed.headers()["access-control-allow-origin"], SHOP);
    assert!(
        allowed
            .headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
    let refused = preflight(EVIL).await.unwrap();
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );

    // A visitor token taken from the shop is refused from the other page, over REST and
    // over the socket; from the shop it works.
    let mut shop = Browser::new(&server, SHOP);
    shop.start(&key, "https://www.example.com/", None).await;
    let token = shop.token.clone().unwrap();
    let mut stolen = Browser::new(&server, EVIL);
    stolen.token = Some(token.clone());
    let (status, error) = stolen
        .call(
            "POST",
            "/v1/conversations",
            Some(json!({"kind": "support"})),
        )
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (403, Some("origin_not_allowed"))
    );
    assert_eq!(socket_close_code(&server, EVIL, &token).await, Some(4004));
    assert_eq!(socket_close_code(&server, SHOP, &token).await, None);
    let (status, _) = shop
        .call(
            "POST",
            "/v1/conversations",
            Some(json!({"kind": "support"})),
        )
        .await;
    assert_eq!(status, 201);
}

both_backends!(
    a_visitor_chats_and_an_agent_answers_from_the_inbox,
    a_visitor_chats_and_an_agent_answers_from_the_inbox
);
async fn a_visitor_chats_and_an_agent_answers_from_the_inbox(backend: Backend) {
    let server = Server::start(backend).await;
    let (site, key) = website(&server, "Shop", settings(&["shop.example.com"])).await;
    let mut visitor = Browser::new(&server, SHOP);
    let started = visitor.start(&key, "https://shop.example.com/", None).await;
    assert_eq!(started["contact"]["identity"], "anonymous");
    assert!(started["conversation_id"].is_null());

    let (status, created) = visitor
        .call(
            "POST",
            "/v1/conversations",
            Some(json!({"kind": "support", "subject": "Where is my order?"})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let conversation = created["conversation"]["id"].as_i64().unwrap();
    assert_eq!(created["conversation"]["website_id"], site);
    let (status, _) = visitor
        .call(
            "POST",
            &format!("/v1/conversations/{conversation}/messages"),
            Some(json!({"body": "Order 1234 has not arrived"})),
        )
        .await;
    assert_eq!(status, 201);

    // The agent finds it among unassigned chats of the website and replies.
    let (status, inbox) = server
        .admin()
        .get(&format!("/v1/inbox?view=unassigned&website_id={site}"))
        .await;
    assert_eq!(status, 200, "{inbox}");
    let ids: Vec<i64> = inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["conversation"]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![conversation]);
    let (status, _) = server
        .admin()
        .post(
            &format!("/v1/conversations/{conversation}/messages"),
            json!({"body": "Looking into it"}),
        )
        .await;
    assert_eq!(status, 201);
    let (_, inbox) = server.admin().get("/v1/inbox?view=unassigned").await;
    assert!(inbox["items"].as_array().unwrap().is_empty(), "{inbox}");

    let (status, history) = visitor
        .call(
            "GET",
            &format!("/v1/conversations/{conversation}/messages"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let bodies: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["Order 1234 has not arrived", "Looking into it"]);

    // The next page load continues the same visitor and conversation.
    let again = visitor
        .start(&key, "https://shop.example.com/orders", None)
        .await;
    assert_eq!(again["contact"]["id"], started["contact"]["id"]);
    assert_eq!(again["conversation_id"], conversation);
}

both_backends!(
    an_agent_serves_only_the_websites_given_to_them,
    an_agent_serves_only_the_websites_given_to_them
);
async fn an_agent_serves_only_the_websites_given_to_them(backend: Backend) {
    let server = Server::start(backend).await;
    let (site, key) = website(&server, "Shop", settings(&["shop.example.com"])).await;
    let mut agents = Vec::new();
    for name in ["amy", "bob"] {
        let (status, staff) = server
            .admin()
            .post(
                "/v1/staff",
                json!({"email": format!("{name}@example.com"), "name": name, "role": "agent"}),
            )
            .await;
        assert_eq!(status, 201, "{staff}");
        let id = staff["id"].as_i64().unwrap();
        let (status, token) = server
            .admin()
            .post(
                &format!("/v1/staff/{id}/tokens"),
                json!({"name": "t", "scopes": ["read", "write"]}),
            )
            .await;
        assert_eq!(status, 201, "{token}");
        agents.push((id, server.api(token["token"].as_str().unwrap())));
    }
    let (status, body) = server
        .admin()
        .call(
            "PUT",
            &format!("/v1/websites/{site}"),
            Some(json!({"agents": {"all": false, "account_ids": [agents[0].0]}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let mut visitor = Browser::new(&server, SHOP);
    visitor.start(&key, "https://shop.example.com/", None).await;
    let (_, created) = visitor
        .call(
            "POST",
            "/v1/conversations",
            Some(json!({"kind": "support"})),
        )
        .await;
    let conversation = created["conversation"]["id"].as_i64().unwrap();

    let (amy, bob) = (&agents[0].1, &agents[1].1);
    let (_, inbox) = amy.get("/v1/inbox").await;
    assert_eq!(
        inbox["items"][0]["conversation"]["id"], conversation,
        "{inbox}"
    );
    let (_, inbox) = bob.get("/v1/inbox").await;
    assert!(inbox["items"].as_array().unwrap().is_empty(), "{inbox}");
    let (status, _) = bob.get(&format!("/v1/conversations/{conversation}")).await;
    assert_eq!(status, 404);
    let (status, _) = bob
        .post(
            &format!("/v1/conversations/{conversation}/messages"),
            json!({"body": "hi"}),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = bob.get(&format!("/v1/inbox?website_id={site}")).await;
    assert_eq!(status, 404);
    let (status, sites) = bob.get("/v1/websites").await;
    assert_eq!((status, sites.as_array().unwrap().len()), (200, 0));
    let (status, _) = amy
        .post(
            &format!("/v1/conversations/{conversation}/messages"),
            json!({"body": "Amy here"}),
        )
        .await;
    assert_eq!(status, 201);
    // Agents cannot change websites.
    let (status, _) = amy
        .call(
            "PUT",
            &format!("/v1/websites/{site}"),
            Some(json!({"name": "Mine"})),
        )
        .await;
    assert_eq!(status, 403);
}

both_backends!(
    a_websites_own_secret_verifies_visitors_who_then_continue_on_another_device,
    a_websites_own_secret_verifies_visitors_who_then_continue_on_another_device
);
async fn a_websites_own_secret_verifies_visitors_who_then_continue_on_another_device(
    backend: Backend,
) {
    let server = Server::start(backend).await;
    let (site, key) = website(&server, "Shop", settings(&["shop.example.com"])).await;
    let (other_site, other_key) = website(&server, "Blog", settings(&["blog.example.com"])).await;
    let (_, secret) = server
        .admin()
        .post(&format!("/v1/websites/{site}/hmac-secret"), json!(null))
        .await;
    let secret = secret["secret"].as_str().unwrap();
    let (_, workspace_secret) = server
        .admin()
        .post("/v1/workspace/contact-identity/hmac-secret", json!(null))
        .await;
    let workspace_secret = workspace_secret["secret"].as_str().unwrap();
    let good = natter_server::contact_identity::user_hash(secret.as_bytes(), "u-7").unwrap();
    let wrong =
        natter_server::contact_identity::user_hash(workspace_secret.as_bytes(), "u-7").unwrap();

    // Laptop: an anonymous visitor starts a chat, then the host page identifies them.
    let mut laptop = Browser::new(&server, SHOP);
    let started = laptop.start(&key, "https://shop.example.com/", None).await;
    let (_, created) = laptop
        .call(
            "POST",
            "/v1/conversations",
            Some(json!({"kind": "support"})),
        )
        .await;
    let conversation = created["conversation"]["id"].as_i64().unwrap();
    let (status, error) = laptop
        .call(
            "POST",
            &format!("/v1/widget/{key}/identify"),
            Some(json!({"user_id": "u-7", "user_hash": wrong})),
        )
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (401, Some("unauthenticated"))
    );
    let (status, identified) = laptop
        .call(
            "POST",
            &format!("/v1/widget/{key}/identify"),
            Some(json!({"user_id": "u-7", "user_hash": good, "name": "Ann", "email": "ann@example.com",
                        "phone": "+44 20 7946 0000", "company": "Acme",
                        "custom_data": {"plan": "premium", "seats": 12}})),
        )
        .await;
    assert_eq!(status, 200, "{identified}");
    // The anonymous visitor became the verified contact in place, keeping the chat.
    assert_eq!(identified["contact"]["id"], started["contact"]["id"]);
    assert_eq!(identified["contact"]["identity"], "verified");
    assert_eq!(identified["profile"]["custom_data"]["plan"], "premium");

    // A script on the page cannot rename a verified person: details without proof keep the
    // platform's name and email, and still save the rest.
    laptop.token = Some(identified["token"].as_str().unwrap().to_string());
    let (status, details) = laptop
        .call(
            "POST",
            &format!("/v1/widget/{key}/identify"),
            Some(json!({"name": "Mallory", "email": "mallory@example.com", "company": "Initech"})),
        )
        .await;
    assert_eq!(status, 200, "{details}");
    assert_eq!(details["contact"]["id"], started["contact"]["id"]);
    assert_eq!(details["contact"]["identity"], "verified");
    assert_eq!(
        (
            details["contact"]["name"].as_str(),
            details["contact"]["email"].as_str()
        ),
        (Some("Ann"), Some("ann@example.com"))
    );
    assert_eq!(details["profile"]["company"], "Initech");

    // Once the workspace talks only to verified contacts, an anonymous visitor's details are
    // refused, and a verified one's still accepted.
    let (status, _) = server
        .admin()
        .call(
            "PUT",
            "/v1/workspace/contact-identity",
            Some(json!({"require_verified": true})),
        )
        .await;
    assert_eq!(status, 200);
    let mut stranger = Browser::new(&server, SHOP);
    stranger
        .start(&key, "https://shop.example.com/", None)
        .await;
    let (status, error) = stranger
        .call(
            "POST",
            &format!("/v1/widget/{key}/identify"),
            Some(json!({"name": "Eve", "email": "eve@example.com"})),
        )
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (403, Some("forbidden")),
        "{error}"
    );
    let (status, _) = laptop
        .call(
            "POST",
            &format!("/v1/widget/{key}/identify"),
            Some(json!({"phone": "+44 20 7946 0001"})),
        )
        .await;
    assert_eq!(status, 200);

    // Phone: a new visitor proves the same identity and continues the same conversation.
    let mut phone = Browser::new(&server, SHOP);
    phone.start(&key, "https://shop.example.com/", None).await;
    let (status, on_phone) = phone
        .call(
            "POST",
            &format!("/v1/widget/{key}/identify"),
            Some(json!({"user_id": "u-7", "user_hash": good})),
        )
        .await;
    assert_eq!(status, 200, "{on_phone}");
    assert_eq!(on_phone["contact"]["id"], started["contact"]["id"]);
    phone.token = Some(on_phone["token"].as_str().unwrap().to_string());
    let again = phone.start(&key, "https://shop.example.com/", None).await;
    assert_eq!(again["conversation_id"], conversation);

    // The shop's visitor token is not the blog's.
    let mut blog = Browser::new(&server, "https://blog.example.com");
    blog.token = phone.token.clone();
    let (status, _) = blog
        .call(
            "POST",
            &format!("/v1/widget/{other_key}/pageviews"),
            Some(json!({"url": "https://blog.example.com/"})),
        )
        .await;
    assert_eq!(status, 403);
    let _ = other_site;
}

both_backends!(
    identify_with_only_a_name_and_email_keeps_the_visitor_and_their_chat,
    identify_with_only_a_name_and_email_keeps_the_visitor_and_their_chat
);
async fn identify_with_only_a_name_and_email_keeps_the_visitor_and_their_chat(backend: Backend) {
    let server = Server::start(backend).await;
    let (_, key) = website(&server, "Shop", settings(&["shop.example.com"])).await;
    let mut visitor = Browser::new(&server, SHOP);
    let started = visitor.start(&key, "https://shop.example.com/", None).await;
    let (_, created) = visitor
        .call(
            "POST",
            "/v1/conversations",
            Some(json!({"kind": "support"})),
        )
        .await;
    let conversation = created["conversation"]["id"].as_i64().unwrap();

    let identify = format!("/v1/widget/{key}/identify");
    for (body, code) in [
        (json!({"user_hash": "abc"}), "invalid_field"),
        (json!({"name": ""}), "invalid_field"),
        (json!({"name": "   "}), "invalid_field"),
        (json!({"email": "not an email"}), "invalid_field"),
    ] {
        let (status, error) = visitor.call("POST", &identify, Some(body.clone())).await;
        assert_eq!(
            (status, error["code"].as_str()),
            (400, Some(code)),
            "{body}"
        );
    }
    let (status, identified) = visitor
        .call(
            "POST",
            &identify,
            Some(json!({"name": "Ann", "email": "ann@example.com", "company": "Acme"})),
        )
        .await;
    assert_eq!(status, 200, "{identified}");
    // The same person, now identified by what they told, with their conversation.
    assert_eq!(identified["contact"]["id"], started["contact"]["id"]);
    assert_eq!(identified["contact"]["identity"], "identified");
    assert_eq!(identified["contact"]["name"], "Ann");
    assert_eq!(identified["contact"]["email"], "ann@example.com");
    assert_eq!(identified["profile"]["company"], "Acme");
    visitor.token = Some(identified["token"].as_str().unwrap().to_string());
    let (status, _) = visitor
        .call(
            "POST",
            &format!("/v1/conversations/{conversation}/messages"),
            Some(json!({"body": "It's Ann, about order 1234"})),
        )
        .await;
    assert_eq!(status, 201);
    let again = visitor.start(&key, "https://shop.example.com/", None).await;
    assert_eq!(again["contact"]["id"], started["contact"]["id"]);
    assert_eq!(again["conversation_id"], conversation);

    // Staff see the details on the contact of the chat.
    let (status, contact) = server
        .admin()
        .get(&format!(
            "/v1/contacts/{}/context",
            started["contact"]["id"].as_i64().unwrap()
        ))
        .await;
    assert_eq!(status, 200, "{contact}");
    assert_eq!(contact["contact"]["name"], "Ann", "{contact}");
}

both_backends!(
    visitors_see_the_name_and_photo_the_agent_chose_and_nothing_of_other_contacts,
    visitors_see_the_name_and_photo_the_agent_chose_and_nothing_of_other_contacts
);
async fn visitors_see_the_name_and_photo_the_agent_chose_and_nothing_of_other_contacts(
    backend: Backend,
) {
    let server = Server::start(backend).await;
    let admin = server.admin();
    for (body, status, code) in [
        (
            json!({"avatar_url": "javascript:alert(1)"}),
            400,
            "invalid_field",
        ),
        (
            json!({"avatar_url": "https://cdn.example.com/a b.png"}),
            400,
            "invalid_field",
        ),
        // Blocked by the pages' img-src, and mixed content on an https page.
        (
            json!({"avatar_url": "http://cdn.example.com/me.png"}),
            400,
            "invalid_field",
        ),
        (
            json!({"avatar_url": format!("https://cdn.example.com/{}", "a".repeat(2048))}),
            400,
            "invalid_field",
        ),
        (json!({"name": "   "}), 400, "invalid_field"),
        (json!({"name": "x".repeat(201)}), 413, "too_large"),
        (json!({"role": "owner"}), 400, "malformed_request"),
    ] {
        let (got, error) = admin.call("PATCH", "/v1/me", Some(body.clone())).await;
        assert_eq!(
            (got, error["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
    }
    let photo = "https://cdn.example.com/staff/sam.png";
    let (status, me) = admin
        .call(
            "PATCH",
            "/v1/me",
            Some(json!({"name": "Sam", "avatar_url": photo})),
        )
        .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(
        (me["name"].as_str(), me["avatar_url"].as_str()),
        (Some("Sam"), Some(photo))
    );
    let (_, me) = admin.get("/v1/me").await;
    assert_eq!(me["avatar_url"], photo);
    // What customers will see of the person is on record, with who changed it.
    let (_, log) = admin.get("/v1/audit?action=account.profile_changed").await;
    assert_eq!(
        (
            log[0]["target_id"].as_str(),
            log[0]["detail"]["avatar_url"].as_str()
        ),
        (Some(me["id"].to_string().as_str()), Some(photo)),
        "{log}"
    );

    let mut with_photos = settings(&["shop.example.com"]);
    with_photos["appearance"]["show_agent_photos"] = json!(true);
    let (site, key) = website(&server, "Shop", with_photos.clone()).await;
    let mut visitor = Browser::new(&server, SHOP);
    visitor.start(&key, "https://shop.example.com/", None).await;
    let (_, created) = visitor
        .call(
            "POST",
            "/v1/conversations",
            Some(json!({"kind": "support"})),
        )
        .await;
    let conversation = created["conversation"]["id"].as_i64().unwrap();
    let (status, _) = admin
        .post(
            &format!("/v1/conversations/{conversation}/messages"),
            json!({"body": "Hello, Sam here"}),
        )
        .await;
    assert_eq!(status, 201);
    let (status, detail) = visitor
        .call("GET", &format!("/v1/conversations/{conversation}"), None)
        .await;
    assert_eq!(status, 200, "{detail}");
    let people = detail["people"].as_array().unwrap();
    let staff: Vec<&Value> = people.iter().filter(|p| p["kind"] == "staff").collect();
    assert_eq!(staff.len(), 1, "{detail}");
    assert_eq!(
        (staff[0]["name"].as_str(), staff[0]["avatar_url"].as_str()),
        (Some("Sam"), Some(photo))
    );
    assert!(
        people
            .iter()
            .filter(|p| p["kind"] == "contact")
            .all(|p| p["avatar_url"].is_null()),
        "{detail}"
    );

    // With photos off for the website, visitors' browsers are not sent to the photo's host
    // at all; colleagues still see it.
    let mut without_photos = with_photos;
    without_photos["appearance"]["show_agent_photos"] = json!(false);
    let (status, body) = admin
        .call(
            "PUT",
            &format!("/v1/websites/{site}"),
            Some(json!({"settings": without_photos})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let path = format!("/v1/conversations/{conversation}");
    let (_, detail) = visitor.call("GET", &path, None).await;
    let staff_photos = |detail: &Value| -> Vec<Value> {
        detail["people"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["kind"] == "staff")
            .map(|p| p["avatar_url"].clone())
            .collect()
    };
    assert_eq!(staff_photos(&detail), vec![Value::Null], "{detail}");
    assert!(
        detail["people"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["kind"] == "staff" && p["name"] == "Sam"),
        "{detail}"
    );
    let (_, detail) = admin.get(&path).await;
    assert_eq!(staff_photos(&detail), vec![json!(photo)], "{detail}");

    // An empty URL removes the photo; the name stays.
    let (status, me) = admin
        .call("PATCH", "/v1/me", Some(json!({"avatar_url": ""})))
        .await;
    assert_eq!(status, 200, "{me}");
    assert!(me["avatar_url"].is_null(), "{me}");
    assert_eq!(me["name"], "Sam");
}

both_backends!(
    visits_are_enriched_and_agents_see_live_visitors_with_their_trail,
    visits_are_enriched_and_agents_see_live_visitors_with_their_trail
);
async fn visits_are_enriched_and_agents_see_live_visitors_with_their_trail(backend: Backend) {
    let server = Server::start(backend).await;
    let (site, key) = website(&server, "Shop", settings(&["shop.example.com"])).await;
    let mut visitor = Browser::new(&server, SHOP);
    let started = visitor
        .start(
            &key,
            "https://shop.example.com/shoes?utm_source=newsletter&utm_medium=email&utm_campaign=spring",
            Some("https://mail.example.org/"),
        )
        .await;
    let contact = started["contact"]["id"].as_i64().unwrap();
    for (path, title) in [("/shoes/red", "Red shoes"), ("/checkout", "Checkout")] {
        let (status, body) = visitor
            .call(
                "POST",
                &format!("/v1/widget/{key}/pageviews"),
                Some(json!({"url": format!("https://shop.example.com{path}"), "title": title})),
            )
            .await;
        assert_eq!(status, 204, "{body}");
    }
    let (status, body) = visitor
        .call(
            "POST",
            &format!("/v1/widget/{key}/events"),
            Some(json!({"name": "purchase", "properties": {"sku": "RS-1"}, "value": 59.5, "currency": "GBP"})),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = visitor
        .call(
            "PUT",
            &format!("/v1/widget/{key}/profile"),
            Some(json!({"name": "Ann", "fields": {"order": "1234"}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["contact"]["identity"], "partial");

    let (status, live) = server
        .admin()
        .get(&format!("/v1/websites/{site}/visitors"))
        .await;
    assert_eq!(status, 200, "{live}");
    let me = &live.as_array().unwrap()[0];
    assert_eq!(me["session"]["account_id"], contact);
    assert_eq!(
        me["session"]["current_url"],
        "https://shop.example.com/checkout"
    );
    assert_eq!(me["session"]["page_views"], 3);
    assert_eq!(me["returning"], false);
    assert_eq!(me["name"], "Ann");

    let (status, context) = server
        .admin()
        .get(&format!("/v1/contacts/{contact}/context"))
        .await;
    assert_eq!(status, 200, "{context}");
    let session = &context["sessions"][0];
    assert_eq!(session["traffic"]["source"], "email");
    assert_eq!(session["traffic"]["utm_campaign"], "spring");
    assert_eq!(session["device"]["browser"], "Chrome");
    assert_eq!(session["device"]["device_type"], "desktop");
    assert_eq!(session["screen_width"], 1440);
    assert_eq!(session["language"], "en-GB");
    let trail: Vec<&str> = context["page_trail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["title"].as_str().unwrap())
        .collect();
    assert_eq!(trail, ["Shop", "Red shoes", "Checkout"]);
    assert!(context["page_trail"][0]["duration_ms"].is_number());
    assert!(context["page_trail"][2]["duration_ms"].is_null());
    assert_eq!(context["events"][0]["name"], "purchase");
    assert_eq!(context["events"][0]["value"], 59.5);
    assert_eq!(context["profile"]["fields"]["order"], "1234");
    assert!(context["local_time"].as_str().unwrap().contains(':'));

    // Leaving ends the visit: no longer live.
    let (status, _) = visitor
        .call(
            "POST",
            &format!("/v1/widget/{key}/activity"),
            Some(json!({"visible": false})),
        )
        .await;
    assert_eq!(status, 204);
    let (_, live) = server
        .admin()
        .get(&format!("/v1/websites/{site}/visitors"))
        .await;
    assert!(live.as_array().unwrap().is_empty(), "{live}");
}

both_backends!(
    without_consent_nothing_is_tracked_but_the_visitor_can_still_chat,
    without_consent_nothing_is_tracked_but_the_visitor_can_still_chat
);
async fn without_consent_nothing_is_tracked_but_the_visitor_can_still_chat(backend: Backend) {
    let server = Server::start(backend).await;
    let mut config = settings(&["shop.example.com"]);
    config["privacy"] = json!({"consent_required": true, "ip_mode": "none"});
    let (site, key) = website(&server, "Shop", config).await;
    let browser = Browser::new(&server, SHOP);
    let (status, started) = browser
        .call(
            "POST",
            &format!("/v1/widget/{key}/visitors"),
            Some(json!({"page": {"url": "https://shop.example.com/"}, "consent": false})),
        )
        .await;
    assert_eq!(status, 200, "{started}");
    assert!(started["session_id"].is_null());
    let (_, live) = server
        .admin()
        .get(&format!("/v1/websites/{site}/visitors"))
        .await;
    assert!(live.as_array().unwrap().is_empty(), "{live}");
    let mut chat = Browser::new(&server, SHOP);
    chat.token = Some(started["token"].as_str().unwrap().to_string());
    let (status, error) = chat
        .call(
            "POST",
            &format!("/v1/widget/{key}/events"),
            Some(json!({"name": "purchase"})),
        )
        .await;
    assert_eq!((status, error["code"].as_str()), (409, Some("conflict")));
    let (status, _) = chat
        .call(
            "POST",
            "/v1/conversations",
            Some(json!({"kind": "support"})),
        )
        .await;
    assert_eq!(status, 201);

    // With consent, the visit is tracked; in no-IP mode no address is kept.
    let mut consented = Browser::new(&server, SHOP);
    consented.forwarded_for = Some("81.2.69.142");
    let started = consented
        .start(&key, "https://shop.example.com/", None)
        .await;
    assert!(started["session_id"].is_number());
    let contact = started["contact"]["id"].as_i64().unwrap();
    let (_, context) = server
        .admin()
        .get(&format!("/v1/contacts/{contact}/context"))
        .await;
    assert!(context["sessions"][0]["ip"].is_null(), "{context}");
}

both_backends!(
    the_offline_form_opens_a_pending_conversation_agents_see,
    the_offline_form_opens_a_pending_conversation_agents_see
);
async fn the_offline_form_opens_a_pending_conversation_agents_see(backend: Backend) {
    let server = Server::start(backend).await;
    let mut config = settings(&["shop.example.com"]);
    // Closed every day (no opening hours at all).
    config["business_hours"] = json!({"time_zone": "Europe/London", "weekly": {}, "holidays": []});
    let (site, key) = website(&server, "Shop", config).await;
    let mut visitor = Browser::new(&server, SHOP);
    let (_, widget) = visitor
        .call("GET", &format!("/v1/widget/{key}"), None)
        .await;
    assert_eq!(widget["status"]["open"], false, "{widget}");
    visitor.start(&key, "https://shop.example.com/", None).await;
    let (status, error) = visitor
        .call(
            "POST",
            &format!("/v1/widget/{key}/offline"),
            Some(json!({"email": "not-an-email", "message": "Hi"})),
        )
        .await;
    assert_eq!(status, 400, "{error}");
    let (status, received) = visitor
        .call(
            "POST",
            &format!("/v1/widget/{key}/offline"),
            Some(json!({"name": "Ann", "email": "ann@example.com", "message": "Call me back"})),
        )
        .await;
    assert_eq!(status, 201, "{received}");
    let conversation = received["conversation_id"].as_i64().unwrap();
    let (_, inbox) = server
        .admin()
        .get(&format!("/v1/inbox?status=pending&website_id={site}"))
        .await;
    assert_eq!(
        inbox["items"][0]["conversation"]["id"], conversation,
        "{inbox}"
    );
    assert_eq!(
        server.admin().bodies(conversation).await,
        vec!["Call me back".to_string()]
    );
}

both_backends!(
    a_websites_own_rate_limit_refuses_visitors_past_it,
    a_websites_own_rate_limit_refuses_visitors_past_it
);
async fn a_websites_own_rate_limit_refuses_visitors_past_it(backend: Backend) {
    let server = Server::start_with(backend, &[("NATTER_TRUST_FORWARDED_FOR", "true")]).await;
    let mut config = settings(&["shop.example.com"]);
    config["rate_limits"] = json!({"visitors_per_ip": 2, "messages_per_visitor": 1});
    let (_, key) = website(&server, "Shop", config).await;
    let mut last = None;
    for _ in 0..2 {
        let mut b = Browser::new(&server, SHOP);
        b.forwarded_for = Some("203.0.113.9");
        b.start(&key, "https://shop.example.com/", None).await;
        last = b.token;
    }
    let mut third = Browser::new(&server, SHOP);
    third.forwarded_for = Some("203.0.113.9");
    let (status, error, headers) = third
        .raw(
            "POST",
            &format!("/v1/widget/{key}/visitors"),
            Some(json!({})),
        )
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (429, Some("rate_limited"))
    );
    assert!(headers.contains_key("retry-after"));
    // Another address is not affected.
    let mut other = Browser::new(&server, SHOP);
    other.forwarded_for = Some("203.0.113.10");
    other.start(&key, "https://shop.example.com/", None).await;

    // One message per minute for this website's visitors.
    let mut chat = Browser::new(&server, SHOP);
    chat.token = last;
    let (_, created) = chat
        .call(
            "POST",
            "/v1/conversations",
            Some(json!({"kind": "support"})),
        )
        .await;
    let conversation = created["conversation"]["id"].as_i64().unwrap();
    let path = format!("/v1/conversations/{conversation}/messages");
    let (status, _) = chat.call("POST", &path, Some(json!({"body": "one"}))).await;
    assert_eq!(status, 201);
    let (status, error) = chat.call("POST", &path, Some(json!({"body": "two"}))).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (429, Some("rate_limited"))
    );
}

/// MaxMind's official test database, fetched by `scripts/test-data.sh` (which `make test`
/// runs first). Missing data fails the test rather than skipping it.
fn geoip_test_database() -> std::path::PathBuf {
    let path = std::env::var_os("NATTER_TEST_GEOIP")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../target/test-data/GeoIP2-City-Test.mmdb")
        });
    assert!(
        path.is_file(),
        "{} is missing: run scripts/test-data.sh",
        path.display()
    );
    path
}

both_backends!(
    a_visitors_place_comes_from_the_configured_geoip_database,
    a_visitors_place_comes_from_the_configured_geoip_database
);
async fn a_visitors_place_comes_from_the_configured_geoip_database(backend: Backend) {
    let database = geoip_test_database();
    let server = Server::start_with(
        backend,
        &[
            ("NATTER_TRUST_FORWARDED_FOR", "true"),
            ("NATTER_GEOIP_DATABASE", database.to_str().unwrap()),
        ],
    )
    .await;
    let mut config = settings(&["shop.example.com"]);
    config["privacy"] = json!({"consent_required": false, "ip_mode": "truncated"});
    let (_, key) = website(&server, "Shop", config).await;
    let mut visitor = Browser::new(&server, SHOP);
    visitor.forwarded_for = Some("81.2.69.142");
    let started = visitor.start(&key, "https://shop.example.com/", None).await;
    let contact = started["contact"]["id"].as_i64().unwrap();
    let (_, context) = server
        .admin()
        .get(&format!("/v1/contacts/{contact}/context"))
        .await;
    let session = &context["sessions"][0];
    assert_eq!(session["location"]["city"], "London", "{context}");
    assert_eq!(session["location"]["country_code"], "GB");
    assert_eq!(session["location"]["time_zone"], "Europe/London");
    // Truncated: the last octet is gone.
    assert_eq!(session["ip"], "81.2.69.0");
}

both_backends!(
    staff_hear_visitors_arrive_move_and_leave_and_new_chats_open,
    staff_hear_visitors_arrive_move_and_leave_and_new_chats_open
);
async fn staff_hear_visitors_arrive_move_and_leave_and_new_chats_open(backend: Backend) {
    let server = Server::start(backend).await;
    let (site, key) = website(&server, "Shop", settings(&["shop.example.com"])).await;
    let mut agent = common::Client::connect(&server, &server.token, None).await;

    let mut visitor = Browser::new(&server, SHOP);
    let started = visitor
        .start(
            &key,
            "https://shop.example.com/",
            Some("https://www.google.com/"),
        )
        .await;
    let arrived = agent.next_of("visitor").await;
    assert_eq!(arrived["action"], "arrived");
    assert_eq!(arrived["website_id"], site);
    assert_eq!(
        arrived["visitor"]["session"]["account_id"],
        started["contact"]["id"]
    );
    assert_eq!(
        arrived["visitor"]["session"]["traffic"]["source"],
        "organic_search"
    );

    visitor
        .call(
            "POST",
            &format!("/v1/widget/{key}/pageviews"),
            Some(json!({"url": "https://shop.example.com/pricing", "title": "Pricing"})),
        )
        .await;
    let moved = agent.next_of("visitor").await;
    assert_eq!(moved["action"], "page");
    assert_eq!(moved["visitor"]["session"]["current_title"], "Pricing");

    let (_, created) = visitor
        .call(
            "POST",
            "/v1/conversations",
            Some(json!({"kind": "support"})),
        )
        .await;
    let opened = agent.next_of("inbox_changed").await;
    assert_eq!(opened["conversation"]["id"], created["conversation"]["id"]);

    visitor
        .call(
            "POST",
            &format!("/v1/widget/{key}/activity"),
            Some(json!({"visible": false})),
        )
        .await;
    let left = agent.next_of("visitor").await;
    assert_eq!(left["action"], "left");
}
