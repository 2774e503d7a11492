//! One pass over a query's matches that yields everything a search page needs: the
//! top `limit` entries by `(ts, seq)` after a cursor, the total in the time range,
//! and a histogram. Reading `ts`/`seq` from the fast fields gives exact nanosecond
//! order with a stable tie-break, which tantivy's single-key sort cannot.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::{DateTime, DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

/// `(ts, seq)` mapped to one integer with the same order.
pub fn key(ts: i64, seq: u64) -> u128 {
    ((((ts as u64) ^ (1 << 63)) as u128) << 64) | seq as u128
}

/// Back from [`key`].
pub fn unkey(k: u128) -> (i64, u64) {
    ((((k >> 64) as u64) ^ (1 << 63)) as i64, k as u64)
}

/// Histogram layout: `n` bars of `width` nanoseconds from `start`.
#[derive(Debug, Clone, Copy)]
pub struct HistSpec {
    pub start: i64,
    pub width: i64,
    pub n: usize,
}

/// What to collect.
#[derive(Debug, Clone)]
pub struct TopSpec {
    pub limit: usize,
    pub newest_first: bool,
    /// Only entries strictly after this key in the result order.
    pub after: Option<u128>,
    /// Exact time range, `from <= ts < until`.
    pub from: i64,
    pub until: i64,
    pub hist: Option<HistSpec>,
}

impl TopSpec {
    /// The heap keeps the largest ranks; rank order is result order.
    fn rank(&self, k: u128) -> u128 {
        if self.newest_first {
            k
        } else {
            !k
        }
    }
}

/// A hit: its key and where it lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Hit {
    pub rank: u128,
    pub key: u128,
    pub addr: DocAddress,
}

/// The result of one segment, or of a whole searcher.
#[derive(Debug, Default)]
pub struct TopFruit {
    /// Best first.
    pub hits: Vec<Hit>,
    pub total: u64,
    pub hist: Vec<u64>,
}

pub struct TopCollector(pub TopSpec);

pub struct TopSegment {
    spec: TopSpec,
    seg: SegmentOrdinal,
    ts: Column<DateTime>,
    seq: Column<u64>,
    after_rank: Option<u128>,
    heap: BinaryHeap<Reverse<Hit>>,
    total: u64,
    hist: Vec<u64>,
}

impl Collector for TopCollector {
    type Fruit = TopFruit;
    type Child = TopSegment;

    fn for_segment(
        &self,
        seg: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<TopSegment> {
        let ts = reader.fast_fields().date("ts")?;
        let seq = reader.fast_fields().u64("seq")?;
        Ok(TopSegment {
            after_rank: self.0.after.map(|k| self.0.rank(k)),
            spec: self.0.clone(),
            seg,
            ts,
            seq,
            heap: BinaryHeap::with_capacity(self.0.limit + 1),
            total: 0,
            hist: vec![0; self.0.hist.map(|h| h.n).unwrap_or(0)],
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<TopFruit>) -> tantivy::Result<TopFruit> {
        Ok(merge(&self.0, fruits))
    }
}

/// Merges per-segment (or per-bucket) results.
pub fn merge(spec: &TopSpec, fruits: Vec<TopFruit>) -> TopFruit {
    let mut out = TopFruit {
        hits: Vec::new(),
        total: 0,
        hist: vec![0; spec.hist.map(|h| h.n).unwrap_or(0)],
    };
    for f in fruits {
        out.total += f.total;
        for (a, b) in out.hist.iter_mut().zip(f.hist) {
            *a += b;
        }
        out.hits.extend(f.hits);
    }
    out.hits.sort_unstable_by(|a, b| b.rank.cmp(&a.rank));
    out.hits.truncate(spec.limit);
    out
}

impl SegmentCollector for TopSegment {
    type Fruit = TopFruit;

    fn collect(&mut self, doc: DocId, _score: Score) {
        let Some(ts) = self.ts.first(doc) else { return };
        let ts = ts.into_timestamp_nanos();
        if ts < self.spec.from || ts >= self.spec.until {
            return;
        }
        self.total += 1;
        if let Some(h) = self.spec.hist {
            let i = (ts.saturating_sub(h.start) / h.width.max(1)) as usize;
            if let Some(c) = self.hist.get_mut(i) {
                *c += 1;
            }
        }
        if self.spec.limit == 0 {
            return;
        }
        let seq = self.seq.first(doc).unwrap_or(0);
        let key = key(ts, seq);
        let rank = self.spec.rank(key);
        if let Some(a) = self.after_rank {
            if rank >= a {
                return;
            }
        }
        if self.heap.len() >= self.spec.limit {
            match self.heap.peek() {
                Some(Reverse(worst)) if worst.rank >= rank => return,
                _ => {}
            }
            self.heap.pop();
        }
        self.heap.push(Reverse(Hit {
            rank,
            key,
            addr: DocAddress::new(self.seg, doc),
        }));
    }

    fn harvest(self) -> TopFruit {
        let mut hits: Vec<Hit> = self.heap.into_iter().map(|Reverse(h)| h).collect();
        hits.sort_unstable_by(|a, b| b.rank.cmp(&a.rank));
        TopFruit {
            hits,
            total: self.total,
            hist: self.hist,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_orders_like_the_pair() {
        let pairs = [
            (i64::MIN, 0u64),
            (-5, u64::MAX),
            (-1, 3),
            (0, 0),
            (0, 1),
            (1, 0),
            (i64::MAX, u64::MAX),
        ];
        for w in pairs.windows(2) {
            assert!(key(w[0].0, w[0].1) < key(w[1].0, w[1].1));
        }
        for p in pairs {
            assert_eq!(unkey(key(p.0, p.1)), p);
        }
    }
}
