//! Batching and positions: the entries read so far, the position changes that
//! hold once they are stored, and the bounded channel they leave on together.
//!
//! The exactly-once contract lives here: a file's position only ever travels in
//! the same [`Batch`] as (or a later one than) the entries that advanced it, so a
//! consumer that stores both atomically never skips or repeats a line. A full
//! channel blocks the collector; nothing is dropped.

use std::time::Duration;

use crossbeam_channel::{SendTimeoutError, Sender};
use lookout_shared::LogEntry;

use super::positions::{FileKey, FilePosition, PositionUpdate, Positions};
use super::Batch;
use crate::footprint::entry_bytes;
use crate::shutdown::Shutdown;

/// Longest wait in a blocked `send`, so a stop request is noticed promptly.
const SEND_WAIT: Duration = Duration::from_millis(200);

/// How full the batch being filled may get, in entries and in bytes
/// ([`entry_bytes`]), and how many bytes it holds so far. Readers check it after
/// every line, so a batch ends at most one line past its byte bound.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Room {
    entries: usize,
    bytes: usize,
    used: usize,
}

impl Room {
    pub(crate) fn new(entries: usize, bytes: usize) -> Room {
        Room {
            entries: entries.max(1),
            bytes: bytes.max(1),
            used: 0,
        }
    }

    /// Counts entries just added to the batch.
    pub(crate) fn count(&mut self, added: &[LogEntry]) {
        self.used += added.iter().map(entry_bytes).sum::<usize>();
    }

    /// Whether `out`, the batch this room measures, is full.
    pub(crate) fn is_full(&self, out: &[LogEntry]) -> bool {
        out.len() >= self.entries || self.used >= self.bytes
    }

    /// The same bounds for an empty batch.
    fn fresh(&self) -> Room {
        Room { used: 0, ..*self }
    }
}

/// The receiver is gone or a stop was requested.
pub(crate) struct Stopped;

/// The next batch being filled, and the positions the batches sent so far make
/// true once the consumer has stored them.
pub(crate) struct Batcher {
    /// Entries read and not sent yet; tailers append here directly.
    pub entries: Vec<LogEntry>,
    /// How full `entries` may get, and is.
    pub room: Room,
    /// Position changes waiting for the next batch.
    update: PositionUpdate,
    /// Our view of the persisted positions (open and closed files): the start
    /// positions with every sent (or recorded) change applied.
    state: Positions,
    tx: Sender<Batch>,
    stop: Shutdown,
}

impl Batcher {
    pub(crate) fn new(start: Positions, tx: Sender<Batch>, stop: Shutdown, room: Room) -> Self {
        Batcher {
            entries: Vec::new(),
            room,
            update: PositionUpdate::default(),
            state: start,
            tx,
            stop,
        }
    }

    /// The stored state of a file we may not have open.
    pub(crate) fn known(&self, key: &FileKey) -> Option<&FilePosition> {
        self.state.get(key)
    }

    /// Every stored position (open and closed files).
    pub(crate) fn positions(&self) -> impl Iterator<Item = &FilePosition> {
        self.state.files.values()
    }

    /// Files gone from disk and fully read: dropped from our view now, and from
    /// the consumer's with the next batch.
    pub(crate) fn forget(&mut self, keys: Vec<FileKey>) {
        if keys.is_empty() {
            return;
        }
        for k in &keys {
            self.state.files.remove(&k.map_key());
        }
        self.update.merge(PositionUpdate {
            upsert: vec![],
            remove: keys,
        });
    }

    /// A file recorded without being read (history at the first start): in our
    /// view now, and in the consumer's with the next batch.
    pub(crate) fn record(&mut self, p: FilePosition) {
        self.state.apply(&PositionUpdate {
            upsert: vec![p.clone()],
            remove: vec![],
        });
        self.update.merge(PositionUpdate {
            upsert: vec![p],
            remove: vec![],
        });
    }

    /// A change for the next batch (a released tailer's last position, or its
    /// removal); our view takes it when the batch is sent.
    pub(crate) fn queue(&mut self, update: PositionUpdate) {
        self.update.merge(update);
    }

    /// Sends what was collected with `upsert` (the dirty tailers' positions) and
    /// every change waiting; blocks (pausing collection) while the consumer is
    /// behind.
    pub(crate) fn flush(&mut self, upsert: Vec<FilePosition>) -> Result<(), Stopped> {
        self.update.merge(PositionUpdate {
            upsert,
            remove: vec![],
        });
        if self.entries.is_empty() && self.update.is_empty() {
            return Ok(());
        }
        let positions = std::mem::take(&mut self.update);
        self.state.apply(&positions);
        // The next batch starts at this one's size: no regrowing (and copying)
        // while reading fast, no big idle allocation while trickling.
        let cap = self.entries.len();
        self.room = self.room.fresh();
        let batch = Batch {
            entries: std::mem::replace(&mut self.entries, Vec::with_capacity(cap)),
            positions,
        };
        self.send(batch)
    }

    /// Sends a helper thread's entries with the positions of the files it read
    /// (`upsert`), and any earlier position change waiting, which must not be
    /// overtaken. `self.entries` (the runner's own share) is not part of it.
    pub(crate) fn send_share(
        &mut self,
        entries: Vec<LogEntry>,
        upsert: Vec<FilePosition>,
    ) -> Result<(), Stopped> {
        let mut positions = std::mem::take(&mut self.update);
        positions.merge(PositionUpdate {
            upsert,
            remove: vec![],
        });
        if entries.is_empty() && positions.is_empty() {
            return Ok(());
        }
        self.state.apply(&positions);
        self.send(Batch { entries, positions })
    }

    fn send(&mut self, mut batch: Batch) -> Result<(), Stopped> {
        loop {
            match self.tx.send_timeout(batch, SEND_WAIT) {
                Ok(()) => return Ok(()),
                Err(SendTimeoutError::Disconnected(_)) => return Err(Stopped),
                Err(SendTimeoutError::Timeout(b)) => {
                    if self.stop.is_triggered() {
                        return Err(Stopped);
                    }
                    batch = b;
                }
            }
        }
    }

    /// Whether a stop was requested.
    pub(crate) fn stopping(&self) -> bool {
        self.stop.is_triggered()
    }
}
