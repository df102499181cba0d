//! The client scenario suite, shared by the blocking and async clients.
//!
//! Each scenario is a function generic over a [`ClientAdapter`]: a thin, synchronous
//! wrapper around one client (the blocking client directly; the async client through
//! `block_on` on a runtime of its own). [`scenario_suite!`] instantiates every scenario as
//! a `#[test]` for one adapter type, so both clients run exactly the same list:
//!
//! ```ignore
//! mod scenarios;
//! scenarios::scenario_suite!(MyAdapter);
//! ```
//!
//! Every scenario starts its own emulator on loopback (on the emulator's own runtime) and
//! asserts on the emulator's counters and request log, never on timings.
#![allow(dead_code)]

use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use varg_core::error::Error;
use varg_core::notice::{Notice, RetryReason};
use varg_core::transport::TransportErrorKind;
use varg_core::{RetryPolicy, WaitPolicy};
use varg_emulator::{BlockingEmulator, Emulator, Fault, SseMode};
use varg_types::{
    Balance, FfmpegRequest, FileUploadResponse, ImageRequest, Job, JobStatus, Me, MusicRequest,
    ProbeRequest, ProbeResponse, ResizeRequest, SliceRequest, SpeechRequest, TranscriptionRequest,
    TrimRequest, UsageQuery, UsageResponse, VideoRequest, VoicesResponse, models,
};

/// The API key every scenario uses (the emulator accepts any `varg_` key).
pub const KEY: &str = "varg_test_scenarios";

/// What a scenario asks of the client it builds.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The emulator's base URL.
    pub base_url: String,
    /// Short backoffs so retries do not slow the suite down.
    pub retry: RetryPolicy,
    /// Short poll intervals.
    pub wait: WaitPolicy,
    /// The client's total timeout per call, when a scenario sets one.
    pub total_timeout: Option<Duration>,
    /// The client's read timeout, when a scenario sets one.
    pub read_timeout: Option<Duration>,
    /// Where the client's notice hook puts every notice, when a scenario listens.
    pub notices: Option<Notices>,
}

/// The notices a client delivered, in order.
pub type Notices = Arc<Mutex<Vec<Notice>>>;

/// A status callback, as both clients take it.
pub type OnStatus = Arc<dyn Fn(&Job) + Send + Sync>;

/// What a download returned: the bytes and each progress report `(downloaded, total)`.
pub type Downloaded = (Vec<u8>, Vec<(u64, Option<u64>)>);

/// One client, seen synchronously. Errors are varg-core's one [`Error`] type, shared by
/// both clients; wait options are given as plain values.
pub trait ClientAdapter: Sized {
    /// Builds a client for `spec` with the key [`KEY`].
    fn connect(spec: &Spec) -> Self;
    /// `with_options(RequestOptions::new().total_timeout(total))`.
    fn with_total_timeout(&self, total: Duration) -> Self;
    fn balance(&self) -> Result<Balance, Error>;
    fn me(&self) -> Result<Me, Error>;
    fn voices(&self) -> Result<VoicesResponse, Error>;
    fn usage(&self, query: &UsageQuery) -> Result<UsageResponse, Error>;
    fn create_image(&self, r: &ImageRequest) -> Result<Job, Error>;
    /// `create_image_with_meta`, returning the job and `meta.cache_hit`.
    fn create_image_cache_hit(&self, r: &ImageRequest) -> Result<(Job, Option<bool>), Error>;
    fn create_video(&self, r: &VideoRequest) -> Result<Job, Error>;
    fn create_speech(&self, r: &SpeechRequest) -> Result<Job, Error>;
    fn create_music(&self, r: &MusicRequest) -> Result<Job, Error>;
    fn create_transcription(&self, r: &TranscriptionRequest) -> Result<Job, Error>;
    fn ffmpeg(&self, r: &FfmpegRequest) -> Result<Job, Error>;
    fn trim(&self, r: &TrimRequest) -> Result<Job, Error>;
    fn resize(&self, r: &ResizeRequest) -> Result<Job, Error>;
    fn slice(&self, r: &SliceRequest) -> Result<Job, Error>;
    fn probe(&self, r: &ProbeRequest) -> Result<ProbeResponse, Error>;
    fn get_job(&self, id: &str) -> Result<Job, Error>;
    fn cancel_job(&self, id: &str) -> Result<(), Error>;
    /// `wait_for(job, WaitOptions { deadline, cancel_on_deadline, on_status })`.
    fn wait_for(
        &self,
        job: Job,
        deadline: Option<Duration>,
        cancel_on_deadline: bool,
        on_status: Option<OnStatus>,
    ) -> Result<Job, Error>;
    /// `wait(job_id, WaitOptions::new())`.
    fn wait(&self, id: &str) -> Result<Job, Error>;
    /// `generate_image(request, WaitOptions::new())`.
    fn generate_image(&self, r: &ImageRequest) -> Result<Job, Error>;
    /// `events(job_id)`, collected.
    fn events(&self, id: &str) -> Vec<Result<Job, Error>>;
    fn upload_bytes(
        &self,
        bytes: Vec<u8>,
        media_type: Option<&str>,
    ) -> Result<FileUploadResponse, Error>;
    fn upload_path(&self, path: &std::path::Path) -> Result<FileUploadResponse, Error>;
    /// `upload_reader(Cursor::new(bytes), len, None)`.
    fn upload_reader(&self, bytes: Vec<u8>, len: Option<u64>) -> Result<FileUploadResponse, Error>;
    /// `download(job, &mut Vec, progress)`: the bytes and the progress reports seen.
    fn download(&self, job: &Job) -> Result<Downloaded, Error>;
    fn download_to_path(&self, job: &Job, path: &std::path::Path) -> Result<u64, Error>;
}

/// Instantiates every scenario as a `#[test]` for `$adapter`.
#[macro_export]
macro_rules! scenario_suite {
    ($adapter:ty) => {
        $crate::scenario_suite!(@tests $adapter;
            every_read_endpoint,
            every_job_endpoint_completes,
            media_endpoints,
            sse_wait_costs_two_requests,
            cut_stream_reconnects,
            disabled_stream_falls_back_to_polling,
            unavailable_stream_falls_back_to_polling,
            rate_limit_retry_after_is_honoured,
            total_timeout_bounds_a_slow_answer,
            long_retry_after_is_a_typed_error,
            retry_after_beyond_the_total_timeout_ends_the_call_at_once,
            silent_server_is_bounded_by_the_total_timeout_across_retries,
            a_per_call_total_timeout_bounds_every_kind_of_call,
            notices_say_what_a_call_waits_for,
            notices_say_when_a_wait_changes_course,
            burst_of_5xx_is_retried_for_reads,
            create_is_not_retried_after_a_502,
            create_is_retried_after_a_503,
            create_whose_answer_is_lost_is_not_repeated,
            deadline_cancels_when_asked,
            deadline_without_cancel_leaves_the_job,
            failed_job_is_a_typed_error_with_the_job,
            cancelled_job_is_a_typed_error,
            download_carries_no_credentials,
            download_to_path_writes_the_file,
            second_upload_is_deduplicated,
            oversized_upload_is_a_413_api_error,
            upload_reader_streams,
            events_yield_each_status_once,
            cache_hit_returns_at_once,
            invalid_input_sends_nothing,
            unknown_job_is_a_404_with_the_job_id,
            status_callback_sees_every_status,
        );
    };
    (@tests $adapter:ty; $($name:ident),+ $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::scenarios::$name::<$adapter>();
            }
        )+
    };
}

/// An emulator with fast jobs, and a client for it.
pub fn setup<A: ClientAdapter>() -> (BlockingEmulator, A) {
    setup_with::<A>(|b| b)
}

/// Like [`setup`], with extra emulator settings.
pub fn setup_with<A: ClientAdapter>(
    f: impl FnOnce(varg_emulator::EmulatorBuilder) -> varg_emulator::EmulatorBuilder,
) -> (BlockingEmulator, A) {
    let builder = Emulator::builder()
        .time_scale(0.05)
        .keepalive(Duration::from_millis(100));
    let emulator = f(builder).start_blocking().expect("emulator starts");
    let client = A::connect(&spec(&emulator.base_url()));
    (emulator, client)
}

/// The client settings every scenario uses.
pub fn spec(base_url: &str) -> Spec {
    Spec {
        base_url: base_url.to_owned(),
        retry: RetryPolicy {
            max_retries: 3,
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            ..RetryPolicy::default()
        },
        wait: WaitPolicy {
            deadline: Some(Duration::from_secs(30)),
            poll_initial: Duration::from_millis(20),
            poll_max: Duration::from_millis(100),
            ..WaitPolicy::default()
        },
        total_timeout: None,
        read_timeout: None,
        notices: None,
    }
}

fn image(prompt: &str) -> ImageRequest {
    ImageRequest::new(models::image::FLUX_PRO, prompt)
}

fn emulated(prompt: &str, options: serde_json::Value) -> ImageRequest {
    image(prompt).provider_option("emulator", options)
}

fn count(emulator: &BlockingEmulator, route: &str) -> u64 {
    emulator.requests_to(route)
}

// ---------------------------------------------------------------------------------------

pub fn every_read_endpoint<A: ClientAdapter>() {
    let (emu, c) = setup::<A>();
    let balance = c.balance().unwrap();
    assert_eq!(balance.balance_cents, Some(100_000.0));
    c.me().unwrap();
    assert!(!c.voices().unwrap().voices.is_empty());
    c.usage(&UsageQuery::new().from("2026-01-01").to("2026-01-31"))
        .unwrap();
    c.usage(&UsageQuery::new()).unwrap();
    for route in ["getBalance", "getMe", "listVoices"] {
        assert_eq!(count(&emu, route), 1, "{route}");
    }
    assert_eq!(count(&emu, "getUsage"), 2);
    // Every request carried the key as a bearer token.
    for record in emu.request_log() {
        assert_eq!(
            record.header("authorization"),
            Some(format!("Bearer {KEY}").as_str())
        );
    }
}

pub fn every_job_endpoint_completes<A: ClientAdapter>() {
    let (emu, c) = setup::<A>();
    let jobs = vec![
        c.create_image(&image("a lighthouse")).unwrap(),
        c.create_video(&VideoRequest::new(models::video::KLING_V3, "waves"))
            .unwrap(),
        c.create_speech(&SpeechRequest::new(models::speech::ELEVEN_V3, "hello"))
            .unwrap(),
        c.create_music(&MusicRequest::new(models::music::MUSIC_V1, "calm piano"))
            .unwrap(),
    ];
    let audio = c.wait_for(jobs[2].clone(), None, false, None).unwrap();
    let transcription = c
        .create_transcription(&TranscriptionRequest::new(
            models::transcription::WHISPER,
            audio.output_url().unwrap(),
        ))
        .unwrap();
    for job in jobs.into_iter().chain([transcription]) {
        let id = job.job_id.clone();
        let done = c.wait_for(job, None, false, None).unwrap();
        assert_eq!(done.job_id, id);
        assert_eq!(done.status, JobStatus::Completed);
        assert!(done.output_url().is_some(), "{done:?}");
        assert_eq!(c.get_job(id.as_str()).unwrap().status, JobStatus::Completed);
    }
    assert_eq!(emu.jobs_created(), 5);
}

pub fn media_endpoints<A: ClientAdapter>() {
    let (emu, c) = setup::<A>();
    let video = c
        .generate_image(&image("frame"))
        .and_then(|_| {
            let v = c.create_video(&VideoRequest::new(models::video::KLING_V3, "clip"))?;
            c.wait_for(v, None, false, None)
        })
        .unwrap();
    let url = video.output_url().unwrap().to_owned();
    let probe = c.probe(&ProbeRequest::new(url.clone())).unwrap();
    assert!(probe.duration.is_some(), "{probe:?}");
    let jobs = vec![
        c.trim(&TrimRequest::new(url.clone(), 0.0).end(1.0))
            .unwrap(),
        c.resize(&ResizeRequest::new(url.clone()).width(320))
            .unwrap(),
        c.slice(&SliceRequest::new(url.clone()).every(1.0)).unwrap(),
        c.ffmpeg(
            &FfmpegRequest::new("-i {{in}} -t 1 {{out}}")
                .input_file("in", url.clone())
                .output_file("out", "out.mp4"),
        )
        .unwrap(),
    ];
    for job in jobs {
        let done = c.wait_for(job, None, false, None).unwrap();
        assert_eq!(done.status, JobStatus::Completed);
    }
    assert_eq!(
        count(
            &emu,
            varg_types::EndpointId::ProbeMedia.endpoint().operation_id
        ),
        1
    );
}

pub fn sse_wait_costs_two_requests<A: ClientAdapter>() {
    let (emu, c) = setup::<A>();
    let job = c.generate_image(&image("two requests")).unwrap();
    assert_eq!(job.status, JobStatus::Completed);
    assert_eq!(count(&emu, "createImage"), 1);
    assert_eq!(count(&emu, "streamJob"), 1);
    assert_eq!(count(&emu, "getJob"), 0);
    assert_eq!(emu.request_log().len(), 2);
}

pub fn cut_stream_reconnects<A: ClientAdapter>() {
    let (emu, c) = setup::<A>();
    emu.push_fault("streamJob", Fault::CutStreamAfter(1));
    let job = c
        .create_image(&emulated(
            "cut",
            json!({"duration_ms": 400, "queued_ms": 100}),
        ))
        .unwrap();
    let done = c.wait_for(job, None, false, None).unwrap();
    assert_eq!(done.status, JobStatus::Completed);
    assert_eq!(
        count(&emu, "streamJob"),
        2,
        "{:?}",
        emu.requests_per_route()
    );
    assert_eq!(count(&emu, "getJob"), 0);
}

pub fn disabled_stream_falls_back_to_polling<A: ClientAdapter>() {
    let (emu, c) = setup_with::<A>(|b| b.sse_mode(SseMode::NotFound));
    let done = c.generate_image(&image("polling")).unwrap();
    assert_eq!(done.status, JobStatus::Completed);
    // A 404 on the stream is permanent: one try, then polls only.
    assert_eq!(count(&emu, "streamJob"), 1);
    assert!(count(&emu, "getJob") >= 1);
}

pub fn unavailable_stream_falls_back_to_polling<A: ClientAdapter>() {
    let (emu, c) = setup_with::<A>(|b| b.sse_mode(SseMode::Unavailable));
    let job = c
        .create_image(&emulated("503 stream", json!({"duration_ms": 300})))
        .unwrap();
    let done = c.wait(job.job_id.as_str()).unwrap();
    assert_eq!(done.status, JobStatus::Completed);
    assert!(count(&emu, "streamJob") >= 1);
    assert!(count(&emu, "getJob") >= 1);
}

pub fn rate_limit_retry_after_is_honoured<A: ClientAdapter>() {
    let (emu, c) = setup::<A>();
    emu.push_fault(
        "createImage",
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    );
    let job = c.create_image(&image("rate limited")).unwrap();
    assert_eq!(count(&emu, "createImage"), 2);
    assert_eq!(emu.jobs_created(), 1);
    let _ = job;
}

pub fn total_timeout_bounds_a_slow_answer<A: ClientAdapter>() {
    let emulator = Emulator::builder()
        .time_scale(0.05)
        .start_blocking()
        .expect("emulator starts");
    let mut s = spec(&emulator.base_url());
    s.total_timeout = Some(Duration::from_millis(300));
    s.retry.max_retries = 0;
    let c = A::connect(&s);
    // The answer would come after 5 s; the 300 ms total timeout ends the call first.
    emulator.push_fault("getBalance", Fault::Delay(Duration::from_secs(5)));
    let err = c.balance().unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout { .. }
                | Error::Transport {
                    kind: varg_core::transport::TransportErrorKind::Timeout,
                    ..
                }
        ),
        "{err:?}"
    );
    // Without the fault the same client answers.
    assert!(c.balance().is_ok());
}

pub fn long_retry_after_is_a_typed_error<A: ClientAdapter>() {
    let (emu, c) = setup::<A>();
    emu.push_fault(
        "getBalance",
        Fault::RateLimited {
            retry_after_secs: 600,
        },
    );
    match c.balance().unwrap_err() {
        Error::RateLimited { retry_after, .. } => {
            assert_eq!(retry_after, Duration::from_secs(600))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(count(&emu, "getBalance"), 1);
    // About a job: the job id is on the error and on its API details alike.
    emu.push_fault(
        "getJob",
        Fault::RateLimited {
            retry_after_secs: 600,
        },
    );
    let err = c.get_job("job_rate_limited").unwrap_err();
    assert!(matches!(err, Error::RateLimited { .. }), "{err:?}");
    assert_eq!(err.job_id().map(|j| j.as_str()), Some("job_rate_limited"));
    assert_eq!(
        err.api()
            .and_then(|a| a.job_id.as_ref())
            .map(|j| j.as_str()),
        Some("job_rate_limited")
    );
}

pub fn burst_of_5xx_is_retried_for_reads<A: ClientAdapter>() {
    let (emu, c) = setup::<A>();
    for status in [500, 502, 503] {
        emu.push_fault("getBalance", Fault::Status(status));
    }
    c.balance().unwrap();
    assert_eq!(count(&emu, "getBalance"), 4);
    // A reset connection is retried for a GET too.
    emu.push_fault("getMe", Fault::Reset);
    c.me().unwrap();
    assert_eq!(count(&emu, "getMe"), 2);
}

pub fn create_is_not_retried_after_a_502<A: ClientAdapter>() {
    let (emu, c) = setup::<A>();
    emu.push_fault("createImage", Fault::Status(502));
    let err = c.create_image(&image("maybe billed")).unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(502));
    assert_eq!(count(&emu, "createImage"), 1);
}

pub fn create_is_retried_after_a_503<A: ClientAdapter>() {
    let (emu, c) = setup::<A>();
    emu.push_fault("createImage", Fault::Status(503));
    c.create_image(&image("not billed")).unwrap();
    assert_eq!(count(&emu, "createImage"), 2);
    assert_eq!(emu.jobs_created(), 1);
}

/// The server created the job and the connection dropped before its answer: the client
/// cannot know the job id (v1 has no idempotency key), and must not pay twice by sending
/// the POST again.
pub fn create_whose_answer_is_lost_is_not_repeated<A: ClientAdapter>() {
    let (emu, c) = setup::<A>();
    emu.push_fault("createImage", Fault::ResetAfterWork);
    let err = c.create_image(&image("answer lost")).unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert_eq!(count(&emu, "createImage"), 1);
    assert_eq!(emu.jobs_created(), 1);
    // A read after the same fault is simply repeated: a GET does nothing twice.
    emu.push_fault("getBalance", Fault::ResetAfterWork);
    assert!(c.balance().is_ok());
    assert_eq!(count(&emu, "getBalance"), 2);
}

pub fn deadline_cancels_when_asked<A: ClientAdapter>() {
    let (emu, c) = setup::<A>();
    let job = c
        .create_image(&emulated("held", json!({"hold": true})))
        .unwrap();
    let id = job.job_id.clone();
    let err = c
        .wait_for(job, Some(Duration::from_millis(300)), true, None)
        .unwrap_err();
    match &err {
        Error::WaitDeadline {
            job_id,
            cancel_requested,
            ..
        } => {
            assert_eq!(job_id, &id);
            assert!(cancel_requested);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.job_id(), Some(&id));
    assert_eq!(count(&emu, "cancelJob"), 1);
    assert_eq!(c.get_job(id.as_str()).unwrap().status, JobStatus::Cancelled);
}

pub fn deadline_without_cancel_leaves_the_job<A: ClientAdapter>() {
    let (emu, c) = setup::<A>();
    let job = c
        .create_image(&emulated("held", json!({"hold": true})))
        .unwrap();
    let id = job.job_id.clone();
    let err = c
        .wait_for(job, Some(Duration::from_millis(200)), false, None)
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::WaitDeadline {
                cancel_requested: false,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(count(&emu, "cancelJob"), 0);
    assert!(!c.get_job(id.as_str()).unwrap().is_terminal());
    c.cancel_job(id.as_str()).unwrap();
}

pub fn failed_job_is_a_typed_error_with_the_job<A: ClientAdapter>() {
    let (_emu, c) = setup::<A>();
    let err = c
        .generate_image(&emulated("doomed", json!({"fail": "provider exploded"})))
        .unwrap_err();
    match &err {
        Error::JobFailed { job } => {
            assert_eq!(job.status, JobStatus::Failed);
            assert!(
                job.error
                    .as_deref()
                    .unwrap_or("")
                    .contains("provider exploded"),
                "{job:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(err.job_id().is_some());
}

pub fn cancelled_job_is_a_typed_error<A: ClientAdapter>() {
    let (_emu, c) = setup::<A>();
    let job = c
        .create_image(&emulated("held", json!({"hold": true})))
        .unwrap();
    c.cancel_job(job.job_id.as_str()).unwrap();
    let err = c.wait(job.job_id.as_str()).unwrap_err();
    assert!(matches!(err, Error::JobCancelled { .. }), "{err:?}");
    assert_eq!(err.job_id(), Some(&job.job_id));
}

pub fn download_carries_no_credentials<A: ClientAdapter>() {
    let (emu, c) = setup::<A>();
    let job = c.generate_image(&image("download me")).unwrap();
    let (bytes, progress) = c.download(&job).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
    let last = progress.last().copied().unwrap();
    assert_eq!(last.0, bytes.len() as u64);
    assert!(last.1.is_none() || last.1 == Some(bytes.len() as u64));
    let downloads: Vec<_> = emu
        .request_log()
        .into_iter()
        .filter(|r| r.route == varg_emulator::routes::DOWNLOAD_OUTPUT)
        .collect();
    assert_eq!(downloads.len(), 1);
    for r in downloads {
        assert_eq!(r.header("authorization"), None);
        assert!(
            r.headers
                .iter()
                .all(|(n, _)| !n.starts_with("x-provider-key")),
            "{:?}",
            r.headers
        );
    }
}

pub fn download_to_path_writes_the_file<A: ClientAdapter>() {
    let (_emu, c) = setup::<A>();
    let job = c.generate_image(&image("to disk")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.png");
    let n = c.download_to_path(&job, &path).unwrap();
    let written = std::fs::read(&path).unwrap();
    assert_eq!(written.len() as u64, n);
    assert!(written.starts_with(b"\x89PNG"));
    // A job without an output cannot be downloaded; the error names the job.
    let queued = Job::new("job_without_output", JobStatus::Queued);
    let err = c
        .download_to_path(&queued, &dir.path().join("x"))
        .unwrap_err();
    assert_eq!(err.job_id().map(|j| j.as_str()), Some("job_without_output"));
    assert!(
        matches!(&err, Error::NoOutput { job } if job.status == JobStatus::Queued),
        "{err:?}"
    );
}

pub fn second_upload_is_deduplicated<A: ClientAdapter>() {
    let (emu, c) = setup::<A>();
    let content = b"some photo bytes, not really a photo".repeat(100);
    let first = c.upload_bytes(content.clone(), Some("image/png")).unwrap();
    assert!(!first.deduplicated);
    assert_eq!(first.size, content.len() as u64);
    let second = c.upload_bytes(content.clone(), Some("image/png")).unwrap();
    assert!(second.deduplicated);
    assert_eq!(second.file_id, first.file_id);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("photo.png");
    std::fs::write(&path, &content).unwrap();
    let third = c.upload_path(&path).unwrap();
    assert!(third.deduplicated);
    assert_eq!(third.file_id, first.file_id);
    assert_eq!(emu.uploads(), 3);
    // Every upload announced the content hash.
    for r in emu.request_log().iter().filter(|r| r.route == "uploadFile") {
        assert_eq!(r.header("x-content-hash"), Some(first.hash.as_str()));
    }
}

pub fn oversized_upload_is_a_413_api_error<A: ClientAdapter>() {
    // The emulator's limit is lowered so that the client's own 50 MB check lets it through.
    let (emu, c) = setup_with::<A>(|b| b.max_upload_bytes(100_000));
    let err = c.upload_bytes(vec![3u8; 300_000], None).unwrap_err();
    assert!(matches!(err, Error::Api(_)), "{err:?}");
    let api = err.api().unwrap();
    assert_eq!(api.status.as_u16(), 413);
    // The documented 413 has a message but no error code.
    assert_eq!(api.code, None);
    assert!(
        api.message.contains("maximum upload size"),
        "{}",
        api.message
    );
    assert!(!err.is_retryable());
    assert_eq!(count(&emu, "uploadFile"), 1);
}

pub fn upload_reader_streams<A: ClientAdapter>() {
    let (_emu, c) = setup::<A>();
    let content = vec![7u8; 200_000];
    let with_len = c
        .upload_reader(content.clone(), Some(content.len() as u64))
        .unwrap();
    assert_eq!(with_len.size, 200_000);
    let mut other = content.clone();
    other[0] = 8;
    let chunked = c.upload_reader(other, None).unwrap();
    assert_eq!(chunked.size, 200_000);
    assert_ne!(chunked.hash, with_len.hash);
    // Over 50 MB is refused before sending.
    let err = c
        .upload_reader(Vec::new(), Some(varg_types::MAX_UPLOAD_BYTES + 1))
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
}

pub fn events_yield_each_status_once<A: ClientAdapter>() {
    let (_emu, c) = setup::<A>();
    let job = c
        .create_image(&emulated(
            "events",
            json!({"duration_ms": 200, "queued_ms": 50}),
        ))
        .unwrap();
    let events = c.events(job.job_id.as_str());
    let statuses: Vec<JobStatus> = events.into_iter().map(|e| e.unwrap().status).collect();
    assert_eq!(statuses.last(), Some(&JobStatus::Completed), "{statuses:?}");
    for pair in statuses.windows(2) {
        assert_ne!(pair[0], pair[1], "{statuses:?}");
    }
    // A failed job ends the iterator with its snapshot, not an error.
    let failed = c
        .create_image(&emulated("events fail", json!({"fail": "nope"})))
        .unwrap();
    let last = c.events(failed.job_id.as_str()).into_iter().last().unwrap();
    assert_eq!(last.unwrap().status, JobStatus::Failed);
}

pub fn cache_hit_returns_at_once<A: ClientAdapter>() {
    let (emu, c) = setup::<A>();
    let request = image("cache me");
    let (first, hit) = c.create_image_cache_hit(&request).unwrap();
    assert_eq!(hit, Some(false));
    c.wait_for(first, None, false, None).unwrap();
    let (second, hit) = c.create_image_cache_hit(&request).unwrap();
    assert_eq!(hit, Some(true));
    assert!(second.is_terminal());
    let before = emu.request_log().len();
    let done = c.wait_for(second, None, false, None).unwrap();
    assert_eq!(done.status, JobStatus::Completed);
    assert_eq!(
        emu.request_log().len(),
        before,
        "a finished job needs no request"
    );
}

pub fn invalid_input_sends_nothing<A: ClientAdapter>() {
    let (emu, c) = setup::<A>();
    let err = c.create_image(&image("")).unwrap_err();
    match err {
        Error::InvalidInput(v) => assert_eq!(v.field, "prompt"),
        other => panic!("{other:?}"),
    }
    let err = c
        .usage(&UsageQuery::new().from("last tuesday"))
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
    assert!(emu.request_log().is_empty());
}

pub fn unknown_job_is_a_404_with_the_job_id<A: ClientAdapter>() {
    let (_emu, c) = setup::<A>();
    let err = c.get_job("job_does_not_exist").unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(404));
    assert_eq!(err.job_id().map(|j| j.as_str()), Some("job_does_not_exist"));
    let err = c.wait("job_does_not_exist").unwrap_err();
    assert_eq!(err.job_id().map(|j| j.as_str()), Some("job_does_not_exist"));
}

pub fn status_callback_sees_every_status<A: ClientAdapter>() {
    let (_emu, c) = setup::<A>();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let job = c
        .create_image(&emulated(
            "progress",
            json!({"duration_ms": 200, "queued_ms": 50}),
        ))
        .unwrap();
    let callback: OnStatus = Arc::new(move |j: &Job| sink.lock().unwrap().push(j.status.clone()));
    c.wait_for(job, None, false, Some(callback)).unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.first(), Some(&JobStatus::Queued), "{seen:?}");
    assert_eq!(seen.last(), Some(&JobStatus::Completed), "{seen:?}");
}

// ---------------------------------------------------------------------------------------
// One time budget per call, and what a call says while it waits.

fn listening(spec: Spec) -> (Spec, Notices) {
    let notices = Notices::default();
    (
        Spec {
            notices: Some(notices.clone()),
            ..spec
        },
        notices,
    )
}

fn is_timeout(err: &Error) -> bool {
    matches!(
        err,
        Error::Timeout { .. }
            | Error::Transport {
                kind: TransportErrorKind::Timeout,
                ..
            }
    )
}

pub fn retry_after_beyond_the_total_timeout_ends_the_call_at_once<A: ClientAdapter>() {
    let emulator = Emulator::builder()
        .time_scale(0.05)
        .start_blocking()
        .expect("emulator starts");
    let (mut s, notices) = listening(spec(&emulator.base_url()));
    s.total_timeout = Some(Duration::from_secs(5));
    let c = A::connect(&s);
    // 30 s is within what the policy honours (120 s) but not within the 5 s call.
    emulator.push_fault(
        "getBalance",
        Fault::RateLimited {
            retry_after_secs: 30,
        },
    );
    let started = Instant::now();
    match c.balance().unwrap_err() {
        Error::RateLimited { retry_after, .. } => {
            assert_eq!(retry_after, Duration::from_secs(30))
        }
        other => panic!("{other:?}"),
    }
    // At once: well before the 30 s, and even before the 5 s budget (generous bound).
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(count(&emulator, "getBalance"), 1);
    // The same for a job-creating POST: no sleep, no second request, no job.
    emulator.push_fault(
        "createImage",
        Fault::RateLimited {
            retry_after_secs: 30,
        },
    );
    let err = c.create_image(&image("not now")).unwrap_err();
    assert!(matches!(err, Error::RateLimited { .. }), "{err:?}");
    assert_eq!(count(&emulator, "createImage"), 1);
    assert_eq!(emulator.jobs_created(), 0);
    assert!(
        notices.lock().unwrap().is_empty(),
        "no sleep, nothing to announce"
    );
}

/// A server that accepts connections and never answers; counts the connections.
fn silent_server() -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    let accepted = Arc::new(AtomicU64::new(0));
    let counter = accepted.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
    });
    (format!("http://{addr}/v1"), accepted)
}

pub fn silent_server_is_bounded_by_the_total_timeout_across_retries<A: ClientAdapter>() {
    // Each attempt ends by its 300 ms read timeout; the 4 attempts the policy allows
    // (3 retries) and their short backoffs fit in the 5 s call.
    let (base_url, accepted) = silent_server();
    let (mut s, notices) = listening(spec(&base_url));
    s.read_timeout = Some(Duration::from_millis(300));
    s.total_timeout = Some(Duration::from_secs(5));
    let c = A::connect(&s);
    let started = Instant::now();
    let err = c.balance().unwrap_err();
    assert!(is_timeout(&err), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        4,
        "one connection per attempt"
    );
    let notices = notices.lock().unwrap().clone();
    assert_eq!(notices.len(), 3, "{notices:?}");
    for (n, notice) in notices.iter().enumerate() {
        match notice {
            Notice::Retry {
                reason: RetryReason::Connection(TransportErrorKind::Timeout),
                retry,
                of: 3,
                ..
            } => assert_eq!(*retry, n as u32 + 1),
            other => panic!("{other:?}"),
        }
    }

    // Attempts that would each wait 30 s for an answer: the 1 s call ends all of them.
    let (base_url, accepted) = silent_server();
    let mut s = spec(&base_url);
    s.read_timeout = Some(Duration::from_secs(30));
    s.total_timeout = Some(Duration::from_secs(1));
    let c = A::connect(&s);
    let started = Instant::now();
    let err = c.balance().unwrap_err();
    assert!(is_timeout(&err), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let connections = accepted.load(Ordering::SeqCst);
    assert!(
        (1..4).contains(&connections),
        "{connections}: the budget cut the retries"
    );

    // A job-creating POST whose answer never comes is not repeated, and is bounded too.
    let err = c.create_image(&image("silence")).unwrap_err();
    assert!(is_timeout(&err), "{err:?}");
    assert_eq!(accepted.load(Ordering::SeqCst), connections + 1);
}

pub fn a_per_call_total_timeout_bounds_every_kind_of_call<A: ClientAdapter>() {
    let (emu, c) = setup::<A>();
    let job = c.generate_image(&image("bounded")).unwrap();
    let quick = c.with_total_timeout(Duration::from_millis(300));
    let slow = Fault::Delay(Duration::from_secs(10));
    let started = Instant::now();
    emu.push_fault("createImage", slow.clone());
    let err = quick.create_image(&image("slow create")).unwrap_err();
    assert!(is_timeout(&err), "create: {err:?}");
    emu.push_fault("getJob", slow.clone());
    let err = quick.get_job(job.job_id.as_str()).unwrap_err();
    assert!(is_timeout(&err), "get_job: {err:?}");
    assert_eq!(err.job_id(), Some(&job.job_id));
    emu.push_fault("getBalance", slow.clone());
    let err = quick.balance().unwrap_err();
    assert!(is_timeout(&err), "balance: {err:?}");
    emu.push_fault("uploadFile", slow.clone());
    let err = quick
        .upload_bytes(b"slow upload".to_vec(), None)
        .unwrap_err();
    assert!(is_timeout(&err), "upload: {err:?}");
    emu.push_fault(varg_emulator::routes::DOWNLOAD_OUTPUT, slow);
    let err = quick.download(&job).unwrap_err();
    assert!(is_timeout(&err), "download: {err:?}");
    // Five calls of 300 ms each, not five delays of 10 s (generous bound).
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    // The client it came from keeps its own (longer) timeouts.
    emu.clear_faults();
    assert!(c.balance().is_ok());
}

pub fn notices_say_what_a_call_waits_for<A: ClientAdapter>() {
    let emulator = Emulator::builder()
        .time_scale(0.05)
        .start_blocking()
        .expect("emulator starts");
    let (s, notices) = listening(spec(&emulator.base_url()));
    let c = A::connect(&s);
    emulator.push_fault(
        "getBalance",
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    );
    emulator.push_fault("getBalance", Fault::Status(503));
    c.balance().unwrap();
    assert_eq!(count(&emulator, "getBalance"), 3);
    let seen = notices.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(
        matches!(
            &seen[0],
            Notice::Retry { reason: RetryReason::RateLimited, retry: 1, of: 3, delay, job_id: None, .. }
                if *delay == Duration::from_secs(1)
        ),
        "{:?}",
        seen[0]
    );
    assert_eq!(seen[0].to_string(), "rate limited; retry 1 of 3 in 1.0 s");
    assert!(
        matches!(
            &seen[1],
            Notice::Retry { reason: RetryReason::Status(status), retry: 2, of: 3, .. }
                if status.as_u16() == 503
        ),
        "{:?}",
        seen[1]
    );
    assert!(
        seen[1].delay() <= Duration::from_millis(20),
        "the policy's backoff cap"
    );
    // About a job: the notice names it.
    notices.lock().unwrap().clear();
    emulator.push_fault("getJob", Fault::Reset);
    let _ = c.get_job("job_notice");
    let seen = notices.lock().unwrap().clone();
    assert!(
        matches!(
            &seen[..],
            [Notice::Retry {
                reason: RetryReason::Connection(_),
                retry: 1,
                ..
            }]
        ),
        "{seen:?}"
    );
    assert_eq!(seen[0].job_id().map(|j| j.as_str()), Some("job_notice"));
    // Nothing retried, nothing announced.
    notices.lock().unwrap().clear();
    c.me().unwrap();
    assert!(notices.lock().unwrap().is_empty());
}

pub fn notices_say_when_a_wait_changes_course<A: ClientAdapter>() {
    // A stream cut after its first status is opened again, and says so.
    let emulator = Emulator::builder()
        .time_scale(0.05)
        .keepalive(Duration::from_millis(100))
        .start_blocking()
        .expect("emulator starts");
    let (s, notices) = listening(spec(&emulator.base_url()));
    let c = A::connect(&s);
    emulator.push_fault("streamJob", Fault::CutStreamAfter(1));
    let job = c
        .create_image(&emulated(
            "cut",
            json!({"duration_ms": 400, "queued_ms": 100}),
        ))
        .unwrap();
    let id = job.job_id.clone();
    c.wait_for(job, None, false, None).unwrap();
    assert_eq!(count(&emulator, "streamJob"), 2);
    let seen = notices.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        matches!(&seen[0], Notice::StreamReconnect { job_id, .. } if *job_id == id),
        "{seen:?}"
    );

    // A stream that is not there: polling takes over, once, and says so.
    let emulator = Emulator::builder()
        .time_scale(0.05)
        .sse_mode(SseMode::NotFound)
        .start_blocking()
        .expect("emulator starts");
    let (s, notices) = listening(spec(&emulator.base_url()));
    let c = A::connect(&s);
    let job = c.generate_image(&image("polled")).unwrap();
    assert_eq!(job.status, JobStatus::Completed);
    let seen = notices.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        matches!(&seen[0], Notice::PollingFallback { job_id, .. } if *job_id == job.job_id),
        "{seen:?}"
    );
    assert!(
        seen[0].to_string().contains("polling instead"),
        "{}",
        seen[0]
    );
}
