//! History pages on a large store.
//!
//! Sending 10M messages through the API would take hours, so this is the one place where the
//! harness does not speak the public protocol: it creates the workspace, accounts and
//! conversations through the API, stops the server, bulk-inserts the messages with SQL
//! (`generate_series` on PostgreSQL, a recursive CTE in one transaction on SQLite), sets each
//! conversation's `last_seq` to match, and starts the server again. Reading is all API:
//! `GET /v1/conversations/{id}/messages?before=…&limit=50` at random positions, as a contact
//! that takes part in every conversation.
//!
//! The event log gets no entries for the generated messages, as if they were older than the
//! retention window; history reads do not touch it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde::Serialize;
use serde_json::json;
use sqlx::Executor;
use tokio::sync::Semaphore;

use super::{Ctx, Outcome, thousands};
use crate::client::Api;
use crate::report::Row;
use crate::server::Backend;
use crate::stats::{CpuMeter, Latency, Summary};

#[derive(Debug, Clone, clap::Args)]
pub struct HistoryArgs {
    /// Messages in the generated store.
    #[arg(
        id = "history-messages",
        long = "history-messages",
        default_value_t = 10_000_000
    )]
    pub messages: u64,
    /// Conversations they are spread over (evenly).
    #[arg(
        id = "history-conversations",
        long = "history-conversations",
        default_value_t = 100
    )]
    pub conversations: usize,
    /// Page requests per second to try, increasing.
    #[arg(id = "history-rates", long = "history-rates", value_delimiter = ',',
          default_values_t = [500.0, 1000.0, 2000.0, 5000.0, 10_000.0, 20_000.0, 30_000.0])]
    pub rates: Vec<f64>,
    /// Seconds each rate runs.
    #[arg(
        id = "history-duration",
        long = "history-duration",
        default_value_t = 10.0
    )]
    pub duration_s: f64,
    /// Requests in flight at most (more wait, and their wait counts in their latency).
    #[arg(
        id = "history-in-flight",
        long = "history-in-flight",
        default_value_t = 256
    )]
    pub in_flight: usize,
    /// Clients for the closed-loop throughput run (each sends its next request on an answer).
    #[arg(id = "history-clients", long = "history-clients", default_value_t = 64)]
    pub clients: usize,
    /// Seconds of the closed-loop run.
    #[arg(
        id = "history-closed-secs",
        long = "history-closed-secs",
        default_value_t = 10.0
    )]
    pub closed_secs: f64,
    /// p99 a rate must keep to count (ms).
    #[arg(id = "history-p99-ms", long = "history-p99-ms", default_value_t = 5.0)]
    pub p99_target_ms: f64,
}

const PAGE: i64 = 50;
/// Every this many responses is parsed in full and checked (50 messages, the right seqs);
/// the others are checked for status and shape only, so the harness stays cheap.
const VERIFY_EVERY: u64 = 50;
/// Padding that makes a generated body ~90 bytes, like a typical chat message.
const FILLER: &str =
    "lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor";

#[derive(Debug, Clone, Serialize)]
struct HistoryPhase {
    target_rate: f64,
    duration_s: f64,
    requests: u64,
    ok: u64,
    errors: u64,
    error_samples: Vec<String>,
    verified: u64,
    pages_per_second: f64,
    latency: Summary,
    server_cpu_percent: f64,
    harness_cpu_percent: f64,
}

#[derive(Default)]
struct Tally {
    ok: u64,
    errors: u64,
    verified: u64,
    error_samples: Vec<String>,
}

/// Where the reads go and what they may expect.
#[derive(Clone)]
struct Target {
    http: reqwest::Client,
    base: String,
    token: String,
    conversations: Arc<Vec<i64>>,
    per_conversation: i64,
}

/// A small xorshift generator: random page positions need no cryptographic quality.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

impl Target {
    /// A random page: (conversation, before). `before` ranges over the whole history, so
    /// pages come from everywhere in the table.
    fn pick(&self, rng: &mut Rng) -> (i64, i64) {
        let c = self.conversations[rng.below(self.conversations.len() as u64) as usize];
        let last = self.per_conversation;
        let before = if last > PAGE {
            PAGE + 1 + rng.below((last - PAGE) as u64) as i64
        } else {
            last + 1
        };
        (c, before)
    }

    /// One page request; `Ok(true)` when it was parsed and verified in full.
    async fn fetch(&self, conversation: i64, before: i64, verify: bool) -> Result<bool> {
        let response = self
            .http
            .get(format!(
                "{}/v1/conversations/{conversation}/messages?before={before}&limit={PAGE}",
                self.base
            ))
            .bearer_auth(&self.token)
            .send()
            .await?;
        let status = response.status();
        let bytes = response.bytes().await?;
        if !status.is_success() {
            bail!("{status}: {}", String::from_utf8_lossy(&bytes));
        }
        if !verify {
            if bytes.first() != Some(&b'[') || bytes.last() != Some(&b']') {
                bail!("the page is not a JSON array");
            }
            return Ok(false);
        }
        let page: Vec<natter_core::model::Message> =
            serde_json::from_slice(&bytes).context("parsing a page")?;
        let expected = (before - 1).min(PAGE);
        let seqs: Vec<i64> = page.iter().map(|m| m.seq).collect();
        let want: Vec<i64> = (before - expected..before).collect();
        if seqs != want {
            bail!("asked before {before}, got seqs {:?}…", seqs.first());
        }
        Ok(true)
    }
}

pub async fn run(ctx: &Ctx, args: &HistoryArgs) -> Result<Outcome> {
    let conversations = args.conversations.max(1);
    let per_conversation = i64::try_from(args.messages / conversations as u64)?.max(1);
    let (db, mut node, admin) = ctx.fresh_node(&[]).await?;
    let api = Api::new(&node.base, &admin)?;
    let me = api.me().await?;
    let (contact, contact_token) = api.contact("history-reader").await?;
    let mut ids = Vec::with_capacity(conversations);
    for _ in 0..conversations {
        ids.push(
            api.conversation("direct", &[(me, "agent"), (contact, "buyer")])
                .await?,
        );
    }
    node.stop().await?;

    let generated = Instant::now();
    generate(&db.url, ctx.backend, &ids, per_conversation, (me, contact)).await?;
    let generate_s = generated.elapsed().as_secs_f64();
    let total = per_conversation * conversations as i64;
    eprintln!(
        "natter-bench: history: generated {} messages in {generate_s:.1} s",
        thousands(total as f64)
    );
    node.restart(&ctx.launcher).await?;

    let target = Target {
        http: reqwest::Client::builder()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(args.in_flight.max(args.clients))
            .timeout(Duration::from_secs(30))
            .build()?,
        base: node.base.clone(),
        token: contact_token,
        conversations: Arc::new(ids),
        per_conversation,
    };
    // Warm-up: a few pages through every connection the runs will use.
    closed_loop(&target, args.clients, Duration::from_secs(2), node.pid).await?;

    let duration = Duration::from_secs_f64(args.duration_s);
    let mut phases = Vec::new();
    for &rate in &args.rates {
        eprintln!("natter-bench: history: {rate} pages/s");
        let phase = open_loop(&target, rate, duration, args.in_flight, node.pid).await?;
        eprintln!(
            "natter-bench:   ok {} errors {}; p50 {:.2} ms p99 {:.2} ms; server CPU {:.0}%, harness CPU {:.0}%",
            phase.ok,
            phase.errors,
            phase.latency.p50_ms,
            phase.latency.p99_ms,
            phase.server_cpu_percent,
            phase.harness_cpu_percent
        );
        let give_up = phase.errors > 0
            || phase.ok < phase.requests
            || phase.latency.p99_ms > args.p99_target_ms * 10.0;
        phases.push(phase);
        if give_up {
            break;
        }
    }
    let closed = closed_loop(
        &target,
        args.clients,
        Duration::from_secs_f64(args.closed_secs),
        node.pid,
    )
    .await?;
    node.stop().await?;
    drop(db);

    let best = phases
        .iter()
        .filter(|p| p.errors == 0 && p.ok == p.requests && p.latency.p99_ms <= args.p99_target_ms)
        .max_by(|a, b| a.target_rate.total_cmp(&b.target_rate));
    let mut rows = Vec::new();
    let store = format!("{} messages", thousands(total as f64));
    match best {
        Some(p) => rows.push(Row::target(
            format!("pages/s with p99 ≤ {} ms ({store})", args.p99_target_ms),
            "≥ 20,000",
            format!(
                "{} (p50 {:.2} ms, p99 {:.2} ms)",
                thousands(p.pages_per_second),
                p.latency.p50_ms,
                p.latency.p99_ms
            ),
            p.pages_per_second >= 20_000.0,
        )),
        None => rows.push(Row::target(
            format!("pages/s with p99 ≤ {} ms ({store})", args.p99_target_ms),
            "≥ 20,000",
            "none of the rates tried",
            false,
        )),
    }
    rows.push(Row::info(
        format!("pages/s closed loop, {} clients", closed.0),
        format!(
            "{} (p50 {:.2} ms, p99 {:.2} ms, server CPU {:.0}%)",
            thousands(closed.1.pages_per_second),
            closed.1.latency.p50_ms,
            closed.1.latency.p99_ms,
            closed.1.server_cpu_percent
        ),
    ));
    rows.push(Row::info(
        "store generation (SQL, not the API)",
        format!("{generate_s:.0} s"),
    ));
    Ok(Outcome::ok(
        rows,
        json!({
            "messages": total,
            "conversations": conversations,
            "per_conversation": per_conversation,
            "generate_s": generate_s,
            "phases": phases,
            "closed_loop": { "clients": closed.0, "result": closed.1 },
        }),
    ))
}

/// Bulk-inserts `per` messages into each conversation and sets `last_seq` to match.
async fn generate(
    url: &str,
    backend: Backend,
    conversations: &[i64],
    per: i64,
    (staff, contact): (i64, i64),
) -> Result<()> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .with_context(|| format!("connecting to {url}"))?;
    let now_ms = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis(),
    )?;
    // Messages one millisecond apart, ending now.
    let first_ms = now_ms - per;
    let insert = match backend {
        Backend::Postgres => {
            "insert into message (conversation_id, seq, sender_id, kind, format, body, created_at)
             select $1, n, case when n % 2 = 0 then $2 else $3 end, 'text', 'plain',
                    'history ' || n || ' ' || $4, $5 + n
             from generate_series(1, $6::bigint) as s(n)"
        }
        Backend::Sqlite => {
            "with recursive s(n) as (select 1 union all select n + 1 from s where n < $6)
             insert into message (conversation_id, seq, sender_id, kind, format, body, created_at)
             select $1, n, case when n % 2 = 0 then $2 else $3 end, 'text', 'plain',
                    'history ' || n || ' ' || $4, $5 + n
             from s"
        }
    };
    let mut conn = pool.acquire().await?;
    if backend == Backend::Sqlite {
        // Generation only: durability of this one bulk transaction does not matter, and a
        // large page cache keeps the index build in memory.
        conn.execute("pragma synchronous = off").await?;
        conn.execute("pragma cache_size = -262144").await?;
        conn.execute("begin").await?;
    }
    for (i, &c) in conversations.iter().enumerate() {
        sqlx::query(insert)
            .bind(c)
            .bind(staff)
            .bind(contact)
            .bind(FILLER)
            .bind(first_ms)
            .bind(per)
            .execute(&mut *conn)
            .await
            .with_context(|| format!("generating messages for conversation {c}"))?;
        sqlx::query(
            "update conversation set last_seq = $1, last_activity_at = $2, updated_at = $2
             where conversation_id = $3",
        )
        .bind(per)
        .bind(now_ms)
        .bind(c)
        .execute(&mut *conn)
        .await?;
        if (i + 1) % 10 == 0 || i + 1 == conversations.len() {
            eprintln!(
                "natter-bench: history: {}/{} conversations generated",
                i + 1,
                conversations.len()
            );
        }
    }
    match backend {
        Backend::Sqlite => {
            conn.execute("commit").await?;
            conn.execute("pragma wal_checkpoint(truncate)").await?;
        }
        Backend::Postgres => {
            // What autovacuum would have done to a table that grew this slowly in real life.
            conn.execute("vacuum analyze message").await?;
        }
    }
    drop(conn);
    pool.close().await;
    Ok(())
}

/// Requests at a fixed rate, scheduled by the clock; latency counts from the scheduled time,
/// including any wait for one of the `in_flight` slots.
async fn open_loop(
    target: &Target,
    rate: f64,
    duration: Duration,
    in_flight: usize,
    server_pid: u32,
) -> Result<HistoryPhase> {
    let slots = Arc::new(Semaphore::new(in_flight.max(1)));
    let latency = Arc::new(Mutex::new(Latency::new()?));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let interval = Duration::from_secs_f64(1.0 / rate);
    let server_cpu = CpuMeter::start(&[server_pid])?;
    let harness_cpu = CpuMeter::start(&[std::process::id()])?;
    let start = Instant::now() + Duration::from_millis(10);
    let end = start + duration;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ rate.to_bits());
    let mut tasks = tokio::task::JoinSet::new();
    let mut k: u64 = 0;
    let due = |k: u64| start + interval.mul_f64(k as f64);
    while due(k) < end {
        tokio::time::sleep_until(due(k).into()).await;
        let now = Instant::now();
        while due(k) <= now && due(k) < end {
            let scheduled = due(k);
            let (conversation, before) = target.pick(&mut rng);
            let verify = k.is_multiple_of(VERIFY_EVERY);
            let (target, slots, latency, tally) = (
                target.clone(),
                Arc::clone(&slots),
                Arc::clone(&latency),
                Arc::clone(&tally),
            );
            tasks.spawn(async move {
                let result = match slots.acquire_owned().await {
                    Ok(_permit) => target.fetch(conversation, before, verify).await,
                    Err(e) => Err(anyhow!("{e}")),
                };
                record(&latency, &tally, scheduled.elapsed(), result);
            });
            k += 1;
        }
        // Reap finished requests as we go so the set stays small.
        while tasks.try_join_next().is_some() {}
    }
    let requests = k;
    let drain_until = Instant::now() + Duration::from_secs(30);
    while !tasks.is_empty() {
        let left = drain_until.saturating_duration_since(Instant::now());
        if tokio::time::timeout(left, tasks.join_next()).await.is_err() {
            tasks.abort_all();
            break;
        }
    }
    let secs = duration.as_secs_f64();
    let server_cpu_percent = server_cpu.percent()?;
    let harness_cpu_percent = harness_cpu.percent()?;
    let tally = lock(&tally);
    let latency = lock(&latency);
    Ok(HistoryPhase {
        target_rate: rate,
        duration_s: secs,
        requests,
        ok: tally.ok,
        errors: tally.errors,
        error_samples: tally.error_samples.clone(),
        verified: tally.verified,
        pages_per_second: tally.ok as f64 / secs,
        latency: latency.summary(),
        server_cpu_percent,
        harness_cpu_percent,
    })
}

/// `clients` clients, each sending its next request when the previous one is answered.
async fn closed_loop(
    target: &Target,
    clients: usize,
    duration: Duration,
    server_pid: u32,
) -> Result<(usize, HistoryPhase)> {
    let latency = Arc::new(Mutex::new(Latency::new()?));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let server_cpu = CpuMeter::start(&[server_pid])?;
    let harness_cpu = CpuMeter::start(&[std::process::id()])?;
    let start = Instant::now();
    let end = start + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..clients.max(1) {
        let (target, latency, tally) = (target.clone(), Arc::clone(&latency), Arc::clone(&tally));
        tasks.spawn(async move {
            let mut rng = Rng(0xD1B5_4A32_D192_ED03 ^ (i as u64 + 1));
            let mut k: u64 = 0;
            while Instant::now() < end {
                let (conversation, before) = target.pick(&mut rng);
                let t = Instant::now();
                let result = target
                    .fetch(conversation, before, k.is_multiple_of(VERIFY_EVERY))
                    .await;
                record(&latency, &tally, t.elapsed(), result);
                k += 1;
            }
        });
    }
    let deadline = end + Duration::from_secs(30);
    while !tasks.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        if tokio::time::timeout(left, tasks.join_next()).await.is_err() {
            tasks.abort_all();
            break;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let server_cpu_percent = server_cpu.percent()?;
    let harness_cpu_percent = harness_cpu.percent()?;
    let tally = lock(&tally);
    let latency = lock(&latency);
    Ok((
        clients,
        HistoryPhase {
            target_rate: 0.0,
            duration_s: secs,
            requests: tally.ok + tally.errors,
            ok: tally.ok,
            errors: tally.errors,
            error_samples: tally.error_samples.clone(),
            verified: tally.verified,
            pages_per_second: tally.ok as f64 / secs,
            latency: latency.summary(),
            server_cpu_percent,
            harness_cpu_percent,
        },
    ))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn record(latency: &Mutex<Latency>, tally: &Mutex<Tally>, took: Duration, result: Result<bool>) {
    match result {
        Ok(verified) => {
            lock(latency).record(took);
            let mut t = lock(tally);
            t.ok += 1;
            t.verified += u64::from(verified);
        }
        Err(e) => {
            let mut t = lock(tally);
            t.errors += 1;
            if t.error_samples.len() < 5 {
                t.error_samples.push(format!("{e:#}"));
            }
        }
    }
}
