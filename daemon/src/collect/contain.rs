//! Which files the collector may read: regular files whose real path lies under
//! the log root, and nothing else.
//!
//! Whoever can write into the log root must not be able to make the daemon read
//! what they cannot: `ln -s /etc/shadow LOGDIR/shadow.log` made `/etc/shadow`
//! searchable, `/proc/self/environ` leaked the daemon's token, and a kubelet-style
//! `pods/ns_evil_u/app/0.log -> /etc/shadow` was indexed as pod `evil`. So:
//!
//! - every directory scanned and every file opened must have its real path under
//!   the (canonical) log root;
//! - under `pods/` the final component must not be a symlink at all (the runtime
//!   writes real files; a link there could only borrow another pod's name);
//! - the file is opened with `O_NOFOLLOW | O_NONBLOCK` (a FIFO never blocks the
//!   collector), then `fstat`ed: it must be a regular file with the (device,
//!   inode) that was checked, so a swap between the check and the open is caught;
//!   where the fd really points (`/proc/self/fd`) is checked once more, and
//!   pseudo file systems (`/proc`, `/sys`) are refused outright.
//!
//! What is refused is counted (`lookout_collect_refused_total{reason}`) and
//! warned about once per path ([`Refusals`]).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::positions::FileKey;
use super::CollectMetrics;

/// Why a path is not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Refusal {
    /// Its real path is outside the log root (a link, or `..` in a link target).
    OutsideRoot,
    /// A symlink where the kubelet writes real files and directories (`pods/`).
    Symlink,
    /// Not a regular file: a FIFO, socket or device.
    NotRegular,
    /// On `/proc`, `/sys` or `debugfs`: generated content, not a log.
    PseudoFs,
    /// Its identity changed between the check and the open (a swap).
    Changed,
    /// A `containers/` link whose target is not the `pods/` file its name says.
    LinkTarget,
}

impl Refusal {
    /// The metric's `reason` label.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Refusal::OutsideRoot => "outside_root",
            Refusal::Symlink => "symlink",
            Refusal::NotRegular => "not_regular",
            Refusal::PseudoFs => "pseudo_fs",
            Refusal::Changed => "changed",
            Refusal::LinkTarget => "link_target",
        }
    }
}

/// Why [`LogRoot::open`] gave no file.
#[derive(Debug)]
pub(crate) enum OpenError {
    Refused(Refusal),
    /// The open itself failed: gone (`ENOENT`), `EACCES`, `EMFILE`...
    Io(io::Error),
}

impl From<io::Error> for OpenError {
    fn from(e: io::Error) -> Self {
        OpenError::Io(e)
    }
}

/// The log root, canonical: what every real path is checked against.
#[derive(Debug, Clone)]
pub(crate) struct LogRoot {
    real: PathBuf,
}

impl LogRoot {
    /// Canonicalizes `dir` once (a root reached through a link is fine: it is the
    /// operator's choice; what lies under it is what is checked).
    pub(crate) fn new(dir: &Path) -> io::Result<LogRoot> {
        Ok(LogRoot {
            real: std::fs::canonicalize(dir)?,
        })
    }

    /// Whether a canonical path is the root or under it.
    pub(crate) fn contains(&self, real: &Path) -> bool {
        real.starts_with(&self.real)
    }

    /// The canonical root.
    #[cfg(test)]
    pub(crate) fn real(&self) -> &Path {
        &self.real
    }

    /// Checks that a directory about to be scanned really lies under the root.
    pub(crate) fn check_dir(&self, dir: &Path) -> Result<(), OpenError> {
        let real = std::fs::canonicalize(dir)?;
        if self.contains(&real) {
            Ok(())
        } else {
            Err(OpenError::Refused(Refusal::OutsideRoot))
        }
    }

    /// What a symlink at `path` resolves to, if that stays under the root.
    pub(crate) fn resolve_link(&self, path: &Path) -> Result<PathBuf, OpenError> {
        let real = std::fs::canonicalize(path)?;
        if self.contains(&real) {
            Ok(real)
        } else {
            Err(OpenError::Refused(Refusal::OutsideRoot))
        }
    }

    /// Opens the regular file at `path` (not a link: `O_NOFOLLOW`) for reading,
    /// and only if it is the file `expect` names and really lies under the root.
    pub(crate) fn open(&self, path: &Path, expect: FileKey) -> Result<File, OpenError> {
        if let Some(parent) = path.parent() {
            self.check_dir(parent)?;
        }
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(path)
            .map_err(|e| match e.raw_os_error() {
                // The final component became a symlink since it was checked.
                Some(libc::ELOOP) => OpenError::Refused(Refusal::Changed),
                _ => OpenError::Io(e),
            })?;
        let md = file.metadata()?;
        if !md.is_file() {
            return Err(OpenError::Refused(Refusal::NotRegular));
        }
        if (FileKey {
            dev: md.dev(),
            ino: md.ino(),
        }) != expect
        {
            return Err(OpenError::Refused(Refusal::Changed));
        }
        // Where the fd really is, after the open: a directory on the way swapped
        // for a link is caught here. `/proc` may be absent (then the checks above
        // stand alone).
        if let Ok(at) = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())) {
            if at.is_absolute() && !self.contains(&at) {
                return Err(OpenError::Refused(Refusal::OutsideRoot));
            }
        }
        if on_pseudo_fs(&file) {
            return Err(OpenError::Refused(Refusal::PseudoFs));
        }
        Ok(file)
    }
}

/// Whether `file` lives on `/proc`, `/sys` or `debugfs`.
fn on_pseudo_fs(file: &File) -> bool {
    // SAFETY: an all-zero statfs is a valid value for fstatfs to overwrite.
    let mut s: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid fd and a struct of the right type, written by the call.
    if unsafe { libc::fstatfs(file.as_raw_fd(), &mut s) } != 0 {
        return false;
    }
    matches!(
        s.f_type,
        libc::PROC_SUPER_MAGIC | libc::SYSFS_MAGIC | libc::DEBUGFS_MAGIC
    )
}

/// Most distinct paths remembered as warned: bad input must not grow memory
/// without bound. Beyond it, refusals are still counted and summed up in one
/// warning a minute.
const MAX_WARNED: usize = 4096;
/// How often the summary of refusals beyond [`MAX_WARNED`] is logged.
const SUMMARY_EVERY: Duration = Duration::from_secs(60);

/// Refused and unreadable paths: one warning per path (again only if the reason
/// changes), one count per path in the metrics and [`super::CollectorStats`].
pub(crate) struct Refusals {
    warned: HashMap<PathBuf, &'static str>,
    metrics: Option<CollectMetrics>,
    refused: Arc<AtomicU64>,
    unreadable: Arc<AtomicU64>,
    suppressed: u64,
    last_summary: Option<Instant>,
}

impl Refusals {
    pub(crate) fn new(
        metrics: Option<CollectMetrics>,
        refused: Arc<AtomicU64>,
        unreadable: Arc<AtomicU64>,
    ) -> Self {
        Refusals {
            warned: HashMap::new(),
            metrics,
            refused,
            unreadable,
            suppressed: 0,
            last_summary: None,
        }
    }

    /// Whether this is news for `path` (and remembers it).
    fn first(&mut self, path: &Path, what: &'static str) -> bool {
        if self.warned.get(path) == Some(&what) {
            return false;
        }
        if self.warned.len() >= MAX_WARNED && !self.warned.contains_key(path) {
            self.suppressed += 1;
            if self
                .last_summary
                .is_none_or(|t| t.elapsed() >= SUMMARY_EVERY)
            {
                self.last_summary = Some(Instant::now());
                tracing::warn!(
                    more = self.suppressed,
                    "more files refused or unreadable than are named one by one; see \
                     lookout_collect_refused_total and lookout_collect_unreadable_total"
                );
                self.suppressed = 0;
            }
            return true;
        }
        self.warned.insert(path.to_path_buf(), what);
        true
    }

    /// `path` is not read, for `why`.
    pub(crate) fn refuse(&mut self, path: &Path, why: Refusal) {
        let label = why.label();
        let first = self.warned.len() < MAX_WARNED || self.warned.contains_key(path);
        if !self.first(path, label) {
            return;
        }
        if first {
            tracing::warn!(
                path = %path.display(),
                reason = label,
                "not reading this file: only regular files under the log root are read"
            );
        }
        self.refused.fetch_add(1, Ordering::Relaxed);
        if let Some(m) = &self.metrics {
            m.refused.with_label_values(&[label]).inc();
        }
    }

    /// `path` could not be opened or listed for lack of permission.
    pub(crate) fn unreadable(&mut self, path: &Path, e: &io::Error) {
        let first = self.warned.len() < MAX_WARNED || self.warned.contains_key(path);
        if !self.first(path, "unreadable") {
            return;
        }
        if first {
            tracing::warn!(path = %path.display(), error = %e, "cannot read this log file; it is skipped");
        }
        self.unreadable.fetch_add(1, Ordering::Relaxed);
        if let Some(m) = &self.metrics {
            m.unreadable.inc();
        }
    }

    /// `path` was opened: a later refusal is news again.
    pub(crate) fn cleared(&mut self, path: &Path) {
        if !self.warned.is_empty() {
            self.warned.remove(path);
        }
    }

    /// Sorts an open failure: a refusal or `EACCES` is reported, the rest (a file
    /// gone meanwhile, `EMFILE`) is the caller's. `true` if it was reported.
    pub(crate) fn report(&mut self, path: &Path, e: &OpenError) -> bool {
        match e {
            OpenError::Refused(why) => {
                self.refuse(path, *why);
                true
            }
            OpenError::Io(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                self.unreadable(path, e);
                true
            }
            OpenError::Io(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_only_regular_files_under_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root_dir = tmp.path().join("root");
        std::fs::create_dir(&root_dir).unwrap();
        std::fs::write(tmp.path().join("secret"), "s3cret\n").unwrap();
        std::fs::write(root_dir.join("a.log"), "ok\n").unwrap();
        let root = LogRoot::new(&root_dir).unwrap();
        let key = |p: &Path| {
            let m = std::fs::symlink_metadata(p).unwrap();
            FileKey {
                dev: m.dev(),
                ino: m.ino(),
            }
        };
        let a = root_dir.join("a.log");
        assert!(root.open(&a, key(&a)).is_ok());
        // Another identity than the one checked.
        let other = FileKey { dev: 0, ino: 1 };
        assert!(matches!(
            root.open(&a, other),
            Err(OpenError::Refused(Refusal::Changed))
        ));
        // A link is never followed by the open.
        let link = root_dir.join("s.log");
        std::os::unix::fs::symlink(tmp.path().join("secret"), &link).unwrap();
        assert!(matches!(
            root.open(&link, key(&tmp.path().join("secret"))),
            Err(OpenError::Refused(Refusal::Changed))
        ));
        assert!(matches!(
            root.resolve_link(&link),
            Err(OpenError::Refused(Refusal::OutsideRoot))
        ));
        // A directory link out of the root.
        let out = root_dir.join("out");
        std::os::unix::fs::symlink(tmp.path(), &out).unwrap();
        assert!(matches!(
            root.check_dir(&out),
            Err(OpenError::Refused(Refusal::OutsideRoot))
        ));
        assert!(matches!(
            root.open(&out.join("secret"), key(&tmp.path().join("secret"))),
            Err(OpenError::Refused(Refusal::OutsideRoot))
        ));
    }

    #[test]
    fn proc_files_are_refused() {
        let root = LogRoot::new(Path::new("/proc/self")).unwrap();
        let p = root.real().join("environ");
        let m = std::fs::symlink_metadata(&p).unwrap();
        let key = FileKey {
            dev: m.dev(),
            ino: m.ino(),
        };
        assert!(matches!(
            root.open(&p, key),
            Err(OpenError::Refused(Refusal::PseudoFs))
        ));
    }

    #[test]
    fn one_warning_and_count_per_path() {
        let (r, u) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let mut s = Refusals::new(None, r.clone(), u.clone());
        for _ in 0..3 {
            s.refuse(Path::new("/x/a.log"), Refusal::Symlink);
        }
        s.refuse(Path::new("/x/a.log"), Refusal::NotRegular);
        s.unreadable(Path::new("/x/b.log"), &io::Error::from_raw_os_error(13));
        s.unreadable(Path::new("/x/b.log"), &io::Error::from_raw_os_error(13));
        assert_eq!(r.load(Ordering::Relaxed), 2);
        assert_eq!(u.load(Ordering::Relaxed), 1);
        // Bounded memory whatever the number of bad paths.
        for i in 0..(MAX_WARNED + 100) {
            s.refuse(Path::new(&format!("/y/{i}.log")), Refusal::Symlink);
        }
        assert!(s.warned.len() <= MAX_WARNED);
    }
}
