//! The replay ring: the most recent entries, bounded in entries and in bytes, so a
//! reconnecting client can resume from entries the index has not committed yet.
//!
//! It holds published batches cut into chunks of at most 1/[`CHUNKS`] of the byte
//! cap, and evicts whole chunks from the front: a chunk is one `Arc` shared with
//! every snapshot, so a snapshot is a copy of pointers, and evicting a chunk frees
//! its entries (unless a subscriber still holds them). Cutting by bytes is what
//! keeps the bound exact with big lines: one 8,192-entry batch of 64 KiB lines is
//! 512 MiB, eight times the default cap.

use std::collections::VecDeque;
use std::sync::Arc;

use lookout_shared::query::Query;
use lookout_shared::LogEntry;

use super::LiveConfig;
use crate::matcher::Matches;

/// A chunk is at most this fraction of the byte cap: the ring then never holds
/// more than the cap, and gives back at most this fraction below it.
const CHUNKS: usize = 16;

struct Chunk {
    entries: Arc<[Arc<LogEntry>]>,
    bytes: usize,
}

/// The ring itself; [`super::Live`] keeps it under its one short lock.
#[derive(Default)]
pub(super) struct Ring {
    chunks: VecDeque<Chunk>,
    len: usize,
    bytes: usize,
}

impl Ring {
    /// Entries held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Bytes held ([`crate::footprint::entry_bytes`] of each entry).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Appends `batch` (`sizes[i]` is the footprint of `batch[i]`), then evicts from
    /// the front: always down to `cfg.ring_bytes`; down to `cfg.ring_capacity`
    /// entries; and down to `cfg.ring_min` entries the chunks that are wholly below
    /// `searchable` (the index's first seq not yet searchable, when tracked).
    pub fn push(
        &mut self,
        batch: &[Arc<LogEntry>],
        sizes: &[usize],
        cfg: &LiveConfig,
        searchable: Option<u64>,
    ) {
        let chunk_max = (cfg.ring_bytes / CHUNKS).max(1);
        let mut start = 0;
        let mut acc = 0;
        for (i, size) in sizes.iter().enumerate() {
            if i > start && acc + size > chunk_max {
                self.push_chunk(&batch[start..i], acc);
                start = i;
                acc = 0;
            }
            acc += size;
        }
        if start < batch.len() {
            self.push_chunk(&batch[start..], acc);
        }
        let in_index =
            |c: &Chunk| searchable.is_some_and(|sq| c.entries.last().is_some_and(|e| e.seq < sq));
        while let Some(f) = self.chunks.front() {
            let rest = self.len - f.entries.len();
            let evict = self.bytes > cfg.ring_bytes
                || rest >= cfg.ring_capacity
                || (rest >= cfg.ring_min && in_index(f));
            if !evict {
                break;
            }
            if let Some(f) = self.chunks.pop_front() {
                self.len -= f.entries.len();
                self.bytes -= f.bytes;
            }
        }
    }

    fn push_chunk(&mut self, entries: &[Arc<LogEntry>], bytes: usize) {
        self.len += entries.len();
        self.bytes += bytes;
        self.chunks.push_back(Chunk {
            entries: entries.into(),
            bytes,
        });
    }

    /// The chunks as they are now: a copy of pointers.
    pub fn snapshot(&self) -> RingSnapshot {
        RingSnapshot {
            batches: self.chunks.iter().map(|c| Arc::clone(&c.entries)).collect(),
        }
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
