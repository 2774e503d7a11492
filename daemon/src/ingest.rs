//! The stage between the collector and its consumers: sets `level` and `seq` on each
//! entry, then hands the batch to every [`EntrySink`] (live tail, alerting) and to the
//! index writer.
//!
//! CONTRACT: sinks must not block (the live fan-out counts drops per subscriber
//! instead); only the index channel may exert back-pressure, which pauses the
//! collector.

use std::sync::Arc;

use lookout_shared::LogEntry;

/// A consumer of freshly ingested entries (live tail, alert evaluation).
pub trait EntrySink: Send + Sync {
    /// Called once per batch, in ingest order. Must return quickly.
    fn publish(&self, entries: &[Arc<LogEntry>]);
}
