//! Configuration: built-in defaults, then an optional TOML file, then `NATTER_*` environment
//! variables. Every key of the file has an environment form: the section and key joined by
//! `_` and upper-cased (`[database] url` → `NATTER_DATABASE_URL`; top-level `listen` →
//! `NATTER_LISTEN`). The defaults run natter on SQLite in `./data` with nothing configured.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP/WebSocket server binds to.
    pub listen: String,
    /// Where natter keeps its files (the SQLite database by default).
    pub data_dir: String,
    /// `text` (for people) or `json` (for log collectors).
    pub log_format: String,
    /// The URL people reach natter at (used in emailed links, and to mark cookies `Secure`
    /// when it is https). Empty: `http://<listen>`.
    pub public_url: String,
    /// Take the client address from `X-Forwarded-For` (only behind a proxy that sets it).
    pub trust_forwarded_for: bool,
    pub tls: TlsConfig,
    pub database: DatabaseConfig,
    pub redis: RedisConfig,
    pub limits: LimitsConfig,
    pub rate_limits: RateLimitsConfig,
    pub realtime: RealtimeConfig,
    pub auth: AuthConfig,
    pub geoip: GeoIpConfig,
    pub web: WebConfig,
    pub routing: RoutingConfig,
}

/// Queues and assignment (see docs/routing.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoutingConfig {
    /// Concurrent chats of an agent who has not set a capacity.
    pub default_capacity: u32,
    /// Policy for chats in no team: `round_robin`, `least_loaded`, `skills_based` or `manual`.
    pub default_policy: String,
    /// A chat waiting this long is escalated (priority raised one step, supervisors told);
    /// 0 turns escalation off.
    pub escalate_after_secs: u64,
    /// How often each node re-runs assignment and escalation (a safety net: arrivals,
    /// resolutions and status changes run it at once).
    pub tick_secs: u64,
    /// The wait estimate's mean chat length when there is no history yet.
    pub default_handling_secs: u64,
    /// How long an agent has to accept a chat transferred to them before it goes back to
    /// the queue.
    pub transfer_accept_secs: u64,
    /// First-response SLA: a customer's chat with no staff reply this long after their
    /// first message is a breach (owners and admins hear of it once); 0 = no SLA.
    pub first_response_sla_secs: u64,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        Self {
            default_capacity: 5,
            default_policy: "least_loaded".into(),
            escalate_after_secs: 300,
            tick_secs: 5,
            default_handling_secs: 600,
            transfer_accept_secs: 60,
            first_response_sla_secs: 0,
        }
    }
}

/// Visitor geolocation from a MaxMind GeoIP2 / GeoLite2 City database file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GeoIpConfig {
    /// Path of a `.mmdb` City database. Empty: no geolocation (visitors' places stay blank).
    pub database: String,
}

/// The browser assets natter serves (the widget, later the agent workspace).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebConfig {
    /// The folder `npm run build` wrote (`web/dist`). Empty: the `web/dist` of the source
    /// tree the binary was built from, when it exists.
    pub assets_dir: String,
}

/// Request rates. Each is a count per minute; shared across a cluster through Redis when
/// `redis.url` is set, per node otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitsConfig {
    /// Sign-in attempts per client address.
    pub logins_per_ip: u32,
    /// Password-reset requests per client address.
    pub password_resets_per_ip: u32,
    /// Messages per sending account.
    pub messages_per_account: u32,
    /// Contacts created per API token's account (sign-ups through the host platform).
    pub contacts_per_account: u32,
    /// Visitors identifying (anonymous or not) per client address.
    pub identifies_per_ip: u32,
    /// Requests per staff API token (scripts and integrations), all endpoints together.
    pub requests_per_token: u32,
    /// Consecutive failed sign-ins before an account is locked; each further failure doubles
    /// the lock (1 min, 2, 4 … up to an hour).
    pub login_failures_before_lock: u32,
}

impl Default for RateLimitsConfig {
    fn default() -> Self {
        Self {
            logins_per_ip: 30,
            password_resets_per_ip: 5,
            messages_per_account: 300,
            contacts_per_account: 600,
            identifies_per_ip: 60,
            requests_per_token: 6000,
            login_failures_before_lock: 5,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://path/to/file.db` or `postgres://user@host/db`. Empty means
    /// `sqlite://<data_dir>/natter.db`.
    pub url: String,
    /// Connections in the pool (readers, for SQLite; SQLite always has exactly one writer).
    pub max_connections: u32,
    /// Seconds a request waits for a pooled connection before failing with `unavailable`.
    pub acquire_timeout_secs: u64,
    /// SQLite `synchronous` setting: `full` (an acknowledged message survives power loss) or
    /// `normal` (survives a process crash, faster).
    pub sqlite_synchronous: String,
    /// How much of the SQLite database file each connection reads through a memory map
    /// (MiB; 0 reads with `pread` only). Reads then come straight from the operating
    /// system's page cache instead of being copied into each connection's own small cache.
    pub sqlite_mmap_mib: u64,
}

/// Native TLS. Both files set: natter serves HTTPS (and WSS) itself, and re-reads them on
/// SIGHUP (certificate renewal without a restart). Neither set: plain HTTP, for running
/// behind a TLS-terminating proxy.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain.
    pub cert_file: String,
    /// PEM private key.
    pub key_file: String,
}

impl TlsConfig {
    pub fn enabled(&self) -> bool {
        !self.cert_file.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://host:port/` to run as one node of a cluster (cross-node fan-out, the shared
    /// typing throttle). Empty: a single node, everything in process.
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest message body, in bytes.
    pub message_body_bytes: usize,
    /// Largest HTTP request body, in bytes.
    pub http_body_bytes: usize,
    /// Largest WebSocket text frame, in bytes; larger frames close the socket with 1009.
    pub ws_frame_bytes: usize,
    /// Events queued for one connection before it is treated as a slow consumer and closed.
    pub ws_outbound_queue: usize,
    /// Largest page of history or conversations one request may ask for.
    pub page_max: u32,
    /// Largest `client_msg_id`, in bytes.
    pub client_msg_id_bytes: usize,
    /// Distinct reactions one account may put on one message.
    pub reactions_per_message: u32,
    /// Participants one conversation may have.
    pub participants_per_conversation: u32,
    /// Largest subject, in bytes.
    pub subject_bytes: usize,
    /// Largest listing JSON, in bytes.
    pub listing_bytes: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RealtimeConfig {
    /// Interval of server pings on WebSockets and keepalives on SSE.
    pub heartbeat_secs: u64,
    /// A connection that sends nothing (not even a pong) for this long is closed.
    pub idle_timeout_secs: u64,
    /// Time a new WebSocket has to send `hello`.
    pub hello_timeout_secs: u64,
    /// At most one typing event per account per conversation per this many milliseconds.
    pub typing_throttle_ms: u64,
    /// Durable events are kept this long for resume; older cursors get `resync`.
    pub event_retention_hours: u64,
    /// Events replayed per storage read while a client catches up.
    pub replay_batch: u32,
    /// How long a node waits for a missing event (announced late or never, e.g. by a node
    /// that died) before reading it from storage.
    pub gap_timeout_ms: u64,
    /// How often a node checks the event log for events nobody announced (Redis down).
    pub catch_up_poll_ms: u64,
    /// A WebSocket that wrote events less than this long ago holds the next ones until this
    /// long has passed, and then writes everything queued at once: a connection receiving
    /// many events a second gets several per `write`, which is most of what a delivery
    /// costs. A connection that has been quiet for this long writes at once. 0 writes every
    /// batch as soon as it is queued.
    pub write_pace_ms: u64,
    /// The most `write`s a second that one big room's events may cost a node: an event to N
    /// accounts waits at least N / this seconds after the connection's previous write
    /// (`write_pace_ms` is the least wait, a second the most). A room of 1,000 at the default
    /// waits 40 ms, so its members' connections write 25 times a second at most, however fast
    /// its messages come. 0: every big room waits `write_pace_ms`. With `write_pace_ms = 0`
    /// nothing is paced, whatever this says.
    pub room_writes_per_sec: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Lifetime of contact tokens minted through the API, in seconds.
    pub contact_token_ttl_secs: u64,
    /// Lifetime of a sign-in session, in seconds.
    pub session_ttl_secs: u64,
    /// Lifetime of password-reset links, in seconds.
    pub password_reset_ttl_secs: u64,
    /// Lifetime of invitation links, in seconds.
    pub invitation_ttl_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            data_dir: "./data".into(),
            log_format: "text".into(),
            public_url: String::new(),
            trust_forwarded_for: false,
            tls: TlsConfig::default(),
            database: DatabaseConfig::default(),
            redis: RedisConfig::default(),
            limits: LimitsConfig::default(),
            rate_limits: RateLimitsConfig::default(),
            realtime: RealtimeConfig::default(),
            auth: AuthConfig::default(),
            geoip: GeoIpConfig::default(),
            web: WebConfig::default(),
            routing: RoutingConfig::default(),
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            max_connections: 8,
            acquire_timeout_secs: 5,
            sqlite_synchronous: "full".into(),
            sqlite_mmap_mib: 1024,
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            message_body_bytes: 16 * 1024,
            http_body_bytes: 64 * 1024,
            ws_frame_bytes: 64 * 1024,
            ws_outbound_queue: 256,
            page_max: 200,
            client_msg_id_bytes: 64,
            reactions_per_message: 20,
            participants_per_conversation: 1000,
            subject_bytes: 500,
            listing_bytes: 8 * 1024,
        }
    }
}

impl Default for RealtimeConfig {
    fn default() -> Self {
        Self {
            heartbeat_secs: 25,
            idle_timeout_secs: 75,
            hello_timeout_secs: 10,
            typing_throttle_ms: 2000,
            event_retention_hours: 24 * 7,
            replay_batch: 500,
            gap_timeout_ms: 200,
            catch_up_poll_ms: 500,
            write_pace_ms: 20,
            room_writes_per_sec: 25_000,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            contact_token_ttl_secs: 7 * 24 * 3600,
            session_ttl_secs: 14 * 24 * 3600,
            password_reset_ttl_secs: 3600,
            invitation_ttl_secs: 7 * 24 * 3600,
        }
    }
}

/// Largest `database.sqlite_mmap_mib`: SQLite's own build limit (`SQLITE_MAX_MMAP_SIZE`,
/// just under 2 GiB), which it would otherwise apply silently.
const MAX_SQLITE_MMAP_MIB: u64 = 2047;

/// Longest `realtime.write_pace_ms`: beyond a second, held events would look lost.
const MAX_WRITE_PACE_MS: u64 = 1000;

/// `NATTER_*` variables that are not settings: the configuration file's path, the log
/// filter. (`NATTER_TEST_*` variables belong to the test suite and are ignored too.)
const NOT_SETTINGS: &[&str] = &["NATTER_CONFIG", "NATTER_LOG"];

/// A configuration problem, reported before the server starts.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot parse the configuration file: {0}")]
    File(String),
    #[error("environment variable {name}: {reason}")]
    Env { name: String, reason: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Builds the configuration from an optional TOML text and environment variables
    /// (`vars` is usually `std::env::vars()`; tests pass their own).
    pub fn load(
        file: Option<&str>,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut tree = toml::Table::try_from(Config::default())
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        if let Some(text) = file {
            let from_file: Config =
                toml::from_str(text).map_err(|e| ConfigError::File(e.to_string()))?;
            tree = toml::Table::try_from(from_file)
                .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        }
        for (name, value) in vars {
            let Some(key) = name.strip_prefix("NATTER_") else {
                continue;
            };
            if NOT_SETTINGS.contains(&name.as_str()) || key.starts_with("TEST_") {
                continue;
            }
            apply_env(&mut tree, &name, &key.to_ascii_lowercase(), &value)?;
        }
        let config: Config = tree
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Whether browsers reach natter over https (directly, or through a proxy per
    /// `public_url`): cookies get `Secure` and responses HSTS.
    pub fn https(&self) -> bool {
        self.tls.enabled() || self.public_url.starts_with("https://")
    }

    /// The base URL browsers reach natter at: `public_url`, else `http://<listen>`.
    pub fn public_base_url(&self) -> String {
        if self.public_url.is_empty() {
            format!("http://{}", self.listen)
        } else {
            self.public_url.trim_end_matches('/').to_string()
        }
    }

    /// The database URL, defaulting to SQLite inside the data directory.
    pub fn database_url(&self) -> String {
        if self.database.url.is_empty() {
            let dir = self.data_dir.trim_end_matches('/');
            format!("sqlite://{dir}/natter.db")
        } else {
            self.database.url.clone()
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: &str| Err(ConfigError::Invalid(m.to_string()));
        if !matches!(self.log_format.as_str(), "text" | "json") {
            return invalid("log_format must be \"text\" or \"json\"");
        }
        if !matches!(self.database.sqlite_synchronous.as_str(), "full" | "normal") {
            return invalid("database.sqlite_synchronous must be \"full\" or \"normal\"");
        }
        if self.database.sqlite_mmap_mib > MAX_SQLITE_MMAP_MIB {
            return invalid("database.sqlite_mmap_mib must be at most 2047");
        }
        let url = self.database_url();
        if !(url.starts_with("sqlite:") || url.starts_with("postgres")) {
            return invalid("database.url must start with sqlite:// or postgres://");
        }
        if self.tls.cert_file.is_empty() != self.tls.key_file.is_empty() {
            return invalid("tls.cert_file and tls.key_file go together");
        }
        if !(self.redis.url.is_empty()
            || self.redis.url.starts_with("redis://")
            || self.redis.url.starts_with("rediss://"))
        {
            return invalid("redis.url must start with redis:// or rediss://");
        }
        if !self.redis.url.is_empty() && url.starts_with("sqlite:") {
            return invalid("cluster mode (redis.url) needs PostgreSQL: SQLite serves one node");
        }
        if !matches!(
            self.routing.default_policy.as_str(),
            "round_robin" | "least_loaded" | "skills_based" | "manual"
        ) {
            return invalid(
                "routing.default_policy must be round_robin, least_loaded, skills_based or manual",
            );
        }
        if self.routing.tick_secs == 0 {
            return invalid("routing.tick_secs must be positive");
        }
        if self.realtime.gap_timeout_ms == 0 || self.realtime.catch_up_poll_ms == 0 {
            return invalid(
                "realtime.gap_timeout_ms and realtime.catch_up_poll_ms must be positive",
            );
        }
        if self.realtime.write_pace_ms > MAX_WRITE_PACE_MS {
            return invalid("realtime.write_pace_ms must be at most 1000");
        }
        if self.limits.message_body_bytes == 0
            || self.limits.ws_frame_bytes < self.limits.message_body_bytes
        {
            return invalid("limits.ws_frame_bytes must be at least limits.message_body_bytes");
        }
        if self.limits.ws_outbound_queue == 0 || self.limits.page_max == 0 {
            return invalid("limits.ws_outbound_queue and limits.page_max must be positive");
        }
        if self.realtime.heartbeat_secs == 0
            || self.realtime.idle_timeout_secs <= self.realtime.heartbeat_secs
        {
            return invalid("realtime.idle_timeout_secs must exceed realtime.heartbeat_secs");
        }
        Ok(())
    }
}

/// Sets the key that `key` (`section_field` or `field`, lower case) names in `tree`, parsing
/// `value` as the type the default already has there. An unknown name is an error, so a typo
/// in a deployment is reported instead of silently ignored.
fn apply_env(
    tree: &mut toml::Table,
    name: &str,
    key: &str,
    value: &str,
) -> Result<(), ConfigError> {
    let err = |reason: &str| ConfigError::Env {
        name: name.to_string(),
        reason: reason.to_string(),
    };
    let slot = if tree.get(key).is_some_and(|v| !v.is_table()) {
        tree.get_mut(key)
    } else {
        // Sections may contain `_` themselves (`rate_limits`): match by section name.
        let section = tree
            .iter()
            .filter(|(name, value)| value.is_table() && key.starts_with(&format!("{name}_")))
            .map(|(name, _)| name.clone())
            .max_by_key(String::len);
        section.and_then(|section| {
            let field = &key[section.len() + 1..];
            tree.get_mut(&section)
                .and_then(|s| s.as_table_mut())
                .and_then(|s| s.get_mut(field))
        })
    };
    let Some(slot) = slot else {
        return Err(err("unknown setting"));
    };
    *slot = match slot {
        toml::Value::Integer(_) => {
            toml::Value::Integer(value.parse().map_err(|_| err("expected a whole number"))?)
        }
        toml::Value::Boolean(_) => {
            toml::Value::Boolean(value.parse().map_err(|_| err("expected true or false"))?)
        }
        _ => toml::Value::String(value.to_string()),
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn no_configuration_means_sqlite_in_the_data_directory() {
        let config = Config::load(None, vars(&[])).unwrap();
        assert_eq!(config.database_url(), "sqlite://./data/natter.db");
        assert_eq!(config.listen, "127.0.0.1:8080");
    }

    #[test]
    fn environment_overrides_the_file() {
        let file = "listen = \"0.0.0.0:9000\"\n[limits]\nmessage_body_bytes = 100\n";
        let config = Config::load(
            Some(file),
            vars(&[
                ("NATTER_DATABASE_URL", "postgres://db/natter"),
                ("NATTER_LIMITS_MESSAGE_BODY_BYTES", "200"),
                ("NATTER_LOG", "debug"),
                ("NATTER_RATE_LIMITS_LOGINS_PER_IP", "7"),
                ("HOME", "/root"),
            ]),
        )
        .unwrap();
        assert_eq!(config.listen, "0.0.0.0:9000");
        assert_eq!(config.database_url(), "postgres://db/natter");
        assert_eq!(config.limits.message_body_bytes, 200);
        assert_eq!(config.rate_limits.logins_per_ip, 7);
    }

    #[test]
    fn an_unknown_environment_setting_is_an_error() {
        let err = Config::load(None, vars(&[("NATTER_DATABSE_URL", "x")])).unwrap_err();
        assert!(err.to_string().contains("NATTER_DATABSE_URL"));
    }

    #[test]
    fn a_non_numeric_limit_is_an_error() {
        let err = Config::load(None, vars(&[("NATTER_LIMITS_PAGE_MAX", "lots")])).unwrap_err();
        assert!(err.to_string().contains("whole number"));
    }

    #[test]
    fn an_unknown_file_key_is_an_error() {
        assert!(Config::load(Some("lisen = \"x\""), vars(&[])).is_err());
    }

    #[test]
    fn a_memory_map_beyond_sqlite_s_limit_is_an_error() {
        let err =
            Config::load(None, vars(&[("NATTER_DATABASE_SQLITE_MMAP_MIB", "4096")])).unwrap_err();
        assert!(err.to_string().contains("sqlite_mmap_mib"), "{err}");
        let off = Config::load(None, vars(&[("NATTER_DATABASE_SQLITE_MMAP_MIB", "0")])).unwrap();
        assert_eq!(off.database.sqlite_mmap_mib, 0);
    }

    #[test]
    fn a_write_pace_over_a_second_is_an_error_and_zero_turns_it_off() {
        let err =
            Config::load(None, vars(&[("NATTER_REALTIME_WRITE_PACE_MS", "1001")])).unwrap_err();
        assert!(err.to_string().contains("write_pace_ms"), "{err}");
        let off = Config::load(None, vars(&[("NATTER_REALTIME_WRITE_PACE_MS", "0")])).unwrap();
        assert_eq!(off.realtime.write_pace_ms, 0);
        assert_eq!(Config::default().realtime.write_pace_ms, 20);
    }
}
