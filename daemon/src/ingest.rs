//! The stage between the collector and its consumers: sets `fields`, `level`, `pattern` and
//! `seq` on each entry, then hands the batch to every [`EntrySink`] (live tail, alerting) and to the
//! index writer.
//!
//! CONTRACT: sinks must not block (the live fan-out counts drops per subscriber
//! instead); only the index channel may exert back-pressure, which pauses the
//! collector.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crossbeam_channel::{Receiver, Sender};
use lookout_shared::LogEntry;

use crate::collect::Batch;
use crate::index::IngestBatch;
use crate::level;
use crate::pattern::miners::Miners;
use crate::shutdown::Shutdown;

/// A consumer of freshly ingested entries (live tail, alert evaluation).
pub trait EntrySink: Send + Sync {
    /// Called once per batch, in ingest order. Must return quickly.
    fn publish(&self, entries: &[Arc<LogEntry>]);
}

/// The sinks ingest publishes to; more can be added while it runs (the server
/// registers the live fan-out and alerting once they start).
#[derive(Clone, Default)]
pub struct Sinks(Arc<RwLock<Vec<Arc<dyn EntrySink>>>>);

impl Sinks {
    /// Adds a sink; it sees every batch ingested from now on.
    pub fn add(&self, sink: Arc<dyn EntrySink>) {
        crate::sync::write(&self.0).push(sink);
    }

    fn publish(&self, entries: &[Arc<LogEntry>]) {
        let sinks = crate::sync::read(&self.0).clone();
        for s in sinks {
            s.publish(entries);
        }
    }
}

/// Running totals, for rates in health and status.
#[derive(Debug, Default)]
pub struct IngestCounters {
    pub entries: AtomicU64,
    pub bytes: AtomicU64,
}

/// Sets fields, level and seq on a collector batch; `next_seq` advances past it.
/// No patterns: [`prepare_with`] mines them.
pub fn prepare(batch: Batch, next_seq: &mut u64) -> IngestBatch {
    prepare_with(batch, next_seq, None)
}

/// [`prepare`], and each entry's pattern from its workload's miner in `patterns`.
pub fn prepare_with(batch: Batch, next_seq: &mut u64, patterns: Option<&Miners>) -> IngestBatch {
    let mut entries = batch.entries;
    for e in &mut entries {
        e.fields = lookout_shared::fields::extract(&e.message);
        e.level = level::of(&e.message, &e.fields);
        e.seq = *next_seq;
        *next_seq += 1;
    }
    if let Some(p) = patterns {
        p.assign(&mut entries);
    }
    let entries = entries.into_iter().map(Arc::new).collect();
    IngestBatch {
        entries,
        positions: batch.positions,
        next_seq: *next_seq,
    }
}

/// Why [`run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The shutdown signal came.
    Shutdown,
    /// The collector's channel closed: the collector thread ended.
    CollectorGone,
    /// The index writer's channel closed: the writer thread ended.
    WriterGone,
}

/// Runs ingest on the calling thread (the pipeline gives it one): `rx` from the
/// collector, `patterns` the index's miners, `index_tx` to the index writer (bounded: when the writer falls behind,
/// ingest waits and so does the collector). Returns when the collector's channel
/// closes, the writer's does, or `shutdown` comes, even while waiting on a writer
/// that is behind (a writer retrying after a disk error reads nothing). Returning
/// drops both channels, which stops the collector and makes the writer do its final
/// commit. Entries read but not yet indexed are simply read again after a restart:
/// their positions were never committed.
pub fn run(
    rx: Receiver<Batch>,
    next_seq: u64,
    patterns: &Miners,
    sinks: Sinks,
    index_tx: Sender<IngestBatch>,
    counters: &IngestCounters,
    shutdown: &Shutdown,
) -> Ended {
    let mut seq = next_seq;
    loop {
        let batch = crossbeam_channel::select! {
            recv(rx) -> b => match b {
                Ok(b) => b,
                Err(_) => return Ended::CollectorGone,
            },
            recv(shutdown.channel()) -> _ => return Ended::Shutdown,
        };
        let b = prepare_with(batch, &mut seq, Some(patterns));
        counters
            .entries
            .fetch_add(b.entries.len() as u64, Ordering::Relaxed);
        counters.bytes.fetch_add(
            b.entries.iter().map(|e| e.message.len() as u64).sum(),
            Ordering::Relaxed,
        );
        if !b.entries.is_empty() {
            sinks.publish(&b.entries);
        }
        crossbeam_channel::select! {
            send(index_tx, b) -> r => if r.is_err() {
                return Ended::WriterGone;
            },
            recv(shutdown.channel()) -> _ => return Ended::Shutdown,
        }
    }
}
