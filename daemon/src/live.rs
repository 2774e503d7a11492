//! Live-tail fan-out: from the ingest thread to every tail subscription.
//!
//! [`Live`] is an [`EntrySink`]. For each published batch it appends to a replay ring
//! (the most recent entries, so a reconnecting client can resume from entries the
//! index has not committed yet) and offers every entry to every subscription whose
//! [`Query`] matches. Each subscription has a bounded queue: when it is full the entry
//! is not queued but counted, and a [`DropNotice`] takes its place in the queue before
//! the next entry that fits. Publishing never blocks on a client; the only lock it
//! takes is held by other parties for microseconds (registering a subscription,
//! draining a queue).
//!
//! Order: ingest assigns `seq` in publish order, so every subscription sees strictly
//! increasing `seq`. That is what makes resume exact: "everything matching with a
//! `seq` above the last one I saw".

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use lookout_shared::query::Query;
use lookout_shared::{LogEntry, Timestamp};
use tokio::sync::Notify;

use crate::ingest::EntrySink;
use crate::matcher::Matches;

/// Sizes of the fan-out.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    /// Most entries kept for resume/backfill. Without index tracking (see
    /// [`Live::track_index`]) it must exceed what is ingested during one commit
    /// interval for resume to be gap-free.
    pub ring_capacity: usize,
    /// With index tracking, entries the index can already serve are dropped from the
    /// ring down to this many: the ring then holds about one commit interval plus
    /// this, instead of `ring_capacity` entries (ten seconds at 10k lines/s, most of
    /// the daemon's memory under load).
    pub ring_min: usize,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            ring_capacity: 100_000,
            ring_min: 10_000,
        }
    }
}

/// What a subscription missed because its queue was full: `count` entries whose
/// timestamps span `from..=until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DropNotice {
    pub count: u64,
    pub from: Timestamp,
    pub until: Timestamp,
}

impl DropNotice {
    fn one(ts: Timestamp) -> DropNotice {
        DropNotice {
            count: 1,
            from: ts,
            until: ts,
        }
    }

    fn add(&mut self, ts: Timestamp) {
        self.count += 1;
        self.from = self.from.min(ts);
        self.until = self.until.max(ts);
    }
}

/// One thing a subscription delivers, in order.
#[derive(Debug, Clone)]
pub enum Item {
    Entry(Arc<LogEntry>),
    Dropped(DropNotice),
}

#[derive(Default)]
struct SubQueue {
    items: VecDeque<Item>,
    /// Entries (not notices) in `items`.
    entries: usize,
    /// Drops since the last entry that fitted; newer than everything in `items`.
    pending: Option<DropNotice>,
}

/// A registered tail: its filter, its bounded queue and the waker of whoever drains it.
pub struct Subscription {
    query: Query,
    capacity: usize,
    queue: Mutex<SubQueue>,
    wake: Arc<Notify>,
    closed: AtomicBool,
    dropped_total: AtomicU64,
}

impl Subscription {
    /// Whether it has been unsubscribed (the drainer then discards what is left).
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// The filter.
    pub fn query(&self) -> &Query {
        &self.query
    }

    /// Entries this subscription has missed so far.
    pub fn dropped_total(&self) -> u64 {
        self.dropped_total.load(Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, SubQueue> {
        crate::sync::lock(&self.queue)
    }

    /// Offers matching entries; returns how many were dropped.
    fn offer(&self, matching: &[Arc<LogEntry>]) -> u64 {
        let mut dropped = 0;
        {
            let mut q = self.lock();
            for e in matching {
                if q.entries >= self.capacity {
                    match &mut q.pending {
                        Some(p) => p.add(e.ts),
                        None => q.pending = Some(DropNotice::one(e.ts)),
                    }
                    dropped += 1;
                } else {
                    if let Some(p) = q.pending.take() {
                        q.items.push_back(Item::Dropped(p));
                    }
                    q.items.push_back(Item::Entry(Arc::clone(e)));
                    q.entries += 1;
                }
            }
        }
        if dropped > 0 {
            self.dropped_total.fetch_add(dropped, Ordering::Relaxed);
        }
        self.wake.notify_one();
        dropped
    }

    /// Takes up to `max` entries (plus any notices among them) in order. When the
    /// queue runs empty a pending drop notice is appended, so a client that catches
    /// up learns what it missed even if nothing new arrives.
    pub fn drain(&self, max: usize) -> Vec<Item> {
        let mut q = self.lock();
        let mut out = Vec::new();
        let mut n = 0;
        while n < max {
            match q.items.pop_front() {
                Some(item @ Item::Entry(_)) => {
                    q.entries -= 1;
                    n += 1;
                    out.push(item);
                }
                Some(item) => out.push(item),
                None => break,
            }
        }
        if q.items.is_empty() {
            if let Some(p) = q.pending.take() {
                out.push(Item::Dropped(p));
            }
        }
        out
    }

    /// Whether anything is waiting to be drained.
    pub fn has_pending(&self) -> bool {
        let q = self.lock();
        !q.items.is_empty() || q.pending.is_some()
    }
}

/// The ring's content at the moment a subscription was registered: together with
/// the subscription's queue (which holds everything published after it) and the
/// index (everything older), it covers a tail with no gap and no duplicate.
pub struct RingSnapshot {
    batches: Vec<Arc<[Arc<LogEntry>]>>,
}

impl RingSnapshot {
    /// The oldest `seq` the ring holds; `None` when nothing was published yet.
    /// Entries below it must come from the index.
    pub fn first_seq(&self) -> Option<u64> {
        self.batches.iter().find_map(|b| b.first()).map(|e| e.seq)
    }

    /// Matching entries with `seq > after`, in seq order.
    pub fn after(&self, query: &Query, after: u64) -> Vec<Arc<LogEntry>> {
        let mut out = Vec::new();
        // Batches are in seq order: skip whole batches that end at or before `after`.
        let start = self
            .batches
            .partition_point(|b| b.last().is_none_or(|e| e.seq <= after));
        for b in &self.batches[start..] {
            out.extend(
                b.iter()
                    .filter(|e| e.seq > after && query.matches(e))
                    .cloned(),
            );
        }
        out
    }

    /// The newest `n` matching entries, in seq order.
    pub fn newest(&self, query: &Query, n: usize) -> Vec<Arc<LogEntry>> {
        let mut out = Vec::new();
        if n == 0 {
            return out;
        }
        'outer: for b in self.batches.iter().rev() {
            for e in b.iter().rev() {
                if query.matches(e) {
                    out.push(Arc::clone(e));
                    if out.len() >= n {
                        break 'outer;
                    }
                }
            }
        }
        out.reverse();
        out
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.batches.iter().map(|b| b.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

struct State {
    ring: VecDeque<Arc<[Arc<LogEntry>]>>,
    ring_len: usize,
    subs: Vec<Arc<Subscription>>,
}

/// Figures for metrics and status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveStats {
    /// Entries published since start.
    pub published: u64,
    /// Entries not delivered to some subscription because its queue was full
    /// (counted once per subscription that missed it).
    pub dropped: u64,
    /// Subscriptions registered now.
    pub subscriptions: u64,
    /// Entries in the replay ring.
    pub ring_len: u64,
}

/// The fan-out's exported metrics (see [`crate::metrics`]).
#[derive(Clone, Debug)]
pub struct LiveMetrics {
    pub subscriptions: prometheus::IntGauge,
    pub published: prometheus::IntCounter,
    pub dropped: prometheus::IntCounter,
}

impl LiveMetrics {
    pub fn register(r: &prometheus::Registry) -> prometheus::Result<Self> {
        use crate::metrics::family::{counter, gauge};
        Ok(LiveMetrics {
            subscriptions: gauge(
                r,
                "lookout_subscriptions",
                "Live tail subscriptions open now.",
            )?,
            published: counter(
                r,
                "lookout_live_published_total",
                "Entries offered to live tails.",
            )?,
            dropped: counter(
                r,
                "lookout_live_dropped_total",
                "Entries a subscriber missed because its queue was full (once per subscriber).",
            )?,
        })
    }
}

/// The live-tail fan-out; share it as `Arc<Live>` between ingest and the server.
pub struct Live {
    cfg: LiveConfig,
    metrics: Option<LiveMetrics>,
    /// The index's first `seq` not yet searchable; entries below it may leave the ring.
    searchable: std::sync::OnceLock<Arc<AtomicU64>>,
    state: Mutex<State>,
    published: AtomicU64,
    dropped: AtomicU64,
}

impl Live {
    pub fn new(cfg: LiveConfig) -> Live {
        Self::build(cfg, None)
    }

    /// [`Live::new`], also updating the daemon's exported `metrics`.
    pub fn with_metrics(cfg: LiveConfig, metrics: LiveMetrics) -> Live {
        Self::build(cfg, Some(metrics))
    }

    fn build(cfg: LiveConfig, metrics: Option<LiveMetrics>) -> Live {
        Live {
            cfg,
            metrics,
            searchable: std::sync::OnceLock::new(),
            state: Mutex::new(State {
                ring: VecDeque::new(),
                ring_len: 0,
                subs: Vec::new(),
            }),
            published: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        }
    }

    /// Lets the ring shrink to [`LiveConfig::ring_min`] entries once the index can
    /// serve older ones: `searchable` is the index's first `seq` not yet searchable
    /// ([`crate::index::Index::searchable_seq`]). Resume stays gap-free because only
    /// whole batches below it are dropped, so the ring always starts at or below
    /// what the index has. Set once; later calls are ignored.
    pub fn track_index(&self, searchable: Arc<AtomicU64>) {
        let _ = self.searchable.set(searchable);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        crate::sync::lock(&self.state)
    }

    /// Registers a tail. From this call on every published entry matching `query`
    /// goes to its queue (at most `capacity` entries waiting; the rest are counted as
    /// dropped). `wake` is notified whenever the queue changes. The returned
    /// snapshot holds exactly the ring's entries published before registration.
    pub fn subscribe(
        &self,
        query: Query,
        capacity: usize,
        wake: Arc<Notify>,
    ) -> (Arc<Subscription>, RingSnapshot) {
        let sub = Arc::new(Subscription {
            query,
            capacity: capacity.max(1),
            queue: Mutex::new(SubQueue::default()),
            wake,
            closed: AtomicBool::new(false),
            dropped_total: AtomicU64::new(0),
        });
        let mut st = self.lock();
        let snapshot = RingSnapshot {
            batches: st.ring.iter().cloned().collect(),
        };
        st.subs.push(Arc::clone(&sub));
        self.show_subscriptions(st.subs.len());
        (sub, snapshot)
    }

    /// Removes a tail; its drainer sees [`Subscription::is_closed`].
    pub fn unsubscribe(&self, sub: &Arc<Subscription>) {
        sub.closed.store(true, Ordering::Release);
        let mut st = self.lock();
        st.subs.retain(|s| !Arc::ptr_eq(s, sub));
        self.show_subscriptions(st.subs.len());
        drop(st);
        sub.wake.notify_one();
    }

    /// A copy of the ring as it is now (for search-free backfill in tests and tools).
    pub fn snapshot(&self) -> RingSnapshot {
        RingSnapshot {
            batches: self.lock().ring.iter().cloned().collect(),
        }
    }

    fn show_subscriptions(&self, n: usize) {
        if let Some(m) = &self.metrics {
            m.subscriptions.set(crate::metrics::family::as_gauge(n));
        }
    }

    pub fn stats(&self) -> LiveStats {
        let st = self.lock();
        LiveStats {
            published: self.published.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            subscriptions: st.subs.len() as u64,
            ring_len: st.ring_len as u64,
        }
    }
}

impl EntrySink for Live {
    fn publish(&self, entries: &[Arc<LogEntry>]) {
        if entries.is_empty() {
            return;
        }
        let batch: Arc<[Arc<LogEntry>]> = entries.into();
        let mut matching = Vec::with_capacity(entries.len());
        let mut dropped = 0;
        let mut st = self.lock();
        st.ring_len += batch.len();
        st.ring.push_back(Arc::clone(&batch));
        let searchable = self.searchable.get().map(|a| a.load(Ordering::Acquire));
        let in_index = |f: &Arc<[Arc<LogEntry>]>| {
            searchable.is_some_and(|sq| f.last().is_some_and(|e| e.seq < sq))
        };
        while st.ring.front().is_some_and(|f| {
            let rest = st.ring_len - f.len();
            rest >= self.cfg.ring_capacity || (rest >= self.cfg.ring_min && in_index(f))
        }) {
            if let Some(f) = st.ring.pop_front() {
                st.ring_len -= f.len();
            }
        }
        for sub in &st.subs {
            matching.clear();
            matching.extend(batch.iter().filter(|e| sub.query.matches(e)).cloned());
            if !matching.is_empty() {
                dropped += sub.offer(&matching);
            }
        }
        drop(st);
        self.published
            .fetch_add(entries.len() as u64, Ordering::Relaxed);
        if dropped > 0 {
            self.dropped.fetch_add(dropped, Ordering::Relaxed);
        }
        if let Some(m) = &self.metrics {
            m.published.inc_by(entries.len() as u64);
            m.dropped.inc_by(dropped);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64, msg: &str) -> Arc<LogEntry> {
        Arc::new(LogEntry {
            ts: Timestamp(1_000 + seq as i64),
            seq,
            message: msg.into(),
            ..Default::default()
        })
    }

    fn q(s: &str) -> Query {
        Query::parse(s).unwrap()
    }

    #[test]
    fn overflow_becomes_a_notice_in_place() {
        let live = Live::new(LiveConfig::default());
        let (sub, _) = live.subscribe(q("*"), 2, Arc::new(Notify::new()));
        let batch: Vec<_> = (1..=5).map(|i| entry(i, "x")).collect();
        live.publish(&batch);
        // 1, 2 queued; 3..=5 dropped.
        let items = sub.drain(1);
        assert!(matches!(&items[..], [Item::Entry(e)] if e.seq == 1));
        live.publish(&[entry(6, "x")]);
        let items = sub.drain(100);
        let kinds: Vec<String> = items
            .iter()
            .map(|i| match i {
                Item::Entry(e) => format!("e{}", e.seq),
                Item::Dropped(d) => format!("d{}:{}-{}", d.count, d.from.0, d.until.0),
            })
            .collect();
        assert_eq!(kinds, ["e2", "d3:1003-1005", "e6"]);
        assert_eq!(live.stats().dropped, 3);
    }

    #[test]
    fn pending_notice_is_delivered_when_drained() {
        let live = Live::new(LiveConfig::default());
        let (sub, _) = live.subscribe(q("*"), 1, Arc::new(Notify::new()));
        live.publish(&[entry(1, "a"), entry(2, "b")]);
        let items = sub.drain(10);
        assert_eq!(items.len(), 2);
        assert!(matches!(
            items[1],
            Item::Dropped(DropNotice { count: 1, .. })
        ));
        assert!(!sub.has_pending());
    }

    #[test]
    fn ring_is_bounded_and_snapshot_splits_cleanly() {
        let live = Live::new(LiveConfig {
            ring_capacity: 10,
            ring_min: 10,
        });
        for i in 0..20 {
            live.publish(&[entry(i * 2 + 1, "a"), entry(i * 2 + 2, "b")]);
        }
        let (sub, snap) = live.subscribe(q("a"), 100, Arc::new(Notify::new()));
        assert_eq!(snap.len(), 10);
        assert_eq!(snap.first_seq(), Some(31));
        let after: Vec<u64> = snap.after(&q("a"), 33).iter().map(|e| e.seq).collect();
        assert_eq!(after, [35, 37, 39]);
        let newest: Vec<u64> = snap.newest(&q("*"), 3).iter().map(|e| e.seq).collect();
        assert_eq!(newest, [38, 39, 40]);
        live.publish(&[entry(41, "a")]);
        assert!(matches!(&sub.drain(10)[..], [Item::Entry(e)] if e.seq == 41));
        live.unsubscribe(&sub);
        assert!(sub.is_closed());
        assert_eq!(live.stats().subscriptions, 0);
    }

    /// The ring keeps only what the index cannot serve yet (plus `ring_min`), and
    /// never starts above the index's searchable seq: resume stays gap-free.
    #[test]
    fn tracked_ring_shrinks_to_what_the_index_lacks() {
        let live = Live::new(LiveConfig {
            ring_capacity: 1000,
            ring_min: 5,
        });
        let searchable = Arc::new(AtomicU64::new(1));
        live.track_index(Arc::clone(&searchable));
        let mut seq = 0;
        let mut batch = |n: u64| {
            let b: Vec<_> = (0..n)
                .map(|_| {
                    seq += 1;
                    entry(seq, "x")
                })
                .collect();
            b
        };
        for _ in 0..20 {
            live.publish(&batch(10));
        }
        // Nothing searchable yet: everything stays (below ring_capacity).
        assert_eq!(live.snapshot().len(), 200);
        searchable.store(151, Ordering::Release);
        live.publish(&batch(10));
        let snap = live.snapshot();
        // 1..=150 are in the index and leave; 151.. are not and must all stay.
        assert_eq!(snap.first_seq(), Some(151));
        assert_eq!(snap.len(), 60);
        searchable.store(211, Ordering::Release);
        live.publish(&batch(10));
        let snap = live.snapshot();
        assert!(snap.first_seq().unwrap() <= 211);
        assert_eq!(
            snap.len(),
            10,
            "only what the index lacks, at least ring_min"
        );
    }
}
