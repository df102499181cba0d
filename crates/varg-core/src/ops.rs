//! Pure request builders and response decoders for every v1 endpoint.
//!
//! A builder turns a [`Config`] and the typed input into an [`http::Request`]; a decoder
//! turns an [`http::Response`] whose body has been collected into the typed output and its
//! [`ResponseMeta`]. Neither does IO. The endpoint table of `varg-types` supplies methods,
//! paths and success statuses.
//!
//! | Endpoint | Builder | Decoder |
//! |---|---|---|
//! | `POST /video`, `/image`, `/speech`, `/music`, `/transcription`, `/ffmpeg`, `/ffmpeg/trim`, `/ffmpeg/resize`, `/ffmpeg/slice`, `/ffmpeg/probe` | [`json_request`] | [`decode`] |
//! | `GET /jobs/{job_id}` | [`get_job`] | [`decode`] with [`varg_types::endpoint::ops::GetJob`] |
//! | `DELETE /jobs/{job_id}` | [`cancel_job`] | [`decode`] with [`varg_types::endpoint::ops::CancelJob`] (`()`) |
//! | `GET /jobs/{job_id}/stream` | [`stream_job`] | [`check_status`], then [`crate::sse::SseDecoder`] and [`decode_stream_event`] |
//! | `POST /files` | [`upload_file`] | [`decode`] with [`varg_types::endpoint::ops::UploadFile`] |
//! | `GET /voices`, `/balance`, `/me` | [`list_voices`], [`get_balance`], [`get_me`] | [`decode`] |
//! | `GET /usage` | [`get_usage`] | [`decode`] |
//! | a job's output (another host) | [`output_url`], [`download_request`] | [`check_status`], then the body as bytes |
//!
//! ```
//! use std::time::SystemTime;
//! use varg_core::{config::Config, ops};
//! use varg_types::{endpoint::ops::CreateImage, ImageRequest, models};
//!
//! let config = Config::builder("varg_test").build().unwrap();
//! let input = ImageRequest::new(models::image::FLUX_PRO, "a lighthouse");
//! let request = ops::json_request::<CreateImage>(&config, &input).unwrap();
//! assert_eq!(request.uri(), "https://api.varg.ai/v1/image");
//! assert_eq!(request.headers()["authorization"], "Bearer varg_test");
//!
//! // ... a transport sends it; the client collects the body and decodes:
//! let response = http::Response::builder()
//!     .status(202)
//!     .header("x-cache", "MISS")
//!     .body(bytes::Bytes::from_static(br#"{"job_id":"job_1","status":"queued"}"#))
//!     .unwrap();
//! let (job, meta) = ops::decode::<CreateImage>(&response, SystemTime::UNIX_EPOCH).unwrap();
//! assert_eq!(job.job_id.as_str(), "job_1");
//! assert_eq!(meta.cache_hit, Some(false));
//! ```

use std::path::Path;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::de::DeserializeOwned;
use varg_types::endpoint::ops as vops;
use varg_types::endpoint::{Endpoint, EndpointId, Operation, ResponseKind};
use varg_types::{ErrorBody, Job, JobId, Method, UsageQuery, Validate};

use crate::config::Config;
use crate::error::{ApiError, Error, raw_snippet};
use crate::hash::ContentHasher;
use crate::retry::{Idempotency, parse_retry_after};
use crate::sse::SseEvent;
use crate::transport::RequestTimeouts;

/// The largest JSON response body a client should collect before decoding (16 MiB).
pub const MAX_JSON_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Metadata of a response, returned next to the decoded value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseMeta {
    /// The HTTP status.
    pub status: StatusCode,
    /// `X-Cache: HIT` / `MISS`, if sent.
    pub cache_hit: Option<bool>,
    /// `X-Cache-Key`, if sent.
    pub cache_key: Option<String>,
    /// `X-Cache-TTL` (seconds), if sent and numeric.
    pub cache_ttl: Option<Duration>,
    /// A request id (`X-Request-Id` or `Request-Id`), if sent.
    pub request_id: Option<String>,
    /// Every response header, as received.
    pub headers: HeaderMap,
}

impl ResponseMeta {
    /// Reads the metadata of a response.
    pub fn from_parts(status: StatusCode, headers: &HeaderMap) -> Self {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        Self {
            status,
            cache_hit: text("x-cache").and_then(|v| {
                let v = v.to_ascii_uppercase();
                if v.starts_with("HIT") {
                    Some(true)
                } else if v.starts_with("MISS") {
                    Some(false)
                } else {
                    None
                }
            }),
            cache_key: text("x-cache-key"),
            cache_ttl: text("x-cache-ttl")
                .and_then(|v| v.parse::<f64>().ok())
                .and_then(|s| Duration::try_from_secs_f64(s).ok()),
            request_id: text("x-request-id").or_else(|| text("request-id")),
            headers: headers.clone(),
        }
    }
}

/// Endpoints whose input is a validated JSON body (the job-creating POSTs and the probe).
pub trait JsonOperation: Operation<Request: Validate> {}

impl JsonOperation for vops::CreateVideo {}
impl JsonOperation for vops::CreateImage {}
impl JsonOperation for vops::CreateSpeech {}
impl JsonOperation for vops::CreateMusic {}
impl JsonOperation for vops::CreateTranscription {}
impl JsonOperation for vops::RunFfmpeg {}
impl JsonOperation for vops::TrimVideo {}
impl JsonOperation for vops::ResizeVideo {}
impl JsonOperation for vops::SliceVideo {}
impl JsonOperation for vops::ProbeMedia {}

/// Whether repeating a request to `endpoint` is harmless: GET and DELETE always; the probe
/// (a POST that creates nothing) too; job-creating POSTs and uploads never (see
/// [`crate::retry`] for what that means for retries).
pub fn idempotency(endpoint: &Endpoint) -> Idempotency {
    let safe = endpoint.method.is_idempotent()
        || (!endpoint.creates_job && endpoint.id != EndpointId::UploadFile);
    if safe {
        Idempotency::Idempotent
    } else {
        Idempotency::NonIdempotent
    }
}

/// Query values: encode everything but unreserved characters.
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn config_error(what: &str) -> Error {
    Error::invalid_config(format!("{what} is not a valid HTTP header value"))
}

/// What kind of exchange a request starts; decides which timeouts apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExchangeKind {
    /// A JSON request and response: connect, read and total timeouts.
    Json,
    /// A long-lived stream or a large transfer: connect and read timeouts only.
    Streaming,
}

/// Builds a request for `endpoint` with the standard headers. The lower-level building
/// block of the typed builders; `path_params` are percent-encoded, `query` values too.
pub fn request(
    config: &Config,
    endpoint: &Endpoint,
    path_params: &[(&str, &str)],
    query: &[(&str, &str)],
    body: Option<(&'static str, Bytes)>,
    kind: ExchangeKind,
) -> Result<http::Request<Bytes>, Error> {
    let path = endpoint
        .path_with(path_params)
        .map_err(|e| Error::invalid_config(format!("cannot build the path: {e}")))?;
    let mut uri = String::with_capacity(config.base_url().len() + path.len() + 32);
    uri.push_str(config.base_url());
    uri.push_str(&path);
    for (i, (name, value)) in query.iter().enumerate() {
        uri.push(if i == 0 { '?' } else { '&' });
        uri.push_str(name);
        uri.push('=');
        uri.extend(utf8_percent_encode(value, QUERY));
    }
    let method = match endpoint.method {
        Method::Get => http::Method::GET,
        Method::Post => http::Method::POST,
        Method::Delete => http::Method::DELETE,
    };
    let (content_type, body) = match body {
        Some((ct, b)) => (Some(ct), b),
        None => (None, Bytes::new()),
    };
    let mut builder = http::Request::builder().method(method).uri(&uri);
    let headers = builder
        .headers_mut()
        .ok_or_else(|| Error::invalid_config(format!("invalid request URI {uri:?}")))?;
    let mut auth = HeaderValue::from_str(&format!("Bearer {}", config.api_key().expose()))
        .map_err(|_| config_error("the API key"))?;
    auth.set_sensitive(true);
    headers.insert(header::AUTHORIZATION, auth);
    let accept = match endpoint.response {
        ResponseKind::EventStream => "text/event-stream",
        ResponseKind::Json | ResponseKind::Empty => "application/json",
    };
    headers.insert(header::ACCEPT, HeaderValue::from_static(accept));
    headers.insert(
        header::USER_AGENT,
        HeaderValue::from_str(config.user_agent()).map_err(|_| config_error("the user agent"))?,
    );
    if let Some(ct) = content_type {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    if endpoint.creates_job {
        for (provider, key) in config.provider_keys().iter() {
            let mut value = HeaderValue::from_str(key.expose())
                .map_err(|_| config_error(provider.header_name()))?;
            value.set_sensitive(true);
            headers.insert(
                HeaderName::from_static(lower(provider.header_name())),
                value,
            );
        }
        if let Some(cc) = config.cache().header_value() {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cc));
        }
    }
    let mut timeouts = config.timeouts();
    if kind == ExchangeKind::Streaming {
        timeouts.total = None;
    }
    let mut request = builder
        .body(body)
        .map_err(|e| Error::invalid_config(format!("cannot build the request: {e}")))?;
    request.extensions_mut().insert::<RequestTimeouts>(timeouts);
    Ok(request)
}

fn lower(name: &'static str) -> &'static str {
    match name {
        "X-Provider-Key-Fal" => "x-provider-key-fal",
        "X-Provider-Key-ElevenLabs" => "x-provider-key-elevenlabs",
        "X-Provider-Key-Higgsfield" => "x-provider-key-higgsfield",
        "X-Provider-Key-Replicate" => "x-provider-key-replicate",
        other => other,
    }
}

/// Builds a JSON-body request (`POST /image`, `/video`, ..., `/ffmpeg/probe`) after
/// validating the input; a rule violation is [`Error::InvalidInput`] and nothing is built.
pub fn json_request<O: JsonOperation>(
    config: &Config,
    input: &O::Request,
) -> Result<http::Request<Bytes>, Error> {
    input.validate()?;
    let body = serde_json::to_vec(input)
        .map_err(|e| Error::invalid_config(format!("cannot serialise the request body: {e}")))?;
    request(
        config,
        O::endpoint(),
        &[],
        &[],
        Some(("application/json", body.into())),
        ExchangeKind::Json,
    )
}

/// `GET /jobs/{job_id}`.
pub fn get_job(config: &Config, job_id: &JobId) -> Result<http::Request<Bytes>, Error> {
    job_request(config, EndpointId::GetJob, job_id, ExchangeKind::Json)
}

/// `DELETE /jobs/{job_id}`.
pub fn cancel_job(config: &Config, job_id: &JobId) -> Result<http::Request<Bytes>, Error> {
    job_request(config, EndpointId::CancelJob, job_id, ExchangeKind::Json)
}

/// `GET /jobs/{job_id}/stream` (`Accept: text/event-stream`, no total timeout). Pass the
/// last event id seen (see [`crate::sse::SseDecoder::last_event_id`]) when reconnecting.
pub fn stream_job(
    config: &Config,
    job_id: &JobId,
    last_event_id: Option<&str>,
) -> Result<http::Request<Bytes>, Error> {
    let mut req = job_request(
        config,
        EndpointId::StreamJob,
        job_id,
        ExchangeKind::Streaming,
    )?;
    if let Some(id) = last_event_id
        && let Ok(value) = HeaderValue::from_str(id)
    {
        req.headers_mut().insert("last-event-id", value);
    }
    req.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(req)
}

fn job_request(
    config: &Config,
    id: EndpointId,
    job_id: &JobId,
    kind: ExchangeKind,
) -> Result<http::Request<Bytes>, Error> {
    if job_id.as_str().trim().is_empty() {
        return Err(Error::InvalidInput(varg_types::ValidationError::new(
            "job_id",
            varg_types::Rule::NotEmpty,
            "must not be empty",
        )));
    }
    request(
        config,
        id.endpoint(),
        &[("job_id", job_id.as_str())],
        &[],
        None,
        kind,
    )
}

/// `GET /voices`.
pub fn list_voices(config: &Config) -> Result<http::Request<Bytes>, Error> {
    simple_get(config, EndpointId::ListVoices)
}

/// `GET /balance`.
pub fn get_balance(config: &Config) -> Result<http::Request<Bytes>, Error> {
    simple_get(config, EndpointId::GetBalance)
}

/// `GET /me`.
pub fn get_me(config: &Config) -> Result<http::Request<Bytes>, Error> {
    simple_get(config, EndpointId::GetMe)
}

fn simple_get(config: &Config, id: EndpointId) -> Result<http::Request<Bytes>, Error> {
    request(config, id.endpoint(), &[], &[], None, ExchangeKind::Json)
}

/// `GET /usage?from=..&to=..` (dates validated as `YYYY-MM-DD`; absent ends omitted).
pub fn get_usage(config: &Config, query: &UsageQuery) -> Result<http::Request<Bytes>, Error> {
    query.validate()?;
    request(
        config,
        EndpointId::GetUsage.endpoint(),
        &[],
        &query.pairs(),
        None,
        ExchangeKind::Json,
    )
}

/// What the upload builder needs to know about the content (the body itself is attached by
/// the client, streamed from a reader or a stream).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UploadMeta {
    /// The content hash (`sha256:<hex>`, see [`ContentHasher`]) sent as `X-Content-Hash`
    /// so the gateway can deduplicate.
    pub content_hash: Option<String>,
    /// The size in bytes, if known; checked against the 50 MB limit.
    pub length: Option<u64>,
    /// The media type; `application/octet-stream` when unset (the documented type).
    pub content_type: Option<String>,
}

impl UploadMeta {
    /// The metadata of content held in memory: its hash and length.
    pub fn for_bytes(bytes: &[u8]) -> Self {
        Self {
            content_hash: Some(ContentHasher::hash(bytes)),
            length: Some(bytes.len() as u64),
            content_type: None,
        }
    }
}

/// `POST /files`: a request without a body; attach it with
/// `request.map(|()| Body::Reader { .. })` (or `AsyncBody::Stream`, or bytes).
pub fn upload_file(config: &Config, meta: &UploadMeta) -> Result<http::Request<()>, Error> {
    if let Some(len) = meta.length {
        varg_types::validate_upload_size(len)?;
    }
    let mut req = request(
        config,
        EndpointId::UploadFile.endpoint(),
        &[],
        &[],
        Some(("application/octet-stream", Bytes::new())),
        ExchangeKind::Streaming,
    )?;
    if let Some(ct) = &meta.content_type {
        let value = HeaderValue::from_str(ct).map_err(|_| {
            Error::InvalidInput(varg_types::ValidationError::new(
                "content_type",
                varg_types::Rule::NotEmpty,
                "must be a valid header value",
            ))
        })?;
        req.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    if let Some(hash) = &meta.content_hash {
        let value = HeaderValue::from_str(hash).map_err(|_| {
            Error::InvalidInput(varg_types::ValidationError::new(
                "content_hash",
                varg_types::Rule::NotEmpty,
                "must be a valid header value",
            ))
        })?;
        req.headers_mut().insert("x-content-hash", value);
    }
    Ok(req.map(|_| ()))
}

/// A `GET` of a download URL (a job's output, on another host than the gateway). It is
/// built from scratch and carries only `User-Agent` and `Accept: */*`: never the API key,
/// provider keys (BYOK) or the cache headers. The URL must be absolute `http` or `https`
/// ([`Error::InvalidConfig`] otherwise). The request has the configured connect and read
/// timeouts and no total timeout (a large output may take long).
///
/// ```
/// use varg_core::{config::Config, ops};
///
/// let config = Config::builder("varg_secret").build().unwrap();
/// let request = ops::download_request(&config, "https://cdn.example/o/job_1.png").unwrap();
/// assert!(request.headers().get("authorization").is_none());
/// assert!(ops::download_request(&config, "file:///etc/passwd").is_err());
/// ```
pub fn download_request(config: &Config, url: &str) -> Result<http::Request<()>, Error> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| Error::invalid_config(format!("invalid download URL {url:?}: {e}")))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        return Err(Error::invalid_config(format!(
            "invalid download URL {url:?}: not an absolute http(s) URL"
        )));
    }
    let user_agent = HeaderValue::from_str(config.user_agent())
        .map_err(|_| Error::invalid_config("the user agent is not a valid header value"))?;
    let mut request = http::Request::new(());
    *request.uri_mut() = uri;
    let headers = request.headers_mut();
    headers.insert(header::USER_AGENT, user_agent);
    headers.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
    let mut timeouts = config.timeouts();
    timeouts.total = None;
    request.extensions_mut().insert(timeouts);
    Ok(request)
}

/// A media type for an upload, guessed from a file name's extension (case-insensitive);
/// `None` for an unknown or missing extension (the upload is then sent as
/// `application/octet-stream`). The gateway sniffs the content anyway: this only fills
/// `Content-Type`. Looks at the name only, never at the file.
///
/// ```
/// use std::path::Path;
/// use varg_core::ops::media_type_for_path;
///
/// assert_eq!(media_type_for_path(Path::new("photos/cat.JPG")), Some("image/jpeg"));
/// assert_eq!(media_type_for_path(Path::new("README")), None);
/// ```
pub fn media_type_for_path(path: &Path) -> Option<&'static str> {
    media_type_for_extension(path.extension()?.to_str()?)
}

/// File extensions and their media types, for the common upload and output kinds. Where
/// several extensions share a type, the first one is the type's usual extension.
const MEDIA_TYPES: &[(&str, &str)] = &[
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("webp", "image/webp"),
    ("gif", "image/gif"),
    ("mp4", "video/mp4"),
    ("mov", "video/quicktime"),
    ("webm", "video/webm"),
    ("mp3", "audio/mpeg"),
    ("wav", "audio/wav"),
    ("wav", "audio/x-wav"),
    ("wav", "audio/wave"),
    ("m4a", "audio/mp4"),
    ("ogg", "audio/ogg"),
    ("flac", "audio/flac"),
    ("json", "application/json"),
    ("txt", "text/plain"),
    ("srt", "text/plain"),
    ("vtt", "text/plain"),
];

/// The media type of a file extension (without the dot, case-insensitive), for the
/// common upload kinds; see [`media_type_for_path`].
pub fn media_type_for_extension(extension: &str) -> Option<&'static str> {
    MEDIA_TYPES
        .iter()
        .find(|(ext, _)| ext.eq_ignore_ascii_case(extension))
        .map(|(_, media_type)| *media_type)
}

/// The usual file extension (without the dot) of a media type such as `image/png` or
/// `audio/wav; codecs=1` (parameters and case are ignored): the reverse of
/// [`media_type_for_extension`], from the same table.
///
/// ```
/// use varg_core::ops::extension_for_media_type;
/// assert_eq!(extension_for_media_type("image/jpeg"), Some("jpg"));
/// assert_eq!(extension_for_media_type("Audio/X-WAV"), Some("wav"));
/// assert_eq!(extension_for_media_type("application/x-unknown"), None);
/// ```
pub fn extension_for_media_type(media_type: &str) -> Option<&'static str> {
    let essence = media_type.split(';').next().unwrap_or("").trim();
    MEDIA_TYPES
        .iter()
        .find(|(_, t)| t.eq_ignore_ascii_case(essence))
        .map(|(ext, _)| *ext)
}

/// The output URL of a job to download, or [`Error::NoOutput`] (carrying the job) when the
/// URL is missing or empty.
pub fn output_url(job: &Job) -> Result<&str, Error> {
    job.output_url().ok_or_else(|| Error::no_output(job))
}

/// Turns an error response (any non-2xx status) into [`Error::Api`]: the documented flat or
/// nested JSON error body is read field by field; any other body (an HTML page from a
/// proxy, an empty body) gives an API error whose message is the status reason and whose
/// `raw` holds the start of the body. `now` is the caller's wall clock, used only for a
/// `Retry-After` given as an HTTP date.
pub fn api_error(status: StatusCode, headers: &HeaderMap, body: &[u8], now: SystemTime) -> Error {
    let reason = status.canonical_reason().unwrap_or("error").to_owned();
    let mut api = ApiError::new(status, reason);
    api.retry_after = parse_retry_after(headers, now);
    api.request_id = ResponseMeta::from_parts(status, headers).request_id;
    let parsed = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(ErrorBody::from_value);
    match parsed {
        Some(b) => {
            api.code = b.code;
            if let Some(m) = b.message {
                api.message = m;
            }
            api.field = b.field;
            api.provider = b.provider;
        }
        None => {
            if !body.is_empty() {
                api.raw = Some(raw_snippet(body));
            }
        }
    }
    Error::Api(Box::new(api))
}

/// Checks the status of a response whose body is read separately (a stream, a download):
/// a 2xx gives its [`ResponseMeta`]; anything else is an error decoded from `error_body`
/// (collect at most a few KiB of it, see [`crate::error::RAW_SNIPPET_LIMIT`]).
pub fn check_status(
    status: StatusCode,
    headers: &HeaderMap,
    error_body: impl FnOnce() -> Bytes,
    now: SystemTime,
) -> Result<ResponseMeta, Error> {
    if status.is_success() {
        Ok(ResponseMeta::from_parts(status, headers))
    } else {
        Err(api_error(status, headers, &error_body(), now))
    }
}

/// Decodes the collected response of operation `O`: the typed value and its metadata on
/// 2xx, [`Error::Api`] otherwise, [`Error::Decode`] (with the start of the body) when a
/// success body does not decode. An empty-bodied answer (`DELETE` 204) decodes as `()`.
pub fn decode<O: Operation>(
    response: &http::Response<Bytes>,
    now: SystemTime,
) -> Result<(O::Response, ResponseMeta), Error> {
    let empty = O::endpoint().response == ResponseKind::Empty;
    decode_body::<O::Response>(response, empty, now)
}

/// Decodes a collected response as `T` (see [`decode`]); `empty` means the success body is
/// ignored and `T` is decoded from JSON `null` (use with `T = ()`).
pub fn decode_body<T: DeserializeOwned>(
    response: &http::Response<Bytes>,
    empty: bool,
    now: SystemTime,
) -> Result<(T, ResponseMeta), Error> {
    let status = response.status();
    let headers = response.headers();
    let body = response.body();
    let meta = check_status(status, headers, || body.clone(), now)?;
    let source: &[u8] = if empty { b"null" } else { body };
    match serde_json::from_slice::<T>(source) {
        Ok(value) => Ok((value, meta)),
        Err(e) => Err(Error::Decode {
            status,
            message: e.to_string(),
            raw: raw_snippet(body),
            job_id: None,
        }),
    }
}

/// One decoded server-sent event of a job stream.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum StreamItem {
    /// A `status` event: the full job.
    Status(Box<Job>),
    /// An event with another name, passed through untouched (not an error: the server may
    /// add event kinds).
    Other(SseEvent),
}

/// Decodes an event of `GET /jobs/{job_id}/stream`: `status` events carry a job as JSON;
/// a `status` event whose data is not a job is [`Error::Decode`].
pub fn decode_stream_event(event: &SseEvent) -> Result<StreamItem, Error> {
    if event.event != "status" {
        return Ok(StreamItem::Other(event.clone()));
    }
    serde_json::from_str::<Job>(&event.data)
        .map(|job| StreamItem::Status(Box::new(job)))
        .map_err(|e| Error::Decode {
            status: StatusCode::OK,
            message: format!("status event: {e}"),
            raw: raw_snippet(event.data.as_bytes()),
            job_id: None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CacheMode, Provider};
    use varg_types::endpoint::ops::*;
    use varg_types::*;

    fn cfg() -> Config {
        Config::builder("varg_k")
            .base_url("http://127.0.0.1:9/v1/")
            .provider_key(Provider::Fal, "fal_k")
            .provider_key(Provider::ElevenLabs, "el_k")
            .cache(CacheMode::NoStore)
            .build()
            .unwrap()
    }

    fn resp(status: u16, headers: &[(&str, &str)], body: &'static str) -> http::Response<Bytes> {
        let mut b = http::Response::builder().status(status);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(Bytes::from_static(body.as_bytes())).unwrap()
    }

    #[test]
    fn download_request_carries_no_credentials() {
        // The config has an API key, provider keys and a cache mode: none may leak.
        let config = cfg();
        let r = download_request(&config, "https://cdn.example/o/job_1.png?sig=x").unwrap();
        assert_eq!(r.method(), http::Method::GET);
        assert_eq!(r.uri(), "https://cdn.example/o/job_1.png?sig=x");
        let names: Vec<&str> = r.headers().keys().map(|k| k.as_str()).collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert_eq!(r.headers()["user-agent"], config.user_agent());
        assert_eq!(r.headers()["accept"], "*/*");
        let t = r.extensions().get::<RequestTimeouts>().unwrap();
        assert_eq!(t.total, None);
        assert_eq!(t.connect, config.timeouts().connect);
        assert_eq!(t.read, config.timeouts().read);
        assert!(download_request(&config, "http://127.0.0.1:9/o/a.png").is_ok());
        for bad in [
            "ftp://cdn.example/a",
            "/o/a.png",
            "cdn.example/a",
            "not a url",
            "",
        ] {
            assert!(
                matches!(
                    download_request(&config, bad),
                    Err(Error::InvalidConfig { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn media_types_from_extensions() {
        assert_eq!(media_type_for_path(Path::new("a/b.PNG")), Some("image/png"));
        assert_eq!(
            media_type_for_path(Path::new("clip.mp4")),
            Some("video/mp4")
        );
        assert_eq!(
            media_type_for_path(Path::new("voice.flac")),
            Some("audio/flac")
        );
        assert_eq!(media_type_for_path(Path::new("noext")), None);
        assert_eq!(media_type_for_path(Path::new("archive.tar.gz")), None);
        assert_eq!(media_type_for_extension("Jpeg"), Some("image/jpeg"));
        assert_eq!(media_type_for_extension(""), None);
    }

    #[test]
    fn output_url_or_no_output() {
        let mut job = Job::new("job_7", JobStatus::Processing);
        let err = output_url(&job).unwrap_err();
        assert!(matches!(&err, Error::NoOutput { job } if job.status == JobStatus::Processing));
        assert_eq!(err.job_id().map(JobId::as_str), Some("job_7"));
        job.output = Some(JobOutput::new("", None));
        assert!(matches!(output_url(&job), Err(Error::NoOutput { .. })));
        job.output = Some(JobOutput::new("https://cdn.example/o.png", None));
        assert_eq!(output_url(&job).unwrap(), "https://cdn.example/o.png");
    }

    #[test]
    fn create_request_headers_and_body() {
        let input = ImageRequest::new(models::image::FLUX_PRO, "a cat");
        let r = json_request::<CreateImage>(&cfg(), &input).unwrap();
        assert_eq!(r.method(), http::Method::POST);
        assert_eq!(r.uri(), "http://127.0.0.1:9/v1/image");
        let h = r.headers();
        assert_eq!(h["authorization"], "Bearer varg_k");
        assert!(h["authorization"].is_sensitive());
        assert_eq!(h["content-type"], "application/json");
        assert_eq!(h["accept"], "application/json");
        assert_eq!(h["x-provider-key-fal"], "fal_k");
        assert_eq!(h["x-provider-key-elevenlabs"], "el_k");
        assert!(h.get("x-provider-key-replicate").is_none());
        assert_eq!(h["cache-control"], "no-store");
        assert!(h["user-agent"].to_str().unwrap().starts_with("varg-rs/"));
        let body: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(body, serde_json::to_value(&input).unwrap());
        assert_eq!(
            r.extensions().get::<RequestTimeouts>().unwrap().total,
            crate::config::DEFAULT_TIMEOUTS.total
        );
    }

    #[test]
    fn invalid_input_is_refused_before_building() {
        let input = ImageRequest::new(models::image::FLUX_PRO, "");
        let err = json_request::<CreateImage>(&cfg(), &input).unwrap_err();
        assert!(
            matches!(err, Error::InvalidInput(ref v) if v.field == "prompt"),
            "{err}"
        );
    }

    #[test]
    fn job_paths_are_encoded_and_byok_only_on_creates() {
        let c = cfg();
        let r = get_job(&c, &JobId::new("job/../x y")).unwrap();
        assert_eq!(r.uri(), "http://127.0.0.1:9/v1/jobs/job%2F%2E%2E%2Fx%20y");
        assert!(r.headers().get("x-provider-key-fal").is_none());
        assert!(r.headers().get("cache-control").is_none());
        let r = cancel_job(&c, &JobId::new("j1")).unwrap();
        assert_eq!(r.method(), http::Method::DELETE);
        let r = stream_job(&c, &JobId::new("j1"), Some("7")).unwrap();
        assert_eq!(r.uri().path(), "/v1/jobs/j1/stream");
        assert_eq!(r.headers()["accept"], "text/event-stream");
        assert_eq!(r.headers()["last-event-id"], "7");
        assert_eq!(r.extensions().get::<RequestTimeouts>().unwrap().total, None);
        assert!(get_job(&c, &JobId::new("")).is_err());
    }

    #[test]
    fn simple_gets_and_usage_query() {
        let c = cfg();
        assert_eq!(list_voices(&c).unwrap().uri().path(), "/v1/voices");
        assert_eq!(get_balance(&c).unwrap().uri().path(), "/v1/balance");
        assert_eq!(get_me(&c).unwrap().uri().path(), "/v1/me");
        let q = UsageQuery::new().from("2026-01-01").to("2026-01-31");
        assert_eq!(
            get_usage(&c, &q).unwrap().uri(),
            "http://127.0.0.1:9/v1/usage?from=2026-01-01&to=2026-01-31"
        );
        assert_eq!(
            get_usage(&c, &UsageQuery::new()).unwrap().uri().query(),
            None
        );
        assert!(get_usage(&c, &UsageQuery::new().from("yesterday")).is_err());
    }

    #[test]
    fn upload_headers() {
        let meta = UploadMeta {
            content_type: Some("image/png".into()),
            ..UploadMeta::for_bytes(b"png")
        };
        let r = upload_file(&cfg(), &meta).unwrap();
        assert_eq!(r.uri().path(), "/v1/files");
        assert_eq!(r.headers()["content-type"], "image/png");
        assert_eq!(
            r.headers()["x-content-hash"].to_str().unwrap(),
            ContentHasher::hash(b"png")
        );
        let too_big = UploadMeta {
            length: Some(MAX_UPLOAD_BYTES + 1),
            ..UploadMeta::default()
        };
        assert!(matches!(
            upload_file(&cfg(), &too_big),
            Err(Error::InvalidInput(_))
        ));
        let plain = upload_file(&cfg(), &UploadMeta::default()).unwrap();
        assert_eq!(plain.headers()["content-type"], "application/octet-stream");
    }

    #[test]
    fn decode_job_with_meta() {
        let r = resp(
            202,
            &[
                ("x-cache", "HIT"),
                ("x-cache-key", "sha256:abc"),
                ("x-cache-ttl", "2592000"),
                ("x-request-id", "req_1"),
                ("x-other", "kept"),
            ],
            r#"{"job_id":"job_1","status":"completed","output":{"url":"https://s3.varg.ai/o/job_1.png"},"pricing":{"estimated":5},"new_field":1}"#,
        );
        let (job, meta) = decode::<CreateImage>(&r, SystemTime::UNIX_EPOCH).unwrap();
        assert!(job.is_terminal());
        assert_eq!(meta.status, StatusCode::ACCEPTED);
        assert_eq!(meta.cache_hit, Some(true));
        assert_eq!(meta.cache_key.as_deref(), Some("sha256:abc"));
        assert_eq!(meta.cache_ttl, Some(Duration::from_secs(2_592_000)));
        assert_eq!(meta.request_id.as_deref(), Some("req_1"));
        assert_eq!(meta.headers["x-other"], "kept");
    }

    #[test]
    fn decode_every_json_output() {
        let now = SystemTime::UNIX_EPOCH;
        let (b, _) = decode::<GetBalance>(
            &resp(200, &[], r#"{"balance_cents":5000,"currency":"usd"}"#),
            now,
        )
        .unwrap();
        assert_eq!(b.balance_cents, Some(5000.0));
        let (v, _) = decode::<ListVoices>(
            &resp(
                200,
                &[],
                r#"{"voices":[{"voice_id":"rachel","name":"Rachel"}]}"#,
            ),
            now,
        )
        .unwrap();
        assert_eq!(v.voices.len(), 1);
        let (m, _) = decode::<GetMe>(
            &resp(200, &[], r#"{"userId":"user_1","email":"a@b.c"}"#),
            now,
        )
        .unwrap();
        assert_eq!(m.user_id.as_deref(), Some("user_1"));
        let (u, _) =
            decode::<GetUsage>(&resp(200, &[], r#"{"usage":[],"total_cents":0}"#), now).unwrap();
        assert!(u.usage.is_empty());
        let (f, _) = decode::<UploadFile>(&resp(200, &[], r#"{"file_id":"f","url":"https://s3.varg.ai/u/x","hash":"sha256:1","size":3,"media_type":"image/png","deduplicated":false}"#), now).unwrap();
        assert_eq!(f.file_id.as_str(), "f");
        let (p, _) =
            decode::<ProbeMedia>(&resp(200, &[], r#"{"duration":12.5,"width":1920}"#), now)
                .unwrap();
        assert_eq!(p.width, Some(1920));
        let ((), meta) = decode::<CancelJob>(&resp(204, &[], ""), now).unwrap();
        assert_eq!(meta.status, StatusCode::NO_CONTENT);
    }

    #[test]
    fn error_bodies() {
        let now = SystemTime::UNIX_EPOCH;
        let flat = resp(
            400,
            &[],
            r#"{"error":"ValidationError","message":"prompt is required","field":"prompt","statusCode":400}"#,
        );
        let err = decode::<CreateImage>(&flat, now).unwrap_err();
        let api = err.api().unwrap();
        assert_eq!(api.code, Some(ErrorCode::ValidationError));
        assert_eq!(api.field.as_deref(), Some("prompt"));
        assert_eq!(api.message, "prompt is required");
        assert!(!err.is_retryable());

        let nested = resp(
            401,
            &[],
            r#"{"error":{"message":"Invalid API key","code":"invalid_key"}}"#,
        );
        let err = decode::<GetBalance>(&nested, now).unwrap_err();
        assert_eq!(err.api().unwrap().message, "Invalid API key");

        let provider = resp(
            502,
            &[],
            r#"{"error":"ProviderError","message":"upstream","provider":"fal"}"#,
        );
        let err = decode::<CreateVideo>(&provider, now).unwrap_err();
        assert_eq!(err.api().unwrap().provider.as_deref(), Some("fal"));
        assert!(err.is_retryable());

        let limited = resp(
            429,
            &[("retry-after", "60")],
            r#"{"error":"RateLimitError","message":"slow down"}"#,
        );
        let err = decode::<GetJob>(&limited, now).unwrap_err();
        assert_eq!(
            err.api().unwrap().retry_after,
            Some(Duration::from_secs(60))
        );

        let html = resp(502, &[], "<html><body>Bad Gateway</body></html>");
        let err = decode::<GetJob>(&html, now).unwrap_err();
        let api = err.api().unwrap();
        assert_eq!(api.message, "Bad Gateway");
        assert_eq!(api.code, None);
        assert_eq!(
            api.raw.as_deref(),
            Some("<html><body>Bad Gateway</body></html>")
        );

        let no_code = resp(413, &[], "");
        let err = decode::<UploadFile>(&no_code, now).unwrap_err();
        assert_eq!(err.status(), Some(StatusCode::PAYLOAD_TOO_LARGE));
        assert_eq!(err.api().unwrap().raw, None);

        // The documented 413 body: a message and a status, no code.
        let message_only = resp(
            413,
            &[("content-type", "application/json")],
            r#"{"message":"File exceeds the maximum upload size","statusCode":413}"#,
        );
        let err = decode::<UploadFile>(&message_only, now).unwrap_err();
        assert!(matches!(err, Error::Api(_)), "{err:?}");
        let api = err.api().unwrap();
        assert_eq!(api.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(api.code, None);
        assert_eq!(api.message, "File exceeds the maximum upload size");
        assert_eq!(api.raw, None);
    }

    #[test]
    fn undecodable_success_is_a_decode_error_with_raw_body() {
        let r = resp(200, &[], r#"{"balance_cents":"#);
        let err = decode::<GetBalance>(&r, SystemTime::UNIX_EPOCH).unwrap_err();
        match err {
            Error::Decode { raw, status, .. } => {
                assert_eq!(raw, r#"{"balance_cents":"#);
                assert_eq!(status, StatusCode::OK);
            }
            other => panic!("{other:?}"),
        }
        let big = "x".repeat(10_000);
        let r = http::Response::builder()
            .status(200)
            .body(Bytes::from(big))
            .unwrap();
        match decode::<GetJob>(&r, SystemTime::UNIX_EPOCH).unwrap_err() {
            Error::Decode { raw, .. } => assert!(raw.len() <= crate::error::RAW_SNIPPET_LIMIT + 3),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn stream_events() {
        let ev = |name: &str, data: &str| SseEvent {
            event: name.into(),
            data: data.into(),
            id: None,
            retry: None,
        };
        match decode_stream_event(&ev("status", r#"{"job_id":"j","status":"processing"}"#)).unwrap()
        {
            StreamItem::Status(job) => assert_eq!(job.status, JobStatus::Processing),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            decode_stream_event(&ev("progress", "42")).unwrap(),
            StreamItem::Other(_)
        ));
        assert!(matches!(
            decode_stream_event(&ev("status", "not json")),
            Err(Error::Decode { .. })
        ));
    }

    #[test]
    fn idempotency_follows_the_table() {
        for e in ENDPOINTS.iter() {
            let expected = match e.id {
                EndpointId::UploadFile => Idempotency::NonIdempotent,
                _ if e.creates_job => Idempotency::NonIdempotent,
                _ => Idempotency::Idempotent,
            };
            assert_eq!(idempotency(e), expected, "{:?}", e.id);
        }
        assert_eq!(
            idempotency(EndpointId::ProbeMedia.endpoint()),
            Idempotency::Idempotent
        );
        assert_eq!(
            idempotency(EndpointId::CreateImage.endpoint()),
            Idempotency::NonIdempotent
        );
    }
}
