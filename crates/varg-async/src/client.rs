//! The client, its builder, the retry loop and one method per endpoint.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use tracing::Instrument;
use varg_core::config::{
    CacheMode, Config, Environment, Provider, ProviderKeys, RequestOptions,
    resolve_from_environment,
};
use varg_core::error::Error;
use varg_core::notice::{Notice, NoticeHook};
use varg_core::ops::{self, ExchangeKind, JsonOperation, MAX_JSON_BODY_BYTES, ResponseMeta};
use varg_core::retry::{Decision, Idempotency, Outcome, RetryPolicy, RetryRun, StopReason};
use varg_core::secret::ApiKey;
use varg_core::transport::{AsyncBody, AsyncResponseBody, AsyncTransport, RequestTimeouts};
use varg_core::wait::WaitPolicy;
use varg_types::endpoint::ops as vops;
use varg_types::{
    Balance, FfmpegRequest, ImageRequest, Job, JobId, Me, MusicRequest, ProbeRequest,
    ProbeResponse, ResizeRequest, SliceRequest, SpeechRequest, TranscriptionRequest, TrimRequest,
    UsageQuery, UsageResponse, VideoRequest, VoicesResponse,
};

use crate::transport::{ReqwestTransport, io_error_kind};

/// The async varg client. Cheap to clone: clones share the configuration and the
/// connection pool.
///
/// ```no_run
/// use std::time::Duration;
/// use varg_async::{Client, CacheMode};
///
/// # fn demo() -> Result<(), varg_async::Error> {
/// let client = Client::builder()
///     .api_key("varg_live_...")
///     .base_url("http://127.0.0.1:8787/v1")
///     .connect_timeout(Duration::from_secs(5))
///     .cache(CacheMode::NoCache)
///     .build()?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) transport: Arc<dyn AsyncTransport>,
    pub(crate) notice: Option<NoticeHook>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Client`]. Start with [`Client::builder`].
#[must_use]
pub struct ClientBuilder {
    api_key: Option<ApiKey>,
    base_url: Option<String>,
    allow_insecure_http: bool,
    timeouts: RequestTimeouts,
    transfer_timeout: Option<Duration>,
    retry: Option<RetryPolicy>,
    wait: Option<WaitPolicy>,
    provider_keys: ProviderKeys,
    cache: Option<CacheMode>,
    user_agent: Option<String>,
    http_client: Option<reqwest::Client>,
    transport: Option<Arc<dyn AsyncTransport>>,
    notice: Option<NoticeHook>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("api_key", &self.api_key)
            .field("base_url", &self.base_url)
            .field("timeouts", &self.timeouts)
            .finish_non_exhaustive()
    }
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            api_key: None,
            base_url: None,
            allow_insecure_http: false,
            timeouts: varg_core::config::DEFAULT_TIMEOUTS,
            transfer_timeout: None,
            retry: None,
            wait: None,
            provider_keys: ProviderKeys::new(),
            cache: None,
            user_agent: None,
            http_client: None,
            transport: None,
            notice: None,
        }
    }
}

impl ClientBuilder {
    /// The API key. Without it, [`build`](Self::build) takes `VARG_API_KEY`, else
    /// `~/.varg/credentials` (`{"api_key": "varg_..."}`).
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

    /// How long establishing a connection may take (default 10 s).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.timeouts.connect = Some(d);
        self
    }

    /// The longest silence while waiting for an answer or between two chunks of it
    /// (default 30 s).
    pub fn read_timeout(mut self, d: Duration) -> Self {
        self.timeouts.read = Some(d);
        self
    }

    /// The longest one JSON call may take as a whole (default 120 s): every attempt, every
    /// backoff and every `Retry-After` sleep together. A `Retry-After` longer than what is
    /// left ends the call at once with [`Error::RateLimited`]. Uploads and downloads are
    /// bounded by [`transfer_timeout`](Self::transfer_timeout); job waits by their deadline.
    pub fn total_timeout(mut self, d: Duration) -> Self {
        self.timeouts.total = Some(d);
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
    /// change of course of a job wait (stream cut and reopened, polling instead). It runs
    /// on the calling task just before the wait; keep it short and never block in it.
    ///
    /// ```
    /// let client = varg_async::Client::builder()
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

    /// The job wait policy (default: SSE first, 30 min deadline).
    pub fn wait_policy(mut self, policy: WaitPolicy) -> Self {
        self.wait = Some(policy);
        self
    }

    /// Sends `key` as the provider's BYOK header with job-creating requests.
    pub fn provider_key(mut self, provider: Provider, key: impl Into<ApiKey>) -> Self {
        self.provider_keys.set(provider, key);
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

    /// Uses the caller's `reqwest::Client` (its own timeouts, proxy and TLS settings apply;
    /// configure it not to follow redirects).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Uses any [`AsyncTransport`] instead of reqwest (tests, custom stacks).
    pub fn transport(mut self, transport: impl AsyncTransport + 'static) -> Self {
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
        let env = Environment {
            var: &|name: &str| std::env::var(name).ok(),
            read_file: &|path: &std::path::Path| std::fs::read_to_string(path).ok(),
        };
        let (key, _source, base) =
            resolve_from_environment(explicit, self.base_url.as_deref(), &env)?;
        let mut config = Config::builder(key)
            .base_url(&base)
            .allow_insecure_http(self.allow_insecure_http)
            .provider_keys(self.provider_keys)
            .timeouts(self.timeouts)
            .transfer_timeout(self.transfer_timeout);
        if let Some(r) = self.retry {
            config = config.retry(r);
        }
        if let Some(w) = self.wait {
            config = config.wait(w);
        }
        if let Some(c) = self.cache {
            config = config.cache(c);
        }
        if let Some(ua) = self.user_agent {
            config = config.user_agent(ua);
        }
        let config = config.build()?;
        let transport: Arc<dyn AsyncTransport> = match (self.transport, self.http_client) {
            (Some(t), _) => t,
            (None, Some(c)) => Arc::new(ReqwestTransport::from_client(c)),
            (None, None) => Arc::new(ReqwestTransport::new(config.timeouts())?),
        };
        Ok(Client {
            inner: Arc::new(Inner {
                config,
                transport,
                notice: self.notice,
            }),
        })
    }
}

/// A uniformly distributed number in `[0, 1)` for the retry and poll jitter.
pub(crate) fn jitter() -> f64 {
    rand::random::<f64>()
}

/// Rebuilds a request for another attempt (method, URI, headers, timeouts, body).
pub(crate) fn replay(request: &http::Request<Bytes>) -> http::Request<AsyncBody> {
    let mut out = http::Request::new(AsyncBody::Bytes(request.body().clone()));
    *out.method_mut() = request.method().clone();
    *out.uri_mut() = request.uri().clone();
    *out.headers_mut() = request.headers().clone();
    if let Some(t) = request.extensions().get::<RequestTimeouts>() {
        out.extensions_mut().insert(*t);
    }
    out
}

/// Turns a body-read failure into an [`Error::Transport`].
pub(crate) fn body_error(e: std::io::Error) -> Error {
    Error::Transport {
        kind: io_error_kind(&e),
        message: format!("reading the response body: {e}"),
        job_id: None,
        source: Some(Box::new(e)),
    }
}

/// Collects at most [`varg_core::error::RAW_SNIPPET_LIMIT`] bytes of an error body.
pub(crate) async fn error_snippet(mut body: AsyncResponseBody) -> Bytes {
    let limit = varg_core::error::RAW_SNIPPET_LIMIT;
    let mut buf = Vec::new();
    while buf.len() < limit {
        match body.next_chunk().await {
            Some(Ok(chunk)) => {
                let take = chunk.len().min(limit - buf.len());
                buf.extend_from_slice(&chunk[..take]);
            }
            _ => break,
        }
    }
    buf.into()
}

/// Turns a non-2xx response into its error.
pub(crate) async fn status_error(response: http::Response<AsyncResponseBody>) -> Error {
    let (parts, body) = response.into_parts();
    let raw = error_snippet(body).await;
    ops::api_error(parts.status, &parts.headers, &raw, SystemTime::now())
}

impl Client {
    /// A client configured from the environment: the key from `VARG_API_KEY` or
    /// `~/.varg/credentials` (JSON `{"api_key": ...}`), the base URL from `VARG_BASE_URL` or
    /// the default. The same as `Client::builder().build()`.
    pub fn new() -> Result<Client, Error> {
        Client::builder().build()
    }

    /// A builder with every default.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// A client sharing this one's connections, with per-request overrides (cache mode,
    /// timeouts, retry and wait policies, BYOK keys).
    ///
    /// Of the timeouts, the total and read timeouts apply per request; the connect timeout
    /// belongs to the shared connection pool and stays the one the client was built with.
    pub fn with_options(&self, options: RequestOptions) -> Client {
        Client {
            inner: Arc::new(Inner {
                config: self.inner.config.with_options(&options),
                transport: self.inner.transport.clone(),
                notice: self.inner.notice.clone(),
            }),
        }
    }

    /// Hands `notice` to the caller's hook, if one is set.
    pub(crate) fn notify(&self, notice: Notice) {
        tracing::debug!(%notice, "waiting");
        if let Some(hook) = &self.inner.notice {
            hook(&notice);
        }
    }

    /// Sends a request, retrying as the configured [`RetryPolicy`] (or `retry`) decides
    /// within the call's time budget (`budget`: see [`Config::call_budget`]). Returns the
    /// final response whatever its status, except that a 429 whose `Retry-After` exceeds
    /// the policy or the budget left becomes [`Error::RateLimited`]. `build` is called once
    /// per attempt.
    pub(crate) async fn execute(
        &self,
        route: &'static str,
        idempotency: Idempotency,
        job_id: Option<&JobId>,
        retry: Option<&RetryPolicy>,
        budget: Option<Duration>,
        mut build: impl FnMut() -> Result<http::Request<AsyncBody>, Error> + Send,
    ) -> Result<http::Response<AsyncResponseBody>, Error> {
        let policy = retry.unwrap_or(self.inner.config.retry());
        let mut run = RetryRun::new(policy.clone(), idempotency, budget).for_job(job_id);
        let started = Instant::now();
        let mut jitter_source = jitter;
        let mut last: Option<Error> = None;
        let tag = |e: Error| match job_id {
            Some(id) => e.with_job_id(id),
            None => e,
        };
        loop {
            let mut request = build().map_err(tag)?;
            let base = request
                .extensions()
                .get::<RequestTimeouts>()
                .copied()
                .unwrap_or_default();
            let Some(timeouts) = run.begin(base, started.elapsed()) else {
                return Err(last.unwrap_or(Error::Timeout {
                    job_id: job_id.cloned(),
                }));
            };
            request.extensions_mut().insert(timeouts);
            let attempt = run.attempts();
            let span = tracing::debug_span!(
                "varg.request",
                method = %request.method(),
                route,
                job_id = job_id.map(JobId::as_str),
                attempt,
            );
            let result = self
                .inner
                .transport
                .send(request)
                .instrument(span.clone())
                .await;
            let outcome = match &result {
                Ok(response) => {
                    if response.status().is_success() {
                        break result.map_err(|e| tag(e.into()));
                    }
                    Outcome::from_response(response.status(), response.headers(), SystemTime::now())
                }
                Err(e) => Outcome::Transport(e.kind),
            };
            let decision = run.failed(&outcome, started.elapsed(), &mut jitter_source);
            span.in_scope(|| tracing::debug!(?outcome, ?decision, "attempt ended"));
            match decision {
                Decision::Retry { after } => {
                    // Keep the failure (without its connection) in case the budget ends
                    // before another attempt can begin.
                    last = Some(match result {
                        Ok(response) => tag(status_error(response).await),
                        Err(e) => tag(e.into()),
                    });
                    if let Some(notice) = run.take_notice() {
                        self.notify(notice);
                    }
                    tokio::time::sleep(after).await;
                }
                Decision::Stop(StopReason::RetryAfterTooLong(wait)) => {
                    return match result {
                        Ok(response) => {
                            Err(tag(status_error(response).await).into_rate_limited(wait))
                        }
                        Err(e) => Err(tag(e.into())),
                    };
                }
                Decision::Stop(_) => return result.map_err(|e| tag(e.into())),
            }
        }
    }

    /// Sends a request built from bytes (replayable) and decodes it as `O`.
    pub(crate) async fn call<O: varg_types::endpoint::Operation>(
        &self,
        request: http::Request<Bytes>,
        job_id: Option<&JobId>,
    ) -> Result<(O::Response, ResponseMeta), Error> {
        let endpoint = O::endpoint();
        let response = self
            .execute(
                endpoint.operation_id,
                ops::idempotency(endpoint),
                job_id,
                None,
                self.inner.config.call_budget(ExchangeKind::Json),
                || Ok(replay(&request)),
            )
            .await?;
        decode::<O>(response, job_id).await
    }

    /// Sends any JSON-bodied operation (the job-creating POSTs and the probe) after
    /// validating its input, and returns the decoded answer with its [`ResponseMeta`]
    /// (status, `X-Cache` hit/key/TTL, request id, every header).
    ///
    /// ```no_run
    /// use varg_async::{Client, ImageRequest, models};
    /// use varg_async::types::endpoint::ops::CreateImage;
    ///
    /// # async fn demo(client: Client) -> Result<(), varg_async::Error> {
    /// let request = ImageRequest::new(models::image::FLUX_PRO, "a red kite");
    /// let (job, meta) = client.send::<CreateImage>(&request).await?;
    /// println!("{} cache hit: {:?}", job.job_id, meta.cache_hit);
    /// # Ok(()) }
    /// ```
    pub async fn send<O: JsonOperation>(
        &self,
        input: &O::Request,
    ) -> Result<(O::Response, ResponseMeta), Error>
    where
        O::Request: Sync,
    {
        let request = ops::json_request::<O>(&self.inner.config, input)?;
        self.call::<O>(request, None).await
    }
}

/// Collects and decodes a response.
pub(crate) async fn decode<O: varg_types::endpoint::Operation>(
    response: http::Response<AsyncResponseBody>,
    job_id: Option<&JobId>,
) -> Result<(O::Response, ResponseMeta), Error> {
    let tag = |e: Error| match job_id {
        Some(id) => e.with_job_id(id),
        None => e,
    };
    let (parts, body) = response.into_parts();
    let bytes = body
        .collect_capped(MAX_JSON_BODY_BYTES)
        .await
        .map_err(|e| tag(body_error(e)))?;
    let response = http::Response::from_parts(parts, bytes);
    ops::decode::<O>(&response, SystemTime::now()).map_err(tag)
}

macro_rules! create_methods {
    ($( $(#[$meta:meta])* $name:ident, $meta_name:ident, $op:ty, $req:ty; )*) => {
        impl Client {
            $(
                $(#[$meta])*
                ///
                /// The input is validated first ([`Error::InvalidInput`], nothing sent). The
                /// request is retried only when the gateway provably did no work (connection
                /// refused, 429, 503), so a job is never created twice.
                pub async fn $name(&self, request: &$req) -> Result<Job, Error> {
                    Ok(self.send::<$op>(request).await?.0)
                }

                #[doc = concat!("[`", stringify!($name), "`](Self::", stringify!($name), ") with the response metadata (status, `X-Cache` hit/key/TTL, request id, headers).")]
                pub async fn $meta_name(&self, request: &$req) -> Result<(Job, ResponseMeta), Error> {
                    self.send::<$op>(request).await
                }
            )*
        }
    };
}

create_methods! {
    /// `POST /image`: starts an image job.
    create_image, create_image_with_meta, vops::CreateImage, ImageRequest;
    /// `POST /video`: starts a video job.
    create_video, create_video_with_meta, vops::CreateVideo, VideoRequest;
    /// `POST /speech`: starts a text-to-speech job.
    create_speech, create_speech_with_meta, vops::CreateSpeech, SpeechRequest;
    /// `POST /music`: starts a music job.
    create_music, create_music_with_meta, vops::CreateMusic, MusicRequest;
    /// `POST /transcription`: starts a transcription job.
    create_transcription, create_transcription_with_meta, vops::CreateTranscription, TranscriptionRequest;
    /// `POST /ffmpeg`: starts a job running an ffmpeg command.
    ffmpeg, ffmpeg_with_meta, vops::RunFfmpeg, FfmpegRequest;
    /// `POST /ffmpeg/trim`: starts a job trimming a video or audio file.
    trim, trim_with_meta, vops::TrimVideo, TrimRequest;
    /// `POST /ffmpeg/resize`: starts a job resizing a video.
    resize, resize_with_meta, vops::ResizeVideo, ResizeRequest;
    /// `POST /ffmpeg/slice`: starts a job cutting a video into slices.
    slice, slice_with_meta, vops::SliceVideo, SliceRequest;
}

impl Client {
    /// `POST /ffmpeg/probe`: reads a media file's duration, size and streams (synchronous,
    /// no job).
    pub async fn probe(&self, request: &ProbeRequest) -> Result<ProbeResponse, Error> {
        Ok(self.send::<vops::ProbeMedia>(request).await?.0)
    }

    /// `GET /jobs/{job_id}`: the job's current state.
    pub async fn get_job(&self, job_id: impl AsRef<str>) -> Result<Job, Error> {
        let id = JobId::new(job_id.as_ref());
        let request = ops::get_job(&self.inner.config, &id).map_err(|e| e.with_job_id(&id))?;
        Ok(self.call::<vops::GetJob>(request, Some(&id)).await?.0)
    }

    /// `DELETE /jobs/{job_id}`: asks the gateway to cancel the job.
    pub async fn cancel_job(&self, job_id: impl AsRef<str>) -> Result<(), Error> {
        let id = JobId::new(job_id.as_ref());
        let request = ops::cancel_job(&self.inner.config, &id).map_err(|e| e.with_job_id(&id))?;
        self.call::<vops::CancelJob>(request, Some(&id)).await?;
        Ok(())
    }

    /// `GET /voices`: the voices available for speech.
    pub async fn voices(&self) -> Result<VoicesResponse, Error> {
        let request = ops::list_voices(&self.inner.config)?;
        Ok(self.call::<vops::ListVoices>(request, None).await?.0)
    }

    /// `GET /balance`: the account balance.
    pub async fn balance(&self) -> Result<Balance, Error> {
        let request = ops::get_balance(&self.inner.config)?;
        Ok(self.call::<vops::GetBalance>(request, None).await?.0)
    }

    /// `GET /usage`: usage records in a date range (`YYYY-MM-DD`, both ends optional).
    pub async fn usage(&self, query: &UsageQuery) -> Result<UsageResponse, Error> {
        let request = ops::get_usage(&self.inner.config, query)?;
        Ok(self.call::<vops::GetUsage>(request, None).await?.0)
    }

    /// `GET /me`: the account the key belongs to.
    pub async fn me(&self) -> Result<Me, Error> {
        let request = ops::get_me(&self.inner.config)?;
        Ok(self.call::<vops::GetMe>(request, None).await?.0)
    }
}
