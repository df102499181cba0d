//! `POST /video`: generation, editing, motion control, lip sync and upscaling.

use serde::{Deserialize, Serialize};

use super::common::{AspectRatio, Capability, FileRef, ProviderOptions};
use super::image::{check_aspect_ratio, check_file_count};
use super::model::{ModelId, lookup};
use super::validate::{self, Rule, Validate, ValidationError};

/// Body of `POST /video`.
///
/// ```
/// use varg_types::{VideoRequest, Validate, models};
/// let ok = VideoRequest::new(models::video::KLING_V3, "waves at sunset").duration(8.0);
/// assert!(ok.validate().is_ok());
/// let bad = VideoRequest::new(models::legacy::KLING_V2_5, "waves").duration(7.0);
/// assert_eq!(bad.validate().unwrap_err().field, "duration");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct VideoRequest {
    /// Video model (generation, edit, motion, lipsync, upscale or legacy).
    pub model: ModelId,
    /// What to film; may be empty for lipsync and upscale models.
    pub prompt: String,
    /// Length in seconds; the gateway's default is 5. Rules differ per model family.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// Output aspect ratio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aspect_ratio: Option<AspectRatio>,
    /// Input files: start/end frames, a source video, or audio plus video/image for lip sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<FileRef>>,
    /// Passed to the provider as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_options: Option<ProviderOptions>,
}

impl VideoRequest {
    /// A request with the two required fields.
    pub fn new(model: impl Into<ModelId>, prompt: impl Into<String>) -> Self {
        Self {
            model: model.into(),
            prompt: prompt.into(),
            duration: None,
            aspect_ratio: None,
            files: None,
            provider_options: None,
        }
    }

    /// Sets `duration` in seconds.
    pub fn duration(mut self, seconds: f64) -> Self {
        self.duration = Some(seconds);
        self
    }

    /// Sets `aspect_ratio`.
    pub fn aspect_ratio(mut self, aspect_ratio: impl Into<AspectRatio>) -> Self {
        self.aspect_ratio = Some(aspect_ratio.into());
        self
    }
}

provider_option_setters!(VideoRequest);
file_setters!(VideoRequest);

impl Validate for VideoRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        validate::not_empty("model", self.model.as_str())?;
        let info = lookup(&Capability::Video, self.model.as_str());
        if !info.is_some_and(|i| i.kind.prompt_may_be_empty()) {
            validate::not_empty("prompt", &self.prompt)?;
        }
        if let Some(duration) = self.duration {
            validate::positive("duration", duration)?;
            if let Some(info) = info
                && !info.duration.allows(duration)
            {
                return Err(ValidationError::new(
                    "duration",
                    Rule::Duration,
                    format!(
                        "{} takes {} (got {duration})",
                        info.id,
                        info.duration.describe()
                    ),
                ));
            }
        }
        if let Some(ratio) = &self.aspect_ratio {
            check_aspect_ratio(ratio)?;
        }
        let files = self.files.as_deref().unwrap_or_default();
        validate::file_urls(files)?;
        if let Some(info) = info {
            check_file_count(info, files.len())?;
        }
        Ok(())
    }
}
