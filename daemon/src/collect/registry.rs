//! The tailer registry: which files are followed, known by identity (device,
//! inode, and the fingerprint of their first bytes kept in their positions), and
//! the directory scans that reconcile it with what is on disk.
//!
//! Scans are the truth. Files are tracked by (device, inode), so a rename is just
//! a new path for a tailer that keeps its open fd; a rotated file is drained
//! through that fd and released once unlinked, or closed when idle (its position
//! is kept and it is reopened if it grows).

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lookout_shared::LogEntry;

use super::batch::Batcher;
use super::contain::{LogRoot, OpenError, Refusal, Refusals};
use super::fds::{is_exhaustion, Fds};
use super::layout::{classify, kubelet_meta, plain_meta, tail_key, FileMeta, LinkCache, NameKind};
use super::positions::{fingerprint_of, FileKey, FilePosition, PositionUpdate};
use super::tailer::{TailCtx, Tailer};
use super::watch::{DirKind, Watches};
use super::{FollowedFile, ReadFrom};

/// A rotated file idle this long at EOF is closed (its position is kept; it is
/// reopened if it grows again).
const ROTATED_IDLE: Duration = Duration::from_secs(60);
/// A new file whose container symlink is unknown re-lists `containers/` at most
/// this often: thousands of containers starting at once must not cost a listing each.
const LINKS_RELIST: Duration = Duration::from_millis(250);

/// Why a rotated tailer is released.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Finish {
    /// Unlinked: drained to its end through the fd, then forgotten.
    Deleted,
    /// At EOF for [`ROTATED_IDLE`]: closed, its position kept.
    Idle,
}

/// One directory being scanned.
struct DirScan<'a> {
    dir: &'a Path,
    /// A `pods/<pod>/<container>/` directory (not the plain root).
    kubelet: bool,
    /// The scan at start-up (before the first batch).
    initial: bool,
}

/// A log file a scan found that no tailer has open (a regular file, checked).
struct Found {
    path: PathBuf,
    stem: String,
    /// At its live name (`X.log`), not rotated.
    live: bool,
    key: FileKey,
    size: u64,
}

/// Every followed file, and what is known about the log root's layout.
pub(crate) struct Registry {
    log_dir: PathBuf,
    /// The canonical log root every directory and file is checked against.
    root: LogRoot,
    /// The canonical `pods/`, when it lies under the root.
    pods_real: Option<PathBuf>,
    /// Paths not read, warned about once.
    refusals: Refusals,
    /// The fds tailers hold, and their budget.
    fds: Arc<Fds>,
    read_from: ReadFrom,
    tailers: HashMap<FileKey, Tailer>,
    by_path: HashMap<PathBuf, FileKey>,
    /// Files found by the current full scan.
    present: HashSet<FileKey>,
    links: LinkCache,
    /// When `containers/` was last listed (new files re-list it at most this often).
    links_listed: Option<Instant>,
    /// A `pods/` directory exists (kubelet layout, else plain `*.log` files).
    kubelet: bool,
    /// No positions at all: `--read-from end` applies until the first full scan ends.
    first_start: bool,
    /// The followed list changed since it was last taken.
    followed_dirty: bool,
}

impl Registry {
    pub(crate) fn new(
        log_dir: PathBuf,
        root: LogRoot,
        refusals: Refusals,
        fds: Arc<Fds>,
        read_from: ReadFrom,
        first_start: bool,
    ) -> Self {
        Registry {
            log_dir,
            root,
            pods_real: None,
            refusals,
            fds,
            read_from,
            tailers: HashMap::new(),
            by_path: HashMap::new(),
            present: HashSet::new(),
            links: LinkCache::default(),
            links_listed: None,
            kubelet: false,
            first_start,
            followed_dirty: true,
        }
    }

    /// The followed file at `path`, if any.
    pub(crate) fn key_at(&self, path: &Path) -> Option<FileKey> {
        self.by_path.get(path).copied()
    }

    /// Every followed file.
    pub(crate) fn keys(&self) -> impl Iterator<Item = FileKey> + '_ {
        self.tailers.keys().copied()
    }

    /// The followed files directly inside `dir`.
    pub(crate) fn keys_in(&self, dir: &Path) -> Vec<FileKey> {
        self.tailers
            .values()
            .filter(|t| in_dir(&t.path, dir))
            .map(|t| t.key)
            .collect()
    }

    pub(crate) fn get_mut(&mut self, key: &FileKey) -> Option<&mut Tailer> {
        self.tailers.get_mut(key)
    }

    /// Lends a tailer out (to a reading thread); [`Registry::put_back`] returns it.
    pub(crate) fn take(&mut self, key: &FileKey) -> Option<Tailer> {
        self.tailers.remove(key)
    }

    pub(crate) fn put_back(&mut self, t: Tailer) {
        self.tailers.insert(t.key, t);
    }

    /// The positions of every tailer changed since the last call.
    pub(crate) fn dirty_positions(&mut self) -> Vec<FilePosition> {
        let mut upsert = Vec::new();
        for t in self.tailers.values_mut() {
            if t.dirty {
                t.dirty = false;
                upsert.push(t.position());
            }
        }
        upsert
    }

    /// Like [`Registry::dirty_positions`], for `keys` only.
    pub(crate) fn dirty_positions_of(&mut self, keys: &[FileKey]) -> Vec<FilePosition> {
        let mut upsert = Vec::new();
        for key in keys {
            if let Some(t) = self.tailers.get_mut(key) {
                if t.dirty {
                    t.dirty = false;
                    upsert.push(t.position());
                }
            }
        }
        upsert
    }

    /// The earliest instant a pending partial line becomes stale.
    pub(crate) fn partial_deadline(&self, timeout: Duration) -> Option<Instant> {
        self.tailers
            .values()
            .filter_map(|t| t.partial_deadline(timeout))
            .min()
    }

    /// Emits partial lines that waited longer than `timeout`.
    pub(crate) fn flush_stale(
        &mut self,
        ctx: &TailCtx,
        timeout: Duration,
        out: &mut Vec<LogEntry>,
    ) {
        for t in self.tailers.values_mut() {
            t.flush_stale(ctx, timeout, out);
        }
    }

    /// Closes the fds of live files idle for `idle` (their state is kept; they are
    /// reopened when they grow), then, while the tailers hold more fds than their
    /// budget, those of the longest idle live files.
    pub(crate) fn close_idle(&mut self, idle: Duration) {
        for t in self.tailers.values_mut() {
            if t.live && t.is_open() && t.last_data.elapsed() >= idle {
                tracing::debug!(path = %t.path.display(), "idle: fd closed");
                t.close();
            }
        }
        self.shed(self.fds.budget());
    }

    /// Closes live files' fds, longest idle first, until at most `keep` are open.
    fn shed(&mut self, keep: usize) {
        let open = self.fds.open();
        if open <= keep {
            return;
        }
        let mut live: Vec<(Instant, FileKey)> = self
            .tailers
            .values()
            .filter(|t| t.live && t.is_open())
            .map(|t| (t.last_data, t.key))
            .collect();
        live.sort_unstable();
        for (_, key) in live.into_iter().take(open - keep) {
            if let Some(t) = self.tailers.get_mut(&key) {
                t.close();
            }
        }
    }

    /// Tailers open and closed, and the budget (for the start-up warning).
    pub(crate) fn fd_use(&self) -> (usize, usize) {
        (self.tailers.len(), self.fds.open())
    }

    /// Tailers no longer at their live name: candidates for [`Registry::finished`].
    pub(crate) fn rotated(&self) -> Vec<FileKey> {
        self.tailers
            .values()
            .filter(|t| !t.live)
            .map(|t| t.key)
            .collect()
    }

    /// Whether a rotated tailer is done: its file deleted, or idle at its end.
    /// The caller reads it once more, then [`Registry::release`]s it.
    pub(crate) fn finished(&self, key: &FileKey) -> Option<Finish> {
        let t = self.tailers.get(key)?;
        if t.nlink() == 0 {
            return Some(Finish::Deleted);
        }
        let idle = t.last_data.elapsed() >= ROTATED_IDLE
            && t.buffered() == 0
            && !t.has_partials()
            && t.size() <= t.offset();
        idle.then_some(Finish::Idle)
    }

    /// Drops a finished tailer: a deleted file's unterminated last line and
    /// partials are emitted and its position removed; an idle file's position is
    /// kept so it resumes if it grows.
    pub(crate) fn release(
        &mut self,
        key: FileKey,
        finish: Finish,
        ctx: &TailCtx,
        out: &mut Batcher,
    ) {
        let Some(mut t) = self.tailers.remove(&key) else {
            return;
        };
        self.by_path.retain(|_, k| *k != key);
        self.followed_dirty = true;
        match finish {
            Finish::Deleted => {
                t.flush_tail(ctx, &mut out.entries, lookout_shared::Timestamp::now());
                tracing::debug!(path = %t.path.display(), "deleted file drained and released");
                out.queue(PositionUpdate {
                    upsert: vec![],
                    remove: vec![key],
                });
            }
            Finish::Idle => out.queue(PositionUpdate {
                upsert: vec![t.position()],
                remove: vec![],
            }),
        }
    }

    /// The followed files, when they changed since the last call.
    pub(crate) fn take_followed(&mut self) -> Option<Vec<FollowedFile>> {
        if !self.followed_dirty {
            return None;
        }
        self.followed_dirty = false;
        let mut list: Vec<FollowedFile> = self
            .tailers
            .values()
            .map(|t| FollowedFile {
                path: t.path.clone(),
                source: t.meta.source.clone(),
            })
            .collect();
        list.sort_by(|a, b| a.path.cmp(&b.path));
        Some(list)
    }

    /// Re-lists `containers/` and fills in container ids that changed.
    pub(crate) fn reload_links(&mut self) {
        self.links_listed = Some(Instant::now());
        if !self.refresh_links() {
            return;
        }
        let links = &self.links.map;
        let mut changed = false;
        for t in self.tailers.values_mut() {
            if !t.meta.kubelet {
                continue;
            }
            if let Some(id) = link_id(links, &t.path, &t.stem) {
                if *id != t.meta.source.container_id {
                    let mut m = (*t.meta).clone();
                    m.source.container_id = id.clone();
                    t.meta = Arc::new(m);
                    changed = true;
                }
            }
        }
        self.followed_dirty |= changed;
    }

    /// Re-lists `containers/`, reporting the links refused; whether the map changed.
    fn refresh_links(&mut self) -> bool {
        let (changed, refused) = self
            .links
            .refresh(&self.log_dir.join("containers"), self.pods_real.as_deref());
        for path in refused {
            self.refusals.refuse(&path, Refusal::LinkTarget);
        }
        changed
    }

    /// The subdirectories of `dir` to follow: real directories only. A symlink to
    /// a directory is refused (out of the root, or a second name for one inside).
    fn subdirs(&mut self, dir: &Path) -> Vec<PathBuf> {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut v: Vec<PathBuf> = Vec::new();
        for e in rd.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                v.push(e.path());
            } else if ft.is_symlink() && e.path().is_dir() {
                let why = match self.root.check_dir(&e.path()) {
                    Err(OpenError::Refused(r)) => r,
                    _ => Refusal::Symlink,
                };
                self.refusals.refuse(&e.path(), why);
            }
        }
        v.sort();
        v
    }

    /// Reconciles everything on disk with the open tailers.
    pub(crate) fn full_scan(&mut self, initial: bool, watches: &mut Watches, out: &mut Batcher) {
        let root = self.log_dir.clone();
        watches.add(&root, DirKind::Root);
        let pods = root.join("pods");
        self.kubelet = pods.is_dir();
        self.pods_real = None;
        if self.kubelet {
            match self.root.check_dir(&pods) {
                Ok(()) => self.pods_real = std::fs::canonicalize(&pods).ok(),
                Err(e) => {
                    self.refusals.report(&pods, &e);
                }
            }
        }
        let containers = root.join("containers");
        if containers.is_dir() {
            watches.add(&containers, DirKind::Links);
        }
        self.reload_links();
        self.present.clear();
        let mut seen_dirs: Vec<PathBuf> = Vec::new();
        if self.kubelet && self.pods_real.is_some() {
            watches.add(&pods, DirKind::Structure);
            for pod in self.subdirs(&pods) {
                watches.add(&pod, DirKind::Structure);
                for cdir in self.subdirs(&pod) {
                    watches.add(&cdir, DirKind::Container);
                    seen_dirs.push(cdir);
                }
            }
        } else {
            seen_dirs.push(root.clone());
        }
        for dir in &seen_dirs {
            self.scan_dir_inner(dir, initial, out);
        }
        // Watches of directories that are gone.
        watches.prune_polled();
        // Tailers not found anywhere: no longer live.
        for t in self.tailers.values_mut() {
            if !self.present.contains(&t.key) {
                t.live = false;
            }
        }
        // Closed files that are gone from disk.
        let stale: Vec<FileKey> = out
            .positions()
            .map(|p| p.key)
            .filter(|k| !self.present.contains(k) && !self.tailers.contains_key(k))
            .collect();
        out.forget(stale);
        self.first_start = false;
    }

    /// Rescans one directory after an event; `false` if it is not a log directory.
    pub(crate) fn scan_dir(
        &mut self,
        dir: &Path,
        initial: bool,
        watches: &mut Watches,
        out: &mut Batcher,
    ) -> bool {
        let is_container = dir.parent().and_then(Path::parent) == Some(&self.log_dir.join("pods"));
        let is_plain_root = !self.kubelet && dir == self.log_dir;
        if !is_container && !is_plain_root {
            return false;
        }
        if is_container && dir.is_dir() {
            if let Err(e) = self.root.check_dir(dir) {
                self.refusals.report(dir, &e);
                return true;
            }
            watches.add(dir, DirKind::Container);
        }
        self.scan_dir_inner(dir, initial, out);
        true
    }

    fn scan_dir_inner(&mut self, dir: &Path, initial: bool, out: &mut Batcher) {
        let mut seen: HashSet<FileKey> = HashSet::new();
        let scan = DirScan {
            dir,
            kubelet: dir.parent().and_then(Path::parent) == Some(&self.log_dir.join("pods")),
            initial,
        };
        // The directory itself must lie under the root (a `pods/` entry swapped
        // for a link since it was listed).
        let listing = match self.root.check_dir(dir) {
            Ok(()) => std::fs::read_dir(dir).map_err(OpenError::Io),
            Err(e) => Err(e),
        };
        let listing = match listing {
            Ok(rd) => Some(rd),
            Err(e) => {
                self.refusals.report(dir, &e);
                None
            }
        };
        if let Some(rd) = listing {
            for entry in rd.flatten() {
                let name = entry.file_name();
                let Some(name) = name.to_str() else { continue };
                let (stem, live) = match classify(name) {
                    NameKind::Live { stem } => (stem, true),
                    NameKind::Rotated { stem } => (stem, false),
                    NameKind::Ignored => continue,
                };
                let path = entry.path();
                // lstat: a link is never followed to find what to read.
                let Ok(md) = std::fs::symlink_metadata(&path) else {
                    continue;
                };
                let ft = md.file_type();
                if ft.is_symlink() {
                    let why = match self.root.resolve_link(&path) {
                        Err(OpenError::Refused(r)) => r,
                        // Dangling: nothing to read, nothing leaked.
                        Err(OpenError::Io(_)) => continue,
                        Ok(_) => Refusal::Symlink,
                    };
                    self.refusals.refuse(&path, why);
                    continue;
                }
                if ft.is_dir() {
                    continue;
                }
                if !ft.is_file() {
                    self.refusals.refuse(&path, Refusal::NotRegular);
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
                let found = Found {
                    path,
                    stem,
                    live,
                    key,
                    size: md.len(),
                };
                if self.open(&scan, found, out) || out.known(&key).is_some() {
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
        let gone: Vec<FileKey> = out
            .positions()
            .filter(|p| in_dir(&p.path, dir) && !seen.contains(&p.key))
            .filter(|p| !self.tailers.contains_key(&p.key))
            .map(|p| p.key)
            .collect();
        out.forget(gone);
    }

    /// Whether what a file held before our very first start is skipped
    /// (`--read-from end`): only during the start-up scan with no positions.
    fn skips_history(&self, scan: &DirScan) -> bool {
        scan.initial && self.first_start && self.read_from == ReadFrom::End
    }

    /// Decides where to start in a file we do not have open; `true` if it is
    /// now followed or recorded.
    fn open(&mut self, scan: &DirScan, f: Found, out: &mut Batcher) -> bool {
        let known = out.known(&f.key).cloned();
        let budget = self.fds.budget();
        if self.fds.open() >= budget {
            // Room for this one: the longest idle close, an eighth of the budget
            // at a time so that thousands of new files do not sort the tailers
            // once each.
            self.shed(budget.saturating_sub(budget / 8 + 1));
        }
        let mut opened = self.root.open(&f.path, f.key);
        if let Err(OpenError::Io(e)) = &opened {
            if is_exhaustion(e) {
                // Give back fds of idle files and try once more; else the file
                // is tried again on its next event or rescan.
                self.fds.exhausted(e);
                self.shed(self.fds.budget().saturating_sub(1));
                opened = self.root.open(&f.path, f.key);
                if let Err(OpenError::Io(e)) = &opened {
                    if is_exhaustion(e) {
                        return false;
                    }
                }
            }
        }
        let file = match opened {
            Ok(file) => {
                self.refusals.cleared(&f.path);
                self.fds.track(file)
            }
            Err(e) => {
                if !self.refusals.report(&f.path, &e) {
                    tracing::debug!(path = %f.path.display(), error = ?e, "cannot open");
                }
                return false;
            }
        };
        // The stored position still belongs to this file (not a reused inode)?
        let known = known
            .filter(|p| p.fp_len == 0 || fingerprint_of(&file, p.fp_len) == Some(p.fingerprint));
        let meta = Arc::new(self.meta_for(scan, &f.path, &f.stem));
        if let Some(mut pos) = known {
            pos.path = f.path.clone();
            if !f.live && f.size <= pos.offset && pos.partials.is_empty() {
                // A finished rotated file: nothing to do until it grows.
                return true;
            }
            if f.size < pos.offset {
                // Truncated while we were away: start over.
                pos.offset = 0;
                pos.skipping = false;
            }
            self.insert(Tailer::resume(&pos, file, f.path, meta, f.stem, f.live));
            return true;
        }
        let offset = if f.live {
            if self.skips_history(scan) {
                f.size
            } else {
                0
            }
        } else if !scan.kubelet {
            // Plain directories rotate with logrotate, possibly by copying:
            // only inodes we already follow are read after a rename.
            return false;
        } else if self.skips_history(scan) {
            // History that existed before the first start: recorded, not read.
            let t = Tailer::new(f.key, file, f.path, meta, f.stem, false, f.size);
            out.record(t.position());
            return true;
        } else {
            // A rotated file we never read (two rotations before we caught up,
            // rotated while we were stopped, or rotated before our first start
            // with `--read-from beginning`): all of it is new to us.
            0
        };
        self.insert(Tailer::new(
            f.key, file, f.path, meta, f.stem, f.live, offset,
        ));
        true
    }

    fn insert(&mut self, t: Tailer) {
        tracing::debug!(path = %t.path.display(), offset = t.offset(), "following");
        self.by_path.insert(t.path.clone(), t.key);
        self.followed_dirty = true;
        self.tailers.insert(t.key, t);
    }

    fn meta_for(&mut self, scan: &DirScan, path: &Path, stem: &str) -> FileMeta {
        if !scan.kubelet {
            return plain_meta(stem);
        }
        let dir = scan.dir;
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
            self.refresh_links();
        }
        if let Some(id) = link_id(&self.links.map, path, stem) {
            m.source.container_id = id.clone();
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
