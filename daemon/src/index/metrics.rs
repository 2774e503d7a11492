//! The index's exported metrics.

use super::IndexStats;

/// The index's exported metrics (see [`crate::metrics`]), set by the writer after
/// every commit, failure and retention pass.
#[derive(Clone, Debug)]
pub struct IndexMetrics {
    pub open: prometheus::IntGauge,
    pub size_bytes: prometheus::IntGauge,
    pub docs: prometheus::IntGauge,
    pub buckets: prometheus::IntGauge,
    pub last_commit_seconds: prometheus::Gauge,
}

impl IndexMetrics {
    pub fn register(r: &prometheus::Registry) -> prometheus::Result<Self> {
        use crate::metrics::family::{float_gauge, gauge};
        Ok(IndexMetrics {
            open: gauge(
                r,
                "lookout_index_open",
                "1 when the index is open and accepting writes.",
            )?,
            size_bytes: gauge(
                r,
                "lookout_index_size_bytes",
                "Bytes the index occupies on disk.",
            )?,
            docs: gauge(r, "lookout_index_docs", "Entries stored in the index.")?,
            buckets: gauge(
                r,
                "lookout_index_buckets",
                "Time buckets (tantivy indexes) held.",
            )?,
            last_commit_seconds: float_gauge(
                r,
                "lookout_index_last_commit_seconds",
                "How long the last index commit took.",
            )?,
        })
    }

    pub(super) fn show(&self, s: &IndexStats, writing: bool) {
        use crate::metrics::family::as_gauge;
        self.open.set(i64::from(writing && s.error.is_none()));
        self.size_bytes.set(as_gauge(s.bytes));
        self.docs.set(as_gauge(s.docs));
        self.buckets.set(as_gauge(s.buckets));
        self.last_commit_seconds.set(s.last_commit_ms / 1000.0);
    }
}
