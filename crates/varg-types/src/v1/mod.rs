//! The v1 gateway API (`https://api.varg.ai/v1`).
//!
//! One module per resource; everything is re-exported here and at the crate root.

pub mod account;
pub mod common;
pub mod endpoint;
pub mod error;
pub mod file;
pub mod image;
pub mod job;
pub mod media;
pub mod model;
pub mod music;
pub mod speech;
pub mod transcription;
pub mod validate;
pub mod video;
pub mod voice;

pub use account::{Balance, Me, UsageQuery, UsageRecord, UsageResponse};
pub use common::{AspectRatio, Capability, FileRef, ProviderOptions};
pub use endpoint::{BodyKind, ENDPOINTS, Endpoint, EndpointId, Method, Operation, PathError};
pub use error::{ErrorBody, ErrorCode};
pub use file::{FileUploadResponse, MAX_UPLOAD_BYTES, validate_upload_size};
pub use image::ImageRequest;
pub use job::{
    BillingType, CacheInfo, Job, JobId, JobMetadata, JobOutput, JobStatus, Pricing, Segment,
};
pub use media::{
    FfmpegRequest, OutputFiles, ProbeRequest, ProbeResponse, ResizeFit, ResizeRequest, SliceCodec,
    SliceRange, SliceRequest, TrimRequest,
};
pub use model::{ModelId, ModelInfo, ModelKind, ModelRef, models};
pub use music::MusicRequest;
pub use speech::{SpeechRequest, Voice};
pub use transcription::TranscriptionRequest;
pub use validate::{Rule, Validate, ValidationError};
pub use video::VideoRequest;
pub use voice::{VoiceInfo, VoicesResponse};

/// The default base URL of the v1 gateway.
pub const DEFAULT_BASE_URL: &str = "https://api.varg.ai/v1";
