//! The natter server: HTTP API, real-time gateway and the node's lifecycle. The `natter`
//! binary (`main.rs`) is a thin command line over [`serve`], [`migrate`] and the admin
//! commands.

pub mod api;
pub mod app;
pub mod auth;
pub mod authcache;
pub mod contact_identity;
pub mod desk;
pub mod gateway;
pub mod identity;
pub mod mail;
pub mod presence;
pub mod ratelimit;
pub mod routing;
pub mod sso;
pub mod tls;
pub mod websites;
pub mod widget;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use natter_core::config::Config;
use natter_store::{Store, StoreOptions};
use tokio::net::TcpListener;

use crate::app::App;

/// How long shutdown waits for open connections to close before giving up on them.
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Pending connections the kernel may queue before accepting: a burst of reconnecting clients
/// (a node restarted) must not overflow tokio's default of 1,024 and wait out SYN retries.
const LISTEN_BACKLOG: u32 = 4096;
/// How often expired events are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Opens the configured database (creating the data directory for SQLite).
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating the data directory {}", config.data_dir))?;
    let options = StoreOptions {
        url: config.database_url(),
        max_connections: config.database.max_connections,
        acquire_timeout: Duration::from_secs(config.database.acquire_timeout_secs),
        sqlite_synchronous: config.database.sqlite_synchronous.clone(),
        sqlite_mmap_bytes: config.database.sqlite_mmap_mib.saturating_mul(1024 * 1024),
    };
    Store::connect(&options)
        .await
        .with_context(|| "connecting to the database")
}

/// Runs migrations and exits (`natter migrate`).
pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    store.migrate().await.context("running migrations")?;
    store.close().await;
    Ok(())
}

/// Runs a node until SIGINT/SIGTERM, then shuts down gracefully: stop accepting, let
/// in-flight requests (and their commits) finish, close WebSockets with 1001 "going away"
/// so clients reconnect elsewhere, and close the database.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let store = open_store(&config).await?;
    store.migrate().await.context("running migrations")?;
    let data_dir = config.data_dir.clone();
    let listen = config.listen.clone();
    let app = App::new(store, config).await?;
    let first_login = bootstrap(&app, Path::new(&data_dir)).await?;

    // Load TLS files before binding, so a bad certificate stops the start with a clear error.
    let tls = if app.config.tls.enabled() {
        Some(tls::load(&app.config.tls.cert_file, &app.config.tls.key_file).await?)
    } else {
        None
    };
    let listener = bind(&listen).await?;
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    // Stdout carries what a person (or a test harness) needs; logs go to stderr.
    if let Some(login) = first_login {
        // Printed once the address is known, so the link works even with `--listen :0`.
        let base = if app.config.public_url.is_empty() {
            let host = if addr.ip().is_unspecified() {
                "localhost".to_string()
            } else {
                addr.ip().to_string()
            };
            let host = if addr.is_ipv6() && host != "localhost" {
                format!("[{host}]")
            } else {
                host
            };
            format!("{scheme}://{host}:{}", addr.port())
        } else {
            app.config.public_base_url()
        };
        println!(
            "sign in at {base}/app as {} with password {} (also in {})",
            login.email,
            login.password,
            login.path.display()
        );
    }
    println!("natter listening on {scheme}://{addr}");
    tracing::info!(%addr, backend = ?app.store.backend(), tls = tls.is_some(), "listening");

    let pruner = tokio::spawn(prune_loop(Arc::clone(&app)));
    app.start_routing();
    let router = api::router(Arc::clone(&app));
    match tls {
        Some(config) => {
            let listener = listener.into_std()?;
            tls::serve(listener, router, config, Arc::clone(&app)).await?;
        }
        None => {
            let signal_app = Arc::clone(&app);
            // Frames are small and latency matters more than packet count: without
            // TCP_NODELAY a message's ack can wait behind Nagle's algorithm for the peer's
            // delayed ACK (measured in session 2's send benchmark at high rates).
            let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
                if let Err(e) = tcp.set_nodelay(true) {
                    tracing::debug!(error = %e, "cannot set TCP_NODELAY");
                }
            });
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                shutdown_signal().await;
                tracing::info!("shutting down");
                signal_app.shutdown.cancel();
            })
            .await
            .context("serving HTTP")?;
        }
    }

    pruner.abort();
    app.connections.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, app.connections.wait())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the grace period");
    }
    app.store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// The first owner's sign-in, printed once the node knows its address.
struct FirstLogin {
    email: String,
    password: String,
    /// Where it is saved as well.
    path: std::path::PathBuf,
}

/// On an empty database, creates the first workspace and prints its owner's API token (and
/// saves it to `<data_dir>/first-admin-token`, readable by the owner only), so a new
/// operator can sign in without any other step. The owner also gets a random password,
/// saved as `email\npassword\n` to `<data_dir>/first-admin-login` (owner only) and returned
/// for the caller to print with the web app's address.
async fn bootstrap(app: &App, data_dir: &Path) -> anyhow::Result<Option<FirstLogin>> {
    if app
        .store
        .count_workspaces()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        > 0
    {
        return Ok(None);
    }
    let first = app
        .bootstrap_first_workspace(app::FIRST_WORKSPACE, app::FIRST_OWNER_EMAIL)
        .await
        .map_err(|e| anyhow::anyhow!("creating the first workspace: {}", e.message))?;
    let token = &first.token;
    let path = data_dir.join("first-admin-token");
    write_private(&path, token)?;
    let login_path = data_dir.join("first-admin-login");
    write_private(
        &login_path,
        &format!("{}\n{}", app::FIRST_OWNER_EMAIL, first.password),
    )?;
    println!(
        "first start: created workspace {:?} with owner {} (account {})",
        app::FIRST_WORKSPACE,
        app::FIRST_OWNER_EMAIL,
        first.owner.id
    );
    println!(
        "first admin API token (also in {}): {token}",
        path.display()
    );
    Ok(Some(FirstLogin {
        email: app::FIRST_OWNER_EMAIL.to_string(),
        password: first.password,
        path: login_path,
    }))
}

fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    writeln!(file, "{contents}")?;
    Ok(())
}

async fn prune_loop(app: Arc<App>) {
    let mut ticker = tokio::time::interval(PRUNE_EVERY);
    loop {
        ticker.tick().await;
        match app.prune_events().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "pruned expired events"),
            Err(e) => tracing::warn!(error = %e.message, "pruning events failed"),
        }
    }
}

/// Binds `listen` (an address or `host:port`) with a deep accept backlog.
async fn bind(listen: &str) -> anyhow::Result<TcpListener> {
    let addr = tokio::net::lookup_host(listen)
        .await
        .with_context(|| format!("resolving {listen}"))?
        .next()
        .with_context(|| format!("{listen} resolves to no address"))?;
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }?;
    socket.set_reuseaddr(true)?;
    socket
        .bind(addr)
        .with_context(|| format!("binding {listen}"))?;
    Ok(socket.listen(LISTEN_BACKLOG)?)
}

pub(crate) async fn shutdown_signal() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
