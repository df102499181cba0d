//! The heavy measurements, each in a child process of this binary against an emulator that
//! stays in the parent: 10,000 concurrent waits, a 1 GiB download (ours and raw), a 50 MB
//! upload with hashing. Each child resets its peak RSS after setup and reports VmHWM.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Map, Value, json};
use tokio::runtime::Runtime;
use varg_async::{ImageRequest, WaitOptions, models};

use super::{
    Figure, KEY, Sizes, child, emit, emulator, fig, mib, now_ms, quantile, reset_peak, rfc3339_ms,
    round, start, status_kib,
};

fn get_f64(map: &Map<String, Value>, key: &str) -> f64 {
    map.get(key).and_then(Value::as_f64).unwrap_or(f64::NAN)
}

fn get_u64(map: &Map<String, Value>, key: &str) -> u64 {
    map.get(key).and_then(Value::as_u64).unwrap_or(0)
}

fn runtime() -> Result<Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

fn async_client(base: &str) -> Result<varg_async::Client> {
    Ok(varg_async::Client::builder()
        .api_key(KEY)
        .base_url(base)
        .build()?)
}

/// Entry point of `xtask bench-worker <what> ...` (child processes).
pub fn worker(args: &[String]) -> Result<()> {
    let what = args.first().map(String::as_str).unwrap_or("");
    let arg = |i: usize| -> Result<&str> {
        args.get(i)
            .map(String::as_str)
            .ok_or_else(|| anyhow!("bench-worker {what}: missing argument {i}"))
    };
    match what {
        "waits" => waits_worker(arg(1)?, arg(2)?.parse()?),
        "download-async" => download_async_worker(arg(1)?, arg(2)?),
        "download-reqwest" => download_reqwest_worker(arg(1)?),
        "download-blocking" => download_blocking_worker(arg(1)?, arg(2)?),
        "download-ureq" => download_ureq_worker(arg(1)?),
        "upload" => upload_worker(arg(1)?, arg(2)?.parse()?),
        other => bail!("unknown bench worker {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// 10,000 concurrent waits

pub(crate) fn concurrent_waits(runtime: &Runtime, sizes: Sizes) -> Result<Vec<Figure>> {
    let emu = runtime.block_on(start(emulator()))?;
    let result = child(&[
        "waits".into(),
        emu.base_url(),
        sizes.concurrent_waits.to_string(),
    ]);
    runtime.block_on(emu.shutdown());
    let r = result?;
    let n = get_u64(&r, "waits");
    let hwm = get_u64(&r, "hwm_kib");
    let base = get_u64(&r, "base_kib");
    Ok(vec![
        fig(
            "concurrent_waits",
            n,
            "jobs waited for at once in one process (async client, SSE)",
        ),
        fig(
            "concurrent_waits_rss_mib",
            mib(hwm),
            "peak RSS of that process (VmHWM)",
        ),
        fig(
            "concurrent_waits_rss_per_wait_kib",
            round((hwm.saturating_sub(base)) as f64 / n.max(1) as f64, 1),
            "peak RSS above the idle process, per wait",
        ),
        fig(
            "concurrent_waits_max_open",
            get_u64(&r, "max_open"),
            "waits open at the same moment (max)",
        ),
        fig(
            "concurrent_waits_seconds",
            round(get_f64(&r, "drain_s"), 2),
            "all jobs finish at one instant: time until the last wait() returned",
        ),
        fig(
            "concurrent_waits_create_seconds",
            round(get_f64(&r, "create_s"), 2),
            "time to create the jobs (64 creates in flight) while earlier waits stay open",
        ),
        fig(
            "concurrent_waits_total_seconds",
            round(get_f64(&r, "total_s"), 2),
            "whole run: create, wait until the common finish, drain",
        ),
        fig(
            "concurrent_waits_drain_p50_ms",
            round(get_f64(&r, "lat_p50_ms"), 1),
            "completion -> wait() returns with all waits open, median",
        ),
        fig(
            "concurrent_waits_drain_p99_ms",
            round(get_f64(&r, "lat_p99_ms"), 1),
            "the same, 99th percentile",
        ),
    ])
}

fn waits_worker(base: &str, n: usize) -> Result<()> {
    let rt = runtime()?;
    let client = async_client(base)?;
    let request = |i: usize, duration_ms: u64| {
        ImageRequest::new(models::image::FLUX_PRO, format!("wait {i}"))
            .provider_option("emulator", json!({ "duration_ms": duration_ms }))
    };
    // Warm up and estimate the create rate, so that every job can be given a duration that
    // makes them all finish together, after the last one was created.
    let warm = 200.min(n);
    let warm_started = Instant::now();
    rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for i in 0..warm {
            let client = client.clone();
            set.spawn(async move {
                let job = client.create_image(&request(n + i, 10)).await?;
                client.wait_for(job, WaitOptions::new()).await
            });
        }
        while let Some(r) = set.join_next().await {
            r??;
        }
        Ok::<(), anyhow::Error>(())
    })?;
    let per_create_ms = warm_started.elapsed().as_secs_f64() * 1000.0 / warm.max(1) as f64;
    reset_peak();
    let base_kib = status_kib("VmRSS").unwrap_or(0);
    let started = Instant::now();
    let start_ms = now_ms();
    let end_ms = start_ms + per_create_ms * n as f64 * 1.5 + 2000.0;
    let open = Arc::new(AtomicUsize::new(0));
    let max_open = Arc::new(AtomicUsize::new(0));
    let creates = Arc::new(tokio::sync::Semaphore::new(64));
    let last_created = Arc::new(std::sync::Mutex::new(0f64));
    let last_returned = Arc::new(std::sync::Mutex::new(0f64));
    let latencies: Vec<f64> = rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for i in 0..n {
            let client = client.clone();
            let (open, max_open, creates) = (open.clone(), max_open.clone(), creates.clone());
            let (last_created, last_returned) = (last_created.clone(), last_returned.clone());
            set.spawn(async move {
                let job = {
                    let _permit = creates.acquire().await?;
                    let left = (end_ms - now_ms()).max(200.0) as u64;
                    client.create_image(&request(i, left)).await?
                };
                {
                    let mut t = last_created.lock().unwrap_or_else(|e| e.into_inner());
                    *t = t.max(now_ms());
                }
                let now_open = open.fetch_add(1, Ordering::SeqCst) + 1;
                max_open.fetch_max(now_open, Ordering::SeqCst);
                let done = client.wait_for(job, WaitOptions::new()).await?;
                let returned = now_ms();
                open.fetch_sub(1, Ordering::SeqCst);
                {
                    let mut t = last_returned.lock().unwrap_or_else(|e| e.into_inner());
                    *t = t.max(returned);
                }
                let completed = done
                    .completed_at
                    .as_deref()
                    .and_then(rfc3339_ms)
                    .ok_or_else(|| anyhow!("job without completed_at"))?;
                Ok::<f64, anyhow::Error>(returned - completed)
            });
        }
        let mut out = Vec::with_capacity(n);
        while let Some(r) = set.join_next().await {
            out.push(r??);
        }
        Ok::<Vec<f64>, anyhow::Error>(out)
    })?;
    let total_s = started.elapsed().as_secs_f64();
    let create_s = (*last_created.lock().unwrap_or_else(|e| e.into_inner()) - start_ms) / 1000.0;
    let drain_s = (*last_returned.lock().unwrap_or_else(|e| e.into_inner()) - end_ms) / 1000.0;
    emit(json!({
        "create_s": create_s,
        "drain_s": drain_s,
        "waits": latencies.len(),
        "max_open": max_open.load(Ordering::SeqCst),
        "base_kib": base_kib,
        "hwm_kib": status_kib("VmHWM").unwrap_or(0),
        "total_s": total_s,
        "lat_p50_ms": quantile(&latencies, 0.5),
        "lat_p99_ms": quantile(&latencies, 0.99),
    }));
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 1 GiB download

pub(crate) fn download(runtime: &Runtime, sizes: Sizes) -> Result<Vec<Figure>> {
    let emu = runtime.block_on(start(emulator()))?;
    let base = emu.base_url();
    let url = runtime.block_on(async {
        let client = async_client(&base)?;
        let job = client
            .generate_image(
                &ImageRequest::new(models::image::FLUX_PRO, "download").provider_option(
                    "emulator",
                    json!({ "output_bytes": sizes.download_bytes, "duration_ms": 10 }),
                ),
                WaitOptions::new(),
            )
            .await?;
        job.output
            .map(|o| o.url)
            .ok_or_else(|| anyhow!("the download job has no output"))
    })?;
    let runs = [
        (
            "async",
            vec!["download-async".to_owned(), base.clone(), url.clone()],
        ),
        ("reqwest", vec!["download-reqwest".to_owned(), url.clone()]),
        (
            "blocking",
            vec!["download-blocking".to_owned(), base.clone(), url.clone()],
        ),
        ("ureq", vec!["download-ureq".to_owned(), url.clone()]),
    ];
    let mut results = Vec::new();
    for (name, args) in runs {
        let r = child(&args)?;
        if get_u64(&r, "bytes") != sizes.download_bytes {
            bail!("{name} download got {} bytes", get_u64(&r, "bytes"));
        }
        results.push((name, r));
    }
    let curl = curl_throughput(&url);
    runtime.block_on(emu.shutdown());
    let mb_s = |r: &Map<String, Value>| get_f64(r, "bytes") / 1_048_576.0 / get_f64(r, "secs");
    let size_mib = sizes.download_bytes / (1 << 20);
    let mut figures = Vec::new();
    for (name, r) in &results {
        let (prefix, label) = match *name {
            "async" => ("download", "varg-async download"),
            "reqwest" => ("raw_reqwest_download", "raw reqwest bytes_stream"),
            "blocking" => ("blocking_download", "varg-blocking download"),
            _ => ("raw_ureq_download", "raw ureq reader"),
        };
        figures.push(fig(
            &format!("{prefix}_peak_rss_mib"),
            mib(get_u64(r, "hwm_kib")),
            &format!("{label} of a {size_mib} MiB output to a sink: peak RSS (VmHWM)"),
        ));
        figures.push(fig(
            &format!("{prefix}_mib_per_s"),
            round(mb_s(r), 0),
            &format!("{label}: throughput"),
        ));
    }
    let ours = mb_s(&results[0].1);
    let raw = mb_s(&results[1].1);
    figures.push(fig(
        "download_throughput_ratio",
        round(ours / raw, 3),
        "varg-async download throughput / raw reqwest",
    ));
    figures.push(fig(
        "blocking_download_throughput_ratio",
        round(mb_s(&results[2].1) / mb_s(&results[3].1), 3),
        "varg-blocking download throughput / raw ureq",
    ));
    if let Some(curl) = curl {
        figures.push(fig(
            "curl_download_mib_per_s",
            round(curl, 0),
            "curl -o /dev/null of the same output: throughput",
        ));
    }
    Ok(figures)
}

fn curl_throughput(url: &str) -> Option<f64> {
    let out = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{speed_download}", url])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let bytes_per_s: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
    Some(bytes_per_s / 1_048_576.0)
}

fn report_download(bytes: u64, started: Instant, base_kib: u64) {
    emit(json!({
        "bytes": bytes,
        "secs": started.elapsed().as_secs_f64(),
        "base_kib": base_kib,
        "hwm_kib": status_kib("VmHWM").unwrap_or(0),
    }));
}

fn download_async_worker(base: &str, url: &str) -> Result<()> {
    let rt = runtime()?;
    let client = async_client(base)?;
    reset_peak();
    let base_kib = status_kib("VmRSS").unwrap_or(0);
    let started = Instant::now();
    let bytes = rt.block_on(async {
        let mut sink = tokio::io::sink();
        client.download_url(url, &mut sink, None).await
    })?;
    report_download(bytes, started, base_kib);
    Ok(())
}

fn download_reqwest_worker(url: &str) -> Result<()> {
    use futures_util::StreamExt;
    let rt = runtime()?;
    let http = varg_async::transport::default_http_client(Default::default())?;
    reset_peak();
    let base_kib = status_kib("VmRSS").unwrap_or(0);
    let started = Instant::now();
    let bytes = rt.block_on(async {
        let response = http.get(url).send().await?;
        if !response.status().is_success() {
            bail!("download answered {}", response.status());
        }
        let mut stream = response.bytes_stream();
        let mut total = 0u64;
        while let Some(chunk) = stream.next().await {
            total += chunk?.len() as u64;
        }
        Ok::<u64, anyhow::Error>(total)
    })?;
    report_download(bytes, started, base_kib);
    Ok(())
}

fn download_blocking_worker(base: &str, url: &str) -> Result<()> {
    let client = varg_blocking::Client::builder()
        .api_key(KEY)
        .base_url(base)
        .build()?;
    reset_peak();
    let base_kib = status_kib("VmRSS").unwrap_or(0);
    let started = Instant::now();
    let bytes = client.download_url(url, &mut std::io::sink(), None)?;
    report_download(bytes, started, base_kib);
    Ok(())
}

fn download_ureq_worker(url: &str) -> Result<()> {
    let agent = ureq::Agent::new_with_config(varg_blocking::transport::agent_config(
        Duration::from_secs(10),
        Duration::from_secs(60),
    ));
    reset_peak();
    let base_kib = status_kib("VmRSS").unwrap_or(0);
    let started = Instant::now();
    let mut response = agent.get(url).call()?;
    if !response.status().is_success() {
        bail!("download answered {}", response.status());
    }
    let mut reader = response.body_mut().with_config().limit(u64::MAX).reader();
    let bytes = std::io::copy(&mut reader, &mut std::io::sink())?;
    report_download(bytes, started, base_kib);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 50 MB upload

pub(crate) fn upload(runtime: &Runtime, sizes: Sizes) -> Result<Vec<Figure>> {
    let emu = runtime.block_on(start(emulator()))?;
    let result = child(&[
        "upload".into(),
        emu.base_url(),
        sizes.upload_bytes.to_string(),
    ]);
    let uploads = emu.uploads();
    runtime.block_on(emu.shutdown());
    let r = result?;
    if uploads != 1 {
        bail!("the emulator saw {uploads} uploads");
    }
    let mb = sizes.upload_bytes as f64 / 1_000_000.0;
    Ok(vec![
        fig(
            "upload_peak_rss_mib",
            mib(get_u64(&r, "hwm_kib")),
            &format!(
                "varg-async upload_path of {mb:.0} MB (SHA-256 pass + streamed body): peak RSS"
            ),
        ),
        fig(
            "upload_rss_growth_mib",
            mib(get_u64(&r, "hwm_kib").saturating_sub(get_u64(&r, "base_kib"))),
            "peak RSS above the idle process during that upload",
        ),
        fig(
            "upload_mb_per_s",
            round(mb / get_f64(&r, "secs"), 0),
            "that upload: MB per second, hashing included",
        ),
    ])
}

fn upload_worker(base: &str, size: u64) -> Result<()> {
    let rt = runtime()?;
    let client = async_client(base)?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("upload.mp4");
    {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path)?);
        // A real MP4 header so the emulator's sniffer accepts it, then filler.
        let header = varg_emulator::media::mp4(64, 64, 1.0);
        file.write_all(&header)?;
        let mut left = size
            .checked_sub(header.len() as u64)
            .context("upload size smaller than the MP4 header")?;
        let chunk: Vec<u8> = (0..1 << 20).map(|i| (i * 31 % 251) as u8).collect();
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            file.write_all(&chunk[..n])?;
            left -= n as u64;
        }
        file.flush()?;
    }
    reset_peak();
    let base_kib = status_kib("VmRSS").unwrap_or(0);
    let started = Instant::now();
    let uploaded = rt.block_on(client.upload_path(&path))?;
    let secs = started.elapsed().as_secs_f64();
    emit(json!({
        "secs": secs,
        "base_kib": base_kib,
        "hwm_kib": status_kib("VmHWM").unwrap_or(0),
        "size": uploaded.size,
    }));
    Ok(())
}
