//! The state directory ([`crate::EmulatorBuilder::state_dir`]): what survives the process.
//!
//! ```text
//! <state_dir>/
//!   jobs/<job_id>.json      one job: its wire form, schedule, outputs, charge and usage
//!   cache/<sha256>.json     one cache entry (the completed job and when it was stored)
//!   files/<file_id>.bin     the bytes of an upload
//!   files/<file_id>.json    its id, SHA-256, size and media type
//!   files/by-hash/<sha256>  the file id stored under that content hash
//!   account.json            {"balance_cents": N}
//! ```
//!
//! Every file is written whole to a temporary name in the same directory, then renamed over
//! the old one, so a reader (another process sharing the directory) sees the old or the new
//! version, never half of one. Each job, cache entry and upload has a file of its own, so
//! processes writing different ones never clobber each other; the balance is read, changed
//! and written back, which is best-effort across processes (an update may be lost in a race)
//! but never corrupt.
//!
//! URLs of outputs and uploads are stored relative (`/o/...`, `/u/...`) and given the
//! origin of the process that reads them, since the port changes every run.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::state::{CacheEntry, FileRecord, JobData};

/// Paths and file formats of one state directory.
#[derive(Debug)]
pub(crate) struct Disk {
    root: PathBuf,
    tmp_counter: AtomicU64,
}

/// `true` for an id that is safe as a file name (ids come from request paths).
pub(crate) fn safe_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The hex part of `sha256:<hex>`, if it is one.
fn hash_hex(hash: &str) -> Option<&str> {
    let hex = hash.strip_prefix("sha256:").unwrap_or(hash);
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(hex)
}

impl Disk {
    /// Creates the directory layout under `root` (or reuses it).
    pub(crate) fn open(root: &Path) -> io::Result<Self> {
        for sub in ["jobs", "cache", "files/by-hash"] {
            std::fs::create_dir_all(root.join(sub))?;
        }
        Ok(Self {
            root: root.to_owned(),
            tmp_counter: AtomicU64::new(0),
        })
    }

    /// Where uploads are stored.
    pub(crate) fn files_dir(&self) -> PathBuf {
        self.root.join("files")
    }

    /// Writes `bytes` to `path` atomically: a temporary file in the same directory, then
    /// a rename over the target.
    pub(crate) fn write_atomic(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let n = self.tmp_counter.fetch_add(1, Ordering::Relaxed);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = path.with_file_name(format!(".{name}.{}.{n}.tmp", std::process::id()));
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, path).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
    }

    fn save<T: Serialize>(&self, path: &Path, value: &T, origin: &str) {
        let result = serde_json::to_value(value)
            .map_err(io::Error::other)
            .and_then(|mut v| {
                relativise(&mut v, origin);
                serde_json::to_vec_pretty(&v).map_err(io::Error::other)
            })
            .and_then(|bytes| self.write_atomic(path, &bytes));
        if let Err(e) = result {
            tracing::warn!("cannot write {}: {e}", path.display());
        }
    }

    fn load<T: DeserializeOwned>(&self, path: &Path, origin: &str) -> Option<T> {
        let bytes = std::fs::read(path).ok()?;
        let mut value: Value = match serde_json::from_slice(&bytes) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!("ignoring unreadable {}: {e}", path.display());
                return None;
            }
        };
        absolutise(&mut value, origin);
        serde_json::from_value(value)
            .inspect_err(|e| tracing::warn!("ignoring unreadable {}: {e}", path.display()))
            .ok()
    }

    fn job_path(&self, id: &str) -> Option<PathBuf> {
        safe_id(id).then(|| self.root.join("jobs").join(format!("{id}.json")))
    }

    pub(crate) fn save_job(&self, data: &JobData, origin: &str) {
        if let Some(path) = self.job_path(data.job.job_id.as_str()) {
            self.save(&path, data, origin);
        }
    }

    pub(crate) fn load_job(&self, id: &str, origin: &str) -> Option<JobData> {
        self.load(&self.job_path(id)?, origin)
    }

    /// Ids of every stored job.
    pub(crate) fn job_ids(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.root.join("jobs")) else {
            return Vec::new();
        };
        entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let id = name.strip_suffix(".json")?.to_owned();
                safe_id(&id).then_some(id)
            })
            .collect()
    }

    fn cache_path(&self, key: &str) -> Option<PathBuf> {
        Some(
            self.root
                .join("cache")
                .join(format!("{}.json", hash_hex(key)?)),
        )
    }

    pub(crate) fn save_cache(&self, key: &str, entry: &CacheEntry, origin: &str) {
        if let Some(path) = self.cache_path(key) {
            self.save(&path, entry, origin);
        }
    }

    pub(crate) fn load_cache(&self, key: &str, origin: &str) -> Option<CacheEntry> {
        self.load(&self.cache_path(key)?, origin)
    }

    /// Where the bytes of upload `id` go.
    pub(crate) fn file_data_path(&self, id: &str) -> PathBuf {
        self.files_dir().join(format!("{id}.bin"))
    }

    /// Stores the metadata of an upload whose bytes are already in place, then its hash
    /// index entry (in that order, so the index never names a file without metadata).
    pub(crate) fn save_file(&self, file: &FileRecord) {
        if !safe_id(&file.file_id) {
            return;
        }
        let meta = self.files_dir().join(format!("{}.json", file.file_id));
        self.save(&meta, file, "");
        if let Some(hex) = hash_hex(&file.hash) {
            let index = self.files_dir().join("by-hash").join(hex);
            if let Err(e) = self.write_atomic(&index, file.file_id.as_bytes()) {
                tracing::warn!("cannot write {}: {e}", index.display());
            }
        }
    }

    pub(crate) fn load_file(&self, id: &str) -> Option<FileRecord> {
        if !safe_id(id) {
            return None;
        }
        let mut file: FileRecord = self.load(&self.files_dir().join(format!("{id}.json")), "")?;
        file.path = self.file_data_path(id);
        file.path.is_file().then_some(file)
    }

    /// The upload stored under content hash `hash`.
    pub(crate) fn file_by_hash(&self, hash: &str) -> Option<FileRecord> {
        let index = self.files_dir().join("by-hash").join(hash_hex(hash)?);
        let id = std::fs::read_to_string(index).ok()?;
        self.load_file(id.trim())
    }

    fn account_path(&self) -> PathBuf {
        self.root.join("account.json")
    }

    pub(crate) fn balance(&self) -> Option<i64> {
        let bytes = std::fs::read(self.account_path()).ok()?;
        let value: Value = serde_json::from_slice(&bytes).ok()?;
        value.get("balance_cents")?.as_i64()
    }

    pub(crate) fn set_balance(&self, cents: i64) {
        let body = serde_json::json!({ "balance_cents": cents }).to_string();
        if let Err(e) = self.write_atomic(&self.account_path(), body.as_bytes()) {
            tracing::warn!("cannot write the balance: {e}");
        }
    }
}

/// Strips `origin` from every string that is a URL of this server (`<origin>/o/...`,
/// `<origin>/u/...`).
fn relativise(value: &mut Value, origin: &str) {
    match value {
        Value::String(s) if !origin.is_empty() => {
            if let Some(rest) = s.strip_prefix(origin)
                && (rest.starts_with("/o/") || rest.starts_with("/u/"))
            {
                *s = rest.to_owned();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| relativise(v, origin)),
        Value::Object(map) => map.values_mut().for_each(|v| relativise(v, origin)),
        _ => {}
    }
}

/// The reverse of [`relativise`] for the reading process's origin.
fn absolutise(value: &mut Value, origin: &str) {
    match value {
        Value::String(s)
            if !origin.is_empty() && (s.starts_with("/o/") || s.starts_with("/u/")) =>
        {
            *s = format!("{origin}{s}");
        }
        Value::Array(items) => items.iter_mut().for_each(|v| absolutise(v, origin)),
        Value::Object(map) => map.values_mut().for_each(|v| absolutise(v, origin)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_stored_relative_and_read_back_with_the_new_origin() {
        let mut v = serde_json::json!({
            "output": {"url": "http://127.0.0.1:1000/o/job_1.png"},
            "other": ["http://127.0.0.1:1000/u/file_1.png", "http://example.com/o/x", "/v1"],
        });
        relativise(&mut v, "http://127.0.0.1:1000");
        assert_eq!(v["output"]["url"], "/o/job_1.png");
        assert_eq!(v["other"][0], "/u/file_1.png");
        assert_eq!(v["other"][1], "http://example.com/o/x");
        absolutise(&mut v, "http://127.0.0.1:2000");
        assert_eq!(v["output"]["url"], "http://127.0.0.1:2000/o/job_1.png");
        assert_eq!(v["other"][2], "/v1");
    }

    #[test]
    fn ids_that_could_escape_the_directory_are_refused() {
        assert!(safe_id("job_0a1b2c3d4e5f"));
        for bad in ["", "../x", "a/b", "a.json", "x\0", "é"] {
            assert!(!safe_id(bad), "{bad:?}");
        }
        let dir = tempfile::tempdir().unwrap();
        let disk = Disk::open(dir.path()).unwrap();
        assert!(disk.load_job("../account", "").is_none());
        assert!(disk.cache_path("sha256:../../x").is_none());
    }

    #[test]
    fn atomic_writes_replace_whole_files_and_leave_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let disk = Disk::open(dir.path()).unwrap();
        disk.set_balance(5);
        disk.set_balance(7);
        assert_eq!(disk.balance(), Some(7));
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
    }
}
