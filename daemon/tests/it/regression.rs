//! One test per bug, each named after the bug it pins down, so a failure here says
//! which old defect came back.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use clap::Parser;
use lookout_daemon::config::Config;
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
