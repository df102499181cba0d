//! `POST /music`.

use serde::{Deserialize, Serialize};

use super::common::ProviderOptions;
use super::model::ModelId;
use super::validate::{self, Validate, ValidationError};

/// Body of `POST /music`.
///
/// ```
/// use varg_types::{MusicRequest, models};
/// let request = MusicRequest::new(models::music::MUSIC_V1, "calm lo-fi piano, 80 bpm").duration(30.0);
/// assert_eq!(serde_json::to_value(&request).unwrap()["duration"], 30.0);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MusicRequest {
    /// Music model (`music_v1`).
    pub model: ModelId,
    /// Genre, mood, tempo, instruments.
    pub prompt: String,
    /// Length in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// Passed to the provider as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_options: Option<ProviderOptions>,
}

impl MusicRequest {
    /// A request with the two required fields.
    pub fn new(model: impl Into<ModelId>, prompt: impl Into<String>) -> Self {
        Self {
            model: model.into(),
            prompt: prompt.into(),
            duration: None,
            provider_options: None,
        }
    }

    /// Sets `duration` in seconds.
    pub fn duration(mut self, seconds: f64) -> Self {
        self.duration = Some(seconds);
        self
    }
}

provider_option_setters!(MusicRequest);

impl Validate for MusicRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        validate::not_empty("model", self.model.as_str())?;
        validate::not_empty("prompt", &self.prompt)?;
        if let Some(duration) = self.duration {
            validate::positive("duration", duration)?;
        }
        Ok(())
    }
}
