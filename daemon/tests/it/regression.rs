//! One test per bug, each named after the bug it pins down, so a failure here says
//! which old defect came back.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use crate::support::http::{Answer, Peer};
use crate::support::serve::*;
use clap::Parser;
use lookout_daemon::alert::deliver::Backoff;
use lookout_daemon::alert::http::{http_request, HttpError, HttpUrl, MAX_RESPONSE_BYTES};
use lookout_daemon::alert::{AlertEngine, EngineConfig};
use lookout_daemon::config::Config;
use lookout_daemon::ingest::EntrySink;
use lookout_shared::limits::close;
use lookout_shared::protocol::{ErrorCode, RuleSpec, ServerMsg};
use lookout_shared::{LogEntry, Timestamp};

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

fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An engine delivering to the Alertmanager at `url`, with a rule that fires on
/// two `boom` lines.
fn engine_to(dir: &std::path::Path, url: String) -> AlertEngine {
    let (eng, warnings) = AlertEngine::open(
        dir,
        EngineConfig {
            alertmanager_urls: vec![url],
            node: "node-7".into(),
            backoff: Backoff {
                initial: Duration::from_millis(100),
                max: Duration::from_millis(500),
                request_timeout: Duration::from_secs(2),
            },
            ..EngineConfig::default()
        },
    )
    .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    eng.put(RuleSpec {
        name: "Boom".into(),
        query: "boom".into(),
        window: "5m".into(),
        condition: "> 1".into(),
        for_: "0s".into(),
        group_by: vec![],
        severity: "critical".into(),
        labels: BTreeMap::new(),
        annotations: BTreeMap::new(),
        enabled: true,
    })
    .unwrap();
    let boom = || {
        Arc::new(LogEntry {
            ts: Timestamp::now(),
            message: "boom".into(),
            ..LogEntry::default()
        })
    };
    eng.publish(&[boom(), boom(), boom()]);
    eng
}

/// The hand-written client kept the brackets of an IPv6 literal in the host it
/// connected to, so `http://[::1]:9093` could never be reached. The URL parser and
/// connector are now hyper's; this delivers a real alert over IPv6 loopback.
#[test]
fn alertmanager_url_with_ipv6_literal_kept_its_brackets_in_the_host() {
    let peer = Peer::start(
        "[::1]:0",
        Answer::Bytes(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec()),
    );
    let port = peer.addr.port();
    let dir = tempfile::tempdir().unwrap();
    let eng = engine_to(dir.path(), format!("http://[::1]:{port}"));
    let req = wait_for("an alert over IPv6", Duration::from_secs(20), || {
        peer.received().into_iter().next()
    });
    assert!(
        req.head.starts_with("POST /api/v2/alerts HTTP/1.1\r\n"),
        "{}",
        req.head
    );
    assert!(
        req.head
            .to_ascii_lowercase()
            .contains(&format!("host: [::1]:{port}\r\n")),
        "{}",
        req.head
    );
    let alerts: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(alerts[0]["labels"]["alertname"], "Boom");
    wait_for("the send counted", Duration::from_secs(5), || {
        (eng.stats().sent >= 1).then_some(())
    });
    assert_eq!(eng.stats().send_failures, 0);
}

/// The hand-written client read responses with an unbounded `read_to_end`: a
/// receiver answering without end grew the daemon's memory until it stopped, and
/// one that never finished its body hung the sink until the request timeout with
/// no bound on what it had buffered. Now a body is read up to
/// `MAX_RESPONSE_BYTES` and every exchange has one deadline; the sink counts a
/// failure and carries on.
#[test]
fn alert_delivery_read_responses_without_a_byte_bound() {
    let endless = |head: &[u8], chunk: &[u8]| Answer::Endless {
        head: head.to_vec(),
        chunk: chunk.to_vec(),
        limit: 64 * MAX_RESPONSE_BYTES,
    };
    let get = |peer: &Peer, timeout: Duration| {
        let url = HttpUrl::parse(&format!("http://{}/", peer.addr)).unwrap();
        let t0 = Instant::now();
        (
            block(http_request("GET", &url, None, timeout)),
            t0.elapsed(),
        )
    };

    // A length far over the bound, and the bytes to match.
    let peer = Peer::start(
        "127.0.0.1:0",
        endless(
            b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n",
            &[b'x'; 8192],
        ),
    );
    match get(&peer, Duration::from_secs(10)) {
        (Err(HttpError::TooLarge(n)), took) => {
            assert_eq!(n, MAX_RESPONSE_BYTES);
            assert!(
                took < Duration::from_secs(5),
                "stopped at the bound: {took:?}"
            );
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    // Chunks that never end: the bound holds without any length announced.
    let peer = Peer::start(
        "127.0.0.1:0",
        endless(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"2000\r\n"
                .iter()
                .chain([b'y'; 0x2000].iter())
                .chain(b"\r\n")
                .copied()
                .collect::<Vec<u8>>()
                .as_slice(),
        ),
    );
    assert!(
        matches!(
            get(&peer, Duration::from_secs(10)).0,
            Err(HttpError::TooLarge(_))
        ),
        "endless chunks are cut at the bound"
    );

    // A body that never finishes: the deadline ends the exchange, whatever the
    // receiver promised.
    for head in [
        &b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten.."[..],
        &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"[..],
        &b"HTTP/1.1 200 OK\r\nContent-"[..],
    ] {
        let peer = Peer::start(
            "127.0.0.1:0",
            Answer::Stall {
                bytes: head.to_vec(),
                hold: Duration::from_secs(30),
            },
        );
        match get(&peer, Duration::from_millis(500)) {
            (Err(HttpError::Timeout), took) => {
                assert!(took < Duration::from_secs(3), "{took:?}")
            }
            other => panic!("expected Timeout, got {other:?}"),
        }
    }

    // A well-formed chunked answer still decodes, and garbage is an error.
    let peer = Peer::start(
        "127.0.0.1:0",
        Answer::Bytes(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
                .to_vec(),
        ),
    );
    match get(&peer, Duration::from_secs(5)).0 {
        Ok((200, body)) => assert_eq!(body, b"abcde"),
        other => panic!("{other:?}"),
    }
    let peer = Peer::start("127.0.0.1:0", Answer::Bytes(b"garbage".to_vec()));
    assert!(matches!(
        get(&peer, Duration::from_secs(5)).0,
        Err(HttpError::Request(_))
    ));

    // Through the engine: an Alertmanager that answers without end is a failed
    // send, retried, and the sink stays alive.
    let peer = Peer::start(
        "127.0.0.1:0",
        endless(
            b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n",
            &[b'x'; 8192],
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let eng = engine_to(dir.path(), format!("http://{}", peer.addr));
    wait_for("two failed sends", Duration::from_secs(20), || {
        (eng.stats().send_failures >= 2).then_some(())
    });
    assert_eq!(eng.stats().sent, 0);
}
