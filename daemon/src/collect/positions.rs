//! Where the collector stands in each file, by identity (device + inode +
//! fingerprint of the first bytes), never by path alone.
//!
//! CONTRACT: `Positions` is serde-serialisable and cheap enough to serialise once a
//! second; consumers only call [`Positions::apply`] and serialise it.
//!
//! A position is the offset just after the last byte whose content has been handed
//! downstream, *plus* the parser state that those bytes left behind: CRI `P` chunks
//! (and docker records without `\n`) still waiting for their end, per stream, and
//! whether the rest of an over-long line is being skipped. Storing the offset of the
//! earliest unconsumed byte instead would be smaller, but with stdout and stderr
//! partials interleaved it would make a restart re-read (and re-deliver) the other
//! stream's complete lines written after the pending chunk. With the state stored,
//! a restart resumes exactly: no line twice, no line lost.

use std::collections::BTreeMap;
use std::collections::HashSet;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

pub use super::multiline::OpenEvent;
use lookout_shared::{Stream, Timestamp};
use serde::{Deserialize, Serialize};

/// How many leading bytes the fingerprint covers at most.
pub const FINGERPRINT_MAX: u32 = 256;

/// A file's identity on this node: device and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FileKey {
    pub dev: u64,
    pub ino: u64,
}

impl FileKey {
    /// The key used in [`Positions::files`] (JSON maps need string keys).
    pub fn map_key(&self) -> String {
        format!("{}:{}", self.dev, self.ino)
    }
}

/// The file format, detected on a file's first line and remembered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// containerd / CRI-O: `<ts> <stream> <P|F>[:tags] <text>`.
    Cri,
    /// Docker json-file: `{"log":…,"stream":…,"time":…}`.
    Docker,
    /// Anything else: one line is one entry, stamped with the read time.
    Plain,
}

/// A logical line still being assembled from chunks (CRI `P`, docker without `\n`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingPartial {
    pub stream: Stream,
    /// Timestamp of the first chunk.
    pub ts: Timestamp,
    /// Raw bytes so far (UTF-8 is decoded only once the line is whole, since a
    /// 16 KiB split can fall inside a character).
    pub bytes: Vec<u8>,
    /// The line outgrew the size limit: further chunks are dropped until its end.
    #[serde(default)]
    pub truncated: bool,
}

/// One file's persisted state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilePosition {
    pub key: FileKey,
    /// Bytes hashed by `fingerprint` (the file's first bytes, up to [`FINGERPRINT_MAX`]).
    pub fp_len: u32,
    pub fingerprint: u64,
    /// Last path the file was seen at (informational; identity is `key` + fingerprint).
    pub path: PathBuf,
    /// Offset just after the last consumed byte.
    pub offset: u64,
    #[serde(default)]
    pub format: Option<Format>,
    #[serde(default)]
    pub partials: Vec<PendingPartial>,
    /// Inside an over-long raw line whose head was already emitted truncated.
    #[serde(default)]
    pub skipping: bool,
    /// Multi-line events still open (per stream), made of lines before `offset`:
    /// a restart resumes them instead of losing or splitting them. Absent in
    /// positions written before multi-line events.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<OpenEvent>,
}

impl FilePosition {
    /// Whether parser state waits on more of the file (a partial line or an
    /// open event).
    pub fn has_pending(&self) -> bool {
        !self.partials.is_empty() || !self.events.is_empty()
    }
}

/// Every known file's position (and whatever parser state must survive a restart).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Positions {
    /// By [`FileKey::map_key`].
    #[serde(default)]
    pub files: BTreeMap<String, FilePosition>,
}

/// The change a batch makes to [`Positions`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PositionUpdate {
    /// Files whose state changed (replaced whole).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upsert: Vec<FilePosition>,
    /// Files that are gone from disk and fully read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<FileKey>,
}

impl PositionUpdate {
    /// No change at all.
    pub fn is_empty(&self) -> bool {
        self.upsert.is_empty() && self.remove.is_empty()
    }

    /// Folds a later update into this one (later wins).
    ///
    /// Linear in the sizes of both (hash sets, not nested scans): with thousands of
    /// files every flush merges thousands of positions, and the quadratic version
    /// stalled the collector at 5,000 files.
    pub fn merge(&mut self, later: PositionUpdate) {
        if later.is_empty() {
            return;
        }
        let touched: HashSet<FileKey> = later
            .upsert
            .iter()
            .map(|p| p.key)
            .chain(later.remove.iter().copied())
            .collect();
        if !self.upsert.is_empty() {
            self.upsert.retain(|p| !touched.contains(&p.key));
        }
        if !self.remove.is_empty() && !later.upsert.is_empty() {
            let revived: HashSet<FileKey> = later.upsert.iter().map(|p| p.key).collect();
            self.remove.retain(|k| !revived.contains(k));
        }
        // Later upserts are unique per key when built by the collector; keep the last
        // one anyway if not.
        let mut seen = HashSet::new();
        let mut ups = later.upsert;
        ups.reverse();
        ups.retain(|p| seen.insert(p.key));
        ups.reverse();
        self.upsert.extend(ups);
        let mut have: HashSet<FileKey> = self.remove.iter().copied().collect();
        for k in later.remove {
            if have.insert(k) {
                self.remove.push(k);
            }
        }
    }
}

impl Positions {
    /// Applies a batch's changes.
    pub fn apply(&mut self, update: &PositionUpdate) {
        for key in &update.remove {
            self.files.remove(&key.map_key());
        }
        for p in &update.upsert {
            self.files.insert(p.key.map_key(), p.clone());
        }
    }

    /// The stored state for a file, if any.
    pub fn get(&self, key: &FileKey) -> Option<&FilePosition> {
        self.files.get(&key.map_key())
    }
}

/// FNV-1a over `bytes`: a fingerprint, not a security measure.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Hashes the first `len` bytes of `file`; `None` when it holds fewer.
pub fn fingerprint_of(file: &File, len: u32) -> Option<u64> {
    let mut buf = vec![0u8; len as usize];
    let mut got = 0usize;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], got as u64) {
            Ok(0) => return None,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        }
    }
    Some(fnv1a(&buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(ino: u64, offset: u64) -> FilePosition {
        FilePosition {
            key: FileKey { dev: 1, ino },
            fp_len: 0,
            fingerprint: 0,
            path: PathBuf::from("x"),
            offset,
            format: None,
            partials: vec![],
            skipping: false,
            events: vec![],
        }
    }

    /// Positions written before multi-line events (no `events`) still read.
    #[test]
    fn positions_without_events_still_read() {
        let old = r#"{"files":{"1:2":{"key":{"dev":1,"ino":2},"fp_len":0,"fingerprint":0,
            "path":"x","offset":7,"format":"cri","partials":[],"skipping":false}}}"#;
        let p: Positions = serde_json::from_str(old).unwrap();
        let f = p.get(&FileKey { dev: 1, ino: 2 }).unwrap();
        assert_eq!(f.offset, 7);
        assert!(f.events.is_empty() && !f.has_pending());
    }

    #[test]
    fn apply_and_merge() {
        let mut u = PositionUpdate {
            upsert: vec![pos(1, 10), pos(2, 5)],
            remove: vec![],
        };
        u.merge(PositionUpdate {
            upsert: vec![pos(1, 20)],
            remove: vec![FileKey { dev: 1, ino: 2 }],
        });
        let mut p = Positions::default();
        p.apply(&u);
        assert_eq!(p.files.len(), 1);
        assert_eq!(p.get(&FileKey { dev: 1, ino: 1 }).unwrap().offset, 20);
        let json = serde_json::to_string(&p).unwrap();
        let back: Positions = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
    }
}
