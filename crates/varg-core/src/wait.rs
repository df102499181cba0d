//! The job waiter: a state machine that decides how to wait for a job to finish.
//!
//! The [`Waiter`] does no IO and reads no clock. The client tells it what happened (an
//! [`Input`]) and what time it is (a [`Duration`] since any fixed origin, e.g. an `Instant`
//! taken when waiting began), and it answers with the next [`Action`]:
//!
//! - it prefers the server-sent-event stream ([`Action::OpenStream`], then
//!   [`Action::ReadStream`] while events arrive);
//! - when the stream ends before the job does (the gateway closes streams after 10 minutes)
//!   it reconnects at once;
//! - when the stream cannot be opened or breaks, it polls once and tries the stream again;
//!   after [`WaitPolicy::max_stream_failures`] failures in a row (or a 4xx on the stream) it
//!   polls for good: 0.5 s, then x1.5 per poll up to 5 s, each delay shortened by up to 20 %
//!   at random;
//! - a 429 while polling waits for the server's `Retry-After`; other transient poll errors
//!   back off; permanent ones (401, 404, ...) end the wait with [`Action::Error`];
//! - every status change is reported once through [`Waiter::take_update`];
//! - a job that is already finished in the create response (a cache hit) ends the wait at
//!   once, without any request;
//! - at the deadline it stops with [`Action::DeadlinePassed`], or
//!   [`Action::CancelThenStop`] when [`WaitPolicy::cancel_on_deadline`] is set. The last
//!   poll delay is clipped to the deadline, so the wait never oversleeps it.
//!
//! # Driving loop
//!
//! A client drives the waiter with one short loop. This one is blocking and uses closures
//! for the IO; the async client has the same loop with `.await`s.
//!
//! ```
//! use std::io::Read;
//! use std::time::Duration;
//! use varg_core::error::Error;
//! use varg_core::retry::FixedJitter;
//! use varg_core::sse::SseDecoder;
//! use varg_core::wait::{Action, Input, WaitPolicy, Waiter};
//! use varg_types::{Job, JobStatus};
//!
//! fn wait(
//!     mut waiter: Waiter,
//!     mut now: impl FnMut() -> Duration,
//!     mut sleep: impl FnMut(Duration),
//!     mut open_stream: impl FnMut() -> Result<Box<dyn Read>, Error>, // GET /jobs/{id}/stream
//!     mut poll: impl FnMut() -> Result<Job, Error>,                   // GET /jobs/{id}
//!     mut cancel: impl FnMut() -> Result<(), Error>,                  // DELETE /jobs/{id}
//!     mut on_progress: impl FnMut(&Job),
//! ) -> Result<Job, Error> {
//!     let mut action = waiter.step(Input::Start, now());
//!     let mut stream: Option<(Box<dyn Read>, SseDecoder)> = None;
//!     loop {
//!         if let Some(job) = waiter.take_update() {
//!             on_progress(&job);
//!         }
//!         action = match action {
//!             Action::OpenStream => match open_stream() {
//!                 Ok(body) => {
//!                     stream = Some((body, SseDecoder::new()));
//!                     waiter.step(Input::StreamOpened, now())
//!                 }
//!                 Err(e) => waiter.step(Input::StreamFailed(e), now()),
//!             },
//!             Action::ReadStream { .. } => {
//!                 let Some((body, decoder)) = stream.as_mut() else {
//!                     return Err(Error::invalid_config("no open stream"));
//!                 };
//!                 let mut buf = [0u8; 8192];
//!                 let input = match body.read(&mut buf) {
//!                     Ok(0) => Input::StreamClosed,
//!                     Ok(n) => {
//!                         let mut events = Vec::new();
//!                         match decoder.feed(&buf[..n], &mut events) {
//!                             Ok(()) => Input::StreamEvents(events),
//!                             Err(e) => Input::StreamFailed(Error::Io(std::io::Error::other(e))),
//!                         }
//!                     }
//!                     Err(e) => Input::StreamFailed(Error::Io(e)),
//!                 };
//!                 waiter.step(input, now())
//!             }
//!             Action::PollAfter(delay) => {
//!                 stream = None;
//!                 sleep(delay);
//!                 match poll() {
//!                     Ok(job) => waiter.step(Input::Snapshot(job), now()),
//!                     Err(e) => waiter.step(Input::PollFailed(e), now()),
//!                 }
//!             }
//!             Action::CancelThenStop { .. } => {
//!                 let _ = cancel(); // best effort; the error below carries the job id
//!                 return action.into_result().unwrap_or_else(|| Err(Error::invalid_config("unreachable")));
//!             }
//!             done => return done.into_result().unwrap_or_else(|| Err(Error::invalid_config("unreachable"))),
//!         };
//!     }
//! }
//!
//! // A fake run: the stream is unavailable, two polls, then the job completes.
//! let created = Job::new("job_1", JobStatus::Queued);
//! let waiter = Waiter::new(created, WaitPolicy::default(), Duration::ZERO, FixedJitter(0.0));
//! let clock = std::cell::Cell::new(Duration::ZERO);
//! let mut polls = vec![JobStatus::Completed, JobStatus::Processing];
//! let mut seen = Vec::new();
//! let job = wait(
//!     waiter,
//!     || clock.get(),
//!     |d| clock.set(clock.get() + d),
//!     || Err(Error::invalid_config("stream unavailable in this example")),
//!     || Ok(Job::new("job_1", polls.pop().unwrap())),
//!     || Ok(()),
//!     |job| seen.push(job.status.clone()),
//! )
//! .unwrap();
//! assert_eq!(job.status, JobStatus::Completed);
//! assert_eq!(seen, [JobStatus::Queued, JobStatus::Processing, JobStatus::Completed]);
//! ```

use std::fmt;
use std::time::Duration;

use varg_types::{Job, JobId, JobStatus};

use crate::error::Error;
use crate::notice::{Notice, RetryReason};
use crate::ops::{StreamItem, decode_stream_event};
use crate::retry::Jitter;
use crate::sse::SseEvent;

/// How to wait for a job.
#[derive(Debug, Clone, PartialEq)]
pub struct WaitPolicy {
    /// Give up after this long (default 30 min); `None` waits forever.
    pub deadline: Option<Duration>,
    /// At the deadline, cancel the job before giving up (default `false`).
    pub cancel_on_deadline: bool,
    /// Use the SSE stream when possible (default `true`); `false` only polls.
    pub prefer_stream: bool,
    /// The first poll delay (default 0.5 s).
    pub poll_initial: Duration,
    /// The factor between poll delays (default 1.5).
    pub poll_multiplier: f64,
    /// The longest poll delay (default 5 s).
    pub poll_max: Duration,
    /// Each poll delay is shortened by up to this fraction at random (default 0.2).
    pub poll_jitter: f64,
    /// Consecutive stream failures after which the waiter only polls (default 3).
    pub max_stream_failures: u32,
    /// A stream that stayed open this long, or delivered a status, counts as healthy when it
    /// closes (default 30 s); a shorter one that delivered nothing counts as a failure.
    pub healthy_stream: Duration,
    /// Consecutive failed polls after which the wait ends with the last error (default 10).
    pub max_poll_errors: u32,
}

impl Default for WaitPolicy {
    fn default() -> Self {
        Self {
            deadline: Some(Duration::from_secs(30 * 60)),
            cancel_on_deadline: false,
            prefer_stream: true,
            poll_initial: Duration::from_millis(500),
            poll_multiplier: 1.5,
            poll_max: Duration::from_secs(5),
            poll_jitter: 0.2,
            max_stream_failures: 3,
            healthy_stream: Duration::from_secs(30),
            max_poll_errors: 10,
        }
    }
}

/// What happened, as told to [`Waiter::step`].
#[derive(Debug)]
#[non_exhaustive]
// An input is built, moved into `step` and consumed at once; boxing the job would only add
// an allocation and noise at every call site.
#[allow(clippy::large_enum_variant)]
pub enum Input {
    /// Begin waiting (the first call).
    Start,
    /// A poll (`GET /jobs/{job_id}`) returned this job.
    Snapshot(Job),
    /// A poll failed (after the transport; retrying it is the waiter's job).
    PollFailed(Error),
    /// The stream request succeeded with a 2xx; events follow.
    StreamOpened,
    /// A chunk of the stream was read and decoded into these events (possibly none: a
    /// keepalive, which still lets the waiter check the deadline).
    StreamEvents(Vec<SseEvent>),
    /// The stream ended (end of body).
    StreamClosed,
    /// The stream could not be opened, or failed while reading.
    StreamFailed(Error),
}

/// What to do next, as answered by [`Waiter::step`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Action {
    /// Send `GET /jobs/{job_id}/stream` and report [`Input::StreamOpened`] or
    /// [`Input::StreamFailed`].
    OpenStream,
    /// Read the next chunk of the open stream and report it. `until_deadline` is how long
    /// the wait may still last (use it as a read timeout if you can).
    ReadStream {
        /// Time left before the deadline, if there is one.
        until_deadline: Option<Duration>,
    },
    /// Drop any open stream, sleep this long, then send `GET /jobs/{job_id}` and report
    /// [`Input::Snapshot`] or [`Input::PollFailed`].
    PollAfter(Duration),
    /// Finished: the job completed.
    Done(Box<Job>),
    /// Finished: the job failed (its `error` says why).
    Failed(Box<Job>),
    /// Finished: the job was cancelled.
    Cancelled(Box<Job>),
    /// Finished: the deadline passed; the job may still be running.
    DeadlinePassed {
        /// The job.
        job_id: JobId,
        /// Its last known status.
        last_status: Option<JobStatus>,
    },
    /// The deadline passed and the policy says to cancel: send `DELETE /jobs/{job_id}`
    /// (best effort), then stop.
    CancelThenStop {
        /// The job.
        job_id: JobId,
        /// Its last known status.
        last_status: Option<JobStatus>,
    },
    /// Finished: an error that waiting longer will not fix (401, 404, repeated failures).
    Error(Error),
}

impl Action {
    /// Whether this action ends the wait.
    pub fn is_final(&self) -> bool {
        !matches!(
            self,
            Action::OpenStream | Action::ReadStream { .. } | Action::PollAfter(_)
        )
    }

    /// The result of a final action: `Ok(job)` for [`Action::Done`], the matching
    /// [`Error`] otherwise ([`Error::JobFailed`], [`Error::JobCancelled`],
    /// [`Error::WaitDeadline`] with `cancel_requested` set for [`Action::CancelThenStop`]);
    /// `None` for an action that does not end the wait.
    pub fn into_result(self) -> Option<Result<Job, Error>> {
        Some(match self {
            Action::OpenStream | Action::ReadStream { .. } | Action::PollAfter(_) => return None,
            Action::Done(job) => Ok(*job),
            Action::Failed(job) => Err(Error::JobFailed { job }),
            Action::Cancelled(job) => Err(Error::JobCancelled { job }),
            Action::DeadlinePassed {
                job_id,
                last_status,
            } => Err(Error::WaitDeadline {
                job_id,
                last_status,
                cancel_requested: false,
            }),
            Action::CancelThenStop {
                job_id,
                last_status,
            } => Err(Error::WaitDeadline {
                job_id,
                last_status,
                cancel_requested: true,
            }),
            Action::Error(e) => Err(e),
        })
    }

    /// A short name for logs and tests, e.g. `PollAfter(0.50s)`.
    pub fn label(&self) -> String {
        match self {
            Action::OpenStream => "OpenStream".into(),
            Action::ReadStream { .. } => "ReadStream".into(),
            Action::PollAfter(d) => format!("PollAfter({:.2}s)", d.as_secs_f64()),
            Action::Done(j) => format!("Done({})", j.status),
            Action::Failed(j) => format!("Failed({})", j.status),
            Action::Cancelled(j) => format!("Cancelled({})", j.status),
            Action::DeadlinePassed { last_status, .. } => format!(
                "DeadlinePassed({})",
                last_status.as_ref().map_or("unknown", |s| s.as_str())
            ),
            Action::CancelThenStop { last_status, .. } => format!(
                "CancelThenStop({})",
                last_status.as_ref().map_or("unknown", |s| s.as_str())
            ),
            Action::Error(e) => format!("Error({e})"),
        }
    }
}

/// What a finished waiter answers if it is stepped again.
#[derive(Debug)]
enum Finished {
    Job(Box<Job>, JobStatusKind),
    Deadline(bool),
    Error(String),
}

#[derive(Debug, Clone, Copy)]
enum JobStatusKind {
    Done,
    Failed,
    Cancelled,
}

/// The job waiter. See the [module documentation](self).
pub struct Waiter {
    policy: WaitPolicy,
    job_id: JobId,
    initial: Option<Job>,
    last_status: Option<JobStatus>,
    reported: Option<JobStatus>,
    update: Option<Job>,
    deadline: Option<Duration>,
    use_stream: bool,
    stream_failures: u32,
    stream_open_since: Option<Duration>,
    stream_got_status: bool,
    poll_delay: Duration,
    poll_errors: u32,
    finished: Option<Finished>,
    notice: Option<Notice>,
    jitter: Box<dyn Jitter + Send>,
}

impl fmt::Debug for Waiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Waiter")
            .field("job_id", &self.job_id)
            .field("last_status", &self.last_status)
            .field("use_stream", &self.use_stream)
            .field("stream_failures", &self.stream_failures)
            .field("poll_delay", &self.poll_delay)
            .field("finished", &self.finished.is_some())
            .finish_non_exhaustive()
    }
}

impl Waiter {
    /// A waiter for the job returned by a create request. `now` is the current time on the
    /// caller's clock (any fixed origin); the deadline counts from it.
    pub fn new(
        job: Job,
        policy: WaitPolicy,
        now: Duration,
        jitter: impl Jitter + Send + 'static,
    ) -> Self {
        let mut w = Self::for_job_id(job.job_id.clone(), policy, now, jitter);
        w.initial = Some(job);
        w
    }

    /// A waiter for a job known only by its id (its status is learnt from the stream or the
    /// first poll, which is sent at once).
    pub fn for_job_id(
        job_id: JobId,
        policy: WaitPolicy,
        now: Duration,
        jitter: impl Jitter + Send + 'static,
    ) -> Self {
        Self {
            deadline: policy.deadline.map(|d| now.saturating_add(d)),
            use_stream: policy.prefer_stream,
            poll_delay: policy.poll_initial,
            policy,
            job_id,
            initial: None,
            last_status: None,
            reported: None,
            update: None,
            stream_failures: 0,
            stream_open_since: None,
            stream_got_status: false,
            poll_errors: 0,
            finished: None,
            notice: None,
            jitter: Box::new(jitter),
        }
    }

    /// The job being waited for.
    pub fn job_id(&self) -> &JobId {
        &self.job_id
    }

    /// The last status seen, if any.
    pub fn last_status(&self) -> Option<&JobStatus> {
        self.last_status.as_ref()
    }

    /// Whether the waiter still uses the stream (it switches to polling after repeated
    /// stream failures).
    pub fn uses_stream(&self) -> bool {
        self.use_stream
    }

    /// The job snapshot whose status differs from the last one reported, once. Call it
    /// after every [`step`](Self::step) to drive progress callbacks.
    pub fn take_update(&mut self) -> Option<Job> {
        self.update.take()
    }

    /// What the waiter is about to wait for, once, when it changed course: the stream ended
    /// and is reopened ([`Notice::StreamReconnect`]), it failed for good and polling takes
    /// over ([`Notice::PollingFallback`]), or a poll failed and is repeated
    /// ([`Notice::Retry`]). Call it after every [`step`](Self::step), like
    /// [`take_update`](Self::take_update).
    pub fn take_notice(&mut self) -> Option<Notice> {
        self.notice.take()
    }

    /// Feeds what happened at time `now`; answers what to do next.
    pub fn step(&mut self, input: Input, now: Duration) -> Action {
        if let Some(f) = &self.finished {
            return self.replay(f);
        }
        match input {
            Input::Start => {
                if let Some(job) = self.initial.take()
                    && let Some(done) = self.apply(job)
                {
                    return done;
                }
                if let Some(a) = self.check_deadline(now) {
                    return a;
                }
                if self.use_stream {
                    Action::OpenStream
                } else if self.last_status.is_none() {
                    Action::PollAfter(Duration::ZERO)
                } else {
                    self.poll_after(now)
                }
            }
            Input::Snapshot(job) => {
                self.poll_errors = 0;
                if let Some(done) = self.apply(job) {
                    return done;
                }
                if let Some(a) = self.check_deadline(now) {
                    return a;
                }
                if self.use_stream {
                    Action::OpenStream
                } else {
                    self.poll_after(now)
                }
            }
            Input::PollFailed(error) => self.poll_failed(error, now),
            Input::StreamOpened => {
                self.stream_open_since = Some(now);
                self.stream_got_status = false;
                self.read_stream(now)
            }
            Input::StreamEvents(events) => {
                for event in &events {
                    match decode_stream_event(event) {
                        Ok(StreamItem::Status(job)) => {
                            self.stream_got_status = true;
                            self.stream_failures = 0;
                            if let Some(done) = self.apply(*job) {
                                return done;
                            }
                        }
                        Ok(_) => {}
                        Err(e) => return self.stream_failed(Some(&e), now),
                    }
                }
                self.read_stream(now)
            }
            Input::StreamClosed => {
                let healthy = self.stream_got_status
                    || self
                        .stream_open_since
                        .is_some_and(|t| now.saturating_sub(t) >= self.policy.healthy_stream);
                self.stream_open_since = None;
                if healthy {
                    self.stream_failures = 0;
                    if let Some(a) = self.check_deadline(now) {
                        return a;
                    }
                    self.notice = Some(Notice::stream_reconnect(
                        self.job_id.clone(),
                        Duration::ZERO,
                    ));
                    Action::OpenStream
                } else {
                    self.stream_failed(None, now)
                }
            }
            Input::StreamFailed(error) => self.stream_failed(Some(&error), now),
        }
    }

    fn replay(&self, f: &Finished) -> Action {
        match f {
            Finished::Job(job, JobStatusKind::Done) => Action::Done(job.clone()),
            Finished::Job(job, JobStatusKind::Failed) => Action::Failed(job.clone()),
            Finished::Job(job, JobStatusKind::Cancelled) => Action::Cancelled(job.clone()),
            Finished::Deadline(cancel) => self.deadline_action(*cancel),
            Finished::Error(msg) => Action::Error(Error::invalid_config(format!(
                "the job waiter already finished with: {msg}"
            ))),
        }
    }

    /// Records a snapshot; returns the final action if the job is finished.
    fn apply(&mut self, job: Job) -> Option<Action> {
        if self.reported.as_ref() != Some(&job.status) {
            self.reported = Some(job.status.clone());
            self.update = Some(job.clone());
        }
        self.last_status = Some(job.status.clone());
        let kind = match job.status {
            JobStatus::Completed => JobStatusKind::Done,
            JobStatus::Failed => JobStatusKind::Failed,
            JobStatus::Cancelled => JobStatusKind::Cancelled,
            _ => return None,
        };
        let job = Box::new(job);
        self.finished = Some(Finished::Job(job.clone(), kind));
        Some(match kind {
            JobStatusKind::Done => Action::Done(job),
            JobStatusKind::Failed => Action::Failed(job),
            JobStatusKind::Cancelled => Action::Cancelled(job),
        })
    }

    fn deadline_action(&self, cancel: bool) -> Action {
        let job_id = self.job_id.clone();
        let last_status = self.last_status.clone();
        if cancel {
            Action::CancelThenStop {
                job_id,
                last_status,
            }
        } else {
            Action::DeadlinePassed {
                job_id,
                last_status,
            }
        }
    }

    fn finish_deadline(&mut self) -> Action {
        let cancel = self.policy.cancel_on_deadline;
        self.finished = Some(Finished::Deadline(cancel));
        self.deadline_action(cancel)
    }

    fn finish_error(&mut self, error: Error) -> Action {
        self.finished = Some(Finished::Error(error.to_string()));
        Action::Error(error)
    }

    fn check_deadline(&mut self, now: Duration) -> Option<Action> {
        match self.deadline {
            Some(d) if now >= d => Some(self.finish_deadline()),
            _ => None,
        }
    }

    /// How long the wait may still last at `now` (zero once the deadline has passed);
    /// `None` without a deadline. A client bounds its blocking reads of the stream with it.
    pub fn until_deadline(&self, now: Duration) -> Option<Duration> {
        self.deadline.map(|d| d.saturating_sub(now))
    }

    fn read_stream(&mut self, now: Duration) -> Action {
        if let Some(a) = self.check_deadline(now) {
            return a;
        }
        Action::ReadStream {
            until_deadline: self.until_deadline(now),
        }
    }

    /// The next poll delay (jittered, growing, clipped to the deadline).
    fn poll_after(&mut self, now: Duration) -> Action {
        let base = self.poll_delay;
        let next = base.mul_f64(self.policy.poll_multiplier.max(1.0));
        self.poll_delay = next.min(self.policy.poll_max);
        let unit = self.jitter.next_unit();
        let unit = if unit.is_nan() {
            0.0
        } else {
            unit.clamp(0.0, 1.0)
        };
        let shorten = (self.policy.poll_jitter.clamp(0.0, 1.0)) * unit;
        let mut delay = base.mul_f64(1.0 - shorten);
        if let Some(left) = self.until_deadline(now) {
            delay = delay.min(left);
        }
        Action::PollAfter(delay)
    }

    fn stream_failed(&mut self, error: Option<&Error>, now: Duration) -> Action {
        self.stream_open_since = None;
        self.stream_failures += 1;
        let permanent = error
            .and_then(Error::status)
            .is_some_and(|s| s.is_client_error() && s.as_u16() != 429);
        let was_streaming = self.use_stream;
        if permanent || self.stream_failures >= self.policy.max_stream_failures {
            self.use_stream = false;
        }
        if let Some(a) = self.check_deadline(now) {
            return a;
        }
        let action = self.poll_after(now);
        if let Action::PollAfter(delay) = &action {
            let job_id = self.job_id.clone();
            self.notice = Some(if self.use_stream {
                Notice::stream_reconnect(job_id, *delay)
            } else if was_streaming {
                Notice::polling_fallback(job_id, *delay)
            } else {
                // Already polling: nothing changed course.
                return action;
            });
        }
        action
    }

    fn poll_failed(&mut self, error: Error, now: Duration) -> Action {
        let error = error.with_job_id(&self.job_id);
        self.poll_errors += 1;
        // A 2xx whose body is not a job (cut or garbled on the way) says nothing about the
        // job; polling is a GET, so it is repeated like any transient failure, within
        // `max_poll_errors`.
        let transient = error.is_retryable() || matches!(error, Error::Decode { .. });
        if !transient || self.poll_errors > self.policy.max_poll_errors {
            return self.finish_error(error);
        }
        if let Some(a) = self.check_deadline(now) {
            return a;
        }
        let requested = match &error {
            Error::RateLimited { retry_after, .. } => Some(*retry_after),
            other => other.api().and_then(|a| a.retry_after),
        };
        let action = match requested {
            Some(wait) => {
                if let Some(left) = self.until_deadline(now)
                    && wait > left
                {
                    // No poll is allowed before the deadline: stop now rather than at it.
                    return self.finish_deadline();
                }
                Action::PollAfter(wait)
            }
            None => self.poll_after(now),
        };
        if let Action::PollAfter(delay) = &action {
            self.notice = Some(Notice::retry(
                poll_retry_reason(&error),
                self.poll_errors,
                self.policy.max_poll_errors,
                *delay,
                Some(self.job_id.clone()),
            ));
        }
        action
    }
}

/// Why a failed poll is repeated, in the words of a [`Notice`].
fn poll_retry_reason(error: &Error) -> RetryReason {
    match error {
        Error::RateLimited { .. } => RetryReason::RateLimited,
        Error::Transport { kind, .. } => RetryReason::Connection(*kind),
        Error::Timeout { .. } => {
            RetryReason::Connection(crate::transport::TransportErrorKind::Timeout)
        }
        Error::Decode { .. } => RetryReason::Garbled,
        other => match other.status() {
            Some(s) if s == http::StatusCode::TOO_MANY_REQUESTS => RetryReason::RateLimited,
            Some(s) => RetryReason::Status(s),
            None => RetryReason::Garbled,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ApiError;
    use crate::retry::FixedJitter;
    use crate::transport::{TransportError, TransportErrorKind};
    use http::StatusCode;

    fn job(status: JobStatus) -> Job {
        Job::new("job_1", status)
    }

    fn status_event(status: &str) -> SseEvent {
        SseEvent {
            event: "status".into(),
            data: format!(r#"{{"job_id":"job_1","status":"{status}"}}"#),
            id: None,
            retry: None,
        }
    }

    fn s(x: f64) -> Duration {
        Duration::from_secs_f64(x)
    }

    /// Runs a scripted scenario: each entry is (time, input); returns the action labels.
    struct Run {
        waiter: Waiter,
        log: Vec<String>,
        updates: Vec<String>,
        notices: Vec<String>,
    }

    impl Run {
        fn new(waiter: Waiter) -> Self {
            Self {
                waiter,
                log: Vec::new(),
                updates: Vec::new(),
                notices: Vec::new(),
            }
        }

        fn step(&mut self, at: f64, input: Input) -> Action {
            let what = match &input {
                Input::Start => "Start".to_owned(),
                Input::Snapshot(j) => format!("Snapshot({})", j.status),
                Input::PollFailed(e) => {
                    format!("PollFailed({})", e.status().map_or(0, |s| s.as_u16()))
                }
                Input::StreamOpened => "StreamOpened".into(),
                Input::StreamEvents(ev) if ev.is_empty() => "keepalive".into(),
                Input::StreamEvents(ev) => format!(
                    "StreamEvents({})",
                    ev.iter()
                        .map(|e| e.data.split('"').nth(7).unwrap_or("?").to_owned())
                        .collect::<Vec<_>>()
                        .join(",")
                ),
                Input::StreamClosed => "StreamClosed".into(),
                Input::StreamFailed(_) => "StreamFailed".into(),
            };
            let action = self.waiter.step(input, s(at));
            if let Some(j) = self.waiter.take_update() {
                self.updates.push(j.status.to_string());
            }
            if let Some(n) = self.waiter.take_notice() {
                self.notices.push(n.to_string());
            }
            self.log
                .push(format!("t={at:>7.1}s {what:<28} -> {}", action.label()));
            action
        }

        fn print(&self, title: &str) {
            println!("--- {title}");
            for line in &self.log {
                println!("{line}");
            }
        }
    }

    fn waiter(initial: JobStatus, policy: WaitPolicy) -> Waiter {
        Waiter::new(job(initial), policy, Duration::ZERO, FixedJitter(0.0))
    }

    #[test]
    fn cache_hit_finishes_at_once() {
        let mut r = Run::new(waiter(JobStatus::Completed, WaitPolicy::default()));
        let a = r.step(0.0, Input::Start);
        assert!(matches!(a, Action::Done(_)));
        assert_eq!(r.updates, ["completed"]);
        // Stepping again repeats the result.
        assert!(matches!(
            r.waiter.step(Input::Start, s(1.0)),
            Action::Done(_)
        ));
        assert!(a.into_result().unwrap().is_ok());
    }

    #[test]
    fn sse_happy_path() {
        let mut r = Run::new(waiter(JobStatus::Queued, WaitPolicy::default()));
        assert!(matches!(r.step(0.0, Input::Start), Action::OpenStream));
        assert!(matches!(
            r.step(0.1, Input::StreamOpened),
            Action::ReadStream { .. }
        ));
        assert!(matches!(
            r.step(0.2, Input::StreamEvents(vec![status_event("queued")])),
            Action::ReadStream { .. }
        ));
        assert!(matches!(
            r.step(15.0, Input::StreamEvents(vec![])),
            Action::ReadStream { .. }
        ));
        assert!(matches!(
            r.step(20.0, Input::StreamEvents(vec![status_event("processing")])),
            Action::ReadStream { .. }
        ));
        let a = r.step(
            40.0,
            Input::StreamEvents(vec![
                SseEvent {
                    event: "progress".into(),
                    data: "50".into(),
                    id: None,
                    retry: None,
                },
                status_event("completed"),
            ]),
        );
        assert!(matches!(a, Action::Done(ref j) if j.status == JobStatus::Completed));
        // Each status reported once, the repeated `queued` not again.
        assert_eq!(r.updates, ["queued", "processing", "completed"]);
    }

    #[test]
    fn ten_minute_job_with_stream_cut_twice() {
        let mut r = Run::new(waiter(JobStatus::Queued, WaitPolicy::default()));
        let actions = vec![
            r.step(0.0, Input::Start),
            r.step(0.1, Input::StreamOpened),
            r.step(0.2, Input::StreamEvents(vec![status_event("processing")])),
            r.step(15.2, Input::StreamEvents(vec![])),
            // First cut: the connection is reset mid-stream.
            r.step(
                240.0,
                Input::StreamFailed(TransportError::new(TransportErrorKind::Reset, "reset").into()),
            ),
            r.step(240.5, Input::Snapshot(job(JobStatus::Processing))),
            r.step(240.6, Input::StreamOpened),
            r.step(255.6, Input::StreamEvents(vec![])),
            // Second cut: the stream ends cleanly (as the gateway does after 10 minutes; here a
            // proxy closes it earlier). It lasted long enough to count as healthy: reconnect.
            r.step(420.0, Input::StreamClosed),
            r.step(420.1, Input::StreamOpened),
            r.step(435.1, Input::StreamEvents(vec![])),
            r.step(600.0, Input::StreamEvents(vec![status_event("completed")])),
        ];
        r.print("10-minute job, stream cut twice");
        let labels: Vec<String> = actions.iter().map(Action::label).collect();
        assert_eq!(
            labels,
            [
                "OpenStream",
                "ReadStream",
                "ReadStream",
                "ReadStream",
                "PollAfter(0.50s)",
                "OpenStream",
                "ReadStream",
                "ReadStream",
                "OpenStream",
                "ReadStream",
                "ReadStream",
                "Done(completed)"
            ]
        );
        assert_eq!(r.updates, ["queued", "processing", "completed"]);
        assert!(r.waiter.uses_stream());
    }

    #[test]
    fn stream_unavailable_falls_back_to_polling() {
        let mut r = Run::new(waiter(JobStatus::Queued, WaitPolicy::default()));
        let unavailable = || {
            Input::StreamFailed(TransportError::new(TransportErrorKind::Connect, "refused").into())
        };
        let mut t = 0.0;
        assert!(matches!(r.step(t, Input::Start), Action::OpenStream));
        let mut delays = Vec::new();
        for _ in 0..3 {
            t += 0.1;
            match r.step(t, unavailable()) {
                Action::PollAfter(d) => delays.push(d),
                other => panic!("{other:?}"),
            }
            t += delays.last().unwrap().as_secs_f64();
            let a = r.step(t, Input::Snapshot(job(JobStatus::Processing)));
            if delays.len() < 3 {
                assert!(matches!(a, Action::OpenStream), "{a:?}");
            } else {
                // Three failures in a row: polling for good.
                assert!(matches!(a, Action::PollAfter(_)), "{a:?}");
                if let Action::PollAfter(d) = a {
                    delays.push(d);
                }
            }
        }
        assert!(!r.waiter.uses_stream());
        for _ in 0..6 {
            t += delays.last().unwrap().as_secs_f64();
            if let Action::PollAfter(d) = r.step(t, Input::Snapshot(job(JobStatus::Processing))) {
                delays.push(d);
            }
        }
        t += 5.0;
        assert!(matches!(
            r.step(t, Input::Snapshot(job(JobStatus::Completed))),
            Action::Done(_)
        ));
        r.print("stream unavailable");
        // Two cuts say the stream is reopened after a poll; the third says polling takes
        // over; the polls that follow change nothing and say nothing.
        assert_eq!(
            r.notices,
            [
                "job job_1: event stream cut; polling in 0.5 s, then reconnecting",
                "job job_1: event stream cut; polling in 0.8 s, then reconnecting",
                "job job_1: event stream unavailable; polling instead (first poll in 1.1 s)",
            ]
        );
        let secs: Vec<f64> = delays
            .iter()
            .map(|d| (d.as_secs_f64() * 1000.0).round() / 1000.0)
            .collect();
        assert_eq!(
            secs,
            [0.5, 0.75, 1.125, 1.688, 2.531, 3.797, 5.0, 5.0, 5.0, 5.0]
        );
    }

    #[test]
    fn stream_404_switches_to_polling_at_once() {
        let mut r = Run::new(waiter(JobStatus::Queued, WaitPolicy::default()));
        r.step(0.0, Input::Start);
        let e = Error::from(ApiError::new(StatusCode::NOT_FOUND, "no stream here"));
        assert!(matches!(
            r.step(0.1, Input::StreamFailed(e)),
            Action::PollAfter(_)
        ));
        assert!(!r.waiter.uses_stream());
        assert!(matches!(
            r.step(0.6, Input::Snapshot(job(JobStatus::Processing))),
            Action::PollAfter(_)
        ));
    }

    #[test]
    fn short_empty_streams_count_as_failures() {
        let mut r = Run::new(waiter(JobStatus::Queued, WaitPolicy::default()));
        r.step(0.0, Input::Start);
        r.step(0.1, Input::StreamOpened);
        assert!(matches!(
            r.step(0.2, Input::StreamClosed),
            Action::PollAfter(_)
        ));
        // An undecodable status event is a stream failure too.
        r.step(1.0, Input::Snapshot(job(JobStatus::Processing)));
        r.step(1.1, Input::StreamOpened);
        let bad = SseEvent {
            event: "status".into(),
            data: "{".into(),
            id: None,
            retry: None,
        };
        assert!(matches!(
            r.step(1.2, Input::StreamEvents(vec![bad])),
            Action::PollAfter(_)
        ));
    }

    #[test]
    fn rate_limited_poll_honours_retry_after() {
        let policy = WaitPolicy {
            prefer_stream: false,
            ..WaitPolicy::default()
        };
        let mut r = Run::new(waiter(JobStatus::Queued, policy));
        assert!(matches!(r.step(0.0, Input::Start), Action::PollAfter(d) if d == s(0.5)));
        let mut api = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "slow down");
        api.retry_after = Some(s(7.0));
        let a = r.step(0.5, Input::PollFailed(api.into()));
        assert!(matches!(a, Action::PollAfter(d) if d == s(7.0)), "{a:?}");
        // Without Retry-After: back off on the normal schedule.
        let a = r.step(
            7.5,
            Input::PollFailed(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy").into()),
        );
        assert!(matches!(a, Action::PollAfter(d) if d == s(0.75)), "{a:?}");
        // A Retry-After beyond the deadline ends the wait at once.
        let mut api = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "slow down");
        api.retry_after = Some(Duration::from_secs(3600));
        let a = r.step(8.0, Input::PollFailed(api.into()));
        assert!(matches!(a, Action::DeadlinePassed { .. }), "{a:?}");
        r.print("429 while polling");
        assert_eq!(
            r.notices,
            [
                "job job_1: rate limited; retry 1 of 10 in 7.0 s",
                "job job_1: status 503; retry 2 of 10 in 0.8 s",
            ]
        );
    }

    #[test]
    fn permanent_poll_errors_end_the_wait_with_the_job_id() {
        let policy = WaitPolicy {
            prefer_stream: false,
            ..WaitPolicy::default()
        };
        let mut r = Run::new(waiter(JobStatus::Queued, policy));
        r.step(0.0, Input::Start);
        let a = r.step(
            0.5,
            Input::PollFailed(ApiError::new(StatusCode::UNAUTHORIZED, "bad key").into()),
        );
        let err = a.into_result().unwrap().unwrap_err();
        assert_eq!(err.job_id().map(JobId::as_str), Some("job_1"));
        assert_eq!(err.status(), Some(StatusCode::UNAUTHORIZED));
    }

    #[test]
    fn repeated_transient_poll_errors_give_up() {
        let policy = WaitPolicy {
            prefer_stream: false,
            max_poll_errors: 2,
            ..WaitPolicy::default()
        };
        let mut r = Run::new(waiter(JobStatus::Queued, policy));
        r.step(0.0, Input::Start);
        let err =
            || Input::PollFailed(TransportError::new(TransportErrorKind::Timeout, "t").into());
        assert!(matches!(r.step(1.0, err()), Action::PollAfter(_)));
        assert!(matches!(r.step(2.0, err()), Action::PollAfter(_)));
        assert!(matches!(r.step(3.0, err()), Action::Error(_)));
    }

    #[test]
    fn garbled_poll_answer_is_polled_again() {
        // Found by the fault matrix: a 200 whose body is not JSON ended the wait although
        // the job was fine.
        let policy = WaitPolicy {
            prefer_stream: false,
            max_poll_errors: 2,
            ..WaitPolicy::default()
        };
        let mut r = Run::new(waiter(JobStatus::Queued, policy));
        r.step(0.0, Input::Start);
        let garbled = || {
            Input::PollFailed(Error::Decode {
                status: StatusCode::OK,
                message: "EOF while parsing".into(),
                raw: r#"{"job_id":"job_1","status":"proc"#.into(),
                job_id: None,
            })
        };
        assert!(matches!(r.step(1.0, garbled()), Action::PollAfter(_)));
        let a = r.step(2.0, Input::Snapshot(job(JobStatus::Completed)));
        assert!(matches!(a, Action::Done(_)), "{a:?}");
        // Still bounded: a body that never decodes ends the wait with the decode error.
        let mut r = Run::new(waiter(JobStatus::Queued, r.waiter.policy.clone()));
        r.step(0.0, Input::Start);
        assert!(matches!(r.step(1.0, garbled()), Action::PollAfter(_)));
        assert!(matches!(r.step(2.0, garbled()), Action::PollAfter(_)));
        match r.step(3.0, garbled()) {
            Action::Error(e) => assert!(matches!(e, Error::Decode { .. }), "{e:?}"),
            other => panic!("{other:?}"),
        }
    }

    fn deadline_policy(cancel: bool) -> WaitPolicy {
        WaitPolicy {
            deadline: Some(s(3.0)),
            cancel_on_deadline: cancel,
            prefer_stream: false,
            ..WaitPolicy::default()
        }
    }

    #[test]
    fn deadline_without_cancel() {
        let mut r = Run::new(waiter(JobStatus::Queued, deadline_policy(false)));
        let mut t = 0.0;
        let mut a = r.step(t, Input::Start);
        let mut total = Duration::ZERO;
        while let Action::PollAfter(d) = a {
            total += d;
            t += d.as_secs_f64();
            a = r.step(t, Input::Snapshot(job(JobStatus::Processing)));
        }
        r.print("deadline 3 s, no cancel");
        // The last sleep is clipped so the total is exactly the deadline.
        assert_eq!(total, s(3.0));
        match a.into_result().unwrap().unwrap_err() {
            Error::WaitDeadline {
                job_id,
                last_status,
                cancel_requested,
            } => {
                assert_eq!(job_id.as_str(), "job_1");
                assert_eq!(last_status, Some(JobStatus::Processing));
                assert!(!cancel_requested);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn deadline_with_cancel() {
        let mut r = Run::new(waiter(JobStatus::Queued, deadline_policy(true)));
        r.step(0.0, Input::Start);
        let a = r.step(3.5, Input::Snapshot(job(JobStatus::Processing)));
        assert!(matches!(a, Action::CancelThenStop { .. }), "{a:?}");
        assert!(matches!(
            a.into_result().unwrap().unwrap_err(),
            Error::WaitDeadline {
                cancel_requested: true,
                ..
            }
        ));
        // A terminal snapshot at the deadline still wins.
        let mut r = Run::new(waiter(JobStatus::Queued, deadline_policy(true)));
        r.step(0.0, Input::Start);
        assert!(matches!(
            r.step(3.5, Input::Snapshot(job(JobStatus::Completed))),
            Action::Done(_)
        ));
    }

    #[test]
    fn deadline_while_streaming() {
        let policy = WaitPolicy {
            deadline: Some(s(20.0)),
            ..WaitPolicy::default()
        };
        let mut r = Run::new(waiter(JobStatus::Queued, policy));
        r.step(0.0, Input::Start);
        match r.step(1.0, Input::StreamOpened) {
            Action::ReadStream { until_deadline } => assert_eq!(until_deadline, Some(s(19.0))),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            r.step(21.0, Input::StreamEvents(vec![])),
            Action::DeadlinePassed { .. }
        ));
    }

    #[test]
    fn failed_and_cancelled_jobs() {
        let mut r = Run::new(waiter(JobStatus::Queued, WaitPolicy::default()));
        r.step(0.0, Input::Start);
        r.step(0.1, Input::StreamOpened);
        let mut failed = status_event("failed");
        failed.data = r#"{"job_id":"job_1","status":"failed","error":"provider exploded"}"#.into();
        let a = r.step(1.0, Input::StreamEvents(vec![failed]));
        match a.into_result().unwrap().unwrap_err() {
            Error::JobFailed { job } => assert_eq!(job.error.as_deref(), Some("provider exploded")),
            other => panic!("{other:?}"),
        }
        let mut r = Run::new(waiter(JobStatus::Queued, WaitPolicy::default()));
        r.step(0.0, Input::Start);
        let a = r.step(0.1, Input::StreamFailed(Error::Timeout { job_id: None }));
        assert!(matches!(a, Action::PollAfter(_)));
        let a = r.step(0.6, Input::Snapshot(job(JobStatus::Cancelled)));
        assert!(matches!(
            a.into_result().unwrap().unwrap_err(),
            Error::JobCancelled { .. }
        ));
    }

    #[test]
    fn unknown_status_keeps_waiting_and_is_reported() {
        let mut r = Run::new(waiter(JobStatus::Queued, WaitPolicy::default()));
        r.step(0.0, Input::Start);
        r.step(0.1, Input::StreamOpened);
        let a = r.step(1.0, Input::StreamEvents(vec![status_event("rendering")]));
        assert!(matches!(a, Action::ReadStream { .. }));
        let a = r.step(2.0, Input::StreamEvents(vec![status_event("completed")]));
        assert!(matches!(a, Action::Done(_)));
        assert_eq!(r.updates, ["queued", "rendering", "completed"]);
    }

    #[test]
    fn waiting_by_id_polls_at_once() {
        let policy = WaitPolicy {
            prefer_stream: false,
            ..WaitPolicy::default()
        };
        let mut w = Waiter::for_job_id(JobId::new("job_9"), policy, s(100.0), FixedJitter(1.0));
        assert!(matches!(w.step(Input::Start, s(100.0)), Action::PollAfter(d) if d.is_zero()));
        // Jitter shortens a delay by up to 20 %.
        assert!(matches!(
            w.step(Input::Snapshot(Job::new("job_9", JobStatus::Queued)), s(100.0)),
            Action::PollAfter(d) if d == s(0.4)
        ));
        assert_eq!(w.take_update().map(|j| j.status), Some(JobStatus::Queued));
        assert_eq!(w.take_update(), None);
    }
}
