//! The batch manifest: an append-only journal of what a batch run has done.
//!
//! Each job id is written (and flushed to disk) the moment the gateway returns it, so a run
//! that is killed and restarted waits on the jobs it already created instead of creating, and
//! paying for, them again. One JSON object per line:
//!
//! ```text
//! {"line":3,"event":"created","job_id":"job_x"}
//! {"line":3,"event":"finished","job_id":"job_x","status":"completed","file":"out/0003-job_x.png"}
//! ```
//!
//! A line cut short by a crash is ignored on load. The only window the journal cannot close
//! is between the gateway creating a job and its answer reaching us; identical requests are
//! then served from the gateway's cache at no cost.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One journal record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Record {
    /// The gateway created a job for input line `line` (1-based).
    Created {
        /// Input line.
        line: usize,
        /// The job.
        job_id: String,
    },
    /// The job reached a terminal state (or its output was saved).
    Finished {
        /// Input line.
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

/// What the journal knows about one input line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineState {
    /// Nothing yet: the request must be sent.
    New,
    /// A job exists and has not been seen finishing: wait on it.
    Created(String),
    /// Finished successfully: nothing to do.
    Completed(String),
    /// Finished without success (failed or cancelled): reported again, not re-created.
    Failed(String),
}

/// The journal file.
pub struct Manifest {
    path: PathBuf,
    file: File,
    lines: BTreeMap<usize, LineState>,
}

impl Manifest {
    /// The journal's file name inside the output directory.
    pub const FILE_NAME: &'static str = "manifest.jsonl";

    /// Opens (or creates) the journal in `dir` and replays it.
    pub fn open(dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(Self::FILE_NAME);
        let mut lines = BTreeMap::new();
        if path.exists() {
            let reader = BufReader::new(File::open(&path)?);
            for text in reader.lines() {
                let text = text?;
                // A record cut short by a crash does not parse; skip it.
                let Ok(record) = serde_json::from_str::<Record>(&text) else {
                    continue;
                };
                apply(&mut lines, record);
            }
        }
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        // If the previous run died mid-line, start ours on a fresh line.
        let len = file.metadata()?.len();
        let mut manifest = Self { path, file, lines };
        if len > 0 && !ends_with_newline(&manifest.path)? {
            manifest.file.write_all(b"\n")?;
        }
        Ok(manifest)
    }

    /// Where the journal lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The state of input line `line`.
    pub fn state(&self, line: usize) -> LineState {
        self.lines.get(&line).cloned().unwrap_or(LineState::New)
    }

    /// Appends a record and flushes it to disk before returning.
    pub fn record(&mut self, record: Record) -> io::Result<()> {
        let mut text = serde_json::to_string(&record).map_err(io::Error::other)?;
        text.push('\n');
        self.file.write_all(text.as_bytes())?;
        self.file.sync_data()?;
        apply(&mut self.lines, record);
        Ok(())
    }
}

fn apply(lines: &mut BTreeMap<usize, LineState>, record: Record) {
    match record {
        Record::Created { line, job_id } => {
            lines.insert(line, LineState::Created(job_id));
        }
        Record::Finished {
            line,
            job_id,
            status,
            ..
        } => {
            let state = if status == "completed" {
                LineState::Completed(job_id)
            } else {
                LineState::Failed(job_id)
            };
            lines.insert(line, state);
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

    #[test]
    fn replays_records_and_survives_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut m = Manifest::open(dir.path()).unwrap();
            assert_eq!(m.state(1), LineState::New);
            m.record(Record::Created {
                line: 1,
                job_id: "job_a".into(),
            })
            .unwrap();
            m.record(Record::Created {
                line: 2,
                job_id: "job_b".into(),
            })
            .unwrap();
            m.record(Record::Finished {
                line: 1,
                job_id: "job_a".into(),
                status: "completed".into(),
                file: None,
                error: None,
            })
            .unwrap();
        }
        // Simulate a crash in the middle of a write.
        let path = dir.path().join(Manifest::FILE_NAME);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(br#"{"line":3,"event":"crea"#).unwrap();
        drop(f);

        let mut m = Manifest::open(dir.path()).unwrap();
        assert_eq!(m.state(1), LineState::Completed("job_a".into()));
        assert_eq!(m.state(2), LineState::Created("job_b".into()));
        assert_eq!(m.state(3), LineState::New);
        m.record(Record::Finished {
            line: 2,
            job_id: "job_b".into(),
            status: "failed".into(),
            file: None,
            error: Some("x".into()),
        })
        .unwrap();
        drop(m);
        let m = Manifest::open(dir.path()).unwrap();
        assert_eq!(m.state(2), LineState::Failed("job_b".into()));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.lines().filter(|l| !l.is_empty()).count() >= 4);
    }
}
