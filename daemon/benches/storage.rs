//! Storage benchmark (issue: history per disk byte), Lookout's half: a corpus that
//! does not flatter compression, ingested into a real index, then the data dir's
//! bytes per raw byte and query latencies; the same rows are written as JSON lines
//! for the peer (ClickHouse through chdb, `scripts/bench-storage.py`), which
//! `make bench-storage` runs in the same go and prints beside these.
//!
//! ```text
//! cargo bench -p lookout-daemon --bench storage -- --entries 1000000 --dir DIR \
//!     [--runs 20] [--json]
//! ```
//!
//! The corpus: Loghub lines with every digit and every hex run re-drawn for each
//! line (the samples repeat every 2,000 lines, which a column store's codecs would
//! exploit), a tenth of them JSON and a tenth logfmt carrying `status`,
//! `latency_ms`, `user` and a 128-bit `trace_id` drawn afresh, and one in 50 a
//! multi-line Java stack trace. Raw bytes are counted as the kubelet's CRI files
//! would hold them (a 36-byte timestamp + stream + tag header per physical line).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[allow(dead_code)]
mod loghub_entries;

use loghub_entries::loghub;
use lookout_daemon::collect::{Batch, PositionUpdate};
use lookout_daemon::index::{Index, IndexConfig};
use lookout_daemon::ingest;
use lookout_shared::protocol::{SearchParams, TimeRange};
use lookout_shared::{LogEntry, Stream, StreamId, Timestamp};

struct Args {
    entries: usize,
    dir: Option<PathBuf>,
    runs: usize,
    json: bool,
}

fn args() -> Args {
    let mut a = Args {
        entries: 1_000_000,
        dir: None,
        runs: 20,
        json: false,
    };
    let mut bench = false;
    let mut it = std::env::args().skip(1);
    while let Some(x) = it.next() {
        match x.as_str() {
            "--bench" => bench = true,
            "--entries" => a.entries = it.next().and_then(|v| v.parse().ok()).unwrap_or(a.entries),
            "--dir" => a.dir = it.next().map(PathBuf::from),
            "--runs" => a.runs = it.next().and_then(|v| v.parse().ok()).unwrap_or(a.runs),
            "--json" => a.json = true,
            _ => {}
        }
    }
    if !bench {
        // `cargo test --all-targets` runs this binary without `--bench`: a smoke run.
        a.entries = a.entries.min(3_000);
        a.runs = 1;
    }
    a
}

/// xorshift64*: fast, deterministic, good enough to defeat codecs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn hex(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b"0123456789abcdef"[self.below(16) as usize]))
            .collect()
    }
}

/// `line` with every digit re-drawn and every hex-looking run (8+ hex characters
/// with a digit among them) re-drawn as hex: same shape, fresh values.
fn redraw(line: &str, rng: &mut Rng) -> String {
    let mut out = String::with_capacity(line.len());
    for tok in line.split_inclusive(|c: char| !c.is_ascii_alphanumeric()) {
        let (word, sep) = match tok.char_indices().last() {
            Some((i, c)) if !c.is_ascii_alphanumeric() => (&tok[..i], &tok[i..]),
            _ => (tok, ""),
        };
        let hexy = word.len() >= 8
            && word.bytes().all(|b| b.is_ascii_hexdigit())
            && word.bytes().any(|b| b.is_ascii_digit());
        for c in word.chars() {
            if hexy {
                out.push(char::from(b"0123456789abcdef"[rng.below(16) as usize]));
            } else if c.is_ascii_digit() {
                out.push(char::from(b'0' + rng.below(10) as u8));
            } else {
                out.push(c);
            }
        }
        out.push_str(sep);
    }
    out
}

const TRACE: &str = "java.lang.IllegalStateException: payment {id} failed after {n} retries
\tat com.shop.pay.Client.charge(Client.java:{l1})
\tat com.shop.pay.Service.checkout(Service.java:{l2})
\tat com.shop.api.Handler.handle(Handler.java:{l3})
Caused by: java.net.SocketTimeoutException: Read timed out after {ms} ms
\tat java.net.SocketInputStream.read(SocketInputStream.java:{l4})
\t... 12 more";

/// Row `i` of the corpus, ending at `end` and spread over the 24 h before it.
fn row(lines: &[(String, String)], i: usize, n: usize, end: i64, rng: &mut Rng) -> LogEntry {
    let (sys, msg) = &lines[i % lines.len()];
    let span = 86_400_000_000_000i64;
    let status = [200, 200, 200, 201, 204, 301, 404, 429, 500, 503][rng.below(10) as usize];
    let latency = rng.below(2_000_000) as f64 / 1000.0;
    let user = format!("u{}", rng.below(100_000));
    let trace = rng.hex(32);
    let level = ["info", "info", "info", "warn", "error", "debug"][rng.below(6) as usize];
    let body = redraw(msg, rng);
    let (message, lines_n) = match i % 50 {
        2 => (
            TRACE
                .replace("{id}", &rng.hex(12))
                .replace("{n}", &rng.below(9).to_string())
                .replace("{l1}", &rng.below(900).to_string())
                .replace("{l2}", &rng.below(900).to_string())
                .replace("{l3}", &rng.below(900).to_string())
                .replace("{ms}", &rng.below(60_000).to_string())
                .replace("{l4}", &rng.below(900).to_string()),
            7,
        ),
        k if k % 10 == 0 => (
            serde_json::json!({
                "level": level, "msg": body, "status": status, "latency_ms": latency,
                "user": user, "trace_id": trace,
            })
            .to_string(),
            1,
        ),
        k if k % 10 == 1 => (
            format!(
                "level={level} msg={:?} status={status} latency_ms={latency} user={user} trace_id={trace}",
                body
            ),
            1,
        ),
        _ => (body, 1),
    };
    LogEntry {
        ts: Timestamp(end - span + (i as i64) * (span / n as i64)),
        node: "bench-node".into(),
        source: StreamId {
            namespace: sys.clone(),
            pod: format!(
                "{sys}-7d4b9c8f6d-{}",
                ["x2k4p", "b7z9q", "m4n8t", "q2w5z"][(i / 7) % 4]
            ),
            pod_uid: format!("uid-{sys}-{}", (i / 7) % 4),
            container: "app".into(),
            container_id: String::new(),
            restart: 0,
        },
        stream: if i.is_multiple_of(9) {
            Stream::Stderr
        } else {
            Stream::Stdout
        },
        message,
        level: None,
        seq: 0,
        lines: lines_n,
        fields: Default::default(),
        pattern: None,
    }
}

fn dir_bytes(p: &std::path::Path) -> u64 {
    let mut n = 0;
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let Ok(m) = e.metadata() else { continue };
            n += if m.is_dir() {
                dir_bytes(&e.path())
            } else {
                m.len()
            };
        }
    }
    n
}

/// The median latency and the hit count; `None` when the query is refused (an
/// older build, run for a before/after comparison, may not know the syntax).
fn p50(index: &Index, params: &SearchParams, runs: usize) -> Option<(f64, u64)> {
    index.search(params).ok()?;
    let mut v = Vec::new();
    let mut total = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let p = index.search(params).ok()?;
        v.push(t.elapsed().as_secs_f64() * 1000.0);
        total = p.total;
    }
    v.sort_by(f64::total_cmp);
    Some((v[v.len() / 2], total))
}

fn main() {
    let a = args();
    let tmp;
    let base = match &a.dir {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::tempdir().unwrap();
            tmp.path().to_path_buf()
        }
    };
    let data = base.join("lookout-data");
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&base).unwrap();
    let rows_path = base.join("rows.jsonl");
    let mut rows = std::io::BufWriter::new(std::fs::File::create(&rows_path).unwrap());
    let lines = loghub();
    let n = a.entries;
    let end = Timestamp::now().0;
    let cfg = IndexConfig {
        data_dir: data.clone(),
        commit_interval: Duration::from_secs(1),
        retention: Duration::from_secs(30 * 86_400),
        max_disk: 1 << 40,
        verify_every: lookout_daemon::index::VERIFY_EVERY,
        verify_rate: lookout_daemon::index::VERIFY_RATE,
    };
    let (index, rec) = Index::open(cfg.clone()).expect("open index");
    let (tx, rx) = crossbeam_channel::bounded(16);
    let writer = {
        let index = index.clone();
        std::thread::spawn(move || {
            index.run_writer(rx, &lookout_daemon::shutdown::Shutdown::never())
        })
    };
    let mut seq = rec.next_seq;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut raw = 0u64;
    // Built (fields and levels extracted, as ingest does) and written out for the
    // peer before the clock starts: what is timed is the index writer alone.
    eprintln!("building {n} rows…");
    let mut batches = Vec::new();
    let mut i = 0;
    while i < n {
        let m = 8192.min(n - i);
        let entries: Vec<LogEntry> = (i..i + m)
            .map(|j| row(&lines, j, n, end, &mut rng))
            .collect();
        let b = ingest::prepare(
            Batch {
                entries,
                positions: PositionUpdate::default(),
            },
            &mut seq,
        );
        for e in &b.entries {
            // A CRI line per physical line: `2026-12-04T19:00:00.123456789Z stdout F `.
            raw += e.message.len() as u64 + u64::from(e.lines) * 41;
            let status = e.fields.get("status").and_then(|v| v.as_u64());
            serde_json::to_writer(
                &mut rows,
                &serde_json::json!({
                    "ts": e.ts.0, "namespace": e.source.namespace, "pod": e.source.pod,
                    "container": e.source.container, "stream": e.stream.as_str(),
                    "level": e.level.map(|l| l.as_str()).unwrap_or(""),
                    "status": status, "message": e.message,
                }),
            )
            .unwrap();
            rows.write_all(b"\n").unwrap();
        }
        batches.push(b);
        i += m;
    }
    rows.flush().unwrap();
    eprintln!("indexing…");
    let t0 = Instant::now();
    for b in batches {
        tx.send(b).unwrap();
    }
    drop(tx);
    writer.join().unwrap();
    let wall = t0.elapsed().as_secs_f64();
    drop(index);
    // Settled: reopen (the final commit is done, merges finished with the writer).
    let (index, _) = Index::open(cfg).unwrap();
    let bytes = dir_bytes(&data);
    let q = |query: &str| SearchParams {
        query: query.into(),
        limit: 100,
        ..Default::default()
    };
    let cases = [
        ("term", q("terminating")),
        ("phrase", q("\"Receiving block\"")),
        ("namespace + term", q("namespace:openssh invalid")),
        ("field comparison", q("status:>=500")),
        (
            "count + histogram 24h",
            SearchParams {
                query: "level:error".into(),
                limit: 1,
                histogram: true,
                range: TimeRange {
                    since: Some("24h".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
        ),
    ];
    let mut results = Vec::new();
    for (name, params) in &cases {
        if let Some((ms, total)) = p50(&index, params, a.runs) {
            results.push(serde_json::json!({"query": name, "p50_ms": ms, "hits": total}));
        }
    }
    let summary = serde_json::json!({
        "rows": n, "raw_bytes": raw, "data_dir_bytes": bytes,
        "bytes_per_raw_byte": bytes as f64 / raw as f64,
        "ingest_s": wall, "ingest_mib_s": raw as f64 / wall / (1 << 20) as f64,
        "rows_file": rows_path, "queries": results,
    });
    if a.json {
        println!("{summary}");
    } else {
        println!("{}", serde_json::to_string_pretty(&summary).unwrap());
    }
}
