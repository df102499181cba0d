//! The ureq implementation of varg-core's blocking [`Transport`].
//!
//! [`UreqTransport`] sends one HTTP exchange with a [`ureq::Agent`] configured as an SDK
//! needs it, whatever agent it was given:
//!
//! - 4xx and 5xx answers are returned as responses (`http_status_as_error(false)`), with
//!   their bodies and every header (`Retry-After`, `X-Cache*`, request ids);
//! - redirects are never followed, so the `Authorization` header can never travel to
//!   another host;
//! - connect and read timeouts are always set (from the request's
//!   [`RequestTimeouts`] or, where it leaves a phase open, from the transport's defaults);
//!   the total timeout applies when the request asks for one: ureq bounds the wait for the
//!   response head with it, and the body reader checks the same deadline before every
//!   read. (ureq's own per-call timeout re-arms the socket timeouts on every read, which
//!   halved the client's throughput on loopback; the check here costs one clock read per
//!   read call. A body read that is already under way is bounded by the read timeout.)
//! - request bodies are sent from memory or streamed from a reader (with
//!   `Content-Length` when the length is known, chunked otherwise); response bodies are
//!   streamed (server-sent events, downloads).

use std::io::{self, Read};
use std::time::{Duration, Instant};

use http::header::CONTENT_LENGTH;
use varg_core::config::DEFAULT_TIMEOUTS;
use varg_core::transport::{
    Body, RequestTimeouts, ResponseBody, Transport, TransportError, TransportErrorKind,
};

/// The connect timeout used when neither the request nor the builder sets one (10 s).
pub const FALLBACK_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The read timeout (longest silence between two reads) used when neither the request nor
/// the builder sets one (60 s).
pub const FALLBACK_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// A [`Transport`] backed by a [`ureq::Agent`]. Cheap to clone (the agent shares its
/// connection pool).
#[derive(Debug, Clone)]
pub struct UreqTransport {
    agent: ureq::Agent,
    connect: Duration,
    read: Duration,
}

impl Default for UreqTransport {
    fn default() -> Self {
        Self::new(DEFAULT_TIMEOUTS)
    }
}

impl UreqTransport {
    /// A transport with an agent of its own whose connect and read timeouts are those of
    /// `timeouts` (falling back to [`FALLBACK_CONNECT_TIMEOUT`] and
    /// [`FALLBACK_READ_TIMEOUT`] when unset).
    pub fn new(timeouts: RequestTimeouts) -> Self {
        let connect = timeouts.connect.unwrap_or(FALLBACK_CONNECT_TIMEOUT);
        let read = timeouts.read.unwrap_or(FALLBACK_READ_TIMEOUT);
        Self {
            agent: agent_config(connect, read).into(),
            connect,
            read,
        }
    }

    /// A transport over an agent the caller configured (proxy, TLS roots, pool size, ...).
    /// The SDK's rules still apply to every request it sends: status codes are not errors,
    /// redirects are not followed, and connect and read timeouts are set from the request
    /// (or [`FALLBACK_CONNECT_TIMEOUT`] / [`FALLBACK_READ_TIMEOUT`]).
    pub fn from_agent(agent: ureq::Agent) -> Self {
        Self {
            agent,
            connect: FALLBACK_CONNECT_TIMEOUT,
            read: FALLBACK_READ_TIMEOUT,
        }
    }

    /// The underlying agent.
    pub fn agent(&self) -> &ureq::Agent {
        &self.agent
    }
}

/// The agent configuration the SDK uses: no status errors, no redirects, connect and read
/// timeouts set, rustls (ring) for TLS.
pub fn agent_config(connect: Duration, read: Duration) -> ureq::config::Config {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_connect(Some(connect))
        .timeout_per_read(Some(read))
        .build()
}

impl Transport for UreqTransport {
    fn send(
        &self,
        request: http::Request<Body>,
    ) -> Result<http::Response<ResponseBody>, TransportError> {
        let timeouts = request
            .extensions()
            .get::<RequestTimeouts>()
            .copied()
            .unwrap_or_default();
        let (mut parts, body) = request.into_parts();
        let send_body = match body {
            Body::Empty => ureq::SendBody::none(),
            Body::Bytes(bytes) => {
                parts.headers.insert(CONTENT_LENGTH, bytes.len().into());
                ureq::SendBody::from_owned_reader(io::Cursor::new(bytes))
            }
            Body::Reader { reader, length } => {
                if let Some(len) = length {
                    parts.headers.insert(CONTENT_LENGTH, len.into());
                }
                ureq::SendBody::from_owned_reader(reader)
            }
        };
        let request = http::Request::from_parts(parts, send_body);
        let deadline = timeouts.total.map(|total| Instant::now() + total);
        let request = self
            .agent
            .configure_request(request)
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(timeouts.connect.unwrap_or(self.connect)))
            .timeout_per_read(Some(timeouts.read.unwrap_or(self.read)))
            .timeout_per_call(None)
            .timeout_recv_response(timeouts.total)
            .build();
        let response = self.agent.run(request).map_err(map_error)?;
        let (parts, body) = response.into_parts();
        let reader = body.into_reader();
        let body = match deadline {
            Some(deadline) => ResponseBody::from_reader(DeadlineReader {
                inner: reader,
                deadline,
            }),
            None => ResponseBody::from_reader(reader),
        };
        Ok(http::Response::from_parts(parts, body))
    }
}

/// A response body that fails with [`io::ErrorKind::TimedOut`] once the request's total
/// timeout has passed.
struct DeadlineReader<R> {
    inner: R,
    deadline: Instant,
}

impl<R: Read> Read for DeadlineReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if Instant::now() >= self.deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the request's total timeout passed while reading the response body",
            ));
        }
        self.inner.read(buf)
    }
}

/// Maps a ureq error to core's transport error kinds.
pub fn map_error(error: ureq::Error) -> TransportError {
    let kind = kind_of(&error);
    TransportError::with_source(kind, error)
}

fn kind_of(error: &ureq::Error) -> TransportErrorKind {
    use ureq::Timeout;
    match error {
        ureq::Error::Timeout(Timeout::Connect | Timeout::Resolve) => TransportErrorKind::Connect,
        ureq::Error::Timeout(_) => TransportErrorKind::Timeout,
        ureq::Error::HostNotFound
        | ureq::Error::ConnectionFailed
        | ureq::Error::Tls(_)
        | ureq::Error::Rustls(_)
        | ureq::Error::ConnectProxyFailed(_)
        | ureq::Error::BadUri(_)
        | ureq::Error::RequireHttpsOnly(_) => TransportErrorKind::Connect,
        ureq::Error::Io(e) => io_kind(e),
        _ => TransportErrorKind::Other,
    }
}

fn io_kind(e: &io::Error) -> TransportErrorKind {
    use io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused
        | K::AddrNotAvailable
        | K::NotConnected
        | K::HostUnreachable
        | K::NetworkUnreachable => TransportErrorKind::Connect,
        K::TimedOut | K::WouldBlock => TransportErrorKind::Timeout,
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
            TransportErrorKind::Reset
        }
        _ => TransportErrorKind::Other,
    }
}

/// Classifies an error read from a response body (a ureq error wrapped in an `io::Error`,
/// or a plain one).
pub fn classify_io(e: &io::Error) -> TransportErrorKind {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<ureq::Error>())
    {
        Some(inner) => kind_of(inner),
        None => io_kind(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_reader_stops_after_the_deadline() {
        let mut open = DeadlineReader {
            inner: io::Cursor::new(b"body".to_vec()),
            deadline: Instant::now() + Duration::from_secs(3600),
        };
        let mut text = String::new();
        open.read_to_string(&mut text).unwrap();
        assert_eq!(text, "body");
        let mut passed = DeadlineReader {
            inner: io::Cursor::new(b"body".to_vec()),
            deadline: Instant::now(),
        };
        let err = passed.read(&mut [0u8; 4]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }

    #[test]
    fn classification() {
        assert_eq!(
            kind_of(&ureq::Error::Timeout(ureq::Timeout::Connect)),
            TransportErrorKind::Connect
        );
        assert_eq!(
            kind_of(&ureq::Error::Timeout(ureq::Timeout::PerRead)),
            TransportErrorKind::Timeout
        );
        assert_eq!(
            kind_of(&ureq::Error::Io(io::Error::from(
                io::ErrorKind::ConnectionRefused
            ))),
            TransportErrorKind::Connect
        );
        let wrapped = io::Error::other(ureq::Error::Timeout(ureq::Timeout::PerRead));
        assert_eq!(classify_io(&wrapped), TransportErrorKind::Timeout);
        assert_eq!(
            classify_io(&io::Error::from(io::ErrorKind::UnexpectedEof)),
            TransportErrorKind::Reset
        );
    }

    #[test]
    fn refused_connection_is_a_connect_error() {
        // Bind then drop a listener to get a port nobody listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let transport = UreqTransport::default();
        let request = http::Request::get(format!("http://127.0.0.1:{port}/v1/balance"))
            .body(Body::Empty)
            .unwrap();
        let err = transport.send(request).unwrap_err();
        assert_eq!(err.kind, TransportErrorKind::Connect, "{err}");
    }
}
