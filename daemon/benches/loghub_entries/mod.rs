//! The entries the index and ingest benches feed the index: real Loghub lines
//! (`testdata/loghub`), each in its system's namespace, built the same way so the
//! two benches' figures describe the same data.

use std::path::Path;

use lookout_shared::{LogEntry, Stream, StreamId, Timestamp};

/// Every non-empty Loghub line with its system's name, files in name order.
pub fn loghub() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/loghub");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("testdata/loghub")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for p in files {
        let sys = p
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .split('_')
            .next()
            .unwrap()
            .to_lowercase();
        let bytes = std::fs::read(&p).unwrap();
        for l in String::from_utf8_lossy(&bytes).lines() {
            let l = l.trim_end_matches('\r');
            if !l.is_empty() {
                out.push((sys.clone(), l.to_string()));
            }
        }
    }
    out
}

/// Entry `i`: loghub line `i mod 16k` in its system's namespace, 4 pods each, spread
/// evenly over the 24 h before `end`. A request id makes some words rare, as in
/// real logs.
pub fn entry(lines: &[(String, String)], i: usize, n: usize, end: i64) -> LogEntry {
    let (sys, msg) = &lines[i % lines.len()];
    let span = 86_400_000_000_000i64;
    LogEntry {
        ts: Timestamp(end - span + (i as i64) * (span / n as i64)),
        node: "bench-node".into(),
        source: StreamId {
            namespace: sys.clone(),
            pod: format!("{sys}-{}", (i / 7) % 4),
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
        message: format!("{msg} req={:x}", i * 2654435761 % 1_000_003),
        level: None,
        seq: 0,
        lines: 1,
        fields: Default::default(),
        pattern: None,
    }
}
