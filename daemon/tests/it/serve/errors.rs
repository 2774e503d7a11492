//! Every error path of the websocket protocol, token auth, limits and malformed
//! frames, over real loopback connections.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::support::serve::*;
use futures_util::SinkExt;
use lookout_daemon::serve::{self, Alerting, ServeConfig, ServeContext, ServeError};
use lookout_shared::protocol::{
    Alert, ClientMsg, ErrorBody, ErrorCode, RuleSpec, RuleStatus, RuleTestResult, SearchParams,
    ServerMsg, TimeRange, PROTOCOL_VERSION,
};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message;

fn code_of(m: &ServerMsg) -> ErrorCode {
    match m {
        ServerMsg::Error { error, .. } => error.code,
        other => panic!("expected an error, got {other:?}"),
    }
}

/// Connects and reads the server hello, without answering.
async fn greeted(addr: std::net::SocketAddr) -> Client {
    let mut c = Client {
        ws: raw_connect(addr).await,
        backlog: Default::default(),
    };
    match c.next().await.unwrap() {
        ServerMsg::Hello {
            protocol,
            server,
            node,
            ..
        } => {
            assert_eq!(protocol, PROTOCOL_VERSION);
            assert!(server.starts_with("lookoutd "));
            assert_eq!(node, "node-1");
        }
        other => panic!("{other:?}"),
    }
    c
}

#[tokio::test]
async fn version_mismatch_is_a_clear_error_and_close() {
    let srv = TestServer::start().await;
    let mut c = greeted(srv.addr()).await;
    c.send_text(r#"{"type":"hello","protocol":99,"client":"future","extra":{"new":1}}"#)
        .await;
    let m = c.next().await.unwrap();
    assert_eq!(code_of(&m), ErrorCode::VersionMismatch);
    let (code, reason) = c.closed().await.expect("close frame");
    assert_eq!(code, 4000);
    assert!(reason.contains("version"), "{reason}");
}

#[tokio::test]
async fn requests_before_hello_are_refused() {
    let srv = TestServer::start().await;
    let mut c = greeted(srv.addr()).await;
    c.send(&ClientMsg::Streams {
        id: 1,
        watch: false,
    })
    .await;
    assert_eq!(code_of(&c.next().await.unwrap()), ErrorCode::BadRequest);
    assert_eq!(c.closed().await.map(|c| c.0), Some(4002));
}

#[tokio::test]
async fn silent_client_is_closed_after_the_hello_timeout() {
    let mut o = opts();
    o.cfg.limits.hello_timeout = Duration::from_millis(200);
    let srv = TestServer::with(o).await;
    let mut c = greeted(srv.addr()).await;
    assert_eq!(code_of(&c.next().await.unwrap()), ErrorCode::BadRequest);
    assert_eq!(c.closed().await.map(|c| c.0), Some(4002));
}

#[tokio::test]
async fn token_is_required_checked_and_accepted() {
    let mut o = opts();
    o.cfg.token = Some("s3cret".into());
    let srv = TestServer::with(o).await;

    let mut c = greeted(srv.addr()).await;
    c.send_text(r#"{"type":"hello","protocol":1}"#).await;
    assert_eq!(code_of(&c.next().await.unwrap()), ErrorCode::Unauthorized);
    assert_eq!(c.closed().await.map(|c| c.0), Some(4001));

    let mut c = greeted(srv.addr()).await;
    c.send_text(r#"{"type":"hello","protocol":1,"token":"wrong"}"#)
        .await;
    assert_eq!(code_of(&c.next().await.unwrap()), ErrorCode::Unauthorized);
    assert_eq!(c.closed().await.map(|c| c.0), Some(4001));

    let mut c = Client::connect_with_token(srv.addr(), Some("s3cret")).await;
    c.send(&ClientMsg::Streams {
        id: 1,
        watch: false,
    })
    .await;
    assert!(matches!(c.reply(1).await, ServerMsg::Streams { id: 1, .. }));
}

#[tokio::test]
async fn non_loopback_needs_a_token_or_insecure() {
    let ctx = || ServeContext {
        index: None,
        live: Arc::new(lookout_daemon::live::Live::new(Default::default())),
        streams: Arc::new(lookout_daemon::streams::Streams::new()),
        metrics: Arc::new(lookout_daemon::metrics::Metrics::new().unwrap()),
        alerting: None,
    };
    let cfg = ServeConfig::new("0.0.0.0:0".parse().unwrap(), "n");
    let e = serve::start(cfg.clone(), ctx())
        .await
        .err()
        .expect("refused");
    assert!(matches!(e, ServeError::TokenRequired(_)));
    assert!(e.to_string().contains("--token"), "{e}");

    let mut with_token = cfg.clone();
    with_token.token = Some("t".into());
    let h = serve::start(with_token, ctx()).await.expect("token given");
    h.shutdown().await;
    let mut insecure = cfg;
    insecure.insecure = true;
    let h = serve::start(insecure, ctx()).await.expect("insecure given");
    h.shutdown().await;
}

#[tokio::test]
async fn malformed_and_unknown_messages_get_errors_and_the_connection_lives_on() {
    let srv = TestServer::start().await;
    let mut c = Client::connect(srv.addr()).await;
    let cases: &[(&str, Option<u64>)] = &[
        ("not json", None),
        ("{}", None),
        (r#"{"type":"launch_missiles","id":4}"#, Some(4)),
        (r#"{"type":"subscribe","id":5}"#, Some(5)),
        (r#"{"type":"search","id":6,"query":7}"#, Some(6)),
        (
            r#"{"type":"search","id":7,"query":"x","range":{"from":"yesterday"}}"#,
            Some(7),
        ),
        (
            r#"{"type":"context","id":8,"at":{"ts":"2026-01-01T00:00:00Z"}}"#,
            Some(8),
        ),
        (r#"[1,2,3]"#, None),
        (r#"{"type":"hello","protocol":1}"#, None),
    ];
    for (raw, id) in cases {
        c.send_text(raw).await;
        match c.next().await.unwrap() {
            ServerMsg::Error { id: got, error } => {
                assert_eq!(got, *id, "{raw}");
                assert_eq!(error.code, ErrorCode::BadRequest, "{raw}");
                assert!(!error.message.is_empty());
            }
            other => panic!("{raw}: {other:?}"),
        }
    }
    c.ws.send(Message::Binary(vec![1u8, 2, 3].into()))
        .await
        .unwrap();
    assert_eq!(code_of(&c.next().await.unwrap()), ErrorCode::BadRequest);
    // Still serving.
    c.send(&ClientMsg::Streams {
        id: 99,
        watch: false,
    })
    .await;
    assert!(matches!(
        c.reply(99).await,
        ServerMsg::Streams { id: 99, .. }
    ));
}

/// Deterministic pseudo-random bytes (xorshift).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[tokio::test]
async fn fuzzed_frames_never_crash_the_server() {
    let srv = TestServer::start().await;
    let mut c = Client::connect(srv.addr()).await;
    let seeds = [
        r#"{"type":"subscribe","id":1,"query":"level:error","backfill":5}"#,
        r#"{"type":"search","id":2,"query":"pod:web","limit":10,"order":"oldest_first","range":{"since":"15m"}}"#,
        r#"{"type":"context","id":3,"at":{"ts":"2026-11-25T19:42:07.118000000Z","seq":4},"before":3}"#,
        r#"{"type":"unsubscribe","id":4,"sub":1}"#,
        r#"{"type":"put_rule","id":5,"rule":{"name":"a","query":"x","window":"5m","condition":"> 3"}}"#,
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for i in 0..400u64 {
        let mut b = seeds[(rng.next() % seeds.len() as u64) as usize]
            .as_bytes()
            .to_vec();
        for _ in 0..(1 + rng.next() % 4) {
            if b.is_empty() {
                b.push(b'{');
            }
            let pos = (rng.next() as usize) % b.len();
            match rng.next() % 4 {
                0 => b[pos] = (rng.next() % 128) as u8,
                1 => {
                    b.remove(pos);
                }
                2 => b.insert(pos, b"{}[]\":,0-9e"[(rng.next() % 11) as usize]),
                _ => b.truncate(pos.max(1)),
            }
        }
        let text = String::from_utf8_lossy(&b).into_owned();
        c.send_text(&text).await;
        // Every few frames, prove the connection still answers.
        if i % 50 == 49 {
            let id = 1_000_000 + i;
            c.send(&ClientMsg::Streams { id, watch: false }).await;
            assert!(matches!(c.reply(id).await, ServerMsg::Streams { .. }));
        }
    }
    c.send(&ClientMsg::Streams {
        id: 7,
        watch: false,
    })
    .await;
    c.reply(7).await;
    // And a new client is served too.
    let mut d = Client::connect(srv.addr()).await;
    d.send(&ClientMsg::Streams {
        id: 1,
        watch: false,
    })
    .await;
    d.reply(1).await;
}

#[tokio::test]
async fn oversized_frame_is_refused_and_the_connection_lives_on() {
    let srv = TestServer::start().await;
    let mut c = Client::connect(srv.addr()).await;
    let big = format!(
        r#"{{"type":"search","id":1,"query":"{}"}}"#,
        "a".repeat(1 << 20)
    );
    c.send_text(&big).await;
    match c.next().await.unwrap() {
        ServerMsg::Error { id, error } => {
            assert_eq!(id, None, "the frame was not read, so its id is unknown");
            assert_eq!(error.code, ErrorCode::LimitExceeded);
            assert!(error.message.contains("1048576"), "{}", error.message);
        }
        other => panic!("{other:?}"),
    }
    // Just under the limit is fine, on the same connection.
    let ok = format!(
        r#"{{"type":"subscribe","id":1,"query":"*","pad":"{}"}}"#,
        "a".repeat((1 << 20) - 100)
    );
    c.send_text(&ok).await;
    assert_eq!(c.reply(1).await, ServerMsg::Subscribed { id: 1 });
}

#[tokio::test]
async fn subscription_limits_and_ids() {
    let mut o = opts();
    o.cfg.limits.max_subscriptions = 3;
    let srv = TestServer::with(o).await;
    let mut c = Client::connect(srv.addr()).await;
    for id in 1..=3 {
        c.send(&ClientMsg::Subscribe {
            id,
            query: "*".into(),
            backfill: 0,
            resume_after: None,
        })
        .await;
        assert_eq!(c.reply(id).await, ServerMsg::Subscribed { id });
    }
    c.send(&ClientMsg::Subscribe {
        id: 2,
        query: "*".into(),
        backfill: 0,
        resume_after: None,
    })
    .await;
    assert_eq!(code_of(&c.reply(2).await), ErrorCode::Conflict);
    c.send(&ClientMsg::Subscribe {
        id: 4,
        query: "*".into(),
        backfill: 0,
        resume_after: None,
    })
    .await;
    let m = c.reply(4).await;
    assert_eq!(code_of(&m), ErrorCode::LimitExceeded);
    c.send(&ClientMsg::Streams { id: 5, watch: true }).await;
    assert_eq!(code_of(&c.reply(5).await), ErrorCode::LimitExceeded);
    c.send(&ClientMsg::Unsubscribe { id: 6, sub: 42 }).await;
    assert_eq!(code_of(&c.reply(6).await), ErrorCode::NotFound);
    c.send(&ClientMsg::Unsubscribe { id: 7, sub: 1 }).await;
    assert_eq!(c.reply(7).await, ServerMsg::Ok { id: 7 });
    c.send(&ClientMsg::Subscribe {
        id: 4,
        query: "*".into(),
        backfill: 0,
        resume_after: None,
    })
    .await;
    assert_eq!(c.reply(4).await, ServerMsg::Subscribed { id: 4 });
}

#[tokio::test]
async fn search_without_index_and_rules_without_alerting_are_clear_errors() {
    let srv = TestServer::start().await;
    let mut c = Client::connect(srv.addr()).await;
    c.send(&ClientMsg::Search {
        id: 1,
        params: SearchParams {
            query: "x".into(),
            ..Default::default()
        },
    })
    .await;
    match c.reply(1).await {
        ServerMsg::Error { error, .. } => {
            assert_eq!(error.code, ErrorCode::Internal);
            assert!(error.message.contains("index"), "{}", error.message);
        }
        other => panic!("{other:?}"),
    }
    c.send(&ClientMsg::ListRules { id: 2 }).await;
    match c.reply(2).await {
        ServerMsg::Error { error, .. } => {
            assert_eq!(error.code, ErrorCode::NotFound);
            assert!(error.message.contains("alerting not enabled"));
        }
        other => panic!("{other:?}"),
    }
    c.send(&ClientMsg::Alerts { id: 3, watch: true }).await;
    assert_eq!(code_of(&c.reply(3).await), ErrorCode::NotFound);
}

/// An alerting engine whose rule test blocks until released: makes concurrency
/// and timeouts deterministic.
#[derive(Default)]
struct SlowAlerting {
    gate: Mutex<bool>,
    cv: Condvar,
    tx: Mutex<Option<broadcast::Sender<Alert>>>,
}

impl SlowAlerting {
    fn release(&self) {
        *self.gate.lock().unwrap() = true;
        self.cv.notify_all();
    }
}

fn status(name: &str) -> RuleStatus {
    RuleStatus {
        rule: RuleSpec {
            name: name.into(),
            ..Default::default()
        },
        state: lookout_shared::protocol::AlertState::Inactive,
        alerts: vec![],
    }
}

impl Alerting for SlowAlerting {
    fn list_rules(&self) -> Vec<RuleStatus> {
        vec![status("a")]
    }
    fn get_rule(&self, name: &str) -> Result<RuleStatus, ErrorBody> {
        Err(ErrorBody {
            code: ErrorCode::NotFound,
            message: format!("no rule {name}"),
            position: None,
            field: None,
        })
    }
    fn put_rule(&self, rule: RuleSpec) -> Result<RuleStatus, ErrorBody> {
        Err(ErrorBody {
            code: ErrorCode::BadRule,
            message: format!("bad window {:?}", rule.window),
            position: Some(lookout_shared::protocol::Position {
                column: 0,
                length: 1,
            }),
            field: Some("window".into()),
        })
    }
    fn validate_rule(&self, _: &RuleSpec) -> Result<(), ErrorBody> {
        Ok(())
    }
    fn delete_rule(&self, _: &str) -> Result<(), ErrorBody> {
        Ok(())
    }
    fn set_rule_enabled(&self, name: &str, _: bool) -> Result<RuleStatus, ErrorBody> {
        Ok(status(name))
    }
    fn test_rule(&self, _: &RuleSpec, _: &TimeRange) -> Result<RuleTestResult, ErrorBody> {
        let mut open = self.gate.lock().unwrap();
        while !*open {
            open = self.cv.wait(open).unwrap();
        }
        Ok(RuleTestResult::default())
    }
    fn alerts(&self) -> Vec<Alert> {
        vec![]
    }
    fn watch_alerts(&self) -> broadcast::Receiver<Alert> {
        let mut tx = self.tx.lock().unwrap();
        tx.get_or_insert_with(|| broadcast::channel(16).0)
            .subscribe()
    }
    fn firing(&self) -> u32 {
        0
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_limit_timeout_and_rule_errors() {
    let alerting = Arc::new(SlowAlerting::default());
    let mut o = opts();
    o.cfg.limits.max_concurrent_searches = 1;
    o.cfg.limits.query_timeout = Duration::from_millis(300);
    o.alerting = Some(alerting.clone() as Arc<dyn Alerting>);
    let srv = TestServer::with(o).await;
    let mut c = Client::connect(srv.addr()).await;

    let test = |id| ClientMsg::TestRule {
        id,
        rule: RuleSpec::default(),
        range: TimeRange::default(),
    };
    c.send(&test(1)).await;
    c.send(&test(2)).await;
    // The second finds the only slot taken.
    assert_eq!(code_of(&c.reply(2).await), ErrorCode::LimitExceeded);
    // The first runs out of time.
    let m = c.reply(1).await;
    assert_eq!(code_of(&m), ErrorCode::Timeout);
    // Its slot is held until the work really ends.
    c.send(&test(3)).await;
    assert_eq!(code_of(&c.reply(3).await), ErrorCode::LimitExceeded);
    alerting.release();
    let mut ok = false;
    for id in 4..200 {
        c.send(&test(id)).await;
        if matches!(c.reply(id).await, ServerMsg::RuleTest { .. }) {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(ok, "the slot came back");

    // Engine errors keep their field and position.
    c.send(&ClientMsg::PutRule {
        id: 300,
        rule: RuleSpec {
            window: "5 parsecs".into(),
            ..Default::default()
        },
    })
    .await;
    match c.reply(300).await {
        ServerMsg::Error { id, error } => {
            assert_eq!(id, Some(300));
            assert_eq!(error.code, ErrorCode::BadRule);
            assert_eq!(error.field.as_deref(), Some("window"));
        }
        other => panic!("{other:?}"),
    }
    c.send(&ClientMsg::ListRules { id: 301 }).await;
    assert!(matches!(c.reply(301).await, ServerMsg::Rules { rules, .. } if rules.len() == 1));
    c.send(&ClientMsg::GetRule {
        id: 302,
        name: "zz".into(),
    })
    .await;
    assert_eq!(code_of(&c.reply(302).await), ErrorCode::NotFound);
    c.send(&ClientMsg::DeleteRule {
        id: 303,
        name: "a".into(),
    })
    .await;
    assert_eq!(c.reply(303).await, ServerMsg::Ok { id: 303 });
}

#[tokio::test]
async fn keepalive_closes_a_silent_client() {
    let mut o = opts();
    o.cfg.limits.ping_interval = Duration::from_millis(100);
    o.cfg.limits.ping_timeout = Duration::from_millis(300);
    let srv = TestServer::with(o).await;
    // A client that answers pings (tungstenite does when it reads) stays.
    let mut live = Client::connect(srv.addr()).await;
    // A raw TCP client that completes the handshake and then never reads again.
    let mut silent = Client::connect(srv.addr()).await;
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_millis(800) {
        // Reading lets tungstenite answer pings.
        let _ = tokio::time::timeout(Duration::from_millis(50), live.next_any()).await;
    }
    live.send(&ClientMsg::Streams {
        id: 1,
        watch: false,
    })
    .await;
    assert!(matches!(live.reply(1).await, ServerMsg::Streams { .. }));
    // The silent one sent nothing for longer than the timeout: closed with 4009.
    assert_eq!(silent.closed().await.map(|c| c.0), Some(4009));
}
