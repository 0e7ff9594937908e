//! Queues and routing end to end through the real binary on both backends: each policy,
//! backfill, rules, live queue positions for customers, manual pulls, escalation, and
//! race-free assignment with several nodes sharing one PostgreSQL database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;

use common::{Api, Backend, Client, Server};
use serde_json::{Value, json};

/// Creates an agent with a read/write token; returns (id, api).
async fn agent(server: &Server, name: &str) -> (i64, Api) {
    let (status, staff) = server
        .admin()
        .post(
            "/v1/staff",
            json!({"email": format!("{name}@example.com"), "name": name, "role": "agent"}),
        )
        .await;
    assert_eq!(status, 201, "{staff}");
    let id = staff["id"].as_i64().unwrap();
    let (status, token) = server
        .admin()
        .post(
            &format!("/v1/staff/{id}/tokens"),
            json!({"name": "t", "scopes": ["read", "write"]}),
        )
        .await;
    assert_eq!(status, 201, "{token}");
    (id, server.api(token["token"].as_str().unwrap()))
}

async fn set_state(api: &Api, id: i64, state: Value) -> Value {
    let (status, body) = api
        .call("PUT", &format!("/v1/agents/{id}/state"), Some(state))
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// A customer opens a support chat; returns (customer id, their api, conversation id).
async fn customer_chat(server: &Server, name: &str, subject: &str) -> (i64, Api, i64) {
    let (id, token) = server.admin().contact(name).await;
    let api = server.api(&token);
    let (status, created) = api
        .post(
            "/v1/conversations",
            json!({"kind": "support", "subject": subject}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    (id, api, created["conversation"]["id"].as_i64().unwrap())
}

/// Who is assigned to each conversation (staff participants).
async fn assignees(server: &Server, conversation: i64) -> Vec<i64> {
    let (status, detail) = server
        .admin()
        .get(&format!("/v1/conversations/{conversation}"))
        .await;
    assert_eq!(status, 200, "{detail}");
    detail["participants"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["role"] == "agent")
        .map(|p| p["account_id"].as_i64().unwrap())
        .collect()
}

async fn loads(server: &Server) -> HashMap<i64, (u64, u64)> {
    let (status, agents) = server.admin().get("/v1/agents").await;
    assert_eq!(status, 200, "{agents}");
    agents
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["account_id"].as_i64().unwrap(),
                (a["load"].as_u64().unwrap(), a["capacity"].as_u64().unwrap()),
            )
        })
        .collect()
}

both_backends!(
    chats_go_to_the_least_loaded_online_agent_and_a_resolution_backfills_at_once,
    chats_go_to_the_least_loaded_online_agent_and_a_resolution_backfills_at_once
);
async fn chats_go_to_the_least_loaded_online_agent_and_a_resolution_backfills_at_once(
    backend: Backend,
) {
    let server = Server::start(backend).await;
    let (amy, amy_api) = agent(&server, "amy").await;
    let (bob, bob_api) = agent(&server, "bob").await;
    // Nobody online: the chat waits.
    let (_, _, first) = customer_chat(&server, "c1", "one").await;
    assert!(assignees(&server, first).await.is_empty());
    let (_, queue) = server.admin().get("/v1/queue").await;
    assert_eq!(queue[0]["conversation_id"], first, "{queue}");
    assert_eq!(queue[0]["position"], 1);
    assert!(queue[0]["estimated_wait_ms"].is_null());

    // Amy comes online with room for 1: she gets it at once.
    set_state(&amy_api, amy, json!({"status": "online", "capacity": 1})).await;
    assert_eq!(assignees(&server, first).await, vec![amy]);
    set_state(&bob_api, bob, json!({"status": "online", "capacity": 1})).await;
    let (_, _, second) = customer_chat(&server, "c2", "two").await;
    assert_eq!(assignees(&server, second).await, vec![bob]);
    // Both full: the third waits.
    let (_, _, third) = customer_chat(&server, "c3", "three").await;
    assert!(assignees(&server, third).await.is_empty());
    let (_, queue) = server.admin().get("/v1/queue").await;
    assert_eq!(queue.as_array().unwrap().len(), 1);
    assert!(
        queue[0]["estimated_wait_ms"].as_i64().unwrap() > 0,
        "{queue}"
    );

    // Amy resolves hers: the waiting chat is hers at once.
    let (status, _) = amy_api
        .call(
            "PATCH",
            &format!("/v1/conversations/{first}"),
            Some(json!({"status": "resolved"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(assignees(&server, third).await, vec![amy]);
    let loads = loads(&server).await;
    assert_eq!(loads[&amy], (1, 1));
    assert_eq!(loads[&bob], (1, 1));
    let (_, queue) = server.admin().get("/v1/queue").await;
    assert!(queue.as_array().unwrap().is_empty(), "{queue}");
}

both_backends!(
    a_round_robin_team_takes_turns_and_a_manual_team_waits_for_a_pull,
    a_round_robin_team_takes_turns_and_a_manual_team_waits_for_a_pull
);
async fn a_round_robin_team_takes_turns_and_a_manual_team_waits_for_a_pull(backend: Backend) {
    let server = Server::start(backend).await;
    let mut agents = Vec::new();
    for name in ["ann", "ben", "cat"] {
        let (id, api) = agent(&server, name).await;
        set_state(&api, id, json!({"status": "online", "capacity": 10})).await;
        agents.push((id, api));
    }
    let ids: Vec<i64> = agents.iter().map(|(id, _)| *id).collect();
    let (status, team) = server
        .admin()
        .post(
            "/v1/teams",
            json!({"name": "Sales", "policy": "round_robin", "members": ids}),
        )
        .await;
    assert_eq!(status, 201, "{team}");
    let sales = team["id"].as_i64().unwrap();
    let (status, manual) = server
        .admin()
        .post(
            "/v1/teams",
            json!({"name": "Billing", "policy": "manual", "members": [ids[0]]}),
        )
        .await;
    assert_eq!(status, 201);
    let billing = manual["id"].as_i64().unwrap();
    let (status, body) = server
        .admin()
        .call(
            "PUT",
            "/v1/routing/rules",
            Some(json!([
                {"when": {"keyword": "invoice"}, "team_id": billing},
                {"when": "always", "team_id": sales}
            ])),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let mut got = Vec::new();
    for i in 0..6 {
        let (_, _, chat) = customer_chat(&server, &format!("rr{i}"), "a question").await;
        got.extend(assignees(&server, chat).await);
    }
    // Each agent twice, in turn.
    assert_eq!(got.len(), 6);
    for id in &ids {
        assert_eq!(got.iter().filter(|g| *g == id).count(), 2, "{got:?}");
    }
    assert_eq!(&got[..3], &got[3..]);

    // Billing is manual: the chat waits until a member of Billing (Ann) takes it; Ben,
    // not in the team, may not.
    let (_, _, invoice) = customer_chat(&server, "inv", "my invoice is wrong").await;
    assert!(assignees(&server, invoice).await.is_empty());
    let (_, queue) = server.admin().get("/v1/queue").await;
    assert_eq!(queue[0]["team_id"], billing, "{queue}");
    let take = format!("/v1/queue/{invoice}/take");
    let (status, error) = agents[1].1.post(&take, json!(null)).await;
    assert_eq!((status, error["code"].as_str()), (409, Some("conflict")));
    let (status, _) = agents[0].1.post(&take, json!(null)).await;
    assert_eq!(status, 204);
    assert_eq!(assignees(&server, invoice).await, vec![ids[0]]);
    // Taken: nobody can take it again.
    let (status, error) = agents[0].1.post(&take, json!(null)).await;
    assert_eq!((status, error["code"].as_str()), (409, Some("conflict")));
}

both_backends!(
    a_skills_rule_routes_to_an_agent_with_the_skill_and_premium_customers_go_first,
    a_skills_rule_routes_to_an_agent_with_the_skill_and_premium_customers_go_first
);
async fn a_skills_rule_routes_to_an_agent_with_the_skill_and_premium_customers_go_first(
    backend: Backend,
) {
    let server = Server::start(backend).await;
    let (de, de_api) = agent(&server, "dora").await;
    let (en, en_api) = agent(&server, "ed").await;
    let (status, team) = server
        .admin()
        .post(
            "/v1/teams",
            json!({"name": "Support", "policy": "skills_based", "members": [de, en]}),
        )
        .await;
    assert_eq!(status, 201);
    let support = team["id"].as_i64().unwrap();
    let (status, body) = server
        .admin()
        .call(
            "PUT",
            "/v1/routing/rules",
            Some(json!([
                {"when": {"keyword": "deutsch"}, "team_id": support, "needs": ["german"]},
                {"when": {"attribute": {"name": "plan", "equals": "premium"}}, "team_id": support,
                 "priority": "high"},
                {"when": "always", "team_id": support}
            ])),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // Bad rules are refused whole.
    let (status, _) = server
        .admin()
        .call(
            "PUT",
            "/v1/routing/rules",
            Some(json!([{"when": "always", "priority": "asap"}])),
        )
        .await;
    assert_eq!(status, 400);

    set_state(
        &de_api,
        de,
        json!({"status": "online", "capacity": 1, "skills": ["german"]}),
    )
    .await;
    set_state(
        &en_api,
        en,
        json!({"status": "away", "capacity": 1, "skills": ["english"]}),
    )
    .await;
    let (_, _, german) = customer_chat(&server, "g1", "Hilfe auf Deutsch bitte").await;
    assert_eq!(assignees(&server, german).await, vec![de]);

    // Dora is full and Ed away: a normal chat, then a premium one (the widget's identify
    // tells natter the plan), both from the shop's widget; the premium customer is first in
    // line although they came second.
    let (status, site) = server
        .admin()
        .post("/v1/websites", json!({"name": "Shop"}))
        .await;
    assert_eq!(status, 201, "{site}");
    let key = site["key"].as_str().unwrap();
    let normal = widget_chat(&server, key, json!({"name": "Nora"})).await;
    let premium = widget_chat(
        &server,
        key,
        json!({"name": "Vi", "custom_data": {"plan": "premium"}}),
    )
    .await;
    let (_, queue) = server.admin().get("/v1/queue").await;
    let position = |id: i64| {
        queue
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["conversation_id"] == id)
            .unwrap()["position"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(position(premium), 1, "{queue}");
    assert_eq!(position(normal), 2, "{queue}");
    // Ed comes online (no German needed for these): the premium chat goes first.
    set_state(&en_api, en, json!({"status": "online"})).await;
    assert_eq!(assignees(&server, premium).await, vec![en]);
    assert!(assignees(&server, normal).await.is_empty());
}

/// A widget visitor of `key` identifies with `identify` and opens a chat; returns its id.
async fn widget_chat(server: &Server, key: &str, identify: Value) -> i64 {
    let (status, visitor) = server
        .admin()
        .post(&format!("/v1/widget/{key}/visitors"), json!({}))
        .await;
    assert_eq!(status, 200, "{visitor}");
    let (status, identified) = server
        .api(visitor["token"].as_str().unwrap())
        .post(&format!("/v1/widget/{key}/identify"), identify)
        .await;
    assert_eq!(status, 200, "{identified}");
    let (status, created) = server
        .api(identified["token"].as_str().unwrap())
        .post(
            "/v1/conversations",
            json!({"kind": "support", "subject": "hi"}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    created["conversation"]["id"].as_i64().unwrap()
}

both_backends!(
    a_waiting_customer_hears_their_position_move_up_as_the_queue_moves,
    a_waiting_customer_hears_their_position_move_up_as_the_queue_moves
);
async fn a_waiting_customer_hears_their_position_move_up_as_the_queue_moves(backend: Backend) {
    let server = Server::start(backend).await;
    let (amy, amy_api) = agent(&server, "amy").await;
    let (_, _, first) = customer_chat(&server, "c1", "one").await;
    let (second_id, second_token) = server.admin().contact("c2").await;
    let mut second = Client::connect(&server, &second_token, None).await;
    let (_, created) = server
        .api(&second_token)
        .post("/v1/conversations", json!({"kind": "support"}))
        .await;
    let chat = created["conversation"]["id"].as_i64().unwrap();
    let frame = second.next_of("queue_position").await;
    assert_eq!(frame["conversation_id"], chat);
    assert_eq!(frame["position"], 2);
    assert!(
        frame["estimated_wait_ms"].is_null(),
        "nobody online: {frame}"
    );

    set_state(&amy_api, amy, json!({"status": "online", "capacity": 1})).await;
    assert_eq!(assignees(&server, first).await, vec![amy]);
    let frame = second.next_of("queue_position").await;
    assert_eq!(frame["position"], 1);
    assert!(frame["estimated_wait_ms"].as_i64().unwrap() > 0, "{frame}");

    amy_api
        .call(
            "PATCH",
            &format!("/v1/conversations/{first}"),
            Some(json!({"status": "resolved"})),
        )
        .await;
    // Assigned: the customer hears the agent join (a durable event).
    let joined = second.next_event("participant_joined").await;
    assert_eq!(joined["data"]["participant"]["account_id"], amy);
    assert_eq!(assignees(&server, chat).await, vec![amy]);
    let _ = second_id;
}

both_backends!(
    a_chat_waiting_too_long_is_escalated_and_supervisors_are_told,
    a_chat_waiting_too_long_is_escalated_and_supervisors_are_told
);
async fn a_chat_waiting_too_long_is_escalated_and_supervisors_are_told(backend: Backend) {
    let server = Server::start_with(
        backend,
        &[
            ("NATTER_ROUTING_ESCALATE_AFTER_SECS", "1"),
            ("NATTER_ROUTING_TICK_SECS", "1"),
        ],
    )
    .await;
    let mut supervisor = Client::connect(&server, &server.token, None).await;
    let (_, _, chat) = customer_chat(&server, "late", "help").await;
    let frame = supervisor.next_of("escalated").await;
    assert_eq!(frame["conversation_id"], chat);
    assert_eq!(frame["priority"], "high");
    assert!(frame["waiting_ms"].as_i64().unwrap() >= 1000);
    let (_, queue) = server.admin().get("/v1/queue").await;
    assert_eq!(queue[0]["priority"], "high", "{queue}");
    assert!(queue[0]["escalated_at"].is_number());
}

/// Several nodes on one PostgreSQL database assign concurrently: no chat gets two agents
/// and no agent goes over capacity.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_assignment_on_three_nodes_never_double_assigns_or_exceeds_capacity() {
    let first = Server::start(Backend::Postgres).await;
    let second = first.node(&[]).await;
    let third = first.node(&[]).await;
    let nodes = [&first, &second, &third];
    let mut agents = Vec::new();
    for i in 0..6 {
        let (id, api) = agent(&first, &format!("agent{i}")).await;
        set_state(&api, id, json!({"status": "online", "capacity": 3})).await;
        agents.push(id);
    }
    // 60 customers open chats at once, spread over the nodes (18 seats for 60 chats).
    let mut tasks = Vec::new();
    for i in 0..60 {
        let node = nodes[i % 3];
        let (_, token) = first.admin().contact(&format!("rush{i}")).await;
        let api = node.api(&token);
        tasks.push(tokio::spawn(async move {
            let (status, created) = api
                .post("/v1/conversations", json!({"kind": "support"}))
                .await;
            assert_eq!(status, 201, "{created}");
            created["conversation"]["id"].as_i64().unwrap()
        }));
    }
    let mut chats = Vec::new();
    for t in tasks {
        chats.push(t.await.unwrap());
    }
    let mut assigned = 0;
    for chat in &chats {
        let who = assignees(&first, *chat).await;
        assert!(who.len() <= 1, "chat {chat} has {who:?}");
        assigned += who.len();
    }
    assert_eq!(assigned, 18, "every seat filled, none twice");
    for (agent, (load, capacity)) in loads(&first).await {
        if agents.contains(&agent) {
            assert_eq!((load, capacity), (3, 3), "agent {agent}");
        }
    }
    let (_, queue) = first.admin().get("/v1/queue").await;
    assert_eq!(queue.as_array().unwrap().len(), 42);
}

both_backends!(
    a_transfer_accepted_moves_the_chat_and_one_left_unanswered_returns_to_the_queue,
    a_transfer_accepted_moves_the_chat_and_one_left_unanswered_returns_to_the_queue
);
async fn a_transfer_accepted_moves_the_chat_and_one_left_unanswered_returns_to_the_queue(
    backend: Backend,
) {
    let server = Server::start_with(
        backend,
        &[
            ("NATTER_ROUTING_TRANSFER_ACCEPT_SECS", "1"),
            ("NATTER_ROUTING_TICK_SECS", "1"),
            ("NATTER_ROUTING_ESCALATE_AFTER_SECS", "0"),
        ],
    )
    .await;
    let (amy, amy_api) = agent(&server, "amy").await;
    let (bob, bob_api) = agent(&server, "bob").await;
    let (cat, cat_api) = agent(&server, "cat").await;
    set_state(&amy_api, amy, json!({"status": "online", "capacity": 2})).await;
    let (_, _, chat) = customer_chat(&server, "c1", "help").await;
    assert_eq!(assignees(&server, chat).await, vec![amy]);

    // Amy offers it to Bob, who hears of it and accepts.
    let mut bob_socket = Client::connect(&server, bob_api.token.as_str(), None).await;
    let (status, body) = amy_api
        .post(
            &format!("/v1/conversations/{chat}/transfer"),
            json!({"to_agent": bob, "note": "VIP, billing question"}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let offered = bob_socket.next_of("transfer_offered").await;
    assert_eq!(offered["conversation_id"], chat);
    assert_eq!(offered["from_agent"], amy);
    // Only Bob may accept.
    let (status, _) = cat_api
        .post(
            &format!("/v1/conversations/{chat}/transfer/accept"),
            json!(null),
        )
        .await;
    assert_eq!(status, 404);
    let (status, body) = bob_api
        .post(
            &format!("/v1/conversations/{chat}/transfer/accept"),
            json!(null),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(assignees(&server, chat).await, vec![bob]);
    let loads = loads(&server).await;
    assert_eq!(loads[&amy].0, 0);
    assert_eq!(loads[&bob].0, 1);
    // The note is internal: agents see it, the customer does not.
    let bodies = server.admin().bodies(chat).await;
    assert!(
        bodies.iter().any(|b| b.contains("VIP, billing question")),
        "{bodies:?}"
    );

    // Bob offers it to Cat, who never answers: it goes back to the queue, and (Cat being
    // excluded and Bob gone) to Amy, the one online agent with room.
    set_state(&cat_api, cat, json!({"status": "online", "capacity": 2})).await;
    let (status, _) = bob_api
        .post(
            &format!("/v1/conversations/{chat}/transfer"),
            json!({"to_agent": cat}),
        )
        .await;
    assert_eq!(status, 202);
    let mut waited = 0;
    loop {
        let who = assignees(&server, chat).await;
        if who == vec![amy] {
            break;
        }
        waited += 1;
        assert!(waited < 100, "still {who:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (status, _) = cat_api
        .post(
            &format!("/v1/conversations/{chat}/transfer/accept"),
            json!(null),
        )
        .await;
    assert_eq!(status, 404);
}

both_backends!(
    a_returning_customer_gets_their_last_agent_when_that_agent_is_available,
    a_returning_customer_gets_their_last_agent_when_that_agent_is_available
);
async fn a_returning_customer_gets_their_last_agent_when_that_agent_is_available(backend: Backend) {
    let server = Server::start(backend).await;
    let (amy, amy_api) = agent(&server, "amy").await;
    let (bob, bob_api) = agent(&server, "bob").await;
    set_state(&amy_api, amy, json!({"status": "online", "capacity": 5})).await;
    set_state(&bob_api, bob, json!({"status": "online", "capacity": 5})).await;
    let (_, returning, first) = customer_chat(&server, "ret", "first visit").await;
    let first_agent = assignees(&server, first).await;
    assert_eq!(first_agent.len(), 1);
    let first_agent = first_agent[0];
    let other = if first_agent == amy { bob } else { amy };
    amy_api
        .call(
            "PATCH",
            &format!("/v1/conversations/{first}"),
            Some(json!({"status": "resolved"})),
        )
        .await;
    // Another customer's chat goes to the other agent (least loaded, longest since a
    // chat), then one more to the first agent: both now hold one, and without a
    // preference the next chat would go to `other` (who waited longer).
    let (_, _, next) = customer_chat(&server, "n1", "x").await;
    assert_eq!(assignees(&server, next).await, vec![other]);
    let (_, _, next) = customer_chat(&server, "n2", "y").await;
    assert_eq!(assignees(&server, next).await, vec![first_agent]);
    // The returning customer comes back: their last agent takes them.
    let (status, created) = returning
        .post(
            "/v1/conversations",
            json!({"kind": "support", "subject": "again"}),
        )
        .await;
    assert_eq!(status, 201);
    let again = created["conversation"]["id"].as_i64().unwrap();
    assert_eq!(assignees(&server, again).await, vec![first_agent]);
}

both_backends!(
    a_staff_reply_to_a_waiting_chat_takes_it_out_of_the_queue,
    a_staff_reply_to_a_waiting_chat_takes_it_out_of_the_queue
);
async fn a_staff_reply_to_a_waiting_chat_takes_it_out_of_the_queue(backend: Backend) {
    let server = Server::start(backend).await;
    let (amy, amy_api) = agent(&server, "amy").await;
    let (_, _, first) = customer_chat(&server, "c1", "one").await;
    let (_, _, second) = customer_chat(&server, "c2", "two").await;
    // Amy is not online for routing, but answers the first chat from the inbox.
    let (status, _) = amy_api
        .post(
            &format!("/v1/conversations/{first}/messages"),
            json!({"body": "Hi, Amy here"}),
        )
        .await;
    assert_eq!(status, 201);
    let (_, queue) = server.admin().get("/v1/queue").await;
    let waiting: Vec<i64> = queue
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["conversation_id"].as_i64().unwrap())
        .collect();
    assert_eq!(waiting, vec![second]);
    assert_eq!(queue[0]["position"], 1);
    assert_eq!(loads(&server).await[&amy].0, 1);
    // An internal note does not count as answering.
    let (status, _) = amy_api
        .post(
            &format!("/v1/conversations/{second}/messages"),
            json!({"body": "looking", "kind": "note"}),
        )
        .await;
    assert_eq!(status, 201);
    let (_, queue) = server.admin().get("/v1/queue").await;
    assert_eq!(queue.as_array().unwrap().len(), 1);
}

both_backends!(
    a_chat_unanswered_past_the_first_response_sla_is_reported_once,
    a_chat_unanswered_past_the_first_response_sla_is_reported_once
);
async fn a_chat_unanswered_past_the_first_response_sla_is_reported_once(backend: Backend) {
    let server = Server::start_with(
        backend,
        &[
            ("NATTER_ROUTING_FIRST_RESPONSE_SLA_SECS", "1"),
            ("NATTER_ROUTING_TICK_SECS", "1"),
            ("NATTER_ROUTING_ESCALATE_AFTER_SECS", "0"),
        ],
    )
    .await;
    let mut supervisor = Client::connect(&server, &server.token, None).await;
    let (_, customer, late) = customer_chat(&server, "late", "help").await;
    let (_, other, answered) = customer_chat(&server, "fast", "help").await;
    for (api, chat) in [(&customer, late), (&other, answered)] {
        let (status, _) = api
            .post(
                &format!("/v1/conversations/{chat}/messages"),
                json!({"body": "hello?"}),
            )
            .await;
        assert_eq!(status, 201);
    }
    // One of them gets a staff reply in time.
    let (status, _) = server
        .admin()
        .post(
            &format!("/v1/conversations/{answered}/messages"),
            json!({"body": "Hi!"}),
        )
        .await;
    assert_eq!(status, 201);
    let breach = supervisor.next_of("sla_breached").await;
    assert_eq!(breach["conversation_id"], late);
    assert_eq!(breach["sla_ms"], 1000);
    // Reported once: the next ticks stay quiet about it.
    // (Queue lengths arrive every tick, so read for a fixed time rather than until quiet.)
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(2500);
    let mut later = Vec::new();
    while let Ok(frame) = tokio::time::timeout_at(deadline, supervisor.next_frame()).await {
        later.push(frame);
    }
    assert!(
        !later.iter().any(|f| f["type"] == "sla_breached"),
        "{later:?}"
    );
}
