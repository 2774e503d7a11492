//! Retention: which sealed buckets go, and removing them.
//!
//! Whole buckets are dropped, never single entries: first those whose newest entry
//! is older than the retention, then the oldest while the total exceeds `max_disk`.
//! The active (newest) bucket is never dropped. Each bucket's metadata is read under
//! the daemon's lock policy ([`crate::sync`]): a poisoned lock yields the metadata as
//! it was, so a bucket is never taken for empty, and deleted, because its metadata
//! could not be read.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use lookout_shared::Timestamp;

use super::bucket::{Bucket, BucketMeta};
use crate::sync::{read, write};

/// Why a bucket is dropped (for the log line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Age,
    MaxDisk,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::Age => "retention age",
            Reason::MaxDisk => "max disk",
        }
    }
}

/// Indexes into `metas` (oldest first, the last one active) of the buckets to drop.
/// `cutoff` is in nanoseconds since the epoch: a sealed bucket whose newest entry is
/// older, or that holds none, has expired.
pub fn plan(metas: &[BucketMeta], cutoff: i64, max_disk: u64) -> Vec<(usize, Reason)> {
    let n = metas.len();
    let mut dropped = Vec::new();
    let mut kept = Vec::with_capacity(n);
    for (i, m) in metas.iter().enumerate() {
        let expired = m.max_ts.is_none_or(|t| t < cutoff);
        if i + 1 < n && expired {
            dropped.push((i, Reason::Age));
        } else {
            kept.push(i);
        }
    }
    let mut size: u64 = kept.iter().map(|&i| metas[i].bytes).sum();
    let mut oldest = 0;
    while kept.len() - oldest > 1 && size > max_disk {
        let i = kept[oldest];
        size -= metas[i].bytes;
        dropped.push((i, Reason::MaxDisk));
        oldest += 1;
    }
    dropped
}

/// Applies [`plan`] to `buckets` now: removes the dropped ones from the list, then
/// deletes their directories. Returns the dropped buckets.
pub fn apply(
    buckets: &RwLock<Vec<Arc<Bucket>>>,
    retention: Duration,
    max_disk: u64,
) -> Vec<Arc<Bucket>> {
    let cutoff = Timestamp::now()
        .0
        .saturating_sub(i64::try_from(retention.as_nanos()).unwrap_or(i64::MAX));
    let mut dropped = Vec::new();
    {
        let mut v = write(buckets);
        let metas: Vec<BucketMeta> = v.iter().map(|b| read(&b.meta).clone()).collect();
        let drop_list = plan(&metas, cutoff, max_disk);
        if drop_list.is_empty() {
            return Vec::new();
        }
        let mut reasons = vec![None; v.len()];
        for (i, why) in drop_list {
            reasons[i] = Some(why);
        }
        let mut keep = Vec::with_capacity(v.len());
        for (b, why) in v.drain(..).zip(reasons) {
            match why {
                Some(why) => dropped.push((b, why)),
                None => keep.push(b),
            }
        }
        *v = keep;
    }
    for (b, why) in &dropped {
        tracing::info!(bucket = b.id, path = %b.path.display(), reason = why.as_str(), "dropping index bucket");
        if let Err(e) = std::fs::remove_dir_all(&b.path) {
            tracing::warn!(error = %e, path = %b.path.display(), "cannot remove bucket");
        }
    }
    dropped.into_iter().map(|(b, _)| b).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(max_ts: Option<i64>, bytes: u64) -> BucketMeta {
        BucketMeta {
            min_ts: max_ts,
            max_ts,
            bytes,
            created_ms: 0,
        }
    }

    #[test]
    fn age_then_size_never_the_active_bucket() {
        let metas = [
            meta(Some(5), 10),
            meta(None, 10),
            meta(Some(50), 10),
            meta(Some(60), 10),
            meta(Some(1), 10),
        ];
        // Cutoff 20: 0 (old) and 1 (empty) expire; 4 is old but active.
        assert_eq!(plan(&metas, 20, 100), [(0, Reason::Age), (1, Reason::Age)]);
        // And 2 goes for size: 2, 3, 4 hold 30 bytes against 25.
        assert_eq!(
            plan(&metas, 20, 25),
            [(0, Reason::Age), (1, Reason::Age), (2, Reason::MaxDisk)]
        );
        assert_eq!(plan(&metas[4..], 20, 0), []);
    }
}
