//! The HTTP routes and their handlers.

// Handlers return `Response` as their error: it is what they answer with.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::StreamExt;
use rand::Rng;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::sync::{Notify, watch};
use varg_types::{
    Balance, CacheInfo, Capability, ENDPOINTS, EndpointId, ErrorBody, ErrorCode, FfmpegRequest,
    FileUploadResponse, ImageRequest, Job, JobId, JobMetadata, JobStatus, Me, ModelId,
    MusicRequest, OutputFiles, Pricing, ProbeRequest, ProbeResponse, ResizeRequest, Segment,
    SliceRequest, SpeechRequest, TranscriptionRequest, TrimRequest, UsageRecord, UsageResponse,
    Validate, VideoRequest, VoiceInfo, VoicesResponse,
};

use crate::config::{Fault, SseMode};
use crate::media::{self, MediaKind};
use crate::routes;
use crate::state::{
    FileRecord, JobData, OutputSpec, Plan, RequestRecord, Shared, owner_of, unix_us,
};
use crate::time::rfc3339_now;

type AppState = Arc<Shared>;

/// Closes the connection a request arrived on (inserted by the accept loop).
#[derive(Clone)]
pub(crate) struct ConnKill(pub Arc<Notify>);

/// A fault that the SSE handler applies itself.
#[derive(Clone, Copy)]
struct CutAfter(usize);

pub(crate) fn router(state: AppState) -> Router {
    let mut v1 = Router::new();
    for endpoint in ENDPOINTS.iter() {
        let path = endpoint.path;
        v1 = match endpoint.id {
            EndpointId::CreateVideo => v1.route(path, post(create_video)),
            EndpointId::CreateImage => v1.route(path, post(create_image)),
            EndpointId::CreateSpeech => v1.route(path, post(create_speech)),
            EndpointId::CreateMusic => v1.route(path, post(create_music)),
            EndpointId::CreateTranscription => v1.route(path, post(create_transcription)),
            EndpointId::GetJob => v1.route(path, get(get_job).delete(cancel_job)),
            EndpointId::CancelJob => v1,
            EndpointId::StreamJob => v1.route(path, get(stream_job)),
            EndpointId::UploadFile => v1.route(path, post(upload_file)),
            EndpointId::ListVoices => v1.route(path, get(list_voices)),
            EndpointId::GetBalance => v1.route(path, get(get_balance)),
            EndpointId::GetUsage => v1.route(path, get(get_usage)),
            EndpointId::GetMe => v1.route(path, get(get_me)),
            EndpointId::RunFfmpeg => v1.route(path, post(run_ffmpeg)),
            EndpointId::TrimVideo => v1.route(path, post(trim_video)),
            EndpointId::ResizeVideo => v1.route(path, post(resize_video)),
            EndpointId::SliceVideo => v1.route(path, post(slice_video)),
            EndpointId::ProbeMedia => v1.route(path, post(probe_media)),
            _ => v1,
        };
    }
    let v1 = v1
        .fallback(|| async {
            api_error(
                StatusCode::NOT_FOUND,
                ErrorCode::NotFoundError,
                "Route not found",
                None,
            )
        })
        .route_layer(middleware::from_fn_with_state(state.clone(), v1_guard));
    let public = Router::new()
        .route("/o/{*name}", get(download_output))
        .route("/u/{name}", get(download_file))
        .route_layer(middleware::from_fn_with_state(state.clone(), public_guard));
    Router::new()
        .nest("/v1", v1)
        .merge(public)
        .route(
            "/",
            get(|| async { "varg emulator: the API is under /v1\n" }),
        )
        .with_state(state)
}

// ---------------------------------------------------------------------------------------------
// JSON on the wire

/// A JSON body as the gateway writes it: whole numbers without a fraction (`5`, not `5.0`),
/// although the shared types hold them as `f64`.
struct Wire<T>(T);

impl<T: serde::Serialize> IntoResponse for Wire<T> {
    fn into_response(self) -> Response {
        axum::Json(wire_value(&self.0)).into_response()
    }
}

fn wire_value<T: serde::Serialize>(body: &T) -> Value {
    let mut value = serde_json::to_value(body).unwrap_or(Value::Null);
    integral_numbers(&mut value);
    value
}

fn integral_numbers(value: &mut Value) {
    match value {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f.abs() < 9.0e15
            {
                *value = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_numbers),
        Value::Object(map) => map.values_mut().for_each(integral_numbers),
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

fn api_error(
    status: StatusCode,
    code: ErrorCode,
    message: impl Into<String>,
    field: Option<&str>,
) -> Response {
    let mut body = ErrorBody::new(code, message).with_status(status.as_u16());
    if let Some(field) = field {
        body = body.with_field(field);
    }
    (status, Wire(body)).into_response()
}

fn validation(field: &str, message: impl Into<String>) -> Response {
    api_error(
        StatusCode::BAD_REQUEST,
        ErrorCode::ValidationError,
        message,
        Some(field),
    )
}

fn not_found(what: &str) -> Response {
    api_error(
        StatusCode::NOT_FOUND,
        ErrorCode::NotFoundError,
        format!("{what} not found"),
        None,
    )
}

fn rate_limited(retry_after: u64, message: &str) -> Response {
    let mut response = api_error(
        StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::RateLimitError,
        message,
        None,
    );
    if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

// ---------------------------------------------------------------------------------------------
// Middleware: request log, faults, auth, rate limit

fn route_name(method: &axum::http::Method, matched: Option<&str>) -> String {
    let Some(matched) = matched else {
        return "unknown".into();
    };
    if let Some(rest) = matched.strip_prefix("/v1") {
        for endpoint in ENDPOINTS.iter() {
            if endpoint.path == rest && endpoint.method.as_str() == method.as_str() {
                return endpoint.operation_id.to_string();
            }
        }
        return "unknown".into();
    }
    if matched.starts_with("/o/") {
        return routes::DOWNLOAD_OUTPUT.into();
    }
    if matched.starts_with("/u/") {
        return routes::DOWNLOAD_FILE.into();
    }
    "unknown".into()
}

fn record(state: &Shared, req: &Request) -> String {
    let matched = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let route = route_name(req.method(), matched.as_deref());
    let headers = req
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let record = RequestRecord {
        method: req.method().as_str().to_owned(),
        path: req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default(),
        route: route.clone(),
        headers,
    };
    let mut inner = state.lock();
    *inner.stats.per_route.entry(route.clone()).or_default() += 1;
    inner.stats.log.push(record);
    route
}

fn next_fault(state: &Shared, route: &str) -> Option<Fault> {
    let mut inner = state.lock();
    if let Some(queue) = inner.scripted.get_mut(route)
        && let Some(fault) = queue.pop_front()
    {
        return Some(fault);
    }
    let random = state.config.random_faults.as_ref()?;
    if random.faults.is_empty()
        || !(random.routes.is_empty() || random.routes.iter().any(|r| r == route))
    {
        return None;
    }
    let roll: f64 = inner.rng.random();
    if roll < random.probability {
        let index = inner.rng.random_range(0..random.faults.len());
        return random.faults.get(index).cloned();
    }
    None
}

/// Applies a fault; `Ok(())` means "answer normally" (possibly after a delay).
async fn apply_fault(fault: Fault, req: &mut Request) -> Result<(), Response> {
    match fault {
        Fault::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let code = match status.as_u16() {
                502 => ErrorCode::ProviderError,
                500 => ErrorCode::InternalError,
                429 => ErrorCode::RateLimitError,
                503 => ErrorCode::Unknown("ServiceUnavailable".into()),
                _ => ErrorCode::Unknown(
                    status
                        .canonical_reason()
                        .unwrap_or("Error")
                        .replace(' ', ""),
                ),
            };
            let mut response = api_error(status, code, "Injected fault", None);
            if status == StatusCode::BAD_GATEWAY {
                let body = ErrorBody::new(ErrorCode::ProviderError, "Provider returned an error")
                    .with_provider("fal")
                    .with_status(502);
                response = (status, Wire(body)).into_response();
            }
            Err(response)
        }
        Fault::RateLimited { retry_after_secs } => Err(rate_limited(
            retry_after_secs,
            &format!("Rate limit exceeded, retry after {retry_after_secs} seconds"),
        )),
        // Outside `/v1` there is no work to do first: the same as `Reset`.
        Fault::Reset | Fault::ResetAfterWork => {
            if let Some(kill) = req.extensions().get::<ConnKill>() {
                kill.0.notify_one();
            }
            // The accept loop drops the connection; never answer.
            std::future::pending::<()>().await;
            Err(StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
        Fault::Delay(d) => {
            tokio::time::sleep(d).await;
            Ok(())
        }
        Fault::CutStreamAfter(n) => {
            req.extensions_mut().insert(CutAfter(n));
            Ok(())
        }
        Fault::MalformedJson => Err((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "{\"job_id\": job_broken, \"status\": }",
        )
            .into_response()),
        Fault::TruncatedJson => Err((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "{\"job_id\":\"job_truncated\",\"status\":\"proc",
        )
            .into_response()),
        Fault::Html(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY);
            let reason = status.canonical_reason().unwrap_or("Error");
            let page = format!(
                "<!DOCTYPE html>\n<html><head><title>{code} {reason}</title></head>\n<body><h1>{code} {reason}</h1><hr><p>varg-emulator edge</p></body></html>\n",
                code = status.as_u16()
            );
            Err((
                status,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                page,
            )
                .into_response())
        }
    }
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, key) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let key = key.trim();
    (!key.is_empty()).then(|| key.to_owned())
}

async fn v1_guard(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let route = record(&state, &req);
    match next_fault(&state, &route) {
        Some(Fault::ResetAfterWork) => {
            if let Some(kill) = req.extensions().get::<ConnKill>().map(|k| Arc::clone(&k.0)) {
                // Let the handler act, then drop the connection instead of answering.
                let _ = v1_checked(state, req, next).await;
                kill.notify_one();
                // The accept loop drops the connection; never answer.
                std::future::pending::<()>().await;
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        }
        Some(fault) => {
            if let Err(response) = apply_fault(fault, &mut req).await {
                return response;
            }
        }
        None => {}
    }
    v1_checked(state, req, next).await
}

/// The rest of the `/v1` guard: authentication and limits, then the handler.
async fn v1_checked(state: AppState, mut req: Request, next: Next) -> Response {
    let Some(key) = bearer(req.headers()) else {
        return api_error(
            StatusCode::UNAUTHORIZED,
            ErrorCode::AuthError,
            "Missing API key: send Authorization: Bearer varg_...",
            None,
        );
    };
    let valid = match &state.config.api_key {
        Some(expected) => &key == expected,
        None => key.starts_with("varg_"),
    };
    if !valid {
        return api_error(
            StatusCode::UNAUTHORIZED,
            ErrorCode::AuthError,
            "Invalid API key",
            None,
        );
    }
    if let Some(limit) = state.config.requests_per_minute {
        let now = Instant::now();
        let window = Duration::from_secs(60);
        let mut inner = state.lock();
        let times = inner.rpm.entry(key.clone()).or_default();
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            times.pop_front();
        }
        if times.len() >= limit as usize {
            let oldest = times.front().copied().unwrap_or(now);
            let wait = window.saturating_sub(now.duration_since(oldest));
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            drop(inner);
            return rate_limited(
                secs.max(1),
                &format!(
                    "Rate limit of {limit} requests per minute exceeded, retry after {} seconds",
                    secs.max(1)
                ),
            );
        }
        times.push_back(now);
    }
    req.extensions_mut().insert(ApiKey(key));
    next.run(req).await
}

async fn public_guard(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let route = record(&state, &req);
    if let Some(fault) = next_fault(&state, &route)
        && let Err(response) = apply_fault(fault, &mut req).await
    {
        return response;
    }
    next.run(req).await
}

#[derive(Clone)]
struct ApiKey(String);

// ---------------------------------------------------------------------------------------------
// Request parsing

/// Emulator controls in `provider_options.emulator`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct EmulatorOptions {
    duration_ms: Option<u64>,
    queued_ms: Option<u64>,
    fail: Option<String>,
    provider: Option<String>,
    hold: bool,
    output_bytes: Option<u64>,
}

fn parse_body<T: serde::de::DeserializeOwned + Validate>(
    body: &Bytes,
    required: &[&str],
) -> Result<(T, Value), Response> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| validation("body", format!("request body is not valid JSON: {e}")))?;
    let Value::Object(map) = &value else {
        return Err(validation("body", "request body must be a JSON object"));
    };
    for field in required {
        match map.get(*field) {
            None | Some(Value::Null) => {
                return Err(validation(field, format!("{field} is required")));
            }
            _ => {}
        }
    }
    let typed: T = serde_json::from_value(value.clone()).map_err(|e| {
        let text = e.to_string();
        let field = text
            .split('`')
            .nth(1)
            .filter(|_| text.starts_with("missing field") || text.starts_with("unknown field"))
            .unwrap_or("body")
            .to_owned();
        validation(&field, format!("invalid request body: {text}"))
    })?;
    typed
        .validate()
        .map_err(|e| validation(&e.field, e.message.clone()))?;
    Ok((typed, value))
}

fn emulator_options(value: &Value) -> Result<EmulatorOptions, Response> {
    match value
        .get("provider_options")
        .and_then(|p| p.get("emulator"))
    {
        None | Some(Value::Null) => Ok(EmulatorOptions::default()),
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| {
            validation(
                "provider_options.emulator",
                format!("invalid emulator options: {e}"),
            )
        }),
    }
}

/// What a create handler hands to [`create_job`].
struct NewJob {
    /// The id the job will have.
    job_id: String,
    capability: Capability,
    /// Name used for pricing, e.g. `flux-pro` or `ffmpeg/trim`.
    price_name: String,
    /// Resolved `provider:model`; `None` for media jobs.
    model: Option<String>,
    default_duration: Duration,
    cache_parts: Vec<String>,
    outputs: Vec<(String, OutputSpec)>,
    metadata: Option<JobMetadata>,
    pricing: bool,
}

fn default_provider(capability: &Capability) -> &'static str {
    match capability {
        Capability::Speech | Capability::Music => "elevenlabs",
        _ => "fal",
    }
}

fn resolve_model(model: &ModelId, capability: &Capability) -> String {
    let parsed = model.parse_ref();
    if parsed.provider.is_some() {
        return model.as_str().to_owned();
    }
    let provider = model
        .info(capability)
        .and_then(|info| info.provider)
        .unwrap_or_else(|| default_provider(capability));
    format!("{}:{}", provider.to_ascii_lowercase(), parsed.model)
}

/// The gateway's answer to a model it does not serve for `capability`: 400 with
/// `field: "model"`, naming the capability the model belongs to or a close documented one.
/// Skipped with [`crate::EmulatorBuilder::accept_any_model`].
fn check_model(state: &Shared, model: &ModelId, capability: &Capability) -> Result<(), Response> {
    if state.config.accept_any_model {
        return Ok(());
    }
    varg_types::model::check(model.as_str(), capability)
        .map(|_| ())
        .map_err(|unknown| validation("model", unknown.to_string()))
}

fn price_for(state: &Shared, name: &str, capability: &Capability, model: Option<&ModelId>) -> i64 {
    if let Some(p) = state.config.prices.get(name) {
        return *p;
    }
    if let Some(credits) = model
        .and_then(|m| m.info(capability))
        .and_then(|i| i.credits)
    {
        return i64::from(credits.1);
    }
    match capability {
        Capability::Image => 5,
        Capability::Video => 100,
        Capability::Speech => 20,
        Capability::Music => 30,
        Capability::Transcription => 5,
        _ => 5,
    }
}

/// A content hash for an input URL: the SHA-256 of the bytes for files this emulator stores
/// or serves, otherwise of the URL itself.
fn input_hash(state: &AppState, url: &str) -> String {
    match local(state, url) {
        Some(Local::File(id)) => {
            let mut inner = state.lock();
            if let Some(file) = state.file(&mut inner, &id) {
                return file.hash;
            }
        }
        Some(Local::Output(name)) => {
            // Rendered with the placeholder origin, so the hash does not depend on the port.
            let spec = state.output_spec(&name);
            if let Some(bytes) = spec.and_then(|s| s.bytes(crate::state::ORIGIN_TOKEN)) {
                return format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
            }
        }
        None => {}
    }
    format!("url:{url}")
}

/// A URL served by this emulator.
enum Local {
    /// `/o/<name>`.
    Output(String),
    /// `/u/<file_id>.<ext>`, by file id.
    File(String),
}

/// The path of `url` if it is one of this emulator's: its own origin (or `localhost` for
/// `127.0.0.1`), or with a state directory any loopback origin, since URLs written by
/// earlier runs carry their port.
fn local(state: &Shared, url: &str) -> Option<Local> {
    let url = url.split(['?', '#']).next().unwrap_or(url);
    let alt = state.origin.replace("127.0.0.1", "localhost");
    let rest = [state.origin.as_str(), alt.as_str()]
        .iter()
        .find_map(|origin| url.strip_prefix(origin))
        .or_else(|| {
            state.disk.as_ref()?;
            let after = url.strip_prefix("http://")?;
            let host = ["127.0.0.1:", "localhost:", "[::1]:"]
                .iter()
                .find_map(|h| after.strip_prefix(h))?;
            let port_len = host.bytes().take_while(u8::is_ascii_digit).count();
            (port_len > 0).then(|| &host[port_len..])
        })?;
    if let Some(name) = rest.strip_prefix("/o/") {
        return Some(Local::Output(name.to_owned()));
    }
    if let Some(name) = rest.strip_prefix("/u/") {
        return Some(Local::File(
            name.split('.').next().unwrap_or(name).to_owned(),
        ));
    }
    None
}

/// Bytes of a URL this emulator stores or serves.
async fn resolve_bytes(state: &AppState, url: &str) -> Option<Result<Vec<u8>, String>> {
    match local(state, url)? {
        Local::Output(name) => {
            let spec = state.output_spec(&name)?;
            Some(
                spec.bytes(&state.origin)
                    .ok_or_else(|| "a streamed placeholder body has no media metadata".to_owned()),
            )
        }
        Local::File(id) => {
            let path = {
                let mut inner = state.lock();
                state.file(&mut inner, &id).map(|f| f.path)?
            };
            Some(tokio::fs::read(path).await.map_err(|e| e.to_string()))
        }
    }
}

/// Metadata of a source for trim/resize/slice; unknown sources count as a 1280x720 10 s MP4.
async fn source_meta(state: &AppState, url: &str) -> media::Probe {
    if let Some(Ok(bytes)) = resolve_bytes(state, url).await
        && let Ok(p) = media::probe(&bytes)
    {
        return p;
    }
    media::Probe {
        kind: Some(MediaKind::Mp4),
        duration: Some(10.0),
        width: Some(1280),
        height: Some(720),
        ..media::Probe::default()
    }
}

fn cache_mode(headers: &HeaderMap) -> (bool, bool) {
    // (lookup, store)
    let value = headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",")
        .to_ascii_lowercase();
    let has = |d: &str| value.split(',').any(|p| p.trim() == d);
    if has("no-store") {
        (false, false)
    } else if has("no-cache") {
        (false, true)
    } else {
        (true, true)
    }
}

fn scaled_ms(ms: u64, state: &Shared) -> Duration {
    state.config.scaled(Duration::from_millis(ms))
}

async fn create_job(
    state: AppState,
    key: &str,
    headers: &HeaderMap,
    value: &Value,
    mut new: NewJob,
) -> Response {
    let options = match emulator_options(value) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let ext_options = options.output_bytes.or(state.config.output_size);
    if let Some(len) = ext_options {
        for (_, spec) in new.outputs.iter_mut() {
            *spec = OutputSpec::Sized {
                len,
                kind: spec.kind(),
            };
        }
    }
    let mut cache_parts = vec![new.capability.as_str().to_owned(), new.price_name.clone()];
    cache_parts.append(&mut new.cache_parts);
    if let Some(emu) = value
        .get("provider_options")
        .and_then(|p| p.get("emulator"))
    {
        cache_parts.push(format!("emulator={emu}"));
    }
    let cache_key = format!(
        "sha256:{}",
        hex::encode(Sha256::digest(cache_parts.join("\u{1f}").as_bytes()))
    );
    let ttl = state.config.cache_ttl;
    let (lookup, store) = cache_mode(headers);
    let byok = headers
        .keys()
        .any(|k| k.as_str().starts_with("x-provider-key-"));
    let now = rfc3339_now();

    let owner = owner_of(key);
    let created_unix_us = unix_us();
    let mut inner = state.lock();
    // Cache lookup.
    if lookup {
        let ttl_us = u64::try_from(ttl.as_micros()).unwrap_or(u64::MAX);
        let hit = state.cache_get(&mut inner, &cache_key).and_then(|entry| {
            (created_unix_us.saturating_sub(entry.stored_unix_us) < ttl_us).then_some(entry.job)
        });
        if let Some(cached) = hit {
            let id = new.job_id.clone();
            let mut job = cached;
            job.job_id = JobId::new(id.clone());
            job.created_at = Some(now.clone());
            job.completed_at = Some(now.clone());
            job.cache = Some(CacheInfo {
                hit: true,
                key: Some(cache_key.clone()),
                ..CacheInfo::default()
            });
            if job.pricing.is_some() {
                job.pricing = Some(Pricing {
                    estimated: Some(0.0),
                    billing: job.pricing.as_ref().and_then(|p| p.billing.clone()),
                    ..Pricing::default()
                });
            }
            let data = JobData {
                job: job.clone(),
                owner,
                created_unix_us,
                cost_cents: 0,
                usage_cents: 0,
                capability: new.capability.clone(),
                cache_hit: true,
                cache_key: cache_key.clone(),
                store_in_cache: false,
                outputs: Vec::new(),
                plan: None,
            };
            state.insert_job(&mut inner, data);
            inner.stats.jobs_created += 1;
            inner.stats.cache_hits += 1;
            drop(inner);
            return job_response(StatusCode::ACCEPTED, &job, Some(("HIT", &cache_key, ttl)));
        }
    }
    // Concurrency limit.
    if let Some(limit) = state.config.concurrent_jobs {
        let active = inner
            .jobs
            .values()
            .filter(|r| r.data.owner == owner && !r.data.job.status.is_terminal())
            .count();
        if active >= limit as usize {
            return rate_limited(
                1,
                &format!("Too many concurrent jobs (limit {limit}), retry after 1 seconds"),
            );
        }
    }
    // Balance.
    let model_id = new
        .model
        .is_some()
        .then(|| ModelId::new(new.price_name.clone()));
    let price = if byok {
        0
    } else {
        price_for(&state, &new.price_name, &new.capability, model_id.as_ref())
    };
    let balance = state.balance(&mut inner);
    if balance < price {
        return api_error(
            StatusCode::PAYMENT_REQUIRED,
            ErrorCode::InsufficientBalanceError,
            format!(
                "Insufficient balance: this job costs {price} credits and the balance is {balance}. Add credits at varg.ai/dashboard"
            ),
            None,
        );
    }
    state.add_balance(&mut inner, -price);

    let id = new.job_id.clone();
    let mut job = Job::new(id.clone(), JobStatus::Queued);
    job.model = new.model.clone();
    job.created_at = Some(now.clone());
    job.cache = Some(CacheInfo {
        hit: false,
        key: Some(cache_key.clone()),
        ..CacheInfo::default()
    });
    if new.pricing {
        job.pricing = Some(Pricing {
            estimated: Some(price as f64),
            billing: Some(if byok {
                varg_types::BillingType::Byok
            } else {
                varg_types::BillingType::Metered
            }),
            ..Pricing::default()
        });
    }

    // Timing.
    let total = options
        .duration_ms
        .map(|ms| scaled_ms(ms, &state))
        .unwrap_or_else(|| state.config.scaled(new.default_duration));
    let queued = options
        .queued_ms
        .map(|ms| scaled_ms(ms, &state))
        .unwrap_or(total / 5);
    let micros = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
    let plan = Plan {
        queued_us: micros(queued),
        total_us: micros(queued.max(total)),
        hold: options.hold,
        fail: options
            .fail
            .as_ref()
            .map(|message| match &options.provider {
                Some(p) => format!("{p}: {message}"),
                None => message.clone(),
            }),
        output: new.outputs.first().map(|(name, spec)| {
            (
                format!("{}/o/{name}", state.origin),
                spec.kind()
                    .mime()
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .to_owned(),
            )
        }),
        metadata: new.metadata.take(),
    };
    let data = JobData {
        job: job.clone(),
        owner,
        created_unix_us,
        cost_cents: price,
        usage_cents: price,
        capability: new.capability.clone(),
        cache_hit: false,
        cache_key: cache_key.clone(),
        store_in_cache: store,
        outputs: std::mem::take(&mut new.outputs),
        plan: Some(plan),
    };
    state.insert_job(&mut inner, data);
    inner.stats.jobs_created += 1;
    let abort = state.schedule(&id, Duration::ZERO);
    if let Some(record) = inner.jobs.get_mut(&id) {
        record.abort = Some(abort);
    }
    drop(inner);
    job_response(StatusCode::ACCEPTED, &job, Some(("MISS", &cache_key, ttl)))
}

fn job_response(status: StatusCode, job: &Job, cache: Option<(&str, &str, Duration)>) -> Response {
    let mut response = (status, Wire(job)).into_response();
    if let Some((mode, key, ttl)) = cache {
        let headers = response.headers_mut();
        headers.insert(
            "x-cache",
            HeaderValue::from_static(if mode == "HIT" { "HIT" } else { "MISS" }),
        );
        if let Ok(v) = HeaderValue::from_str(key) {
            headers.insert("x-cache-key", v);
        }
        if let Ok(v) = HeaderValue::from_str(&ttl.as_secs().to_string()) {
            headers.insert("x-cache-ttl", v);
        }
    }
    response
}

/// A fresh job id; outputs are named after it (`/o/<job_id>.png`).
fn new_job_id(state: &Shared) -> String {
    state.lock().new_id("job")
}

fn image_spec(state: &Shared, ratio: &str, prompt: &str, model: &str, job_id: &str) -> OutputSpec {
    let (width, height) = media::dimensions_for_aspect(ratio, state.config.long_side)
        .unwrap_or((state.config.long_side, state.config.long_side));
    // The first characters of the prompt, the model and the job id, so outputs differ.
    let mut head: String = prompt.chars().take(40).collect();
    if prompt.chars().count() > 40 {
        head.push_str("...");
    }
    OutputSpec::Png {
        width,
        height,
        colour: media::colour_for(prompt),
        label: vec![head, model.to_owned(), job_id.to_owned()],
    }
}

fn files_hashes(state: &AppState, files: Option<&Vec<varg_types::FileRef>>) -> Vec<String> {
    files
        .map(|f| f.iter().map(|file| input_hash(state, &file.url)).collect())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Generation handlers

async fn create_image(
    State(state): State<AppState>,
    axum::Extension(ApiKey(key)): axum::Extension<ApiKey>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (req, value) = match parse_body::<ImageRequest>(&body, &["model", "prompt"]) {
        Ok(v) => v,
        Err(r) => return r,
    };
    if let Err(r) = check_model(&state, &req.model, &Capability::Image) {
        return r;
    }
    let ratio = req
        .aspect_ratio
        .as_ref()
        .map(|a| a.as_str().to_owned())
        .unwrap_or_else(|| "1:1".into());
    let mut parts = vec![req.prompt.clone(), format!("aspect={ratio}")];
    parts.extend(files_hashes(&state, req.files.as_ref()));
    let job_id = new_job_id(&state);
    let name = format!("{job_id}.{}", "png");
    let spec = image_spec(&state, &ratio, &req.prompt, req.model.as_str(), &job_id);
    let new = NewJob {
        job_id,
        capability: Capability::Image,
        price_name: req.model.as_str().to_owned(),
        model: Some(resolve_model(&req.model, &Capability::Image)),
        default_duration: state.config.durations.image,
        cache_parts: parts,
        outputs: vec![(name, spec)],
        metadata: None,
        pricing: false,
    };
    create_job(state, &key, &headers, &value, new).await
}

async fn create_video(
    State(state): State<AppState>,
    axum::Extension(ApiKey(key)): axum::Extension<ApiKey>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (req, value) = match parse_body::<VideoRequest>(&body, &["model", "prompt"]) {
        Ok(v) => v,
        Err(r) => return r,
    };
    if let Err(r) = check_model(&state, &req.model, &Capability::Video) {
        return r;
    }
    let ratio = req
        .aspect_ratio
        .as_ref()
        .map(|a| a.as_str().to_owned())
        .unwrap_or_else(|| "16:9".into());
    let duration = req.duration.unwrap_or(5.0);
    let (width, height) = media::dimensions_for_aspect(&ratio, 1280).unwrap_or((1280, 720));
    let mut parts = vec![
        req.prompt.clone(),
        format!("aspect={ratio}"),
        format!("duration={duration}"),
    ];
    parts.extend(files_hashes(&state, req.files.as_ref()));
    let job_id = new_job_id(&state);
    let name = format!("{job_id}.{}", "mp4");
    let new = NewJob {
        job_id,
        capability: Capability::Video,
        price_name: req.model.as_str().to_owned(),
        model: Some(resolve_model(&req.model, &Capability::Video)),
        default_duration: state.config.durations.video,
        cache_parts: parts,
        outputs: vec![(
            name,
            OutputSpec::Mp4 {
                width,
                height,
                secs: duration,
            },
        )],
        metadata: None,
        pricing: false,
    };
    create_job(state, &key, &headers, &value, new).await
}

async fn create_speech(
    State(state): State<AppState>,
    axum::Extension(ApiKey(key)): axum::Extension<ApiKey>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (req, value) = match parse_body::<SpeechRequest>(&body, &["model", "text"]) {
        Ok(v) => v,
        Err(r) => return r,
    };
    if let Err(r) = check_model(&state, &req.model, &Capability::Speech) {
        return r;
    }
    let voice = req
        .voice
        .as_ref()
        .map(|v| v.as_str().to_owned())
        .unwrap_or_else(|| "rachel".into());
    // About 15 characters per second of speech, at least one second.
    let secs = ((req.text.chars().count() as f64) / 15.0).clamp(1.0, 120.0);
    let job_id = new_job_id(&state);
    let name = format!("{job_id}.{}", "mp3");
    let new = NewJob {
        job_id,
        capability: Capability::Speech,
        price_name: req.model.as_str().to_owned(),
        model: Some(resolve_model(&req.model, &Capability::Speech)),
        default_duration: state.config.durations.speech,
        cache_parts: vec![req.text.clone(), format!("voice={voice}")],
        outputs: vec![(
            name,
            OutputSpec::Mp3 {
                secs: (secs * 10.0).round() / 10.0,
            },
        )],
        metadata: None,
        pricing: false,
    };
    create_job(state, &key, &headers, &value, new).await
}

async fn create_music(
    State(state): State<AppState>,
    axum::Extension(ApiKey(key)): axum::Extension<ApiKey>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (req, value) = match parse_body::<MusicRequest>(&body, &["model", "prompt"]) {
        Ok(v) => v,
        Err(r) => return r,
    };
    if let Err(r) = check_model(&state, &req.model, &Capability::Music) {
        return r;
    }
    let duration = req.duration.unwrap_or(30.0);
    if !(duration.is_finite() && duration > 0.0 && duration <= 600.0) {
        return validation("duration", "duration must be between 0 and 600 seconds");
    }
    let job_id = new_job_id(&state);
    let name = format!("{job_id}.{}", "mp3");
    let new = NewJob {
        job_id,
        capability: Capability::Music,
        price_name: req.model.as_str().to_owned(),
        model: Some(resolve_model(&req.model, &Capability::Music)),
        default_duration: state.config.durations.music,
        cache_parts: vec![req.prompt.clone(), format!("duration={duration}")],
        outputs: vec![(name, OutputSpec::Mp3 { secs: duration })],
        metadata: None,
        pricing: false,
    };
    create_job(state, &key, &headers, &value, new).await
}

async fn create_transcription(
    State(state): State<AppState>,
    axum::Extension(ApiKey(key)): axum::Extension<ApiKey>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (req, value) = match parse_body::<TranscriptionRequest>(&body, &["model", "audio_url"]) {
        Ok(v) => v,
        Err(r) => return r,
    };
    if let Err(r) = check_model(&state, &req.model, &Capability::Transcription) {
        return r;
    }
    let hash = input_hash(&state, &req.audio_url);
    let job_id = new_job_id(&state);
    let name = format!("{job_id}.{}", "json");
    let new = NewJob {
        job_id,
        capability: Capability::Transcription,
        price_name: req.model.as_str().to_owned(),
        model: Some(resolve_model(&req.model, &Capability::Transcription)),
        default_duration: state.config.durations.transcription,
        cache_parts: vec![
            hash,
            format!("language={}", req.language.clone().unwrap_or_default()),
        ],
        outputs: vec![(
            name,
            OutputSpec::json(
                &media::transcription_json(&req.audio_url, req.language.as_deref()),
                &state.origin,
            ),
        )],
        metadata: None,
        pricing: false,
    };
    create_job(state, &key, &headers, &value, new).await
}

// ---------------------------------------------------------------------------------------------
// Media processing

fn media_job(
    state: &Shared,
    job_id: String,
    route: &str,
    parts: Vec<String>,
    outputs: Vec<(String, OutputSpec)>,
    metadata: Option<JobMetadata>,
) -> NewJob {
    NewJob {
        job_id,
        capability: Capability::Unknown("ffmpeg".into()),
        price_name: route.to_owned(),
        model: None,
        default_duration: state.config.durations.media,
        cache_parts: parts,
        outputs,
        metadata,
        pricing: true,
    }
}

fn spec_like(
    source: &media::Probe,
    width: Option<u32>,
    height: Option<u32>,
    secs: Option<f64>,
) -> OutputSpec {
    let w = width.or(source.width).unwrap_or(1280);
    let h = height.or(source.height).unwrap_or(720);
    match source.kind {
        Some(MediaKind::Png) => OutputSpec::Png {
            width: w,
            height: h,
            colour: [90, 90, 90],
            label: Vec::new(),
        },
        Some(MediaKind::Wav) => OutputSpec::Wav {
            secs: secs.or(source.duration).unwrap_or(1.0),
        },
        Some(MediaKind::Mp3) => OutputSpec::Mp3 {
            secs: secs.or(source.duration).unwrap_or(1.0),
        },
        _ => OutputSpec::Mp4 {
            width: w,
            height: h,
            secs: secs.or(source.duration).unwrap_or(10.0),
        },
    }
}

async fn trim_video(
    State(state): State<AppState>,
    axum::Extension(ApiKey(key)): axum::Extension<ApiKey>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (req, value) = match parse_body::<TrimRequest>(&body, &["url", "start"]) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let source = source_meta(&state, &req.url).await;
    let total = source.duration.unwrap_or(10.0);
    if req.start >= total && total > 0.0 {
        return validation(
            "start",
            format!(
                "start ({}) is beyond the end of the media ({total} s)",
                req.start
            ),
        );
    }
    let end = req
        .end
        .or(req.duration.map(|d| req.start + d))
        .unwrap_or(total)
        .min(total);
    if end <= req.start {
        return validation("end", "end must be after start");
    }
    let secs = ((end - req.start) * 1000.0).round() / 1000.0;
    let spec = spec_like(&source, None, None, Some(secs));
    let job_id = new_job_id(&state);
    let name = format!("{job_id}.{}", spec.kind().extension());
    let parts = vec![
        input_hash(&state, &req.url),
        format!("trim={}-{end}", req.start),
    ];
    let new = media_job(
        &state,
        job_id,
        "ffmpeg/trim",
        parts,
        vec![(name, spec)],
        None,
    );
    create_job(state, &key, &headers, &value, new).await
}

async fn resize_video(
    State(state): State<AppState>,
    axum::Extension(ApiKey(key)): axum::Extension<ApiKey>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (req, value) = match parse_body::<ResizeRequest>(&body, &["url"]) {
        Ok(v) => v,
        Err(r) => return r,
    };
    if req.width.is_none() && req.height.is_none() {
        return validation("width", "width or height is required");
    }
    let source = source_meta(&state, &req.url).await;
    let (sw, sh) = (
        source.width.unwrap_or(1280).max(1) as u64,
        source.height.unwrap_or(720).max(1) as u64,
    );
    let (width, height) = match (req.width, req.height) {
        (Some(w), Some(h)) => (w, h),
        (Some(w), None) => (w, ((w as u64 * sh + sw / 2) / sw).max(1) as u32),
        (None, Some(h)) => (((h as u64 * sw + sh / 2) / sh).max(1) as u32, h),
        (None, None) => (sw as u32, sh as u32),
    };
    if width > 7680 || height > 7680 {
        return validation(
            if width > 7680 { "width" } else { "height" },
            "dimensions are limited to 7680 pixels",
        );
    }
    let spec = spec_like(&source, Some(width), Some(height), None);
    let job_id = new_job_id(&state);
    let name = format!("{job_id}.{}", spec.kind().extension());
    let fit = req
        .fit
        .as_ref()
        .map(|f| f.as_str().to_owned())
        .unwrap_or_else(|| "cover".into());
    let parts = vec![
        input_hash(&state, &req.url),
        format!("resize={width}x{height}:{fit}"),
    ];
    let new = media_job(
        &state,
        job_id,
        "ffmpeg/resize",
        parts,
        vec![(name, spec)],
        None,
    );
    create_job(state, &key, &headers, &value, new).await
}

fn slice_bounds(req: &SliceRequest, total: f64) -> Vec<(f64, f64)> {
    let round = |x: f64| (x * 1000.0).round() / 1000.0;
    let mut out = Vec::new();
    if let Some(ranges) = &req.ranges {
        for r in ranges {
            out.push((round(r.start.max(0.0)), round(r.end.min(total))));
        }
    } else if let Some(at) = &req.at {
        let mut cuts: Vec<f64> = at
            .iter()
            .copied()
            .filter(|t| *t > 0.0 && *t < total)
            .collect();
        cuts.sort_by(|a, b| a.total_cmp(b));
        cuts.dedup();
        let mut start = 0.0;
        for cut in cuts {
            out.push((round(start), round(cut)));
            start = cut;
        }
        out.push((round(start), round(total)));
    } else if let Some(count) = req.count {
        let n = count.max(1) as f64;
        for i in 0..count.max(1) {
            out.push((
                round(total * i as f64 / n),
                round(total * (i + 1) as f64 / n),
            ));
        }
    } else if let Some(every) = req.every.filter(|e| *e > 0.0) {
        let mut start = 0.0;
        while start < total - 1e-9 && out.len() < 1000 {
            out.push((round(start), round((start + every).min(total))));
            start += every;
        }
    } else {
        out.push((0.0, round(total)));
    }
    out.retain(|(s, e)| e > s);
    out
}

async fn slice_video(
    State(state): State<AppState>,
    axum::Extension(ApiKey(key)): axum::Extension<ApiKey>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (req, value) = match parse_body::<SliceRequest>(&body, &["video_url"]) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let source = source_meta(&state, &req.video_url).await;
    let total = source.duration.unwrap_or(10.0);
    let bounds = slice_bounds(&req, total);
    if bounds.is_empty() {
        return validation("ranges", "no segment falls inside the media");
    }
    let (width, height) = (source.width.unwrap_or(1280), source.height.unwrap_or(720));
    let thumbnails = req.thumbnails.unwrap_or(true);
    let job_id = new_job_id(&state);
    let base = job_id.clone();
    let mut outputs = Vec::new();
    let mut segments = Vec::new();
    for (i, (start, end)) in bounds.iter().enumerate() {
        let n = i + 1;
        let seg_name = format!("{base}/segment_{n:03}.mp4");
        outputs.push((
            seg_name.clone(),
            OutputSpec::Mp4 {
                width,
                height,
                secs: ((end - start) * 1000.0).round() / 1000.0,
            },
        ));
        let mut segment = Segment {
            url: Some(format!("{}/o/{seg_name}", state.origin)),
            start: Some(*start),
            end: Some(*end),
            ..Segment::default()
        };
        segment.extra.insert("index".into(), json!(n));
        segment.extra.insert(
            "duration".into(),
            json!(((end - start) * 1000.0).round() / 1000.0),
        );
        if thumbnails {
            let first = format!("{base}/segment_{n:03}_first_frame.png");
            let thumb_h = ((480u64 * height as u64) / width.max(1) as u64).max(1) as u32;
            let thumb = format!("{base}/segment_{n:03}_thumbnail.png");
            outputs.push((
                first.clone(),
                OutputSpec::Png {
                    width,
                    height,
                    colour: [60, 60, 60],
                    label: Vec::new(),
                },
            ));
            outputs.push((
                thumb.clone(),
                OutputSpec::Png {
                    width: 480,
                    height: thumb_h,
                    colour: [60, 60, 60],
                    label: Vec::new(),
                },
            ));
            segment.first_frame = Some(format!("{}/o/{first}", state.origin));
            segment.thumbnail = Some(format!("{}/o/{thumb}", state.origin));
        }
        segments.push(segment);
    }
    // The job output is a JSON manifest of the segments; it is listed first.
    let manifest = serde_json::to_vec_pretty(&json!({ "segments": segments })).unwrap_or_default();
    outputs.insert(
        0,
        (
            format!("{base}.json"),
            OutputSpec::json(&manifest, &state.origin),
        ),
    );
    let metadata = JobMetadata {
        segments: Some(segments),
        ..JobMetadata::default()
    };
    let codec = req
        .codec
        .as_ref()
        .map(|c| c.as_str().to_owned())
        .unwrap_or_else(|| "copy".into());
    let parts = vec![
        input_hash(&state, &req.video_url),
        format!("slice={bounds:?}:{codec}:{thumbnails}"),
    ];
    let new = media_job(
        &state,
        job_id,
        "ffmpeg/slice",
        parts,
        outputs,
        Some(metadata),
    );
    create_job(state, &key, &headers, &value, new).await
}

async fn run_ffmpeg(
    State(state): State<AppState>,
    axum::Extension(ApiKey(key)): axum::Extension<ApiKey>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (req, value) = match parse_body::<FfmpegRequest>(&body, &["command"]) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let first_input = req.url.clone().or_else(|| {
        req.input_files
            .as_ref()
            .and_then(|m| m.values().next().cloned())
    });
    let source = match &first_input {
        Some(url) => source_meta(&state, url).await,
        None => source_meta(&state, "").await,
    };
    let file_names: Vec<String> = match &req.output_files {
        Some(OutputFiles::Named(map)) if !map.is_empty() => map.values().cloned().collect(),
        _ => vec!["output.mp4".into()],
    };
    let job_id = new_job_id(&state);
    let base = job_id.clone();
    let mut outputs = Vec::new();
    for file in &file_names {
        let ext = file.rsplit_once('.').map(|(_, e)| e).unwrap_or("mp4");
        let kind = MediaKind::from_extension(ext).unwrap_or(MediaKind::OctetStream);
        let spec = match kind {
            MediaKind::Png | MediaKind::Jpeg | MediaKind::Webp | MediaKind::Gif => {
                OutputSpec::Png {
                    width: source.width.unwrap_or(1280),
                    height: source.height.unwrap_or(720),
                    colour: [120, 120, 120],
                    label: Vec::new(),
                }
            }
            MediaKind::Wav => OutputSpec::Wav {
                secs: source.duration.unwrap_or(10.0),
            },
            MediaKind::Mp3 => OutputSpec::Mp3 {
                secs: source.duration.unwrap_or(10.0),
            },
            MediaKind::Json | MediaKind::Text => OutputSpec::json(b"{}", &state.origin),
            _ => OutputSpec::Mp4 {
                width: source.width.unwrap_or(1280),
                height: source.height.unwrap_or(720),
                secs: source.duration.unwrap_or(10.0),
            },
        };
        let safe: String = file
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        // Serve generated kinds under their real extension.
        let safe = match spec.kind() {
            MediaKind::Png if kind != MediaKind::Png => format!("{safe}.png"),
            MediaKind::Wav if kind != MediaKind::Wav => format!("{safe}.wav"),
            _ => safe,
        };
        outputs.push((format!("{base}/{safe}"), spec));
    }
    let mut metadata = JobMetadata::default();
    metadata.extra.insert(
        "outputs".into(),
        Value::Array(
            outputs
                .iter()
                .map(|(n, _)| Value::String(format!("{}/o/{n}", state.origin)))
                .collect(),
        ),
    );
    let mut parts = vec![req.command.clone()];
    if let Some(url) = &first_input {
        parts.push(input_hash(&state, url));
    }
    parts.push(format!("outputs={file_names:?}"));
    let new = media_job(&state, job_id, "ffmpeg", parts, outputs, Some(metadata));
    create_job(state, &key, &headers, &value, new).await
}

async fn probe_media(State(state): State<AppState>, body: Bytes) -> Response {
    let (req, _) = match parse_body::<ProbeRequest>(&body, &["url"]) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let bytes = match resolve_bytes(&state, &req.url).await {
        Some(Ok(bytes)) => bytes,
        Some(Err(e)) => return validation("url", format!("cannot read media: {e}")),
        None => {
            return validation(
                "url",
                "cannot fetch the URL: the emulator only probes files it stores or serves",
            );
        }
    };
    match media::probe(&bytes) {
        Ok(p) => {
            let mut response = ProbeResponse {
                duration: p.duration,
                width: p.width,
                height: p.height,
                codec: p.codec,
                audio_codec: p.audio_codec,
                format: p.format,
                bitrate: p.bitrate.map(|b| b as f64),
                fps: p.fps,
                size_bytes: Some(p.size_bytes),
                extra: Map::new(),
            };
            if let Some(kind) = p.kind {
                response
                    .extra
                    .insert("media_type".into(), json!(kind.mime()));
            }
            (StatusCode::OK, Wire(response)).into_response()
        }
        Err(e) => validation("url", format!("cannot read media: {e}")),
    }
}

// ---------------------------------------------------------------------------------------------
// Jobs

/// Job `id` as it is now, from memory or the state directory.
fn current_job(state: &AppState, id: &str) -> Option<Job> {
    let mut inner = state.lock();
    if !state.ensure_job(&mut inner, id) {
        return None;
    }
    inner.jobs.get(id).map(|r| r.data.job.clone())
}

async fn get_job(State(state): State<AppState>, Path(job_id): Path<String>) -> Response {
    match current_job(&state, &job_id) {
        Some(job) => job_response(StatusCode::OK, &job, None),
        None => not_found("Job"),
    }
}

async fn cancel_job(State(state): State<AppState>, Path(job_id): Path<String>) -> Response {
    match state.cancel(&job_id) {
        Some(()) => StatusCode::NO_CONTENT.into_response(),
        None => not_found("Job"),
    }
}

/// How often a stream looks at the stored job (with a state directory).
const DISK_POLL: Duration = Duration::from_millis(250);

async fn stream_job(
    State(state): State<AppState>,
    Path(job_id): Path<String>,
    cut: Option<axum::Extension<CutAfter>>,
) -> Response {
    let mode = state.lock().sse_mode;
    match mode {
        SseMode::Enabled => {}
        SseMode::NotFound => return not_found("Route"),
        SseMode::Unavailable => {
            return api_error(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Unknown("ServiceUnavailable".into()),
                "Streaming is disabled",
                None,
            );
        }
    }
    let rx = {
        let mut inner = state.lock();
        if !state.ensure_job(&mut inner, &job_id) {
            return not_found("Job");
        }
        match inner.jobs.get(&job_id) {
            Some(record) => record.tx.subscribe(),
            None => return not_found("Job"),
        }
    };
    // With a state directory another process may cancel or finish the job: look at the
    // stored version now and then.
    let refresh = state
        .disk
        .is_some()
        .then(|| (state.clone(), job_id.clone()));
    let limit = cut.map(|c| c.0.0);
    let deadline = tokio::time::Instant::now() + state.config.max_stream;
    struct St {
        rx: watch::Receiver<Job>,
        first: bool,
        done: bool,
        sent: usize,
        limit: Option<usize>,
        deadline: tokio::time::Instant,
        refresh: Option<(AppState, String)>,
    }
    let st = St {
        rx,
        first: true,
        done: false,
        sent: 0,
        limit,
        deadline,
        refresh,
    };
    let events = futures_util::stream::unfold(st, |mut st| async move {
        if st.done || st.limit.is_some_and(|l| st.sent >= l) {
            return None;
        }
        while !st.first {
            tokio::select! {
                changed = st.rx.changed() => {
                    changed.ok()?;
                    break;
                }
                _ = tokio::time::sleep_until(st.deadline) => return None,
                _ = tokio::time::sleep(DISK_POLL), if st.refresh.is_some() => {
                    if let Some((state, id)) = &st.refresh {
                        let mut inner = state.lock();
                        state.ensure_job(&mut inner, id);
                    }
                }
            }
        }
        st.first = false;
        let job = st.rx.borrow_and_update().clone();
        st.done = job.status.is_terminal();
        st.sent += 1;
        let data = wire_value(&job).to_string();
        Some((
            Ok::<Event, Infallible>(Event::default().event("status").data(data)),
            st,
        ))
    });
    Sse::new(events)
        .keep_alive(
            KeepAlive::new()
                .interval(state.config.keepalive.max(Duration::from_millis(1)))
                .text("keepalive"),
        )
        .into_response()
}

// ---------------------------------------------------------------------------------------------
// Files

async fn upload_file(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let max = state.config.max_upload_bytes;
    let too_large = || {
        // The documented 413 carries no error code: only a message and the status.
        let body = json!({
            "message": format!("File exceeds the maximum upload size of {} bytes (50 MB)", max),
            "statusCode": 413,
        });
        (StatusCode::PAYLOAD_TOO_LARGE, Wire(body)).into_response()
    };
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > max
    {
        drain(&mut body.into_data_stream(), DRAIN_LIMIT).await;
        return too_large();
    }
    // Deduplication by the announced hash: the body is not stored, but it is read and
    // discarded first, so that a client still sending it gets the answer rather than a
    // reset connection.
    if let Some(claimed) = headers.get("x-content-hash").and_then(|v| v.to_str().ok()) {
        let claimed = normalise_hash(claimed);
        let existing = {
            let mut inner = state.lock();
            state
                .file_by_hash(&mut inner, &claimed)
                .map(|f| file_response_dedup(&f, &state.origin))
        };
        if let Some(resp) = existing {
            match drain(&mut body.into_data_stream(), DRAIN_LIMIT).await {
                Drained::Complete(size) if size <= max => {}
                Drained::Complete(_) | Drained::OverLimit => return too_large(),
                Drained::Interrupted(e) => {
                    return validation("body", format!("upload interrupted: {e}"));
                }
            }
            state.lock().stats.uploads += 1;
            return (StatusCode::OK, Wire(resp)).into_response();
        }
    }
    let tmp_id = state.lock().new_id("file");
    let path = match &state.disk {
        Some(disk) => disk.file_data_path(&tmp_id).with_extension("part"),
        None => state.upload_dir.join(&tmp_id),
    };
    let mut file = match tokio::fs::File::create(&path).await {
        Ok(f) => f,
        Err(e) => {
            return api_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::InternalError,
                format!("cannot store upload: {e}"),
                None,
            );
        }
    };
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    let mut head: Vec<u8> = Vec::new();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                drop(file);
                let _ = tokio::fs::remove_file(&path).await;
                return validation("body", format!("upload interrupted: {e}"));
            }
        };
        size += chunk.len() as u64;
        if size > max {
            drop(file);
            let _ = tokio::fs::remove_file(&path).await;
            drain(&mut stream, DRAIN_LIMIT.saturating_sub(size)).await;
            return too_large();
        }
        if head.len() < 4096 {
            let take = (4096 - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
        }
        hasher.update(&chunk);
        if let Err(e) = file.write_all(&chunk).await {
            let _ = tokio::fs::remove_file(&path).await;
            return api_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::InternalError,
                format!("cannot store upload: {e}"),
                None,
            );
        }
    }
    if let Err(e) = file.flush().await {
        return api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::InternalError,
            format!("cannot store upload: {e}"),
            None,
        );
    }
    drop(file);
    let hash = format!("sha256:{}", hex::encode(hasher.finalize()));
    let kind = if head.len() == size as usize {
        media::sniff(&head)
    } else {
        sniff_prefix(&head)
    };
    let existing = {
        let mut inner = state.lock();
        inner.stats.uploads += 1;
        state
            .file_by_hash(&mut inner, &hash)
            .map(|f| file_response_dedup(&f, &state.origin))
    };
    if let Some(existing) = existing {
        let _ = tokio::fs::remove_file(&path).await;
        return (StatusCode::OK, Wire(existing)).into_response();
    }
    // With a state directory the bytes were written under a temporary name: only complete
    // uploads get the name other processes read.
    let path = match &state.disk {
        Some(disk) => {
            let done = disk.file_data_path(&tmp_id);
            if let Err(e) = tokio::fs::rename(&path, &done).await {
                let _ = tokio::fs::remove_file(&path).await;
                return api_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorCode::InternalError,
                    format!("cannot store upload: {e}"),
                    None,
                );
            }
            done
        }
        None => path,
    };
    let record = FileRecord {
        path,
        hash: hash.clone(),
        size,
        kind,
        file_id: tmp_id.clone(),
    };
    let response = FileUploadResponse {
        file_id: tmp_id.clone(),
        url: record.url(&state.origin),
        hash,
        size,
        media_type: kind.mime().to_owned(),
        deduplicated: false,
    };
    let mut inner = state.lock();
    state.insert_file(&mut inner, record);
    drop(inner);
    (StatusCode::OK, Wire(response)).into_response()
}

/// How much of a refused or deduplicated upload body is read and discarded before the
/// answer. A client that writes its whole body before reading the answer (ureq, curl) would
/// otherwise see a reset connection instead of the answer; beyond this the connection is
/// simply closed.
const DRAIN_LIMIT: u64 = 128 * 1024 * 1024;

/// How [`drain`] ended.
enum Drained {
    /// The body ended after this many bytes.
    Complete(u64),
    /// More than the limit was read; the rest was left unread.
    OverLimit,
    /// The client stopped sending.
    Interrupted(axum::Error),
}

/// Reads and discards the rest of a request body, at most `limit` bytes.
async fn drain(stream: &mut axum::body::BodyDataStream, limit: u64) -> Drained {
    let mut size: u64 = 0;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(chunk) => size += chunk.len() as u64,
            Err(e) => return Drained::Interrupted(e),
        }
        if size > limit {
            return Drained::OverLimit;
        }
    }
    Drained::Complete(size)
}

/// Sniffs the first bytes of a larger file: binary signatures only (text and JSON need the
/// whole file).
fn sniff_prefix(head: &[u8]) -> MediaKind {
    match media::sniff(head) {
        MediaKind::Json | MediaKind::Text => {
            if std::str::from_utf8(head).is_ok() || head.len() >= 4092 {
                MediaKind::Text
            } else {
                MediaKind::OctetStream
            }
        }
        other => other,
    }
}

fn normalise_hash(value: &str) -> String {
    let v = value.trim().to_ascii_lowercase();
    if v.starts_with("sha256:") {
        v
    } else {
        format!("sha256:{v}")
    }
}

fn file_response_dedup(file: &FileRecord, origin: &str) -> FileUploadResponse {
    FileUploadResponse {
        file_id: file.file_id.clone(),
        url: file.url(origin),
        hash: file.hash.clone(),
        size: file.size,
        media_type: file.kind.mime().to_owned(),
        deduplicated: true,
    }
}

// ---------------------------------------------------------------------------------------------
// Account and reference

async fn list_voices() -> Response {
    let voices = varg_types::Voice::NAMED
        .iter()
        .map(|v| {
            let id = v.as_str();
            let mut name = id.to_owned();
            if let Some(first) = name.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            VoiceInfo {
                voice_id: id.to_owned(),
                name,
                extra: Map::new(),
            }
        })
        .collect();
    (StatusCode::OK, Wire(VoicesResponse { voices })).into_response()
}

async fn get_balance(State(state): State<AppState>) -> Response {
    let cents = {
        let mut inner = state.lock();
        state.balance(&mut inner)
    };
    let body = Balance {
        balance_cents: Some(cents as f64),
        currency: Some("usd".into()),
        extra: Map::new(),
    };
    (StatusCode::OK, Wire(body)).into_response()
}

async fn get_me(axum::Extension(ApiKey(key)): axum::Extension<ApiKey>) -> Response {
    let digest = hex::encode(Sha256::digest(key.as_bytes()));
    let body = Me {
        user_id: Some(format!("user_{}", &digest[..8])),
        email: Some("dev@localhost.test".into()),
        extra: Map::new(),
    };
    (StatusCode::OK, Wire(body)).into_response()
}

async fn get_usage(
    State(state): State<AppState>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    for field in ["from", "to"] {
        if let Some(v) = query.get(field)
            && !is_date(v)
        {
            return validation(
                field,
                format!("{field} must be a date YYYY-MM-DD (got {v:?})"),
            );
        }
    }
    let mut inner = state.lock();
    state.ensure_all_jobs(&mut inner);
    let mut jobs: Vec<&JobData> = inner.jobs.values().map(|r| &r.data).collect();
    jobs.sort_by(|a, b| {
        (a.created_unix_us, a.job.job_id.as_str()).cmp(&(b.created_unix_us, b.job.job_id.as_str()))
    });
    let usage: Vec<UsageRecord> = jobs
        .into_iter()
        .filter(|u| {
            let created = u.job.created_at.as_deref().unwrap_or("");
            let day = &created[..10.min(created.len())];
            query.get("from").is_none_or(|f| day >= f.as_str())
                && query.get("to").is_none_or(|t| day <= t.as_str())
        })
        .map(|u| UsageRecord {
            job_id: Some(u.job.job_id.as_str().to_owned()),
            model: u.job.model.clone(),
            capability: Some(u.capability.clone()),
            cost_cents: Some(u.usage_cents as f64),
            cache_hit: Some(u.cache_hit),
            created_at: u.job.created_at.clone(),
            extra: Map::new(),
        })
        .collect();
    drop(inner);
    let total: f64 = usage.iter().filter_map(|u| u.cost_cents).sum();
    (
        StatusCode::OK,
        Wire(UsageResponse {
            usage,
            total_cents: Some(total),
            extra: Map::new(),
        }),
    )
        .into_response()
}

fn is_date(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && (1..=12).contains(&v[5..7].parse::<u32>().unwrap_or(0))
        && (1..=31).contains(&v[8..10].parse::<u32>().unwrap_or(0))
}

// ---------------------------------------------------------------------------------------------
// Public downloads (no auth)

async fn download_output(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    let Some(spec) = state.output_spec(&name) else {
        return not_found("Output");
    };
    let kind = spec.kind();
    match spec {
        OutputSpec::Sized { len, .. } => Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, kind.mime())
            .header(header::CONTENT_LENGTH, len)
            .body(Body::from_stream(media::large_body(len)))
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()),
        other => {
            let bytes = other.bytes(&state.origin).unwrap_or_default();
            (StatusCode::OK, [(header::CONTENT_TYPE, kind.mime())], bytes).into_response()
        }
    }
}

async fn download_file(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    let id = name.split('.').next().unwrap_or(&name).to_owned();
    let file = {
        let mut inner = state.lock();
        state
            .file(&mut inner, &id)
            .map(|f| (f.path, f.kind, f.size))
    };
    let Some((path, kind, size)) = file else {
        return not_found("File");
    };
    match tokio::fs::File::open(&path).await {
        Ok(f) => Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, kind.mime())
            .header(header::CONTENT_LENGTH, size)
            .body(Body::from_stream(tokio_util::io::ReaderStream::new(f)))
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()),
        Err(_) => not_found("File"),
    }
}
