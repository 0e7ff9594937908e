//! `natter-bench`: starts real natter servers and measures them over the public protocol
//! (REST and the `/v1/ws` WebSocket), with open-loop senders and HdrHistogram latencies.
//! See `docs/benchmarks.md` for what each scenario does and the latest figures.

mod client;
mod load;
mod report;
mod scenarios;
mod server;
mod stats;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use crate::report::{Machine, Run, ScenarioResult, Status};
use crate::scenarios::cross_node::CrossNodeArgs;
use crate::scenarios::fanout::FanoutArgs;
use crate::scenarios::history::HistoryArgs;
use crate::scenarios::idle::{IdleArgs, WorkerArgs};
use crate::scenarios::messages::MessagesArgs;
use crate::scenarios::storm::StormArgs;
use crate::scenarios::{Ctx, run_scenario};
use crate::server::{Backend, Launcher, default_natter_path};

#[derive(Parser)]
#[command(
    name = "natter-bench",
    version,
    about = "Benchmarks natter over its public protocol"
)]
struct Cli {
    /// The natter binary (default: `natter` next to this executable).
    #[arg(long, global = true)]
    natter: Option<PathBuf>,
    /// Storage backend of the servers under test.
    #[arg(long, global = true, value_enum, default_value_t = Backend::Sqlite)]
    backend: Backend,
    /// A PostgreSQL URL allowed to create databases (one fresh database per scenario).
    #[arg(
        long,
        global = true,
        env = "NATTER_TEST_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    postgres_url: String,
    /// Redis for the cross-node scenario.
    #[arg(long, global = true, default_value = "redis://127.0.0.1:6379/")]
    redis_url: String,
    /// Pin servers to these CPUs (`taskset -c`), e.g. 0. Pin the harness itself with
    /// `taskset -c 1 natter-bench …`.
    #[arg(long, global = true)]
    server_cpus: Option<String>,
    /// Where to write the JSON results (default: target/bench/<backend>-<command>-<time>.json).
    #[arg(long, global = true)]
    out: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Idle connections: server RSS per connection and idle CPU.
    Idle(IdleArgs),
    /// Durable 1:1 messages at fixed rates: ack and delivery latency.
    Messages(MessagesArgs),
    /// Room fan-out: deliveries per second and latency.
    Fanout(FanoutArgs),
    /// History pages on a generated store.
    History(HistoryArgs),
    /// Connection storm: connects per second.
    Storm(StormArgs),
    /// Two nodes + Redis: the extra latency of cross-node delivery (PostgreSQL only).
    CrossNode(CrossNodeArgs),
    /// Every scenario with its full sizes (flags of each scenario apply).
    All(Box<AllArgs>),
    /// A short run of every scenario with tiny sizes (for CI; asserts nothing about speed).
    Smoke,
    /// Renders JSON results into the generated part of a Markdown file.
    Report {
        /// The Markdown file to update (e.g. docs/benchmarks.md).
        #[arg(long)]
        markdown: PathBuf,
        /// JSON result files, one per run (e.g. the SQLite and the PostgreSQL run).
        files: Vec<PathBuf>,
    },
    /// Internal: a client process holding idle connections for `idle`.
    #[command(name = "__idle-worker", hide = true)]
    IdleWorker(WorkerArgs),
}

#[derive(clap::Args)]
struct AllArgs {
    #[command(flatten)]
    idle: IdleArgs,
    #[command(flatten)]
    messages: MessagesArgs,
    #[command(flatten)]
    fanout: FanoutArgs,
    #[command(flatten)]
    history: HistoryArgs,
    #[command(flatten)]
    storm: StormArgs,
    #[command(flatten)]
    cross: CrossNodeArgs,
}

impl AllArgs {
    /// Tiny sizes: every scenario in well under a minute altogether.
    fn smoke() -> Self {
        AllArgs {
            idle: IdleArgs {
                connections: vec![50],
                cpu_secs: 2,
                contacts: 5,
                per_process: 9000,
            },
            messages: MessagesArgs {
                pairs: 5,
                rates: vec![50.0],
                duration_s: 2.0,
                p99_target_ms: 20.0,
            },
            fanout: FanoutArgs {
                members: vec![10],
                deliveries: vec![500.0],
                senders: 2,
                duration_s: 2.0,
            },
            history: HistoryArgs {
                messages: 10_000,
                conversations: 2,
                rates: vec![100.0],
                duration_s: 2.0,
                in_flight: 16,
                clients: 4,
                closed_secs: 1.0,
                p99_target_ms: 5.0,
            },
            storm: StormArgs {
                connections: 200,
                concurrency: 50,
                contacts: 5,
            },
            cross: CrossNodeArgs {
                pairs: 3,
                rate: 30.0,
                duration_s: 2.0,
            },
        }
    }
}

/// `cross_ctx` is the context for the cross-node scenario, which needs PostgreSQL whatever
/// the backend of the others (`None`: not available, skipped).
async fn run_all(ctx: &Ctx, cross_ctx: Option<&Ctx>, all: &AllArgs) -> Vec<ScenarioResult> {
    let mut results = vec![
        run_scenario("idle", scenarios::idle::run(ctx, &all.idle)).await,
        run_scenario("messages", scenarios::messages::run(ctx, &all.messages)).await,
        run_scenario("fanout", scenarios::fanout::run(ctx, &all.fanout)).await,
        run_scenario("history", scenarios::history::run(ctx, &all.history)).await,
        run_scenario("storm", scenarios::storm::run(ctx, &all.storm)).await,
    ];
    results.push(match cross_ctx {
        Some(cross) => {
            run_scenario("cross-node", scenarios::cross_node::run(cross, &all.cross)).await
        }
        None => run_scenario("cross-node", async {
            Ok(scenarios::Outcome::not_run(
                Status::Skipped,
                "PostgreSQL is not reachable, and nodes of a cluster share a PostgreSQL database",
            ))
        })
        .await,
    });
    results
}

/// Whether PostgreSQL answers at `url` (a few seconds at most).
async fn postgres_reachable(url: &str) -> bool {
    sqlx::any::install_default_drivers();
    let connect = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(std::time::Duration::from_secs(5))
        .connect(url);
    match tokio::time::timeout(std::time::Duration::from_secs(5), connect).await {
        Ok(Ok(pool)) => {
            pool.close().await;
            true
        }
        _ => false,
    }
}

fn natter_version(natter: &Path) -> String {
    std::process::Command::new(natter)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

/// target/bench beside the directory this executable lives in (target/release → target).
fn default_out_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.parent()
                .and_then(|dir| dir.parent())
                .map(|target| target.join("bench"))
        })
        .unwrap_or_else(|| PathBuf::from("target/bench"))
}

async fn measure(cli: Cli) -> Result<bool> {
    let launcher = Launcher {
        natter: cli.natter.clone().unwrap_or_else(default_natter_path),
        server_cpus: cli.server_cpus.clone(),
        postgres_url: cli.postgres_url.clone(),
        redis_url: cli.redis_url.clone(),
    };
    let ctx = Ctx {
        launcher: launcher.clone(),
        backend: cli.backend,
    };
    let started_at = report::utc_now();
    let (name, scenarios) = match &cli.command {
        Command::Idle(a) => (
            "idle",
            vec![run_scenario("idle", scenarios::idle::run(&ctx, a)).await],
        ),
        Command::Messages(a) => (
            "messages",
            vec![run_scenario("messages", scenarios::messages::run(&ctx, a)).await],
        ),
        Command::Fanout(a) => (
            "fanout",
            vec![run_scenario("fanout", scenarios::fanout::run(&ctx, a)).await],
        ),
        Command::History(a) => (
            "history",
            vec![run_scenario("history", scenarios::history::run(&ctx, a)).await],
        ),
        Command::Storm(a) => (
            "storm",
            vec![run_scenario("storm", scenarios::storm::run(&ctx, a)).await],
        ),
        Command::CrossNode(a) => (
            "cross-node",
            vec![run_scenario("cross-node", scenarios::cross_node::run(&ctx, a)).await],
        ),
        Command::All(a) => ("all", run_all(&ctx, Some(&ctx), a).await),
        Command::Smoke => {
            // The smoke run is on the chosen backend (SQLite by default), except cross-node,
            // which needs PostgreSQL: it runs there if PostgreSQL is reachable.
            let cross = Ctx {
                launcher: launcher.clone(),
                backend: Backend::Postgres,
            };
            let cross = postgres_reachable(&launcher.postgres_url)
                .await
                .then_some(&cross);
            ("smoke", run_all(&ctx, cross, &AllArgs::smoke()).await)
        }
        Command::Report { .. } | Command::IdleWorker(_) => return Ok(true),
    };
    let run = Run {
        harness: format!("natter-bench {}", env!("CARGO_PKG_VERSION")),
        natter_version: natter_version(&launcher.natter),
        backend: cli.backend.as_str().to_string(),
        started_at,
        finished_at: report::utc_now(),
        server_cpus: cli.server_cpus.clone(),
        harness_cpus: report::own_cpus(),
        machine: Machine::describe(),
        scenarios,
    };
    let out = match &cli.out {
        Some(path) => path.clone(),
        None => default_out_dir().join(format!(
            "{}-{name}-{}.json",
            run.backend,
            run.started_at.replace(':', "")
        )),
    };
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&out, serde_json::to_string_pretty(&run)?)
        .with_context(|| format!("writing {}", out.display()))?;
    println!("{}", report::run_table(&run));
    println!("results: {}", out.display());
    Ok(run.scenarios.iter().all(|s| s.status != Status::Failed))
}

fn report_command(markdown: &Path, files: &[PathBuf]) -> Result<()> {
    let runs = files
        .iter()
        .map(|f| {
            let text =
                std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
            serde_json::from_str::<Run>(&text).with_context(|| format!("parsing {}", f.display()))
        })
        .collect::<Result<Vec<_>>>()?;
    report::write_into(markdown, &report::render_generated(&runs)?)
}

fn main() -> ExitCode {
    stats::init_clock();
    let cli = Cli::parse();
    if let Command::Report { markdown, files } = &cli.command {
        return match report_command(markdown, files) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("natter-bench: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    // Worker threads follow the CPUs this process may use (taskset), so a harness pinned to
    // one core runs one worker thread.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("natter-bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::IdleWorker(args) => scenarios::idle::worker(args).await.map(|()| true),
            _ => measure(cli).await,
        }
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("natter-bench: some scenarios failed (see the results)");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("natter-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}
