//! The HTTP listener beside the websocket (health, readiness, Prometheus metrics)
//! and the stream registry as clients see it.

use std::io::Write as _;
use std::process::{Command, Stdio};

use crate::support::serve::*;
use lookout_daemon::collect::FollowedFile;
use lookout_shared::protocol::{ClientMsg, ServerMsg};
use lookout_shared::StreamId;

fn followed(pod: &str) -> FollowedFile {
    FollowedFile {
        path: format!("/var/log/pods/shop_{pod}_uid-{pod}/app/0.log").into(),
        source: StreamId {
            namespace: "shop".into(),
            pod: pod.into(),
            pod_uid: format!("uid-{pod}"),
            container: "app".into(),
            container_id: "c0ffee".into(),
            restart: 0,
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_metrics() {
    let srv = TestServer::start().await;
    let m = srv.handle.metrics_addr().unwrap();
    assert_eq!(http_get(m, "/healthz").await.0, 200);
    let (code, body) = http_get(m, "/readyz").await;
    assert_eq!(code, 503);
    assert!(body.contains("index not open"), "{body}");
    srv.metrics.set_index_open(true);
    srv.metrics.set_collector_running(true);
    assert_eq!(http_get(m, "/readyz").await, (200, "ready\n".into()));
    // No log content on the metrics port.
    assert_eq!(http_get(m, "/ws").await.0, 404);

    let mut c = Client::connect(srv.addr()).await;
    c.send(&ClientMsg::Subscribe {
        id: 1,
        query: "*".into(),
        backfill: 0,
        resume_after: None,
    })
    .await;
    c.reply(1).await;
    srv.publish(vec![
        entry("web-1", 1, "hello"),
        entry("web-2", 2, "a \"quoted\" line"),
    ]);
    let mut other = entry("db-0", 3, "select 1");
    other.source.namespace = "data\"base".into();
    srv.publish(vec![other]);
    srv.metrics.collect.parse_errors.inc_by(2);
    srv.streams.set_followed(&[followed("web-1")]);
    eventually("entries sent", || srv.metrics.serve.entries_sent.get() == 3).await;

    let (code, body) = http_get(m, "/metrics").await;
    assert_eq!(code, 200);
    for line in [
        "lookout_collected_lines_total{namespace=\"shop\"} 2",
        "lookout_collected_lines_total{namespace=\"data\\\"base\"} 1",
        "lookout_collected_bytes_total{namespace=\"shop\"} 20",
        "lookout_files_watched 1",
        "lookout_parse_errors_total 2",
        "lookout_clients 1",
        "lookout_subscriptions 1",
        "lookout_live_sent_total 3",
        "lookout_live_dropped_total 0",
        "lookout_alerts_firing 0",
        "lookout_rule_evaluations_total 0",
        "lookout_index_docs 0",
    ] {
        assert!(
            body.lines().any(|l| l == line),
            "missing {line:?} in\n{body}"
        );
    }
    promtool_check(&body);
}

/// Runs `promtool check metrics`; promtool comes from the Debian package
/// `prometheus` (see scripts/test-deps.sh). Missing promtool fails the test.
fn promtool_check(body: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool not found: run scripts/test-deps.sh (Debian package `prometheus`)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n--- exposition:\n{body}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let lint = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(lint.trim().is_empty(), "promtool lint: {lint}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_are_listed_and_pushed_on_change() {
    let srv = TestServer::start().await;
    srv.publish(vec![entry("web-1", 1, "hello"), entry("web-1", 2, "world")]);
    srv.streams.set_followed(&[followed("web-1")]);
    srv.streams.tick();

    let mut c = Client::connect(srv.addr()).await;
    c.send(&ClientMsg::Streams { id: 7, watch: true }).await;
    match c.reply(7).await {
        ServerMsg::Streams { streams, .. } => {
            assert_eq!(streams.len(), 1);
            let s = &streams[0];
            assert_eq!((s.source.pod.as_str(), s.lines, s.bytes), ("web-1", 2, 10));
            assert!(s.live);
            assert_eq!(s.source.container_id, "c0ffee");
        }
        other => panic!("{other:?}"),
    }
    // A new pod appears and the old file goes away: pushed under the same id.
    srv.publish(vec![entry("web-2", 3, "new")]);
    srv.streams.set_followed(&[followed("web-2")]);
    srv.streams.tick();
    match c.reply(7).await {
        ServerMsg::Streams { streams, .. } => {
            let live: Vec<(&str, bool)> = streams
                .iter()
                .map(|s| (s.source.pod.as_str(), s.live))
                .collect();
            assert_eq!(live, [("web-1", false), ("web-2", true)]);
        }
        other => panic!("{other:?}"),
    }
    // Unwatching stops the pushes.
    c.send(&ClientMsg::Unsubscribe { id: 8, sub: 7 }).await;
    assert_eq!(c.reply(8).await, ServerMsg::Ok { id: 8 });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_is_pushed_and_shutdown_closes_clients() {
    let srv = TestServer::start().await;
    let mut c = Client::connect(srv.addr()).await;
    loop {
        if let ServerMsg::Status { status } = c.next_any().await.unwrap() {
            assert_eq!(status.node, "node-1");
            assert_eq!(status.index_error.as_deref(), Some("index not open yet"));
            break;
        }
    }
    srv.handle.shutdown().await;
    assert_eq!(c.closed().await.map(|c| c.0), Some(1001));
}
