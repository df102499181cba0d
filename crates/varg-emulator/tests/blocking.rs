//! The emulator from synchronous code (no tokio in the test), and the binary.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

use varg_emulator::Emulator;

fn raw_get(addr: std::net::SocketAddr, path: &str, auth: Option<&str>) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    let auth = auth
        .map(|k| format!("Authorization: Bearer {k}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn start_blocking_serves_without_a_runtime_in_the_caller() {
    let emulator = Emulator::builder().start_blocking().unwrap();
    let answer = raw_get(emulator.addr(), "/v1/balance", Some("varg_sync"));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"balance_cents\""));
    let denied = raw_get(emulator.addr(), "/v1/balance", None);
    assert!(denied.starts_with("HTTP/1.1 401"), "{denied}");
    assert_eq!(emulator.requests_to("getBalance"), 2);
    let log = emulator.request_log();
    assert_eq!(log[1].header("authorization"), None);
    let addr = emulator.addr();
    emulator.shutdown();
    assert!(TcpStream::connect(addr).is_err() || raw_get_fails(addr));
}

fn raw_get_fails(addr: std::net::SocketAddr) -> bool {
    match TcpStream::connect(addr) {
        Err(_) => true,
        Ok(mut s) => {
            let _ = s.write_all(b"GET /v1/me HTTP/1.1\r\nHost: x\r\n\r\n");
            let mut buf = String::new();
            s.read_to_string(&mut buf)
                .map(|_| buf.is_empty())
                .unwrap_or(true)
        }
    }
}

#[test]
fn binary_prints_its_base_url() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_varg-emulator"))
        .args([
            "--addr",
            "127.0.0.1:0",
            "--seed",
            "3",
            "--emulator-key",
            "secret",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(url.ends_with("/v1"), "{url}");
    let addr: std::net::SocketAddr = url
        .trim_start_matches("http://")
        .trim_end_matches("/v1")
        .parse()
        .unwrap();
    let ok = raw_get(addr, "/v1/me", Some("secret"));
    let denied = raw_get(addr, "/v1/me", Some("varg_other"));
    child.kill().unwrap();
    let _ = child.wait();
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    assert!(denied.starts_with("HTTP/1.1 401"), "{denied}");
}

#[test]
fn binary_refuses_a_bad_flag_value_naming_the_flag() {
    let out = Command::new(env!("CARGO_BIN_EXE_varg-emulator"))
        .args(["--addr", "127.0.0.1:0", "--fault", "createImage=sometimes"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--fault"), "{err}");
}
