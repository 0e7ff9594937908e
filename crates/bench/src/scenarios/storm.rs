//! Connection storm: many clients connect at once (as after a node restart), each doing the
//! WebSocket handshake, `hello` (token check) and waiting for `ready`. Connections stay open
//! until the storm is over, as reconnecting clients would.

use std::time::Instant;

use anyhow::Result;
use futures_util::StreamExt;
use serde_json::json;

use super::{Ctx, Outcome, thousands};
use crate::client::{Api, connect};
use crate::report::Row;
use crate::stats::{CpuMeter, Latency};

#[derive(Debug, Clone, clap::Args)]
pub struct StormArgs {
    /// Connections in the storm (one process holds them all: keep it under ~19,000).
    #[arg(
        id = "storm-connections",
        long = "storm-connections",
        default_value_t = 10_000
    )]
    pub connections: usize,
    /// Connection attempts in flight at once.
    #[arg(
        id = "storm-concurrency",
        long = "storm-concurrency",
        default_value_t = 500
    )]
    pub concurrency: usize,
    /// Contacts whose tokens the connections share.
    #[arg(id = "storm-contacts", long = "storm-contacts", default_value_t = 100)]
    pub contacts: usize,
}

pub async fn run(ctx: &Ctx, args: &StormArgs) -> Result<Outcome> {
    let (_db, node, admin) = ctx.fresh_node(&[]).await?;
    let api = Api::new(&node.base, &admin)?;
    let contacts = api
        .contacts("storm", args.contacts.clamp(1, args.connections.max(1)))
        .await?;
    let url = node.ws_url();
    let server_cpu = CpuMeter::start(&[node.pid])?;
    let harness_cpu = CpuMeter::start(&[std::process::id()])?;
    let started = Instant::now();
    let results: Vec<(Result<_>, std::time::Duration)> =
        futures_util::stream::iter(0..args.connections)
            .map(|i| {
                let url = url.clone();
                let token = contacts[i % contacts.len()].1.clone();
                async move {
                    let t = Instant::now();
                    let r = connect(&url, &token).await;
                    (r, t.elapsed())
                }
            })
            .buffer_unordered(args.concurrency.max(1))
            .collect()
            .await;
    let elapsed = started.elapsed().as_secs_f64();
    let server_cpu_percent = server_cpu.percent()?;
    let harness_cpu_percent = harness_cpu.percent()?;
    let mut latency = Latency::new()?;
    let mut held = Vec::new();
    let mut failed = 0u64;
    let mut first_error = None;
    for (r, took) in results {
        match r {
            Ok((ws, _)) => {
                latency.record(took);
                held.push(ws);
            }
            Err(e) => {
                failed += 1;
                first_error.get_or_insert_with(|| format!("{e:#}"));
            }
        }
    }
    let ok = held.len() as u64;
    drop(held);
    let rate = ok as f64 / elapsed.max(1e-9);
    let summary = latency.summary();
    let mut rows = vec![
        Row::info(
            format!(
                "connects/s (connect + hello + ready), {} clients, {} in flight",
                thousands(args.connections as f64),
                args.concurrency
            ),
            format!("{} (server CPU {server_cpu_percent:.0}%)", thousands(rate)),
        ),
        Row::info(
            "connect + hello + ready p50 / p99",
            format!("{:.1} / {:.1} ms", summary.p50_ms, summary.p99_ms),
        ),
    ];
    if failed > 0 {
        rows.push(Row::info(
            "failed connects",
            format!("{failed} (first: {})", first_error.as_deref().unwrap_or("")),
        ));
    }
    Ok(Outcome::ok(
        rows,
        json!({
            "connections": args.connections,
            "concurrency": args.concurrency,
            "contacts": contacts.len(),
            "connected": ok,
            "failed": failed,
            "first_error": first_error,
            "elapsed_s": elapsed,
            "connects_per_second": rate,
            "latency": summary,
            "server_cpu_percent": server_cpu_percent,
            "harness_cpu_percent": harness_cpu_percent,
        }),
    ))
}
