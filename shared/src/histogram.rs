//! Histogram bars: which round widths a span is cut into, and the wire [`Histogram`]
//! built from per-bar counts. Search histograms and rule-test previews both choose
//! their bars here (they kept two width ladders, and the preview's ran out at 2 h so
//! that a long replay broke its 3000-bucket bound); a client reads a bar back with
//! [`Histogram::bar_range`], the inverse of [`Bars::histogram`].

use crate::protocol::{Bucket, Histogram, TimeRange};
use crate::Timestamp;

const MS: i64 = 1_000_000;
const S: i64 = 1_000_000_000;
const MIN: i64 = 60 * S;
const H: i64 = 60 * MIN;
const DAY: i64 = 24 * H;
/// The widest round width; beyond it, whole weeks.
const WEEK: i64 = 7 * DAY;

/// Round bar widths in nanoseconds, smallest first: widths a reader takes in at a
/// glance on an axis (1 s, 5 s, 1 m, 5 m, 1 h, 1 d…).
pub const ROUND_WIDTHS: [i64; 22] = [
    MS,
    10 * MS,
    100 * MS,
    S,
    2 * S,
    5 * S,
    10 * S,
    15 * S,
    30 * S,
    MIN,
    2 * MIN,
    5 * MIN,
    10 * MIN,
    15 * MIN,
    30 * MIN,
    H,
    2 * H,
    3 * H,
    6 * H,
    12 * H,
    DAY,
    WEEK,
];

/// The smallest round width that `accept` takes and that cuts `span` nanoseconds into
/// at most `max_bars` bars; `None` when none does (see [`weeks_width`]).
pub fn round_width(span: i128, max_bars: i64, accept: impl Fn(i64) -> bool) -> Option<i64> {
    let span = span.max(1);
    ROUND_WIDTHS
        .iter()
        .copied()
        .filter(|w| accept(*w))
        .find(|w| span / (*w as i128) <= max_bars as i128)
}

/// Whole weeks cutting `span` into at most `max_bars` bars: past the round widths.
pub fn weeks_width(span: i128, max_bars: i64) -> i64 {
    let weeks = span.max(1) / (max_bars.max(1) as i128 * WEEK as i128) + 1;
    i64::try_from(weeks)
        .unwrap_or(i64::MAX)
        .saturating_mul(WEEK)
}

/// How a span is cut into bars: `n` bars of `width` nanoseconds from `start`
/// (nanoseconds since the epoch); bar `i` holds `start + i·width <= ts < start + (i+1)·width`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bars {
    pub start: i64,
    pub width: i64,
    pub n: usize,
}

impl Bars {
    /// `n` bars of `width` from `start`. The width is rounded up to whole milliseconds
    /// (at least one): the wire carries it in milliseconds, and a reader must find the
    /// bars where they are.
    pub fn new(start: i64, width: i64, n: usize) -> Bars {
        let ms = (width.max(1) as u64).div_ceil(MS as u64) as i64;
        let width = ms.saturating_mul(MS);
        Bars { start, width, n }
    }

    /// Bars of `width` from `from` on, as many as cover `[from, until)`.
    pub fn covering(from: i64, until: i64, width: i64) -> Bars {
        let b = Bars::new(from, width, 0);
        let span = (until as i128 - from as i128).max(0);
        let n = (span + b.width as i128 - 1) / b.width as i128;
        Bars {
            n: usize::try_from(n).unwrap_or(usize::MAX),
            ..b
        }
    }

    /// Bars for `[from, until)` at a glance: the smallest round width giving at most
    /// `max_bars` bars (whole weeks past the widest), aligned on multiples of the
    /// width so bars start at round times. At most 1000 bars, at least one.
    pub fn round(from: i64, until: i64, max_bars: i64) -> Bars {
        let span = until as i128 - from as i128;
        let width =
            round_width(span, max_bars, |_| true).unwrap_or_else(|| weeks_width(span, max_bars));
        let start = from.div_euclid(width).saturating_mul(width);
        let n =
            ((until as i128 - start as i128 + width as i128 - 1) / width as i128).clamp(1, 1000);
        Bars {
            start,
            width,
            n: n as usize,
        }
    }

    /// Where bar `i` starts.
    pub fn start_of(&self, i: usize) -> Timestamp {
        let i = i64::try_from(i).unwrap_or(i64::MAX);
        Timestamp(self.start.saturating_add(self.width.saturating_mul(i)))
    }

    /// The wire histogram of these bars, oldest first, from one count per bar.
    pub fn histogram(&self, counts: impl IntoIterator<Item = u64>) -> Histogram {
        Histogram {
            width_ms: u64::try_from(self.width / MS).unwrap_or(0),
            buckets: counts
                .into_iter()
                .enumerate()
                .map(|(i, count)| Bucket {
                    start: self.start_of(i),
                    count,
                })
                .collect(),
        }
    }
}

impl Histogram {
    /// The time range bar `i` counts, `[start, start + width)`: what to search to see
    /// its entries.
    pub fn bar_range(&self, i: usize) -> Option<TimeRange> {
        let b = self.buckets.get(i)?;
        let width = i64::try_from(self.width_ms).ok()?.checked_mul(MS)?;
        Some(TimeRange {
            since: None,
            from: Some(b.start),
            until: Some(b.start.add_nanos(width)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_bars_are_aligned_and_bounded() {
        let from = 1_764_000_123 * S;
        let b = Bars::round(from, from + 6 * H, 120);
        assert_eq!(b.width, 5 * MIN);
        assert_eq!(b.start % b.width, 0);
        assert!(b.start <= from && b.n <= 121);
        // Beyond the round widths: whole weeks, still at most 120 bars.
        let b = Bars::round(0, 1000 * WEEK, 120);
        assert_eq!(b.width % WEEK, 0);
        assert!(b.n <= 121, "{b:?}");
        assert_eq!(Bars::round(5, 5, 120).n, 1);
    }

    #[test]
    fn widths_can_be_restricted() {
        // A 5 m window wants steps dividing it: 2 m is skipped for 5 m.
        let span = 10 * 86_400 * S as i128;
        let w = round_width(span, 3000, |w| w >= S && (5 * MIN) % w == 0);
        assert_eq!(w, Some(5 * MIN));
        assert_eq!(round_width(span, 3000, |w| w >= S), Some(5 * MIN));
        assert_eq!(round_width(span, 10, |w| (5 * MIN) % w == 0), None);
    }

    #[test]
    fn a_histogram_reads_back_bar_by_bar() {
        let b = Bars::covering(10 * S, 20 * S + 1, 5 * S);
        assert_eq!(b.n, 3);
        let h = b.histogram([1, 2, 3]);
        assert_eq!(h.width_ms, 5000);
        let r = h.bar_range(1).unwrap();
        assert_eq!(r.from, Some(Timestamp(15 * S)));
        assert_eq!(r.until, Some(Timestamp(20 * S)));
        assert!(h.bar_range(3).is_none());
        // A width finer than the wire's milliseconds is widened, not misreported.
        let b = Bars::covering(0, 10 * MS, MS + 1);
        assert_eq!((b.width, b.n), (2 * MS, 5));
    }
}
