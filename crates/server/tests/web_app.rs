//! The agent workspace at `/app`: its page answers every client-side route (so a reload of
//! `/app/inbox/12` works), never cached; its content-hashed files are cached for a year; a
//! stale hashed name is a 404, not the page.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, Server};

async fn get(base: &str, path: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{base}{path}"))
        .send()
        .await
        .unwrap()
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_app_route_answers_the_page_and_hashed_files_are_cached_for_a_year() {
    let dist = tempfile::tempdir().unwrap();
    let app = dist.path().join("app");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(
        app.join("index.html"),
        "<!doctype html><title>natter</title><div id=\"app\"></div>",
    )
    .unwrap();
    std::fs::write(app.join("app.TESTHASH.js"), "console.log('workspace');").unwrap();
    let dir = dist.path().to_str().unwrap().to_string();
    let server = Server::start_with(Backend::Sqlite, &[("NATTER_WEB_ASSETS_DIR", &dir)]).await;

    for path in [
        "/app",
        "/app/",
        "/app/login",
        "/app/inbox",
        "/app/inbox/12",
        "/app/settings/websites",
    ] {
        let response = get(&server.base, path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert!(
            header(&response, "content-type").starts_with("text/html"),
            "{path}"
        );
        assert_eq!(header(&response, "cache-control"), "no-cache", "{path}");
        assert!(
            header(&response, "content-security-policy").contains("default-src 'self'"),
            "{path}"
        );
        assert!(
            response.text().await.unwrap().contains("id=\"app\""),
            "{path}"
        );
    }

    let script = get(&server.base, "/app/app.TESTHASH.js").await;
    assert_eq!(script.status(), 200);
    assert!(header(&script, "content-type").contains("javascript"));
    assert_eq!(
        header(&script, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(script.text().await.unwrap(), "console.log('workspace');");

    let stale = get(&server.base, "/app/app.OLDHASH.js").await;
    assert_eq!(stale.status(), 404);
    let body: serde_json::Value = stale.json().await.unwrap();
    assert_eq!(body["code"], "not_found");

    // Outside /app nothing changed: unknown API routes are still JSON 404s.
    let api = get(&server.base, "/v1/no-such-route").await;
    assert_eq!(api.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_built_workspace_is_served_when_web_dist_exists() {
    let dist = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/dist");
    if !dist.join("app").join("index.html").is_file() {
        eprintln!("skipped: web/dist/app is not built (npm run build in web/)");
        return;
    }
    let dir = dist.to_str().unwrap().to_string();
    let server = Server::start_with(Backend::Sqlite, &[("NATTER_WEB_ASSETS_DIR", &dir)]).await;
    let page = get(&server.base, "/app/inbox").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let script = html
        .split("src=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page names its script");
    assert!(script.starts_with("/app/app."), "{script}");
    let js = get(&server.base, script).await;
    assert_eq!(js.status(), 200);
    assert!(header(&js, "cache-control").contains("max-age=31536000"));
}
