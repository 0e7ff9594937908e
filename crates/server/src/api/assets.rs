//! The browser assets `npm run build` produces (`web/dist`): the widget loader at its stable
//! URL `/widget.js` (revalidated often, so fixes reach every site), the content-hashed
//! widget app under `/widget/` (cached for a year: a new build has a new name), and the agent
//! workspace under `/app` — a single-page app whose `index.html` answers every `/app` path
//! that is not one of its files, so client-side routes (`/app/inbox/12`) can be reloaded.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path as UrlPath, Request};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use natter_core::{Error, ErrorCode};
use tower::ServiceExt;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

use super::ApiError;
use crate::app::App;

/// Hashed files never change under their name.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// The workspace page names the current hashed files: always revalidate it.
const NO_CACHE: &str = "no-cache";
/// The workspace talks only to its own origin (REST and WebSocket) and loads nothing inline;
/// images may come from https (logos in the widget preview) and data: (favicon badge).
const WORKSPACE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data: https:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// Where the built assets are: the configured folder, else the source tree's `web/dist`.
pub fn assets_dir(app: &App) -> PathBuf {
    if app.config.web.assets_dir.is_empty() {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../web/dist"))
    } else {
        PathBuf::from(&app.config.web.assets_dir)
    }
}

fn cache(value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static(value))
}

pub fn router(app: &Arc<App>) -> Router<Arc<App>> {
    let dir = assets_dir(app);
    if !dir.join("widget.js").is_file() {
        tracing::warn!(
            dir = %dir.display(),
            "the widget is not built (run `npm ci && npm run build` in web/, as `make run` does); /widget.js answers 404"
        );
    }
    if !dir.join("app").join("index.html").is_file() {
        tracing::warn!(
            dir = %dir.display(),
            "the agent workspace is not built (run `npm ci && npm run build` in web/); /app answers 404"
        );
    }
    // The loader is embedded in every customer page: let it be used from any origin.
    let loader = tower::ServiceBuilder::new()
        .layer(cache("public, max-age=300"))
        .layer(SetResponseHeaderLayer::overriding(
            header::HeaderName::from_static("cross-origin-resource-policy"),
            HeaderValue::from_static("cross-origin"),
        ))
        .service(ServeFile::new(dir.join("widget.js")));
    let hashed = tower::ServiceBuilder::new()
        .layer(cache(IMMUTABLE))
        .layer(SetResponseHeaderLayer::overriding(
            header::HeaderName::from_static("cross-origin-resource-policy"),
            HeaderValue::from_static("cross-origin"),
        ))
        .service(ServeDir::new(dir.join("widget")));
    let workspace = Arc::new(dir.join("app"));
    let (root, slash, any) = (Arc::clone(&workspace), Arc::clone(&workspace), workspace);
    Router::new()
        .route_service("/widget.js", loader)
        .nest_service("/widget", hashed)
        .route(
            "/app",
            get(move |req: Request| workspace_file(Arc::clone(&root), None, req)),
        )
        .route(
            "/app/",
            get(move |req: Request| workspace_file(Arc::clone(&slash), None, req)),
        )
        .route(
            "/app/{*path}",
            get(move |UrlPath(path): UrlPath<String>, req: Request| {
                workspace_file(Arc::clone(&any), Some(path), req)
            }),
        )
}

/// A name the build writes into `dist/app` (`app.<hash>.js`, `manifest.json` …): one path
/// segment with an extension. Everything else under `/app` is a client-side route.
fn is_file_name(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('.')
        && path.contains('.')
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
}

/// Serves `/app/<file>` from `dist/app` (cached for a year), and `index.html` (never cached)
/// for every other `/app` path. A missing file is a 404, not the page: a stale hashed name
/// must not be answered with HTML.
async fn workspace_file(dir: Arc<PathBuf>, path: Option<String>, req: Request) -> Response {
    let requested = path
        .as_deref()
        .filter(|p| is_file_name(p) && *p != "index.html");
    match requested {
        Some(name) => {
            let file = dir.join(name);
            if !file.is_file() {
                return not_built(&format!("no such file: /app/{name}"));
            }
            serve(&file, req, IMMUTABLE, None).await
        }
        None => {
            let index = dir.join("index.html");
            if !index.is_file() {
                return not_built(
                    "the agent workspace is not built: run `npm ci && npm run build` in web/",
                );
            }
            serve(&index, req, NO_CACHE, Some(WORKSPACE_CSP)).await
        }
    }
}

async fn serve(
    file: &Path,
    req: Request,
    cache: &'static str,
    csp: Option<&'static str>,
) -> Response {
    let mut response = match ServeFile::new(file).oneshot(req).await {
        Ok(r) => r.map(axum::body::Body::new),
        Err(never) => match never {},
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Some(csp) = csp {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(csp),
        );
    }
    response
}

fn not_built(message: &str) -> Response {
    ApiError(Error::new(ErrorCode::NotFound, message)).into_response()
}

#[cfg(test)]
mod tests {
    use super::is_file_name;

    #[test]
    fn hashed_names_are_files_and_routes_are_not() {
        assert!(is_file_name("app.G2ZWIIHW.js"));
        assert!(is_file_name("app.54P362EG.css"));
        assert!(is_file_name("manifest.json"));
        assert!(!is_file_name("inbox"));
        assert!(!is_file_name("inbox/12"));
        assert!(!is_file_name("settings/websites"));
        assert!(!is_file_name("../secret.txt"));
        assert!(!is_file_name(".env"));
        assert!(!is_file_name(""));
    }
}
