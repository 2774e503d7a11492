//! Grouping accuracy on Loghub's eight labelled 2k samples, on whole lines (the
//! application header included, as the daemon sees them), with the one default
//! configuration. Floors sit a little under what the miner reaches (see
//! docs/BENCHMARKS.md): a change that loses accuracy fails here.

use lookout_daemon::pattern::eval::{csv_column, grouping_accuracy};
use lookout_daemon::pattern::{Config, Miner};

/// (system, floor). Reached: 1.000, 0.998, 0.951, 1.000, 0.754, 1.000, 0.997,
/// 0.991. Hadoop and Linux were held out while the rules were designed.
const FLOORS: [(&str, f64); 8] = [
    ("Apache", 0.99),
    ("HDFS", 0.98),
    ("Hadoop", 0.93),
    ("HealthApp", 0.98),
    ("Linux", 0.73),
    ("OpenSSH", 0.98),
    ("Spark", 0.98),
    ("Zookeeper", 0.97),
];

/// Mean reached: 0.961 (published Drain with per-system settings: 0.886).
const MEAN_FLOOR: f64 = 0.95;

fn sample(system: &str) -> (Vec<String>, Vec<String>) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/loghub");
    let raw = std::fs::read(format!("{dir}/{system}_2k.log")).unwrap();
    let lines: Vec<String> = String::from_utf8_lossy(&raw)
        .split('\n')
        .map(|l| l.trim_end_matches('\r').to_string())
        .filter(|l| !l.is_empty())
        .collect();
    let csv = std::fs::read_to_string(format!("{dir}/structured/{system}_2k.log_structured.csv"))
        .unwrap();
    let truth = csv_column(&csv, "EventId").unwrap();
    assert_eq!(lines.len(), truth.len(), "{system}: one label per line");
    (lines, truth)
}

#[test]
fn grouping_accuracy_on_loghub_whole_lines_meets_the_floors() {
    let mut sum = 0.0;
    let mut report = String::new();
    let mut failed = Vec::new();
    for (system, floor) in FLOORS {
        let (lines, truth) = sample(system);
        let mut miner = Miner::new(Config::default()).unwrap();
        let ids: Vec<_> = lines.iter().map(|l| miner.observe(l)).collect();
        let resolved: Vec<_> = ids.iter().map(|&id| miner.resolve(id)).collect();
        let ga = grouping_accuracy(&resolved, &truth);
        report.push_str(&format!("{system}: {ga:.3} (floor {floor})\n"));
        if ga < floor {
            failed.push(system);
        }
        sum += ga;
        // Every line's pattern is known to the miner and matches the line.
        for (id, line) in ids.iter().zip(&lines).take(50) {
            let p = miner.pattern(*id).unwrap();
            assert!(p.count >= 1, "{system}: {line}");
        }
    }
    let mean = sum / FLOORS.len() as f64;
    assert!(failed.is_empty(), "below the floor: {failed:?}\n{report}");
    assert!(
        mean >= MEAN_FLOOR,
        "mean {mean:.3} < {MEAN_FLOOR}\n{report}"
    );
}

#[test]
fn a_template_reads_as_the_event_with_its_parameters_masked() {
    let (lines, _) = sample("OpenSSH");
    let mut miner = Miner::new(Config::default()).unwrap();
    let ids: Vec<_> = lines.iter().map(|l| miner.observe(l)).collect();
    // Line 2: "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186"
    let p = miner.pattern(ids[1]).unwrap();
    assert_eq!(
        p.template,
        "<*> <*> <*> LabSZ <*> Invalid user <*> from <*>"
    );
    assert_eq!(p.count, 113, "every 'Invalid user' line of the sample");
}
