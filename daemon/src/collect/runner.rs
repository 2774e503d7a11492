//! The collector thread: one inotify instance, a `poll(2)` loop with a timeout
//! (for stale partials, the safety-net rescan and polled fallback directories),
//! directory scans that reconcile what is on disk with the open tailers, and
//! batching with back-pressure.
//!
//! Events are wake-ups, scans are the truth: a `MODIFY` names the file to read;
//! `CREATE`/`MOVED_*`/`DELETE` make us rescan that one directory; `Q_OVERFLOW`,
//! `*_SELF` on a structural directory and the periodic timer rescan everything.
//! Files are tracked by (device, inode), so a rename is just a new path for a
//! tailer that keeps its open fd.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{SendTimeoutError, Sender};
use inotify::{EventMask, Inotify, WatchMask};
use lookout_shared::LogEntry;

use super::layout::{classify, kubelet_meta, plain_meta, tail_key, FileMeta, LinkCache, NameKind};
use super::pool::{read_all, Helper, Job};
use super::positions::{fingerprint_of, FileKey, PositionUpdate, Positions};
use super::tailer::{ReadOutcome, TailCtx, Tailer};
use super::{Batch, CollectorConfig, FollowedFile};
use crate::config::ReadFrom;

/// How often directories without a watch (limits exhausted) are polled.
const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// Longest wait in `poll(2)`, so a stop request is noticed promptly.
const MAX_WAIT: Duration = Duration::from_millis(200);
/// A rotated file idle this long at EOF is closed (its position is kept; it is
/// reopened if it grows again).
/// A new file whose container symlink is unknown re-lists `containers/` at most
/// this often: thousands of containers starting at once must not cost a listing each.
const LINKS_RELIST: Duration = Duration::from_millis(250);
const ROTATED_IDLE: Duration = Duration::from_secs(60);

/// What a watch descriptor watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DirKind {
    /// The log root (plain `*.log` files live here when there is no `pods/`).
    Root,
    /// `pods/` and `pods/<pod>/`: only their children matter.
    Structure,
    /// `pods/<pod>/<container>/`: log files.
    Container,
    /// `containers/`: symlinks carrying container ids.
    Links,
}

#[derive(Default)]
struct Work {
    full: bool,
    links: bool,
    dirs: HashSet<PathBuf>,
    files: HashSet<FileKey>,
    poll: bool,
}

/// The receiver is gone or a stop was requested.
struct Stopped;

pub(crate) struct Runner {
    cfg: CollectorConfig,
    ctx: Arc<TailCtx>,
    /// Threads reading files next to the runner's own share (`read_threads - 1`).
    helpers: Vec<Helper>,
    /// The runner's read buffer, lent to each tailer it reads (see `Tailer::read_with`).
    scratch: Vec<u8>,
    inotify: Option<Inotify>,
    wd_dirs: HashMap<i32, (PathBuf, DirKind)>,
    dir_wds: HashMap<PathBuf, i32>,
    /// Directories we could not watch (limits): polled.
    polled: HashMap<PathBuf, DirKind>,
    max_watches: usize,
    tailers: HashMap<FileKey, Tailer>,
    by_path: HashMap<PathBuf, FileKey>,
    present: HashSet<FileKey>,
    /// Our view of the persisted positions (open and closed files).
    state: Positions,
    links: LinkCache,
    /// When `containers/` was last listed (new files re-list it at most this often).
    links_listed: Option<Instant>,
    kubelet: bool,
    first_start: bool,
    pending: Vec<LogEntry>,
    update: PositionUpdate,
    tx: Sender<Batch>,
    stop: Arc<AtomicBool>,
    followed: Arc<Mutex<Vec<FollowedFile>>>,
    followed_dirty: bool,
    last_rescan: Instant,
    last_poll: Instant,
}

impl Runner {
    pub(crate) fn new(
        cfg: CollectorConfig,
        ctx: TailCtx,
        start: Positions,
        tx: Sender<Batch>,
        stop: Arc<AtomicBool>,
        followed: Arc<Mutex<Vec<FollowedFile>>>,
        max_watches: usize,
    ) -> Self {
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
        let first_start = start.files.is_empty();
        let ctx = Arc::new(ctx);
        let mut helpers = Vec::new();
        for n in 1..cfg.read_threads() {
            match Helper::spawn(ctx.clone(), n) {
                Ok(h) => helpers.push(h),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot start a reader thread; reading with fewer");
                    break;
                }
            }
        }
        Runner {
            cfg,
            ctx,
            helpers,
            scratch: Vec::new(),
            inotify,
            wd_dirs: HashMap::new(),
            dir_wds: HashMap::new(),
            polled: HashMap::new(),
            max_watches,
            tailers: HashMap::new(),
            by_path: HashMap::new(),
            present: HashSet::new(),
            state: start,
            links: LinkCache::default(),
            links_listed: None,
            kubelet: false,
            first_start,
            pending: Vec::new(),
            update: PositionUpdate::default(),
            tx,
            stop,
            followed,
            followed_dirty: true,
            last_rescan: Instant::now(),
            last_poll: Instant::now(),
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
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return;
            }
            let mut work = Work::default();
            let wait = self.next_wait();
            if let Some(ino) = self.inotify.as_mut() {
                let mut pfd = libc::pollfd {
                    fd: ino.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                let ms = wait.as_millis().min(i32::MAX as u128) as i32;
                // SAFETY: one valid pollfd for the duration of the call.
                let r = unsafe { libc::poll(&mut pfd, 1, ms) };
                if r > 0 {
                    self.drain_events(&mut buf, &mut work);
                }
            } else {
                std::thread::sleep(wait);
            }
            if self.last_rescan.elapsed() >= self.cfg.rescan_interval {
                work.full = true;
            }
            if (self.inotify.is_none() || !self.polled.is_empty())
                && self.last_poll.elapsed() >= POLL_INTERVAL
            {
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
        let rescan_at = self.last_rescan + self.cfg.rescan_interval;
        wait = wait.min(rescan_at.saturating_duration_since(now));
        if self.inotify.is_none() || !self.polled.is_empty() {
            wait = wait.min((self.last_poll + POLL_INTERVAL).saturating_duration_since(now));
        }
        for t in self.tailers.values() {
            if let Some(d) = t.partial_deadline(self.cfg.partial_timeout) {
                wait = wait.min(d.saturating_duration_since(now));
            }
        }
        wait.max(Duration::from_millis(1))
    }

    fn drain_events(&mut self, buf: &mut [u8], work: &mut Work) {
        let Some(ino) = self.inotify.as_mut() else {
            return;
        };
        loop {
            let events = match ino.read_events(buf) {
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
                            match self.by_path.get(&dir.join(&name)) {
                                Some(k) => {
                                    work.files.insert(*k);
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

    /// One round: rescans, reads, stale partials, finished files, batch out.
    fn cycle(&mut self, work: Work, initial: bool) -> Result<(), Stopped> {
        let mut to_read: HashSet<FileKey> = work.files;
        if work.full {
            self.full_scan(initial);
            to_read.extend(self.tailers.keys().copied());
            self.last_rescan = Instant::now();
        } else {
            if work.links {
                self.reload_links();
            }
            for dir in &work.dirs {
                if self.scan_dir(dir, false) {
                    to_read.extend(self.keys_in(dir));
                }
            }
            if work.poll {
                if self.inotify.is_none() {
                    self.full_scan(false);
                    to_read.extend(self.tailers.keys().copied());
                } else {
                    let polled: Vec<(PathBuf, DirKind)> =
                        self.polled.iter().map(|(p, k)| (p.clone(), *k)).collect();
                    let structural = polled.iter().any(|(_, k)| *k != DirKind::Container);
                    if structural {
                        self.full_scan(false);
                        to_read.extend(self.tailers.keys().copied());
                    } else {
                        for (dir, _) in polled {
                            self.scan_dir(&dir, false);
                            to_read.extend(self.keys_in(&dir));
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
        self.read_files(keys)?;
        self.flush_stale();
        self.finish_files()?;
        self.flush_batch()?;
        self.publish_followed();
        Ok(())
    }

    fn keys_in(&self, dir: &Path) -> Vec<FileKey> {
        self.tailers
            .values()
            .filter(|t| in_dir(&t.path, dir))
            .map(|t| t.key)
            .collect()
    }

    fn read_file(&mut self, key: FileKey) -> Result<(), Stopped> {
        loop {
            let Some(t) = self.tailers.get_mut(&key) else {
                return Ok(());
            };
            match t.read_with(
                &mut self.scratch,
                &self.ctx,
                &mut self.pending,
                self.cfg.max_batch,
            ) {
                Ok(ReadOutcome::Eof) => return Ok(()),
                Ok(ReadOutcome::Full) => self.flush_batch()?,
                Err(e) => {
                    tracing::warn!(path = %t.path.display(), error = %e, "read failed");
                    return Ok(());
                }
            }
        }
    }

    /// Reads `keys` to EOF, sharing the files among the runner and its helper
    /// threads in rounds of one batch per thread. Between rounds every tailer is
    /// back in `self.tailers`, so scans and position snapshots see them all.
    fn read_files(&mut self, keys: Vec<FileKey>) -> Result<(), Stopped> {
        if keys.len() < 2 || self.helpers.is_empty() {
            for key in keys {
                self.read_file(key)?;
            }
            return Ok(());
        }
        let max = self.cfg.max_batch;
        let mut queue = keys;
        while !queue.is_empty() {
            // Deal the files round-robin: share 0 is the runner's.
            let shares_n = (self.helpers.len() + 1).min(queue.len());
            let mut shares: Vec<Vec<Tailer>> = (0..shares_n).map(|_| Vec::new()).collect();
            let mut i = 0;
            for key in &queue {
                if let Some(t) = self.tailers.remove(key) {
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
                    max,
                }) {
                    Ok(()) => submitted.push((hi, share_keys)),
                    Err(job) => inline.extend(job.tailers),
                }
            }
            let mut results = read_all(&self.ctx, &mut self.scratch, mine, &mut self.pending, max);
            // A helper that could not take its share: read it here, after ours.
            results.extend(read_all(
                &self.ctx,
                &mut self.scratch,
                inline,
                &mut self.pending,
                max,
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
                self.tailers.insert(t.key, t);
            }
            // Each helper's entries go in a batch with its own files' positions;
            // the runner's share goes with everything else in `flush_batch`.
            for (entries, share_keys) in parts {
                self.send_share(entries, &share_keys)?;
            }
            self.flush_batch()?;
        }
        Ok(())
    }

    /// Sends a helper's entries with the positions of the files it read (and any
    /// earlier position change waiting, which must not be overtaken).
    fn send_share(&mut self, entries: Vec<LogEntry>, keys: &[FileKey]) -> Result<(), Stopped> {
        let mut positions = std::mem::take(&mut self.update);
        let mut upsert = Vec::new();
        for key in keys {
            if let Some(t) = self.tailers.get_mut(key) {
                if t.dirty {
                    t.dirty = false;
                    upsert.push(t.position());
                }
            }
        }
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

    fn flush_stale(&mut self) {
        let timeout = self.cfg.partial_timeout;
        for t in self.tailers.values_mut() {
            t.flush_stale(&self.ctx, timeout, &mut self.pending);
        }
    }

    /// Drops tailers whose file is deleted (after draining it to the end) and
    /// closes rotated files idle for long.
    fn finish_files(&mut self) -> Result<(), Stopped> {
        let candidates: Vec<FileKey> = self
            .tailers
            .values()
            .filter(|t| !t.live)
            .map(|t| t.key)
            .collect();
        for key in candidates {
            let Some(t) = self.tailers.get(&key) else {
                continue;
            };
            let deleted = t.nlink() == 0;
            let idle = t.last_data.elapsed() >= ROTATED_IDLE
                && t.buffered() == 0
                && !t.has_partials()
                && t.size() <= t.offset();
            if !deleted && !idle {
                continue;
            }
            self.read_file(key)?;
            let Some(mut t) = self.tailers.remove(&key) else {
                continue;
            };
            self.by_path.retain(|_, k| *k != key);
            self.followed_dirty = true;
            if deleted {
                t.flush_tail(
                    &self.ctx,
                    &mut self.pending,
                    lookout_shared::Timestamp::now(),
                );
                tracing::debug!(path = %t.path.display(), "deleted file drained and released");
                self.update.merge(PositionUpdate {
                    upsert: vec![],
                    remove: vec![key],
                });
            } else {
                self.update.merge(PositionUpdate {
                    upsert: vec![t.position()],
                    remove: vec![],
                });
            }
        }
        Ok(())
    }

    /// Sends what was collected; blocks (pausing collection) while the consumer
    /// is behind.
    fn flush_batch(&mut self) -> Result<(), Stopped> {
        let mut upsert = Vec::new();
        for t in self.tailers.values_mut() {
            if t.dirty {
                t.dirty = false;
                upsert.push(t.position());
            }
        }
        self.update.merge(PositionUpdate {
            upsert,
            remove: vec![],
        });
        if self.pending.is_empty() && self.update.is_empty() {
            return Ok(());
        }
        let positions = std::mem::take(&mut self.update);
        self.state.apply(&positions);
        // The next batch starts at this one's size: no regrowing (and copying)
        // while reading fast, no big idle allocation while trickling.
        let cap = self.pending.len();
        let batch = Batch {
            entries: std::mem::replace(&mut self.pending, Vec::with_capacity(cap)),
            positions,
        };
        self.send(batch)
    }

    fn send(&mut self, mut batch: Batch) -> Result<(), Stopped> {
        loop {
            match self.tx.send_timeout(batch, MAX_WAIT) {
                Ok(()) => return Ok(()),
                Err(SendTimeoutError::Disconnected(_)) => return Err(Stopped),
                Err(SendTimeoutError::Timeout(b)) => {
                    if self.stop.load(Ordering::Relaxed) {
                        return Err(Stopped);
                    }
                    batch = b;
                }
            }
        }
    }

    fn publish_followed(&mut self) {
        if !self.followed_dirty {
            return;
        }
        self.followed_dirty = false;
        let mut list: Vec<FollowedFile> = self
            .tailers
            .values()
            .map(|t| FollowedFile {
                path: t.path.clone(),
                namespace: t.meta.namespace.clone(),
                pod: t.meta.pod.clone(),
                pod_uid: t.meta.pod_uid.clone(),
                container: t.meta.container.clone(),
                container_id: t.meta.container_id.clone(),
                restart: t.meta.restart,
            })
            .collect();
        list.sort_by(|a, b| a.path.cmp(&b.path));
        if let Ok(mut f) = self.followed.lock() {
            *f = list;
        }
    }

    /// Adds a watch (or falls back to polling when the limits are reached).
    fn watch(&mut self, dir: &Path, kind: DirKind) {
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
                if self.polled.insert(dir.to_path_buf(), kind).is_none() {
                    tracing::warn!(dir = %dir.display(), error = %e, "inotify limits exhausted; polling this directory");
                }
            }
            Err(e) => {
                tracing::debug!(dir = %dir.display(), error = %e, "cannot watch");
            }
        }
    }

    fn reload_links(&mut self) {
        self.links_listed = Some(Instant::now());
        if !self.links.refresh(&self.cfg.log_dir.join("containers")) {
            return;
        }
        let links = &self.links.map;
        let mut changed = false;
        for t in self.tailers.values_mut() {
            if !t.meta.kubelet {
                continue;
            }
            if let Some(id) = link_id(links, &t.path, &t.stem) {
                if *id != t.meta.container_id {
                    let mut m = (*t.meta).clone();
                    m.container_id = id.clone();
                    t.meta = Arc::new(m);
                    changed = true;
                }
            }
        }
        self.followed_dirty |= changed;
    }

    /// Reconciles everything on disk with the open tailers.
    fn full_scan(&mut self, initial: bool) {
        let root = self.cfg.log_dir.clone();
        self.watch(&root, DirKind::Root);
        let pods = root.join("pods");
        self.kubelet = pods.is_dir();
        let containers = root.join("containers");
        if containers.is_dir() {
            self.watch(&containers, DirKind::Links);
        }
        self.reload_links();
        self.present.clear();
        let mut seen_dirs: Vec<PathBuf> = Vec::new();
        if self.kubelet {
            self.watch(&pods, DirKind::Structure);
            for pod in subdirs(&pods) {
                self.watch(&pod, DirKind::Structure);
                for cdir in subdirs(&pod) {
                    self.watch(&cdir, DirKind::Container);
                    seen_dirs.push(cdir);
                }
            }
        } else {
            seen_dirs.push(root.clone());
        }
        for dir in &seen_dirs {
            self.scan_dir_inner(dir, initial);
        }
        // Watches of directories that are gone.
        let gone: Vec<PathBuf> = self
            .polled
            .keys()
            .filter(|p| !p.is_dir())
            .cloned()
            .collect();
        for p in gone {
            self.polled.remove(&p);
        }
        // Tailers not found anywhere: no longer live.
        for t in self.tailers.values_mut() {
            if !self.present.contains(&t.key) {
                t.live = false;
            }
        }
        // Closed files that are gone from disk.
        let stale: Vec<FileKey> = self
            .state
            .files
            .values()
            .map(|p| p.key)
            .filter(|k| !self.present.contains(k) && !self.tailers.contains_key(k))
            .collect();
        if !stale.is_empty() {
            self.update.merge(PositionUpdate {
                upsert: vec![],
                remove: stale.clone(),
            });
            for k in stale {
                self.state.files.remove(&k.map_key());
            }
        }
        self.first_start = false;
    }

    /// Rescans one directory after an event; `false` if it is not a log directory.
    fn scan_dir(&mut self, dir: &Path, initial: bool) -> bool {
        let is_container =
            dir.parent().and_then(Path::parent) == Some(&self.cfg.log_dir.join("pods"));
        let is_plain_root = !self.kubelet && dir == self.cfg.log_dir;
        if !is_container && !is_plain_root {
            return false;
        }
        if is_container && dir.is_dir() {
            self.watch(dir, DirKind::Container);
        }
        self.scan_dir_inner(dir, initial);
        true
    }

    fn scan_dir_inner(&mut self, dir: &Path, initial: bool) {
        let mut seen: HashSet<FileKey> = HashSet::new();
        let kubelet_dir =
            dir.parent().and_then(Path::parent) == Some(&self.cfg.log_dir.join("pods"));
        if let Ok(rd) = std::fs::read_dir(dir) {
            for entry in rd.flatten() {
                let name = entry.file_name();
                let Some(name) = name.to_str() else { continue };
                let (stem, live) = match classify(name) {
                    NameKind::Live { stem } => (stem, true),
                    NameKind::Rotated { stem } => (stem, false),
                    NameKind::Ignored => continue,
                };
                let path = entry.path();
                let Ok(md) = std::fs::metadata(&path) else {
                    continue;
                };
                if !md.is_file() {
                    continue;
                }
                let key = FileKey {
                    dev: md.dev(),
                    ino: md.ino(),
                };
                if let Some(t) = self.tailers.get_mut(&key) {
                    if t.path != path {
                        self.by_path.retain(|_, k| *k != key);
                        t.path = path.clone();
                        t.dirty = true;
                        self.followed_dirty = true;
                    }
                    t.live = live;
                    self.by_path.insert(path, key);
                    seen.insert(key);
                    continue;
                }
                let opened =
                    self.open(dir, &path, &stem, live, key, md.len(), initial, kubelet_dir);
                if opened || self.state.get(&key).is_some() {
                    seen.insert(key);
                }
            }
        }
        // Tailers of this directory that were not found: renamed away or deleted.
        for t in self.tailers.values_mut() {
            if in_dir(&t.path, dir) && !seen.contains(&t.key) {
                t.live = false;
                self.by_path.remove(&t.path);
            }
        }
        self.present.extend(seen.iter().copied());
        // Closed files of this directory that are gone.
        let gone: Vec<FileKey> = self
            .state
            .files
            .values()
            .filter(|p| in_dir(&p.path, dir) && !seen.contains(&p.key))
            .filter(|p| !self.tailers.contains_key(&p.key))
            .map(|p| p.key)
            .collect();
        if !gone.is_empty() {
            for k in &gone {
                self.state.files.remove(&k.map_key());
            }
            self.update.merge(PositionUpdate {
                upsert: vec![],
                remove: gone,
            });
        }
    }

    /// Decides where to start in a file we do not have open; `true` if it is
    /// now followed or recorded.
    #[allow(clippy::too_many_arguments)]
    fn open(
        &mut self,
        dir: &Path,
        path: &Path,
        stem: &str,
        live: bool,
        key: FileKey,
        size: u64,
        initial: bool,
        kubelet_dir: bool,
    ) -> bool {
        let known = self.state.get(&key).cloned();
        let Ok(file) = File::open(path) else {
            return false;
        };
        // The stored position still belongs to this file (not a reused inode)?
        let known = known
            .filter(|p| p.fp_len == 0 || fingerprint_of(&file, p.fp_len) == Some(p.fingerprint));
        let meta = Arc::new(self.meta_for(dir, path, stem, kubelet_dir));
        if let Some(pos) = known {
            let mut pos = pos;
            pos.path = path.to_path_buf();
            if !live && size <= pos.offset && pos.partials.is_empty() {
                // A finished rotated file: nothing to do until it grows.
                return true;
            }
            if size < pos.offset {
                // Truncated while we were away: start over.
                pos.offset = 0;
                pos.skipping = false;
            }
            let t = Tailer::resume(&pos, file, path.to_path_buf(), meta, stem.to_string(), live);
            self.insert(t);
            return true;
        }
        let offset = if live {
            if initial && self.first_start && self.cfg.read_from == ReadFrom::End {
                size
            } else {
                0
            }
        } else if !kubelet_dir {
            // Plain directories rotate with logrotate, possibly by copying:
            // only inodes we already follow are read after a rename.
            return false;
        } else if initial && self.first_start && self.cfg.read_from == ReadFrom::End {
            // History that existed before the first start: recorded, not read.
            let t = Tailer::new(
                key,
                file,
                path.to_path_buf(),
                meta,
                stem.to_string(),
                false,
                size,
            );
            let p = t.position();
            self.state.apply(&PositionUpdate {
                upsert: vec![p.clone()],
                remove: vec![],
            });
            self.update.merge(PositionUpdate {
                upsert: vec![p],
                remove: vec![],
            });
            return true;
        } else {
            // A rotated file we never read (two rotations before we caught up,
            // rotated while we were stopped, or rotated before our first start
            // with `--read-from beginning`): all of it is new to us.
            0
        };
        let t = Tailer::new(
            key,
            file,
            path.to_path_buf(),
            meta,
            stem.to_string(),
            live,
            offset,
        );
        self.insert(t);
        true
    }

    fn insert(&mut self, t: Tailer) {
        tracing::debug!(path = %t.path.display(), offset = t.offset(), "following");
        self.by_path.insert(t.path.clone(), t.key);
        self.followed_dirty = true;
        self.tailers.insert(t.key, t);
    }

    fn meta_for(&mut self, dir: &Path, path: &Path, stem: &str, kubelet_dir: bool) -> FileMeta {
        if !kubelet_dir {
            return plain_meta(stem);
        }
        let container = dir.file_name().and_then(|s| s.to_str()).unwrap_or_default();
        let pod = dir
            .parent()
            .and_then(Path::file_name)
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let mut m = kubelet_meta(pod, container, stem);
        let listed_lately = self
            .links_listed
            .is_some_and(|t| t.elapsed() < LINKS_RELIST);
        if link_id(&self.links.map, path, stem).is_none() && !listed_lately {
            // The symlink may have appeared just now (a later `containers/` event
            // fills the id in if it appears after this).
            self.links_listed = Some(Instant::now());
            self.links.refresh(&self.cfg.log_dir.join("containers"));
        }
        if let Some(id) = link_id(&self.links.map, path, stem) {
            m.container_id = id.clone();
        }
        m
    }
}

/// Whether `path` is directly inside `dir`, on the bytes: every directory scan asks
/// this of every followed file, and `Path::parent` equality (component parsing)
/// made scans at 5,000 files quadratic in a costly way. Paths here are built by
/// `dir.join(name)`, so the byte form is canonical enough.
fn in_dir(path: &Path, dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let (p, d) = (path.as_os_str().as_bytes(), dir.as_os_str().as_bytes());
    let d = d.strip_suffix(b"/").unwrap_or(d);
    match p.strip_prefix(d).and_then(|rest| rest.strip_prefix(b"/")) {
        Some(name) => !name.is_empty() && !name.contains(&b'/'),
        None => false,
    }
}

fn link_id<'a>(
    links: &'a HashMap<(String, String, String), String>,
    path: &Path,
    stem: &str,
) -> Option<&'a String> {
    let (pod, container, _) = tail_key(path)?;
    links.get(&(pod, container, format!("{stem}.log")))
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .flatten()
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::in_dir;
    use std::path::Path;

    #[test]
    fn in_dir_is_direct_children_only() {
        let d = Path::new("/var/log/pods/ns_p_u/app");
        assert!(in_dir(&d.join("0.log"), d));
        assert!(in_dir(
            Path::new("/var/log/pods/ns_p_u/app/0.log"),
            Path::new("/var/log/pods/ns_p_u/app/")
        ));
        assert!(!in_dir(Path::new("/var/log/pods/ns_p_u/app2/0.log"), d));
        assert!(!in_dir(Path::new("/var/log/pods/ns_p_u/app/x/0.log"), d));
        assert!(!in_dir(d, d));
        assert!(!in_dir(Path::new("/var/log/pods/ns_p_u/0.log"), d));
    }
}
