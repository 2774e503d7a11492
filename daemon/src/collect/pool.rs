//! Reading several files at once on helper threads.
//!
//! Files are independent, so the runner hands whole [`Tailer`]s (by value) to
//! helper threads for one round of reading and gets them back when the round
//! ends: a file belongs to exactly one thread at a time, which keeps its lines in
//! order, and its position is read off the tailer only after the entries it
//! covers are in the batch that carries it (the exactly-once contract is the same
//! as with one thread). The runner reads one share itself, so one helper gives two
//! cores and a cycle with a single busy file costs no hand-off at all.

use std::io;
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};
use lookout_shared::LogEntry;

use super::tailer::{ReadOutcome, TailCtx, Tailer};

/// One round of work for a thread: read these files into one vector.
pub(crate) struct Job {
    pub tailers: Vec<Tailer>,
    /// Most entries to collect (the batch size).
    pub max: usize,
}

/// A finished round: every tailer handed out, with how its read ended.
pub(crate) struct Done {
    pub tailers: Vec<(Tailer, io::Result<ReadOutcome>)>,
    pub entries: Vec<LogEntry>,
}

/// Reads `tailers` in order into `out` until each is at EOF or `out` holds `max`
/// entries (the files after that return `Full` without reading anything).
pub(crate) fn read_all(
    ctx: &TailCtx,
    scratch: &mut Vec<u8>,
    tailers: Vec<Tailer>,
    out: &mut Vec<LogEntry>,
    max: usize,
) -> Vec<(Tailer, io::Result<ReadOutcome>)> {
    tailers
        .into_iter()
        .map(|mut t| {
            let r = t.read_with(scratch, ctx, out, max);
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
                // Sized like the previous round's output (see `Runner::flush_batch`).
                let mut cap = 0;
                let mut scratch = Vec::new();
                for job in job_rx {
                    let mut entries = Vec::with_capacity(cap);
                    let tailers = read_all(&ctx, &mut scratch, job.tailers, &mut entries, job.max);
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
