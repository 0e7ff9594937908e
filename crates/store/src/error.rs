use natter_core::{Error, ErrorCode};

/// A storage failure. Domain refusals decided inside a transaction (not a participant,
/// message deleted …) travel as [`StoreError::Domain`] and reach the caller unchanged; every
/// other variant is logged by the edge and shown as `unavailable` or `internal`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Domain(#[from] Error),
    /// The database cannot be reached right now (pool timeout, connection refused/reset).
    #[error("database unavailable: {0}")]
    Unavailable(sqlx::Error),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// A stored value that the code cannot interpret (a bug or a manual edit).
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => Self::Unavailable(e),
            sqlx::Error::Database(ref db) if is_unavailable_state(db.code().as_deref()) => {
                Self::Unavailable(e)
            }
            other => Self::Database(other),
        }
    }
}

/// PostgreSQL SQLSTATE classes that mean "not now" rather than "wrong": connection
/// exceptions (08), insufficient resources (53), operator intervention such as a restart (57).
fn is_unavailable_state(code: Option<&str>) -> bool {
    code.is_some_and(|c| c.starts_with("08") || c.starts_with("53") || c.starts_with("57"))
}

impl StoreError {
    /// The error to show at the edge.
    pub fn public(&self) -> Error {
        match self {
            Self::Domain(e) => e.clone(),
            Self::Unavailable(_) => Error::unavailable(),
            Self::Database(_) | Self::Corrupt(_) => Error::internal(),
        }
    }

    /// True when a unique index named `index` was violated.
    pub(crate) fn violates(&self, index: &str) -> bool {
        match self {
            Self::Database(sqlx::Error::Database(db)) => {
                db.is_unique_violation()
                    && (db.constraint() == Some(index) || db.message().contains(index))
                    || db.message().contains("UNIQUE constraint failed")
                        && index_columns_match(db.message(), index)
            }
            _ => false,
        }
    }
}

/// SQLite does not report the index name on a unique violation, only its columns
/// (`UNIQUE constraint failed: message.conversation_id, …`); map the indexes we rely on.
fn index_columns_match(message: &str, index: &str) -> bool {
    match index {
        "message_client_msg_id_key" => message.contains("message.client_msg_id"),
        "account_staff_email_key" => message.contains("account.email"),
        _ => false,
    }
}

pub(crate) fn not_found(what: &str) -> StoreError {
    StoreError::Domain(Error::not_found(what))
}

pub(crate) fn domain(code: ErrorCode, message: &str) -> StoreError {
    StoreError::Domain(Error::new(code, message))
}
