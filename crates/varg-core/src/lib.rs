//! The sans-IO protocol engine of the varg SDK.
//!
//! This crate knows how to talk to the varg gateway but never talks to it: it builds
//! [`http::Request`]s, decodes [`http::Response`]s, decides retries, parses server-sent
//! events and drives the job waiter, while the client crates (`varg-async`,
//! `varg-blocking`) perform the IO through a [`transport::Transport`] or
//! [`transport::AsyncTransport`]. It opens no sockets, starts no runtime, never sleeps and
//! never reads the clock: time is always passed in.
#![deny(missing_docs)]

pub mod config;
pub mod error;
pub mod hash;
pub mod notice;
pub mod ops;
pub mod retry;
pub mod secret;
pub mod sse;
pub mod transport;
pub mod wait;
pub mod wait_options;

pub use config::{CacheMode, Config, ConfigBuilder, Provider, ProviderKeys, RequestOptions};
pub use error::{ApiError, Error};
pub use notice::{Notice, NoticeHook, RetryReason};
pub use ops::ResponseMeta;
pub use retry::{Decision, RetryPolicy, RetryRun};
pub use secret::ApiKey;
pub use transport::{AsyncTransport, Transport};
pub use wait::{Action, Input, WaitPolicy, Waiter};
pub use wait_options::{StatusCallback, WaitOptions};
