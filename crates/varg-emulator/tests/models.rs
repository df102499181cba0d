//! Model checking on the generation endpoints, ids, and the address the emulator advertises.

mod common;

use common::{Api, fast, fast_opts};
use serde_json::{Value, json};
use varg_types::{ErrorBody, ErrorCode};

struct Refusal {
    body: ErrorBody,
    message: String,
}

async fn refused(api: &Api, path: &str, body: Value) -> Refusal {
    let resp = api.post(path, body).await;
    assert_eq!(resp.status(), 400, "{path}");
    let body: Value = resp.json().await.expect("error json");
    let body = ErrorBody::from_value(body).expect("error body");
    let message = body.message.clone().unwrap_or_default();
    Refusal { body, message }
}

#[tokio::test]
async fn unknown_models_are_refused_with_the_field_and_a_suggestion() {
    let api = Api::new(fast()).await;
    let typo = refused(
        &api,
        "/image",
        json!({"model": "flux-shnell", "prompt": "a"}),
    )
    .await;
    assert_eq!(typo.body.code, Some(ErrorCode::ValidationError));
    assert_eq!(typo.body.field.as_deref(), Some("model"));
    assert_eq!(
        typo.message,
        r#"model "flux-shnell" is not a known image model; did you mean "flux-schnell"?"#
    );
    let video_on_image = refused(&api, "/image", json!({"model": "kling-v3", "prompt": "a"})).await;
    assert!(
        video_on_image.message.contains("is a video model"),
        "{}",
        video_on_image.message
    );
    let image_on_speech =
        refused(&api, "/speech", json!({"model": "flux-pro", "text": "hi"})).await;
    assert!(
        image_on_speech.message.contains("is an image model"),
        "{}",
        image_on_speech.message
    );
    let unknown = refused(
        &api,
        "/video",
        json!({"model": "together:next-week-model", "prompt": "a"}),
    )
    .await;
    assert_eq!(
        unknown.message,
        r#"model "together:next-week-model" is not a known video model"#
    );
    refused(
        &api,
        "/music",
        json!({"model": "music_v2000", "prompt": "a"}),
    )
    .await;
    refused(
        &api,
        "/transcription",
        json!({"model": "eleven_v3", "audio_url": "https://example.com/a.mp3"}),
    )
    .await;
    assert_eq!(api.emu.jobs_created(), 0);
    // The bare part of a `provider:model` id is what is checked.
    api.create(
        "/image",
        json!({"model": "replicate:flux-pro", "prompt": "a", "provider_options": fast_opts(10)}),
    )
    .await;
}

#[tokio::test]
async fn accept_any_model_lets_brand_new_models_through() {
    let api = Api::new(fast().accept_any_model(true)).await;
    let job = api
        .create(
            "/image",
            json!({"model": "next-week-model", "prompt": "a", "provider_options": fast_opts(10)}),
        )
        .await;
    assert_eq!(job["model"], "fal:next-week-model");
    let done = api.wait(job["job_id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "completed");
}

#[tokio::test]
async fn job_ids_differ_between_runs_and_keep_their_shape() {
    let body = json!({"model": "flux-pro", "prompt": "same", "provider_options": fast_opts(10)});
    let first = Api::new(fast()).await.create("/image", body.clone()).await;
    let second = Api::new(fast()).await.create("/image", body).await;
    let (a, b) = (
        first["job_id"].as_str().unwrap(),
        second["job_id"].as_str().unwrap(),
    );
    assert_ne!(a, b);
    for id in [a, b] {
        let hex = id.strip_prefix("job_").expect("job_ prefix");
        assert_eq!(hex.len(), 12, "{id}");
        assert!(hex.bytes().all(|c| c.is_ascii_hexdigit()), "{id}");
    }
}

#[tokio::test]
async fn a_wildcard_bind_advertises_a_loopback_url_with_the_real_port() {
    let emu = fast()
        .addr("0.0.0.0:0".parse().unwrap())
        .start()
        .await
        .unwrap();
    let port = emu.addr().port();
    assert_ne!(port, 0);
    assert_eq!(emu.base_url(), format!("http://127.0.0.1:{port}/v1"));
    let http = common::client();
    let me = http
        .get(format!("{}/me", emu.base_url()))
        .bearer_auth(common::KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    if let Ok(v6) = fast().addr("[::]:0".parse().unwrap()).start().await {
        let port = v6.addr().port();
        assert_eq!(v6.base_url(), format!("http://[::1]:{port}/v1"));
    }
}

#[tokio::test]
async fn images_of_the_same_prompt_differ_by_their_job_id_label() {
    let api = Api::new(fast()).await;
    let body = json!({"model": "flux-pro", "prompt": "twins", "aspect_ratio": "1:1", "provider_options": fast_opts(10)});
    let mut images = Vec::new();
    for _ in 0..2 {
        let job = api
            .post_with("/image", body.clone(), &[("Cache-Control", "no-store")])
            .await;
        assert_eq!(job.status(), 202);
        let job: Value = job.json().await.unwrap();
        let done = api.wait(job["job_id"].as_str().unwrap()).await;
        images.push(api.download(done["output"]["url"].as_str().unwrap()).await);
    }
    assert_ne!(images[0], images[1]);
    let probe = varg_emulator::media::probe(&images[0]).unwrap();
    assert_eq!((probe.width, probe.height), (Some(1024), Some(1024)));
}
