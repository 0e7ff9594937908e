//! Idle connections: server memory per authenticated WebSocket, and the CPU the server spends
//! on them (heartbeats) while nothing else happens.
//!
//! The client side runs in child processes of the harness (`natter-bench __idle-worker`), at
//! most `--idle-per-process` connections each: one process may hold about 19,900 sockets here
//! (20,000 open files, a hard limit), so 18,000 connections plus everything else do not fit
//! in one.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use super::{Ctx, Outcome};
use crate::client::{Api, connect};
use crate::report::Row;
use crate::stats::{CpuMeter, rss_kib};

#[derive(Debug, Clone, clap::Args)]
pub struct IdleArgs {
    /// Numbers of idle connections to hold, one fresh server each.
    #[arg(id = "idle-connections", long = "idle-connections", value_delimiter = ',', default_values_t = [1000, 10_000, 18_000])]
    pub connections: Vec<usize>,
    /// Seconds over which the server's idle CPU is measured.
    #[arg(id = "idle-cpu-secs", long = "idle-cpu-secs", default_value_t = 30)]
    pub cpu_secs: u64,
    /// Contacts whose tokens the connections share.
    #[arg(id = "idle-contacts", long = "idle-contacts", default_value_t = 100)]
    pub contacts: usize,
    /// Connections per client process at most.
    #[arg(
        id = "idle-per-process",
        long = "idle-per-process",
        default_value_t = 9000
    )]
    pub per_process: usize,
}

/// The target from the issue, in bytes per idle connection.
const RSS_TARGET_BYTES: f64 = 8.0 * 1024.0;
/// Time for connections to settle (and the allocator to stop moving) before reading RSS.
const SETTLE: Duration = Duration::from_secs(3);
/// How long the workers may take to connect everything.
const CONNECT_ALL_TIMEOUT: Duration = Duration::from_secs(300);
/// Concurrent connection attempts per worker.
const WORKER_CONCURRENCY: usize = 200;

#[derive(Debug, Clone, Serialize)]
struct IdlePoint {
    connections: usize,
    connected: u64,
    failed: u64,
    client_processes: usize,
    server_rss_before_kib: u64,
    server_rss_after_kib: u64,
    rss_per_connection_bytes: f64,
    cpu_window_s: f64,
    server_cpu_percent: f64,
    client_cpu_percent: f64,
    /// Server pings the clients saw during the hold (heartbeats).
    pings_seen: u64,
    /// Connections that closed before the harness closed them.
    closed_early: u64,
    heartbeat_secs: u64,
}

pub async fn run(ctx: &Ctx, args: &IdleArgs) -> Result<Outcome> {
    let mut points = Vec::new();
    let mut rows = Vec::new();
    for &n in &args.connections {
        let point = measure(ctx, args, n).await?;
        rows.push(Row::target(
            format!("server RSS per idle connection @ {n}"),
            "≤ 8 KiB",
            format!("{:.1} KiB", point.rss_per_connection_bytes / 1024.0),
            point.rss_per_connection_bytes <= RSS_TARGET_BYTES,
        ));
        rows.push(Row::info(
            format!(
                "server idle CPU @ {n} (heartbeat {} s)",
                point.heartbeat_secs
            ),
            format!(
                "{:.2}% of a core over {:.0} s",
                point.server_cpu_percent, point.cpu_window_s
            ),
        ));
        if point.failed > 0 || point.closed_early > 0 {
            rows.push(Row::info(
                format!("connections failed / closed early @ {n}"),
                format!("{} / {}", point.failed, point.closed_early),
            ));
        }
        points.push(point);
    }
    Ok(Outcome::ok(rows, json!({ "points": points })))
}

async fn measure(ctx: &Ctx, args: &IdleArgs, n: usize) -> Result<IdlePoint> {
    eprintln!("natter-bench: idle: {n} connections");
    let (_db, node, admin) = ctx.fresh_node(&[]).await?;
    let api = Api::new(&node.base, &admin)?;
    let contacts = api
        .contacts("idle", args.contacts.clamp(1, n.max(1)))
        .await?;
    let tokens_dir = tempfile::tempdir()?;
    let tokens_file = tokens_dir.path().join("tokens");
    let tokens: Vec<&str> = contacts.iter().map(|(_, t)| t.as_str()).collect();
    std::fs::write(&tokens_file, tokens.join("\n"))?;

    // Warm the server up (database pools, the hub's tables) so one-time allocations are not
    // charged to the connections.
    for token in tokens.iter().take(10) {
        let (ws, _) = connect(&node.ws_url(), token).await?;
        drop(ws);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_before = rss_kib(node.pid)?;

    let processes = n.div_ceil(args.per_process.max(1)).max(1);
    let mut workers = Vec::new();
    for i in 0..processes {
        let count = n / processes + usize::from(i < n % processes);
        workers.push(Worker::spawn(
            &node.ws_url(),
            &tokens_file,
            count,
            args.cpu_secs + 300,
        )?);
    }
    let deadline = Instant::now() + CONNECT_ALL_TIMEOUT;
    let mut connected = 0;
    let mut failed = 0;
    for w in &mut workers {
        let report = w.next_report(deadline).await?;
        connected += report.ok;
        failed += report.failed;
        if let Some(e) = report.error {
            eprintln!("natter-bench: idle: a connection failed: {e}");
        }
    }
    let settle = SETTLE.min(Duration::from_secs(args.cpu_secs.max(1)));
    tokio::time::sleep(settle).await;
    let rss_after = rss_kib(node.pid)?;

    let worker_pids: Vec<u32> = workers.iter().map(|w| w.child.id()).collect();
    let server_cpu = CpuMeter::start(&[node.pid])?;
    let client_cpu = CpuMeter::start(&worker_pids)?;
    let window = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.cpu_secs)).await;
    let cpu_window_s = window.elapsed().as_secs_f64();
    let server_cpu_percent = server_cpu.percent()?;
    let client_cpu_percent = client_cpu.percent()?;

    let mut pings_seen = 0;
    let mut closed_early = 0;
    let stop_deadline = Instant::now() + Duration::from_secs(60);
    for w in &mut workers {
        w.stop();
    }
    for w in &mut workers {
        let done = w.next_report(stop_deadline).await?;
        pings_seen += done.pings;
        closed_early += done.closed;
        w.wait().await;
    }
    let heartbeat_secs = natter_core::config::Config::default()
        .realtime
        .heartbeat_secs;
    let delta_bytes = rss_after.saturating_sub(rss_before) as f64 * 1024.0;
    Ok(IdlePoint {
        connections: n,
        connected,
        failed,
        client_processes: processes,
        server_rss_before_kib: rss_before,
        server_rss_after_kib: rss_after,
        rss_per_connection_bytes: delta_bytes / connected.max(1) as f64,
        cpu_window_s,
        server_cpu_percent,
        client_cpu_percent,
        pings_seen,
        closed_early,
        heartbeat_secs,
    })
}

/// A line a worker prints on stdout.
#[derive(Debug, Default, Serialize, Deserialize)]
struct WorkerReport {
    event: String,
    #[serde(default)]
    ok: u64,
    #[serde(default)]
    failed: u64,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    pings: u64,
    #[serde(default)]
    closed: u64,
}

/// A client process holding idle connections.
struct Worker {
    child: Child,
    stdin: Option<ChildStdin>,
    /// Lines of the worker's stdout, read by a thread.
    lines: Option<mpsc::Receiver<String>>,
}

impl Worker {
    fn spawn(url: &str, tokens: &PathBuf, count: usize, hold_secs: u64) -> Result<Self> {
        let exe = std::env::current_exe().context("locating natter-bench")?;
        let mut child = Command::new(exe)
            .args(["__idle-worker", "--url", url, "--tokens-file"])
            .arg(tokens)
            .args([
                "--count",
                &count.to_string(),
                "--hold-secs",
                &hold_secs.to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("starting an idle worker")?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("no worker stdout"))?;
        let stdin = child.stdin.take();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Worker {
            child,
            stdin,
            lines: Some(lines),
        })
    }

    async fn next_report(&mut self, deadline: Instant) -> Result<WorkerReport> {
        let left = deadline.saturating_duration_since(Instant::now());
        // The receiver moves into the blocking wait and comes back with the line.
        let lines = self
            .lines
            .take()
            .ok_or_else(|| anyhow!("the idle worker's output is gone"))?;
        let (line, lines) = tokio::task::spawn_blocking(move || {
            let line = lines.recv_timeout(left);
            (line, lines)
        })
        .await?;
        self.lines = Some(lines);
        let line = line.map_err(|_| anyhow!("an idle worker did not report in time"))?;
        serde_json::from_str(&line).with_context(|| format!("worker said {line:?}"))
    }

    /// Closing stdin tells the worker to close its connections and report.
    fn stop(&mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            // The worker may have exited already (its hold time is bounded too).
            let _ = stdin.write_all(b"stop\n");
        }
    }

    async fn wait(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct WorkerArgs {
    #[arg(long)]
    url: String,
    #[arg(long)]
    tokens_file: PathBuf,
    #[arg(long)]
    count: usize,
    /// Upper bound on how long the connections are held if nobody says stop.
    #[arg(long)]
    hold_secs: u64,
}

/// `natter-bench __idle-worker`: connects `count` WebSockets, reports, holds them (answering
/// the server's pings) until stdin says stop or closes, then reports again and exits.
pub async fn worker(args: WorkerArgs) -> Result<()> {
    let tokens: Vec<String> = std::fs::read_to_string(&args.tokens_file)?
        .lines()
        .map(str::to_string)
        .collect();
    if tokens.is_empty() {
        bail!("no tokens in {}", args.tokens_file.display());
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let pings = Arc::new(AtomicU64::new(0));
    let closed = Arc::new(AtomicU64::new(0));
    let url = args.url.clone();
    let results: Vec<Result<_>> = futures_util::stream::iter(0..args.count)
        .map(|i| connect(&url, &tokens[i % tokens.len()]))
        .buffer_unordered(WORKER_CONCURRENCY)
        .collect()
        .await;
    let mut ok = 0;
    let mut failed = 0;
    let mut error = None;
    let mut holders = Vec::new();
    for r in results {
        match r {
            Ok((ws, _)) => {
                ok += 1;
                holders.push(tokio::spawn(hold(
                    ws,
                    stop_rx.clone(),
                    Arc::clone(&pings),
                    Arc::clone(&closed),
                )));
            }
            Err(e) => {
                failed += 1;
                error.get_or_insert_with(|| format!("{e:#}"));
            }
        }
    }
    println!(
        "{}",
        serde_json::to_string(&WorkerReport {
            event: "connected".into(),
            ok,
            failed,
            error,
            ..WorkerReport::default()
        })?
    );
    // Stop on a line or end of stdin, or when the hold time is up.
    let stdin_closed = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    });
    tokio::select! {
        _ = stdin_closed => {}
        () = tokio::time::sleep(Duration::from_secs(args.hold_secs)) => {}
    }
    // Count before closing: closes from here on are ours.
    let closed_early = closed.load(Ordering::SeqCst);
    let _ = stop_tx.send(true);
    for h in holders {
        let _ = tokio::time::timeout(Duration::from_secs(10), h).await;
    }
    println!(
        "{}",
        serde_json::to_string(&WorkerReport {
            event: "done".into(),
            pings: pings.load(Ordering::SeqCst),
            closed: closed_early,
            ..WorkerReport::default()
        })?
    );
    Ok(())
}

async fn hold(
    mut ws: crate::client::Ws,
    mut stop: tokio::sync::watch::Receiver<bool>,
    pings: Arc<AtomicU64>,
    closed: Arc<AtomicU64>,
) {
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            message = ws.next() => match message {
                // tungstenite queues the pong itself and sends it on the next read.
                Some(Ok(Message::Ping(_))) => { pings.fetch_add(1, Ordering::Relaxed); }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                    closed.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Some(Ok(_)) => {}
            }
        }
    }
}
