//! Media processing (`/ffmpeg`, `/ffmpeg/trim`, `/ffmpeg/resize`, `/ffmpeg/slice`,
//! `/ffmpeg/probe`). These endpoints come from the newer documentation and take no model.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::validate::{self, Rule, Validate, ValidationError};
use crate::serde_util::{lenient_opt_f64, lenient_opt_string, lenient_opt_u64};

/// `output_files` of [`FfmpegRequest`]: a label-to-file-name map, or the literal
/// `"OUTPUT_FOLDER"` (every file the command writes is returned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputFiles {
    /// `{"out_1": "output.mp4", ...}`.
    Named(BTreeMap<String, String>),
    /// The string `"OUTPUT_FOLDER"`.
    OutputFolder,
}

impl OutputFiles {
    /// The wire string of [`OutputFiles::OutputFolder`].
    pub const OUTPUT_FOLDER: &'static str = "OUTPUT_FOLDER";
}

impl Serialize for OutputFiles {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            OutputFiles::Named(map) => map.serialize(serializer),
            OutputFiles::OutputFolder => serializer.serialize_str(Self::OUTPUT_FOLDER),
        }
    }
}

impl<'de> Deserialize<'de> for OutputFiles {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Named(BTreeMap<String, String>),
            Text(String),
        }
        match Wire::deserialize(deserializer)? {
            Wire::Named(map) => Ok(OutputFiles::Named(map)),
            Wire::Text(text) if text == Self::OUTPUT_FOLDER => Ok(OutputFiles::OutputFolder),
            Wire::Text(text) => Err(serde::de::Error::custom(format!(
                "output_files must be an object or \"OUTPUT_FOLDER\", got {text:?}"
            ))),
        }
    }
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for OutputFiles {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "OutputFiles".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Label-to-file-name map, or the string OUTPUT_FOLDER.",
            "anyOf": [
                { "type": "object", "additionalProperties": { "type": "string" } },
                { "type": "string", "const": "OUTPUT_FOLDER" }
            ]
        })
    }
}

/// Body of `POST /ffmpeg`: an ffmpeg command with `{{in_N}}` / `{{out_N}}` placeholders.
///
/// ```
/// use varg_types::{FfmpegRequest, Validate};
/// let concat = FfmpegRequest::new("-i {{in_1}} -i {{in_2}} -filter_complex concat=n=2:v=1:a=1 {{out_1}}")
///     .input_file("in_1", "https://s3.varg.ai/u/a.mp4")
///     .input_file("in_2", "https://s3.varg.ai/u/b.mp4");
/// assert!(concat.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct FfmpegRequest {
    /// ffmpeg arguments with `{{in_N}}` / `{{out_N}}` placeholders.
    pub command: String,
    /// Shorthand for `{{in_1}}`: the command is then wrapped as `-i {{in_1}} <command> {{out_1}}`.
    /// Cannot be combined with `in_1` in `input_files`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(extend("format" = "uri")))]
    pub url: Option<String>,
    /// Label-to-URL map (`in_1`, `in_2`, ...) for multi-input commands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_files: Option<BTreeMap<String, String>>,
    /// Output files; the gateway's default is `{"out_1": "output.mp4"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_files: Option<OutputFiles>,
}

impl FfmpegRequest {
    /// A request with the required `command`.
    pub fn new(command: impl Into<String>) -> Self {
        Self {
            command: command.into(),
            url: None,
            input_files: None,
            output_files: None,
        }
    }

    /// Sets the `url` shorthand input.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// Adds one labelled input file.
    pub fn input_file(mut self, label: impl Into<String>, url: impl Into<String>) -> Self {
        self.input_files
            .get_or_insert_with(BTreeMap::new)
            .insert(label.into(), url.into());
        self
    }

    /// Adds one labelled output file name.
    pub fn output_file(mut self, label: impl Into<String>, file_name: impl Into<String>) -> Self {
        match &mut self.output_files {
            Some(OutputFiles::Named(map)) => {
                map.insert(label.into(), file_name.into());
            }
            _ => {
                self.output_files = Some(OutputFiles::Named(BTreeMap::from([(
                    label.into(),
                    file_name.into(),
                )])));
            }
        }
        self
    }

    /// Returns every file the command writes (`"OUTPUT_FOLDER"`).
    pub fn output_folder(mut self) -> Self {
        self.output_files = Some(OutputFiles::OutputFolder);
        self
    }
}

impl Validate for FfmpegRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        validate::not_empty("command", &self.command)?;
        if let Some(url) = &self.url {
            validate::http_url("url", url)?;
        }
        if let Some(inputs) = &self.input_files {
            for (label, url) in inputs {
                validate::http_url(&format!("input_files.{label}"), url)?;
            }
            if self.url.is_some() && inputs.contains_key("in_1") {
                return Err(ValidationError::new(
                    "url",
                    Rule::MutuallyExclusive,
                    "cannot be combined with input_files.in_1 (url is the shorthand for in_1)",
                ));
            }
        }
        if let Some(OutputFiles::Named(outputs)) = &self.output_files {
            for (label, name) in outputs {
                validate::not_empty(&format!("output_files.{label}"), name)?;
            }
        }
        Ok(())
    }
}

/// Body of `POST /ffmpeg/trim`.
///
/// ```
/// use varg_types::{TrimRequest, Validate};
/// let trim = TrimRequest::new("https://s3.varg.ai/o/job_1.mp4", 2.0).end(7.5);
/// assert!(trim.validate().is_ok());
/// assert!(trim.clone().duration(3.0).validate().is_err(), "end and duration exclude each other");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TrimRequest {
    /// Source video.
    #[cfg_attr(feature = "schema", schemars(extend("format" = "uri")))]
    pub url: String,
    /// Start in seconds (>= 0).
    pub start: f64,
    /// End in seconds (>= 0); cannot be combined with `duration`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<f64>,
    /// Length in seconds (>= 0); cannot be combined with `end`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// `true` re-encodes for frame-accurate cuts; the default `false` cuts on keyframes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precise: Option<bool>,
}

impl TrimRequest {
    /// A request with the required fields.
    pub fn new(url: impl Into<String>, start: f64) -> Self {
        Self {
            url: url.into(),
            start,
            end: None,
            duration: None,
            precise: None,
        }
    }

    /// Sets `end`.
    pub fn end(mut self, end: f64) -> Self {
        self.end = Some(end);
        self
    }

    /// Sets `duration`.
    pub fn duration(mut self, duration: f64) -> Self {
        self.duration = Some(duration);
        self
    }

    /// Sets `precise`.
    pub fn precise(mut self, precise: bool) -> Self {
        self.precise = Some(precise);
        self
    }
}

impl Validate for TrimRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        validate::http_url("url", &self.url)?;
        validate::finite_at_least("start", self.start, 0.0)?;
        if let Some(end) = self.end {
            validate::finite_at_least("end", end, 0.0)?;
        }
        if let Some(duration) = self.duration {
            validate::finite_at_least("duration", duration, 0.0)?;
        }
        if self.end.is_some() && self.duration.is_some() {
            return Err(ValidationError::new(
                "duration",
                Rule::MutuallyExclusive,
                "cannot be combined with end",
            ));
        }
        Ok(())
    }
}

open_enum! {
    /// How [`ResizeRequest`] fits the video into the new size.
    pub enum ResizeFit {
        /// Fill and crop (the default).
        Cover => "cover",
        /// Letterbox with black bars.
        Contain => "contain",
        /// Distort to the exact size.
        Stretch => "stretch",
    }
}

/// Body of `POST /ffmpeg/resize`. At least one of `width` and `height`; the other is derived
/// to keep the aspect ratio.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ResizeRequest {
    /// Source video.
    #[cfg_attr(feature = "schema", schemars(extend("format" = "uri")))]
    pub url: String,
    /// Target width in pixels (>= 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// Target height in pixels (>= 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Fit mode; the gateway's default is `cover`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fit: Option<ResizeFit>,
}

impl ResizeRequest {
    /// A request for `url`; set `width` and/or `height`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            width: None,
            height: None,
            fit: None,
        }
    }

    /// Sets `width`.
    pub fn width(mut self, width: u32) -> Self {
        self.width = Some(width);
        self
    }

    /// Sets `height`.
    pub fn height(mut self, height: u32) -> Self {
        self.height = Some(height);
        self
    }

    /// Sets `fit`.
    pub fn fit(mut self, fit: ResizeFit) -> Self {
        self.fit = Some(fit);
        self
    }
}

impl Validate for ResizeRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        validate::http_url("url", &self.url)?;
        if self.width.is_none() && self.height.is_none() {
            return Err(ValidationError::new(
                "width",
                Rule::AtLeastOne,
                "set width, height or both",
            ));
        }
        for (field, value) in [("width", self.width), ("height", self.height)] {
            if value == Some(0) {
                return Err(ValidationError::new(
                    field,
                    Rule::Range,
                    "must be at least 1",
                ));
            }
        }
        Ok(())
    }
}

open_enum! {
    /// Codec mode of [`SliceRequest`].
    pub enum SliceCodec {
        /// Stream copy: fast, cuts on keyframes (the default).
        Copy => "copy",
        /// Re-encode: frame-accurate.
        Reencode => "reencode",
    }
}

/// One explicit range of [`SliceRequest::ranges`], in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SliceRange {
    /// Start in seconds.
    pub start: f64,
    /// End in seconds.
    pub end: f64,
}

/// Body of `POST /ffmpeg/slice`: split a video by interval, timestamps, count or ranges.
/// The completed job's `metadata.segments` lists the pieces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SliceRequest {
    /// Source video (note: `video_url`, not `url`).
    #[cfg_attr(feature = "schema", schemars(extend("format" = "uri")))]
    pub video_url: String,
    /// Split every N seconds (0.1 to 3600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<f64>,
    /// Split at these timestamps (each >= 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<Vec<f64>>,
    /// Split into this many equal parts (2 to 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// Explicit ranges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranges: Option<Vec<SliceRange>>,
    /// Codec mode; the gateway's default is `copy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<SliceCodec>,
    /// Extract a first frame and a thumbnail per segment; the gateway's default is `true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnails: Option<bool>,
}

impl SliceRequest {
    /// A request for `video_url`; choose a split with `every`, `at`, `count` or `ranges`.
    pub fn new(video_url: impl Into<String>) -> Self {
        Self {
            video_url: video_url.into(),
            every: None,
            at: None,
            count: None,
            ranges: None,
            codec: None,
            thumbnails: None,
        }
    }

    /// Split every `seconds`.
    pub fn every(mut self, seconds: f64) -> Self {
        self.every = Some(seconds);
        self
    }

    /// Split at the given timestamps.
    pub fn at(mut self, timestamps: impl Into<Vec<f64>>) -> Self {
        self.at = Some(timestamps.into());
        self
    }

    /// Split into `count` equal parts.
    pub fn count(mut self, count: u32) -> Self {
        self.count = Some(count);
        self
    }

    /// Adds an explicit range.
    pub fn range(mut self, start: f64, end: f64) -> Self {
        self.ranges
            .get_or_insert_with(Vec::new)
            .push(SliceRange { start, end });
        self
    }

    /// Sets `codec`.
    pub fn codec(mut self, codec: SliceCodec) -> Self {
        self.codec = Some(codec);
        self
    }

    /// Sets `thumbnails`.
    pub fn thumbnails(mut self, thumbnails: bool) -> Self {
        self.thumbnails = Some(thumbnails);
        self
    }
}

impl Validate for SliceRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        validate::http_url("video_url", &self.video_url)?;
        if let Some(every) = self.every
            && !(every.is_finite() && (0.1..=3600.0).contains(&every))
        {
            return Err(ValidationError::new(
                "every",
                Rule::Range,
                format!("must be from 0.1 to 3600 seconds (got {every})"),
            ));
        }
        if let Some(at) = &self.at {
            for (i, t) in at.iter().enumerate() {
                validate::finite_at_least(&format!("at[{i}]"), *t, 0.0)?;
            }
        }
        if let Some(count) = self.count
            && !(2..=1000).contains(&count)
        {
            return Err(ValidationError::new(
                "count",
                Rule::Range,
                format!("must be from 2 to 1000 (got {count})"),
            ));
        }
        if let Some(ranges) = &self.ranges {
            for (i, range) in ranges.iter().enumerate() {
                validate::finite_at_least(&format!("ranges[{i}].start"), range.start, 0.0)?;
                validate::finite_at_least(&format!("ranges[{i}].end"), range.end, 0.0)?;
            }
        }
        if self.every.is_none()
            && self.at.is_none()
            && self.count.is_none()
            && self.ranges.is_none()
        {
            return Err(ValidationError::new(
                "every",
                Rule::AtLeastOne,
                "set one of every, at, count or ranges",
            ));
        }
        Ok(())
    }
}

/// Body of `POST /ffmpeg/probe`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ProbeRequest {
    /// The video or audio file to inspect.
    #[cfg_attr(feature = "schema", schemars(extend("format" = "uri")))]
    pub url: String,
}

impl ProbeRequest {
    /// A request for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into() }
    }
}

impl Validate for ProbeRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        validate::http_url("url", &self.url)
    }
}

/// Synchronous answer of `POST /ffmpeg/probe` (200). Every field is optional: audio has no
/// width, an image no duration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ProbeResponse {
    /// Duration in seconds.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_opt_f64"
    )]
    pub duration: Option<f64>,
    /// Width in pixels.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_opt_u32"
    )]
    pub width: Option<u32>,
    /// Height in pixels.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_opt_u32"
    )]
    pub height: Option<u32>,
    /// Video codec, e.g. `h264`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_opt_string"
    )]
    pub codec: Option<String>,
    /// Audio codec, e.g. `aac`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_opt_string"
    )]
    pub audio_codec: Option<String>,
    /// Container format as ffprobe names it, e.g. `mov,mp4,m4a,3gp,3g2,mj2`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_opt_string"
    )]
    pub format: Option<String>,
    /// Bit rate in bits per second.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_opt_f64"
    )]
    pub bitrate: Option<f64>,
    /// Frames per second.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_opt_f64"
    )]
    pub fps: Option<f64>,
    /// File size in bytes.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_opt_u64"
    )]
    pub size_bytes: Option<u64>,
    /// Fields this version does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn lenient_opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    Ok(lenient_opt_u64(d)?.and_then(|v| u32::try_from(v).ok()))
}
