//! Per-segment summaries of `ts` for the search collector ([`super::collect`]): the
//! min and max `ts` of each [`BLOCK`] of doc ids, built once per segment and cached,
//! so a scan can seek over blocks that cannot hold a wanted hit.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use tantivy::columnar::{Column, ColumnIndex};
use tantivy::index::SegmentId;
use tantivy::{DateTime, SegmentReader};

use crate::sync::lock;

/// Docs per summary block.
pub const BLOCK: u32 = 512;
/// Segments with fewer docs get no summary: their own `ts` range is enough.
const MIN_SUMMARISED: u32 = 4 * BLOCK;

/// Min and max `ts` of each [`BLOCK`] of doc ids of one segment.
#[derive(Debug)]
pub struct Summary {
    pub(super) lo: Vec<i64>,
    pub(super) hi: Vec<i64>,
}

impl Summary {
    pub(super) fn build(ts: &Column<DateTime>, max_doc: u32) -> Option<Summary> {
        // Every doc has a `ts`, so doc id = row; anything else gets no summary.
        if !matches!(ts.index, ColumnIndex::Full) || ts.values.num_vals() != max_doc {
            return None;
        }
        let blocks = max_doc.div_ceil(BLOCK) as usize;
        let mut s = Summary {
            lo: Vec::with_capacity(blocks),
            hi: Vec::with_capacity(blocks),
        };
        let mut buf = vec![DateTime::from_timestamp_nanos(0); BLOCK as usize];
        let mut start = 0u32;
        while start < max_doc {
            let n = BLOCK.min(max_doc - start) as usize;
            let vals = &mut buf[..n];
            ts.values.get_range(u64::from(start), vals);
            let (mut lo, mut hi) = (i64::MAX, i64::MIN);
            for v in vals.iter() {
                let t = v.into_timestamp_nanos();
                lo = lo.min(t);
                hi = hi.max(t);
            }
            s.lo.push(lo);
            s.hi.push(hi);
            start += BLOCK;
        }
        Some(s)
    }

    pub(super) fn range(&self, block: usize) -> Option<(i64, i64)> {
        Some((*self.lo.get(block)?, *self.hi.get(block)?))
    }
}

/// Segment summaries by segment id, shared by every query on an index. Segments are
/// immutable, so a summary stays right for the segment's life; entries of segments
/// merged away or dropped are forgotten by [`Summaries::retain`].
#[derive(Debug, Default)]
pub struct Summaries(Mutex<HashMap<SegmentId, Arc<Summary>>>);

impl Summaries {
    pub(super) fn get(
        &self,
        reader: &SegmentReader,
        ts: &Column<DateTime>,
    ) -> Option<Arc<Summary>> {
        if reader.max_doc() < MIN_SUMMARISED {
            return None;
        }
        let id = reader.segment_id();
        if let Some(s) = lock(&self.0).get(&id) {
            return Some(s.clone());
        }
        let s = Arc::new(Summary::build(ts, reader.max_doc())?);
        lock(&self.0).insert(id, s.clone());
        Some(s)
    }

    /// Forgets the summaries of segments not in `live`.
    pub fn retain(&self, live: &HashSet<SegmentId>) {
        let mut m = lock(&self.0);
        if m.keys().any(|k| !live.contains(k)) {
            m.retain(|k, _| live.contains(k));
        }
    }

    /// How many summaries are cached (tests).
    pub fn len(&self) -> usize {
        lock(&self.0).len()
    }

    /// Whether none is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
