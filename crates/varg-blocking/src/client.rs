//! The blocking [`Client`] and its [`ClientBuilder`].

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use serde::de::DeserializeOwned;
use varg_core::config::{self as core_config, RequestOptions};
use varg_core::error::Error;
use varg_core::notice::{Notice, NoticeHook};
use varg_core::ops::{self, ExchangeKind, JsonOperation, MAX_JSON_BODY_BYTES, ResponseMeta};
use varg_core::retry::{
    Decision, Idempotency, Outcome, RandJitter, RetryPolicy, RetryRun, StopReason,
};
use varg_core::transport::{Body, RequestTimeouts, ResponseBody, Transport, TransportError};
use varg_core::{ApiKey, CacheMode, Config, Provider, WaitPolicy};
use varg_types::endpoint::ops as vops;
use varg_types::{
    Balance, FfmpegRequest, ImageRequest, Job, JobId, Me, MusicRequest, ProbeRequest,
    ProbeResponse, ResizeRequest, SliceRequest, SpeechRequest, TranscriptionRequest, TrimRequest,
    UsageQuery, UsageResponse, VideoRequest, VoicesResponse,
};

use crate::transport::{UreqTransport, classify_io};

/// How many bytes of an error response body are read to decode it (64 KiB).
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// The blocking varg client. Cheap to clone: clones share the configuration and the
/// connection pool.
///
/// Every method blocks the calling thread; none starts or needs an async runtime, so the
/// client may be used from any thread, including a tokio `spawn_blocking` task.
#[derive(Clone)]
pub struct Client {
    pub(crate) config: Arc<Config>,
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) notice: Option<NoticeHook>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A request ready to be sent, kept so that it can be sent again on retry.
pub(crate) struct Prepared {
    method: http::Method,
    uri: http::Uri,
    headers: http::HeaderMap,
    timeouts: Option<RequestTimeouts>,
}

impl Prepared {
    pub(crate) fn new<B>(request: &http::Request<B>) -> Self {
        Self {
            method: request.method().clone(),
            uri: request.uri().clone(),
            headers: request.headers().clone(),
            timeouts: request.extensions().get::<RequestTimeouts>().copied(),
        }
    }

    pub(crate) fn with_body(&self, body: Body) -> http::Request<Body> {
        let mut request = http::Request::new(body);
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = self.headers.clone();
        if let Some(t) = self.timeouts {
            request.extensions_mut().insert(t);
        }
        request
    }
}

/// Turns an error reading a response body into an [`Error::Transport`].
pub(crate) fn body_error(e: std::io::Error) -> Error {
    Error::from(TransportError::with_source(classify_io(&e), e))
}

/// Reads at most `limit` bytes of a body, for error answers (a failure to read gives what
/// was read so far: the status alone still makes a useful error).
fn error_body(body: ResponseBody) -> Bytes {
    use std::io::Read;
    let mut buf = Vec::new();
    let _ = body.take(ERROR_BODY_LIMIT as u64).read_to_end(&mut buf);
    buf.into()
}

/// The error for a non-2xx response (its body is read, capped).
pub(crate) fn response_error(response: http::Response<ResponseBody>) -> Error {
    let (parts, body) = response.into_parts();
    ops::api_error(
        parts.status,
        &parts.headers,
        &error_body(body),
        SystemTime::now(),
    )
}

impl Client {
    /// A client configured from the environment: the key from `VARG_API_KEY`, else
    /// `~/.varg/credentials` (`{"api_key": "varg_..."}`), and the base URL from
    /// `VARG_BASE_URL`, else the default gateway. The same as `Client::builder().build()`.
    pub fn new() -> Result<Client, Error> {
        Client::builder().build()
    }

    /// A builder for a client configured in code.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// A client sharing this one's connections whose requests use the overrides of
    /// `options` (cache mode, timeouts, retry and wait policies, BYOK keys).
    pub fn with_options(&self, options: RequestOptions) -> Client {
        Client {
            config: Arc::new(self.config.with_options(&options)),
            transport: self.transport.clone(),
            notice: self.notice.clone(),
        }
    }

    /// Hands `notice` to the caller's hook, if one is set.
    pub(crate) fn notify(&self, notice: Notice) {
        tracing::debug!(%notice, "waiting");
        if let Some(hook) = &self.notice {
            hook(&notice);
        }
    }

    /// Sends one request once, inside a tracing span.
    pub(crate) fn send_once(
        &self,
        request: http::Request<Body>,
        route: &'static str,
        job_id: Option<&JobId>,
        attempt: u32,
    ) -> Result<http::Response<ResponseBody>, Error> {
        let span = tracing::debug_span!(
            "varg.request",
            method = %request.method(),
            route,
            job_id = job_id.map(JobId::as_str),
            attempt,
        );
        let _entered = span.enter();
        let result = self.transport.send(request);
        match &result {
            Ok(response) => tracing::debug!(status = response.status().as_u16(), "response"),
            Err(e) => tracing::debug!(kind = %e.kind, "transport error"),
        }
        result.map_err(|e| attach(Error::from(e), job_id))
    }

    /// Sends a request, retrying as the configured [`RetryPolicy`] decides within the call's
    /// time budget (`kind` picks it: see [`Config::call_budget`]), and returns the first 2xx
    /// response (its body unread) or the final error. `make` builds each attempt; it
    /// answers `None` when the body cannot be sent again (a caller's reader), which ends
    /// the retries with the last error.
    pub(crate) fn send_with_retry(
        &self,
        route: &'static str,
        idempotency: Idempotency,
        kind: ExchangeKind,
        job_id: Option<&JobId>,
        make: &mut dyn FnMut() -> Result<Option<http::Request<Body>>, Error>,
    ) -> Result<http::Response<ResponseBody>, Error> {
        let policy: &RetryPolicy = self.config.retry();
        let mut run = RetryRun::new(policy.clone(), idempotency, self.config.call_budget(kind))
            .for_job(job_id);
        let start = Instant::now();
        let mut last: Option<Error> = None;
        loop {
            let Some(mut request) = make()? else {
                return Err(last.unwrap_or_else(|| {
                    Error::invalid_config("the request body could not be prepared")
                }));
            };
            let base = request
                .extensions()
                .get::<RequestTimeouts>()
                .copied()
                .unwrap_or_default();
            let Some(timeouts) = run.begin(base, start.elapsed()) else {
                return Err(last.unwrap_or(Error::Timeout {
                    job_id: job_id.cloned(),
                }));
            };
            request.extensions_mut().insert(timeouts);
            let (outcome, error) = match self.send_once(request, route, job_id, run.attempts()) {
                Ok(response) if response.status().is_success() => return Ok(response),
                Ok(response) => {
                    let outcome = Outcome::from_response(
                        response.status(),
                        response.headers(),
                        SystemTime::now(),
                    );
                    (outcome, attach(response_error(response), job_id))
                }
                Err(error) => {
                    let kind = match &error {
                        Error::Transport { kind, .. } => *kind,
                        _ => return Err(error),
                    };
                    (Outcome::Transport(kind), error)
                }
            };
            match run.failed(&outcome, start.elapsed(), &mut RandJitter) {
                Decision::Retry { after } => {
                    if let Some(notice) = run.take_notice() {
                        self.notify(notice);
                    }
                    std::thread::sleep(after);
                    last = Some(error);
                }
                Decision::Stop(StopReason::RetryAfterTooLong(retry_after)) => {
                    // `error` already carries the job id, which the conversion keeps.
                    return Err(error.into_rate_limited(retry_after));
                }
                Decision::Stop(_) => return Err(error),
            }
        }
    }

    /// Sends a request with an in-memory body (with retries) and decodes the JSON answer.
    pub(crate) fn call<T: DeserializeOwned>(
        &self,
        request: http::Request<Bytes>,
        route: &'static str,
        idempotency: Idempotency,
        job_id: Option<&JobId>,
        empty: bool,
    ) -> Result<(T, ResponseMeta), Error> {
        let prepared = Prepared::new(&request);
        let body = request.into_body();
        let mut make = || {
            Ok(Some(prepared.with_body(if body.is_empty() {
                Body::Empty
            } else {
                Body::Bytes(body.clone())
            })))
        };
        let response =
            self.send_with_retry(route, idempotency, ExchangeKind::Json, job_id, &mut make)?;
        decode_response(response, empty, job_id)
    }

    /// Sends the JSON request of operation `O` (validated first) and decodes its answer
    /// with the response metadata. The generic form of every create / probe method.
    pub fn send<O: JsonOperation>(
        &self,
        request: &O::Request,
    ) -> Result<(O::Response, ResponseMeta), Error> {
        let http_request = ops::json_request::<O>(&self.config, request)?;
        let endpoint = O::endpoint();
        self.call(
            http_request,
            endpoint.path,
            ops::idempotency(endpoint),
            None,
            false,
        )
    }

    /// `POST /image`: starts an image job.
    pub fn create_image(&self, request: &ImageRequest) -> Result<Job, Error> {
        self.create_image_with_meta(request).map(|(job, _)| job)
    }

    /// `POST /image`, with the response metadata (cache hit, key, TTL, request id).
    pub fn create_image_with_meta(
        &self,
        request: &ImageRequest,
    ) -> Result<(Job, ResponseMeta), Error> {
        self.send::<vops::CreateImage>(request)
    }

    /// `POST /video`: starts a video job.
    pub fn create_video(&self, request: &VideoRequest) -> Result<Job, Error> {
        self.create_video_with_meta(request).map(|(job, _)| job)
    }

    /// `POST /video`, with the response metadata.
    pub fn create_video_with_meta(
        &self,
        request: &VideoRequest,
    ) -> Result<(Job, ResponseMeta), Error> {
        self.send::<vops::CreateVideo>(request)
    }

    /// `POST /speech`: starts a text-to-speech job.
    pub fn create_speech(&self, request: &SpeechRequest) -> Result<Job, Error> {
        self.create_speech_with_meta(request).map(|(job, _)| job)
    }

    /// `POST /speech`, with the response metadata.
    pub fn create_speech_with_meta(
        &self,
        request: &SpeechRequest,
    ) -> Result<(Job, ResponseMeta), Error> {
        self.send::<vops::CreateSpeech>(request)
    }

    /// `POST /music`: starts a music job.
    pub fn create_music(&self, request: &MusicRequest) -> Result<Job, Error> {
        self.create_music_with_meta(request).map(|(job, _)| job)
    }

    /// `POST /music`, with the response metadata.
    pub fn create_music_with_meta(
        &self,
        request: &MusicRequest,
    ) -> Result<(Job, ResponseMeta), Error> {
        self.send::<vops::CreateMusic>(request)
    }

    /// `POST /transcription`: starts a transcription job.
    pub fn create_transcription(&self, request: &TranscriptionRequest) -> Result<Job, Error> {
        self.create_transcription_with_meta(request)
            .map(|(job, _)| job)
    }

    /// `POST /transcription`, with the response metadata.
    pub fn create_transcription_with_meta(
        &self,
        request: &TranscriptionRequest,
    ) -> Result<(Job, ResponseMeta), Error> {
        self.send::<vops::CreateTranscription>(request)
    }

    /// `POST /ffmpeg`: starts an ffmpeg command job.
    pub fn ffmpeg(&self, request: &FfmpegRequest) -> Result<Job, Error> {
        self.send::<vops::RunFfmpeg>(request).map(|(job, _)| job)
    }

    /// [`ffmpeg`](Self::ffmpeg) with the response metadata.
    pub fn ffmpeg_with_meta(&self, request: &FfmpegRequest) -> Result<(Job, ResponseMeta), Error> {
        self.send::<vops::RunFfmpeg>(request)
    }

    /// `POST /ffmpeg/trim`: starts a trim job.
    pub fn trim(&self, request: &TrimRequest) -> Result<Job, Error> {
        self.send::<vops::TrimVideo>(request).map(|(job, _)| job)
    }

    /// [`trim`](Self::trim) with the response metadata.
    pub fn trim_with_meta(&self, request: &TrimRequest) -> Result<(Job, ResponseMeta), Error> {
        self.send::<vops::TrimVideo>(request)
    }

    /// `POST /ffmpeg/resize`: starts a resize job.
    pub fn resize(&self, request: &ResizeRequest) -> Result<Job, Error> {
        self.send::<vops::ResizeVideo>(request).map(|(job, _)| job)
    }

    /// [`resize`](Self::resize) with the response metadata.
    pub fn resize_with_meta(&self, request: &ResizeRequest) -> Result<(Job, ResponseMeta), Error> {
        self.send::<vops::ResizeVideo>(request)
    }

    /// `POST /ffmpeg/slice`: starts a slice job.
    pub fn slice(&self, request: &SliceRequest) -> Result<Job, Error> {
        self.send::<vops::SliceVideo>(request).map(|(job, _)| job)
    }

    /// [`slice`](Self::slice) with the response metadata.
    pub fn slice_with_meta(&self, request: &SliceRequest) -> Result<(Job, ResponseMeta), Error> {
        self.send::<vops::SliceVideo>(request)
    }

    /// `POST /ffmpeg/probe`: reads a media file's properties (synchronous, no job).
    pub fn probe(&self, request: &ProbeRequest) -> Result<ProbeResponse, Error> {
        self.send::<vops::ProbeMedia>(request)
            .map(|(probe, _)| probe)
    }

    /// `GET /jobs/{job_id}`: the job's current state.
    pub fn get_job(&self, job_id: impl AsRef<str>) -> Result<Job, Error> {
        let job_id = JobId::new(job_id.as_ref());
        let request = ops::get_job(&self.config, &job_id)?;
        self.call(
            request,
            "/jobs/{job_id}",
            Idempotency::Idempotent,
            Some(&job_id),
            false,
        )
        .map(|(job, _)| job)
    }

    /// `DELETE /jobs/{job_id}`: cancels the job.
    pub fn cancel_job(&self, job_id: impl AsRef<str>) -> Result<(), Error> {
        let job_id = JobId::new(job_id.as_ref());
        let request = ops::cancel_job(&self.config, &job_id)?;
        self.call(
            request,
            "/jobs/{job_id}",
            Idempotency::Idempotent,
            Some(&job_id),
            true,
        )
        .map(|((), _)| ())
    }

    /// `GET /voices`: the available text-to-speech voices.
    pub fn voices(&self) -> Result<VoicesResponse, Error> {
        let request = ops::list_voices(&self.config)?;
        self.call(request, "/voices", Idempotency::Idempotent, None, false)
            .map(|(v, _)| v)
    }

    /// `GET /balance`: the account balance.
    pub fn balance(&self) -> Result<Balance, Error> {
        let request = ops::get_balance(&self.config)?;
        self.call(request, "/balance", Idempotency::Idempotent, None, false)
            .map(|(v, _)| v)
    }

    /// `GET /usage`: usage records in a date range.
    pub fn usage(&self, query: &UsageQuery) -> Result<UsageResponse, Error> {
        let request = ops::get_usage(&self.config, query)?;
        self.call(request, "/usage", Idempotency::Idempotent, None, false)
            .map(|(v, _)| v)
    }

    /// `GET /me`: the account behind the key.
    pub fn me(&self) -> Result<Me, Error> {
        let request = ops::get_me(&self.config)?;
        self.call(request, "/me", Idempotency::Idempotent, None, false)
            .map(|(v, _)| v)
    }
}

/// Attaches `job_id` to an error, if there is one.
pub(crate) fn attach(error: Error, job_id: Option<&JobId>) -> Error {
    match job_id {
        Some(id) => error.with_job_id(id),
        None => error,
    }
}

/// Collects a 2xx response's body (capped) and decodes it.
pub(crate) fn decode_response<T: DeserializeOwned>(
    response: http::Response<ResponseBody>,
    empty: bool,
    job_id: Option<&JobId>,
) -> Result<(T, ResponseMeta), Error> {
    let (parts, body) = response.into_parts();
    let body = body
        .read_to_end_capped(MAX_JSON_BODY_BYTES)
        .map_err(|e| attach(body_error(e), job_id))?;
    let response = http::Response::from_parts(parts, body);
    ops::decode_body::<T>(&response, empty, SystemTime::now()).map_err(|e| attach(e, job_id))
}

/// Builds a [`Client`]. Every setting has a default. The API key is
/// [`api_key`](Self::api_key), else `VARG_API_KEY`, else `~/.varg/credentials`
/// (`{"api_key": "varg_..."}`); the base URL is [`base_url`](Self::base_url), else
/// `VARG_BASE_URL`, else `https://api.varg.ai/v1`.
#[derive(Default)]
#[must_use]
pub struct ClientBuilder {
    api_key: Option<ApiKey>,
    base_url: Option<String>,
    allow_insecure_http: bool,
    connect_timeout: Option<Duration>,
    read_timeout: Option<Duration>,
    total_timeout: Option<Duration>,
    retry: Option<RetryPolicy>,
    wait: Option<WaitPolicy>,
    transfer_timeout: Option<Duration>,
    provider_keys: Vec<(Provider, ApiKey)>,
    cache: Option<CacheMode>,
    user_agent: Option<String>,
    agent: Option<ureq::Agent>,
    transport: Option<Arc<dyn Transport>>,
    notice: Option<NoticeHook>,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("api_key", &self.api_key)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// The API key (`varg_...`). Without it, [`build`](Self::build) takes `VARG_API_KEY`,
    /// else `~/.varg/credentials`.
    pub fn api_key(mut self, key: impl Into<ApiKey>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The gateway's base URL. Without it, [`build`](Self::build) takes `VARG_BASE_URL`,
    /// else `https://api.varg.ai/v1`.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Allows plain `http://` to a host other than loopback (the key then travels
    /// unencrypted).
    pub fn allow_insecure_http(mut self, yes: bool) -> Self {
        self.allow_insecure_http = yes;
        self
    }

    /// The connect timeout (default 10 s).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = Some(d);
        self
    }

    /// The read timeout: the longest silence while waiting for an answer or between two
    /// reads of it (default 30 s).
    pub fn read_timeout(mut self, d: Duration) -> Self {
        self.read_timeout = Some(d);
        self
    }

    /// The longest one JSON call may take as a whole (default 120 s): every attempt, every
    /// backoff and every `Retry-After` sleep together. A `Retry-After` longer than what is
    /// left ends the call at once with [`Error::RateLimited`]. Uploads and downloads are
    /// bounded by [`transfer_timeout`](Self::transfer_timeout); job waits by their deadline.
    pub fn total_timeout(mut self, d: Duration) -> Self {
        self.total_timeout = Some(d);
        self
    }

    /// The longest one upload or download may take as a whole, retries included (default:
    /// no bound but the connect and read timeouts, since a large file may take long).
    pub fn transfer_timeout(mut self, d: Duration) -> Self {
        self.transfer_timeout = Some(d);
        self
    }

    /// Calls `hook` with a [`Notice`] before every wait the client decides on: each retry
    /// sleep (rate limited, a 5xx, a connection error; retry n of m; the delay) and each
    /// change of course of a job wait (stream cut and reopened, polling instead). It runs on
    /// the calling thread just before the wait; keep it short.
    ///
    /// ```
    /// let client = varg_blocking::Client::builder()
    ///     .api_key("varg_test")
    ///     .on_notice(|notice| {
    ///         if notice.delay().as_secs() >= 1 {
    ///             eprintln!("{notice}");
    ///         }
    ///     })
    ///     .build()
    ///     .unwrap();
    /// # drop(client);
    /// ```
    pub fn on_notice(mut self, hook: impl Fn(&Notice) + Send + Sync + 'static) -> Self {
        self.notice = Some(Arc::new(hook));
        self
    }

    /// The retry policy (default: 2 retries, 0.5 s doubling to 8 s, full jitter).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// The job wait policy (deadline, polling intervals, stream use).
    pub fn wait_policy(mut self, policy: WaitPolicy) -> Self {
        self.wait = Some(policy);
        self
    }

    /// Sends `key` as the provider's own key with every job (BYOK).
    pub fn provider_key(mut self, provider: Provider, key: impl Into<ApiKey>) -> Self {
        self.provider_keys.push((provider, key.into()));
        self
    }

    /// The cache mode of generation requests.
    pub fn cache(mut self, mode: CacheMode) -> Self {
        self.cache = Some(mode);
        self
    }

    /// The `User-Agent` header.
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = Some(ua.into());
        self
    }

    /// Sends requests with this ureq agent (proxy, TLS roots, pool size). The SDK's rules
    /// still apply: status codes are not errors, redirects are not followed, connect and
    /// read timeouts are set on every request.
    pub fn http_client(mut self, agent: ureq::Agent) -> Self {
        self.agent = Some(agent);
        self
    }

    /// Sends requests through a custom [`Transport`] (tests, instrumentation).
    pub fn transport(mut self, transport: impl Transport + 'static) -> Self {
        self.transport = Some(Arc::new(transport));
        self
    }

    /// Kept for compatibility: [`build`](Self::build) always fills the key and the base URL
    /// from the environment where they were not set.
    pub fn from_env(self) -> Self {
        self
    }

    /// Validates the configuration and builds the client.
    pub fn build(self) -> Result<Client, Error> {
        let explicit = self.api_key.as_ref().map(ApiKey::expose);
        // The order of the README's configuration table: explicit, then VARG_API_KEY /
        // VARG_BASE_URL, then the credentials file / the default (decided by varg-core).
        let env = core_config::Environment {
            var: &|name: &str| std::env::var(name).ok(),
            read_file: &|path: &Path| std::fs::read_to_string(path).ok(),
        };
        let (api_key, _source, base_url) =
            core_config::resolve_from_environment(explicit, self.base_url.as_deref(), &env)?;
        let mut timeouts = core_config::DEFAULT_TIMEOUTS;
        if let Some(d) = self.connect_timeout {
            timeouts.connect = Some(d);
        }
        if let Some(d) = self.read_timeout {
            timeouts.read = Some(d);
        }
        if let Some(d) = self.total_timeout {
            timeouts.total = Some(d);
        }
        let mut builder = Config::builder(api_key)
            .base_url(base_url)
            .allow_insecure_http(self.allow_insecure_http)
            .timeouts(timeouts)
            .transfer_timeout(self.transfer_timeout);
        for (provider, key) in self.provider_keys {
            builder = builder.provider_key(provider, key);
        }
        if let Some(r) = self.retry {
            builder = builder.retry(r);
        }
        if let Some(w) = self.wait {
            builder = builder.wait(w);
        }
        if let Some(c) = self.cache {
            builder = builder.cache(c);
        }
        if let Some(ua) = self.user_agent {
            builder = builder.user_agent(ua);
        }
        let config = builder.build()?;
        let transport: Arc<dyn Transport> = match (self.transport, self.agent) {
            (Some(t), _) => t,
            (None, Some(agent)) => Arc::new(UreqTransport::from_agent(agent)),
            (None, None) => Arc::new(UreqTransport::new(timeouts)),
        };
        Ok(Client {
            config: Arc::new(config),
            transport,
            notice: self.notice,
        })
    }
}
