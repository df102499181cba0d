//! Jobs: what every generation and processing endpoint returns, and what `GET /jobs/{job_id}`
//! and the SSE stream report.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::model::ModelRef;
use crate::serde_util::{lenient_bool, lenient_opt_f64, lenient_opt_string};

string_newtype! {
    /// A job identifier such as `job_a1b2c3d4`. Treat it as opaque: it is percent-encoded when
    /// placed in a path.
    pub struct JobId;
}

open_enum! {
    /// The state of a job: `queued -> processing -> completed | failed | cancelled`.
    pub enum JobStatus {
        /// Accepted, not started.
        Queued => "queued",
        /// Running at the provider.
        Processing => "processing",
        /// Finished; `output` holds the result.
        Completed => "completed",
        /// Finished without a result; `error` says why.
        Failed => "failed",
        /// Cancelled by `DELETE /jobs/{job_id}`.
        Cancelled => "cancelled",
    }
}

impl JobStatus {
    /// `true` for `completed`, `failed` and `cancelled`: the job will not change again.
    /// Unknown statuses are not terminal (keep waiting; a deadline bounds the wait).
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            JobStatus::Completed | JobStatus::Failed | JobStatus::Cancelled
        )
    }
}

/// A job as the gateway reports it.
///
/// The documentation marks `model` and `created_at` required, but some of its own examples
/// omit them, so both are optional here. Objects some endpoints add (`pricing`, `metadata`)
/// are typed, and anything else is kept in [`Job::extra`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Job {
    /// Unique job identifier.
    pub job_id: JobId,
    /// Current status.
    pub status: JobStatus,
    /// Resolved model, usually `provider:model` (see [`Job::model_ref`]).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_opt_string"
    )]
    pub model: Option<String>,
    /// When the job was created (RFC 3339).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_opt_string"
    )]
    #[cfg_attr(feature = "schema", schemars(extend("format" = "date-time")))]
    pub created_at: Option<String>,
    /// When the job finished (completed, failed or cancelled).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_opt_string"
    )]
    #[cfg_attr(feature = "schema", schemars(extend("format" = "date-time")))]
    pub completed_at: Option<String>,
    /// The result, present when completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<JobOutput>,
    /// Cache metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheInfo>,
    /// Why the job failed, present when failed.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_opt_string"
    )]
    pub error: Option<String>,
    /// Price estimate and billing type (media-processing jobs report it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing: Option<Pricing>,
    /// Extra results (a slice job's `segments`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<JobMetadata>,
    /// Fields this version does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Job {
    /// A job in `status` with every optional field unset.
    pub fn new(job_id: impl Into<JobId>, status: JobStatus) -> Self {
        Self {
            job_id: job_id.into(),
            status,
            model: None,
            created_at: None,
            completed_at: None,
            output: None,
            cache: None,
            error: None,
            pricing: None,
            metadata: None,
            extra: Map::new(),
        }
    }

    /// `true` once the job will not change again.
    pub fn is_terminal(&self) -> bool {
        self.status.is_terminal()
    }

    /// The output URL, when completed.
    pub fn output_url(&self) -> Option<&str> {
        self.output
            .as_ref()
            .map(|o| o.url.as_str())
            .filter(|u| !u.is_empty())
    }

    /// `true` if the result came from the gateway's cache.
    pub fn cache_hit(&self) -> bool {
        self.cache.as_ref().is_some_and(|c| c.hit)
    }

    /// The resolved model split into provider and name.
    pub fn model_ref(&self) -> Option<ModelRef> {
        self.model.as_deref().map(ModelRef::parse)
    }
}

/// The result of a completed job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct JobOutput {
    /// Where to download the result (`https://s3.varg.ai/o/...`). This is another host than
    /// the gateway: never send the API key there.
    #[serde(default, deserialize_with = "crate::serde_util::lenient_string")]
    #[cfg_attr(feature = "schema", schemars(extend("format" = "uri")))]
    pub url: String,
    /// MIME type of the result.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_opt_string"
    )]
    pub media_type: Option<String>,
    /// Fields this version does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl JobOutput {
    /// An output at `url`.
    pub fn new(url: impl Into<String>, media_type: Option<String>) -> Self {
        Self {
            url: url.into(),
            media_type,
            extra: Map::new(),
        }
    }
}

/// Cache metadata of a job.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CacheInfo {
    /// `true` if served from the cache (free).
    #[serde(default, deserialize_with = "lenient_bool")]
    pub hit: bool,
    /// The cache key, e.g. `sha256:...`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_opt_string"
    )]
    pub key: Option<String>,
    /// Fields this version does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

open_enum! {
    /// How a job is billed.
    pub enum BillingType {
        /// Pooled varg key: credits are deducted.
        Metered => "metered",
        /// Your own provider key: no varg cost.
        Byok => "byok",
    }
}

/// Price information some jobs carry (the media-processing examples show it).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Pricing {
    /// Estimated cost in credits (cents).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_opt_f64"
    )]
    pub estimated: Option<f64>,
    /// Billing type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing: Option<BillingType>,
    /// Fields this version does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Extra results of a job (`metadata`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct JobMetadata {
    /// The pieces of a slice job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segments: Option<Vec<Segment>>,
    /// Fields this version does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One piece of a slice job. The documentation names the `first_frame` (full-resolution
/// JPEG) and `thumbnail` (480 px WebP) images; the other fields are optional and anything
/// else is kept in `extra`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Segment {
    /// URL of the segment's video.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_opt_string"
    )]
    pub url: Option<String>,
    /// Start in seconds within the source.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_opt_f64"
    )]
    pub start: Option<f64>,
    /// End in seconds within the source.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_opt_f64"
    )]
    pub end: Option<f64>,
    /// URL of the first frame (JPEG).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_opt_string"
    )]
    pub first_frame: Option<String>,
    /// URL of the thumbnail (WebP).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_opt_string"
    )]
    pub thumbnail: Option<String>,
    /// Fields this version does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
