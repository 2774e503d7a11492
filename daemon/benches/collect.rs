//! Collector throughput: CRI files built from the loghub samples, collected by
//! the real collector, entries discarded.
//!
//! `cargo bench -p lookout-daemon --bench collect`; env `MIB` (default 256),
//! `RUNS` (default 3; each run collects the same files from the start with a
//! fresh collector; the median is printed last) and `READ_THREADS` (default 0 =
//! the collector's default).
//!
//! CPU is the process's user+sys time over the run (`getrusage`), split into
//! the consumer thread (this one: receiving and dropping entries) and the rest
//! (the collector's threads), so `cores` shows how much parallelism was used.
//!
//! `MULTILINE=off` collects with multi-line events off (default: on, as the
//! daemon runs). Lines are counted physically (`lines` of each entry), so joined
//! events do not end a run early. Then the live latency of a lone line: `SAMPLES`
//! (default 300) single lines appended one at a time to a followed file, each
//! timed from just before its `write` to its entry leaving the collector's
//! channel (p50/p99/max), with multi-line events on and off.

// A benchmark whose setup fails should stop at once, loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::time::{Duration, Instant};

use lookout_daemon::collect::{Collector, CollectorConfig, MultilineConfig, Positions};

/// User+sys CPU seconds of `who` (`RUSAGE_SELF` or `RUSAGE_THREAD`).
fn cpu_secs(who: libc::c_int) -> f64 {
    // SAFETY: getrusage fills the zeroed struct we pass it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(who, &mut ru) } != 0 {
        return 0.0;
    }
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(ru.ru_utime) + t(ru.ru_stime)
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

struct Run {
    secs: f64,
    mib_s: f64,
    lines_s: f64,
    collector_cpu: f64,
    consumer_cpu: f64,
}

fn main() {
    let mib = env_usize("MIB", 256);
    let runs = env_usize("RUNS", 3).max(1);
    let read_threads = env_usize("READ_THREADS", 0);
    let multiline = std::env::var("MULTILINE").map_or(true, |v| v != "off");
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
    let mib_total = bytes as f64 / 1048576.0;
    let mut results: Vec<Run> = Vec::new();
    for run in 1..=runs {
        let cfg = CollectorConfig {
            read_threads,
            multiline: MultilineConfig {
                enabled: multiline,
                ..MultilineConfig::default()
            },
            ..CollectorConfig::new(root.path(), "bench")
        };
        let threads = cfg.read_threads();
        let (tx, rx) = crossbeam_channel::bounded(64);
        let cpu0 = cpu_secs(libc::RUSAGE_SELF);
        let mine0 = cpu_secs(libc::RUSAGE_THREAD);
        let start = Instant::now();
        let handle = Collector::spawn(cfg, Positions::default(), tx).expect("spawn");
        let mut got = 0u64;
        while got < lines {
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok(b) => got += b.entries.iter().map(|e| u64::from(e.lines)).sum::<u64>(),
                Err(_) => panic!("stalled at {got} of {lines}"),
            }
        }
        let secs = start.elapsed().as_secs_f64();
        let consumer_cpu = cpu_secs(libc::RUSAGE_THREAD) - mine0;
        let collector_cpu = cpu_secs(libc::RUSAGE_SELF) - cpu0 - consumer_cpu;
        handle.stop();
        let r = Run {
            secs,
            mib_s: mib_total / secs,
            lines_s: lines as f64 / secs,
            collector_cpu,
            consumer_cpu,
        };
        println!(
            "run {run} (multiline {}): collected {lines} CRI lines ({mib_total:.1} MiB) in {:.3} s: {:.0} lines/s, \
             {:.1} MiB/s; cpu: collector {:.3} s ({} reader threads, {:.2} cores), consumer {:.3} s",
            if multiline { "on" } else { "off" },
            r.secs,
            r.lines_s,
            r.mib_s,
            r.collector_cpu,
            threads,
            r.collector_cpu / r.secs,
            r.consumer_cpu
        );
        results.push(r);
    }
    results.sort_by(|a, b| a.mib_s.total_cmp(&b.mib_s));
    let m = &results[results.len() / 2];
    println!(
        "median of {runs}: {:.0} lines/s, {:.1} MiB/s; collector cpu {:.3} s ({:.2} cores), consumer cpu {:.3} s",
        m.lines_s,
        m.mib_s,
        m.collector_cpu,
        m.collector_cpu / m.secs,
        m.consumer_cpu
    );
    let samples = env_usize("SAMPLES", 300);
    for on in [false, true] {
        lone_line_latency(samples, on);
    }
}

/// Appends `samples` lone lines, one at a time, to a followed file and prints
/// how long each took from its write to its entry leaving the collector.
fn lone_line_latency(samples: usize, multiline: bool) {
    if samples == 0 {
        return;
    }
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("pods/ns_lone_uid/app");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let path = dir.join("0.log");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .expect("create");
    let cfg = CollectorConfig {
        multiline: MultilineConfig {
            enabled: multiline,
            ..MultilineConfig::default()
        },
        ..CollectorConfig::new(root.path(), "bench")
    };
    let (tx, rx) = crossbeam_channel::bounded(64);
    let handle = Collector::spawn(cfg, Positions::default(), tx).expect("spawn");
    std::thread::sleep(Duration::from_millis(200));
    let mut ms: Vec<f64> = Vec::with_capacity(samples);
    for i in 0..samples {
        let line = format!("2026-11-25T19:42:07.1Z stdout F INFO request {i} served in 3 ms\n");
        let t0 = Instant::now();
        f.write_all(line.as_bytes()).expect("write");
        loop {
            match rx.recv_timeout(Duration::from_secs(10)) {
                Ok(b) if b.entries.is_empty() => continue,
                Ok(_) => break,
                Err(_) => panic!("line {i} never arrived"),
            }
        }
        ms.push(t0.elapsed().as_secs_f64() * 1000.0);
        // Lines a few milliseconds apart, as a quiet service writes them.
        std::thread::sleep(Duration::from_millis(5 + (i as u64 * 7) % 11));
    }
    handle.stop();
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    println!(
        "lone line latency (multiline {}): {samples} lines, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        if multiline { "on" } else { "off" },
        at(0.5),
        at(0.99),
        at(1.0)
    );
}
