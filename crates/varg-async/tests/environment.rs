//! `ClientBuilder::build` takes the key and the base URL from the environment, in the
//! README's order, without `from_env()`. Environment variables belong to the whole process,
//! so each case runs in a child process of this test binary with an environment of its own.

use std::path::Path;
use std::process::Command;

use varg_async::Client;

const CHILD: &str = "VARG_ENVIRONMENT_TEST_CASE";

/// Runs `child` alone in a fresh process with `HOME` at `home` and `vars` set (and every
/// other `VARG_*` variable removed).
fn run_child(case: &str, home: &Path, vars: &[(&str, &str)]) {
    let mut command = Command::new(std::env::current_exe().expect("test binary"));
    command.args(["child", "--exact", "--test-threads=1", "--nocapture"]);
    for (name, _) in std::env::vars_os().filter(|(n, _)| n.to_string_lossy().starts_with("VARG_")) {
        command.env_remove(name);
    }
    command
        .env(CHILD, case)
        .env("HOME", home)
        .env_remove("USERPROFILE");
    command.envs(vars.iter().copied());
    let out = command.output().expect("child runs");
    assert!(
        out.status.success(),
        "case {case}:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 passed"),
        "the child ran"
    );
}

#[test]
fn builder_follows_the_readme_order_for_key_and_base_url() {
    let empty_home = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join(".varg")).unwrap();
    std::fs::write(
        home.path().join(".varg/credentials"),
        r#"{"api_key":"varg_from_file","email":"a@b.c"}"#,
    )
    .unwrap();
    run_child(
        "env",
        home.path(),
        &[
            ("VARG_API_KEY", "varg_from_env"),
            ("VARG_BASE_URL", "http://127.0.0.1:9/v1"),
        ],
    );
    run_child("file", home.path(), &[]);
    run_child("none", empty_home.path(), &[]);
}

#[test]
fn child() {
    let Ok(case) = std::env::var(CHILD) else {
        return; // only meaningful in the child process
    };
    let key = |c: &Client| c.config().api_key().expose().to_owned();
    match case.as_str() {
        "env" => {
            let c = Client::builder().build().unwrap();
            assert_eq!(key(&c), "varg_from_env");
            assert_eq!(c.config().base_url(), "http://127.0.0.1:9/v1");
            // The reported bug: an explicit base URL used to drop the key from the env.
            let c = Client::builder()
                .base_url("http://localhost:1/v1")
                .build()
                .unwrap();
            assert_eq!(key(&c), "varg_from_env");
            assert_eq!(c.config().base_url(), "http://localhost:1/v1");
            let c = Client::builder().api_key("varg_explicit").build().unwrap();
            assert_eq!(key(&c), "varg_explicit");
            assert_eq!(key(&Client::new().unwrap()), "varg_from_env");
        }
        "file" => {
            let c = Client::builder().build().unwrap();
            assert_eq!(key(&c), "varg_from_file");
            assert_eq!(c.config().base_url(), "https://api.varg.ai/v1");
        }
        "none" => {
            let err = Client::builder()
                .base_url("http://127.0.0.1:9/v1")
                .build()
                .unwrap_err();
            let message = err.to_string();
            for named in [
                "ClientBuilder::api_key",
                "VARG_API_KEY",
                "~/.varg/credentials",
                "\"api_key\"",
            ] {
                assert!(message.contains(named), "{message}");
            }
            assert!(
                !message.contains("login") && !message.contains("log in"),
                "{message}"
            );
        }
        other => panic!("unknown case {other}"),
    }
}
