//! `cargo xtask bench [--quick] [--json]`: the SDK measured side by side with its baselines
//! against the in-process emulator on loopback.
//!
//! Light measurements (latencies, requests per job, overhead ratios) run in this process,
//! with the emulator on the same runtime. Heavy ones (10,000 concurrent waits, the 1 GiB
//! download, the 50 MB upload) run in child processes of this binary (`xtask bench-worker
//! ...`) against an emulator that stays in this process, so each child's peak RSS (VmHWM of
//! /proc/self/status, reset through /proc/self/clear_refs after setup) is the client's alone.

mod heavy;
mod latency;
mod overhead;

use std::process::Command;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value, json};
use varg_emulator::{Emulator, EmulatorBuilder, EmulatorHandle};

pub use heavy::worker;

/// The API key every benchmark client uses (the emulator accepts any `varg_` key).
pub(crate) const KEY: &str = "varg_bench_key";

/// How much work each measurement does.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sizes {
    pub sse_jobs: usize,
    pub poll_jobs: usize,
    pub jobs_per_length: usize,
    pub overhead_pairs: usize,
    pub concurrent_waits: usize,
    pub download_bytes: u64,
    pub upload_bytes: u64,
}

impl Sizes {
    fn new(quick: bool) -> Self {
        if quick {
            Sizes {
                sse_jobs: 200,
                poll_jobs: 40,
                jobs_per_length: 20,
                overhead_pairs: 1_000,
                concurrent_waits: 10_000,
                download_bytes: 1 << 30,
                upload_bytes: 50_000_000,
            }
        } else {
            Sizes {
                sse_jobs: 1_000,
                poll_jobs: 200,
                jobs_per_length: 100,
                overhead_pairs: 5_000,
                concurrent_waits: 10_000,
                download_bytes: 1 << 30,
                upload_bytes: 50_000_000,
            }
        }
    }
}

/// One figure of the report.
pub(crate) struct Figure {
    pub key: String,
    pub value: Value,
    pub what: String,
}

pub(crate) fn fig(key: &str, value: impl Into<Value>, what: &str) -> Figure {
    Figure {
        key: key.to_owned(),
        value: value.into(),
        what: what.to_owned(),
    }
}

/// Runs every measurement and prints the table (and the JSON line).
pub fn run(quick: bool, json_out: bool) -> Result<()> {
    let sizes = Sizes::new(quick);
    if cfg!(debug_assertions) {
        eprintln!(
            "note: this is a debug build (SHA-256, JSON and the emulator unoptimised); \
             for representative numbers run `cargo run --release -p xtask -- bench`"
        );
    }
    let started = std::time::Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut figures = vec![
        fig("quick", quick, "--quick"),
        fig(
            "profile",
            if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
            "build profile of this run (numbers are meaningful in release)",
        ),
    ];
    let section = |name: &str| eprintln!("== {name} ({:.0} s)", started.elapsed().as_secs_f64());

    section("latency: SSE wait, our polling fallback, fixed 2 s loop");
    figures.extend(runtime.block_on(latency::latencies(sizes))?);
    section("requests per job at 1 s / 10 s / 60 s (emulator clock x0.05)");
    figures.extend(runtime.block_on(latency::requests_per_job(sizes))?);
    section("overhead: async client vs raw reqwest, blocking client vs raw ureq");
    figures.extend(overhead::overheads(&runtime, sizes)?);
    section("10,000 concurrent waits (child process)");
    figures.extend(heavy::concurrent_waits(&runtime, sizes)?);
    section("download of a 1 GiB output (child processes)");
    figures.extend(heavy::download(&runtime, sizes)?);
    section("upload of 50 MB with hashing (child process)");
    figures.extend(heavy::upload(&runtime, sizes)?);
    figures.push(fig(
        "bench_seconds",
        round(started.elapsed().as_secs_f64(), 1),
        "wall time of this benchmark run",
    ));
    drop(runtime);

    let width = figures.iter().map(|f| f.key.len()).max().unwrap_or(10);
    println!("{:<width$}  {:>14}  what", "figure", "value");
    for f in &figures {
        let value = match &f.value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        println!("{:<width$}  {:>14}  {}", f.key, value, f.what);
    }
    if json_out {
        let mut map = Map::new();
        for f in figures {
            map.insert(f.key, f.value);
        }
        println!("{}", Value::Object(map));
    }
    Ok(())
}

/// Rounds to `digits` decimals (for readable JSON).
pub(crate) fn round(x: f64, digits: i32) -> f64 {
    let p = 10f64.powi(digits);
    (x * p).round() / p
}

/// The `q` quantile (0..=1) of `values` (nearest rank); 0 when empty.
pub(crate) fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

/// Milliseconds since the Unix epoch of an RFC 3339 UTC timestamp as the emulator writes it
/// (`2026-01-02T03:04:05.678Z`).
pub(crate) fn rfc3339_ms(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[10] != b'T' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let frac = s
        .get(19..)?
        .strip_prefix('.')
        .map(|rest| rest.trim_end_matches('Z'))
        .unwrap_or("");
    let millis = if frac.is_empty() {
        0.0
    } else {
        format!("0.{frac}").parse::<f64>().ok()? * 1000.0
    };
    // Days from the civil date (proleptic Gregorian).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hh * 3600 + mm * 60 + ss;
    Some(secs as f64 * 1000.0 + millis)
}

/// The wall clock in milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

/// Starts an emulator on the current runtime.
pub(crate) async fn start(builder: EmulatorBuilder) -> Result<EmulatorHandle> {
    builder.start().await.context("starting the emulator")
}

/// The default emulator of the light measurements.
pub(crate) fn emulator() -> EmulatorBuilder {
    Emulator::builder()
        .keepalive(Duration::from_secs(15))
        .balance_cents(1_000_000_000_000)
}

/// Reads a `/proc/self/status` field in KiB (`VmHWM`, `VmRSS`).
pub(crate) fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// Resets VmHWM to the current RSS (Linux: write 5 to /proc/self/clear_refs).
pub(crate) fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

pub(crate) fn mib(kib: u64) -> f64 {
    round(kib as f64 / 1024.0, 1)
}

/// Runs `xtask bench-worker <args>` and returns the JSON object on its last stdout line.
pub(crate) fn child(args: &[String]) -> Result<Map<String, Value>> {
    let exe = std::env::current_exe().context("locating the xtask binary")?;
    let output = Command::new(exe)
        .arg("bench-worker")
        .args(args)
        .output()
        .context("starting a bench worker")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "bench worker {args:?} failed ({}): {}{}",
            output.status,
            stdout,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let line = stdout.lines().last().unwrap_or("");
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(map)) => Ok(map),
        _ => bail!("bench worker {args:?} printed no JSON: {stdout}"),
    }
}

/// Prints a worker's result as its last stdout line.
pub(crate) fn emit(map: Value) {
    println!("{}", json!(map));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_emulator_timestamps() {
        assert_eq!(rfc3339_ms("1970-01-01T00:00:00.000Z"), Some(0.0));
        assert_eq!(rfc3339_ms("1970-01-02T00:00:01.500Z"), Some(86_401_500.0));
        assert_eq!(
            rfc3339_ms("2026-11-25T17:28:31.000Z"),
            Some(1_795_627_711_000.0)
        );
        assert_eq!(rfc3339_ms("yesterday"), None);
    }

    #[test]
    fn quantiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), 50.0);
        assert_eq!(quantile(&v, 0.99), 99.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
    }
}
