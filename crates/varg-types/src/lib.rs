//! # varg-types
//!
//! The contract of the [varg gateway](https://api.varg.ai/v1) as plain Rust data: every request
//! body, every response, the job and its statuses, the error body, the model catalogue and the
//! table of the 18 v1 endpoints. No IO, no HTTP client, no runtime: the same types serve the
//! clients (`varg-async`, `varg-blocking`), the local emulator, and servers of your own.
//!
//! Everything lives in [`v1`] (re-exported at the crate root); a future v2 surface gets a module
//! of its own beside it.
//!
//! ## Principles
//! - **Liberal in what it decodes.** Every enum the server sends is *open* (an `Unknown(String)`
//!   variant keeps values this version does not know), unknown JSON fields are ignored or kept
//!   in an `extra` map, and fields the documentation marks required but examples omit are
//!   `Option`.
//! - **Exact in what it sends.** Request bodies carry only documented fields; `None` is omitted.
//! - **Validation is explicit.** Decoding never checks business rules; call
//!   [`Validate::validate`] on a request to check the documented rules before sending.
//!
//! ## Example
//! ```
//! use varg_types::{ImageRequest, AspectRatio, Job, JobStatus, Validate, models};
//!
//! let request = ImageRequest::new(models::image::FLUX_PRO, "a lighthouse at dusk")
//!     .aspect_ratio(AspectRatio::LANDSCAPE_16_9);
//! request.validate().expect("valid request");
//! let body = serde_json::to_value(&request).unwrap();
//! assert_eq!(body["model"], "flux-pro");
//! assert!(body.get("files").is_none(), "None fields are omitted");
//!
//! let job: Job = serde_json::from_str(
//!     r#"{"job_id":"job_1","status":"rendering","model":"fal:flux-pro","created_at":"2026-02-13T10:00:00Z"}"#,
//! ).unwrap();
//! assert_eq!(job.status, JobStatus::Unknown("rendering".into()));
//! assert!(!job.status.is_terminal());
//! ```
//!
//! ## Features
//! - `schema`: derives [`schemars::JsonSchema`](https://docs.rs/schemars) for every public type,
//!   so other languages can generate code from the schemas (see `schemas/` in the repository).
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[macro_use]
mod macros;
mod serde_util;

pub mod v1;

pub use v1::*;
