//! Generates images for a batch of prompts, at most three at a time, with plain threads.
//!
//! ```sh
//! VARG_API_KEY=varg_... cargo run -p varg-blocking --example blocking_batch
//! ```
//!
//! A failure of one prompt does not stop the others; every error after a job was created
//! names the job, so nothing is lost.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use varg_blocking::{Client, ImageRequest, JobId, WaitOptions, models};

const CONCURRENCY: usize = 3;

type Outcome = Result<(JobId, PathBuf, u64), varg_blocking::Error>;

fn main() -> Result<(), varg_blocking::Error> {
    let prompts = [
        "a red kite over green hills",
        "a lighthouse at dusk",
        "a bowl of ramen, studio lighting",
        "a fox in the snow, watercolour",
        "a city skyline at night, neon",
        "an astronaut reading in a library",
    ];
    let client = Client::new()?;
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "batch".into()));
    std::fs::create_dir_all(&dir)?;

    // CONCURRENCY workers take the next prompt from a shared counter until none is left.
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Outcome)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..CONCURRENCY {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(prompt) = prompts.get(i) else { break };
                    let path = dir.join(format!("{i:02}.png"));
                    let request = ImageRequest::new(models::image::FLUX_SCHNELL, *prompt);
                    let outcome = client
                        .generate_image(&request, WaitOptions::new())
                        .and_then(|job| {
                            let bytes = client.download_to_path(&job, &path)?;
                            Ok((job.job_id, path, bytes))
                        });
                    if let Ok(mut r) = results.lock() {
                        r.push((i, outcome));
                    }
                }
            });
        }
    });

    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by_key(|(i, _)| *i);
    let mut failed = 0;
    for (i, result) in results {
        let prompt = prompts[i];
        match result {
            Ok((job_id, path, bytes)) => {
                println!("{job_id}  {bytes:>8} bytes  {}  {prompt}", path.display())
            }
            Err(e) => {
                failed += 1;
                eprintln!("failed (job {:?}): {e}", e.job_id().map(|j| j.as_str()));
            }
        }
    }
    println!("{} succeeded, {failed} failed", prompts.len() - failed);
    Ok(())
}
