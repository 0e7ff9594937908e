//! Measurement: latency histograms, the process clock that timestamps messages, and CPU and
//! memory readings of processes from `/proc`.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Latencies are recorded in microseconds up to this bound (larger values are clamped: a
/// message two minutes late has failed any target anyway).
const MAX_MICROS: u64 = 120_000_000;

/// A latency histogram in microseconds (HdrHistogram, 3 significant digits).
#[derive(Clone)]
pub struct Latency(Histogram<u64>);

impl Latency {
    pub fn new() -> Result<Self> {
        Histogram::new_with_bounds(1, MAX_MICROS, 3)
            .map(Latency)
            .map_err(|e| anyhow!("creating a histogram: {e}"))
    }

    pub fn record_micros(&mut self, micros: u64) {
        self.0.saturating_record(micros.max(1));
    }

    pub fn record(&mut self, elapsed: Duration) {
        self.record_micros(u64::try_from(elapsed.as_micros()).unwrap_or(MAX_MICROS));
    }

    pub fn summary(&self) -> Summary {
        let ms = |micros: u64| micros as f64 / 1000.0;
        if self.0.is_empty() {
            return Summary::default();
        }
        Summary {
            count: self.0.len(),
            mean_ms: self.0.mean() / 1000.0,
            p50_ms: ms(self.0.value_at_quantile(0.5)),
            p99_ms: ms(self.0.value_at_quantile(0.99)),
            p999_ms: ms(self.0.value_at_quantile(0.999)),
            max_ms: ms(self.0.max()),
        }
    }
}

/// What a latency histogram says, in milliseconds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Summary {
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

/// Microseconds since the harness started, from the monotonic clock. Message bodies and
/// request refs carry this, and sender and receiver run in the same process, so no clock
/// synchronisation is involved.
pub fn micros_since_start(at: Instant) -> u64 {
    let base = *BASE.get_or_init(Instant::now);
    u64::try_from(at.saturating_duration_since(base).as_micros()).unwrap_or(u64::MAX)
}

/// The instant `micros` after the harness started.
pub fn instant_of_micros(micros: u64) -> Instant {
    let base = *BASE.get_or_init(Instant::now);
    base + Duration::from_micros(micros)
}

static BASE: OnceLock<Instant> = OnceLock::new();

/// Fixes the clock base; call once at start so that every later reading is positive.
pub fn init_clock() {
    BASE.get_or_init(Instant::now);
}

/// Kernel clock ticks per second (the unit of utime/stime in /proc/<pid>/stat).
fn clock_ticks_per_second() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            // USER_HZ is 100 on every mainstream Linux configuration.
            .unwrap_or(100)
    })
}

/// CPU time (user + system) a process has used, in seconds.
pub fn cpu_seconds(pid: u32) -> Result<f64> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    // The command name (field 2) may contain spaces; the fields after it are plain numbers.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| anyhow!("unexpected {path}"))?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the name: state is field 3, utime field 14, stime field 15.
    let field = |n: usize| -> Result<u64> {
        fields
            .get(n - 3)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| anyhow!("field {n} missing in {path}"))
    };
    let ticks = field(14)? + field(15)?;
    Ok(ticks as f64 / clock_ticks_per_second() as f64)
}

/// Resident set size of a process, in KiB (VmRSS in /proc/<pid>/status).
pub fn rss_kib(pid: u32) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow!("no VmRSS in {path}"))
}

/// Measures the CPU use of some processes over an interval, as a percentage of one core.
pub struct CpuMeter {
    pids: Vec<u32>,
    start: Vec<f64>,
    at: Instant,
}

impl CpuMeter {
    pub fn start(pids: &[u32]) -> Result<Self> {
        Ok(CpuMeter {
            pids: pids.to_vec(),
            start: pids
                .iter()
                .map(|&p| cpu_seconds(p))
                .collect::<Result<_>>()?,
            at: Instant::now(),
        })
    }

    /// CPU used since `start` by all the processes together, in % of one core.
    pub fn percent(&self) -> Result<f64> {
        let wall = self.at.elapsed().as_secs_f64();
        let mut used = 0.0;
        for (pid, start) in self.pids.iter().zip(&self.start) {
            used += cpu_seconds(*pid)? - start;
        }
        Ok(if wall > 0.0 { 100.0 * used / wall } else { 0.0 })
    }
}
