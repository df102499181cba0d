//! One test per validation rule, hostile path parameters, the catalogue, and property-based
//! round trips.

use proptest::prelude::*;
use serde_json::json;
use varg_types::model::{CATALOGUE, by_kind, lookup};
use varg_types::*;

const URL: &str = "https://s3.varg.ai/u/user_1/in.png";

fn fails(result: Result<(), ValidationError>, field: &str, rule: Rule) {
    let err = result.expect_err("expected a validation error");
    assert_eq!((err.field.as_str(), err.rule), (field, rule), "{err}");
    assert!(err.to_string().starts_with(field), "{err}");
}

#[test]
fn rule_not_empty() {
    fails(
        ImageRequest::new(models::image::FLUX_PRO, "  ").validate(),
        "prompt",
        Rule::NotEmpty,
    );
    fails(
        VideoRequest::new(models::video::KLING_V3, "").validate(),
        "prompt",
        Rule::NotEmpty,
    );
    fails(
        SpeechRequest::new(models::speech::ELEVEN_V3, "").validate(),
        "text",
        Rule::NotEmpty,
    );
    fails(
        MusicRequest::new(models::music::MUSIC_V1, "").validate(),
        "prompt",
        Rule::NotEmpty,
    );
    fails(
        ImageRequest::new("", "cat").validate(),
        "model",
        Rule::NotEmpty,
    );
    fails(FfmpegRequest::new("").validate(), "command", Rule::NotEmpty);
    // Upscale and lipsync models may have an empty prompt.
    assert!(
        ImageRequest::new(models::image_upscale::TOPAZ, "")
            .file(URL)
            .validate()
            .is_ok()
    );
    assert!(
        VideoRequest::new(models::lipsync::SYNC_V2, "")
            .files([URL, "https://x.y/a.mp3"])
            .validate()
            .is_ok()
    );
    assert!(
        VideoRequest::new(models::video_upscale::TOPAZ_VIDEO, "")
            .file(URL)
            .validate()
            .is_ok()
    );
}

#[test]
fn rule_http_url() {
    fails(
        ImageRequest::new(models::image::FLUX_PRO, "cat")
            .file("photo.png")
            .validate(),
        "files[0].url",
        Rule::HttpUrl,
    );
    fails(
        TranscriptionRequest::new(models::transcription::WHISPER, "file:///a.mp3").validate(),
        "audio_url",
        Rule::HttpUrl,
    );
    fails(
        TrimRequest::new("ftp://a/b.mp4", 0.0).validate(),
        "url",
        Rule::HttpUrl,
    );
    fails(
        SliceRequest::new("nope").count(2).validate(),
        "video_url",
        Rule::HttpUrl,
    );
    fails(
        ProbeRequest::new("https://").validate(),
        "url",
        Rule::HttpUrl,
    );
    fails(
        FfmpegRequest::new("-vf x")
            .input_file("in_1", "relative.mp4")
            .validate(),
        "input_files.in_1",
        Rule::HttpUrl,
    );
}

#[test]
fn rule_aspect_ratio_format() {
    fails(
        ImageRequest::new(models::image::FLUX_PRO, "cat")
            .aspect_ratio("wide")
            .validate(),
        "aspect_ratio",
        Rule::AspectRatioFormat,
    );
    fails(
        VideoRequest::new(models::video::SORA_2, "cat")
            .aspect_ratio("16:0")
            .validate(),
        "aspect_ratio",
        Rule::AspectRatioFormat,
    );
    assert!(
        ImageRequest::new(models::image::FLUX_PRO, "cat")
            .aspect_ratio("21:9")
            .validate()
            .is_ok()
    );
}

#[test]
fn rule_duration_per_model_family() {
    let video = |model: ModelId, d: f64| VideoRequest::new(model, "waves").duration(d).validate();
    // kling-v3: whole seconds 3..=15.
    assert!(video(models::video::KLING_V3, 3.0).is_ok());
    assert!(video(models::video::KLING_V3, 15.0).is_ok());
    fails(
        video(models::video::KLING_V3, 2.0),
        "duration",
        Rule::Duration,
    );
    fails(
        video(models::video::KLING_V3, 5.5),
        "duration",
        Rule::Duration,
    );
    fails(
        video(models::video::KLING_V3_STANDARD, 16.0),
        "duration",
        Rule::Duration,
    );
    // kling-v2.5 / 2.1 / 2: 5 or 10.
    assert!(video(models::legacy::KLING_V2_1, 10.0).is_ok());
    fails(
        video(models::legacy::KLING_V2_5, 7.0),
        "duration",
        Rule::Duration,
    );
    // Seedance: 5, 10 or 15.
    assert!(video(models::video::SEEDANCE_2_PREVIEW, 15.0).is_ok());
    fails(
        video(models::video::SEEDANCE_2_FAST_PREVIEW, 12.0),
        "duration",
        Rule::Duration,
    );
    // Any model: positive and finite.
    fails(
        video(ModelId::new("future-model"), -1.0),
        "duration",
        Rule::Range,
    );
    fails(
        video(ModelId::new("future-model"), f64::NAN),
        "duration",
        Rule::Range,
    );
    assert!(video(ModelId::new("future-model"), 7.3).is_ok());
    fails(
        MusicRequest::new(models::music::MUSIC_V1, "jazz")
            .duration(0.0)
            .validate(),
        "duration",
        Rule::Range,
    );
}

#[test]
fn rule_file_count() {
    fails(
        ImageRequest::new(models::image_edit::QWEN_ANGLES, "left").validate(),
        "files",
        Rule::FileCount,
    );
    fails(
        ImageRequest::new(models::image_upscale::SEEDVR, "")
            .files([URL, URL])
            .validate(),
        "files",
        Rule::FileCount,
    );
    fails(
        VideoRequest::new(models::lipsync::SYNC_V2_PRO, "")
            .file(URL)
            .validate(),
        "files",
        Rule::FileCount,
    );
    fails(
        VideoRequest::new(models::video_edit::SORA_2_REMIX, "more rain").validate(),
        "files",
        Rule::FileCount,
    );
    fails(
        VideoRequest::new(models::video::KLING_V3, "go")
            .files([URL, URL, URL])
            .validate(),
        "files",
        Rule::FileCount,
    );
    assert!(
        VideoRequest::new(models::video::KLING_V3, "go")
            .files([URL, URL])
            .validate()
            .is_ok()
    );
    // Unknown models have no file rule.
    assert!(
        ImageRequest::new("next-week-model", "x")
            .files([URL, URL, URL])
            .validate()
            .is_ok()
    );
}

#[test]
fn rule_range_and_combinations() {
    fails(TrimRequest::new(URL, -1.0).validate(), "start", Rule::Range);
    fails(
        TrimRequest::new(URL, 1.0).end(3.0).duration(2.0).validate(),
        "duration",
        Rule::MutuallyExclusive,
    );
    fails(
        ResizeRequest::new(URL).validate(),
        "width",
        Rule::AtLeastOne,
    );
    fails(
        ResizeRequest::new(URL).width(0).validate(),
        "width",
        Rule::Range,
    );
    assert!(ResizeRequest::new(URL).height(1920).validate().is_ok());
    fails(
        SliceRequest::new(URL).every(0.05).validate(),
        "every",
        Rule::Range,
    );
    fails(
        SliceRequest::new(URL).count(1).validate(),
        "count",
        Rule::Range,
    );
    fails(
        SliceRequest::new(URL).count(1001).validate(),
        "count",
        Rule::Range,
    );
    fails(
        SliceRequest::new(URL).at(vec![1.0, -2.0]).validate(),
        "at[1]",
        Rule::Range,
    );
    fails(SliceRequest::new(URL).validate(), "every", Rule::AtLeastOne);
    fails(
        FfmpegRequest::new("-vf scale=2:2")
            .url(URL)
            .input_file("in_1", URL)
            .validate(),
        "url",
        Rule::MutuallyExclusive,
    );
}

#[test]
fn rule_upload_size_and_dates() {
    assert!(validate_upload_size(0).is_ok());
    let err = validate_upload_size(MAX_UPLOAD_BYTES + 1).unwrap_err();
    assert_eq!(err.rule, Rule::MaxUploadSize);
    assert!(err.message.contains("52428801"), "{err}");
    fails(
        UsageQuery::new().from("2026-13-01").validate(),
        "from",
        Rule::DateFormat,
    );
    fails(
        UsageQuery::new().to("2026-02-30").validate(),
        "to",
        Rule::DateFormat,
    );
    fails(
        UsageQuery::new()
            .from("2026-02-01")
            .to("2026-01-01")
            .validate(),
        "to",
        Rule::Range,
    );
    assert!(
        UsageQuery::new()
            .from("2024-02-29")
            .to("2026-01-31")
            .validate()
            .is_ok()
    );
}

#[test]
fn hostile_path_parameters_stay_in_their_segment() {
    let get = EndpointId::GetJob.endpoint();
    for (id, expected) in [
        ("../balance", "/jobs/%2E%2E%2Fbalance"),
        ("..", "/jobs/%2E%2E"),
        (".", "/jobs/%2E"),
        ("job?x=1#f", "/jobs/job%3Fx%3D1%23f"),
        ("a/b/c", "/jobs/a%2Fb%2Fc"),
        ("%2e%2e", "/jobs/%252e%252e"),
        ("job 1\n", "/jobs/job%201%0A"),
        ("ジョブ", "/jobs/%E3%82%B8%E3%83%A7%E3%83%96"),
    ] {
        assert_eq!(get.path_with(&[("job_id", id)]).unwrap(), expected);
    }
    assert_eq!(get.path_with(&[]), Err(PathError::Missing("job_id")));
    assert_eq!(
        get.path_with(&[("job_id", "")]),
        Err(PathError::Empty("job_id"))
    );
    assert!(matches!(
        get.path_with(&[("job_id", "a"), ("x", "b")]),
        Err(PathError::Unexpected(_))
    ));
    assert_eq!(EndpointId::GetMe.endpoint().static_path(), Some("/me"));
}

#[test]
fn endpoint_table_covers_the_v1_api() {
    assert_eq!(ENDPOINTS.len(), 18);
    let creates: Vec<_> = ENDPOINTS
        .iter()
        .filter(|e| e.creates_job)
        .map(|e| e.path)
        .collect();
    assert_eq!(
        creates,
        [
            "/video",
            "/image",
            "/speech",
            "/music",
            "/transcription",
            "/ffmpeg",
            "/ffmpeg/trim",
            "/ffmpeg/resize",
            "/ffmpeg/slice"
        ]
    );
    for e in ENDPOINTS.iter() {
        let expected = match (e.method, e.path) {
            (Method::Delete, _) => 204,
            (Method::Get, _) | (_, "/files") | (_, "/ffmpeg/probe") => 200,
            _ => 202,
        };
        assert_eq!(e.success_status, expected, "{}", e.path);
    }
    let mut ops: Vec<_> = ENDPOINTS.iter().map(|e| e.operation_id).collect();
    ops.sort_unstable();
    ops.dedup();
    assert_eq!(ops.len(), 18, "operation ids are unique");
}

#[test]
fn catalogue_is_complete_and_consistent() {
    let count = |kind| by_kind(kind).count();
    assert_eq!(count(ModelKind::TextToImage), 8);
    assert_eq!(count(ModelKind::ImageEdit), 8);
    assert_eq!(count(ModelKind::ImageUpscale), 6);
    assert_eq!(count(ModelKind::Video), 12);
    assert_eq!(count(ModelKind::VideoEdit), 2);
    assert_eq!(count(ModelKind::MotionControl), 1);
    assert_eq!(count(ModelKind::Lipsync), 5);
    assert_eq!(count(ModelKind::VideoUpscale), 4);
    assert_eq!(count(ModelKind::LegacyVideo), 4);
    assert_eq!(count(ModelKind::Speech), 7);
    assert_eq!(count(ModelKind::Music), 1);
    assert_eq!(count(ModelKind::Transcription), 5);
    for (i, a) in CATALOGUE.iter().enumerate() {
        for b in &CATALOGUE[i + 1..] {
            assert!(
                !(a.id == b.id && a.capability() == b.capability()),
                "{} listed twice",
                a.id
            );
        }
        if let Some((lo, hi)) = a.credits {
            assert!(lo <= hi, "{}", a.id);
        }
    }
    assert_eq!(
        lookup(&Capability::Image, "soul").unwrap().kind,
        ModelKind::TextToImage
    );
    assert_eq!(
        lookup(&Capability::Video, "higgsfield:soul").unwrap().kind,
        ModelKind::Video
    );
    assert_eq!(
        ModelId::new("fal:kling-v3")
            .info(&Capability::Video)
            .unwrap()
            .id,
        models::video::KLING_V3
    );
}

#[test]
fn model_refs_parse_both_forms() {
    for (input, provider, model) in [
        ("fal:kling-v2.5", Some("fal"), "kling-v2.5"),
        ("kling-v3", None, "kling-v3"),
        ("elevenlabs:eleven_v3", Some("elevenlabs"), "eleven_v3"),
        (":odd", None, ":odd"),
        ("fal:", None, "fal:"),
        ("https://x", None, "https://x"),
    ] {
        let parsed = ModelRef::parse(input);
        assert_eq!(
            (parsed.provider.as_deref(), parsed.model.as_str()),
            (provider, model),
            "{input}"
        );
    }
}

fn any_json_string() -> impl Strategy<Value = String> {
    prop_oneof![".{0,24}", "[a-z_]{1,12}", Just(String::new())]
}

proptest! {
    #[test]
    fn job_round_trips(
        id in "[a-zA-Z0-9_]{1,20}",
        status in prop_oneof![Just("queued".to_string()), Just("completed".to_string()), "[a-z]{1,10}"],
        model in proptest::option::of(any_json_string()),
        error in proptest::option::of(any_json_string()),
        hit in any::<bool>(),
        extra_value in any::<i64>(),
    ) {
        let mut value = json!({"job_id": id, "status": status, "cache": {"hit": hit}, "x_extra": extra_value});
        if let Some(model) = &model { value["model"] = json!(model); }
        if let Some(error) = &error { value["error"] = json!(error); }
        let job: Job = serde_json::from_value(value.clone()).unwrap();
        prop_assert_eq!(serde_json::to_value(&job).unwrap(), value);
        let again: Job = serde_json::from_str(&serde_json::to_string(&job).unwrap()).unwrap();
        prop_assert_eq!(again, job);
    }

    #[test]
    fn image_requests_round_trip(
        model in any_json_string(),
        prompt in any_json_string(),
        ratio in proptest::option::of("[0-9]{1,2}:[0-9]{1,2}"),
        files in proptest::option::of(proptest::collection::vec("https://[a-z]{1,8}\\.ai/[a-z]{1,8}", 0..4)),
        seed in proptest::option::of(any::<u32>()),
    ) {
        let mut request = ImageRequest::new(model, prompt);
        if let Some(ratio) = ratio { request = request.aspect_ratio(ratio); }
        if let Some(files) = files { request = request.files(files); }
        if let Some(seed) = seed { request = request.provider_option("seed", seed); }
        let text = serde_json::to_string(&request).unwrap();
        let back: ImageRequest = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(back, request);
    }

    #[test]
    fn video_requests_round_trip(duration in proptest::option::of(0.1f64..100.0), prompt in any_json_string()) {
        let mut request = VideoRequest::new(models::video::KLING_V3, prompt);
        if let Some(d) = duration { request = request.duration(d); }
        let back: VideoRequest = serde_json::from_str(&serde_json::to_string(&request).unwrap()).unwrap();
        prop_assert_eq!(back, request);
    }

    #[test]
    fn error_bodies_round_trip(code in "[A-Za-z]{1,16}", message in any_json_string(), status in 400u16..600) {
        let body = ErrorBody::new(ErrorCode::from_wire(&code), message).with_status(status);
        let back: ErrorBody = serde_json::from_str(&serde_json::to_string(&body).unwrap()).unwrap();
        prop_assert_eq!(back, body);
    }

    #[test]
    fn path_segments_never_escape(id in ".{1,40}") {
        let path = EndpointId::GetJob.endpoint().path_with(&[("job_id", &id)]).unwrap();
        let rest = path.strip_prefix("/jobs/").unwrap();
        prop_assert!(!rest.contains('/') && !rest.contains('?') && !rest.contains('#'));
        prop_assert!(rest != "." && rest != "..");
        let decoded = percent_decode(rest);
        prop_assert_eq!(decoded, id);
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}
