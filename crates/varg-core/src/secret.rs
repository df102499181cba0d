//! Secrets that must not leak into logs.

use std::fmt;

/// A secret string (the varg API key or a provider key).
///
/// `Debug` and `Display` print `[redacted]`; read the value with [`expose`](Self::expose)
/// only where it is put on the wire.
///
/// ```
/// use varg_core::secret::ApiKey;
///
/// let key = ApiKey::new("varg_live_123");
/// assert_eq!(format!("{key}"), "[redacted]");
/// assert_eq!(format!("{key:?}"), "ApiKey([redacted])");
/// assert_eq!(key.expose(), "varg_live_123");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key. Surrounding whitespace (a trailing newline from a file) is removed.
    pub fn new(key: impl Into<String>) -> Self {
        let key = key.into();
        let trimmed = key.trim();
        if trimmed.len() == key.len() {
            Self(key)
        } else {
            Self(trimmed.to_owned())
        }
    }

    /// The key itself.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the key is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for ApiKey {
    fn from(s: String) -> Self {
        Self::new(s)
    }
}

impl From<&str> for ApiKey {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacted_everywhere() {
        let key = ApiKey::new(" varg_secret_value\n");
        assert_eq!(key.expose(), "varg_secret_value");
        let shown = format!("{key} {key:?} {key:#?} {:?}", Some(key.clone()));
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("[redacted]"));
        assert!(!ApiKey::from("x").is_empty());
    }
}
