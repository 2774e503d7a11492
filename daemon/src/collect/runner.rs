//! The collector thread: a `poll(2)` loop with a timeout (for stale partials, the
//! safety-net rescan and polled fallback directories) that composes the parts,
//! each with one job:
//!
//! - [`Watches`]: inotify watches and polled directories; events become [`Work`].
//! - [`Registry`]: the followed files, reconciled with the disk by scans.
//! - [`Readers`]: reading files, here and on helper threads.
//! - [`Batcher`]: batches with their positions, on the bounded channel.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::batch::{Batcher, Room, Stopped};
use super::contain::{LogRoot, Refusals};
use super::fds::Fds;
use super::pool::Readers;
use super::positions::{FileKey, Positions};
use super::registry::Registry;
use super::tailer::TailCtx;
use super::watch::{PollScan, Watches, Work, POLL_INTERVAL};
use super::{Batch, CollectMetrics, CollectorConfig, FollowedFile};

/// Longest wait in `poll(2)`, so a stop request is noticed promptly.
const MAX_WAIT: Duration = Duration::from_millis(200);
/// How often idle files are looked for (a walk over the tailers, no syscall).
const SWEEP_EVERY: Duration = Duration::from_secs(1);

pub(crate) struct Runner {
    /// Only the loop's timers are read here; the parts took the rest.
    partial_timeout: Duration,
    /// How long an open multi-line event waits for a continuation.
    hold: Duration,
    rescan_interval: Duration,
    idle_close: Duration,
    watches: Watches,
    registry: Registry,
    readers: Readers,
    batcher: Batcher,
    /// What [`CollectorHandle::followed`](super::CollectorHandle::followed) reads.
    followed: Arc<Mutex<Vec<FollowedFile>>>,
    last_rescan: Instant,
    last_poll: Instant,
    last_sweep: Instant,
    fds: Arc<Fds>,
    metrics: Option<CollectMetrics>,
    /// Out of fds or watches, as last reported.
    degraded: bool,
    /// `EMFILE` seen since the last full rescan began.
    out_of_fds: bool,
}

/// What the runner is handed when the collector starts.
pub(crate) struct Start {
    pub cfg: CollectorConfig,
    pub ctx: TailCtx,
    pub root: LogRoot,
    pub refusals: Refusals,
    pub positions: Positions,
    pub tx: crossbeam_channel::Sender<Batch>,
    pub stop: crate::shutdown::Shutdown,
    pub followed: Arc<Mutex<Vec<FollowedFile>>>,
}

impl Runner {
    pub(crate) fn new(start: Start) -> Self {
        let Start {
            cfg,
            ctx,
            root,
            refusals,
            positions,
            tx,
            stop,
            followed,
        } = start;
        let watches = Watches::new(cfg.max_watches);
        let fds = Arc::clone(&ctx.fds);
        let metrics = ctx.metrics.clone();
        let registry = Registry::new(
            cfg.log_dir.clone(),
            root,
            refusals,
            Arc::clone(&fds),
            cfg.read_from,
            positions.files.is_empty(),
        );
        let readers = Readers::new(
            ctx,
            cfg.read_threads(),
            Room::new(cfg.max_batch, cfg.max_batch_bytes),
        );
        Runner {
            partial_timeout: cfg.partial_timeout,
            hold: cfg.multiline.hold,
            rescan_interval: cfg.rescan_interval,
            idle_close: cfg.idle_close,
            watches,
            registry,
            readers,
            batcher: Batcher::new(
                positions,
                tx,
                stop,
                Room::new(cfg.max_batch, cfg.max_batch_bytes),
            ),
            followed,
            last_rescan: Instant::now(),
            last_poll: Instant::now(),
            last_sweep: Instant::now(),
            fds,
            metrics,
            degraded: false,
            out_of_fds: false,
        }
    }

    /// Runs until the receiver is dropped or a stop is requested.
    pub(crate) fn run(mut self) {
        let _ = self.cycle(
            Work {
                full: true,
                ..Work::default()
            },
            true,
        );
        self.warn_if_fds_low();
        loop {
            if self.batcher.stopping() {
                return;
            }
            let mut work = Work::default();
            let wait = self.next_wait();
            let registry = &self.registry;
            self.watches
                .wait(wait, &mut work, |path| registry.key_at(path));
            if self.last_rescan.elapsed() >= self.rescan_interval {
                work.full = true;
            }
            if self.watches.polling() && self.last_poll.elapsed() >= POLL_INTERVAL {
                work.poll = true;
            }
            if self.cycle(work, false).is_err() {
                return;
            }
        }
    }

    fn next_wait(&self) -> Duration {
        let now = Instant::now();
        let mut wait = MAX_WAIT;
        let rescan_at = self.last_rescan + self.rescan_interval;
        wait = wait.min(rescan_at.saturating_duration_since(now));
        if self.watches.polling() {
            wait = wait.min((self.last_poll + POLL_INTERVAL).saturating_duration_since(now));
        }
        if let Some(d) = self
            .registry
            .partial_deadline(self.partial_timeout, self.hold)
        {
            wait = wait.min(d.saturating_duration_since(now));
        }
        wait.max(Duration::from_millis(1))
    }

    /// One round: rescans, reads, stale partials, finished files, batch out.
    fn cycle(&mut self, work: Work, initial: bool) -> Result<(), Stopped> {
        let (reg, watches, out) = (&mut self.registry, &mut self.watches, &mut self.batcher);
        let mut to_read: HashSet<FileKey> = work.files;
        if work.full {
            reg.full_scan(initial, watches, out);
            to_read.extend(reg.keys());
            self.last_rescan = Instant::now();
        } else {
            if work.links {
                reg.reload_links();
            }
            for dir in &work.dirs {
                if reg.scan_dir(dir, false, watches, out) {
                    to_read.extend(reg.keys_in(dir));
                }
            }
            if work.poll {
                match watches.poll_scan() {
                    PollScan::Full => {
                        reg.full_scan(false, watches, out);
                        to_read.extend(reg.keys());
                    }
                    PollScan::Dirs(dirs) => {
                        for dir in dirs {
                            reg.scan_dir(&dir, false, watches, out);
                            to_read.extend(reg.keys_in(&dir));
                        }
                    }
                }
            }
        }
        if work.poll {
            self.last_poll = Instant::now();
        }
        let mut keys: Vec<FileKey> = to_read.into_iter().collect();
        keys.sort();
        self.readers.read(keys, reg, out)?;
        reg.flush_stale(self.readers.ctx(), self.partial_timeout, &mut out.entries);
        self.finish_files()?;
        if self.last_sweep.elapsed() >= SWEEP_EVERY || self.fds.over_budget() {
            self.registry.close_idle(self.idle_close);
            self.last_sweep = Instant::now();
        }
        self.report_degraded(work.full);
        self.batcher.flush(self.registry.dirty_positions())?;
        if let Some(list) = self.registry.take_followed() {
            *crate::sync::lock(&self.followed) = list;
        }
        Ok(())
    }

    /// After the first scan: a limit too low for the files found is said once.
    fn warn_if_fds_low(&self) {
        let (files, open) = self.registry.fd_use();
        let need = files as u64 + crate::metrics::FD_RESERVE;
        if self.fds.limit < need {
            tracing::warn!(
                limit = self.fds.limit,
                files,
                open,
                budget = self.fds.budget(),
                "RLIMIT_NOFILE is low for the log files found: at most `budget` are kept \
                 open, the others are opened per read; raise it (ulimit -n) to at least {need}"
            );
        }
    }

    /// Sets `lookout_collect_degraded` and logs when it changes. An `EMFILE` keeps
    /// it on until a full rescan goes without one.
    fn report_degraded(&mut self, full_scan: bool) {
        self.out_of_fds = if full_scan {
            self.fds.take_exhausted()
        } else {
            self.out_of_fds || self.fds.was_exhausted()
        };
        let out_of_fds = self.out_of_fds;
        let now = out_of_fds || self.watches.exhausted();
        if now == self.degraded {
            return;
        }
        self.degraded = now;
        if now {
            tracing::warn!(
                out_of_fds,
                polled_dirs = self.watches.exhausted(),
                "collector degraded: files reopened per read, directories polled"
            );
        } else {
            tracing::info!("collector no longer degraded");
        }
        if let Some(m) = &self.metrics {
            m.degraded.set(i64::from(now));
        }
    }

    /// Releases rotated tailers whose file is deleted (after draining it to the
    /// end) or that sat idle for long.
    fn finish_files(&mut self) -> Result<(), Stopped> {
        for key in self.registry.rotated() {
            let Some(finish) = self.registry.finished(&key) else {
                continue;
            };
            self.readers
                .read_one(key, &mut self.registry, &mut self.batcher)?;
            self.registry
                .release(key, finish, self.readers.ctx(), &mut self.batcher);
        }
        Ok(())
    }
}
