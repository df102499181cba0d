//! How soon a finished job is seen, and how many requests a job costs, for three waiting
//! strategies: our SSE wait, our polling fallback, and a fixed 2-second polling loop (the
//! official TypeScript client's strategy).

use std::time::Duration;

use anyhow::{Result, anyhow};
use futures_util::StreamExt;
use serde_json::json;
use varg_async::{Client, ImageRequest, Job, WaitOptions, WaitPolicy, models};

use super::{Figure, KEY, Sizes, emulator, fig, now_ms, quantile, rfc3339_ms, round, start};

fn client(base_url: &str, wait: WaitPolicy) -> Result<Client> {
    Ok(Client::builder()
        .api_key(KEY)
        .base_url(base_url)
        .wait_policy(wait)
        .build()?)
}

fn job_request(tag: &str, i: usize, duration_ms: u64) -> ImageRequest {
    ImageRequest::new(models::image::FLUX_PRO, format!("bench {tag} {i}"))
        .provider_option("emulator", json!({ "duration_ms": duration_ms }))
}

/// A small deterministic generator for job durations.
struct XorShift(u64);

impl XorShift {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Waits for `job` with a fixed `every` polling loop: sleep, `GET /jobs/{id}`, until the job
/// is finished. Returns the job and the number of polls.
async fn fixed_loop(client: &Client, job: Job, every: Duration) -> Result<(Job, u64)> {
    let mut polls = 0;
    let mut job = job;
    while !job.status.is_terminal() {
        tokio::time::sleep(every).await;
        job = client.get_job(job.job_id.as_str()).await?;
        polls += 1;
    }
    Ok((job, polls))
}

#[derive(Clone, Copy, PartialEq)]
enum Strategy {
    Sse,
    Fallback,
    Fixed(Duration),
}

/// Creates `jobs` jobs with the given durations at once and waits for each with
/// `strategy`; returns the latency (ms) from the emulator's completion to the wait's return.
async fn latency_run(
    client: &Client,
    tag: &str,
    durations: Vec<u64>,
    strategy: Strategy,
    concurrency: usize,
) -> Result<Vec<f64>> {
    let results: Vec<Result<f64>> = futures_util::stream::iter(durations.into_iter().enumerate())
        .map(|(i, d)| {
            let client = client.clone();
            async move {
                let job = client.create_image(&job_request(tag, i, d)).await?;
                let done = match strategy {
                    Strategy::Fixed(every) => fixed_loop(&client, job, every).await?.0,
                    Strategy::Sse | Strategy::Fallback => {
                        client.wait_for(job, WaitOptions::new()).await?
                    }
                };
                let returned = now_ms();
                let completed = done
                    .completed_at
                    .as_deref()
                    .and_then(rfc3339_ms)
                    .ok_or_else(|| anyhow!("job without completed_at"))?;
                Ok(returned - completed)
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    results.into_iter().collect()
}

pub(crate) async fn latencies(sizes: Sizes) -> Result<Vec<Figure>> {
    let emu = start(emulator()).await?;
    let base = emu.base_url();
    // SSE: 150 ms jobs, 16 at a time.
    let sse = client(&base, WaitPolicy::default())?;
    let warm = vec![150; 16];
    latency_run(&sse, "warmup", warm, Strategy::Sse, 16).await?;
    let sse_lat = latency_run(&sse, "sse", vec![150; sizes.sse_jobs], Strategy::Sse, 16).await?;

    // Polling: durations spread over 0.5..4.5 s so completions fall at every phase of the
    // poll schedule; all jobs at once.
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let durations: Vec<u64> = (0..sizes.poll_jobs)
        .map(|_| 500 + (rng.unit() * 4000.0) as u64)
        .collect();
    let fallback = client(
        &base,
        WaitPolicy {
            prefer_stream: false,
            ..WaitPolicy::default()
        },
    )?;
    let (fallback_lat, fixed_lat) = tokio::join!(
        latency_run(
            &fallback,
            "fallback",
            durations.clone(),
            Strategy::Fallback,
            sizes.poll_jobs
        ),
        latency_run(
            &sse,
            "poll2s",
            durations,
            Strategy::Fixed(Duration::from_secs(2)),
            sizes.poll_jobs
        ),
    );
    let (fallback_lat, fixed_lat) = (fallback_lat?, fixed_lat?);
    emu.shutdown().await;
    let note = "(completed_at has 1 ms resolution)";
    Ok(vec![
        fig(
            "sse_latency_p50_ms",
            round(quantile(&sse_lat, 0.5), 2),
            &format!(
                "emulator completion -> wait() returns, SSE, {} jobs {note}",
                sse_lat.len()
            ),
        ),
        fig(
            "sse_latency_p99_ms",
            round(quantile(&sse_lat, 0.99), 2),
            "the same, 99th percentile",
        ),
        fig(
            "poll_fallback_latency_p50_ms",
            round(quantile(&fallback_lat, 0.5), 1),
            &format!(
                "the same, our polling fallback (0.5 s x1.5 to 5 s), {} jobs of 0.5-4.5 s",
                fallback_lat.len()
            ),
        ),
        fig(
            "poll_fallback_latency_p99_ms",
            round(quantile(&fallback_lat, 0.99), 1),
            "the same, 99th percentile",
        ),
        fig(
            "poll2s_latency_p50_ms",
            round(quantile(&fixed_lat, 0.5), 1),
            &format!(
                "the same, fixed 2 s polling loop (TypeScript client), {} jobs",
                fixed_lat.len()
            ),
        ),
        fig(
            "poll2s_latency_p99_ms",
            round(quantile(&fixed_lat, 0.99), 1),
            "the same, 99th percentile",
        ),
    ])
}

/// The emulator clock and every client interval are multiplied by this, so a 60 s job takes
/// 3 s and the request counts stay those of real time.
const SCALE: f64 = 0.05;

fn scaled(d: Duration) -> Duration {
    d.mul_f64(SCALE)
}

/// Requests per job (create included) for one strategy and one job length.
async fn requests_for(sizes: Sizes, strategy: Strategy, length_s: u64) -> Result<f64> {
    let emu = start(emulator().time_scale(SCALE)).await?;
    let base = emu.base_url();
    let defaults = WaitPolicy::default();
    let policy = match strategy {
        Strategy::Fallback => WaitPolicy {
            prefer_stream: false,
            poll_initial: scaled(defaults.poll_initial),
            poll_max: scaled(defaults.poll_max),
            ..defaults
        },
        _ => defaults,
    };
    let client = client(&base, policy)?;
    let jobs = sizes.jobs_per_length;
    let results: Vec<Result<()>> = futures_util::stream::iter(0..jobs)
        .map(|i| {
            let client = client.clone();
            async move {
                let job = client
                    .create_image(&job_request("rpj", i, length_s * 1000))
                    .await?;
                match strategy {
                    Strategy::Fixed(every) => {
                        fixed_loop(&client, job, scaled(every)).await?;
                    }
                    _ => {
                        client.wait_for(job, WaitOptions::new()).await?;
                    }
                }
                Ok(())
            }
        })
        .buffer_unordered(jobs)
        .collect()
        .await;
    for r in results {
        r?;
    }
    let per_route = emu.requests_per_route();
    let total: u64 = ["createImage", "getJob", "streamJob"]
        .iter()
        .map(|r| per_route.get(*r).copied().unwrap_or(0))
        .sum();
    emu.shutdown().await;
    Ok(total as f64 / jobs as f64)
}

pub(crate) async fn requests_per_job(sizes: Sizes) -> Result<Vec<Figure>> {
    let mut figures = Vec::new();
    for length in [1u64, 10, 60] {
        let (sse, fallback, fixed) = tokio::join!(
            requests_for(sizes, Strategy::Sse, length),
            requests_for(sizes, Strategy::Fallback, length),
            requests_for(sizes, Strategy::Fixed(Duration::from_secs(2)), length),
        );
        let (sse, fallback, fixed) = (sse?, fallback?, fixed?);
        if length == 1 {
            figures.push(fig(
                "requests_per_job",
                round(sse, 2),
                "requests per job (create included), SSE wait, 1 s job",
            ));
        }
        figures.push(fig(
            &format!("requests_per_job_sse_{length}s"),
            round(sse, 2),
            &format!("requests per job, SSE wait, {length} s job"),
        ));
        figures.push(fig(
            &format!("requests_per_job_poll_fallback_{length}s"),
            round(fallback, 2),
            &format!("requests per job, our polling fallback, {length} s job"),
        ));
        figures.push(fig(
            &format!("requests_per_job_poll2s_{length}s"),
            round(fixed, 2),
            &format!("requests per job, fixed 2 s loop, {length} s job"),
        ));
    }
    Ok(figures)
}
