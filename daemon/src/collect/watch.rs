//! Watch bookkeeping: which directories the inotify instance watches, which ones
//! are polled instead (limits exhausted, or no inotify at all), and what each
//! event asks the next cycle to do.
//!
//! Events are wake-ups, scans are the truth: a `MODIFY` names the file to read;
//! `CREATE`/`MOVED_*`/`DELETE` make us rescan that one directory; `Q_OVERFLOW`
//! and `*_SELF` on a structural directory rescan everything. This type only turns
//! events into [`Work`]; the [`Registry`](super::registry::Registry) does the scans.

use std::collections::{HashMap, HashSet};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use inotify::{EventMask, Inotify, WatchMask};

use super::layout::{classify, NameKind};
use super::positions::FileKey;

/// How often directories without a watch (limits exhausted) are polled.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// What a watch descriptor watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DirKind {
    /// The log root (plain `*.log` files live here when there is no `pods/`).
    Root,
    /// `pods/` and `pods/<pod>/`: only their children matter.
    Structure,
    /// `pods/<pod>/<container>/`: log files.
    Container,
    /// `containers/`: symlinks carrying container ids.
    Links,
}

/// What one collector cycle has to do, gathered from events and timers.
#[derive(Default)]
pub(crate) struct Work {
    /// Reconcile everything on disk (overflow, structural change, safety-net timer).
    pub full: bool,
    /// Re-list `containers/` (a symlink came or went).
    pub links: bool,
    /// Directories to rescan.
    pub dirs: HashSet<PathBuf>,
    /// Followed files that were written to.
    pub files: HashSet<FileKey>,
    /// Time to poll the directories without a watch.
    pub poll: bool,
}

/// What the polled directories need this time round.
pub(crate) enum PollScan {
    /// No inotify, or a polled structural directory: only a full scan finds
    /// what changed.
    Full,
    /// Only container directories are polled: rescan just those.
    Dirs(Vec<PathBuf>),
}

/// The inotify instance and the map between watch descriptors and directories.
pub(crate) struct Watches {
    inotify: Option<Inotify>,
    wd_dirs: HashMap<i32, (PathBuf, DirKind)>,
    dir_wds: HashMap<PathBuf, i32>,
    /// Directories we could not watch (limits): polled.
    polled: HashMap<PathBuf, DirKind>,
    /// The kernel's watch limit (`ENOSPC`) was hit for some directory polled now.
    limit_hit: bool,
    /// Our cap on watches (the per-user limit is shared by every root process on
    /// the node); `0` means no inotify at all.
    max_watches: usize,
    /// Event read buffer.
    buf: Vec<u8>,
}

impl Watches {
    /// An inotify instance capped at `max_watches` (none when `0`, or when the
    /// kernel refuses one: then every directory is polled).
    pub(crate) fn new(max_watches: usize) -> Self {
        let inotify = if max_watches == 0 {
            None
        } else {
            match Inotify::init() {
                Ok(i) => Some(i),
                Err(e) => {
                    tracing::warn!(error = %e, "inotify unavailable; polling every file instead");
                    None
                }
            }
        };
        Watches {
            inotify,
            wd_dirs: HashMap::new(),
            dir_wds: HashMap::new(),
            polled: HashMap::new(),
            limit_hit: false,
            max_watches,
            buf: vec![0u8; 64 * 1024],
        }
    }

    /// Whether the kernel's inotify limits left directories polled.
    pub(crate) fn exhausted(&self) -> bool {
        self.limit_hit && !self.polled.is_empty()
    }

    /// Whether some directories are polled (so the loop must wake for them).
    pub(crate) fn polling(&self) -> bool {
        self.inotify.is_none() || !self.polled.is_empty()
    }

    /// Waits up to `wait` for events and adds what they ask for to `work`;
    /// `file_at` names the followed file at a path, if any. Without inotify
    /// this just sleeps.
    pub(crate) fn wait(
        &mut self,
        wait: Duration,
        work: &mut Work,
        file_at: impl Fn(&Path) -> Option<FileKey>,
    ) {
        let Some(ino) = self.inotify.as_mut() else {
            std::thread::sleep(wait);
            return;
        };
        let mut pfd = libc::pollfd {
            fd: ino.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = wait.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd for the duration of the call.
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        if r > 0 {
            self.drain_events(work, file_at);
        }
    }

    fn drain_events(&mut self, work: &mut Work, file_at: impl Fn(&Path) -> Option<FileKey>) {
        let Some(ino) = self.inotify.as_mut() else {
            return;
        };
        loop {
            let events = match ino.read_events(&mut self.buf) {
                Ok(ev) => ev,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "reading inotify events failed; rescanning");
                    work.full = true;
                    return;
                }
            };
            for ev in events {
                if ev.mask.contains(EventMask::Q_OVERFLOW) {
                    tracing::warn!("inotify queue overflow; full rescan");
                    work.full = true;
                    continue;
                }
                let id = ev.wd.get_watch_descriptor_id();
                let Some((dir, kind)) = self.wd_dirs.get(&id).cloned() else {
                    continue;
                };
                if ev.mask.contains(EventMask::IGNORED) {
                    self.wd_dirs.remove(&id);
                    if self.dir_wds.get(&dir) == Some(&id) {
                        self.dir_wds.remove(&dir);
                    }
                    work.dirs.insert(dir);
                    continue;
                }
                if ev
                    .mask
                    .intersects(EventMask::DELETE_SELF | EventMask::MOVE_SELF)
                {
                    match kind {
                        DirKind::Container => {
                            work.dirs.insert(dir);
                        }
                        _ => work.full = true,
                    }
                    continue;
                }
                let name = ev.name.and_then(|n| n.to_str()).map(str::to_string);
                match kind {
                    DirKind::Links => work.links = true,
                    DirKind::Structure => work.full = true,
                    DirKind::Root | DirKind::Container => {
                        let Some(name) = name else { continue };
                        let is_log = classify(&name) != NameKind::Ignored;
                        if kind == DirKind::Root && (!is_log || ev.mask.contains(EventMask::ISDIR))
                        {
                            if name == "pods" || name == "containers" {
                                work.full = true;
                            }
                            continue;
                        }
                        if !is_log {
                            continue;
                        }
                        if ev.mask.contains(EventMask::MODIFY) {
                            match file_at(&dir.join(&name)) {
                                Some(k) => {
                                    work.files.insert(k);
                                }
                                None => {
                                    work.dirs.insert(dir);
                                }
                            }
                        } else {
                            work.dirs.insert(dir);
                        }
                    }
                }
            }
        }
    }

    /// What polling needs to scan this time.
    pub(crate) fn poll_scan(&self) -> PollScan {
        if self.inotify.is_none() {
            return PollScan::Full;
        }
        let polled: Vec<(PathBuf, DirKind)> =
            self.polled.iter().map(|(p, k)| (p.clone(), *k)).collect();
        if polled.iter().any(|(_, k)| *k != DirKind::Container) {
            PollScan::Full
        } else {
            PollScan::Dirs(polled.into_iter().map(|(p, _)| p).collect())
        }
    }

    /// Forgets polled directories that are gone from disk.
    pub(crate) fn prune_polled(&mut self) {
        let gone: Vec<PathBuf> = self
            .polled
            .keys()
            .filter(|p| !p.is_dir())
            .cloned()
            .collect();
        for p in gone {
            self.polled.remove(&p);
        }
    }

    /// Adds a watch (or falls back to polling when the limits are reached).
    pub(crate) fn add(&mut self, dir: &Path, kind: DirKind) {
        if self.dir_wds.contains_key(dir) {
            return;
        }
        let Some(ino) = self.inotify.as_mut() else {
            self.polled.insert(dir.to_path_buf(), kind);
            return;
        };
        if self.wd_dirs.len() >= self.max_watches {
            if self.polled.insert(dir.to_path_buf(), kind).is_none() {
                tracing::warn!(dir = %dir.display(), "watch limit reached; polling this directory");
            }
            return;
        }
        let mask = WatchMask::CREATE
            | WatchMask::MODIFY
            | WatchMask::MOVED_FROM
            | WatchMask::MOVED_TO
            | WatchMask::DELETE
            | WatchMask::DELETE_SELF
            | WatchMask::MOVE_SELF
            | WatchMask::ONLYDIR;
        match ino.watches().add(dir, mask) {
            Ok(wd) => {
                let id = wd.get_watch_descriptor_id();
                self.wd_dirs.insert(id, (dir.to_path_buf(), kind));
                self.dir_wds.insert(dir.to_path_buf(), id);
                self.polled.remove(dir);
            }
            Err(e)
                if e.raw_os_error() == Some(libc::ENOSPC)
                    || e.raw_os_error() == Some(libc::EMFILE) =>
            {
                self.limit_hit = true;
                if self.polled.insert(dir.to_path_buf(), kind).is_none() {
                    tracing::warn!(dir = %dir.display(), error = %e, "inotify limits exhausted; polling this directory");
                }
            }
            Err(e) => {
                tracing::debug!(dir = %dir.display(), error = %e, "cannot watch");
            }
        }
    }
}
