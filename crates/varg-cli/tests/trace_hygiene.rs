//! The `varg` binary logging at TRACE for every target (`RUST_LOG=trace`, and `--verbose
//! --verbose`) never shows the API key, in any encoding, on stderr or stdout: not the SDK's
//! events, not reqwest's, hyper's, h2's or rustls's, and not a `log` record bridged from a
//! dependency. The key travels as `VARG_API_KEY` (as a user sets it) to an emulator on
//! loopback that requires it, so every request really carries it.
//!
//! The search is varg-faults' (`varg_faults::leak`), included by path so this crate needs
//! no dependency on the test-suite crate.

#[path = "../../varg-faults/src/leak.rs"]
#[allow(dead_code)]
mod leak;

use assert_cmd::Command;

/// Random-looking, so that no piece of it appears in a log by chance.
const KEY: &str = "varg_tr4ce_Hq8Zp2LmW7xK3nVbJ5c";
const WRONG_KEY: &str = "varg_wr0ng_Tz6Yd1QoR9sF4uGa";

fn emulator() -> varg_emulator::BlockingEmulator {
    varg_emulator::Emulator::builder()
        .api_key(KEY)
        .start_blocking()
        .unwrap()
}

/// The binary with the key in its environment and nothing else configured.
fn varg(key: &str, base_url: &str, dir: &std::path::Path) -> Command {
    let mut cmd = Command::cargo_bin("varg").unwrap();
    cmd.env_remove("RUST_LOG")
        .env("HOME", "/nonexistent-varg-home")
        .env("VARG_API_KEY", key)
        .env("VARG_BASE_URL", base_url)
        .current_dir(dir);
    cmd
}

/// Runs the command and returns stdout and stderr together, with its exit status.
fn output(mut cmd: Command) -> (bool, String) {
    let out = cmd.output().unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The log is not empty of dependencies (so the search below looks at real TRACE output)
/// and holds no key.
fn assert_traced_and_clean(what: &str, text: &str) {
    assert!(
        text.contains("TRACE"),
        "{what}: nothing was logged at TRACE, so this test would prove nothing:\n{text}"
    );
    assert!(
        ["reqwest", "hyper", "h2::", "rustls"]
            .iter()
            .any(|target| text.contains(target)),
        "{what}: no HTTP dependency logged:\n{text}"
    );
    leak::assert_no_secret(what, text, &[KEY, WRONG_KEY]);
}

#[test]
fn rust_log_trace_output_has_no_key() {
    let emu = emulator();
    let dir = tempfile::tempdir().unwrap();
    let base = emu.base_url();

    // A job created, waited for and downloaded; an account call.
    let mut image = varg(KEY, &base, dir.path());
    image
        .env("RUST_LOG", "trace")
        .args(["image", "a lighthouse at dusk", "-o"])
        .arg(dir.path().join("out.png"));
    let (ok, text) = output(image);
    assert!(ok, "image failed:\n{text}");
    assert_traced_and_clean("RUST_LOG=trace varg image", &text);
    assert!(dir.path().join("out.png").exists());

    let mut balance = varg(KEY, &base, dir.path());
    balance.env("RUST_LOG", "trace").arg("balance");
    let (ok, text) = output(balance);
    assert!(ok, "balance failed:\n{text}");
    assert_traced_and_clean("RUST_LOG=trace varg balance", &text);

    // A rejected key: the error and its log hold neither key.
    let mut rejected = varg(WRONG_KEY, &base, dir.path());
    rejected.env("RUST_LOG", "trace").arg("balance");
    let (ok, text) = output(rejected);
    assert!(!ok, "a wrong key was accepted:\n{text}");
    assert_traced_and_clean("RUST_LOG=trace varg balance (401)", &text);

    // The key did reach the gateway with every request that needs it.
    let log = emu.request_log();
    let balance = log.iter().find(|r| r.route == "getBalance").unwrap();
    assert_eq!(
        balance.header("authorization"),
        Some(&format!("Bearer {KEY}")[..])
    );
    assert!(log.iter().any(|r| r.route == "createImage"));
}

#[test]
fn verbose_verbose_output_has_no_key() {
    let emu = emulator();
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = varg(KEY, &emu.base_url(), dir.path());
    cmd.args(["--verbose", "--verbose", "speech", "hello there", "-o"])
        .arg(dir.path().join("hi.wav"));
    let (ok, text) = output(cmd);
    assert!(ok, "speech failed:\n{text}");
    assert_traced_and_clean("varg --verbose --verbose speech", &text);
}
