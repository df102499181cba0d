//! Shared state: jobs, files, cache, account, statistics and fault queues.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::watch;
use varg_types::{Capability, Job};

use crate::config::{Config, Fault, SseMode};
use crate::media::MediaKind;

/// What an output URL serves; generated on each download.
#[derive(Debug, Clone)]
pub(crate) enum OutputSpec {
    Png {
        width: u32,
        height: u32,
        colour: [u8; 3],
    },
    Wav {
        secs: f64,
    },
    Mp4 {
        width: u32,
        height: u32,
        secs: f64,
    },
    Json(Vec<u8>),
    Sized {
        len: u64,
        kind: MediaKind,
    },
}

impl OutputSpec {
    pub(crate) fn kind(&self) -> MediaKind {
        match self {
            OutputSpec::Png { .. } => MediaKind::Png,
            OutputSpec::Wav { .. } => MediaKind::Wav,
            OutputSpec::Mp4 { .. } => MediaKind::Mp4,
            OutputSpec::Json(_) => MediaKind::Json,
            OutputSpec::Sized { kind, .. } => *kind,
        }
    }

    /// The bytes, for everything but [`OutputSpec::Sized`] (streamed instead).
    pub(crate) fn bytes(&self) -> Option<Vec<u8>> {
        Some(match self {
            OutputSpec::Png {
                width,
                height,
                colour,
            } => crate::media::png(*width, *height, *colour),
            OutputSpec::Wav { secs } => crate::media::wav(*secs),
            OutputSpec::Mp4 {
                width,
                height,
                secs,
            } => crate::media::mp4(*width, *height, *secs),
            OutputSpec::Json(bytes) => bytes.clone(),
            OutputSpec::Sized { .. } => return None,
        })
    }
}

pub(crate) struct JobRecord {
    pub job: Job,
    pub owner: String,
    pub tx: watch::Sender<Job>,
    pub cost_cents: i64,
    pub cache_key: String,
    pub store_in_cache: bool,
    pub abort: Option<tokio::task::AbortHandle>,
}

pub(crate) struct FileRecord {
    pub path: PathBuf,
    pub hash: String,
    pub size: u64,
    pub kind: MediaKind,
    pub url: String,
    pub file_id: String,
}

pub(crate) struct CacheEntry {
    pub job: Job,
    pub stored: Instant,
}

pub(crate) struct UsageEntry {
    pub job_id: String,
    pub model: Option<String>,
    pub capability: Capability,
    pub cost_cents: i64,
    pub cache_hit: bool,
    pub created_at: String,
}

/// One request as the emulator received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// HTTP method, e.g. `GET`.
    pub method: String,
    /// Path and query, e.g. `/v1/jobs/job_1`.
    pub path: String,
    /// Route name (see [`crate::routes`]); `unknown` when no route matched.
    pub route: String,
    /// Every header, lower-case names, in arrival order.
    pub headers: Vec<(String, String)>,
}

impl RequestRecord {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
pub(crate) struct Stats {
    pub jobs_created: u64,
    pub cache_hits: u64,
    pub uploads: u64,
    pub per_route: BTreeMap<String, u64>,
    pub log: Vec<RequestRecord>,
}

pub(crate) struct Inner {
    pub jobs: HashMap<String, JobRecord>,
    pub outputs: HashMap<String, OutputSpec>,
    pub files: HashMap<String, FileRecord>,
    pub files_by_hash: HashMap<String, String>,
    pub cache: HashMap<String, CacheEntry>,
    pub usage: Vec<UsageEntry>,
    pub balance_cents: i64,
    pub stats: Stats,
    pub rpm: HashMap<String, VecDeque<Instant>>,
    pub scripted: HashMap<String, VecDeque<Fault>>,
    pub rng: StdRng,
    pub next_id: u64,
    /// Per-process randomness from the OS, mixed into ids so that two runs (which may share
    /// a state directory) never hand out the same id. Not the fault seed: faults stay
    /// reproducible.
    pub id_salt: u64,
    pub sse_mode: SseMode,
}

pub(crate) struct Shared {
    pub config: Config,
    pub origin: String,
    pub upload_dir: tempfile::TempDir,
    inner: Mutex<Inner>,
}

impl Shared {
    pub(crate) fn new(config: Config, origin: String, upload_dir: tempfile::TempDir) -> Arc<Self> {
        let mut scripted: HashMap<String, VecDeque<Fault>> = HashMap::new();
        for (route, fault) in &config.scripted {
            scripted
                .entry(route.clone())
                .or_default()
                .push_back(fault.clone());
        }
        let inner = Inner {
            jobs: HashMap::new(),
            outputs: HashMap::new(),
            files: HashMap::new(),
            files_by_hash: HashMap::new(),
            cache: HashMap::new(),
            usage: Vec::new(),
            balance_cents: config.balance_cents,
            stats: Stats::default(),
            rpm: HashMap::new(),
            scripted,
            rng: StdRng::seed_from_u64(config.seed),
            next_id: 0,
            id_salt: rand::random(),
            sse_mode: config.sse_mode,
        };
        Arc::new(Self {
            config,
            origin,
            upload_dir,
            inner: Mutex::new(inner),
        })
    }

    /// Locks the state; a poisoned lock (a panicked handler) is recovered, since every
    /// update keeps the state consistent.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner {
    /// A fresh id with `prefix` and 12 hex digits, e.g. `job_3f09c2a17be4`: a counter mixed
    /// with the per-process salt, so ids do not repeat within a run nor (in practice) across
    /// runs.
    pub(crate) fn new_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        use sha2::{Digest, Sha256};
        let digest =
            Sha256::digest(format!("{prefix}:{}:{}", self.id_salt, self.next_id).as_bytes());
        format!("{prefix}_{}", &hex::encode(digest)[..12])
    }
}
