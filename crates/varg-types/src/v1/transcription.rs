//! `POST /transcription`: speech to text.

use serde::{Deserialize, Serialize};

use super::common::ProviderOptions;
use super::model::ModelId;
use super::validate::{self, Validate, ValidationError};

/// Body of `POST /transcription`.
///
/// ```
/// use varg_types::{TranscriptionRequest, Validate, models};
/// let request = TranscriptionRequest::new(models::transcription::WHISPER, "https://s3.varg.ai/u/a.mp3")
///     .language("en");
/// assert!(request.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TranscriptionRequest {
    /// Transcription model (see [`crate::models::transcription`]).
    pub model: ModelId,
    /// URL of the audio (mp3, wav, m4a, webm, ...).
    #[cfg_attr(feature = "schema", schemars(extend("format" = "uri")))]
    pub audio_url: String,
    /// Language code (`en`, `es`, ...); detected when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Passed to the provider as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_options: Option<ProviderOptions>,
}

impl TranscriptionRequest {
    /// A request with the two required fields.
    pub fn new(model: impl Into<ModelId>, audio_url: impl Into<String>) -> Self {
        Self {
            model: model.into(),
            audio_url: audio_url.into(),
            language: None,
            provider_options: None,
        }
    }

    /// Sets `language`.
    pub fn language(mut self, language: impl Into<String>) -> Self {
        self.language = Some(language.into());
        self
    }
}

provider_option_setters!(TranscriptionRequest);

impl Validate for TranscriptionRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        validate::not_empty("model", self.model.as_str())?;
        validate::http_url("audio_url", &self.audio_url)?;
        if let Some(language) = &self.language {
            validate::not_empty("language", language)?;
        }
        Ok(())
    }
}
