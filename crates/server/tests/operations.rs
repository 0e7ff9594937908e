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

/// Runs `natter serve` on a fresh SQLite directory and returns the process with the lines it
/// printed up to "natter listening on".
fn serve_printing(data_dir: &std::path::Path) -> (std::process::Child, Vec<String>) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_natter"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NATTER_DATA_DIR", data_dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    loop {
        let line = lines.next().expect("natter exited during start").unwrap();
        let done = line.starts_with("natter listening on ");
        printed.push(line);
        if done {
            break;
        }
    }
    // Keep draining stdout so the process never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, printed)
}

#[tokio::test]
async fn the_first_start_prints_an_admin_password_that_signs_in_to_the_web_app() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, printed) = serve_printing(dir.path());
    let base = printed
        .last()
        .unwrap()
        .strip_prefix("natter listening on ")
        .unwrap()
        .to_string();
    // The token line stays as it was (web/e2e/harness.mjs reads it).
    assert!(
        printed
            .iter()
            .any(|l| l.starts_with("first admin API token (also in ") && l.contains("): nat_")),
        "{printed:?}"
    );
    let login_file = dir.path().join("first-admin-login");
    let expected_start = format!("sign in at {base}/app as admin@localhost with password ");
    let line = printed
        .iter()
        .find(|l| l.starts_with("sign in at "))
        .unwrap_or_else(|| panic!("no sign-in line in {printed:?}"));
    let password = line
        .strip_prefix(&expected_start)
        .and_then(|rest| rest.strip_suffix(&format!(" (also in {})", login_file.display())))
        .unwrap_or_else(|| panic!("{line}"));
    assert!(
        password.len() >= 16 && !password.contains(' '),
        "{password}"
    );

    // The same login is saved for the operator alone.
    let saved = std::fs::read_to_string(&login_file).unwrap();
    assert_eq!(saved, format!("admin@localhost\n{password}\n"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&login_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let http = reqwest::Client::new();
    let response = http
        .post(format!("{base}/v1/auth/login"))
        .json(&serde_json::json!({"email": "admin@localhost", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let session: serde_json::Value = response.json().await.unwrap();
    assert_eq!(session["state"], "active", "{session}");
    assert_eq!(session["account"]["role"], "owner", "{session}");
    child.kill().unwrap();
    child.wait().unwrap();

    // A later start creates nothing and prints no password.
    let (mut child, printed) = serve_printing(dir.path());
    assert!(
        !printed.iter().any(|l| l.starts_with("sign in at ")),
        "{printed:?}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

both_backends!(
    the_first_owners_saved_password_signs_in,
    the_first_owners_saved_password_signs_in
);
async fn the_first_owners_saved_password_signs_in(backend: Backend) {
    let server = Server::start(backend).await;
    let saved = std::fs::read_to_string(server.data_dir().join("first-admin-login")).unwrap();
    let (email, password) = saved.trim_end().split_once('\n').unwrap();
    let response = reqwest::Client::new()
        .post(format!("{}/v1/auth/login", server.base))
        .json(&serde_json::json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let session: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        session["account"]["id"],
        server.admin().me().await,
        "{session}"
    );
}
