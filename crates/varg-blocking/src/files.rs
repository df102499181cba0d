//! Uploads (`POST /files`) and downloads of job outputs.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::header::CONTENT_LENGTH;
use varg_core::error::Error;
use varg_core::hash::ContentHasher;
use varg_core::ops::{self, UploadMeta};
use varg_core::retry::Idempotency;
use varg_core::transport::Body;
use varg_types::{FileUploadResponse, Job, MAX_UPLOAD_BYTES};

use crate::client::{Client, Prepared, body_error, decode_response};

/// Progress of a download, passed to the progress callback after every chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownloadProgress {
    /// Bytes written so far.
    pub downloaded: u64,
    /// The total size, if the server announced it (`Content-Length`).
    pub total: Option<u64>,
}

const CHUNK: usize = 64 * 1024;

/// A reader that feeds a shared hasher and refuses to yield more than `limit` bytes.
struct HashingReader<R> {
    inner: R,
    hasher: Arc<Mutex<ContentHasher>>,
    read: u64,
    limit: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.limit {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("the upload is larger than {} bytes", self.limit),
            ));
        }
        if let Ok(mut h) = self.hasher.lock() {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

fn strip_hash(h: &str) -> String {
    h.trim().trim_start_matches("sha256:").to_ascii_lowercase()
}

impl Client {
    /// Uploads a file from disk. It is read twice: once to compute its SHA-256 (sent as
    /// `X-Content-Hash`, so the gateway can skip content it already has) and once to send
    /// it, streamed. Files over 50 MB are refused before anything is sent.
    pub fn upload_path(&self, path: impl AsRef<Path>) -> Result<FileUploadResponse, Error> {
        let path = path.as_ref();
        let length = std::fs::metadata(path)?.len();
        varg_types::validate_upload_size(length)?;
        let mut hasher = ContentHasher::new();
        io::copy(&mut File::open(path)?.take(length), &mut hasher)?;
        let meta = UploadMeta {
            content_hash: Some(hasher.finish()),
            length: Some(length),
            content_type: ops::media_type_for_path(path).map(str::to_owned),
        };
        let prepared = Prepared::new(&ops::upload_file(&self.config, &meta)?);
        let mut make = || {
            let file = File::open(path)?;
            Ok(Some(prepared.with_body(Body::Reader {
                reader: Box::new(file.take(length)),
                length: Some(length),
            })))
        };
        self.upload_with(&mut make)
    }

    /// Uploads bytes held in memory (hashed first, like [`upload_path`](Self::upload_path)).
    /// `media_type` defaults to `application/octet-stream`.
    pub fn upload_bytes(
        &self,
        bytes: impl Into<Bytes>,
        media_type: Option<&str>,
    ) -> Result<FileUploadResponse, Error> {
        let bytes = bytes.into();
        let meta = UploadMeta {
            content_type: media_type.map(str::to_owned),
            ..UploadMeta::for_bytes(&bytes)
        };
        let prepared = Prepared::new(&ops::upload_file(&self.config, &meta)?);
        let mut make = || Ok(Some(prepared.with_body(Body::Bytes(bytes.clone()))));
        self.upload_with(&mut make)
    }

    /// Uploads whatever `reader` yields, streamed (never held in memory). With `len`, the
    /// 50 MB limit is checked before sending and the body has a `Content-Length`; without
    /// it the body is chunked and stops with an error past 50 MB. The SHA-256 is computed
    /// while streaming and checked against the hash the gateway reports. A reader can be
    /// read only once, so a failed upload is not retried.
    pub fn upload_reader<R: Read + Send + 'static>(
        &self,
        reader: R,
        len: Option<u64>,
        media_type: Option<&str>,
    ) -> Result<FileUploadResponse, Error> {
        let meta = UploadMeta {
            content_hash: None,
            length: len,
            content_type: media_type.map(str::to_owned),
        };
        let prepared = Prepared::new(&ops::upload_file(&self.config, &meta)?);
        let hasher = Arc::new(Mutex::new(ContentHasher::new()));
        let mut reader = Some(HashingReader {
            inner: reader,
            hasher: hasher.clone(),
            read: 0,
            limit: len.unwrap_or(MAX_UPLOAD_BYTES).min(MAX_UPLOAD_BYTES),
        });
        let mut make = || {
            Ok(reader.take().map(|r| {
                prepared.with_body(Body::Reader {
                    reader: Box::new(r),
                    length: len,
                })
            }))
        };
        let uploaded = self.upload_with(&mut make)?;
        let ours = hasher
            .lock()
            .map(|h| h.clone().finish())
            .map_err(|_| Error::Io(io::Error::other("the hasher was poisoned")))?;
        if !uploaded.hash.is_empty() && strip_hash(&uploaded.hash) != strip_hash(&ours) {
            return Err(Error::Io(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the gateway stored content with hash {} but {} was sent",
                    uploaded.hash, ours
                ),
            )));
        }
        Ok(uploaded)
    }

    fn upload_with(
        &self,
        make: &mut dyn FnMut() -> Result<Option<http::Request<Body>>, Error>,
    ) -> Result<FileUploadResponse, Error> {
        let endpoint = varg_types::EndpointId::UploadFile.endpoint();
        let response = self.send_with_retry(
            "/files",
            ops::idempotency(endpoint),
            ops::ExchangeKind::Streaming,
            None,
            make,
        )?;
        decode_response(response, false, None).map(|(f, _)| f)
    }

    /// Downloads a job's output to `writer`, streamed in constant memory; returns the
    /// number of bytes written. The request carries neither the API key nor provider keys
    /// (output URLs are on another host). A job without an output URL is
    /// [`Error::NoOutput`] (which carries the job).
    pub fn download<W: Write + ?Sized>(
        &self,
        job: &Job,
        writer: &mut W,
        progress: Option<&dyn Fn(DownloadProgress)>,
    ) -> Result<u64, Error> {
        let url = ops::output_url(job)?;
        self.download_url(url, writer, progress)
            .map_err(|e| e.with_job_id(&job.job_id))
    }

    /// Downloads a job's output to a file: written to `<path>.part` and renamed when
    /// complete, so a failed download never leaves a truncated file at `path`.
    pub fn download_to_path(&self, job: &Job, path: impl AsRef<Path>) -> Result<u64, Error> {
        let url = ops::output_url(job)?;
        let path = path.as_ref();
        let mut part = path.as_os_str().to_owned();
        part.push(".part");
        let part = std::path::PathBuf::from(part);
        let mut file = BufWriter::new(File::create(&part)?);
        let result = self.download_url(url, &mut file, None).and_then(|n| {
            file.flush()?;
            Ok(n)
        });
        drop(file);
        match result {
            Ok(n) => {
                std::fs::rename(&part, path)
                    .map_err(|e| Error::from(e).with_job_id(&job.job_id))?;
                Ok(n)
            }
            Err(e) => {
                let _ = std::fs::remove_file(&part);
                Err(e.with_job_id(&job.job_id))
            }
        }
    }

    /// Downloads any URL to `writer` without credentials, streamed in constant memory,
    /// with an optional progress callback; returns the number of bytes written.
    pub fn download_url<W: Write + ?Sized>(
        &self,
        url: &str,
        writer: &mut W,
        progress: Option<&dyn Fn(DownloadProgress)>,
    ) -> Result<u64, Error> {
        // Built by varg-core: no Authorization, no provider keys, no cache headers.
        let request = ops::download_request(&self.config, url)?;
        let prepared = Prepared::new(&request);
        let mut make = || Ok(Some(prepared.with_body(Body::Empty)));
        let response = self.send_with_retry(
            "download",
            Idempotency::Idempotent,
            ops::ExchangeKind::Streaming,
            None,
            &mut make,
        )?;
        let total = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let mut body = response.into_body();
        let mut buf = vec![0u8; CHUNK];
        let mut downloaded = 0u64;
        loop {
            let n = match body.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(body_error(e)),
            };
            writer.write_all(&buf[..n])?;
            downloaded += n as u64;
            if let Some(f) = progress {
                f(DownloadProgress { downloaded, total });
            }
        }
        writer.flush()?;
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
