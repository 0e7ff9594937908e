//! Prometheus metrics at `GET /metrics`.
//!
//! Counters and histograms are recorded where things happen (messages in, deliveries and
//! their latency in the fan-out, bus drops); gauges that describe current state (connections,
//! pool, Redis) are read at scrape time, so they cost nothing between scrapes.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::app::App;

/// Latency buckets in seconds: sub-millisecond to a few seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Installs the process-wide recorder; `None` if one is installed already.
pub fn install() -> Option<PrometheusHandle> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Suffix("_latency_seconds".to_string()),
            LATENCY_BUCKETS,
        )
        .ok()?
        .install_recorder()
        .ok()
}

pub fn router() -> Router<Arc<App>> {
    Router::new().route("/metrics", get(render))
}

async fn render(State(app): State<Arc<App>>) -> impl IntoResponse {
    let Some(handle) = &app.metrics else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics recorder not installed",
        )
            .into_response();
    };
    metrics::gauge!("natter_connections").set(app.hub.connections() as f64);
    metrics::gauge!("natter_slow_consumers_total").set(app.hub.slow_consumers() as f64);
    let (size, idle) = app.store.pool_stats();
    metrics::gauge!("natter_db_pool_connections").set(f64::from(size));
    metrics::gauge!("natter_db_pool_idle_connections").set(idle as f64);
    if let Some(up) = app.fanout.bus_healthy() {
        metrics::gauge!("natter_redis_up").set(if up { 1.0 } else { 0.0 });
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response()
}
