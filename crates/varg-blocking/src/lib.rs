//! # varg-blocking
//!
//! A blocking client for the [varg](https://varg.ai) gateway: one API that turns a prompt
//! into an image, video, speech, music or transcription job. No async runtime is involved:
//! requests are sent with [`ureq`] (rustls with the `ring` provider) on the calling thread,
//! so the client works in plain programs, in threads, and inside a tokio runtime's
//! `spawn_blocking` tasks alike.
//!
//! It has the same surface as the async client (`varg-async`), method for method. All
//! protocol decisions (request building, decoding, retries, the job waiter, SSE parsing,
//! content hashing) come from [`varg_core`]; this crate only does the IO, reads the clock
//! and sleeps.
//!
//! ```no_run
//! use std::time::Duration;
//! use varg_blocking::{Client, WaitOptions, types::{ImageRequest, models}};
//!
//! # fn main() -> Result<(), varg_blocking::Error> {
//! // The key from VARG_API_KEY or ~/.varg/credentials; the base URL from VARG_BASE_URL.
//! let client = Client::new()?;
//! let request = ImageRequest::new(models::image::FLUX_PRO, "a lighthouse at dusk");
//! let job = client.generate_image(
//!     &request,
//!     WaitOptions::new()
//!         .deadline(Duration::from_secs(300))
//!         .on_status(|job| eprintln!("{}: {}", job.job_id, job.status)),
//! )?;
//! let bytes = client.download_to_path(&job, "lighthouse.png")?;
//! println!("saved {bytes} bytes");
//! # Ok(()) }
//! ```
//!
//! ## What the client guarantees
//!
//! - Every endpoint is a method with typed input and output; input is validated before
//!   anything is sent ([`Error::InvalidInput`]).
//! - Connect and read timeouts are always set, so nothing hangs forever; retries follow
//!   [`RetryPolicy`] (job-creating POSTs are repeated only when the server provably did no
//!   work). The total timeout (default 120 s) bounds a whole call, every retry and every
//!   backoff or `Retry-After` sleep included; [`ClientBuilder::on_notice`] hears about each
//!   of those waits before it starts ([`Notice`]).
//! - Waiting prefers the job's event stream, reconnects when it is cut, falls back to
//!   polling, honours `Retry-After`, and stops at the deadline (cancelling the job when
//!   asked). Every error after a job was created carries its id ([`Error::job_id`]).
//! - Downloads never carry the API key or provider keys; uploads are hashed for
//!   deduplication and streamed.
#![deny(missing_docs)]

mod client;
mod files;
pub mod transport;
mod wait;

pub use client::{Client, ClientBuilder};
pub use files::DownloadProgress;
pub use wait::JobEvents;

/// The sans-IO protocol engine this client drives, re-exported.
pub use varg_core;
/// The data types of the API (requests, jobs, models, ...), re-exported from `varg-types`.
pub use varg_types as types;

pub use varg_core::config::{ProviderKeys, RequestOptions};
pub use varg_core::error::ApiError;
pub use varg_core::notice::{Notice, NoticeHook, RetryReason};
pub use varg_core::ops::{JsonOperation, ResponseMeta};
pub use varg_core::transport::{RequestTimeouts, Transport, TransportError, TransportErrorKind};
pub use varg_core::wait_options::{StatusCallback, WaitOptions};
pub use varg_core::{ApiKey, CacheMode, Config, Error, Provider, RetryPolicy, WaitPolicy};

pub use varg_types::{
    AspectRatio, Balance, FfmpegRequest, FileRef, FileUploadResponse, ImageRequest, Job, JobId,
    JobStatus, Me, MusicRequest, ProbeRequest, ProbeResponse, ResizeRequest, SliceRequest,
    SpeechRequest, TranscriptionRequest, TrimRequest, UsageQuery, UsageResponse, VideoRequest,
    VoicesResponse, models,
};
