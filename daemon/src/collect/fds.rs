//! File descriptors: the process limit, and how many the collector's tailers hold.
//!
//! Every followed file used to keep its fd forever (10,000 files: 10,015 fds), and
//! with a 512-fd limit and 1,500 files the opens past the limit failed silently:
//! those files were never read until a restart. Now:
//!
//! - at start the soft `RLIMIT_NOFILE` is raised to the hard one ([`raise_nofile`]);
//! - tailers hold at most a budget of fds (the limit minus what the index and
//!   clients need, [`crate::metrics::FD_RESERVE`], at least half the limit); a file
//!   read while over it is closed again after the read, and files idle for
//!   `--idle-close` are closed (a closed tailer keeps all its state and is reopened
//!   by identity when its file grows);
//! - `EMFILE`/`ENFILE` lowers the budget to what is open now and marks the
//!   collector degraded: the file is tried again on its next event or rescan.

use std::fs::File;
use std::io;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::metrics::FD_RESERVE;

/// Tailer fds are never squeezed below this many, whatever `EMFILE` says.
const MIN_BUDGET: usize = 8;
/// How often an `EMFILE` is warned about.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (capped at
/// `/proc/sys/fs/nr_open`); returns the soft limit in effect, `None` if it cannot
/// be read.
pub fn raise_nofile() -> Option<u64> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } != 0 {
        return None;
    }
    let mut want = r.rlim_max;
    if want == libc::RLIM_INFINITY {
        want = std::fs::read_to_string("/proc/sys/fs/nr_open")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(1 << 20);
    }
    if want > r.rlim_cur {
        let raised = libc::rlimit {
            rlim_cur: want,
            rlim_max: r.rlim_max,
        };
        // SAFETY: setrlimit reads the struct it is given.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            tracing::debug!(from = r.rlim_cur, to = want, "raised RLIMIT_NOFILE");
            return Some(want);
        }
    }
    Some(r.rlim_cur)
}

/// Whether an error means "out of file descriptors" (ours or the system's).
pub(crate) fn is_exhaustion(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE))
}

/// The fds the tailers hold, and how many they may.
#[derive(Debug)]
pub(crate) struct Fds {
    open: AtomicUsize,
    budget: AtomicUsize,
    /// The soft limit at start (after raising).
    pub(crate) limit: u64,
    /// `EMFILE` seen since the last [`Fds::take_exhausted`].
    exhausted: AtomicBool,
    last_warn: Mutex<Option<Instant>>,
}

impl Fds {
    pub(crate) fn new(limit: u64) -> Arc<Fds> {
        let half = usize::try_from(limit / 2).unwrap_or(usize::MAX);
        let rest = usize::try_from(limit.saturating_sub(FD_RESERVE)).unwrap_or(usize::MAX);
        Arc::new(Fds {
            open: AtomicUsize::new(0),
            budget: AtomicUsize::new(rest.max(half).max(MIN_BUDGET)),
            limit,
            exhausted: AtomicBool::new(false),
            last_warn: Mutex::new(None),
        })
    }

    /// Counts `file` as held by a tailer until it is dropped.
    pub(crate) fn track(self: &Arc<Self>, file: File) -> TrackedFile {
        self.open.fetch_add(1, Ordering::Relaxed);
        TrackedFile {
            file,
            fds: Arc::clone(self),
        }
    }

    /// Tailer fds open now.
    pub(crate) fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Most tailer fds to keep open.
    pub(crate) fn budget(&self) -> usize {
        self.budget.load(Ordering::Relaxed)
    }

    /// More tailer fds open than the budget.
    pub(crate) fn over_budget(&self) -> bool {
        self.open() > self.budget()
    }

    /// An open failed with `EMFILE`/`ENFILE`: the index or clients hold more than
    /// was reserved for them; keep fewer ourselves from now on.
    pub(crate) fn exhausted(&self, e: &io::Error) {
        let open = self.open();
        let lower = open.saturating_sub(open / 8).max(MIN_BUDGET);
        self.budget.fetch_min(lower, Ordering::Relaxed);
        self.exhausted.store(true, Ordering::Relaxed);
        let mut last = crate::sync::lock(&self.last_warn);
        if last.is_none_or(|t| t.elapsed() >= WARN_EVERY) {
            *last = Some(Instant::now());
            tracing::warn!(
                error = %e,
                limit = self.limit,
                tailer_fds = open,
                budget = self.budget(),
                "out of file descriptors: log files are closed when idle and reopened \
                 when they grow; raise RLIMIT_NOFILE (ulimit -n)"
            );
        }
    }

    /// Whether `EMFILE` was seen since the last call.
    pub(crate) fn take_exhausted(&self) -> bool {
        self.exhausted.swap(false, Ordering::Relaxed)
    }

    /// Whether `EMFILE` was seen since the last [`Fds::take_exhausted`].
    pub(crate) fn was_exhausted(&self) -> bool {
        self.exhausted.load(Ordering::Relaxed)
    }
}

/// A tailer's open file, counted in [`Fds`] while it lives.
#[derive(Debug)]
pub(crate) struct TrackedFile {
    file: File,
    fds: Arc<Fds>,
}

impl Deref for TrackedFile {
    type Target = File;
    fn deref(&self) -> &File {
        &self.file
    }
}

impl Drop for TrackedFile {
    fn drop(&mut self) {
        self.fds.open.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_leaves_room_and_shrinks_on_emfile() {
        assert_eq!(Fds::new(1 << 20).budget(), (1 << 20) - 256);
        assert_eq!(Fds::new(512).budget(), 256);
        assert_eq!(Fds::new(64).budget(), 32);
        let fds = Fds::new(64);
        let files: Vec<TrackedFile> = (0..16)
            .map(|_| fds.track(File::open("/dev/null").unwrap()))
            .collect();
        assert_eq!(fds.open(), 16);
        fds.exhausted(&io::Error::from_raw_os_error(libc::EMFILE));
        assert_eq!(fds.budget(), 14);
        assert!(fds.over_budget());
        assert!(fds.take_exhausted() && !fds.take_exhausted());
        drop(files);
        assert_eq!(fds.open(), 0);
    }
}
