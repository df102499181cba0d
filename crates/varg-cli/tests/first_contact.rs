//! What a new user meets in the first ten minutes, driven through the real `varg` binary
//! against emulators over loopback: Ctrl-C, bad output paths, model typos, the built-in
//! emulator's state across runs, closed pipes, batch edits, explicit base URLs and stalls.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

/// The binary with a fresh HOME of its own, no `VARG_*` variables, run in `cwd`.
struct User {
    home: tempfile::TempDir,
    cwd: tempfile::TempDir,
}

impl User {
    fn new() -> Self {
        Self {
            home: tempfile::tempdir().unwrap(),
            cwd: tempfile::tempdir().unwrap(),
        }
    }

    fn std(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("varg"));
        cmd.env_remove("VARG_API_KEY")
            .env_remove("VARG_BASE_URL")
            .env_remove("RUST_LOG")
            .env("HOME", self.home.path())
            .current_dir(self.cwd.path());
        cmd
    }

    fn varg(&self) -> Command {
        Command::from_std(self.std())
    }

    fn files_in_cwd(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.cwd.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

fn json_lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

fn stderr_of(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stderr).into_owned()
}

fn is_png(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|b| b.starts_with(b"\x89PNG\r\n\x1a\n"))
}

/// Spawns `cmd` with stderr piped; returns the child and a channel of its stderr lines.
fn spawn_reading_stderr(mut cmd: std::process::Command) -> (Child, mpsc::Receiver<String>) {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Reads lines until one contains `needle`; returns every line read so far.
fn read_until(rx: &mpsc::Receiver<String>, needle: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                let hit = line.contains(needle);
                seen.push(line);
                if hit {
                    return seen;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    panic!("never saw {needle:?} on stderr; saw {seen:#?}");
}

fn rest(rx: &mpsc::Receiver<String>) -> Vec<String> {
    rx.iter().collect()
}

/// The job id in a line such as `image job job_0001abc created`.
fn job_id_in(lines: &[String]) -> String {
    lines
        .iter()
        .flat_map(|l| l.split(|c: char| c.is_whitespace() || c == '`'))
        .find(|w| w.starts_with("job_"))
        .unwrap_or_else(|| panic!("no job id in {lines:#?}"))
        .to_owned()
}

fn interrupt(child: &Child) {
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn wait_exit(mut child: Child) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the command did not exit after SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

const SLOW: &str = r#"emulator={"duration_ms":3000}"#;

#[test]
fn ctrl_c_prints_the_job_and_how_to_resume_and_the_job_survives() {
    let user = User::new();
    let mut cmd = user.std();
    cmd.args(["image", "a slow cat", "--option", SLOW, "-o", "cat.png"]);
    let (child, rx) = spawn_reading_stderr(cmd);
    // The id is on stderr the moment the job exists.
    let seen = read_until(&rx, "created");
    let id = job_id_in(&seen);
    interrupt(&child);
    assert_eq!(wait_exit(child), 130);
    let after = rest(&rx).join("\n");
    assert!(
        after.contains(&format!("varg job wait {id} -o cat.png")),
        "{after}"
    );
    assert!(
        !user.files_in_cwd().iter().any(|f| f.ends_with(".part")),
        "no partial file survives"
    );
    // A later process (same HOME, built-in emulator again) picks the job up.
    user.varg()
        .args(["job", "wait", &id, "-o", "cat.png"])
        .assert()
        .success();
    assert!(is_png(&user.cwd.path().join("cat.png")));
}

#[test]
fn ctrl_c_with_cancel_on_interrupt_cancels_the_job() {
    let user = User::new();
    let mut cmd = user.std();
    cmd.args([
        "--cancel-on-interrupt",
        "speech",
        "hello",
        "--option",
        SLOW,
        "-o",
        "hi.mp3",
    ]);
    let (child, rx) = spawn_reading_stderr(cmd);
    let id = job_id_in(&read_until(&rx, "created"));
    interrupt(&child);
    assert_eq!(wait_exit(child), 130);
    let after = rest(&rx).join("\n");
    assert!(
        after.contains(&format!("cancel requested for {id}")),
        "{after}"
    );
    let got = user
        .varg()
        .args(["--json", "job", "get", &id])
        .assert()
        .success();
    let lines = json_lines(&got.get_output().stdout);
    assert_eq!(lines[0]["job"]["status"], "cancelled");
}

#[test]
fn bad_output_paths_fail_before_any_job_is_created() {
    let emu = varg_emulator::Emulator::builder().start_blocking().unwrap();
    let user = User::new();
    std::fs::write(user.cwd.path().join("cat.png"), b"not a directory").unwrap();
    let run = |out: &str| {
        user.varg()
            .args(["--base-url", &emu.base_url(), "image", "a cat", "-o", out])
            .assert()
    };
    let refused = run("cat.png/x.png").code(2);
    assert!(stderr_of(&refused).contains("cat.png is not a directory"));
    run("missing-dir/x.png")
        .code(2)
        .stderr(predicate::str::contains("does not exist"));
    run("/proc/x.png")
        .code(2)
        .stderr(predicate::str::contains("cannot write in /proc"));
    run("outdir/")
        .code(2)
        .stderr(predicate::str::contains("no such directory"));
    assert_eq!(emu.jobs_created(), 0, "nothing was paid for");

    // A directory means: the file goes in it, named after the job.
    std::fs::create_dir(user.cwd.path().join("outdir")).unwrap();
    let saved = run("outdir").success();
    let text = String::from_utf8_lossy(&saved.get_output().stdout).into_owned();
    let files: Vec<PathBuf> = std::fs::read_dir(user.cwd.path().join("outdir"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("job_") && name.ends_with(".png"), "{name}");
    assert!(text.contains(&name), "the message says where: {text}");
    assert!(is_png(&files[0]));
}

#[test]
fn output_to_stdout_with_a_dash() {
    let user = User::new();
    let assert = user
        .varg()
        .args(["image", "a cat", "-o", "-"])
        .assert()
        .success();
    assert!(assert.get_output().stdout.starts_with(b"\x89PNG\r\n\x1a\n"));
    user.varg()
        .args(["--json", "image", "a cat", "-o", "-"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("pick one"));
}

#[test]
fn model_typos_are_caught_by_the_emulator_and_warned_about_by_the_cli() {
    let user = User::new();
    let typo = user
        .varg()
        .args(["image", "a cat", "-m", "flux-shnell"])
        .assert()
        .code(2);
    let stderr = stderr_of(&typo);
    assert!(stderr.contains("warning:"), "{stderr}");
    assert!(
        stderr.contains("did you mean \"flux-schnell\"?"),
        "{stderr}"
    );
    user.varg()
        .args(["image", "a cat", "-m", "kling-v3"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("video model"));
    user.varg()
        .args(["speech", "hello", "-m", "flux-pro"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("image model"));

    // A gateway that knows a model the SDK does not yet: the CLI warns and still sends it.
    let emu = varg_emulator::Emulator::builder()
        .accept_any_model(true)
        .start_blocking()
        .unwrap();
    user.varg()
        .args([
            "--base-url",
            &emu.base_url(),
            "image",
            "a cat",
            "-m",
            "flux-next-week",
        ])
        .assert()
        .success()
        .stderr(predicate::str::contains("sending it anyway"));
    assert_eq!(emu.jobs_created(), 1);
}

#[test]
fn the_built_in_emulator_keeps_jobs_and_outputs_across_runs() {
    let user = User::new();
    // Without -o the output is saved where the user is, and the message says where.
    let first = user.varg().args(["image", "a cat"]).assert().success();
    let said = String::from_utf8_lossy(&first.get_output().stdout).into_owned();
    let files = user.files_in_cwd();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(said.contains(&files[0]), "{said}");
    assert!(is_png(&user.cwd.path().join(&files[0])));

    // Job ids differ across runs.
    let json = |args: &[&str]| {
        let assert = user.varg().arg("--json").args(args).assert().success();
        json_lines(&assert.get_output().stdout)
    };
    let a = json(&["image", "one", "--no-wait"]);
    let b = json(&["image", "one", "--no-wait", "--cache", "no-cache"]);
    let id_a = a[0]["job_id"].as_str().unwrap().to_owned();
    let id_b = b[0]["job_id"].as_str().unwrap().to_owned();
    assert_ne!(id_a, id_b);

    // A --no-wait job is waited on by a later process.
    user.varg()
        .args(["job", "wait", &id_a, "-o", "one.png"])
        .assert()
        .success();
    assert!(is_png(&user.cwd.path().join("one.png")));
}

#[test]
fn a_closed_pipe_ends_quietly_and_the_table_is_aligned() {
    let user = User::new();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{} models | head -n 2",
            assert_cmd::cargo::cargo_bin("varg").display()
        ))
        .env("HOME", user.home.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // varg itself exits 0 on the closed pipe (pipefail-free check of its own status).
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{} models | (head -n 1 >/dev/null; exec 0<&-); exit 0",
            assert_cmd::cargo::cargo_bin("varg").display()
        ))
        .status()
        .unwrap();
    assert!(status.success());
    let mut child = user
        .std()
        .arg("models")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away at once
    assert_eq!(child.wait().unwrap().code(), Some(0));

    let table = user.varg().arg("models").assert().success();
    let text = String::from_utf8_lossy(&table.get_output().stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("MODEL"), "{}", lines[0]);
    let kind_at = lines[0].find("KIND").unwrap();
    for line in &lines[1..] {
        let before = &line[..kind_at];
        assert!(
            before.ends_with("  ") || before.ends_with(' '),
            "KIND column not aligned: {line:?}"
        );
        assert_ne!(
            line.as_bytes()[kind_at],
            b' ',
            "KIND column not aligned: {line:?}"
        );
    }
}

#[test]
fn batch_journal_follows_the_request_not_the_line() {
    let emu = varg_emulator::Emulator::builder().start_blocking().unwrap();
    let user = User::new();
    let input = user.cwd.path().join("in.jsonl");
    let cat = r#"{"type":"image","model":"flux-schnell","prompt":"a cat"}"#;
    let hi = r#"{"type":"speech","model":"eleven_v3","text":"hi"}"#;
    let batch = || {
        let assert = user
            .varg()
            .args(["--base-url", &emu.base_url(), "--json", "batch", "in.jsonl"])
            .args(["--out-dir", "out"])
            .assert()
            .success();
        json_lines(&assert.get_output().stdout)
    };
    // Three identical lines are three requests, each billed once.
    std::fs::write(&input, format!("{cat}\n{cat}\n{cat}\n")).unwrap();
    batch();
    assert_eq!(emu.jobs_created(), 3);
    batch();
    assert_eq!(emu.jobs_created(), 3, "a rerun creates nothing");

    // A new line at the top runs; the others stay done.
    std::fs::write(&input, format!("{hi}\n{cat}\n{cat}\n{cat}\n")).unwrap();
    let lines = batch();
    assert_eq!(emu.jobs_created(), 4);
    let first = lines
        .iter()
        .find(|l| l["event"] == "batch_item" && l["line"] == 1)
        .unwrap();
    assert!(first.get("resumed").is_none(), "{first}");
    assert_eq!(first["status"], "completed", "{first}");

    // A deleted output is downloaded again, without a new job.
    let gone = PathBuf::from(first["file"].as_str().unwrap());
    let gone = if gone.is_absolute() {
        gone
    } else {
        user.cwd.path().join(gone)
    };
    std::fs::remove_file(&gone).unwrap();
    batch();
    assert_eq!(emu.jobs_created(), 4);
    assert!(
        gone.exists()
            || std::fs::read_dir(user.cwd.path().join("out"))
                .unwrap()
                .count()
                >= 5
    );
}

#[test]
fn an_explicit_base_url_is_used_or_refused_never_replaced() {
    let user = User::new();
    let refused = user
        .varg()
        .args(["--base-url", "http://example.invalid/v1", "balance"])
        .assert()
        .code(3);
    let stderr = stderr_of(&refused);
    assert!(
        !stderr.contains("running on the built-in emulator"),
        "{stderr}"
    );
    assert!(
        stderr.contains("no API key for http://example.invalid/v1"),
        "{stderr}"
    );
    user.varg()
        .args(["--base-url", "127.0.0.1:8787/v1", "balance"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("http://"));
    let secret = user
        .varg()
        .args([
            "--base-url",
            "http://ada:hunter2@example.invalid/v1",
            "balance",
        ])
        .assert()
        .failure();
    let all = format!(
        "{}{}",
        stderr_of(&secret),
        String::from_utf8_lossy(&secret.get_output().stdout)
    );
    assert!(!all.contains("hunter2"), "{all}");
    let secret = user
        .varg()
        .args([
            "--api-key",
            "varg_x",
            "--base-url",
            "http://ada:hunter2@example.invalid/v1",
            "balance",
        ])
        .assert()
        .failure();
    assert!(
        !stderr_of(&secret).contains("hunter2"),
        "{}",
        stderr_of(&secret)
    );

    // The URL a server listening on every interface prints is usable as it is.
    let emu = varg_emulator::Emulator::builder().start_blocking().unwrap();
    let port = emu.base_url().rsplit(':').next().unwrap().to_owned();
    user.varg()
        .args(["--base-url", &format!("http://0.0.0.0:{port}"), "balance"])
        .assert()
        .success()
        .stderr(predicate::str::contains("built-in emulator").not());
}

#[test]
fn timeout_bounds_a_create_that_never_answers() {
    // A server that accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().take(16) {
            held.push(stream);
        }
        std::thread::sleep(Duration::from_secs(120));
    });
    let user = User::new();
    let started = Instant::now();
    let out = user
        .varg()
        .args([
            "--base-url",
            &format!("http://127.0.0.1:{port}/v1"),
            "--api-key",
            "varg_x",
            "--timeout",
            "2",
            "image",
            "a cat",
        ])
        .assert()
        .failure();
    // Generous: the point is that it is not the 60 s of a default request timeout.
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(stderr_of(&out).contains("timeout"), "{}", stderr_of(&out));
}

#[test]
fn job_wait_is_suggested_only_when_waiting_can_help() {
    let user = User::new();
    let failed = user
        .varg()
        .args([
            "image",
            "doomed",
            "--option",
            r#"emulator={"fail":"exploded"}"#,
        ])
        .assert()
        .code(1);
    let stderr = stderr_of(&failed);
    assert!(stderr.contains("job id: job_"), "{stderr}");
    assert!(!stderr.contains("job wait"), "{stderr}");
    user.varg()
        .args(["job", "wait", "job_nope"])
        .assert()
        .code(5)
        .stderr(predicate::str::contains("job wait").not());
}

#[test]
fn help_groups_global_options_and_completions_are_printed() {
    let user = User::new();
    let help = user.varg().args(["image", "--help"]).assert().success();
    let text = String::from_utf8_lossy(&help.get_output().stdout).into_owned();
    let global = text
        .find("Global options:")
        .expect("a Global options group");
    assert!(text.find("--aspect-ratio").unwrap() < global, "{text}");
    assert!(text[global..].contains("--api-key"), "{text}");
    let bash = user.varg().args(["completions", "bash"]).assert().success();
    assert!(String::from_utf8_lossy(&bash.get_output().stdout).contains("complete"));
}

#[test]
fn media_inputs_are_validated_before_anything_is_uploaded() {
    let emu = varg_emulator::Emulator::builder().start_blocking().unwrap();
    let user = User::new();
    std::fs::write(user.cwd.path().join("clip.mp4"), b"not really a video").unwrap();
    user.varg()
        .args(["--base-url", &emu.base_url(), "media", "trim", "clip.mp4"])
        .args(["--start", "-5"])
        .assert()
        .code(2);
    assert_eq!(emu.uploads(), 0, "nothing was uploaded");
}

#[test]
fn varg_emulator_prints_a_usable_url_takes_every_knob_and_stops_on_ctrl_c() {
    let user = User::new();
    let mut cmd = user.std();
    cmd.args([
        "emulator",
        "--addr",
        "0.0.0.0:0",
        "--time-scale",
        "0",
        "--fault",
        "getBalance=503",
    ]);
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut first).unwrap();
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {first:?}"))
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    // The scripted 503 is retried; the balance then arrives.
    user.varg()
        .args(["--base-url", &url, "balance"])
        .assert()
        .success()
        .stdout(predicate::str::contains("credits"));
    user.varg()
        .args(["emulator", "--fault", "createImage=sometimes"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--fault"));
    interrupt(&child);
    assert_eq!(wait_exit(child), 0);
    drop(stdout);
}
