//! Explicit, pure validation of request bodies against the documented rules.
//!
//! Decoding never applies these rules: a server that shares these types must accept whatever
//! the gateway accepts. Clients call [`Validate::validate`] before sending, so that a request
//! the gateway would reject fails early with an error that names the field and the rule.

use std::fmt;

use super::common::{FileRef, is_http_url};

/// The rule a value broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rule {
    /// The field is required and was empty.
    NotEmpty,
    /// The value must be an absolute `http://` or `https://` URL.
    HttpUrl,
    /// The aspect ratio must be `W:H` with positive whole numbers.
    AspectRatioFormat,
    /// The duration is not allowed for this model.
    Duration,
    /// The number of input files is not allowed for this model.
    FileCount,
    /// The number is outside its documented range.
    Range,
    /// Two fields that cannot be combined were both set.
    MutuallyExclusive,
    /// At least one of several fields must be set.
    AtLeastOne,
    /// An upload is larger than the gateway accepts.
    MaxUploadSize,
    /// A date must be `YYYY-MM-DD`.
    DateFormat,
}

impl Rule {
    /// A short, stable name for the rule (`not_empty`, `http_url`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::NotEmpty => "not_empty",
            Rule::HttpUrl => "http_url",
            Rule::AspectRatioFormat => "aspect_ratio_format",
            Rule::Duration => "duration",
            Rule::FileCount => "file_count",
            Rule::Range => "range",
            Rule::MutuallyExclusive => "mutually_exclusive",
            Rule::AtLeastOne => "at_least_one",
            Rule::MaxUploadSize => "max_upload_size",
            Rule::DateFormat => "date_format",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request that breaks a documented rule.
///
/// `Display` reads like `files[0].url: must be an absolute http(s) URL (got "a.png")`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// The JSON path of the field at fault, e.g. `prompt`, `files[1].url`, `duration`.
    pub field: String,
    /// The rule it broke.
    pub rule: Rule,
    /// What the rule asks for, in words.
    pub message: String,
}

impl ValidationError {
    /// Builds an error.
    pub fn new(field: impl Into<String>, rule: Rule, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            rule,
            message: message.into(),
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for ValidationError {}

/// Checks a request body against the documented rules.
pub trait Validate {
    /// `Ok(())` if the value follows every documented rule, or the first rule it breaks.
    fn validate(&self) -> Result<(), ValidationError>;
}

pub(crate) fn not_empty(field: &str, value: &str) -> Result<(), ValidationError> {
    if value.trim().is_empty() {
        Err(ValidationError::new(
            field,
            Rule::NotEmpty,
            "must not be empty",
        ))
    } else {
        Ok(())
    }
}

pub(crate) fn http_url(field: &str, value: &str) -> Result<(), ValidationError> {
    if is_http_url(value) {
        Ok(())
    } else {
        Err(ValidationError::new(
            field,
            Rule::HttpUrl,
            format!("must be an absolute http(s) URL (got {value:?})"),
        ))
    }
}

pub(crate) fn file_urls(files: &[FileRef]) -> Result<(), ValidationError> {
    for (i, file) in files.iter().enumerate() {
        http_url(&format!("files[{i}].url"), &file.url)?;
    }
    Ok(())
}

pub(crate) fn finite_at_least(field: &str, value: f64, min: f64) -> Result<(), ValidationError> {
    if value.is_finite() && value >= min {
        Ok(())
    } else {
        Err(ValidationError::new(
            field,
            Rule::Range,
            format!("must be a number >= {min} (got {value})"),
        ))
    }
}

pub(crate) fn positive(field: &str, value: f64) -> Result<(), ValidationError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(ValidationError::new(
            field,
            Rule::Range,
            format!("must be a positive number (got {value})"),
        ))
    }
}

/// `true` for a calendar date written `YYYY-MM-DD` (months 1-12, days valid for the month).
pub(crate) fn is_date(value: &str) -> bool {
    let bytes = value.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return false;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = &value[range];
        if part.bytes().all(|b| b.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    let (Some(year), Some(month), Some(day)) = (digits(0..4), digits(5..7), digits(8..10)) else {
        return false;
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days_in_month).contains(&day)
}
