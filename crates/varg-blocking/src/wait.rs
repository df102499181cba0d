//! Waiting for jobs: [`Client::wait`], [`Client::wait_for`], [`Client::events`] and the
//! `generate_*` helpers. All of them drive varg-core's [`Waiter`] (stream first, reconnect,
//! polling fallback, `Retry-After`, deadline) with one short loop; the only things done
//! here are the IO, the clock and the sleeping.

use std::io::Read;
use std::time::{Duration, Instant};

use varg_core::WaitPolicy;
use varg_core::error::Error;
use varg_core::ops;
use varg_core::retry::RandJitter;
use varg_core::sse::SseDecoder;
use varg_core::transport::{Body, RequestTimeouts, ResponseBody};
use varg_core::wait::{Action, Input, Waiter};
use varg_core::wait_options::WaitOptions;
use varg_types::{
    ImageRequest, Job, JobId, MusicRequest, SpeechRequest, TranscriptionRequest, VideoRequest,
};

use crate::client::{Client, Prepared, attach, decode_response, response_error};

/// What one turn of the driving loop produced.
enum Turn {
    /// The job's status changed.
    Update(Job),
    /// The wait is over.
    Finished(Result<Job, Error>),
}

/// The driving loop of a [`Waiter`], one turn at a time (so that it serves both `wait`
/// and the `events` iterator).
struct Driver {
    client: Client,
    waiter: Waiter,
    job_id: JobId,
    origin: Instant,
    next: Option<Action>,
    stream: Option<(ResponseBody, SseDecoder)>,
    last_event_id: Option<String>,
    buf: Vec<u8>,
}

impl Driver {
    fn new(client: &Client, job: Option<Job>, job_id: JobId, policy: WaitPolicy) -> Self {
        let origin = Instant::now();
        let waiter = match job {
            Some(job) => Waiter::new(job, policy, Duration::ZERO, RandJitter),
            None => Waiter::for_job_id(job_id.clone(), policy, Duration::ZERO, RandJitter),
        };
        Self {
            client: client.clone(),
            waiter,
            job_id,
            origin,
            next: None,
            stream: None,
            last_event_id: None,
            buf: vec![0; 16 * 1024],
        }
    }

    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    /// Runs the loop until the status changes or the wait ends.
    fn turn(&mut self) -> Turn {
        loop {
            if let Some(notice) = self.waiter.take_notice() {
                self.client.notify(notice);
            }
            if let Some(job) = self.waiter.take_update() {
                return Turn::Update(job);
            }
            let action = match self.next.take() {
                Some(a) => a,
                None => {
                    let now = self.now();
                    self.waiter.step(Input::Start, now)
                }
            };
            let input = match action {
                Action::OpenStream => match self.open_stream() {
                    Ok(body) => {
                        self.stream = Some((body, SseDecoder::new()));
                        Input::StreamOpened
                    }
                    Err(e) => Input::StreamFailed(e),
                },
                Action::ReadStream { .. } => self.read_stream(),
                Action::PollAfter(delay) => {
                    self.stream = None;
                    std::thread::sleep(delay);
                    match self.poll() {
                        Ok(job) => Input::Snapshot(job),
                        Err(e) => Input::PollFailed(e),
                    }
                }
                Action::CancelThenStop {
                    job_id,
                    last_status,
                } => {
                    self.stream = None;
                    // Best effort: the error returned carries the job id either way.
                    if let Err(e) = self.client.cancel_job(job_id.as_str()) {
                        tracing::debug!(job_id = job_id.as_str(), error = %e, "cancel at deadline failed");
                    }
                    let done = Action::CancelThenStop {
                        job_id,
                        last_status,
                    };
                    return self.finish(done);
                }
                done => {
                    self.stream = None;
                    return self.finish(done);
                }
            };
            let now = self.now();
            self.next = Some(self.waiter.step(input, now));
        }
    }

    fn finish(&mut self, action: Action) -> Turn {
        let result = action.into_result().unwrap_or_else(|| {
            Err(Error::invalid_config(
                "the job waiter ended without a result",
            ))
        });
        // If anything is stepped again, the waiter replays its final answer.
        Turn::Finished(result.map_err(|e| e.with_job_id(&self.job_id)))
    }

    fn open_stream(&mut self) -> Result<ResponseBody, Error> {
        let config = self.client.config.clone();
        let request = ops::stream_job(&config, &self.job_id, self.last_event_id.as_deref())?;
        let prepared = Prepared::new(&request);
        let mut request = prepared.with_body(Body::Empty);
        // A stream that outlives the deadline ends with a timeout, so that a blocking read
        // never oversleeps it.
        if let Some(left) = self.waiter.until_deadline(self.now()) {
            let mut timeouts = request
                .extensions()
                .get::<RequestTimeouts>()
                .copied()
                .unwrap_or_default();
            timeouts.total = Some(left.max(Duration::from_millis(1)));
            if let Some(read) = timeouts.read {
                timeouts.read = Some(read.min(left.max(Duration::from_millis(1))));
            }
            request.extensions_mut().insert(timeouts);
        }
        let response =
            self.client
                .send_once(request, "/jobs/{job_id}/stream", Some(&self.job_id), 1)?;
        if response.status().is_success() {
            Ok(response.into_body())
        } else {
            Err(attach(response_error(response), Some(&self.job_id)))
        }
    }

    fn read_stream(&mut self) -> Input {
        let Some((body, decoder)) = self.stream.as_mut() else {
            return Input::StreamClosed;
        };
        match body.read(&mut self.buf) {
            Ok(0) => {
                decoder.finish();
                self.stream = None;
                Input::StreamClosed
            }
            Ok(n) => {
                let mut events = Vec::new();
                let fed = decoder.feed(&self.buf[..n], &mut events);
                if let Some(id) = decoder.last_event_id() {
                    self.last_event_id = Some(id.to_owned());
                }
                match fed {
                    Ok(()) => Input::StreamEvents(events),
                    Err(e) => {
                        self.stream = None;
                        Input::StreamFailed(Error::Io(std::io::Error::other(e)))
                    }
                }
            }
            Err(e) => {
                self.stream = None;
                Input::StreamFailed(crate::client::body_error(e))
            }
        }
    }

    /// One `GET /jobs/{job_id}` without retries: repeating a failed poll is the waiter's
    /// decision.
    fn poll(&self) -> Result<Job, Error> {
        let request = ops::get_job(&self.client.config, &self.job_id)?;
        let request = Prepared::new(&request).with_body(Body::Empty);
        let response = self
            .client
            .send_once(request, "/jobs/{job_id}", Some(&self.job_id), 1)?;
        if !response.status().is_success() {
            return Err(attach(response_error(response), Some(&self.job_id)));
        }
        decode_response::<Job>(response, false, Some(&self.job_id)).map(|(job, _)| job)
    }
}

/// An iterator over the status changes of a job, from [`Client::events`]: one snapshot
/// each time the status changes, ending after a terminal one (`completed`, `failed` or
/// `cancelled`). A wait that ends otherwise (deadline, an error that waiting will not fix)
/// yields that error last.
pub struct JobEvents {
    driver: Driver,
    done: bool,
}

impl std::fmt::Debug for JobEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobEvents")
            .field("job_id", &self.driver.job_id)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl Iterator for JobEvents {
    type Item = Result<Job, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.driver.turn() {
            Turn::Update(job) => {
                if job.is_terminal() {
                    self.done = true;
                }
                Some(Ok(job))
            }
            Turn::Finished(result) => {
                self.done = true;
                match result {
                    // The terminal snapshot was yielded as an update already.
                    Ok(_) | Err(Error::JobFailed { .. } | Error::JobCancelled { .. }) => None,
                    Err(e) => Some(Err(e)),
                }
            }
        }
    }
}

impl Client {
    /// The status changes of a job as an iterator (see [`JobEvents`]), using the client's
    /// wait policy.
    pub fn events(&self, job_id: impl AsRef<str>) -> JobEvents {
        let job_id = JobId::new(job_id.as_ref());
        JobEvents {
            driver: Driver::new(self, None, job_id, self.config.wait().clone()),
            done: false,
        }
    }

    /// Waits for a job known by its id. `Ok(job)` only when it completed; a failed job is
    /// [`Error::JobFailed`], a cancelled one [`Error::JobCancelled`], a passed deadline
    /// [`Error::WaitDeadline`] (after cancelling the job if asked). Every error carries the
    /// job id.
    pub fn wait(&self, job_id: impl AsRef<str>, options: WaitOptions) -> Result<Job, Error> {
        let job_id = JobId::new(job_id.as_ref());
        let policy = options.policy(self.config.wait());
        let driver = Driver::new(self, None, job_id, policy);
        run(driver, &options)
    }

    /// Waits for a job from a create response; a job that is already finished (a cache
    /// hit) returns at once without a request. Results as for [`wait`](Self::wait).
    pub fn wait_for(&self, job: Job, options: WaitOptions) -> Result<Job, Error> {
        let policy = options.policy(self.config.wait());
        let job_id = job.job_id.clone();
        let driver = Driver::new(self, Some(job), job_id, policy);
        run(driver, &options)
    }

    /// Creates an image job and waits for it.
    pub fn generate_image(
        &self,
        request: &ImageRequest,
        options: WaitOptions,
    ) -> Result<Job, Error> {
        let job = self.create_image(request)?;
        self.wait_for(job, options)
    }

    /// Creates a video job and waits for it.
    pub fn generate_video(
        &self,
        request: &VideoRequest,
        options: WaitOptions,
    ) -> Result<Job, Error> {
        let job = self.create_video(request)?;
        self.wait_for(job, options)
    }

    /// Creates a speech job and waits for it.
    pub fn generate_speech(
        &self,
        request: &SpeechRequest,
        options: WaitOptions,
    ) -> Result<Job, Error> {
        let job = self.create_speech(request)?;
        self.wait_for(job, options)
    }

    /// Creates a music job and waits for it.
    pub fn generate_music(
        &self,
        request: &MusicRequest,
        options: WaitOptions,
    ) -> Result<Job, Error> {
        let job = self.create_music(request)?;
        self.wait_for(job, options)
    }

    /// Creates a transcription job and waits for it.
    pub fn generate_transcription(
        &self,
        request: &TranscriptionRequest,
        options: WaitOptions,
    ) -> Result<Job, Error> {
        let job = self.create_transcription(request)?;
        self.wait_for(job, options)
    }
}

fn run(mut driver: Driver, options: &WaitOptions) -> Result<Job, Error> {
    loop {
        match driver.turn() {
            Turn::Update(job) => {
                options.notify(&job);
            }
            Turn::Finished(result) => return result,
        }
    }
}
