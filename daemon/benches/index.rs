//! Index benchmark: ingest N entries built from the loghub samples, then measure
//! query latencies (p50/p99) through `Index::search` (the daemon's search path, less
//! the websocket), and `rg` and `grep -F` over the same lines as plain files.
//!
//! ```text
//! cargo bench -p lookout-daemon --bench index -- --entries 10000000 [--dir /tmp/x]
//!     [--runs 200] [--repeat 3] [--tool-runs 3]
//! ```
//!
//! Each latency figure is the median over `--repeat` independent runs of that run's
//! p50 (or p99) over `--runs` queries; `rg`/`grep` figures are the median over
//! `--repeat` runs of the median of `--tool-runs` invocations, after one untimed
//! warm-up invocation (so both sides read from the page cache).
//!
//! Prints a Markdown table for `docs/BENCHMARKS.md`.

// A benchmark whose setup fails should stop at once, loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

mod loghub_entries;

use loghub_entries::{entry, loghub};
use lookout_daemon::collect::{Batch, PositionUpdate};
use lookout_daemon::index::{Index, IndexConfig};
use lookout_daemon::ingest;
use lookout_shared::protocol::{SearchParams, TimeRange};
use lookout_shared::{LogEntry, Timestamp};

struct Args {
    entries: usize,
    dir: Option<PathBuf>,
    runs: usize,
    repeat: usize,
    tool_runs: usize,
}

fn args() -> Args {
    let mut a = Args {
        entries: 1_000_000,
        dir: None,
        runs: 200,
        repeat: 3,
        tool_runs: 3,
    };
    let mut it = std::env::args().skip(1);
    let mut bench = false;
    while let Some(x) = it.next() {
        match x.as_str() {
            "--bench" => bench = true,
            "--entries" => a.entries = it.next().and_then(|v| v.parse().ok()).unwrap_or(a.entries),
            "--dir" => a.dir = it.next().map(PathBuf::from),
            "--runs" => a.runs = it.next().and_then(|v| v.parse().ok()).unwrap_or(a.runs),
            "--repeat" => a.repeat = it.next().and_then(|v| v.parse().ok()).unwrap_or(a.repeat),
            "--tool-runs" => {
                a.tool_runs = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(a.tool_runs)
            }
            _ => {}
        }
    }
    if !bench {
        // `cargo test --all-targets` runs this binary without `--bench`: a quick
        // smoke run so the suite stays fast.
        a.entries = a.entries.min(5_000);
        a.runs = a.runs.min(3);
        a.repeat = 1;
        a.tool_runs = 1;
    }
    a.runs = a.runs.max(1);
    a.repeat = a.repeat.max(1);
    a.tool_runs = a.tool_runs.max(1);
    a
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i.min(v.len() - 1)]
}

fn median(mut v: Vec<f64>) -> f64 {
    pct(&mut v, 0.5)
}

/// Median over `repeat` runs of each run's (p50, p99); the hit total.
fn time_search(
    index: &Index,
    params: &SearchParams,
    runs: usize,
    repeat: usize,
) -> (f64, f64, u64) {
    let (mut p50s, mut p99s) = (Vec::new(), Vec::new());
    let mut total = 0;
    for _ in 0..repeat {
        let mut v = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t = Instant::now();
            let p = index.search(params).expect("search");
            v.push(t.elapsed().as_secs_f64() * 1000.0);
            total = p.total;
        }
        p50s.push(pct(&mut v, 0.5));
        p99s.push(pct(&mut v, 0.99));
    }
    (median(p50s), median(p99s), total)
}

/// A line-counting tool over the plain files: median ms (as [`time_search`] but
/// per invocation) and the summed per-file counts. `None` when not installed.
fn tool(cmd: &[&str], files: &[PathBuf], runs: usize, repeat: usize) -> Option<(f64, u64)> {
    let once = || -> Option<(f64, u64)> {
        let t = Instant::now();
        let out = Command::new(cmd[0])
            .args(&cmd[1..])
            .args(files)
            .output()
            .ok()?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        // Exit 1 is "no match", anything else an error.
        if !out.status.success() && out.status.code() != Some(1) {
            eprintln!(
                "{}: {}",
                cmd[0],
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return None;
        }
        let count = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.rsplit(':').next()?.trim().parse::<u64>().ok())
            .sum();
        Some((ms, count))
    };
    let (_, count) = once()?; // warm-up: the files are in the page cache from here on
    let mut meds = Vec::new();
    for _ in 0..repeat {
        let mut v = Vec::new();
        for _ in 0..runs {
            v.push(once()?.0);
        }
        meds.push(median(v));
    }
    Some((median(meds), count))
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
    let data = base.join("data");
    let plain = base.join("plain");
    let _ = std::fs::remove_dir_all(&data);
    let _ = std::fs::remove_dir_all(&plain);
    let lines = loghub();
    let n = a.entries;
    let end = Timestamp::now().0;

    let (index, rec) = Index::open(IndexConfig {
        data_dir: data.clone(),
        commit_interval: Duration::from_secs(1),
        retention: Duration::from_secs(30 * 86_400),
        max_disk: 1 << 40,
        verify_every: lookout_daemon::index::VERIFY_EVERY,
        verify_rate: lookout_daemon::index::VERIFY_RATE,
    })
    .expect("open index");
    let (tx, rx) = crossbeam_channel::bounded(16);
    // The writer thread, as the pipeline runs it (with no shutdown: closing `tx` ends it).
    let writer = {
        let index = index.clone();
        std::thread::spawn(move || {
            index.run_writer(rx, &lookout_daemon::shutdown::Shutdown::never())
        })
    };
    let mut seq = rec.next_seq;
    let batch = 8192;

    // Build entries ahead in chunks so generation is not timed as ingest.
    eprintln!("ingesting {n} entries…");
    let mut bytes = 0u64;
    let mut ingest_time = Duration::ZERO;
    let mut i = 0;
    let t_all = Instant::now();
    while i < n {
        let m = batch.min(n - i);
        let entries: Vec<LogEntry> = (i..i + m).map(|j| entry(&lines, j, n, end)).collect();
        bytes += entries
            .iter()
            .map(|e| e.message.len() as u64 + 1)
            .sum::<u64>();
        let t = Instant::now();
        let b = ingest::prepare(
            Batch {
                entries,
                positions: PositionUpdate::default(),
            },
            &mut seq,
        );
        tx.send(b).unwrap();
        ingest_time += t.elapsed();
        i += m;
        if i % 1_000_000 < m {
            eprintln!("  {i} sent ({:.0} s)", t_all.elapsed().as_secs_f64());
        }
    }
    drop(tx);
    writer.join().unwrap();
    let wall = t_all.elapsed().as_secs_f64();
    eprintln!("(sending took {:.1} s of that)", ingest_time.as_secs_f64());
    let stats = index.stats();
    assert_eq!(stats.docs, n as u64, "all entries stored");
    let eps = n as f64 / wall;
    let mibs = bytes as f64 / wall / (1 << 20) as f64;
    eprintln!("ingest: {wall:.1} s, {eps:.0} entries/s, {mibs:.1} MiB/s");

    // The same lines as plain files, one per pod, for rg and grep.
    eprintln!("writing the plain files…");
    std::fs::create_dir_all(&plain).unwrap();
    let mut plain_files = Vec::new();
    {
        let mut files = std::collections::HashMap::new();
        for j in 0..n {
            if j > 0 && j % 1_000_000 == 0 {
                eprintln!("  {j} lines written");
            }
            let e = entry(&lines, j, n, end);
            let f = files.entry(e.source.pod.clone()).or_insert_with(|| {
                let path = plain.join(format!("{}.log", e.source.pod));
                plain_files.push(path.clone());
                std::io::BufWriter::new(std::fs::File::create(path).unwrap())
            });
            writeln!(f, "{}", e.message).unwrap();
        }
    }

    // Re-open as the daemon would after a restart (fresh reader, cold-ish caches);
    // this checksums every index file (see `index::integrity`).
    drop(index);
    let t_open = Instant::now();
    let (index, _) = Index::open(IndexConfig {
        data_dir: data.clone(),
        commit_interval: Duration::from_secs(1),
        retention: Duration::from_secs(30 * 86_400),
        max_disk: 1 << 40,
        verify_every: lookout_daemon::index::VERIFY_EVERY,
        verify_rate: lookout_daemon::index::VERIFY_RATE,
    })
    .unwrap();
    let open_s = t_open.elapsed().as_secs_f64();
    let mib = index.stats().bytes as f64 / f64::from(1 << 20);
    println!(
        "reopen, every file checksummed: {:.0} ms for {mib:.1} MiB ({:.0} MiB/s, page cache warm)",
        open_s * 1000.0,
        mib / open_s
    );
    let runs = a.runs;
    let q = |query: &str| SearchParams {
        query: query.into(),
        limit: 100,
        ..Default::default()
    };
    let cases: Vec<(&str, SearchParams)> = vec![
        ("(a) selective term `snapshotting`", q("snapshotting")),
        ("(a') rare term (one req id)", q("1b1e2")),
        ("(b) phrase `\"Receiving block\"`", q("\"Receiving block\"")),
        (
            "(c) `namespace:openssh invalid`",
            q("namespace:openssh invalid"),
        ),
        ("(e) common term `INFO` top-100", q("INFO")),
        (
            "(f) regex `/conn(ection)? (refused|closed)/`",
            q("/conn(ection)? (refused|closed)/"),
        ),
        (
            "(g) regex `/Invalid user [a-z]+ from/`",
            q("/Invalid user [a-z]+ from/"),
        ),
        (
            "(f') `namespace:openssh /Invalid user [a-z]+ from/`",
            q("namespace:openssh /Invalid user [a-z]+ from/"),
        ),
        (
            "(d) count + histogram, 24 h, `level:error`",
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
        (
            "(d') count + histogram, 24 h, all",
            SearchParams {
                query: "*".into(),
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
    println!(
        "\nentries: {n}, message bytes: {:.1} MiB, index on disk: {:.1} MiB, buckets: {}",
        bytes as f64 / (1 << 20) as f64,
        index.stats().bytes as f64 / (1 << 20) as f64,
        index.stats().buckets
    );
    println!("ingest: {eps:.0} entries/s, {mibs:.1} MiB/s ({wall:.1} s wall)\n");
    println!("| query | hits | p50 ms | p99 ms |");
    println!("| --- | ---: | ---: | ---: |");
    let mut p50s = std::collections::HashMap::new();
    let mut totals = std::collections::HashMap::new();
    for (name, params) in &cases {
        // Warm once.
        let _ = index.search(params);
        let (p50, p99, total) = time_search(&index, params, runs, a.repeat);
        p50s.insert(*name, p50);
        totals.insert(*name, total);
        println!("| {name} | {total} | {p50:.2} | {p99:.2} |");
    }
    println!(
        "\n(median of {} runs of {runs} queries each; index warm after one query)",
        a.repeat
    );
    plain_files.sort();
    let tools: [(&str, &[&str]); 2] = [
        ("rg", &["rg", "-c", "-i", "-w", "-F", "--no-filename"]),
        ("grep", &["grep", "-c", "-i", "-w", "-F", "--no-filename"]),
    ];
    println!(
        "\n| word | index hits | index p50 ms | `rg -c -i -w -F` hits | rg ms | ×rg | \
         `grep -c -i -w -F` hits | grep ms | ×grep |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut differ = false;
    for (word, name) in [
        ("snapshotting", "(a) selective term `snapshotting`"),
        ("1b1e2", "(a') rare term (one req id)"),
        ("INFO", "(e) common term `INFO` top-100"),
    ] {
        let ix = p50s[name];
        let hits = totals[name];
        let mut row = format!("| `{word}` | {hits} | {ix:.2} |");
        for (tname, cmd) in tools {
            let mut c: Vec<&str> = cmd.to_vec();
            c.push(word);
            match tool(&c, &plain_files, a.tool_runs, a.repeat) {
                Some((ms, n)) => {
                    differ |= n != hits;
                    row += &format!(" {n} | {ms:.1} | {:.0}x |", ms / ix);
                }
                None => row += &format!(" {tname} not run | | |"),
            }
        }
        println!("{row}");
    }
    // Regular expressions: the index reads every candidate's stored message (the
    // total is exact, so a pattern alone reads them all); rg reads the files.
    println!("\n| pattern | index hits | index p50 ms | `rg -c` hits | rg ms | ×rg |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for (pattern, name) in [
        (
            "conn(ection)? (refused|closed)",
            "(f) regex `/conn(ection)? (refused|closed)/`",
        ),
        (
            "Invalid user [a-z]+ from",
            "(g) regex `/Invalid user [a-z]+ from/`",
        ),
    ] {
        let ix = p50s[name];
        let hits = totals[name];
        let mut row = format!("| `/{pattern}/` | {hits} | {ix:.2} |");
        match tool(
            &["rg", "-c", "--no-filename", "-e", pattern],
            &plain_files,
            a.tool_runs,
            a.repeat,
        ) {
            Some((ms, n)) => row += &format!(" {n} | {ms:.1} | {:.2}x |", ms / ix),
            None => row += " rg not run | | |",
        }
        println!("{row}");
    }
    println!(
        "\n(tools: median of {} runs of {} invocations each after one warm-up, so their \
         input is page-cached as the index is)",
        a.repeat, a.tool_runs
    );
    if differ {
        println!(
            "\nHit counts differ where the index's words (runs of letters and digits) and \
             the tools' -w words (letters, digits and `_`) disagree, e.g. `x_INFO` is the \
             word `info` to the index but not to `-w`."
        );
    }
}
