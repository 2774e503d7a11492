//! Daemon health and Prometheus metrics, on the `prometheus` crate.
//!
//! One [`Registry`] per daemon (not the crate's global one: tests run several
//! daemons in one process). Each stage declares its own metrics next to the code
//! that counts them, as a struct with a `register` function (`CollectMetrics` in
//! [`crate::collect`], `IndexMetrics` in [`crate::index`], `LiveMetrics` in
//! [`crate::live`], `StreamMetrics` in [`crate::streams`], `AlertMetrics` in
//! [`crate::alert`], `ServeMetrics` in [`crate::serve`]), and updates them where the
//! event happens: there is no copy loop, so no computed figure can be left out of
//! the exposition. [`Metrics::new`] registers every stage's set, so every family is
//! there from the first scrape (zero until its stage runs), as dashboards expect.
//!
//! Readiness is here too: the index open and indexing (not stopped by a full,
//! read-only or fd-starved data dir), no damaged bucket left quarantined, the
//! collector running, no pipeline stage stopped ([`Metrics::stage_stopped`]), and
//! enough file descriptors ([`fd_problem`]). Nothing here carries log content: this
//! is what the non-loopback metrics listener serves.

pub mod family;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use prometheus::{Counter, Encoder as _, IntGauge, Opts, Registry};

use family::{gauge, register};

use crate::alert::AlertMetrics;
use crate::collect::CollectMetrics;
use crate::index::IndexMetrics;
use crate::live::LiveMetrics;
use crate::serve::metrics::ServeMetrics;
use crate::streams::StreamMetrics;

/// The registry, every stage's metrics, and readiness; share as `Arc<Metrics>`.
pub struct Metrics {
    registry: Registry,
    pub collect: CollectMetrics,
    pub index: IndexMetrics,
    pub live: LiveMetrics,
    pub streams: StreamMetrics,
    pub alert: AlertMetrics,
    pub serve: ServeMetrics,
    process_cpu: Counter,
    process_rss: IntGauge,
    index_open: AtomicBool,
    collector_running: AtomicBool,
    /// Pipeline stages whose thread ended before shutdown.
    stopped: Mutex<Vec<&'static str>>,
}

impl Metrics {
    /// A registry with every stage's metrics registered (an error only if a
    /// metric name is invalid or taken twice: a bug the unit tests catch).
    pub fn new() -> prometheus::Result<Metrics> {
        let registry = Registry::new();
        let build = IntGauge::with_opts(
            Opts::new(
                "lookout_build_info",
                "Always 1; the version label says which build runs.",
            )
            .const_label("version", env!("CARGO_PKG_VERSION")),
        )?;
        build.set(1);
        registry.register(Box::new(build))?;
        Ok(Metrics {
            collect: CollectMetrics::register(&registry)?,
            index: IndexMetrics::register(&registry)?,
            live: LiveMetrics::register(&registry)?,
            streams: StreamMetrics::register(&registry)?,
            alert: AlertMetrics::register(&registry)?,
            serve: ServeMetrics::register(&registry)?,
            process_cpu: register(
                &registry,
                Counter::new(
                    "process_cpu_seconds_total",
                    "User and system CPU time spent.",
                )?,
            )?,
            process_rss: gauge(
                &registry,
                "process_resident_memory_bytes",
                "Resident memory size.",
            )?,
            registry,
            index_open: AtomicBool::new(false),
            collector_running: AtomicBool::new(false),
            stopped: Mutex::new(Vec::new()),
        })
    }

    /// The app calls this once the index is open (and `false` if it fails later).
    pub fn set_index_open(&self, open: bool) {
        self.index_open.store(open, Ordering::Release);
    }

    /// The pipeline calls this once the collector runs (and `false` if it stops).
    pub fn set_collector_running(&self, running: bool) {
        self.collector_running.store(running, Ordering::Release);
    }

    /// The pipeline calls this when a stage's thread ends before shutdown: the
    /// daemon is no longer ready.
    pub fn stage_stopped(&self, stage: &'static str) {
        let mut s = crate::sync::lock(&self.stopped);
        if !s.contains(&stage) {
            s.push(stage);
        }
    }

    /// `Ok` when ready to serve; otherwise what is missing (for `/readyz`).
    pub fn readiness(&self) -> Result<(), String> {
        let mut missing: Vec<String> = Vec::new();
        if !self.index_open.load(Ordering::Acquire) {
            missing.push("index not open".into());
        }
        if !self.collector_running.load(Ordering::Acquire) {
            missing.push("collector not running".into());
        }
        missing.extend(self.index.problems());
        for s in crate::sync::lock(&self.stopped).iter() {
            missing.push(format!("{s} stopped"));
        }
        let files = u64::try_from(self.streams.files_watched.get()).unwrap_or(0);
        missing.extend(fd_problem(FdUse::read(), files));
        if missing.is_empty() {
            Ok(())
        } else {
            Err(missing.join(", "))
        }
    }

    /// The whole exposition, Prometheus text format 0.0.4.
    pub fn render(&self) -> String {
        if let Some(p) = ProcessStats::read() {
            // CPU time only grows; the counter follows it (read at scrape time, as
            // every process exporter does).
            let d = p.cpu_seconds - self.process_cpu.get();
            if d > 0.0 {
                self.process_cpu.inc_by(d);
            }
            self.process_rss
                .set(i64::try_from(p.rss_bytes).unwrap_or(i64::MAX));
        }
        self.collect.observe_fds(FdUse::read());
        let mut out = Vec::new();
        if let Err(e) = prometheus::TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::warn!(error = %e, "cannot encode the metrics");
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// File descriptors kept for the index, sockets and the rest beyond one per followed
/// file: a bucket's open segments take about 10 each, a client 1.
pub const FD_RESERVE: u64 = 256;

/// The fd limit (soft `RLIMIT_NOFILE`) and how many are open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdUse {
    pub limit: u64,
    pub open: u64,
}

impl FdUse {
    /// `None` off Linux or if the limit cannot be read.
    pub fn read() -> Option<FdUse> {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes the struct it is given.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } != 0 {
            return None;
        }
        let open = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
        Some(FdUse {
            limit: r.rlim_cur,
            open,
        })
    }
}

/// Why the fd limit stops the daemon, if it does: too low for the followed files
/// plus [`FD_RESERVE`], or nearly all in use (the index then fails with EMFILE).
pub fn fd_problem(fds: Option<FdUse>, files: u64) -> Option<String> {
    let f = fds?;
    let needed = files + FD_RESERVE;
    if f.limit < needed {
        return Some(format!(
            "fd limit too low: RLIMIT_NOFILE is {}, {files} followed files and the index \
             need about {needed} (raise it, e.g. ulimit -n)",
            f.limit
        ));
    }
    if f.open + FD_RESERVE / 4 >= f.limit {
        return Some(format!(
            "file descriptors nearly exhausted: {} of RLIMIT_NOFILE {} open",
            f.open, f.limit
        ));
    }
    None
}

/// CPU and memory of this process, from `/proc/self`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessStats {
    pub cpu_seconds: f64,
    pub rss_bytes: u64,
}

impl ProcessStats {
    /// `None` off Linux or if `/proc` is unreadable.
    pub fn read() -> Option<ProcessStats> {
        Self::read_pid("self")
    }

    /// Same for another process (the benchmark watches the daemon).
    pub fn read_pid(pid: &str) -> Option<ProcessStats> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the parenthesised command name, which may contain spaces.
        let rest = stat.get(stat.rfind(')')? + 2..)?;
        let f: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15 (1-based) overall: 12 and 13 here (0-based, after pid and comm).
        let utime: f64 = f.get(11)?.parse().ok()?;
        let stime: f64 = f.get(12)?.parse().ok()?;
        let rss_pages: u64 = f.get(21)?.parse().ok()?;
        // SAFETY: sysconf has no preconditions.
        let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if tick <= 0 || page <= 0 {
            return None;
        }
        Some(ProcessStats {
            cpu_seconds: (utime + stime) / tick as f64,
            rss_bytes: rss_pages * page as u64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stage_registers_and_labels_are_escaped() {
        let m = Metrics::new().unwrap();
        m.streams.lines.with_label_values(&["we\"ird\n"]).inc_by(3);
        let text = m.render();
        assert!(
            text.contains("lookout_collected_lines_total{namespace=\"we\\\"ird\\n\"} 3"),
            "{text}"
        );
        for name in [
            "lookout_build_info{version=",
            "lookout_parse_errors_total 0",
            "lookout_truncated_lines_total 0",
            "lookout_collect_unreadable_total 0",
            "lookout_collect_degraded 0",
            "lookout_fd_limit ",
            "lookout_fds_open ",
            "lookout_index_docs 0",
            "lookout_index_quarantined_total 0",
            "lookout_index_quarantined_buckets 0",
            "lookout_subscriptions 0",
            "lookout_files_watched 0",
            "lookout_rule_evaluations_total 0",
            "lookout_alert_dropped_entries_total 0",
            "lookout_alert_notification_failures_total 0",
            "lookout_clients 0",
            "process_resident_memory_bytes",
        ] {
            assert!(text.contains(name), "missing {name} in\n{text}");
        }
    }

    #[test]
    fn readiness_names_what_is_missing() {
        let m = Metrics::new().unwrap();
        assert_eq!(
            m.readiness(),
            Err("index not open, collector not running".into())
        );
        m.set_index_open(true);
        m.set_collector_running(true);
        assert_eq!(m.readiness(), Ok(()));
        m.stage_stopped("ingest");
        assert_eq!(m.readiness(), Err("ingest stopped".into()));
    }

    #[test]
    fn a_low_or_exhausted_fd_limit_is_a_reason() {
        let fds = |limit, open| Some(FdUse { limit, open });
        assert_eq!(fd_problem(fds(20_000, 50), 1000), None);
        let low = fd_problem(fds(512, 50), 1500).unwrap();
        assert!(
            low.contains("RLIMIT_NOFILE is 512") && low.contains("1756"),
            "{low}"
        );
        let full = fd_problem(fds(1024, 1000), 10).unwrap();
        assert!(full.contains("1000 of RLIMIT_NOFILE 1024"), "{full}");
        assert_eq!(fd_problem(None, 10), None);
    }

    #[test]
    fn process_stats_are_read() {
        let p = ProcessStats::read().unwrap();
        assert!(p.rss_bytes > 0);
    }
}
