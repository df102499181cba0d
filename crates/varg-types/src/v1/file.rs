//! `POST /files`: uploads for use in `files[].url`.

use serde::{Deserialize, Serialize};

use super::validate::{Rule, ValidationError};
use crate::serde_util::{lenient_bool, lenient_string, lenient_u64};

/// The largest upload the v1 gateway accepts: 50 MB (50 × 1024 × 1024 bytes). Larger bodies
/// get 413.
pub const MAX_UPLOAD_BYTES: u64 = 50 * 1024 * 1024;

/// Checks an upload's size against [`MAX_UPLOAD_BYTES`] before sending it.
///
/// ```
/// use varg_types::{validate_upload_size, MAX_UPLOAD_BYTES};
/// assert!(validate_upload_size(MAX_UPLOAD_BYTES).is_ok());
/// assert_eq!(validate_upload_size(MAX_UPLOAD_BYTES + 1).unwrap_err().field, "body");
/// ```
pub fn validate_upload_size(len: u64) -> Result<(), ValidationError> {
    if len <= MAX_UPLOAD_BYTES {
        Ok(())
    } else {
        Err(ValidationError::new(
            "body",
            Rule::MaxUploadSize,
            format!("uploads are limited to {MAX_UPLOAD_BYTES} bytes (50 MB); this one has {len}"),
        ))
    }
}

/// Answer of `POST /files`.
///
/// Every field is documented as required; missing ones decode as empty/zero/false so that
/// one missing field does not lose the URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct FileUploadResponse {
    /// Unique file identifier, e.g. `file_abc123`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub file_id: String,
    /// Stable URL of the file, for `files[].url`.
    #[serde(default, deserialize_with = "lenient_string")]
    #[cfg_attr(feature = "schema", schemars(extend("format" = "uri")))]
    pub url: String,
    /// Content hash, `sha256:<hex>`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub hash: String,
    /// Size in bytes.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub size: u64,
    /// Detected MIME type.
    #[serde(default, deserialize_with = "lenient_string")]
    pub media_type: String,
    /// `true` if a file with the same hash already existed and was returned without storing
    /// the body again.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub deduplicated: bool,
}
