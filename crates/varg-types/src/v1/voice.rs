//! `GET /voices`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::serde_util::lenient_string;

/// Answer of `GET /voices` (not paginated in v1).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct VoicesResponse {
    /// The voices the account can use.
    #[serde(default)]
    pub voices: Vec<VoiceInfo>,
}

/// One voice.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct VoiceInfo {
    /// The id to pass as `voice`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub voice_id: String,
    /// Display name.
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: String,
    /// Fields this version does not know (such as preview URLs), kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
