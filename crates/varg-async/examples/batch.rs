//! Generates images for a batch of prompts, at most three at a time.
//!
//! ```sh
//! VARG_API_KEY=varg_... cargo run -p varg-async --example batch
//! ```
//!
//! A failure of one prompt does not stop the others; every error after a job was created
//! names the job, so nothing is lost.

use futures_util::StreamExt;
use varg_async::{Client, ImageRequest, WaitOptions, models};

const CONCURRENCY: usize = 3;

#[tokio::main]
async fn main() -> Result<(), varg_async::Error> {
    let prompts = [
        "a red kite over green hills",
        "a lighthouse at dusk",
        "a bowl of ramen, studio lighting",
        "a fox in the snow, watercolour",
        "a city skyline at night, neon",
        "an astronaut reading in a library",
    ];
    let client = Client::new()?;
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "batch".into()));
    tokio::fs::create_dir_all(&dir).await?;

    let results: Vec<_> = futures_util::stream::iter(prompts.iter().enumerate())
        .map(|(i, prompt)| {
            let client = client.clone();
            let path = dir.join(format!("{i:02}.png"));
            async move {
                let request = ImageRequest::new(models::image::FLUX_SCHNELL, *prompt);
                let job = client.generate_image(&request, WaitOptions::new()).await?;
                let bytes = client.download_to_path(&job, &path).await?;
                Ok::<_, varg_async::Error>((prompt, job.job_id, path, bytes))
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;

    let mut failed = 0;
    for result in results {
        match result {
            Ok((prompt, job_id, path, bytes)) => {
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
