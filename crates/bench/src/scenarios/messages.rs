//! Durable 1:1 messages: pairs of contacts in `direct` conversations; one of each pair sends
//! at a fixed rate, the other receives. A series of rates, each for a fixed time; the figure
//! is the highest rate whose delivery p99 stays within the target with everything delivered.

use std::time::Duration;

use anyhow::Result;
use serde_json::json;

use super::{Ctx, Outcome, thousands};
use crate::client::Api;
use crate::load::{Load, PhaseResult, ReceiverSpec, SenderSpec};
use crate::report::Row;

#[derive(Debug, Clone, clap::Args)]
pub struct MessagesArgs {
    /// Sender/receiver pairs (each pair a `direct` conversation of two contacts).
    #[arg(id = "messages-pairs", long = "messages-pairs", default_value_t = 100)]
    pub pairs: usize,
    /// Total send rates to try, messages per second, in increasing order.
    #[arg(id = "messages-rates", long = "messages-rates", value_delimiter = ',',
          default_values_t = [250.0, 500.0, 1000.0, 2000.0, 5000.0, 10_000.0, 20_000.0, 30_000.0])]
    pub rates: Vec<f64>,
    /// Seconds each rate runs.
    #[arg(
        id = "messages-duration",
        long = "messages-duration",
        default_value_t = 10.0
    )]
    pub duration_s: f64,
    /// The delivery p99 a rate must keep to count (ms).
    #[arg(
        id = "messages-p99-ms",
        long = "messages-p99-ms",
        default_value_t = 20.0
    )]
    pub p99_target_ms: f64,
}

/// A series stops after a rate that is this many times over the p99 target (or incomplete):
/// higher rates only queue more.
const GIVE_UP_FACTOR: f64 = 5.0;

/// Creates `pairs` contact pairs with a direct conversation each; returns
/// (conversation, sender token, receiver token) per pair.
pub async fn make_pairs(
    api: &Api,
    prefix: &str,
    pairs: usize,
) -> Result<Vec<(i64, String, String)>> {
    let contacts = api.contacts(prefix, pairs * 2).await?;
    let mut out = Vec::with_capacity(pairs);
    for pair in contacts.chunks(2) {
        if let [(a, a_token), (b, b_token)] = pair {
            let conversation = api
                .conversation("direct", &[(*a, "buyer"), (*b, "seller")])
                .await?;
            out.push((conversation, a_token.clone(), b_token.clone()));
        }
    }
    Ok(out)
}

/// Senders on `sender_url`, receivers on `receiver_url`.
pub fn specs(
    pairs: &[(i64, String, String)],
    sender_url: &str,
    receiver_url: &str,
) -> (Vec<SenderSpec>, Vec<ReceiverSpec>) {
    let senders = pairs
        .iter()
        .map(|(c, a, _)| SenderSpec {
            ws_url: sender_url.to_string(),
            token: a.clone(),
            conversation: *c,
        })
        .collect();
    let receivers = pairs
        .iter()
        .map(|(_, _, b)| ReceiverSpec {
            ws_url: receiver_url.to_string(),
            token: b.clone(),
        })
        .collect();
    (senders, receivers)
}

/// How long to wait for stragglers after a phase's sends.
pub fn drain_for(duration: Duration) -> Duration {
    duration.max(Duration::from_secs(5))
}

pub async fn run(ctx: &Ctx, args: &MessagesArgs) -> Result<Outcome> {
    let (_db, node, admin) = ctx.fresh_node(&[super::unlimited_messages()]).await?;
    let api = Api::new(&node.base, &admin)?;
    let pairs = make_pairs(&api, "pair", args.pairs.max(1)).await?;
    let (senders, receivers) = specs(&pairs, &node.ws_url(), &node.ws_url());
    let mut load = Load::connect(&senders, &receivers, 1, vec![node.pid]).await?;

    let duration = Duration::from_secs_f64(args.duration_s);
    let first_rate = args.rates.first().copied().unwrap_or(100.0);
    // A short phase first, so that connection pools and caches are warm for the series.
    let warmup = load
        .run_phase(
            first_rate,
            Duration::from_secs(2).min(duration),
            drain_for(duration),
        )
        .await?;
    let mut phases: Vec<PhaseResult> = Vec::new();
    for &rate in &args.rates {
        eprintln!("natter-bench: messages: {rate} msg/s");
        let phase = load.run_phase(rate, duration, drain_for(duration)).await?;
        eprintln!(
            "natter-bench:   sent {} acked {} delivered {} errors {}; delivery p50 {:.2} ms p99 {:.2} ms; server CPU {:.0}%, harness CPU {:.0}%",
            phase.sent,
            phase.acked,
            phase.delivered,
            phase.errors,
            phase.delivery.p50_ms,
            phase.delivery.p99_ms,
            phase.server_cpu_percent,
            phase.harness_cpu_percent
        );
        let give_up =
            !phase.complete() || phase.delivery.p99_ms > args.p99_target_ms * GIVE_UP_FACTOR;
        phases.push(phase);
        if give_up {
            break;
        }
    }
    let (protocol_errors, close_samples) = load.protocol_errors();
    load.close().await;

    let best = phases
        .iter()
        .filter(|p| p.complete() && p.delivery.p99_ms <= args.p99_target_ms)
        .max_by(|a, b| a.target_rate.total_cmp(&b.target_rate));
    let mut rows = Vec::new();
    match best {
        Some(p) => {
            rows.push(Row::target(
                format!(
                    "highest rate with delivery p99 ≤ {} ms (msg/s)",
                    args.p99_target_ms
                ),
                "≥ 20,000",
                thousands(p.send_rate),
                p.send_rate >= 20_000.0,
            ));
            rows.push(Row::info(
                format!("ack p50 / p99 / p99.9 @ {} msg/s", thousands(p.target_rate)),
                format!(
                    "{:.2} / {:.2} / {:.2} ms",
                    p.ack.p50_ms, p.ack.p99_ms, p.ack.p999_ms
                ),
            ));
            rows.push(Row::info(
                format!(
                    "delivery p50 / p99 / p99.9 @ {} msg/s",
                    thousands(p.target_rate)
                ),
                format!(
                    "{:.2} / {:.2} / {:.2} ms",
                    p.delivery.p50_ms, p.delivery.p99_ms, p.delivery.p999_ms
                ),
            ));
        }
        None => rows.push(Row::target(
            format!(
                "highest rate with delivery p99 ≤ {} ms (msg/s)",
                args.p99_target_ms
            ),
            "≥ 20,000",
            "none of the rates tried",
            false,
        )),
    }
    if let Some(next) = phases
        .iter()
        .find(|p| best.is_none_or(|b| p.target_rate > b.target_rate))
    {
        rows.push(Row::info(
            format!(
                "first rate over the line: {} msg/s",
                thousands(next.target_rate)
            ),
            format!(
                "sent {}/s, delivered {}/s; delivery p99 {:.1} ms; server CPU {:.0}%",
                thousands(next.send_rate),
                thousands(next.delivery_rate),
                next.delivery.p99_ms,
                next.server_cpu_percent
            ),
        ));
    }
    Ok(Outcome::ok(
        rows,
        json!({
            "pairs": args.pairs,
            "duration_s": args.duration_s,
            "p99_target_ms": args.p99_target_ms,
            "warmup": warmup,
            "phases": phases,
            "protocol_errors": protocol_errors,
            "close_samples": close_samples,
        }),
    ))
}
