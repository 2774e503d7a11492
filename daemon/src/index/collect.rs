//! One pass over a query's matches that yields everything a search page needs: the
//! top `limit` entries by `(ts, seq)` after a cursor, the total in the time range,
//! and a histogram. Reading `ts`/`seq` from the fast fields gives exact nanosecond
//! order with a stable tie-break, which tantivy's single-key sort cannot.
//!
//! Why not a plain tantivy collector: a common word (`INFO`) matches a third of all
//! entries, and "the newest 100" must not cost a heap operation per match. So the
//! segments of every bucket are visited best first (newest first for newest-first
//! order) and each one is skipped whenever its `ts` range cannot beat the current
//! 100th hit; within a big segment, a per-block summary of `ts` (min/max per
//! [`BLOCK`] docs, built once per segment and cached: [`super::summary`]) lets the scan seek over blocks
//! that cannot beat it either. Entries are ingested roughly in time order, so the
//! newest blocks come last in doc order: newest-first scans walk a segment from its
//! end in doubling windows. The total comes from tantivy's `count` (a term's
//! document frequency) for segments wholly inside the time range; only a histogram
//! or a segment straddling the range bounds needs every match read.

use lookout_shared::histogram::Bars;
use tantivy::columnar::Column;
use tantivy::query::Weight;
use tantivy::{
    DateTime, DocAddress, DocId, DocSet, SegmentOrdinal, SegmentReader, COLLECT_BLOCK_BUFFER_LEN,
    TERMINATED,
};

pub use super::summary::{Summaries, Summary, BLOCK};

/// `(ts, seq)` mapped to one integer with the same order.
pub fn key(ts: i64, seq: u64) -> u128 {
    ((((ts as u64) ^ (1 << 63)) as u128) << 64) | seq as u128
}

/// Back from [`key`].
pub fn unkey(k: u128) -> (i64, u64) {
    ((((k >> 64) as u64) ^ (1 << 63)) as i64, k as u64)
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
    pub hist: Option<Bars>,
}

impl TopSpec {
    /// Counts only (and bars, with `hist`) over `from <= ts < until`: no hits kept.
    pub fn counting(from: i64, until: i64, hist: Option<Bars>) -> TopSpec {
        TopSpec {
            limit: 0,
            newest_first: true,
            after: None,
            from,
            until,
            hist,
        }
    }

    /// Ranks grow in result order (the best hit has the largest rank).
    fn rank(&self, k: u128) -> u128 {
        if self.newest_first {
            k
        } else {
            !k
        }
    }

    /// The best rank any entry with `lo <= ts <= hi` can have.
    fn best(&self, lo: i64, hi: i64) -> u128 {
        if self.newest_first {
            key(hi, u64::MAX)
        } else {
            !key(lo, 0)
        }
    }

    /// The worst rank any entry with `lo <= ts <= hi` can have.
    fn worst(&self, lo: i64, hi: i64) -> u128 {
        if self.newest_first {
            key(lo, 0)
        } else {
            !key(hi, u64::MAX)
        }
    }
}

/// A hit: its key and where it lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Hit {
    pub rank: u128,
    pub key: u128,
    /// Index of the searcher (bucket) in the caller's list.
    pub bucket: usize,
    pub addr: DocAddress,
}

/// The result of a search over every segment.
#[derive(Debug, Default)]
pub struct TopFruit {
    /// Best first, at most `limit`.
    pub hits: Vec<Hit>,
    pub total: u64,
    pub hist: Vec<u64>,
}

/// First window of a newest-first scan from a segment's end (doubles each time).
const FIRST_WINDOW: u32 = 8 * BLOCK;

/// One segment to search, with the query's weights for its searcher.
pub struct Seg<'a> {
    pub bucket: usize,
    pub ord: SegmentOrdinal,
    pub reader: &'a SegmentReader,
    /// The query alone.
    pub inner: &'a dyn Weight,
    /// The query narrowed to the time range (or the same as `inner`).
    pub ranged: &'a dyn Weight,
}

/// The best `limit` hits seen so far. Candidates go to a buffer that is cut back to
/// the best `limit` when full; the worst kept rank is then the bar a new hit must
/// pass, which is what lets whole segments and blocks be skipped.
struct TopK<'s> {
    spec: &'s TopSpec,
    after: Option<u128>,
    buf: Vec<Hit>,
    cap: usize,
    /// Rank a hit must exceed to enter (the `limit`th best so far).
    bar: Option<u128>,
}

impl<'s> TopK<'s> {
    fn new(spec: &'s TopSpec) -> TopK<'s> {
        let cap = (spec.limit * 2).max(spec.limit + 64);
        TopK {
            spec,
            after: spec.after.map(|k| spec.rank(k)),
            buf: Vec::with_capacity(if spec.limit > 0 { cap } else { 0 }),
            cap,
            bar: None,
        }
    }

    /// Whether no entry with `lo <= ts <= hi` can enter.
    fn prunable(&self, lo: i64, hi: i64) -> bool {
        self.spec.limit == 0
            || hi < self.spec.from
            || lo >= self.spec.until
            || self.bar.is_some_and(|b| self.spec.best(lo, hi) <= b)
            || self.after.is_some_and(|a| self.spec.worst(lo, hi) >= a)
    }

    #[inline]
    fn offer(
        &mut self,
        ts: i64,
        seq: &Column<u64>,
        bucket: usize,
        ord: SegmentOrdinal,
        doc: DocId,
    ) {
        if self.prunable(ts, ts) {
            return;
        }
        let k = key(ts, seq.first(doc).unwrap_or(0));
        let rank = self.spec.rank(k);
        if self.after.is_some_and(|a| rank >= a) || self.bar.is_some_and(|b| rank <= b) {
            return;
        }
        self.buf.push(Hit {
            rank,
            key: k,
            bucket,
            addr: DocAddress::new(ord, doc),
        });
        if self.buf.len() >= self.cap {
            self.cut();
        }
    }

    fn cut(&mut self) {
        let n = self.spec.limit;
        if n == 0 || self.buf.len() < n {
            return;
        }
        self.buf
            .select_nth_unstable_by(n - 1, |a, b| b.rank.cmp(&a.rank));
        self.buf.truncate(n);
        self.bar = self.buf.iter().map(|h| h.rank).min();
    }

    /// Cuts back to the best `limit` as soon as that many are held, so that the bar
    /// is known (and rises) between segments and scan windows, not only when the
    /// buffer fills.
    fn settle(&mut self) {
        let n = self.spec.limit;
        if n > 0 && self.buf.len() >= n && (self.bar.is_none() || self.buf.len() > n) {
            self.cut();
        }
    }

    fn finish(mut self) -> Vec<Hit> {
        self.buf.sort_unstable_by_key(|h| std::cmp::Reverse(h.rank));
        self.buf.truncate(self.spec.limit);
        self.buf
    }
}

/// A segment with its columns and `ts` range.
struct Prepared<'a, 'b> {
    seg: &'b Seg<'a>,
    ts: Column<DateTime>,
    seq: Column<u64>,
    lo: i64,
    hi: i64,
}

/// Runs the search over `segs` (of any number of searchers).
pub fn collect(
    spec: &TopSpec,
    segs: &[Seg<'_>],
    summaries: &Summaries,
) -> tantivy::Result<TopFruit> {
    let mut top = TopK::new(spec);
    let mut total = 0u64;
    let mut hist = vec![0u64; spec.hist.map(|h| h.n).unwrap_or(0)];
    let mut prepared = Vec::with_capacity(segs.len());
    for seg in segs {
        if seg.reader.num_docs() == 0 {
            continue;
        }
        let ts = seg.reader.fast_fields().date("ts")?;
        let seq = seg.reader.fast_fields().u64("seq")?;
        let (lo, hi) = (
            ts.min_value().into_timestamp_nanos(),
            ts.max_value().into_timestamp_nanos(),
        );
        if hi < spec.from || lo >= spec.until {
            continue;
        }
        prepared.push(Prepared {
            seg,
            ts,
            seq,
            lo,
            hi,
        });
    }
    // Best segments first, so the bar rises early and the rest can be skipped.
    prepared.sort_by_key(|p| std::cmp::Reverse(spec.best(p.lo, p.hi)));
    for p in &prepared {
        let inside = p.lo >= spec.from && p.hi < spec.until;
        // The best hits first, skipping what cannot beat the bar (this also keeps
        // a histogram pass below from offering every match in arrival order).
        if !top.prunable(p.lo, p.hi) {
            scan_top(&mut top, p, summaries)?;
            top.settle();
        }
        if spec.hist.is_none() && inside {
            total += u64::from(p.seg.inner.count(p.seg.reader)?);
        } else {
            let weight = if inside { p.seg.inner } else { p.seg.ranged };
            scan_all(spec, p, weight, summaries, &mut total, &mut hist)?;
        }
    }
    Ok(TopFruit {
        hits: top.finish(),
        total,
        hist,
    })
}

/// A block whose docs all fall in one histogram bar (or, without a histogram, all
/// inside the range) is counted without reading `ts`; the rest read it.
const MIXED: u32 = u32::MAX;
const OUTSIDE: u32 = u32::MAX - 1;

/// For each summary block: the bar every doc of it falls in, [`OUTSIDE`] the range,
/// or [`MIXED`].
fn block_bars(spec: &TopSpec, s: &Summary) -> Vec<u32> {
    s.lo.iter()
        .zip(&s.hi)
        .map(|(&lo, &hi)| {
            if hi < spec.from || lo >= spec.until {
                return OUTSIDE;
            }
            if lo < spec.from || hi >= spec.until {
                return MIXED;
            }
            let Some(h) = spec.hist else { return 0 };
            let bar = |t: i64| t.saturating_sub(h.start) / h.width.max(1);
            match (bar(lo), bar(hi)) {
                (a, b) if a == b && a >= 0 && (a as usize) < h.n => a as u32,
                _ => MIXED,
            }
        })
        .collect()
}

/// Every match of `weight` in the segment: counted and binned.
fn scan_all(
    spec: &TopSpec,
    p: &Prepared<'_, '_>,
    weight: &dyn Weight,
    summaries: &Summaries,
    total: &mut u64,
    hist: &mut [u64],
) -> tantivy::Result<()> {
    let alive = p.seg.reader.alive_bitset();
    let bars = summaries
        .get(p.seg.reader, &p.ts)
        .map(|s| block_bars(spec, &s))
        .unwrap_or_default();
    let mut slow = [0 as DocId; COLLECT_BLOCK_BUFFER_LEN];
    let mut tsv = [None; COLLECT_BLOCK_BUFFER_LEN];
    weight.for_each_no_score(p.seg.reader, &mut |docs| {
        for docs in docs.chunks(COLLECT_BLOCK_BUFFER_LEN) {
            let mut n = 0;
            for &doc in docs {
                if alive.is_some_and(|a| !a.is_alive(doc)) {
                    continue;
                }
                match bars.get((doc / BLOCK) as usize).copied().unwrap_or(MIXED) {
                    MIXED => {
                        slow[n] = doc;
                        n += 1;
                    }
                    OUTSIDE => {}
                    bar => {
                        *total += 1;
                        if let Some(c) = hist.get_mut(bar as usize) {
                            *c += 1;
                        }
                    }
                }
            }
            let tsv = &mut tsv[..n];
            tsv.fill(None);
            p.ts.first_vals(&slow[..n], tsv);
            for t in tsv.iter() {
                let Some(t) = t else { continue };
                let ts = t.into_timestamp_nanos();
                if ts < spec.from || ts >= spec.until {
                    continue;
                }
                *total += 1;
                if let Some(h) = spec.hist {
                    let i = (ts.saturating_sub(h.start) / h.width.max(1)) as usize;
                    if let Some(c) = hist.get_mut(i) {
                        *c += 1;
                    }
                }
            }
        }
    })
}

/// The segment's best hits only (its total is counted elsewhere): doc ranges whose
/// summary shows they cannot beat the bar are sought over.
fn scan_top(
    top: &mut TopK<'_>,
    p: &Prepared<'_, '_>,
    summaries: &Summaries,
) -> tantivy::Result<()> {
    let max_doc = p.seg.reader.max_doc();
    let summary = summaries.get(p.seg.reader, &p.ts);
    let Some(summary) = summary else {
        return scan_range(top, p, None, 0, max_doc);
    };
    if !top.spec.newest_first {
        return scan_range(top, p, Some(&summary), 0, max_doc);
    }
    let mut end = max_doc;
    let mut window = FIRST_WINDOW;
    while end > 0 {
        let start = end.saturating_sub(window);
        scan_range(top, p, Some(&summary), start, end)?;
        top.settle();
        end = start;
        window = window.saturating_mul(2);
    }
    Ok(())
}

/// Offers the matches with doc ids in `[start, end)`, seeking over prunable blocks.
fn scan_range(
    top: &mut TopK<'_>,
    p: &Prepared<'_, '_>,
    summary: Option<&Summary>,
    start: DocId,
    end: DocId,
) -> tantivy::Result<()> {
    // The first block at or after `from_block` that may hold a hit, as a doc id.
    let next_open = |top: &TopK<'_>, from_block: u32| -> Option<DocId> {
        let Some(s) = summary else {
            return Some((from_block * BLOCK).max(start));
        };
        let mut b = from_block;
        while b * BLOCK < end {
            match s.range(b as usize) {
                Some((lo, hi)) if top.prunable(lo, hi) => b += 1,
                _ => return Some((b * BLOCK).max(start)),
            }
        }
        None
    };
    let Some(first) = next_open(top, start / BLOCK) else {
        return Ok(());
    };
    let alive = p.seg.reader.alive_bitset();
    let mut scorer = p.seg.inner.scorer(p.seg.reader, 1.0)?;
    let mut target = first;
    let mut docs = [0 as DocId; COLLECT_BLOCK_BUFFER_LEN];
    let mut tsv = [None; COLLECT_BLOCK_BUFFER_LEN];
    loop {
        if scorer.doc() < target {
            scorer.seek(target);
        }
        let d = scorer.doc();
        if d == TERMINATED || d >= end {
            return Ok(());
        }
        let b = d / BLOCK;
        if let Some((lo, hi)) = summary.and_then(|s| s.range(b as usize)) {
            if top.prunable(lo, hi) {
                match next_open(top, b + 1) {
                    Some(t) => {
                        target = t;
                        continue;
                    }
                    None => return Ok(()),
                }
            }
        }
        let n = scorer.fill_buffer(&mut docs);
        let (docs, tsv) = (&docs[..n], &mut tsv[..n]);
        tsv.fill(None);
        p.ts.first_vals(docs, tsv);
        for (&doc, t) in docs.iter().zip(tsv.iter()) {
            if doc >= end {
                return Ok(());
            }
            let Some(t) = t else { continue };
            if alive.is_some_and(|a| !a.is_alive(doc)) {
                continue;
            }
            let ts = t.into_timestamp_nanos();
            if ts < top.spec.from || ts >= top.spec.until {
                continue;
            }
            top.offer(ts, &p.seq, p.seg.bucket, p.seg.ord, doc);
        }
        target = 0;
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

    #[test]
    fn top_k_keeps_the_best_in_any_arrival_order() {
        let spec = TopSpec {
            limit: 3,
            newest_first: true,
            after: Some(key(90, 0)),
            from: i64::MIN,
            until: i64::MAX,
            hist: None,
        };
        let mut top = TopK::new(&spec);
        // Ascending arrival, the worst case for a min-heap.
        for ts in 0..200i64 {
            let k = key(ts, 0);
            let rank = spec.rank(k);
            if top.after.is_some_and(|a| rank >= a) || top.bar.is_some_and(|b| rank <= b) {
                continue;
            }
            top.buf.push(Hit {
                rank,
                key: k,
                bucket: 0,
                addr: DocAddress::new(0, ts as u32),
            });
            if top.buf.len() >= top.cap {
                top.cut();
            }
        }
        let got: Vec<i64> = top.finish().iter().map(|h| unkey(h.key).0).collect();
        assert_eq!(got, vec![89, 88, 87]);
    }
}
