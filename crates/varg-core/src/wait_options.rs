//! The per-call options of a wait, shared by both clients.
//!
//! `varg-async` and `varg-blocking` re-export [`WaitOptions`] under the same name, so code
//! written against one client reads the same against the other.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use varg_types::Job;

use crate::wait::WaitPolicy;

/// A callback told about every new status of a job, shared between clones of
/// [`WaitOptions`].
pub type StatusCallback = Arc<dyn Fn(&Job) + Send + Sync>;

/// Options of one wait: a deadline, whether to cancel the job when it passes, and a
/// callback for every status change. Unset values come from the client's [`WaitPolicy`].
///
/// ```
/// use std::time::Duration;
/// use varg_core::{WaitOptions, WaitPolicy};
///
/// let options = WaitOptions::new()
///     .deadline(Duration::from_secs(300))
///     .cancel_on_deadline(true)
///     .on_status(|job| println!("{} is {}", job.job_id, job.status));
/// let policy = options.policy(&WaitPolicy::default());
/// assert_eq!(policy.deadline, Some(Duration::from_secs(300)));
/// assert!(policy.cancel_on_deadline);
/// ```
#[derive(Clone, Default)]
#[must_use]
pub struct WaitOptions {
    deadline: Option<Duration>,
    cancel_on_deadline: Option<bool>,
    on_status: Option<StatusCallback>,
}

impl fmt::Debug for WaitOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitOptions")
            .field("deadline", &self.deadline)
            .field("cancel_on_deadline", &self.cancel_on_deadline)
            .field("on_status", &self.on_status.is_some())
            .finish()
    }
}

impl WaitOptions {
    /// No overrides: the client's wait policy applies.
    pub fn new() -> Self {
        Self::default()
    }

    /// Gives up after `d` (counted from the start of the wait) with
    /// [`Error::WaitDeadline`](crate::Error::WaitDeadline), which carries the job id.
    pub fn deadline(mut self, d: Duration) -> Self {
        self.deadline = Some(d);
        self
    }

    /// Whether to ask the gateway to cancel the job when the deadline passes.
    pub fn cancel_on_deadline(mut self, yes: bool) -> Self {
        self.cancel_on_deadline = Some(yes);
        self
    }

    /// Calls `f` with a snapshot each time the job's status changes (including the first
    /// known status and the final one).
    pub fn on_status(mut self, f: impl Fn(&Job) + Send + Sync + 'static) -> Self {
        self.on_status = Some(Arc::new(f));
        self
    }

    /// The same as [`on_status`](Self::on_status) with a callback that is already shared.
    pub fn status_callback(mut self, f: StatusCallback) -> Self {
        self.on_status = Some(f);
        self
    }

    /// The wait policy to use: `base` (the client's) with this wait's overrides applied.
    pub fn policy(&self, base: &WaitPolicy) -> WaitPolicy {
        let mut policy = base.clone();
        if let Some(d) = self.deadline {
            policy.deadline = Some(d);
        }
        if let Some(c) = self.cancel_on_deadline {
            policy.cancel_on_deadline = c;
        }
        policy
    }

    /// Tells the status callback, if one is set, about `job`. Clients call it for every
    /// status change the waiter reports.
    pub fn notify(&self, job: &Job) {
        if let Some(f) = &self.on_status {
            f(job);
        }
    }

    /// Whether a status callback is set.
    pub fn has_status_callback(&self) -> bool {
        self.on_status.is_some()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use varg_types::JobStatus;

    use super::*;

    #[test]
    fn options_override_only_what_they_set() {
        let base = WaitPolicy {
            cancel_on_deadline: true,
            ..WaitPolicy::default()
        };
        assert_eq!(WaitOptions::new().policy(&base), base);
        let changed = WaitOptions::new()
            .deadline(Duration::from_secs(5))
            .cancel_on_deadline(false)
            .policy(&base);
        assert_eq!(changed.deadline, Some(Duration::from_secs(5)));
        assert!(!changed.cancel_on_deadline);
        assert_eq!(changed.poll_initial, base.poll_initial);
    }

    #[test]
    fn callback_is_shared_between_clones_and_hidden_in_debug() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let options = WaitOptions::new().on_status(move |job| {
            sink.lock().unwrap().push(job.status.clone());
        });
        assert!(options.has_status_callback());
        let copy = options.clone();
        options.notify(&Job::new("j", JobStatus::Queued));
        copy.notify(&Job::new("j", JobStatus::Completed));
        assert_eq!(
            *seen.lock().unwrap(),
            vec![JobStatus::Queued, JobStatus::Completed]
        );
        let shown = format!("{copy:?}");
        assert!(shown.contains("on_status: true"), "{shown}");
        // No callback: notifying does nothing.
        let none = WaitOptions::new();
        assert!(!none.has_status_callback());
        none.notify(&Job::new("j", JobStatus::Queued));
        let shared: StatusCallback = Arc::new(|_| {});
        assert!(
            WaitOptions::new()
                .status_callback(shared)
                .has_status_callback()
        );
    }
}
