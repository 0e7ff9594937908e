//! Cross-node delivery: two nodes on one PostgreSQL database with Redis between them
//! (`NATTER_REDIS_URL`), distinct data directories. The same 1:1 load runs twice at one fixed
//! rate: receivers on the senders' node, then receivers on the other node. The figure is the
//! difference in delivery p50.

use std::time::Duration;

use anyhow::Result;
use serde_json::json;

use super::messages::{drain_for, make_pairs, specs};
use super::{Ctx, Outcome};
use crate::client::Api;
use crate::load::Load;
use crate::report::{Row, Status};
use crate::server::{Backend, Database, Node, StartError};

#[derive(Debug, Clone, clap::Args)]
pub struct CrossNodeArgs {
    /// Sender/receiver pairs.
    #[arg(id = "cross-pairs", long = "cross-pairs", default_value_t = 20)]
    pub pairs: usize,
    /// Messages per second (all pairs together); low enough that neither node is busy.
    #[arg(id = "cross-rate", long = "cross-rate", default_value_t = 200.0)]
    pub rate: f64,
    /// Seconds per measurement.
    #[arg(id = "cross-duration", long = "cross-duration", default_value_t = 10.0)]
    pub duration_s: f64,
}

/// host:port of a `redis://host:port/…` URL.
fn redis_address(url: &str) -> Option<String> {
    let rest = url.strip_prefix("redis://")?;
    let authority = rest.split('/').next()?;
    let host_port = authority.rsplit('@').next()?;
    Some(if host_port.contains(':') {
        host_port.to_string()
    } else {
        format!("{host_port}:6379")
    })
}

pub async fn run(ctx: &Ctx, args: &CrossNodeArgs) -> Result<Outcome> {
    if ctx.backend != Backend::Postgres {
        return Ok(Outcome::not_run(
            Status::Skipped,
            "needs PostgreSQL (nodes share one database); runs with --backend postgres",
        ));
    }
    let redis = &ctx.launcher.redis_url;
    let reachable = match redis_address(redis) {
        Some(addr) => {
            tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(addr))
                .await
                .is_ok_and(|r| r.is_ok())
        }
        None => false,
    };
    if !reachable {
        return Ok(Outcome::not_run(
            Status::Skipped,
            format!("Redis does not answer at {redis}"),
        ));
    }
    let env = [("NATTER_REDIS_URL", redis.clone())];
    let db = Database::create(&ctx.launcher, Backend::Postgres).await?;
    let (node_a, token) = match Node::start(&ctx.launcher, &db, &env).await {
        Ok(started) => started,
        Err(e) => {
            if let Some(start) = e.downcast_ref::<StartError>()
                && start.stderr.contains("NATTER_REDIS_URL")
            {
                let line = start
                    .stderr
                    .lines()
                    .find(|l| l.contains("NATTER_REDIS_URL"))
                    .unwrap_or("")
                    .trim()
                    .to_string();
                return Ok(Outcome::not_run(
                    Status::Pending,
                    format!(
                        "the server does not accept NATTER_REDIS_URL yet (cluster mode is not built): {line}"
                    ),
                ));
            }
            return Err(e);
        }
    };
    let admin = token.ok_or_else(|| anyhow::anyhow!("node A printed no admin token"))?;
    let (node_b, _) = Node::start(&ctx.launcher, &db, &env).await?;
    let pids = vec![node_a.pid, node_b.pid];
    let api = Api::new(&node_a.base, &admin)?;
    let pairs = make_pairs(&api, "cross", args.pairs.max(1)).await?;
    let duration = Duration::from_secs_f64(args.duration_s);

    // Same node (in cluster mode, so both runs pay for whatever cluster mode costs locally).
    let (senders, receivers) = specs(&pairs, &node_a.ws_url(), &node_a.ws_url());
    let mut load = Load::connect(&senders, &receivers, 1, pids.clone()).await?;
    load.run_phase(args.rate, Duration::from_secs(2), drain_for(duration))
        .await?;
    let same = load
        .run_phase(args.rate, duration, drain_for(duration))
        .await?;
    load.close().await;

    // Receivers on the other node.
    let (senders, receivers) = specs(&pairs, &node_a.ws_url(), &node_b.ws_url());
    let mut load = Load::connect(&senders, &receivers, 1, pids).await?;
    load.run_phase(args.rate, Duration::from_secs(2), drain_for(duration))
        .await?;
    let cross = load
        .run_phase(args.rate, duration, drain_for(duration))
        .await?;
    let (protocol_errors, close_samples) = load.protocol_errors();
    load.close().await;
    drop(node_b);
    drop(node_a);
    drop(db);

    let extra_p50 = cross.delivery.p50_ms - same.delivery.p50_ms;
    let rows = vec![
        Row::target(
            "extra delivery p50, receiver on the other node",
            "≤ 1 ms",
            format!(
                "{extra_p50:.2} ms ({:.2} → {:.2} ms)",
                same.delivery.p50_ms, cross.delivery.p50_ms
            ),
            extra_p50 <= 1.0 && cross.complete(),
        ),
        Row::info(
            "delivery p99 same node / other node",
            format!(
                "{:.2} / {:.2} ms at {} msg/s{}",
                same.delivery.p99_ms,
                cross.delivery.p99_ms,
                args.rate,
                if cross.complete() {
                    String::new()
                } else {
                    format!(
                        "; other node got {} of {}",
                        cross.delivered, cross.expected_deliveries
                    )
                }
            ),
        ),
    ];
    Ok(Outcome::ok(
        rows,
        json!({
            "pairs": args.pairs,
            "rate": args.rate,
            "same_node": same,
            "cross_node": cross,
            "extra_p50_ms": extra_p50,
            "protocol_errors": protocol_errors,
            "close_samples": close_samples,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::redis_address;

    #[test]
    fn the_redis_address_comes_from_the_url() {
        assert_eq!(
            redis_address("redis://127.0.0.1:6379/").as_deref(),
            Some("127.0.0.1:6379")
        );
        assert_eq!(
            redis_address("redis://:pw@localhost/0").as_deref(),
            Some("localhost:6379")
        );
        assert_eq!(redis_address("http://x"), None);
    }
}
