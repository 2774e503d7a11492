//! The exact merge of the nodes' search pages: pure code, no I/O.
//!
//! A daemon orders its entries by `(ts, seq)`; `seq` counts per node, so across
//! nodes the hub orders by `(ts, node, seq)`, the node's name breaking ties. The
//! last entry of a page, with its node, says where the merged walk stands; from it
//! each node's own cursor follows ([`node_cursor`]), so the next page asks every
//! node for exactly the entries still ahead of the walk: no gap, no repeat.
//!
//! Each node is asked for a full page after its cursor; the merged page is the
//! first `limit` of their union, which is exact because no node can contribute
//! more than `limit` entries to it.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use lookout_shared::protocol::{Bucket, Cursor, Histogram, Order, SearchPage};
use lookout_shared::{LogEntry, Timestamp};

/// Most bars a merged histogram fills in between the nodes' own bars.
const MAX_BARS: usize = 2000;

/// The cursor a node gets for the merged walk standing after `(at, at_node)`.
///
/// Daemon cursors are exclusive, in the page's order; the ones built here take
/// in every entry of `node` whose `(ts, node, seq)` is still ahead of the walk.
pub fn node_cursor(order: Order, at: Cursor, at_node: &str, node: &str) -> Cursor {
    let ts = at.ts.0;
    match (order, node.cmp(at_node)) {
        (_, Ordering::Equal) => at,
        // Newest first: ahead means smaller keys. A node sorting before the
        // cursor's still has its entries at `ts`; one after it, only older ones.
        (Order::NewestFirst, Ordering::Less) => Cursor {
            ts: Timestamp(ts.saturating_add(1)),
            seq: 0,
        },
        (Order::NewestFirst, Ordering::Greater) => Cursor {
            ts: Timestamp(ts),
            seq: 0,
        },
        // Oldest first: ahead means larger keys; mirror image.
        (Order::OldestFirst, Ordering::Greater) => Cursor {
            ts: Timestamp(ts.saturating_sub(1)),
            seq: u64::MAX,
        },
        (Order::OldestFirst, Ordering::Less) => Cursor {
            ts: Timestamp(ts),
            seq: u64::MAX,
        },
    }
}

/// The merged order's comparison of two entries of named nodes.
fn cmp_key(order: Order, a: (&str, &LogEntry), b: (&str, &LogEntry)) -> Ordering {
    let ka = (a.1.ts, a.0, a.1.seq);
    let kb = (b.1.ts, b.0, b.1.seq);
    match order {
        Order::NewestFirst => kb.cmp(&ka),
        Order::OldestFirst => ka.cmp(&kb),
    }
}

/// Merges the pages the nodes answered (each with the node's name) into one page
/// of at most `limit` entries. `nodes` and `missing` are left for the caller.
pub fn merge_pages(order: Order, limit: usize, pages: Vec<(String, SearchPage)>) -> SearchPage {
    let mut more = false;
    let mut total = 0u64;
    let mut hists = Vec::new();
    let mut all: Vec<(String, LogEntry)> = Vec::new();
    for (node, page) in pages {
        more |= page.next_cursor.is_some();
        total = total.saturating_add(page.total);
        if let Some(h) = page.histogram {
            hists.push(h);
        }
        all.extend(page.entries.into_iter().map(|e| (node.clone(), e)));
    }
    all.sort_by(|a, b| cmp_key(order, (&a.0, &a.1), (&b.0, &b.1)));
    more |= all.len() > limit;
    all.truncate(limit);
    let next = if more {
        all.last().map(|(n, e)| (Cursor::of(e), n.clone()))
    } else {
        None
    };
    SearchPage {
        entries: all.into_iter().map(|(_, e)| e).collect(),
        total,
        histogram: merge_histograms(hists),
        next_cursor: next.as_ref().map(|(c, _)| *c),
        next_cursor_node: next.map(|(_, n)| n),
        ..Default::default()
    }
}

/// Adds the nodes' histograms bar by bar.
///
/// Given the same absolute range, every daemon picks the same bars (round widths
/// aligned on multiples of the width), and the sum is exact. When the range is
/// open, each node sizes bars from its own data; then every bar is counted in the
/// widest width's bar that holds its start, which stays exact while the widths
/// nest (the daemons' round widths are multiples of one another).
pub fn merge_histograms(hists: Vec<Histogram>) -> Option<Histogram> {
    let width_ms = hists.iter().map(|h| h.width_ms).max()?;
    let width = i64::try_from(width_ms.max(1))
        .unwrap_or(i64::MAX / 1_000_000)
        .saturating_mul(1_000_000);
    let mut sums: BTreeMap<i64, u64> = BTreeMap::new();
    for h in &hists {
        for b in &h.buckets {
            let start = b.start.0.div_euclid(width).saturating_mul(width);
            *sums.entry(start).or_default() += b.count;
        }
    }
    let (first, last) = match (sums.keys().next(), sums.keys().next_back()) {
        (Some(f), Some(l)) => (*f, *l),
        _ => {
            return Some(Histogram {
                width_ms,
                buckets: Vec::new(),
            })
        }
    };
    let span = (i128::from(last) - i128::from(first)) / i128::from(width) + 1;
    let buckets = if span <= MAX_BARS as i128 {
        // Contiguous, as a daemon's are: the bars no node had are zero.
        (0..span as i64)
            .map(|i| {
                let start = first.saturating_add(i.saturating_mul(width));
                Bucket {
                    start: Timestamp(start),
                    count: sums.get(&start).copied().unwrap_or(0),
                }
            })
            .collect()
    } else {
        sums.into_iter()
            .map(|(start, count)| Bucket {
                start: Timestamp(start),
                count,
            })
            .collect()
    };
    Some(Histogram { width_ms, buckets })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(ts: i64, seq: u64) -> LogEntry {
        LogEntry {
            ts: Timestamp(ts),
            seq,
            ..Default::default()
        }
    }

    /// Walks `nodes` (each node's entries) page by page through the merge, asking
    /// each node as a daemon would (entries after its cursor, in order).
    fn walk(
        order: Order,
        limit: usize,
        nodes: &[(&str, Vec<LogEntry>)],
    ) -> Vec<(String, i64, u64)> {
        let mut got = Vec::new();
        let mut at: Option<(Cursor, String)> = None;
        loop {
            let pages = nodes
                .iter()
                .map(|(name, entries)| {
                    let mut mine: Vec<LogEntry> = entries.clone();
                    mine.sort_by_key(Cursor::of);
                    if order == Order::NewestFirst {
                        mine.reverse();
                    }
                    let c = at.as_ref().map(|(c, n)| node_cursor(order, *c, n, name));
                    let ahead: Vec<LogEntry> = mine
                        .into_iter()
                        .filter(|x| match (c, order) {
                            (None, _) => true,
                            (Some(c), Order::NewestFirst) => Cursor::of(x) < c,
                            (Some(c), Order::OldestFirst) => Cursor::of(x) > c,
                        })
                        .collect();
                    let more = ahead.len() > limit;
                    let entries: Vec<LogEntry> = ahead.into_iter().take(limit).collect();
                    let page = SearchPage {
                        next_cursor: if more {
                            entries.last().map(Cursor::of)
                        } else {
                            None
                        },
                        entries,
                        ..Default::default()
                    };
                    (name.to_string(), page)
                })
                .collect();
            let page = merge_pages(order, limit, pages);
            for x in &page.entries {
                got.push((x.node.clone(), x.ts.0, x.seq));
            }
            match (page.next_cursor, page.next_cursor_node) {
                (Some(c), Some(n)) => at = Some((c, n)),
                _ => return got,
            }
        }
    }

    #[test]
    fn paging_across_nodes_has_no_gap_and_no_repeat() {
        // Equal timestamps across nodes and within one, equal seqs across nodes.
        let mk = |node: &str, v: &[(i64, u64)]| -> Vec<LogEntry> {
            v.iter()
                .map(|&(t, s)| LogEntry {
                    node: node.into(),
                    ..e(t, s)
                })
                .collect()
        };
        let nodes = [
            ("a", mk("a", &[(1, 1), (5, 2), (5, 3), (9, 4), (9, 5)])),
            ("b", mk("b", &[(5, 1), (5, 2), (9, 3), (10, 4)])),
            (
                "c",
                mk("c", &[(1, 1), (2, 2), (5, 3), (5, 4), (5, 5), (9, 6)]),
            ),
        ];
        let mut want: Vec<(String, i64, u64)> = nodes
            .iter()
            .flat_map(|(_, v)| v.iter().map(|x| (x.node.clone(), x.ts.0, x.seq)))
            .collect();
        want.sort_by(|a, b| (a.1, &a.0, a.2).cmp(&(b.1, &b.0, b.2)));
        for limit in 1..=6 {
            assert_eq!(
                walk(Order::OldestFirst, limit, &nodes),
                want,
                "limit {limit}"
            );
            let mut rev = want.clone();
            rev.reverse();
            assert_eq!(
                walk(Order::NewestFirst, limit, &nodes),
                rev,
                "limit {limit}"
            );
        }
    }

    #[test]
    fn totals_and_histograms_add_up() {
        let h = |w: u64, bars: &[(i64, u64)]| Histogram {
            width_ms: w,
            buckets: bars
                .iter()
                .map(|&(s, count)| Bucket {
                    start: Timestamp(s * 1_000_000),
                    count,
                })
                .collect(),
        };
        let m = merge_histograms(vec![
            h(1000, &[(0, 1), (1000, 2)]),
            h(1000, &[(1000, 3), (2000, 4)]),
        ])
        .unwrap();
        assert_eq!(m.width_ms, 1000);
        let counts: Vec<u64> = m.buckets.iter().map(|b| b.count).collect();
        assert_eq!(counts, vec![1, 5, 4]);
        // Nested widths: 5 s bars fold into a 10 s grid.
        let m = merge_histograms(vec![
            h(10_000, &[(0, 1)]),
            h(5000, &[(0, 2), (5000, 3), (10_000, 4)]),
        ])
        .unwrap();
        let counts: Vec<u64> = m.buckets.iter().map(|b| b.count).collect();
        assert_eq!((m.width_ms, counts), (10_000, vec![6, 4]));
        assert!(merge_histograms(Vec::new()).is_none());
        let p = merge_pages(
            Order::NewestFirst,
            10,
            vec![
                (
                    "a".into(),
                    SearchPage {
                        total: 7,
                        ..Default::default()
                    },
                ),
                (
                    "b".into(),
                    SearchPage {
                        total: 5,
                        ..Default::default()
                    },
                ),
            ],
        );
        assert_eq!((p.total, p.next_cursor), (12, None));
    }
}
