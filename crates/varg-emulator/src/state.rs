//! Shared state: jobs, files, cache, account, statistics and fault queues.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::watch;
use tokio::task::AbortHandle;
use varg_types::{Capability, Job, JobMetadata, JobOutput, JobStatus};

use crate::config::{Config, Fault, SseMode};
use crate::media::MediaKind;
use crate::store::Disk;

/// Stands for the server's origin inside stored JSON outputs (the slice manifest), so that
/// they are served with the origin of whichever process serves them.
pub(crate) const ORIGIN_TOKEN: &str = "{varg-emulator-origin}";

/// What an output URL serves; generated on each download.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum OutputSpec {
    Png {
        width: u32,
        height: u32,
        colour: [u8; 3],
        /// Text drawn on the image (prompt, model, job id).
        #[serde(default)]
        label: Vec<String>,
    },
    Wav {
        secs: f64,
    },
    Mp3 {
        secs: f64,
    },
    Mp4 {
        width: u32,
        height: u32,
        secs: f64,
    },
    /// JSON text; [`ORIGIN_TOKEN`] is replaced by the serving origin.
    Json {
        text: String,
    },
    Sized {
        len: u64,
        kind: MediaKind,
    },
}

impl OutputSpec {
    /// A JSON output; occurrences of `origin` are stored as [`ORIGIN_TOKEN`].
    pub(crate) fn json(bytes: &[u8], origin: &str) -> Self {
        OutputSpec::Json {
            text: String::from_utf8_lossy(bytes).replace(origin, ORIGIN_TOKEN),
        }
    }

    pub(crate) fn kind(&self) -> MediaKind {
        match self {
            OutputSpec::Png { .. } => MediaKind::Png,
            OutputSpec::Wav { .. } => MediaKind::Wav,
            OutputSpec::Mp3 { .. } => MediaKind::Mp3,
            OutputSpec::Mp4 { .. } => MediaKind::Mp4,
            OutputSpec::Json { .. } => MediaKind::Json,
            OutputSpec::Sized { kind, .. } => *kind,
        }
    }

    /// The bytes as served from `origin`, for everything but [`OutputSpec::Sized`]
    /// (streamed instead).
    pub(crate) fn bytes(&self, origin: &str) -> Option<Vec<u8>> {
        Some(match self {
            OutputSpec::Png {
                width,
                height,
                colour,
                label,
            } => crate::media::png_labelled(*width, *height, *colour, label),
            OutputSpec::Wav { secs } => crate::media::wav(*secs),
            OutputSpec::Mp3 { secs } => crate::media::mp3(*secs),
            OutputSpec::Mp4 {
                width,
                height,
                secs,
            } => crate::media::mp4(*width, *height, *secs),
            OutputSpec::Json { text } => text.replace(ORIGIN_TOKEN, origin).into_bytes(),
            OutputSpec::Sized { .. } => return None,
        })
    }
}

/// When and how a job ends, from its creation time: kept with the job so that a later
/// process finishes it on the same schedule.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct Plan {
    /// Microseconds in `queued` (already scaled).
    pub queued_us: u64,
    /// Microseconds from creation to the end (already scaled; at least `queued_us`).
    pub total_us: u64,
    /// Stays `processing` until cancelled.
    pub hold: bool,
    /// Ends as `failed` with this error.
    pub fail: Option<String>,
    /// The output URL and media type set on completion.
    pub output: Option<(String, String)>,
    /// Metadata set on completion.
    pub metadata: Option<JobMetadata>,
}

/// Everything about a job that outlives the process (see [`crate::store`]).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct JobData {
    pub job: Job,
    /// SHA-256 of the API key that created it (the key itself is never stored).
    pub owner: String,
    /// Wall-clock creation time, microseconds since the Unix epoch.
    pub created_unix_us: u64,
    /// What was charged (refunded on failure or cancellation).
    pub cost_cents: i64,
    /// What the usage record reports (0 once refunded).
    pub usage_cents: i64,
    pub capability: Capability,
    pub cache_hit: bool,
    pub cache_key: String,
    pub store_in_cache: bool,
    /// Output names (under `/o/`) and what they serve.
    pub outputs: Vec<(String, OutputSpec)>,
    /// `None` for cache hits, which are finished at creation.
    pub plan: Option<Plan>,
}

pub(crate) struct JobRecord {
    pub data: JobData,
    pub tx: watch::Sender<Job>,
    pub abort: Option<AbortHandle>,
}

impl JobRecord {
    pub(crate) fn new(data: JobData) -> Self {
        let (tx, _) = watch::channel(data.job.clone());
        Self {
            data,
            tx,
            abort: None,
        }
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct FileRecord {
    pub file_id: String,
    pub hash: String,
    pub size: u64,
    pub kind: MediaKind,
    /// Where the bytes are (not stored: derived from the directory on load).
    #[serde(skip)]
    pub path: PathBuf,
}

impl FileRecord {
    /// The download URL from `origin`.
    pub(crate) fn url(&self, origin: &str) -> String {
        format!("{origin}/u/{}.{}", self.file_id, self.kind.extension())
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct CacheEntry {
    pub job: Job,
    /// Wall-clock time it was stored, microseconds since the Unix epoch.
    pub stored_unix_us: u64,
}

/// Microseconds since the Unix epoch.
pub(crate) fn unix_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// The owner tag of an API key.
pub(crate) fn owner_of(key: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(key.as_bytes()))
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
    /// Where uploads are stored: the state directory's `files/`, or a temporary directory.
    pub upload_dir: PathBuf,
    /// Removed with the emulator when there is no state directory.
    _temp_dir: Option<tempfile::TempDir>,
    /// The state directory, when persistent.
    pub disk: Option<Disk>,
    /// Where job schedules run (the runtime the emulator was started on).
    runtime: tokio::runtime::Handle,
    inner: Mutex<Inner>,
}

impl Shared {
    pub(crate) fn new(config: Config, origin: String) -> std::io::Result<Arc<Self>> {
        let mut scripted: HashMap<String, VecDeque<Fault>> = HashMap::new();
        for (route, fault) in &config.scripted {
            scripted
                .entry(route.clone())
                .or_default()
                .push_back(fault.clone());
        }
        let disk = match &config.state_dir {
            Some(dir) => Some(Disk::open(dir)?),
            None => None,
        };
        let (upload_dir, temp_dir) = match &disk {
            Some(disk) => (disk.files_dir(), None),
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("varg-emulator-")
                    .tempdir()?;
                (temp.path().to_owned(), Some(temp))
            }
        };
        let mut balance_cents = config.balance_cents;
        if let Some(disk) = &disk {
            // A stored balance carries over unless one was set explicitly.
            match disk.balance() {
                Some(stored) if !config.balance_explicit => balance_cents = stored,
                _ => disk.set_balance(balance_cents),
            }
        }
        let inner = Inner {
            jobs: HashMap::new(),
            outputs: HashMap::new(),
            files: HashMap::new(),
            files_by_hash: HashMap::new(),
            cache: HashMap::new(),
            balance_cents,
            stats: Stats::default(),
            rpm: HashMap::new(),
            scripted,
            rng: StdRng::seed_from_u64(config.seed),
            next_id: 0,
            id_salt: rand::random(),
            sse_mode: config.sse_mode,
        };
        Ok(Arc::new(Self {
            config,
            origin,
            upload_dir,
            _temp_dir: temp_dir,
            disk,
            runtime: tokio::runtime::Handle::current(),
            inner: Mutex::new(inner),
        }))
    }

    /// Locks the state; a poisoned lock (a panicked handler) is recovered, since every
    /// update keeps the state consistent.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes job `id` to the state directory, if there is one.
    pub(crate) fn save_job(&self, inner: &Inner, id: &str) {
        if let (Some(disk), Some(record)) = (&self.disk, inner.jobs.get(id)) {
            disk.save_job(&record.data, &self.origin);
        }
    }

    /// Adds a new job (and its outputs) and writes it.
    pub(crate) fn insert_job(&self, inner: &mut Inner, data: JobData) {
        let id = data.job.job_id.as_str().to_owned();
        for (name, spec) in &data.outputs {
            inner.outputs.insert(name.clone(), spec.clone());
        }
        if let Some(disk) = &self.disk {
            disk.save_job(&data, &self.origin);
        }
        inner.jobs.insert(id, JobRecord::new(data));
    }

    /// Makes sure job `id` is in memory, reading it from the state directory if needed, and
    /// brings it up to date: a job finished on disk (by another process) is taken as it is,
    /// and a job in flight gets the transitions that are due by now, then a schedule for
    /// the rest. `false` if there is no such job.
    pub(crate) fn ensure_job(self: &Arc<Self>, inner: &mut Inner, id: &str) -> bool {
        let Some(disk) = &self.disk else {
            return inner.jobs.contains_key(id);
        };
        if let Some(record) = inner.jobs.get(id) {
            if !record.data.job.status.is_terminal() {
                self.adopt_if_finished(inner, id);
            }
            return true;
        }
        let Some(data) = disk.load_job(id, &self.origin) else {
            return false;
        };
        for (name, spec) in &data.outputs {
            inner.outputs.insert(name.clone(), spec.clone());
        }
        let terminal = data.job.status.is_terminal();
        inner.jobs.insert(id.to_owned(), JobRecord::new(data));
        if !terminal && let Some(wait) = self.advance_locked(inner, id) {
            let abort = self.schedule(id, wait);
            if let Some(record) = inner.jobs.get_mut(id) {
                record.abort = Some(abort);
            }
        }
        true
    }

    /// Every job, from memory and the state directory.
    pub(crate) fn ensure_all_jobs(self: &Arc<Self>, inner: &mut Inner) {
        if let Some(disk) = &self.disk {
            for id in disk.job_ids() {
                self.ensure_job(inner, &id);
            }
        }
    }

    /// Takes the stored version of job `id` if it is finished there but not here (another
    /// process cancelled or finished it). `true` if it did.
    fn adopt_if_finished(&self, inner: &mut Inner, id: &str) -> bool {
        let Some(disk) = &self.disk else {
            return false;
        };
        let Some(stored) = disk.load_job(id, &self.origin) else {
            return false;
        };
        let Some(record) = inner.jobs.get_mut(id) else {
            return false;
        };
        if record.data.job.status.is_terminal() || !stored.job.status.is_terminal() {
            return false;
        }
        if let Some(abort) = record.abort.take() {
            abort.abort();
        }
        record.data = stored;
        record.tx.send_replace(record.data.job.clone());
        true
    }

    /// What output `name` (under `/o/`) serves; reads its job from the state directory if
    /// needed.
    pub(crate) fn output_spec(self: &Arc<Self>, name: &str) -> Option<OutputSpec> {
        let mut inner = self.lock();
        if let Some(spec) = inner.outputs.get(name) {
            return Some(spec.clone());
        }
        // Outputs are named after their job: `<job_id>.<ext>` or `<job_id>/...`.
        let job_id = name.split(['.', '/']).next().unwrap_or(name);
        self.ensure_job(&mut inner, job_id);
        inner.outputs.get(name).cloned()
    }

    /// Upload `id`, from memory or the state directory.
    pub(crate) fn file(&self, inner: &mut Inner, id: &str) -> Option<FileRecord> {
        if let Some(file) = inner.files.get(id) {
            return Some(file.clone());
        }
        let file = self.disk.as_ref()?.load_file(id)?;
        inner.files.insert(id.to_owned(), file.clone());
        Some(file)
    }

    /// The upload with content hash `hash`, from memory or the state directory.
    pub(crate) fn file_by_hash(&self, inner: &mut Inner, hash: &str) -> Option<FileRecord> {
        if let Some(file) = inner
            .files_by_hash
            .get(hash)
            .and_then(|id| inner.files.get(id))
        {
            return Some(file.clone());
        }
        let file = self.disk.as_ref()?.file_by_hash(hash)?;
        inner.files.insert(file.file_id.clone(), file.clone());
        inner
            .files_by_hash
            .insert(hash.to_owned(), file.file_id.clone());
        Some(file)
    }

    /// Stores a finished upload.
    pub(crate) fn insert_file(&self, inner: &mut Inner, file: FileRecord) {
        if let Some(disk) = &self.disk {
            disk.save_file(&file);
        }
        inner
            .files_by_hash
            .insert(file.hash.clone(), file.file_id.clone());
        inner.files.insert(file.file_id.clone(), file);
    }

    /// The cache entry under `key`, from memory or the state directory.
    pub(crate) fn cache_get(&self, inner: &mut Inner, key: &str) -> Option<CacheEntry> {
        if let Some(entry) = inner.cache.get(key) {
            return Some(entry.clone());
        }
        let entry = self.disk.as_ref()?.load_cache(key, &self.origin)?;
        inner.cache.insert(key.to_owned(), entry.clone());
        Some(entry)
    }

    fn cache_put(&self, inner: &mut Inner, key: String, entry: CacheEntry) {
        if let Some(disk) = &self.disk {
            disk.save_cache(&key, &entry, &self.origin);
        }
        inner.cache.insert(key, entry);
    }

    /// The balance: the stored one when there is a state directory (other processes may
    /// have changed it).
    pub(crate) fn balance(&self, inner: &mut Inner) -> i64 {
        if let Some(stored) = self.disk.as_ref().and_then(Disk::balance) {
            inner.balance_cents = stored;
        }
        inner.balance_cents
    }

    /// Sets the balance (and stores it).
    pub(crate) fn set_balance(&self, inner: &mut Inner, cents: i64) {
        inner.balance_cents = cents;
        if let Some(disk) = &self.disk {
            disk.set_balance(cents);
        }
    }

    /// Adds `delta` (negative to charge) to the current balance.
    pub(crate) fn add_balance(&self, inner: &mut Inner, delta: i64) {
        let cents = self.balance(inner).saturating_add(delta);
        self.set_balance(inner, cents);
    }

    /// Applies `change` to a job that is not finished, refunds failed and cancelled jobs,
    /// stores completed ones in the cache, writes the job and notifies stream subscribers.
    pub(crate) fn transition_locked(
        &self,
        inner: &mut Inner,
        id: &str,
        change: impl FnOnce(&mut Job),
    ) {
        let Some(record) = inner.jobs.get_mut(id) else {
            return;
        };
        if record.data.job.status.is_terminal() {
            return;
        }
        change(&mut record.data.job);
        let job = record.data.job.clone();
        record.tx.send_replace(job.clone());
        let refund = matches!(job.status, JobStatus::Failed | JobStatus::Cancelled);
        if refund {
            record.data.usage_cents = 0;
        }
        let (cost, store, key) = (
            record.data.cost_cents,
            record.data.store_in_cache,
            record.data.cache_key.clone(),
        );
        self.save_job(inner, id);
        if refund {
            self.add_balance(inner, cost);
        } else if job.status == JobStatus::Completed && store {
            let entry = CacheEntry {
                job,
                stored_unix_us: unix_us(),
            };
            self.cache_put(inner, key, entry);
        }
    }

    /// Applies the transitions of job `id` that are due by its plan; returns how long until
    /// the next one, or `None` when there is nothing more to do (finished, held, no plan).
    pub(crate) fn advance_locked(&self, inner: &mut Inner, id: &str) -> Option<Duration> {
        // Another process sharing the directory may have finished or cancelled it.
        if self.adopt_if_finished(inner, id) {
            return None;
        }
        let record = inner.jobs.get(id)?;
        if record.data.job.status.is_terminal() {
            return None;
        }
        let plan = record.data.plan.clone()?;
        let elapsed = unix_us().saturating_sub(record.data.created_unix_us);
        if record.data.job.status == JobStatus::Queued {
            if elapsed < plan.queued_us {
                return Some(Duration::from_micros(plan.queued_us - elapsed));
            }
            self.transition_locked(inner, id, |job| job.status = JobStatus::Processing);
        }
        if plan.hold {
            return None;
        }
        if elapsed < plan.total_us {
            return Some(Duration::from_micros(plan.total_us - elapsed));
        }
        let now = crate::time::rfc3339_now();
        self.transition_locked(inner, id, |job| {
            job.completed_at = Some(now);
            match &plan.fail {
                Some(message) => {
                    job.status = JobStatus::Failed;
                    job.error = Some(message.clone());
                }
                None => {
                    job.status = JobStatus::Completed;
                    if let Some((url, media_type)) = &plan.output {
                        job.output = Some(JobOutput::new(url.clone(), Some(media_type.clone())));
                    }
                    job.metadata = plan.metadata.clone();
                }
            }
        });
        None
    }

    /// Runs the plan of job `id` on the emulator's runtime, first after `first_wait`.
    pub(crate) fn schedule(self: &Arc<Self>, id: &str, first_wait: Duration) -> AbortHandle {
        let state = Arc::clone(self);
        let id = id.to_owned();
        self.runtime
            .spawn(async move {
                let mut wait = first_wait;
                loop {
                    tokio::time::sleep(wait).await;
                    let next = {
                        let mut inner = state.lock();
                        state.advance_locked(&mut inner, &id)
                    };
                    match next {
                        Some(next) => wait = next,
                        None => return,
                    }
                }
            })
            .abort_handle()
    }

    /// Cancels job `id` if it is not finished (refunding it). `None` if there is no such job.
    pub(crate) fn cancel(self: &Arc<Self>, id: &str) -> Option<()> {
        let mut inner = self.lock();
        if !self.ensure_job(&mut inner, id) {
            return None;
        }
        if let Some(abort) = inner.jobs.get_mut(id).and_then(|r| r.abort.take()) {
            abort.abort();
        }
        let now = crate::time::rfc3339_now();
        self.transition_locked(&mut inner, id, |job| {
            job.status = JobStatus::Cancelled;
            job.completed_at = Some(now);
        });
        Some(())
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
