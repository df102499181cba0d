//! The drift checker: compares a documented OpenAPI document with ours.
//!
//! Both documents are plain `serde_json::Value`s. `$ref`s to
//! `#/components/...` are followed in each document. The checker reports:
//!
//! - documented endpoints missing from ours, or with another success status;
//! - documented request and response properties missing from ours, or with an
//!   incompatible type, format or required-ness (a response may be looser than
//!   the docs, never stricter; a request requires exactly what the docs require);
//! - documented enum values that are not among our *known* values, and closed
//!   enums in responses (the server may add values);
//! - documented examples that do not validate against our schema, or do not
//!   decode into our Rust types (through an [`ExampleDecoder`]);
//! - everything we have beyond the docs (endpoints, properties, parameters and
//!   enum values); these are fine only when the [`Allowlist`] explains them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};

use serde_json::{Map, Value};

use crate::allowlist::{AllowEntry, Allowlist};

/// The HTTP methods an OpenAPI path item may hold.
const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// What kind of difference a [`Finding`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FindingKind {
    /// A documented path and method is not in ours.
    MissingEndpoint,
    /// The success status differs.
    SuccessStatus,
    /// The operation id differs.
    OperationId,
    /// A documented request or response content type is not in ours.
    MissingContentType,
    /// A documented parameter is not in ours.
    MissingParameter,
    /// A documented property is not in ours.
    MissingProperty,
    /// The type of a property is incompatible.
    TypeMismatch,
    /// The format of a string differs.
    FormatMismatch,
    /// Ours requires what the docs leave optional.
    RequiredStricter,
    /// A request: the docs require what ours leaves optional.
    RequiredLooser,
    /// A documented enum value is not one of our known values.
    UnknownEnumValue,
    /// A response enum of ours rejects values it does not know.
    ClosedEnum,
    /// A documented example does not validate against our schema.
    ExampleInvalid,
    /// A documented example does not decode into our Rust type.
    ExampleDecode,
    /// Ours has an endpoint the docs do not have.
    ExtraEndpoint,
    /// Ours has a property the docs do not have.
    ExtraProperty,
    /// Ours has a parameter the docs do not have.
    ExtraParameter,
    /// Ours knows an enum value the docs do not list.
    ExtraEnumValue,
}

impl FindingKind {
    /// Every kind.
    pub const ALL: &'static [FindingKind] = &[
        Self::MissingEndpoint,
        Self::SuccessStatus,
        Self::OperationId,
        Self::MissingContentType,
        Self::MissingParameter,
        Self::MissingProperty,
        Self::TypeMismatch,
        Self::FormatMismatch,
        Self::RequiredStricter,
        Self::RequiredLooser,
        Self::UnknownEnumValue,
        Self::ClosedEnum,
        Self::ExampleInvalid,
        Self::ExampleDecode,
        Self::ExtraEndpoint,
        Self::ExtraProperty,
        Self::ExtraParameter,
        Self::ExtraEnumValue,
    ];

    /// The name used in reports and in the allowlist.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingEndpoint => "missing-endpoint",
            Self::SuccessStatus => "success-status",
            Self::OperationId => "operation-id",
            Self::MissingContentType => "missing-content-type",
            Self::MissingParameter => "missing-parameter",
            Self::MissingProperty => "missing-property",
            Self::TypeMismatch => "type-mismatch",
            Self::FormatMismatch => "format-mismatch",
            Self::RequiredStricter => "required-stricter",
            Self::RequiredLooser => "required-looser",
            Self::UnknownEnumValue => "unknown-enum-value",
            Self::ClosedEnum => "closed-enum",
            Self::ExampleInvalid => "example-invalid",
            Self::ExampleDecode => "example-decode",
            Self::ExtraEndpoint => "extra-endpoint",
            Self::ExtraProperty => "extra-property",
            Self::ExtraParameter => "extra-parameter",
            Self::ExtraEnumValue => "extra-enum-value",
        }
    }

    /// The kind with this [`as_str`](Self::as_str) name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One difference between the documented API and ours.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    /// What kind of difference.
    pub kind: FindingKind,
    /// Where: `POST /video`, `POST /video request.files[].url`, `Job.status`...
    pub at: String,
    /// For enum findings: the value concerned.
    pub value: Option<String>,
    /// A readable explanation.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.kind, self.at)?;
        if let Some(value) = &self.value {
            write!(f, " = {value:?}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Decodes documented examples into our Rust types.
pub trait ExampleDecoder {
    /// Decodes `example` into the Rust type whose schema is named
    /// `schema_name` in our OpenAPI document. `None` when no Rust type has that
    /// name; `Some(Err(reason))` when decoding fails.
    fn decode(&self, schema_name: &str, example: &Value) -> Option<Result<(), String>>;
}

impl<F> ExampleDecoder for F
where
    F: Fn(&str, &Value) -> Option<Result<(), String>>,
{
    fn decode(&self, schema_name: &str, example: &Value) -> Option<Result<(), String>> {
        self(schema_name, example)
    }
}

/// An [`ExampleDecoder`] that knows no Rust types (schema validation only).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoDecoder;

impl ExampleDecoder for NoDecoder {
    fn decode(&self, _schema_name: &str, _example: &Value) -> Option<Result<(), String>> {
        None
    }
}

/// The outcome of a check.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Differences nobody explained: each one fails the check.
    pub drift: Vec<Finding>,
    /// Differences explained by the allowlist, with the entry.
    pub allowed: Vec<(Finding, AllowEntry)>,
    /// Allowlist entries that matched nothing (they fail the check too, so
    /// the allowlist never outlives what it explains).
    pub stale: Vec<AllowEntry>,
    /// How many documented endpoints were compared.
    pub documented_endpoints: usize,
    /// How many documented examples were checked.
    pub examples_checked: usize,
}

impl Report {
    /// True when nothing is unexplained.
    pub fn is_clean(&self) -> bool {
        self.drift.is_empty() && self.stale.is_empty()
    }

    /// Whether some unexplained finding has this kind and its message or
    /// location mentions `needle`.
    pub fn has_drift(&self, kind: FindingKind, needle: &str) -> bool {
        self.drift.iter().any(|f| {
            f.kind == kind
                && (f.at.contains(needle)
                    || f.message.contains(needle)
                    || f.value.as_deref() == Some(needle))
        })
    }

    /// A readable report.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "OpenAPI drift check: {} documented endpoints, {} documented examples checked",
            self.documented_endpoints, self.examples_checked
        );
        if self.drift.is_empty() {
            let _ = writeln!(out, "\nNo unexplained drift.");
        } else {
            let _ = writeln!(out, "\nUNEXPLAINED DRIFT ({}):", self.drift.len());
            for finding in &self.drift {
                let _ = writeln!(out, "  {finding}");
            }
        }
        if !self.stale.is_empty() {
            let _ = writeln!(
                out,
                "\nSTALE ALLOWLIST ENTRIES ({}), they explain nothing; remove them:",
                self.stale.len()
            );
            for entry in &self.stale {
                let _ = writeln!(out, "  [{}] {} {:?}", entry.kind, entry.at, entry.values);
            }
        }
        if !self.allowed.is_empty() {
            let _ = writeln!(
                out,
                "\nExplained by the allowlist ({}):",
                self.allowed.len()
            );
            for (finding, entry) in &self.allowed {
                let value = finding
                    .value
                    .as_ref()
                    .map(|v| format!(" = {v:?}"))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "  [{}] {}{} <- {}: {}",
                    finding.kind, finding.at, value, entry.source, entry.note
                );
            }
        }
        let _ = writeln!(
            out,
            "\nResult: {}",
            if self.is_clean() { "OK" } else { "DRIFT" }
        );
        out
    }
}

/// Compares `documented` with `ours`, applies `allowlist`, and decodes the
/// documented examples with `decoder`.
pub fn check(
    documented: &Value,
    ours: &Value,
    allowlist: &Allowlist,
    decoder: &dyn ExampleDecoder,
) -> Report {
    let mut checker = Checker {
        doc: documented,
        ours,
        decoder,
        findings: BTreeMap::new(),
        visited: BTreeSet::new(),
        examples_checked: 0,
        documented_endpoints: 0,
    };
    checker.run();

    let mut report = Report {
        documented_endpoints: checker.documented_endpoints,
        examples_checked: checker.examples_checked,
        ..Report::default()
    };
    let mut used = vec![false; allowlist.entries.len()];
    for finding in checker.findings.into_values() {
        match allowlist.entries.iter().position(|e| e.matches(&finding)) {
            Some(i) => {
                used[i] = true;
                report.allowed.push((finding, allowlist.entries[i].clone()));
            }
            None => report.drift.push(finding),
        }
    }
    for (entry, used) in allowlist.entries.iter().zip(used) {
        if !used {
            report.stale.push(entry.clone());
        }
    }
    report
}

/// Whether we send the data (request) or receive it (response).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Direction {
    Request,
    Response,
}

struct Checker<'a> {
    doc: &'a Value,
    ours: &'a Value,
    decoder: &'a dyn ExampleDecoder,
    /// Keyed by (kind, at, value) so that a shared schema is reported once.
    findings: BTreeMap<(FindingKind, String, Option<String>), Finding>,
    /// (documented schema, our schema, direction) pairs already compared.
    visited: BTreeSet<(String, String, Direction)>,
    examples_checked: usize,
    documented_endpoints: usize,
}

/// A flattened view of a schema: `$ref`s followed, `allOf` merged and
/// `anyOf`/`oneOf` branches united.
#[derive(Debug, Default, Clone)]
struct View {
    /// The component name of the first `$ref` followed.
    ref_name: Option<String>,
    /// The JSON types it may have (without `null`); empty means any.
    types: BTreeSet<String>,
    nullable: bool,
    format: Option<String>,
    /// Known enum (or const) values, as JSON text for non-strings.
    known: BTreeSet<String>,
    has_enum: bool,
    /// Accepts any string besides the known values.
    open_string: bool,
    properties: BTreeMap<String, Vec<Value>>,
    required: BTreeSet<String>,
    items: Vec<Value>,
    /// `additionalProperties` is absent, `true` or a schema.
    additional: bool,
    example_values: Vec<Value>,
}

fn resolve<'v>(root: &'v Value, mut value: &'v Value) -> (&'v Value, Option<String>) {
    let mut first_name = None;
    for _ in 0..32 {
        let Some(reference) = value.get("$ref").and_then(Value::as_str) else {
            break;
        };
        let Some(pointer) = reference.strip_prefix('#') else {
            break;
        };
        let Some(target) = root.pointer(pointer) else {
            break;
        };
        if first_name.is_none() {
            first_name = reference.rsplit('/').next().map(str::to_owned);
        }
        value = target;
    }
    (value, first_name)
}

fn value_key(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn view(root: &Value, schema: &Value) -> View {
    view_depth(root, schema, 0)
}

fn view_depth(root: &Value, schema: &Value, depth: usize) -> View {
    let (schema, ref_name) = resolve(root, schema);
    let mut v = View {
        ref_name,
        ..View::default()
    };
    if depth > 24 {
        return v;
    }
    let Some(obj) = schema.as_object() else {
        // `true` or an unknown shape: accepts anything.
        return v;
    };
    match obj.get("type") {
        Some(Value::String(t)) => {
            v.types.insert(t.clone());
        }
        Some(Value::Array(ts)) => {
            v.types
                .extend(ts.iter().filter_map(Value::as_str).map(str::to_owned));
        }
        _ => {}
    }
    if v.types.remove("null") {
        v.nullable = true;
    }
    if v.types.is_empty() && obj.contains_key("properties") {
        v.types.insert("object".into());
    }
    v.format = obj.get("format").and_then(Value::as_str).map(str::to_owned);
    if let Some(values) = obj.get("enum").and_then(Value::as_array) {
        v.has_enum = true;
        for value in values {
            if value.is_null() {
                v.nullable = true;
            } else {
                v.known.insert(value_key(value));
            }
        }
    }
    if let Some(value) = obj.get("const") {
        v.has_enum = true;
        v.known.insert(value_key(value));
    }
    if v.types.contains("string") && !v.has_enum {
        v.open_string = true;
    }
    if let Some(props) = obj.get("properties").and_then(Value::as_object) {
        for (name, prop) in props {
            v.properties
                .entry(name.clone())
                .or_default()
                .push(prop.clone());
        }
    }
    if let Some(req) = obj.get("required").and_then(Value::as_array) {
        v.required
            .extend(req.iter().filter_map(Value::as_str).map(str::to_owned));
    }
    if let Some(items) = obj.get("items") {
        v.items.push(items.clone());
    }
    match obj.get("additionalProperties") {
        Some(Value::Bool(false)) => {}
        Some(_) => v.additional = true,
        None => v.additional = !obj.contains_key("properties"),
    }
    if let Some(example) = obj.get("example") {
        v.example_values.push(example.clone());
    }
    if let Some(examples) = obj.get("examples").and_then(Value::as_array) {
        v.example_values.extend(examples.iter().cloned());
    }

    if let Some(parts) = obj.get("allOf").and_then(Value::as_array) {
        for part in parts {
            let p = view_depth(root, part, depth + 1);
            merge_all(&mut v, p);
        }
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(branches) = obj.get(key).and_then(Value::as_array) {
            let views: Vec<View> = branches
                .iter()
                .map(|b| view_depth(root, b, depth + 1))
                .collect();
            let united = unite(views);
            merge_all(&mut v, united);
        }
    }
    v
}

/// `allOf`: both constraints hold.
fn merge_all(v: &mut View, p: View) {
    if v.ref_name.is_none() {
        v.ref_name = p.ref_name;
    }
    if v.types.is_empty() {
        v.types = p.types;
    } else if !p.types.is_empty() {
        let both: BTreeSet<String> = v.types.intersection(&p.types).cloned().collect();
        if !both.is_empty() {
            v.types = both;
        }
    }
    v.nullable |= p.nullable;
    if v.format.is_none() {
        v.format = p.format;
    }
    v.known.extend(p.known);
    v.has_enum |= p.has_enum;
    v.open_string = if v.has_enum && !p.open_string {
        false
    } else {
        v.open_string || p.open_string
    };
    for (name, schemas) in p.properties {
        v.properties.entry(name).or_default().extend(schemas);
    }
    v.required.extend(p.required);
    v.items.extend(p.items);
    v.additional = v.additional && p.additional;
    v.example_values.extend(p.example_values);
}

/// `anyOf`/`oneOf`: any branch may hold.
fn unite(views: Vec<View>) -> View {
    let mut out = View {
        additional: false,
        ..View::default()
    };
    let mut required: Option<BTreeSet<String>> = None;
    let mut any_type = false;
    for b in views {
        if out.ref_name.is_none() {
            out.ref_name = b.ref_name.clone();
        }
        if b.types.is_empty() && !b.nullable && !b.has_enum {
            any_type = true;
        }
        out.types.extend(b.types.iter().cloned());
        out.nullable |= b.nullable;
        if out.format.is_none() {
            out.format = b.format.clone();
        }
        out.known.extend(b.known);
        out.has_enum |= b.has_enum;
        out.open_string |= b.open_string;
        if b.types.contains("object") || !b.properties.is_empty() {
            required = Some(match required {
                None => b.required.clone(),
                Some(r) => r.intersection(&b.required).cloned().collect(),
            });
        }
        for (name, schemas) in b.properties {
            out.properties.entry(name).or_default().extend(schemas);
        }
        out.items.extend(b.items);
        out.additional |= b.additional;
        out.example_values.extend(b.example_values);
    }
    if any_type {
        out.types.clear();
    }
    out.required = required.unwrap_or_default();
    out
}

fn union_schema(schemas: &[Value]) -> Value {
    match schemas {
        [one] => one.clone(),
        many => Value::Object(Map::from_iter([(
            "anyOf".to_owned(),
            Value::Array(many.to_vec()),
        )])),
    }
}

fn normalize_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            _ if in_param => {}
            _ => out.push(c),
        }
    }
    out
}

fn operations(doc: &Value) -> BTreeMap<(String, String), (String, &Value, &Value)> {
    let mut out = BTreeMap::new();
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            for method in METHODS {
                if let Some(op) = item.get(*method) {
                    out.insert(
                        (normalize_path(path), (*method).to_owned()),
                        (path.clone(), item, op),
                    );
                }
            }
        }
    }
    out
}

fn success_status(op: &Value) -> Option<String> {
    op.get("responses")
        .and_then(Value::as_object)?
        .keys()
        .filter(|k| k.starts_with('2'))
        .min()
        .cloned()
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 120 {
        let cut: String = text.chars().take(117).collect();
        format!("{cut}...")
    } else {
        text
    }
}

impl Checker<'_> {
    fn report(&mut self, kind: FindingKind, at: &str, value: Option<String>, message: String) {
        let key = (kind, at.to_owned(), value.clone());
        self.findings.entry(key).or_insert_with(|| Finding {
            kind,
            at: at.to_owned(),
            value,
            message,
        });
    }

    fn run(&mut self) {
        let documented = operations(self.doc);
        let ours = operations(self.ours);
        self.documented_endpoints = documented.len();
        for ((norm, method), (path, item, op)) in &documented {
            let label = format!("{} {}", method.to_uppercase(), path);
            match ours.get(&(norm.clone(), method.clone())) {
                None => self.report(
                    FindingKind::MissingEndpoint,
                    &label,
                    None,
                    format!("documented endpoint {label} is not in ours"),
                ),
                Some((_, our_item, our_op)) => {
                    self.compare_operation(&label, item, op, our_item, our_op)
                }
            }
        }
        for ((norm, method), (path, _, _)) in &ours {
            if !documented.contains_key(&(norm.clone(), method.clone())) {
                let label = format!("{} {}", method.to_uppercase(), path);
                self.report(
                    FindingKind::ExtraEndpoint,
                    &label,
                    None,
                    format!("ours has endpoint {label}, the documented file does not"),
                );
            }
        }
    }

    fn compare_operation(
        &mut self,
        label: &str,
        item: &Value,
        op: &Value,
        our_item: &Value,
        our_op: &Value,
    ) {
        let doc_id = op.get("operationId").and_then(Value::as_str);
        let our_id = our_op.get("operationId").and_then(Value::as_str);
        if let (Some(d), Some(o)) = (doc_id, our_id)
            && d != o
        {
            self.report(
                FindingKind::OperationId,
                label,
                None,
                format!("operationId changed: documented `{d}`, ours `{o}`"),
            );
        }

        let doc_success = success_status(op);
        let our_success = success_status(our_op);
        if doc_success != our_success {
            self.report(
                FindingKind::SuccessStatus,
                label,
                None,
                format!(
                    "success status changed: documented {}, ours {}",
                    doc_success.as_deref().unwrap_or("none"),
                    our_success.as_deref().unwrap_or("none")
                ),
            );
        }

        self.compare_parameters(label, item, op, our_item, our_op);

        // Request body.
        if let Some(body) = op.get("requestBody") {
            let (body, _) = resolve(self.doc, body);
            let our_body = our_op
                .get("requestBody")
                .map(|b| resolve(self.ours, b).0)
                .unwrap_or(&Value::Null);
            self.compare_content(
                &format!("{label} request"),
                body,
                our_body,
                Direction::Request,
            );
        }

        // Responses: the success response against ours; the others against
        // the same status in ours, or our `default`.
        let Some(responses) = op.get("responses").and_then(Value::as_object) else {
            return;
        };
        let our_responses = our_op.get("responses");
        for (status, response) in responses {
            let (response, _) = resolve(self.doc, response);
            let our_response = if Some(status) == doc_success.as_ref() {
                our_success
                    .as_ref()
                    .and_then(|s| our_responses.and_then(|r| r.get(s)))
            } else {
                our_responses.and_then(|r| {
                    r.get(status)
                        .or_else(|| r.get(format!("{}XX", &status[..1.min(status.len())])))
                        .or_else(|| r.get("default"))
                })
            };
            let our_response = our_response
                .map(|r| resolve(self.ours, r).0)
                .unwrap_or(&Value::Null);
            self.compare_content(
                &format!("{label} {status}"),
                response,
                our_response,
                Direction::Response,
            );
        }
    }

    fn parameters<'v>(root: &'v Value, item: &'v Value, op: &'v Value) -> Vec<&'v Value> {
        let mut out: Vec<&Value> = Vec::new();
        for source in [item, op] {
            if let Some(params) = source.get("parameters").and_then(Value::as_array) {
                for p in params {
                    let (p, _) = resolve(root, p);
                    out.push(p);
                }
            }
        }
        out
    }

    fn compare_parameters(
        &mut self,
        label: &str,
        item: &Value,
        op: &Value,
        our_item: &Value,
        our_op: &Value,
    ) {
        let key = |p: &Value| -> Option<(String, String)> {
            let location = p.get("in")?.as_str()?.to_owned();
            let mut name = p.get("name")?.as_str()?.to_owned();
            if location == "header" {
                name = name.to_ascii_lowercase();
            }
            Some((location, name))
        };
        let doc_params = Self::parameters(self.doc, item, op);
        let our_params = Self::parameters(self.ours, our_item, our_op);
        let our_map: BTreeMap<(String, String), &Value> = our_params
            .iter()
            .filter_map(|p| Some((key(p)?, *p)))
            .collect();
        let mut seen = BTreeSet::new();
        for p in doc_params {
            let Some(k) = key(p) else { continue };
            seen.insert(k.clone());
            let at = format!("{label} {} parameter {}", k.0, k.1);
            let Some(ours) = our_map.get(&k) else {
                self.report(
                    FindingKind::MissingParameter,
                    &at,
                    None,
                    format!("documented {} parameter `{}` is not in ours", k.0, k.1),
                );
                continue;
            };
            let doc_req = p.get("required").and_then(Value::as_bool).unwrap_or(false);
            let our_req = ours
                .get("required")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if our_req && !doc_req {
                self.report(
                    FindingKind::RequiredStricter,
                    &at,
                    None,
                    "ours requires a parameter the docs leave optional".into(),
                );
            }
            if doc_req && !our_req {
                self.report(
                    FindingKind::RequiredLooser,
                    &at,
                    None,
                    "the docs require a parameter ours leaves optional".into(),
                );
            }
            if let (Some(ds), Some(os)) = (p.get("schema"), ours.get("schema")) {
                self.compare_schema(&at, ds, os, Direction::Request);
                if let Some(example) = p.get("example") {
                    self.check_example(&at, example, os);
                }
            }
        }
        for (k, _) in our_map {
            if !seen.contains(&k) {
                let at = format!("{label} {} parameter {}", k.0, k.1);
                self.report(
                    FindingKind::ExtraParameter,
                    &at,
                    None,
                    format!(
                        "ours has {} parameter `{}`, the documented file does not",
                        k.0, k.1
                    ),
                );
            }
        }
    }

    /// Compares a request body or a response (objects with `content`).
    fn compare_content(&mut self, at: &str, doc: &Value, ours: &Value, dir: Direction) {
        let Some(content) = doc.get("content").and_then(Value::as_object) else {
            return;
        };
        for (media_type, doc_media) in content {
            let Some(our_media) = ours.get("content").and_then(|c| c.get(media_type)) else {
                self.report(
                    FindingKind::MissingContentType,
                    at,
                    Some(media_type.clone()),
                    format!("documented content type `{media_type}` is not in ours"),
                );
                continue;
            };
            let our_schema = our_media.get("schema").unwrap_or(&Value::Bool(true));
            if let Some(doc_schema) = doc_media.get("schema") {
                self.compare_schema(at, doc_schema, our_schema, dir);
            }
            let mut examples = Vec::new();
            if let Some(example) = doc_media.get("example") {
                examples.push(example.clone());
            }
            if let Some(named) = doc_media.get("examples").and_then(Value::as_object) {
                for example in named.values() {
                    let (example, _) = resolve(self.doc, example);
                    if let Some(value) = example.get("value") {
                        examples.push(value.clone());
                    }
                }
            }
            for example in &examples {
                self.check_example(at, example, our_schema);
            }
            // A server-sent event stream: each `data:` line of a documented
            // example must be a valid event of ours (`x-event-schema`).
            if let Some(event_schema) = our_media.get("x-event-schema") {
                let at = format!("{at} event");
                for text in examples.iter().filter_map(Value::as_str) {
                    for line in text.lines() {
                        let Some(data) = line.strip_prefix("data:") else {
                            continue;
                        };
                        match serde_json::from_str::<Value>(data.trim()) {
                            Ok(event) => self.check_example(&at, &event, event_schema),
                            Err(e) => self.report(
                                FindingKind::ExampleInvalid,
                                &at,
                                Some(data.trim().to_owned()),
                                format!("documented event data is not JSON: {e}"),
                            ),
                        }
                    }
                }
            }
        }
    }

    /// Validates `example` against our schema and decodes it into our type.
    fn check_example(&mut self, at: &str, example: &Value, our_schema: &Value) {
        self.examples_checked += 1;
        let mut root = match resolve(self.ours, our_schema).0 {
            Value::Object(map) => Value::Object(map.clone()),
            Value::Bool(b) => Value::Bool(*b),
            _ => return,
        };
        if let (Value::Object(map), Some(components)) = (&mut root, self.ours.get("components")) {
            map.insert("components".into(), components.clone());
            map.remove("$id");
        }
        match jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&root)
        {
            Ok(validator) => {
                let errors: Vec<String> = validator
                    .iter_errors(example)
                    .take(3)
                    .map(|e| format!("{} (at `{}`)", e, e.instance_path))
                    .collect();
                if !errors.is_empty() {
                    self.report(
                        FindingKind::ExampleInvalid,
                        at,
                        Some(short(example)),
                        format!(
                            "documented example does not validate against our schema: {}",
                            errors.join("; ")
                        ),
                    );
                }
            }
            Err(e) => self.report(
                FindingKind::ExampleInvalid,
                at,
                Some(short(example)),
                format!("our schema does not compile, cannot validate the example: {e}"),
            ),
        }
        let (_, name) = resolve(self.ours, our_schema);
        if let Some(name) = name
            && let Some(Err(reason)) = self.decoder.decode(&name, example)
        {
            self.report(
                FindingKind::ExampleDecode,
                at,
                Some(short(example)),
                format!("documented example does not decode into `{name}`: {reason}"),
            );
        }
    }

    fn compare_schema(&mut self, at: &str, doc: &Value, ours: &Value, dir: Direction) {
        let dv = view(self.doc, doc);
        let ov = view(self.ours, ours);
        // Shared components are reported once, under our component's name.
        let at = match &ov.ref_name {
            Some(name) => name.clone(),
            None => at.to_owned(),
        };
        let visit_key = (
            format!("{}|{}", dv.ref_name.as_deref().unwrap_or(""), doc),
            format!("{}|{}", ov.ref_name.as_deref().unwrap_or(""), ours),
            dir,
        );
        if !self.visited.insert(visit_key) {
            return;
        }
        self.compare_views(&at, &dv, &ov, ours, dir);
    }

    fn compare_views(&mut self, at: &str, dv: &View, ov: &View, ours: &Value, dir: Direction) {
        // Types.
        if !dv.types.is_empty() && !ov.types.is_empty() {
            let accepts = |set: &BTreeSet<String>, t: &str| {
                set.contains(t) || (t == "integer" && set.contains("number"))
            };
            let bad: Vec<&String> = match dir {
                // Everything the server sends must decode.
                Direction::Response => dv.types.iter().filter(|t| !accepts(&ov.types, t)).collect(),
                // Everything we send must be accepted.
                Direction::Request => ov.types.iter().filter(|t| !accepts(&dv.types, t)).collect(),
            };
            if !bad.is_empty() {
                self.report(
                    FindingKind::TypeMismatch,
                    at,
                    None,
                    format!(
                        "type changed: documented {:?}, ours {:?}",
                        dv.types, ov.types
                    ),
                );
            }
        }
        // Formats (string formats only; numeric formats are Rust width hints).
        if let (Some(df), Some(of)) = (&dv.format, &ov.format)
            && df != of
            && dv.types.contains("string")
        {
            self.report(
                FindingKind::FormatMismatch,
                at,
                None,
                format!("format changed: documented `{df}`, ours `{of}`"),
            );
        }
        // Enums.
        if dv.has_enum {
            for value in &dv.known {
                if !ov.known.contains(value) {
                    self.report(
                        FindingKind::UnknownEnumValue,
                        at,
                        Some(value.clone()),
                        format!("documented enum value {value:?} is not one of our known values"),
                    );
                }
            }
            for value in &ov.known {
                if !dv.known.contains(value) {
                    self.report(
                        FindingKind::ExtraEnumValue,
                        at,
                        Some(value.clone()),
                        format!(
                            "ours knows enum value {value:?}, the documented file does not list it"
                        ),
                    );
                }
            }
            if dir == Direction::Response && ov.has_enum && !ov.open_string {
                self.report(
                    FindingKind::ClosedEnum,
                    at,
                    None,
                    "our enum rejects values it does not know; the server may add values".into(),
                );
            }
        }
        // Properties.
        let doc_has_props = !dv.properties.is_empty();
        for (name, doc_schemas) in &dv.properties {
            let prop_at = format!("{at}.{name}");
            let doc_req = dv.required.contains(name);
            let Some(our_schemas) = ov.properties.get(name) else {
                if !(ov.properties.is_empty() && ov.additional && ov.types.contains("object")) {
                    self.report(
                        FindingKind::MissingProperty,
                        &prop_at,
                        None,
                        format!(
                            "documented {} property `{name}` is missing in ours",
                            if doc_req { "required" } else { "optional" }
                        ),
                    );
                }
                continue;
            };
            let our_req = ov.required.contains(name);
            if our_req && !doc_req {
                self.report(
                    FindingKind::RequiredStricter,
                    &prop_at,
                    None,
                    format!("ours requires `{name}`, the docs leave it optional"),
                );
            }
            if dir == Direction::Request && doc_req && !our_req {
                self.report(
                    FindingKind::RequiredLooser,
                    &prop_at,
                    None,
                    format!("the docs require `{name}` in the request, ours leaves it optional"),
                );
            }
            let doc_schema = union_schema(doc_schemas);
            let our_schema = union_schema(our_schemas);
            let pv = view(self.ours, &our_schema);
            if pv.ref_name.is_some() {
                self.compare_schema(&prop_at, &doc_schema, &our_schema, dir);
            } else {
                let dpv = view(self.doc, &doc_schema);
                self.compare_views(&prop_at, &dpv, &pv, &our_schema, dir);
            }
        }
        if doc_has_props {
            for name in ov.properties.keys() {
                if !dv.properties.contains_key(name) {
                    self.report(
                        FindingKind::ExtraProperty,
                        &format!("{at}.{name}"),
                        None,
                        format!("ours has property `{name}`, the documented file does not"),
                    );
                }
            }
        }
        // Array items.
        if !dv.items.is_empty() {
            if ov.items.is_empty() {
                if !ov.types.is_empty() && !ov.types.contains("array") {
                    // Reported as a type mismatch above.
                } else if ov.types.contains("array") {
                    // Ours has unconstrained items: accepts anything.
                }
            } else {
                let d = union_schema(&dv.items);
                let o = union_schema(&ov.items);
                self.compare_schema(&format!("{at}[]"), &d, &o, dir);
            }
        }
        // Examples written inside the schema.
        for example in &dv.example_values {
            self.check_example(at, example, ours);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_path_erases_parameter_names() {
        assert_eq!(normalize_path("/jobs/{job_id}/stream"), "/jobs/{}/stream");
        assert_eq!(normalize_path("/video"), "/video");
    }

    #[test]
    fn open_enum_view_lists_known_values_and_stays_open() {
        let root = serde_json::json!({});
        let schema = serde_json::json!({"anyOf": [{"enum": ["a", "b"]}, {"type": "string"}]});
        let v = view(&root, &schema);
        assert!(v.open_string);
        assert_eq!(v.known.len(), 2);
    }

    #[test]
    fn option_ref_keeps_properties_and_is_nullable() {
        let root = serde_json::json!({"components": {"schemas": {"X": {
            "type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}}}});
        let schema =
            serde_json::json!({"anyOf": [{"$ref": "#/components/schemas/X"}, {"type": "null"}]});
        let v = view(&root, &schema);
        assert!(v.nullable);
        assert_eq!(v.ref_name.as_deref(), Some("X"));
        assert!(v.properties.contains_key("a"));
    }
}
