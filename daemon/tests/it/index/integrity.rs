//! Integrity: damaged buckets are quarantined (renamed aside, never deleted, never
//! served), collection goes on in a fresh bucket; a read-only data dir is reported
//! as read-only; an entry at the last representable instant is found.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::index::*;
use crate::support::wait_for;
use lookout_daemon::index::{Index, IndexError};
use lookout_shared::protocol::{Order, SearchParams};
use lookout_shared::{LogEntry, Timestamp};

const T0: i64 = 1_764_000_000_000_000_000;

/// The bucket directories (not quarantined) under the data dir.
pub fn buckets(data: &Path) -> Vec<PathBuf> {
    dirs(data, |n| {
        n.starts_with("b-") && !n.contains(".quarantined-")
    })
}

/// The quarantined bucket directories under the data dir.
pub fn quarantined(data: &Path) -> Vec<PathBuf> {
    dirs(data, |n| n.contains(".quarantined-"))
}

fn dirs(data: &Path, keep: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(data.join("index"))
        .unwrap()
        .flatten()
        .filter(|e| keep(&e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

/// The bucket's largest file with this extension.
pub fn segment_file(bucket: &Path, ext: &str) -> PathBuf {
    std::fs::read_dir(bucket)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap_or_else(|| panic!("no .{ext} file in {}", bucket.display()))
}

/// Flips one byte in the middle of a file, in place (as bit rot would).
pub fn flip_byte(file: &Path) {
    use std::io::{Read, Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(file)
        .unwrap();
    let at = f.metadata().unwrap().len() / 2;
    let mut b = [0u8];
    f.seek(SeekFrom::Start(at)).unwrap();
    f.read_exact(&mut b).unwrap();
    f.seek(SeekFrom::Start(at)).unwrap();
    f.write_all(&[b[0] ^ 0x20]).unwrap();
    f.sync_all().unwrap();
}

/// Every stored entry must be one that was ingested, unaltered (by seq).
fn assert_none_altered(index: &Index, ingested: &[LogEntry]) -> usize {
    let (all, _) = walk(index, "*", Order::OldestFirst, 1000);
    for e in &all {
        let want = ingested.iter().find(|w| w.seq == e.seq);
        assert_eq!(Some(e), want, "an entry served altered (seq {})", e.seq);
    }
    all.len()
}

fn committed_bucket(data: &Path, n: usize) -> Vec<LogEntry> {
    let mut r = Running::open(config(data));
    let stored = r.ingest(loghub_entries(n, T0, 1));
    r.close();
    stored
}

fn assert_quarantined_and_collecting(data: &Path, before: &[LogEntry], size: u64) {
    let (index, rec) = Index::open(config(data)).expect("opens without the damaged bucket");
    let q = quarantined(data);
    assert_eq!(q.len(), 1, "{q:?}");
    assert_eq!(
        lookout_daemon::index::bucket::dir_size(&q[0]),
        size,
        "not kept whole"
    );
    assert_eq!(index.stats().quarantined, q);
    assert_eq!(assert_none_altered(&index, before), 0);
    drop(index);
    // Collection goes on into a fresh bucket.
    let mut r = Running::open(config(data));
    assert!(r.next_seq >= rec.next_seq);
    let mut fresh = loghub_entries(50, T0 + 10_000_000_000, 1);
    for e in &mut fresh {
        e.message = format!("freshline {}", e.message);
    }
    let fresh = r.ingest(fresh);
    r.wait_docs(50);
    let (found, total) = walk(&r.index, "freshline", Order::OldestFirst, 100);
    assert_eq!((found.len(), total), (50, 50));
    assert_eq!(assert_none_altered(&r.index, &fresh), 50);
    r.close();
}

#[test]
fn a_flipped_byte_in_a_store_file_quarantines_the_bucket_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let stored = committed_bucket(dir.path(), 2000);
    let b = buckets(dir.path()).pop().unwrap();
    flip_byte(&segment_file(&b, "store"));
    let size = lookout_daemon::index::bucket::dir_size(&b);
    assert_quarantined_and_collecting(dir.path(), &stored, size);
}

#[test]
fn a_truncated_segment_file_quarantines_the_bucket_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let stored = committed_bucket(dir.path(), 2000);
    let b = buckets(dir.path()).pop().unwrap();
    let f = segment_file(&b, "idx");
    let len = std::fs::metadata(&f).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&f)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let size = lookout_daemon::index::bucket::dir_size(&b);
    assert_quarantined_and_collecting(dir.path(), &stored, size);
}

#[test]
fn unreadable_meta_quarantines_the_bucket_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let stored = committed_bucket(dir.path(), 100);
    let b = buckets(dir.path()).pop().unwrap();
    std::fs::write(b.join("meta.json"), "{ not json").unwrap();
    let size = lookout_daemon::index::bucket::dir_size(&b);
    assert_quarantined_and_collecting(dir.path(), &stored, size);
}

#[test]
fn damage_found_while_running_is_quarantined_and_collection_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.verify_every = Duration::from_millis(100);
    let mut r = Running::open(cfg);
    let mut stored = r.ingest(loghub_entries(2000, T0, 1));
    r.wait_docs(2000);
    let b = buckets(dir.path()).pop().unwrap();
    flip_byte(&segment_file(&b, "store"));
    let q = wait_for(
        "the damaged bucket quarantined",
        Duration::from_secs(30),
        || Some(quarantined(dir.path())).filter(|q| !q.is_empty()),
    );
    assert_eq!(q.len(), 1);
    wait_for("readiness told", Duration::from_secs(10), || {
        (!r.index.stats().quarantined.is_empty()).then_some(())
    });
    let mut fresh = loghub_entries(30, T0 + 10_000_000_000, 1);
    for e in &mut fresh {
        e.message = format!("freshline {}", e.message);
    }
    stored.extend(r.ingest(fresh));
    wait_for("new lines searchable", Duration::from_secs(30), || {
        let (found, _) = walk(&r.index, "freshline", Order::OldestFirst, 100);
        (found.len() == 30).then_some(())
    });
    // Only the fresh entries are served, none of the damaged bucket's.
    assert_eq!(assert_none_altered(&r.index, &stored), 30);
    r.close();
    // It stays aside across a restart.
    let (index, _) = Index::open(config(dir.path())).unwrap();
    assert_eq!(assert_none_altered(&index, &stored), 30);
    assert_eq!(quarantined(dir.path()), q);
}

/// A read-only bind mount of `dir` over itself, undone on drop. `None` where this
/// process may not mount (the tests using it then say so and pass).
pub struct ReadOnly(PathBuf);

impl ReadOnly {
    pub fn bind(dir: &Path) -> Option<ReadOnly> {
        let ok = |args: &[&str]| {
            std::process::Command::new("mount")
                .args(args)
                .status()
                .is_ok_and(|s| s.success())
        };
        let d = dir.to_str().unwrap();
        if !ok(&["--bind", d, d]) {
            eprintln!("cannot bind-mount here: read-only check skipped");
            return None;
        }
        let ro = ReadOnly(dir.to_path_buf());
        // EBUSY while a file is open for writing through the new mount (a running
        // daemon's commit, opened between the bind and here): retry until the
        // writer is done, as an operator's `mount -o remount,ro` would be.
        let remounted = (0..100).any(|_| {
            ok(&["-o", "remount,bind,ro", d, d]) || {
                std::thread::sleep(std::time::Duration::from_millis(50));
                false
            }
        });
        assert!(remounted, "remount ro");
        Some(ro)
    }

    /// Writable again (the mount stays until drop).
    pub fn writable(&self) {
        let d = self.0.to_str().unwrap();
        let s = std::process::Command::new("mount")
            .args(["-o", "remount,bind,rw", d, d])
            .status()
            .unwrap();
        assert!(s.success());
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_read_only_data_dir_is_reported_as_read_only_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    committed_bucket(&data, 100);
    let before = buckets(&data);
    let Some(_ro) = ReadOnly::bind(&data) else {
        return;
    };
    let e = Index::open(config(&data)).unwrap_err();
    assert!(matches!(e, IndexError::Unwritable(_)), "{e:?}");
    let text = e.to_string();
    assert!(text.contains("read-only"), "{text}");
    assert!(
        !text.contains("corrupt") && !text.contains("Move it away"),
        "{text}"
    );
    drop(_ro);
    assert_eq!(buckets(&data), before);
    assert!(quarantined(&data).is_empty());
}

#[test]
fn an_entry_at_the_last_representable_instant_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = Running::open(config(dir.path()));
    let mut es = loghub_entries(3, T0, 1);
    // RFC 3339 for i64::MAX nanoseconds, and a later year, which saturates to it.
    es[1].ts = Timestamp::parse_rfc3339("2262-04-11T23:47:16.854775807Z").unwrap();
    es[2].ts = Timestamp::parse_rfc3339("2300-01-01T00:00:00Z").unwrap();
    assert_eq!((es[1].ts.0, es[2].ts.0), (i64::MAX, i64::MAX));
    for e in &mut es[1..] {
        e.message = "farfuture line".into();
    }
    r.ingest(es);
    r.wait_docs(3);
    let (all, total) = walk(&r.index, "farfuture", Order::NewestFirst, 100);
    assert_eq!((all.len(), total), (2, 2));
    assert!(all.iter().all(|e| e.ts.0 >= i64::MAX - 1), "{all:?}");
    let p = r
        .index
        .search(&SearchParams {
            query: "farfuture".into(),
            histogram: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!((p.total, p.entries.len()), (2, 2));
    let h = p.histogram.unwrap();
    assert_eq!(h.buckets.iter().map(|b| b.count).sum::<u64>(), 2);
    let ctx = r
        .index
        .context(lookout_shared::protocol::Cursor::of(&all[0]), 5, 5)
        .unwrap();
    assert!(ctx.entry.is_some());
    r.close();
}
