//! Cluster mode and failures: several real `natter` processes on one PostgreSQL database
//! with a real Redis between them; nodes killed, Redis stopped, PostgreSQL restarted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{Backend, Client, PrivatePostgres, RedisServer, Server};
use serde_json::json;

/// Settings for a node of a cluster on `redis`.
fn clustered(redis: &RedisServer) -> Vec<(String, String)> {
    vec![
        ("NATTER_REDIS_URL".to_string(), redis.url()),
        // Long enough that delivery through the bus is distinguishable from catch-up.
        (
            "NATTER_REALTIME_CATCH_UP_POLL_MS".to_string(),
            "1500".to_string(),
        ),
    ]
}

fn as_env(pairs: &[(String, String)]) -> Vec<(&str, &str)> {
    pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// Waits until `check` holds, polling; panics after a while.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting until {what}");
}

/// Three nodes on one database and one Redis, and a support chat between a contact and the
/// admin. Returns (nodes, redis, contact token, conversation).
async fn cluster_of_three() -> (Vec<Server>, RedisServer, String, i64) {
    let redis = RedisServer::start();
    let env = clustered(&redis);
    let first = Server::start_with(Backend::Postgres, &as_env(&env)).await;
    let second = first.node(&as_env(&env)).await;
    let third = first.node(&as_env(&env)).await;
    let admin = first.admin();
    let me = admin.me().await;
    let (contact, contact_token) = admin.contact("ann").await;
    let conversation = admin
        .conversation("support", &[(contact, "customer"), (me, "agent")])
        .await;
    for node in [&first, &second, &third] {
        eventually("every node is subscribed to Redis", || async {
            node.ready().await["redis"] == "up"
        })
        .await;
    }
    (
        vec![first, second, third],
        redis,
        contact_token,
        conversation,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_reach_clients_on_other_nodes_through_redis_without_touching_storage() {
    let (nodes, _redis, contact_token, conversation) = cluster_of_three().await;
    let mut customer = Client::connect(&nodes[0], &contact_token, None).await;
    let mut agent = Client::connect(&nodes[1], &nodes[1].token, None).await;
    let fills_before = nodes[0].metric("natter_fanout_gap_fills_total").await
        + nodes[1].metric("natter_fanout_gap_fills_total").await;

    for i in 0..20 {
        let ack = customer
            .send_message(conversation, &format!("c{i}"), &format!("c{i}"))
            .await;
        assert_eq!(ack["type"], "ack");
        // The agent also hears its own replies (sent through the third node); skip to ours.
        loop {
            let event = agent.next_event("message_created").await;
            if event["data"]["message"]["body"] == format!("c{i}") {
                break;
            }
        }
        let reply = format!("a{i}");
        nodes[2]
            .admin()
            .post(
                &format!("/v1/conversations/{conversation}/messages"),
                json!({"body": reply}),
            )
            .await;
        loop {
            let event = customer.next_event("message_created").await;
            if event["data"]["message"]["body"] == reply {
                break;
            }
        }
    }
    // Typing crosses nodes too, and the throttle is shared.
    customer
        .send_json(json!({"type": "typing", "conversation_id": conversation}))
        .await;
    let typing = agent.next_of("typing").await;
    assert_eq!(typing["conversation_id"], conversation);

    let fills_after = nodes[0].metric("natter_fanout_gap_fills_total").await
        + nodes[1].metric("natter_fanout_gap_fills_total").await;
    assert_eq!(
        fills_before, fills_after,
        "delivery went through storage, not the bus"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_of_a_node_killed_with_sigkill_resume_on_another_with_nothing_lost_or_repeated() {
    let (mut nodes, _redis, contact_token, conversation) = cluster_of_three().await;
    let mut customer = Client::connect(&nodes[0], &contact_token, None).await;
    let sender = tokio::spawn({
        let api = nodes[1].admin();
        async move {
            for i in 0..80 {
                let (status, body) = api
                    .post(
                        &format!("/v1/conversations/{conversation}/messages"),
                        json!({"body": format!("m{i}"), "client_msg_id": format!("m{i}")}),
                    )
                    .await;
                assert_eq!(status, 201, "{body}");
            }
        }
    });
    let mut seen = Vec::new();
    while seen.len() < 20 {
        let event = customer.next_event("message_created").await;
        seen.push(
            event["data"]["message"]["body"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let cursor = customer.cursor;
    nodes[0].kill();
    drop(customer);

    let mut resumed = Client::connect(&nodes[2], &contact_token, cursor).await;
    assert_eq!(resumed.ready["resumed"], true);
    sender.await.unwrap();
    while seen.len() < 80 {
        let event = resumed.next_event("message_created").await;
        seen.push(
            event["data"]["message"]["body"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let expected: Vec<String> = (0..80).map(|i| format!("m{i}")).collect();
    assert_eq!(seen, expected);
    let extra = resumed.drain(Duration::from_millis(600)).await;
    assert!(common::created_bodies(&extra).is_empty(), "{extra:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_nodes_keep_serving_and_deliver_from_storage_until_it_returns() {
    let (nodes, mut redis, contact_token, conversation) = cluster_of_three().await;
    let mut customer = Client::connect(&nodes[0], &contact_token, None).await;
    let post = |body: &str| {
        let api = nodes[1].admin();
        let body = body.to_string();
        async move {
            let (status, reply) = api
                .post(
                    &format!("/v1/conversations/{conversation}/messages"),
                    json!({"body": body}),
                )
                .await;
            assert_eq!(status, 201, "{reply}");
        }
    };

    redis.stop();
    eventually("nodes notice Redis is gone", || async {
        nodes[0].ready().await["redis"] == "down"
    })
    .await;
    let ready = nodes[1].ready().await;
    assert_eq!(
        ready["status"], "ok",
        "a node without Redis is still ready: {ready}"
    );
    let fills_before = nodes[0].metric("natter_fanout_gap_fills_total").await;
    for i in 0..5 {
        post(&format!("while down {i}")).await;
    }
    for i in 0..5 {
        let event = customer.next_event("message_created").await;
        assert_eq!(event["data"]["message"]["body"], format!("while down {i}"));
    }
    assert!(
        nodes[0].metric("natter_fanout_gap_fills_total").await > fills_before,
        "with Redis down the events must have come from storage"
    );

    redis.restart();
    for node in &nodes {
        eventually("nodes resubscribe", || async {
            node.ready().await["redis"] == "up"
        })
        .await;
    }
    // The publisher reconnects on its first publish after Redis returns; give it one.
    post("wake the publisher").await;
    customer.next_event("message_created").await;
    let fills_before = nodes[0].metric("natter_fanout_gap_fills_total").await;
    for i in 0..5 {
        post(&format!("after {i}")).await;
        let event = customer.next_event("message_created").await;
        assert_eq!(event["data"]["message"]["body"], format!("after {i}"));
    }
    assert_eq!(
        nodes[0].metric("natter_fanout_gap_fills_total").await,
        fills_before,
        "once Redis is back, live fan-out carries the events again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_postgresql_restarts_requests_fail_fast_with_503_and_the_pool_recovers() {
    let pg = PrivatePostgres::start();
    let server =
        Server::start_on(&pg.url(), &[("NATTER_DATABASE_ACQUIRE_TIMEOUT_SECS", "1")]).await;
    assert!(!server.token.is_empty());
    let admin = server.admin();
    let me = admin.me().await;
    let (contact, contact_token) = admin.contact("ann").await;
    let conversation = admin
        .conversation("support", &[(contact, "customer"), (me, "agent")])
        .await;
    let customer = server.api(&contact_token);
    let path = format!("/v1/conversations/{conversation}/messages");
    let mut acked = Vec::new();
    for i in 0..10 {
        let (status, _) = customer
            .post(&path, json!({"body": format!("before {i}")}))
            .await;
        assert_eq!(status, 201);
        acked.push(format!("before {i}"));
    }

    pg.stop_server();
    let started = std::time::Instant::now();
    let (status, body) = customer.post(&path, json!({"body": "during"})).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "unavailable");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    let ready = reqwest::get(format!("{}/readyz", server.base))
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);

    pg.start_server();
    // The same process recovers: no restart of natter.
    let mut recovered = false;
    for _ in 0..50 {
        let (status, _) = customer.post(&path, json!({"body": "after"})).await;
        if status == 201 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(recovered, "the pool did not recover: {}", server.stderr());
    acked.push("after".to_string());
    let bodies = server.admin().bodies(conversation).await;
    assert_eq!(
        bodies, acked,
        "every acknowledged message, and the refused one not at all"
    );
}
