//! Offering a published batch to every subscription, outside any shared lock.
//!
//! The ingest thread takes [`super::Live`]'s lock only to append to the ring and
//! copy the pointer to the current subscription list; matching and queueing happen
//! after it is released, against that list. A subscriber registering or leaving
//! meanwhile swaps in a new list and never waits for the matching: with 576
//! match-everything tails, matching one batch under the old single lock kept both
//! runtime threads waiting long enough that `/healthz` timed out for 20 s.
//!
//! The work per subscription is bounded: one evaluation of its (size- and
//! depth-limited) query per entry of the batch, and one take of its queue's lock.
//! Evaluations are counted (`lookout_live_match_evaluations_total`).

use std::sync::Arc;

use lookout_shared::LogEntry;

use super::subscription::Subscription;
use crate::matcher::Matches;

/// What one fan-out did.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Offered {
    /// Entries not queued because a queue was full (once per subscription).
    pub dropped: u64,
    /// Query evaluations.
    pub evaluations: u64,
}

/// Offers `batch` (`sizes[i]` the footprint of `batch[i]`) to each of `subs`.
pub(super) fn offer_all(
    subs: &[Arc<Subscription>],
    batch: &[Arc<LogEntry>],
    sizes: &[usize],
) -> Offered {
    let mut done = Offered::default();
    let mut matching: Vec<(Arc<LogEntry>, usize)> = Vec::with_capacity(batch.len());
    for sub in subs {
        if sub.is_closed() {
            continue;
        }
        matching.clear();
        matching.extend(
            batch
                .iter()
                .zip(sizes)
                .filter(|(e, _)| sub.query().matches(e))
                .map(|(e, s)| (Arc::clone(e), *s)),
        );
        done.evaluations += batch.len() as u64;
        if !matching.is_empty() {
            done.dropped += sub.offer(&matching);
        }
    }
    done
}
