//! Timestamps are milliseconds since the Unix epoch everywhere (storage, API, protocol): one
//! integer type that both database backends store natively and JavaScript reads exactly.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

/// The current time in milliseconds since the Unix epoch.
pub fn now_millis() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        // A clock before 1970 is a broken host; 0 keeps ordering sane rather than panicking.
        .unwrap_or(0)
}
