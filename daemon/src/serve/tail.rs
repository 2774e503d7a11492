//! What a new tail subscription receives before its live entries: a backfill of the
//! newest matching entries, or a resume after the client's last entry.
//!
//! Three sources cover a tail without gap or duplicate, split by `seq`:
//! - the index, for entries older than the live ring (`seq < ring.first_seq()`);
//! - the [`RingSnapshot`] taken when the subscription was registered;
//! - the subscription's own queue, for everything published after registration.
//!
//! Every subscription delivers strictly increasing `seq`s, so "resume after cursor"
//! means "every matching entry with `seq > cursor.seq`", which is exact. The index
//! orders by time, not `seq`, so its part is fetched by time from a little before the
//! cursor (entries ingested after the cursor but stamped more than [`RESUME_SKEW`]
//! earlier are the one thing it cannot find) and then sorted by `seq`.

use std::sync::Arc;

use lookout_shared::protocol::{Cursor, Order, SearchParams, TimeRange};
use lookout_shared::query::Query;
use lookout_shared::LogEntry;

use crate::footprint::entry_bytes;
use crate::index::Index;
use crate::live::{DropNotice, Item, RingSnapshot};

/// How far before the resume cursor's timestamp the index is searched.
pub const RESUME_SKEW_NANOS: i64 = 5 * 60 * 1_000_000_000;
/// Documentation alias of [`RESUME_SKEW_NANOS`].
pub const RESUME_SKEW: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// How much history a tail's initial part may read from the index: entries, and
/// bytes of those entries ([`crate::footprint::entry_bytes`]). The index stores
/// lines up to 1 MiB, so 10,000 backfilled entries could otherwise be 10 GiB.
/// Entries from the ring cost nothing here: they are shared, not read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Replay {
    pub entries: usize,
    pub bytes: usize,
}

/// How a subscription starts.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Start {
    Backfill(u32),
    Resume(Cursor),
}

/// The entries to send first, and a non-fatal problem to report.
#[derive(Debug, Default)]
pub(crate) struct Initial {
    pub items: Vec<Item>,
    pub warning: Option<String>,
}

/// Index page size while gathering history: the largest page a search serves,
/// so a long resume takes as few index round trips as it can.
const PAGE: u32 = lookout_shared::limits::MAX_PAGE;

/// Extra entries asked for on a backfill's first page: the newest ones may also be
/// in the ring (and are skipped), so a page of exactly `want` would often fall short
/// and cost a second search.
const BACKFILL_SLACK: u32 = 64;

/// Computes the initial entries; blocking (index searches).
pub(crate) fn initial(
    index: Option<&Index>,
    snap: &RingSnapshot,
    query: &Query,
    start: Start,
    max: Replay,
) -> Initial {
    let boundary = snap.first_seq();
    let below_ring = |e: &LogEntry| boundary.is_none_or(|b| e.seq < b);
    match start {
        Start::Resume(c) => {
            let mut out = Initial::default();
            // Entries with seq in (c.seq, boundary) can only be in the index.
            let needs_index = boundary.is_none_or(|b| c.seq.saturating_add(1) < b);
            if needs_index {
                match index {
                    None => {
                        if boundary.is_some() {
                            out.warning = Some(
                                "index not open: entries older than the live buffer were not replayed"
                                    .into(),
                            )
                        }
                    }
                    Some(ix) => {
                        let mut params = SearchParams {
                            query: query.text().to_string(),
                            range: TimeRange {
                                from: Some(c.ts.add_nanos(-RESUME_SKEW_NANOS)),
                                ..Default::default()
                            },
                            limit: PAGE,
                            order: Order::OldestFirst,
                            ..Default::default()
                        };
                        let mut got: Vec<Arc<LogEntry>> = Vec::new();
                        let mut bytes = 0usize;
                        let mut scanned: u64 = 0;
                        let mut total: u64 = 0;
                        let mut truncated = false;
                        loop {
                            match ix.search(&params) {
                                Ok(page) => {
                                    total = total.max(page.total);
                                    let n = page.entries.len();
                                    for (i, e) in page.entries.into_iter().enumerate() {
                                        if bytes >= max.bytes {
                                            // The rest of this page is not taken either.
                                            scanned += i as u64;
                                            truncated = true;
                                            break;
                                        }
                                        if e.seq > c.seq && below_ring(&e) {
                                            bytes += entry_bytes(&e);
                                            got.push(Arc::new(e));
                                        }
                                    }
                                    if truncated {
                                        break;
                                    }
                                    scanned += n as u64;
                                    if got.len() >= max.entries {
                                        truncated = page.next_cursor.is_some();
                                        break;
                                    }
                                    match page.next_cursor {
                                        Some(n) => params.cursor = Some(n),
                                        None => break,
                                    }
                                }
                                Err(e) => {
                                    out.warning = Some(format!(
                                        "resume from the index failed ({e}); replaying the live buffer only"
                                    ));
                                    break;
                                }
                            }
                        }
                        got.sort_by_key(|e| e.seq);
                        let last_ts = got.last().map(|e| e.ts);
                        out.items.extend(got.into_iter().map(Item::Entry));
                        if truncated {
                            let from = last_ts.unwrap_or(c.ts);
                            let until = lookout_shared::Timestamp::now();
                            out.items.push(Item::Dropped(DropNotice {
                                count: total.saturating_sub(scanned).max(1),
                                from,
                                until: until.max(from),
                            }));
                        }
                    }
                }
            }
            out.items
                .extend(snap.after(query, c.seq).into_iter().map(Item::Entry));
            out
        }
        Start::Backfill(n) => {
            let n = n as usize;
            let mut out = Initial::default();
            let ring = snap.newest(query, n);
            let mut older: Vec<Arc<LogEntry>> = Vec::new();
            let mut bytes = 0usize;
            if ring.len() < n {
                if let Some(ix) = index {
                    let want = n - ring.len();
                    let mut params = SearchParams {
                        query: query.text().to_string(),
                        limit: PAGE.min(want as u32 + BACKFILL_SLACK),
                        order: Order::NewestFirst,
                        ..Default::default()
                    };
                    loop {
                        match ix.search(&params) {
                            Ok(page) => {
                                for e in page.entries {
                                    if below_ring(&e) && older.len() < want && bytes < max.bytes {
                                        bytes += entry_bytes(&e);
                                        older.push(Arc::new(e));
                                    }
                                }
                                match page.next_cursor {
                                    Some(c) if older.len() < want && bytes < max.bytes => {
                                        params.cursor = Some(c)
                                    }
                                    _ => break,
                                }
                            }
                            Err(e) => {
                                out.warning = Some(format!(
                                    "backfill from the index failed ({e}); sent the live buffer only"
                                ));
                                break;
                            }
                        }
                    }
                }
            }
            older.sort_by_key(|e| e.seq);
            out.items.extend(older.into_iter().map(Item::Entry));
            out.items.extend(ring.into_iter().map(Item::Entry));
            out
        }
    }
}
