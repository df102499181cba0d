//! When to try a request again, and after how long.
//!
//! Everything here is a pure decision: the caller reports what happened to an attempt (an
//! [`Outcome`]), how many attempts have been made and how much time has passed, and
//! [`RetryPolicy::decide`] answers [`Decision::Retry`] with a delay or [`Decision::Stop`].
//! The caller does the sleeping. Randomness for the jitter comes from an injected
//! [`Jitter`] source, so tests are deterministic.
//!
//! # What is retried
//!
//! | Outcome | Idempotent request (GET, DELETE) | Job-creating POST, upload |
//! |---|---|---|
//! | connection could not be established | yes | yes |
//! | 429 Too Many Requests | yes | yes |
//! | 503 Service Unavailable | yes | yes |
//! | 500, 502, 504 | yes | no |
//! | timeout, connection reset, other transport error | yes | no |
//! | 400, 401, 402, 404, 413 and every other status | no | no |
//!
//! # Why POSTs are retried only sometimes
//!
//! A generation POST creates a job, and a job costs money. If a request reached the gateway
//! and the answer was lost (a timeout, a reset connection, a 502 from a proxy whose upstream
//! did answer), the job may exist and be billed; sending the request again could start (and
//! bill) a second job, and the v1 API has no idempotency key to deduplicate it. So a POST
//! is repeated only when the server *provably did no work*: the connection was never
//! established (nothing was sent), the gateway refused the request with 429 (rate limiting
//! happens before any job is created), or it answered 503 (the service did not accept the
//! request). GET and DELETE change nothing on repetition (cancelling twice is harmless), so
//! they are retried on every transient failure. Uploads follow the POST rule: they are
//! deduplicated by content hash, but a large upload resent after a lost answer doubles the
//! traffic for nothing certain.
//!
//! # Delays
//!
//! Without a `Retry-After` header the delay before retry *n* (1-based) is drawn uniformly
//! from `[0, min(initial * 2^(n-1), max))` ("full jitter"). With the defaults (0.5 s
//! doubling to 8 s) the upper bounds are 0.5 s, 1 s, 2 s, 4 s, 8 s, 8 s, ... and the default
//! policy makes at most 2 retries. A `Retry-After` (or `retry-after-ms`) from the server is
//! honoured exactly when it is at most [`RetryPolicy::max_retry_after`] (120 s) and fits in
//! what is left of the call's time budget; a longer one stops retrying at once and the delay
//! is carried in [`StopReason::RetryAfterTooLong`] (the clients turn it into
//! [`Error::RateLimited`](crate::error::Error::RateLimited)).
//!
//! # One time budget per call
//!
//! A logical call (one `balance()`, one `create_image()`, one upload) has one budget: the
//! configured total timeout. It bounds every attempt, every backoff and every `Retry-After`
//! sleep together. [`RetryRun`] keeps that arithmetic: [`RetryRun::begin`] cuts each
//! attempt's timeouts to what is left, [`RetryRun::failed`] refuses a sleep that would
//! overrun it, and [`RetryRun::take_notice`] says, before every sleep, what the call waits
//! for (see [`Notice`]).
//!
//! # A retry loop
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use bytes::Bytes;
//! use varg_core::{config::Config, ops, retry::*, transport::RequestTimeouts};
//! use varg_types::endpoint::{ops::GetBalance, EndpointId};
//!
//! // A fake gateway: one 503, then the answer.
//! let mut answers = vec![
//!     (200, r#"{"balance_cents":5000}"#),
//!     (503, r#"{"error":"InternalError","message":"busy"}"#),
//! ];
//! let mut send = |_req: http::Request<Bytes>| {
//!     let (status, body) = answers.pop().unwrap();
//!     http::Response::builder().status(status).body(Bytes::from_static(body.as_bytes())).unwrap()
//! };
//!
//! let config = Config::builder("varg_test").build().unwrap();
//! let idempotency = ops::idempotency(EndpointId::GetBalance.endpoint());
//! let mut run = RetryRun::new(config.retry().clone(), idempotency, config.timeouts().total);
//! let mut jitter = FixedJitter(0.5);
//! let mut elapsed = Duration::ZERO; // the client measures this with its own clock
//! let mut notices = Vec::new();
//! let result = loop {
//!     let mut request = ops::get_balance(&config).unwrap();
//!     let base = request.extensions().get::<RequestTimeouts>().copied().unwrap_or_default();
//!     let Some(timeouts) = run.begin(base, elapsed) else { break Err(None) };
//!     request.extensions_mut().insert(timeouts); // this attempt's share of the budget
//!     let response = send(request);
//!     let wall_clock = SystemTime::UNIX_EPOCH; // the client passes SystemTime::now()
//!     if response.status().is_success() {
//!         break Ok(ops::decode::<GetBalance>(&response, wall_clock).unwrap().0);
//!     }
//!     let outcome = Outcome::from_response(response.status(), response.headers(), wall_clock);
//!     match run.failed(&outcome, elapsed, &mut jitter) {
//!         Decision::Retry { after } => {
//!             notices.push(run.take_notice().unwrap().to_string()); // then sleep `after`
//!             elapsed += after;
//!         }
//!         Decision::Stop(_) => break Err(Some(response.status())),
//!     }
//! };
//! assert_eq!(result.unwrap().balance_cents, Some(5000.0));
//! assert_eq!(run.attempts(), 2);
//! assert_eq!(notices, ["status 503; retry 1 of 2 in 0.2 s"]);
//! assert_eq!(elapsed, Duration::from_millis(250)); // half of the first 0.5 s cap
//! ```

use std::time::{Duration, SystemTime};

use http::{HeaderMap, Method, StatusCode};
use varg_types::JobId;

use crate::notice::{Notice, RetryReason};
use crate::transport::{RequestTimeouts, TransportErrorKind};

/// A source of uniformly distributed numbers in `[0, 1)` for jitter.
///
/// Any `FnMut() -> f64` is a jitter source. With the `rand` feature, [`RandJitter`] uses the
/// thread-local generator of the `rand` crate.
pub trait Jitter {
    /// The next number in `[0, 1)`. Values outside that range are clamped.
    fn next_unit(&mut self) -> f64;
}

impl<F: FnMut() -> f64> Jitter for F {
    fn next_unit(&mut self) -> f64 {
        self()
    }
}

/// A jitter source that always answers the same fraction (useful in tests and to disable
/// jitter: `FixedJitter(1.0)` always takes the full backoff).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FixedJitter(pub f64);

impl Jitter for FixedJitter {
    fn next_unit(&mut self) -> f64 {
        self.0
    }
}

/// The jitter source of the `rand` crate (thread-local generator).
#[cfg(feature = "rand")]
#[derive(Debug, Clone, Copy, Default)]
pub struct RandJitter;

#[cfg(feature = "rand")]
impl Jitter for RandJitter {
    fn next_unit(&mut self) -> f64 {
        rand::random::<f64>()
    }
}

/// Scales `max` by a jitter fraction (clamped to `[0, 1]`).
pub(crate) fn jittered(max: Duration, jitter: &mut dyn Jitter) -> Duration {
    let unit = jitter.next_unit();
    let unit = if unit.is_nan() {
        1.0
    } else {
        unit.clamp(0.0, 1.0)
    };
    max.mul_f64(unit)
}

/// Whether repeating a request is harmless.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Idempotency {
    /// Repeating changes nothing (GET, DELETE).
    Idempotent,
    /// The request creates something (a job, a file); repeat only when the server did no work.
    NonIdempotent,
}

impl Idempotency {
    /// GET, HEAD, OPTIONS, PUT and DELETE are idempotent; everything else is not.
    pub fn of_method(method: &Method) -> Self {
        if method == Method::GET
            || method == Method::HEAD
            || method == Method::OPTIONS
            || method == Method::PUT
            || method == Method::DELETE
        {
            Self::Idempotent
        } else {
            Self::NonIdempotent
        }
    }
}

/// What happened to one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The server answered with this status. `retry_after` is the server's requested delay
    /// (see [`parse_retry_after`]).
    Status {
        /// The HTTP status.
        status: StatusCode,
        /// The delay the server asked for, if any.
        retry_after: Option<Duration>,
    },
    /// The exchange failed below HTTP.
    Transport(TransportErrorKind),
}

impl Outcome {
    /// The outcome of a response: its status and the `Retry-After` it carries, read
    /// relative to `now` (the caller's wall clock; only used for HTTP-date values).
    pub fn from_response(status: StatusCode, headers: &HeaderMap, now: SystemTime) -> Self {
        Self::Status {
            status,
            retry_after: parse_retry_after(headers, now),
        }
    }
}

/// Whether an outcome is worth another attempt, given the request's idempotency. This is
/// the classification table of the [module documentation](self); it ignores attempts and
/// budget.
pub fn is_retryable(outcome: &Outcome, idempotency: Idempotency) -> bool {
    let idempotent = idempotency == Idempotency::Idempotent;
    match outcome {
        Outcome::Status { status, .. } => match status.as_u16() {
            429 | 503 => true,
            500 | 502 | 504 => idempotent,
            _ => false,
        },
        Outcome::Transport(kind) => match kind {
            TransportErrorKind::Connect => true,
            TransportErrorKind::Timeout | TransportErrorKind::Reset | TransportErrorKind::Other => {
                idempotent
            }
        },
    }
}

/// The answer of [`RetryPolicy::decide`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Wait this long, then send the request again.
    Retry {
        /// The delay before the next attempt.
        after: Duration,
    },
    /// Do not try again.
    Stop(StopReason),
}

/// Why [`RetryPolicy::decide`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The outcome was a success, or a failure that another attempt will not fix.
    NotRetryable,
    /// The maximum number of retries has been made.
    AttemptsExhausted,
    /// The delay before the next attempt would end beyond the call's time budget.
    BudgetExhausted,
    /// The server asked for a longer wait than the policy honours or than is left of the
    /// call's time budget; the delay it asked for.
    RetryAfterTooLong(Duration),
}

/// How many times to retry and how long to wait. See the [module documentation](self).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (default 2; 0 disables retrying).
    pub max_retries: u32,
    /// Upper bound of the first backoff (default 0.5 s).
    pub initial_backoff: Duration,
    /// Cap on the backoff (default 8 s).
    pub max_backoff: Duration,
    /// Longest server-requested delay that is honoured (default 120 s). The call's time
    /// budget (its total timeout) may cut it shorter.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 2,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// The un-jittered backoff cap before retry number `retry` (1-based):
    /// `min(initial * 2^(retry-1), max)`.
    pub fn backoff_cap(&self, retry: u32) -> Duration {
        let exp = retry.saturating_sub(1).min(31);
        self.initial_backoff
            .checked_mul(1u32 << exp)
            .unwrap_or(self.max_backoff)
            .min(self.max_backoff)
    }

    /// Decides whether to retry after attempt number `attempt` (1-based: `1` means the first
    /// attempt just ended) ended with `outcome`, with `remaining` left of the call's time
    /// budget (`None`: unbounded). [`RetryRun`] keeps these numbers for a client.
    pub fn decide(
        &self,
        attempt: u32,
        outcome: &Outcome,
        idempotency: Idempotency,
        remaining: Option<Duration>,
        jitter: &mut dyn Jitter,
    ) -> Decision {
        if !is_retryable(outcome, idempotency) {
            return Decision::Stop(StopReason::NotRetryable);
        }
        let retry_after = match outcome {
            Outcome::Status { retry_after, .. } => *retry_after,
            Outcome::Transport(_) => None,
        };
        if let Some(after) = retry_after
            && (after > self.max_retry_after || remaining.is_some_and(|left| after > left))
        {
            return Decision::Stop(StopReason::RetryAfterTooLong(after));
        }
        if attempt > self.max_retries {
            return Decision::Stop(StopReason::AttemptsExhausted);
        }
        let after = match retry_after {
            Some(after) => after,
            None => jittered(self.backoff_cap(attempt), jitter),
        };
        if remaining.is_some_and(|left| after >= left) {
            return Decision::Stop(StopReason::BudgetExhausted);
        }
        Decision::Retry { after }
    }
}

/// Why an outcome is retried, in the words of a [`Notice`].
pub fn retry_reason(outcome: &Outcome) -> RetryReason {
    match outcome {
        Outcome::Status { status, .. } if *status == StatusCode::TOO_MANY_REQUESTS => {
            RetryReason::RateLimited
        }
        Outcome::Status { status, .. } => RetryReason::Status(*status),
        Outcome::Transport(kind) => RetryReason::Connection(*kind),
    }
}

/// The shortest timeout handed to a transport: a zero timeout means "none" to some HTTP
/// stacks, which is the opposite of what an exhausted budget wants.
const MIN_ATTEMPT_TIMEOUT: Duration = Duration::from_millis(1);

/// The retries of one logical call under one time budget: every attempt, backoff and
/// `Retry-After` sleep together stay within `budget` (the configured total timeout). The
/// caller measures `elapsed` from the start of the call with its own clock. See the
/// [module documentation](self) for a driving loop.
#[derive(Debug, Clone)]
pub struct RetryRun {
    policy: RetryPolicy,
    idempotency: Idempotency,
    budget: Option<Duration>,
    attempts: u32,
    job_id: Option<JobId>,
    notice: Option<Notice>,
}

impl RetryRun {
    /// A run of `policy` for a request of this idempotency, bounded by `budget` (`None`:
    /// only the policy's retry count bounds it).
    pub fn new(policy: RetryPolicy, idempotency: Idempotency, budget: Option<Duration>) -> Self {
        Self {
            policy,
            idempotency,
            budget,
            attempts: 0,
            job_id: None,
            notice: None,
        }
    }

    /// Names the job the call is about in its notices.
    pub fn for_job(mut self, job_id: Option<&JobId>) -> Self {
        self.job_id = job_id.cloned();
        self
    }

    /// The attempts begun so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The budget.
    pub fn budget(&self) -> Option<Duration> {
        self.budget
    }

    /// What is left of the budget at `elapsed` (`None` when unbounded).
    pub fn remaining(&self, elapsed: Duration) -> Option<Duration> {
        self.budget.map(|b| b.saturating_sub(elapsed))
    }

    /// Begins an attempt at `elapsed`: answers the timeouts it gets, which are `timeouts`
    /// (the request's own) with each phase, and the total, cut to what is left of the
    /// budget; or `None` when nothing is left (send nothing; the call has timed out).
    pub fn begin(
        &mut self,
        timeouts: RequestTimeouts,
        elapsed: Duration,
    ) -> Option<RequestTimeouts> {
        let mut out = timeouts;
        if let Some(left) = self.remaining(elapsed) {
            if left.is_zero() {
                return None;
            }
            let cut = |t: Option<Duration>| {
                Some(t.map_or(left, |t| t.min(left)).max(MIN_ATTEMPT_TIMEOUT))
            };
            out.connect = cut(out.connect);
            out.read = cut(out.read);
            out.total = cut(out.total);
        }
        self.attempts += 1;
        Some(out)
    }

    /// Reports that the attempt just begun ended with `outcome` (a failure) at `elapsed`;
    /// answers whether to sleep and try again. A [`Decision::Retry`] leaves a
    /// [`Notice::Retry`] for [`take_notice`](Self::take_notice).
    pub fn failed(
        &mut self,
        outcome: &Outcome,
        elapsed: Duration,
        jitter: &mut dyn Jitter,
    ) -> Decision {
        let decision = self.policy.decide(
            self.attempts.max(1),
            outcome,
            self.idempotency,
            self.remaining(elapsed),
            jitter,
        );
        if let Decision::Retry { after } = decision {
            self.notice = Some(Notice::retry(
                retry_reason(outcome),
                self.attempts.max(1),
                self.policy.max_retries,
                after,
                self.job_id.clone(),
            ));
        }
        decision
    }

    /// The notice of the last [`Decision::Retry`], once: hand it to the caller's hook
    /// before sleeping.
    pub fn take_notice(&mut self) -> Option<Notice> {
        self.notice.take()
    }
}

/// Reads the delay a server asked for: `retry-after-ms` (milliseconds), else `Retry-After`
/// as seconds (integer or decimal) or as an HTTP date, measured from `now`. A date in the
/// past gives zero. Unparseable or negative values are ignored.
pub fn parse_retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    if let Some(ms) = headers
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .and_then(|ms| Duration::try_from_secs_f64(ms / 1000.0).ok())
    {
        return Some(ms);
    }
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).ok();
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const GET: Idempotency = Idempotency::Idempotent;
    const POST: Idempotency = Idempotency::NonIdempotent;

    fn status(code: u16) -> Outcome {
        Outcome::Status {
            status: StatusCode::from_u16(code).unwrap(),
            retry_after: None,
        }
    }

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn classification_table() {
        use TransportErrorKind::*;
        let table: &[(Outcome, bool, bool)] = &[
            // (outcome, retried for GET/DELETE, retried for POST/upload)
            (status(429), true, true),
            (status(503), true, true),
            (status(500), true, false),
            (status(502), true, false),
            (status(504), true, false),
            (status(400), false, false),
            (status(401), false, false),
            (status(402), false, false),
            (status(403), false, false),
            (status(404), false, false),
            (status(409), false, false),
            (status(413), false, false),
            (status(200), false, false),
            (status(202), false, false),
            (status(501), false, false),
            (Outcome::Transport(Connect), true, true),
            (Outcome::Transport(Timeout), true, false),
            (Outcome::Transport(Reset), true, false),
            (Outcome::Transport(Other), true, false),
        ];
        for (outcome, get, post) in table {
            assert_eq!(is_retryable(outcome, GET), *get, "{outcome:?} GET");
            assert_eq!(is_retryable(outcome, POST), *post, "{outcome:?} POST");
            let policy = RetryPolicy::default();
            let d = policy.decide(1, outcome, POST, None, &mut FixedJitter(1.0));
            assert_eq!(
                matches!(d, Decision::Retry { .. }),
                *post,
                "{outcome:?} decide"
            );
        }
    }

    #[test]
    fn default_delays_full_jitter_upper_bounds() {
        let p = RetryPolicy::default();
        let caps: Vec<Duration> = (1..=7).map(|n| p.backoff_cap(n)).collect();
        assert_eq!(
            caps,
            [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0].map(secs).to_vec(),
            "backoff caps"
        );
        let d = |attempt, j: f64| p.decide(attempt, &status(500), GET, None, &mut FixedJitter(j));
        assert_eq!(d(1, 1.0), Decision::Retry { after: secs(0.5) });
        assert_eq!(d(2, 1.0), Decision::Retry { after: secs(1.0) });
        assert_eq!(d(1, 0.5), Decision::Retry { after: secs(0.25) });
        assert_eq!(
            d(2, 0.0),
            Decision::Retry {
                after: Duration::ZERO
            }
        );
        assert_eq!(d(3, 1.0), Decision::Stop(StopReason::AttemptsExhausted));
        // Out-of-range jitter is clamped.
        assert_eq!(d(1, 7.0), Decision::Retry { after: secs(0.5) });
        assert_eq!(
            d(1, -1.0),
            Decision::Retry {
                after: Duration::ZERO
            }
        );
    }

    #[test]
    fn closure_is_a_jitter_source() {
        let mut values = [0.2, 0.8].into_iter();
        let mut source = move || values.next().unwrap_or(0.0);
        let p = RetryPolicy::default();
        assert_eq!(
            p.decide(1, &status(503), POST, None, &mut source),
            Decision::Retry { after: secs(0.1) }
        );
        assert_eq!(
            p.decide(2, &status(503), POST, None, &mut source),
            Decision::Retry { after: secs(0.8) }
        );
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_cap() {
        let p = RetryPolicy::default();
        let with = |s: u64| Outcome::Status {
            status: StatusCode::TOO_MANY_REQUESTS,
            retry_after: Some(Duration::from_secs(s)),
        };
        let mut j = FixedJitter(0.0);
        assert_eq!(
            p.decide(1, &with(30), POST, None, &mut j),
            Decision::Retry { after: secs(30.0) }
        );
        assert_eq!(
            p.decide(1, &with(120), POST, None, &mut j),
            Decision::Retry { after: secs(120.0) }
        );
        assert_eq!(
            p.decide(1, &with(121), POST, None, &mut j),
            Decision::Stop(StopReason::RetryAfterTooLong(secs(121.0)))
        );
        // Retry-After on a non-retryable status does not make it retryable.
        let bad = Outcome::Status {
            status: StatusCode::BAD_REQUEST,
            retry_after: Some(Duration::from_secs(1)),
        };
        assert_eq!(
            p.decide(1, &bad, GET, None, &mut j),
            Decision::Stop(StopReason::NotRetryable)
        );
    }

    #[test]
    fn a_retry_after_beyond_the_remaining_budget_stops_at_once_with_the_delay() {
        let p = RetryPolicy::default();
        let o = Outcome::Status {
            status: StatusCode::TOO_MANY_REQUESTS,
            retry_after: Some(secs(5.0)),
        };
        let mut j = FixedJitter(1.0);
        assert_eq!(
            p.decide(1, &o, GET, Some(secs(5.5)), &mut j),
            Decision::Retry { after: secs(5.0) }
        );
        assert_eq!(
            p.decide(1, &o, GET, Some(secs(4.5)), &mut j),
            Decision::Stop(StopReason::RetryAfterTooLong(secs(5.0)))
        );
        // A backoff that would use up the rest of the budget is not slept either.
        assert_eq!(
            p.decide(1, &status(503), GET, Some(secs(0.5)), &mut j),
            Decision::Stop(StopReason::BudgetExhausted)
        );
        assert_eq!(
            RetryPolicy::none().decide(1, &status(503), GET, None, &mut j),
            Decision::Stop(StopReason::AttemptsExhausted)
        );
    }

    /// A fake clock: the run is driven as a client drives it, with time advanced by hand.
    struct FakeCall {
        run: RetryRun,
        now: Duration,
        timeouts: Vec<RequestTimeouts>,
        notices: Vec<String>,
    }

    impl FakeCall {
        fn new(policy: RetryPolicy, budget: Option<f64>) -> Self {
            Self {
                run: RetryRun::new(policy, GET, budget.map(secs)),
                now: Duration::ZERO,
                timeouts: Vec::new(),
                notices: Vec::new(),
            }
        }

        /// Runs attempts that each take `attempt_takes` (capped by the attempt's total
        /// timeout, as a transport caps it) and fail with `outcome`; returns how it ended.
        fn run(&mut self, outcome: &Outcome, attempt_takes: f64) -> StopReason {
            let base = crate::config::DEFAULT_TIMEOUTS;
            loop {
                let Some(t) = self.run.begin(base, self.now) else {
                    return StopReason::BudgetExhausted;
                };
                self.timeouts.push(t);
                let took = t
                    .total
                    .map_or(secs(attempt_takes), |total| total.min(secs(attempt_takes)));
                self.now += took;
                match self.run.failed(outcome, self.now, &mut FixedJitter(1.0)) {
                    Decision::Retry { after } => {
                        self.notices
                            .push(self.run.take_notice().unwrap().to_string());
                        self.now += after;
                    }
                    Decision::Stop(reason) => return reason,
                }
            }
        }
    }

    #[test]
    fn the_total_timeout_bounds_every_attempt_and_sleep_of_a_call() {
        // A server that accepts and never answers: each attempt ends by its read timeout
        // (30 s); three attempts and two backoffs fit in 120 s.
        let mut call = FakeCall::new(RetryPolicy::default(), Some(120.0));
        let stop = call.run(&Outcome::Transport(TransportErrorKind::Timeout), 30.0);
        assert_eq!(stop, StopReason::AttemptsExhausted);
        assert_eq!(call.run.attempts(), 3);
        assert_eq!(call.now, secs(30.0 + 0.5 + 30.0 + 1.0 + 30.0));
        assert_eq!(
            call.notices,
            [
                "no answer in time; retry 1 of 2 in 0.5 s",
                "no answer in time; retry 2 of 2 in 1.0 s"
            ]
        );
        // Each attempt's total is what is left of the budget.
        let totals: Vec<_> = call.timeouts.iter().map(|t| t.total.unwrap()).collect();
        assert_eq!(totals, [secs(120.0), secs(89.5), secs(58.5)]);

        // With a 10 s budget and attempts that hang for 60 s the first attempt gets the
        // whole budget and nothing is left for a second.
        let mut call = FakeCall::new(RetryPolicy::default(), Some(10.0));
        let stop = call.run(&Outcome::Transport(TransportErrorKind::Timeout), 60.0);
        assert_eq!(stop, StopReason::BudgetExhausted);
        assert_eq!(call.run.attempts(), 1);
        assert_eq!(call.now, secs(10.0));
        assert_eq!(
            call.timeouts[0].read,
            Some(secs(10.0)),
            "the read timeout is cut too"
        );
        assert_eq!(call.timeouts[0].connect, Some(secs(10.0)));
    }

    #[test]
    fn more_retries_still_fit_the_budget() {
        let policy = RetryPolicy {
            max_retries: 100,
            ..RetryPolicy::default()
        };
        let mut call = FakeCall::new(policy, Some(20.0));
        let stop = call.run(&status(503), 1.0);
        assert_eq!(stop, StopReason::BudgetExhausted);
        assert!(call.now <= secs(20.0), "{:?}", call.now);
        // Attempts of 1 s and sleeps of 0.5, 1, 2 and 4 s end at 12.5 s; the fifth sleep
        // (8 s) does not fit in the 7.5 s left.
        assert_eq!(call.run.attempts(), 5);
        assert_eq!(call.notices.len(), 4);
        assert_eq!(call.notices[3], "status 503; retry 4 of 100 in 4.0 s");
    }

    #[test]
    fn a_spent_budget_begins_no_attempt_and_no_budget_is_unbounded() {
        let mut run = RetryRun::new(RetryPolicy::default(), GET, Some(secs(1.0)));
        let base = RequestTimeouts::default();
        assert!(run.begin(base, secs(1.0)).is_none());
        assert_eq!(run.attempts(), 0);
        let t = run.begin(base, secs(0.25)).unwrap();
        assert_eq!(t.total, Some(secs(0.75)));
        let mut run = RetryRun::new(RetryPolicy::default(), GET, None);
        assert_eq!(run.begin(base, secs(1e6)), Some(base));
        let rate_limited = Outcome::Status {
            status: StatusCode::TOO_MANY_REQUESTS,
            retry_after: Some(secs(60.0)),
        };
        assert_eq!(
            run.failed(&rate_limited, secs(1e6), &mut FixedJitter(0.0)),
            Decision::Retry { after: secs(60.0) }
        );
        assert_eq!(
            run.take_notice().unwrap().to_string(),
            "rate limited; retry 1 of 2 in 60 s"
        );
        assert_eq!(run.take_notice(), None, "a notice is taken once");
        // The same answer with only 30 s left ends the call at once with the delay.
        let mut run = RetryRun::new(RetryPolicy::default(), POST, Some(secs(40.0)));
        run.begin(base, Duration::ZERO).unwrap();
        assert_eq!(
            run.failed(&rate_limited, secs(10.0), &mut FixedJitter(0.0)),
            Decision::Stop(StopReason::RetryAfterTooLong(secs(60.0)))
        );
        assert_eq!(run.take_notice(), None);
    }

    #[test]
    fn parse_retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut h = HeaderMap::new();
        assert_eq!(parse_retry_after(&h, now), None);
        h.insert("retry-after", HeaderValue::from_static("60"));
        assert_eq!(parse_retry_after(&h, now), Some(secs(60.0)));
        h.insert("retry-after", HeaderValue::from_static(" 1.5 "));
        assert_eq!(parse_retry_after(&h, now), Some(secs(1.5)));
        h.insert("retry-after", HeaderValue::from_static("-3"));
        assert_eq!(parse_retry_after(&h, now), None);
        h.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(parse_retry_after(&h, now), None);
        let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
        h.insert("retry-after", HeaderValue::from_str(&later).unwrap());
        assert_eq!(parse_retry_after(&h, now), Some(secs(90.0)));
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(90));
        h.insert("retry-after", HeaderValue::from_str(&earlier).unwrap());
        assert_eq!(parse_retry_after(&h, now), Some(Duration::ZERO));
        h.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(parse_retry_after(&h, now), Some(secs(0.25)));
        let o = Outcome::from_response(StatusCode::TOO_MANY_REQUESTS, &h, now);
        assert_eq!(
            o,
            Outcome::Status {
                status: StatusCode::TOO_MANY_REQUESTS,
                retry_after: Some(secs(0.25))
            }
        );
    }

    #[test]
    fn idempotency_of_methods() {
        assert_eq!(Idempotency::of_method(&Method::GET), GET);
        assert_eq!(Idempotency::of_method(&Method::DELETE), GET);
        assert_eq!(Idempotency::of_method(&Method::POST), POST);
    }
}
