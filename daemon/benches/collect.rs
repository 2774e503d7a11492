//! Collector throughput: CRI files built from the loghub samples, collected by
//! the real collector, entries discarded.
//!
//! `cargo bench -p lookout-daemon --bench collect` (env `MIB`, default 256).

use std::io::Write;
use std::time::{Duration, Instant};

use lookout_daemon::collect::{Collector, CollectorConfig, Positions};

fn main() {
    let mib: usize = std::env::var("MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let root = tempfile::tempdir().expect("tempdir");
    let samples_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/loghub");
    let mut bodies: Vec<String> = Vec::new();
    for e in std::fs::read_dir(samples_dir)
        .expect("testdata/loghub")
        .flatten()
    {
        if e.path().extension().is_some_and(|x| x == "log") {
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            bodies.extend(text.lines().map(str::to_string));
        }
    }
    assert!(!bodies.is_empty());
    let files = 4;
    let mut lines = 0u64;
    let mut bytes = 0u64;
    for i in 0..files {
        let dir = root.path().join(format!("pods/ns_pod{i}_uid/app"));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let mut f =
            std::io::BufWriter::new(std::fs::File::create(dir.join("0.log")).expect("create"));
        let mut n = 0usize;
        let mut k = i;
        while n < mib * 1024 * 1024 / files {
            let body = &bodies[k % bodies.len()];
            k += 7;
            let line = format!(
                "2026-11-25T19:42:07.{:09}Z stdout F {body}\n",
                k % 1_000_000_000
            );
            f.write_all(line.as_bytes()).expect("write");
            n += line.len();
            lines += 1;
        }
        bytes += n as u64;
        f.flush().expect("flush");
    }
    let cfg = CollectorConfig::new(root.path(), "bench");
    let (tx, rx) = crossbeam_channel::bounded(64);
    let start = Instant::now();
    let handle = Collector::spawn(cfg, Positions::default(), tx).expect("spawn");
    let mut got = 0u64;
    while got < lines {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(b) => got += b.entries.len() as u64,
            Err(_) => panic!("stalled at {got} of {lines}"),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    handle.stop();
    println!(
        "collected {lines} CRI lines ({:.1} MiB) in {secs:.3} s: {:.0} lines/s, {:.1} MiB/s",
        bytes as f64 / 1048576.0,
        lines as f64 / secs,
        bytes as f64 / 1048576.0 / secs
    );
}
