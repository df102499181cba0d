//! What a call is waiting for, told to the caller before it waits.
//!
//! The retry engine ([`RetryRun`](crate::retry::RetryRun)) and the job waiter
//! ([`Waiter`](crate::wait::Waiter)) produce a [`Notice`] before every sleep they ask for and
//! whenever the waiter changes how it follows a job, so that a program (the CLI, say) can tell
//! its user why nothing seems to happen. Both clients hand these to the hook set with their
//! `ClientBuilder::on_notice`; the decisions, and so the notices, come from here, which is why
//! the async and the blocking client report exactly the same things.
//!
//! ```
//! use std::time::Duration;
//! use varg_core::notice::{Notice, RetryReason};
//!
//! let notice = Notice::retry(RetryReason::RateLimited, 1, 2, Duration::from_secs(60), None);
//! assert_eq!(notice.to_string(), "rate limited; retry 1 of 2 in 60 s");
//! assert_eq!(notice.delay(), Duration::from_secs(60));
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use varg_types::JobId;

use crate::transport::TransportErrorKind;

/// The hook a client calls with every [`Notice`] (set with `ClientBuilder::on_notice`). It
/// runs on the calling thread or task, just before the wait it announces: keep it short.
pub type NoticeHook = Arc<dyn Fn(&Notice) + Send + Sync>;

/// Why an attempt is about to be repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RetryReason {
    /// The gateway answered 429 Too Many Requests.
    RateLimited,
    /// The gateway (or a proxy) answered with this transient status (500, 502, 503, 504).
    Status(StatusCode),
    /// The exchange failed below HTTP (could not connect, timed out, reset).
    Connection(TransportErrorKind),
    /// A success answer whose body could not be read as a job (a cut or garbled poll).
    Garbled,
}

impl fmt::Display for RetryReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RetryReason::RateLimited => f.write_str("rate limited"),
            RetryReason::Status(status) => write!(f, "status {}", status.as_u16()),
            RetryReason::Connection(TransportErrorKind::Connect) => {
                f.write_str("could not connect")
            }
            RetryReason::Connection(TransportErrorKind::Timeout) => {
                f.write_str("no answer in time")
            }
            RetryReason::Connection(TransportErrorKind::Reset) => f.write_str("connection reset"),
            RetryReason::Connection(_) => f.write_str("connection error"),
            RetryReason::Garbled => f.write_str("unreadable answer"),
        }
    }
}

/// Something a call is about to wait for. Marked `#[non_exhaustive]`: match with a wildcard
/// arm. `Display` gives one human sentence, e.g. `rate limited; retry 1 of 2 in 60 s`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Notice {
    /// An attempt failed and will be repeated after `delay`.
    #[non_exhaustive]
    Retry {
        /// Why the attempt failed.
        reason: RetryReason,
        /// Which retry this is (1-based).
        retry: u32,
        /// The most retries that will be made.
        of: u32,
        /// How long the call sleeps before the retry.
        delay: Duration,
        /// The job the request is about, if any.
        job_id: Option<JobId>,
    },
    /// The job's event stream ended or was cut; it is opened again after `delay` (a poll
    /// may come first).
    #[non_exhaustive]
    StreamReconnect {
        /// The job being waited for.
        job_id: JobId,
        /// How long until the next request about the job.
        delay: Duration,
    },
    /// The job's event stream failed too often (or is unavailable): from now on the job is
    /// polled. The first poll comes after `delay`.
    #[non_exhaustive]
    PollingFallback {
        /// The job being waited for.
        job_id: JobId,
        /// How long until the first poll.
        delay: Duration,
    },
}

impl Notice {
    /// A [`Notice::Retry`].
    pub fn retry(
        reason: RetryReason,
        retry: u32,
        of: u32,
        delay: Duration,
        job_id: Option<JobId>,
    ) -> Self {
        Notice::Retry {
            reason,
            retry,
            of,
            delay,
            job_id,
        }
    }

    /// A [`Notice::StreamReconnect`].
    pub fn stream_reconnect(job_id: JobId, delay: Duration) -> Self {
        Notice::StreamReconnect { job_id, delay }
    }

    /// A [`Notice::PollingFallback`].
    pub fn polling_fallback(job_id: JobId, delay: Duration) -> Self {
        Notice::PollingFallback { job_id, delay }
    }

    /// How long the call is about to wait (a program may show only long waits).
    pub fn delay(&self) -> Duration {
        match self {
            Notice::Retry { delay, .. }
            | Notice::StreamReconnect { delay, .. }
            | Notice::PollingFallback { delay, .. } => *delay,
        }
    }

    /// The job concerned, if any.
    pub fn job_id(&self) -> Option<&JobId> {
        match self {
            Notice::Retry { job_id, .. } => job_id.as_ref(),
            Notice::StreamReconnect { job_id, .. } | Notice::PollingFallback { job_id, .. } => {
                Some(job_id)
            }
        }
    }

    /// This notice about `job_id`, when it names no job yet.
    pub fn with_job_id(mut self, id: &JobId) -> Self {
        if let Notice::Retry { job_id, .. } = &mut self
            && job_id.is_none()
        {
            *job_id = Some(id.clone());
        }
        self
    }
}

/// A delay for people: whole seconds from 10 s up, one decimal below.
pub fn human_delay(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs >= 10.0 {
        format!("{} s", secs.round() as u64)
    } else {
        format!("{:.1} s", secs)
    }
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notice::Retry {
                reason,
                retry,
                of,
                delay,
                job_id,
            } => {
                if let Some(id) = job_id {
                    write!(f, "job {id}: ")?;
                }
                write!(
                    f,
                    "{reason}; retry {retry} of {of} in {}",
                    human_delay(*delay)
                )
            }
            Notice::StreamReconnect { job_id, delay } if delay.is_zero() => {
                write!(f, "job {job_id}: event stream ended; reconnecting")
            }
            Notice::StreamReconnect { job_id, delay } => write!(
                f,
                "job {job_id}: event stream cut; polling in {}, then reconnecting",
                human_delay(*delay)
            ),
            Notice::PollingFallback { job_id, delay } => write!(
                f,
                "job {job_id}: event stream unavailable; polling instead (first poll in {})",
                human_delay(*delay)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences() {
        let s = |n: Notice| n.to_string();
        assert_eq!(
            s(Notice::retry(
                RetryReason::Status(StatusCode::SERVICE_UNAVAILABLE),
                2,
                2,
                Duration::from_millis(1250),
                None
            )),
            "status 503; retry 2 of 2 in 1.2 s"
        );
        assert_eq!(
            s(Notice::retry(
                RetryReason::Connection(TransportErrorKind::Connect),
                1,
                3,
                Duration::from_millis(400),
                Some(JobId::new("job_1"))
            )),
            "job job_1: could not connect; retry 1 of 3 in 0.4 s"
        );
        assert_eq!(
            s(Notice::stream_reconnect(JobId::new("j"), Duration::ZERO)),
            "job j: event stream ended; reconnecting"
        );
        assert_eq!(
            s(Notice::polling_fallback(
                JobId::new("j"),
                Duration::from_secs(2)
            )),
            "job j: event stream unavailable; polling instead (first poll in 2.0 s)"
        );
        let n = Notice::retry(RetryReason::RateLimited, 1, 2, Duration::ZERO, None)
            .with_job_id(&JobId::new("k"));
        assert_eq!(n.job_id().map(JobId::as_str), Some("k"));
    }
}
