//! Tests of the drift checker on small specs built in code: the base pair
//! passes, and each mutation of the documented spec fails with a finding
//! that names the change.

use serde_json::{Value, json};
use xtask::allowlist::Allowlist;
use xtask::drift::{FindingKind, NoDecoder, Report, check};

/// A small documented spec in the shape of the vendor's (written here, not
/// copied): a generation endpoint, job get/cancel, usage with query
/// parameters, and shared components.
fn documented() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {"title": "doc", "version": "0"},
        "paths": {
            "/video": {"post": {
                "operationId": "createVideo",
                "requestBody": {"required": true, "content": {"application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["model", "prompt"],
                        "properties": {
                            "model": {"type": "string", "examples": ["m-1", "m-2"]},
                            "prompt": {"type": "string", "example": "waves"},
                            "duration": {"type": "number", "example": 5},
                            "files": {"type": "array", "items": {
                                "type": "object", "required": ["url"],
                                "properties": {"url": {"type": "string", "format": "uri"}}
                            }},
                            "provider_options": {"type": "object", "additionalProperties": true}
                        }
                    },
                    "examples": {"basic": {"value": {"model": "m-1", "prompt": "cat", "duration": 5}}}
                }}},
                "responses": {
                    "202": {"description": "created", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/JobResponse"}}}},
                    "400": {"$ref": "#/components/responses/Bad"}
                }
            }},
            "/jobs/{job_id}": {
                "get": {
                    "operationId": "getJob",
                    "parameters": [{"name": "job_id", "in": "path", "required": true,
                                    "schema": {"type": "string"}, "example": "job_1"}],
                    "responses": {"200": {"description": "job", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/JobResponse"},
                        "example": {"job_id": "job_1", "status": "queued", "model": "x:m",
                                    "created_at": "2026-01-01T00:00:00Z"}
                    }}}}
                },
                "delete": {
                    "operationId": "cancelJob",
                    "parameters": [{"name": "job_id", "in": "path", "required": true,
                                    "schema": {"type": "string"}}],
                    "responses": {"204": {"description": "cancelled"}}
                }
            },
            "/usage": {"get": {
                "operationId": "getUsage",
                "parameters": [
                    {"name": "from", "in": "query", "required": false,
                     "schema": {"type": "string", "format": "date"}},
                    {"name": "to", "in": "query", "required": false,
                     "schema": {"type": "string", "format": "date"}}
                ],
                "responses": {"200": {"description": "usage", "content": {"application/json": {
                    "schema": {"type": "object", "properties": {
                        "usage": {"type": "array", "items": {"$ref": "#/components/schemas/UsageRecord"}},
                        "total_cents": {"type": "number"}
                    }}
                }}}}
            }}
        },
        "components": {
            "schemas": {
                "JobResponse": {
                    "type": "object",
                    "required": ["job_id", "status", "model", "created_at"],
                    "properties": {
                        "job_id": {"type": "string", "example": "job_1"},
                        "status": {"type": "string",
                                   "enum": ["queued", "processing", "completed", "failed", "cancelled"]},
                        "model": {"type": "string"},
                        "created_at": {"type": "string", "format": "date-time"},
                        "output": {"type": "object", "properties": {
                            "url": {"type": "string", "format": "uri"},
                            "media_type": {"type": "string"}
                        }},
                        "error": {"type": "string"}
                    }
                },
                "UsageRecord": {
                    "type": "object",
                    "properties": {
                        "job_id": {"type": "string"},
                        "capability": {"type": "string", "enum": ["video", "image"]},
                        "cost_cents": {"type": "number"}
                    }
                },
                "ErrorResponse": {
                    "type": "object", "required": ["error", "message"],
                    "properties": {"error": {"type": "string"}, "message": {"type": "string"}}
                }
            },
            "responses": {
                "Bad": {"description": "bad", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/ErrorResponse"},
                    "example": {"error": "ValidationError", "message": "prompt is required"}
                }}}
            }
        }
    })
}

/// Ours, in the shape our generator emits: open enums, optional fields as
/// nullable, a looser job (model and created_at optional), one extra
/// endpoint, one extra property and one extra known enum value.
fn ours() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {"title": "ours", "version": "0"},
        "paths": {
            "/video": {"post": {
                "operationId": "createVideo",
                "requestBody": {"required": true, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/VideoRequest"}}}},
                "responses": {
                    "202": {"description": "created", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Job"}}}},
                    "default": {"description": "error", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
                }
            }},
            "/jobs/{job_id}": {
                "get": {
                    "operationId": "getJob",
                    "parameters": [{"name": "job_id", "in": "path", "required": true,
                                    "schema": {"type": "string"}}],
                    "responses": {"200": {"description": "job", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Job"}}}}}
                },
                "delete": {
                    "operationId": "cancelJob",
                    "parameters": [{"name": "job_id", "in": "path", "required": true,
                                    "schema": {"type": "string"}}],
                    "responses": {"204": {"description": "cancelled"}}
                }
            },
            "/usage": {"get": {
                "operationId": "getUsage",
                "parameters": [
                    {"name": "from", "in": "query", "required": false,
                     "schema": {"type": ["string", "null"], "format": "date"}},
                    {"name": "to", "in": "query", "required": false,
                     "schema": {"type": ["string", "null"], "format": "date"}}
                ],
                "responses": {"200": {"description": "usage", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/UsageResponse"}}}}}
            }},
            "/ffmpeg/trim": {"post": {
                "operationId": "trimVideo",
                "responses": {"202": {"description": "created", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Job"}}}}}
            }}
        },
        "components": {"schemas": {
            "VideoRequest": {
                "type": "object",
                "required": ["model", "prompt"],
                "properties": {
                    "model": {"type": "string"},
                    "prompt": {"type": "string"},
                    "duration": {"type": ["integer", "null"], "format": "uint32", "minimum": 0},
                    "files": {"type": ["array", "null"], "items": {"$ref": "#/components/schemas/FileRef"}},
                    "provider_options": {"type": ["object", "null"], "additionalProperties": true}
                }
            },
            "FileRef": {
                "type": "object", "required": ["url"],
                "properties": {"url": {"type": "string", "format": "uri"}}
            },
            "Job": {
                "type": "object",
                "required": ["job_id", "status"],
                "properties": {
                    "job_id": {"type": "string"},
                    "status": {"$ref": "#/components/schemas/JobStatus"},
                    "model": {"type": ["string", "null"]},
                    "created_at": {"type": ["string", "null"], "format": "date-time"},
                    "output": {"anyOf": [{"$ref": "#/components/schemas/JobOutput"}, {"type": "null"}]},
                    "error": {"type": ["string", "null"]},
                    "pricing": {"type": ["object", "null"]}
                }
            },
            "JobOutput": {
                "type": "object",
                "properties": {"url": {"type": ["string", "null"], "format": "uri"},
                               "media_type": {"type": ["string", "null"]}}
            },
            "JobStatus": {"anyOf": [
                {"type": "string", "enum": ["queued", "processing", "completed", "failed", "cancelled"]},
                {"type": "string"}
            ]},
            "UsageResponse": {
                "type": "object",
                "properties": {
                    "usage": {"type": "array", "items": {"$ref": "#/components/schemas/UsageRecord"}},
                    "total_cents": {"type": ["number", "null"]}
                }
            },
            "UsageRecord": {
                "type": "object",
                "properties": {
                    "job_id": {"type": ["string", "null"]},
                    "capability": {"anyOf": [{"$ref": "#/components/schemas/Capability"}, {"type": "null"}]},
                    "cost_cents": {"type": ["number", "null"]}
                }
            },
            "Capability": {"anyOf": [
                {"enum": ["video", "image", "ffmpeg"]},
                {"type": "string"}
            ]},
            "ErrorBody": {
                "type": "object", "required": ["message"],
                "properties": {"error": {"type": ["string", "null"]}, "message": {"type": "string"},
                               "field": {"type": ["string", "null"]}}
            }
        }}
    })
}

fn allowlist() -> Allowlist {
    Allowlist::parse(
        r#"
entries:
  - kind: extra-endpoint
    at: POST /ffmpeg/trim
    source: "[N]"
    note: media processing
  - kind: extra-property
    at: Job.pricing
    source: "[N]"
    note: slice example
  - kind: extra-property
    at: ErrorBody.field
    source: "[O]"
    note: error field
  - kind: extra-enum-value
    at: Capability
    values: [ffmpeg]
    source: "[D]"
    note: media jobs are billed
"#,
    )
    .unwrap()
}

fn run(doc: &Value, ours: &Value) -> Report {
    check(doc, ours, &allowlist(), &NoDecoder)
}

fn assert_fails(report: &Report, kind: FindingKind, needle: &str) {
    assert!(!report.is_clean(), "expected drift:\n{}", report.render());
    assert!(
        report.has_drift(kind, needle),
        "expected [{kind}] naming {needle:?}:\n{}",
        report.render()
    );
    assert!(report.render().contains(needle));
}

#[test]
fn base_pair_passes_with_the_allowlist() {
    let report = run(&documented(), &ours());
    assert!(report.is_clean(), "{}", report.render());
    assert_eq!(report.documented_endpoints, 4);
    assert_eq!(report.allowed.len(), 4);
    assert!(report.examples_checked >= 6, "{}", report.examples_checked);
    assert!(report.render().contains("Result: OK"));
}

#[test]
fn extras_without_allowlist_are_drift() {
    let report = check(&documented(), &ours(), &Allowlist::default(), &NoDecoder);
    assert_fails(&report, FindingKind::ExtraEndpoint, "POST /ffmpeg/trim");
    assert_fails(&report, FindingKind::ExtraProperty, "Job.pricing");
    assert_fails(&report, FindingKind::ExtraEnumValue, "ffmpeg");
    assert!(report.render().contains("Result: DRIFT"));
}

#[test]
fn renamed_property_is_drift() {
    let mut doc = documented();
    let props = doc["components"]["schemas"]["JobResponse"]["properties"]
        .as_object_mut()
        .unwrap();
    let error = props.remove("error").unwrap();
    props.insert("error_message".into(), error);
    let report = run(&doc, &ours());
    assert_fails(&report, FindingKind::MissingProperty, "Job.error_message");
    assert_fails(&report, FindingKind::ExtraProperty, "Job.error");
}

#[test]
fn new_required_property_in_the_job_is_drift() {
    let mut doc = documented();
    let job = &mut doc["components"]["schemas"]["JobResponse"];
    job["properties"]["progress"] = json!({"type": "number"});
    job["required"]
        .as_array_mut()
        .unwrap()
        .push(json!("progress"));
    let report = run(&doc, &ours());
    assert_fails(&report, FindingKind::MissingProperty, "progress");
    assert!(report.render().contains("required property `progress`"));
}

#[test]
fn new_required_request_property_is_drift() {
    let mut doc = documented();
    let schema =
        &mut doc["paths"]["/video"]["post"]["requestBody"]["content"]["application/json"]["schema"];
    schema["properties"]["seed"] = json!({"type": "integer"});
    schema["required"]
        .as_array_mut()
        .unwrap()
        .push(json!("seed"));
    let report = run(&doc, &ours());
    assert_fails(&report, FindingKind::MissingProperty, "VideoRequest.seed");
}

#[test]
fn added_job_status_is_drift() {
    let mut doc = documented();
    doc["components"]["schemas"]["JobResponse"]["properties"]["status"]["enum"]
        .as_array_mut()
        .unwrap()
        .push(json!("paused"));
    let report = run(&doc, &ours());
    assert_fails(&report, FindingKind::UnknownEnumValue, "paused");
}

#[test]
fn removed_enum_value_is_drift() {
    let mut doc = documented();
    doc["components"]["schemas"]["JobResponse"]["properties"]["status"]["enum"]
        .as_array_mut()
        .unwrap()
        .retain(|v| v != "cancelled");
    let report = run(&doc, &ours());
    assert_fails(&report, FindingKind::ExtraEnumValue, "cancelled");
}

#[test]
fn new_path_is_drift() {
    let mut doc = documented();
    doc["paths"]["/pricing"] = json!({"get": {"operationId": "getPricing",
        "responses": {"200": {"description": "prices"}}}});
    let report = run(&doc, &ours());
    assert_fails(&report, FindingKind::MissingEndpoint, "GET /pricing");
}

#[test]
fn new_method_on_a_known_path_is_drift() {
    let mut doc = documented();
    doc["paths"]["/jobs/{job_id}"]["put"] =
        json!({"responses": {"200": {"description": "updated"}}});
    let report = run(&doc, &ours());
    assert_fails(&report, FindingKind::MissingEndpoint, "PUT /jobs/{job_id}");
}

#[test]
fn changed_success_status_is_drift() {
    let mut doc = documented();
    let responses = doc["paths"]["/video"]["post"]["responses"]
        .as_object_mut()
        .unwrap();
    let created = responses.remove("202").unwrap();
    responses.insert("200".into(), created);
    let report = run(&doc, &ours());
    assert_fails(&report, FindingKind::SuccessStatus, "POST /video");
    assert!(report.render().contains("documented 200, ours 202"));
}

#[test]
fn changed_operation_id_is_drift() {
    let mut doc = documented();
    doc["paths"]["/video"]["post"]["operationId"] = json!("makeVideo");
    let report = run(&doc, &ours());
    assert_fails(&report, FindingKind::OperationId, "makeVideo");
}

#[test]
fn optional_becoming_required_in_a_request_is_drift() {
    let mut doc = documented();
    doc["paths"]["/video"]["post"]["requestBody"]["content"]["application/json"]["schema"]
        ["required"]
        .as_array_mut()
        .unwrap()
        .retain(|v| v != "prompt");
    let report = run(&doc, &ours());
    assert_fails(
        &report,
        FindingKind::RequiredStricter,
        "VideoRequest.prompt",
    );
}

#[test]
fn a_request_that_leaves_a_required_field_optional_is_drift() {
    let mut doc = documented();
    doc["paths"]["/video"]["post"]["requestBody"]["content"]["application/json"]["schema"]
        ["required"]
        .as_array_mut()
        .unwrap()
        .push(json!("duration"));
    let report = run(&doc, &ours());
    assert_fails(
        &report,
        FindingKind::RequiredLooser,
        "VideoRequest.duration",
    );
}

#[test]
fn response_stricter_than_docs_is_drift_but_looser_is_fine() {
    // Base: ours leaves `model` optional although the docs require it: fine.
    assert!(run(&documented(), &ours()).is_clean());
    // Ours requires `error`, which the docs leave optional: drift.
    let mut o = ours();
    o["components"]["schemas"]["Job"]["required"]
        .as_array_mut()
        .unwrap()
        .push(json!("error"));
    let report = run(&documented(), &o);
    assert_fails(&report, FindingKind::RequiredStricter, "Job.error");
}

#[test]
fn a_response_number_decoded_as_integer_is_drift() {
    let mut o = ours();
    o["components"]["schemas"]["UsageRecord"]["properties"]["cost_cents"] =
        json!({"type": ["integer", "null"], "format": "uint64"});
    let report = run(&documented(), &o);
    assert_fails(&report, FindingKind::TypeMismatch, "UsageRecord.cost_cents");
}

#[test]
fn a_request_integer_where_docs_say_number_is_fine() {
    // Ours sends `duration` as an integer; the docs accept any number.
    let report = run(&documented(), &ours());
    assert!(!report.has_drift(FindingKind::TypeMismatch, "duration"));
}

#[test]
fn changed_format_is_drift() {
    let mut doc = documented();
    doc["components"]["schemas"]["JobResponse"]["properties"]["created_at"]["format"] =
        json!("date");
    let report = run(&doc, &ours());
    assert_fails(&report, FindingKind::FormatMismatch, "Job.created_at");
}

#[test]
fn closed_response_enum_is_drift() {
    let mut o = ours();
    o["components"]["schemas"]["JobStatus"] = json!({"type": "string",
        "enum": ["queued", "processing", "completed", "failed", "cancelled"]});
    let report = run(&documented(), &o);
    assert_fails(&report, FindingKind::ClosedEnum, "JobStatus");
}

#[test]
fn plain_string_where_docs_list_values_is_drift() {
    // An open string with no known values does not "know" documented values.
    let mut o = ours();
    o["components"]["schemas"]["JobStatus"] = json!({"type": "string"});
    let report = run(&documented(), &o);
    assert_fails(&report, FindingKind::UnknownEnumValue, "queued");
}

#[test]
fn example_that_does_not_validate_is_drift() {
    let mut doc = documented();
    doc["paths"]["/jobs/{job_id}"]["get"]["responses"]["200"]["content"]["application/json"]["example"] =
        json!({"status": "queued"});
    let report = run(&doc, &ours());
    assert_fails(
        &report,
        FindingKind::ExampleInvalid,
        "GET /jobs/{job_id} 200",
    );
    assert!(report.render().contains("job_id"));
}

#[test]
fn property_example_of_the_wrong_type_is_drift() {
    let mut doc = documented();
    doc["components"]["schemas"]["JobResponse"]["properties"]["job_id"]["example"] = json!(42);
    let report = run(&doc, &ours());
    assert_fails(&report, FindingKind::ExampleInvalid, "Job.job_id");
}

#[test]
fn example_that_does_not_decode_is_drift() {
    let decoder = |name: &str, value: &Value| -> Option<Result<(), String>> {
        (name == "Job").then(|| {
            if value["status"] == "queued" {
                Err("queued jobs are refused by this test decoder".to_owned())
            } else {
                Ok(())
            }
        })
    };
    let report = check(&documented(), &ours(), &allowlist(), &decoder);
    assert!(
        report.has_drift(FindingKind::ExampleDecode, "refused"),
        "{}",
        report.render()
    );
    let accepting = |_: &str, _: &Value| -> Option<Result<(), String>> { Some(Ok(())) };
    assert!(check(&documented(), &ours(), &allowlist(), &accepting).is_clean());
}

#[test]
fn error_response_examples_are_checked_against_our_default() {
    let mut o = ours();
    o["components"]["schemas"]["ErrorBody"]["required"] = json!(["message", "code"]);
    let report = run(&documented(), &o);
    assert_fails(&report, FindingKind::ExampleInvalid, "POST /video 400");
}

#[test]
fn missing_and_extra_parameters_are_drift() {
    let mut o = ours();
    let params = o["paths"]["/usage"]["get"]["parameters"]
        .as_array_mut()
        .unwrap();
    params.retain(|p| p["name"] != "to");
    params.push(json!({"name": "page", "in": "query", "schema": {"type": "integer"}}));
    let report = run(&documented(), &o);
    assert_fails(&report, FindingKind::MissingParameter, "query parameter to");
    assert_fails(&report, FindingKind::ExtraParameter, "query parameter page");
}

#[test]
fn missing_content_type_is_drift() {
    let mut doc = documented();
    doc["paths"]["/jobs/{job_id}"]["get"]["responses"]["200"]["content"]["text/event-stream"] =
        json!({"schema": {"type": "string"}});
    let report = run(&doc, &ours());
    assert_fails(
        &report,
        FindingKind::MissingContentType,
        "text/event-stream",
    );
}

fn with_stream(doc: &mut Value, ours: &mut Value, example: &str) {
    doc["paths"]["/jobs/{job_id}/stream"] = json!({"get": {
        "operationId": "streamJob",
        "responses": {"200": {"description": "events", "content": {"text/event-stream": {
            "schema": {"type": "string"},
            "examples": {"one": {"value": example}}
        }}}}
    }});
    ours["paths"]["/jobs/{job_id}/stream"] = json!({"get": {
        "operationId": "streamJob",
        "responses": {"200": {"description": "events", "content": {"text/event-stream": {
            "schema": {"type": "string"},
            "x-event-schema": {"$ref": "#/components/schemas/Job"}
        }}}}
    }});
}

#[test]
fn event_stream_examples_are_checked_event_by_event() {
    let (mut doc, mut o) = (documented(), ours());
    with_stream(
        &mut doc,
        &mut o,
        "event: status\ndata: {\"job_id\":\"j\",\"status\":\"processing\"}\n\n",
    );
    let report = run(&doc, &o);
    assert!(report.is_clean(), "{}", report.render());

    let (mut doc, mut o) = (documented(), ours());
    with_stream(
        &mut doc,
        &mut o,
        "event: status\ndata: {\"status\":\"processing\"}\n\n",
    );
    let report = run(&doc, &o);
    assert_fails(
        &report,
        FindingKind::ExampleInvalid,
        "GET /jobs/{job_id}/stream 200 event",
    );
}

#[test]
fn stale_allowlist_entry_fails() {
    let mut list = allowlist();
    list.entries.push(
        Allowlist::parse(
            "entries:\n  - {kind: extra-endpoint, at: GET /nothing, source: \"[N]\", note: gone}\n",
        )
        .unwrap()
        .entries
        .remove(0),
    );
    let report = check(&documented(), &ours(), &list, &NoDecoder);
    assert!(!report.is_clean());
    assert!(report.drift.is_empty());
    assert!(report.render().contains("GET /nothing"));
}

#[test]
fn yaml_documents_are_read() {
    let text = "openapi: 3.1.0\npaths:\n  /x:\n    get:\n      responses:\n        200:\n          description: ok\n";
    let doc = xtask::spec::parse_document(text).unwrap();
    let ours = json!({"openapi": "3.1.0", "paths": {}});
    let report = check(&doc, &ours, &Allowlist::default(), &NoDecoder);
    assert_fails(&report, FindingKind::MissingEndpoint, "GET /x");
}
