//! Decodes the examples of the vendor's OpenAPI document (read from `../shared` beside the
//! repository when it is there; users have no such folder, so the test passes without it).

use std::path::PathBuf;

use serde_json::{Map, Value};
use varg_types::*;

fn spec() -> Option<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/varg-api/openapi-docs-v0.1.0.yaml");
    let text = std::fs::read_to_string(&path).ok()?;
    Some(serde_yaml_ng::from_str(&text).expect("the vendor spec is valid YAML"))
}

/// Builds an object from the `example` (or first of `examples`) of every property.
fn example_object(schema: &Value) -> Value {
    let mut object = Map::new();
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (name, prop) in props {
            let example = prop
                .get("example")
                .cloned()
                .or_else(|| prop.get("examples").and_then(|e| e.get(0)).cloned())
                .or_else(|| {
                    (prop.get("type") == Some(&Value::from("object"))).then(|| example_object(prop))
                });
            if let Some(example) = example {
                object.insert(name.clone(), example);
            }
        }
    }
    Value::Object(object)
}

fn decode_as(type_name: &str, value: Value) -> Result<(), String> {
    fn go<T: serde::de::DeserializeOwned>(value: Value) -> Result<(), String> {
        serde_json::from_value::<T>(value)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
    match type_name {
        "VideoRequest" => go::<VideoRequest>(value),
        "ImageRequest" => go::<ImageRequest>(value),
        "SpeechRequest" => go::<SpeechRequest>(value),
        "MusicRequest" => go::<MusicRequest>(value),
        "TranscriptionRequest" => go::<TranscriptionRequest>(value),
        "Job" => go::<Job>(value),
        "FileUploadResponse" => go::<FileUploadResponse>(value),
        "VoicesResponse" => go::<VoicesResponse>(value),
        "Balance" => go::<Balance>(value),
        "UsageResponse" => go::<UsageResponse>(value),
        "Me" => go::<Me>(value),
        "ErrorBody" => go::<ErrorBody>(value),
        other => Err(format!("no decoder for {other}")),
    }
}

fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.trim_start_matches('#');
            spec.pointer(pointer)
                .unwrap_or_else(|| panic!("dangling $ref {reference}"))
        }
        None => schema,
    }
}

#[test]
fn vendor_examples_decode_into_our_types() {
    let Some(spec) = spec() else {
        eprintln!("vendor spec not present; skipped");
        return;
    };
    let mut checked = 0;
    for endpoint in ENDPOINTS.iter() {
        let Some(item) = spec.pointer(&format!("/paths/{}", endpoint.path.replace('/', "~1")))
        else {
            assert_eq!(
                endpoint.source,
                endpoint::Source::NewerDocs,
                "{} missing from the spec",
                endpoint.path
            );
            continue;
        };
        let op = &item[endpoint.method.as_str().to_ascii_lowercase()];
        assert_eq!(
            op["operationId"], endpoint.operation_id,
            "{}",
            endpoint.path
        );
        if let (Some(schema), Some(type_name)) = (
            op.pointer("/requestBody/content/application~1json/schema"),
            endpoint.request_type,
        ) {
            let example = example_object(resolve(&spec, schema));
            decode_as(type_name, example.clone())
                .unwrap_or_else(|e| panic!("{type_name} from {example}: {e}"));
            checked += 1;
        }
        let status = endpoint.success_status.to_string();
        let response = resolve(&spec, &op["responses"][&status]);
        if let (Some(schema), Some(type_name)) = (
            response.pointer("/content/application~1json/schema"),
            endpoint.response_type,
        ) {
            let schema = resolve(&spec, schema);
            let example = response
                .pointer("/content/application~1json/example")
                .cloned()
                .unwrap_or_else(|| example_object(schema));
            decode_as(type_name, example.clone())
                .unwrap_or_else(|e| panic!("{type_name} from {example}: {e}"));
            checked += 1;
        }
    }
    for (name, response) in spec["components"]["responses"].as_object().unwrap() {
        let example = response
            .pointer("/content/application~1json/example")
            .unwrap()
            .clone();
        let body: ErrorBody =
            serde_json::from_value(example).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            body.code.as_ref().is_some_and(ErrorCode::is_known),
            "{name}"
        );
        checked += 1;
    }
    let job = example_object(&spec["components"]["schemas"]["JobResponse"]);
    let job: Job = serde_json::from_value(job).unwrap();
    assert_eq!(job.status, JobStatus::Completed);
    assert!(checked >= 20, "only {checked} examples checked");
}
