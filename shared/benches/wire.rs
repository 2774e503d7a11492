//! How fast entries cross the wire: `entries` frames of 500 kubelet-shaped entries
//! encoded as the daemon sends them and decoded as the TUI's client reads them
//! (`ServerMsg` from text, the internally tagged path).
//!
//! `cargo bench -p lookout-shared --bench wire` prints entries/s each way; under
//! `cargo test --benches` it runs a few frames as a smoke test.

// A benchmark whose setup fails should stop at once, loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use lookout_shared::protocol::ServerMsg;
use lookout_shared::{Level, LogEntry, Stream, StreamId, Timestamp};

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let frames: usize = if full { 400 } else { 4 };
    let per_frame = 500usize;
    let bodies: Vec<String> = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/loghub/HDFS_2k.log"
    ))
    .map(|s| s.lines().map(str::to_string).collect())
    .unwrap_or_else(|_| vec!["081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 terminating".into()]);

    let mut seq = 0u64;
    let msgs: Vec<ServerMsg> = (0..frames)
        .map(|_| ServerMsg::Entries {
            sub: 1,
            entries: (0..per_frame)
                .map(|i| {
                    seq += 1;
                    entry(seq, i, &bodies[seq as usize % bodies.len()])
                })
                .collect(),
        })
        .collect();
    let total = (frames * per_frame) as f64;

    let t = Instant::now();
    let texts: Vec<String> = msgs
        .iter()
        .map(|m| serde_json::to_string(m).expect("encode"))
        .collect();
    let encode = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let mut decoded = 0usize;
    for text in &texts {
        match serde_json::from_str::<ServerMsg>(text).expect("decode") {
            ServerMsg::Entries { entries, .. } => decoded += entries.len(),
            other => panic!("not entries: {other:?}"),
        }
    }
    let decode = t.elapsed().as_secs_f64();
    assert_eq!(decoded, frames * per_frame);
    let bytes: usize = texts.iter().map(String::len).sum();
    println!(
        "{} entries in {frames} frames ({:.0} bytes/entry): encode {:.0} entries/s, decode {:.0} entries/s",
        frames * per_frame,
        bytes as f64 / total,
        total / encode,
        total / decode,
    );
}

/// A kubelet-shaped entry: every identity field filled, as the collector emits them.
fn entry(seq: u64, i: usize, message: &str) -> LogEntry {
    let pod = i % 7;
    LogEntry {
        ts: Timestamp(1_764_000_000_000_000_000 + seq as i64 * 20_000),
        node: "node-a".into(),
        source: StreamId {
            namespace: "payments".into(),
            pod: format!("checkout-7d9f8b-{pod}"),
            pod_uid: format!("0a1b2c3d-4e5f-6789-abcd-ef012345678{pod}"),
            container: "app".into(),
            container_id: format!("{pod:064x}"),
            restart: 0,
        },
        stream: Stream::Stdout,
        message: message.into(),
        level: Some(if i.is_multiple_of(50) {
            Level::Error
        } else {
            Level::Info
        }),
        seq,
        lines: 1,
        fields: Default::default(),
        pattern: None,
    }
}
