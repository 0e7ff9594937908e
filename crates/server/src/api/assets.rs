//! The browser assets `npm run build` produces (`web/dist`): the widget loader at its stable
//! URL `/widget.js` (revalidated often, so fixes reach every site), and the content-hashed
//! widget app under `/widget/` (cached for a year: a new build has a new name).

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, header};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::app::App;

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
    // The loader is embedded in every customer page: let it be used from any origin.
    let loader = tower::ServiceBuilder::new()
        .layer(cache("public, max-age=300"))
        .layer(SetResponseHeaderLayer::overriding(
            header::HeaderName::from_static("cross-origin-resource-policy"),
            HeaderValue::from_static("cross-origin"),
        ))
        .service(ServeFile::new(dir.join("widget.js")));
    let hashed = tower::ServiceBuilder::new()
        .layer(cache("public, max-age=31536000, immutable"))
        .layer(SetResponseHeaderLayer::overriding(
            header::HeaderName::from_static("cross-origin-resource-policy"),
            HeaderValue::from_static("cross-origin"),
        ))
        .service(ServeDir::new(dir.join("widget")));
    Router::new()
        .route_service("/widget.js", loader)
        .nest_service("/widget", hashed)
}
