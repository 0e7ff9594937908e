//! The OpenAPI 3.1 document, generated from the handlers' annotations and the domain types,
//! served at `/openapi.json` with an interactive reference at `/docs`.

use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_scalar::{Scalar, Servable};

use super::{
    accounts, admin, auth, conversations, desk, health, identify, messages, routing, sso, websites,
    widget,
};
use crate::app::App;
use crate::gateway;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "natter",
        description = "Self-hosted real-time messaging. REST API v1; the real-time protocol \
                       (WebSocket at /v1/ws, SSE at /v1/events) is described in \
                       docs/protocol.md and its frame types are among the schemas here."
    ),
    paths(
        health::healthz,
        health::readyz,
        accounts::me,
        accounts::edit_me,
        accounts::create_staff,
        accounts::create_token,
        accounts::upsert_contact,
        accounts::create_contact_token,
        conversations::create,
        conversations::list,
        conversations::show,
        conversations::update,
        conversations::add_participant,
        conversations::remove_participant,
        messages::history,
        messages::post_message,
        messages::edit,
        messages::delete_message,
        messages::add_reaction,
        messages::remove_reaction,
        messages::read,
        messages::delivered,
        messages::typing,
        gateway::sse::events,
        gateway::sse::frames,
        auth::login,
        auth::second_factor,
        auth::logout,
        auth::current_session,
        auth::sessions,
        auth::revoke_session,
        auth::change_password,
        auth::request_reset,
        auth::confirm_reset,
        auth::accept_invitation,
        auth::totp_setup,
        auth::totp_enable,
        auth::totp_disable,
        admin::invite,
        admin::update_staff,
        admin::deactivate,
        admin::list_tokens,
        admin::revoke_token,
        admin::security,
        admin::update_security,
        admin::audit,
        identify::identify,
        identify::settings,
        identify::update_settings,
        identify::rotate_secret,
        sso::settings,
        sso::update_settings,
        sso::status,
        sso::start,
        sso::callback,
        websites::list,
        websites::create,
        websites::show,
        websites::update,
        websites::remove,
        websites::rotate_secret,
        websites::live_visitors,
        websites::context,
        widget::config,
        widget::start,
        widget::identify,
        widget::profile,
        widget::page_view,
        widget::activity,
        widget::track,
        widget::offline,
        routing::queue,
        routing::take,
        routing::agents,
        routing::set_state,
        routing::teams,
        routing::create_team,
        routing::update_team,
        routing::rules,
        routing::set_rules,
        routing::transfer,
        routing::accept_transfer,
        routing::decline_transfer,
        desk::inbox,
        desk::inbox_counts,
        desk::labels,
        desk::set_labels,
        desk::bulk,
        desk::canned_responses,
        desk::create_canned,
        desk::update_canned,
        desk::delete_canned,
        desk::preferences,
        desk::set_preferences,
        desk::edit_contact,
    ),
    components(schemas(
        natter_core::protocol::ClientFrame,
        natter_core::protocol::ServerFrame,
        natter_core::protocol::EventPayload,
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "conversations", description = "Threads and who is in them"),
        (name = "messages", description = "Messages, reactions, receipts, typing"),
        (name = "accounts", description = "Staff, contacts and tokens"),
        (name = "realtime", description = "SSE fallback of the real-time protocol"),
        (name = "operations", description = "Health probes"),
        (name = "auth", description = "Signing in: passwords, second factors, sessions, resets"),
        (name = "admin", description = "Staff, tokens, security settings, audit log"),
        (name = "sso", description = "Single sign-on for staff with OpenID Connect"),
        (name = "desk", description = "The agent workspace: inbox views and counts, labels, \
                                       canned responses, preferences, bulk actions"),
        (name = "routing", description = "Queues, agents' status and capacity, teams, rules"),
        (name = "websites", description = "Websites (widget installations), live visitors, \
                                           visitor context"),
        (name = "widget", description = "What the widget calls from the host page: public \
                                         configuration, visits, identify, tracking, offline \
                                         form (Origin-checked)"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
        .merge(Scalar::with_url("/docs", ApiDoc::openapi()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_document_is_openapi_3_1_and_lists_every_v1_route() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        let paths = doc["paths"].as_object().unwrap();
        for path in [
            "/v1/conversations",
            "/v1/conversations/{conversation_id}/messages",
            "/v1/conversations/{conversation_id}/read",
            "/v1/events",
            "/v1/frames",
            "/readyz",
        ] {
            assert!(paths.contains_key(path), "missing {path}");
        }
        assert!(doc["components"]["schemas"]["ServerFrame"].is_object());
    }
}
