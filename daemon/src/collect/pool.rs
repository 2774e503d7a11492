//! Reading files: on the collector thread, and several at once on helper threads.
//!
//! Files are independent, so [`Readers`] hands whole [`Tailer`]s (by value) to
//! helper threads for one round of reading and gets them back when the round
//! ends: a file belongs to exactly one thread at a time, which keeps its lines in
//! order, and its position is read off the tailer only after the entries it
//! covers are in the batch that carries it (the exactly-once contract is the same
//! as with one thread). The collector thread reads one share itself, so one helper
//! gives two cores and a cycle with a single busy file costs no hand-off at all.

use std::io;
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};
use lookout_shared::LogEntry;

use super::batch::{Batcher, Room, Stopped};
use super::positions::FileKey;
use super::registry::Registry;
use super::tailer::{ReadOutcome, TailCtx, Tailer};

/// The reading threads: the collector thread's own share and its helpers.
pub(crate) struct Readers {
    ctx: Arc<TailCtx>,
    /// Threads reading files next to the collector thread (`read_threads - 1`).
    helpers: Vec<Helper>,
    /// The collector thread's read buffer, lent to each tailer it reads (see
    /// `Tailer::read_with`).
    scratch: Vec<u8>,
    /// How full a batch may get.
    limit: Room,
}

impl Readers {
    /// `threads` readers in all (the calling thread counts as one); fewer when a
    /// helper thread cannot be started.
    pub(crate) fn new(ctx: TailCtx, threads: usize, limit: Room) -> Self {
        let ctx = Arc::new(ctx);
        let mut helpers = Vec::new();
        for n in 1..threads {
            match Helper::spawn(ctx.clone(), n) {
                Ok(h) => helpers.push(h),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot start a reader thread; reading with fewer");
                    break;
                }
            }
        }
        Readers {
            ctx,
            helpers,
            scratch: Vec::new(),
            limit,
        }
    }

    /// What every tailer needs to build entries.
    pub(crate) fn ctx(&self) -> &TailCtx {
        &self.ctx
    }

    /// Reads one file to EOF on this thread, sending each batch that fills up.
    pub(crate) fn read_one(
        &mut self,
        key: FileKey,
        reg: &mut Registry,
        out: &mut Batcher,
    ) -> Result<(), Stopped> {
        loop {
            let Some(t) = reg.get_mut(&key) else {
                return Ok(());
            };
            match t.read_with(
                &mut self.scratch,
                &self.ctx,
                &mut out.entries,
                &mut out.room,
            ) {
                Ok(ReadOutcome::Eof) => return Ok(()),
                Ok(ReadOutcome::Full) => out.flush(reg.dirty_positions())?,
                Err(e) => {
                    tracing::warn!(path = %t.path.display(), error = %e, "read failed");
                    return Ok(());
                }
            }
        }
    }

    /// Reads `keys` to EOF, sharing the files among this thread and the helper
    /// threads in rounds of one batch per thread. Between rounds every tailer is
    /// back in the registry, so scans and position snapshots see them all.
    pub(crate) fn read(
        &mut self,
        keys: Vec<FileKey>,
        reg: &mut Registry,
        out: &mut Batcher,
    ) -> Result<(), Stopped> {
        if keys.len() < 2 || self.helpers.is_empty() {
            for key in keys {
                self.read_one(key, reg, out)?;
            }
            return Ok(());
        }
        let limit = self.limit;
        let mut queue = keys;
        while !queue.is_empty() {
            // Deal the files round-robin: share 0 is this thread's.
            let shares_n = (self.helpers.len() + 1).min(queue.len());
            let mut shares: Vec<Vec<Tailer>> = (0..shares_n).map(|_| Vec::new()).collect();
            let mut i = 0;
            for key in &queue {
                if let Some(t) = reg.take(key) {
                    if let Some(share) = shares.get_mut(i % shares_n) {
                        share.push(t);
                    }
                    i += 1;
                }
            }
            let mut shares = shares.into_iter();
            let mine = shares.next().unwrap_or_default();
            let mut submitted: Vec<(usize, Vec<FileKey>)> = Vec::new();
            let mut inline: Vec<Tailer> = Vec::new();
            for (hi, (h, share)) in self.helpers.iter().zip(shares).enumerate() {
                if share.is_empty() {
                    continue;
                }
                let share_keys = share.iter().map(|t| t.key).collect();
                match h.submit(Job {
                    tailers: share,
                    room: limit,
                }) {
                    Ok(()) => submitted.push((hi, share_keys)),
                    Err(job) => inline.extend(job.tailers),
                }
            }
            let mut results = read_all(
                &self.ctx,
                &mut self.scratch,
                mine,
                &mut out.entries,
                &mut out.room,
            );
            // A helper that could not take its share: read it here, after ours.
            results.extend(read_all(
                &self.ctx,
                &mut self.scratch,
                inline,
                &mut out.entries,
                &mut out.room,
            ));
            let mut parts: Vec<(Vec<LogEntry>, Vec<FileKey>)> = Vec::new();
            for (hi, share_keys) in submitted {
                match self.helpers.get(hi).and_then(Helper::wait) {
                    Some(done) => {
                        results.extend(done.tailers);
                        parts.push((done.entries, share_keys));
                    }
                    None => {
                        tracing::error!(
                            "a reader thread died; its files are reopened by the next scan"
                        );
                    }
                }
            }
            queue.clear();
            for (t, r) in results {
                match r {
                    Ok(ReadOutcome::Full) => queue.push(t.key),
                    Ok(ReadOutcome::Eof) => {}
                    Err(e) => {
                        tracing::warn!(path = %t.path.display(), error = %e, "read failed");
                    }
                }
                reg.put_back(t);
            }
            // Each helper's entries go in a batch with its own files' positions;
            // this thread's share goes with everything else in the flush below.
            for (entries, share_keys) in parts {
                let upsert = reg.dirty_positions_of(&share_keys);
                out.send_share(entries, upsert)?;
            }
            out.flush(reg.dirty_positions())?;
        }
        Ok(())
    }
}

/// One round of work for a thread: read these files into one vector.
pub(crate) struct Job {
    pub tailers: Vec<Tailer>,
    /// How full its batch may get (entries and bytes).
    pub room: Room,
}

/// A finished round: every tailer handed out, with how its read ended.
pub(crate) struct Done {
    pub tailers: Vec<(Tailer, io::Result<ReadOutcome>)>,
    pub entries: Vec<LogEntry>,
}

/// Reads `tailers` in order into `out` until each is at EOF or `room` says `out`
/// is full (the files after that return `Full` without reading anything).
pub(crate) fn read_all(
    ctx: &TailCtx,
    scratch: &mut Vec<u8>,
    tailers: Vec<Tailer>,
    out: &mut Vec<LogEntry>,
    room: &mut Room,
) -> Vec<(Tailer, io::Result<ReadOutcome>)> {
    tailers
        .into_iter()
        .map(|mut t| {
            let r = t.read_with(scratch, ctx, out, room);
            (t, r)
        })
        .collect()
}

/// A helper thread that runs [`Job`]s one at a time.
pub(crate) struct Helper {
    jobs: Option<Sender<Job>>,
    done: Receiver<Done>,
    thread: Option<JoinHandle<()>>,
}

impl Helper {
    pub(crate) fn spawn(ctx: Arc<TailCtx>, n: usize) -> io::Result<Helper> {
        let (jobs, job_rx) = crossbeam_channel::bounded::<Job>(1);
        let (done_tx, done) = crossbeam_channel::bounded::<Done>(1);
        let thread = std::thread::Builder::new()
            .name(format!("collector-read-{n}"))
            .spawn(move || {
                // Sized like the previous round's output (see `Batcher::flush`).
                let mut cap = 0;
                let mut scratch = Vec::new();
                for job in job_rx {
                    let mut entries = Vec::with_capacity(cap);
                    let mut room = job.room;
                    let tailers =
                        read_all(&ctx, &mut scratch, job.tailers, &mut entries, &mut room);
                    cap = entries.len();
                    if done_tx.send(Done { tailers, entries }).is_err() {
                        return;
                    }
                }
            })?;
        Ok(Helper {
            jobs: Some(jobs),
            done,
            thread: Some(thread),
        })
    }

    /// Hands a round to the thread; gives the job back if the thread is gone.
    pub(crate) fn submit(&self, job: Job) -> Result<(), Job> {
        match &self.jobs {
            Some(tx) => tx.send(job).map_err(|e| e.into_inner()),
            None => Err(job),
        }
    }

    /// Waits for the round submitted last; `None` if the thread died (a panic:
    /// its files are reopened from their last sent positions by the next scan).
    pub(crate) fn wait(&self) -> Option<Done> {
        self.done.recv().ok()
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
