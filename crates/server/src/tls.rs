//! Native TLS with rustls: HTTPS and WSS from the certificate and key files in `[tls]`,
//! re-read on SIGHUP so a renewed certificate is picked up without dropping connections.
//! A file that fails to load on reload is reported and the previous certificate stays.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum_server::Handle;
use axum_server::tls_rustls::RustlsConfig;

use crate::app::App;

/// Loads the certificate and key, or explains what is wrong with them.
pub async fn load(cert: &str, key: &str) -> anyhow::Result<RustlsConfig> {
    RustlsConfig::from_pem_file(cert, key)
        .await
        .with_context(|| format!("loading the TLS certificate {cert} and key {key}"))
}

/// Serves `router` over TLS on `listener` until shutdown (see `crate::serve`).
pub async fn serve(
    listener: std::net::TcpListener,
    router: Router,
    config: RustlsConfig,
    app: Arc<App>,
) -> anyhow::Result<()> {
    let (cert, key) = (
        app.config.tls.cert_file.clone(),
        app.config.tls.key_file.clone(),
    );
    let reload = config.clone();
    let reload_shutdown = app.shutdown.clone();
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let Ok(mut hangups) = signal(SignalKind::hangup()) else {
                tracing::error!("cannot listen for SIGHUP; TLS files will not be reloaded");
                return;
            };
            loop {
                tokio::select! {
                    () = reload_shutdown.cancelled() => return,
                    _ = hangups.recv() => {}
                }
                match reload.reload_from_pem_file(&cert, &key).await {
                    Ok(()) => tracing::info!(%cert, "reloaded the TLS certificate"),
                    Err(e) => {
                        tracing::error!(error = %e, %cert, "cannot reload TLS files; keeping the previous certificate")
                    }
                }
            }
        }
        #[cfg(not(unix))]
        let _ = (reload, reload_shutdown, cert, key);
    });

    let handle: Handle<SocketAddr> = Handle::new();
    let stopper = handle.clone();
    let signal_app = Arc::clone(&app);
    tokio::spawn(async move {
        crate::shutdown_signal().await;
        tracing::info!("shutting down");
        signal_app.shutdown.cancel();
        stopper.graceful_shutdown(Some(crate::SHUTDOWN_GRACE));
    });
    axum_server::from_tcp_rustls(listener, config)
        .context("using the listener for TLS")?
        .handle(handle)
        .serve(router.into_make_service_with_connect_info::<SocketAddr>())
        .await
        .context("serving HTTPS")
}
