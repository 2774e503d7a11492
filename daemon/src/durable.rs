//! Replacing a file so that a crash leaves the old content or the new, never half
//! of either, and so that the new content survives a power loss once the call
//! returns: write a temporary file in the same directory, fsync it, rename it over
//! the target, fsync the directory (the rename lives in the directory's data;
//! without that fsync ext4 and xfs may forget it).
//!
//! Used for everything lookoutd keeps outside the index: `rules.yaml`, the
//! `--stdout` positions, the data-dir marker; and for moving a finished bucket into
//! place.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

/// Replaces `path` with `bytes`, atomically and durably (see the module docs).
///
/// The temporary file is `<name>.tmp` beside the target: the same filesystem, so
/// the rename is atomic, and a fixed name, so one left by a crash is simply
/// overwritten by the next write instead of accumulating. Callers serialise their
/// own writes to one path (each file has a single writer in lookoutd).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} names no file", path.display()),
        )
    })?;
    let mut tmp_name = name.to_os_string();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    rename_durable(&tmp, path)
}

/// Renames `from` to `to` (a file or a directory, in the same directory) and
/// fsyncs the directory, so the rename outlives a power loss.
pub fn rename_durable(from: &Path, to: &Path) -> io::Result<()> {
    fs::rename(from, to)?;
    let dir = match to.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    // The rename is done and visible: reporting a failure here would make the
    // caller believe the old content still stands. Say that durability is in doubt.
    if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
        tracing::warn!(
            dir = %dir.display(),
            error = %e,
            "fsync of the directory failed: the last rename may not survive a power loss"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("positions.json");
        write_atomic(&path, b"first version, longer than the second").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["positions.json"]);
    }

    #[test]
    fn a_temporary_file_left_by_a_crash_is_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rules.yaml");
        fs::write(
            dir.path().join("rules.yaml.tmp"),
            b"half a write from a crash",
        )
        .unwrap();
        write_atomic(&path, b"rules: []\n").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"rules: []\n");
        assert!(!dir.path().join("rules.yaml.tmp").exists());
    }

    #[test]
    fn a_failed_write_leaves_the_old_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rules.yaml");
        write_atomic(&path, b"old").unwrap();
        // The temporary name is taken by a directory: creating it fails, so nothing
        // reaches the target.
        fs::create_dir(dir.path().join("rules.yaml.tmp")).unwrap();
        assert!(write_atomic(&path, b"new").is_err());
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert!(write_atomic(&dir.path().join("missing/x"), b"x").is_err());
        assert!(write_atomic(Path::new("/"), b"x").is_err());
    }

    #[test]
    fn renames_a_directory_into_place() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("tmp-1")).unwrap();
        fs::write(dir.path().join("tmp-1/meta"), b"m").unwrap();
        rename_durable(&dir.path().join("tmp-1"), &dir.path().join("bucket-1")).unwrap();
        assert_eq!(fs::read(dir.path().join("bucket-1/meta")).unwrap(), b"m");
    }
}
