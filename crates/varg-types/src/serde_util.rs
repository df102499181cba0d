//! Lenient decoding helpers: the server's examples do not always match its schema.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Decodes an optional string that may arrive as a string, a number, a boolean, or an object
/// carrying `message` (or any other JSON, kept as its JSON text). `null` becomes `None`.
pub(crate) fn lenient_opt_string<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<String>, D::Error> {
    let value = Option::<Value>::deserialize(d)?;
    Ok(value.and_then(value_to_string))
}

pub(crate) fn value_to_string(value: Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Object(ref map) => match map.get("message") {
            Some(Value::String(message)) => Some(message.clone()),
            _ => Some(value.to_string()),
        },
        other @ Value::Array(_) => Some(other.to_string()),
    }
}

/// Decodes an optional non-negative integer that may arrive as an integer, a float with no
/// fraction (`102400.0`) or a numeric string.
pub(crate) fn lenient_opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let value = Option::<Value>::deserialize(d)?;
    Ok(value.and_then(|v| match v {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0 && f.fract() == 0.0 && *f <= u64::MAX as f64)
                .map(|f| f as u64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }))
}

/// Like [`lenient_opt_u64`], defaulting to zero.
pub(crate) fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Ok(lenient_opt_u64(d)?.unwrap_or(0))
}

/// Decodes an optional number that may arrive as a number or a numeric string.
pub(crate) fn lenient_opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let value = Option::<Value>::deserialize(d)?;
    Ok(value.and_then(|v| match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }))
}

/// Decodes an optional bool that may arrive as a bool or as `"true"`/`"false"`.
pub(crate) fn lenient_opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let value = Option::<Value>::deserialize(d)?;
    Ok(value.and_then(|v| match v {
        Value::Bool(b) => Some(b),
        Value::String(s) => match s.as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        _ => None,
    }))
}

/// Like [`lenient_opt_bool`], defaulting to `false`.
pub(crate) fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(lenient_opt_bool(d)?.unwrap_or(false))
}

/// Decodes a string that may be missing or `null` (becomes empty).
pub(crate) fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(lenient_opt_string(d)?.unwrap_or_default())
}
