//! Secret hygiene of both clients: the API key and the provider (BYOK) keys
//!
//! - never appear in `Debug` or `Display` of the client, its builder, its configuration or
//!   the key types;
//! - never appear in error messages (`Display` and `Debug`) of any kind: API errors, transport
//!   errors, decode errors, configuration errors, failed jobs;
//! - never appear, in any encoding (see `varg_faults::leak`), in the TRACE output of the
//!   clients and of every dependency: a tracing-subscriber fmt subscriber at TRACE for all
//!   targets, with span events and the `log` bridge (ureq and ureq-proto log through `log`;
//!   ureq-proto hex-dumps every request head it writes), over HTTP/1.1 (both clients) and
//!   HTTP/2 (the async client with prior knowledge, as the emulator speaks h2c);
//! - are sent to the gateway and to no other host: output downloads carry no `Authorization`
//!   and no `X-Provider-Key-*` header, and a redirect from the gateway to another host does
//!   not take them along.
//!
//! The emulator runs on a runtime of its own, so the tracing subscriber installed on the test
//! thread sees the clients' events only (the async tests run a current-thread runtime, so
//! reqwest's, hyper's and h2's connection tasks run on the test thread too).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tracing_subscriber::fmt::format::FmtSpan;
use varg_emulator::{BlockingEmulator, Emulator, Fault, routes};
use varg_faults::leak::assert_no_secret;

const KEY: &str = "varg_s3cr3t_hygiene_key_9f2a";
const WRONG_KEY: &str = "varg_wr0ng_s3cr3t_key_51c7";
const FAL_KEY: &str = "fal_s3cr3t_byok_key_77d1";
const ELEVEN_KEY: &str = "el_s3cr3t_byok_key_88e2";
const SECRETS: [&str; 4] = [KEY, WRONG_KEY, FAL_KEY, ELEVEN_KEY];

/// Fails if `text` contains any secret (or a recognisable piece of one).
fn assert_clean(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what} contains a secret: {text}");
    }
    assert!(
        !text.contains("s3cr3t"),
        "{what} contains part of a secret: {text}"
    );
}

/// `Display` and `Debug` of an error must be clean.
fn assert_error_clean(what: &str, e: &varg_core::Error) {
    assert_clean(what, &e.to_string());
    assert_clean(what, &format!("{e:?}"));
    assert_clean(what, &format!("{e:#?}"));
}

/// A tracing writer into a shared buffer.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs a TRACE subscriber for the current thread, writing to the returned buffer. `log`
/// records (ureq's) reach it through the process-wide `log` bridge, installed once.
fn capture_tracing() -> (Capture, tracing::subscriber::DefaultGuard) {
    static BRIDGE: std::sync::Once = std::sync::Once::new();
    BRIDGE.call_once(|| {
        tracing_log::LogTracer::init().expect("no other logger in this test binary");
    });
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::FULL)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    (capture, guard)
}

fn emulator() -> BlockingEmulator {
    Emulator::builder()
        .api_key(KEY)
        .time_scale(0.05)
        .keepalive(Duration::from_millis(50))
        .start_blocking()
        .unwrap()
}

fn fast_retry() -> varg_core::RetryPolicy {
    varg_core::RetryPolicy {
        max_retries: 1,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(10),
        ..varg_core::RetryPolicy::default()
    }
}

fn image(prompt: &str) -> varg_async::ImageRequest {
    varg_async::ImageRequest::new(varg_async::models::image::FLUX_PRO, prompt)
}

/// Checks the emulator's request log: the key goes to the gateway routes (so the check below
/// is not vacuous) and nowhere else.
fn assert_request_log(emu: &BlockingEmulator) {
    let log = emu.request_log();
    let mut downloads = 0;
    let mut gateway = 0;
    for record in &log {
        if record.route == routes::DOWNLOAD_OUTPUT || record.route == routes::DOWNLOAD_FILE {
            downloads += 1;
            for (name, value) in &record.headers {
                assert_ne!(
                    name, "authorization",
                    "download {} sent {name}",
                    record.path
                );
                assert!(
                    !name.starts_with("x-provider-key"),
                    "download {} sent {name}",
                    record.path
                );
                assert_clean(&format!("download header {name}"), value);
            }
        } else if record.route != "unknown" {
            gateway += 1;
        }
    }
    assert!(downloads >= 1, "no download in {log:?}");
    assert!(gateway >= 3);
    let creates = emu.requests_for("createImage");
    let sent = creates
        .iter()
        .find(|r| r.header("authorization") == Some(&format!("Bearer {KEY}")[..]))
        .expect("the key reaches the gateway");
    assert_eq!(sent.header("x-provider-key-fal"), Some(FAL_KEY));
    assert_eq!(sent.header("x-provider-key-elevenlabs"), Some(ELEVEN_KEY));
}

/// A one-shot HTTP server on loopback: answers every request with `answer(path)` and records
/// the request heads it received.
struct RawServer {
    origin: String,
    heads: Arc<Mutex<Vec<String>>>,
}

impl RawServer {
    fn start(answer: impl Fn(&str) -> String + Send + 'static) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let heads = Arc::new(Mutex::new(Vec::new()));
        let seen = heads.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                if let Some(head) = serve_one(stream, &answer) {
                    seen.lock().unwrap().push(head);
                }
            }
        });
        RawServer { origin, heads }
    }

    fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

fn serve_one(stream: TcpStream, answer: &impl Fn(&str) -> String) -> Option<String> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut head = String::new();
    let mut content_length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            content_length = value.trim().parse().unwrap_or(0);
        }
        let end = line == "\r\n";
        head.push_str(&line);
        if end {
            break;
        }
    }
    let mut body = vec![0u8; content_length];
    reader.read_exact(&mut body).ok()?;
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let mut stream = stream;
    stream.write_all(answer(&path).as_bytes()).ok()?;
    Some(head)
}

/// A gateway that redirects every request to `target` (same path), and the target host.
fn redirecting_gateway() -> (RawServer, RawServer) {
    let target = RawServer::start(|_| {
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 21\r\nConnection: close\r\n\r\n{\"balance_cents\":100}".to_owned()
    });
    let to = target.origin.clone();
    let gateway = RawServer::start(move |path| {
        format!(
            "HTTP/1.1 307 Temporary Redirect\r\nLocation: {to}{path}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
    });
    (gateway, target)
}

fn assert_target_clean(target: &RawServer) {
    for head in target.heads() {
        let lower = head.to_ascii_lowercase();
        assert!(
            !lower.contains("authorization:"),
            "redirect carried the key: {head}"
        );
        assert!(
            !lower.contains("x-provider-key"),
            "redirect carried a BYOK key: {head}"
        );
        assert_clean("a request to another host", &head);
    }
}

#[test]
fn async_client_keeps_its_keys() {
    let emu = emulator();
    let (capture, _guard) = capture_tracing();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        use varg_async::{Client, Provider, WaitOptions};

        let builder = Client::builder()
            .api_key(KEY)
            .base_url(emu.base_url())
            .provider_key(Provider::Fal, FAL_KEY)
            .provider_key(Provider::ElevenLabs, ELEVEN_KEY)
            .retry(fast_retry());
        assert_clean("ClientBuilder Debug", &format!("{builder:?}"));
        let client = builder.build().unwrap();
        assert_clean("Client Debug", &format!("{client:?} {client:#?}"));
        assert_clean("Config Debug", &format!("{:?}", client.config()));
        let key = varg_async::ApiKey::from(KEY);
        assert_clean("ApiKey", &format!("{key} {key:?}"));

        // A job through SSE, its output downloaded.
        let job = client
            .generate_image(&image("hygiene async"), WaitOptions::new())
            .await
            .unwrap();
        assert_clean("Job Debug", &format!("{job:?}"));
        let mut out = Vec::new();
        let n = client.download(&job, &mut out, None).await.unwrap();
        assert!(n > 0);

        // Failed job, unknown job, injected faults: every error is clean.
        let failed = client
            .generate_image(
                &image("hygiene async fail").provider_option("emulator", json!({"fail": "boom"})),
                WaitOptions::new(),
            )
            .await
            .unwrap_err();
        assert_error_clean("failed job", &failed);
        assert_error_clean("404", &client.get_job("job_missing").await.unwrap_err());
        for fault in [
            Fault::Status(500),
            Fault::Html(502),
            Fault::Reset,
            Fault::MalformedJson,
            Fault::RateLimited {
                retry_after_secs: 600,
            },
        ] {
            emu.push_fault("getBalance", fault.clone());
            emu.push_fault("getBalance", fault.clone());
            let e = client.balance().await.unwrap_err();
            assert_error_clean(&format!("{fault:?}"), &e);
        }
        emu.clear_faults();

        // A rejected key, a closed port, a key that is not a header value.
        let wrong = Client::builder()
            .api_key(WRONG_KEY)
            .base_url(emu.base_url())
            .build()
            .unwrap();
        let e = wrong.balance().await.unwrap_err();
        assert_eq!(e.status().map(|s| s.as_u16()), Some(401));
        assert_error_clean("401", &e);
        let closed = Client::builder()
            .api_key(KEY)
            .base_url("http://127.0.0.1:9/v1")
            .retry(varg_core::RetryPolicy::none())
            .build()
            .unwrap();
        assert_error_clean("connect", &closed.me().await.unwrap_err());
        let bad = Client::builder()
            .api_key(format!("{KEY}\r\nx-injected: 1"))
            .base_url(emu.base_url())
            .build()
            .unwrap_err();
        assert_error_clean("config", &bad);

        // A gateway that redirects to another host: nothing secret may arrive there.
        let (gateway, target) = redirecting_gateway();
        let redirected = Client::builder()
            .api_key(KEY)
            .base_url(format!("{}/v1", gateway.origin))
            .allow_insecure_http(true)
            .provider_key(Provider::Fal, FAL_KEY)
            .retry(varg_core::RetryPolicy::none())
            .build()
            .unwrap();
        if let Err(e) = redirected.balance().await {
            assert_error_clean("redirect", &e);
        }
        if let Err(e) = redirected.create_image(&image("hygiene redirect")).await {
            assert_error_clean("redirect", &e);
        }
        // An output URL that redirects elsewhere.
        let mut sink = Vec::new();
        if let Err(e) = redirected
            .download_url(&format!("{}/o/out.png", gateway.origin), &mut sink, None)
            .await
        {
            assert_error_clean("download redirect", &e);
        }
        assert!(!gateway.heads().is_empty());
        assert_target_clean(&target);
    });
    assert_request_log(&emu);
    let traced = capture.text();
    assert!(traced.contains("varg.request"), "nothing traced: {traced}");
    assert!(
        traced.contains("TRACE") && traced.contains("reqwest"),
        "no dependency traced: {traced}"
    );
    assert_no_secret("tracing output", &traced, &SECRETS);
    assert_clean("tracing output", &traced);
}

#[test]
fn blocking_client_keeps_its_keys() {
    use varg_blocking::{Client, Provider, WaitOptions};

    let emu = emulator();
    let (capture, _guard) = capture_tracing();

    let builder = Client::builder()
        .api_key(KEY)
        .base_url(emu.base_url())
        .provider_key(Provider::Fal, FAL_KEY)
        .provider_key(Provider::ElevenLabs, ELEVEN_KEY)
        .retry(fast_retry());
    assert_clean("ClientBuilder Debug", &format!("{builder:?}"));
    let client = builder.build().unwrap();
    assert_clean("Client Debug", &format!("{client:?} {client:#?}"));
    assert_clean("Config Debug", &format!("{:?}", client.config()));
    let key = varg_blocking::ApiKey::from(KEY);
    assert_clean("ApiKey", &format!("{key} {key:?}"));

    let job = client
        .generate_image(&image("hygiene blocking"), WaitOptions::new())
        .unwrap();
    let mut out = Vec::new();
    assert!(client.download(&job, &mut out, None).unwrap() > 0);

    let failed = client
        .generate_image(
            &image("hygiene blocking fail").provider_option("emulator", json!({"fail": "boom"})),
            WaitOptions::new(),
        )
        .unwrap_err();
    assert_error_clean("failed job", &failed);
    assert_error_clean("404", &client.get_job("job_missing").unwrap_err());
    for fault in [
        Fault::Status(500),
        Fault::Html(502),
        Fault::Reset,
        Fault::MalformedJson,
        Fault::RateLimited {
            retry_after_secs: 600,
        },
    ] {
        emu.push_fault("getBalance", fault.clone());
        emu.push_fault("getBalance", fault.clone());
        let e = client.balance().unwrap_err();
        assert_error_clean(&format!("{fault:?}"), &e);
    }
    emu.clear_faults();

    let wrong = Client::builder()
        .api_key(WRONG_KEY)
        .base_url(emu.base_url())
        .build()
        .unwrap();
    let e = wrong.balance().unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(401));
    assert_error_clean("401", &e);
    let closed = Client::builder()
        .api_key(KEY)
        .base_url("http://127.0.0.1:9/v1")
        .retry(varg_core::RetryPolicy::none())
        .build()
        .unwrap();
    assert_error_clean("connect", &closed.me().unwrap_err());
    let bad = Client::builder()
        .api_key(format!("{KEY}\r\nx-injected: 1"))
        .base_url(emu.base_url())
        .build()
        .unwrap_err();
    assert_error_clean("config", &bad);

    let (gateway, target) = redirecting_gateway();
    let redirected = Client::builder()
        .api_key(KEY)
        .base_url(format!("{}/v1", gateway.origin))
        .allow_insecure_http(true)
        .provider_key(Provider::Fal, FAL_KEY)
        .retry(varg_core::RetryPolicy::none())
        .build()
        .unwrap();
    if let Err(e) = redirected.balance() {
        assert_error_clean("redirect", &e);
    }
    if let Err(e) = redirected.create_image(&image("hygiene redirect")) {
        assert_error_clean("redirect", &e);
    }
    let mut sink = Vec::new();
    if let Err(e) =
        redirected.download_url(&format!("{}/o/out.png", gateway.origin), &mut sink, None)
    {
        assert_error_clean("download redirect", &e);
    }
    assert!(!gateway.heads().is_empty());
    assert_target_clean(&target);

    assert_request_log(&emu);
    let traced = capture.text();
    assert!(traced.contains("varg.request"), "nothing traced: {traced}");
    // ureq-proto's hexdump of the request heads was captured (through the `log` bridge), so
    // the search below did look at it.
    assert!(
        traced.contains("TRACE ureq_proto"),
        "no ureq hexdump traced: {traced}"
    );
    assert_no_secret("tracing output", &traced, &SECRETS);
    assert_clean("tracing output", &traced);
}

/// The async client over HTTP/2 (prior knowledge: the emulator speaks h2c): h2 traces every
/// frame it sends, and none of that output holds a key (the header values are marked
/// sensitive, so HPACK never indexes them either).
#[test]
fn async_client_over_http2_traces_no_key() {
    use varg_async::{Client, Provider, WaitOptions};

    let emu = emulator();
    let (capture, _guard) = capture_tracing();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let http2 = || {
            reqwest::Client::builder()
                .tls_backend_preconfigured(varg_async::transport::tls_config().unwrap())
                .redirect(reqwest::redirect::Policy::none())
                .http2_prior_knowledge()
                .build()
                .unwrap()
        };
        let client = Client::builder()
            .api_key(KEY)
            .base_url(emu.base_url())
            .provider_key(Provider::Fal, FAL_KEY)
            .provider_key(Provider::ElevenLabs, ELEVEN_KEY)
            .retry(fast_retry())
            .http_client(http2())
            .build()
            .unwrap();
        let job = client
            .generate_image(&image("hygiene http2"), WaitOptions::new())
            .await
            .unwrap();
        let mut out = Vec::new();
        assert!(client.download(&job, &mut out, None).await.unwrap() > 0);
        client.balance().await.unwrap();
        let wrong = Client::builder()
            .api_key(WRONG_KEY)
            .base_url(emu.base_url())
            .http_client(http2())
            .build()
            .unwrap();
        let e = wrong.balance().await.unwrap_err();
        assert_eq!(e.status().map(|s| s.as_u16()), Some(401));
    });
    assert_request_log(&emu);
    let traced = capture.text();
    // h2 itself traced the frames (so HTTP/2 was spoken and its output is searched).
    assert!(
        traced.contains("TRACE h2::") && traced.contains("Headers"),
        "no h2 frames traced: {traced}"
    );
    assert_no_secret("tracing output", &traced, &SECRETS);
    assert_clean("tracing output", &traced);
}

/// A caller's own HTTP client that follows redirects (reqwest's and ureq's defaults) still
/// carries no key to another host: reqwest drops the credentials when the host changes, and
/// the blocking transport forbids redirects on every request whatever the agent says.
#[test]
fn callers_redirecting_http_clients_carry_no_key_elsewhere() {
    let (gateway, target) = redirecting_gateway();
    let base = format!("{}/v1", gateway.origin);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(varg_async::transport::tls_config().unwrap())
            .build()
            .unwrap();
        let client = varg_async::Client::builder()
            .api_key(KEY)
            .base_url(&base)
            .allow_insecure_http(true)
            .provider_key(varg_async::Provider::Fal, FAL_KEY)
            .provider_key(varg_async::Provider::ElevenLabs, ELEVEN_KEY)
            .retry(varg_core::RetryPolicy::none())
            .http_client(http)
            .build()
            .unwrap();
        match client.balance().await {
            Ok(balance) => assert_clean("balance", &format!("{balance:?}")),
            Err(e) => assert_error_clean("redirect", &e),
        }
    });

    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    let client = varg_blocking::Client::builder()
        .api_key(KEY)
        .base_url(&base)
        .allow_insecure_http(true)
        .provider_key(varg_blocking::Provider::Fal, FAL_KEY)
        .retry(varg_core::RetryPolicy::none())
        .http_client(agent)
        .build()
        .unwrap();
    match client.balance() {
        Ok(balance) => assert_clean("balance", &format!("{balance:?}")),
        Err(e) => assert_error_clean("redirect", &e),
    }

    // The gateway was asked twice (once per client) and forwarded requests arrived clean.
    assert_eq!(gateway.heads().len(), 2);
    // reqwest did follow the redirect, so the other host really was contacted.
    assert_eq!(target.heads().len(), 1);
    assert_target_clean(&target);
}
