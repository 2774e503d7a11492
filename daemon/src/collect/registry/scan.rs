//! The directory scans: what is on disk, reconciled with the open tailers, each
//! file checked (`contain.rs`) before it is opened.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use super::super::batch::Batcher;
use super::super::contain::{OpenError, Refusal};
use super::super::fds::is_exhaustion;
use super::super::layout::{classify, kubelet_meta, plain_meta, FileMeta, NameKind};
use super::super::positions::{fingerprint_of, FileKey};
use super::super::tailer::Tailer;
use super::super::watch::{DirKind, Watches};
use super::super::ReadFrom;
use super::{in_dir, link_id, Registry, LINKS_RELIST};

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

impl Registry {
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
            if !f.live && f.size <= pos.offset && !pos.has_pending() {
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
