//! Export of our contract: one JSON Schema (draft 2020-12) per public request
//! and response type, and an OpenAPI 3.1 document built from
//! [`varg_types::ENDPOINTS`] and those schemas.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use varg_types::endpoint::ResponseKind;
use varg_types::{BodyKind, ENDPOINTS, Endpoint, Method};

use crate::drift::ExampleDecoder;

/// Whether a type is sent (request) or received (response). Requests get
/// schemas of the serialize contract (what we send), responses of the
/// deserialize contract (what we accept).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A request body or query.
    Request,
    /// A response body.
    Response,
}

/// One exported type.
pub struct ExportedType {
    /// The Rust type name (also the schema name).
    pub name: &'static str,
    /// Sent or received.
    pub role: Role,
    schema: fn(&mut SchemaGenerator) -> schemars::Schema,
    root_schema: fn(SchemaSettings) -> schemars::Schema,
    decode: fn(&Value) -> Result<(), String>,
}

impl std::fmt::Debug for ExportedType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportedType")
            .field("name", &self.name)
            .field("role", &self.role)
            .finish()
    }
}

impl ExportedType {
    /// Decodes `value` into the Rust type.
    pub fn decode(&self, value: &Value) -> Result<(), String> {
        (self.decode)(value)
    }
}

fn subschema<T: JsonSchema>(generator: &mut SchemaGenerator) -> schemars::Schema {
    generator.subschema_for::<T>()
}

fn root_schema<T: JsonSchema>(settings: SchemaSettings) -> schemars::Schema {
    settings.into_generator().into_root_schema_for::<T>()
}

fn decode<T: DeserializeOwned>(value: &Value) -> Result<(), String> {
    serde_json::from_value::<T>(value.clone())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

macro_rules! exported {
    ($($role:ident: $($name:ident),+;)+) => {
        &[$($(ExportedType {
            name: stringify!($name),
            role: Role::$role,
            schema: subschema::<varg_types::$name>,
            root_schema: root_schema::<varg_types::$name>,
            decode: decode::<varg_types::$name>,
        },)+)+]
    };
}

/// Every public request and response type, plus the error body.
pub static TYPES: &[ExportedType] = exported! {
    Request: VideoRequest, ImageRequest, SpeechRequest, MusicRequest, TranscriptionRequest,
        FfmpegRequest, TrimRequest, ResizeRequest, SliceRequest, ProbeRequest, UsageQuery;
    Response: Job, FileUploadResponse, VoicesResponse, Balance, UsageResponse, Me,
        ProbeResponse, ErrorBody;
};

/// The exported type named `name`.
pub fn exported_type(name: &str) -> Option<&'static ExportedType> {
    TYPES.iter().find(|t| t.name == name)
}

/// Decodes documented examples into the exported Rust types.
#[derive(Debug, Clone, Copy, Default)]
pub struct VargTypesDecoder;

impl ExampleDecoder for VargTypesDecoder {
    fn decode(&self, schema_name: &str, example: &Value) -> Option<Result<(), String>> {
        exported_type(schema_name).map(|t| t.decode(example))
    }
}

fn settings(role: Role) -> SchemaSettings {
    let settings = SchemaSettings::draft2020_12();
    match role {
        Role::Request => settings.for_serialize(),
        Role::Response => settings.for_deserialize(),
    }
}

/// The stand-alone JSON Schema of one type (draft 2020-12, with `$defs`).
pub fn type_schema(t: &ExportedType) -> Value {
    let mut schema = (t.root_schema)(settings(t.role)).to_value();
    if let Some(defs) = schema.get_mut("$defs").and_then(Value::as_object_mut) {
        patch_definitions(defs);
    }
    schema
}

/// Open string types whose known values varg-types keeps as constants but
/// does not (yet) put into their JSON Schema: the documented values are
/// added here, in the same open form as `open_enum!` types
/// (`anyOf: [{enum}, {type: string}]`). A schema that already lists values
/// is left alone.
fn known_values() -> Vec<(&'static str, Vec<String>)> {
    vec![(
        "Voice",
        varg_types::Voice::NAMED
            .iter()
            .map(|v| v.as_str().to_owned())
            .collect(),
    )]
}

fn patch_definitions(defs: &mut Map<String, Value>) {
    for (name, values) in known_values() {
        let Some(Value::Object(schema)) = defs.get_mut(name) else {
            continue;
        };
        if schema.contains_key("anyOf") || schema.contains_key("enum") {
            continue;
        }
        schema.remove("type");
        schema.insert(
            "anyOf".into(),
            json!([{"type": "string", "enum": values}, {"type": "string"}]),
        );
        schema.insert("x-known-values".into(), json!(values));
    }
}

/// Our OpenAPI 3.1 document.
pub fn openapi() -> Result<Value> {
    let mut schemas: BTreeMap<String, Value> = BTreeMap::new();
    let mut refs: BTreeMap<&'static str, Value> = BTreeMap::new();
    for role in [Role::Request, Role::Response] {
        let mut generator = settings(role)
            .with(|s| {
                s.definitions_path = "/components/schemas".into();
                s.meta_schema = None;
            })
            .into_generator();
        for t in TYPES.iter().filter(|t| t.role == role) {
            refs.insert(t.name, (t.schema)(&mut generator).to_value());
        }
        let mut definitions = generator.take_definitions(true);
        patch_definitions(&mut definitions);
        for (name, schema) in definitions {
            if let Some(previous) = schemas.get(&name)
                && previous != &schema
            {
                bail!(
                    "schema `{name}` differs between requests and responses; \
                     give one of them another schema name"
                );
            }
            schemas.insert(name, schema);
        }
    }

    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for endpoint in ENDPOINTS.iter() {
        let op = operation(endpoint, &refs, &schemas)?;
        let method = match endpoint.method {
            Method::Get => "get",
            Method::Post => "post",
            Method::Delete => "delete",
        };
        paths
            .entry(endpoint.path.to_owned())
            .or_default()
            .insert(method.to_owned(), op);
    }

    Ok(json!({
        "openapi": "3.1.0",
        "info": {
            "title": "varg gateway API v1 (varg-rs contract)",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Generated by `cargo xtask schema` from the varg-types endpoint table and types. Do not edit."
        },
        "servers": [{"url": varg_types::DEFAULT_BASE_URL}],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "varg_xxx"}
            }
        }
    }))
}

fn type_ref(refs: &BTreeMap<&'static str, Value>, name: &str) -> Result<Value> {
    refs.get(name).cloned().with_context(|| {
        format!(
            "the endpoint table names type `{name}`, which xtask does not export (add it to TYPES)"
        )
    })
}

fn operation(
    endpoint: &Endpoint,
    refs: &BTreeMap<&'static str, Value>,
    schemas: &BTreeMap<String, Value>,
) -> Result<Value> {
    let mut op = Map::new();
    op.insert("operationId".into(), json!(endpoint.operation_id));
    op.insert("tags".into(), json!([endpoint.tag]));
    op.insert("summary".into(), json!(endpoint.summary));

    let mut parameters: Vec<Value> = endpoint
        .path_params
        .iter()
        .map(|name| {
            json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}})
        })
        .collect();

    match endpoint.body {
        BodyKind::Json | BodyKind::Binary => {
            let content_type =
                endpoint
                    .request_content_type
                    .unwrap_or(if endpoint.body == BodyKind::Json {
                        "application/json"
                    } else {
                        "application/octet-stream"
                    });
            let schema = match (endpoint.body, endpoint.request_type) {
                (BodyKind::Json, Some(name)) => type_ref(refs, name)?,
                (BodyKind::Json, None) => bail!("{} has a JSON body without a type", endpoint.path),
                _ => json!({"type": "string", "format": "binary"}),
            };
            op.insert(
                "requestBody".into(),
                json!({"required": true, "content": {content_type: {"schema": schema}}}),
            );
        }
        BodyKind::Query => {
            let name = endpoint
                .request_type
                .with_context(|| format!("{} has a query without a type", endpoint.path))?;
            let object = schemas
                .get(name)
                .with_context(|| format!("no schema for query type `{name}`"))?;
            let props = object.get("properties").and_then(Value::as_object);
            let required: Vec<&str> = object
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            for param in endpoint.query_params {
                let schema = props
                    .and_then(|p| p.get(*param))
                    .cloned()
                    .with_context(|| format!("`{name}` has no field for query `{param}`"))?;
                parameters.push(json!({
                    "name": param, "in": "query",
                    "required": required.contains(param), "schema": schema
                }));
            }
        }
        BodyKind::None => {}
    }
    if endpoint.id == varg_types::EndpointId::UploadFile {
        parameters.push(json!({
            "name": "X-Content-Hash", "in": "header", "required": false,
            "description": "SHA-256 of the content (`sha256:<hex>`), for deduplication.",
            "schema": {"type": "string"}
        }));
    }
    if !parameters.is_empty() {
        op.insert("parameters".into(), Value::Array(parameters));
    }

    let mut responses = Map::new();
    let success = match endpoint.response {
        ResponseKind::Json => {
            let name = endpoint
                .response_type
                .with_context(|| format!("{} has a JSON answer without a type", endpoint.path))?;
            json!({"description": "Success", "content": {"application/json": {"schema": type_ref(refs, name)?}}})
        }
        ResponseKind::Empty => json!({"description": "Success, no content"}),
        ResponseKind::EventStream => json!({
            "description": "Server-sent events named `status`, each carrying the job as JSON",
            "content": {"text/event-stream": {
                "schema": {"type": "string"},
                "x-event-schema": type_ref(refs, "Job")?
            }}
        }),
    };
    responses.insert(endpoint.success_status.to_string(), success);
    if !endpoint.error_statuses.is_empty() {
        responses.insert(
            "default".into(),
            json!({"description": "Error", "content": {"application/json": {"schema": type_ref(refs, "ErrorBody")?}}}),
        );
    }
    op.insert("responses".into(), Value::Object(responses));
    Ok(Value::Object(op))
}

/// `value` with every object's keys in sorted order, whatever map type
/// serde_json was built with (feature unification may turn on
/// `preserve_order` in a workspace build).
pub fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), canonical(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// Pretty JSON with sorted keys and a trailing newline.
pub fn pretty(value: &Value) -> Result<String> {
    let mut text = serde_json::to_string_pretty(&canonical(value))?;
    text.push('\n');
    Ok(text)
}

/// Every file `cargo xtask schema` writes, by file name.
pub fn files() -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for t in TYPES {
        out.insert(format!("{}.schema.json", t.name), pretty(&type_schema(t))?);
    }
    out.insert("openapi.json".into(), pretty(&openapi()?)?);
    Ok(out)
}

/// Writes the files into `dir` (removing stale `*.json` files there).
pub fn write(dir: &Path) -> Result<Vec<String>> {
    let files = files()?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.ends_with(".json") && !files.contains_key(name) {
            std::fs::remove_file(&path)?;
        }
    }
    for (name, text) in &files {
        std::fs::write(dir.join(name), text)?;
    }
    Ok(files.into_keys().collect())
}

/// Lists the differences between the files in `dir` and freshly generated
/// ones (empty when up to date).
pub fn stale(dir: &Path) -> Result<Vec<String>> {
    let files = files()?;
    let mut problems = Vec::new();
    for (name, text) in &files {
        match std::fs::read_to_string(dir.join(name)) {
            Ok(on_disk) if &on_disk == text => {}
            Ok(_) => problems.push(format!("{name} is out of date")),
            Err(_) => problems.push(format!("{name} is missing")),
        }
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".json") && !files.contains_key(&name) {
                problems.push(format!("{name} is no longer generated"));
            }
        }
    }
    Ok(problems)
}
