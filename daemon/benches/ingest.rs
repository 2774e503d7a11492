//! Ingest benchmark: collector batches of loghub lines through `ingest::prepare` and
//! the index writer thread until the final commit, as the daemon runs them. Reports
//! entries/s, MiB/s of message bytes and the CPU time the process used (so the
//! number of cores busy is visible).
//!
//! ```text
//! cargo bench -p lookout-daemon --bench ingest -- --entries 1000000 [--commit-ms 1000] [--batch 4096] [--no-patterns]
//! ```
//!
//! Patterns are mined as the daemon does (one miner per workload, saved after
//! commits); `--no-patterns` leaves them out, to measure their share of the CPU.
//!
//! Entries are generated before timing starts. Under callgrind pass a large
//! `--commit-ms` so commits happen at the same points whatever the slowdown (every
//! 200k entries and at the end), which keeps instruction counts comparable.

// A benchmark whose setup fails should stop at once, loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

mod loghub_entries;

use loghub_entries::{entry, loghub};
use lookout_daemon::collect::{Batch, PositionUpdate};
use lookout_daemon::index::{Index, IndexConfig};
use lookout_daemon::ingest;
use lookout_shared::{LogEntry, Timestamp};

struct Args {
    entries: usize,
    commit_ms: u64,
    batch: usize,
    patterns: bool,
}

fn args() -> Args {
    let mut a = Args {
        entries: 1_000_000,
        commit_ms: 1000,
        batch: 4096,
        patterns: true,
    };
    let mut it = std::env::args().skip(1);
    let mut bench = false;
    while let Some(x) = it.next() {
        let mut num = |d: usize| it.next().and_then(|v| v.parse().ok()).unwrap_or(d);
        match x.as_str() {
            "--bench" => bench = true,
            "--entries" => a.entries = num(a.entries),
            "--commit-ms" => a.commit_ms = num(a.commit_ms as usize) as u64,
            "--batch" => a.batch = num(a.batch).max(1),
            "--no-patterns" => a.patterns = false,
            _ => {}
        }
    }
    if !bench {
        // `cargo test --all-targets` runs this binary without `--bench`.
        a.entries = a.entries.min(5_000);
    }
    a
}

/// User + system CPU time of the whole process so far.
fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct we pass.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

fn main() {
    let a = args();
    let tmp = tempfile::tempdir().unwrap();
    let lines = loghub();
    let n = a.entries;
    let end = Timestamp::now().0;
    let batches: Vec<Vec<LogEntry>> = (0..n)
        .step_by(a.batch)
        .map(|i| {
            (i..(i + a.batch).min(n))
                .map(|j| entry(&lines, j, n, end))
                .collect()
        })
        .collect();
    let bytes: u64 = batches
        .iter()
        .flatten()
        .map(|e| e.message.len() as u64)
        .sum();

    let (index, rec) = Index::open(IndexConfig {
        data_dir: tmp.path().join("data"),
        commit_interval: Duration::from_millis(a.commit_ms),
        retention: Duration::from_secs(30 * 86_400),
        max_disk: 1 << 40,
        verify_every: lookout_daemon::index::VERIFY_EVERY,
        verify_rate: lookout_daemon::index::VERIFY_RATE,
    })
    .expect("open index");
    let (tx, rx) = crossbeam_channel::bounded(16);
    let cpu0 = cpu_time();
    let t0 = Instant::now();
    // The writer thread, as the pipeline runs it (with no shutdown: closing `tx` ends it).
    let writer = {
        let index = index.clone();
        std::thread::spawn(move || {
            index.run_writer(rx, &lookout_daemon::shutdown::Shutdown::never())
        })
    };
    let mut seq = rec.next_seq;
    let patterns = index.miners();
    for entries in batches {
        let b = ingest::prepare_with(
            Batch {
                entries,
                positions: PositionUpdate::default(),
            },
            &mut seq,
            a.patterns.then_some(&*patterns),
        );
        tx.send(b).unwrap();
    }
    drop(tx);
    writer.join().unwrap();
    let wall = t0.elapsed().as_secs_f64();
    let cpu = (cpu_time() - cpu0).as_secs_f64();
    let stats = index.stats();
    assert_eq!(stats.docs, n as u64, "all entries stored");
    println!(
        "ingest {n} entries ({:.1} MiB of messages, batches of {}, patterns {}): {wall:.2} s wall, \
         {:.0} entries/s, {:.1} MiB/s; cpu {cpu:.2} s ({:.2} cores); index {:.1} MiB, {} commits",
        bytes as f64 / (1 << 20) as f64,
        a.batch,
        if a.patterns { "on" } else { "off" },
        n as f64 / wall,
        bytes as f64 / wall / (1 << 20) as f64,
        cpu / wall,
        stats.bytes as f64 / (1 << 20) as f64,
        stats.commits,
    );
}
