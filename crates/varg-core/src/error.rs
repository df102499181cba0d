//! The one error type of the SDK.

use std::time::Duration;

use http::StatusCode;
use varg_types::{ErrorCode, Job, JobId, JobStatus, ValidationError};

use crate::retry::{self, Idempotency, Outcome};
use crate::transport::{TransportError, TransportErrorKind};

/// How many bytes of a raw body an error keeps (`Error::Decode`, `ApiError::raw`).
pub const RAW_SNIPPET_LIMIT: usize = 2048;

/// Cuts `raw` to at most [`RAW_SNIPPET_LIMIT`] bytes (on a character boundary), replacing
/// invalid UTF-8, and marks the cut with `…`.
pub fn raw_snippet(raw: &[u8]) -> String {
    let cut = raw.len().min(RAW_SNIPPET_LIMIT);
    let mut text = String::from_utf8_lossy(&raw[..cut]).into_owned();
    if cut < raw.len() {
        // A multi-byte character cut in half became U+FFFD; that is acceptable in a snippet.
        text.push('…');
    }
    text
}

/// An error answer from the gateway (any non-2xx status).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The error code from the body, if it had one (a 413 or a proxy page has none).
    pub code: Option<ErrorCode>,
    /// The message from the body, or the status reason when the body had none.
    pub message: String,
    /// The request field at fault, if the gateway named one.
    pub field: Option<String>,
    /// The upstream provider at fault, if the gateway named one.
    pub provider: Option<String>,
    /// The delay the server asked for (`Retry-After` / `retry-after-ms`), if any.
    pub retry_after: Option<Duration>,
    /// The start of the body (at most [`RAW_SNIPPET_LIMIT`] bytes) when it was not the
    /// documented JSON error body, e.g. an HTML page from a proxy.
    pub raw: Option<String>,
    /// A request id from the response headers, if the server sent one.
    pub request_id: Option<String>,
    /// The job the request was about, if any.
    pub job_id: Option<JobId>,
}

impl ApiError {
    /// An API error with only a status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code: None,
            message: message.into(),
            field: None,
            provider: None,
            retry_after: None,
            raw: None,
            request_id: None,
            job_id: None,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.status.as_u16())?;
        if let Some(code) = &self.code {
            write!(f, " {code}")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(field) = &self.field {
            write!(f, " (field `{field}`)")?;
        }
        if let Some(provider) = &self.provider {
            write!(f, " (provider {provider})")?;
        }
        if let Some(job) = &self.job_id {
            write!(f, " (job {job})")?;
        }
        Ok(())
    }
}

/// Everything that can go wrong. Marked `#[non_exhaustive]`: match with a wildcard arm.
///
/// After a job has been created, every error that concerns it carries its id
/// ([`Error::job_id`]), so a job is never lost: it can be polled or cancelled later.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The gateway answered with an error status.
    #[error("API error {0}")]
    Api(Box<ApiError>),
    /// The exchange failed below HTTP (connect, timeout, reset).
    #[error("{kind} error: {message}{}", fmt_job(.job_id))]
    Transport {
        /// What failed.
        kind: TransportErrorKind,
        /// A description.
        message: String,
        /// The job the request was about, if any.
        job_id: Option<JobId>,
        /// The transport's own error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The operation's total timeout passed on the client.
    #[error("operation timed out{}", fmt_job(.job_id))]
    Timeout {
        /// The job the request was about, if any.
        job_id: Option<JobId>,
    },
    /// A success response whose body could not be decoded.
    #[error("cannot decode {status} response: {message}{}", fmt_job(.job_id))]
    Decode {
        /// The HTTP status of the response.
        status: StatusCode,
        /// What the decoder said.
        message: String,
        /// The start of the body (at most [`RAW_SNIPPET_LIMIT`] bytes).
        raw: String,
        /// The job the request was about, if any.
        job_id: Option<JobId>,
    },
    /// The job finished with status `failed`.
    #[error("job {} failed: {}", .job.job_id, .job.error.as_deref().unwrap_or("no reason given"))]
    JobFailed {
        /// The failed job, with its `error`.
        job: Box<Job>,
    },
    /// The job was cancelled.
    #[error("job {} was cancelled", .job.job_id)]
    JobCancelled {
        /// The cancelled job.
        job: Box<Job>,
    },
    /// The job has no output to download: its output URL is missing or empty (it has not
    /// completed yet, or the gateway sent no URL). The job is kept, so it can be waited for
    /// or fetched again.
    #[error("job {} has no output URL (status {})", .job.job_id, .job.status)]
    NoOutput {
        /// The job without an output.
        job: Box<Job>,
    },
    /// The wait deadline passed before the job finished. The job may still be running (unless
    /// `cancel_requested`): its id lets you poll or cancel it later.
    #[error("job {job_id} did not finish before the deadline (last status {}){}", .last_status.as_ref().map_or("unknown", |s| s.as_str()), if *.cancel_requested { "; cancellation requested" } else { "" })]
    WaitDeadline {
        /// The job.
        job_id: JobId,
        /// Its last known status (`None` if no snapshot was ever received).
        last_status: Option<JobStatus>,
        /// Whether the SDK asked the gateway to cancel it.
        cancel_requested: bool,
    },
    /// The request breaks a documented rule; nothing was sent.
    #[error("invalid input: {0}")]
    InvalidInput(#[from] ValidationError),
    /// The configuration is unusable (no API key, bad base URL, ...).
    #[error("invalid configuration: {message}")]
    InvalidConfig {
        /// What is wrong.
        message: String,
    },
    /// The gateway rate-limited the request and asked for a longer wait than the retry
    /// policy honours.
    #[error("rate limited: retry after {} s{}", .retry_after.as_secs_f64(), fmt_job(.job_id))]
    RateLimited {
        /// How long the server asked to wait.
        retry_after: Duration,
        /// The error answer itself.
        api: Box<ApiError>,
        /// The job the request was about, if any.
        job_id: Option<JobId>,
    },
    /// A local IO failure (reading a file to upload, writing a download).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A local IO failure that concerns a job that exists (writing its download, say): the
    /// job id is kept so the job is not lost. [`Error::with_job_id`] turns an [`Error::Io`]
    /// into this variant.
    #[error("I/O error (job {job_id}): {source}")]
    JobIo {
        /// The job.
        job_id: JobId,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
}

fn fmt_job(job_id: &Option<JobId>) -> String {
    match job_id {
        Some(id) => format!(" (job {id})"),
        None => String::new(),
    }
}

impl From<TransportError> for Error {
    fn from(e: TransportError) -> Self {
        Error::Transport {
            kind: e.kind,
            message: e.message,
            job_id: None,
            source: e.source,
        }
    }
}

impl From<crate::sse::SseError> for Error {
    fn from(e: crate::sse::SseError) -> Self {
        Error::Decode {
            status: StatusCode::OK,
            message: e.to_string(),
            raw: String::new(),
            job_id: None,
        }
    }
}

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Self {
        Error::Api(Box::new(e))
    }
}

impl Error {
    /// An [`Error::InvalidConfig`].
    pub fn invalid_config(message: impl Into<String>) -> Self {
        Error::InvalidConfig {
            message: message.into(),
        }
    }

    /// Turns an [`Error::Api`] into [`Error::RateLimited`] carrying `retry_after` (use it
    /// when the retry policy stops with
    /// [`StopReason::RetryAfterTooLong`](crate::retry::StopReason::RetryAfterTooLong)).
    /// Other errors are returned unchanged.
    pub fn into_rate_limited(self, retry_after: Duration) -> Self {
        match self {
            Error::Api(api) => {
                let job_id = api.job_id.clone();
                Error::RateLimited {
                    retry_after,
                    api,
                    job_id,
                }
            }
            other => other,
        }
    }

    /// An [`Error::NoOutput`] for `job` (a clone of it is kept).
    pub fn no_output(job: &Job) -> Self {
        Error::NoOutput {
            job: Box::new(job.clone()),
        }
    }

    /// The id of the job this error concerns, if a job exists.
    pub fn job_id(&self) -> Option<&JobId> {
        match self {
            Error::Api(api) => api.job_id.as_ref(),
            Error::RateLimited { job_id, .. }
            | Error::Transport { job_id, .. }
            | Error::Timeout { job_id }
            | Error::Decode { job_id, .. } => job_id.as_ref(),
            Error::JobFailed { job } | Error::JobCancelled { job } | Error::NoOutput { job } => {
                Some(&job.job_id)
            }
            Error::WaitDeadline { job_id, .. } | Error::JobIo { job_id, .. } => Some(job_id),
            Error::InvalidInput(_) | Error::InvalidConfig { .. } | Error::Io(_) => None,
        }
    }

    /// Attaches a job id (if the error has room for one and none is set yet). Clients call
    /// this on every error that happens after a job was created.
    pub fn with_job_id(mut self, id: &JobId) -> Self {
        if let Error::Io(source) = self {
            return Error::JobIo {
                job_id: id.clone(),
                source,
            };
        }
        let slot = match &mut self {
            Error::Api(api) => &mut api.job_id,
            Error::RateLimited { job_id, .. }
            | Error::Transport { job_id, .. }
            | Error::Timeout { job_id }
            | Error::Decode { job_id, .. } => job_id,
            _ => return self,
        };
        if slot.is_none() {
            *slot = Some(id.clone());
        }
        self
    }

    /// The HTTP status, for errors that came with one.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Api(api) | Error::RateLimited { api, .. } => Some(api.status),
            Error::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The API error details, for [`Error::Api`] and [`Error::RateLimited`].
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(api) | Error::RateLimited { api, .. } => Some(api),
            _ => None,
        }
    }

    /// Whether trying again later may succeed, by the classification of
    /// [`retry::is_retryable`] for an idempotent request (429, 500, 502, 503, 504,
    /// transport failures, client timeouts). A rate limit with a long `Retry-After` is
    /// retryable too, after [`Error::RateLimited::retry_after`](Error::RateLimited).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api(api) => retry::is_retryable(
                &Outcome::Status {
                    status: api.status,
                    retry_after: api.retry_after,
                },
                Idempotency::Idempotent,
            ),
            Error::Transport { kind, .. } => {
                retry::is_retryable(&Outcome::Transport(*kind), Idempotency::Idempotent)
            }
            Error::RateLimited { .. } | Error::Timeout { .. } => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_id_is_recoverable() {
        let id = JobId::new("job_1");
        let errors = vec![
            Error::from(ApiError::new(StatusCode::BAD_GATEWAY, "x")),
            Error::from(TransportError::new(TransportErrorKind::Reset, "reset")),
            Error::Timeout { job_id: None },
            Error::Decode {
                status: StatusCode::OK,
                message: "m".into(),
                raw: "r".into(),
                job_id: None,
            },
            Error::RateLimited {
                retry_after: Duration::from_secs(200),
                api: Box::new(ApiError::new(StatusCode::TOO_MANY_REQUESTS, "slow")),
                job_id: None,
            },
            Error::Io(std::io::Error::other("disk full")),
        ];
        for e in errors {
            assert_eq!(e.job_id(), None);
            let e = e.with_job_id(&id);
            assert_eq!(e.job_id(), Some(&id), "{e:?}");
            assert!(e.to_string().contains("job_1"), "{e}");
            // An existing id is kept.
            let e = e.with_job_id(&JobId::new("other"));
            assert_eq!(e.job_id(), Some(&id));
        }
        let job = Job::new("job_2", JobStatus::Failed);
        let e = Error::JobFailed {
            job: Box::new(job.clone()),
        };
        assert_eq!(e.job_id().map(JobId::as_str), Some("job_2"));
        assert_eq!(e.to_string(), "job job_2 failed: no reason given");
        let e = Error::WaitDeadline {
            job_id: JobId::new("job_3"),
            last_status: Some(JobStatus::Processing),
            cancel_requested: true,
        };
        assert_eq!(
            e.to_string(),
            "job job_3 did not finish before the deadline (last status processing); cancellation requested"
        );
    }

    #[test]
    fn no_output_names_the_job() {
        let job = Job::new("job_9", JobStatus::Processing);
        let e = Error::no_output(&job);
        assert_eq!(e.job_id().map(JobId::as_str), Some("job_9"));
        assert_eq!(
            e.to_string(),
            "job job_9 has no output URL (status processing)"
        );
        assert!(!e.is_retryable());
        assert_eq!(e.status(), None);
        // Another id does not replace the job's own.
        let e = e.with_job_id(&JobId::new("other"));
        assert!(matches!(&e, Error::NoOutput { job } if job.job_id.as_str() == "job_9"));
    }

    #[test]
    fn retryability() {
        let api = |s: u16| Error::from(ApiError::new(StatusCode::from_u16(s).unwrap(), "m"));
        for s in [429, 500, 502, 503, 504] {
            assert!(api(s).is_retryable(), "{s}");
        }
        for s in [400, 401, 402, 404, 413] {
            assert!(!api(s).is_retryable(), "{s}");
        }
        assert!(Error::from(TransportError::new(TransportErrorKind::Timeout, "t")).is_retryable());
        assert!(!Error::invalid_config("x").is_retryable());
    }

    #[test]
    fn rate_limited_conversion_and_sse_errors() {
        let mut api = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "slow");
        api.job_id = Some(JobId::new("j"));
        let e = Error::from(api).into_rate_limited(Duration::from_secs(300));
        assert!(
            matches!(e, Error::RateLimited { retry_after, .. } if retry_after == Duration::from_secs(300))
        );
        assert_eq!(e.job_id().map(JobId::as_str), Some("j"));
        assert_eq!(e.status(), Some(StatusCode::TOO_MANY_REQUESTS));
        assert!(e.is_retryable());
        let e = Error::from(crate::sse::SseError::EventTooLarge { limit: 8 });
        assert!(matches!(e, Error::Decode { .. }));
        assert!(matches!(
            Error::invalid_config("x").into_rate_limited(Duration::ZERO),
            Error::InvalidConfig { .. }
        ));
    }

    #[test]
    fn snippet_is_capped() {
        let long = "é".repeat(RAW_SNIPPET_LIMIT);
        let s = raw_snippet(long.as_bytes());
        assert!(s.len() <= RAW_SNIPPET_LIMIT + 3);
        assert!(s.ends_with('…'));
        assert_eq!(raw_snippet(b"<html>"), "<html>");
    }

    #[test]
    fn display_of_api_error() {
        let mut e = ApiError::new(StatusCode::BAD_REQUEST, "prompt is required");
        e.code = Some(ErrorCode::ValidationError);
        e.field = Some("prompt".into());
        assert_eq!(
            Error::from(e).to_string(),
            "API error 400 ValidationError: prompt is required (field `prompt`)"
        );
    }
}
