//! Request rate limits: fixed one-minute windows per (limit, key), answered with
//! `rate_limited` and a `Retry-After`. In a cluster the counters live in Redis (`INCR` with a
//! `PEXPIRE` on the window's first hit), so every node enforces the same budget; a single
//! node, or a node whose Redis does not answer, counts in process with `governor`.

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota};
use natter_core::Error;
use std::collections::HashMap;

/// The limits natter enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    LoginPerIp,
    PasswordResetPerIp,
    MessagesPerAccount,
    ContactsPerAccount,
    IdentifyPerIp,
    RequestsPerToken,
    /// New widget visitors per client address, per website.
    WebsiteVisitorsPerIp,
    /// Widget messages per visitor, per website.
    WebsiteMessagesPerVisitor,
    /// Page views, activity pings and tracked events per visitor, per website.
    WebsiteTrackingPerVisitor,
}

impl Limit {
    fn name(self) -> &'static str {
        match self {
            Limit::LoginPerIp => "login_ip",
            Limit::PasswordResetPerIp => "reset_ip",
            Limit::MessagesPerAccount => "messages",
            Limit::ContactsPerAccount => "contacts",
            Limit::IdentifyPerIp => "identify_ip",
            Limit::RequestsPerToken => "token",
            Limit::WebsiteVisitorsPerIp => "site_visitors",
            Limit::WebsiteMessagesPerVisitor => "site_messages",
            Limit::WebsiteTrackingPerVisitor => "site_tracking",
        }
    }

    fn message(self) -> &'static str {
        match self {
            Limit::LoginPerIp => "too many sign-in attempts from this address",
            Limit::PasswordResetPerIp => "too many password reset requests from this address",
            Limit::MessagesPerAccount => "too many messages; slow down",
            Limit::ContactsPerAccount => "too many contacts created; slow down",
            Limit::IdentifyPerIp => "too many visitors from this address; slow down",
            Limit::RequestsPerToken => "too many requests with this API token; slow down",
            Limit::WebsiteVisitorsPerIp => "too many new visitors from this address; slow down",
            Limit::WebsiteMessagesPerVisitor => "too many messages; slow down",
            Limit::WebsiteTrackingPerVisitor => "too many tracking calls; slow down",
        }
    }
}

const WINDOW: Duration = Duration::from_secs(60);
/// Page views, pings and events per visitor per minute, unless a website sets its own.
const DEFAULT_TRACKING_PER_VISITOR: u32 = 120;
/// Longest wait for Redis on the request path before counting locally instead.
const REDIS_TIMEOUT: Duration = Duration::from_millis(100);

pub struct RateLimiter {
    per_minute: HashMap<Limit, u32>,
    /// One in-process limiter per limit and budget (websites may set their own budgets).
    local: Mutex<HashMap<(Limit, u32), DefaultKeyedRateLimiter<String>>>,
    redis: Option<redis::Client>,
    /// Set on first use; the manager reconnects by itself afterwards.
    connection: tokio::sync::OnceCell<redis::aio::ConnectionManager>,
}

impl RateLimiter {
    pub fn new(config: &natter_core::config::RateLimitsConfig, redis_url: Option<&str>) -> Self {
        let per_minute = HashMap::from([
            (Limit::LoginPerIp, config.logins_per_ip),
            (Limit::PasswordResetPerIp, config.password_resets_per_ip),
            (Limit::MessagesPerAccount, config.messages_per_account),
            (Limit::ContactsPerAccount, config.contacts_per_account),
            (Limit::IdentifyPerIp, config.identifies_per_ip),
            (Limit::RequestsPerToken, config.requests_per_token),
            (Limit::WebsiteVisitorsPerIp, config.identifies_per_ip),
            (
                Limit::WebsiteMessagesPerVisitor,
                config.messages_per_account,
            ),
            (
                Limit::WebsiteTrackingPerVisitor,
                DEFAULT_TRACKING_PER_VISITOR,
            ),
        ]);
        Self {
            per_minute,
            local: Mutex::new(HashMap::new()),
            redis: redis_url.and_then(|url| redis::Client::open(url).ok()),
            connection: tokio::sync::OnceCell::new(),
        }
    }

    /// Counts one request against `limit` for `key`; `Err(rate_limited)` when over budget.
    pub async fn check(&self, limit: Limit, key: &str) -> Result<(), Error> {
        self.check_budget(limit, key, 0).await
    }

    /// Like [`check`](Self::check) with a caller-chosen budget (a website's own limit);
    /// 0 uses the configured one.
    pub async fn check_budget(&self, limit: Limit, key: &str, budget: u32) -> Result<(), Error> {
        let budget = if budget > 0 {
            budget
        } else {
            match self.per_minute.get(&limit) {
                Some(&b) => b,
                None => return Ok(()),
            }
        };
        if budget == 0 {
            return Ok(());
        }
        if self.redis.is_some() {
            match tokio::time::timeout(REDIS_TIMEOUT, self.check_redis(limit, key, budget)).await {
                Ok(Ok(result)) => return result,
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "rate limit via Redis failed; counting locally")
                }
                Err(_) => tracing::debug!("rate limit via Redis timed out; counting locally"),
            }
        }
        self.check_local(limit, key, budget)
    }

    fn check_local(&self, limit: Limit, key: &str, budget: u32) -> Result<(), Error> {
        let mut local = self
            .local
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let limiter = local.entry((limit, budget)).or_insert_with(|| {
            let n = NonZeroU32::new(budget).unwrap_or(NonZeroU32::MIN);
            DefaultKeyedRateLimiter::keyed(Quota::per_minute(n))
        });
        // Forget idle keys now and then so the map does not grow without bound.
        if limiter.len() > 100_000 {
            limiter.retain_recent();
        }
        limiter.check_key(&key.to_string()).map_err(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            ));
            Error::rate_limited(limit.message(), wait.as_secs().max(1))
        })
    }

    async fn check_redis(
        &self,
        limit: Limit,
        key: &str,
        budget: u32,
    ) -> Result<Result<(), Error>, redis::RedisError> {
        let Some(client) = &self.redis else {
            return Ok(Ok(()));
        };
        let mut conn = self
            .connection
            .get_or_try_init(|| client.get_connection_manager())
            .await?
            .clone();
        let window_ms = u64::try_from(WINDOW.as_millis()).unwrap_or(60_000);
        let redis_key = format!("natter:rl:{}:{key}", limit.name());
        let (count, ttl): (u64, i64) = redis::pipe()
            .atomic()
            .cmd("INCR")
            .arg(&redis_key)
            .cmd("PEXPIRE")
            .arg(&redis_key)
            .arg(window_ms)
            .arg("NX")
            .ignore()
            .cmd("PTTL")
            .arg(&redis_key)
            .query_async(&mut conn)
            .await?;
        if count > u64::from(budget) {
            let seconds = u64::try_from(ttl).unwrap_or(0).div_ceil(1000);
            Ok(Err(Error::rate_limited(limit.message(), seconds)))
        } else {
            Ok(Ok(()))
        }
    }
}
