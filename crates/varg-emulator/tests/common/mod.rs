#![allow(dead_code)]

use std::time::Duration;

use serde_json::{Value, json};
use varg_emulator::{Emulator, EmulatorBuilder, EmulatorHandle};

pub const KEY: &str = "varg_test_key";

pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

/// A builder with fast jobs and fast keepalives.
pub fn fast() -> EmulatorBuilder {
    Emulator::builder()
        .time_scale(0.05)
        .keepalive(Duration::from_millis(50))
}

pub async fn start() -> EmulatorHandle {
    fast().start().await.expect("start")
}

pub struct Api {
    pub emu: EmulatorHandle,
    pub http: reqwest::Client,
}

impl Api {
    pub async fn new(builder: EmulatorBuilder) -> Self {
        Self {
            emu: builder.start().await.expect("start"),
            http: client(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.emu.base_url())
    }

    pub async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(KEY)
            .json(&body)
            .send()
            .await
            .expect("send")
    }

    pub async fn post_with(
        &self,
        path: &str,
        body: Value,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut req = self.http.post(self.url(path)).bearer_auth(KEY).json(&body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().await.expect("send")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(KEY)
            .send()
            .await
            .expect("send")
    }

    pub async fn json(&self, path: &str) -> Value {
        self.get(path).await.json().await.expect("json")
    }

    /// Creates a job and checks the 202.
    pub async fn create(&self, path: &str, body: Value) -> Value {
        let resp = self.post(path, body).await;
        assert_eq!(resp.status(), 202, "create {path}");
        resp.json().await.expect("job json")
    }

    /// Polls until the job is terminal (bounded number of polls, no timing assertion).
    pub async fn wait(&self, job_id: &str) -> Value {
        for _ in 0..2000 {
            let job = self.json(&format!("/jobs/{job_id}")).await;
            let status = job["status"].as_str().unwrap_or("").to_owned();
            if matches!(status.as_str(), "completed" | "failed" | "cancelled") {
                return job;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("job {job_id} never finished");
    }

    pub async fn download(&self, url: &str) -> Vec<u8> {
        let resp = self.http.get(url).send().await.expect("download");
        assert_eq!(resp.status(), 200, "download {url}");
        resp.bytes().await.expect("bytes").to_vec()
    }
}

pub fn fast_opts(ms: u64) -> Value {
    json!({"emulator": {"duration_ms": ms, "queued_ms": ms / 2}})
}

/// Parses an SSE body into (event name, data) pairs and the number of comment lines.
pub fn parse_sse(text: &str) -> (Vec<(String, String)>, usize) {
    let mut events = Vec::new();
    let mut comments = 0;
    let mut event = String::new();
    let mut data = String::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            if !data.is_empty() || !event.is_empty() {
                events.push((std::mem::take(&mut event), std::mem::take(&mut data)));
            }
        } else if line.starts_with(':') {
            comments += 1;
        } else if let Some(v) = line.strip_prefix("event:") {
            event = v.trim().to_owned();
        } else if let Some(v) = line.strip_prefix("data:") {
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(v.strip_prefix(' ').unwrap_or(v));
        }
    }
    (events, comments)
}
