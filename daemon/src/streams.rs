//! The stream registry: every container log stream seen on the node, with its
//! traffic and whether its file is still followed.
//!
//! [`Streams`] is an [`EntrySink`] (it counts lines and bytes per stream as they are
//! ingested) and is told the collector's followed files once a second by
//! [`Streams::poll`], on a pipeline thread. Clients watching the list get it whole on every change
//! through a [`tokio::sync::watch`] channel, at most once per poll.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use lookout_shared::protocol::StreamInfo;
use lookout_shared::{LogEntry, StreamId, Timestamp};
use tokio::sync::watch;

use crate::collect::FollowedFile;
use crate::ingest::EntrySink;
use crate::shutdown::Shutdown;

/// Identity of a stream: one container incarnation's log file, a [`StreamId`]
/// whose `container_id` is always empty. The id is learnt after the file (from the
/// `containers/` symlink), so lines read before and after it belong to one stream;
/// [`Counts`] keeps the id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Key(StreamId);

impl Key {
    fn of(id: &StreamId) -> Key {
        Key(StreamId {
            namespace: id.namespace.clone(),
            pod: id.pod.clone(),
            pod_uid: id.pod_uid.clone(),
            container: id.container.clone(),
            container_id: String::new(),
            restart: id.restart,
        })
    }
}

#[derive(Debug, Default)]
struct Counts {
    container_id: String,
    lines: u64,
    bytes: u64,
    last_seen: Option<Timestamp>,
    live: bool,
    /// Lines at the previous tick, for the rate.
    lines_at_tick: u64,
    rate: f64,
}

/// The registry's exported metrics (see [`crate::metrics`]).
#[derive(Clone, Debug)]
pub struct StreamMetrics {
    /// Lines ingested per namespace.
    pub lines: prometheus::IntCounterVec,
    /// Message bytes (without newline) ingested per namespace.
    pub bytes: prometheus::IntCounterVec,
    pub files_watched: prometheus::IntGauge,
}

impl StreamMetrics {
    pub fn register(r: &prometheus::Registry) -> prometheus::Result<Self> {
        use crate::metrics::family::{counter_vec, gauge};
        Ok(StreamMetrics {
            lines: counter_vec(
                r,
                "lookout_collected_lines_total",
                "Log lines ingested, by Kubernetes namespace.",
                &["namespace"],
            )?,
            bytes: counter_vec(
                r,
                "lookout_collected_bytes_total",
                "Message bytes ingested (without newlines), by Kubernetes namespace.",
                &["namespace"],
            )?,
            files_watched: gauge(
                r,
                "lookout_files_watched",
                "Log files the collector follows now.",
            )?,
        })
    }

    /// Counts a run of entries of one namespace.
    fn count(&self, namespace: &str, lines: u64, bytes: u64) {
        self.lines.with_label_values(&[namespace]).inc_by(lines);
        self.bytes.with_label_values(&[namespace]).inc_by(bytes);
    }
}

/// Per-namespace totals (of the streams still listed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamespaceTotals {
    pub lines: u64,
    pub bytes: u64,
}

/// Stops keeping non-live streams beyond this many (oldest last-seen go first).
const MAX_DEAD_STREAMS: usize = 10_000;

/// The registry; share as `Arc<Streams>`.
pub struct Streams {
    map: Mutex<HashMap<Key, Counts>>,
    changed: AtomicBool,
    files_watched: AtomicU64,
    tx: watch::Sender<Arc<Vec<StreamInfo>>>,
    last_tick: Mutex<Option<Instant>>,
    metrics: Option<StreamMetrics>,
}

impl Default for Streams {
    fn default() -> Self {
        Self::new()
    }
}

impl Streams {
    pub fn new() -> Streams {
        Self::build(None)
    }

    /// [`Streams::new`], also updating the daemon's exported `metrics`. The
    /// per-namespace counters count at ingest and never go down, even when a dead
    /// stream leaves the list.
    pub fn with_metrics(metrics: StreamMetrics) -> Streams {
        Self::build(Some(metrics))
    }

    fn build(metrics: Option<StreamMetrics>) -> Streams {
        Streams {
            metrics,
            map: Mutex::new(HashMap::new()),
            changed: AtomicBool::new(false),
            files_watched: AtomicU64::new(0),
            tx: watch::channel(Arc::new(Vec::new())).0,
            last_tick: Mutex::new(None),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Counts>> {
        crate::sync::lock(&self.map)
    }

    /// The list as of the last [`Streams::tick`], sorted by namespace, pod, container.
    pub fn list(&self) -> Arc<Vec<StreamInfo>> {
        self.tx.borrow().clone()
    }

    /// Receives the whole list on every change.
    pub fn watch(&self) -> watch::Receiver<Arc<Vec<StreamInfo>>> {
        self.tx.subscribe()
    }

    /// Files the collector followed at the last poll.
    pub fn files_watched(&self) -> u64 {
        self.files_watched.load(Ordering::Relaxed)
    }

    /// Lines and bytes (message bytes, without newline) ingested per namespace.
    pub fn namespace_totals(&self) -> BTreeMap<String, NamespaceTotals> {
        let mut out: BTreeMap<String, NamespaceTotals> = BTreeMap::new();
        for (k, c) in self.lock().iter() {
            let t = out.entry(k.0.namespace.clone()).or_default();
            t.lines += c.lines;
            t.bytes += c.bytes;
        }
        out
    }

    /// Marks exactly the streams of `files` as live (adding those not seen yet).
    pub fn set_followed(&self, files: &[FollowedFile]) {
        let mut map = self.lock();
        let mut changed = false;
        for c in map.values_mut() {
            if c.live {
                c.live = false;
                changed = true;
            }
        }
        for f in files {
            let c = map.entry(Key::of(&f.source)).or_default();
            let id = &f.source.container_id;
            if !id.is_empty() && c.container_id != *id {
                c.container_id = id.clone();
                changed = true;
            }
            // Flipping back to live is not a change.
            c.live = true;
        }
        // A stream that changed from live to dead is a change; recompute precisely.
        if changed || files.len() as u64 != self.files_watched() {
            self.changed.store(true, Ordering::Release);
        }
        self.files_watched
            .store(files.len() as u64, Ordering::Relaxed);
        if let Some(m) = &self.metrics {
            m.files_watched
                .set(crate::metrics::family::as_gauge(files.len()));
        }
        let dead = map.values().filter(|c| !c.live).count();
        if dead > MAX_DEAD_STREAMS {
            let mut dead_keys: Vec<(Option<Timestamp>, Key)> = map
                .iter()
                .filter(|(_, c)| !c.live)
                .map(|(k, c)| (c.last_seen, k.clone()))
                .collect();
            dead_keys.sort();
            for (_, k) in dead_keys.into_iter().take(dead - MAX_DEAD_STREAMS) {
                map.remove(&k);
            }
        }
    }

    /// Recomputes rates and, if anything changed since the last tick, publishes the
    /// list to watchers. Call about once a second.
    pub fn tick(&self) {
        let now = Instant::now();
        let elapsed = {
            let mut last = crate::sync::lock(&self.last_tick);
            let e = last.map(|l| now.duration_since(l).as_secs_f64());
            *last = Some(now);
            e
        };
        let mut list: Vec<StreamInfo>;
        let mut rates_changed = false;
        {
            let mut map = self.lock();
            list = Vec::with_capacity(map.len());
            for (k, c) in map.iter_mut() {
                let rate = match elapsed {
                    Some(secs) if secs > 0.0 => (c.lines - c.lines_at_tick) as f64 / secs,
                    _ => 0.0,
                };
                if (rate - c.rate).abs() > f64::EPSILON {
                    rates_changed = true;
                }
                c.rate = rate;
                c.lines_at_tick = c.lines;
                list.push(StreamInfo {
                    source: StreamId {
                        container_id: c.container_id.clone(),
                        ..k.0.clone()
                    },
                    workload: k.0.workload().to_string(),
                    lines: c.lines,
                    bytes: c.bytes,
                    last_seen: c.last_seen,
                    live: c.live,
                    lines_per_sec: (rate * 10.0).round() / 10.0,
                    ..Default::default()
                });
            }
        }
        let changed = self.changed.swap(false, Ordering::AcqRel) || rates_changed;
        if !changed {
            return;
        }
        list.sort_by(|a, b| {
            let (a, b) = (&a.source, &b.source);
            (&a.namespace, &a.pod, &a.container, a.restart, &a.pod_uid).cmp(&(
                &b.namespace,
                &b.pod,
                &b.container,
                b.restart,
                &b.pod_uid,
            ))
        });
        let list = Arc::new(list);
        self.tx.send_if_modified(|cur| {
            if **cur == *list {
                false
            } else {
                *cur = Arc::clone(&list);
                true
            }
        });
    }

    /// Polls `followed` (e.g. `move || handle.followed()`) and ticks every
    /// `interval`, on the calling thread (the pipeline gives it one), until shutdown.
    pub fn poll<F>(&self, interval: Duration, mut followed: F, shutdown: &Shutdown)
    where
        F: FnMut() -> Vec<FollowedFile>,
    {
        loop {
            self.set_followed(&followed());
            self.tick();
            if shutdown.wait_timeout(interval) {
                return;
            }
        }
    }
}

impl EntrySink for Streams {
    fn publish(&self, entries: &[Arc<LogEntry>]) {
        if entries.is_empty() {
            return;
        }
        let mut map = self.lock();
        for e in entries {
            // Batches are mostly runs of one stream; the hash lookup is cheap anyway.
            let c = map.entry(Key::of(&e.source)).or_default();
            c.lines += 1;
            c.bytes += e.message.len() as u64;
            c.last_seen = Some(c.last_seen.map_or(e.ts, |t| t.max(e.ts)));
            if c.container_id.is_empty() && !e.source.container_id.is_empty() {
                c.container_id = e.source.container_id.clone();
            }
        }
        drop(map);
        self.changed.store(true, Ordering::Release);
        if let Some(m) = &self.metrics {
            // Batches are runs of a few streams: one label lookup per run.
            let mut run: Option<(&str, u64, u64)> = None;
            for e in entries {
                match &mut run {
                    Some((ns, lines, bytes)) if *ns == e.source.namespace => {
                        *lines += 1;
                        *bytes += e.message.len() as u64;
                    }
                    _ => {
                        if let Some((ns, lines, bytes)) = run {
                            m.count(ns, lines, bytes);
                        }
                        run = Some((&e.source.namespace, 1, e.message.len() as u64));
                    }
                }
            }
            if let Some((ns, lines, bytes)) = run {
                m.count(ns, lines, bytes);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(pod: &str, msg: &str, ts: i64) -> Arc<LogEntry> {
        Arc::new(LogEntry {
            ts: Timestamp(ts),
            source: StreamId {
                namespace: "ns".into(),
                pod: pod.into(),
                pod_uid: format!("uid-{pod}"),
                container: "app".into(),
                ..Default::default()
            },
            message: msg.into(),
            ..Default::default()
        })
    }

    #[test]
    fn counts_and_liveness() {
        let s = Streams::new();
        let mut rx = s.watch();
        s.publish(&[
            entry("a", "hello", 5),
            entry("a", "hi", 3),
            entry("b", "x", 9),
        ]);
        s.set_followed(&[FollowedFile {
            path: "/x".into(),
            source: StreamId {
                namespace: "ns".into(),
                pod: "a".into(),
                pod_uid: "uid-a".into(),
                container: "app".into(),
                container_id: "cid".into(),
                restart: 0,
            },
        }]);
        s.tick();
        assert!(rx.has_changed().unwrap());
        let list = rx.borrow_and_update().clone();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].source.pod, "a");
        assert_eq!((list[0].lines, list[0].bytes), (2, 7));
        assert_eq!(list[0].last_seen, Some(Timestamp(5)));
        assert!(list[0].live);
        assert_eq!(list[0].source.container_id, "cid");
        assert!(!list[1].live);
        assert_eq!(s.namespace_totals()["ns"].lines, 3);
        assert_eq!(s.files_watched(), 1);
    }
}
