//! The benchmark scenarios. Each starts its own server(s) on a fresh database, measures, and
//! returns a [`ScenarioResult`]; the servers and databases are gone when it returns.

pub mod cross_node;
pub mod fanout;
pub mod history;
pub mod idle;
pub mod messages;
pub mod storm;

use std::future::Future;
use std::time::Instant;

use anyhow::Result;
use serde_json::Value;

use crate::report::{Row, ScenarioResult, Status};
use crate::server::{Backend, Database, Launcher, Node};

/// The server setting that lifts the per-account message limit (300 a minute by default) for
/// scenarios whose senders send far faster than a person types: with the default, the load
/// would measure the limiter's refusals instead of the durable path. The limiter still runs
/// on every send.
pub fn unlimited_messages() -> (&'static str, String) {
    (
        "NATTER_RATE_LIMITS_MESSAGES_PER_ACCOUNT",
        "1000000000".to_string(),
    )
}

/// What every scenario needs: how to start servers, and on which backend.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub launcher: Launcher,
    pub backend: Backend,
}

impl Ctx {
    /// A fresh database and a node on it, with the first admin token.
    pub async fn fresh_node(&self, env: &[(&str, String)]) -> Result<(Database, Node, String)> {
        let db = Database::create(&self.launcher, self.backend).await?;
        // Setup creates every member through the admin's token (1,000 for the largest room),
        // past the 600 contacts a minute an account may create by default; setup is not what
        // is measured. A scenario's own settings come after and win.
        let mut env_with_setup = vec![(
            "NATTER_RATE_LIMITS_CONTACTS_PER_ACCOUNT",
            "1000000000".to_string(),
        )];
        env_with_setup.extend(env.iter().map(|(k, v)| (*k, v.clone())));
        let (node, token) = Node::start(&self.launcher, &db, &env_with_setup).await?;
        let token = token
            .ok_or_else(|| anyhow::anyhow!("a fresh database did not print an admin token"))?;
        Ok((db, node, token))
    }
}

/// What a scenario body returns when it ran.
pub struct Outcome {
    pub status: Status,
    pub reason: Option<String>,
    pub rows: Vec<Row>,
    pub details: Value,
}

impl Outcome {
    pub fn ok(rows: Vec<Row>, details: Value) -> Self {
        Outcome {
            status: Status::Ok,
            reason: None,
            rows,
            details,
        }
    }

    pub fn not_run(status: Status, reason: impl Into<String>) -> Self {
        Outcome {
            status,
            reason: Some(reason.into()),
            rows: Vec::new(),
            details: Value::Null,
        }
    }
}

/// Runs one scenario, turning an error into a `failed` result so the other scenarios still run.
pub async fn run_scenario(
    name: &str,
    body: impl Future<Output = Result<Outcome>>,
) -> ScenarioResult {
    eprintln!("natter-bench: == {name}");
    let started = Instant::now();
    let outcome = body.await.unwrap_or_else(|e| {
        eprintln!("natter-bench: {name} failed: {e:#}");
        Outcome::not_run(Status::Failed, format!("{e:#}"))
    });
    let result = ScenarioResult {
        name: name.to_string(),
        status: outcome.status,
        reason: outcome.reason,
        elapsed_s: started.elapsed().as_secs_f64(),
        rows: outcome.rows,
        details: outcome.details,
    };
    eprintln!(
        "natter-bench: {name}: {:?} in {:.1} s",
        result.status, result.elapsed_s
    );
    for row in &result.rows {
        eprintln!(
            "natter-bench:   {}: {}{}",
            row.metric,
            row.value,
            row.target
                .as_deref()
                .map(|t| format!(" (target {t})"))
                .unwrap_or_default()
        );
    }
    result
}

/// Formats a rate for the table: 12345.6 → "12,346".
pub fn thousands(value: f64) -> String {
    let n = value.round() as i64;
    let digits = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(1234567.0), "1,234,567");
    }
}
