//! The index writer thread: adds ingested entries to the active bucket, commits them
//! with the collector positions they complete, rolls buckets and applies retention.
//!
//! Exactly-once: positions and `next_seq` travel in the same tantivy commit as the
//! entries they account for, so after any crash the newest bucket's last payload
//! says exactly which lines are stored. A failed commit (disk full, …) keeps the
//! uncommitted entries in memory, stops reading the channel (the collector pauses)
//! and retries until it succeeds; positions never run ahead of the data.
//!
//! When the verifier finds the active bucket damaged ([`super::integrity`]), the
//! writer replaces it: a fresh bucket created with the positions of the last
//! successful commit, the uncommitted entries added to it and committed, then the
//! damaged bucket quarantined. Lines committed only to the damaged bucket are lost
//! from search (the collector has moved past them; they stay in the quarantined
//! dir), and nothing is read twice.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use lookout_shared::LogEntry;
use tantivy::indexer::UserOperation;
use tantivy::IndexWriter;

use super::bucket::{dir_size, Bucket, Payload, FORMAT_VERSION};
use super::{IngestBatch, Shared};
use crate::collect::Positions;
use crate::shutdown::Shutdown;
use crate::sync::{read, write};

/// Commit early when this many entries wait, whatever the interval (they stay in
/// memory until their commit succeeds).
const MAX_PENDING: usize = 100_000;
/// Documents handed to tantivy's indexing threads per message.
const ADD_CHUNK: usize = 1024;
/// How often to retry after an indexing error.
const RETRY_EVERY: Duration = Duration::from_secs(1);
/// The pattern miners' state is written after a commit at most this often (and
/// after the final one): a few hundred KiB of JSON and an fsync each time.
/// Lines mined after the last save but committed are not read again after a
/// crash; their patterns are founded again by later lines, with the same ids.
const PATTERNS_EVERY: Duration = Duration::from_secs(5);

struct Writer {
    shared: Arc<Shared>,
    active: Arc<Bucket>,
    iw: Option<IndexWriter>,
    /// Entries added since the last successful commit (re-added after a failure).
    pending: Vec<Arc<LogEntry>>,
    /// Positions including every pending batch.
    positions: Positions,
    next_seq: u64,
    /// Positions and `next_seq` of the last successful commit.
    committed: (Positions, u64),
    /// Whether there is anything to commit (entries or position changes).
    dirty: bool,
    failed: bool,
    /// When the pattern state was last written.
    patterns_saved: Option<Instant>,
}

fn now_ms() -> i64 {
    lookout_shared::Timestamp::now().0 / 1_000_000
}

/// The writer loop, on the calling thread, until `rx` closes (then a final commit).
/// `shutdown` only matters while indexing is failing: the loop then waits for disk
/// space instead of reading `rx`, so it would never see the channel close; at
/// shutdown it makes a last few attempts and gives up, the uncommitted entries being
/// read again after the restart (their positions were not committed either).
pub(super) fn run(
    shared: Arc<Shared>,
    rx: Receiver<IngestBatch>,
    start: Payload,
    shutdown: &Shutdown,
) {
    let Some(active) = shared.active() else {
        tracing::error!("index writer started without a bucket");
        return;
    };
    let mut w = Writer {
        shared: shared.clone(),
        active,
        iw: None,
        pending: Vec::new(),
        committed: (start.positions.clone(), start.next_seq),
        positions: start.positions,
        next_seq: start.next_seq,
        dirty: false,
        failed: false,
        patterns_saved: None,
    };
    if w.active.index.schema() != shared.fields.schema {
        // An older format's bucket is read, never appended to: new entries go to a
        // bucket with every field of this format.
        w.roll();
    } else if let Err(e) = w.ensure_writer() {
        w.fail(format!("cannot open the index writer: {e}"));
    }
    let interval = shared.cfg.commit_interval.max(Duration::from_millis(10));
    let mut last_commit = Instant::now();
    loop {
        w.replace_if_condemned();
        if w.failed {
            if shutdown.wait_timeout(RETRY_EVERY) {
                w.finish();
                return;
            }
            w.recover();
            if w.failed {
                continue;
            }
            last_commit = Instant::now();
        }
        let deadline = last_commit + interval;
        let timeout = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(timeout) {
            Ok(batch) => w.add(batch),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                w.finish();
                return;
            }
        }
        if Instant::now() >= deadline || w.pending.len() >= MAX_PENDING {
            if w.dirty && !w.failed {
                w.commit();
            }
            if !w.failed {
                w.maintain();
            }
            last_commit = Instant::now();
        }
    }
}

impl Writer {
    /// Graceful stop: commit what we have; retry a few times on failure.
    fn finish(&mut self) {
        for _ in 0..5 {
            if self.failed {
                self.recover();
            } else if self.dirty {
                self.commit();
            }
            if !self.failed {
                break;
            }
            std::thread::sleep(RETRY_EVERY);
        }
        if !self.failed {
            self.save_patterns(true);
        }
        if let Some(iw) = self.iw.take() {
            let _ = iw.wait_merging_threads();
        }
        super::Index::show_metrics(&self.shared, false);
    }

    fn ensure_writer(&mut self) -> Result<(), tantivy::TantivyError> {
        if self.iw.is_none() {
            let threads = std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
                .clamp(1, 2);
            let iw = self
                .active
                .index
                .writer_with_num_threads(threads, threads * 48_000_000)?;
            self.iw = Some(iw);
        }
        Ok(())
    }

    fn fail(&mut self, msg: String) {
        // Say what the environment did (read-only, full, fds), not only tantivy's text.
        let fault = super::integrity::EnvFault::in_text(&msg)
            .or_else(|| super::bucket::env_fault_at(&self.active.path));
        let msg = match fault {
            Some(f) => format!("{}: {msg}", f.describe()),
            None => {
                // Not the environment: perhaps a damaged segment; check now.
                self.shared.verify_soon();
                msg
            }
        };
        tracing::error!(error = %msg, "indexing stopped; will retry without losing data");
        self.shared.set_error(Some(msg));
        self.failed = true;
        super::Index::show_metrics(&self.shared, true);
        // Dropping the writer discards its uncommitted docs; `pending` keeps them.
        self.iw = None;
    }

    fn add(&mut self, batch: IngestBatch) {
        self.positions.apply(&batch.positions);
        self.next_seq = self.next_seq.max(batch.next_seq);
        self.dirty = true;
        if let Err(e) = self.add_docs(&batch.entries) {
            self.pending.extend(batch.entries);
            self.fail(format!("adding documents failed: {e}"));
            return;
        }
        self.pending.extend(batch.entries);
    }

    fn add_docs(&mut self, entries: &[Arc<LogEntry>]) -> Result<(), tantivy::TantivyError> {
        self.ensure_writer()?;
        let f = &self.shared.fields;
        let known = f.known(&self.active.index.schema());
        if let Some(iw) = &self.iw {
            // One channel message per chunk instead of per document; chunks small
            // enough that both indexing threads get work from one batch.
            for chunk in entries.chunks(ADD_CHUNK) {
                iw.run(
                    chunk
                        .iter()
                        .map(|e| UserOperation::Add(f.to_doc_in(e, known)))
                        .collect::<Vec<_>>(),
                )?;
            }
        }
        Ok(())
    }

    fn payload(&self) -> Payload {
        let meta = read(&self.active.meta).clone();
        let (mut lo, mut hi) = (meta.min_ts, meta.max_ts);
        for e in &self.pending {
            let t = super::schema::stored_ts(e.ts.0);
            lo = Some(lo.map_or(t, |x: i64| x.min(t)));
            hi = Some(hi.map_or(t, |x: i64| x.max(t)));
        }
        Payload {
            version: FORMAT_VERSION,
            positions: self.positions.clone(),
            next_seq: self.next_seq,
            min_ts: lo,
            max_ts: hi,
            created_ms: meta.created_ms,
        }
    }

    fn commit(&mut self) {
        let t0 = Instant::now();
        let payload = self.payload();
        let res = (|| -> Result<(), String> {
            let json = serde_json::to_string(&payload).map_err(|e| e.to_string())?;
            self.ensure_writer().map_err(|e| e.to_string())?;
            let iw = self.iw.as_mut().ok_or("no index writer")?;
            let mut pc = iw.prepare_commit().map_err(|e| e.to_string())?;
            pc.set_payload(&json);
            pc.commit().map_err(|e| e.to_string())?;
            Ok(())
        })();
        if let Err(e) = res {
            self.fail(format!("commit failed: {e}"));
            return;
        }
        if let Err(e) = self.active.reader.reload() {
            tracing::warn!(error = %e, "reader reload failed");
            self.shared.verify_soon();
        } else {
            super::Index::note_searchable(&self.shared, payload.next_seq);
        }
        {
            let mut m = write(&self.active.meta);
            m.min_ts = payload.min_ts;
            m.max_ts = payload.max_ts;
            m.bytes = dir_size(&self.active.path);
        }
        self.pending.clear();
        self.dirty = false;
        self.committed = (payload.positions, payload.next_seq);
        self.shared
            .set_committed(t0.elapsed().as_secs_f64() * 1000.0);
        super::Index::show_metrics(&self.shared, true);
        self.save_patterns(false);
    }

    /// Writes the pattern state beside the index (see [`PATTERNS_EVERY`]); a
    /// failure is logged and retried at a later commit: it never stops indexing.
    fn save_patterns(&mut self, now: bool) {
        if !now
            && self
                .patterns_saved
                .is_some_and(|t| t.elapsed() < PATTERNS_EVERY)
        {
            return;
        }
        self.patterns_saved = Some(Instant::now());
        if let Err(e) = self.shared.patterns.save() {
            tracing::warn!(error = %e, "cannot write the pattern state; retrying after a later commit");
        }
    }

    /// After a failure: a fresh writer, every pending entry again, one commit.
    fn recover(&mut self) {
        self.iw = None;
        let condemned = crate::sync::lock(&self.shared.condemned)
            .as_ref()
            .is_some_and(|(id, _)| *id == self.active.id);
        if condemned {
            // Never commit into a damaged bucket: its replacement is retried first.
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        let res = self.add_docs(&pending);
        self.pending = pending;
        if let Err(e) = res {
            self.fail(format!("adding documents failed: {e}"));
            return;
        }
        self.failed = false;
        self.commit();
        if !self.failed {
            tracing::info!("indexing resumed");
            self.shared.set_error(None);
            super::Index::show_metrics(&self.shared, true);
        }
    }

    /// Replaces the active bucket if the verifier found it damaged (module docs).
    fn replace_if_condemned(&mut self) {
        let why = {
            let mut c = crate::sync::lock(&self.shared.condemned);
            match c.take() {
                Some((id, why)) if id == self.active.id => why,
                Some(other) => {
                    // It was sealed by a roll since: any other bucket is quarantined.
                    drop(c);
                    let b = self.shared.snapshot().into_iter().find(|b| b.id == other.0);
                    if let Some(b) = b {
                        self.shared.quarantine(&b, &other.1);
                    }
                    return;
                }
                None => return,
            }
        };
        self.iw = None;
        let (positions, next_seq) = self.committed.clone();
        let payload = Payload {
            version: FORMAT_VERSION,
            positions,
            next_seq,
            min_ts: None,
            max_ts: None,
            created_ms: now_ms(),
        };
        let id = self
            .shared
            .snapshot()
            .last()
            .map_or(self.active.id, |b| b.id)
            + 1;
        let fresh =
            match Bucket::create(&self.shared.cfg.data_dir, id, &self.shared.fields, &payload) {
                Ok(b) => Arc::new(b),
                Err(e) => {
                    // Stop searching the damaged bucket now; retry the replacement later.
                    write(&self.shared.buckets).retain(|b| b.id != self.active.id);
                    *crate::sync::lock(&self.shared.condemned) = Some((self.active.id, why));
                    self.fail(format!(
                        "cannot create a bucket to replace a damaged one: {e}"
                    ));
                    return;
                }
            };
        let damaged = std::mem::replace(&mut self.active, Arc::clone(&fresh));
        self.shared.push_bucket(fresh);
        self.shared.quarantine(&damaged, &why);
        tracing::info!(bucket = id, "collection continues in a fresh index bucket");
        // The uncommitted entries go to the fresh bucket with their positions.
        self.failed = true;
        self.recover();
    }

    /// Rolls the active bucket when it is big or old enough; drops what retention says.
    fn maintain(&mut self) {
        let meta = read(&self.active.meta).clone();
        let old = now_ms().saturating_sub(meta.created_ms) >= self.shared.span_ms;
        let has_docs = meta.max_ts.is_some();
        if has_docs && (meta.bytes >= self.shared.roll_bytes || old) && !self.dirty {
            self.roll();
        }
        self.shared.apply_retention();
        super::Index::show_metrics(&self.shared, true);
    }

    fn roll(&mut self) {
        let payload = Payload {
            version: FORMAT_VERSION,
            positions: self.positions.clone(),
            next_seq: self.next_seq,
            min_ts: None,
            max_ts: None,
            created_ms: now_ms(),
        };
        // Let the sealed bucket's writer go (its lock, its threads).
        if let Some(iw) = self.iw.take() {
            let _ = iw.wait_merging_threads();
        }
        write(&self.active.meta).bytes = dir_size(&self.active.path);
        let id = self.active.id + 1;
        match Bucket::create(&self.shared.cfg.data_dir, id, &self.shared.fields, &payload) {
            Ok(b) => {
                let b = Arc::new(b);
                self.shared.push_bucket(b.clone());
                self.active = b;
                tracing::info!(bucket = id, "rolled to a new index bucket");
            }
            Err(e) => {
                // Stay on the current bucket; it keeps working.
                tracing::warn!(error = %e, "cannot create a new bucket");
            }
        }
        if let Err(e) = self.ensure_writer() {
            self.fail(format!("cannot open the index writer: {e}"));
        }
    }
}
