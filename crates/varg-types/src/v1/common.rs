//! Building blocks shared by several request bodies.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Free-form options passed to the provider as they are (`provider_options`).
pub type ProviderOptions = Map<String, Value>;

open_enum! {
    /// The kind of work a job does, as reported in usage records.
    ///
    /// v1 documents five values; media-processing jobs may report others, which decode as
    /// [`Capability::Unknown`].
    pub enum Capability {
        /// `POST /video`.
        Video => "video",
        /// `POST /image`.
        Image => "image",
        /// `POST /speech`.
        Speech => "speech",
        /// `POST /music`.
        Music => "music",
        /// `POST /transcription`.
        Transcription => "transcription",
    }
}

/// One input file of a generation request (`files[]`): a URL the gateway can fetch, for
/// example one returned by `POST /files`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct FileRef {
    /// Absolute `http(s)` URL of the file.
    #[cfg_attr(feature = "schema", schemars(extend("format" = "uri")))]
    pub url: String,
    /// MIME type of the file. Not in the v1 schema; the official SDK sends it for video inputs,
    /// and the gateway otherwise detects the type from the file extension. Omitted when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
}

impl FileRef {
    /// A file given by URL.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            media_type: None,
        }
    }

    /// Sets the MIME type hint.
    pub fn with_media_type(mut self, media_type: impl Into<String>) -> Self {
        self.media_type = Some(media_type.into());
        self
    }
}

impl From<&str> for FileRef {
    fn from(url: &str) -> Self {
        Self::new(url)
    }
}

impl From<String> for FileRef {
    fn from(url: String) -> Self {
        Self::new(url)
    }
}

string_newtype! {
    /// An output aspect ratio such as `16:9`.
    ///
    /// The documented values are the constants below; any `W:H` with positive integers is
    /// accepted by [`AspectRatio::dimensions`] and by validation, and any string at all decodes.
    pub struct AspectRatio;
}

impl AspectRatio {
    /// `1:1` (the image default).
    pub const SQUARE: AspectRatio = AspectRatio::from_static("1:1");
    /// `16:9`.
    pub const LANDSCAPE_16_9: AspectRatio = AspectRatio::from_static("16:9");
    /// `9:16`.
    pub const PORTRAIT_9_16: AspectRatio = AspectRatio::from_static("9:16");
    /// `4:3`.
    pub const LANDSCAPE_4_3: AspectRatio = AspectRatio::from_static("4:3");
    /// `3:4`.
    pub const PORTRAIT_3_4: AspectRatio = AspectRatio::from_static("3:4");
    /// Every documented value.
    pub const DOCUMENTED: [AspectRatio; 5] = [
        Self::SQUARE,
        Self::LANDSCAPE_16_9,
        Self::PORTRAIT_9_16,
        Self::LANDSCAPE_4_3,
        Self::PORTRAIT_3_4,
    ];

    /// Parses `W:H` into its two positive integers; `None` if it is not of that form.
    ///
    /// ```
    /// # use varg_types::AspectRatio;
    /// assert_eq!(AspectRatio::LANDSCAPE_16_9.dimensions(), Some((16, 9)));
    /// assert_eq!(AspectRatio::new("21:9").dimensions(), Some((21, 9)));
    /// assert_eq!(AspectRatio::new("wide").dimensions(), None);
    /// assert_eq!(AspectRatio::new("0:1").dimensions(), None);
    /// ```
    pub fn dimensions(&self) -> Option<(u32, u32)> {
        let (w, h) = self.as_str().split_once(':')?;
        let parse = |s: &str| -> Option<u32> {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            s.parse().ok().filter(|n| *n > 0)
        };
        Some((parse(w)?, parse(h)?))
    }
}

/// `true` for an absolute `http://` or `https://` URL with a non-empty host and no whitespace.
///
/// ```
/// # use varg_types::common::is_http_url;
/// assert!(is_http_url("https://s3.varg.ai/u/user_1/a.jpg"));
/// assert!(!is_http_url("ftp://example.com/a"));
/// assert!(!is_http_url("/relative/path.png"));
/// assert!(!is_http_url("https:///nohost"));
/// ```
pub fn is_http_url(url: &str) -> bool {
    let rest = if let Some(rest) = url.strip_prefix("https://") {
        rest
    } else if let Some(rest) = url.strip_prefix("http://") {
        rest
    } else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or("");
    !host.is_empty()
        && !host.starts_with(':')
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}
