//! Daemon health and Prometheus metrics: counters shared by every stage, and their
//! text exposition (format 0.0.4), written by hand to keep dependencies small.
//!
//! Stages bump the atomics of one shared [`Metrics`]; figures that already live
//! elsewhere (index stats, live fan-out, stream registry) are read at scrape time.
//! Nothing here carries log content: this is what the non-loopback metrics listener
//! serves.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::index::IndexStats;
use crate::live::LiveStats;
use crate::streams::Streams;

/// Counters and readiness flags; share as `Arc<Metrics>`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Lines the collector could not parse (kept as plain text); bumped by whoever sees them.
    pub parse_errors: AtomicU64,
    /// Rule evaluations done by the alerting engine.
    pub rule_evaluations: AtomicU64,
    /// Alert instances firing now (a gauge the alerting engine sets).
    pub alerts_firing: AtomicU64,
    /// Websocket clients connected now (set by the server).
    pub clients: AtomicU64,
    /// Connections accepted since start.
    pub connections: AtomicU64,
    /// Entries written to clients by live tails (after backfill/resume too).
    pub entries_sent: AtomicU64,
    /// Error replies sent to clients.
    pub client_errors: AtomicU64,
    /// Clients disconnected for being too slow or silent.
    pub slow_disconnects: AtomicU64,
    index_open: AtomicBool,
    collector_running: AtomicBool,
    /// Pipeline stages whose thread ended before shutdown.
    stopped: std::sync::Mutex<Vec<&'static str>>,
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// The app calls this once the index is open (and `false` if it fails later).
    pub fn set_index_open(&self, open: bool) {
        self.index_open.store(open, Ordering::Release);
    }

    /// The app calls this once the collector runs.
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

    /// `Ok` when ready to serve; otherwise what is still missing (for `/readyz`).
    pub fn readiness(&self) -> Result<(), String> {
        let mut missing: Vec<String> = Vec::new();
        if !self.index_open.load(Ordering::Acquire) {
            missing.push("index not open".into());
        }
        if !self.collector_running.load(Ordering::Acquire) {
            missing.push("collector not running".into());
        }
        for s in crate::sync::lock(&self.stopped).iter() {
            missing.push(format!("{s} stopped"));
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(missing.join(", "))
        }
    }

    /// The whole exposition.
    pub fn render(
        &self,
        live: &LiveStats,
        streams: &Streams,
        index: Option<&IndexStats>,
    ) -> String {
        let mut w = Exposition::default();
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);

        w.family(
            "lookout_build_info",
            "gauge",
            "Always 1; the version label says which build runs.",
        );
        w.sample(
            "lookout_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))],
            1.0,
        );

        let ns = streams.namespace_totals();
        w.family(
            "lookout_collected_lines_total",
            "counter",
            "Log lines ingested, by Kubernetes namespace.",
        );
        for (name, t) in &ns {
            w.sample(
                "lookout_collected_lines_total",
                &[("namespace", name)],
                t.lines as f64,
            );
        }
        w.family(
            "lookout_collected_bytes_total",
            "counter",
            "Message bytes ingested (without newlines), by Kubernetes namespace.",
        );
        for (name, t) in &ns {
            w.sample(
                "lookout_collected_bytes_total",
                &[("namespace", name)],
                t.bytes as f64,
            );
        }
        w.single(
            "lookout_files_watched",
            "gauge",
            "Log files the collector follows now.",
            streams.files_watched() as f64,
        );
        w.single(
            "lookout_parse_errors_total",
            "counter",
            "Lines that did not parse as CRI or docker JSON.",
            get(&self.parse_errors) as f64,
        );

        let idx = index.cloned().unwrap_or_default();
        w.single(
            "lookout_index_open",
            "gauge",
            "1 when the index is open and accepting writes.",
            f64::from(u8::from(index.is_some() && idx.error.is_none())),
        );
        w.single(
            "lookout_index_size_bytes",
            "gauge",
            "Bytes the index occupies on disk.",
            idx.bytes as f64,
        );
        w.single(
            "lookout_index_docs",
            "gauge",
            "Entries stored in the index.",
            idx.docs as f64,
        );
        w.single(
            "lookout_index_buckets",
            "gauge",
            "Time buckets (tantivy indexes) held.",
            idx.buckets as f64,
        );
        w.single(
            "lookout_index_last_commit_seconds",
            "gauge",
            "How long the last index commit took.",
            idx.last_commit_ms / 1000.0,
        );

        w.single(
            "lookout_clients",
            "gauge",
            "Websocket clients connected now.",
            get(&self.clients) as f64,
        );
        w.single(
            "lookout_connections_total",
            "counter",
            "Websocket connections accepted.",
            get(&self.connections) as f64,
        );
        w.single(
            "lookout_subscriptions",
            "gauge",
            "Live tail subscriptions open now.",
            live.subscriptions as f64,
        );
        w.single(
            "lookout_live_published_total",
            "counter",
            "Entries offered to live tails.",
            live.published as f64,
        );
        w.single(
            "lookout_live_sent_total",
            "counter",
            "Entries sent to tail subscribers.",
            get(&self.entries_sent) as f64,
        );
        w.single(
            "lookout_live_dropped_total",
            "counter",
            "Entries a subscriber missed because its queue was full (once per subscriber).",
            live.dropped as f64,
        );
        w.single(
            "lookout_client_errors_total",
            "counter",
            "Error replies sent to clients.",
            get(&self.client_errors) as f64,
        );
        w.single(
            "lookout_slow_disconnects_total",
            "counter",
            "Clients disconnected because they stopped reading or answering pings.",
            get(&self.slow_disconnects) as f64,
        );
        w.single(
            "lookout_rule_evaluations_total",
            "counter",
            "Alert rule evaluations.",
            get(&self.rule_evaluations) as f64,
        );
        w.single(
            "lookout_alerts_firing",
            "gauge",
            "Alert instances firing now.",
            get(&self.alerts_firing) as f64,
        );

        if let Some(p) = ProcessStats::read() {
            w.single(
                "process_cpu_seconds_total",
                "counter",
                "User and system CPU time spent.",
                p.cpu_seconds,
            );
            w.single(
                "process_resident_memory_bytes",
                "gauge",
                "Resident memory size.",
                p.rss_bytes as f64,
            );
        }
        w.out
    }
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

/// A text exposition being written.
#[derive(Default)]
struct Exposition {
    out: String,
}

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape_label(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {}", fmt_value(value));
    }

    fn single(&mut self, name: &str, kind: &str, help: &str, value: f64) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }
}

fn fmt_value(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else if v.is_nan() {
        "NaN".into()
    } else {
        format!("{v}")
    }
}

fn escape_help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

fn escape_label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped() {
        let mut w = Exposition::default();
        w.family("x_total", "counter", "a\\b");
        w.sample("x_total", &[("namespace", "we\"ird\n")], 3.0);
        assert_eq!(
            w.out,
            "# HELP x_total a\\\\b\n# TYPE x_total counter\nx_total{namespace=\"we\\\"ird\\n\"} 3\n"
        );
    }

    #[test]
    fn readiness_names_what_is_missing() {
        let m = Metrics::new();
        assert_eq!(
            m.readiness(),
            Err("index not open, collector not running".into())
        );
        m.set_index_open(true);
        m.set_collector_running(true);
        assert_eq!(m.readiness(), Ok(()));
    }

    #[test]
    fn process_stats_are_read() {
        let p = ProcessStats::read().unwrap();
        assert!(p.rss_bytes > 0);
    }
}
