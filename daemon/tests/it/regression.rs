//! One test per bug, each named after the bug it pins down, so a failure here says
//! which old defect came back.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::support::serve::*;
use clap::Parser;
use lookout_daemon::config::Config;
use lookout_shared::limits::close;
use lookout_shared::protocol::{ErrorCode, ServerMsg};
use lookout_shared::LogEntry;

/// Kills the child even when an assertion fails first.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `--stdout` built its collector from its own defaults (10 s rescan, 4096-entry
/// batches, its own node-name fallback) instead of the daemon's. Visible in its
/// output: with `--node ""` (an empty `NODE_NAME` from the DaemonSet) it stamped
/// every entry with an empty node, where the daemon falls back to the host name.
#[test]
fn stdout_mode_built_its_collector_with_other_defaults_than_the_daemon() {
    let logs = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    crate::support::collect::append(&logs.path().join("app.log"), b"hello\n");
    let mut child = Reaped(
        Command::new(env!("CARGO_BIN_EXE_lookoutd"))
            .args(["--stdout", "--node", "", "--log-dir"])
            .arg(logs.path())
            .arg("--data-dir")
            .arg(data.path())
            .env_remove("NODE_NAME")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let out = child.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("no entry printed within 20 s");
    let entry: LogEntry = serde_json::from_str(&line).unwrap();
    assert_eq!(entry.message, "hello");

    // What the daemon itself runs with, given the same flags.
    let flags = Config::parse_from(["lookoutd", "--node", ""]);
    let daemon = lookout_daemon::app::collector_config(&flags);
    assert!(!daemon.node.is_empty(), "the daemon falls back to a name");
    assert_eq!(
        entry.node, daemon.node,
        "--stdout stamps the node name the daemon would"
    );
}

/// Frames past the websocket layer's own limit (4x `max_frame_bytes`) were told
/// apart from other read failures by matching "too long" / "Space limit" in the
/// library's error text: a reworded message would have turned the clear error and
/// close 1009 into a silent disconnect. They are now matched by error type; this
/// checks what the client sees.
#[tokio::test]
async fn oversized_frame_was_detected_by_matching_error_text() {
    let mut o = opts();
    o.cfg.limits.max_frame_bytes = 1000;
    let srv = TestServer::with(o).await;
    let mut c = Client::connect(srv.addr()).await;
    // Past the hard limit (4000 bytes): the server stops reading this frame.
    c.send_text(&format!(
        r#"{{"type":"search","id":1,"query":"{}"}}"#,
        "a".repeat(5000)
    ))
    .await;
    match c.next().await {
        Ok(ServerMsg::Error { id, error }) => {
            assert_eq!(id, None, "the frame was not read, so its id is unknown");
            assert_eq!(error.code, ErrorCode::LimitExceeded);
            assert_eq!(error.message, "frame far larger than the 1000 byte limit");
        }
        other => panic!("expected a limit_exceeded error, got {other:?}"),
    }
    assert_eq!(
        c.closed().await,
        Some((
            close::TOO_BIG,
            "frame far larger than the 1000 byte limit".to_string()
        ))
    );
}
