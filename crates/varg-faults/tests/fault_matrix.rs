//! The fault matrix: 1,000 jobs, 500 through each client, against an emulator that gives 20 %
//! of all requests (creates, streams, polls) a fault drawn from every kind it offers, from a
//! fixed seed.
//!
//! For every job the test knows the true outcome:
//! - the create call failed (an injected 500, 502, HTML page, reset or malformed body on the
//!   POST that the client rightly does not repeat): the job must not exist on the emulator;
//! - otherwise the job exists and the wait must end in its real terminal state: `completed`,
//!   or `failed` for the 10 % of jobs that ask the emulator to fail them. No wait may end in
//!   a transport or decode error while the job itself is fine.
//!
//! The fault sequence is drawn from a fixed seed, but with 100 jobs in flight which request
//! draws which fault depends on arrival order, so the counts printed at the end vary a little
//! from run to run. The assertions are invariants that hold for every assignment of faults.
//!
//! # Creating a job twice
//!
//! A job-creating POST is not idempotent and the v1 API has no idempotency key. If the POST
//! reached the gateway, the job was created, and then the connection was reset (or timed
//! out, or a proxy answered 502) before the answer arrived, a client that simply sent the
//! POST again would create, and pay for, a second job. The clients avoid this through
//! varg-core's retry policy: a job-creating POST is repeated only when the server provably
//! did no work: the connection was never established, or the gateway answered 429 (rate
//! limiting happens before any job is created) or 503 (the request was not accepted). After
//! a reset, a timeout, a 500 or a 502 the error is returned to the caller instead. The
//! emulator injects its faults before the route handler runs, so a faulted POST never
//! creates a job; a retried POST after such a fault would therefore show up here as a job
//! created without a successful create call (the emulator's `jobs_created` counter would
//! exceed our count of successful creates). Every prompt is distinct, so the emulator's
//! cache cannot absorb (and hide) a duplicate.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;
use varg_emulator::{Emulator, EmulatorHandle, Fault, RandomFaults};

const KEY: &str = "varg_fault_matrix_key";
const JOBS_PER_CLIENT: usize = 500;
/// Every tenth job asks the emulator to fail it.
const FAIL_EVERY: usize = 10;

/// Every fault the emulator offers except `ResetAfterWork`: after that one the server has
/// created a job whose id never reached the client, so "jobs created = successful creates"
/// could not be checked exactly. The shared client scenario
/// `create_whose_answer_is_lost_is_not_repeated` covers it (one request, one job).
fn all_faults() -> Vec<Fault> {
    vec![
        Fault::Status(500),
        Fault::Status(502),
        Fault::Status(503),
        Fault::RateLimited {
            retry_after_secs: 1,
        },
        Fault::Reset,
        Fault::Delay(Duration::from_millis(30)),
        Fault::CutStreamAfter(1),
        Fault::MalformedJson,
        Fault::TruncatedJson,
        Fault::Html(502),
    ]
}

fn builder(seed: u64) -> varg_emulator::EmulatorBuilder {
    Emulator::builder()
        .seed(seed)
        // Image jobs take 400 ms before scaling: 20 ms here.
        .time_scale(0.05)
        .keepalive(Duration::from_millis(50))
        .random_faults(RandomFaults {
            probability: 0.2,
            faults: all_faults(),
            routes: Vec::new(),
        })
}

fn retry() -> varg_core::RetryPolicy {
    varg_core::RetryPolicy {
        max_retries: 3,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(80),
        ..varg_core::RetryPolicy::default()
    }
}

fn wait_policy() -> varg_core::WaitPolicy {
    varg_core::WaitPolicy {
        poll_initial: Duration::from_millis(20),
        poll_max: Duration::from_millis(100),
        deadline: Some(Duration::from_secs(60)),
        ..varg_core::WaitPolicy::default()
    }
}

fn request(client: &str, i: usize) -> varg_async::ImageRequest {
    let prompt = format!("fault matrix {client} job {i}");
    let req = varg_async::ImageRequest::new(varg_async::models::image::FLUX_PRO, prompt);
    if i.is_multiple_of(FAIL_EVERY) {
        req.provider_option(
            "emulator",
            json!({ "fail": format!("planned failure {i}") }),
        )
    } else {
        req
    }
}

/// How one job ended, as the client reported it.
#[derive(Debug)]
enum Outcome {
    /// The create call failed (label: the status or the kind of error); no job id was ever
    /// returned.
    NotCreated(String),
    /// The job was created and the wait ended with this terminal status.
    Terminal { job_id: String, status: String },
    /// The job was created but the wait ended in an error other than failed/cancelled.
    LostAfterCreate { job_id: String, error: String },
}

fn classify_wait(job_id: &str, result: Result<varg_async::Job, varg_core::Error>) -> Outcome {
    match result {
        Ok(job) => Outcome::Terminal {
            job_id: job.job_id.to_string(),
            status: job.status.to_string(),
        },
        Err(varg_core::Error::JobFailed { job } | varg_core::Error::JobCancelled { job }) => {
            Outcome::Terminal {
                job_id: job.job_id.to_string(),
                status: job.status.to_string(),
            }
        }
        Err(e) => Outcome::LostAfterCreate {
            job_id: job_id.to_owned(),
            error: format!("{e} ({e:?})"),
        },
    }
}

/// A short label for a failed create: its status, or the kind of error.
fn label(e: &varg_core::Error) -> String {
    match e.status() {
        Some(status) => status.as_u16().to_string(),
        None => format!("{e:?}")
            .split([' ', '(', '{'])
            .next()
            .unwrap_or("?")
            .to_owned(),
    }
}

/// Checks every outcome against the emulator and returns a printable summary.
fn verify(client: &str, emu: &EmulatorHandle, outcomes: &[(usize, Outcome)]) -> String {
    let mut created = 0u64;
    let mut not_created = 0u64;
    let mut create_errors = std::collections::BTreeMap::<&str, u64>::new();
    let mut completed = 0u64;
    let mut failed = 0u64;
    let mut problems = Vec::new();
    for (i, outcome) in outcomes {
        let expected = if i.is_multiple_of(FAIL_EVERY) {
            "failed"
        } else {
            "completed"
        };
        match outcome {
            Outcome::NotCreated(label) => {
                not_created += 1;
                *create_errors.entry(label.as_str()).or_default() += 1;
            }
            Outcome::Terminal { job_id, status } => {
                created += 1;
                if status == "completed" {
                    completed += 1;
                } else if status == "failed" {
                    failed += 1;
                }
                let truth = emu.job(job_id).map(|j| j.status.to_string());
                if status != expected || truth.as_deref() != Some(expected) {
                    problems.push(format!(
                        "{client} job {i} ({job_id}): client saw {status}, emulator has {truth:?}, expected {expected}"
                    ));
                }
            }
            Outcome::LostAfterCreate { job_id, error } => {
                created += 1;
                problems.push(format!(
                    "{client} job {i} ({job_id}) is {:?} on the emulator but the wait ended with: {error}",
                    emu.job(job_id).map(|j| j.status.to_string())
                ));
            }
        }
    }
    assert_eq!(outcomes.len(), JOBS_PER_CLIENT);
    assert!(
        problems.is_empty(),
        "{} jobs did not end in their true state:\n{}",
        problems.len(),
        problems.join("\n")
    );
    // No job created twice: distinct prompts, so no cache hit can hide a duplicate.
    assert_eq!(emu.cache_hits(), 0);
    assert_eq!(
        emu.jobs_created(),
        created,
        "the emulator created {} jobs for {created} successful create calls",
        emu.jobs_created()
    );
    // Enough faults to mean something, and enough jobs through to mean something.
    assert!(not_created > 0 && created > (JOBS_PER_CLIENT as u64) / 2);
    let routes = emu.requests_per_route();
    let requests: u64 = routes.values().sum();
    format!(
        "{client}: {JOBS_PER_CLIENT} jobs, {created} created ({completed} completed, {failed} failed), \
         {not_created} create calls failed on an injected fault {create_errors:?}; {requests} requests {routes:?}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_client_under_faults() {
    let emu = builder(0x05ee_da5c).start().await.unwrap();
    let client = varg_async::Client::builder()
        .api_key(KEY)
        .base_url(emu.base_url())
        .retry(retry())
        .wait_policy(wait_policy())
        .build()
        .unwrap();
    let outcomes: Vec<(usize, Outcome)> = futures_util::stream::iter(0..JOBS_PER_CLIENT)
        .map(|i| {
            let client = client.clone();
            async move {
                let outcome = match client.create_image(&request("async", i)).await {
                    Err(e) => {
                        assert!(e.job_id().is_none(), "create error with a job id: {e:?}");
                        Outcome::NotCreated(label(&e))
                    }
                    Ok(job) => {
                        let id = job.job_id.to_string();
                        let result = client.wait_for(job, varg_async::WaitOptions::new()).await;
                        classify_wait(&id, result)
                    }
                };
                (i, outcome)
            }
        })
        .buffer_unordered(100)
        .collect()
        .await;
    let summary = verify("async", &emu, &outcomes);
    eprintln!("{summary}");
    emu.shutdown().await;
}

#[test]
fn blocking_client_under_faults() {
    let emu = builder(0x5eed_b10c).start_blocking().unwrap();
    let client = varg_blocking::Client::builder()
        .api_key(KEY)
        .base_url(emu.base_url())
        .retry(retry())
        .wait_policy(wait_policy())
        .build()
        .unwrap();
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..64)
        .map(|_| {
            let client = client.clone();
            let next = next.clone();
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= JOBS_PER_CLIENT {
                        return mine;
                    }
                    let outcome = match client.create_image(&request("blocking", i)) {
                        Err(e) => {
                            assert!(e.job_id().is_none(), "create error with a job id: {e:?}");
                            Outcome::NotCreated(label(&e))
                        }
                        Ok(job) => {
                            let id = job.job_id.to_string();
                            let result = client.wait_for(job, varg_blocking::WaitOptions::new());
                            classify_wait(&id, result)
                        }
                    };
                    mine.push((i, outcome));
                }
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for w in workers {
        outcomes.extend(w.join().expect("a worker panicked"));
    }
    outcomes.sort_by_key(|(i, _)| *i);
    let summary = verify("blocking", &emu, &outcomes);
    eprintln!("{summary}");
}
