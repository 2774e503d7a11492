//! How fast the dashboard absorbs a flood: entries pushed through `App::on_event` in
//! daemon-sized batches, and one 120×40 frame drawn per 33 ms worth of lines.
//!
//! `cargo bench -p lookout-tui --bench dashboard` prints lines/s absorbed and the
//! cost of one frame; under `cargo test` it runs a few iterations as a smoke test.

// A benchmark whose setup fails should stop at once, loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use lookout_shared::protocol::{ClientMsg, ServerMsg};
use lookout_shared::{Level, LogEntry, StreamId, Timestamp};
use lookout_tui::app::{App, Event};
use lookout_tui::client::{ClientEvent, ServerInfo};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let total: u64 = if full { 2_000_000 } else { 20_000 };
    let batch = 500u64;
    let bodies: Vec<String> = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/loghub/HDFS_2k.log"
    ))
    .map(|s| s.lines().map(str::to_string).collect())
    .unwrap_or_else(|_| vec!["081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 terminating".into()]);

    let mut app = App::new("ws://bench".into(), 10_000, true, Timestamp(0));
    app.on_event(Event::Client(ClientEvent::Connected(ServerInfo::default())));
    let sub = app
        .outbox
        .iter()
        .find_map(|m| match m {
            ClientMsg::Subscribe { id, .. } => Some(*id),
            _ => None,
        })
        .expect("subscribe");
    // Find highlighting on (the costlier case) unless LOOKOUT_BENCH_FIND is empty.
    app.tail
        .log
        .set_find(&std::env::var("LOOKOUT_BENCH_FIND").unwrap_or_else(|_| "block".into()));
    let mut term = Terminal::new(TestBackend::new(120, 40)).expect("terminal");

    // Lines per frame at 50k lines/s and 30 frames/s.
    let per_frame = 50_000 / 30;
    let mut seq = 0u64;
    let mut since_draw = 0u64;
    let mut draw_ns = 0u128;
    let mut draws = 0u64;
    let start = Instant::now();
    while seq < total {
        let entries: Vec<LogEntry> = (0..batch)
            .map(|i| {
                seq += 1;
                LogEntry {
                    ts: Timestamp(seq as i64 * 20_000),
                    source: StreamId {
                        namespace: "payments".into(),
                        pod: format!("checkout-{}", i % 7),
                        container: "app".into(),
                        ..Default::default()
                    },
                    message: bodies[(seq as usize) % bodies.len()].clone(),
                    level: Some(if i % 50 == 0 {
                        Level::Error
                    } else {
                        Level::Info
                    }),
                    seq,
                    ..Default::default()
                }
            })
            .collect();
        app.on_event(Event::Client(ClientEvent::Msg(ServerMsg::Entries {
            sub,
            entries,
        })));
        since_draw += batch;
        if since_draw >= per_frame {
            since_draw = 0;
            let t = Instant::now();
            term.draw(|f| lookout_tui::ui::draw(f, &app)).expect("draw");
            draw_ns += t.elapsed().as_nanos();
            draws += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "absorbed {total} entries in {secs:.2}s: {:.0} lines/s with a 120x40 frame every {per_frame} lines; \
         frame {:.2} ms avg over {draws} frames; scrollback held {}",
        total as f64 / secs,
        draw_ns as f64 / draws.max(1) as f64 / 1e6,
        app.tail.log.lines.len()
    );
}
