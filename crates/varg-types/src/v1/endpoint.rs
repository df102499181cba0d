//! The endpoint table: the single source of truth for method, path, operation id, body and
//! response types and success status of every v1 endpoint. Clients build requests from it,
//! the emulator routes by it, and the schema exporter writes OpenAPI from it.

use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// HTTP methods the v1 API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// GET.
    Get,
    /// POST.
    Post,
    /// DELETE.
    Delete,
}

impl Method {
    /// Upper-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }

    /// `true` for methods that may be retried freely (GET, DELETE).
    pub fn is_idempotent(self) -> bool {
        matches!(self, Method::Get | Method::Delete)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the request carries its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BodyKind {
    /// No body and no query.
    None,
    /// A JSON body (`application/json`).
    Json,
    /// Raw bytes (`application/octet-stream`).
    Binary,
    /// Query parameters only.
    Query,
}

/// How the success response carries its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResponseKind {
    /// A JSON body.
    Json,
    /// No body (204).
    Empty,
    /// A `text/event-stream`.
    EventStream,
}

/// Which documentation an endpoint comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// The vendor's OpenAPI document (v0.1.0).
    OpenApi,
    /// Only the newer API reference pages (media processing).
    NewerDocs,
}

/// Every v1 endpoint, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum EndpointId {
    /// `POST /video`.
    CreateVideo,
    /// `POST /image`.
    CreateImage,
    /// `POST /speech`.
    CreateSpeech,
    /// `POST /music`.
    CreateMusic,
    /// `POST /transcription`.
    CreateTranscription,
    /// `GET /jobs/{job_id}`.
    GetJob,
    /// `DELETE /jobs/{job_id}`.
    CancelJob,
    /// `GET /jobs/{job_id}/stream`.
    StreamJob,
    /// `POST /files`.
    UploadFile,
    /// `GET /voices`.
    ListVoices,
    /// `GET /balance`.
    GetBalance,
    /// `GET /usage`.
    GetUsage,
    /// `GET /me`.
    GetMe,
    /// `POST /ffmpeg`.
    RunFfmpeg,
    /// `POST /ffmpeg/trim`.
    TrimVideo,
    /// `POST /ffmpeg/resize`.
    ResizeVideo,
    /// `POST /ffmpeg/slice`.
    SliceVideo,
    /// `POST /ffmpeg/probe`.
    ProbeMedia,
}

impl EndpointId {
    /// The table row of this endpoint.
    pub fn endpoint(self) -> &'static Endpoint {
        // The table is written in `EndpointId` order; the test `table_order_matches_ids` keeps it so.
        &ENDPOINTS[self as usize]
    }
}

/// One row of the endpoint table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Endpoint {
    /// Name.
    pub id: EndpointId,
    /// HTTP method.
    pub method: Method,
    /// Path template relative to the base URL, with `{param}` placeholders.
    pub path: &'static str,
    /// OpenAPI operation id. The media-processing ids are not visible in the documentation and
    /// are derived from its page slugs.
    pub operation_id: &'static str,
    /// OpenAPI tag.
    pub tag: &'static str,
    /// One-line summary.
    pub summary: &'static str,
    /// Path parameters, in order.
    pub path_params: &'static [&'static str],
    /// Query parameters.
    pub query_params: &'static [&'static str],
    /// How the input travels.
    pub body: BodyKind,
    /// Rust type name of the input (`None` when there is none).
    pub request_type: Option<&'static str>,
    /// Request content type.
    pub request_content_type: Option<&'static str>,
    /// How the output travels.
    pub response: ResponseKind,
    /// Rust type name of the output (`None` for an empty or streamed answer).
    pub response_type: Option<&'static str>,
    /// The success status.
    pub success_status: u16,
    /// `true` if a successful call creates a job (and may cost money).
    pub creates_job: bool,
    /// Documented error statuses.
    pub error_statuses: &'static [u16],
    /// Where the endpoint is documented.
    pub source: Source,
}

const GEN_ERRORS: &[u16] = &[400, 401, 402, 429, 500, 502];
const JOB_ERRORS: &[u16] = &[401, 404, 500];

macro_rules! row {
    ($id:ident, $method:ident, $path:literal, $op:literal, $tag:literal, $summary:literal,
     params $params:expr, query $query:expr, body $body:ident $req:expr, $ct:expr,
     response $resp:ident $resp_ty:expr, status $status:literal, job $job:literal, errors $errors:expr, $source:ident) => {
        Endpoint {
            id: EndpointId::$id,
            method: Method::$method,
            path: $path,
            operation_id: $op,
            tag: $tag,
            summary: $summary,
            path_params: $params,
            query_params: $query,
            body: BodyKind::$body,
            request_type: $req,
            request_content_type: $ct,
            response: ResponseKind::$resp,
            response_type: $resp_ty,
            success_status: $status,
            creates_job: $job,
            error_statuses: $errors,
            source: Source::$source,
        }
    };
}

const JSON: Option<&str> = Some("application/json");

/// The 18 v1 endpoints, in [`EndpointId`] order.
pub static ENDPOINTS: [Endpoint; 18] = [
    row!(CreateVideo, Post, "/video", "createVideo", "Generation", "Generate video",
        params &[], query &[], body Json Some("VideoRequest"), JSON,
        response Json Some("Job"), status 202, job true, errors GEN_ERRORS, OpenApi),
    row!(CreateImage, Post, "/image", "createImage", "Generation", "Generate, edit or upscale an image",
        params &[], query &[], body Json Some("ImageRequest"), JSON,
        response Json Some("Job"), status 202, job true, errors GEN_ERRORS, OpenApi),
    row!(CreateSpeech, Post, "/speech", "createSpeech", "Generation", "Generate speech",
        params &[], query &[], body Json Some("SpeechRequest"), JSON,
        response Json Some("Job"), status 202, job true, errors GEN_ERRORS, OpenApi),
    row!(CreateMusic, Post, "/music", "createMusic", "Generation", "Generate music",
        params &[], query &[], body Json Some("MusicRequest"), JSON,
        response Json Some("Job"), status 202, job true, errors GEN_ERRORS, OpenApi),
    row!(CreateTranscription, Post, "/transcription", "createTranscription", "Generation", "Transcribe audio",
        params &[], query &[], body Json Some("TranscriptionRequest"), JSON,
        response Json Some("Job"), status 202, job true, errors GEN_ERRORS, OpenApi),
    row!(GetJob, Get, "/jobs/{job_id}", "getJob", "Jobs", "Get job status",
        params &["job_id"], query &[], body None None, None,
        response Json Some("Job"), status 200, job false, errors JOB_ERRORS, OpenApi),
    row!(CancelJob, Delete, "/jobs/{job_id}", "cancelJob", "Jobs", "Cancel a queued or processing job",
        params &["job_id"], query &[], body None None, None,
        response Empty None, status 204, job false, errors JOB_ERRORS, OpenApi),
    row!(StreamJob, Get, "/jobs/{job_id}/stream", "streamJob", "Jobs", "Stream job status (SSE)",
        params &["job_id"], query &[], body None None, None,
        response EventStream None, status 200, job false, errors &[401, 404], OpenApi),
    row!(UploadFile, Post, "/files", "uploadFile", "Files", "Upload a file (max 50 MB)",
        params &[], query &[], body Binary None, Some("application/octet-stream"),
        response Json Some("FileUploadResponse"), status 200, job false, errors &[401, 413, 500], OpenApi),
    row!(ListVoices, Get, "/voices", "listVoices", "Reference", "List voices",
        params &[], query &[], body None None, None,
        response Json Some("VoicesResponse"), status 200, job false, errors &[401], OpenApi),
    row!(GetBalance, Get, "/balance", "getBalance", "Account", "Get balance",
        params &[], query &[], body None None, None,
        response Json Some("Balance"), status 200, job false, errors &[401], OpenApi),
    row!(GetUsage, Get, "/usage", "getUsage", "Account", "Get usage",
        params &[], query &["from", "to"], body Query Some("UsageQuery"), None,
        response Json Some("UsageResponse"), status 200, job false, errors &[401], OpenApi),
    row!(GetMe, Get, "/me", "getMe", "Account", "Get the current user",
        params &[], query &[], body None None, None,
        response Json Some("Me"), status 200, job false, errors &[401], OpenApi),
    row!(RunFfmpeg, Post, "/ffmpeg", "runFfmpegCommand", "Media Processing", "Run an ffmpeg command",
        params &[], query &[], body Json Some("FfmpegRequest"), JSON,
        response Json Some("Job"), status 202, job true, errors GEN_ERRORS, NewerDocs),
    row!(TrimVideo, Post, "/ffmpeg/trim", "trimVideo", "Media Processing", "Trim a video",
        params &[], query &[], body Json Some("TrimRequest"), JSON,
        response Json Some("Job"), status 202, job true, errors GEN_ERRORS, NewerDocs),
    row!(ResizeVideo, Post, "/ffmpeg/resize", "resizeVideo", "Media Processing", "Resize a video",
        params &[], query &[], body Json Some("ResizeRequest"), JSON,
        response Json Some("Job"), status 202, job true, errors GEN_ERRORS, NewerDocs),
    row!(SliceVideo, Post, "/ffmpeg/slice", "sliceVideoIntoSegments", "Media Processing", "Slice a video into segments",
        params &[], query &[], body Json Some("SliceRequest"), JSON,
        response Json Some("Job"), status 202, job true, errors GEN_ERRORS, NewerDocs),
    row!(ProbeMedia, Post, "/ffmpeg/probe", "probeMediaFile", "Media Processing", "Probe a media file (synchronous)",
        params &[], query &[], body Json Some("ProbeRequest"), JSON,
        response Json Some("ProbeResponse"), status 200, job false, errors &[400, 401, 500], NewerDocs),
];

/// A path could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PathError {
    /// A parameter of the template was not given.
    Missing(&'static str),
    /// A parameter was given that the template does not have.
    Unexpected(String),
    /// A parameter was empty.
    Empty(&'static str),
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathError::Missing(name) => write!(f, "path parameter `{name}` is missing"),
            PathError::Unexpected(name) => {
                write!(f, "path parameter `{name}` is not part of this endpoint")
            }
            PathError::Empty(name) => write!(f, "path parameter `{name}` must not be empty"),
        }
    }
}

impl std::error::Error for PathError {}

/// Characters left as they are in a path segment: RFC 3986 unreserved minus `.` (so that
/// `.` and `..` can never act as dot segments).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'~');

/// Percent-encodes one path segment. Everything except ASCII letters, digits, `-`, `_` and
/// `~` is encoded, so a value can never add a segment, a dot segment, a query or a fragment.
///
/// ```
/// use varg_types::endpoint::encode_segment;
/// assert_eq!(encode_segment("job_a1b2c3d4"), "job_a1b2c3d4");
/// assert_eq!(encode_segment("../balance"), "%2E%2E%2Fbalance");
/// assert_eq!(encode_segment("a b?c#d"), "a%20b%3Fc%23d");
/// ```
pub fn encode_segment(value: &str) -> String {
    utf8_percent_encode(value, SEGMENT).to_string()
}

impl Endpoint {
    /// Builds the path (relative to the base URL, starting with `/`) with every parameter
    /// percent-encoded.
    ///
    /// ```
    /// use varg_types::EndpointId;
    /// let path = EndpointId::StreamJob.endpoint().path_with(&[("job_id", "job/1")]).unwrap();
    /// assert_eq!(path, "/jobs/job%2F1/stream");
    /// ```
    pub fn path_with(&self, params: &[(&str, &str)]) -> Result<String, PathError> {
        for (name, _) in params {
            if !self.path_params.contains(name) {
                return Err(PathError::Unexpected((*name).to_owned()));
            }
        }
        let mut path = String::with_capacity(self.path.len() + 16);
        let mut rest = self.path;
        while let Some(open) = rest.find('{') {
            path.push_str(&rest[..open]);
            let close = rest[open..].find('}').map_or(rest.len(), |c| open + c);
            let name = &rest[open + 1..close];
            let param = self
                .path_params
                .iter()
                .copied()
                .find(|p| *p == name)
                .ok_or(PathError::Unexpected(name.to_owned()))?;
            let value = params
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| *v)
                .ok_or(PathError::Missing(param))?;
            if value.is_empty() {
                return Err(PathError::Empty(param));
            }
            path.push_str(&encode_segment(value));
            rest = rest.get(close + 1..).unwrap_or("");
        }
        path.push_str(rest);
        Ok(path)
    }

    /// The path of an endpoint without parameters; with parameters, see [`Endpoint::path_with`].
    pub fn static_path(&self) -> Option<&'static str> {
        self.path_params.is_empty().then_some(self.path)
    }
}

/// Ties an endpoint to its Rust input and output types. One marker type per endpoint lives
/// in [`ops`].
pub trait Operation {
    /// The endpoint.
    const ID: EndpointId;
    /// The input: a JSON body, a query, or [`ops::NoBody`].
    type Request: Serialize;
    /// The output: a JSON type, `()` for 204, or [`ops::EventStream`].
    type Response: DeserializeOwned;

    /// The table row.
    fn endpoint() -> &'static Endpoint {
        Self::ID.endpoint()
    }
}

/// Marker types, one per endpoint, implementing [`Operation`].
pub mod ops {
    use serde::{Deserialize, Serialize};

    use super::{EndpointId, Operation};
    use crate::v1::*;

    /// Input of endpoints with no body: serialises as nothing useful and is never sent.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
    pub struct NoBody;

    /// Output marker of `GET /jobs/{job_id}/stream`: the body is a `text/event-stream`, decoded
    /// event by event rather than as one JSON value.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
    pub struct EventStream;

    /// Input marker of `POST /files`: the body is raw bytes.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
    pub struct RawBytes;

    macro_rules! op {
        ($(#[$meta:meta])* $name:ident, $id:ident, $req:ty, $resp:ty) => {
            $(#[$meta])*
            #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
            pub struct $name;
            impl Operation for $name {
                const ID: EndpointId = EndpointId::$id;
                type Request = $req;
                type Response = $resp;
            }
        };
    }

    op!(/// `POST /video`.
        CreateVideo, CreateVideo, VideoRequest, Job);
    op!(/// `POST /image`.
        CreateImage, CreateImage, ImageRequest, Job);
    op!(/// `POST /speech`.
        CreateSpeech, CreateSpeech, SpeechRequest, Job);
    op!(/// `POST /music`.
        CreateMusic, CreateMusic, MusicRequest, Job);
    op!(/// `POST /transcription`.
        CreateTranscription, CreateTranscription, TranscriptionRequest, Job);
    op!(/// `GET /jobs/{job_id}`.
        GetJob, GetJob, NoBody, Job);
    op!(/// `DELETE /jobs/{job_id}` (204, no body).
        CancelJob, CancelJob, NoBody, ());
    op!(/// `GET /jobs/{job_id}/stream`.
        StreamJob, StreamJob, NoBody, EventStream);
    op!(/// `POST /files`.
        UploadFile, UploadFile, RawBytes, FileUploadResponse);
    op!(/// `GET /voices`.
        ListVoices, ListVoices, NoBody, VoicesResponse);
    op!(/// `GET /balance`.
        GetBalance, GetBalance, NoBody, Balance);
    op!(/// `GET /usage`.
        GetUsage, GetUsage, UsageQuery, UsageResponse);
    op!(/// `GET /me`.
        GetMe, GetMe, NoBody, Me);
    op!(/// `POST /ffmpeg`.
        RunFfmpeg, RunFfmpeg, FfmpegRequest, Job);
    op!(/// `POST /ffmpeg/trim`.
        TrimVideo, TrimVideo, TrimRequest, Job);
    op!(/// `POST /ffmpeg/resize`.
        ResizeVideo, ResizeVideo, ResizeRequest, Job);
    op!(/// `POST /ffmpeg/slice`.
        SliceVideo, SliceVideo, SliceRequest, Job);
    op!(/// `POST /ffmpeg/probe` (synchronous, 200).
        ProbeMedia, ProbeMedia, ProbeRequest, ProbeResponse);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_order_matches_ids() {
        for (i, row) in ENDPOINTS.iter().enumerate() {
            assert_eq!(row.id as usize, i, "{:?} is out of order", row.id);
            assert_eq!(row.id.endpoint().path, row.path);
        }
    }
}
