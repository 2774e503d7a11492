//! Shared helpers for the index tests: real loghub lines as message bodies, a real
//! index on disk in a temp dir, batches fed straight to the writer.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use lookout_daemon::collect::{Batch, PositionUpdate};
use lookout_daemon::index::{Index, IndexConfig, IngestBatch};
use lookout_daemon::ingest;
use lookout_shared::protocol::{Cursor, Order, SearchParams};
use lookout_shared::{LogEntry, Stream, StreamId, Timestamp};

pub fn loghub_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/loghub")
}

/// `(file stem, line)` for every loghub line, CR/LF stripped.
pub fn loghub_lines() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(loghub_dir())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    files.sort();
    for p in files {
        let stem = p.file_stem().unwrap().to_string_lossy().to_string();
        let bytes = std::fs::read(&p).unwrap();
        for line in String::from_utf8_lossy(&bytes).lines() {
            let line = line.trim_end_matches('\r');
            if !line.is_empty() {
                out.push((stem.clone(), line.to_string()));
            }
        }
    }
    out
}

/// Entries built from loghub: namespace per system, a few pods, both streams;
/// timestamps from `t0` with many equal ones (`per_ts` entries share a ts). Pods
/// are named as a StatefulSet's (`hdfs-0`, `hdfs-2`) and a Deployment's
/// (`hdfs-7d4b9c8f6d-x2k4p`, workload `hdfs`); every 11th entry is of restart 1.
pub fn loghub_entries(n: usize, t0: i64, per_ts: usize) -> Vec<LogEntry> {
    let lines = loghub_lines();
    (0..n)
        .map(|i| {
            let (stem, msg) = &lines[i % lines.len()];
            let sys = stem.split('_').next().unwrap().to_lowercase();
            LogEntry {
                ts: Timestamp(t0 + (i / per_ts.max(1)) as i64 * 1_000_000),
                node: "node-1".into(),
                source: StreamId {
                    namespace: sys.clone(),
                    pod: match i % 3 {
                        1 => format!("{sys}-7d4b9c8f6d-x2k4p"),
                        n => format!("{sys}-{n}"),
                    },
                    pod_uid: format!("uid-{sys}-{}", i % 3),
                    container: if i.is_multiple_of(5) {
                        "sidecar".into()
                    } else {
                        "app".into()
                    },
                    container_id: String::new(),
                    restart: u32::from(i.is_multiple_of(11)),
                },
                stream: if i.is_multiple_of(7) {
                    Stream::Stderr
                } else {
                    Stream::Stdout
                },
                message: msg.clone(),
                level: None,
                seq: 0,
                lines: 1,
                fields: Default::default(),
                pattern: None,
            }
        })
        .collect()
}

pub fn config(dir: &Path) -> IndexConfig {
    IndexConfig {
        data_dir: dir.to_path_buf(),
        commit_interval: Duration::from_millis(200),
        retention: Duration::from_secs(7 * 86_400),
        max_disk: 10 << 30,
        verify_every: lookout_daemon::index::VERIFY_EVERY,
        verify_rate: lookout_daemon::index::VERIFY_RATE,
    }
}

/// An open index with its writer thread.
pub struct Running {
    pub index: Index,
    pub tx: Option<Sender<IngestBatch>>,
    pub next_seq: u64,
    pub writer: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    pub fn open(cfg: IndexConfig) -> Running {
        let (index, rec) = Index::open(cfg).unwrap();
        let (tx, rx) = crossbeam_channel::bounded(4);
        // The writer thread, as the pipeline runs it (with no shutdown: closing `tx` ends it).
        let writer = {
            let index = index.clone();
            std::thread::spawn(move || {
                index.run_writer(rx, &lookout_daemon::shutdown::Shutdown::never())
            })
        };
        Running {
            index,
            tx: Some(tx),
            next_seq: rec.next_seq,
            writer: Some(writer),
        }
    }

    /// Ingests entries (level and seq set as ingest does); returns them as stored.
    pub fn ingest(&mut self, entries: Vec<LogEntry>) -> Vec<LogEntry> {
        let patterns = self.index.miners();
        let b = ingest::prepare_with(
            Batch {
                entries,
                positions: PositionUpdate::default(),
            },
            &mut self.next_seq,
            Some(&patterns),
        );
        let out = b.entries.iter().map(|e| (**e).clone()).collect();
        self.tx.as_ref().unwrap().send(b).unwrap();
        out
    }

    /// Waits until `n` docs are searchable.
    pub fn wait_docs(&self, n: u64) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.index.stats().docs < n {
            assert!(
                Instant::now() < deadline,
                "only {} of {n} docs",
                self.index.stats().docs
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Closes the channel and waits for the final commit.
    pub fn close(mut self) -> Index {
        self.tx.take();
        self.writer.take().unwrap().join().unwrap();
        self.index.clone()
    }
}

/// Every match of `query`, walking pages with the cursor.
pub fn walk(index: &Index, query: &str, order: Order, page: u32) -> (Vec<LogEntry>, u64) {
    let mut out = Vec::new();
    let mut cursor: Option<Cursor> = None;
    let mut total = None;
    loop {
        let p = index
            .search(&SearchParams {
                query: query.into(),
                limit: page,
                cursor,
                order,
                ..Default::default()
            })
            .unwrap_or_else(|e| panic!("{query}: {e}"));
        // The first page's total (the index may change while walking).
        total.get_or_insert(p.total);
        out.extend(p.entries);
        match p.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    (out, total.unwrap_or(0))
}

/// Entries whose messages carry fields, as services write them: pino-style JSON
/// (numeric levels, nested `http.request`, arrays, numbers as text now and then,
/// negative and fractional numbers, a `user` that is often absent), logfmt, klog's
/// structured form, and plain lines among them. Deterministic.
pub fn structured_entries(n: usize, t0: i64) -> Vec<LogEntry> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    const STATUS: [u32; 8] = [200, 200, 201, 304, 404, 499, 500, 503];
    const METHOD: [&str; 4] = ["GET", "POST", "PUT", "DELETE"];
    const USERS: [&str; 4] = ["admin", "adele", "bob", "carol"];
    const TAGS: [&str; 3] = ["blue", "green", "canary"];
    (0..n)
        .map(|i| {
            let status = STATUS[(next() % 8) as usize];
            let method = METHOD[(next() % 4) as usize];
            let latency = (next() % 100_000) as f64 / 100.0;
            let delta = (next() % 21) as i64 - 10;
            let user = USERS[(next() % 4) as usize];
            let pino = [10, 20, 30, 30, 40, 50, 60][(next() % 7) as usize];
            let message = match i % 5 {
                0 => {
                    let user = if next() % 3 == 0 {
                        format!(r#","user":"{user}""#)
                    } else {
                        String::new()
                    };
                    let status = if next() % 4 == 0 {
                        format!(r#""{status}""#)
                    } else {
                        status.to_string()
                    };
                    format!(
                        r#"{{"level":{pino},"msg":"request done","status":{status},"latency_ms":{latency},"delta":{delta},"http":{{"request":{{"method":"{method}"}}}},"tags":["{}","{}"],"ok":{}{user}}}"#,
                        TAGS[(next() % 3) as usize],
                        TAGS[(next() % 3) as usize],
                        status.starts_with('2'),
                    )
                }
                1 => format!(
                    r#"ts=2025-11-24T16:00:00Z level={} msg="payment failed" status={status} latency_ms={latency} code=E{} user={user}"#,
                    ["info", "warn", "error"][(next() % 3) as usize],
                    next() % 1000,
                ),
                2 => format!(
                    r#"I1124 16:00:00.000000       1 sync.go:42] "Syncing pod" pod="default/web-{}" attempt={}"#,
                    next() % 5,
                    next() % 4,
                ),
                3 => format!("GET /api/v1/orders {status} {latency}ms"),
                _ => format!(r#"{{"level":"{}","message":"plain json","status":{status}}}"#,
                    ["debug", "info", "error"][(next() % 3) as usize]),
            };
            LogEntry {
                ts: Timestamp(t0 + i as i64 * 1_000_000),
                node: "node-1".into(),
                source: StreamId {
                    namespace: "shop".into(),
                    pod: format!("api-7d4b9c8f6d-{}", ["x2k4p", "b7z9q"][i % 2]),
                    pod_uid: format!("uid-{}", i % 2),
                    container: "app".into(),
                    container_id: String::new(),
                    restart: 0,
                },
                stream: Stream::Stdout,
                message,
                level: None,
                seq: 0,
                lines: 1,
                fields: Default::default(),
                pattern: None,
            }
        })
        .collect()
}
