//! The shared client scenario suite (the same list the blocking client runs, from
//! `varg-blocking/tests/scenarios`) against the async client. A behaviour difference between
//! the two clients is a bug, so both instantiate exactly the same scenarios.

#[path = "../../varg-blocking/tests/scenarios/mod.rs"]
#[macro_use]
mod scenarios;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use scenarios::{ClientAdapter, Downloaded, KEY, OnStatus, Spec};
use varg_async::{Client, DownloadProgress, Error, WaitOptions};
use varg_types::*;

/// The async client, driven to completion on a runtime of its own for each call.
struct Async {
    client: Client,
    runtime: Arc<tokio::runtime::Runtime>,
}

impl Async {
    fn run<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }
}

impl ClientAdapter for Async {
    fn connect(spec: &Spec) -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
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
        let client = runtime.block_on(async { builder.build().unwrap() });
        Async {
            client,
            runtime: Arc::new(runtime),
        }
    }
    fn with_total_timeout(&self, total: Duration) -> Self {
        Async {
            client: self
                .client
                .with_options(varg_async::RequestOptions::new().total_timeout(total)),
            runtime: self.runtime.clone(),
        }
    }
    fn balance(&self) -> Result<Balance, Error> {
        self.run(self.client.balance())
    }
    fn me(&self) -> Result<Me, Error> {
        self.run(self.client.me())
    }
    fn voices(&self) -> Result<VoicesResponse, Error> {
        self.run(self.client.voices())
    }
    fn usage(&self, query: &UsageQuery) -> Result<UsageResponse, Error> {
        self.run(self.client.usage(query))
    }
    fn create_image(&self, r: &ImageRequest) -> Result<Job, Error> {
        self.run(self.client.create_image(r))
    }
    fn create_image_cache_hit(&self, r: &ImageRequest) -> Result<(Job, Option<bool>), Error> {
        self.run(self.client.create_image_with_meta(r))
            .map(|(job, meta)| (job, meta.cache_hit))
    }
    fn create_video(&self, r: &VideoRequest) -> Result<Job, Error> {
        self.run(self.client.create_video(r))
    }
    fn create_speech(&self, r: &SpeechRequest) -> Result<Job, Error> {
        self.run(self.client.create_speech(r))
    }
    fn create_music(&self, r: &MusicRequest) -> Result<Job, Error> {
        self.run(self.client.create_music(r))
    }
    fn create_transcription(&self, r: &TranscriptionRequest) -> Result<Job, Error> {
        self.run(self.client.create_transcription(r))
    }
    fn ffmpeg(&self, r: &FfmpegRequest) -> Result<Job, Error> {
        self.run(self.client.ffmpeg(r))
    }
    fn trim(&self, r: &TrimRequest) -> Result<Job, Error> {
        self.run(self.client.trim(r))
    }
    fn resize(&self, r: &ResizeRequest) -> Result<Job, Error> {
        self.run(self.client.resize(r))
    }
    fn slice(&self, r: &SliceRequest) -> Result<Job, Error> {
        self.run(self.client.slice(r))
    }
    fn probe(&self, r: &ProbeRequest) -> Result<ProbeResponse, Error> {
        self.run(self.client.probe(r))
    }
    fn get_job(&self, id: &str) -> Result<Job, Error> {
        self.run(self.client.get_job(id))
    }
    fn cancel_job(&self, id: &str) -> Result<(), Error> {
        self.run(self.client.cancel_job(id))
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
        self.run(self.client.wait_for(job, options))
    }
    fn wait(&self, id: &str) -> Result<Job, Error> {
        self.run(self.client.wait(id, WaitOptions::new()))
    }
    fn generate_image(&self, r: &ImageRequest) -> Result<Job, Error> {
        self.run(self.client.generate_image(r, WaitOptions::new()))
    }
    fn events(&self, id: &str) -> Vec<Result<Job, Error>> {
        self.run(self.client.events(id).collect())
    }
    fn upload_bytes(
        &self,
        bytes: Vec<u8>,
        media_type: Option<&str>,
    ) -> Result<FileUploadResponse, Error> {
        self.run(self.client.upload_bytes(bytes, media_type))
    }
    fn upload_path(&self, path: &Path) -> Result<FileUploadResponse, Error> {
        self.run(self.client.upload_path(path))
    }
    fn upload_reader(&self, bytes: Vec<u8>, len: Option<u64>) -> Result<FileUploadResponse, Error> {
        self.run(
            self.client
                .upload_reader(std::io::Cursor::new(bytes), len, None),
        )
    }
    fn download(&self, job: &Job) -> Result<Downloaded, Error> {
        let seen = Mutex::new(Vec::new());
        let progress = |p: DownloadProgress| seen.lock().unwrap().push((p.downloaded, p.total));
        let mut out = Vec::new();
        self.run(self.client.download(job, &mut out, Some(&progress)))?;
        Ok((out, seen.into_inner().unwrap()))
    }
    fn download_to_path(&self, job: &Job, path: &Path) -> Result<u64, Error> {
        self.run(self.client.download_to_path(job, path))
    }
}

scenario_suite!(Async);
