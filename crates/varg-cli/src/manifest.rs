//! The batch manifest: an append-only journal of what a batch run has done.
//!
//! Each job id is written (and flushed to disk) the moment the gateway returns it, so a run
//! that is killed and restarted waits on the jobs it already created instead of creating, and
//! paying for, them again. A record is keyed by the request itself, not by its line: the
//! SHA-256 of the request's canonical JSON (object keys sorted, no whitespace) plus its
//! occurrence (the 2nd identical request is `#2`). Editing the file (inserting, deleting or
//! reordering lines) therefore never maps a job onto another request, and three identical
//! lines are three jobs, each created once. One JSON object per line:
//!
//! ```text
//! {"event":"created","key":"sha256:9f2c…","n":1,"line":3,"job_id":"job_x"}
//! {"event":"finished","key":"sha256:9f2c…","n":1,"line":3,"job_id":"job_x","status":"completed","file":"out/0003-job_x.png"}
//! ```
//!
//! `line` is informational. A record cut short by a crash is ignored on load, and so are
//! records of older versions that had no key (they cannot be matched safely). The only window
//! the journal cannot close is between the gateway creating a job and its answer reaching us.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Which request a record is about: the hash of its canonical JSON and its occurrence.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RequestKey {
    /// `sha256:<hex>` of the canonical JSON.
    pub key: String,
    /// 1 for the first request with this content, 2 for the second, ...
    pub n: usize,
}

impl RequestKey {
    /// The `sha256:<hex>` of `value`'s canonical JSON (occurrence not included).
    pub fn content_hash(value: &Value) -> String {
        let mut text = String::new();
        canonical(value, &mut text);
        varg_core::hash::ContentHasher::hash(text.as_bytes())
    }
}

/// Writes `value` as JSON with object keys sorted and no whitespace.
fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// One journal record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Record {
    /// The gateway created a job for the request `key`.
    Created {
        /// The request.
        #[serde(flatten)]
        key: RequestKey,
        /// Its input line when recorded (1-based; informational).
        line: usize,
        /// The job.
        job_id: String,
    },
    /// The job reached a terminal state (or its output was saved).
    Finished {
        /// The request.
        #[serde(flatten)]
        key: RequestKey,
        /// Its input line when recorded (informational).
        line: usize,
        /// The job.
        job_id: String,
        /// Terminal status.
        status: String,
        /// Where the output was written.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file: Option<String>,
        /// Why it failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
}

/// What the journal knows about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Nothing yet: the request must be sent.
    New,
    /// A job exists and has not been seen finishing: wait on it.
    Created(String),
    /// Finished successfully, its output saved to `file`.
    Completed {
        /// The job.
        job_id: String,
        /// Where its output was saved.
        file: Option<PathBuf>,
    },
    /// Finished without success (failed or cancelled): reported again, not re-created.
    Failed(String),
}

/// The journal file.
pub struct Manifest {
    path: PathBuf,
    file: File,
    requests: BTreeMap<RequestKey, State>,
    ignored: usize,
}

impl Manifest {
    /// The journal's file name inside the output directory.
    pub const FILE_NAME: &'static str = "manifest.jsonl";

    /// Opens (or creates) the journal in `dir` and replays it.
    pub fn open(dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(Self::FILE_NAME);
        let mut requests = BTreeMap::new();
        let mut ignored = 0;
        if path.exists() {
            let reader = BufReader::new(File::open(&path)?);
            for text in reader.lines() {
                let text = text?;
                if text.trim().is_empty() {
                    continue;
                }
                // A record cut short by a crash, or one without a key, does not parse.
                match serde_json::from_str::<Record>(&text) {
                    Ok(record) => apply(&mut requests, record),
                    Err(_) => ignored += 1,
                }
            }
        }
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        // If the previous run died mid-line, start ours on a fresh line.
        let len = file.metadata()?.len();
        let mut manifest = Self {
            path,
            file,
            requests,
            ignored,
        };
        if len > 0 && !ends_with_newline(&manifest.path)? {
            manifest.file.write_all(b"\n")?;
        }
        Ok(manifest)
    }

    /// Where the journal lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records that could not be read (cut short, or from a version without request keys).
    pub fn ignored(&self) -> usize {
        self.ignored
    }

    /// The state of request `key`.
    pub fn state(&self, key: &RequestKey) -> State {
        self.requests.get(key).cloned().unwrap_or(State::New)
    }

    /// Appends a record and flushes it to disk before returning.
    pub fn record(&mut self, record: Record) -> io::Result<()> {
        let mut text = serde_json::to_string(&record).map_err(io::Error::other)?;
        text.push('\n');
        self.file.write_all(text.as_bytes())?;
        self.file.sync_data()?;
        apply(&mut self.requests, record);
        Ok(())
    }
}

fn apply(requests: &mut BTreeMap<RequestKey, State>, record: Record) {
    match record {
        Record::Created { key, job_id, .. } => {
            requests.insert(key, State::Created(job_id));
        }
        Record::Finished {
            key,
            job_id,
            status,
            file,
            ..
        } => {
            let state = if status == "completed" {
                State::Completed {
                    job_id,
                    file: file.map(PathBuf::from),
                }
            } else {
                State::Failed(job_id)
            };
            requests.insert(key, state);
        }
    }
}

fn ends_with_newline(path: &Path) -> io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = File::open(path)?;
    if file.metadata()?.len() == 0 {
        return Ok(true);
    }
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(n: usize) -> RequestKey {
        RequestKey {
            key: "sha256:ab".into(),
            n,
        }
    }

    #[test]
    fn the_key_is_the_content_not_the_spelling() {
        let a =
            json!({"type":"image","model":"flux-schnell","prompt":"a cat","files":[{"url":"u"}]});
        let b: Value = serde_json::from_str(
            r#"{ "prompt" : "a cat", "files":[{"url":"u"}], "model":"flux-schnell", "type":"image" }"#,
        )
        .unwrap();
        assert_eq!(RequestKey::content_hash(&a), RequestKey::content_hash(&b));
        let c = json!({"type":"image","model":"flux-schnell","prompt":"a dog"});
        assert_ne!(RequestKey::content_hash(&a), RequestKey::content_hash(&c));
        assert!(RequestKey::content_hash(&a).starts_with("sha256:"));
    }

    #[test]
    fn replays_records_and_survives_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut m = Manifest::open(dir.path()).unwrap();
            assert_eq!(m.state(&key(1)), State::New);
            m.record(Record::Created {
                key: key(1),
                line: 1,
                job_id: "job_a".into(),
            })
            .unwrap();
            m.record(Record::Created {
                key: key(2),
                line: 2,
                job_id: "job_b".into(),
            })
            .unwrap();
            m.record(Record::Finished {
                key: key(1),
                line: 1,
                job_id: "job_a".into(),
                status: "completed".into(),
                file: Some("out/a.png".into()),
                error: None,
            })
            .unwrap();
        }
        // A crash in the middle of a write, and a record of an older version (no key).
        let path = dir.path().join(Manifest::FILE_NAME);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"line\":9,\"event\":\"created\",\"job_id\":\"job_old\"}\n")
            .unwrap();
        f.write_all(br#"{"key":"sha256:ab","n":3,"event":"crea"#)
            .unwrap();
        drop(f);

        let mut m = Manifest::open(dir.path()).unwrap();
        assert_eq!(m.ignored(), 2);
        assert_eq!(
            m.state(&key(1)),
            State::Completed {
                job_id: "job_a".into(),
                file: Some(PathBuf::from("out/a.png"))
            }
        );
        assert_eq!(m.state(&key(2)), State::Created("job_b".into()));
        assert_eq!(m.state(&key(3)), State::New);
        m.record(Record::Finished {
            key: key(2),
            line: 7,
            job_id: "job_b".into(),
            status: "failed".into(),
            file: None,
            error: Some("x".into()),
        })
        .unwrap();
        drop(m);
        let m = Manifest::open(dir.path()).unwrap();
        assert_eq!(m.state(&key(2)), State::Failed("job_b".into()));
    }
}
