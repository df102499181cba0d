//! What the SDK adds over a raw HTTP client: throughput of `POST /image` + `GET /jobs/{id}`
//! pairs through our clients divided by the same pairs sent by hand with the same HTTP
//! client (raw reqwest, raw ureq) and decoded with serde_json. Both sides send the same
//! headers and bodies, use the same connection settings and talk to the same emulator; the
//! runs alternate (raw, ours, raw, ours) so drift hits both.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use futures_util::StreamExt;
use tokio::runtime::Runtime;
use varg_async::{ImageRequest, Job, RequestTimeouts, models};

use super::{Figure, KEY, Sizes, emulator, fig, round, start};

const ASYNC_IN_FLIGHT: usize = 16;
const BLOCKING_THREADS: usize = 4;

fn image(tag: &str, i: usize) -> ImageRequest {
    ImageRequest::new(models::image::FLUX_PRO, format!("overhead {tag} {i}"))
}

async fn ours_async(client: &varg_async::Client, tag: &str, pairs: usize) -> Result<Duration> {
    let started = Instant::now();
    let results: Vec<Result<()>> = futures_util::stream::iter(0..pairs)
        .map(|i| {
            let client = client.clone();
            let tag = tag.to_owned();
            async move {
                let job = client.create_image(&image(&tag, i)).await?;
                client.get_job(job.job_id.as_str()).await?;
                Ok(())
            }
        })
        .buffer_unordered(ASYNC_IN_FLIGHT)
        .collect()
        .await;
    for r in results {
        r?;
    }
    Ok(started.elapsed())
}

async fn raw_reqwest(
    http: &reqwest::Client,
    base: &str,
    tag: &str,
    pairs: usize,
) -> Result<Duration> {
    let started = Instant::now();
    let results: Vec<Result<()>> = futures_util::stream::iter(0..pairs)
        .map(|i| {
            let http = http.clone();
            let tag = tag.to_owned();
            async move {
                let body = serde_json::to_vec(&image(&tag, i))?;
                let response = http
                    .post(format!("{base}/image"))
                    .header("authorization", format!("Bearer {KEY}"))
                    .header("content-type", "application/json")
                    .header("accept", "application/json")
                    .body(body)
                    .send()
                    .await?;
                if !response.status().is_success() {
                    return Err(anyhow!("create answered {}", response.status()));
                }
                let job: Job = serde_json::from_slice(&response.bytes().await?)?;
                let response = http
                    .get(format!("{base}/jobs/{}", job.job_id))
                    .header("authorization", format!("Bearer {KEY}"))
                    .header("accept", "application/json")
                    .send()
                    .await?;
                if !response.status().is_success() {
                    return Err(anyhow!("get answered {}", response.status()));
                }
                let _: Job = serde_json::from_slice(&response.bytes().await?)?;
                Ok(())
            }
        })
        .buffer_unordered(ASYNC_IN_FLIGHT)
        .collect()
        .await;
    for r in results {
        r?;
    }
    Ok(started.elapsed())
}

/// Runs `work(i)` for `0..pairs` on `BLOCKING_THREADS` threads.
fn threads(pairs: usize, work: impl Fn(usize) -> Result<()> + Send + Sync) -> Result<Duration> {
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..BLOCKING_THREADS)
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= pairs {
                            return Ok(());
                        }
                        work(i)?;
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().map_err(|_| anyhow!("a bench thread panicked"))??;
        }
        Ok::<(), anyhow::Error>(())
    })?;
    Ok(started.elapsed())
}

fn raw_ureq(agent: &ureq::Agent, base: &str, tag: &str, pairs: usize) -> Result<Duration> {
    threads(pairs, |i| {
        let body = serde_json::to_vec(&image(tag, i))?;
        let mut response = agent
            .post(format!("{base}/image"))
            .header("authorization", format!("Bearer {KEY}"))
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .send(&body[..])?;
        if !response.status().is_success() {
            return Err(anyhow!("create answered {}", response.status()));
        }
        let job: Job = serde_json::from_slice(&response.body_mut().read_to_vec()?)?;
        let mut response = agent
            .get(format!("{base}/jobs/{}", job.job_id))
            .header("authorization", format!("Bearer {KEY}"))
            .header("accept", "application/json")
            .call()?;
        if !response.status().is_success() {
            return Err(anyhow!("get answered {}", response.status()));
        }
        let _: Job = serde_json::from_slice(&response.body_mut().read_to_vec()?)?;
        Ok(())
    })
}

fn ours_blocking(client: &varg_blocking::Client, tag: &str, pairs: usize) -> Result<Duration> {
    threads(pairs, |i| {
        let job = client.create_image(&image(tag, i))?;
        client.get_job(job.job_id.as_str())?;
        Ok(())
    })
}

pub(crate) fn overheads(runtime: &Runtime, sizes: Sizes) -> Result<Vec<Figure>> {
    let emu = runtime.block_on(start(emulator()))?;
    let base = emu.base_url();
    let half = sizes.overhead_pairs / 2;

    // Async: the same reqwest client settings on both sides.
    let http = varg_async::transport::default_http_client(RequestTimeouts::default())?;
    let ours = varg_async::Client::builder()
        .api_key(KEY)
        .base_url(&base)
        .build()?;
    let (mut raw_t, mut ours_t) = (Duration::ZERO, Duration::ZERO);
    runtime.block_on(async {
        raw_reqwest(&http, &base, "warm raw", 100).await?;
        ours_async(&ours, "warm ours", 100).await?;
        for round in 0..2 {
            raw_t += raw_reqwest(&http, &base, &format!("raw {round}"), half).await?;
            ours_t += ours_async(&ours, &format!("ours {round}"), half).await?;
        }
        Ok::<(), anyhow::Error>(())
    })?;
    let pairs = (2 * half) as f64;
    let raw_async_rate = pairs / raw_t.as_secs_f64();
    let ours_async_rate = pairs / ours_t.as_secs_f64();

    // Blocking: the same ureq agent settings on both sides.
    let agent = ureq::Agent::new_with_config(varg_blocking::transport::agent_config(
        Duration::from_secs(10),
        Duration::from_secs(60),
    ));
    let ours_b = varg_blocking::Client::builder()
        .api_key(KEY)
        .base_url(&base)
        .build()?;
    let (mut raw_bt, mut ours_bt) = (Duration::ZERO, Duration::ZERO);
    raw_ureq(&agent, &base, "warm raw b", 100)?;
    ours_blocking(&ours_b, "warm ours b", 100)?;
    for round in 0..2 {
        raw_bt += raw_ureq(&agent, &base, &format!("raw b {round}"), half)?;
        ours_bt += ours_blocking(&ours_b, &format!("ours b {round}"), half)?;
    }
    let raw_blocking_rate = pairs / raw_bt.as_secs_f64();
    let ours_blocking_rate = pairs / ours_bt.as_secs_f64();
    runtime.block_on(emu.shutdown());

    Ok(vec![
        fig(
            "async_overhead_ratio",
            round(ours_async_rate / raw_async_rate, 3),
            "create+get throughput, varg-async / raw reqwest (1.0 = no overhead)",
        ),
        fig(
            "async_pairs_per_s",
            round(ours_async_rate, 0),
            &format!("create+get pairs per second, varg-async, {ASYNC_IN_FLIGHT} in flight"),
        ),
        fig(
            "raw_reqwest_pairs_per_s",
            round(raw_async_rate, 0),
            "the same, raw reqwest + serde_json",
        ),
        fig(
            "blocking_overhead_ratio",
            round(ours_blocking_rate / raw_blocking_rate, 3),
            "create+get throughput, varg-blocking / raw ureq (1.0 = no overhead)",
        ),
        fig(
            "blocking_pairs_per_s",
            round(ours_blocking_rate, 0),
            &format!("create+get pairs per second, varg-blocking, {BLOCKING_THREADS} threads"),
        ),
        fig(
            "raw_ureq_pairs_per_s",
            round(raw_blocking_rate, 0),
            "the same, raw ureq + serde_json",
        ),
    ])
}
