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
//! Layout and recovery are described in [`bucket`]; the commit loop in [`writer`];
//! result ordering in [`collect`]; query compilation in [`compile`], with the
//! `message` analyzer in [`analyzer`].

pub mod analyzer;
pub mod bucket;
pub mod collect;
pub mod compile;
mod metrics;
pub mod retention;
pub mod schema;
mod search;
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
}

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
}

/// Errors opening the index.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The data dir is not ours (no marker, other format); nothing was touched.
    #[error("refusing data dir: {0}")]
    Foreign(String),
    /// A bucket cannot be read; nothing was touched.
    #[error("corrupt index: {0}")]
    Corrupt(String),
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
    /// `LOOKOUT-DATA` marker, another format version, or an unreadable bucket is an
    /// error that says so; nothing is ever deleted except our own half-created
    /// `tmp-` buckets.
    pub fn open(cfg: IndexConfig) -> Result<(Index, Recovered), IndexError> {
        bucket::check_data_dir(&cfg.data_dir)?;
        let fields = Fields::new();
        let ids = bucket::list_buckets(&cfg.data_dir)?;
        let mut buckets = Vec::new();
        let mut last = None;
        for id in ids {
            let (b, p) = Bucket::open(&cfg.data_dir, id, &fields)?;
            buckets.push(Arc::new(b));
            last = Some(p);
        }
        let start = match last {
            Some(p) => p,
            None => {
                let p = Payload {
                    version: FORMAT_VERSION,
                    positions: Positions::default(),
                    next_seq: 1,
                    min_ts: None,
                    max_ts: None,
                    created_ms: Timestamp::now().0 / 1_000_000,
                };
                buckets.push(Arc::new(Bucket::create(&cfg.data_dir, 1, &fields, &p)?));
                p
            }
        };
        let recovered = Recovered {
            positions: start.positions.clone(),
            next_seq: start.next_seq.max(1),
        };
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
        };
        Ok((
            Index {
                shared: Arc::new(shared),
            },
            recovered,
        ))
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
        writer::run(Arc::clone(&self.shared), rx, start, shutdown);
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
        s.last_commit_ms = st.last_commit_ms;
        s.commits = st.commits;
        s
    }

    /// The data dir this index lives in.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.shared.cfg.data_dir
    }
}
