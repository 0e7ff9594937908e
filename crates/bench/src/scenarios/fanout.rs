//! Room fan-out: one `direct` conversation with M contact members, each connected, and the
//! staff account posting into it from a few connections at a fixed rate. Rates go up in steps
//! of deliveries per second (message rate × M) until deliveries fall behind.

use std::time::Duration;

use anyhow::Result;
use futures_util::StreamExt;
use serde_json::json;

use super::{Ctx, Outcome, thousands};
use crate::client::Api;
use crate::load::{Load, PhaseResult, ReceiverSpec, SenderSpec};
use crate::report::Row;

#[derive(Debug, Clone, clap::Args)]
pub struct FanoutArgs {
    /// Member connections per room (receivers; the sending staff account comes on top).
    #[arg(id = "fanout-members", long = "fanout-members", value_delimiter = ',', default_values_t = [10, 100, 1000])]
    pub members: Vec<usize>,
    /// Deliveries per second to try (message rate = this / members), increasing.
    #[arg(id = "fanout-deliveries", long = "fanout-deliveries", value_delimiter = ',',
          default_values_t = [2000.0, 5000.0, 10_000.0, 30_000.0, 100_000.0, 200_000.0, 300_000.0, 500_000.0])]
    pub deliveries: Vec<f64>,
    /// Sender connections (all of the staff account).
    #[arg(id = "fanout-senders", long = "fanout-senders", default_value_t = 4)]
    pub senders: usize,
    /// Seconds each rate runs.
    #[arg(
        id = "fanout-duration",
        long = "fanout-duration",
        default_value_t = 5.0
    )]
    pub duration_s: f64,
}

/// A rate whose delivery p99 exceeds this, or that leaves deliveries behind, ends a series
/// and does not count as sustained: everything arriving within the step is not enough when
/// the queues grew all along (p99 of seconds).
const GIVE_UP_P99_MS: f64 = 100.0;
/// Participants per create request; the rest are added one by one (the request body limit).
const CREATE_BATCH: usize = 500;

pub async fn run(ctx: &Ctx, args: &FanoutArgs) -> Result<Outcome> {
    let largest = args.members.iter().copied().max().unwrap_or(10).max(1);
    // The creating staff account is a participant too, so a room of M contacts has M + 1.
    let limit = (largest + 1).max(1000).to_string();
    let (_db, node, admin) = ctx
        .fresh_node(&[
            ("NATTER_LIMITS_PARTICIPANTS_PER_CONVERSATION", limit),
            super::unlimited_messages(),
        ])
        .await?;
    let api = Api::new(&node.base, &admin)?;
    let me = api.me().await?;
    let contacts = api.contacts("member", largest).await?;

    let mut rows = Vec::new();
    let mut sizes = Vec::new();
    for &m in &args.members {
        let members = &contacts[..m.min(contacts.len())];
        let mut participants: Vec<(i64, &str)> = vec![(me, "agent")];
        participants.extend(members.iter().map(|(id, _)| (*id, "buyer")));
        let first = participants.len().min(CREATE_BATCH);
        let conversation = api.conversation("direct", &participants[..first]).await?;
        let added: Vec<Result<serde_json::Value>> =
            futures_util::stream::iter(participants[first..].iter().map(|(id, role)| {
                let api = api.clone();
                let (id, role) = (*id, role.to_string());
                async move {
                    api.post(
                        &format!("/v1/conversations/{conversation}/participants"),
                        json!({"account_id": id, "role": role}),
                    )
                    .await
                }
            }))
            .buffered(8)
            .collect()
            .await;
        added.into_iter().collect::<Result<Vec<_>>>()?;

        let senders: Vec<SenderSpec> = (0..args.senders.max(1))
            .map(|_| SenderSpec {
                ws_url: node.ws_url(),
                token: admin.clone(),
                conversation,
            })
            .collect();
        let receivers: Vec<ReceiverSpec> = members
            .iter()
            .map(|(_, token)| ReceiverSpec {
                ws_url: node.ws_url(),
                token: token.clone(),
            })
            .collect();
        let mut load = Load::connect(&senders, &receivers, m as u64, vec![node.pid]).await?;
        let duration = Duration::from_secs_f64(args.duration_s);
        let drain = duration.max(Duration::from_secs(5));
        let mut phases: Vec<PhaseResult> = Vec::new();
        // A rate that breaks the load (a connection the server closed) ends this room size's
        // series, not the scenario: the figures of the rates before it and of the other
        // sizes still count, and the failure is reported as a row of its own.
        let mut failed: Option<(f64, String)> = None;
        for &deliveries in &args.deliveries {
            let rate = deliveries / m as f64;
            eprintln!("natter-bench: fanout {m}: {rate:.1} msg/s = {deliveries} deliveries/s");
            let phase = match load.run_phase(rate, duration, drain).await {
                Ok(phase) => phase,
                Err(e) => {
                    eprintln!("natter-bench:   failed: {e:#}");
                    failed = Some((deliveries, format!("{e:#}")));
                    break;
                }
            };
            eprintln!(
                "natter-bench:   delivered {} of {} ({:.0}/s); p99 {:.2} ms; server CPU {:.0}%, harness CPU {:.0}%",
                phase.delivered,
                phase.expected_deliveries,
                phase.delivery_rate,
                phase.delivery.p99_ms,
                phase.server_cpu_percent,
                phase.harness_cpu_percent
            );
            let give_up = !phase.complete() || phase.delivery.p99_ms > GIVE_UP_P99_MS;
            phases.push(phase);
            if give_up {
                break;
            }
        }
        let (protocol_errors, close_samples) = load.protocol_errors();
        load.close().await;
        let best = phases
            .iter()
            .filter(|p| p.complete() && p.delivery.p99_ms <= GIVE_UP_P99_MS)
            .max_by(|a, b| a.delivery_rate.total_cmp(&b.delivery_rate));
        match best {
            Some(p) => {
                rows.push(Row::target(
                    format!("deliveries/s sustained, {m} members"),
                    "≥ 300,000",
                    thousands(p.delivery_rate),
                    p.delivery_rate >= 300_000.0,
                ));
                rows.push(Row::info(
                    format!("delivery p50 / p99 at that rate, {m} members"),
                    format!(
                        "{:.2} / {:.2} ms (server CPU {:.0}%, harness CPU {:.0}%)",
                        p.delivery.p50_ms,
                        p.delivery.p99_ms,
                        p.server_cpu_percent,
                        p.harness_cpu_percent
                    ),
                ));
            }
            None => rows.push(Row::target(
                format!("deliveries/s sustained, {m} members"),
                "≥ 300,000",
                "no rate completed",
                false,
            )),
        }
        if let Some((deliveries, error)) = &failed {
            rows.push(Row::info(
                format!("series ended by a failure, {m} members"),
                format!("at {} deliveries/s: {error}", thousands(*deliveries)),
            ));
        }
        sizes.push(json!({
            "members": m,
            "conversation": conversation,
            "senders": args.senders,
            "phases": phases,
            "failed": failed.map(|(deliveries, error)| json!({"deliveries": deliveries, "error": error})),
            "protocol_errors": protocol_errors,
            "close_samples": close_samples,
        }));
    }
    Ok(Outcome::ok(
        rows,
        json!({ "duration_s": args.duration_s, "sizes": sizes }),
    ))
}
