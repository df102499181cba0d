//! Tests of the schema export: coverage of the endpoint table, determinism,
//! the committed `schemas/` folder, and that our schemas accept what our
//! types produce.

use std::path::Path;

use serde_json::{Value, json};
use varg_types::ENDPOINTS;
use xtask::export::{TYPES, exported_type, files, openapi, stale, type_schema};

#[test]
fn every_type_of_the_endpoint_table_is_exported() {
    for endpoint in ENDPOINTS.iter() {
        for name in [endpoint.request_type, endpoint.response_type]
            .into_iter()
            .flatten()
        {
            assert!(exported_type(name).is_some(), "{name} is not exported");
        }
    }
}

#[test]
fn openapi_has_every_endpoint_with_its_success_status() {
    let doc = openapi().unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for endpoint in ENDPOINTS.iter() {
        let method = endpoint.method.as_str().to_ascii_lowercase();
        let op = &doc["paths"][endpoint.path][&method];
        assert_eq!(op["operationId"], endpoint.operation_id);
        assert!(
            op["responses"]
                .get(endpoint.success_status.to_string())
                .is_some(),
            "{} {}",
            method,
            endpoint.path
        );
    }
    // Every $ref points at a component.
    let text = doc.to_string();
    for piece in text.split("\"$ref\":\"").skip(1) {
        let target = piece.split('"').next().unwrap();
        let pointer = target.strip_prefix('#').unwrap();
        assert!(doc.pointer(pointer).is_some(), "dangling {target}");
    }
}

#[test]
fn export_is_deterministic() {
    assert_eq!(files().unwrap(), files().unwrap());
    for text in files().unwrap().values() {
        assert!(text.ends_with("}\n"));
    }
}

#[test]
fn committed_schemas_are_up_to_date() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas");
    let problems = stale(&dir).unwrap();
    assert!(
        problems.is_empty(),
        "run `cargo xtask schema`: {problems:?}"
    );
}

#[test]
fn type_schemas_are_draft_2020_12_and_compile() {
    for t in TYPES {
        let schema = type_schema(t);
        assert_eq!(
            schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
            "{}",
            t.name
        );
        jsonschema::draft202012::new(&schema).unwrap();
    }
}

fn validates(name: &str, instance: &Value) -> bool {
    let schema = type_schema(exported_type(name).unwrap());
    jsonschema::draft202012::new(&schema)
        .unwrap()
        .is_valid(instance)
}

#[test]
fn our_values_validate_against_our_schemas() {
    let request = varg_types::ImageRequest::new(varg_types::models::image::FLUX_PRO, "a cat");
    assert!(validates(
        "ImageRequest",
        &serde_json::to_value(&request).unwrap()
    ));
    let job =
        json!({"job_id": "job_1", "status": "rendering", "output": {"url": "https://x/y.mp4"}});
    assert!(validates("Job", &job));
    assert!(exported_type("Job").unwrap().decode(&job).is_ok());
    assert!(!validates("Job", &json!({"status": "queued"})));
    let speech = json!({"model": "eleven_v3", "text": "hi", "voice": "some-elevenlabs-id"});
    assert!(validates("SpeechRequest", &speech));
}
