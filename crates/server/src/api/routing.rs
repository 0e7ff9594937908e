//! Queues and routing for staff: the queue view, taking a chat by hand, agents' status and
//! capacity, teams and their policies, and the routing rules.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
pub use natter_core::staff_api::{
    AgentStateInput, AgentView, QueueItem, Rule, TeamInput, TeamView, TransferInput,
};
use natter_core::{AccountId, ConversationId};

use super::{ApiError, ApiPath, Body, Caller};
use crate::app::App;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/queue", get(queue))
        .route("/v1/queue/{conversation_id}/take", post(take))
        .route("/v1/agents", get(agents))
        .route("/v1/agents/{account_id}/state", put(set_state))
        .route("/v1/teams", get(teams).post(create_team))
        .route("/v1/teams/{team_id}", put(update_team))
        .route("/v1/routing/rules", get(rules).put(set_rules))
        .route(
            "/v1/conversations/{conversation_id}/transfer",
            post(transfer),
        )
        .route(
            "/v1/conversations/{conversation_id}/transfer/accept",
            post(accept_transfer),
        )
        .route(
            "/v1/conversations/{conversation_id}/transfer/decline",
            post(decline_transfer),
        )
}

/// Waiting chats with their position and estimated wait (agents: the websites they serve).
#[utoipa::path(get, path = "/v1/queue", tag = "routing", security(("bearer" = [])),
    responses((status = 200, body = Vec<QueueItem>), (status = 403, body = natter_core::Error)))]
pub async fn queue(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
) -> Result<Json<Vec<QueueItem>>, ApiError> {
    Ok(Json(app.queue_view(&actor).await?))
}

/// Takes a waiting chat (manual teams pull this way), within the caller's capacity.
#[utoipa::path(post, path = "/v1/queue/{conversation_id}/take", tag = "routing",
    security(("bearer" = [])), params(("conversation_id" = i64, Path)),
    responses((status = 204), (status = 404, body = natter_core::Error),
              (status = 409, description = "not waiting, or at capacity", body = natter_core::Error)))]
pub async fn take(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    app.take_chat(&actor, ConversationId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every staff member's status, capacity, load, skills and teams.
#[utoipa::path(get, path = "/v1/agents", tag = "routing", security(("bearer" = [])),
    responses((status = 200, body = Vec<AgentView>), (status = 403, body = natter_core::Error)))]
pub async fn agents(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
) -> Result<Json<Vec<AgentView>>, ApiError> {
    Ok(Json(app.agents_view(&actor).await?))
}

/// Sets an agent's status, capacity or skills (one's own; admins anyone's). Coming online
/// or raising capacity assigns waiting chats at once.
#[utoipa::path(put, path = "/v1/agents/{account_id}/state", tag = "routing",
    security(("bearer" = [])), params(("account_id" = i64, Path)), request_body = AgentStateInput,
    responses((status = 200, body = AgentView), (status = 400, body = natter_core::Error),
              (status = 403, body = natter_core::Error), (status = 404, body = natter_core::Error)))]
pub async fn set_state(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<i64>,
    Body(req): Body<AgentStateInput>,
) -> Result<Json<AgentView>, ApiError> {
    Ok(Json(
        app.set_agent_state(
            &actor,
            AccountId(id),
            req.status.as_deref(),
            req.capacity,
            req.skills,
        )
        .await?,
    ))
}

/// A stored team as the API shows it (a function, not `From`: neither type is this crate's).
fn team_view(t: natter_store::TeamRecord) -> TeamView {
    TeamView {
        id: t.id,
        name: t.name,
        policy: t.policy,
        members: t.members,
    }
}

#[utoipa::path(get, path = "/v1/teams", tag = "routing", security(("bearer" = [])),
    responses((status = 200, body = Vec<TeamView>), (status = 403, body = natter_core::Error)))]
pub async fn teams(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
) -> Result<Json<Vec<TeamView>>, ApiError> {
    let teams = app.teams_view(&actor).await?;
    Ok(Json(teams.into_iter().map(team_view).collect()))
}

/// Creates a team (owners and admins).
#[utoipa::path(post, path = "/v1/teams", tag = "routing", security(("bearer" = [])),
    request_body = TeamInput,
    responses((status = 201, body = TeamView), (status = 400, body = natter_core::Error),
              (status = 403, body = natter_core::Error)))]
pub async fn create_team(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    Body(req): Body<TeamInput>,
) -> Result<(StatusCode, Json<TeamView>), ApiError> {
    let team = app
        .create_team(
            &actor,
            req.name.as_deref().unwrap_or_default(),
            req.policy.as_deref().unwrap_or("least_loaded"),
            req.members.as_deref().unwrap_or_default(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(team_view(team))))
}

/// Changes a team's name, policy or members (owners and admins).
#[utoipa::path(put, path = "/v1/teams/{team_id}", tag = "routing", security(("bearer" = [])),
    params(("team_id" = i64, Path)), request_body = TeamInput,
    responses((status = 200, body = TeamView), (status = 400, body = natter_core::Error),
              (status = 403, body = natter_core::Error), (status = 404, body = natter_core::Error)))]
pub async fn update_team(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<i64>,
    Body(req): Body<TeamInput>,
) -> Result<Json<TeamView>, ApiError> {
    let team = app
        .update_team(
            &actor,
            id,
            req.name.as_deref(),
            req.policy.as_deref(),
            req.members.as_deref(),
        )
        .await?;
    Ok(Json(team_view(team)))
}

#[utoipa::path(get, path = "/v1/routing/rules", tag = "routing", security(("bearer" = [])),
    responses((status = 200, body = Vec<Rule>), (status = 403, body = natter_core::Error)))]
pub async fn rules(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
) -> Result<Json<Vec<Rule>>, ApiError> {
    Ok(Json(app.routing_rules(&actor).await?))
}

/// Replaces the routing rules, in order (owners and admins). The first rule whose `when`
/// matches a new chat sets its priority, team and needed skills.
#[utoipa::path(put, path = "/v1/routing/rules", tag = "routing", security(("bearer" = [])),
    request_body = Vec<Rule>,
    responses((status = 200, body = Vec<Rule>), (status = 400, body = natter_core::Error),
              (status = 403, body = natter_core::Error), (status = 404, body = natter_core::Error)))]
pub async fn set_rules(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    Body(req): Body<Vec<Rule>>,
) -> Result<Json<Vec<Rule>>, ApiError> {
    Ok(Json(app.set_routing_rules(&actor, req).await?))
}

/// Transfers a support chat to an agent (an offer they accept or decline; unanswered, it
/// returns to the queue) or to a team's queue.
#[utoipa::path(post, path = "/v1/conversations/{conversation_id}/transfer", tag = "routing",
    security(("bearer" = [])), params(("conversation_id" = i64, Path)), request_body = TransferInput,
    responses((status = 202, description = "offered, or queued for the team"),
              (status = 400, body = natter_core::Error), (status = 403, body = natter_core::Error),
              (status = 404, body = natter_core::Error)))]
pub async fn transfer(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<i64>,
    Body(req): Body<TransferInput>,
) -> Result<StatusCode, ApiError> {
    app.transfer(
        &actor,
        ConversationId(id),
        req.to_agent,
        req.to_team,
        req.note,
    )
    .await?;
    Ok(StatusCode::ACCEPTED)
}

/// Accepts a transfer offered to the caller: they join, the sender leaves.
#[utoipa::path(post, path = "/v1/conversations/{conversation_id}/transfer/accept",
    tag = "routing", security(("bearer" = [])), params(("conversation_id" = i64, Path)),
    responses((status = 204), (status = 404, description = "no transfer offered to you",
               body = natter_core::Error),
              (status = 409, description = "the offer expired", body = natter_core::Error)))]
pub async fn accept_transfer(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    app.accept_transfer(&actor, ConversationId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Declines a transfer offered to the caller: the chat goes back to the queue without them.
#[utoipa::path(post, path = "/v1/conversations/{conversation_id}/transfer/decline",
    tag = "routing", security(("bearer" = [])), params(("conversation_id" = i64, Path)),
    responses((status = 204), (status = 404, description = "no transfer offered to you",
               body = natter_core::Error)))]
pub async fn decline_transfer(
    State(app): State<Arc<App>>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    app.decline_transfer(&actor, ConversationId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
