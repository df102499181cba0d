//! Waiting for jobs: the async driving loop of varg-core's [`Waiter`].

use std::time::{Duration, Instant, SystemTime};

use futures_core::Stream;
use varg_core::error::Error;
use varg_core::ops;
use varg_core::retry::Idempotency;
use varg_core::sse::SseDecoder;
use varg_core::transport::AsyncResponseBody;
use varg_core::wait::{Action, Input, Waiter};
use varg_core::wait_options::WaitOptions;
use varg_types::endpoint::ops as vops;
use varg_types::{
    ImageRequest, Job, JobId, MusicRequest, SpeechRequest, TranscriptionRequest, VideoRequest,
};

use crate::client::{Client, body_error, decode, jitter, replay, status_error};

/// What one step of a wait produced.
enum Step {
    /// The job's status changed.
    Update(Job),
    /// The wait is over.
    Finished(Result<Job, Error>),
}

/// The state of one wait: the waiter, the clock origin and the open stream.
struct WaitRun {
    client: Client,
    waiter: Waiter,
    job_id: JobId,
    started: Instant,
    next: Option<Action>,
    begun: bool,
    stream: Option<(AsyncResponseBody, SseDecoder)>,
    last_event_id: Option<String>,
    done: bool,
}

impl WaitRun {
    fn new(client: Client, waiter: Waiter, started: Instant) -> Self {
        Self {
            client,
            job_id: waiter.job_id().clone(),
            waiter,
            started,
            next: None,
            begun: false,
            stream: None,
            last_event_id: None,
            done: false,
        }
    }

    fn now(&self) -> Duration {
        self.started.elapsed()
    }

    fn step(&mut self, input: Input) -> Action {
        let now = self.now();
        self.waiter.step(input, now)
    }

    /// Runs the waiter until the status changes or the wait ends.
    async fn advance(&mut self) -> Step {
        loop {
            if let Some(notice) = self.waiter.take_notice() {
                self.client.notify(notice);
            }
            if let Some(job) = self.waiter.take_update() {
                return Step::Update(job);
            }
            let action = match self.next.take() {
                Some(a) => a,
                None if !self.begun => {
                    self.begun = true;
                    self.step(Input::Start)
                }
                None => {
                    return Step::Finished(Err(Error::invalid_config("the wait already ended")));
                }
            };
            tracing::trace!(job_id = %self.job_id, action = %action.label(), "wait step");
            let next = match action {
                Action::OpenStream => {
                    self.stream = None;
                    let client = self.client.clone();
                    let id = self.job_id.clone();
                    let last = self.last_event_id.clone();
                    match open_stream(&client, &id, last.as_deref()).await {
                        Ok(body) => {
                            self.stream = Some((body, SseDecoder::new()));
                            self.step(Input::StreamOpened)
                        }
                        Err(e) => self.step(Input::StreamFailed(e)),
                    }
                }
                Action::ReadStream { until_deadline } => {
                    let input = self.read_stream(until_deadline).await;
                    self.step(input)
                }
                Action::PollAfter(delay) => {
                    self.stream = None;
                    tokio::time::sleep(delay).await;
                    let client = self.client.clone();
                    let id = self.job_id.clone();
                    match poll(&client, &id).await {
                        Ok(job) => self.step(Input::Snapshot(job)),
                        Err(e) => self.step(Input::PollFailed(e)),
                    }
                }
                Action::CancelThenStop { .. } => {
                    self.stream = None;
                    self.done = true;
                    if let Err(e) = self.client.cancel_job(self.job_id.as_str()).await {
                        tracing::warn!(job_id = %self.job_id, error = %e, "cancelling at the deadline failed");
                    }
                    return Step::Finished(self.finish(action));
                }
                other => {
                    self.stream = None;
                    self.done = true;
                    return Step::Finished(self.finish(other));
                }
            };
            self.next = Some(next);
        }
    }

    fn finish(&self, action: Action) -> Result<Job, Error> {
        let id = &self.job_id;
        match action.into_result() {
            Some(result) => result.map_err(|e| e.with_job_id(id)),
            None => {
                Err(Error::invalid_config("the waiter stopped without a result").with_job_id(id))
            }
        }
    }

    /// Reads the next chunk of the open stream, at most until the deadline.
    async fn read_stream(&mut self, until_deadline: Option<Duration>) -> Input {
        let Some((body, decoder)) = self.stream.as_mut() else {
            return Input::StreamFailed(Error::invalid_config("no open stream"));
        };
        let chunk = match until_deadline {
            Some(limit) => match tokio::time::timeout(limit, body.next_chunk()).await {
                Ok(chunk) => chunk,
                // The deadline passed while the stream was silent: let the waiter see it.
                Err(_) => return Input::StreamEvents(Vec::new()),
            },
            None => body.next_chunk().await,
        };
        match chunk {
            None => {
                self.stream = None;
                Input::StreamClosed
            }
            Some(Err(e)) => {
                self.stream = None;
                Input::StreamFailed(body_error(e))
            }
            Some(Ok(bytes)) => {
                let mut events = Vec::new();
                let result = decoder.feed(&bytes, &mut events);
                if let Some(id) = decoder.last_event_id() {
                    self.last_event_id = Some(id.to_owned());
                }
                match result {
                    Ok(()) => Input::StreamEvents(events),
                    Err(e) => {
                        self.stream = None;
                        Input::StreamFailed(Error::Decode {
                            status: http::StatusCode::OK,
                            message: e.to_string(),
                            raw: String::new(),
                            job_id: Some(self.job_id.clone()),
                        })
                    }
                }
            }
        }
    }
}

/// `GET /jobs/{id}/stream`, one attempt (the waiter decides what a failure means).
async fn open_stream(
    client: &Client,
    job_id: &JobId,
    last_event_id: Option<&str>,
) -> Result<AsyncResponseBody, Error> {
    let config = client.config();
    let request = ops::stream_job(config, job_id, last_event_id)?;
    let endpoint = <vops::StreamJob as varg_types::endpoint::Operation>::endpoint();
    let response = client
        .execute(
            endpoint.operation_id,
            Idempotency::Idempotent,
            Some(job_id),
            Some(&varg_core::retry::RetryPolicy::none()),
            // A stream lasts as long as the wait; its deadline bounds the reads.
            None,
            || Ok(replay(&request)),
        )
        .await?;
    if !response.status().is_success() {
        return Err(status_error(response).await.with_job_id(job_id));
    }
    Ok(response.into_body())
}

/// `GET /jobs/{id}`, one attempt (the waiter retries).
async fn poll(client: &Client, job_id: &JobId) -> Result<Job, Error> {
    let config = client.config();
    let request = ops::get_job(config, job_id)?;
    let endpoint = <vops::GetJob as varg_types::endpoint::Operation>::endpoint();
    let response = client
        .execute(
            endpoint.operation_id,
            Idempotency::Idempotent,
            Some(job_id),
            Some(&varg_core::retry::RetryPolicy::none()),
            config.call_budget(ops::ExchangeKind::Json),
            || Ok(replay(&request)),
        )
        .await?;
    Ok(decode::<vops::GetJob>(response, Some(job_id)).await?.0)
}

impl Client {
    fn waiter_for(&self, job: Option<Job>, job_id: JobId, options: &WaitOptions) -> WaitRun {
        let policy = options.policy(self.config().wait());
        let started = Instant::now();
        let waiter = match job {
            Some(job) => Waiter::new(job, policy, Duration::ZERO, jitter),
            None => Waiter::for_job_id(job_id, policy, Duration::ZERO, jitter),
        };
        WaitRun::new(self.clone(), waiter, started)
    }

    async fn run_wait(&self, mut run: WaitRun, options: WaitOptions) -> Result<Job, Error> {
        let started = SystemTime::now();
        loop {
            match run.advance().await {
                Step::Update(job) => {
                    options.notify(&job);
                }
                Step::Finished(result) => {
                    tracing::debug!(
                        job_id = %run.job_id,
                        waited_ms = started.elapsed().map(|d| d.as_millis()).unwrap_or(0),
                        ok = result.is_ok(),
                        "wait ended"
                    );
                    return result;
                }
            }
        }
    }

    /// Waits for the job `job_id` to finish: the job when it completed,
    /// [`Error::JobFailed`] / [`Error::JobCancelled`] (with the job) otherwise,
    /// [`Error::WaitDeadline`] (with the id and last status) at the deadline, after asking
    /// the gateway to cancel the job when [`WaitOptions::cancel_on_deadline`] is set.
    ///
    /// The server-sent-event stream is used first (a job that completes while streamed
    /// costs one request); a stream that ends early is reopened, and polling (0.5 s growing
    /// to 5 s) takes over when the stream is unavailable.
    pub async fn wait(&self, job_id: impl AsRef<str>, options: WaitOptions) -> Result<Job, Error> {
        let id = JobId::new(job_id.as_ref());
        let run = self.waiter_for(None, id, &options);
        self.run_wait(run, options).await
    }

    /// Waits for a job returned by a create call. A job that is already finished (a cache
    /// hit) is returned at once, without any request. See [`wait`](Self::wait).
    pub async fn wait_for(&self, job: Job, options: WaitOptions) -> Result<Job, Error> {
        let id = job.job_id.clone();
        let run = self.waiter_for(Some(job), id, &options);
        self.run_wait(run, options).await
    }

    /// The job's snapshots, one each time its status changes, ending after the terminal
    /// one (`completed`, `failed` or `cancelled`, yielded as `Ok`). A wait error (deadline of
    /// the client's [`WaitPolicy`](crate::WaitPolicy), a permanent API error) is yielded as
    /// the last item.
    ///
    /// ```no_run
    /// use futures_util::StreamExt;
    ///
    /// # async fn demo(client: varg_async::Client) -> Result<(), varg_async::Error> {
    /// let mut events = std::pin::pin!(client.events("job_123"));
    /// while let Some(job) = events.next().await {
    ///     println!("{}", job?.status);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn events(
        &self,
        job_id: impl AsRef<str>,
    ) -> impl Stream<Item = Result<Job, Error>> + Send + 'static {
        let id = JobId::new(job_id.as_ref());
        let run = self.waiter_for(None, id, &WaitOptions::new());
        futures_util::stream::unfold(run, |mut run| async move {
            if run.done {
                return None;
            }
            match run.advance().await {
                Step::Update(job) => Some((Ok(job), run)),
                Step::Finished(Ok(_)) => None,
                Step::Finished(Err(Error::JobFailed { .. } | Error::JobCancelled { .. })) => None,
                Step::Finished(Err(e)) => Some((Err(e), run)),
            }
        })
    }
}

macro_rules! generate_methods {
    ($( $(#[$meta:meta])* $name:ident, $create:ident, $req:ty; )*) => {
        impl Client {
            $(
                $(#[$meta])*
                ///
                /// Every error after the job was created carries its id
                /// ([`Error::job_id`]).
                pub async fn $name(&self, request: &$req, options: WaitOptions) -> Result<Job, Error> {
                    let job = self.$create(request).await?;
                    let id = job.job_id.clone();
                    self.wait_for(job, options).await.map_err(|e| e.with_job_id(&id))
                }
            )*
        }
    };
}

generate_methods! {
    /// Creates an image job and waits for it ([`create_image`](Self::create_image) then
    /// [`wait_for`](Self::wait_for)).
    generate_image, create_image, ImageRequest;
    /// Creates a video job and waits for it.
    generate_video, create_video, VideoRequest;
    /// Creates a speech job and waits for it.
    generate_speech, create_speech, SpeechRequest;
    /// Creates a music job and waits for it.
    generate_music, create_music, MusicRequest;
    /// Creates a transcription job and waits for it.
    generate_transcription, create_transcription, TranscriptionRequest;
}
