//! The index's exported metrics, and what it tells readiness.

use std::sync::{Arc, Mutex};

use super::IndexStats;

/// The index's exported metrics (see [`crate::metrics`]), set by the writer after
/// every commit, failure and retention pass, and by the verifier.
#[derive(Clone, Debug)]
pub struct IndexMetrics {
    pub open: prometheus::IntGauge,
    pub size_bytes: prometheus::IntGauge,
    pub docs: prometheus::IntGauge,
    pub buckets: prometheus::IntGauge,
    pub last_commit_seconds: prometheus::Gauge,
    /// Buckets found damaged and quarantined since start.
    pub quarantined: prometheus::IntCounter,
    /// Quarantined bucket directories still on disk.
    pub quarantined_buckets: prometheus::IntGauge,
    /// Bytes the background verifier has checksummed (its I/O cost).
    pub verified_bytes: prometheus::IntCounter,
    /// Why the index is not ready (empty when it is), for `/readyz`.
    problems: Arc<Mutex<Vec<String>>>,
}

impl IndexMetrics {
    pub fn register(r: &prometheus::Registry) -> prometheus::Result<Self> {
        use crate::metrics::family::{counter, float_gauge, gauge};
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
            quarantined: counter(
                r,
                "lookout_index_quarantined_total",
                "Index buckets found damaged (checksum, missing or unreadable file) and \
                 renamed aside since start.",
            )?,
            quarantined_buckets: gauge(
                r,
                "lookout_index_quarantined_buckets",
                "Quarantined bucket directories still in the data dir.",
            )?,
            verified_bytes: counter(
                r,
                "lookout_index_verified_bytes_total",
                "Bytes of index files checksummed by the background verifier.",
            )?,
            problems: Arc::default(),
        })
    }

    pub(super) fn show(&self, s: &IndexStats, writing: bool) {
        use crate::metrics::family::as_gauge;
        self.open.set(i64::from(writing && s.error.is_none()));
        self.size_bytes.set(as_gauge(s.bytes));
        self.docs.set(as_gauge(s.docs));
        self.buckets.set(as_gauge(s.buckets));
        self.last_commit_seconds.set(s.last_commit_ms / 1000.0);
        self.quarantined_buckets
            .set(as_gauge(s.quarantined.len() as u64));
        let mut problems = Vec::new();
        if let Some(e) = &s.error {
            problems.push(format!("indexing stopped: {e}"));
        }
        for q in &s.quarantined {
            problems.push(format!(
                "damaged index bucket quarantined at {} (its entries are not served; \
                 collection continues in a fresh bucket; inspect it, then remove it)",
                q.display()
            ));
        }
        *crate::sync::lock(&self.problems) = problems;
    }

    /// Why the index is not ready: indexing stopped (and why), quarantined buckets.
    pub fn problems(&self) -> Vec<String> {
        crate::sync::lock(&self.problems).clone()
    }
}
