//! Keeps the benchmark harness working: runs `natter-bench smoke` (every scenario, tiny
//! sizes, SQLite; cross-node on PostgreSQL when it is reachable) against the debug `natter`
//! binary, and checks that every scenario ran and measured something without protocol
//! errors. Benchmarks are not tests: nothing here looks at how fast anything was.
// Helpers outside #[test] functions are test code too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

/// The `natter` binary of the same build. Cargo only exposes `CARGO_BIN_EXE_*` for binaries
/// of the package under test, so it is found by layout instead: this test runs from
/// `target/<profile>/deps/`, and `natter` is built into `target/<profile>/` whenever the whole
/// workspace is built or tested (`cargo test --workspace` builds it for natter-server's own
/// tests).
fn natter_binary() -> PathBuf {
    if let Ok(path) = std::env::var("NATTER_BENCH_NATTER") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the test knows its own path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test runs from target/<profile>/deps");
    profile_dir.join(format!("natter{}", std::env::consts::EXE_SUFFIX))
}

fn counts_in(value: &Value, key: &str) -> u64 {
    value[key].as_u64().unwrap_or(0)
}

#[test]
fn every_scenario_runs_and_measures_something() {
    let natter = natter_binary();
    assert!(
        natter.is_file(),
        "the natter binary is missing at {}: build it first with `cargo build -p natter-server` \
         (`cargo test --workspace` does), or set NATTER_BENCH_NATTER to its path",
        natter.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("smoke.json");
    let run = Command::new(env!("CARGO_BIN_EXE_natter-bench"))
        .arg("--natter")
        .arg(&natter)
        .arg("--out")
        .arg(&out)
        .arg("smoke")
        .output()
        .unwrap();
    let log = format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(run.status.success(), "natter-bench smoke failed\n{log}");
    let results: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let scenarios = results["scenarios"].as_array().unwrap();
    let by_name = |name: &str| -> &Value {
        scenarios
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no {name} result\n{log}"))
    };
    for name in ["idle", "messages", "fanout", "history", "storm"] {
        let s = by_name(name);
        assert_eq!(s["status"], "ok", "{name}: {s}\n{log}");
        assert!(!s["rows"].as_array().unwrap().is_empty(), "{name}: {s}");
    }

    let idle = &by_name("idle")["details"]["points"][0];
    assert_eq!(counts_in(idle, "connected"), 50, "{idle}");
    assert_eq!(counts_in(idle, "failed"), 0, "{idle}");
    assert_eq!(counts_in(idle, "closed_early"), 0, "{idle}");

    // Every phase of the message scenarios: something sent, everything acknowledged and
    // delivered, no error frames, no connection dropped.
    let messages = &by_name("messages")["details"];
    let mut phases: Vec<&Value> = messages["phases"].as_array().unwrap().iter().collect();
    assert!(!phases.is_empty(), "{messages}");
    for size in by_name("fanout")["details"]["sizes"].as_array().unwrap() {
        assert_eq!(counts_in(size, "protocol_errors"), 0, "{size}");
        phases.extend(size["phases"].as_array().unwrap());
    }
    assert_eq!(counts_in(messages, "protocol_errors"), 0, "{messages}");
    for phase in phases {
        let sent = counts_in(phase, "sent");
        assert!(sent > 0, "{phase}");
        assert_eq!(counts_in(phase, "acked"), sent, "{phase}");
        assert_eq!(
            counts_in(phase, "delivered"),
            counts_in(phase, "expected_deliveries"),
            "{phase}"
        );
        assert!(counts_in(phase, "delivered") > 0, "{phase}");
        assert_eq!(counts_in(phase, "errors"), 0, "{phase}");
        assert_eq!(counts_in(phase, "unexpected_closes"), 0, "{phase}");
    }

    let history = &by_name("history")["details"];
    assert_eq!(counts_in(history, "messages"), 10_000, "{history}");
    let mut history_phases: Vec<&Value> = history["phases"].as_array().unwrap().iter().collect();
    history_phases.push(&history["closed_loop"]["result"]);
    for phase in history_phases {
        assert!(counts_in(phase, "ok") > 0, "{phase}");
        assert!(counts_in(phase, "verified") > 0, "{phase}");
        assert_eq!(counts_in(phase, "errors"), 0, "{phase}");
    }

    let storm = &by_name("storm")["details"];
    assert_eq!(counts_in(storm, "connected"), 200, "{storm}");
    assert_eq!(counts_in(storm, "failed"), 0, "{storm}");

    // Cross-node needs PostgreSQL and Redis, and cluster mode in the server. Without them it
    // is reported as skipped or pending, with the reason; with them it must measure.
    let cross = by_name("cross-node");
    match cross["status"].as_str().unwrap() {
        "ok" => {
            for key in ["same_node", "cross_node"] {
                let phase = &cross["details"][key];
                assert!(counts_in(phase, "delivered") > 0, "{phase}");
                assert_eq!(
                    counts_in(phase, "delivered"),
                    counts_in(phase, "expected_deliveries"),
                    "{phase}"
                );
                assert_eq!(counts_in(phase, "errors"), 0, "{phase}");
            }
        }
        "skipped" | "pending" => {
            assert!(
                cross["reason"].as_str().is_some_and(|r| !r.is_empty()),
                "{cross}"
            );
        }
        other => panic!("cross-node {other}: {cross}\n{log}"),
    }
}
