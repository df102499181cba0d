//! Model identifiers and the documented model catalogue.
//!
//! The gateway's catalogue grows every week, so a [`ModelId`] accepts any string; the
//! constants in [`models`] and the [`CATALOGUE`] table list every model the v1 documentation
//! names, grouped by capability and kind, with the rules the documentation gives for them.

use std::fmt;

use super::common::Capability;

string_newtype! {
    /// A model identifier as sent in a request (`flux-pro`, `kling-v3`, ...), or as resolved in
    /// a response (`fal:kling-v2.5`). Any string is a valid model.
    pub struct ModelId;
}

impl ModelId {
    /// Splits an optional `provider:` prefix off; see [`ModelRef`].
    pub fn parse_ref(&self) -> ModelRef {
        ModelRef::parse(self.as_str())
    }

    /// The documented catalogue entry for this model under `capability`, if any.
    /// A `provider:` prefix is ignored.
    pub fn info(&self, capability: &Capability) -> Option<&'static ModelInfo> {
        lookup(capability, self.as_str())
    }
}

/// A model identifier split into its optional provider and its model name.
///
/// Responses carry the resolved form `provider:model` (`fal:kling-v2.5`), but examples also
/// show bare names (`kling-v3`); both parse.
///
/// ```
/// # use varg_types::ModelRef;
/// let resolved = ModelRef::parse("fal:kling-v2.5");
/// assert_eq!(resolved.provider.as_deref(), Some("fal"));
/// assert_eq!(resolved.model, "kling-v2.5");
/// assert_eq!(resolved.to_string(), "fal:kling-v2.5");
///
/// let bare = ModelRef::parse("nano-banana-pro/edit");
/// assert_eq!(bare.provider, None);
/// assert_eq!(bare.model, "nano-banana-pro/edit");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelRef {
    /// The provider (`fal`, `elevenlabs`, `higgsfield`, `replicate`, `piapi`, ...), when given.
    pub provider: Option<String>,
    /// The model name without the provider prefix.
    pub model: String,
}

impl ModelRef {
    /// Parses `provider:model` or a bare `model`. The provider part must be a non-empty run of
    /// ASCII letters, digits, `-` or `_`, and the model part must be non-empty and not start
    /// with `/` (so a URL is not split); otherwise the whole string is the model.
    pub fn parse(value: &str) -> Self {
        if let Some((provider, model)) = value.split_once(':') {
            let valid_provider = !provider.is_empty()
                && provider
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if valid_provider && !model.is_empty() && !model.starts_with('/') {
                return Self {
                    provider: Some(provider.to_owned()),
                    model: model.to_owned(),
                };
            }
        }
        Self {
            provider: None,
            model: value.to_owned(),
        }
    }
}

impl fmt::Display for ModelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.provider {
            Some(provider) => write!(f, "{provider}:{}", self.model),
            None => f.write_str(&self.model),
        }
    }
}

/// What a model does, one level finer than [`Capability`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ModelKind {
    /// Text-to-image (`POST /image`).
    TextToImage,
    /// Image editing: one source image plus a prompt describing the change.
    ImageEdit,
    /// Image upscaling: one source image; the prompt may be empty.
    ImageUpscale,
    /// Text- or image-to-video generation (`POST /video`).
    Video,
    /// Video editing: one source video.
    VideoEdit,
    /// Motion control.
    MotionControl,
    /// Lip sync: audio plus a video or an image; the prompt may be empty.
    Lipsync,
    /// Video upscaling: one source video; the prompt may be empty.
    VideoUpscale,
    /// Older video models still served.
    LegacyVideo,
    /// Text to speech (`POST /speech`).
    Speech,
    /// Music (`POST /music`).
    Music,
    /// Speech to text (`POST /transcription`).
    Transcription,
}

impl ModelKind {
    /// Every kind, in catalogue order.
    pub const ALL: [ModelKind; 12] = [
        ModelKind::TextToImage,
        ModelKind::ImageEdit,
        ModelKind::ImageUpscale,
        ModelKind::Video,
        ModelKind::VideoEdit,
        ModelKind::MotionControl,
        ModelKind::Lipsync,
        ModelKind::VideoUpscale,
        ModelKind::LegacyVideo,
        ModelKind::Speech,
        ModelKind::Music,
        ModelKind::Transcription,
    ];

    /// The endpoint family the kind belongs to.
    pub fn capability(self) -> Capability {
        match self {
            ModelKind::TextToImage | ModelKind::ImageEdit | ModelKind::ImageUpscale => {
                Capability::Image
            }
            ModelKind::Video
            | ModelKind::VideoEdit
            | ModelKind::MotionControl
            | ModelKind::Lipsync
            | ModelKind::VideoUpscale
            | ModelKind::LegacyVideo => Capability::Video,
            ModelKind::Speech => Capability::Speech,
            ModelKind::Music => Capability::Music,
            ModelKind::Transcription => Capability::Transcription,
        }
    }

    /// `true` where the documentation allows an empty prompt (upscale and lipsync models).
    pub fn prompt_may_be_empty(self) -> bool {
        matches!(
            self,
            ModelKind::ImageUpscale | ModelKind::VideoUpscale | ModelKind::Lipsync
        )
    }

    /// The snake_case name (`text_to_image`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::TextToImage => "text_to_image",
            ModelKind::ImageEdit => "image_edit",
            ModelKind::ImageUpscale => "image_upscale",
            ModelKind::Video => "video",
            ModelKind::VideoEdit => "video_edit",
            ModelKind::MotionControl => "motion_control",
            ModelKind::Lipsync => "lipsync",
            ModelKind::VideoUpscale => "video_upscale",
            ModelKind::LegacyVideo => "legacy_video",
            ModelKind::Speech => "speech",
            ModelKind::Music => "music",
            ModelKind::Transcription => "transcription",
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The documented duration rule of a video model (seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DurationRule {
    /// No documented rule (or the model ignores `duration`).
    Any,
    /// Whole seconds in `min..=max`.
    IntegerRange {
        /// Smallest allowed value.
        min: u32,
        /// Largest allowed value.
        max: u32,
    },
    /// Exactly one of the listed whole-second values.
    OneOf(&'static [u32]),
}

impl DurationRule {
    /// Checks a duration against the rule.
    pub fn allows(self, seconds: f64) -> bool {
        match self {
            DurationRule::Any => seconds.is_finite() && seconds > 0.0,
            DurationRule::IntegerRange { min, max } => {
                seconds.fract() == 0.0 && seconds >= f64::from(min) && seconds <= f64::from(max)
            }
            DurationRule::OneOf(values) => values.iter().any(|v| f64::from(*v) == seconds),
        }
    }

    /// Describes the rule in words, e.g. `whole seconds from 3 to 15`.
    pub fn describe(self) -> String {
        match self {
            DurationRule::Any => "a positive number of seconds".to_owned(),
            DurationRule::IntegerRange { min, max } => format!("whole seconds from {min} to {max}"),
            DurationRule::OneOf(values) => {
                let list: Vec<String> = values.iter().map(u32::to_string).collect();
                format!("one of {} seconds", list.join(", "))
            }
        }
    }
}

/// How many entries `files` must have for a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileCount {
    /// Fewest files.
    pub min: u8,
    /// Most files.
    pub max: u8,
}

impl FileCount {
    /// No documented constraint.
    pub const ANY: FileCount = FileCount {
        min: 0,
        max: u8::MAX,
    };

    const fn exactly(n: u8) -> Self {
        Self { min: n, max: n }
    }

    const fn up_to(n: u8) -> Self {
        Self { min: 0, max: n }
    }

    /// `true` if `n` files satisfy the rule.
    pub fn allows(self, n: usize) -> bool {
        n >= usize::from(self.min) && n <= usize::from(self.max)
    }
}

/// One documented model.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ModelInfo {
    /// The identifier to send.
    pub id: ModelId,
    /// What the model does.
    pub kind: ModelKind,
    /// The upstream provider the documentation names, if any.
    pub provider: Option<&'static str>,
    /// Documented price range in credits (1 credit = 1 cent), `(min, max)`. Sources disagree
    /// on several prices; these are the documentation's model index figures.
    pub credits: Option<(u32, u32)>,
    /// The documented duration rule (video models).
    pub duration: DurationRule,
    /// The documented number of input files.
    pub files: FileCount,
}

impl ModelInfo {
    /// The endpoint family of the model.
    pub fn capability(&self) -> Capability {
        self.kind.capability()
    }
}

macro_rules! catalogue {
    (
        $(
            $(#[$mod_meta:meta])*
            mod $module:ident {
                $(
                    $(#[$meta:meta])*
                    $name:ident = $id:literal, $kind:ident, $provider:expr, $credits:expr, $duration:expr, $files:expr;
                )+
            }
        )+
    ) => {
        /// Every documented model ID as a constant, grouped by kind.
        ///
        /// ```
        /// use varg_types::models;
        /// assert_eq!(models::video::KLING_V3.as_str(), "kling-v3");
        /// assert_eq!(models::image_edit::NANO_BANANA_PRO_EDIT.as_str(), "nano-banana-pro/edit");
        /// ```
        pub mod models {
            $(
                $(#[$mod_meta])*
                pub mod $module {
                    use crate::v1::model::ModelId;
                    $(
                        $(#[$meta])*
                        #[doc = concat!("`", $id, "`")]
                        pub const $name: ModelId = ModelId::from_static($id);
                    )+
                }
            )+
        }

        /// The documented catalogue: one entry per (kind, model).
        pub static CATALOGUE: &[ModelInfo] = &[
            $($(
                ModelInfo {
                    id: ModelId::from_static($id),
                    kind: ModelKind::$kind,
                    provider: $provider,
                    credits: $credits,
                    duration: $duration,
                    files: $files,
                },
            )+)+
        ];
    };
}

const ANY: DurationRule = DurationRule::Any;
const KLING_V3_RULE: DurationRule = DurationRule::IntegerRange { min: 3, max: 15 };
const KLING_LEGACY_RULE: DurationRule = DurationRule::OneOf(&[5, 10]);
const SEEDANCE_RULE: DurationRule = DurationRule::OneOf(&[5, 10, 15]);
const FAL: Option<&str> = Some("fal");
const ELEVENLABS: Option<&str> = Some("elevenlabs");

catalogue! {
    /// Text-to-image models (`POST /image`).
    mod image {
        FLUX_PRO = "flux-pro", TextToImage, FAL, Some((5, 10)), ANY, FileCount::ANY;
        FLUX_DEV = "flux-dev", TextToImage, FAL, Some((5, 10)), ANY, FileCount::ANY;
        FLUX_SCHNELL = "flux-schnell", TextToImage, FAL, Some((5, 10)), ANY, FileCount::ANY;
        NANO_BANANA_PRO = "nano-banana-pro", TextToImage, FAL, Some((5, 5)), ANY, FileCount::ANY;
        RECRAFT_V3 = "recraft-v3", TextToImage, FAL, Some((10, 10)), ANY, FileCount::ANY;
        PHOTA = "phota", TextToImage, None, Some((9, 13)), ANY, FileCount::ANY;
        GROK_IMAGINE_IMAGE = "grok-imagine-image", TextToImage, None, Some((3, 3)), ANY, FileCount::ANY;
        /// Runs on Higgsfield.
        SOUL = "soul", TextToImage, Some("higgsfield"), Some((15, 15)), ANY, FileCount::ANY;
    }
    /// Image editing models (`POST /image` with one source image in `files`).
    mod image_edit {
        NANO_BANANA_PRO_EDIT = "nano-banana-pro/edit", ImageEdit, FAL, Some((5, 5)), ANY, FileCount::exactly(1);
        NANO_BANANA_2_EDIT = "nano-banana-2/edit", ImageEdit, FAL, Some((5, 5)), ANY, FileCount::exactly(1);
        PHOTA_EDIT = "phota/edit", ImageEdit, None, Some((9, 13)), ANY, FileCount::exactly(1);
        PHOTA_ENHANCE = "phota/enhance", ImageEdit, None, Some((9, 13)), ANY, FileCount::exactly(1);
        GROK_IMAGINE_IMAGE_EDIT = "grok-imagine-image/edit", ImageEdit, None, Some((3, 3)), ANY, FileCount::exactly(1);
        SEEDREAM_V4_5_EDIT = "seedream-v4.5/edit", ImageEdit, None, Some((10, 10)), ANY, FileCount::exactly(1);
        /// Multi-angle views of one source image.
        QWEN_ANGLES = "qwen-angles", ImageEdit, None, Some((8, 8)), ANY, FileCount::exactly(1);
        /// Background removal; mapped to Replicate by the gateway overview.
        BACKGROUND_REMOVER = "background-remover", ImageEdit, Some("replicate"), None, ANY, FileCount::exactly(1);
    }
    /// Image upscale models (`POST /image` with one image in `files`; the prompt may be empty).
    mod image_upscale {
        TOPAZ = "topaz", ImageUpscale, FAL, Some((15, 15)), ANY, FileCount::exactly(1);
        SEEDVR = "seedvr", ImageUpscale, FAL, Some((10, 10)), ANY, FileCount::exactly(1);
        RECRAFT_CLARITY = "recraft-clarity", ImageUpscale, FAL, Some((8, 8)), ANY, FileCount::exactly(1);
        CLARITY_UPSCALER = "clarity-upscaler", ImageUpscale, FAL, Some((8, 8)), ANY, FileCount::exactly(1);
        CCSR = "ccsr", ImageUpscale, FAL, Some((5, 5)), ANY, FileCount::exactly(1);
        AURA_SR = "aura-sr", ImageUpscale, FAL, Some((5, 5)), ANY, FileCount::exactly(1);
    }
    /// Video generation models (`POST /video`).
    mod video {
        /// Whole-second durations from 3 to 15; one image (start frame) or two (start and end frame).
        KLING_V3 = "kling-v3", Video, FAL, Some((150, 150)), KLING_V3_RULE, FileCount::up_to(2);
        /// Whole-second durations from 3 to 15.
        KLING_V3_STANDARD = "kling-v3-standard", Video, FAL, Some((100, 100)), KLING_V3_RULE, FileCount::up_to(2);
        /// Runs on PiAPI; durations 5, 10 or 15; up to 9 reference images. Also an editing model.
        SEEDANCE_2_PREVIEW = "seedance-2-preview", Video, Some("piapi"), Some((250, 250)), SEEDANCE_RULE, FileCount::up_to(9);
        /// Runs on PiAPI; durations 5, 10 or 15.
        SEEDANCE_2_FAST_PREVIEW = "seedance-2-fast-preview", Video, Some("piapi"), Some((150, 150)), SEEDANCE_RULE, FileCount::up_to(9);
        SORA_2 = "sora-2", Video, FAL, Some((100, 100)), ANY, FileCount::ANY;
        SORA_2_PRO = "sora-2-pro", Video, FAL, Some((300, 300)), ANY, FileCount::ANY;
        WAN_2_5 = "wan-2.5", Video, FAL, Some((60, 80)), ANY, FileCount::ANY;
        WAN_2_5_PREVIEW = "wan-2.5-preview", Video, FAL, None, ANY, FileCount::ANY;
        MINIMAX = "minimax", Video, FAL, Some((80, 80)), ANY, FileCount::ANY;
        LTX_2_19B_DISTILLED = "ltx-2-19b-distilled", Video, FAL, Some((50, 50)), ANY, FileCount::ANY;
        GROK_IMAGINE = "grok-imagine", Video, None, Some((100, 100)), ANY, FileCount::ANY;
        /// Listed among the video models of the original reference; runs on Higgsfield.
        SOUL = "soul", Video, Some("higgsfield"), None, ANY, FileCount::ANY;
    }
    /// Video editing models (`POST /video` with one source video in `files`).
    mod video_edit {
        GROK_IMAGINE_EDIT = "grok-imagine-edit", VideoEdit, None, None, ANY, FileCount::exactly(1);
        SORA_2_REMIX = "sora-2-remix", VideoEdit, FAL, Some((100, 100)), ANY, FileCount::exactly(1);
    }
    /// Motion-control models (`POST /video`).
    mod motion {
        KLING_V2_6_MOTION = "kling-v2.6-motion", MotionControl, FAL, Some((150, 150)), ANY, FileCount::ANY;
    }
    /// Lip-sync models (`POST /video` with audio plus a video or image; the prompt may be empty).
    mod lipsync {
        VEED_FABRIC_1_0 = "veed-fabric-1.0", Lipsync, FAL, Some((100, 100)), ANY, FileCount::exactly(2);
        SYNC_V2 = "sync-v2", Lipsync, FAL, Some((50, 50)), ANY, FileCount::exactly(2);
        SYNC_V2_PRO = "sync-v2-pro", Lipsync, FAL, Some((80, 80)), ANY, FileCount::exactly(2);
        OMNIHUMAN_V1_5 = "omnihuman-v1.5", Lipsync, FAL, Some((100, 100)), ANY, FileCount::exactly(2);
        LIPSYNC = "lipsync", Lipsync, FAL, Some((50, 50)), ANY, FileCount::exactly(2);
    }
    /// Video upscale models (`POST /video` with one video in `files`; the prompt may be empty).
    mod video_upscale {
        SEEDVR_VIDEO = "seedvr-video", VideoUpscale, FAL, Some((30, 30)), ANY, FileCount::exactly(1);
        TOPAZ_VIDEO = "topaz-video", VideoUpscale, FAL, Some((50, 50)), ANY, FileCount::exactly(1);
        BYTEDANCE_UPSCALER = "bytedance-upscaler", VideoUpscale, FAL, Some((25, 25)), ANY, FileCount::exactly(1);
        SIMA_VIDEO_UPSCALER = "sima-video-upscaler", VideoUpscale, FAL, Some((15, 15)), ANY, FileCount::exactly(1);
    }
    /// Legacy video models, still served.
    mod legacy {
        /// Whole-second durations from 3 to 15.
        KLING_V2_6 = "kling-v2.6", LegacyVideo, FAL, Some((150, 150)), KLING_V3_RULE, FileCount::ANY;
        /// Durations of 5 or 10 seconds.
        KLING_V2_5 = "kling-v2.5", LegacyVideo, FAL, Some((100, 100)), KLING_LEGACY_RULE, FileCount::ANY;
        /// Durations of 5 or 10 seconds.
        KLING_V2_1 = "kling-v2.1", LegacyVideo, FAL, Some((100, 100)), KLING_LEGACY_RULE, FileCount::ANY;
        /// Durations of 5 or 10 seconds.
        KLING_V2 = "kling-v2", LegacyVideo, FAL, Some((100, 100)), KLING_LEGACY_RULE, FileCount::ANY;
    }
    /// Speech models (`POST /speech`), all ElevenLabs.
    mod speech {
        ELEVEN_V3 = "eleven_v3", Speech, ELEVENLABS, Some((25, 25)), ANY, FileCount::ANY;
        ELEVEN_FLASH_V2_5 = "eleven_flash_v2_5", Speech, ELEVENLABS, Some((20, 20)), ANY, FileCount::ANY;
        ELEVEN_FLASH_V2 = "eleven_flash_v2", Speech, ELEVENLABS, Some((20, 20)), ANY, FileCount::ANY;
        ELEVEN_TURBO_V2_5 = "eleven_turbo_v2_5", Speech, ELEVENLABS, Some((20, 20)), ANY, FileCount::ANY;
        ELEVEN_TURBO_V2 = "eleven_turbo_v2", Speech, ELEVENLABS, Some((20, 20)), ANY, FileCount::ANY;
        /// Alias of `eleven_turbo_v2`.
        TURBO = "turbo", Speech, ELEVENLABS, Some((20, 20)), ANY, FileCount::ANY;
        /// 29 languages.
        ELEVEN_MULTILINGUAL_V2 = "eleven_multilingual_v2", Speech, ELEVENLABS, Some((25, 25)), ANY, FileCount::ANY;
    }
    /// Music models (`POST /music`).
    mod music {
        /// The only documented music model (ElevenLabs).
        MUSIC_V1 = "music_v1", Music, ELEVENLABS, Some((30, 30)), ANY, FileCount::ANY;
    }
    /// Transcription models (`POST /transcription`).
    mod transcription {
        WHISPER = "whisper", Transcription, FAL, Some((10, 10)), ANY, FileCount::ANY;
        WHISPER_LARGE_V3 = "whisper-large-v3", Transcription, FAL, Some((10, 10)), ANY, FileCount::ANY;
        GROQ_WHISPER = "groq-whisper", Transcription, Some("groq"), Some((5, 5)), ANY, FileCount::ANY;
        GROQ_WHISPER_LARGE_V3 = "groq-whisper-large-v3", Transcription, Some("groq"), Some((5, 5)), ANY, FileCount::ANY;
        GROQ_WHISPER_LARGE_V3_TURBO = "groq-whisper-large-v3-turbo", Transcription, Some("groq"), Some((3, 3)), ANY, FileCount::ANY;
    }
}

/// The catalogue entry for `model` under `capability` (a `provider:` prefix is ignored).
///
/// ```
/// use varg_types::{Capability, ModelKind, model::lookup};
/// let info = lookup(&Capability::Video, "fal:sync-v2").unwrap();
/// assert_eq!(info.kind, ModelKind::Lipsync);
/// assert!(lookup(&Capability::Video, "brand-new-model").is_none());
/// ```
pub fn lookup(capability: &Capability, model: &str) -> Option<&'static ModelInfo> {
    let bare = ModelRef::parse(model).model;
    CATALOGUE
        .iter()
        .find(|m| m.id.as_str() == bare && &m.kind.capability() == capability)
}

/// Every documented model of one kind.
pub fn by_kind(kind: ModelKind) -> impl Iterator<Item = &'static ModelInfo> {
    CATALOGUE.iter().filter(move |m| m.kind == kind)
}

/// Every documented model of one capability.
pub fn by_capability(capability: Capability) -> impl Iterator<Item = &'static ModelInfo> {
    CATALOGUE
        .iter()
        .filter(move |m| m.kind.capability() == capability)
}

/// The first catalogue entry named `model`, whatever its capability (a `provider:` prefix
/// is ignored): tells which endpoint a model belongs to when it was sent to another one.
///
/// ```
/// use varg_types::{Capability, model::lookup_any};
/// assert_eq!(lookup_any("kling-v3").unwrap().capability(), Capability::Video);
/// assert_eq!(lookup_any("fal:flux-pro").unwrap().capability(), Capability::Image);
/// assert!(lookup_any("brand-new-model").is_none());
/// ```
pub fn lookup_any(model: &str) -> Option<&'static ModelInfo> {
    let bare = ModelRef::parse(model).model;
    CATALOGUE.iter().find(|m| m.id.as_str() == bare)
}

/// The documented model of `capability` closest to `model`, if one is close enough to be
/// a likely typo: the same name up to case and separators (`-`, `_`, `.`, `/`, space), or
/// within a small edit distance (one edit per four characters, at most three; a swap of
/// two neighbours counts as one). A `provider:` prefix is ignored. `None` for a model that
/// is in the catalogue under exactly that name.
///
/// ```
/// use varg_types::{Capability, model::suggest};
/// let hit = suggest("flux-shnell", &Capability::Image).unwrap();
/// assert_eq!(hit.id.as_str(), "flux-schnell");
/// assert_eq!(suggest("Eleven-V3", &Capability::Speech).unwrap().id.as_str(), "eleven_v3");
/// assert!(suggest("stable-diffusion", &Capability::Image).is_none());
/// ```
pub fn suggest(model: &str, capability: &Capability) -> Option<&'static ModelInfo> {
    let bare = ModelRef::parse(model).model;
    if lookup(capability, &bare).is_some() {
        return None;
    }
    let wanted = normalise(&bare);
    let limit = (wanted.len() / 4).clamp(1, 3);
    let mut best: Option<(usize, &'static ModelInfo)> = None;
    for info in CATALOGUE
        .iter()
        .filter(|m| &m.kind.capability() == capability)
    {
        let distance = edit_distance(&wanted, &normalise(info.id.as_str()));
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, info));
        }
    }
    best.map(|(_, info)| info)
}

/// Why [`check`] refused a model; its `Display` is the message to show, e.g.
/// `model "flux-shnell" is not a known image model; did you mean "flux-schnell"?`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct UnknownModel {
    /// The model as given (with its `provider:` prefix, if any).
    pub model: String,
    /// The capability it was sent to.
    pub capability: Capability,
    /// The model under another capability, when it is documented there.
    pub other: Option<&'static ModelInfo>,
    /// A close documented model of the same capability (see [`suggest`]).
    pub suggestion: Option<&'static ModelInfo>,
}

impl UnknownModel {
    /// The suggested id as it should be sent: with the caller's `provider:` prefix kept.
    pub fn suggested_id(&self) -> Option<String> {
        let info = self.suggestion?;
        Some(match ModelRef::parse(&self.model).provider {
            Some(provider) => format!("{provider}:{}", info.id),
            None => info.id.as_str().to_owned(),
        })
    }
}

/// "an image", "a video", ...
fn with_article(capability: &Capability) -> String {
    let name = capability.as_str();
    let vowel = name
        .chars()
        .next()
        .is_some_and(|c| "aeiou".contains(c.to_ascii_lowercase()));
    format!("{} {name}", if vowel { "an" } else { "a" })
}

impl fmt::Display for UnknownModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(other) = self.other {
            return write!(
                f,
                "model {:?} is {} model, not {} model",
                self.model,
                with_article(&other.capability()),
                with_article(&self.capability)
            );
        }
        write!(
            f,
            "model {:?} is not a known {} model",
            self.model,
            self.capability.as_str()
        )?;
        if let Some(id) = self.suggested_id() {
            write!(f, "; did you mean {id:?}?")?;
        }
        Ok(())
    }
}

impl std::error::Error for UnknownModel {}

/// Checks `model` against the catalogue as the gateway does: the entry for `capability`,
/// or an [`UnknownModel`] saying which capability the model belongs to instead, or which
/// documented model is close. A `provider:` prefix is ignored.
///
/// ```
/// use varg_types::{Capability, model::check};
/// assert!(check("fal:kling-v3", &Capability::Video).is_ok());
/// let wrong = check("kling-v3", &Capability::Image).unwrap_err();
/// assert_eq!(wrong.to_string(), r#"model "kling-v3" is a video model, not an image model"#);
/// let typo = check("flux-shnell", &Capability::Image).unwrap_err();
/// assert_eq!(
///     typo.to_string(),
///     r#"model "flux-shnell" is not a known image model; did you mean "flux-schnell"?"#
/// );
/// ```
pub fn check(model: &str, capability: &Capability) -> Result<&'static ModelInfo, UnknownModel> {
    if let Some(info) = lookup(capability, model) {
        return Ok(info);
    }
    Err(UnknownModel {
        model: model.to_owned(),
        capability: capability.clone(),
        other: lookup_any(model),
        suggestion: suggest(model, capability),
    })
}

/// Lower case without separators, so `Eleven-V3` and `eleven_v3` compare equal.
fn normalise(id: &str) -> Vec<char> {
    id.chars()
        .filter(|c| !matches!(c, '-' | '_' | '.' | '/' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Optimal string alignment distance: insertions, deletions, substitutions and swaps of
/// two neighbours each cost one.
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    #[test]
    fn edit_distance_counts_each_kind_of_edit_once() {
        assert_eq!(edit_distance(&chars("flux"), &chars("flux")), 0);
        assert_eq!(
            edit_distance(&chars("fluxshnell"), &chars("fluxschnell")),
            1
        );
        assert_eq!(edit_distance(&chars("flxu"), &chars("flux")), 1);
        assert_eq!(edit_distance(&chars("kitten"), &chars("sitting")), 3);
        assert_eq!(edit_distance(&chars(""), &chars("abc")), 3);
    }

    #[test]
    fn suggest_finds_typos_and_separator_variants_within_the_capability() {
        let id = |m: &str, c: Capability| suggest(m, &c).map(|i| i.id.as_str());
        assert_eq!(id("flux-shnell", Capability::Image), Some("flux-schnell"));
        assert_eq!(id("fal:flux-prp", Capability::Image), Some("flux-pro"));
        assert_eq!(
            id("kling-v3", Capability::Video),
            None,
            "exact names need none"
        );
        assert_eq!(id("kling v3", Capability::Video), Some("kling-v3"));
        assert_eq!(
            id("KLING-V3-STANDARD", Capability::Video),
            Some("kling-v3-standard")
        );
        assert_eq!(
            id("eleven-multilingual-v2", Capability::Speech),
            Some("eleven_multilingual_v2")
        );
        assert_eq!(id("whsiper", Capability::Transcription), Some("whisper"));
        // Far from everything, or a model of another capability: no suggestion.
        assert_eq!(id("midjourney", Capability::Image), None);
        assert_eq!(id("kling-v3", Capability::Image), None);
        assert_eq!(id("x", Capability::Music), None);
    }

    #[test]
    fn lookup_any_finds_the_capability_of_a_model() {
        assert_eq!(
            lookup_any("eleven_v3").map(ModelInfo::capability),
            Some(Capability::Speech)
        );
        assert_eq!(
            lookup_any("replicate:whisper").map(ModelInfo::capability),
            Some(Capability::Transcription)
        );
        assert!(lookup_any("next-week-model").is_none());
    }

    #[test]
    fn check_messages_name_the_model_and_the_capability() {
        assert_eq!(
            check("flux-pro", &Capability::Image).map(|i| i.kind),
            Ok(ModelKind::TextToImage)
        );
        let other = check("flux-pro", &Capability::Speech).unwrap_err();
        assert_eq!(
            other.to_string(),
            r#"model "flux-pro" is an image model, not a speech model"#
        );
        let prefixed = check("fal:flux-shnell", &Capability::Image).unwrap_err();
        assert_eq!(prefixed.suggested_id().as_deref(), Some("fal:flux-schnell"));
        assert_eq!(
            prefixed.to_string(),
            r#"model "fal:flux-shnell" is not a known image model; did you mean "fal:flux-schnell"?"#
        );
        let unknown = check("next-week-model", &Capability::Video).unwrap_err();
        assert_eq!(
            unknown.to_string(),
            r#"model "next-week-model" is not a known video model"#
        );
        assert!(unknown.other.is_none() && unknown.suggestion.is_none());
    }
}
