//! Account endpoints: `GET /balance`, `GET /usage`, `GET /me`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::common::Capability;
use super::validate::{Rule, Validate, ValidationError, is_date};
use crate::serde_util::{lenient_opt_bool, lenient_opt_f64, lenient_opt_string};

/// The largest integer an `f64` holds exactly (2^53).
const EXACT_INTEGER_LIMIT: f64 = 9_007_199_254_740_992.0;

/// Writes an amount of cents as the gateway does: a whole amount as a JSON integer
/// (`99790`, not `99790.0`), a fractional one as a number with its fraction. Decoding takes
/// both, so a value survives a round trip unchanged.
fn whole_as_integer<S: serde::Serializer>(value: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) if v.is_finite() && v.fract() == 0.0 && v.abs() <= EXACT_INTEGER_LIMIT => {
            // Exact: a whole value within 2^53 converts to i64 without loss.
            s.serialize_i64(*v as i64)
        }
        Some(v) => s.serialize_f64(*v),
        None => s.serialize_none(),
    }
}

/// Answer of `GET /balance`. 1 credit = 1 cent.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Balance {
    /// Balance in cents (credits).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_opt_f64",
        serialize_with = "whole_as_integer"
    )]
    pub balance_cents: Option<f64>,
    /// Currency, e.g. `usd` (some examples omit it).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_opt_string"
    )]
    pub currency: Option<String>,
    /// Fields this version does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Answer of `GET /me`. Note the camelCase `userId` on the wire.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Me {
    /// User id, e.g. `user_abc123`.
    #[serde(
        rename = "userId",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_opt_string"
    )]
    pub user_id: Option<String>,
    /// Email address.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_opt_string"
    )]
    #[cfg_attr(feature = "schema", schemars(extend("format" = "email")))]
    pub email: Option<String>,
    /// Fields this version does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Query of `GET /usage`: an inclusive date range, both ends optional.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct UsageQuery {
    /// First day, `YYYY-MM-DD`, inclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(extend("format" = "date")))]
    pub from: Option<String>,
    /// Last day, `YYYY-MM-DD`, inclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(extend("format" = "date")))]
    pub to: Option<String>,
}

impl UsageQuery {
    /// All usage.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `from`.
    pub fn from(mut self, date: impl Into<String>) -> Self {
        self.from = Some(date.into());
        self
    }

    /// Sets `to`.
    pub fn to(mut self, date: impl Into<String>) -> Self {
        self.to = Some(date.into());
        self
    }

    /// The query pairs to put in the URL, in order, `None` omitted.
    pub fn pairs(&self) -> Vec<(&'static str, &str)> {
        let mut pairs = Vec::new();
        if let Some(from) = &self.from {
            pairs.push(("from", from.as_str()));
        }
        if let Some(to) = &self.to {
            pairs.push(("to", to.as_str()));
        }
        pairs
    }
}

impl Validate for UsageQuery {
    fn validate(&self) -> Result<(), ValidationError> {
        for (field, value) in [("from", &self.from), ("to", &self.to)] {
            if let Some(value) = value
                && !is_date(value)
            {
                return Err(ValidationError::new(
                    field,
                    Rule::DateFormat,
                    format!("must be a date written YYYY-MM-DD (got {value:?})"),
                ));
            }
        }
        if let (Some(from), Some(to)) = (&self.from, &self.to)
            && from > to
        {
            return Err(ValidationError::new(
                "to",
                Rule::Range,
                format!("must not be before from ({from})"),
            ));
        }
        Ok(())
    }
}

/// Answer of `GET /usage`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct UsageResponse {
    /// One record per job.
    #[serde(default)]
    pub usage: Vec<UsageRecord>,
    /// Total cost in cents for the period.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_opt_f64",
        serialize_with = "whole_as_integer"
    )]
    pub total_cents: Option<f64>,
    /// Fields this version does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One billed (or cached) job.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct UsageRecord {
    /// The job.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_opt_string"
    )]
    pub job_id: Option<String>,
    /// Resolved model, e.g. `fal:kling-v2.5`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_opt_string"
    )]
    pub model: Option<String>,
    /// What kind of job it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capability: Option<Capability>,
    /// Cost in cents.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_opt_f64",
        serialize_with = "whole_as_integer"
    )]
    pub cost_cents: Option<f64>,
    /// `true` if served from the cache (free).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_opt_bool"
    )]
    pub cache_hit: Option<bool>,
    /// When the job was created.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_opt_string"
    )]
    #[cfg_attr(feature = "schema", schemars(extend("format" = "date-time")))]
    pub created_at: Option<String>,
    /// Fields this version does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn whole_amounts_stay_integers_and_fractions_stay_fractions() {
        let balance: Balance =
            serde_json::from_value(json!({"balance_cents": 99790, "currency": "usd"})).unwrap();
        assert_eq!(balance.balance_cents, Some(99790.0));
        assert_eq!(
            serde_json::to_string(&balance).unwrap(),
            r#"{"balance_cents":99790,"currency":"usd"}"#
        );
        for (wire, written) in [
            (json!(12.5), "12.5"),
            (json!(-3), "-3"),
            (json!("250"), "250"),
            (json!(0), "0"),
            (json!(1e300), "1e+300"),
        ] {
            let b: Balance = serde_json::from_value(json!({ "balance_cents": wire })).unwrap();
            let out = serde_json::to_value(&b).unwrap();
            assert_eq!(out["balance_cents"].to_string(), written, "{wire}");
        }
        let usage: UsageResponse = serde_json::from_value(json!({
            "usage": [{"job_id": "job_1", "cost_cents": 150}, {"job_id": "job_2", "cost_cents": 0.5}],
            "total_cents": 150.5
        }))
        .unwrap();
        assert_eq!(
            serde_json::to_value(&usage).unwrap(),
            json!({
                "usage": [{"job_id": "job_1", "cost_cents": 150}, {"job_id": "job_2", "cost_cents": 0.5}],
                "total_cents": 150.5
            })
        );
        assert!(serde_json::to_value(&usage).unwrap()["usage"][0]["cost_cents"].is_i64());
    }
}
