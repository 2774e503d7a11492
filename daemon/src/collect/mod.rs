//! From files on disk to [`Batch`]es of log entries.
//!
//! CONTRACT (other modules rely on these names; the collector issue fills them in):
//! - [`Collector::spawn`] starts the collector on its own thread, resuming from the
//!   given [`Positions`], and sends [`Batch`]es on a bounded channel. When the
//!   channel is full the collector waits: it never drops.
//! - Each batch carries the [`PositionUpdate`] that becomes true once its entries are
//!   durably stored; the consumer applies it to its [`Positions`] and persists both
//!   atomically (the index does it in its commit payload; `--stdout` mode in a file).
//! - [`CollectorHandle::followed`] lists the files followed right now (stream listing).

mod batch;
mod contain;
mod fds;
mod layout;
pub mod multiline;
pub mod parse;
mod pool;
pub mod positions;
mod registry;
mod runner;
mod tailer;
mod watch;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use lookout_shared::{LogEntry, StreamId};

use crate::shutdown::ShutdownTrigger;
pub use multiline::SPLIT_MARKER;
pub use positions::{FileKey, FilePosition, Format, PendingPartial, PositionUpdate, Positions};
pub use tailer::TRUNCATED_MARKER;

/// What the collector hands downstream.
#[derive(Debug, Default)]
pub struct Batch {
    /// Entries in per-file order (`seq` and `level` are still unset).
    pub entries: Vec<LogEntry>,
    /// Position changes that hold once `entries` are stored.
    pub positions: PositionUpdate,
}

/// Where to start in a file never seen before (the `--read-from` flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum ReadFrom {
    /// Collect what the file already holds (no line is missed at first deploy).
    #[default]
    Beginning,
    /// Only lines written from now on.
    End,
}

/// Collector settings: all the collector reads. The daemon builds them from its
/// flags outside this module (`config::collector_config`), once for every mode.
#[derive(Debug, Clone)]
pub struct CollectorConfig {
    pub log_dir: PathBuf,
    pub read_from: ReadFrom,
    pub node: String,
    pub max_line_bytes: usize,
    /// A CRI `P` chunk (or docker record without `\n`) with no continuation for this
    /// long is flushed as a line of its own.
    pub partial_timeout: Duration,
    /// The safety-net full rescan; inotify is the main mechanism.
    pub rescan_interval: Duration,
    /// Most entries per batch.
    pub max_batch: usize,
    /// Most bytes per batch ([`crate::footprint::entry_bytes`] of its entries): 8,192
    /// lines of 1 MiB would otherwise make one batch 8 GiB.
    pub max_batch_bytes: usize,
    /// Threads reading and parsing files (different files in parallel, each file
    /// on one thread at a time); `0` picks [`default_read_threads`].
    pub read_threads: usize,
    /// Most inotify watches to take: the per-user limit is shared by every root
    /// process on the node. Directories beyond it are polled; `0` disables
    /// inotify entirely.
    pub max_watches: usize,
    /// A live file that has not grown for this long has its fd closed (its state is
    /// kept; it is reopened by identity when it grows): 10,000 quiet files must not
    /// hold 10,000 fds.
    pub idle_close: Duration,
    /// Joining the lines of stack traces and other multi-line events.
    pub multiline: MultilineConfig,
}

/// How lines are joined into multi-line events ([`multiline`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultilineConfig {
    /// `--multiline auto` (true) or `off`.
    pub enabled: bool,
    /// Streams left alone: `namespace` or `namespace/pod` patterns where `*`
    /// matches any run of characters (`kube-system`, `*/legacy-*`).
    pub exclude: Vec<String>,
    /// How long an open event waits for a continuation once its first line is
    /// read: what a line nothing continues costs in live latency.
    pub hold: Duration,
    /// Most physical lines per event.
    pub max_lines: u32,
}

/// Default [`MultilineConfig::hold`]: a trace written line by line (Python's
/// traceback printer, unbuffered stderr) takes microseconds between lines, and
/// 50 ms keeps a lone line well inside the 100 ms live-latency budget.
pub const DEFAULT_HOLD: Duration = Duration::from_millis(50);

impl Default for MultilineConfig {
    fn default() -> Self {
        MultilineConfig {
            enabled: true,
            exclude: Vec::new(),
            hold: DEFAULT_HOLD,
            max_lines: multiline::DEFAULT_MAX_LINES,
        }
    }
}

impl MultilineConfig {
    /// The caps of one event: the line size limit in bytes, and `max_lines`.
    pub fn limits(&self, max_line: usize) -> multiline::Limits {
        multiline::Limits {
            max_bytes: max_line,
            max_lines: self.max_lines.max(1),
        }
    }
}

/// `--idle-close` by default: long enough that a file written every few minutes
/// keeps its fd, short enough that a node's quiet containers give theirs back.
pub const DEFAULT_IDLE_CLOSE: Duration = Duration::from_secs(300);

/// Default [`CollectorConfig::max_batch_bytes`]. Batches in flight between the
/// collector, ingest and the index writer are at most `2 * pipeline::QUEUE + 3`
/// (two queues of 4, one batch in each stage's hands): 11 x 8 MiB = 88 MiB at worst.
/// 8,192 lines of a busy node's ~500-byte entries are 4 MiB, so ordinary batches
/// never reach it.
pub const MAX_BATCH_BYTES: usize = 8 << 20;

/// Two reader threads when the machine has two cores or more: parsing is the
/// collector's cost, and one file's lines stay on one thread anyway.
pub fn default_read_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 2)
}

impl CollectorConfig {
    /// The defaults every mode of the daemon runs with: reading from the
    /// beginning, 1 MiB lines, 5 s partial timeout, 30 s rescan, 8192-entry
    /// batches, [`default_read_threads`] readers, no watch cap of our own, idle
    /// files closed after 5 minutes, multi-line events joined with a 50 ms hold.
    pub fn new(log_dir: impl Into<PathBuf>, node: impl Into<String>) -> Self {
        CollectorConfig {
            log_dir: log_dir.into(),
            read_from: ReadFrom::Beginning,
            node: node.into(),
            max_line_bytes: 1024 * 1024,
            partial_timeout: Duration::from_secs(5),
            rescan_interval: Duration::from_secs(30),
            max_batch: 8192,
            max_batch_bytes: MAX_BATCH_BYTES,
            read_threads: 0,
            max_watches: usize::MAX,
            idle_close: DEFAULT_IDLE_CLOSE,
            multiline: MultilineConfig::default(),
        }
    }

    /// The reader thread count in effect (`read_threads`, or the default for 0).
    pub fn read_threads(&self) -> usize {
        match self.read_threads {
            0 => default_read_threads(),
            n => n,
        }
    }
}

/// A file being followed, with the metadata its path gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowedFile {
    pub path: PathBuf,
    /// The stream its lines belong to; `container_id` as learnt so far.
    pub source: StreamId,
}

/// Errors that stop the collector from starting.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("cannot watch {path}: {source}")]
    Watch {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Counters for the collector's own health.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CollectorStats {
    /// Lines not valid in their file's format, kept whole as raw messages.
    pub bad_lines: u64,
    /// Lines cut at `max_line_bytes` (marked with [`TRUNCATED_MARKER`]).
    pub truncated_lines: u64,
    /// Paths not read because they are not regular files under the log root
    /// (symlinks out of it, FIFOs, devices, `/proc` files...), once per path.
    pub refused: u64,
    /// Log files (or directories) we lack the permission to read, once per path.
    pub unreadable: u64,
}

/// The collector's exported metrics (see [`crate::metrics`]).
#[derive(Clone, Debug)]
pub struct CollectMetrics {
    /// [`CollectorStats::bad_lines`].
    pub parse_errors: prometheus::IntCounter,
    /// [`CollectorStats::truncated_lines`].
    pub truncated_lines: prometheus::IntCounter,
    /// [`CollectorStats::refused`], by reason.
    pub refused: prometheus::IntCounterVec,
    /// [`CollectorStats::unreadable`].
    pub unreadable: prometheus::IntCounter,
    /// The soft `RLIMIT_NOFILE` (set at scrape time, as the process metrics).
    pub fd_limit: prometheus::IntGauge,
    /// Fds the process has open (set at scrape time).
    pub fds_open: prometheus::IntGauge,
    /// 1 while the collector runs degraded: out of fds (files are opened per read
    /// and retried on their next event or rescan) or of inotify watches
    /// (directories polled).
    pub degraded: prometheus::IntGauge,
}

impl CollectMetrics {
    pub fn register(r: &prometheus::Registry) -> prometheus::Result<Self> {
        use crate::metrics::family::{counter, counter_vec, gauge};
        Ok(CollectMetrics {
            parse_errors: counter(
                r,
                "lookout_parse_errors_total",
                "Lines that did not parse as CRI or docker JSON.",
            )?,
            truncated_lines: counter(
                r,
                "lookout_truncated_lines_total",
                "Lines cut at --max-line-bytes (marked as truncated).",
            )?,
            refused: counter_vec(
                r,
                "lookout_collect_refused_total",
                "Paths under the log root not read because they are not regular files \
                 under it (symlink out of the root, FIFO, device, /proc file...), once \
                 per path.",
                &["reason"],
            )?,
            unreadable: counter(
                r,
                "lookout_collect_unreadable_total",
                "Log files or directories the daemon lacks the permission to read, once \
                 per path.",
            )?,
            fd_limit: gauge(
                r,
                "lookout_fd_limit",
                "The soft RLIMIT_NOFILE (raised to the hard limit at start).",
            )?,
            fds_open: gauge(r, "lookout_fds_open", "File descriptors open.")?,
            degraded: gauge(
                r,
                "lookout_collect_degraded",
                "1 while out of file descriptors or inotify watches: files are reopened \
                 per read and directories polled.",
            )?,
        })
    }

    /// Sets the fd gauges from `/proc` (called at scrape time).
    pub fn observe_fds(&self, fds: Option<crate::metrics::FdUse>) {
        if let Some(f) = fds {
            self.fd_limit.set(crate::metrics::family::as_gauge(f.limit));
            self.fds_open.set(crate::metrics::family::as_gauge(f.open));
        }
    }
}

/// The running collector. Dropping the receiver side of its channel, or this
/// handle, stops it.
pub struct CollectorHandle {
    followed: Arc<Mutex<Vec<FollowedFile>>>,
    stop: ShutdownTrigger,
    bad_lines: Arc<AtomicU64>,
    truncated_lines: Arc<AtomicU64>,
    refused: Arc<AtomicU64>,
    unreadable: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl CollectorHandle {
    /// Files followed right now.
    pub fn followed(&self) -> Vec<FollowedFile> {
        crate::sync::lock(&self.followed).clone()
    }

    /// Counters since start.
    pub fn stats(&self) -> CollectorStats {
        CollectorStats {
            bad_lines: self.bad_lines.load(Ordering::Relaxed),
            truncated_lines: self.truncated_lines.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            unreadable: self.unreadable.load(Ordering::Relaxed),
        }
    }

    /// Stops the collector thread and waits for it. Entries it had not sent yet
    /// are not sent; their positions were not either, so nothing is lost.
    pub fn stop(mut self) {
        self.stop_inner();
    }

    fn stop_inner(&mut self) {
        self.stop.fire();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for CollectorHandle {
    fn drop(&mut self) {
        self.stop_inner();
    }
}

/// Entry point of the collector.
pub struct Collector;

impl Collector {
    /// Starts collecting `cfg.log_dir` from `start` positions, sending on `tx`.
    pub fn spawn(
        cfg: CollectorConfig,
        start: Positions,
        tx: crossbeam_channel::Sender<Batch>,
    ) -> Result<CollectorHandle, CollectError> {
        Self::spawn_with_metrics(cfg, start, tx, None)
    }

    /// [`Collector::spawn`], also counting into the daemon's exported `metrics`.
    ///
    /// The environment variable `LOOKOUT_MAX_WATCHES` caps the inotify watches the
    /// collector takes (the per-user limit is shared by every root process on the
    /// node); directories beyond it are polled. `0` disables inotify entirely.
    pub fn spawn_with_metrics(
        cfg: CollectorConfig,
        start: Positions,
        tx: crossbeam_channel::Sender<Batch>,
        metrics: Option<CollectMetrics>,
    ) -> Result<CollectorHandle, CollectError> {
        let md = std::fs::metadata(&cfg.log_dir).map_err(|source| CollectError::Watch {
            path: cfg.log_dir.clone(),
            source,
        })?;
        if !md.is_dir() {
            return Err(CollectError::Watch {
                path: cfg.log_dir.clone(),
                source: std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
            });
        }
        let root = contain::LogRoot::new(&cfg.log_dir).map_err(|source| CollectError::Watch {
            path: cfg.log_dir.clone(),
            source,
        })?;
        let bad_lines = Arc::new(AtomicU64::new(0));
        let truncated_lines = Arc::new(AtomicU64::new(0));
        let refused = Arc::new(AtomicU64::new(0));
        let unreadable = Arc::new(AtomicU64::new(0));
        let refusals = contain::Refusals::new(metrics.clone(), refused.clone(), unreadable.clone());
        let fds = fds::Fds::new(fds::raise_nofile().unwrap_or(1024));
        let ctx = tailer::TailCtx {
            multiline: cfg.multiline.clone(),
            root: root.clone(),
            fds,
            node: cfg.node.clone(),
            max_line: cfg.max_line_bytes.max(1),
            bad_lines: bad_lines.clone(),
            truncated_lines: truncated_lines.clone(),
            metrics,
        };
        let stop = ShutdownTrigger::new();
        let followed = Arc::new(Mutex::new(Vec::new()));
        let runner = runner::Runner::new(runner::Start {
            cfg,
            ctx,
            root,
            refusals,
            positions: start,
            tx,
            stop: stop.listener(),
            followed: followed.clone(),
        });
        let thread = std::thread::Builder::new()
            .name("collector".into())
            .spawn(move || runner.run())?;
        Ok(CollectorHandle {
            followed,
            stop,
            bad_lines,
            truncated_lines,
            refused,
            unreadable,
            thread: Some(thread),
        })
    }
}
