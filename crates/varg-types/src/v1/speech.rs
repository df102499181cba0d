//! `POST /speech`: text to speech.

use serde::{Deserialize, Serialize};

use super::common::ProviderOptions;
use super::model::ModelId;
use super::validate::{self, Validate, ValidationError};

string_newtype! {
    /// A voice: one of the named voices below, or any raw ElevenLabs `voice_id`.
    ///
    /// The v1 schema lists nine names (default `rachel`), while the newer documentation accepts
    /// any ElevenLabs voice id; `GET /voices` lists what the account can use.
    pub struct Voice;
}

impl Voice {
    /// `rachel` (the gateway's default).
    pub const RACHEL: Voice = Voice::from_static("rachel");
    /// `domi`.
    pub const DOMI: Voice = Voice::from_static("domi");
    /// `sarah`.
    pub const SARAH: Voice = Voice::from_static("sarah");
    /// `antoni`.
    pub const ANTONI: Voice = Voice::from_static("antoni");
    /// `elli`.
    pub const ELLI: Voice = Voice::from_static("elli");
    /// `josh`.
    pub const JOSH: Voice = Voice::from_static("josh");
    /// `arnold`.
    pub const ARNOLD: Voice = Voice::from_static("arnold");
    /// `adam`.
    pub const ADAM: Voice = Voice::from_static("adam");
    /// `sam`.
    pub const SAM: Voice = Voice::from_static("sam");
    /// The nine named voices of the v1 schema.
    pub const NAMED: [Voice; 9] = [
        Self::RACHEL,
        Self::DOMI,
        Self::SARAH,
        Self::ANTONI,
        Self::ELLI,
        Self::JOSH,
        Self::ARNOLD,
        Self::ADAM,
        Self::SAM,
    ];

    /// `true` if this is one of the nine named voices.
    pub fn is_named(&self) -> bool {
        Self::NAMED.iter().any(|v| v == self)
    }
}

/// Body of `POST /speech`.
///
/// ```
/// use varg_types::{SpeechRequest, Voice, models};
/// let named = SpeechRequest::new(models::speech::ELEVEN_V3, "Hello!").voice(Voice::SARAH);
/// let raw = SpeechRequest::new(models::speech::ELEVEN_V3, "Hello!").voice("21m00Tcm4TlvDq8ikWAM");
/// assert_eq!(serde_json::to_value(&raw).unwrap()["voice"], "21m00Tcm4TlvDq8ikWAM");
/// # let _ = named;
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SpeechRequest {
    /// Speech model (see [`crate::models::speech`]).
    pub model: ModelId,
    /// The text to speak.
    pub text: String,
    /// Voice name or ElevenLabs voice id; the gateway's default is `rachel`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice: Option<Voice>,
    /// Passed to the provider as it is (`stability`, `similarity_boost`, `style`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_options: Option<ProviderOptions>,
}

impl SpeechRequest {
    /// A request with the two required fields.
    pub fn new(model: impl Into<ModelId>, text: impl Into<String>) -> Self {
        Self {
            model: model.into(),
            text: text.into(),
            voice: None,
            provider_options: None,
        }
    }

    /// Sets `voice`.
    pub fn voice(mut self, voice: impl Into<Voice>) -> Self {
        self.voice = Some(voice.into());
        self
    }
}

provider_option_setters!(SpeechRequest);

impl Validate for SpeechRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        validate::not_empty("model", self.model.as_str())?;
        validate::not_empty("text", &self.text)?;
        if let Some(voice) = &self.voice {
            validate::not_empty("voice", voice.as_str())?;
        }
        Ok(())
    }
}
