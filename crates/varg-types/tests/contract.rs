//! Every documented example decodes, re-encodes to equivalent JSON, and unknown values and
//! extra fields never break decoding.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use varg_types::*;

/// Decodes `value` into `T`, encodes it back and checks the result equals `value`.
fn round_trip<T: DeserializeOwned + Serialize>(value: Value) -> T {
    let decoded: T =
        serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("decode {value}: {e}"));
    let encoded = serde_json::to_value(&decoded).unwrap();
    assert_eq!(encoded, value, "re-encoding changed the JSON");
    decoded
}

#[test]
fn documented_request_examples_round_trip() {
    let video: VideoRequest = round_trip(json!({
        "model": "kling-v2.5",
        "prompt": "ocean waves crashing on a rocky beach at sunset",
        "duration": 5.0,
        "aspect_ratio": "16:9"
    }));
    assert_eq!(video.model, models::legacy::KLING_V2_5);

    let image: ImageRequest = round_trip(json!({
        "model": "flux-pro",
        "prompt": "a minimalist logo design, geometric shapes, blue and white gradient",
        "aspect_ratio": "1:1"
    }));
    assert_eq!(image.aspect_ratio, Some(AspectRatio::SQUARE));

    let edit: ImageRequest = round_trip(json!({
        "model": "nano-banana-pro/edit",
        "prompt": "make it night",
        "files": [{"url": "https://s3.varg.ai/u/user_xxx/abc123.jpg"}]
    }));
    assert!(edit.validate().is_ok());

    let speech: SpeechRequest = round_trip(json!({
        "model": "eleven_multilingual_v2",
        "text": "Welcome to varg.",
        "voice": "rachel",
        "provider_options": {"stability": 0.5, "similarity_boost": 0.75}
    }));
    assert!(speech.voice.as_ref().is_some_and(Voice::is_named));

    let music: MusicRequest = round_trip(json!({
        "model": "music_v1",
        "prompt": "upbeat electronic, 120 bpm",
        "duration": 30.0
    }));
    assert_eq!(music.duration, Some(30.0));

    let transcription: TranscriptionRequest = round_trip(json!({
        "model": "whisper",
        "audio_url": "https://s3.varg.ai/u/user_xxx/talk.mp3",
        "language": "en"
    }));
    assert!(transcription.validate().is_ok());

    let ffmpeg: FfmpegRequest = round_trip(json!({
        "command": "-i {{in_1}} -i {{in_2}} -filter_complex concat=n=2:v=1:a=1 {{out_1}}",
        "input_files": {"in_1": "https://s3.varg.ai/o/a.mp4", "in_2": "https://s3.varg.ai/o/b.mp4"},
        "output_files": {"out_1": "output.mp4"}
    }));
    assert!(ffmpeg.validate().is_ok());
    let folder: FfmpegRequest = round_trip(json!({
        "command": "-vf fps=1 {{out_1}}",
        "url": "https://s3.varg.ai/o/a.mp4",
        "output_files": "OUTPUT_FOLDER"
    }));
    assert_eq!(folder.output_files, Some(OutputFiles::OutputFolder));

    let trim: TrimRequest = round_trip(
        json!({"url": "https://s3.varg.ai/o/a.mp4", "start": 2.0, "end": 7.5, "precise": true}),
    );
    assert!(trim.validate().is_ok());
    let resize: ResizeRequest = round_trip(
        json!({"url": "https://s3.varg.ai/o/a.mp4", "width": 1080, "height": 1920, "fit": "contain"}),
    );
    assert_eq!(resize.fit, Some(ResizeFit::Contain));
    let slice: SliceRequest = round_trip(json!({
        "video_url": "https://s3.varg.ai/o/a.mp4",
        "at": [5.0, 15.0, 30.0],
        "codec": "reencode",
        "thumbnails": false
    }));
    assert!(slice.validate().is_ok());
    let probe: ProbeRequest = round_trip(json!({"url": "https://s3.varg.ai/o/a.mp4"}));
    assert!(probe.validate().is_ok());
}

#[test]
fn documented_job_examples_decode() {
    // The schema-generated placeholder every newer job page shows.
    let job: Job = round_trip(json!({
        "job_id": "job_a1b2c3d4",
        "status": "completed",
        "model": "fal:kling-v2.5",
        "created_at": "2026-02-13T10:00:00Z",
        "completed_at": "2026-02-13T10:02:30Z",
        "output": {"url": "https://s3.varg.ai/o/job_a1b2c3d4.mp4", "media_type": "video/mp4"},
        "cache": {"hit": false, "key": "sha256:abc123..."},
        "error": "Provider returned an error"
    }));
    assert!(job.is_terminal());
    assert_eq!(
        job.output_url(),
        Some("https://s3.varg.ai/o/job_a1b2c3d4.mp4")
    );
    let model = job.model_ref().unwrap();
    assert_eq!(
        (model.provider.as_deref(), model.model.as_str()),
        (Some("fal"), "kling-v2.5")
    );

    // A bare model and a short id, as the secondary reference shows.
    let bare: Job = round_trip(json!({
        "job_id": "abc123",
        "status": "processing",
        "model": "kling-v3",
        "created_at": "2026-02-13T10:00:00Z"
    }));
    assert_eq!(bare.model_ref().unwrap().provider, None);

    // The slice 202 example: no model, no created_at, and a pricing object.
    let slice: Job = round_trip(json!({
        "job_id": "job_slice1",
        "status": "queued",
        "cache": {"hit": false},
        "pricing": {"estimated": 5.0, "billing": "metered"}
    }));
    let pricing = slice.pricing.unwrap();
    assert_eq!(pricing.estimated, Some(5.0));
    assert_eq!(pricing.billing, Some(BillingType::Metered));
    assert_eq!(slice.model, None);

    // A completed slice job carries its segments in metadata.
    let done: Job = round_trip(json!({
        "job_id": "job_slice1",
        "status": "completed",
        "output": {"url": "https://s3.varg.ai/o/job_slice1/segment_1.mp4", "media_type": "video/mp4"},
        "metadata": {"segments": [
            {"url": "https://s3.varg.ai/o/job_slice1/segment_1.mp4", "start": 0.0, "end": 5.0,
             "first_frame": "https://s3.varg.ai/o/job_slice1/1.jpg", "thumbnail": "https://s3.varg.ai/o/job_slice1/1.webp",
             "index": 0}
        ]}
    }));
    let segments = done.metadata.unwrap().segments.unwrap();
    assert_eq!(segments[0].end, Some(5.0));
    assert_eq!(segments[0].extra["index"], json!(0));
}

#[test]
fn documented_account_examples_decode() {
    let upload: FileUploadResponse = round_trip(json!({
        "file_id": "file_abc123",
        "url": "https://s3.varg.ai/u/user_xxx/abc123.jpg",
        "hash": "sha256:abc123def456...",
        "size": 102400,
        "media_type": "image/jpeg",
        "deduplicated": false
    }));
    assert_eq!(upload.size, 102_400);

    let voices: VoicesResponse = round_trip(json!({"voices": [
        {"voice_id": "rachel", "name": "Rachel"}, {"voice_id": "domi", "name": "Domi"}
    ]}));
    assert_eq!(voices.voices.len(), 2);

    // The documented examples are integers, and stay integers when re-encoded.
    let balance: Balance = round_trip(json!({"balance_cents": 5000, "currency": "usd"}));
    assert_eq!(balance.balance_cents, Some(5000.0));
    let no_currency: Balance = round_trip(json!({"balance_cents": 10000}));
    assert_eq!(no_currency.currency, None);

    let me: Me = round_trip(json!({"userId": "user_abc123", "email": "dev@example.com"}));
    assert_eq!(me.user_id.as_deref(), Some("user_abc123"));

    let usage: UsageResponse = round_trip(json!({
        "usage": [{
            "job_id": "job_a1b2c3d4", "model": "fal:kling-v2.5", "capability": "video",
            "cost_cents": 25, "cache_hit": false, "created_at": "2026-02-13T10:00:00Z"
        }],
        "total_cents": 1250
    }));
    assert_eq!(usage.usage[0].capability, Some(Capability::Video));

    let probe: ProbeResponse = round_trip(json!({
        "duration": 12.5, "width": 1920, "height": 1080, "codec": "h264", "audio_codec": "aac",
        "format": "mov,mp4,m4a,3gp,3g2,mj2", "bitrate": 5200000.0, "fps": 30.0, "size_bytes": 8125000
    }));
    assert_eq!((probe.width, probe.height), (Some(1920), Some(1080)));
}

#[test]
fn documented_error_examples_decode() {
    let cases = [
        (
            json!({"error": "ValidationError", "message": "prompt is required", "field": "prompt", "statusCode": 400}),
            ErrorCode::ValidationError,
            400,
        ),
        (
            json!({"error": "AuthError", "message": "Invalid API key", "statusCode": 401}),
            ErrorCode::AuthError,
            401,
        ),
        (
            json!({"error": "InsufficientBalanceError", "message": "Insufficient balance.", "statusCode": 402}),
            ErrorCode::InsufficientBalanceError,
            402,
        ),
        (
            json!({"error": "NotFoundError", "message": "Job not found", "statusCode": 404}),
            ErrorCode::NotFoundError,
            404,
        ),
        (
            json!({"error": "RateLimitError", "message": "Rate limit exceeded. Retry after 60 seconds.", "statusCode": 429}),
            ErrorCode::RateLimitError,
            429,
        ),
        (
            json!({"error": "InternalError", "message": "An unexpected error occurred", "statusCode": 500}),
            ErrorCode::InternalError,
            500,
        ),
        (
            json!({"error": "ProviderError", "message": "Provider returned an error", "provider": "fal", "statusCode": 502}),
            ErrorCode::ProviderError,
            502,
        ),
    ];
    for (value, code, status) in cases {
        let body: ErrorBody = round_trip(value);
        assert_eq!(body.code.as_ref(), Some(&code));
        assert_eq!(body.status_code, Some(status));
        assert_eq!(code.documented_status(), Some(status));
    }
    // Nested envelope, with details.
    let nested: ErrorBody = serde_json::from_value(json!({
        "error": {"code": "invalid_request", "message": "bad duration", "details": {"field": "duration"}}
    }))
    .unwrap();
    assert_eq!(
        nested.code,
        Some(ErrorCode::Unknown("invalid_request".into()))
    );
    assert_eq!(nested.message.as_deref(), Some("bad duration"));
    assert_eq!(nested.details, Some(json!({"field": "duration"})));
    // Nested with only a message.
    let only_message: ErrorBody =
        serde_json::from_value(json!({"error": {"message": "Payload too large"}})).unwrap();
    assert_eq!(only_message.code, None);
    // A 413 with a message and no code.
    let too_large: ErrorBody =
        serde_json::from_value(json!({"message": "File too large (max 50MB)"})).unwrap();
    assert_eq!(too_large.code, None);
    // Not an error body at all.
    assert!(serde_json::from_value::<ErrorBody>(json!({"hello": "world"})).is_err());
    assert!(ErrorBody::from_value(json!("<html>")).is_none());
}

#[test]
fn unknown_values_and_extra_fields_decode() {
    let job: Job = serde_json::from_value(json!({
        "job_id": "job_1",
        "status": "submitting",
        "model": "together:new-model",
        "created_at": "2026-07-01T00:00:00Z",
        "cache": {"hit": "true", "key": "sha256:x", "ttl": 60},
        "output": {"url": "https://s3.varg.ai/o/x.png", "media_type": "image/png", "width": 1024},
        "pricing": {"estimated": "7", "billing": "prepaid"},
        "error": {"message": "structured error"},
        "progress": 0.4,
        "webhook": {"url": "https://example.com"}
    }))
    .unwrap();
    assert_eq!(job.status, JobStatus::Unknown("submitting".into()));
    assert!(!job.status.is_terminal());
    assert!(job.cache_hit());
    assert_eq!(job.output.as_ref().unwrap().extra["width"], json!(1024));
    assert_eq!(
        job.pricing.as_ref().unwrap().billing,
        Some(BillingType::Unknown("prepaid".into()))
    );
    assert_eq!(job.pricing.as_ref().unwrap().estimated, Some(7.0));
    assert_eq!(job.error.as_deref(), Some("structured error"));
    assert_eq!(job.extra["progress"], json!(0.4));
    // Unknown values re-encode verbatim.
    let again = serde_json::to_value(&job).unwrap();
    assert_eq!(again["status"], "submitting");
    assert_eq!(again["progress"], json!(0.4));

    let record: UsageRecord =
        serde_json::from_value(json!({"capability": "ffmpeg", "cost_cents": 5})).unwrap();
    assert_eq!(
        record.capability,
        Some(Capability::Unknown("ffmpeg".into()))
    );

    let voice: VoicesResponse =
        serde_json::from_value(json!({"voices": [{"voice_id": "x", "name": "X", "preview_url": "https://p"}], "next": null}))
            .unwrap();
    assert_eq!(voice.voices[0].extra["preview_url"], "https://p");

    let fit: ResizeFit = serde_json::from_value(json!("fill")).unwrap();
    assert_eq!(fit, ResizeFit::Unknown("fill".into()));
}

#[test]
fn none_fields_are_omitted() {
    let body = serde_json::to_value(ImageRequest::new("flux-schnell", "cat")).unwrap();
    assert_eq!(body, json!({"model": "flux-schnell", "prompt": "cat"}));
    let body = serde_json::to_value(SliceRequest::new("https://a.b/c.mp4").count(3)).unwrap();
    assert_eq!(body, json!({"video_url": "https://a.b/c.mp4", "count": 3}));
    let body = serde_json::to_value(Job::new("job_1", JobStatus::Queued)).unwrap();
    assert_eq!(body, json!({"job_id": "job_1", "status": "queued"}));
}

#[test]
fn every_open_enum_round_trips_its_known_values() {
    fn check<T>(known: &[&str])
    where
        T: DeserializeOwned + Serialize + std::fmt::Debug,
    {
        for value in known {
            let decoded: T = serde_json::from_value(json!(value)).unwrap();
            assert_eq!(serde_json::to_value(&decoded).unwrap(), json!(value));
            assert!(
                !format!("{decoded:?}").starts_with("Unknown"),
                "{value} decoded as unknown"
            );
        }
    }
    check::<JobStatus>(JobStatus::KNOWN);
    check::<Capability>(Capability::KNOWN);
    check::<ErrorCode>(ErrorCode::KNOWN);
    check::<BillingType>(BillingType::KNOWN);
    check::<ResizeFit>(ResizeFit::KNOWN);
    check::<SliceCodec>(SliceCodec::KNOWN);
    assert_eq!(
        JobStatus::KNOWN,
        ["queued", "processing", "completed", "failed", "cancelled"]
    );
}
