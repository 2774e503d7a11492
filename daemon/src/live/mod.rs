//! Live-tail fan-out: from the ingest thread to every tail subscription.
//!
//! [`Live`] is an [`EntrySink`]. For each published batch it appends to a replay
//! ring ([`ring`]: the most recent entries, bounded in entries and bytes, so a
//! reconnecting client can resume from entries the index has not committed yet)
//! and offers every entry to every subscription whose [`Query`] matches
//! ([`fanout`]). Each subscription has a queue bounded in entries and bytes, and all
//! queues share one byte budget ([`subscription`]): when a queue is full the entry
//! is not queued but counted, and a [`DropNotice`] takes its place in the queue
//! before the next entry that fits. Publishing never blocks on a client.
//!
//! Locks: one short lock guards the ring and the pointer to the subscription list
//! (an `Arc<[Arc<Subscription>]>`, replaced whole on subscribe and unsubscribe).
//! Ingest holds it to append a batch and copy that pointer; a subscriber holds it
//! to copy the ring's chunk pointers and swap the list. Matching happens after it is
//! released, and each queue has its own lock. So no runtime thread ever waits for
//! matching, however many subscriptions there are.
//!
//! Order: ingest assigns `seq` in publish order, so every subscription sees strictly
//! increasing `seq`. That is what makes resume exact: "everything matching with a
//! `seq` above the last one I saw". A batch is in a new subscription's ring
//! snapshot exactly when the list it is offered to does not contain it yet: both are
//! decided under the one lock.

mod fanout;
mod ring;
mod subscription;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use lookout_shared::query::Query;
use lookout_shared::LogEntry;
use tokio::sync::Notify;

use crate::footprint::entry_bytes;
use crate::ingest::EntrySink;
pub use ring::RingSnapshot;
use subscription::QueueBudget;
pub use subscription::{DropNotice, Item, QueueLimit, Subscription};

/// Default byte cap of the replay ring (`--live-ring-bytes`). 12,000 lines of
/// 64 KiB once made the ring alone 750 MiB (it kept 10,000 entries whatever their
/// size) against a 512 MiB DaemonSet limit; at the ~500-byte entries of a busy node
/// 64 MiB still holds 130,000 entries, more than the entry caps below.
pub const RING_BYTES: usize = 64 << 20;

/// Default byte budget shared by every subscription queue (`--live-queues-bytes`):
/// one stalled client's 32 tails at 4 MiB each fill it, so a crowd of stalled
/// clients costs this much and not 4 MiB per tail.
pub const QUEUES_BYTES: usize = 128 << 20;

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
    /// Most bytes the ring holds ([`entry_bytes`] of its entries), whatever the
    /// entry caps say.
    pub ring_bytes: usize,
    /// Most bytes all subscription queues hold together.
    pub queues_bytes: usize,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            ring_capacity: 100_000,
            ring_min: 10_000,
            ring_bytes: RING_BYTES,
            queues_bytes: QUEUES_BYTES,
        }
    }
}

struct State {
    ring: ring::Ring,
    subs: Arc<[Arc<Subscription>]>,
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
    /// Bytes in the replay ring.
    pub ring_bytes: u64,
    /// Bytes in all subscription queues.
    pub queue_bytes: u64,
}

/// The fan-out's exported metrics (see [`crate::metrics`]).
#[derive(Clone, Debug)]
pub struct LiveMetrics {
    pub subscriptions: prometheus::IntGauge,
    pub published: prometheus::IntCounter,
    pub dropped: prometheus::IntCounter,
    pub ring_bytes: prometheus::IntGauge,
    pub ring_entries: prometheus::IntGauge,
    pub queue_bytes: prometheus::IntGauge,
    pub evaluations: prometheus::IntCounter,
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
            ring_bytes: gauge(
                r,
                "lookout_live_ring_bytes",
                "Bytes of the entries in the live replay ring.",
            )?,
            ring_entries: gauge(
                r,
                "lookout_live_ring_entries",
                "Entries in the live replay ring.",
            )?,
            queue_bytes: gauge(
                r,
                "lookout_live_queue_bytes",
                "Bytes of the entries waiting in all live tail queues.",
            )?,
            evaluations: counter(
                r,
                "lookout_live_match_evaluations_total",
                "Tail queries evaluated on published entries (entries times subscriptions).",
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
    budget: Arc<QueueBudget>,
    published: AtomicU64,
    dropped: AtomicU64,
    subscriptions: AtomicUsize,
    ring_len: AtomicUsize,
    ring_bytes: AtomicUsize,
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
        let budget = Arc::new(QueueBudget {
            max: cfg.queues_bytes,
            used: AtomicUsize::new(0),
            gauge: metrics.as_ref().map(|m| m.queue_bytes.clone()),
        });
        Live {
            cfg,
            metrics,
            searchable: std::sync::OnceLock::new(),
            state: Mutex::new(State {
                ring: ring::Ring::default(),
                subs: Arc::from(Vec::new()),
            }),
            budget,
            published: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            subscriptions: AtomicUsize::new(0),
            ring_len: AtomicUsize::new(0),
            ring_bytes: AtomicUsize::new(0),
        }
    }

    /// Lets the ring shrink to [`LiveConfig::ring_min`] entries once the index can
    /// serve older ones: `searchable` is the index's first `seq` not yet searchable
    /// ([`crate::index::Index::searchable_seq`]). Resume stays gap-free because only
    /// whole chunks below it are dropped, so the ring always starts at or below
    /// what the index has. Set once; later calls are ignored.
    pub fn track_index(&self, searchable: Arc<AtomicU64>) {
        let _ = self.searchable.set(searchable);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        crate::sync::lock(&self.state)
    }

    /// Registers a tail. From this call on every published entry matching `query`
    /// goes to its queue (at most `limit` waiting; the rest are counted as dropped).
    /// `wake` is notified whenever the queue changes. The returned snapshot holds
    /// exactly the ring's entries published before registration.
    pub fn subscribe(
        &self,
        query: Query,
        limit: QueueLimit,
        wake: Arc<Notify>,
    ) -> (Arc<Subscription>, RingSnapshot) {
        let sub = Arc::new(Subscription::new(
            query,
            limit,
            Arc::clone(&self.budget),
            wake,
        ));
        let mut st = self.lock();
        let snapshot = st.ring.snapshot();
        let subs: Vec<Arc<Subscription>> = st
            .subs
            .iter()
            .cloned()
            .chain(std::iter::once(Arc::clone(&sub)))
            .collect();
        st.subs = subs.into();
        let n = st.subs.len();
        drop(st);
        self.show_subscriptions(n);
        (sub, snapshot)
    }

    /// Removes a tail; its drainer sees [`Subscription::is_closed`], and what its
    /// queue held is given back.
    pub fn unsubscribe(&self, sub: &Arc<Subscription>) {
        sub.close();
        let mut st = self.lock();
        if !st.subs.iter().any(|s| Arc::ptr_eq(s, sub)) {
            return;
        }
        let subs: Vec<Arc<Subscription>> = st
            .subs
            .iter()
            .filter(|s| !Arc::ptr_eq(s, sub))
            .cloned()
            .collect();
        st.subs = subs.into();
        let n = st.subs.len();
        drop(st);
        self.show_subscriptions(n);
    }

    /// A copy of the ring as it is now (for search-free backfill in tests and tools).
    pub fn snapshot(&self) -> RingSnapshot {
        self.lock().ring.snapshot()
    }

    fn show_subscriptions(&self, n: usize) {
        self.subscriptions.store(n, Ordering::Relaxed);
        if let Some(m) = &self.metrics {
            m.subscriptions.set(crate::metrics::family::as_gauge(n));
        }
    }

    /// Takes no lock: safe to call from anywhere, as often as wanted.
    pub fn stats(&self) -> LiveStats {
        LiveStats {
            published: self.published.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            subscriptions: self.subscriptions.load(Ordering::Relaxed) as u64,
            ring_len: self.ring_len.load(Ordering::Relaxed) as u64,
            ring_bytes: self.ring_bytes.load(Ordering::Relaxed) as u64,
            queue_bytes: self.budget.used.load(Ordering::Relaxed) as u64,
        }
    }
}

impl EntrySink for Live {
    fn publish(&self, entries: &[Arc<LogEntry>]) {
        if entries.is_empty() {
            return;
        }
        let sizes: Vec<usize> = entries.iter().map(|e| entry_bytes(e)).collect();
        let searchable = self.searchable.get().map(|a| a.load(Ordering::Acquire));
        let (subs, ring_len, ring_bytes) = {
            let mut st = self.lock();
            st.ring.push(entries, &sizes, &self.cfg, searchable);
            (Arc::clone(&st.subs), st.ring.len(), st.ring.bytes())
        };
        self.ring_len.store(ring_len, Ordering::Relaxed);
        self.ring_bytes.store(ring_bytes, Ordering::Relaxed);
        let done = fanout::offer_all(&subs, entries, &sizes);
        self.published
            .fetch_add(entries.len() as u64, Ordering::Relaxed);
        if done.dropped > 0 {
            self.dropped.fetch_add(done.dropped, Ordering::Relaxed);
        }
        if let Some(m) = &self.metrics {
            use crate::metrics::family::as_gauge;
            m.published.inc_by(entries.len() as u64);
            m.dropped.inc_by(done.dropped);
            m.evaluations.inc_by(done.evaluations);
            m.ring_bytes.set(as_gauge(ring_bytes));
            m.ring_entries.set(as_gauge(ring_len));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lookout_shared::Timestamp;

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

    fn lim(entries: usize) -> QueueLimit {
        QueueLimit {
            entries,
            bytes: usize::MAX,
        }
    }

    fn big(seq: u64, kib: usize) -> Arc<LogEntry> {
        entry(seq, &"x".repeat(kib << 10))
    }

    /// 64 KiB lines once filled a 10,000-entry ring to 640 MiB: the byte cap
    /// holds whatever the entry caps say, even for one batch far over it.
    #[test]
    fn ring_never_holds_more_than_its_byte_cap() {
        let cap = 1 << 20;
        let live = Live::new(LiveConfig {
            ring_bytes: cap,
            ..LiveConfig::default()
        });
        let batch: Vec<_> = (1..=100).map(|i| big(i, 64)).collect();
        live.publish(&batch);
        let s = live.stats();
        assert!(s.ring_bytes as usize <= cap, "{s:?}");
        // Gives back at most one chunk (1/16 of the cap) below it.
        assert!(s.ring_bytes as usize > cap - cap / 16 - (70 << 10), "{s:?}");
        assert_eq!(s.ring_len as usize, live.snapshot().len());
        // The newest entries are the ones kept.
        let snap = live.snapshot();
        assert_eq!(snap.newest(&q("*"), 1)[0].seq, 100);
        for i in 0..50 {
            live.publish(&[big(101 + i, 64)]);
            assert!(live.stats().ring_bytes as usize <= cap);
        }
    }

    #[test]
    fn queue_bytes_are_bounded_per_subscription_and_in_total() {
        let live = Live::new(LiveConfig {
            queues_bytes: 3 << 20,
            ..LiveConfig::default()
        });
        let per = QueueLimit {
            entries: 10_000,
            bytes: 2 << 20,
        };
        let (a, _) = live.subscribe(q("*"), per, Arc::new(Notify::new()));
        let (b, _) = live.subscribe(q("*"), per, Arc::new(Notify::new()));
        let batch: Vec<_> = (1..=64).map(|i| big(i, 64)).collect();
        live.publish(&batch);
        assert!(a.queued_bytes() <= 2 << 20);
        assert!(b.queued_bytes() <= 2 << 20);
        let s = live.stats();
        assert!(s.queue_bytes <= 3 << 20, "{s:?}");
        assert_eq!(s.queue_bytes as usize, a.queued_bytes() + b.queued_bytes());
        assert!(s.dropped > 0);
        // Draining gives the bytes back; so does unsubscribing.
        let got = a.drain(usize::MAX);
        assert!(matches!(got.last(), Some(Item::Dropped(_))));
        assert_eq!(a.queued_bytes(), 0);
        live.unsubscribe(&b);
        assert_eq!(live.stats().queue_bytes, 0);
        assert_eq!(live.stats().subscriptions, 1);
    }

    #[test]
    fn overflow_becomes_a_notice_in_place() {
        let live = Live::new(LiveConfig::default());
        let (sub, _) = live.subscribe(q("*"), lim(2), Arc::new(Notify::new()));
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
        let (sub, _) = live.subscribe(q("*"), lim(1), Arc::new(Notify::new()));
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
            ..LiveConfig::default()
        });
        for i in 0..20 {
            live.publish(&[entry(i * 2 + 1, "a"), entry(i * 2 + 2, "b")]);
        }
        let (sub, snap) = live.subscribe(q("a"), lim(100), Arc::new(Notify::new()));
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
            ..LiveConfig::default()
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
