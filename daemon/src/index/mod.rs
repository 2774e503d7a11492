//! Durable storage and search: tantivy indexes, one per time bucket.
//!
//! CONTRACT (the server and alerting rely on these names):
//! - [`Index::open`] opens or creates the data dir and returns what was committed last
//!   ([`Recovered`]: collector positions and the next `seq`), so the collector resumes
//!   exactly where the stored data ends.
//! - [`Index::run_writer`] consumes [`IngestBatch`]es (on a thread of its own) and commits
//!   them (with their positions) at least every `commit_interval`.
//! - [`Index::search`], [`Index::context`], [`Index::count`] answer queries; they are
//!   blocking calls (the server runs them on a blocking thread). They live in
//!   `search.rs`; this file opens the index, starts its writer and reports on it.
//!
//! Layout and recovery are described in [`bucket`]; checksums and quarantine in
//! [`integrity`]; the commit loop in [`writer`];
//! result ordering in [`collect`]; query compilation in [`compile`], with the
//! `message` analyzer in [`analyzer`].

pub mod analyzer;
pub mod bucket;
pub mod collect;
pub mod compile;
pub mod field_terms;
pub mod integrity;
mod metrics;
pub mod patterns;
pub mod regex_filter;
pub mod retention;
pub mod schema;
mod search;
pub mod summary;
mod writer;

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use lookout_shared::protocol::Position;
use lookout_shared::query::QueryError;
use lookout_shared::range::RangeError;
use lookout_shared::{LogEntry, Timestamp};

use crate::collect::{PositionUpdate, Positions};
use crate::sync::{lock, read, write};
use bucket::{Bucket, Payload, FORMAT_VERSION};
use collect::Summaries;
pub use metrics::IndexMetrics;
use schema::Fields;

use crate::pattern::miners::Miners;

/// Index settings (from the daemon flags).
///
/// Buckets are derived from these: a bucket rolls after `retention / 7` (between 1 s
/// and 1 day) or at `max_disk / 10` bytes, so dropping the oldest bucket frees about a
/// tenth of the budget and age retention overshoots by at most a seventh.
#[derive(Debug, Clone)]
pub struct IndexConfig {
    pub data_dir: PathBuf,
    pub commit_interval: Duration,
    pub retention: Duration,
    pub max_disk: u64,
    /// A full checksum pass over every bucket this often ([`integrity`]).
    pub verify_every: Duration,
    /// At most this many bytes a second read by that pass.
    pub verify_rate: u64,
}

/// Default [`IndexConfig::verify_every`]: with the default rate, a 10 GiB index is
/// read in about 11 minutes once an hour, about 2.8 MiB/s on average (mostly from
/// the page cache for recent buckets).
pub const VERIFY_EVERY: Duration = Duration::from_secs(3600);
/// Default [`IndexConfig::verify_rate`]: 16 MiB/s, a few percent of a disk's.
pub const VERIFY_RATE: u64 = 16 << 20;

/// What the last commit recorded.
#[derive(Debug, Clone, Default)]
pub struct Recovered {
    pub positions: Positions,
    pub next_seq: u64,
}

/// Entries (with `seq` and `level` set) and the positions they complete.
#[derive(Debug, Default)]
pub struct IngestBatch {
    pub entries: Vec<Arc<LogEntry>>,
    pub positions: PositionUpdate,
    /// The `seq` the next batch will start at.
    pub next_seq: u64,
}

/// Figures for health and metrics.
#[derive(Debug, Clone, Default)]
pub struct IndexStats {
    pub docs: u64,
    pub bytes: u64,
    pub buckets: u64,
    pub last_commit_ms: f64,
    /// Set while indexing is stopped (disk full, …); cleared when it resumes.
    pub error: Option<String>,
    /// Successful commits since start.
    pub commits: u64,
    /// Oldest and newest stored entry times.
    pub oldest: Option<Timestamp>,
    pub newest: Option<Timestamp>,
    /// Quarantined (damaged, set aside) bucket directories still on disk.
    pub quarantined: Vec<PathBuf>,
}

/// Errors opening the index.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The data dir is not ours (no marker, other format); nothing was touched.
    #[error("refusing data dir: {0}")]
    Foreign(String),
    /// A bucket cannot be read (damaged): [`Index::open`] quarantines it.
    #[error("corrupt index: {0}")]
    Corrupt(String),
    /// The data dir cannot be used as it is (read-only, full, permission, fd
    /// limit); the message says which, and that nothing is damaged.
    #[error("{0}")]
    Unwritable(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("index error: {0}")]
    Tantivy(String),
    #[error("{0}")]
    Other(String),
}

/// Errors answering a query.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("{message}")]
    BadQuery { message: String, position: Position },
    #[error("{0}")]
    BadRange(String),
    #[error("{0}")]
    NotFound(String),
    #[error("index error: {0}")]
    Internal(String),
}

impl From<RangeError> for SearchError {
    fn from(e: RangeError) -> Self {
        SearchError::BadRange(e.to_string())
    }
}

impl From<QueryError> for SearchError {
    fn from(e: QueryError) -> Self {
        SearchError::BadQuery {
            message: e.message,
            position: e.position,
        }
    }
}

impl From<tantivy::TantivyError> for SearchError {
    fn from(e: tantivy::TantivyError) -> Self {
        SearchError::Internal(e.to_string())
    }
}

/// Default and largest page sizes.
pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 1000;
/// Most bars of a search histogram (`docs/query.md`: about 60 to 120 bars).
pub const SEARCH_BARS: i64 = 120;
/// Most entries a context request returns on each side.
pub const MAX_CONTEXT: u32 = 1000;

#[derive(Debug, Default)]
struct State {
    error: Option<String>,
    last_commit_ms: f64,
    commits: u64,
    quarantined: Vec<PathBuf>,
    /// The writer has returned (shutdown): the index no longer accepts writes.
    writer_stopped: bool,
}

/// State shared by the handles and the writer thread.
pub(crate) struct Shared {
    cfg: IndexConfig,
    fields: Fields,
    /// Oldest first; the last one is the active bucket.
    buckets: RwLock<Vec<Arc<Bucket>>>,
    state: Mutex<State>,
    roll_bytes: u64,
    span_ms: i64,
    /// What [`Index::open`] recovered, handed to the writer.
    start: Mutex<Option<Payload>>,
    /// Per-segment `ts` summaries for searches (see [`collect`]).
    summaries: Summaries,
    /// The first `seq` not yet searchable (set after each commit's reader reload).
    searchable_seq: Arc<AtomicU64>,
    metrics: std::sync::OnceLock<IndexMetrics>,
    /// The active bucket's id when the verifier found it damaged: the writer
    /// replaces it ([`writer`]), with why.
    condemned: Mutex<Option<(u64, String)>>,
    /// A search failed reading a stored document: verify every bucket now.
    verify_now: std::sync::atomic::AtomicBool,
    /// The per-workload pattern miners ingest feeds, saved after commits.
    patterns: Arc<Miners>,
}

impl Shared {
    fn active(&self) -> Option<Arc<Bucket>> {
        read(&self.buckets).last().cloned()
    }

    fn snapshot(&self) -> Vec<Arc<Bucket>> {
        read(&self.buckets).clone()
    }

    fn push_bucket(&self, b: Arc<Bucket>) {
        write(&self.buckets).push(b);
    }

    fn set_error(&self, e: Option<String>) {
        lock(&self.state).error = e;
    }

    fn set_committed(&self, ms: f64) {
        let mut s = lock(&self.state);
        s.last_commit_ms = ms;
        s.commits += 1;
    }

    /// A bucket failed its check: the active one is left to the writer to replace
    /// (it holds uncommitted entries), any other is quarantined now.
    fn condemn(self: &Arc<Self>, b: &Arc<Bucket>, why: String) {
        if self.active().is_some_and(|a| a.id == b.id) {
            tracing::error!(bucket = %b.path.display(), why = %why, "active index bucket damaged; replacing it");
            *lock(&self.condemned) = Some((b.id, why));
        } else {
            self.quarantine(b, &why);
        }
    }

    /// Takes `b` out of the searched list (its entries are never served again),
    /// then renames it aside; reported in the log, the metrics and readiness.
    fn quarantine(self: &Arc<Self>, b: &Bucket, why: &str) {
        write(&self.buckets).retain(|x| x.id != b.id);
        match integrity::quarantine_dir(&b.path) {
            Ok(to) => tracing::error!(
                bucket = %b.path.display(), moved_to = %to.display(), why = %why,
                "index bucket damaged: quarantined (not searched any more, not deleted)"
            ),
            Err(e) => tracing::error!(
                bucket = %b.path.display(), why = %why, error = %e,
                "index bucket damaged: not searched any more, but it cannot be renamed aside"
            ),
        }
        if let Some(m) = self.metrics.get() {
            m.quarantined.inc();
        }
        self.refresh_quarantined();
    }

    /// Asks the verifier for a pass at its next tick (a read or write failed in a
    /// way the environment does not explain).
    fn verify_soon(&self) {
        self.verify_now
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// Re-reads which quarantined dirs are still on disk (an operator removes them).
    fn refresh_quarantined(self: &Arc<Self>) {
        let now = integrity::list_quarantined(&self.cfg.data_dir);
        let (changed, writing) = {
            let mut s = lock(&self.state);
            let changed = s.quarantined != now;
            s.quarantined = now;
            (changed, !s.writer_stopped)
        };
        if changed {
            Index::show_metrics(self, writing);
        }
    }

    /// Drops whole sealed buckets by age and size (see [`retention`]).
    fn apply_retention(&self) {
        retention::apply(&self.buckets, self.cfg.retention, self.cfg.max_disk);
    }
}

/// A handle on the index; cheap to clone, shareable across threads.
#[derive(Clone)]
pub struct Index {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("data_dir", &self.shared.cfg.data_dir)
            .finish()
    }
}

impl Index {
    /// Opens (or initialises) the data dir. A non-empty directory without the
    /// `LOOKOUT-DATA` marker, or another format version, is refused untouched; a
    /// dir it cannot write to is refused saying why ([`IndexError::Unwritable`]).
    /// Every bucket's checksums are verified ([`integrity`]): a damaged one is
    /// quarantined (renamed aside, never deleted) and the daemon starts without it.
    /// Nothing is ever deleted except our own half-created `tmp-` buckets.
    ///
    /// Positions after a quarantine come from the newest healthy bucket's last
    /// commit: lines that were only in the damaged bucket are read again from the
    /// log files if these still hold them, and stored once in a fresh bucket (the
    /// damaged one is never searched, so nothing is served twice).
    pub fn open(cfg: IndexConfig) -> Result<(Index, Recovered), IndexError> {
        bucket::check_data_dir(&cfg.data_dir)?;
        let fields = Fields::new();
        let ids = bucket::list_buckets(&cfg.data_dir)?;
        let newest_id = ids.last().copied();
        let mut buckets = Vec::new();
        let mut last = None;
        let mut damaged = Vec::new();
        for id in ids {
            let opened =
                Bucket::open(&cfg.data_dir, id, &fields).and_then(
                    |(b, p)| match integrity::verify(&b.index, &mut |_| true) {
                        integrity::Check::Sound => Ok((b, p)),
                        integrity::Check::Damaged(why) => Err(IndexError::Corrupt(why)),
                        integrity::Check::Unfinished(why) => Err(IndexError::Unwritable(format!(
                            "index bucket {} cannot be checked: {why}. This is not damage: \
                         the bucket was left as it is",
                            b.path.display()
                        ))),
                    },
                );
            match opened {
                Ok((b, p)) => {
                    buckets.push(Arc::new(b));
                    last = Some((id, p));
                }
                Err(IndexError::Corrupt(why)) => damaged.push((id, why)),
                Err(e) => return Err(e),
            }
        }
        for (id, why) in &damaged {
            let path = bucket::index_dir(&cfg.data_dir).join(bucket::bucket_name(*id));
            match integrity::quarantine_dir(&path) {
                Ok(to) => tracing::error!(
                    bucket = %path.display(), moved_to = %to.display(), why = %why,
                    "index bucket damaged: quarantined (not searched, not deleted)"
                ),
                Err(e) => {
                    return Err(IndexError::Corrupt(format!(
                        "index bucket {} is damaged ({why}) and cannot be renamed aside: {e}",
                        path.display()
                    )))
                }
            }
        }
        let start = match last {
            // The newest bucket is healthy: resume in it.
            Some((id, p)) if Some(id) == newest_id => p,
            found => {
                // No bucket, or the newest was damaged: a fresh bucket, resuming
                // from the newest healthy commit (or from nothing).
                let from = found.map(|(_, p)| p).unwrap_or(Payload {
                    next_seq: 1,
                    ..Payload::default()
                });
                let p = Payload {
                    version: FORMAT_VERSION,
                    min_ts: None,
                    max_ts: None,
                    created_ms: Timestamp::now().0 / 1_000_000,
                    ..from
                };
                let id = newest_id.map_or(1, |n| n + 1);
                buckets.push(Arc::new(Bucket::create(&cfg.data_dir, id, &fields, &p)?));
                p
            }
        };
        let recovered = Recovered {
            positions: start.positions.clone(),
            next_seq: start.next_seq.max(1),
        };
        let (patterns, err) = Miners::load(&cfg.data_dir);
        if let Some(e) = err {
            tracing::warn!(error = %e, "pattern state not read back: patterns start over (ids stay the same)");
        }
        let span = (cfg.retention / 7).clamp(Duration::from_secs(1), Duration::from_secs(86_400));
        let shared = Shared {
            roll_bytes: (cfg.max_disk / 10).max(64 * 1024),
            span_ms: span.as_millis() as i64,
            cfg,
            fields,
            buckets: RwLock::new(buckets),
            state: Mutex::new(State::default()),
            start: Mutex::new(Some(Payload {
                next_seq: recovered.next_seq,
                ..start
            })),
            summaries: Summaries::default(),
            searchable_seq: Arc::new(AtomicU64::new(recovered.next_seq)),
            metrics: std::sync::OnceLock::new(),
            condemned: Mutex::new(None),
            verify_now: std::sync::atomic::AtomicBool::new(false),
            patterns: Arc::new(patterns),
        };
        let shared = Arc::new(shared);
        shared.refresh_quarantined();
        Ok((Index { shared }, recovered))
    }

    /// The per-workload pattern miners (read back from the data dir at open, saved
    /// by the writer after its commits): ingest feeds them, the server lists them.
    pub fn miners(&self) -> Arc<Miners> {
        Arc::clone(&self.shared.patterns)
    }

    /// Runs the index writer on the calling thread until `rx` closes, then makes a
    /// final commit (see the `writer` module). Call once: the writer owns the active bucket.
    /// The pipeline gives it a thread of its own.
    pub fn run_writer(
        &self,
        rx: crossbeam_channel::Receiver<IngestBatch>,
        shutdown: &crate::shutdown::Shutdown,
    ) {
        let start = lock(&self.shared.start).take().unwrap_or_default();
        // The verifier lives as long as the writer: dropping `stop` ends it.
        let (stop, stopped) = crossbeam_channel::bounded::<()>(0);
        let weak = Arc::downgrade(&self.shared);
        let verifier = std::thread::Builder::new()
            .name("index-verify".into())
            .spawn(move || integrity::run_verifier(weak, stopped));
        if let Err(e) = &verifier {
            tracing::error!(error = %e, "cannot start the index verifier; checksums are checked at start only");
        }
        writer::run(Arc::clone(&self.shared), rx, start, shutdown);
        lock(&self.shared.state).writer_stopped = true;
        drop(stop);
        if let Ok(t) = verifier {
            let _ = t.join();
        }
    }

    /// Figures for health and metrics.
    /// The first `seq` not yet searchable, kept current by the writer: every entry
    /// below it can be found by a search. The live ring uses it to hold only what
    /// the index cannot serve yet ([`crate::live::Live::track_index`]).
    pub fn searchable_seq(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.shared.searchable_seq)
    }

    /// Keeps `metrics` current from now on (set once; later calls are ignored).
    pub fn export_metrics(&self, metrics: IndexMetrics) {
        let _ = self.shared.metrics.set(metrics);
        Self::show_metrics(&self.shared, true);
    }

    /// Called by the writer whenever the figures change; `writing` is false once
    /// it has stopped.
    pub(crate) fn show_metrics(shared: &Arc<Shared>, writing: bool) {
        if let Some(m) = shared.metrics.get() {
            let ix = Index {
                shared: Arc::clone(shared),
            };
            m.show(&ix.stats(), writing);
        }
    }

    /// Called by the writer after a commit's reader reload.
    pub(crate) fn note_searchable(shared: &Shared, next_seq: u64) {
        shared
            .searchable_seq
            .fetch_max(next_seq, std::sync::atomic::Ordering::Release);
    }

    pub fn stats(&self) -> IndexStats {
        let buckets = self.shared.snapshot();
        let mut s = IndexStats {
            buckets: buckets.len() as u64,
            ..Default::default()
        };
        for b in &buckets {
            s.docs += b.reader.searcher().num_docs();
            let m = read(&b.meta);
            s.bytes += m.bytes;
            if let Some(lo) = m.min_ts {
                s.oldest = Some(s.oldest.map_or(Timestamp(lo), |o| o.min(Timestamp(lo))));
            }
            if let Some(hi) = m.max_ts {
                s.newest = Some(s.newest.map_or(Timestamp(hi), |o| o.max(Timestamp(hi))));
            }
        }
        let st = lock(&self.shared.state);
        s.error = st.error.clone();
        s.quarantined = st.quarantined.clone();
        s.last_commit_ms = st.last_commit_ms;
        s.commits = st.commits;
        s
    }

    /// The data dir this index lives in.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.shared.cfg.data_dir
    }
}
