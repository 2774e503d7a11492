//! Template mining: grouping accuracy on Loghub's eight labelled 2k samples and
//! the miner's throughput on one core.
//!
//! ```text
//! cargo bench -p lookout-daemon --bench patterns -- [--json] [--rounds N] [--systems Apache,HDFS]
//! ```
//!
//! Each system is mined twice, on two inputs: `line`, the whole line as the
//! daemon sees it (application header included), and `content`, Loghub's
//! `Content` column (the message with the header already cut off by per-system
//! regexes, as the published results use it). Accuracy is computed on the ids
//! resolved after the run (a variant merged into a pattern counts as that
//! pattern, which is what `pattern:ID` finds); `online` is the same on the ids as
//! first returned. Throughput: lines/s of a fresh miner per 2,000-line pass
//! (`fresh`, creation of every template included), and of one miner fed the
//! same lines `--rounds` times (`steady`).
//!
//! `scripts/bench-patterns.sh` runs this and drain3 on the same lines, in one table.

// A benchmark whose setup fails should stop at once, loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use lookout_daemon::pattern::eval::{csv_column, grouping_accuracy};
use lookout_daemon::pattern::{Config, Miner};

const SYSTEMS: [&str; 8] = [
    "Apache",
    "HDFS",
    "Hadoop",
    "HealthApp",
    "Linux",
    "OpenSSH",
    "Spark",
    "Zookeeper",
];

struct Args {
    json: bool,
    rounds: usize,
    systems: Vec<String>,
}

fn args() -> Args {
    let mut a = Args {
        json: false,
        rounds: 200,
        systems: SYSTEMS.iter().map(|s| s.to_string()).collect(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--json" => a.json = true,
            "--rounds" => a.rounds = it.next().and_then(|v| v.parse().ok()).unwrap_or(a.rounds),
            "--systems" => {
                a.systems = it
                    .next()
                    .unwrap_or_default()
                    .split(',')
                    .map(str::to_string)
                    .collect()
            }
            _ => {} // --bench and friends from cargo
        }
    }
    a
}

fn data(system: &str) -> (Vec<String>, Vec<String>, Vec<String>) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/loghub");
    let raw = std::fs::read(format!("{dir}/{system}_2k.log")).unwrap();
    let raw = String::from_utf8_lossy(&raw);
    let lines: Vec<String> = raw
        .split('\n')
        .map(|l| l.trim_end_matches('\r').to_string())
        .filter(|l| !l.is_empty())
        .collect();
    let csv = std::fs::read_to_string(format!("{dir}/structured/{system}_2k.log_structured.csv"))
        .unwrap();
    let content = csv_column(&csv, "Content").unwrap();
    let truth = csv_column(&csv, "EventId").unwrap();
    assert_eq!(lines.len(), truth.len(), "{system}: lines vs labels");
    (lines, content, truth)
}

struct Score {
    resolved: f64,
    online: f64,
    templates: usize,
}

fn score(input: &[String], truth: &[String]) -> Score {
    let mut miner = Miner::new(Config::default()).unwrap();
    let ids: Vec<_> = input.iter().map(|l| miner.observe(l)).collect();
    let resolved: Vec<_> = ids.iter().map(|&id| miner.resolve(id)).collect();
    Score {
        resolved: grouping_accuracy(&resolved, truth),
        online: grouping_accuracy(&ids, truth),
        templates: miner.len(),
    }
}

fn fresh_rate(input: &[String], rounds: usize) -> f64 {
    let start = Instant::now();
    let mut sink = 0u64;
    for _ in 0..rounds {
        let mut miner = Miner::new(Config::default()).unwrap();
        for l in input {
            sink = sink.wrapping_add(miner.observe(l).get());
        }
    }
    std::hint::black_box(sink);
    (rounds * input.len()) as f64 / start.elapsed().as_secs_f64()
}

fn steady_rate(input: &[String], rounds: usize) -> f64 {
    let mut miner = Miner::new(Config::default()).unwrap();
    for l in input {
        miner.observe(l);
    }
    let start = Instant::now();
    let mut sink = 0u64;
    for _ in 0..rounds {
        for l in input {
            sink = sink.wrapping_add(miner.observe(l).get());
        }
    }
    std::hint::black_box(sink);
    (rounds * input.len()) as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let a = args();
    if let Ok(system) = std::env::var("PATTERNS_DUMP") {
        // Debugging aid: one line per input line, resolved template, tab, line.
        let (lines, _, truth) = data(&system);
        let mut miner = Miner::new(Config::default()).unwrap();
        let ids: Vec<_> = lines.iter().map(|l| miner.observe(l)).collect();
        for ((id, l), t) in ids.iter().zip(&lines).zip(&truth) {
            let p = miner.pattern(*id).map(|p| p.template).unwrap_or_default();
            println!("{t}\t{}\t{p}\t{l}", miner.resolve(*id));
        }
        return;
    }
    let mut rows = Vec::new();
    if !a.json {
        println!(
            "{:<10} {:>6} {:>6} {:>6} {:>6} {:>5} {:>5} {:>11} {:>11}",
            "system",
            "line",
            "online",
            "content",
            "online",
            "tpl",
            "true",
            "fresh l/s",
            "steady l/s"
        );
    }
    let (mut sum_line, mut sum_content) = (0.0, 0.0);
    for system in &a.systems {
        let (lines, content, truth) = data(system);
        let on_line = score(&lines, &truth);
        let on_content = score(&content, &truth);
        let fresh = fresh_rate(&lines, a.rounds.div_ceil(4).max(1));
        let steady = steady_rate(&lines, a.rounds);
        let true_templates = truth.iter().collect::<std::collections::HashSet<_>>().len();
        sum_line += on_line.resolved;
        sum_content += on_content.resolved;
        if a.json {
            rows.push(format!(
                "{{\"system\":\"{system}\",\"line\":{:.4},\"line_online\":{:.4},\"content\":{:.4},\"content_online\":{:.4},\"templates\":{},\"true_templates\":{true_templates},\"fresh_lines_per_s\":{:.0},\"steady_lines_per_s\":{:.0}}}",
                on_line.resolved, on_line.online, on_content.resolved, on_content.online, on_line.templates, fresh, steady
            ));
        } else {
            println!(
                "{:<10} {:>6.3} {:>6.3} {:>6.3} {:>6.3} {:>5} {:>5} {:>11.0} {:>11.0}",
                system,
                on_line.resolved,
                on_line.online,
                on_content.resolved,
                on_content.online,
                on_line.templates,
                true_templates,
                fresh,
                steady
            );
        }
    }
    let n = a.systems.len() as f64;
    if a.json {
        println!("[{}]", rows.join(","));
    } else {
        println!(
            "mean       {:>6.3}        {:>6.3}",
            sum_line / n,
            sum_content / n
        );
    }
}
