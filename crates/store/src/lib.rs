//! natter's storage layer.
//!
//! One [`Store`] serves both backends through sqlx's `Any` driver: the schema is kept to
//! integers, text and bytes (timestamps are integer milliseconds, JSON is text), so the same
//! SQL runs on SQLite and PostgreSQL and one conformance suite (`tests/conformance.rs`)
//! proves it on each. Migrations are kept per backend because DDL differs (identity
//! columns, `bytea`). See `docs/architecture.md` for why this beats two copies of every
//! query.
//!
//! Writes that produce events append them to the global event log in the same transaction
//! (see [`events`]) and return them with their recipients, so the caller can fan them out
//! after commit.

mod accounts;
mod committer;
mod contact_identity;
mod conversations;
mod desk;
mod error;
pub mod events;
mod identity;
mod lists;
mod members;
mod messages;
mod routing;
mod rows;
mod sso;
mod stamps;
mod websites;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Executor, Transaction};

pub use accounts::{NewContact, NewStaff};
pub use contact_identity::{ContactIdentitySettings, JwtSettings};
pub use conversations::{ConversationPage, NewConversation, NewParticipant};
pub use desk::{CannedFields, InboxQuery, InboxRows, InboxTallies, InboxView};
pub use error::StoreError;
pub use events::{Committed, CommittedEvent, EventRecord, Head};
pub use identity::{AuditQuery, Credentials, NewAudit, NewSession, Session, TokenPurpose};
pub use messages::{Cursor, HistoryQuery, NewMessage, PostOutcome};
pub use routing::{AgentRecord, Assigned, QueueRecord, RuleRecord, TeamRecord, TransferOffer};
pub use sso::{NewSsoAttempt, SsoAttempt, SsoConfig, SsoConfigUpdate};
pub use stamps::ChangeStamps;
pub use websites::{
    NewVisitorSession, ParticipantName, ProfileUpdate, WebsiteRecord, WebsiteUpdate,
};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// Which database engine a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// How to open a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// `sqlite://…` or `postgres://…`.
    pub url: String,
    /// Pooled connections (readers, on SQLite).
    pub max_connections: u32,
    /// How long a caller waits for a pooled connection before `Unavailable`.
    pub acquire_timeout: Duration,
    /// SQLite `synchronous`: `full` or `normal`.
    pub sqlite_synchronous: String,
    /// SQLite `mmap_size` of every connection, in bytes (0: no memory map).
    pub sqlite_mmap_bytes: u64,
}

/// The storage handle. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    /// Connections used for writing. On SQLite this pool has exactly one connection: SQLite
    /// allows one writer at a time, and queueing writers on the pool (instead of letting them
    /// race for the file lock) avoids `SQLITE_BUSY` and keeps event ids in commit order.
    write: AnyPool,
    /// Connections used for reading. On SQLite these are separate connections, which WAL
    /// lets read while the writer writes; on PostgreSQL it is the same pool as `write`.
    read: AnyPool,
    backend: Backend,
    /// The node's group-commit task for message sends (see `committer`).
    committer: committer::Committer,
    /// Bumped after every committed change to an account's row, so that caches of
    /// accounts on this node (the server's authentication cache) notice. Shared by clones.
    account_changes: Arc<ChangeStamps>,
}

impl Store {
    /// Opens (creating, for SQLite) the database. Does not run migrations.
    pub async fn connect(options: &StoreOptions) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if options.url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        match backend {
            Backend::Sqlite => {
                let url = sqlite_url(&options.url);
                let synchronous = if options.sqlite_synchronous == "normal" {
                    "pragma synchronous = normal"
                } else {
                    "pragma synchronous = full"
                };
                // Reads of a big store miss each connection's page cache (2 MiB) all the
                // time; through the map they come from the OS page cache without a `pread`
                // and a copy each (measured with 10M messages: 18–36% more history pages a
                // second).
                let mmap_bytes = options.sqlite_mmap_bytes;
                let pool = |max: u32| {
                    sqlite_pool_options()
                        .max_connections(max)
                        .acquire_timeout(options.acquire_timeout)
                        .after_connect(move |conn, _meta| {
                            Box::pin(async move {
                                conn.execute("pragma journal_mode = wal").await?;
                                conn.execute(synchronous).await?;
                                conn.execute("pragma busy_timeout = 5000").await?;
                                conn.execute("pragma foreign_keys = on").await?;
                                // Sorts and temporary b-trees of big reads stay in memory
                                // instead of temp files (measured: the send benchmark's
                                // overload latency fell from seconds to under 100 ms).
                                conn.execute("pragma temp_store = memory").await?;
                                // A number: nothing else can reach the statement.
                                let mmap = format!("pragma mmap_size = {mmap_bytes}");
                                conn.execute(sqlx::AssertSqlSafe(mmap)).await?;
                                Ok(())
                            })
                        })
                };
                let connect = AnyConnectOptions::from_str(&url)?;
                // The writer connects first so that it creates the file and switches it to WAL
                // before any reader opens it.
                let write = pool(1).connect_with(connect.clone()).await?;
                let read = pool(options.max_connections.max(1))
                    .connect_with(connect)
                    .await?;
                Ok(Self {
                    write,
                    read,
                    backend,
                    committer: committer::Committer::default(),
                    account_changes: Arc::default(),
                })
            }
            Backend::Postgres => {
                // sqlx's default stays on PostgreSQL: every connection is pinged when taken.
                // A connection the server ended (a restart, a failover, an administrator's
                // pg_terminate_backend) must be replaced before it fails a request; a
                // recently used one is no safer (`connections_killed_mid_batch_…` in the
                // conformance suite retries on connections killed milliseconds earlier).
                let pool = AnyPoolOptions::new()
                    .max_connections(options.max_connections.max(2))
                    .acquire_timeout(options.acquire_timeout)
                    .connect(&options.url)
                    .await?;
                Ok(Self {
                    write: pool.clone(),
                    read: pool,
                    backend,
                    committer: committer::Committer::default(),
                    account_changes: Arc::default(),
                })
            }
        }
    }

    /// Applies pending migrations for this backend.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.write).await.map_err(|e| {
            tracing::error!(error = %e, "migration failed");
            StoreError::Database(sqlx::Error::Migrate(Box::new(e)))
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Change stamps of accounts (see [`ChangeStamps`]): take `account_stamp` before reading
    /// an account to cache it; the stamp moves after any later committed change to it.
    pub fn account_stamp(&self, account: natter_core::ids::AccountId) -> u64 {
        self.account_changes.stamp(account)
    }

    /// Records a committed change to an account's row (call after the commit).
    pub(crate) fn account_changed(&self, account: natter_core::ids::AccountId) {
        self.account_changes.bump(account);
    }

    /// Open and idle connections of the pool used for reads (the only pool on PostgreSQL).
    pub fn pool_stats(&self) -> (u32, usize) {
        (self.read.size(), self.read.num_idle())
    }

    /// True when the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        sqlx::query("select 1").execute(&self.read).await.is_ok()
    }

    /// Closes every connection (used on shutdown so SQLite checkpoints cleanly).
    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }

    /// Returns the named deployment secret, creating it from `generate` the first time. Every
    /// node of a cluster reads the same value.
    pub async fn secret(
        &self,
        name: &str,
        generate: impl FnOnce() -> Vec<u8>,
    ) -> Result<Vec<u8>, StoreError> {
        let fresh = generate();
        sqlx::query(
            "insert into server_secret (name, value, created_at) values ($1, $2, $3)
             on conflict (name) do nothing",
        )
        .bind(name)
        .bind(fresh)
        .bind(natter_core::time::now_millis())
        .execute(&self.write)
        .await?;
        let value: Vec<u8> = sqlx::query_scalar("select value from server_secret where name = $1")
            .bind(name)
            .fetch_one(&self.write)
            .await?;
        Ok(value)
    }

    async fn begin(&self) -> Result<Transaction<'static, Any>, StoreError> {
        Ok(self.write.begin().await?)
    }
}

/// How long a pooled SQLite connection may sit idle before it is checked (a round trip) when
/// taken from the pool.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// SQLite pool settings. sqlx pings every connection it hands out by default: a round trip to
/// the connection's worker thread before every statement (a history page runs several).
/// Nothing outside this process can end an SQLite connection, so only connections idle for
/// a while are pinged here. PostgreSQL keeps the default (see `Store::connect`).
fn sqlite_pool_options() -> AnyPoolOptions {
    AnyPoolOptions::new()
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_AFTER_IDLE {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
}

/// sqlx wants `sqlite://path?mode=rwc` to create a missing file.
fn sqlite_url(url: &str) -> String {
    if url.contains('?') {
        url.to_string()
    } else {
        format!("{url}?mode=rwc")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn every_sqlite_connection_maps_as_much_of_the_file_as_configured() {
        let dir = tempfile::tempdir().unwrap();
        for bytes in [0_u64, 64 << 20] {
            let options = StoreOptions {
                url: format!("sqlite://{}/map-{bytes}.db", dir.path().display()),
                max_connections: 2,
                acquire_timeout: Duration::from_secs(5),
                sqlite_synchronous: "full".to_string(),
                sqlite_mmap_bytes: bytes,
            };
            let store = Store::connect(&options).await.unwrap();
            for pool in [&store.write, &store.read] {
                let size: i64 = sqlx::query_scalar("pragma mmap_size")
                    .fetch_one(pool)
                    .await
                    .unwrap();
                assert_eq!(u64::try_from(size).unwrap(), bytes);
            }
        }
    }
}
