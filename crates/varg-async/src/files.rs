//! Uploads (`POST /files`) and downloads of job outputs.

use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_util::io::ReaderStream;
use varg_core::error::Error;
use varg_core::hash::ContentHasher;
use varg_core::ops::{self, UploadMeta};
use varg_core::retry::{Idempotency, RetryPolicy};
use varg_core::transport::{AsyncBody, RequestTimeouts};
use varg_types::endpoint::Operation;
use varg_types::endpoint::ops as vops;
use varg_types::{FileUploadResponse, Job, MAX_UPLOAD_BYTES, ValidationError};

use crate::client::{Client, body_error, decode, status_error};

/// Progress of a download, passed to the progress callback after every chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DownloadProgress {
    /// Bytes written so far.
    pub downloaded: u64,
    /// The total size, if the server announced it (`Content-Length`).
    pub total: Option<u64>,
}

const CHUNK: usize = 64 * 1024;

fn too_large(len: u64) -> Error {
    match varg_types::validate_upload_size(len) {
        Err(e) => Error::InvalidInput(e),
        Ok(()) => Error::InvalidInput(ValidationError::new(
            "file",
            varg_types::Rule::NotEmpty,
            format!("must be at most {MAX_UPLOAD_BYTES} bytes"),
        )),
    }
}

impl Client {
    async fn upload_with(
        &self,
        meta: UploadMeta,
        retry: Option<&RetryPolicy>,
        mut body: impl FnMut() -> Result<AsyncBody, Error> + Send,
    ) -> Result<FileUploadResponse, Error> {
        let request = ops::upload_file(self.config(), &meta)?;
        let endpoint = vops::UploadFile::endpoint();
        let response = self
            .execute(
                endpoint.operation_id,
                ops::idempotency(endpoint),
                None,
                retry,
                self.config().call_budget(ops::ExchangeKind::Streaming),
                || Ok(with_body(&request, body()?)),
            )
            .await?;
        Ok(decode::<vops::UploadFile>(response, None).await?.0)
    }

    /// `POST /files` with content held in memory. The SHA-256 is sent as `X-Content-Hash`,
    /// so a second upload of the same bytes is deduplicated by the gateway. More than
    /// 50 MB is refused before sending ([`Error::InvalidInput`]).
    pub async fn upload_bytes(
        &self,
        bytes: impl Into<Bytes>,
        media_type: Option<&str>,
    ) -> Result<FileUploadResponse, Error> {
        let bytes = bytes.into();
        varg_types::validate_upload_size(bytes.len() as u64)?;
        let meta = UploadMeta {
            content_type: media_type.map(str::to_owned),
            ..UploadMeta::for_bytes(&bytes)
        };
        self.upload_with(meta, None, || Ok(AsyncBody::Bytes(bytes.clone())))
            .await
    }

    /// `POST /files` from a file. The file is read twice: once to compute its SHA-256 (sent
    /// as `X-Content-Hash` for deduplication), once streamed as the body; it is never held
    /// in memory. The media type is guessed from the extension. More than 50 MB is refused
    /// before sending.
    pub async fn upload_path(&self, path: impl AsRef<Path>) -> Result<FileUploadResponse, Error> {
        let path = path.as_ref().to_owned();
        let len = tokio::fs::metadata(&path).await?.len();
        if len > MAX_UPLOAD_BYTES {
            return Err(too_large(len));
        }
        let mut hasher = ContentHasher::new();
        let mut file = tokio::fs::File::open(&path).await?;
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = file.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        if hasher.len() != len {
            return Err(Error::Io(io::Error::other(format!(
                "{} changed size while being read",
                path.display()
            ))));
        }
        let meta = UploadMeta {
            content_hash: Some(hasher.finish()),
            length: Some(len),
            content_type: ops::media_type_for_path(&path).map(str::to_owned),
        };
        // Each attempt reopens the file; the open happens synchronously in `body` so that
        // the closure stays simple: std::fs::File converted to tokio.
        self.upload_with(meta, None, || {
            let file = std::fs::File::open(&path)?;
            let stream = ReaderStream::with_capacity(tokio::fs::File::from_std(file), CHUNK);
            Ok(AsyncBody::Stream {
                stream: Box::pin(stream),
                length: Some(len),
            })
        })
        .await
    }

    /// `POST /files` streamed from any reader. Its length, when given, is checked against
    /// the 50 MB limit before sending; a reader that yields more than 50 MB is stopped.
    /// The SHA-256 is computed while streaming and compared with the hash the gateway
    /// reports (a mismatch is an [`Error::Io`]); since headers precede the body, no
    /// `X-Content-Hash` is sent. A reader cannot be replayed, so the upload is not retried.
    pub async fn upload_reader<R>(
        &self,
        reader: R,
        len: Option<u64>,
        media_type: Option<&str>,
    ) -> Result<FileUploadResponse, Error>
    where
        R: AsyncRead + Send + Unpin + 'static,
    {
        if let Some(len) = len
            && len > MAX_UPLOAD_BYTES
        {
            return Err(too_large(len));
        }
        let meta = UploadMeta {
            content_hash: None,
            length: len,
            content_type: media_type.map(str::to_owned),
        };
        let hasher = Arc::new(Mutex::new(ContentHasher::new()));
        let feed = hasher.clone();
        let mut reader = Some(reader);
        let response = self
            .upload_with(meta, Some(&RetryPolicy::none()), move || {
                let reader = reader
                    .take()
                    .ok_or_else(|| Error::invalid_config("a reader cannot be uploaded twice"))?;
                let feed = feed.clone();
                let mut seen: u64 = 0;
                let stream = ReaderStream::with_capacity(reader, CHUNK).map(move |chunk| {
                    let chunk = chunk?;
                    seen += chunk.len() as u64;
                    if seen > MAX_UPLOAD_BYTES {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidInput,
                            format!("the reader yielded more than {MAX_UPLOAD_BYTES} bytes"),
                        ));
                    }
                    if let Ok(mut h) = feed.lock() {
                        h.update(&chunk);
                    }
                    Ok(chunk)
                });
                Ok(AsyncBody::Stream {
                    stream: Box::pin(stream),
                    length: len,
                })
            })
            .await?;
        let local = hasher
            .lock()
            .map(|h| h.clone().finish())
            .map_err(|_| Error::invalid_config("the upload hasher was poisoned"))?;
        if !response.hash.is_empty() && response.hash != local {
            return Err(Error::Io(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "upload corrupted: sent {local}, the gateway stored {}",
                    response.hash
                ),
            )));
        }
        Ok(response)
    }

    /// Streams the output of a finished job to `writer`, in constant memory, calling
    /// `progress` after every chunk. Returns the number of bytes written. The request goes
    /// to the output URL (another host than the gateway) without the API key or BYOK keys.
    /// A job without an output URL is [`Error::NoOutput`] (which carries the job).
    pub async fn download<W>(
        &self,
        job: &Job,
        writer: &mut W,
        progress: Option<&(dyn Fn(DownloadProgress) + Send + Sync)>,
    ) -> Result<u64, Error>
    where
        W: AsyncWrite + Unpin + Send + ?Sized,
    {
        let url = ops::output_url(job)?;
        self.download_url(url, writer, progress)
            .await
            .map_err(|e| e.with_job_id(&job.job_id))
    }

    /// Downloads a job's output to a file: written to `<path>.part` and renamed when
    /// complete, so a failed download never leaves a truncated file at `path`.
    pub async fn download_to_path(&self, job: &Job, path: impl AsRef<Path>) -> Result<u64, Error> {
        let url = ops::output_url(job)?;
        let path = path.as_ref();
        let mut part = path.as_os_str().to_owned();
        part.push(".part");
        let part = std::path::PathBuf::from(part);
        let mut file = tokio::fs::File::create(&part).await?;
        let result = self.download_url(url, &mut file, None).await;
        drop(file);
        match result {
            Ok(n) => {
                tokio::fs::rename(&part, path).await?;
                Ok(n)
            }
            Err(e) => {
                let _ = tokio::fs::remove_file(&part).await;
                Err(e.with_job_id(&job.job_id))
            }
        }
    }

    /// Streams any URL (`http` or `https`) to `writer` without the API key or BYOK keys,
    /// in constant memory. Retries (per the retry policy) happen only before the first body
    /// byte; a failure mid-body is returned.
    pub async fn download_url<W>(
        &self,
        url: &str,
        writer: &mut W,
        progress: Option<&(dyn Fn(DownloadProgress) + Send + Sync)>,
    ) -> Result<u64, Error>
    where
        W: AsyncWrite + Unpin + Send + ?Sized,
    {
        // Built by varg-core: no Authorization, no provider keys, no cache headers.
        let request = ops::download_request(self.config(), url)?;
        let response = self
            .execute(
                DOWNLOAD_ROUTE,
                Idempotency::Idempotent,
                None,
                None,
                self.config().call_budget(ops::ExchangeKind::Streaming),
                || Ok(with_body(&request, AsyncBody::Empty)),
            )
            .await?;
        if !response.status().is_success() {
            return Err(status_error(response).await);
        }
        let total = response
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let mut body = response.into_body();
        let mut downloaded: u64 = 0;
        while let Some(chunk) = body.next_chunk().await {
            let chunk = chunk.map_err(body_error)?;
            writer.write_all(&chunk).await?;
            downloaded += chunk.len() as u64;
            if let Some(report) = progress {
                report(DownloadProgress { downloaded, total });
            }
        }
        writer.flush().await?;
        if let Some(total) = total
            && total != downloaded
        {
            return Err(Error::Transport {
                kind: varg_core::transport::TransportErrorKind::Reset,
                message: format!("download ended after {downloaded} of {total} bytes"),
                job_id: None,
                source: None,
            });
        }
        Ok(downloaded)
    }
}

/// A copy of a body-less request from varg-core with `body` attached (one per attempt).
fn with_body(request: &http::Request<()>, body: AsyncBody) -> http::Request<AsyncBody> {
    let mut out = http::Request::new(body);
    *out.method_mut() = request.method().clone();
    *out.uri_mut() = request.uri().clone();
    *out.headers_mut() = request.headers().clone();
    if let Some(t) = request.extensions().get::<RequestTimeouts>() {
        out.extensions_mut().insert(*t);
    }
    out
}

/// The route name used in tracing spans for downloads.
const DOWNLOAD_ROUTE: &str = "download";
