//! The shared scenario suite against the blocking client, plus blocking-only checks.

#[macro_use]
mod scenarios;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use scenarios::{ClientAdapter, Downloaded, KEY, OnStatus, Spec};
use varg_blocking::{Client, DownloadProgress, Error, WaitOptions};
use varg_types::*;

/// The blocking client, called directly.
struct Blocking(Client);

impl ClientAdapter for Blocking {
    fn connect(spec: &Spec) -> Self {
        let mut builder = Client::builder()
            .api_key(KEY)
            .base_url(&spec.base_url)
            .retry(spec.retry.clone())
            .wait_policy(spec.wait.clone());
        if let Some(total) = spec.total_timeout {
            builder = builder.total_timeout(total);
        }
        if let Some(read) = spec.read_timeout {
            builder = builder.read_timeout(read);
        }
        if let Some(sink) = spec.notices.clone() {
            builder = builder.on_notice(move |n| sink.lock().unwrap().push(n.clone()));
        }
        Blocking(builder.build().unwrap())
    }
    fn with_total_timeout(&self, total: Duration) -> Self {
        Blocking(
            self.0
                .with_options(varg_blocking::RequestOptions::new().total_timeout(total)),
        )
    }
    fn balance(&self) -> Result<Balance, Error> {
        self.0.balance()
    }
    fn me(&self) -> Result<Me, Error> {
        self.0.me()
    }
    fn voices(&self) -> Result<VoicesResponse, Error> {
        self.0.voices()
    }
    fn usage(&self, query: &UsageQuery) -> Result<UsageResponse, Error> {
        self.0.usage(query)
    }
    fn create_image(&self, r: &ImageRequest) -> Result<Job, Error> {
        self.0.create_image(r)
    }
    fn create_image_cache_hit(&self, r: &ImageRequest) -> Result<(Job, Option<bool>), Error> {
        self.0
            .create_image_with_meta(r)
            .map(|(job, meta)| (job, meta.cache_hit))
    }
    fn create_video(&self, r: &VideoRequest) -> Result<Job, Error> {
        self.0.create_video(r)
    }
    fn create_speech(&self, r: &SpeechRequest) -> Result<Job, Error> {
        self.0.create_speech(r)
    }
    fn create_music(&self, r: &MusicRequest) -> Result<Job, Error> {
        self.0.create_music(r)
    }
    fn create_transcription(&self, r: &TranscriptionRequest) -> Result<Job, Error> {
        self.0.create_transcription(r)
    }
    fn ffmpeg(&self, r: &FfmpegRequest) -> Result<Job, Error> {
        self.0.ffmpeg(r)
    }
    fn trim(&self, r: &TrimRequest) -> Result<Job, Error> {
        self.0.trim(r)
    }
    fn resize(&self, r: &ResizeRequest) -> Result<Job, Error> {
        self.0.resize(r)
    }
    fn slice(&self, r: &SliceRequest) -> Result<Job, Error> {
        self.0.slice(r)
    }
    fn probe(&self, r: &ProbeRequest) -> Result<ProbeResponse, Error> {
        self.0.probe(r)
    }
    fn get_job(&self, id: &str) -> Result<Job, Error> {
        self.0.get_job(id)
    }
    fn cancel_job(&self, id: &str) -> Result<(), Error> {
        self.0.cancel_job(id)
    }
    fn wait_for(
        &self,
        job: Job,
        deadline: Option<Duration>,
        cancel_on_deadline: bool,
        on_status: Option<OnStatus>,
    ) -> Result<Job, Error> {
        let mut options = WaitOptions::new().cancel_on_deadline(cancel_on_deadline);
        if let Some(d) = deadline {
            options = options.deadline(d);
        }
        if let Some(f) = on_status {
            options = options.on_status(move |j| f(j));
        }
        self.0.wait_for(job, options)
    }
    fn wait(&self, id: &str) -> Result<Job, Error> {
        self.0.wait(id, WaitOptions::new())
    }
    fn generate_image(&self, r: &ImageRequest) -> Result<Job, Error> {
        self.0.generate_image(r, WaitOptions::new())
    }
    fn events(&self, id: &str) -> Vec<Result<Job, Error>> {
        self.0.events(id).collect()
    }
    fn upload_bytes(
        &self,
        bytes: Vec<u8>,
        media_type: Option<&str>,
    ) -> Result<FileUploadResponse, Error> {
        self.0.upload_bytes(bytes, media_type)
    }
    fn upload_path(&self, path: &Path) -> Result<FileUploadResponse, Error> {
        self.0.upload_path(path)
    }
    fn upload_reader(&self, bytes: Vec<u8>, len: Option<u64>) -> Result<FileUploadResponse, Error> {
        self.0.upload_reader(std::io::Cursor::new(bytes), len, None)
    }
    fn download(&self, job: &Job) -> Result<Downloaded, Error> {
        let seen = Mutex::new(Vec::new());
        let progress = |p: DownloadProgress| seen.lock().unwrap().push((p.downloaded, p.total));
        let mut out = Vec::new();
        self.0.download(job, &mut out, Some(&progress))?;
        Ok((out, seen.into_inner().unwrap()))
    }
    fn download_to_path(&self, job: &Job, path: &Path) -> Result<u64, Error> {
        self.0.download_to_path(job, path)
    }
}

scenario_suite!(Blocking);

/// The blocking client inside a tokio runtime's blocking thread: no runtime of its own, no
/// panic ("cannot start a runtime from within a runtime").
#[test]
fn works_inside_spawn_blocking() {
    let emulator = varg_emulator::Emulator::builder()
        .time_scale(0.05)
        .start_blocking()
        .unwrap();
    let base_url = emulator.base_url();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let job = runtime
        .block_on(async move {
            tokio::task::spawn_blocking(move || {
                let client = Client::builder()
                    .api_key(KEY)
                    .base_url(base_url)
                    .build()
                    .unwrap();
                client.balance().unwrap();
                client.generate_image(
                    &ImageRequest::new(models::image::FLUX_PRO, "inside tokio"),
                    WaitOptions::new(),
                )
            })
            .await
        })
        .unwrap()
        .unwrap();
    assert_eq!(job.status, JobStatus::Completed);
    runtime.shutdown_background();
    assert_eq!(emulator.requests_to("streamJob"), 1);
}

/// A custom transport (a closure) sees every request; the client adds nothing of its own.
#[test]
fn custom_transport_and_builder_settings() {
    use varg_blocking::transport::UreqTransport;
    use varg_core::transport::{Body, ResponseBody, Transport, TransportError};
    let emulator = varg_emulator::Emulator::builder().start_blocking().unwrap();
    let inner = UreqTransport::default();
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let log = seen.clone();
    let transport = move |request: http::Request<Body>| -> Result<http::Response<ResponseBody>, TransportError> {
        log.lock().unwrap().push(format!(
            "{} {} ua={}",
            request.method(),
            request.uri().path(),
            request.headers()["user-agent"].to_str().unwrap()
        ));
        inner.send(request)
    };
    let client = Client::builder()
        .api_key(KEY)
        .base_url(emulator.base_url())
        .user_agent("scenario/1")
        .connect_timeout(Duration::from_secs(2))
        .read_timeout(Duration::from_secs(5))
        .total_timeout(Duration::from_secs(10))
        .transport(transport)
        .build()
        .unwrap();
    client.balance().unwrap();
    assert_eq!(
        seen.lock().unwrap().as_slice(),
        ["GET /v1/balance ua=scenario/1"]
    );
    // The key never shows in Debug output.
    assert!(!format!("{client:?}").contains(KEY));
}

#[test]
fn builder_refuses_bad_configuration() {
    assert!(matches!(
        Client::builder().build(),
        Err(Error::InvalidConfig { .. })
    ));
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

#[test]
fn a_server_that_is_down_is_a_connect_error_after_retries() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let spec = scenarios::spec(&format!("http://127.0.0.1:{port}/v1"));
    let client = Blocking::connect(&spec).0;
    match client.balance().unwrap_err() {
        Error::Transport { kind, .. } => {
            assert_eq!(kind, varg_blocking::TransportErrorKind::Connect)
        }
        other => panic!("{other:?}"),
    }
}

/// BYOK keys and the cache mode go with job creation only; never to other routes or to
/// the output host.
#[test]
fn byok_and_cache_headers_only_where_they_belong() {
    use varg_blocking::{CacheMode, Provider, RequestOptions};
    let emulator = varg_emulator::Emulator::builder()
        .time_scale(0.05)
        .start_blocking()
        .unwrap();
    let client = Client::builder()
        .api_key(KEY)
        .base_url(emulator.base_url())
        .provider_key(Provider::Fal, "fal_secret")
        .build()
        .unwrap();
    let client = client.with_options(RequestOptions::new().cache(CacheMode::NoStore));
    let job = client
        .generate_image(
            &ImageRequest::new(models::image::FLUX_PRO, "byok"),
            WaitOptions::new(),
        )
        .unwrap();
    let mut sink = Vec::new();
    client.download(&job, &mut sink, None).unwrap();
    let log = emulator.request_log();
    let create = log.iter().find(|r| r.route == "createImage").unwrap();
    assert_eq!(create.header("x-provider-key-fal"), Some("fal_secret"));
    assert_eq!(create.header("cache-control"), Some("no-store"));
    for r in log.iter().filter(|r| r.route != "createImage") {
        assert_eq!(r.header("x-provider-key-fal"), None, "{}", r.route);
    }
    let download = log
        .iter()
        .find(|r| r.route == varg_emulator::routes::DOWNLOAD_OUTPUT)
        .unwrap();
    assert_eq!(download.header("authorization"), None);
    assert_eq!(download.header("cache-control"), None);
}
