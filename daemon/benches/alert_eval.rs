//! Measures alert evaluation cost: 100 rules, 10k lines/s of real log lines
//! (testdata/loghub) published for 10 s; reports the evaluator thread's CPU time
//! as a share of one core. Issue 5 asks for under 10%.
//!
//! `cargo bench -p lookout-daemon --bench alert_eval` (optionally `-- RULES RATE SECS`).

// A benchmark whose setup fails should stop at once, loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lookout_daemon::alert::{AlertEngine, EngineConfig};
use lookout_daemon::ingest::EntrySink;
use lookout_shared::protocol::RuleSpec;
use lookout_shared::{LogEntry, StreamId, Timestamp};

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n_rules = args.first().copied().unwrap_or(100) as usize;
    let rate = args.get(1).copied().unwrap_or(10_000);
    let secs = args.get(2).copied().unwrap_or(10);

    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/loghub");
    let mut lines = Vec::new();
    for f in [
        "Linux_2k.log",
        "HDFS_2k.log",
        "Apache_2k.log",
        "OpenSSH_2k.log",
        "Spark_2k.log",
    ] {
        let text = std::fs::read_to_string(format!("{root}/{f}")).expect("loghub sample");
        lines.extend(text.lines().map(|l| l.trim_end().to_string()));
    }
    // Rule queries: words that occur in the samples, so some rules match often.
    let words = [
        "error",
        "failure",
        "authentication",
        "INFO",
        "WARN",
        "Received",
        "block",
        "terminating",
        "session",
        "opened",
        "closed",
        "denied",
        "timeout",
        "exception",
        "connection",
        "user",
        "root",
        "kernel",
        "notice",
        "mod_jk",
    ];
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = AlertEngine::open(dir.path(), EngineConfig::default()).unwrap();
    let specs: Vec<RuleSpec> = (0..n_rules)
        .map(|i| RuleSpec {
            name: format!("rule-{i}"),
            query: format!(
                "{} {}",
                words[i % words.len()],
                words[(i * 7 + 3) % words.len()]
            ),
            window: ["1m", "5m", "15m"][i % 3].into(),
            condition: ["> 100", "== 0", ">= 5000"][i % 3].into(),
            for_: "0s".into(),
            group_by: if i % 2 == 0 {
                vec!["pod".into()]
            } else {
                vec![]
            },
            severity: "warning".into(),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            enabled: true,
        })
        .collect();
    engine.put_all(specs).unwrap();

    let pods: Vec<String> = (0..50).map(|i| format!("pod-{i}")).collect();
    let batch = (rate / 100).max(1) as usize; // 100 batches a second
    let cpu0 = engine.stats().eval_cpu;
    let start = Instant::now();
    let mut i = 0usize;
    let mut tick = start;
    while start.elapsed() < Duration::from_secs(secs) {
        let now = Timestamp::now();
        let entries: Vec<Arc<LogEntry>> = (0..batch)
            .map(|_| {
                i += 1;
                Arc::new(LogEntry {
                    ts: now,
                    node: "node-1".into(),
                    source: StreamId {
                        namespace: "bench".into(),
                        pod: pods[i % pods.len()].clone(),
                        container: "app".into(),
                        ..Default::default()
                    },
                    message: lines[i % lines.len()].clone(),
                    seq: i as u64,
                    ..LogEntry::default()
                })
            })
            .collect();
        engine.publish(&entries);
        tick += Duration::from_millis(10);
        if let Some(d) = tick.checked_duration_since(Instant::now()) {
            std::thread::sleep(d);
        }
    }
    std::thread::sleep(Duration::from_millis(1500)); // let the last ticks land
    let wall = start.elapsed();
    let st = engine.stats();
    let cpu = st.eval_cpu - cpu0;
    println!(
        "alert_eval: {n_rules} rules, {rate} lines/s for {secs}s ({i} lines): evaluator CPU {:.3}s over {:.1}s wall = {:.1}% of one core; dropped {} entries; {} ticks",
        cpu.as_secs_f64(),
        wall.as_secs_f64(),
        100.0 * cpu.as_secs_f64() / wall.as_secs_f64(),
        st.dropped_entries,
        st.ticks
    );
}
