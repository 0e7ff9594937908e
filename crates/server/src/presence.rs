//! Who is connected: this node's hub, and in a cluster every node's, through Redis keys with
//! an expiry (`natter:presence:<account>`) that each node refreshes for its connections. A
//! node that dies stops refreshing, and its accounts go offline within [`TTL`].

use std::sync::Arc;
use std::time::Duration;

use natter_core::AccountId;
use natter_realtime::Hub;
use tokio_util::sync::CancellationToken;

/// How often a node refreshes the keys of its connected accounts.
const REFRESH: Duration = Duration::from_secs(10);
/// How long a key outlives its last refresh.
const TTL: Duration = Duration::from_secs(30);
/// Longest wait for Redis on the request path.
const REDIS_TIMEOUT: Duration = Duration::from_millis(200);

pub struct Presence {
    redis: Option<redis::Client>,
    connection: tokio::sync::OnceCell<redis::aio::ConnectionManager>,
}

fn key(account: AccountId) -> String {
    format!("natter:presence:{}", account.0)
}

impl Presence {
    pub fn new(redis_url: Option<&str>) -> Arc<Self> {
        Arc::new(Self {
            redis: redis_url.and_then(|url| redis::Client::open(url).ok()),
            connection: tokio::sync::OnceCell::new(),
        })
    }

    async fn connection(&self) -> Option<redis::aio::ConnectionManager> {
        let client = self.redis.as_ref()?;
        self.connection
            .get_or_try_init(|| client.get_connection_manager())
            .await
            .ok()
            .cloned()
    }

    /// Keeps this node's connected accounts marked online in Redis until `shutdown`.
    pub fn start(self: &Arc<Self>, hub: Arc<Hub>, shutdown: CancellationToken) {
        if self.redis.is_none() {
            return;
        }
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(REFRESH);
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    _ = tick.tick() => {}
                }
                let accounts = hub.accounts();
                if accounts.is_empty() {
                    continue;
                }
                let Some(mut conn) = this.connection().await else {
                    continue;
                };
                let mut pipe = redis::pipe();
                let ttl = u64::try_from(TTL.as_millis()).unwrap_or(30_000);
                for account in &accounts {
                    pipe.cmd("SET")
                        .arg(key(*account))
                        .arg(1)
                        .arg("PX")
                        .arg(ttl)
                        .ignore();
                }
                if let Err(e) = pipe.query_async::<()>(&mut conn).await {
                    tracing::debug!(error = %e, "cannot refresh presence in Redis");
                }
            }
        });
    }

    /// Which of `accounts` are connected to this node or (in a cluster) to any node.
    pub async fn online(&self, hub: &Hub, accounts: &[AccountId]) -> Vec<AccountId> {
        let mut online = hub.connected(accounts);
        let others: Vec<AccountId> = accounts
            .iter()
            .copied()
            .filter(|a| !online.contains(a))
            .collect();
        if others.is_empty() {
            return online;
        }
        let Some(mut conn) = self.connection().await else {
            return online;
        };
        let keys: Vec<String> = others.iter().map(|a| key(*a)).collect();
        let mut command = redis::cmd("MGET");
        command.arg(&keys);
        let query = command.query_async::<Vec<Option<String>>>(&mut conn);
        match tokio::time::timeout(REDIS_TIMEOUT, query).await {
            Ok(Ok(values)) => online.extend(
                others
                    .iter()
                    .zip(values)
                    .filter(|(_, v)| v.is_some())
                    .map(|(a, _)| *a),
            ),
            _ => tracing::debug!("presence lookup in Redis failed; answering for this node"),
        }
        online
    }
}
