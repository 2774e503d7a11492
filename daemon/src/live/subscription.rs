//! One tail subscription: its filter and its queue, bounded in entries, in bytes of
//! its own, and by a byte budget all queues share.
//!
//! The queue has its own small lock, taken by the fan-out once per published batch
//! (to append what matched) and by the connection's writer to drain a frame's
//! worth: neither holds it longer than moving pointers. When the queue is full the
//! entry is not queued but counted, and a [`DropNotice`] takes its place in the
//! queue before the next entry that fits.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use lookout_shared::query::Query;
use lookout_shared::{LogEntry, Timestamp};
use tokio::sync::Notify;

use crate::footprint::entry_bytes;

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

/// How much one subscription's queue may hold before entries are dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimit {
    /// Entries waiting.
    pub entries: usize,
    /// Bytes of the entries waiting ([`entry_bytes`]; entries shared with the ring
    /// or other queues are counted in full: a stalled queue keeps them alive).
    pub bytes: usize,
}

/// The byte budget every queue draws on, and its gauge.
pub(super) struct QueueBudget {
    pub max: usize,
    pub used: AtomicUsize,
    pub gauge: Option<prometheus::IntGauge>,
}

impl QueueBudget {
    fn release(&self, bytes: usize) {
        if bytes > 0 {
            let before = self.used.fetch_sub(bytes, Ordering::AcqRel);
            self.show(before.saturating_sub(bytes));
        }
    }

    fn show(&self, used: usize) {
        if let Some(g) = &self.gauge {
            g.set(crate::metrics::family::as_gauge(used));
        }
    }
}

#[derive(Default)]
struct SubQueue {
    items: VecDeque<Item>,
    /// Entries (not notices) in `items`.
    entries: usize,
    /// Bytes of those entries.
    bytes: usize,
    /// Drops since the last entry that fitted; newer than everything in `items`.
    pending: Option<DropNotice>,
}

/// A registered tail: its filter, its bounded queue and the waker of whoever drains it.
pub struct Subscription {
    query: Query,
    limit: QueueLimit,
    budget: Arc<QueueBudget>,
    queue: Mutex<SubQueue>,
    wake: Arc<Notify>,
    closed: AtomicBool,
    dropped_total: AtomicU64,
}

impl Subscription {
    pub(super) fn new(
        query: Query,
        limit: QueueLimit,
        budget: Arc<QueueBudget>,
        wake: Arc<Notify>,
    ) -> Subscription {
        Subscription {
            query,
            limit: QueueLimit {
                entries: limit.entries.max(1),
                bytes: limit.bytes,
            },
            budget,
            queue: Mutex::new(SubQueue::default()),
            wake,
            closed: AtomicBool::new(false),
            dropped_total: AtomicU64::new(0),
        }
    }

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

    /// Bytes waiting in its queue.
    pub fn queued_bytes(&self) -> usize {
        self.lock().bytes
    }

    fn lock(&self) -> MutexGuard<'_, SubQueue> {
        crate::sync::lock(&self.queue)
    }

    /// Offers matching entries (each with its footprint); returns how many were
    /// dropped. Takes the queue's lock once.
    pub(super) fn offer(&self, matching: &[(Arc<LogEntry>, usize)]) -> u64 {
        if self.is_closed() {
            return 0;
        }
        let mut dropped = 0;
        let mut taken = 0;
        {
            let mut q = self.lock();
            // Checked again under the lock: `close` empties the queue under it.
            if self.is_closed() {
                return 0;
            }
            for (e, size) in matching {
                let fits = q.entries < self.limit.entries
                    && q.bytes + size <= self.limit.bytes
                    && self.take_budget(*size);
                if fits {
                    if let Some(p) = q.pending.take() {
                        q.items.push_back(Item::Dropped(p));
                    }
                    q.items.push_back(Item::Entry(Arc::clone(e)));
                    q.entries += 1;
                    q.bytes += size;
                    taken += size;
                } else {
                    match &mut q.pending {
                        Some(p) => p.add(e.ts),
                        None => q.pending = Some(DropNotice::one(e.ts)),
                    }
                    dropped += 1;
                }
            }
        }
        if taken > 0 {
            self.budget.show(self.budget.used.load(Ordering::Acquire));
        }
        if dropped > 0 {
            self.dropped_total.fetch_add(dropped, Ordering::Relaxed);
        }
        self.wake.notify_one();
        dropped
    }

    /// Reserves `size` bytes of the shared budget, if there is room.
    fn take_budget(&self, size: usize) -> bool {
        self.budget
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
                (u + size <= self.budget.max).then_some(u + size)
            })
            .is_ok()
    }

    /// Takes up to `max` entries (plus any notices among them) in order. When the
    /// queue runs empty a pending drop notice is appended, so a client that catches
    /// up learns what it missed even if nothing new arrives.
    pub fn drain(&self, max: usize) -> Vec<Item> {
        let mut out = Vec::new();
        let mut freed = 0;
        {
            let mut q = self.lock();
            let mut n = 0;
            while n < max {
                match q.items.pop_front() {
                    Some(Item::Entry(e)) => {
                        let size = entry_bytes(&e);
                        q.entries -= 1;
                        q.bytes -= size;
                        freed += size;
                        n += 1;
                        out.push(Item::Entry(e));
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
        }
        self.budget.release(freed);
        out
    }

    /// Whether anything is waiting to be drained.
    pub fn has_pending(&self) -> bool {
        let q = self.lock();
        !q.items.is_empty() || q.pending.is_some()
    }

    /// Marks it closed and gives its queue's bytes back.
    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let freed = {
            let mut q = self.lock();
            let freed = q.bytes;
            *q = SubQueue::default();
            freed
        };
        self.budget.release(freed);
        self.wake.notify_one();
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let q = self
            .queue
            .get_mut()
            .map_or_else(|p| p.into_inner().bytes, |q| q.bytes);
        self.budget.release(q);
    }
}
