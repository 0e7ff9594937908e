//! Starting and stopping real `natter serve` processes, each on a database of its own.
//!
//! The harness runs the release binary exactly as an operator would: `natter serve --listen
//! 127.0.0.1:0` with `NATTER_DATA_DIR` and `NATTER_DATABASE_URL`, and reads the two lines the
//! server prints on stdout for people and scripts (the first admin token on a fresh database,
//! then the listening address). Optionally the server is pinned to CPUs with `taskset`, so
//! that it and the load generator do not share a core.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};

/// How long a server may take to migrate and print its address.
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a server may take to shut down gracefully after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Everything needed to start servers: which binary, where to pin it, which services to use.
#[derive(Debug, Clone)]
pub struct Launcher {
    pub natter: PathBuf,
    /// `taskset -c` CPU list for servers; `None` leaves them unpinned.
    pub server_cpus: Option<String>,
    /// A PostgreSQL URL with the right to create databases (a fresh one per scenario).
    pub postgres_url: String,
    pub redis_url: String,
}

/// A database for one scenario: a SQLite file in a temporary directory, or a fresh
/// PostgreSQL database that is dropped again when this is dropped.
pub struct Database {
    pub url: String,
    /// (admin URL, database name) of a PostgreSQL database this harness created.
    postgres: Option<(String, String)>,
    /// Holds the SQLite file; removed with it.
    _dir: tempfile::TempDir,
}

fn unique_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "natter_bench_{}_{}_{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

impl Database {
    pub async fn create(launcher: &Launcher, backend: Backend) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("natter-bench-db-")
            .tempdir()
            .context("creating a temporary directory")?;
        match backend {
            Backend::Sqlite => Ok(Database {
                url: format!("sqlite://{}/natter.db", dir.path().display()),
                postgres: None,
                _dir: dir,
            }),
            Backend::Postgres => {
                let name = unique_name();
                let admin = &launcher.postgres_url;
                sqlx::any::install_default_drivers();
                let pool = sqlx::AnyPool::connect(admin)
                    .await
                    .with_context(|| format!("connecting to PostgreSQL at {admin}"))?;
                sqlx::query(sqlx::AssertSqlSafe(format!("create database {name}")))
                    .execute(&pool)
                    .await
                    .with_context(|| format!("creating database {name}"))?;
                pool.close().await;
                let base = admin
                    .rsplit_once('/')
                    .map(|(base, _)| base)
                    .ok_or_else(|| anyhow!("cannot parse the PostgreSQL URL {admin}"))?;
                Ok(Database {
                    url: format!("{base}/{name}"),
                    postgres: Some((admin.clone(), name)),
                    _dir: dir,
                })
            }
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let Some((admin, name)) = self.postgres.take() else {
            return;
        };
        // Drop may run inside the harness's runtime, where blocking on another future is not
        // allowed: use a thread with a small runtime of its own.
        let dropped = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok(pool) = sqlx::AnyPool::connect(&admin).await {
                    let sql = format!("drop database if exists {name} with (force)");
                    if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await {
                        eprintln!("natter-bench: could not drop database {name}: {e}");
                    }
                    pool.close().await;
                }
            });
        })
        .join();
        if dropped.is_err() {
            eprintln!("natter-bench: dropping a PostgreSQL database panicked");
        }
    }
}

/// A running `natter serve`.
pub struct Node {
    pub base: String,
    pub pid: u32,
    child: Option<Child>,
    data_dir: tempfile::TempDir,
    stderr_log: PathBuf,
    db_url: String,
    env: Vec<(String, String)>,
}

/// Why a node did not start.
#[derive(Debug)]
pub struct StartError {
    pub message: String,
    /// What the server wrote to stderr before it exited.
    pub stderr: String,
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}; server stderr:\n{}",
            self.message,
            self.stderr.trim()
        )
    }
}

impl std::error::Error for StartError {}

enum Line {
    Text(String),
    End,
}

impl Node {
    /// Starts a node on `db` with extra `NATTER_*` settings; returns it and the first admin
    /// token, which only a start on an empty database prints.
    pub async fn start(
        launcher: &Launcher,
        db: &Database,
        env: &[(&str, String)],
    ) -> Result<(Node, Option<String>)> {
        let data_dir = tempfile::Builder::new()
            .prefix("natter-bench-node-")
            .tempdir()
            .context("creating a temporary directory")?;
        let stderr_log = data_dir.path().join("stderr.log");
        let mut node = Node {
            base: String::new(),
            pid: 0,
            child: None,
            data_dir,
            stderr_log,
            db_url: db.url.clone(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        };
        let token = node.spawn(launcher).await?;
        Ok((node, token))
    }

    pub fn ws_url(&self) -> String {
        format!("{}/v1/ws", self.base.replacen("http", "ws", 1))
    }

    fn command(&self, launcher: &Launcher) -> Command {
        let mut command = match &launcher.server_cpus {
            Some(cpus) => {
                // taskset execs natter, so the child's pid is the server's pid.
                let mut c = Command::new("taskset");
                c.arg("-c").arg(cpus).arg(&launcher.natter);
                c
            }
            None => Command::new(&launcher.natter),
        };
        command
            .args(["serve", "--listen", "127.0.0.1:0"])
            // A clean environment: natter refuses unknown NATTER_* variables, and the
            // harness's own settings must not leak into the server's configuration.
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("NATTER_DATA_DIR", self.data_dir.path())
            .env("NATTER_DATABASE_URL", &self.db_url)
            .env("NATTER_LOG", "info");
        for (k, v) in &self.env {
            command.env(k, v);
        }
        command
    }

    async fn spawn(&mut self, launcher: &Launcher) -> Result<Option<String>> {
        if !launcher.natter.is_file() {
            bail!(
                "the natter binary {} does not exist (build it with \
                 `cargo build --release -p natter-server`, or pass --natter)",
                launcher.natter.display()
            );
        }
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.stderr_log)
            .context("opening the server's stderr log")?;
        let mut child = self
            .command(launcher)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .stdin(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", launcher.natter.display()))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("no stdout pipe"))?;
        self.pid = child.id();
        self.child = Some(child);

        // A thread reads stdout for the whole life of the process (so it never blocks on a
        // full pipe) and hands the lines over until the address is known.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // Nobody listens any more once the node is up: ignore send errors.
                let _ = tx.send(Line::Text(line));
            }
            let _ = tx.send(Line::End);
        });
        let waited = tokio::task::spawn_blocking(move || {
            let deadline = Instant::now() + START_TIMEOUT;
            let mut token = None;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match rx.recv_timeout(left) {
                    Ok(Line::Text(line)) => {
                        if let Some((_, t)) = line.split_once("first admin API token") {
                            token = t.rsplit(' ').next().map(str::to_string);
                        }
                        if let Some(addr) = line.strip_prefix("natter listening on ") {
                            return Ok((addr.trim().to_string(), token));
                        }
                    }
                    Ok(Line::End) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                        return Err("natter exited during start".to_string());
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        return Err(format!(
                            "natter did not print its address within {START_TIMEOUT:?}"
                        ));
                    }
                }
            }
        })
        .await
        .context("waiting for the server")?;
        match waited {
            Ok((base, token)) => {
                self.base = base;
                Ok(token)
            }
            Err(message) => {
                self.kill();
                Err(StartError {
                    message,
                    stderr: self.stderr(),
                }
                .into())
            }
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }

    /// Sends SIGTERM and waits for a graceful exit (killing the process if it takes longer
    /// than [`STOP_TIMEOUT`]).
    pub async fn stop(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .context("running kill")?;
        if !status.success() {
            bail!("kill -TERM {} failed", child.id());
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if child.try_wait()?.is_some() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                child.kill()?;
                child.wait()?;
                bail!("natter did not stop within {STOP_TIMEOUT:?} of SIGTERM; killed it");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts the process again on the same data directory and database.
    pub async fn restart(&mut self, launcher: &Launcher) -> Result<()> {
        if self.child.is_some() {
            bail!("stop the node before restarting it");
        }
        self.spawn(launcher).await.map(|_| ())
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Already gone is fine: all we want is that it is not running.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Where the `natter` binary is by default: next to this executable (`target/release/natter`
/// beside `target/release/natter-bench`).
pub fn default_natter_path() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("natter")))
        .unwrap_or_else(|| PathBuf::from("natter"))
}
