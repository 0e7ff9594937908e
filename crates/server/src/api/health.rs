//! Probes for orchestrators and load balancers.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::App;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` when a dependency does not answer.
    pub status: &'static str,
    /// Whether the database answered.
    pub database: bool,
    /// Live real-time connections on this node.
    pub connections: usize,
    /// `up`, `down`, or `disabled` (a single node without Redis). A node keeps serving while
    /// Redis is down (events are filled from storage), so this does not affect `status`.
    pub redis: &'static str,
}

/// The process is up (it answers HTTP). Says nothing about dependencies.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process is up")))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// The node can serve: the database answers. 503 otherwise, so a load balancer stops
/// sending traffic here.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn readyz(State(app): State<Arc<App>>) -> (StatusCode, Json<Health>) {
    let database = !app.shutdown.is_cancelled() && app.store.ping().await;
    let status = if database {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let health = Health {
        status: if database { "ok" } else { "unavailable" },
        database,
        connections: app.hub.connections(),
        redis: match app.fanout.bus_healthy() {
            None => "disabled",
            Some(true) => "up",
            Some(false) => "down",
        },
    };
    (status, Json(health))
}
