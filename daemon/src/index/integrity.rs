//! Integrity of the stored buckets: checksum validation, quarantine, and telling a
//! damaged bucket from a hostile environment.
//!
//! Every tantivy segment file ends with a footer holding the CRC32 of its body.
//! [`verify`] recomputes it for every file of a bucket's committed segments: at
//! open (every bucket, before its payload is trusted or a search reaches it) and
//! then in the background ([`run_verifier`]), a full pass every
//! [`IndexConfig::verify_every`](super::IndexConfig) read at most
//! [`IndexConfig::verify_rate`](super::IndexConfig) bytes a second.
//!
//! A bucket that fails (a checksum, a missing or truncated file, an unreadable
//! meta or payload) is quarantined: taken out of the searched list at once, then
//! renamed aside to `<bucket>.quarantined-<UTC time>`, never deleted. Its entries
//! are never served again. Collection goes on: a damaged active bucket is replaced
//! by a fresh one (see the writer), a damaged sealed one is just left out.
//!
//! An error that comes from the environment (read-only file system, disk full,
//! permission, fd exhaustion, I/O errors) is not damage: it is reported as what it
//! is, and the bucket is left exactly where it is.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use tantivy::directory::error::OpenReadError;
use tantivy::{Directory as _, HasLen as _};

use super::bucket::index_dir;
use super::Shared;

/// What the environment, not the data, did wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvFault {
    ReadOnly,
    DiskFull,
    Permission,
    TooManyFiles,
    Failing,
}

impl EnvFault {
    /// The fault an OS error number stands for, if it is one of the environment's.
    pub fn from_errno(n: i32) -> Option<EnvFault> {
        Some(match n {
            libc::EROFS => EnvFault::ReadOnly,
            libc::ENOSPC | libc::EDQUOT => EnvFault::DiskFull,
            libc::EACCES | libc::EPERM => EnvFault::Permission,
            libc::EMFILE | libc::ENFILE => EnvFault::TooManyFiles,
            libc::EIO => EnvFault::Failing,
            _ => return None,
        })
    }

    /// What to tell an operator.
    pub fn describe(self) -> &'static str {
        match self {
            EnvFault::ReadOnly => "the file system is read-only (EROFS)",
            EnvFault::DiskFull => "the disk is full (ENOSPC)",
            EnvFault::Permission => "permission denied (EACCES)",
            EnvFault::TooManyFiles => {
                "too many open files (EMFILE: the fd limit, RLIMIT_NOFILE, is too low)"
            }
            EnvFault::Failing => "the disk reports I/O errors (EIO)",
        }
    }

    /// The fault in an I/O error.
    pub fn of_io(e: &std::io::Error) -> Option<EnvFault> {
        e.raw_os_error().and_then(EnvFault::from_errno)
    }

    /// The fault in any error: an `io::Error` in its source chain, or, since
    /// tantivy formats its I/O errors into text (`Os { code: 30, … }`), an OS error
    /// number in the text.
    pub fn of(e: &(dyn std::error::Error + 'static)) -> Option<EnvFault> {
        let mut cur = Some(e);
        while let Some(e) = cur {
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                if let Some(f) = EnvFault::of_io(io) {
                    return Some(f);
                }
            }
            if let Some(io) = e.downcast_ref::<Arc<std::io::Error>>() {
                if let Some(f) = EnvFault::of_io(io) {
                    return Some(f);
                }
            }
            cur = e.source();
        }
        EnvFault::in_text(&format!("{e} {e:?}"))
    }

    /// The fault named by an OS error number in `text` (`os error 28`, `code: 28`).
    pub fn in_text(text: &str) -> Option<EnvFault> {
        for pat in ["os error ", "code: "] {
            let mut rest = text;
            while let Some(i) = rest.find(pat) {
                rest = &rest[i + pat.len()..];
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                if let Some(f) = digits.parse().ok().and_then(EnvFault::from_errno) {
                    return Some(f);
                }
            }
        }
        None
    }
}

/// The outcome of checking one bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Every file's checksum matches.
    Sound,
    /// What is wrong (file names and why).
    Damaged(String),
    /// The check could not finish: stopped, or the environment failed (not damage).
    Unfinished(String),
}

/// Recomputes the checksum of every file of `index`'s committed segments.
/// `pace(bytes)` is called after each file with its size; it returns false to stop.
pub fn verify(index: &tantivy::Index, pace: &mut dyn FnMut(u64) -> bool) -> Check {
    let metas = match index.load_metas() {
        Ok(m) => m,
        Err(e) => return env_or_damage(&e, || format!("meta.json unreadable: {e}")),
    };
    let dir = index.directory();
    let managed = dir.list_managed_files();
    let mut files: Vec<PathBuf> = metas.list_segment_files().into_iter().collect();
    files.sort();
    let mut bad = Vec::new();
    for path in files {
        if !managed.contains(&path) {
            // An optional component this segment does not have (deletes, positions).
            continue;
        }
        match dir.validate_checksum(&path) {
            Ok(true) => {}
            Ok(false) => bad.push(format!("{}: checksum mismatch", path.display())),
            Err(OpenReadError::FileDoesNotExist(_)) => {
                // Merged away since the metas were read is fine; listed and gone is not.
                let still = index
                    .load_metas()
                    .map(|m| m.list_segment_files().contains(&path))
                    .unwrap_or(true);
                if still {
                    bad.push(format!("{}: missing", path.display()));
                }
            }
            Err(e) => {
                if let Some(f) = EnvFault::of(&e) {
                    return Check::Unfinished(format!("{}: {}", path.display(), f.describe()));
                }
                bad.push(format!("{}: {e}", path.display()));
            }
        }
        let size = dir
            .open_read(&path)
            .map(|f| f.len() as u64)
            .unwrap_or_default();
        if !pace(size) {
            return Check::Unfinished("stopped".into());
        }
    }
    if bad.is_empty() {
        Check::Sound
    } else {
        Check::Damaged(bad.join("; "))
    }
}

fn env_or_damage(e: &tantivy::TantivyError, damage: impl FnOnce() -> String) -> Check {
    match EnvFault::of(e) {
        Some(f) => Check::Unfinished(f.describe().into()),
        None => Check::Damaged(damage()),
    }
}

/// Marks a quarantined bucket's directory name.
const QUARANTINED: &str = ".quarantined-";

/// Whether an index dir entry is a quarantined bucket.
pub fn is_quarantined(name: &str) -> bool {
    name.contains(QUARANTINED)
}

/// Renames a bucket directory aside (durably); returns the new path.
pub fn quarantine_dir(path: &Path) -> std::io::Result<PathBuf> {
    let stamp = lookout_shared::Timestamp::now()
        .to_datetime()
        .format("%Y%m%dT%H%M%S%.3fZ");
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let to = path.with_file_name(format!("{name}{QUARANTINED}{stamp}"));
    crate::durable::rename_durable(path, &to)?;
    Ok(to)
}

/// Quarantined bucket directories present in the data dir, sorted.
pub fn list_quarantined(data_dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(index_dir(data_dir)) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .flatten()
        .filter(|e| is_quarantined(&e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

/// How often the verifier looks for removed quarantine dirs and for its next pass.
const TICK: Duration = Duration::from_secs(2);

/// The background verifier, until `stop` is dropped: a checksum pass over every
/// bucket each `verify_every` (and at once when a search could not read a stored
/// document), paced to `verify_rate` bytes a second; damaged buckets are condemned
/// ([`Shared::condemn`]).
pub(super) fn run_verifier(shared: Weak<Shared>, stop: Receiver<()>) {
    let mut last_pass = Instant::now();
    loop {
        let (every, rate) = match shared.upgrade() {
            Some(s) => (s.cfg.verify_every, s.cfg.verify_rate.max(1)),
            None => return,
        };
        match stop.recv_timeout(TICK.min(every)) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        let Some(s) = shared.upgrade() else { return };
        s.refresh_quarantined();
        let asked = s
            .verify_now
            .swap(false, std::sync::atomic::Ordering::AcqRel);
        if last_pass.elapsed() < every && !asked {
            continue;
        }
        let stopped = std::cell::Cell::new(false);
        let mut pace = |bytes: u64| {
            if let Some(m) = s.metrics.get() {
                m.verified_bytes.inc_by(bytes);
            }
            let wait = Duration::from_secs_f64(bytes as f64 / rate as f64);
            stopped.set(!matches!(
                stop.recv_timeout(wait),
                Err(RecvTimeoutError::Timeout)
            ));
            !stopped.get()
        };
        let mut seen = HashSet::new();
        for b in s.snapshot() {
            seen.insert(b.id);
            match verify(&b.index, &mut pace) {
                Check::Sound => {}
                Check::Damaged(why) => s.condemn(&b, why),
                Check::Unfinished(why) => {
                    if !stopped.get() {
                        tracing::warn!(bucket = %b.path.display(), why = %why, "bucket check could not finish");
                    }
                }
            }
            if stopped.get() {
                return;
            }
        }
        last_pass = Instant::now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_found_in_errors_and_in_tantivy_text() {
        let ro = std::io::Error::from_raw_os_error(libc::EROFS);
        assert_eq!(EnvFault::of(&ro), Some(EnvFault::ReadOnly));
        let t = tantivy::TantivyError::IoError(Arc::new(std::io::Error::from_raw_os_error(
            libc::ENOSPC,
        )));
        assert_eq!(EnvFault::of(&t), Some(EnvFault::DiskFull));
        assert_eq!(
            EnvFault::in_text("LockFailure(IoError(Os { code: 13, kind: PermissionDenied }))"),
            Some(EnvFault::Permission)
        );
        assert_eq!(
            EnvFault::in_text("Too many open files (os error 24)"),
            Some(EnvFault::TooManyFiles)
        );
        let eof = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "footer");
        assert_eq!(EnvFault::of(&eof), None);
    }
}
