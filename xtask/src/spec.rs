//! Loading OpenAPI documents (YAML or JSON) as `serde_json::Value`.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::{Map, Number, Value};

/// Parses an OpenAPI document from text. JSON is tried first, then YAML.
///
/// YAML mapping keys that are not strings (for example an unquoted `200:`
/// status code) are turned into their string form, as OpenAPI expects.
pub fn parse_document(text: &str) -> Result<Value> {
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        return Ok(value);
    }
    let yaml: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(text).context("the document is neither JSON nor YAML")?;
    yaml_to_json(yaml)
}

/// Reads and parses an OpenAPI document from a file.
pub fn load_document(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse_document(&text).with_context(|| format!("cannot parse {}", path.display()))
}

fn yaml_to_json(yaml: serde_yaml_ng::Value) -> Result<Value> {
    use serde_yaml_ng::Value as Y;
    Ok(match yaml {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Number(i.into())
            } else if let Some(u) = n.as_u64() {
                Value::Number(u.into())
            } else if let Some(f) = n.as_f64() {
                match Number::from_f64(f) {
                    Some(num) => Value::Number(num),
                    None => bail!("the number {f} cannot be represented in JSON"),
                }
            } else {
                bail!("unsupported YAML number {n}")
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(
            items
                .into_iter()
                .map(yaml_to_json)
                .collect::<Result<Vec<_>>>()?,
        ),
        Y::Mapping(map) => {
            let mut out = Map::new();
            for (key, value) in map {
                let key = match key {
                    Y::String(s) => s,
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    other => bail!("unsupported YAML mapping key {other:?}"),
                };
                out.insert(key, yaml_to_json(value)?);
            }
            Value::Object(out)
        }
        Y::Tagged(tagged) => yaml_to_json(tagged.value)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_numeric_keys_become_strings() {
        let doc =
            parse_document("responses:\n  200:\n    description: ok\n  \"202\": {}\n").unwrap();
        assert!(doc["responses"].get("200").is_some());
        assert!(doc["responses"].get("202").is_some());
    }

    #[test]
    fn json_is_accepted() {
        let doc = parse_document(r#"{"a": [1, 2.5, "x"]}"#).unwrap();
        assert_eq!(doc["a"][1], serde_json::json!(2.5));
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse_document("a: [unclosed").is_err());
    }
}
