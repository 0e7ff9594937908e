//! Results: the JSON written for every run, the machine description, and the Markdown
//! tables (one per run, and the combined one in `docs/benchmarks.md`).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How a scenario ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// It ran; its figures are in `rows` and `details`.
    Ok,
    /// The server does not support what the scenario needs yet (e.g. cluster mode).
    Pending,
    /// It does not apply to this run (e.g. cross-node on SQLite).
    Skipped,
    /// It broke; `reason` says how.
    Failed,
}

/// One line of the results table: a figure, and the issue's target for it if there is one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    pub metric: String,
    pub target: Option<String>,
    pub value: String,
    /// Whether the figure meets the target (`None` when there is no target).
    pub met: Option<bool>,
}

impl Row {
    pub fn info(metric: impl Into<String>, value: impl Into<String>) -> Self {
        Row {
            metric: metric.into(),
            target: None,
            value: value.into(),
            met: None,
        }
    }

    pub fn target(
        metric: impl Into<String>,
        target: impl Into<String>,
        value: impl Into<String>,
        met: bool,
    ) -> Self {
        Row {
            metric: metric.into(),
            target: Some(target.into()),
            value: value.into(),
            met: Some(met),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioResult {
    pub name: String,
    pub status: Status,
    pub reason: Option<String>,
    pub elapsed_s: f64,
    pub rows: Vec<Row>,
    /// Everything measured, phase by phase.
    pub details: Value,
}

/// What the numbers were measured on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Machine {
    pub cpu_model: String,
    pub cpus: usize,
    pub memory_gib: f64,
    pub kernel: String,
    pub os: String,
    pub rustc: String,
    pub open_files_limit: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    pub harness: String,
    pub natter_version: String,
    pub backend: String,
    pub started_at: String,
    pub finished_at: String,
    /// CPUs the servers were pinned to (`taskset -c`), if any.
    pub server_cpus: Option<String>,
    /// CPUs the harness itself may run on (its affinity, e.g. from `taskset -c 1`).
    pub harness_cpus: String,
    pub machine: Machine,
    pub scenarios: Vec<ScenarioResult>,
}

fn first_line_of(command: &str, args: &[&str]) -> String {
    std::process::Command::new(command)
        .args(args)
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".to_string())
}

fn proc_field(path: &str, key: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()?
        .lines()
        .find_map(|line| {
            let (k, v) = line.split_once(':')?;
            (k.trim() == key).then(|| v.trim().to_string())
        })
}

impl Machine {
    pub fn describe() -> Self {
        let memory_kib: f64 = proc_field("/proc/meminfo", "MemTotal")
            .and_then(|v| v.trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0.0);
        let os = std::fs::read_to_string("/etc/os-release")
            .ok()
            .and_then(|text| {
                text.lines()
                    .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                    .map(|v| v.trim_matches('"').to_string())
            })
            .unwrap_or_else(|| "unknown".to_string());
        Machine {
            cpu_model: proc_field("/proc/cpuinfo", "model name")
                .unwrap_or_else(|| "unknown".to_string()),
            cpus: std::fs::read_to_string("/proc/cpuinfo")
                .map(|t| t.lines().filter(|l| l.starts_with("processor")).count())
                .unwrap_or(0),
            memory_gib: (memory_kib / 1024.0 / 1024.0 * 10.0).round() / 10.0,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "unknown".to_string()),
            os,
            rustc: first_line_of("rustc", &["--version"]),
            // "Max open files  <soft>  <hard>  files"
            open_files_limit: std::fs::read_to_string("/proc/self/limits")
                .ok()
                .and_then(|t| {
                    t.lines()
                        .find(|l| l.starts_with("Max open files"))
                        .map(|l| {
                            let f: Vec<&str> = l.split_whitespace().collect();
                            format!(
                                "{} (soft) / {} (hard)",
                                f.get(3).unwrap_or(&"?"),
                                f.get(4).unwrap_or(&"?")
                            )
                        })
                })
                .unwrap_or_else(|| "unknown".to_string()),
        }
    }
}

/// The CPUs this process may run on (`Cpus_allowed_list`).
pub fn own_cpus() -> String {
    proc_field("/proc/self/status", "Cpus_allowed_list").unwrap_or_else(|| "unknown".to_string())
}

/// Now as an RFC 3339 UTC timestamp (no date library needed for this one format).
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => " ✅",
        Some(false) => " ❌",
        None => "",
    }
}

fn status_note(s: &ScenarioResult) -> String {
    match s.status {
        Status::Ok => String::new(),
        _ => format!(
            "{:?}: {}",
            s.status,
            s.reason.as_deref().unwrap_or("").replace('\n', " ")
        )
        .to_lowercase(),
    }
}

/// The table for one run.
pub fn run_table(run: &Run) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "| scenario | metric | target | measured |");
    let _ = writeln!(out, "|---|---|---|---|");
    for s in &run.scenarios {
        if s.rows.is_empty() {
            let _ = writeln!(out, "| {} | — | — | {} |", s.name, status_note(s));
        }
        for r in &s.rows {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {}{} |",
                s.name,
                r.metric,
                r.target.as_deref().unwrap_or(""),
                r.value,
                verdict(r.met)
            );
        }
    }
    out
}

/// One table with a column per run (backend), rows matched by scenario and metric.
pub fn combined_table(runs: &[Run]) -> String {
    // Rows grouped by scenario (in the order scenarios first appear), metrics in the order
    // the runs list them; a scenario without rows in any run gets one status line.
    let mut names: Vec<&str> = Vec::new();
    for s in runs.iter().flat_map(|r| &r.scenarios) {
        if !names.contains(&s.name.as_str()) {
            names.push(&s.name);
        }
    }
    let mut keys: Vec<(String, String, Option<String>)> = Vec::new();
    for name in names {
        let rows: Vec<&Row> = runs
            .iter()
            .flat_map(|r| &r.scenarios)
            .filter(|s| s.name == name)
            .flat_map(|s| &s.rows)
            .collect();
        if rows.is_empty() {
            keys.push((name.to_string(), "—".to_string(), None));
        }
        for r in rows {
            if !keys.iter().any(|(n, m, _)| n == name && *m == r.metric) {
                keys.push((name.to_string(), r.metric.clone(), r.target.clone()));
            }
        }
    }
    let mut out = String::new();
    let _ = write!(out, "| scenario | metric | target (issue 4) |");
    for run in runs {
        let _ = write!(out, " {} |", run.backend);
    }
    let _ = writeln!(out);
    let _ = write!(out, "|---|---|---|");
    for _ in runs {
        let _ = write!(out, "---|");
    }
    let _ = writeln!(out);
    for (name, metric, target) in &keys {
        let _ = write!(
            out,
            "| {name} | {metric} | {} |",
            target.as_deref().unwrap_or("")
        );
        for run in runs {
            let cell = run
                .scenarios
                .iter()
                .find(|s| s.name == *name)
                .map(|s| {
                    s.rows
                        .iter()
                        .find(|r| r.metric == *metric)
                        .map(|r| format!("{}{}", r.value, verdict(r.met)))
                        .unwrap_or_else(|| status_note(s))
                })
                .unwrap_or_else(|| "not run".to_string());
            let _ = write!(out, " {cell} |");
        }
        let _ = writeln!(out);
    }
    out
}

const BEGIN: &str =
    "<!-- natter-bench:begin (generated by `natter-bench report`; edit outside) -->";
const END: &str = "<!-- natter-bench:end -->";

/// Renders the generated part of `docs/benchmarks.md`: machine, combined table, JSON.
pub fn render_generated(runs: &[Run]) -> Result<String> {
    let mut out = String::new();
    let _ = writeln!(out, "{BEGIN}");
    if let Some(run) = runs.first() {
        let m = &run.machine;
        let _ = writeln!(out, "### Machine\n");
        let _ = writeln!(out, "| | |\n|---|---|");
        let _ = writeln!(out, "| CPU | {} |", m.cpu_model);
        let _ = writeln!(out, "| cores | {} |", m.cpus);
        let _ = writeln!(out, "| memory | {} GiB |", m.memory_gib);
        let _ = writeln!(out, "| kernel | {} |", m.kernel);
        let _ = writeln!(out, "| OS | {} |", m.os);
        let _ = writeln!(out, "| rustc | {} |", m.rustc);
        let _ = writeln!(out, "| open files per process | {} |", m.open_files_limit);
        let _ = writeln!(out, "| natter | {} |", run.natter_version);
        let _ = writeln!(
            out,
            "| pinning | server on CPU {}, harness on CPU {} |",
            run.server_cpus.as_deref().unwrap_or("(not pinned)"),
            run.harness_cpus
        );
        for r in runs {
            let _ = writeln!(
                out,
                "| run ({}) | {} → {} |",
                r.backend, r.started_at, r.finished_at
            );
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "### Results\n");
    let _ = writeln!(out, "{}", combined_table(runs));
    let _ = writeln!(out, "### Raw results (JSON)\n");
    for run in runs {
        let _ = writeln!(
            out,
            "<details><summary>{} run</summary>\n\n```json\n{}\n```\n\n</details>\n",
            run.backend,
            serde_json::to_string_pretty(run)?
        );
    }
    let _ = writeln!(out, "{END}");
    Ok(out)
}

/// Replaces the generated part of `path` (between the markers), keeping the text around it;
/// a file without markers gets the generated part appended.
pub fn write_into(path: &Path, generated: &str) -> Result<()> {
    let existing = std::fs::read_to_string(path).unwrap_or_default();
    let text = match (existing.find(BEGIN), existing.find(END)) {
        (Some(b), Some(e)) if e > b => {
            format!(
                "{}{}{}",
                &existing[..b],
                generated.trim_end(),
                &existing[e + END.len()..]
            )
        }
        _ if existing.is_empty() => format!("# Benchmarks\n\n{generated}"),
        _ => format!("{}\n\n{generated}", existing.trim_end()),
    };
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_utc_timestamp_has_the_rfc_3339_shape() {
        let now = utc_now();
        assert_eq!(now.len(), 20, "{now}");
        assert!(now.starts_with("20") && now.ends_with('Z'), "{now}");
    }

    #[test]
    fn the_generated_part_replaces_only_what_is_between_the_markers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.md");
        std::fs::write(&path, format!("intro\n{BEGIN}\nold\n{END}\noutro\n")).unwrap();
        write_into(&path, &format!("{BEGIN}\nnew\n{END}\n")).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, format!("intro\n{BEGIN}\nnew\n{END}\noutro\n"));
    }
}
