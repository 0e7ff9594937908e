//! What an operator relies on: probes, the API document, configuration, logs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, Server};

both_backends!(
    probes_and_the_api_reference_are_served,
    probes_and_the_api_reference_are_served
);
async fn probes_and_the_api_reference_are_served(backend: Backend) {
    let server = Server::start(backend).await;
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("{}{path}", server.base)).send();

    let health = get("/healthz").await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = get("/readyz").await.unwrap();
    assert_eq!(ready.status(), 200);
    let ready: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(ready["database"], true);

    let doc: serde_json::Value = get("/openapi.json").await.unwrap().json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(doc["paths"]["/v1/conversations"]["post"].is_object());
    let docs = get("/docs").await.unwrap();
    assert_eq!(docs.status(), 200);
    // The interactive reference embeds the same document.
    let page = docs.text().await.unwrap();
    assert!(
        page.contains("api-reference") && page.contains("/v1/conversations"),
        "{page}"
    );

    let missing = get("/v1/nothing-here").await.unwrap();
    assert_eq!(missing.status(), 404);
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["code"], "not_found");
}

#[tokio::test]
async fn json_logs_are_one_json_object_per_line() {
    let server = Server::start_with(Backend::Sqlite, &[("NATTER_LOG_FORMAT", "json")]).await;
    server.admin().get("/v1/me").await;
    let log = server.stderr();
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty());
    for line in lines {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(value["level"].is_string(), "{line}");
    }
}

#[test]
fn a_bad_setting_stops_the_server_with_a_clear_message() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_natter"))
        .args(["migrate"])
        .env("NATTER_LIMITS_PAGE_MAX", "many")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("NATTER_LIMITS_PAGE_MAX"), "{stderr}");
}

#[test]
fn a_configuration_file_is_read_and_migrate_creates_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("natter.toml");
    let data = dir.path().join("state");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\n[database]\nsqlite_synchronous = \"normal\"\n",
            data
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_natter"))
        .args(["--config", config.to_str().unwrap(), "migrate"])
        .env_remove("NATTER_DATABASE_URL")
        .env_remove("NATTER_DATA_DIR")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(data.join("natter.db").exists());
}
