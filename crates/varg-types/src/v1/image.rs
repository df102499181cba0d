//! `POST /image`: text-to-image, image editing and image upscaling.

use serde::{Deserialize, Serialize};

use super::common::{AspectRatio, Capability, FileRef, ProviderOptions};
use super::model::{ModelId, lookup};
use super::validate::{self, Rule, Validate, ValidationError};

/// Body of `POST /image`.
///
/// ```
/// use varg_types::{ImageRequest, AspectRatio, Validate, models};
/// let edit = ImageRequest::new(models::image_edit::NANO_BANANA_PRO_EDIT, "make the sky purple")
///     .file("https://s3.varg.ai/u/user_1/photo.jpg");
/// assert!(edit.validate().is_ok());
///
/// let upscale = ImageRequest::new(models::image_upscale::TOPAZ, "");
/// // an upscale model needs its one source image
/// assert_eq!(upscale.validate().unwrap_err().field, "files");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ImageRequest {
    /// Text-to-image, edit or upscale model (see [`crate::models::image`],
    /// [`crate::models::image_edit`], [`crate::models::image_upscale`]).
    pub model: ModelId,
    /// What to draw; for edit models the change to make; may be empty for upscale models.
    pub prompt: String,
    /// Output aspect ratio; the gateway's default is `1:1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aspect_ratio: Option<AspectRatio>,
    /// Input images: one source image for editing, upscaling and multi-angle models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<FileRef>>,
    /// Passed to the provider as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_options: Option<ProviderOptions>,
}

impl ImageRequest {
    /// A request with the two required fields.
    pub fn new(model: impl Into<ModelId>, prompt: impl Into<String>) -> Self {
        Self {
            model: model.into(),
            prompt: prompt.into(),
            aspect_ratio: None,
            files: None,
            provider_options: None,
        }
    }

    /// Sets `aspect_ratio`.
    pub fn aspect_ratio(mut self, aspect_ratio: impl Into<AspectRatio>) -> Self {
        self.aspect_ratio = Some(aspect_ratio.into());
        self
    }
}

provider_option_setters!(ImageRequest);
file_setters!(ImageRequest);

impl Validate for ImageRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        validate::not_empty("model", self.model.as_str())?;
        let info = lookup(&Capability::Image, self.model.as_str());
        if !info.is_some_and(|i| i.kind.prompt_may_be_empty()) {
            validate::not_empty("prompt", &self.prompt)?;
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

pub(crate) fn check_aspect_ratio(ratio: &AspectRatio) -> Result<(), ValidationError> {
    if ratio.dimensions().is_some() {
        Ok(())
    } else {
        Err(ValidationError::new(
            "aspect_ratio",
            Rule::AspectRatioFormat,
            format!(
                "must be W:H with positive whole numbers, such as 16:9 (got {:?})",
                ratio.as_str()
            ),
        ))
    }
}

pub(crate) fn check_file_count(
    info: &super::model::ModelInfo,
    n: usize,
) -> Result<(), ValidationError> {
    if info.files.allows(n) {
        return Ok(());
    }
    let wanted = if info.files.min == info.files.max {
        format!("exactly {}", info.files.min)
    } else if info.files.min == 0 {
        format!("at most {}", info.files.max)
    } else {
        format!("{} to {}", info.files.min, info.files.max)
    };
    Err(ValidationError::new(
        "files",
        Rule::FileCount,
        format!(
            "{} ({}) takes {wanted} input file(s), got {n}",
            info.id, info.kind
        ),
    ))
}
