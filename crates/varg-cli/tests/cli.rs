//! End-to-end tests of the `varg` binary against the emulator (in-process for the commands
//! that start their own, or a shared one started by the test for the rest).

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

/// The binary with no configuration, in a scratch directory (on the built-in emulator an
/// output without `-o` is saved in the current directory).
fn varg() -> Command {
    static SCRATCH: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let scratch = SCRATCH.get_or_init(|| tempfile::tempdir().unwrap());
    let mut cmd = Command::cargo_bin("varg").unwrap();
    cmd.env_remove("VARG_API_KEY")
        .env_remove("VARG_BASE_URL")
        .env_remove("RUST_LOG")
        .env("HOME", "/nonexistent-varg-home")
        .current_dir(scratch.path());
    cmd
}

fn json_lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    (w, h)
}

/// Starts with an MPEG audio frame header (11 sync bits), as the emulator's speech and music
/// outputs do.
fn is_mp3(bytes: &[u8]) -> bool {
    bytes.len() > 4 && bytes[0] == 0xFF && bytes[1] & 0xE0 == 0xE0
}

/// A gateway emulator for the test, on its own thread.
fn emulator() -> varg_emulator::BlockingEmulator {
    varg_emulator::Emulator::builder().start_blocking().unwrap()
}

#[test]
fn image_without_a_key_writes_a_real_png_via_the_built_in_emulator() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("logo.png");
    varg()
        .args([
            "image",
            "a minimalist logo, geometric shapes, blue and white gradient",
            "-a",
            "16:9",
            "-o",
        ])
        .arg(&out)
        .assert()
        .success()
        .stderr(predicate::str::contains("built-in emulator"))
        .stdout(predicate::str::contains("logo.png"));
    let (w, h) = png_size(&out);
    assert_eq!(w * 9, h * 16, "16:9 PNG, got {w}x{h}");
}

#[test]
fn json_speech_prints_json_lines_and_writes_an_mp3() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("hi.mp3");
    let assert = varg()
        .args(["--json", "speech", "hello", "-o"])
        .arg(&out)
        .assert()
        .success();
    let lines = json_lines(&assert.get_output().stdout);
    assert!(lines.iter().any(|l| l["event"] == "created"));
    let done = lines
        .iter()
        .find(|l| l["event"] == "completed")
        .expect("a completed line");
    assert_eq!(done["job"]["status"], "completed");
    assert!(done["bytes"].as_u64().unwrap() > 44);
    let bytes = std::fs::read(&out).unwrap();
    assert!(is_mp3(&bytes), "MPEG audio frames");
}

#[test]
fn every_generation_command_runs_on_the_emulator() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("clip.mp4");
    varg()
        .args(["video", "waves at sunset", "-d", "5", "-o"])
        .arg(&clip)
        .assert()
        .success();
    assert_eq!(&std::fs::read(&clip).unwrap()[4..8], b"ftyp");
    let song = dir.path().join("song.mp3");
    varg()
        .args(["music", "calm piano", "--duration", "2", "-o"])
        .arg(&song)
        .assert()
        .success();
    assert!(is_mp3(&std::fs::read(&song).unwrap()));
    // transcribe a local file: it is uploaded first
    let assert = varg()
        .args(["--json", "transcribe"])
        .arg(&song)
        .assert()
        .success();
    let lines = json_lines(&assert.get_output().stdout);
    assert!(lines.iter().any(|l| l["event"] == "uploaded"));
    assert!(lines.iter().any(|l| l["event"] == "completed"));
    // image edit with a local input file
    let png = dir.path().join("in.png");
    varg()
        .args(["image", "source", "-o"])
        .arg(&png)
        .assert()
        .success();
    varg()
        .args([
            "image",
            "make it purple",
            "-m",
            "nano-banana-pro/edit",
            "--file",
        ])
        .arg(&png)
        .assert()
        .success()
        // Without -o, the built-in emulator's output is saved in the current directory.
        .stdout(predicate::str::contains("saved ./job_"));
}

#[test]
fn account_reference_and_media_commands() {
    let emu = emulator();
    let base = emu.base_url();
    let run = |args: &[&str]| {
        varg()
            .args(["--base-url", &base, "--api-key", "varg_test"])
            .args(args)
            .assert()
    };
    run(&["balance"])
        .success()
        .stdout(predicate::str::contains("credits"));
    run(&["me"]).success();
    run(&["usage", "--from", "2026-01-01", "--to", "2026-12-31"])
        .success()
        .stdout(predicate::str::contains("total"));
    run(&["voices", "rach"])
        .success()
        .stdout(predicate::str::contains("rachel"));
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("c.mp4");
    run(&["video", "x", "-o", clip.to_str().unwrap()]).success();
    run(&["upload", clip.to_str().unwrap()])
        .success()
        .stdout(predicate::str::contains("/u/"));
    run(&["upload", clip.to_str().unwrap()])
        .success()
        .stdout(predicate::str::contains("already uploaded"));
    run(&["media", "probe", clip.to_str().unwrap()])
        .success()
        .stdout(predicate::str::contains("width"));
    run(&[
        "media",
        "trim",
        clip.to_str().unwrap(),
        "--start",
        "0",
        "--duration",
        "1",
    ])
    .success();
    run(&["media", "resize", clip.to_str().unwrap(), "--width", "320"]).success();
    run(&["media", "slice", clip.to_str().unwrap(), "--count", "2"])
        .success()
        .stdout(predicate::str::contains("segment 2"));
    run(&[
        "media",
        "ffmpeg",
        "-vf scale=100:-1",
        "--url",
        clip.to_str().unwrap(),
    ])
    .success();

    // job get / events / wait / cancel
    let assert = run(&["--json", "image", "later", "--no-wait"]).success();
    let lines = json_lines(&assert.get_output().stdout);
    let id = lines
        .iter()
        .find_map(|l| l["job"]["job_id"].as_str())
        .unwrap()
        .to_owned();
    run(&["job", "get", &id])
        .success()
        .stdout(predicate::str::contains(&id));
    run(&["job", "events", &id])
        .success()
        .stdout(predicate::str::contains("completed"));
    run(&["job", "wait", &id]).success();
    run(&["job", "cancel", &id]).success();
    run(&["job", "get", "no_such_job"])
        .code(5)
        .stderr(predicate::str::contains("404").or(predicate::str::contains("not found")));
}

#[test]
fn models_lists_the_catalogue() {
    varg()
        .args(["models", "lipsync"])
        .assert()
        .success()
        .stdout(predicate::str::contains("sync-v2-pro"));
    let assert = varg().args(["--json", "models"]).assert().success();
    assert!(json_lines(&assert.get_output().stdout).len() >= 60);
    varg().args(["models", "hologram"]).assert().code(2);
}

#[test]
fn exit_codes() {
    // usage: clap errors and broken rules
    varg().args(["image"]).assert().code(2);
    varg()
        .args(["video", "x", "-m", "kling-v2.5", "-d", "7"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("duration"));
    // job failed
    varg()
        .args([
            "image",
            "doomed",
            "--option",
            r#"emulator={"fail":"provider exploded"}"#,
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("provider exploded"))
        .stderr(predicate::str::contains("job id"));
    // auth: a key the emulator rejects
    let emu = varg_emulator::Emulator::builder()
        .api_key("varg_right")
        .start_blocking()
        .unwrap();
    varg()
        .args([
            "--base-url",
            &emu.base_url(),
            "--api-key",
            "varg_wrong",
            "balance",
        ])
        .assert()
        .code(3);
    // network: nothing listens there
    varg()
        .args([
            "--base-url",
            "http://127.0.0.1:9/v1",
            "--api-key",
            "varg_x",
            "balance",
        ])
        .assert()
        .code(4);
}

#[test]
fn batch_resumes_after_being_killed_without_creating_jobs_twice() {
    let emu = emulator();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    let out_dir = dir.path().join("out");
    let mut text = String::new();
    for i in 0..4 {
        text.push_str(&format!(
            "{{\"type\":\"image\",\"model\":\"flux-schnell\",\"prompt\":\"slow {i}\",\"provider_options\":{{\"emulator\":{{\"duration_ms\":2500}}}}}}\n"
        ));
    }
    std::fs::write(&input, text).unwrap();
    let args = |cmd: &mut std::process::Command| {
        cmd.args([
            "--base-url",
            &emu.base_url(),
            "--api-key",
            "varg_test",
            "--json",
            "batch",
        ])
        .arg(&input)
        .arg("--out-dir")
        .arg(&out_dir)
        .args(["--concurrency", "4"]);
    };
    // First run: kill it as soon as all four jobs are journaled.
    let mut first = std::process::Command::new(assert_cmd::cargo::cargo_bin("varg"));
    args(&mut first);
    let mut child = first
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let manifest = out_dir.join("manifest.jsonl");
    let started = Instant::now();
    loop {
        let created = std::fs::read_to_string(&manifest)
            .map(|t| t.matches("\"created\"").count())
            .unwrap_or(0);
        if created == 4 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the first run never journaled 4 jobs"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(emu.jobs_created(), 4);
    assert!(
        !std::fs::read_to_string(&manifest)
            .unwrap()
            .contains("finished"),
        "killed before any job finished"
    );

    // Second run: waits on the four existing jobs.
    let mut second = std::process::Command::new(assert_cmd::cargo::cargo_bin("varg"));
    args(&mut second);
    let assert = Command::from_std(second).assert().success();
    let lines = json_lines(&assert.get_output().stdout);
    assert_eq!(
        lines
            .iter()
            .filter(|l| l["event"] == "batch_item" && l["status"] == "completed")
            .count(),
        4
    );
    assert_eq!(emu.jobs_created(), 4, "no job was created twice");
    let pngs = std::fs::read_dir(&out_dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "png")
        })
        .count();
    assert_eq!(pngs, 4);

    // Third run: everything is done; nothing is created or downloaded again.
    let mut third = std::process::Command::new(assert_cmd::cargo::cargo_bin("varg"));
    args(&mut third);
    Command::from_std(third).assert().success();
    assert_eq!(emu.jobs_created(), 4);
}

#[test]
fn credentials_file_is_used_and_a_broken_one_is_reported() {
    let emu = emulator();
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".varg")).unwrap();
    let credentials = home.path().join(".varg/credentials");
    // A key from the credentials file reaches the configured gateway.
    std::fs::write(
        &credentials,
        r#"{"api_key":"varg_from_file","email":"a@b.c"}"#,
    )
    .unwrap();
    varg()
        .env("HOME", home.path())
        .args(["--base-url", &emu.base_url(), "balance"])
        .assert()
        .success()
        .stderr(predicate::str::contains("emulator").not());
    let log = emu.request_log();
    let last = log.iter().rev().find(|r| r.route == "getBalance").unwrap();
    assert_eq!(last.header("authorization"), Some("Bearer varg_from_file"));
    // A broken file is an error (exit 3), not a silent switch to the emulator.
    std::fs::write(&credentials, "not json").unwrap();
    varg()
        .env("HOME", home.path())
        .args(["balance"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("credentials"));
}
