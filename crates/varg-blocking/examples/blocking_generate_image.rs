//! Generates an image and saves it.
//!
//! ```sh
//! VARG_API_KEY=varg_... cargo run -p varg-blocking --example blocking_generate_image -- "a lighthouse at dusk" out.png
//! # against a local emulator:
//! cargo run -p varg-emulator &   # prints its base URL
//! VARG_BASE_URL=http://127.0.0.1:PORT/v1 VARG_API_KEY=varg_local cargo run -p varg-blocking --example blocking_generate_image
//! ```

use std::time::Duration;

use varg_blocking::{AspectRatio, Client, ImageRequest, WaitOptions, models};

fn main() -> Result<(), varg_blocking::Error> {
    let mut args = std::env::args().skip(1);
    let prompt = args
        .next()
        .unwrap_or_else(|| "a lighthouse at dusk, oil painting".to_owned());
    let path = args.next().unwrap_or_else(|| "image.png".to_owned());

    let client = Client::new()?;
    let request = ImageRequest::new(models::image::FLUX_PRO, prompt)
        .aspect_ratio(AspectRatio::LANDSCAPE_16_9);
    let options = WaitOptions::new()
        .deadline(Duration::from_secs(300))
        .cancel_on_deadline(true)
        .on_status(|job| eprintln!("job {}: {}", job.job_id, job.status));
    let job = client.generate_image(&request, options)?;
    let bytes = client.download_to_path(&job, &path)?;
    println!("saved {bytes} bytes to {path} (job {})", job.job_id);
    Ok(())
}
