//! Uploads a photo and animates it into a short video.
//!
//! ```sh
//! VARG_API_KEY=varg_... cargo run -p varg-blocking --example blocking_animate_photo -- photo.jpg "the waves start moving" out.mp4
//! ```

use std::io::Write;
use std::time::Duration;

use varg_blocking::{Client, DownloadProgress, VideoRequest, WaitOptions, models};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let Some(photo) = args.next() else {
        eprintln!("usage: animate_photo <photo> [prompt] [output.mp4]");
        std::process::exit(2);
    };
    let prompt = args
        .next()
        .unwrap_or_else(|| "slow camera push-in, gentle motion".to_owned());
    let output = args.next().unwrap_or_else(|| "video.mp4".to_owned());

    let client = Client::new()?;
    // Hashed first, then streamed; an identical photo uploaded before is deduplicated.
    let upload = client.upload_path(&photo)?;
    eprintln!(
        "uploaded {} ({} bytes, {}{})",
        upload.url,
        upload.size,
        upload.media_type,
        if upload.deduplicated {
            ", deduplicated"
        } else {
            ""
        }
    );

    let request = VideoRequest::new(models::video::KLING_V3, prompt)
        .duration(5.0)
        .file(upload.url.as_str());
    let job = client.generate_video(
        &request,
        WaitOptions::new()
            .deadline(Duration::from_secs(20 * 60))
            .on_status(|job| eprintln!("job {}: {}", job.job_id, job.status)),
    )?;

    let mut file = std::io::BufWriter::new(std::fs::File::create(&output)?);
    let progress = |p: DownloadProgress| match p.total {
        Some(total) => eprint!("\r{} / {} bytes", p.downloaded, total),
        None => eprint!("\r{} bytes", p.downloaded),
    };
    let bytes = client.download(&job, &mut file, Some(&progress))?;
    file.flush()?;
    eprintln!();
    println!("saved {bytes} bytes to {output} (job {})", job.job_id);
    Ok(())
}
