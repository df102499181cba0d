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
//!
//! ## Secrets in ureq's TRACE output
//!
//! ureq-proto logs every request head it writes as a hexdump, through the `log` crate at
//! TRACE level (target `ureq_proto::util`, 16 bytes a line, hex and text columns), and no
//! ureq setting turns that off. With `RUST_LOG=trace` (env_logger, or a tracing subscriber
//! with the `log` bridge) the `Authorization` and `X-Provider-Key-*` values would be readable
//! in that dump. So the key never reaches ureq: before a request is handed over, every
//! secret header value (any value marked sensitive, and `Authorization`,
//! `Proxy-Authorization`, `Cookie` and `X-Provider-Key-*` whatever their flag) is replaced by
//! a random placeholder of the same length, and the agent's connector wraps each connection
//! in a transport that writes the real value over the placeholder in the outgoing bytes,
//! after ureq has logged them and before they are sent (or encrypted, for HTTPS). The
//! placeholders are kept in a thread-local for the duration of the call (ureq sends a
//! request on the calling thread) and are only substituted in a request head, on a header
//! line of the right name. Whatever subscriber or logger the program installs, ureq's log
//! shows placeholders only. (ureq's own DEBUG lines already redact these headers.)
//!
//! The agent is always built by this module for that reason: [`UreqTransport::from_agent`]
//! keeps the configuration of the caller's agent (proxy, TLS, pool, timeouts) but not its
//! connector or resolver.

use std::cell::RefCell;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::io::{self, Read};
use std::time::{Duration, Instant};

use http::header::{AUTHORIZATION, CONTENT_LENGTH, COOKIE, PROXY_AUTHORIZATION};
use http::{HeaderMap, HeaderName, HeaderValue};
use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, DefaultConnector, NextTimeout,
    Transport as UreqConnection,
};
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
            agent: masking_agent(agent_config(connect, read)),
            connect,
            read,
        }
    }

    /// A transport with the configuration of an agent the caller configured (proxy, TLS
    /// roots, pool size, ...). The SDK's rules still apply to every request it sends: status
    /// codes are not errors, redirects are not followed, and connect and read timeouts are
    /// set from the request (or [`FALLBACK_CONNECT_TIMEOUT`] / [`FALLBACK_READ_TIMEOUT`]).
    ///
    /// Only the agent's [`ureq::config::Config`] is taken: the transport builds an agent of
    /// its own from it, with ureq's default connector and resolver wrapped so that no secret
    /// header value can appear in ureq's TRACE output (see the [module docs](self)). The
    /// new agent has a connection pool of its own.
    pub fn from_agent(agent: ureq::Agent) -> Self {
        Self {
            agent: masking_agent(agent.config().clone()),
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
        let masks = mask_secrets(&mut parts.headers)?;
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
        // The head and the body are sent within `run`, on this thread; the placeholders are
        // forgotten when it returns (or fails).
        let armed = Armed::new(masks);
        let response = self.agent.run(request).map_err(map_error);
        drop(armed);
        let response = response?;
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

/// An agent over ureq's default connector and resolver whose connections put the real
/// secret header values in place of their placeholders (see the module docs).
fn masking_agent(config: ureq::config::Config) -> ureq::Agent {
    ureq::Agent::with_parts(
        config,
        MaskingConnector(DefaultConnector::new()),
        DefaultResolver::default(),
    )
}

/// A secret header value taken out of a request, and the placeholder ureq sees instead.
struct Mask {
    name: HeaderName,
    placeholder: HeaderValue,
    value: HeaderValue,
}

/// The masks of the request being sent on this thread, and whether its head has been
/// written yet.
struct Pending {
    masks: Vec<Mask>,
    head_sent: bool,
}

thread_local! {
    static PENDING: RefCell<Option<Pending>> = const { RefCell::new(None) };
}

/// Makes a request's masks known to the connections on this thread until dropped.
struct Armed {
    previous: Option<Pending>,
}

impl Armed {
    fn new(masks: Vec<Mask>) -> Self {
        let pending = (!masks.is_empty()).then_some(Pending {
            masks,
            head_sent: false,
        });
        let previous = PENDING.with(|cell| cell.replace(pending));
        Armed { previous }
    }
}

impl Drop for Armed {
    fn drop(&mut self) {
        let previous = self.previous.take();
        PENDING.with(|cell| {
            cell.replace(previous);
        });
    }
}

/// Whether a header's value must not reach ureq's logs.
fn is_secret(name: &HeaderName, value: &HeaderValue) -> bool {
    value.is_sensitive()
        || *name == AUTHORIZATION
        || *name == PROXY_AUTHORIZATION
        || *name == COOKIE
        || name.as_str().starts_with("x-provider-key-")
}

/// Replaces every secret value in `headers` with a random placeholder of the same length
/// and returns what it replaced.
fn mask_secrets(headers: &mut HeaderMap) -> Result<Vec<Mask>, TransportError> {
    let mut masks = Vec::new();
    for (name, value) in headers.iter_mut() {
        if value.is_empty() || !is_secret(name, value) {
            continue;
        }
        let mut placeholder = HeaderValue::from_str(&random_token(value.len()))
            .map_err(|e| TransportError::with_source(TransportErrorKind::Other, e))?;
        placeholder.set_sensitive(true);
        let mut secret = std::mem::replace(value, placeholder.clone());
        secret.set_sensitive(true);
        masks.push(Mask {
            name: name.clone(),
            placeholder,
            value: secret,
        });
    }
    Ok(masks)
}

/// `len` random ASCII letters and digits (a placeholder: unique, not secret).
fn random_token(len: usize) -> String {
    const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    // Each RandomState has fresh keys; SipHash of a counter under them is random enough to
    // make a placeholder that appears nowhere else in the head.
    let mut hasher = RandomState::new().build_hasher();
    let mut token = String::with_capacity(len);
    let mut bits = 0u64;
    for i in 0..len {
        if i % 10 == 0 {
            hasher.write_usize(i);
            bits = hasher.finish();
        }
        let index = usize::try_from(bits % 62).unwrap_or(0);
        token.push(char::from(ALPHABET[index]));
        bits /= 62;
    }
    token
}

/// Writes each mask's real value over its placeholder where the placeholder is the whole
/// value of a header line of the mask's name in `chunk` (outgoing bytes of a request head).
fn unmask(chunk: &mut [u8], masks: &[Mask]) {
    for mask in masks {
        let placeholder = mask.placeholder.as_bytes();
        let value = mask.value.as_bytes();
        if placeholder.len() != value.len() || placeholder.is_empty() {
            continue;
        }
        let mut from = 0;
        while let Some(at) = find(chunk.get(from..).unwrap_or_default(), placeholder) {
            let start = from + at;
            let end = start + placeholder.len();
            if is_header_value(chunk, start, end, mask.name.as_str().as_bytes())
                && let Some(target) = chunk.get_mut(start..end)
            {
                target.copy_from_slice(value);
            }
            from = end;
        }
    }
}

/// Whether `chunk[start..end]` is the value of a header line `name: value\r\n` (the name in
/// any case) that starts the chunk or follows a line end.
fn is_header_value(chunk: &[u8], start: usize, end: usize, name: &[u8]) -> bool {
    let Some(name_start) = start.checked_sub(name.len() + 2) else {
        return false;
    };
    let line_start = name_start == 0 || chunk.get(name_start - 1) == Some(&b'\n');
    line_start
        && chunk.get(end..end + 2) == Some(b"\r\n".as_slice())
        && chunk.get(start - 2..start) == Some(b": ".as_slice())
        && chunk
            .get(name_start..start - 2)
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The connector of the SDK's agents: ureq's, with every connection wrapped in a
/// [`MaskingConnection`].
#[derive(Debug)]
struct MaskingConnector<C>(C);

impl<C: Connector<()>> Connector<()> for MaskingConnector<C> {
    type Out = MaskingConnection<C::Out>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<()>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let connection = self.0.connect(details, chained)?;
        // A new connection carries a new head, should ureq ever repeat one on it.
        PENDING.with(|cell| {
            if let Ok(mut pending) = cell.try_borrow_mut()
                && let Some(pending) = pending.as_mut()
            {
                pending.head_sent = false;
            }
        });
        Ok(connection.map(MaskingConnection))
    }
}

/// A connection that puts the real secret values of the request being sent on this thread
/// into its head just before the bytes leave (see the module docs).
#[derive(Debug)]
struct MaskingConnection<T>(T);

impl<T: UreqConnection> UreqConnection for MaskingConnection<T> {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.0.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        PENDING.with(|cell| {
            let Ok(mut pending) = cell.try_borrow_mut() else {
                return;
            };
            let Some(pending) = pending.as_mut().filter(|p| !p.head_sent) else {
                return;
            };
            if let Some(chunk) = self.0.buffers().output().get_mut(..amount) {
                unmask(chunk, &pending.masks);
                // ureq writes the empty line that ends a head in the same chunk as the last
                // header line; what follows is body, left alone.
                pending.head_sent = find(chunk, b"\r\n\r\n").is_some();
            }
        });
        self.0.transmit_output(amount, timeout)
    }

    fn maybe_await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.0.maybe_await_input(timeout)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.0.await_input(timeout)
    }

    fn is_open(&mut self) -> bool {
        self.0.is_open()
    }

    fn is_tls(&self) -> bool {
        self.0.is_tls()
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

    fn secret_headers() -> HeaderMap {
        let mut headers = HeaderMap::new();
        let mut auth = HeaderValue::from_static("Bearer varg_k3y_for_masking");
        auth.set_sensitive(true);
        headers.insert(AUTHORIZATION, auth);
        // Not flagged: masked by its name all the same.
        headers.insert("x-provider-key-fal", HeaderValue::from_static("fal_k3y"));
        let mut flagged = HeaderValue::from_static("flagged-value");
        flagged.set_sensitive(true);
        headers.insert("x-custom", flagged);
        headers.insert("accept", HeaderValue::from_static("application/json"));
        headers
    }

    #[test]
    fn secret_values_are_replaced_by_placeholders_of_the_same_length() {
        let original = secret_headers();
        let mut headers = original.clone();
        let masks = mask_secrets(&mut headers).unwrap();
        assert_eq!(masks.len(), 3);
        for mask in &masks {
            assert_eq!(original[&mask.name], mask.value);
            assert_eq!(headers[&mask.name], mask.placeholder);
            assert_ne!(mask.placeholder, mask.value);
            assert_eq!(mask.placeholder.len(), mask.value.len());
            assert!(mask.placeholder.is_sensitive() && mask.value.is_sensitive());
        }
        assert_eq!(headers["accept"], "application/json");
        // Fresh placeholders for every request.
        let mut again = original.clone();
        let other = mask_secrets(&mut again).unwrap();
        assert_ne!(other[0].placeholder, masks[0].placeholder);
    }

    #[test]
    fn placeholders_are_replaced_on_their_header_lines_only() {
        let mut headers = secret_headers();
        let masks = mask_secrets(&mut headers).unwrap();
        let auth = headers[AUTHORIZATION].to_str().unwrap().to_owned();
        let fal = headers["x-provider-key-fal"].to_str().unwrap().to_owned();
        let head = format!(
            "GET /v1/me?q={auth} HTTP/1.1\r\nAuthorization: {auth}\r\nx-other: {fal}\r\n\
             x-provider-key-fal: {fal}\r\nx-provider-key-fal: {fal}x\r\n\r\n"
        );
        let mut chunk = head.clone().into_bytes();
        unmask(&mut chunk, &masks);
        let sent = String::from_utf8(chunk).unwrap();
        assert_eq!(
            sent,
            format!(
                "GET /v1/me?q={auth} HTTP/1.1\r\nAuthorization: Bearer varg_k3y_for_masking\r\n\
                 x-other: {fal}\r\nx-provider-key-fal: fal_k3y\r\nx-provider-key-fal: {fal}x\r\n\r\n"
            )
        );
        // A chunk that starts with a header line (a head longer than one buffer).
        let mut tail = format!("authorization: {auth}\r\n").into_bytes();
        unmask(&mut tail, &masks);
        assert_eq!(tail, b"authorization: Bearer varg_k3y_for_masking\r\n");
        // Nothing to find: nothing changes, nothing panics.
        for text in ["", "\r\n", ": ", "authorization: \r\n"] {
            let mut bytes = text.as_bytes().to_vec();
            unmask(&mut bytes, &masks);
            assert_eq!(bytes, text.as_bytes());
        }
    }

    /// A request with secrets sent to a raw loopback server: the server receives the real
    /// values (ureq only ever saw placeholders), and nothing is left armed afterwards.
    #[test]
    fn the_server_receives_the_real_values() {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                head.push_str(&line);
                if line == "\r\n" || line.is_empty() {
                    break;
                }
            }
            let mut body = [0u8; 4];
            std::io::Read::read_exact(&mut reader, &mut body).unwrap();
            let mut stream = stream;
            stream
                .write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
                .unwrap();
            (head, body)
        });
        let mut request = http::Request::post(format!("{origin}/v1/me"))
            .body(Body::Bytes(b"body".to_vec().into()))
            .unwrap();
        *request.headers_mut() = secret_headers();
        let response = UreqTransport::default().send(request).unwrap();
        assert_eq!(response.status(), 204);
        let (head, body) = server.join().unwrap();
        assert!(
            head.contains("authorization: Bearer varg_k3y_for_masking\r\n"),
            "{head}"
        );
        assert!(head.contains("x-provider-key-fal: fal_k3y\r\n"), "{head}");
        assert!(head.contains("x-custom: flagged-value\r\n"), "{head}");
        assert_eq!(&body, b"body");
        assert!(PENDING.with(|cell| cell.borrow().is_none()));
    }

    #[test]
    fn a_callers_agent_keeps_its_configuration() {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .max_idle_connections(3)
            .user_agent("caller/1")
            .build()
            .into();
        let transport = UreqTransport::from_agent(agent);
        assert_eq!(transport.agent().config().max_idle_connections(), 3);
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
