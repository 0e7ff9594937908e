//! Verified contacts end to end: HMAC `user_hash`, host-platform JWTs (HS256 with a shared
//! secret; ES256 with a PEM key and through a JWKS URL served by a real local HTTP server),
//! refusal of unproven claims on verified users, and a workspace that requires verification
//! — on both backends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, Server};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// A P-256 key pair made for these tests only (`openssl ecparam -name prime256v1`).
const EC_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgcDn7kQOAaZgQKTUv
2hO7q4jf5oYoggmjJtj1WEdeV7mhRANCAAR7HxGYDEhAFKYSj4IPyV2Vdy+JoyMT
379BIrQXM/gT08horRetlkpTJTgVaW1US7MJSocP5OLKNovwEEv+ykKY
-----END PRIVATE KEY-----
";
const EC_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEex8RmAxIQBSmEo+CD8ldlXcviaMj
E9+/QSK0FzP4E9PIaK0XrZZKUyU4FWltVEuzCUqHD+TiyjaL8BBL/spCmA==
-----END PUBLIC KEY-----
";
const EC_X: &str = "ex8RmAxIQBSmEo-CD8ldlXcviaMjE9-_QSK0FzP4E9M";
const EC_Y: &str = "yGitF62WSlMlOBVpbVRLswlKhw_k4so2i_AQS_7KQpg";
const HS_SECRET: &str = "a shared secret of at least thirty-two bytes";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn hs256(claims: Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(HS_SECRET.as_bytes()),
    )
    .unwrap()
}

fn es256(claims: Value, kid: Option<&str>) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = kid.map(str::to_string);
    jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_ec_pem(EC_PRIVATE.as_bytes()).unwrap(),
    )
    .unwrap()
}

async fn identify(server: &Server, body: Value) -> (u16, Value) {
    server.api("").post("/v1/contacts/identify", body).await
}

/// A contact token may open a support chat and post in it.
async fn can_chat(server: &Server, token: &str) -> u16 {
    let contact = server.api(token);
    let (status, body) = contact
        .post("/v1/conversations", json!({"kind": "support"}))
        .await;
    if status != 201 {
        return status;
    }
    let id = body["conversation"]["id"].as_i64().unwrap();
    contact
        .post(
            &format!("/v1/conversations/{id}/messages"),
            json!({"body": "hi"}),
        )
        .await
        .0
}

both_backends!(
    a_correct_user_hash_verifies_a_contact_and_a_wrong_one_is_refused,
    a_correct_user_hash_verifies_a_contact_and_a_wrong_one_is_refused
);
async fn a_correct_user_hash_verifies_a_contact_and_a_wrong_one_is_refused(backend: Backend) {
    let server = Server::start(backend).await;
    let (status, secret) = server
        .admin()
        .post("/v1/workspace/contact-identity/hmac-secret", json!(null))
        .await;
    assert_eq!(status, 200);
    let secret = secret["secret"].as_str().unwrap();
    let hash = natter_server::contact_identity::user_hash(secret.as_bytes(), "user-42").unwrap();
    let (_, me) = server.admin().get("/v1/me").await;
    let workspace = me["workspace_id"].as_i64().unwrap();

    let (status, body) = identify(
        &server,
        json!({"workspace_id": workspace, "user_id": "user-42", "user_hash": "00ff", "name": "Ann"}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("unauthenticated"))
    );

    let (status, body) = identify(
        &server,
        json!({"workspace_id": workspace, "user_id": "user-42", "user_hash": hash, "name": "Ann"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["contact"]["identity"], "verified");
    assert_eq!(body["contact"]["external_id"], "user-42");
    assert_eq!(
        can_chat(&server, body["token"].as_str().unwrap()).await,
        201
    );

    // An unproven claim to the same id is refused rather than merged into the verified
    // contact's history.
    let (status, refused) = identify(
        &server,
        json!({"workspace_id": workspace, "user_id": "user-42"}),
    )
    .await;
    assert_eq!((status, refused["code"].as_str()), (403, Some("forbidden")));
    // Settings never return the secret.
    let (_, settings) = server.admin().get("/v1/workspace/contact-identity").await;
    assert_eq!(settings["hmac_configured"], true);
    assert!(!settings.to_string().contains(secret));
}

both_backends!(
    platform_jwts_verify_contacts_and_bad_ones_are_refused_for_the_right_reason,
    platform_jwts_verify_contacts_and_bad_ones_are_refused_for_the_right_reason
);
async fn platform_jwts_verify_contacts_and_bad_ones_are_refused_for_the_right_reason(
    backend: Backend,
) {
    let server = Server::start(backend).await;
    let admin = server.admin();
    let workspace = admin.get("/v1/me").await.1["workspace_id"]
        .as_i64()
        .unwrap();
    let (status, body) = admin
        .call(
            "PUT",
            "/v1/workspace/contact-identity",
            Some(json!({"require_verified": false, "jwt": {"algorithm": "HS256", "secret": "short"}})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_field")),
        "weak secret"
    );
    let (status, _) = admin
        .call(
            "PUT",
            "/v1/workspace/contact-identity",
            Some(json!({"require_verified": false, "jwt": {
                "algorithm": "HS256", "secret": HS_SECRET,
                "issuer": "https://market.test", "audience": "natter"}})),
        )
        .await;
    assert_eq!(status, 200);

    let good = json!({"sub": "seller-9", "name": "Sel", "email": "sel@market.test",
                      "iss": "https://market.test", "aud": "natter", "exp": now() + 300});
    let (status, body) = identify(
        &server,
        json!({"workspace_id": workspace, "token": hs256(good.clone())}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["contact"]["identity"], "verified");
    assert_eq!(body["contact"]["email"], "sel@market.test");

    let mut cases = Vec::new();
    let mut expired = good.clone();
    expired["exp"] = json!(now() - 3600);
    cases.push((hs256(expired), "expired"));
    let mut wrong_aud = good.clone();
    wrong_aud["aud"] = json!("someone-else");
    cases.push((hs256(wrong_aud), "audience"));
    let mut wrong_iss = good.clone();
    wrong_iss["iss"] = json!("https://evil.test");
    cases.push((hs256(wrong_iss), "issuer"));
    cases.push((es256(good.clone(), None), "algorithm"));
    let forged = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &good,
        &EncodingKey::from_secret(b"not the shared secret at all, no"),
    )
    .unwrap();
    cases.push((forged, "signature"));
    for (token, why) in cases {
        let (status, body) =
            identify(&server, json!({"workspace_id": workspace, "token": token})).await;
        assert_eq!(status, 401, "{why}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains(why),
            "{why}: {body}"
        );
    }
}

both_backends!(
    es256_tokens_verify_with_a_pem_key_and_with_a_jwks_url,
    es256_tokens_verify_with_a_pem_key_and_with_a_jwks_url
);
async fn es256_tokens_verify_with_a_pem_key_and_with_a_jwks_url(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin();
    let workspace = admin.get("/v1/me").await.1["workspace_id"]
        .as_i64()
        .unwrap();
    let claims = json!({"sub": "buyer-1", "exp": now() + 300});

    let (status, _) = admin
        .call(
            "PUT",
            "/v1/workspace/contact-identity",
            Some(json!({"require_verified": true, "jwt": {"algorithm": "ES256", "public_key": EC_PUBLIC}})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = identify(
        &server,
        json!({"workspace_id": workspace, "token": es256(claims.clone(), None)}),
    )
    .await;
    assert_eq!(
        (status, body["contact"]["identity"].as_str()),
        (200, Some("verified")),
        "{body}"
    );

    // The same through a JWKS document served by the platform (a real HTTP server here).
    let jwks = json!({"keys": [{"kty": "EC", "crv": "P-256", "x": EC_X, "y": EC_Y,
                                 "kid": "k1", "alg": "ES256", "use": "sig"}]});
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            let jwks = jwks.clone();
            async move { axum::Json(jwks) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let (status, body) = admin
        .call(
            "PUT",
            "/v1/workspace/contact-identity",
            Some(json!({"require_verified": true, "jwt": {"algorithm": "ES256", "jwks_url": url}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = identify(
        &server,
        json!({"workspace_id": workspace, "token": es256(claims.clone(), Some("k1"))}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = identify(
        &server,
        json!({"workspace_id": workspace, "token": es256(claims, Some("other"))}),
    )
    .await;
    assert_eq!(status, 401, "an unknown key id");
}

both_backends!(
    a_workspace_that_requires_verification_refuses_unverified_contacts_everywhere,
    a_workspace_that_requires_verification_refuses_unverified_contacts_everywhere
);
async fn a_workspace_that_requires_verification_refuses_unverified_contacts_everywhere(
    backend: Backend,
) {
    let server = Server::start(backend).await;
    let admin = server.admin();
    let workspace = admin.get("/v1/me").await.1["workspace_id"]
        .as_i64()
        .unwrap();
    // Before the requirement: an anonymous visitor and an unproven claim both get in.
    let (status, anonymous) = identify(&server, json!({"workspace_id": workspace})).await;
    assert_eq!(status, 200);
    assert_eq!(anonymous["contact"]["identity"], "anonymous");
    let (_, claimed) = identify(
        &server,
        json!({"workspace_id": workspace, "user_id": "u1", "name": "U"}),
    )
    .await;
    assert_eq!(claimed["contact"]["identity"], "identified");
    let claimed_token = claimed["token"].as_str().unwrap().to_string();
    assert_eq!(can_chat(&server, &claimed_token).await, 201);

    let (status, _) = admin
        .call(
            "PUT",
            "/v1/workspace/contact-identity",
            Some(json!({"require_verified": true})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = identify(&server, json!({"workspace_id": workspace})).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    let (status, _) = identify(&server, json!({"workspace_id": workspace, "user_id": "u2"})).await;
    assert_eq!(status, 403);
    // A token issued before the requirement no longer lets the unverified contact chat.
    assert_eq!(can_chat(&server, &claimed_token).await, 403);
    // Contacts vouched for by the platform's backend (staff token + external id) are verified.
    let (_, vouched) = admin
        .post("/v1/contacts", json!({"external_id": "u3"}))
        .await;
    assert_eq!(vouched["identity"], "verified");
    let id = vouched["id"].as_i64().unwrap();
    let (_, token) = admin
        .post(&format!("/v1/contacts/{id}/tokens"), json!(null))
        .await;
    assert_eq!(
        can_chat(&server, token["token"].as_str().unwrap()).await,
        201
    );
}
