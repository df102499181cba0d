//! The error body the gateway sends with 4xx and 5xx answers.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::serde_util::value_to_string;

open_enum! {
    /// The documented error codes (the `error` field of the flat body).
    pub enum ErrorCode {
        /// 400: the body is invalid; `field` names the culprit.
        ValidationError => "ValidationError",
        /// 401: missing or invalid API key.
        AuthError => "AuthError",
        /// 402: balance too low.
        InsufficientBalanceError => "InsufficientBalanceError",
        /// 404: job or file not found.
        NotFoundError => "NotFoundError",
        /// 429: too many requests.
        RateLimitError => "RateLimitError",
        /// 500: server error.
        InternalError => "InternalError",
        /// 502: the upstream provider failed; `provider` names it.
        ProviderError => "ProviderError",
    }
}

impl ErrorCode {
    /// The HTTP status the documentation pairs with this code.
    pub fn documented_status(&self) -> Option<u16> {
        Some(match self {
            ErrorCode::ValidationError => 400,
            ErrorCode::AuthError => 401,
            ErrorCode::InsufficientBalanceError => 402,
            ErrorCode::NotFoundError => 404,
            ErrorCode::RateLimitError => 429,
            ErrorCode::InternalError => 500,
            ErrorCode::ProviderError => 502,
            ErrorCode::Unknown(_) => return None,
        })
    }
}

/// An error body, decoded from either shape the gateway has used:
///
/// - flat (the v1 schema): `{"error": "ValidationError", "message": "...", "field": "prompt",
///   "provider": "fal", "statusCode": 400}`;
/// - nested: `{"error": {"code": "...", "message": "...", "details": ...}}`.
///
/// Every field is optional (a 413 may carry no code at all). It always serialises in the flat
/// shape.
///
/// ```
/// use varg_types::{ErrorBody, ErrorCode};
/// let flat: ErrorBody = serde_json::from_str(
///     r#"{"error":"ValidationError","message":"prompt is required","field":"prompt","statusCode":400}"#,
/// ).unwrap();
/// assert_eq!(flat.code, Some(ErrorCode::ValidationError));
/// assert_eq!(flat.field.as_deref(), Some("prompt"));
///
/// let nested: ErrorBody = serde_json::from_str(r#"{"error":{"message":"Invalid API key","code":"invalid_key"}}"#).unwrap();
/// assert_eq!(nested.message.as_deref(), Some("Invalid API key"));
/// assert_eq!(nested.code, Some(ErrorCode::Unknown("invalid_key".into())));
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ErrorBody {
    /// The error code.
    pub code: Option<ErrorCode>,
    /// Human-readable description.
    pub message: Option<String>,
    /// The request field at fault.
    pub field: Option<String>,
    /// The upstream provider at fault.
    pub provider: Option<String>,
    /// The HTTP status, repeated in the body (`statusCode`).
    pub status_code: Option<u16>,
    /// Nested-shape `details`, if any.
    pub details: Option<Value>,
    /// Fields this version does not know, kept as they came.
    pub extra: Map<String, Value>,
}

impl ErrorBody {
    /// A flat body with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code: Some(code),
            message: Some(message.into()),
            ..Self::default()
        }
    }

    /// Sets `field`.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// Sets `provider`.
    pub fn with_provider(mut self, provider: impl Into<String>) -> Self {
        self.provider = Some(provider.into());
        self
    }

    /// Sets `statusCode`.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status_code = Some(status);
        self
    }

    /// Decodes an error body from any JSON value; `None` if it has neither a code nor a
    /// message (it is then not an error body this SDK understands).
    pub fn from_value(value: Value) -> Option<Self> {
        let Value::Object(mut map) = value else {
            return None;
        };
        let mut body = ErrorBody::default();
        match map.remove("error") {
            Some(Value::Object(mut inner)) => {
                body.code = take_string(&mut inner, "code")
                    .or_else(|| take_string(&mut inner, "type"))
                    .map(|c| ErrorCode::from_wire(&c));
                body.message = take_string(&mut inner, "message");
                body.field = take_string(&mut inner, "field");
                body.provider = take_string(&mut inner, "provider");
                body.status_code = take_status(&mut inner, "statusCode")
                    .or_else(|| take_status(&mut inner, "status"));
                body.details = inner.remove("details").filter(|d| !d.is_null());
                for (k, v) in inner {
                    body.extra.insert(format!("error.{k}"), v);
                }
            }
            Some(other) => body.code = value_to_string(other).map(|c| ErrorCode::from_wire(&c)),
            None => {}
        }
        if body.code.is_none() {
            body.code = take_string(&mut map, "code").map(|c| ErrorCode::from_wire(&c));
        }
        if body.message.is_none() {
            body.message = take_string(&mut map, "message");
        }
        if body.field.is_none() {
            body.field = take_string(&mut map, "field");
        }
        if body.provider.is_none() {
            body.provider = take_string(&mut map, "provider");
        }
        if body.status_code.is_none() {
            body.status_code = take_status(&mut map, "statusCode");
        }
        if body.details.is_none() {
            body.details = map.remove("details").filter(|d| !d.is_null());
        }
        body.extra.extend(map);
        if body.code.is_none() && body.message.is_none() {
            return None;
        }
        Some(body)
    }
}

fn take_string(map: &mut Map<String, Value>, key: &str) -> Option<String> {
    map.remove(key).and_then(value_to_string)
}

fn take_status(map: &mut Map<String, Value>, key: &str) -> Option<u16> {
    match map.remove(key)? {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().map(|f| f as u64))
            .and_then(|v| u16::try_from(v).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl Serialize for ErrorBody {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = Map::new();
        if let Some(code) = &self.code {
            map.insert("error".into(), Value::String(code.as_str().to_owned()));
        }
        if let Some(message) = &self.message {
            map.insert("message".into(), Value::String(message.clone()));
        }
        if let Some(field) = &self.field {
            map.insert("field".into(), Value::String(field.clone()));
        }
        if let Some(provider) = &self.provider {
            map.insert("provider".into(), Value::String(provider.clone()));
        }
        if let Some(status) = self.status_code {
            map.insert("statusCode".into(), Value::from(status));
        }
        if let Some(details) = &self.details {
            map.insert("details".into(), details.clone());
        }
        for (k, v) in &self.extra {
            map.entry(k.clone()).or_insert_with(|| v.clone());
        }
        map.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ErrorBody {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Self::from_value(value).ok_or_else(|| {
            serde::de::Error::custom("not an error body: no error code and no message")
        })
    }
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for ErrorBody {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ErrorBody".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Error body. Sent flat; the nested form {\"error\": {\"code\", \"message\"}} also decodes.",
            "type": "object",
            "properties": {
                "error": {
                    "description": "Error code (flat form) or an object with code and message (nested form).",
                    "anyOf": [
                        {
                            "anyOf": [
                                { "type": "string", "enum": ErrorCode::KNOWN },
                                { "type": "string" }
                            ],
                            "x-known-values": ErrorCode::KNOWN
                        },
                        {
                            "type": "object",
                            "properties": {
                                "code": { "type": "string" },
                                "message": { "type": "string" },
                                "details": {}
                            }
                        }
                    ]
                },
                "message": { "type": "string" },
                "field": { "type": "string" },
                "provider": { "type": "string" },
                "statusCode": { "type": "number" },
                "details": {}
            }
        })
    }
}
