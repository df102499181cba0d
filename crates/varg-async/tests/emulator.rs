//! The async client against the in-process emulator, over loopback.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;
use varg_async::types::{ImageRequest, JobStatus, models};
use varg_async::{
    CacheMode, Client, DownloadProgress, Error, FfmpegRequest, MusicRequest, ProbeRequest,
    Provider, ResizeRequest, RetryPolicy, SliceRequest, SpeechRequest, TranscriptionRequest,
    TransportErrorKind, TrimRequest, UsageQuery, VideoRequest, WaitOptions, WaitPolicy,
};
use varg_emulator::{Emulator, EmulatorHandle, Fault, SseMode};

const KEY: &str = "varg_test_key";

async fn emulator() -> EmulatorHandle {
    Emulator::builder()
        .time_scale(0.1)
        .keepalive(Duration::from_millis(100))
        .start()
        .await
        .unwrap()
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_retries: 2,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        ..RetryPolicy::default()
    }
}

fn fast_wait() -> WaitPolicy {
    WaitPolicy {
        poll_initial: Duration::from_millis(20),
        poll_max: Duration::from_millis(100),
        deadline: Some(Duration::from_secs(30)),
        ..WaitPolicy::default()
    }
}

fn client(emu: &EmulatorHandle) -> Client {
    Client::builder()
        .api_key(KEY)
        .base_url(emu.base_url())
        .retry(fast_retry())
        .wait_policy(fast_wait())
        .build()
        .unwrap()
}

fn image(prompt: &str) -> ImageRequest {
    ImageRequest::new(models::image::FLUX_PRO, prompt)
}

fn counts(emu: &EmulatorHandle) -> String {
    format!("{:?}", emu.requests_per_route())
}

#[tokio::test]
async fn every_method() {
    let emu = emulator().await;
    let c = client(&emu);

    let balance = c.balance().await.unwrap();
    assert_eq!(balance.balance_cents, Some(100_000.0));
    let me = c.me().await.unwrap();
    assert!(me.user_id.is_some());
    let voices = c.voices().await.unwrap();
    assert!(!voices.voices.is_empty());
    let usage = c
        .usage(&UsageQuery::new().from("2026-01-01").to("2026-12-31"))
        .await
        .unwrap();
    let _ = usage.usage.len();

    let img = c
        .generate_image(&image("every method"), WaitOptions::new())
        .await
        .unwrap();
    assert_eq!(img.status, JobStatus::Completed);
    let again = c.get_job(img.job_id.as_str()).await.unwrap();
    assert_eq!(again.job_id, img.job_id);

    let video = c
        .generate_video(
            &VideoRequest::new(models::video::SORA_2, "a kite").duration(3.0),
            WaitOptions::new(),
        )
        .await
        .unwrap();
    assert!(video.output_url().is_some());
    let speech = c
        .generate_speech(
            &SpeechRequest::new(models::speech::ELEVEN_V3, "Hello there, a test.").voice("rachel"),
            WaitOptions::new(),
        )
        .await
        .unwrap();
    let music = c
        .generate_music(
            &MusicRequest::new(models::music::MUSIC_V1, "jazz").duration(2.0),
            WaitOptions::new(),
        )
        .await
        .unwrap();
    assert!(music.output_url().is_some());
    let audio = speech.output_url().unwrap().to_owned();
    let tr = c
        .generate_transcription(
            &TranscriptionRequest::new(models::transcription::WHISPER, audio).language("en"),
            WaitOptions::new(),
        )
        .await
        .unwrap();
    assert_eq!(tr.status, JobStatus::Completed);

    // Media processing on an uploaded clip.
    let clip = c
        .upload_bytes(varg_emulator::media::mp4(640, 360, 10.0), Some("video/mp4"))
        .await
        .unwrap();
    let probe = c.probe(&ProbeRequest::new(clip.url.clone())).await.unwrap();
    assert_eq!(probe.width, Some(640));
    let trim = c
        .trim(&TrimRequest::new(clip.url.clone(), 2.0).end(5.0))
        .await
        .unwrap();
    let resize = c
        .resize(&ResizeRequest::new(clip.url.clone()).width(320))
        .await
        .unwrap();
    let slice = c
        .slice(&SliceRequest::new(clip.url.clone()).every(4.0))
        .await
        .unwrap();
    let ff = c
        .ffmpeg(
            &FfmpegRequest::new("-vf fps=1")
                .url(clip.url.clone())
                .output_file("out_1", "frame.png"),
        )
        .await
        .unwrap();
    for job in [trim, resize, slice, ff] {
        let done = c.wait_for(job, WaitOptions::new()).await.unwrap();
        assert_eq!(done.status, JobStatus::Completed);
    }

    // Cancel a job that would otherwise never finish.
    let held = c
        .create_image(&image("held").provider_option("emulator", json!({"hold": true})))
        .await
        .unwrap();
    c.cancel_job(held.job_id.as_str()).await.unwrap();
    let cancelled = c.get_job(held.job_id.as_str()).await.unwrap();
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    let err = c
        .wait(held.job_id.as_str(), WaitOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::JobCancelled { .. }), "{err}");

    // Metadata of a create call, and a cache hit that needs no wait at all.
    let (job, meta) = c
        .create_image_with_meta(&image("every method"))
        .await
        .unwrap();
    assert_eq!(meta.cache_hit, Some(true));
    assert!(job.is_terminal());
    let before = emu.request_log().len();
    c.wait_for(job, WaitOptions::new()).await.unwrap();
    assert_eq!(
        emu.request_log().len(),
        before,
        "a finished job costs no request"
    );

    println!("every_method request counts: {}", counts(&emu));
}

#[tokio::test]
async fn completed_job_costs_two_requests_over_sse() {
    let emu = emulator().await;
    let c = client(&emu);
    let statuses = Arc::new(Mutex::new(Vec::new()));
    let seen = statuses.clone();
    let started = Instant::now();
    let job = c
        .generate_image(
            &image("two requests"),
            WaitOptions::new().on_status(move |j| seen.lock().unwrap().push(j.status.clone())),
        )
        .await
        .unwrap();
    let waited = started.elapsed();
    assert_eq!(job.status, JobStatus::Completed);
    assert_eq!(emu.requests_to("createImage"), 1);
    assert_eq!(emu.requests_to("streamJob"), 1);
    assert_eq!(emu.requests_to("getJob"), 0);
    assert_eq!(emu.request_log().len(), 2);
    let statuses = statuses.lock().unwrap().clone();
    assert_eq!(statuses.first(), Some(&JobStatus::Queued));
    assert_eq!(statuses.last(), Some(&JobStatus::Completed));
    println!(
        "SSE wait: {} requests total ({}), statuses {:?}, create+wait took {:?}",
        emu.request_log().len(),
        counts(&emu),
        statuses,
        waited
    );
}

#[tokio::test]
async fn cut_stream_reconnects() {
    let emu = emulator().await;
    let c = client(&emu);
    emu.push_fault("streamJob", Fault::CutStreamAfter(1));
    let job = c
        .generate_image(&image("cut stream"), WaitOptions::new())
        .await
        .unwrap();
    assert_eq!(job.status, JobStatus::Completed);
    assert_eq!(emu.requests_to("streamJob"), 2, "{}", counts(&emu));
    assert_eq!(emu.requests_to("getJob"), 0);
    println!("cut stream: {}", counts(&emu));
}

#[tokio::test]
async fn disabled_stream_falls_back_to_polling() {
    let emu = emulator().await;
    let c = client(&emu);
    emu.set_sse_mode(SseMode::NotFound);
    let started = Instant::now();
    let job = c
        .generate_image(&image("no stream"), WaitOptions::new())
        .await
        .unwrap();
    assert_eq!(job.status, JobStatus::Completed);
    assert_eq!(
        emu.requests_to("streamJob"),
        1,
        "a 404 stream is not retried"
    );
    assert!(emu.requests_to("getJob") >= 1);
    println!(
        "stream 404 -> polling: {} in {:?}",
        counts(&emu),
        started.elapsed()
    );

    let emu = emulator().await;
    let c = client(&emu);
    emu.set_sse_mode(SseMode::Unavailable);
    let job = c
        .generate_image(
            &image("stream 503").provider_option("emulator", json!({"duration_ms": 3000})),
            WaitOptions::new(),
        )
        .await
        .unwrap();
    assert_eq!(job.status, JobStatus::Completed);
    // Three stream failures in a row, then polling only.
    assert_eq!(emu.requests_to("streamJob"), 3, "{}", counts(&emu));
    assert!(emu.requests_to("getJob") >= 3);
    println!("stream 503 -> polling: {}", counts(&emu));
}

#[tokio::test]
async fn events_yield_each_status_and_end() {
    let emu = emulator().await;
    let c = client(&emu);
    let job = c.create_image(&image("events")).await.unwrap();
    let items: Vec<_> = c.events(job.job_id.as_str()).collect().await;
    let statuses: Vec<JobStatus> = items.into_iter().map(|r| r.unwrap().status).collect();
    assert_eq!(statuses.last(), Some(&JobStatus::Completed));
    assert!(statuses.len() >= 2, "{statuses:?}");
    println!("events: {statuses:?}; {}", counts(&emu));

    // A failed job ends the stream with its failed snapshot.
    let failed = c
        .create_image(&image("events fail").provider_option("emulator", json!({"fail": "nope"})))
        .await
        .unwrap();
    let items: Vec<_> = c.events(failed.job_id.as_str()).collect().await;
    let last = items.last().unwrap().as_ref().unwrap();
    assert_eq!(last.status, JobStatus::Failed);
}

#[tokio::test]
async fn rate_limit_retry_after_is_honoured() {
    let emu = emulator().await;
    let c = client(&emu);
    emu.push_fault(
        "getBalance",
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    );
    let started = Instant::now();
    c.balance().await.unwrap();
    let waited = started.elapsed();
    assert_eq!(emu.requests_to("getBalance"), 2);
    // A lower bound only: the client slept at least what the server asked for.
    assert!(waited >= Duration::from_secs(1), "{waited:?}");
    println!("429 Retry-After: 1 s -> 2 requests, balance() took {waited:?}");

    // Job creation is retried after a 429 too (no job was created).
    emu.push_fault(
        "createImage",
        Fault::RateLimited {
            retry_after_secs: 0,
        },
    );
    c.create_image(&image("after 429")).await.unwrap();
    assert_eq!(emu.requests_to("createImage"), 2);
    assert_eq!(emu.jobs_created(), 1);

    // A Retry-After longer than the policy honours stops at once with RateLimited.
    let strict = c.with_options(varg_async::RequestOptions::new().retry(RetryPolicy {
        max_retry_after: Duration::from_millis(500),
        ..fast_retry()
    }));
    emu.push_fault(
        "getMe",
        Fault::RateLimited {
            retry_after_secs: 30,
        },
    );
    match strict.me().await.unwrap_err() {
        Error::RateLimited { retry_after, .. } => {
            assert_eq!(retry_after, Duration::from_secs(30))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(emu.requests_to("getMe"), 1);
}

#[tokio::test]
async fn server_error_burst_is_retried_only_when_safe() {
    let emu = emulator().await;
    let c = client(&emu);
    emu.push_fault("getBalance", Fault::Status(500));
    emu.push_fault("getBalance", Fault::Html(502));
    c.balance().await.unwrap();
    assert_eq!(emu.requests_to("getBalance"), 3);

    emu.push_fault("getBalance", Fault::Status(500));
    emu.push_fault("getBalance", Fault::Status(500));
    emu.push_fault("getBalance", Fault::Status(500));
    let err = c.balance().await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(500));
    assert_eq!(emu.requests_to("getBalance"), 6, "1 + 2 retries");

    // 503 on a create: the gateway did no work, so it is retried.
    emu.push_fault("createImage", Fault::Status(503));
    emu.push_fault("createImage", Fault::Status(503));
    c.create_image(&image("503 burst")).await.unwrap();
    assert_eq!(emu.requests_to("createImage"), 3);
    // 500 on a create: the job may exist, so it is not repeated.
    emu.push_fault("createImage", Fault::Status(500));
    let err = c.create_image(&image("500 once")).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(500));
    assert_eq!(emu.requests_to("createImage"), 4);
    assert_eq!(emu.jobs_created(), 1);

    // A reset connection: GET retried, POST not.
    emu.push_fault("getMe", Fault::Reset);
    c.me().await.unwrap();
    assert_eq!(emu.requests_to("getMe"), 2);
    emu.push_fault("createImage", Fault::Reset);
    match c.create_image(&image("reset")).await.unwrap_err() {
        Error::Transport { kind, .. } => assert_ne!(kind, TransportErrorKind::Connect),
        other => panic!("{other:?}"),
    }
    assert_eq!(emu.requests_to("createImage"), 5);
    println!("5xx/reset retries: {}", counts(&emu));
}

#[tokio::test]
async fn deadline_cancels_when_asked() {
    let emu = emulator().await;
    let c = client(&emu);
    let held = image("deadline").provider_option("emulator", json!({"hold": true}));
    let job = c.create_image(&held).await.unwrap();
    let id = job.job_id.clone();
    let started = Instant::now();
    let err = c
        .wait_for(
            job,
            WaitOptions::new()
                .deadline(Duration::from_millis(300))
                .cancel_on_deadline(true),
        )
        .await
        .unwrap_err();
    let waited = started.elapsed();
    match &err {
        Error::WaitDeadline {
            job_id,
            cancel_requested,
            last_status,
        } => {
            assert_eq!(job_id, &id);
            assert!(*cancel_requested);
            assert!(last_status.is_some());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.job_id(), Some(&id));
    assert_eq!(emu.requests_to("cancelJob"), 1);
    assert_eq!(
        c.get_job(id.as_str()).await.unwrap().status,
        JobStatus::Cancelled
    );
    println!(
        "deadline 300 ms + cancel: waited {waited:?}; {}",
        counts(&emu)
    );

    // Without cancel_on_deadline the job is left running.
    let job = c
        .create_image(&image("deadline 2").provider_option("emulator", json!({"hold": true})))
        .await
        .unwrap();
    let err = c
        .wait_for(job, WaitOptions::new().deadline(Duration::from_millis(200)))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::WaitDeadline {
            cancel_requested: false,
            ..
        }
    ));
    assert_eq!(emu.requests_to("cancelJob"), 1);
}

#[tokio::test]
async fn failed_job_is_a_typed_error_with_the_job() {
    let emu = emulator().await;
    let c = client(&emu);
    let request = image("doomed").provider_option(
        "emulator",
        json!({"fail": "upstream exploded", "provider": "fal"}),
    );
    let err = c
        .generate_image(&request, WaitOptions::new())
        .await
        .unwrap_err();
    match &err {
        Error::JobFailed { job } => {
            assert_eq!(job.status, JobStatus::Failed);
            assert_eq!(job.error.as_deref(), Some("fal: upstream exploded"));
        }
        other => panic!("{other:?}"),
    }
    assert!(err.job_id().is_some());
    println!("failed job: {err}");
}

#[tokio::test]
async fn download_never_sends_the_key() {
    let emu = emulator().await;
    let c = Client::builder()
        .api_key(KEY)
        .base_url(emu.base_url())
        .provider_key(Provider::Fal, "fal_secret")
        .cache(CacheMode::NoStore)
        .build()
        .unwrap();
    let job = c
        .generate_image(&image("download me"), WaitOptions::new())
        .await
        .unwrap();
    let reports = Arc::new(Mutex::new(Vec::<DownloadProgress>::new()));
    let sink = reports.clone();
    let mut buf = Vec::new();
    let report = move |p: DownloadProgress| sink.lock().unwrap().push(p);
    let n = c.download(&job, &mut buf, Some(&report)).await.unwrap();
    assert_eq!(n as usize, buf.len());
    assert_eq!(&buf[..8], b"\x89PNG\r\n\x1a\n");
    let last = *reports.lock().unwrap().last().unwrap();
    assert_eq!(last.downloaded, n);
    assert_eq!(last.total, Some(n));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.png");
    let m = c.download_to_path(&job, &path).await.unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), buf);
    assert_eq!(m, n);

    let log = emu.request_log();
    let downloads: Vec<_> = log
        .iter()
        .filter(|r| r.route == varg_emulator::routes::DOWNLOAD_OUTPUT)
        .collect();
    assert_eq!(downloads.len(), 2);
    for r in downloads {
        assert_eq!(r.header("authorization"), None);
        assert!(
            r.headers
                .iter()
                .all(|(name, value)| !name.starts_with("x-provider-key") && !value.contains(KEY)),
            "{:?}",
            r.headers
        );
    }
    // The API requests did carry the key.
    let create = log.iter().find(|r| r.route == "createImage").unwrap();
    assert_eq!(
        create.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(create.header("x-provider-key-fal"), Some("fal_secret"));

    // A job without output is a typed error carrying its id.
    let pending = c.create_image(&image("no output yet")).await.unwrap();
    let err = c
        .download(&pending, &mut Vec::new(), None)
        .await
        .unwrap_err();
    assert_eq!(err.job_id(), Some(&pending.job_id));
    assert!(matches!(err, Error::NoOutput { .. }), "{err:?}");
    println!(
        "download: {n} bytes, {} progress reports",
        reports.lock().unwrap().len()
    );
}

#[tokio::test]
async fn second_upload_of_the_same_bytes_is_deduplicated() {
    let emu = emulator().await;
    let c = client(&emu);
    let png = varg_emulator::media::png(64, 32, [10, 200, 30]);
    let first = c
        .upload_bytes(png.clone(), Some("image/png"))
        .await
        .unwrap();
    assert!(!first.deduplicated);
    assert_eq!(first.size, png.len() as u64);
    let second = c.upload_bytes(png.clone(), None).await.unwrap();
    assert!(second.deduplicated);
    assert_eq!(second.hash, first.hash);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("photo.png");
    std::fs::write(&path, &png).unwrap();
    let third = c.upload_path(&path).await.unwrap();
    assert!(third.deduplicated);
    assert_eq!(third.hash, first.hash);

    let other = varg_emulator::media::png(16, 16, [1, 2, 3]);
    let len = other.len() as u64;
    let fourth = c
        .upload_reader(std::io::Cursor::new(other), Some(len), Some("image/png"))
        .await
        .unwrap();
    assert!(!fourth.deduplicated);
    assert_eq!(fourth.size, len);

    let hashes: Vec<_> = emu
        .request_log()
        .iter()
        .filter(|r| r.route == "uploadFile")
        .map(|r| r.header("x-content-hash").map(str::to_owned))
        .collect();
    assert_eq!(hashes[0].as_deref(), Some(first.hash.as_str()));
    assert_eq!(
        hashes[3], None,
        "a reader's hash is checked after streaming"
    );
    assert_eq!(emu.uploads(), 4);

    // Over 50 MB is refused before anything is sent.
    let before = emu.request_log().len();
    let err = c
        .upload_reader(tokio::io::empty(), Some(60_000_000), None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{err}");
    assert_eq!(emu.request_log().len(), before);
    println!(
        "uploads: first dedup={}, second dedup={}, path dedup={}; {}",
        first.deduplicated,
        second.deduplicated,
        third.deduplicated,
        counts(&emu)
    );
}

#[tokio::test]
async fn invalid_input_and_bad_bodies() {
    let emu = emulator().await;
    let c = client(&emu);
    let err = c.create_image(&image("")).await.unwrap_err();
    match err {
        Error::InvalidInput(v) => assert_eq!(v.field, "prompt"),
        other => panic!("{other:?}"),
    }
    assert!(emu.request_log().is_empty(), "nothing sent");

    emu.push_fault("getBalance", Fault::MalformedJson);
    match c.balance().await.unwrap_err() {
        Error::Decode { raw, .. } => assert!(raw.contains("job_broken")),
        other => panic!("{other:?}"),
    }

    // An unknown job: a 404 carrying the job id.
    let err = c.get_job("job_missing").await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(404));
    assert_eq!(err.job_id().map(|j| j.as_str()), Some("job_missing"));

    // A wrong key: 401, not retried.
    let bad = Client::builder()
        .api_key("not_a_varg_key")
        .base_url(emu.base_url())
        .build()
        .unwrap();
    let err = bad.me().await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(401));
    assert_eq!(emu.requests_to("getMe"), 1);

    // Plain http to a non-loopback host is refused unless allowed.
    assert!(
        Client::builder()
            .api_key(KEY)
            .base_url("http://example.com/v1")
            .build()
            .is_err()
    );
    assert!(
        Client::builder()
            .api_key(KEY)
            .base_url("http://example.com/v1")
            .allow_insecure_http(true)
            .build()
            .is_ok()
    );
}

#[tokio::test]
async fn connection_refused_is_retried_then_reported() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let c = Client::builder()
        .api_key(KEY)
        .base_url(format!("http://{addr}/v1"))
        .retry(fast_retry())
        .build()
        .unwrap();
    match c.create_image(&image("nobody home")).await.unwrap_err() {
        Error::Transport { kind, .. } => assert_eq!(kind, TransportErrorKind::Connect),
        other => panic!("{other:?}"),
    }
}

#[test]
fn futures_are_send() {
    fn is_send<T: Send>(_: &T) {}
    let c = Client::builder().api_key(KEY).build().unwrap();
    is_send(&c.wait("job_1", WaitOptions::new()));
    is_send(&c.events("job_1"));
    is_send(&c.generate_image(&image("x"), WaitOptions::new()));
    is_send(&c.upload_path("x"));
    let mut sink = Vec::new();
    is_send(&c.download_url("http://127.0.0.1/o/x", &mut sink, None));
}
