//! Test harness: runs the real `natter` binary on a fresh SQLite directory or a fresh
//! PostgreSQL database, and talks to it over real sockets (HTTP and WebSocket).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

/// Runs a test body once per storage backend: `both_backends!(name, body_fn);` defines
/// `mod name { sqlite(), postgres() }`.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                super::$body($crate::common::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                super::$body($crate::common::Backend::Postgres).await;
            }
        }
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

fn admin_postgres_url() -> String {
    std::env::var("NATTER_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

fn unique_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "natter_it_{}_{}_{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A running `natter serve` with its own data directory (and database).
pub struct Server {
    pub backend: Backend,
    pub base: String,
    pub token: String,
    dir: tempfile::TempDir,
    /// The database this server uses (shared by the nodes of a cluster).
    database_url: String,
    /// Set on the server that created the PostgreSQL database, which drops it.
    pg_database: Option<String>,
    child: Option<Child>,
    extra_env: Vec<(String, String)>,
    pub stderr_log: std::path::PathBuf,
}

impl Server {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, &[]).await
    }

    /// Starts a server with extra `NATTER_*` settings.
    pub async fn start_with(backend: Backend, env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let pg_database = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => {
                let name = unique_name();
                sqlx::any::install_default_drivers();
                let admin = sqlx::AnyPool::connect(&admin_postgres_url())
                    .await
                    .expect("PostgreSQL must be running for the PostgreSQL tests");
                sqlx::query(sqlx::AssertSqlSafe(format!("create database {name}")))
                    .execute(&admin)
                    .await
                    .unwrap();
                admin.close().await;
                Some(name)
            }
        };
        let stderr_log = dir.path().join("stderr.log");
        let database_url = match &pg_database {
            None => format!("sqlite://{}/natter.db", dir.path().display()),
            Some(name) => {
                let admin = admin_postgres_url();
                format!("{}/{name}", admin.rsplit_once('/').unwrap().0)
            }
        };
        let mut server = Server {
            backend,
            base: String::new(),
            token: String::new(),
            dir,
            database_url,
            pg_database,
            child: None,
            extra_env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            stderr_log,
        };
        let token = server.spawn();
        server.token = token.expect("a fresh database bootstraps a first admin token");
        server
    }

    pub fn database_url(&self) -> String {
        self.database_url.clone()
    }

    /// The server's data directory (its development mailbox is `mail/` inside).
    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The messages in the development mailbox, oldest first, as (to, subject, body).
    pub fn mails(&self) -> Vec<(String, String, String)> {
        let mut paths: Vec<_> = std::fs::read_dir(self.dir.path().join("mail"))
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        paths.sort();
        paths
            .iter()
            .map(|p| {
                let text = std::fs::read_to_string(p).unwrap();
                let (head, body) = text.split_once("\r\n\r\n").unwrap();
                let field = |name: &str| {
                    head.lines()
                        .find_map(|l| l.strip_prefix(name))
                        .unwrap_or_default()
                        .trim()
                        .to_string()
                };
                (field("To:"), field("Subject:"), body.to_string())
            })
            .collect()
    }

    /// Starts a server on an existing database (e.g. a private PostgreSQL), with settings.
    pub async fn start_on(database_url: &str, env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let stderr_log = dir.path().join("stderr.log");
        let mut server = Server {
            backend: Backend::Postgres,
            base: String::new(),
            token: String::new(),
            dir,
            database_url: database_url.to_string(),
            pg_database: None,
            child: None,
            extra_env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            stderr_log,
        };
        server.token = server.spawn().unwrap_or_default();
        server
    }

    /// Starts another node of the same deployment: same database, its own data directory,
    /// these settings (e.g. the Redis URL). It shares the first node's admin token.
    pub async fn node(&self, env: &[(&str, &str)]) -> Server {
        let mut node = Server::start_on(&self.database_url, env).await;
        assert!(node.token.is_empty(), "a second node must not bootstrap");
        node.token = self.token.clone();
        node
    }

    /// The value of a Prometheus metric (sum over label sets), 0 when absent.
    pub async fn metric(&self, name: &str) -> f64 {
        let text = reqwest::get(format!("{}/metrics", self.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter(|l| l.split([' ', '{']).next() == Some(name))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// `/readyz` as JSON.
    pub async fn ready(&self) -> Value {
        reqwest::get(format!("{}/readyz", self.base))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_natter"));
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("NATTER_DATA_DIR", self.dir.path())
            .env("NATTER_DATABASE_URL", self.database_url())
            .env("NATTER_LOG", "info");
        for (k, v) in &self.extra_env {
            command.env(k, v);
        }
        command
    }

    /// Starts the process; returns the first admin token if this start bootstrapped one.
    fn spawn(&mut self) -> Option<String> {
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.stderr_log)
            .unwrap();
        let mut child = self
            .command(&["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let mut token = None;
        loop {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("natter exited during start: {}", self.stderr()))
                .unwrap();
            if let Some((_, t)) = line.split_once("first admin API token") {
                token = t.rsplit(' ').next().map(str::to_string);
            }
            if let Some(addr) = line.strip_prefix("natter listening on ") {
                self.base = addr.trim().to_string();
                break;
            }
        }
        // Keep draining stdout so the process never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        self.child = Some(child);
        token
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }

    /// Kills the process with SIGKILL: no graceful anything.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Sends a signal (e.g. `HUP`) to the running process.
    pub fn signal(&self, name: &str) {
        let child = self.child.as_ref().expect("server running");
        let status = Command::new("kill")
            .args([&format!("-{name}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Sends SIGTERM and waits for the process to exit; returns its exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("server running");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        child.wait().unwrap()
    }

    /// Starts the process again on the same data.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "stop the server first");
        assert!(self.spawn().is_none(), "a restart must not bootstrap again");
    }

    /// Runs a one-off `natter` command on the same data; returns stdout.
    pub fn run_cli(&self, args: &[&str]) -> String {
        let out = self.command(args).output().unwrap();
        assert!(
            out.status.success(),
            "natter {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn ws_url(&self) -> String {
        format!("{}/v1/ws", self.base.replacen("http", "ws", 1))
    }

    pub fn api(&self, token: &str) -> Api {
        Api {
            base: self.base.clone(),
            token: token.to_string(),
            // A request the server never answers fails its test instead of stalling the
            // whole suite (CI has one time limit for everything).
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(120))
                .build()
                .unwrap(),
        }
    }

    pub fn admin(&self) -> Api {
        self.api(&self.token)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        if let Some(name) = self.pg_database.take() {
            // Drop runs outside the test's runtime: use a small one of our own.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    if let Ok(admin) = sqlx::AnyPool::connect(&admin_postgres_url()).await {
                        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "drop database if exists {name} with (force)"
                        )))
                        .execute(&admin)
                        .await;
                        admin.close().await;
                    }
                });
            })
            .join();
        }
    }
}

/// A REST client bound to one token.
pub struct Api {
    pub base: String,
    pub token: String,
    http: reqwest::Client,
}

impl Api {
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call("GET", path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call("POST", path, Some(body)).await
    }

    /// Creates a contact and returns (its id, a contact token).
    pub async fn contact(&self, external_id: &str) -> (i64, String) {
        let (status, contact) = self
            .post(
                "/v1/contacts",
                json!({"external_id": external_id, "name": external_id}),
            )
            .await;
        assert_eq!(status, 200, "{contact}");
        let id = contact["id"].as_i64().unwrap();
        let (status, token) = self
            .post(&format!("/v1/contacts/{id}/tokens"), json!(null))
            .await;
        assert_eq!(status, 201, "{token}");
        (id, token["token"].as_str().unwrap().to_string())
    }

    /// Creates a conversation with these (account id, role) participants; returns its id.
    pub async fn conversation(&self, kind: &str, participants: &[(i64, &str)]) -> i64 {
        let participants: Vec<Value> = participants
            .iter()
            .map(|(id, role)| json!({"account_id": id, "role": role}))
            .collect();
        let (status, body) = self
            .post(
                "/v1/conversations",
                json!({"kind": kind, "participants": participants}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["conversation"]["id"].as_i64().unwrap()
    }

    pub async fn me(&self) -> i64 {
        let (status, me) = self.get("/v1/me").await;
        assert_eq!(status, 200, "{me}");
        me["id"].as_i64().unwrap()
    }

    /// The bodies of the messages the caller can see, oldest first.
    pub async fn bodies(&self, conversation: i64) -> Vec<String> {
        let mut out = Vec::new();
        let mut after = 0;
        loop {
            let (status, page) = self
                .get(&format!(
                    "/v1/conversations/{conversation}/messages?after={after}&limit=200"
                ))
                .await;
            assert_eq!(status, 200, "{page}");
            let page = page.as_array().unwrap().clone();
            if page.is_empty() {
                return out;
            }
            for m in &page {
                out.push(m["body"].as_str().unwrap().to_string());
                after = m["seq"].as_i64().unwrap();
            }
        }
    }
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A WebSocket client that speaks the protocol.
pub struct Client {
    pub socket: Socket,
    /// The last durable event id this client processed.
    pub cursor: Option<i64>,
    pub ready: Value,
}

/// How long a test waits for an expected frame before failing.
pub const WAIT: Duration = Duration::from_secs(10);

impl Client {
    /// Connects and sends `hello` with `last_event_id`; returns after `ready`.
    pub async fn connect(server: &Server, token: &str, last_event_id: Option<i64>) -> Self {
        let (mut socket, _) = connect_async(server.ws_url()).await.unwrap();
        let hello = json!({"type": "hello", "token": token, "last_event_id": last_event_id});
        socket
            .send(Message::Text(hello.to_string().into()))
            .await
            .unwrap();
        let mut client = Client {
            socket,
            cursor: last_event_id,
            ready: Value::Null,
        };
        let ready = client.next_frame().await;
        assert_eq!(ready["type"], "ready", "{ready}");
        if last_event_id.is_none() {
            client.cursor = ready["head_event_id"].as_i64();
        }
        client.ready = ready;
        client
    }

    pub async fn send_json(&mut self, value: Value) {
        self.socket
            .send(Message::Text(value.to_string().into()))
            .await
            .unwrap();
    }

    pub async fn send_text(&mut self, text: &str) {
        self.socket
            .send(Message::Text(text.to_string().into()))
            .await
            .unwrap();
    }

    /// The next text frame as JSON (panics on timeout or close). Tracks the event cursor.
    pub async fn next_frame(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("timed out waiting for a frame")
                .expect("socket closed")
                .expect("socket error");
            match message {
                Message::Text(text) => {
                    let value: Value = serde_json::from_str(&text).unwrap();
                    if value["type"] == "event" {
                        self.cursor = value["id"].as_i64();
                    }
                    return value;
                }
                Message::Close(frame) => panic!("closed: {frame:?}"),
                _ => continue,
            }
        }
    }

    /// The next frame of `kind`, skipping others.
    pub async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.next_frame().await;
            if frame["type"] == kind {
                return frame;
            }
        }
    }

    /// The next durable event whose payload type is `kind`.
    pub async fn next_event(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.next_of("event").await;
            if frame["data"]["type"] == kind {
                return frame;
            }
        }
    }

    /// Sends a message and waits for its ack (skipping events in between).
    pub async fn send_message(
        &mut self,
        conversation: i64,
        body: &str,
        client_msg_id: &str,
    ) -> Value {
        self.send_json(json!({
            "type": "send", "ref": client_msg_id, "conversation_id": conversation,
            "client_msg_id": client_msg_id, "body": body,
        }))
        .await;
        loop {
            let frame = self.next_frame().await;
            if frame["ref"] == client_msg_id && (frame["type"] == "ack" || frame["type"] == "error")
            {
                return frame;
            }
        }
    }

    /// Waits for the socket to be closed by the server; returns the close code.
    pub async fn closed(&mut self) -> u16 {
        loop {
            let message = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("timed out waiting for close");
            match message {
                Some(Ok(Message::Close(Some(frame)))) => return u16::from(frame.code),
                Some(Ok(Message::Close(None))) | None => return 1005,
                Some(Err(e)) => panic!("socket error instead of close: {e}"),
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Reads frames until nothing arrives for `quiet`; returns them.
    pub async fn drain(&mut self, quiet: Duration) -> Vec<Value> {
        let mut out = Vec::new();
        while let Ok(Some(Ok(message))) = tokio::time::timeout(quiet, self.socket.next()).await {
            if let Message::Text(text) = message {
                let value: Value = serde_json::from_str(&text).unwrap();
                if value["type"] == "event" {
                    self.cursor = value["id"].as_i64();
                }
                out.push(value);
            }
        }
        out
    }
}

/// Bodies of `message_created` events among `frames`.
pub fn created_bodies(frames: &[Value]) -> Vec<String> {
    frames
        .iter()
        .filter(|f| f["type"] == "event" && f["data"]["type"] == "message_created")
        .map(|f| f["data"]["message"]["body"].as_str().unwrap().to_string())
        .collect()
}

/// A free loopback port (bound and released; fine for tests on one machine).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16) {
    let deadline = std::time::Instant::now() + WAIT;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing listens on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A private, real Redis server that a test can stop and start again on the same port.
pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
}

impl RedisServer {
    pub fn start() -> Self {
        let mut redis = RedisServer {
            port: free_port(),
            child: None,
        };
        redis.restart();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn restart(&mut self) {
        assert!(self.child.is_none());
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (scripts/ensure-services.sh does it)");
        self.child = Some(child);
        wait_for_port(self.port);
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A private, real PostgreSQL cluster (initdb in a temporary directory) that a test can
/// stop and restart without disturbing other tests. Runs the server as the `postgres` user
/// (PostgreSQL refuses to run as root).
pub struct PrivatePostgres {
    pub port: u16,
    dir: tempfile::TempDir,
    bin: std::path::PathBuf,
}

fn as_postgres(command: &str) {
    let out = Command::new("su")
        .args(["postgres", "-s", "/bin/sh", "-c", command])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{command}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl PrivatePostgres {
    pub fn start() -> Self {
        let version = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL server binaries in /usr/lib/postgresql")
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .max()
            .unwrap();
        let bin = std::path::PathBuf::from(format!("/usr/lib/postgresql/{version}/bin"));
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("chown")
            .args(["-R", "postgres", dir.path().to_str().unwrap()])
            .status()
            .unwrap();
        assert!(status.success());
        let pg = PrivatePostgres {
            port: free_port(),
            dir,
            bin,
        };
        as_postgres(&format!(
            "{}/initdb -D {}/data -A trust -U postgres --no-sync >/dev/null",
            pg.bin.display(),
            pg.dir.path().display()
        ));
        pg.start_server();
        pg
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    pub fn start_server(&self) {
        let dir = self.dir.path().display();
        as_postgres(&format!(
            "{}/pg_ctl -D {dir}/data -l {dir}/log -w -o \"-p {} -k {dir} -c listen_addresses=127.0.0.1\" start >/dev/null",
            self.bin.display(),
            self.port
        ));
    }

    pub fn stop_server(&self) {
        as_postgres(&format!(
            "{}/pg_ctl -D {}/data -m fast -w stop >/dev/null",
            self.bin.display(),
            self.dir.path().display()
        ));
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = Command::new("su")
            .args([
                "postgres",
                "-s",
                "/bin/sh",
                "-c",
                &format!(
                    "{}/pg_ctl -D {}/data -m immediate -w stop",
                    self.bin.display(),
                    self.dir.path().display()
                ),
            ])
            .output();
    }
}
