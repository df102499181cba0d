//! # varg-emulator
//!
//! A local varg gateway: a real HTTP server on loopback that speaks the v1 contract of
//! [`varg_types`], so clients, the CLI and CI can be tested offline at no cost.
//!
//! - All 18 endpoints of [`varg_types::ENDPOINTS`] under `/v1`, with the documented status
//!   codes and JSON shapes (202 job creation, 200 reads, 204 cancel, 400 `ValidationError`
//!   with `field`, 401 `AuthError`, 402 `InsufficientBalanceError`, 404 `NotFoundError`, 413
//!   over 50 MB, 429 `RateLimitError` with `Retry-After`).
//! - A job lifecycle `queued -> processing -> completed` with short default durations, a
//!   global time scale and per-request control through `provider_options.emulator`:
//!   `{"duration_ms": 50, "queued_ms": 10, "fail": "message", "provider": "fal",
//!   "hold": true, "output_bytes": 1048576}`.
//! - SSE on `/v1/jobs/{job_id}/stream` with keepalives and a maximum connection time.
//! - Caching with `X-Cache`, `X-Cache-Key`, `X-Cache-TTL` and `Cache-Control` handling.
//! - Uploads streamed to a temporary directory, SHA-256, deduplication by `X-Content-Hash`.
//! - Outputs served without authentication under `/o/...` (uploads under `/u/...`): real PNG
//!   (labelled with prompt, model and job id), MP3, WAV, MP4 and JSON placeholders (see
//!   [`media`]), or streamed bodies of any size.
//! - Models checked against the catalogue of [`varg_types::model`] as the gateway does (400
//!   `ValidationError`, `field: "model"`, with a suggestion), unless
//!   [`EmulatorBuilder::accept_any_model`].
//! - Fault injection, scripted per route or random from the seed (see [`Fault`]).
//! - Optional persistence in a state directory shared by several processes
//!   ([`EmulatorBuilder::state_dir`], below).
//! - Every setting as a command-line flag: [`cli::EmulatorArgs`].
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use varg_emulator::Emulator;
//!
//! let emulator = Emulator::builder().time_scale(0.05).start().await?;
//! let base_url = emulator.base_url(); // http://127.0.0.1:PORT/v1
//! // ... point a client at base_url with any key starting with `varg_` ...
//! assert_eq!(emulator.jobs_created(), 0);
//! emulator.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! From synchronous code (no runtime of your own), use [`EmulatorBuilder::start_blocking`].
//!
//! ## State directory
//!
//! With [`EmulatorBuilder::state_dir`], jobs, outputs, uploads, the cache and the balance
//! live in a directory and survive the process; several emulators may use it at once.
//!
//! ```text
//! <state_dir>/
//!   jobs/<job_id>.json      one job: its wire form, schedule, outputs, charge and usage
//!   cache/<sha256>.json     one cache entry (the completed job and when it was stored)
//!   files/<file_id>.bin     the bytes of an upload
//!   files/<file_id>.json    its id, SHA-256, size and media type
//!   files/by-hash/<sha256>  the file id stored under that content hash
//!   account.json            {"balance_cents": N}
//! ```
//!
//! Each file is written to a temporary name and renamed into place, so readers never see
//! half a file, and each job, cache entry and upload has its own file, so processes never
//! clobber each other's; an id not in memory is read from the directory. The balance is
//! read-modify-written (best-effort across processes, never corrupt). A job in flight when
//! its process ended finishes on its schedule (creation time plus durations) when a later
//! process reads it. URLs are stored relative and served with the current origin, as the
//! port changes every run. Only a SHA-256 of the API key is stored.
#![deny(missing_docs)]

pub mod cli;
mod config;
mod font;
pub mod media;
mod server;
mod state;
mod store;
mod time;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

pub use config::{Durations, EmulatorBuilder, Fault, RandomFaults, SseMode};
pub use state::RequestRecord;

/// Route names used by fault injection and by the statistics: the `operationId` of each
/// endpoint in [`varg_types::ENDPOINTS`] (`createImage`, `getJob`, `streamJob`, ...) plus the
/// two download routes below.
pub mod routes {
    /// `GET /o/...`: job outputs.
    pub const DOWNLOAD_OUTPUT: &str = "downloadOutput";
    /// `GET /u/...`: uploaded files.
    pub const DOWNLOAD_FILE: &str = "downloadFile";
}

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// Entry point: `Emulator::builder()`.
#[derive(Debug, Clone, Copy)]
pub struct Emulator;

impl Emulator {
    /// A builder with defaults suited to tests.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }
}

impl EmulatorBuilder {
    /// Binds the listener and starts serving on the current tokio runtime.
    pub async fn start(self) -> std::io::Result<EmulatorHandle> {
        let listener = TcpListener::bind(self.config.addr).await?;
        let addr = listener.local_addr()?;
        let origin = format!("http://{}", connectable(addr));
        let shared = state::Shared::new(self.config, origin.clone())?;
        let app = server::router(shared.clone());
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, app, stop_rx));
        Ok(EmulatorHandle {
            addr,
            origin,
            shared,
            stop: stop_tx,
            task: Some(task),
        })
    }

    /// Starts the emulator on a runtime of its own (two worker threads), for synchronous
    /// code and tests that must not use tokio themselves. The server stops when the
    /// returned [`BlockingEmulator`] is dropped.
    ///
    /// ```
    /// let emulator = varg_emulator::Emulator::builder().start_blocking().unwrap();
    /// assert!(emulator.base_url().starts_with("http://127.0.0.1:"));
    /// assert!(emulator.base_url().ends_with("/v1"));
    /// ```
    pub fn start_blocking(self) -> std::io::Result<BlockingEmulator> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("varg-emulator")
            .enable_all()
            .build()?;
        let handle = runtime.block_on(self.start())?;
        Ok(BlockingEmulator {
            handle: Some(handle),
            runtime: Some(runtime),
        })
    }
}

/// The address a client can connect to: a wildcard bind (`0.0.0.0`, `[::]`) is reached
/// through the loopback address of its family, on the real port.
fn connectable(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        std::net::IpAddr::V4(v4) if v4.is_unspecified() => {
            std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)
        }
        std::net::IpAddr::V6(v6) if v6.is_unspecified() => {
            std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)
        }
        other => other,
    };
    SocketAddr::new(ip, addr.port())
}

async fn accept_loop(listener: TcpListener, app: axum::Router, mut stop: watch::Receiver<bool>) {
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let app = app.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let kill = Arc::new(Notify::new());
            let conn_kill = kill.clone();
            let service =
                tower::service_fn(move |mut req: axum::http::Request<hyper::body::Incoming>| {
                    req.extensions_mut()
                        .insert(server::ConnKill(conn_kill.clone()));
                    let mut app = app.clone();
                    async move { tower::Service::call(&mut app, req).await }
                });
            let service = hyper_util::service::TowerToHyperService::new(service);
            let builder =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            let conn = builder
                .serve_connection_with_upgrades(hyper_util::rt::TokioIo::new(stream), service);
            tokio::select! {
                result = conn => {
                    if let Err(e) = result {
                        tracing::debug!("connection ended: {e}");
                    }
                }
                _ = kill.notified() => {}
                _ = stop.changed() => {}
            }
        });
    }
}

/// A running emulator (async). Dropping it stops the server too; [`EmulatorHandle::shutdown`]
/// also waits for the accept loop to end.
pub struct EmulatorHandle {
    addr: SocketAddr,
    origin: String,
    shared: Arc<state::Shared>,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for EmulatorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorHandle")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl EmulatorHandle {
    /// The API base URL, `http://127.0.0.1:PORT/v1`. When bound to a wildcard address
    /// (`0.0.0.0`, `[::]`), the host is the loopback address of that family (`127.0.0.1`,
    /// `[::1]`), so the URL is always one a client can connect to.
    pub fn base_url(&self) -> String {
        format!("{}/v1", self.origin)
    }

    /// The origin, `http://127.0.0.1:PORT` (outputs are under `/o/`, uploads under `/u/`).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Number of jobs created (cache hits included).
    pub fn jobs_created(&self) -> u64 {
        self.shared.lock().stats.jobs_created
    }

    /// Number of job creations answered from the cache.
    pub fn cache_hits(&self) -> u64 {
        self.shared.lock().stats.cache_hits
    }

    /// Number of successful uploads (deduplicated ones included).
    pub fn uploads(&self) -> u64 {
        self.shared.lock().stats.uploads
    }

    /// Requests received by route name (see [`routes`]).
    pub fn requests_per_route(&self) -> BTreeMap<String, u64> {
        self.shared.lock().stats.per_route.clone()
    }

    /// Requests received by one route.
    pub fn requests_to(&self, route: &str) -> u64 {
        self.shared
            .lock()
            .stats
            .per_route
            .get(route)
            .copied()
            .unwrap_or(0)
    }

    /// Every request received so far, with its headers, in order.
    pub fn request_log(&self) -> Vec<RequestRecord> {
        self.shared.lock().stats.log.clone()
    }

    /// Requests received by one route, with their headers, in order.
    pub fn requests_for(&self, route: &str) -> Vec<RequestRecord> {
        self.shared
            .lock()
            .stats
            .log
            .iter()
            .filter(|r| r.route == route)
            .cloned()
            .collect()
    }

    /// The current state of a job, as `GET /jobs/{job_id}` would answer.
    pub fn job(&self, job_id: &str) -> Option<varg_types::Job> {
        let mut inner = self.shared.lock();
        if !self.shared.ensure_job(&mut inner, job_id) {
            return None;
        }
        inner.jobs.get(job_id).map(|r| r.data.job.clone())
    }

    /// The current balance in cents.
    pub fn balance_cents(&self) -> i64 {
        let mut inner = self.shared.lock();
        self.shared.balance(&mut inner)
    }

    /// Sets the balance in cents.
    pub fn set_balance_cents(&self, cents: i64) {
        let mut inner = self.shared.lock();
        self.shared.set_balance(&mut inner, cents);
    }

    /// Queues a fault for the next request to `route` (see [`routes`]).
    pub fn push_fault(&self, route: &str, fault: Fault) {
        self.shared
            .lock()
            .scripted
            .entry(route.to_owned())
            .or_default()
            .push_back(fault);
    }

    /// Removes every queued fault.
    pub fn clear_faults(&self) {
        self.shared.lock().scripted.clear();
    }

    /// Changes what the SSE route does.
    pub fn set_sse_mode(&self, mode: SseMode) {
        self.shared.lock().sse_mode = mode;
    }

    /// Stops accepting connections, closes the open ones and waits for the accept loop.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        // Jobs stop where they are, as when a process ends: with a state directory, the
        // next emulator on it finishes them on their schedule.
        let mut inner = self.shared.lock();
        for record in inner.jobs.values_mut() {
            if let Some(abort) = record.abort.take() {
                abort.abort();
            }
        }
    }
}

/// A running emulator on its own runtime, from [`EmulatorBuilder::start_blocking`].
/// It dereferences to [`EmulatorHandle`] for the URLs and the statistics. Do not drop it
/// inside an async context.
pub struct BlockingEmulator {
    handle: Option<EmulatorHandle>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for BlockingEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingEmulator")
            .field("handle", &self.handle)
            .finish_non_exhaustive()
    }
}

impl std::ops::Deref for BlockingEmulator {
    type Target = EmulatorHandle;
    fn deref(&self) -> &EmulatorHandle {
        // Present from construction until drop.
        self.handle
            .as_ref()
            .unwrap_or_else(|| unreachable!("handle taken before drop"))
    }
}

impl BlockingEmulator {
    /// Stops the server and its runtime.
    pub fn shutdown(self) {}
}

impl Drop for BlockingEmulator {
    fn drop(&mut self) {
        if let (Some(handle), Some(runtime)) = (self.handle.take(), self.runtime.take()) {
            runtime.block_on(handle.shutdown());
            runtime.shutdown_background();
        }
    }
}
