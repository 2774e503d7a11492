//! Storage: recovery from the last commit, refusing foreign or corrupt data dirs,
//! retention by age and by disk size with whole-bucket drops.

use std::time::{Duration, Instant};

use crate::support::index::*;
use lookout_daemon::index::{Index, IndexError};
use lookout_shared::protocol::Order;
use lookout_shared::Timestamp;

const T0: i64 = 1_764_000_000_000_000_000;

#[test]
fn reopening_recovers_seq_and_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = Running::open(config(dir.path()));
    assert_eq!(r.next_seq, 1);
    let first = r.ingest(loghub_entries(1000, T0, 1));
    r.close();
    let (index, rec) = Index::open(config(dir.path())).unwrap();
    assert_eq!(rec.next_seq, 1001);
    assert_eq!(index.stats().docs, 1000);
    drop(index);
    let mut r = Running::open(config(dir.path()));
    assert_eq!(r.next_seq, 1001);
    let second = r.ingest(loghub_entries(500, T0 + 1_000_000_000_000, 1));
    assert_eq!(second[0].seq, 1001);
    r.wait_docs(1500);
    let (all, total) = walk(&r.index, "*", Order::OldestFirst, 1000);
    assert_eq!(total, 1500);
    let mut want = first;
    want.extend(second);
    assert_eq!(all, want);
    r.close();
}

#[test]
fn foreign_and_corrupt_dirs_are_refused_untouched() {
    // A non-empty directory that is not ours.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("precious.txt"), "do not delete").unwrap();
    let e = Index::open(config(dir.path())).unwrap_err();
    assert!(matches!(e, IndexError::Foreign(_)), "{e}");
    assert!(e.to_string().contains("LOOKOUT-DATA"), "{e}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("precious.txt")).unwrap(),
        "do not delete"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

    // Another format version.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("LOOKOUT-DATA"), "lookout-data 99\n").unwrap();
    let e = Index::open(config(dir.path())).unwrap_err();
    assert!(e.to_string().contains("99"), "{e}");

    // A corrupt bucket: renamed aside whole (see `integrity`), nothing deleted.
    let dir = tempfile::tempdir().unwrap();
    let mut r = Running::open(config(dir.path()));
    r.ingest(loghub_entries(100, T0, 1));
    r.close();
    let bucket = std::fs::read_dir(dir.path().join("index"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    std::fs::write(bucket.join("meta.json"), "{ not json").unwrap();
    let before = lookout_daemon::index::bucket::dir_size(&bucket);
    let (index, _) = Index::open(config(dir.path())).unwrap();
    let q = index.stats().quarantined;
    assert_eq!(q.len(), 1);
    assert!(q[0]
        .display()
        .to_string()
        .starts_with(&bucket.display().to_string()));
    assert_eq!(lookout_daemon::index::bucket::dir_size(&q[0]), before);

    // An empty directory is initialised.
    let dir = tempfile::tempdir().unwrap();
    let (_i, rec) = Index::open(config(&dir.path().join("new"))).unwrap();
    assert_eq!(rec.next_seq, 1);
    assert!(dir.path().join("new/LOOKOUT-DATA").exists());
}

#[test]
fn disk_stays_bounded_by_max_disk() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    let max = 2u64 << 20;
    cfg.max_disk = max;
    cfg.commit_interval = Duration::from_millis(50);
    let mut r = Running::open(cfg);
    let mut written = 0u64;
    let mut peak = 0u64;
    let mut last = Vec::new();
    // Write ~6x max-disk of message bytes.
    let mut i = 0i64;
    // Recent timestamps: only the size limit applies, not the 7 d retention.
    let t0 = Timestamp::now().0 - 3_600_000_000_000;
    while written < 6 * max {
        let mut batch = loghub_entries(2000, t0 + i * 1_000_000_000, 1);
        for (j, e) in batch.iter_mut().enumerate() {
            e.message = format!("{} batch{} item{}", e.message, i, j);
        }
        written += batch.iter().map(|e| e.message.len() as u64).sum::<u64>();
        last = r.ingest(batch);
        i += 1;
        let size = lookout_daemon::index::bucket::dir_size(dir.path());
        peak = peak.max(size);
    }
    // Let the last commits and drops happen.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (found, _) = walk(
            &r.index,
            &format!("batch{}", i - 1),
            Order::NewestFirst,
            1000,
        );
        if found.len() == last.len() {
            break;
        }
        assert!(Instant::now() < deadline, "newest batch not searchable");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let size = lookout_daemon::index::bucket::dir_size(dir.path());
    peak = peak.max(size);
    let stats = r.index.stats();
    assert!(stats.buckets >= 2, "{stats:?}");
    // Bounded: max-disk plus one bucket being filled and tantivy's merge slack.
    assert!(peak < max * 2, "peak {peak} for max {max}");
    assert!(stats.bytes <= max + max / 5, "{stats:?}");
    // The oldest batches are gone, the newest is whole.
    let (oldest, _) = walk(&r.index, "batch0", Order::NewestFirst, 1000);
    assert!(
        oldest.is_empty(),
        "batch0 still has {} entries",
        oldest.len()
    );
    r.close();
}

#[test]
fn old_buckets_expire_by_age() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.retention = Duration::from_secs(3);
    cfg.commit_interval = Duration::from_millis(100);
    let mut r = Running::open(cfg);
    let now = Timestamp::now().0;
    // Entries already an hour old: they expire once their bucket is sealed.
    let mut old = loghub_entries(300, now - 3_600_000_000_000, 1);
    for e in &mut old {
        e.message = format!("{} oldbatch", e.message);
    }
    r.ingest(old);
    r.wait_docs(300);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        // Keep writing fresh entries so buckets roll.
        let mut fresh = loghub_entries(50, Timestamp::now().0, 1);
        for e in &mut fresh {
            e.message = format!("{} freshbatch", e.message);
        }
        r.ingest(fresh);
        std::thread::sleep(Duration::from_millis(200));
        let (old, _) = walk(&r.index, "oldbatch", Order::NewestFirst, 1000);
        if old.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "old entries never expired");
    }
    let (fresh, _) = walk(&r.index, "freshbatch", Order::NewestFirst, 1000);
    assert!(!fresh.is_empty());
    r.close();
}

/// The bucket schema of format 1 (the first release), as it was written.
fn format1_schema() -> tantivy::schema::Schema {
    use tantivy::schema::{
        DateOptions, DateTimePrecision, IndexRecordOption, NumericOptions, Schema,
        TextFieldIndexing, TextOptions, STORED,
    };
    let mut b = Schema::builder();
    b.add_date_field(
        "ts",
        DateOptions::default()
            .set_indexed()
            .set_fast()
            .set_stored()
            .set_precision(DateTimePrecision::Nanoseconds),
    );
    b.add_u64_field(
        "seq",
        NumericOptions::default()
            .set_indexed()
            .set_fast()
            .set_stored(),
    );
    let raw = |fast: bool| {
        let o = TextOptions::default()
            .set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer("raw")
                    .set_fieldnorms(false)
                    .set_index_option(IndexRecordOption::Basic),
            )
            .set_stored();
        if fast {
            o.set_fast("raw")
        } else {
            o
        }
    };
    for f in ["namespace", "pod", "container", "stream", "node", "level"] {
        b.add_text_field(f, raw(true));
    }
    b.add_text_field("pod_uid", raw(false));
    b.add_text_field("container_id", STORED);
    b.add_u64_field(
        "restart",
        NumericOptions::default().set_indexed().set_stored(),
    );
    b.add_text_field(
        "message",
        TextOptions::default()
            .set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(lookout_daemon::index::analyzer::TOKENIZER)
                    .set_fieldnorms(false)
                    .set_index_option(IndexRecordOption::WithFreqsAndPositions),
            )
            .set_stored(),
    );
    b.build()
}

/// Regression: format 2 changed the bucket schema, and the first build of it refused
/// every data dir of format 1, so an upgraded DaemonSet crash-looped until someone
/// emptied the node's history. Old buckets must stay readable and appendable.
#[test]
fn a_format1_data_dir_opens_and_keeps_its_history() {
    use lookout_daemon::index::bucket::{Bucket, Payload};
    use lookout_daemon::index::schema::Fields;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("LOOKOUT-DATA"), "lookout-data 1\n").unwrap();
    let old = Fields {
        schema: format1_schema(),
        ..Fields::new()
    };
    Fields::new().readable(&old.schema).unwrap();
    let payload = Payload {
        version: 1,
        next_seq: 1,
        created_ms: Timestamp::now().0 / 1_000_000,
        ..Payload::default()
    };
    drop(Bucket::create(dir.path(), 1, &old, &payload).unwrap());

    let mut r = Running::open(config(dir.path()));
    let stored = r.ingest(loghub_entries(300, T0, 1));
    r.wait_docs(300);
    let (all, total) = walk(&r.index, "*", Order::OldestFirst, 1000);
    assert_eq!(total, 300);
    assert_eq!(all, stored);
    r.close();
    // Reopened: the history is there, and the marker says format 2 so that an older
    // lookoutd refuses the dir rather than misreading newer buckets.
    let (index, rec) = Index::open(config(dir.path())).unwrap();
    assert_eq!(rec.next_seq, 301);
    assert_eq!(index.stats().docs, 300);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("LOOKOUT-DATA")).unwrap(),
        format!(
            "lookout-data {}\n",
            lookout_daemon::index::bucket::FORMAT_VERSION
        )
    );
}

/// Format 3 added `workload` and `lines` at the end of the schema. A format-2 bucket
/// that holds entries must stay searchable, also by the new fields (which match
/// nothing in it, and must not stop the search), while new entries go to a bucket
/// of the new format beside it.
#[test]
fn a_format2_bucket_with_entries_is_searched_beside_new_ones() {
    use lookout_daemon::index::bucket::{Bucket, Payload};
    use lookout_daemon::index::schema::Fields;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("LOOKOUT-DATA"), "lookout-data 2\n").unwrap();
    let new = Fields::new();
    let mut b = tantivy::schema::Schema::builder();
    for (_, entry) in new.schema.fields().take(12) {
        b.add_field(entry.clone());
    }
    let old = Fields {
        schema: b.build(),
        ..Fields::new()
    };
    new.readable(&old.schema).unwrap();
    // Recent, or retention (7 days) would drop the old bucket once sealed.
    let t0 = Timestamp::now().0 - 3_600_000_000_000;
    let mut before = loghub_entries(200, t0, 1);
    for (i, e) in before.iter_mut().enumerate() {
        e.seq = i as u64 + 1;
    }
    let payload = Payload {
        version: 2,
        next_seq: 201,
        min_ts: Some(before[0].ts.0),
        max_ts: Some(before[199].ts.0),
        created_ms: Timestamp::now().0 / 1_000_000,
        ..Payload::default()
    };
    let bucket = Bucket::create(
        dir.path(),
        1,
        &old,
        &Payload {
            version: 2,
            ..Payload::default()
        },
    )
    .unwrap();
    {
        let mut w: tantivy::IndexWriter = bucket.index.writer(15_000_000).unwrap();
        for e in &before {
            w.add_document(old.to_doc_in(e, 12)).unwrap();
        }
        let mut pc = w.prepare_commit().unwrap();
        pc.set_payload(&serde_json::to_string(&payload).unwrap());
        pc.commit().unwrap();
    }
    drop(bucket);

    let mut r = Running::open(config(dir.path()));
    let after = r.ingest(loghub_entries(300, t0 + 1_000_000_000_000, 1));
    r.wait_docs(500);
    let (all, total) = walk(&r.index, "*", Order::OldestFirst, 1000);
    assert_eq!(total, 500);
    assert_eq!(all[..200], before[..]);
    assert_eq!(all[200..], after[..]);
    // `workload` is not in the old bucket: only the new entries have it indexed.
    let ns = after[0].source.namespace.clone();
    let want = after.iter().filter(|e| e.source.namespace == ns).count();
    assert!(want > 0);
    let (got, n) = walk(
        &r.index,
        &format!("workload:{ns}"),
        Order::NewestFirst,
        1000,
    );
    assert_eq!(n as usize, want);
    assert!(got.iter().all(|e| e.source.workload() == ns));
    // Everything else reads the old bucket as before.
    let old_ns = before.iter().filter(|e| e.source.namespace == ns).count();
    assert!(old_ns > 0);
    assert_eq!(
        walk(
            &r.index,
            &format!("namespace:{ns}"),
            Order::NewestFirst,
            1000
        )
        .1 as usize,
        want + old_ns
    );
    assert_eq!(
        walk(
            &r.index,
            &format!("-workload:{ns}"),
            Order::NewestFirst,
            1000
        )
        .1 as usize,
        500 - want
    );
    r.close();
    let (index, _) = Index::open(config(dir.path())).unwrap();
    assert_eq!(index.stats().docs, 500);
}
