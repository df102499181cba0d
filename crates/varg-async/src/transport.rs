//! The reqwest implementation of varg-core's [`AsyncTransport`].
//!
//! [`ReqwestTransport`] performs one HTTP exchange: it copies every request header, streams
//! request bodies (uploads) and response bodies (server-sent events, downloads), copies every
//! response header back, never follows redirects (so the `Authorization` header cannot travel
//! to another host), and classifies failures into the [`TransportErrorKind`]s the retry
//! policy relies on.
//!
//! TLS is rustls with the `ring` provider and the operating system's certificate verifier;
//! neither aws-lc nor OpenSSL is linked.
//!
//! ## Secrets at TRACE level
//!
//! Every secret header value (`Authorization`, `Proxy-Authorization`, `Cookie`,
//! `X-Provider-Key-*`; varg-core flags them already) is marked sensitive before the request
//! is handed to reqwest. None of the HTTP stack prints header values at TRACE: hyper's
//! HTTP/1.1 code logs nothing unless built with its unstable tracing, h2 logs frames without
//! their header block, and sensitive values are sent as HPACK "never indexed" literals and
//! print as `Sensitive` in reqwest's `Debug`. The one dump of raw bytes in that stack is
//! reqwest's `connection_verbose`, which is off in [`default_http_client`]; a caller's client
//! built with `connection_verbose(true)` logs the request head, key included, at TRACE.
//! (`varg-faults/tests/secret_hygiene.rs` captures the TRACE output of real requests over
//! HTTP/1.1 and HTTP/2 and searches it for the key in every encoding.)

use std::error::Error as StdError;
use std::io;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use varg_core::transport::{
    AsyncBody, AsyncResponseBody, AsyncTransport, RequestTimeouts, TransportError,
    TransportErrorKind,
};

use crate::Error;

/// Builds the rustls configuration used by the default client: the `ring` provider, safe
/// default protocol versions, the platform certificate verifier and ALPN for HTTP/2 and
/// HTTP/1.1.
pub fn tls_config() -> Result<rustls::ClientConfig, Error> {
    use rustls_platform_verifier::BuilderVerifierExt;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_platform_verifier())
        .map_err(|e| Error::invalid_config(format!("cannot configure TLS: {e}")))?
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Builds the `reqwest::Client` the SDK uses by default: rustls with `ring`, no redirects,
/// no proxy lookup from the environment, and the connect and read timeouts always set
/// (missing values fall back to varg-core's defaults).
pub fn default_http_client(timeouts: RequestTimeouts) -> Result<reqwest::Client, Error> {
    let defaults = varg_core::config::DEFAULT_TIMEOUTS;
    let connect = timeouts
        .connect
        .or(defaults.connect)
        .unwrap_or(Duration::from_secs(10));
    let read = timeouts
        .read
        .or(defaults.read)
        .unwrap_or(Duration::from_secs(60));
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls_config()?)
        .redirect(reqwest::redirect::Policy::none())
        // Off by default; said here because it would log request heads, key included.
        .connection_verbose(false)
        .connect_timeout(connect)
        .read_timeout(read)
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| Error::invalid_config(format!("cannot build the HTTP client: {e}")))
}

/// varg-core's [`AsyncTransport`] over a `reqwest::Client`.
///
/// Applies the [`RequestTimeouts`] a request carries: `total` as reqwest's per-request
/// timeout, `read` as the longest silence between two chunks of the response body.
/// The connect timeout is a property of the `reqwest::Client` (see [`default_http_client`]).
#[derive(Debug, Clone)]
pub struct ReqwestTransport {
    client: reqwest::Client,
}

impl ReqwestTransport {
    /// A transport over the SDK's default client (see [`default_http_client`]).
    pub fn new(timeouts: RequestTimeouts) -> Result<Self, Error> {
        Ok(Self::from_client(default_http_client(timeouts)?))
    }

    /// A transport over a caller's client. Configure it not to follow redirects (the
    /// default client does not), or the API key could follow one to another host, and
    /// leave `connection_verbose` off, or its TRACE output shows the key.
    pub fn from_client(client: reqwest::Client) -> Self {
        Self { client }
    }

    /// The underlying client.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }
}

/// Classifies a reqwest error into the kinds the retry policy distinguishes.
pub fn classify(error: &reqwest::Error) -> TransportErrorKind {
    if error.is_connect() {
        return TransportErrorKind::Connect;
    }
    if error.is_timeout() {
        return TransportErrorKind::Timeout;
    }
    if is_reset(error) {
        return TransportErrorKind::Reset;
    }
    TransportErrorKind::Other
}

fn is_reset(error: &(dyn StdError + 'static)) -> bool {
    let mut current: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<io::Error>()
            && matches!(
                io.kind(),
                io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
                    | io::ErrorKind::UnexpectedEof
            )
        {
            return true;
        }
        let text = e.to_string();
        if text.contains("connection closed")
            || text.contains("IncompleteMessage")
            || text.contains("connection reset")
            || text.contains("broken pipe")
        {
            return true;
        }
        current = e.source();
    }
    false
}

fn transport_error(error: reqwest::Error) -> TransportError {
    let kind = classify(&error);
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    TransportError {
        kind,
        message,
        source: Some(Box::new(error)),
    }
}

/// An [`io::Error`] for a failure while reading a response body, keeping the kind readable
/// by [`io_error_kind`].
fn body_io_error(error: reqwest::Error) -> io::Error {
    let kind = match classify(&error) {
        TransportErrorKind::Timeout => io::ErrorKind::TimedOut,
        TransportErrorKind::Reset => io::ErrorKind::ConnectionReset,
        TransportErrorKind::Connect => io::ErrorKind::ConnectionRefused,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, error)
}

/// The transport kind of an [`io::Error`] raised while streaming a body.
pub(crate) fn io_error_kind(error: &io::Error) -> TransportErrorKind {
    match error.kind() {
        io::ErrorKind::TimedOut => TransportErrorKind::Timeout,
        io::ErrorKind::ConnectionRefused => TransportErrorKind::Connect,
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::UnexpectedEof => TransportErrorKind::Reset,
        _ => TransportErrorKind::Other,
    }
}

#[async_trait::async_trait]
impl AsyncTransport for ReqwestTransport {
    async fn send(
        &self,
        request: http::Request<AsyncBody>,
    ) -> Result<http::Response<AsyncResponseBody>, TransportError> {
        let (mut parts, body) = request.into_parts();
        mark_secrets(&mut parts.headers);
        let timeouts = parts
            .extensions
            .get::<RequestTimeouts>()
            .copied()
            .unwrap_or_default();
        let url = reqwest::Url::parse(&parts.uri.to_string()).map_err(|e| {
            TransportError::with_source(TransportErrorKind::Other, InvalidUrl(e.to_string()))
        })?;
        let mut builder = self
            .client
            .request(parts.method, url)
            .headers(parts.headers);
        builder = match body {
            AsyncBody::Empty => builder,
            AsyncBody::Bytes(b) => builder.body(b),
            AsyncBody::Stream { stream, length } => {
                if let Some(len) = length {
                    builder = builder.header(http::header::CONTENT_LENGTH, len);
                }
                builder.body(reqwest::Body::wrap_stream(stream))
            }
        };
        if let Some(total) = timeouts.total {
            builder = builder.timeout(total);
        }
        let response = builder.send().await.map_err(transport_error)?;
        let mut out = http::Response::builder()
            .status(response.status())
            .version(response.version());
        if let Some(headers) = out.headers_mut() {
            // Every header, every value, unchanged.
            *headers = response.headers().clone();
        }
        let read = timeouts.read;
        let stream = response.bytes_stream().map_err(body_io_error);
        let body = match read {
            Some(limit) => AsyncResponseBody::from_stream(with_read_timeout(stream, limit)),
            None => AsyncResponseBody::from_stream(stream),
        };
        out.body(body).map_err(|e| {
            TransportError::with_source(TransportErrorKind::Other, InvalidUrl(e.to_string()))
        })
    }
}

/// Marks every secret header value sensitive (varg-core already does; this holds for any
/// request the transport is given).
fn mark_secrets(headers: &mut http::HeaderMap) {
    use http::header::{AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION};
    for (name, value) in headers.iter_mut() {
        if *name == AUTHORIZATION
            || *name == PROXY_AUTHORIZATION
            || *name == COOKIE
            || name.as_str().starts_with("x-provider-key-")
        {
            value.set_sensitive(true);
        }
    }
}

/// Fails a stream with [`io::ErrorKind::TimedOut`] when no chunk arrives for `limit`.
fn with_read_timeout(
    stream: impl futures_core::Stream<Item = io::Result<Bytes>> + Send + 'static,
    limit: Duration,
) -> impl futures_core::Stream<Item = io::Result<Bytes>> + Send + 'static {
    let stream = Box::pin(stream);
    futures_util::stream::unfold((stream, false), move |(mut stream, done)| async move {
        if done {
            return None;
        }
        match tokio::time::timeout(limit, stream.next()).await {
            Ok(Some(item)) => Some((item, (stream, false))),
            Ok(None) => None,
            Err(_) => Some((
                Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no data for {} s", limit.as_secs_f64()),
                )),
                (stream, true),
            )),
        }
    })
}

#[derive(Debug)]
struct InvalidUrl(String);

impl std::fmt::Display for InvalidUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid request: {}", self.0)
    }
}

impl StdError for InvalidUrl {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_uses_ring_and_alpn() {
        let config = tls_config().unwrap();
        assert_eq!(
            config.alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
        assert!(default_http_client(RequestTimeouts::default()).is_ok());
    }

    #[test]
    fn secret_headers_are_marked_sensitive() {
        let mut headers = http::HeaderMap::new();
        headers.insert("authorization", "Bearer k".parse().unwrap());
        headers.insert("x-provider-key-fal", "f".parse().unwrap());
        headers.insert("accept", "application/json".parse().unwrap());
        mark_secrets(&mut headers);
        assert!(headers["authorization"].is_sensitive());
        assert!(headers["x-provider-key-fal"].is_sensitive());
        assert!(!headers["accept"].is_sensitive());
        let debug = format!("{headers:?}");
        assert!(!debug.contains("Bearer k"), "{debug}");
    }

    #[test]
    fn io_kinds_map_back() {
        assert_eq!(
            io_error_kind(&io::Error::from(io::ErrorKind::TimedOut)),
            TransportErrorKind::Timeout
        );
        assert_eq!(
            io_error_kind(&io::Error::from(io::ErrorKind::ConnectionReset)),
            TransportErrorKind::Reset
        );
        assert_eq!(
            io_error_kind(&io::Error::other("x")),
            TransportErrorKind::Other
        );
    }

    #[tokio::test]
    async fn connect_failure_is_classified() {
        // Port 9 on loopback: nothing listens there in the test environment; a refused
        // connection is a Connect error.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let t = ReqwestTransport::new(RequestTimeouts::default()).unwrap();
        let req = http::Request::get(format!("http://{addr}/v1/balance"))
            .body(AsyncBody::Empty)
            .unwrap();
        let err = t.send(req).await.unwrap_err();
        assert_eq!(err.kind, TransportErrorKind::Connect, "{err}");
    }
}
