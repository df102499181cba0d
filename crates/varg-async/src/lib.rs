//! # varg-async
//!
//! The async client of the [varg gateway](https://api.varg.ai/v1), on tokio and reqwest
//! (rustls with the `ring` provider, HTTP/2, streaming bodies).
//!
//! - Every v1 endpoint is a method of [`Client`] with typed inputs and outputs; inputs are
//!   validated before anything is sent.
//! - Jobs are awaited with [`Client::wait`], [`Client::wait_for`], [`Client::events`] and the
//!   `generate_*` helpers, which prefer the server-sent-event stream, reconnect when it is cut
//!   and fall back to polling when it is unavailable. Every error after a job was created
//!   carries the job's id ([`Error::job_id`]), so a job is never lost.
//! - Uploads stream from a path, bytes or any [`tokio::io::AsyncRead`]; downloads stream a
//!   job's output to any [`tokio::io::AsyncWrite`] in constant memory and never send the API
//!   key.
//! - The total timeout (default 120 s) bounds a whole call, every retry and every backoff
//!   or `Retry-After` sleep included; [`ClientBuilder::on_notice`] hears about each of those
//!   waits before it starts ([`Notice`]).
//!
//! All protocol decisions (request building, decoding, retries, the waiter state machine,
//! server-sent-event decoding) live in [`varg_core`]; this crate performs the IO and drives
//! those machines with short loops. [`varg-blocking`](https://docs.rs/varg-blocking) offers
//! the same surface without tokio.
//!
//! ## Example
//!
//! ```no_run
//! use varg_async::{Client, ImageRequest, WaitOptions, models};
//!
//! # async fn demo() -> Result<(), varg_async::Error> {
//! // Reads VARG_API_KEY (or ~/.varg/credentials) and VARG_BASE_URL.
//! let client = Client::new()?;
//! let request = ImageRequest::new(models::image::FLUX_PRO, "a lighthouse at dusk");
//! let job = client
//!     .generate_image(&request, WaitOptions::new().on_status(|job| println!("{}", job.status)))
//!     .await?;
//! let bytes = client.download_to_path(&job, "lighthouse.png").await?;
//! println!("saved {bytes} bytes from job {}", job.job_id);
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod client;
mod files;
pub mod transport;
mod wait;

pub use client::{Client, ClientBuilder};
pub use files::DownloadProgress;

pub use varg_core;
pub use varg_types as types;

pub use varg_core::config::{CacheMode, Config, Provider, ProviderKeys, RequestOptions};
pub use varg_core::error::{ApiError, Error};
pub use varg_core::notice::{Notice, NoticeHook, RetryReason};
pub use varg_core::ops::{JsonOperation, ResponseMeta};
pub use varg_core::retry::RetryPolicy;
pub use varg_core::secret::ApiKey;
pub use varg_core::transport::{
    AsyncTransport, RequestTimeouts, TransportError, TransportErrorKind,
};
pub use varg_core::wait::WaitPolicy;
pub use varg_core::wait_options::{StatusCallback, WaitOptions};

pub use varg_types::{
    AspectRatio, Balance, FfmpegRequest, FileRef, FileUploadResponse, ImageRequest, Job, JobId,
    JobStatus, Me, MusicRequest, ProbeRequest, ProbeResponse, ResizeRequest, SliceRequest,
    SpeechRequest, TranscriptionRequest, TrimRequest, UsageQuery, UsageResponse, VideoRequest,
    VoicesResponse, models,
};

/// The repository README's code blocks, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
