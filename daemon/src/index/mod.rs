//! Durable storage and search: tantivy indexes, one per time bucket.
//!
//! CONTRACT (the server and alerting rely on these names):
//! - [`Index::open`] opens or creates the data dir and returns what was committed last
//!   ([`Recovered`]: collector positions and the next `seq`), so the collector resumes
//!   exactly where the stored data ends.
//! - [`Index::spawn_writer`] consumes [`IngestBatch`]es on its own thread and commits
//!   them (with their positions) at least every `commit_interval`.
//! - [`Index::search`], [`Index::context`], [`Index::count`] answer queries; they are
//!   blocking calls (the server runs them on a blocking thread).
//!
//! Layout and recovery are described in [`bucket`]; the commit loop in [`writer`];
//! result ordering in [`collect`]; query compilation in [`compile`], with the
//! `message` analyzer in [`analyzer`].

pub mod analyzer;
pub mod bucket;
pub mod collect;
pub mod compile;
pub mod schema;
mod writer;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use lookout_shared::histogram::Bars;
use lookout_shared::protocol::{
    ContextPage, Cursor, Histogram, Order, Position, SearchPage, SearchParams,
};
use lookout_shared::query::{Query, QueryError};
use lookout_shared::range::RangeError;
use lookout_shared::{LogEntry, Timestamp};
use tantivy::query::{BooleanQuery, EnableScoring, Occur, Query as TQuery, TermQuery, Weight};
use tantivy::schema::IndexRecordOption;
use tantivy::{Searcher, TantivyDocument, Term};

use crate::collect::{PositionUpdate, Positions};
use bucket::{Bucket, Payload, FORMAT_VERSION};
use collect::{key, unkey, Hit, Seg, Summaries, TopFruit, TopSpec};
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
}

impl Shared {
    fn active(&self) -> Option<Arc<Bucket>> {
        self.buckets.read().ok().and_then(|b| b.last().cloned())
    }

    fn snapshot(&self) -> Vec<Arc<Bucket>> {
        self.buckets.read().map(|b| b.clone()).unwrap_or_default()
    }

    fn push_bucket(&self, b: Arc<Bucket>) {
        if let Ok(mut v) = self.buckets.write() {
            v.push(b);
        }
    }

    fn set_error(&self, e: Option<String>) {
        if let Ok(mut s) = self.state.lock() {
            s.error = e;
        }
    }

    fn set_committed(&self, ms: f64) {
        if let Ok(mut s) = self.state.lock() {
            s.last_commit_ms = ms;
            s.commits += 1;
        }
    }

    /// Drops whole sealed buckets: those entirely older than the retention, then the
    /// oldest while the total exceeds `max_disk`. The active bucket is never dropped.
    fn apply_retention(&self) {
        let cutoff = Timestamp::now()
            .0
            .saturating_sub(i64::try_from(self.cfg.retention.as_nanos()).unwrap_or(i64::MAX));
        let mut dropped = Vec::new();
        if let Ok(mut v) = self.buckets.write() {
            let n = v.len();
            let mut keep = Vec::with_capacity(n);
            for (i, b) in v.drain(..).enumerate() {
                let m = b.meta.read().map(|m| m.clone()).unwrap_or_default();
                let expired = m.max_ts.is_none_or(|t| t < cutoff);
                if i + 1 < n && expired {
                    dropped.push((b, "retention age"));
                } else {
                    keep.push(b);
                }
            }
            let size = |v: &[Arc<Bucket>]| -> u64 {
                v.iter()
                    .map(|b| b.meta.read().map(|m| m.bytes).unwrap_or(0))
                    .sum()
            };
            while keep.len() > 1 && size(&keep) > self.cfg.max_disk {
                dropped.push((keep.remove(0), "max disk"));
            }
            *v = keep;
        }
        for (b, why) in dropped {
            tracing::info!(bucket = b.id, path = %b.path.display(), reason = why, "dropping index bucket");
            if let Err(e) = std::fs::remove_dir_all(&b.path) {
                tracing::warn!(error = %e, path = %b.path.display(), "cannot remove bucket");
            }
        }
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
        };
        Ok((
            Index {
                shared: Arc::new(shared),
            },
            recovered,
        ))
    }

    /// Starts the writer thread. Call once: the writer owns the active bucket.
    pub fn spawn_writer(
        &self,
        rx: crossbeam_channel::Receiver<IngestBatch>,
    ) -> std::thread::JoinHandle<()> {
        let shared = self.shared.clone();
        let start = self
            .shared
            .start
            .lock()
            .ok()
            .and_then(|mut s| s.take())
            .unwrap_or_default();
        std::thread::Builder::new()
            .name("index-writer".into())
            .spawn(move || writer::run(shared, rx, start))
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "cannot start the index writer thread");
                std::thread::spawn(|| {})
            })
    }

    /// One page of matches, with the total (and a histogram when asked).
    pub fn search(&self, params: &SearchParams) -> Result<SearchPage, SearchError> {
        let t0 = Instant::now();
        let query = Query::parse(&params.query)?;
        let bounds = params.range.resolve(Timestamp::now())?;
        let (from, until) = (bounds.from.map(|t| t.0), bounds.until.map(|t| t.0));
        let limit = match params.limit {
            0 => DEFAULT_LIMIT,
            n => n.min(MAX_LIMIT),
        } as usize;
        let hist = if params.histogram {
            Some(self.hist_spec(from, until))
        } else {
            None
        };
        let spec = TopSpec {
            limit: limit + 1,
            newest_first: params.order == Order::NewestFirst,
            after: params.cursor.map(|c| key(c.ts.0, c.seq)),
            from: from.unwrap_or(i64::MIN),
            until: until.unwrap_or(i64::MAX),
            hist,
        };
        let (searchers, fruit) = self.run(&query, &spec)?;
        let more = fruit.hits.len() > limit;
        let entries = self.load(&searchers, &fruit.hits[..fruit.hits.len().min(limit)])?;
        let next_cursor = if more {
            entries.last().map(Cursor::of)
        } else {
            None
        };
        let histogram = hist.map(|h| h.histogram(fruit.hist.iter().copied()));
        Ok(SearchPage {
            entries,
            total: fruit.total,
            histogram,
            next_cursor,
            took_ms: t0.elapsed().as_secs_f64() * 1000.0,
        })
    }

    /// The entries around `at` in the same stream (same namespace, pod, pod uid,
    /// container, restart and stream), oldest first on both sides.
    pub fn context(&self, at: Cursor, before: u32, after: u32) -> Result<ContextPage, SearchError> {
        let f = &self.shared.fields;
        let spec = TopSpec {
            limit: 1,
            newest_first: true,
            after: None,
            from: at.ts.0,
            until: at.ts.0.saturating_add(1),
            hist: None,
        };
        let by_seq: Box<dyn TQuery> = Box::new(TermQuery::new(
            Term::from_field_u64(f.seq, at.seq),
            IndexRecordOption::Basic,
        ));
        let (searchers, found) = self.run_tantivy(&*by_seq, None, &spec)?;
        let entry = self
            .load(&searchers, &found.hits)?
            .into_iter()
            .next()
            .ok_or_else(|| {
                SearchError::NotFound(format!(
                    "no stored entry at {} with seq {} (retention may have removed it)",
                    at.ts, at.seq
                ))
            })?;
        let text = |field, v: &str| -> (Occur, Box<dyn TQuery>) {
            (
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_text(field, v),
                    IndexRecordOption::Basic,
                )),
            )
        };
        let mut clauses = vec![
            text(f.namespace, &entry.namespace),
            text(f.pod, &entry.pod),
            text(f.container, &entry.container),
            text(f.stream, entry.stream.as_str()),
            (
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_u64(f.restart, u64::from(entry.restart)),
                    IndexRecordOption::Basic,
                )),
            ),
        ];
        if !entry.pod_uid.is_empty() {
            clauses.push(text(f.pod_uid, &entry.pod_uid));
        }
        let stream_q = BooleanQuery::new(clauses);
        let side = |n: u32, newest_first: bool| -> Result<Vec<LogEntry>, SearchError> {
            if n == 0 {
                return Ok(Vec::new());
            }
            let spec = TopSpec {
                limit: n.min(MAX_CONTEXT) as usize,
                newest_first,
                after: Some(key(at.ts.0, at.seq)),
                from: i64::MIN,
                until: i64::MAX,
                hist: None,
            };
            let (s, found) = self.run_tantivy(&stream_q, None, &spec)?;
            self.load(&s, &found.hits)
        };
        let mut b = side(before, true)?;
        b.reverse();
        let a = side(after, false)?;
        Ok(ContextPage {
            before: b,
            entry: Some(entry),
            after: a,
        })
    }

    /// Matches of `query` with `from <= ts < until` (alert evaluation, rule tests).
    pub fn count(
        &self,
        query: &str,
        from: Timestamp,
        until: Timestamp,
    ) -> Result<u64, SearchError> {
        let q = Query::parse(query)?;
        self.count_query(&q, from, until)
    }

    /// [`Index::count`] for an already parsed query.
    pub fn count_query(
        &self,
        query: &Query,
        from: Timestamp,
        until: Timestamp,
    ) -> Result<u64, SearchError> {
        let spec = TopSpec {
            limit: 0,
            newest_first: true,
            after: None,
            from: from.0,
            until: until.0,
            hist: None,
        };
        Ok(self.run(query, &spec)?.1.total)
    }

    /// Counts of `query` per `width` bar over `[from, until)`, oldest bar first (rule
    /// tests, sparklines).
    pub fn histogram(
        &self,
        query: &Query,
        from: Timestamp,
        until: Timestamp,
        width: Duration,
    ) -> Result<Histogram, SearchError> {
        let w = i64::try_from(width.as_nanos()).unwrap_or(i64::MAX);
        let h = Bars::covering(from.0, until.0, w);
        if h.n > 100_000 {
            return Err(SearchError::BadRange("too many histogram bars".into()));
        }
        let spec = TopSpec {
            limit: 0,
            newest_first: true,
            after: None,
            from: from.0,
            until: until.0,
            hist: Some(h),
        };
        let fruit = self.run(query, &spec)?.1;
        Ok(h.histogram(fruit.hist.iter().copied()))
    }

    /// Figures for health and metrics.
    /// The first `seq` not yet searchable, kept current by the writer: every entry
    /// below it can be found by a search. The live ring uses it to hold only what
    /// the index cannot serve yet ([`crate::live::Live::track_index`]).
    pub fn searchable_seq(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.shared.searchable_seq)
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
            if let Ok(m) = b.meta.read() {
                s.bytes += m.bytes;
                if let Some(lo) = m.min_ts {
                    s.oldest = Some(s.oldest.map_or(Timestamp(lo), |o| o.min(Timestamp(lo))));
                }
                if let Some(hi) = m.max_ts {
                    s.newest = Some(s.newest.map_or(Timestamp(hi), |o| o.max(Timestamp(hi))));
                }
            }
        }
        if let Ok(st) = self.shared.state.lock() {
            s.error = st.error.clone();
            s.last_commit_ms = st.last_commit_ms;
            s.commits = st.commits;
        }
        s
    }

    /// The data dir this index lives in.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.shared.cfg.data_dir
    }

    /// Chooses histogram bars for a range: about 60 to 120 of a round width (an open
    /// end is the newest or oldest stored entry).
    fn hist_spec(&self, from: Option<i64>, until: Option<i64>) -> Bars {
        let st = self.stats();
        let now = Timestamp::now().0;
        let until = until.unwrap_or_else(|| now.max(st.newest.map_or(now, |t| t.0 + 1)));
        let from = from.unwrap_or_else(|| {
            st.oldest
                .map_or(until - 3_600_000_000_000, |t| t.0)
                .min(until - 1)
        });
        Bars::round(from, until, SEARCH_BARS)
    }

    fn run(&self, query: &Query, spec: &TopSpec) -> Result<(Vec<Searcher>, TopFruit), SearchError> {
        let tq = compile::compile(query.root(), &self.shared.fields);
        let from = (spec.from != i64::MIN).then_some(spec.from);
        let until = (spec.until != i64::MAX).then_some(spec.until);
        let ranged = (from.is_some() || until.is_some())
            .then(|| compile::with_range(tq.box_clone(), &self.shared.fields, from, until));
        self.run_tantivy(&*tq, ranged.as_deref(), spec)
    }

    /// Runs one tantivy query over every bucket that may hold entries in range.
    /// `ranged` is the query narrowed to the time range, for segments straddling
    /// its bounds (the exact bounds are checked on the fast field either way).
    fn run_tantivy(
        &self,
        inner: &dyn TQuery,
        ranged: Option<&dyn TQuery>,
        spec: &TopSpec,
    ) -> Result<(Vec<Searcher>, TopFruit), SearchError> {
        let buckets = self.shared.snapshot();
        let mut searchers = Vec::new();
        let mut weights: Vec<(Box<dyn Weight>, Option<BoxedWeight>)> = Vec::new();
        let mut live = HashSet::new();
        for b in buckets.iter() {
            let searcher = b.reader.searcher();
            live.extend(searcher.segment_readers().iter().map(|r| r.segment_id()));
            let overlaps = b
                .meta
                .read()
                .map(|m| m.overlaps(spec.from, spec.until))
                .unwrap_or(true);
            if !overlaps {
                continue;
            }
            let es = EnableScoring::disabled_from_searcher(&searcher);
            let w = inner.weight(es)?;
            let r = match ranged {
                Some(q) => Some(q.weight(es)?),
                None => None,
            };
            weights.push((w, r));
            searchers.push(searcher);
        }
        let mut segs = Vec::new();
        for (i, (s, (w, r))) in searchers.iter().zip(&weights).enumerate() {
            for (ord, reader) in s.segment_readers().iter().enumerate() {
                segs.push(Seg {
                    bucket: i,
                    ord: ord as u32,
                    reader,
                    inner: &**w,
                    ranged: r.as_deref().unwrap_or(&**w),
                });
            }
        }
        let fruit = collect::collect(spec, &segs, &self.shared.summaries)?;
        self.shared.summaries.retain(&live);
        Ok((searchers, fruit))
    }

    fn load(&self, searchers: &[Searcher], found: &[Hit]) -> Result<Vec<LogEntry>, SearchError> {
        let f = &self.shared.fields;
        let mut out = Vec::with_capacity(found.len());
        for h in found {
            let Some(s) = searchers.get(h.bucket) else {
                continue;
            };
            let doc: TantivyDocument = s.doc(h.addr)?;
            let (ts, seq) = unkey(h.key);
            out.push(f.to_entry(&doc, ts, seq));
        }
        Ok(out)
    }
}

type BoxedWeight = Box<dyn Weight>;
