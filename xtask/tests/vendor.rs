//! The check against the vendor's documented OpenAPI file, when it is there
//! (`../shared/varg-api/openapi-docs-v0.1.0.yaml` from the workspace root).
//! Each test passes without doing anything when the file is absent, so the
//! suite runs on a clone without `shared/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use xtask::allowlist::Allowlist;
use xtask::drift::{FindingKind, Report, check};
use xtask::export::{VargTypesDecoder, openapi};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn vendor_path() -> Option<PathBuf> {
    let path = root().join("../shared/varg-api/openapi-docs-v0.1.0.yaml");
    path.is_file().then_some(path)
}

fn allowlist_path() -> PathBuf {
    root().join("xtask/openapi-allowlist.yaml")
}

fn run(doc: &Value) -> Report {
    let allowlist = Allowlist::load(&allowlist_path()).unwrap();
    check(doc, &openapi().unwrap(), &allowlist, &VargTypesDecoder)
}

fn add_required_job_field(doc: &mut Value) {
    let job = &mut doc["components"]["schemas"]["JobResponse"];
    job["properties"]["progress"] = json!({"type": "number"});
    job["required"]
        .as_array_mut()
        .unwrap()
        .push(json!("progress"));
}

fn add_job_status(doc: &mut Value) {
    doc["components"]["schemas"]["JobResponse"]["properties"]["status"]["enum"]
        .as_array_mut()
        .unwrap()
        .push(json!("paused"));
}

#[test]
fn vendor_file_passes_and_its_mutations_fail() {
    let Some(path) = vendor_path() else {
        eprintln!("vendor OpenAPI file absent: skipped");
        return;
    };
    let doc = xtask::spec::load_document(&path).unwrap();
    let report = run(&doc);
    assert!(report.is_clean(), "{}", report.render());
    assert!(report.documented_endpoints >= 13);
    assert!(report.examples_checked > 50);

    let mut required = doc.clone();
    add_required_job_field(&mut required);
    let report = run(&required);
    assert!(!report.is_clean());
    assert!(
        report.has_drift(FindingKind::MissingProperty, "Job.progress"),
        "{}",
        report.render()
    );

    let mut status = doc.clone();
    add_job_status(&mut status);
    let report = run(&status);
    assert!(!report.is_clean());
    assert!(
        report.has_drift(FindingKind::UnknownEnumValue, "paused"),
        "{}",
        report.render()
    );
}

#[test]
fn cli_exit_codes_on_the_vendor_file() {
    let Some(path) = vendor_path() else {
        eprintln!("vendor OpenAPI file absent: skipped");
        return;
    };
    let exe = env!("CARGO_BIN_EXE_xtask");
    let status = Command::new(exe)
        .args(["check-openapi", "--spec"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(
        status.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&status.stdout)
    );

    let doc = xtask::spec::load_document(&path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (name, mutate) in [
        ("required.json", add_required_job_field as fn(&mut Value)),
        ("status.json", add_job_status),
    ] {
        let mut mutated = doc.clone();
        mutate(&mut mutated);
        let file = dir.path().join(name);
        std::fs::write(&file, serde_json::to_string(&mutated).unwrap()).unwrap();
        let out = Command::new(exe)
            .args(["check-openapi", "--spec"])
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{name} should fail");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("progress") || text.contains("paused"),
            "{text}"
        );
    }
}
