//! The tailer registry: which files are followed, known by identity (device,
//! inode, and the fingerprint of their first bytes kept in their positions), and
//! the directory scans that reconcile it with what is on disk (`scan.rs`).
//!
//! Scans are the truth. Files are tracked by (device, inode), so a rename is just
//! a new path for a tailer that keeps its open fd; a rotated file is drained
//! through that fd and released once unlinked, or closed when idle (its position
//! is kept and it is reopened if it grows).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lookout_shared::LogEntry;

mod scan;

use super::batch::Batcher;
use super::contain::{LogRoot, Refusal, Refusals};
use super::fds::Fds;
use super::layout::{tail_key, LinkCache};
use super::positions::{FileKey, FilePosition, PositionUpdate};
use super::tailer::{TailCtx, Tailer};
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

    /// The earliest instant a pending partial line becomes stale or an open
    /// multi-line event's hold ends.
    pub(crate) fn partial_deadline(&self, timeout: Duration, hold: Duration) -> Option<Instant> {
        self.tailers
            .values()
            .filter_map(|t| t.partial_deadline(timeout, hold))
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
