//! The emulator over real HTTP on loopback.

mod common;

use std::time::Duration;

use common::{Api, KEY, client, fast, fast_opts, parse_sse};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use varg_emulator::media::{self, MediaKind};
use varg_emulator::{Fault, RandomFaults, SseMode, routes};
use varg_types::{ENDPOINTS, ErrorBody, ErrorCode, FileUploadResponse, Job, JobStatus};

async fn error_of(resp: reqwest::Response) -> ErrorBody {
    let body: Value = resp.json().await.expect("error json");
    ErrorBody::from_value(body).expect("error body")
}

#[tokio::test]
async fn image_job_streams_completes_and_downloads_a_png_without_auth() {
    let api = Api::new(fast()).await;
    let resp = api
        .post(
            "/image",
            json!({"model": "flux-pro", "prompt": "a red fox", "aspect_ratio": "16:9",
                   "provider_options": fast_opts(60)}),
        )
        .await;
    assert_eq!(resp.status(), 202);
    assert_eq!(resp.headers()["x-cache"], "MISS");
    assert!(
        resp.headers()["x-cache-key"]
            .to_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert_eq!(resp.headers()["x-cache-ttl"], "2592000");
    let job: Job = resp.json().await.unwrap();
    assert_eq!(job.status, JobStatus::Queued);
    assert_eq!(job.model.as_deref(), Some("fal:flux-pro"));
    assert!(job.created_at.is_some());
    assert!(!job.cache_hit());

    let stream = api.get(&format!("/jobs/{}/stream", job.job_id)).await;
    assert_eq!(stream.status(), 200);
    assert!(
        stream.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let text = stream.text().await.unwrap();
    let (events, _) = parse_sse(&text);
    assert!(events.iter().all(|(name, _)| name == "status"));
    let statuses: Vec<Job> = events
        .iter()
        .map(|(_, d)| serde_json::from_str(d).unwrap())
        .collect();
    let last = statuses.last().unwrap();
    assert_eq!(last.status, JobStatus::Completed);
    assert!(statuses.len() >= 2, "saw {text}");

    let fetched: Job = api
        .get(&format!("/jobs/{}", job.job_id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fetched.status, JobStatus::Completed);
    assert!(fetched.completed_at.is_some());
    let url = fetched.output_url().unwrap().to_owned();
    assert!(url.starts_with(api.emu.origin()));
    assert_eq!(
        fetched.output.as_ref().unwrap().media_type.as_deref(),
        Some("image/png")
    );

    let png = api.download(&url).await;
    assert_eq!(media::sniff(&png), MediaKind::Png);
    let probe = media::probe(&png).unwrap();
    assert_eq!((probe.width, probe.height), (Some(1024), Some(576)));

    let log = api.emu.request_log();
    let download = log
        .iter()
        .find(|r| r.route == routes::DOWNLOAD_OUTPUT)
        .unwrap();
    assert_eq!(download.header("authorization"), None);
    let create = log.iter().find(|r| r.route == "createImage").unwrap();
    assert_eq!(
        create.header("Authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(api.emu.requests_for(routes::DOWNLOAD_OUTPUT).len(), 1);
    assert_eq!(
        api.emu.job(job.job_id.as_str()).unwrap().status,
        JobStatus::Completed
    );
    assert!(api.emu.job("job_missing").is_none());
    assert_eq!(api.emu.jobs_created(), 1);
    assert_eq!(api.emu.requests_to("createImage"), 1);
    assert_eq!(api.emu.requests_to("streamJob"), 1);
}

#[tokio::test]
async fn auth_errors_are_401() {
    let api = Api::new(fast()).await;
    let http = client();
    let none = http.get(api.url("/balance")).send().await.unwrap();
    assert_eq!(none.status(), 401);
    assert_eq!(error_of(none).await.code, Some(ErrorCode::AuthError));
    let wrong = http
        .get(api.url("/balance"))
        .bearer_auth("sk_nope")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let basic = http
        .get(api.url("/balance"))
        .header("authorization", "Basic varg_x")
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 401);

    let strict = Api::new(fast().api_key("exact-key")).await;
    let other = http
        .get(strict.url("/me"))
        .bearer_auth("varg_other")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 401);
    let exact = http
        .get(strict.url("/me"))
        .bearer_auth("exact-key")
        .send()
        .await
        .unwrap();
    assert_eq!(exact.status(), 200);
}

#[tokio::test]
async fn validation_errors_name_the_field() {
    let api = Api::new(fast()).await;
    let cases: Vec<(&str, Value, &str)> = vec![
        ("/image", json!({"model": "flux-pro"}), "prompt"),
        ("/image", json!({"prompt": "x"}), "model"),
        (
            "/image",
            json!({"model": "flux-pro", "prompt": "x", "aspect_ratio": "wide"}),
            "aspect_ratio",
        ),
        ("/video", json!({"model": "kling-v3"}), "prompt"),
        ("/speech", json!({"model": "eleven_v3"}), "text"),
        ("/music", json!({"model": "music_v1"}), "prompt"),
        ("/transcription", json!({"model": "whisper"}), "audio_url"),
        (
            "/transcription",
            json!({"model": "whisper", "audio_url": "not a url"}),
            "audio_url",
        ),
        ("/ffmpeg", json!({}), "command"),
        ("/ffmpeg/trim", json!({"start": 1}), "url"),
        (
            "/ffmpeg/resize",
            json!({"url": "https://x.test/a.mp4"}),
            "width",
        ),
        ("/ffmpeg/slice", json!({}), "video_url"),
        ("/ffmpeg/probe", json!({}), "url"),
        (
            "/image",
            json!({"model": "flux-pro", "prompt": "x", "provider_options": {"emulator": {"duration_ms": "soon"}}}),
            "provider_options.emulator",
        ),
    ];
    for (path, body, field) in cases {
        let resp = api.post(path, body.clone()).await;
        assert_eq!(resp.status(), 400, "{path} {body}");
        let err = error_of(resp).await;
        assert_eq!(err.code, Some(ErrorCode::ValidationError), "{path} {body}");
        assert_eq!(err.field.as_deref(), Some(field), "{path} {body}");
        assert_eq!(err.status_code, Some(400));
    }
    let raw = api
        .http
        .post(api.url("/image"))
        .bearer_auth(KEY)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    assert_eq!(error_of(raw).await.field.as_deref(), Some("body"));
    let usage = api.get("/usage?from=2026-13-01").await;
    assert_eq!(usage.status(), 400);
    assert_eq!(error_of(usage).await.field.as_deref(), Some("from"));
    assert_eq!(api.emu.jobs_created(), 0);
}

#[tokio::test]
async fn unknown_things_are_404() {
    let api = Api::new(fast()).await;
    for resp in [
        api.get("/jobs/job_missing").await,
        api.get("/jobs/job_missing/stream").await,
        api.http
            .delete(api.url("/jobs/job_missing"))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap(),
        api.get("/no-such-route").await,
        api.http
            .get(format!("{}/o/out_missing.png", api.emu.origin()))
            .send()
            .await
            .unwrap(),
        api.http
            .get(format!("{}/u/file_missing.png", api.emu.origin()))
            .send()
            .await
            .unwrap(),
    ] {
        assert_eq!(resp.status(), 404);
        assert_eq!(error_of(resp).await.code, Some(ErrorCode::NotFoundError));
    }
}

#[tokio::test]
async fn every_endpoint_of_the_table_is_routed() {
    let api = Api::new(fast()).await;
    for endpoint in ENDPOINTS.iter() {
        let path = endpoint
            .path_with(&[("job_id", "job_nope")])
            .unwrap_or_else(|_| endpoint.path.to_owned());
        let method = reqwest::Method::from_bytes(endpoint.method.as_str().as_bytes()).unwrap();
        let resp = api
            .http
            .request(method, api.url(&path))
            .bearer_auth(KEY)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        assert_ne!(status, 405, "{}", endpoint.operation_id);
        let body = resp.text().await.unwrap();
        assert!(
            !body.contains("Route not found"),
            "{} not routed",
            endpoint.operation_id
        );
        assert!(
            api.emu.requests_to(endpoint.operation_id) >= 1,
            "{} not counted",
            endpoint.operation_id
        );
    }
}

#[tokio::test]
async fn cancel_queued_and_processing_jobs_only() {
    let api = Api::new(fast().balance_cents(1000).price("flux-pro", 100)).await;
    let held = api
        .create(
            "/image",
            json!({"model": "flux-pro", "prompt": "hold", "provider_options": {"emulator": {"hold": true, "queued_ms": 0}}}),
        )
        .await;
    assert_eq!(api.emu.balance_cents(), 900);
    let id = held["job_id"].as_str().unwrap();
    let resp = api
        .http
        .delete(api.url(&format!("/jobs/{id}")))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert!(resp.bytes().await.unwrap().is_empty());
    let job = api.json(&format!("/jobs/{id}")).await;
    assert_eq!(job["status"], "cancelled");
    assert!(job["completed_at"].is_string());
    assert_eq!(api.emu.balance_cents(), 1000, "cancelled jobs are refunded");

    let done = api
        .create(
            "/image",
            json!({"model": "flux-pro", "prompt": "done", "provider_options": fast_opts(10)}),
        )
        .await;
    let id = done["job_id"].as_str().unwrap();
    assert_eq!(api.wait(id).await["status"], "completed");
    let resp = api
        .http
        .delete(api.url(&format!("/jobs/{id}")))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(
        api.json(&format!("/jobs/{id}")).await["status"],
        "completed"
    );
    assert_eq!(api.emu.balance_cents(), 900);
}

#[tokio::test]
async fn balance_is_debited_and_cache_hits_are_free() {
    let api = Api::new(fast().balance_cents(10).price("flux-pro", 10)).await;
    let body = json!({"model": "flux-pro", "prompt": "once", "provider_options": fast_opts(10)});
    let job = api.create("/image", body.clone()).await;
    api.wait(job["job_id"].as_str().unwrap()).await;
    assert_eq!(api.emu.balance_cents(), 0);
    assert_eq!(api.json("/balance").await["balance_cents"], 0);

    let hit = api.post("/image", body.clone()).await;
    assert_eq!(hit.status(), 202);
    assert_eq!(hit.headers()["x-cache"], "HIT");
    let hit: Job = hit.json().await.unwrap();
    assert_eq!(hit.status, JobStatus::Completed);
    assert!(hit.cache_hit());
    assert!(hit.output_url().is_some());
    assert_ne!(hit.job_id.as_str(), job["job_id"].as_str().unwrap());

    let poor = api
        .post("/image", json!({"model": "flux-pro", "prompt": "twice"}))
        .await;
    assert_eq!(poor.status(), 402);
    assert_eq!(
        error_of(poor).await.code,
        Some(ErrorCode::InsufficientBalanceError)
    );
    // BYOK jobs cost nothing.
    let byok = api
        .post_with(
            "/image",
            json!({"model": "flux-pro", "prompt": "byok"}),
            &[("X-Provider-Key-Fal", "fal_key")],
        )
        .await;
    assert_eq!(byok.status(), 202);

    let usage = api.json("/usage").await;
    let records = usage["usage"].as_array().unwrap();
    assert_eq!(records.len(), 3);
    assert_eq!(records[1]["cache_hit"], true);
    assert_eq!(records[1]["cost_cents"], 0);
    assert_eq!(usage["total_cents"], 10);
    assert_eq!(api.emu.cache_hits(), 1);
    let from_future = api.json("/usage?from=2999-01-01").await;
    assert!(from_future["usage"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn failed_jobs_report_the_provider_error_and_are_refunded() {
    let api = Api::new(fast().balance_cents(100).price("kling-v3", 50)).await;
    let job = api
        .create(
            "/video",
            json!({"model": "kling-v3", "prompt": "x",
                   "provider_options": {"emulator": {"duration_ms": 20, "fail": "content policy", "provider": "fal"}}}),
        )
        .await;
    let done = api.wait(job["job_id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "failed");
    assert_eq!(done["error"], "fal: content policy");
    assert!(done.get("output").is_none());
    assert_eq!(api.emu.balance_cents(), 100);
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after() {
    let api = Api::new(fast().requests_per_minute(2)).await;
    assert_eq!(api.get("/me").await.status(), 200);
    assert_eq!(api.get("/me").await.status(), 200);
    let limited = api.get("/me").await;
    assert_eq!(limited.status(), 429);
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    assert_eq!(
        error_of(limited).await.code,
        Some(ErrorCode::RateLimitError)
    );

    let api = Api::new(fast().concurrent_jobs(1)).await;
    let held = api
        .create(
            "/image",
            json!({"model": "flux-pro", "prompt": "a", "provider_options": {"emulator": {"hold": true}}}),
        )
        .await;
    let second = api
        .post("/image", json!({"model": "flux-pro", "prompt": "b"}))
        .await;
    assert_eq!(second.status(), 429);
    assert!(second.headers().contains_key("retry-after"));
    let id = held["job_id"].as_str().unwrap();
    api.http
        .delete(api.url(&format!("/jobs/{id}")))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    let third = api
        .post("/image", json!({"model": "flux-pro", "prompt": "b"}))
        .await;
    assert_eq!(third.status(), 202);
}

#[tokio::test]
async fn cache_control_no_cache_and_no_store() {
    let api = Api::new(fast()).await;
    let body =
        |p: &str| json!({"model": "flux-schnell", "prompt": p, "provider_options": fast_opts(10)});
    // A: stored normally.
    let a = api.create("/image", body("A")).await;
    api.wait(a["job_id"].as_str().unwrap()).await;
    let a2 = api
        .post_with("/image", body("A"), &[("cache-control", "no-cache")])
        .await;
    assert_eq!(a2.headers()["x-cache"], "MISS");
    let a3 = api
        .post_with("/image", body("A"), &[("cache-control", "no-store")])
        .await;
    assert_eq!(a3.headers()["x-cache"], "MISS");
    assert_eq!(
        api.post("/image", body("A")).await.headers()["x-cache"],
        "HIT"
    );

    // B: no-store is never stored.
    let b = api
        .post_with("/image", body("B"), &[("cache-control", "no-store")])
        .await;
    let b: Value = b.json().await.unwrap();
    api.wait(b["job_id"].as_str().unwrap()).await;
    assert_eq!(
        api.post("/image", body("B")).await.headers()["x-cache"],
        "MISS"
    );

    // C: no-cache skips the lookup but stores.
    let c = api
        .post_with("/image", body("C"), &[("cache-control", "no-cache")])
        .await;
    let c: Value = c.json().await.unwrap();
    api.wait(c["job_id"].as_str().unwrap()).await;
    assert_eq!(
        api.post("/image", body("C")).await.headers()["x-cache"],
        "HIT"
    );

    // Different aspect ratio, different key.
    let wide = json!({"model": "flux-schnell", "prompt": "A", "aspect_ratio": "16:9", "provider_options": fast_opts(10)});
    assert_eq!(api.post("/image", wide).await.headers()["x-cache"], "MISS");
    assert_eq!(api.emu.cache_hits(), 2);
}

#[tokio::test]
async fn uploads_hash_sniff_dedup_and_limit() {
    let api = Api::new(fast().max_upload_bytes(100_000)).await;
    let png = media::png(40, 30, [1, 2, 3]);
    let hash = format!("sha256:{}", hex::encode(Sha256::digest(&png)));
    let upload = |bytes: Vec<u8>, extra: Option<(&'static str, String)>| {
        let mut req = api
            .http
            .post(api.url("/files"))
            .bearer_auth(KEY)
            .header("content-type", "application/octet-stream")
            .body(bytes);
        if let Some((k, v)) = extra {
            req = req.header(k, v);
        }
        req.send()
    };
    let first = upload(png.clone(), None).await.unwrap();
    assert_eq!(first.status(), 200);
    let first: FileUploadResponse = first.json().await.unwrap();
    assert_eq!(first.hash, hash);
    assert_eq!(first.size, png.len() as u64);
    assert_eq!(first.media_type, "image/png");
    assert!(!first.deduplicated);
    assert!(first.url.starts_with(api.emu.origin()));
    assert!(first.url.ends_with(".png"));

    let again: FileUploadResponse = upload(png.clone(), None)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(again.deduplicated);
    assert_eq!(again.file_id, first.file_id);

    let by_header = upload(Vec::new(), Some(("x-content-hash", hash.clone())))
        .await
        .unwrap();
    assert_eq!(by_header.status(), 200);
    let by_header: FileUploadResponse = by_header.json().await.unwrap();
    assert!(by_header.deduplicated);
    assert_eq!(by_header.url, first.url);

    // The stored file is served without auth, byte for byte.
    assert_eq!(api.download(&first.url).await, png);

    let wav: FileUploadResponse = upload(media::wav(0.5), None)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(wav.media_type, "audio/wav");
    let text: FileUploadResponse = upload(b"hello".to_vec(), None)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(text.media_type, "text/plain; charset=utf-8");

    let too_big = upload(vec![0u8; 100_001], None).await.unwrap();
    assert_eq!(too_big.status(), 413);
    // The documented 413 has a message and a status but no error code.
    let body: Value = too_big.json().await.unwrap();
    assert!(body.get("error").is_none(), "{body}");
    assert_eq!(body["statusCode"], 413);
    let decoded = ErrorBody::from_value(body).unwrap();
    assert_eq!(decoded.code, None);
    assert!(decoded.message.unwrap().contains("100000 bytes"));
    // Streamed without a length, too.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..30).map(|_| Ok(vec![7u8; 10_000])).collect();
    let streamed = api
        .http
        .post(api.url("/files"))
        .bearer_auth(KEY)
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await;
    if let Ok(resp) = streamed {
        assert_eq!(resp.status(), 413);
    }
    assert_eq!(api.emu.uploads(), 5);
}

/// Posts `body` to `/v1/files` the way a sequential client (ureq, curl) does: the whole
/// body is written before the answer is read. Returns the status and the answer's body.
fn sequential_upload(
    addr: std::net::SocketAddr,
    body: &[u8],
    hash: Option<&str>,
) -> std::io::Result<(u16, Vec<u8>)> {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(addr)?;
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    conn.set_write_timeout(Some(Duration::from_secs(30)))?;
    let head = format!(
        "POST /v1/files HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {KEY}\r\n\
         Content-Type: application/octet-stream\r\n{}\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        hash.map(|h| format!("X-Content-Hash: {h}\r\n"))
            .unwrap_or_default(),
        body.len()
    );
    conn.write_all(head.as_bytes())?;
    conn.write_all(body)?;
    conn.flush()?;
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer)?;
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of headers"))?;
    let status = std::str::from_utf8(&answer[9..12])
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status line"))?;
    Ok((status, answer[split + 4..].to_vec()))
}

#[tokio::test]
async fn deduplicated_upload_of_a_large_body_reads_the_body_first() {
    // A client that announces a known hash still sends the whole body before reading the
    // answer; the emulator must read (and discard) it before answering, or the client gets
    // a reset connection (broken pipe) instead of the 200.
    let api = Api::new(fast()).await;
    let content: Vec<u8> = (0..4_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let hash = format!("sha256:{}", hex::encode(Sha256::digest(&content)));
    let addr = api.emu.addr();
    let answers = tokio::task::spawn_blocking(move || {
        (0..3)
            .map(|_| {
                let (status, body) =
                    sequential_upload(addr, &content, Some(&hash)).expect("answered, not reset");
                assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
                serde_json::from_slice::<FileUploadResponse>(&body).unwrap()
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    assert!(!answers[0].deduplicated);
    for again in &answers[1..] {
        assert!(again.deduplicated);
        assert_eq!(again.file_id, answers[0].file_id);
        assert_eq!(again.size, 4_000_000);
        assert_eq!(again.hash, answers[0].hash);
    }
    assert_eq!(api.emu.uploads(), 3);

    // The same for a body over the limit: the 413 is read, not a reset connection.
    let small = Api::new(fast().max_upload_bytes(1_000_000)).await;
    let addr = small.emu.addr();
    let (status, body) = tokio::task::spawn_blocking(move || {
        sequential_upload(addr, &vec![1u8; 4_000_000], None).expect("answered, not reset")
    })
    .await
    .unwrap();
    assert_eq!(status, 413);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert!(body.get("error").is_none(), "{body}");
    assert_eq!(small.emu.uploads(), 0);
}

#[tokio::test]
async fn generation_outputs_have_the_requested_shape() {
    let api = Api::new(fast()).await;
    let video = api
        .create(
            "/video",
            json!({"model": "kling-v3", "prompt": "waves", "duration": 3, "aspect_ratio": "9:16", "provider_options": fast_opts(10)}),
        )
        .await;
    let music = api
        .create(
            "/music",
            json!({"model": "music_v1", "prompt": "jazz", "duration": 2, "provider_options": fast_opts(10)}),
        )
        .await;
    let speech = api
        .create(
            "/speech",
            json!({"model": "eleven_v3", "text": "Hello there, this is a test.", "voice": "rachel", "provider_options": fast_opts(10)}),
        )
        .await;
    let video = api.wait(video["job_id"].as_str().unwrap()).await;
    assert_eq!(video["output"]["media_type"], "video/mp4");
    let bytes = api.download(video["output"]["url"].as_str().unwrap()).await;
    let p = media::probe(&bytes).unwrap();
    assert_eq!(
        (p.width, p.height, p.duration),
        (Some(720), Some(1280), Some(3.0))
    );

    let music = api.wait(music["job_id"].as_str().unwrap()).await;
    assert_eq!(music["output"]["media_type"], "audio/mpeg");
    assert!(music["output"]["url"].as_str().unwrap().ends_with(".mp3"));
    let bytes = api.download(music["output"]["url"].as_str().unwrap()).await;
    assert_eq!(media::sniff(&bytes), MediaKind::Mp3);
    // Whole MP3 frames of 1152 samples: at most one frame (26 ms) longer than asked.
    let secs = media::probe(&bytes).unwrap().duration.unwrap();
    assert!((2.0..2.03).contains(&secs), "{secs}");
    assert_eq!(music["model"], "elevenlabs:music_v1");

    let speech = api.wait(speech["job_id"].as_str().unwrap()).await;
    let bytes = api
        .download(speech["output"]["url"].as_str().unwrap())
        .await;
    assert_eq!(media::sniff(&bytes), MediaKind::Mp3);
    assert_eq!(speech["output"]["media_type"], "audio/mpeg");
    assert!(media::probe(&bytes).unwrap().duration.unwrap() >= 1.0);

    let audio_url = speech["output"]["url"].as_str().unwrap();
    let tr = api
        .create(
            "/transcription",
            json!({"model": "whisper", "audio_url": audio_url, "language": "en", "provider_options": fast_opts(10)}),
        )
        .await;
    let tr = api.wait(tr["job_id"].as_str().unwrap()).await;
    assert_eq!(tr["output"]["media_type"], "application/json");
    let doc: Value =
        serde_json::from_slice(&api.download(tr["output"]["url"].as_str().unwrap()).await).unwrap();
    assert_eq!(doc["language"], "en");
    assert!(doc["text"].as_str().unwrap().len() > 10);
}

#[tokio::test]
async fn media_processing_jobs_and_probe() {
    let api = Api::new(fast()).await;
    let source: FileUploadResponse = api
        .http
        .post(api.url("/files"))
        .bearer_auth(KEY)
        .body(media::mp4(640, 360, 10.0))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(source.media_type, "video/mp4");

    let probe = api
        .post(
            "/ffmpeg/probe",
            json!({"url": format!("{}?v=1", source.url)}),
        )
        .await;
    assert_eq!(probe.status(), 200);
    let probe: Value = probe.json().await.unwrap();
    assert_eq!(probe["width"], 640);
    assert_eq!(probe["height"], 360);
    assert_eq!(probe["duration"], 10);
    assert_eq!(probe["codec"], "h264");
    assert_eq!(probe["size_bytes"], source.size);

    let trim = api
        .create(
            "/ffmpeg/trim",
            json!({"url": source.url, "start": 2, "end": 5}),
        )
        .await;
    let resize = api
        .create("/ffmpeg/resize", json!({"url": source.url, "width": 320}))
        .await;
    let slice = api
        .create(
            "/ffmpeg/slice",
            json!({"video_url": source.url, "every": 4}),
        )
        .await;
    assert_eq!(slice["pricing"]["estimated"], 5);
    assert_eq!(slice["pricing"]["billing"], "metered");
    assert_eq!(slice["cache"]["hit"], false);
    let ff = api
        .create(
            "/ffmpeg",
            json!({"command": "-vf fps=1", "url": source.url, "output_files": {"out_1": "frame.png"}}),
        )
        .await;

    let trim = api.wait(trim["job_id"].as_str().unwrap()).await;
    let out = api
        .post("/ffmpeg/probe", json!({"url": trim["output"]["url"]}))
        .await;
    let out: Value = out.json().await.unwrap();
    assert_eq!(out["duration"], 3);
    assert_eq!(out["width"], 640);

    let resize = api.wait(resize["job_id"].as_str().unwrap()).await;
    let bytes = api
        .download(resize["output"]["url"].as_str().unwrap())
        .await;
    let p = media::probe(&bytes).unwrap();
    assert_eq!((p.width, p.height), (Some(320), Some(180)));

    let slice = api.wait(slice["job_id"].as_str().unwrap()).await;
    let segments = slice["metadata"]["segments"].as_array().unwrap();
    assert_eq!(segments.len(), 3);
    assert_eq!(segments[2]["start"], 8);
    assert_eq!(segments[2]["end"], 10);
    let seg = api.download(segments[0]["url"].as_str().unwrap()).await;
    assert_eq!(media::probe(&seg).unwrap().duration, Some(4.0));
    let thumb = api
        .download(segments[0]["thumbnail"].as_str().unwrap())
        .await;
    assert_eq!(media::probe(&thumb).unwrap().width, Some(480));

    let ff = api.wait(ff["job_id"].as_str().unwrap()).await;
    let bytes = api.download(ff["output"]["url"].as_str().unwrap()).await;
    assert_eq!(media::sniff(&bytes), MediaKind::Png);

    // What the emulator cannot read is a clear 400.
    let external = api
        .post("/ffmpeg/probe", json!({"url": "https://example.com/a.mp4"}))
        .await;
    assert_eq!(external.status(), 400);
    assert_eq!(error_of(external).await.field.as_deref(), Some("url"));
    let text: FileUploadResponse = api
        .http
        .post(api.url("/files"))
        .bearer_auth(KEY)
        .body("just text")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let unreadable = api.post("/ffmpeg/probe", json!({"url": text.url})).await;
    assert_eq!(unreadable.status(), 400);
    assert!(
        error_of(unreadable)
            .await
            .message
            .unwrap()
            .contains("cannot read")
    );
}

#[tokio::test]
async fn account_and_reference_reads() {
    let api = Api::new(fast().balance_cents(4200)).await;
    let balance = api.json("/balance").await;
    assert_eq!(balance["balance_cents"], 4200);
    assert_eq!(balance["currency"], "usd");
    let me = api.json("/me").await;
    assert!(me["userId"].as_str().unwrap().starts_with("user_"));
    assert!(me["email"].as_str().unwrap().contains('@'));
    let voices = api.json("/voices").await;
    let voices = voices["voices"].as_array().unwrap();
    assert_eq!(voices.len(), 9);
    assert_eq!(voices[0]["voice_id"], "rachel");
    let usage = api.json("/usage?from=2020-01-01&to=2999-12-31").await;
    assert_eq!(usage["total_cents"], 0);
}

#[tokio::test]
async fn sse_keepalives_max_time_cut_and_disabled() {
    let api = Api::new(
        fast()
            .keepalive(Duration::from_millis(20))
            .max_stream_time(Duration::from_millis(300)),
    )
    .await;
    let held = api
        .create(
            "/image",
            json!({"model": "flux-pro", "prompt": "held", "provider_options": {"emulator": {"hold": true, "queued_ms": 0}}}),
        )
        .await;
    let id = held["job_id"].as_str().unwrap().to_owned();
    // The stream closes at the maximum connection time although the job is not finished.
    let text = api
        .get(&format!("/jobs/{id}/stream"))
        .await
        .text()
        .await
        .unwrap();
    let (events, comments) = parse_sse(&text);
    assert!(!events.is_empty());
    assert!(comments >= 1, "no keepalive in {text:?}");
    let last: Job = serde_json::from_str(&events.last().unwrap().1).unwrap();
    assert!(!last.is_terminal());

    // A cut after one event.
    api.emu.push_fault("streamJob", Fault::CutStreamAfter(1));
    let text = api
        .get(&format!("/jobs/{id}/stream"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(parse_sse(&text).0.len(), 1);

    // Cancelling ends a stream with the cancelled status.
    let api2 = api.http.clone();
    let url = api.url(&format!("/jobs/{id}/stream"));
    let reader = tokio::spawn(async move {
        api2.get(url)
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    api.http
        .delete(api.url(&format!("/jobs/{id}")))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    let text = reader.await.unwrap();
    let (events, _) = parse_sse(&text);
    let last: Job = serde_json::from_str(&events.last().unwrap().1).unwrap();
    assert_eq!(last.status, JobStatus::Cancelled);

    api.emu.set_sse_mode(SseMode::NotFound);
    assert_eq!(api.get(&format!("/jobs/{id}/stream")).await.status(), 404);
    api.emu.set_sse_mode(SseMode::Unavailable);
    assert_eq!(api.get(&format!("/jobs/{id}/stream")).await.status(), 503);
    // Polling still works.
    assert_eq!(api.get(&format!("/jobs/{id}")).await.status(), 200);
}

#[tokio::test]
async fn scripted_faults_in_order() {
    let api = Api::new(fast()).await;
    let e = &api.emu;
    e.push_fault("getBalance", Fault::Status(503));
    e.push_fault("getBalance", Fault::Status(502));
    e.push_fault(
        "getBalance",
        Fault::RateLimited {
            retry_after_secs: 7,
        },
    );
    e.push_fault("getBalance", Fault::MalformedJson);
    e.push_fault("getBalance", Fault::TruncatedJson);
    e.push_fault("getBalance", Fault::Html(502));
    e.push_fault("getBalance", Fault::Delay(Duration::from_millis(20)));
    e.push_fault("getBalance", Fault::Status(500));

    let r = api.get("/balance").await;
    assert_eq!(r.status(), 503);
    let r = api.get("/balance").await;
    assert_eq!(r.status(), 502);
    let err = error_of(r).await;
    assert_eq!(err.code, Some(ErrorCode::ProviderError));
    assert_eq!(err.provider.as_deref(), Some("fal"));
    let r = api.get("/balance").await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "7");
    let r = api.get("/balance").await;
    assert_eq!(r.status(), 200);
    assert!(serde_json::from_slice::<Value>(&r.bytes().await.unwrap()).is_err());
    let r = api.get("/balance").await;
    assert_eq!(r.status(), 200);
    assert!(serde_json::from_slice::<Value>(&r.bytes().await.unwrap()).is_err());
    let r = api.get("/balance").await;
    assert_eq!(r.status(), 502);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(r.text().await.unwrap().contains("<html>"));
    let r = api.get("/balance").await;
    assert_eq!(r.status(), 200);
    let r = api.get("/balance").await;
    assert_eq!(r.status(), 500);
    assert_eq!(error_of(r).await.code, Some(ErrorCode::InternalError));
    assert_eq!(api.get("/balance").await.status(), 200);
    assert_eq!(e.requests_to("getBalance"), 9);
}

#[tokio::test]
async fn reset_drops_the_connection_before_a_response() {
    let api = Api::new(fast().fault("getMe", Fault::Reset)).await;
    let err = api
        .http
        .get(api.url("/me"))
        .bearer_auth(KEY)
        .send()
        .await
        .expect_err("the connection is dropped");
    assert!(!err.is_status());
    // The next request gets through.
    assert_eq!(api.get("/me").await.status(), 200);
    // Faults apply to the public download routes as well.
    api.emu
        .push_fault(routes::DOWNLOAD_OUTPUT, Fault::Status(503));
    let r = api
        .http
        .get(format!("{}/o/anything.png", api.emu.origin()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
}

async fn random_statuses(seed: u64) -> Vec<u16> {
    let api = Api::new(fast().seed(seed).random_faults(RandomFaults {
        probability: 0.5,
        faults: vec![Fault::Status(500), Fault::Status(503)],
        routes: vec!["getBalance".into()],
    }))
    .await;
    let mut out = Vec::new();
    for _ in 0..24 {
        out.push(api.get("/balance").await.status().as_u16());
    }
    // Routes outside the list are untouched.
    for _ in 0..5 {
        assert_eq!(api.get("/me").await.status(), 200);
    }
    out
}

#[tokio::test]
async fn random_faults_are_deterministic_from_the_seed() {
    let a = random_statuses(42).await;
    let b = random_statuses(42).await;
    assert_eq!(a, b);
    assert!(a.contains(&200));
    assert!(a.iter().any(|s| *s >= 500));
}

#[tokio::test]
async fn large_outputs_are_streamed_with_their_length() {
    let api = Api::new(fast()).await;
    let len: u64 = 3 * 1024 * 1024 + 17;
    let job = api
        .create(
            "/video",
            json!({"model": "kling-v3", "prompt": "big", "provider_options": {"emulator": {"duration_ms": 10, "output_bytes": len}}}),
        )
        .await;
    let job = api.wait(job["job_id"].as_str().unwrap()).await;
    let resp = api
        .http
        .get(job["output"]["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.content_length(), Some(len));
    let mut stream = resp.bytes_stream();
    let mut total = 0u64;
    use futures_util::StreamExt;
    while let Some(chunk) = stream.next().await {
        total += chunk.unwrap().len() as u64;
    }
    assert_eq!(total, len);
    // A streamed placeholder has no media metadata to probe.
    let probe = api
        .post("/ffmpeg/probe", json!({"url": job["output"]["url"]}))
        .await;
    assert_eq!(probe.status(), 400);
}

#[tokio::test]
async fn cache_keys_use_file_content_hashes() {
    let api = Api::new(fast()).await;
    let png = media::png(8, 8, [9, 9, 9]);
    let file: FileUploadResponse = api
        .http
        .post(api.url("/files"))
        .bearer_auth(KEY)
        .body(png)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let body = json!({"model": "nano-banana-pro/edit", "prompt": "make it blue",
                      "files": [{"url": file.url}], "provider_options": fast_opts(10)});
    let job = api.create("/image", body.clone()).await;
    api.wait(job["job_id"].as_str().unwrap()).await;
    assert_eq!(api.post("/image", body).await.headers()["x-cache"], "HIT");
    let other = json!({"model": "nano-banana-pro/edit", "prompt": "make it blue",
                       "files": [{"url": "https://example.com/other.png"}], "provider_options": fast_opts(10)});
    assert_eq!(api.post("/image", other).await.headers()["x-cache"], "MISS");
}
