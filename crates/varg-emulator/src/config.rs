//! Configuration of the emulator: the builder and the fault-injection types.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

/// A fault the emulator can inject instead of (or before) the normal answer of a route.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer with this status (500, 502, 503, ...) and a JSON error body
    /// (`InternalError`, `ProviderError`, `ServiceUnavailable`).
    Status(u16),
    /// Answer 429 `RateLimitError` with `Retry-After: <secs>`.
    RateLimited {
        /// Seconds in the `Retry-After` header.
        retry_after_secs: u64,
    },
    /// Close the connection before any response byte is written.
    Reset,
    /// Do the work (create the job, store the upload, ...), then close the connection
    /// before any response byte is written: the answer is lost after the server acted. A
    /// client must not repeat a job-creating request on this, or it pays twice.
    ResetAfterWork,
    /// Wait this long, then answer normally.
    Delay(Duration),
    /// For `GET /jobs/{id}/stream`: close the stream after this many `status` events, even if
    /// the job is not finished. Other routes answer normally.
    CutStreamAfter(usize),
    /// Answer 200 with `Content-Type: application/json` and a body that is not JSON.
    MalformedJson,
    /// Answer 200 with `Content-Type: application/json` and a JSON body cut in the middle.
    TruncatedJson,
    /// Answer with this status and an HTML error page (as a proxy or CDN would).
    Html(u16),
}

/// Faults drawn at random (from the seeded generator) for a share of requests.
#[derive(Debug, Clone, PartialEq)]
pub struct RandomFaults {
    /// Probability in `0.0..=1.0` that a request gets a fault.
    pub probability: f64,
    /// The faults to choose from (uniformly).
    pub faults: Vec<Fault>,
    /// Route names the faults apply to (see [`crate::routes`]); empty means every route.
    pub routes: Vec<String>,
}

/// What `GET /jobs/{id}/stream` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SseMode {
    /// Streams job updates (the default).
    #[default]
    Enabled,
    /// Answers 404 `NotFoundError`, as if the route did not exist.
    NotFound,
    /// Answers 503.
    Unavailable,
}

/// Default job durations per capability (before the time scale is applied).
#[derive(Debug, Clone, PartialEq)]
pub struct Durations {
    /// `POST /image`.
    pub image: Duration,
    /// `POST /video`.
    pub video: Duration,
    /// `POST /speech`.
    pub speech: Duration,
    /// `POST /music`.
    pub music: Duration,
    /// `POST /transcription`.
    pub transcription: Duration,
    /// `/ffmpeg*` jobs.
    pub media: Duration,
}

impl Default for Durations {
    fn default() -> Self {
        Self {
            image: Duration::from_millis(400),
            video: Duration::from_millis(1500),
            speech: Duration::from_millis(400),
            music: Duration::from_millis(800),
            transcription: Duration::from_millis(400),
            media: Duration::from_millis(500),
        }
    }
}

/// Everything the emulator can be told; built with [`crate::Emulator::builder`].
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) addr: SocketAddr,
    pub(crate) seed: u64,
    pub(crate) api_key: Option<String>,
    pub(crate) balance_cents: i64,
    pub(crate) prices: BTreeMap<String, i64>,
    pub(crate) requests_per_minute: Option<u32>,
    pub(crate) concurrent_jobs: Option<u32>,
    pub(crate) time_scale: f64,
    pub(crate) durations: Durations,
    pub(crate) keepalive: Duration,
    pub(crate) max_stream: Duration,
    pub(crate) cache_ttl: Duration,
    pub(crate) sse_mode: SseMode,
    pub(crate) output_size: Option<u64>,
    pub(crate) max_upload_bytes: u64,
    pub(crate) random_faults: Option<RandomFaults>,
    pub(crate) scripted: Vec<(String, Fault)>,
    pub(crate) long_side: u32,
    pub(crate) accept_any_model: bool,
    pub(crate) state_dir: Option<std::path::PathBuf>,
    pub(crate) balance_explicit: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed: 0,
            api_key: None,
            balance_cents: 100_000,
            prices: BTreeMap::new(),
            requests_per_minute: None,
            concurrent_jobs: None,
            time_scale: 1.0,
            durations: Durations::default(),
            keepalive: Duration::from_secs(15),
            max_stream: Duration::from_secs(600),
            cache_ttl: Duration::from_secs(2_592_000),
            sse_mode: SseMode::Enabled,
            output_size: None,
            max_upload_bytes: varg_types::MAX_UPLOAD_BYTES,
            random_faults: None,
            scripted: Vec::new(),
            long_side: 1024,
            accept_any_model: false,
            state_dir: None,
            balance_explicit: false,
        }
    }
}

impl Config {
    pub(crate) fn scaled(&self, d: Duration) -> Duration {
        let scale = if self.time_scale.is_finite() && self.time_scale >= 0.0 {
            self.time_scale
        } else {
            1.0
        };
        d.mul_f64(scale)
    }
}

/// Builds and starts an emulator. Every setting has a default suited to tests.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use std::time::Duration;
/// use varg_emulator::{Emulator, Fault};
///
/// let emulator = Emulator::builder()
///     .seed(7)
///     .time_scale(0.1)
///     .balance_cents(500)
///     .keepalive(Duration::from_millis(200))
///     .fault("createImage", Fault::Status(503))
///     .start()
///     .await?;
/// println!("{}", emulator.base_url());
/// emulator.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct EmulatorBuilder {
    pub(crate) config: Config,
}

impl EmulatorBuilder {
    /// Address to listen on (default `127.0.0.1:0`, a free port).
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.config.addr = addr;
        self
    }

    /// Seed of the random generator used for random faults (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = seed;
        self
    }

    /// Accept exactly this API key. Without it, any bearer key starting with `varg_` is
    /// accepted.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.config.api_key = Some(key.into());
        self
    }

    /// Starting balance in cents (default 100 000).
    pub fn balance_cents(mut self, cents: i64) -> Self {
        self.config.balance_cents = cents;
        self.config.balance_explicit = true;
        self
    }

    /// Price in cents of one job of `model` (overrides the catalogue and the defaults).
    /// Use the names `ffmpeg`, `ffmpeg/trim`, `ffmpeg/resize`, `ffmpeg/slice` for media jobs.
    pub fn price(mut self, model: impl Into<String>, cents: i64) -> Self {
        self.config.prices.insert(model.into(), cents);
        self
    }

    /// Requests per minute per API key before 429 (default: unlimited).
    pub fn requests_per_minute(mut self, limit: u32) -> Self {
        self.config.requests_per_minute = Some(limit);
        self
    }

    /// Queued or processing jobs per API key before job creation gets 429 (default:
    /// unlimited).
    pub fn concurrent_jobs(mut self, limit: u32) -> Self {
        self.config.concurrent_jobs = Some(limit);
        self
    }

    /// Multiplies every job duration (default 1.0; 0.0 makes jobs finish at once).
    pub fn time_scale(mut self, scale: f64) -> Self {
        self.config.time_scale = scale;
        self
    }

    /// Default job durations per capability.
    pub fn durations(mut self, durations: Durations) -> Self {
        self.config.durations = durations;
        self
    }

    /// Interval of SSE keepalive comments (default 15 s).
    pub fn keepalive(mut self, interval: Duration) -> Self {
        self.config.keepalive = interval;
        self
    }

    /// Longest time an SSE connection stays open (default 10 min).
    pub fn max_stream_time(mut self, max: Duration) -> Self {
        self.config.max_stream = max;
        self
    }

    /// Cache lifetime reported in `X-Cache-TTL` and enforced (default 30 days).
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.config.cache_ttl = ttl;
        self
    }

    /// What the SSE route does (default: streams).
    pub fn sse_mode(mut self, mode: SseMode) -> Self {
        self.config.sse_mode = mode;
        self
    }

    /// Every job output becomes a streamed body of exactly `bytes` bytes (for download
    /// benchmarks). Per request: `provider_options.emulator.output_bytes`.
    pub fn output_size(mut self, bytes: u64) -> Self {
        self.config.output_size = Some(bytes);
        self
    }

    /// Largest upload accepted before 413 (default 50 MB).
    pub fn max_upload_bytes(mut self, bytes: u64) -> Self {
        self.config.max_upload_bytes = bytes;
        self
    }

    /// Long side in pixels of generated images (default 1024).
    pub fn image_long_side(mut self, pixels: u32) -> Self {
        self.config.long_side = pixels.clamp(1, 8192);
        self
    }

    /// Inject faults at random, deterministically from the seed.
    pub fn random_faults(mut self, faults: RandomFaults) -> Self {
        self.config.random_faults = Some(faults);
        self
    }

    /// Queue a fault for the next request to `route` (see [`crate::routes`]). Faults queued
    /// for one route are used in order, one per request.
    pub fn fault(mut self, route: impl Into<String>, fault: Fault) -> Self {
        self.config.scripted.push((route.into(), fault));
        self
    }

    /// Accept any model id on the generation endpoints (default `false`: a model that is not
    /// in the catalogue of [`varg_types::model`] for the endpoint's capability gets 400
    /// `ValidationError` with `field: "model"`, as from the gateway). For models newer than
    /// the catalogue.
    pub fn accept_any_model(mut self, accept: bool) -> Self {
        self.config.accept_any_model = accept;
        self
    }

    /// Keep jobs, their outputs, uploads, the cache and the balance in `dir` (created if
    /// missing), so that they survive the process and are shared by every emulator started
    /// on the same directory, even at the same time (see the crate documentation for the
    /// layout). A job in flight when its process ended finishes on its schedule when a
    /// later process reads it. A stored balance carries over unless
    /// [`EmulatorBuilder::balance_cents`] is set too. Without it (the default) everything
    /// stays in memory and uploads go to a temporary directory.
    pub fn state_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.config.state_dir = Some(dir.into());
        self
    }
}
