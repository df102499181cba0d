//! The one thing a client must supply: a way to perform one HTTP exchange.
//!
//! [`Transport`] is the blocking form and [`AsyncTransport`] the async form. Both take an
//! [`http::Request`] and return an [`http::Response`] whose body can be read incrementally
//! (for server-sent events and downloads). Request bodies are bytes or, for uploads, a
//! reader / stream.
//!
//! A closure is a transport, which makes tests short:
//!
//! ```
//! use varg_core::transport::{Body, ResponseBody, Transport, TransportError};
//!
//! let fake = |request: http::Request<Body>| -> Result<http::Response<ResponseBody>, TransportError> {
//!     assert_eq!(request.uri().path(), "/v1/balance");
//!     Ok(http::Response::builder()
//!         .status(200)
//!         .header("content-type", "application/json")
//!         .body(ResponseBody::from_bytes(r#"{"balance_cents":5000}"#))
//!         .unwrap())
//! };
//! let request = http::Request::get("https://api.varg.ai/v1/balance").body(Body::Empty).unwrap();
//! let response = fake.send(request).unwrap();
//! let body = response.into_body().read_to_end_capped(1024).unwrap();
//! assert_eq!(&body[..], br#"{"balance_cents":5000}"#);
//! ```
//!
//! # What an implementation must do
//!
//! - Return every response header, unchanged (`Retry-After`, `X-Cache*`, request ids, ...).
//! - Return non-2xx responses as responses, not errors; only failures below HTTP are a
//!   [`TransportError`], classified by [`TransportErrorKind`] (the retry policy depends on
//!   the distinction between "could not connect" and everything else).
//! - Not follow redirects while carrying the `Authorization` header to another host. The
//!   simplest correct choice is not to follow redirects at all.
//! - Apply the [`RequestTimeouts`] extension when the request carries one.

use std::fmt;
use std::future::Future;
use std::io::{self, Read};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;

/// A boxed stream of body chunks.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, io::Error>> + Send>>;

/// The kind of a failure below HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The connection could not be established (DNS, refused, TLS handshake): the request
    /// was not sent, so the server did no work.
    Connect,
    /// A timeout after the connection was made (the request may have been processed).
    Timeout,
    /// The connection was reset or closed mid-exchange.
    Reset,
    /// Anything else.
    Other,
}

impl fmt::Display for TransportErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connect => "connect",
            Self::Timeout => "timeout",
            Self::Reset => "connection reset",
            Self::Other => "transport",
        })
    }
}

/// A failure below HTTP, reported by a transport.
#[derive(Debug, thiserror::Error)]
#[error("{kind} error: {message}")]
pub struct TransportError {
    /// What kind of failure.
    pub kind: TransportErrorKind,
    /// A description for humans.
    pub message: String,
    /// The underlying error, if any.
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl TransportError {
    /// A transport error without an underlying cause.
    pub fn new(kind: TransportErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// A transport error wrapping `source`, whose `Display` becomes the message.
    pub fn with_source(
        kind: TransportErrorKind,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self {
            kind,
            message: source.to_string(),
            source: Some(Box::new(source)),
        }
    }
}

/// Timeouts a transport should apply to one request. The request builders attach this as
/// an [`http::Extensions`] value; `None` means "no limit" for that phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestTimeouts {
    /// Establishing the connection (including TLS).
    pub connect: Option<Duration>,
    /// The longest silence while reading the response (between chunks).
    pub read: Option<Duration>,
    /// The whole exchange, including reading the body. Streams leave this unset.
    pub total: Option<Duration>,
}

/// The body of a request sent by a blocking [`Transport`].
pub enum Body {
    /// No body.
    Empty,
    /// A body held in memory.
    Bytes(Bytes),
    /// A body read incrementally (uploads), with its length if known.
    Reader {
        /// The source of the body.
        reader: Box<dyn Read + Send>,
        /// The number of bytes the reader yields, if known (sent as `Content-Length`).
        length: Option<u64>,
    },
}

impl Body {
    /// The length of the body, if known.
    pub fn length(&self) -> Option<u64> {
        match self {
            Self::Empty => Some(0),
            Self::Bytes(b) => Some(b.len() as u64),
            Self::Reader { length, .. } => *length,
        }
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("Body::Empty"),
            Self::Bytes(b) => write!(f, "Body::Bytes({} bytes)", b.len()),
            Self::Reader { length, .. } => write!(f, "Body::Reader(length: {length:?})"),
        }
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Self {
        Self::Bytes(b)
    }
}

impl From<Vec<u8>> for Body {
    fn from(b: Vec<u8>) -> Self {
        Self::Bytes(b.into())
    }
}

/// The body of a request sent by an [`AsyncTransport`].
pub enum AsyncBody {
    /// No body.
    Empty,
    /// A body held in memory.
    Bytes(Bytes),
    /// A body streamed in chunks (uploads), with its length if known.
    Stream {
        /// The chunks.
        stream: ByteStream,
        /// The total length, if known (sent as `Content-Length`).
        length: Option<u64>,
    },
}

impl AsyncBody {
    /// The length of the body, if known.
    pub fn length(&self) -> Option<u64> {
        match self {
            Self::Empty => Some(0),
            Self::Bytes(b) => Some(b.len() as u64),
            Self::Stream { length, .. } => *length,
        }
    }
}

impl fmt::Debug for AsyncBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("AsyncBody::Empty"),
            Self::Bytes(b) => write!(f, "AsyncBody::Bytes({} bytes)", b.len()),
            Self::Stream { length, .. } => write!(f, "AsyncBody::Stream(length: {length:?})"),
        }
    }
}

impl From<Bytes> for AsyncBody {
    fn from(b: Bytes) -> Self {
        Self::Bytes(b)
    }
}

impl From<Vec<u8>> for AsyncBody {
    fn from(b: Vec<u8>) -> Self {
        Self::Bytes(b.into())
    }
}

impl From<Body> for Option<AsyncBody> {
    /// A blocking body as an async one, possible unless it is a reader.
    fn from(body: Body) -> Self {
        match body {
            Body::Empty => Some(AsyncBody::Empty),
            Body::Bytes(b) => Some(AsyncBody::Bytes(b)),
            Body::Reader { .. } => None,
        }
    }
}

/// The error returned when a body is larger than the caller allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("response body larger than {limit} bytes")]
pub struct BodyTooLarge {
    /// The limit that was exceeded.
    pub limit: usize,
}

fn too_large(limit: usize) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, BodyTooLarge { limit })
}

/// The body of a response returned by a blocking [`Transport`]: a reader, consumed
/// incrementally for streams and downloads or collected with
/// [`read_to_end_capped`](Self::read_to_end_capped).
pub struct ResponseBody {
    reader: Box<dyn Read + Send>,
}

impl ResponseBody {
    /// A body read from `reader`.
    pub fn from_reader(reader: impl Read + Send + 'static) -> Self {
        Self {
            reader: Box::new(reader),
        }
    }

    /// A body held in memory.
    pub fn from_bytes(bytes: impl Into<Bytes>) -> Self {
        Self::from_reader(io::Cursor::new(bytes.into()))
    }

    /// An empty body.
    pub fn empty() -> Self {
        Self::from_bytes(Bytes::new())
    }

    /// Reads the whole body, failing with an [`io::Error`] wrapping [`BodyTooLarge`] if it
    /// is longer than `limit` bytes.
    pub fn read_to_end_capped(mut self, limit: usize) -> io::Result<Bytes> {
        let mut buf = Vec::new();
        let read = (&mut self.reader)
            .take(limit as u64 + 1)
            .read_to_end(&mut buf)?;
        if read > limit {
            return Err(too_large(limit));
        }
        Ok(buf.into())
    }
}

impl Read for ResponseBody {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read(buf)
    }
}

impl fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResponseBody")
    }
}

/// The body of a response returned by an [`AsyncTransport`]: a stream of chunks, consumed
/// incrementally for streams and downloads or collected with [`collect_capped`](Self::collect_capped).
pub struct AsyncResponseBody {
    stream: ByteStream,
}

struct OneChunk(Option<Bytes>);

impl Stream for OneChunk {
    type Item = Result<Bytes, io::Error>;
    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(self.0.take().map(Ok))
    }
}

impl AsyncResponseBody {
    /// A body read from a stream of chunks.
    pub fn from_stream(
        stream: impl Stream<Item = Result<Bytes, io::Error>> + Send + 'static,
    ) -> Self {
        Self {
            stream: Box::pin(stream),
        }
    }

    /// A body held in memory.
    pub fn from_bytes(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        Self::from_stream(OneChunk((!bytes.is_empty()).then_some(bytes)))
    }

    /// An empty body.
    pub fn empty() -> Self {
        Self::from_bytes(Bytes::new())
    }

    /// The next chunk, or `None` at the end of the body.
    pub async fn next_chunk(&mut self) -> Option<io::Result<Bytes>> {
        std::future::poll_fn(|cx| self.stream.as_mut().poll_next(cx)).await
    }

    /// Collects the whole body, failing with an [`io::Error`] wrapping [`BodyTooLarge`] if
    /// it is longer than `limit` bytes.
    pub async fn collect_capped(mut self, limit: usize) -> io::Result<Bytes> {
        let mut buf = Vec::new();
        while let Some(chunk) = self.next_chunk().await {
            let chunk = chunk?;
            if buf.len() + chunk.len() > limit {
                return Err(too_large(limit));
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.into())
    }

    /// The underlying stream.
    pub fn into_stream(self) -> ByteStream {
        self.stream
    }
}

impl Stream for AsyncResponseBody {
    type Item = Result<Bytes, io::Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.stream.as_mut().poll_next(cx)
    }
}

impl fmt::Debug for AsyncResponseBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AsyncResponseBody")
    }
}

/// Performs one blocking HTTP exchange. See the [module documentation](self) for the rules.
///
/// Every `Fn(http::Request<Body>) -> Result<http::Response<ResponseBody>, TransportError>`
/// closure implements it.
pub trait Transport: Send + Sync {
    /// Sends `request` and returns the response once its headers have arrived; the body is
    /// read from the returned [`ResponseBody`].
    fn send(
        &self,
        request: http::Request<Body>,
    ) -> Result<http::Response<ResponseBody>, TransportError>;
}

impl<F> Transport for F
where
    F: Fn(http::Request<Body>) -> Result<http::Response<ResponseBody>, TransportError>
        + Send
        + Sync,
{
    fn send(
        &self,
        request: http::Request<Body>,
    ) -> Result<http::Response<ResponseBody>, TransportError> {
        self(request)
    }
}

/// Performs one HTTP exchange asynchronously. See the [module documentation](self) for the
/// rules.
///
/// Every `Fn(http::Request<AsyncBody>) -> impl Future<Output = Result<http::Response<AsyncResponseBody>, TransportError>>`
/// closure (with `Send` future) implements it.
#[async_trait::async_trait]
pub trait AsyncTransport: Send + Sync {
    /// Sends `request` and returns the response once its headers have arrived; the body is
    /// streamed from the returned [`AsyncResponseBody`].
    async fn send(
        &self,
        request: http::Request<AsyncBody>,
    ) -> Result<http::Response<AsyncResponseBody>, TransportError>;
}

#[async_trait::async_trait]
impl<F, Fut> AsyncTransport for F
where
    F: Fn(http::Request<AsyncBody>) -> Fut + Send + Sync,
    Fut: Future<Output = Result<http::Response<AsyncResponseBody>, TransportError>> + Send,
{
    async fn send(
        &self,
        request: http::Request<AsyncBody>,
    ) -> Result<http::Response<AsyncResponseBody>, TransportError> {
        self(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::task::{Wake, Waker};

    struct NoopWake;
    impl Wake for NoopWake {
        fn wake(self: Arc<Self>) {}
    }

    /// Polls a future that never waits on IO to completion.
    fn run<F: Future>(fut: F) -> F::Output {
        let waker = Waker::from(Arc::new(NoopWake));
        let mut cx = Context::from_waker(&waker);
        let mut fut = std::pin::pin!(fut);
        loop {
            if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    struct Chunks(Vec<Bytes>);
    impl Stream for Chunks {
        type Item = Result<Bytes, io::Error>;
        fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            if self.0.is_empty() {
                Poll::Ready(None)
            } else {
                Poll::Ready(Some(Ok(self.0.remove(0))))
            }
        }
    }

    #[test]
    fn async_closure_is_a_transport_and_keeps_headers() {
        let transport = |req: http::Request<AsyncBody>| async move {
            assert_eq!(req.method(), http::Method::GET);
            Ok::<_, TransportError>(
                http::Response::builder()
                    .status(200)
                    .header("x-cache", "HIT")
                    .header("x-custom", "1")
                    .body(AsyncResponseBody::from_stream(Chunks(vec![
                        Bytes::from_static(b"ab"),
                        Bytes::from_static(b"cd"),
                    ])))
                    .unwrap(),
            )
        };
        let req = http::Request::get("http://127.0.0.1/x")
            .body(AsyncBody::Empty)
            .unwrap();
        let resp = run(AsyncTransport::send(&transport, req)).unwrap();
        assert_eq!(resp.headers()["x-custom"], "1");
        assert_eq!(resp.headers()["x-cache"], "HIT");
        let body = run(resp.into_body().collect_capped(4)).unwrap();
        assert_eq!(&body[..], b"abcd");
    }

    #[test]
    fn caps_are_enforced() {
        let err = ResponseBody::from_bytes("hello")
            .read_to_end_capped(4)
            .unwrap_err();
        assert!(err.to_string().contains("4 bytes"));
        assert_eq!(
            &ResponseBody::from_bytes("hello")
                .read_to_end_capped(5)
                .unwrap()[..],
            b"hello"
        );
        let err = run(AsyncResponseBody::from_bytes("hello").collect_capped(3)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(
            run(AsyncResponseBody::empty().collect_capped(0))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn blocking_closure_error() {
        let t =
            |_req: http::Request<Body>| -> Result<http::Response<ResponseBody>, TransportError> {
                Err(TransportError::new(TransportErrorKind::Connect, "refused"))
            };
        let err = t
            .send(
                http::Request::get("http://127.0.0.1/")
                    .body(Body::Empty)
                    .unwrap(),
            )
            .unwrap_err();
        assert_eq!(err.kind, TransportErrorKind::Connect);
        assert_eq!(err.to_string(), "connect error: refused");
        assert_eq!(Body::from(vec![1, 2]).length(), Some(2));
    }
}
