//! Connection-level defences, over real loopback sockets: the per-port caps, the
//! header and idle timeouts, and close code 1007 (issue 13, attacks 7a and 10).

use std::net::SocketAddr;
use std::time::Duration;

use crate::support::serve::*;
use futures_util::SinkExt;
use lookout_shared::protocol::{ClientMsg, ServerMsg};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::Message;

/// Reads until the server closes the socket (a reset counts as closed); fails the
/// test if it stays open past the deadline.
async fn until_closed(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let read = tokio::time::timeout(DEADLINE, async {
        let mut chunk = [0u8; 4096];
        loop {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server never closed the connection");
    String::from_utf8_lossy(&buf).into_owned()
}

/// One `GET` on its own connection: status code and the whole response.
async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let text = until_closed(&mut s).await;
    let code = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    (code, text)
}

/// Sockets connected and left silent, as the attack held them.
async fn idle(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut v = Vec::new();
    for _ in 0..n {
        v.push(TcpStream::connect(addr).await.unwrap());
    }
    v
}

fn has_line(srv: &TestServer, line: &str) -> bool {
    srv.metrics.render().lines().any(|l| l == line)
}

/// The websocket port full of sessions: a newcomer is answered 503 and closed at
/// once (not left in the backlog), and the metrics port, with slots of its own,
/// answers the probes.
#[tokio::test]
async fn a_saturated_websocket_port_leaves_the_probes_answered() {
    let mut o = opts();
    o.cfg.limits.max_connections = 4;
    let srv = TestServer::with(o).await;
    let m = srv.handle.metrics_addr().unwrap();

    let mut sessions = Vec::new();
    for _ in 0..4 {
        sessions.push(Client::connect(srv.addr()).await);
    }
    for _ in 0..3 {
        let mut extra = TcpStream::connect(srv.addr()).await.unwrap();
        let answer = until_closed(&mut extra).await;
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer:?}");
        assert!(
            answer.contains("too many connections (limit 4)"),
            "{answer}"
        );
    }
    // A real client is told, rather than left waiting.
    match tokio_tungstenite::connect_async(format!("ws://{}/ws", srv.addr())).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 503),
        other => panic!("expected HTTP 503, got {other:?}"),
    }

    assert_eq!(get(m, "/healthz").await.0, 200);
    let (code, body) = get(m, "/readyz").await;
    assert_eq!(code, 503);
    assert!(body.contains("index not open"), "{body}");
    srv.metrics.set_index_open(true);
    srv.metrics.set_collector_running(true);
    let (code, body) = get(m, "/readyz").await;
    assert_eq!(code, 200, "{body}");
    let (_, body) = get(m, "/metrics").await;
    for line in [
        "lookout_connections{port=\"ws\"} 4",
        "lookout_connections_refused_total{port=\"ws\"} 4",
        "lookout_connections_refused_total{port=\"metrics\"} 0",
    ] {
        assert!(body.lines().any(|l| l == line), "missing {line} in\n{body}");
    }
    // A session that ends gives its slot back.
    drop(sessions.pop());
    eventually("a websocket slot freed", || {
        has_line(&srv, "lookout_connections{port=\"ws\"} 3")
    })
    .await;
    Client::connect(srv.addr()).await;
}

/// Attack 7a: 1,100 idle sockets on the metrics port took every descriptor and the
/// kubelet's probes timed out. Now the port holds at most its cap, and each new
/// connection takes the place of the oldest idle one: the flood is closed, oldest
/// first, and the probe is answered.
#[tokio::test]
async fn idle_sockets_flooding_the_metrics_port_give_way_to_probes() {
    let mut o = opts();
    o.cfg.limits.max_metrics_connections = 2;
    let srv = TestServer::with(o).await;
    let m = srv.handle.metrics_addr().unwrap();

    let mut flood = idle(m, 6).await;
    eventually("the metrics port at its cap", || {
        has_line(&srv, "lookout_connections{port=\"metrics\"} 2")
            && has_line(
                &srv,
                "lookout_connections_refused_total{port=\"metrics\"} 4",
            )
    })
    .await;
    // The oldest were closed to make room.
    until_closed(&mut flood[0]).await;
    assert_eq!(get(m, "/healthz").await.0, 200);
    srv.metrics.set_index_open(true);
    srv.metrics.set_collector_running(true);
    let (code, body) = get(m, "/readyz").await;
    assert_eq!(code, 200, "{body}");
    // The websocket port is untouched by the metrics port's cap.
    let mut c = Client::connect(srv.addr()).await;
    c.send(&ClientMsg::Streams {
        id: 1,
        watch: false,
    })
    .await;
    assert!(matches!(c.reply(1).await, ServerMsg::Streams { id: 1, .. }));
}

/// A connection that sent part of a request's headers was still open after 70 s.
/// Now both ports close it once the header timeout passes, and an HTTP keep-alive
/// connection left idle after its answer is closed the same way.
#[tokio::test]
async fn a_partial_header_is_closed_after_the_header_timeout() {
    let mut o = opts();
    o.cfg.limits.header_read_timeout = Duration::from_millis(200);
    let srv = TestServer::with(o).await;
    let m = srv.handle.metrics_addr().unwrap();

    for addr in [srv.addr(), m] {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        until_closed(&mut s).await;
        // Nothing sent at all: the same timer.
        let mut s = TcpStream::connect(addr).await.unwrap();
        until_closed(&mut s).await;
    }
    let mut s = TcpStream::connect(m).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = until_closed(&mut s).await;
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.ends_with("ok\n"),
        "{answer:?}"
    );
    eventually("every connection closed", || {
        has_line(&srv, "lookout_connections{port=\"ws\"} 0")
            && has_line(&srv, "lookout_connections{port=\"metrics\"} 0")
    })
    .await;
}

/// A welcomed websocket that opens nothing and asks nothing is closed (4010),
/// although it answers every ping; one with a subscription stays and gets entries.
#[tokio::test]
async fn a_websocket_holding_nothing_is_closed_when_idle() {
    let mut o = opts();
    o.cfg.limits.idle_timeout = Duration::from_millis(300);
    let srv = TestServer::with(o).await;

    let mut tailing = Client::connect(srv.addr()).await;
    tailing
        .send(&ClientMsg::Subscribe {
            id: 1,
            query: "*".into(),
            backfill: 0,
            resume_after: None,
        })
        .await;
    assert!(matches!(
        tailing.reply(1).await,
        ServerMsg::Subscribed { id: 1 }
    ));

    let mut idle = Client::connect(srv.addr()).await;
    let (code, reason) = idle.closed().await.expect("a close frame");
    assert_eq!(code, 4010);
    assert!(reason.contains("idle"), "{reason}");

    // Well past the idle timeout, the tail is still served.
    tokio::time::sleep(Duration::from_millis(900)).await;
    srv.publish(vec![entry("web-1", 1, "still here")]);
    loop {
        match tailing.next().await.expect("connection open") {
            ServerMsg::Entries { sub: 1, entries } => {
                assert_eq!(entries[0].message, "still here");
                break;
            }
            ServerMsg::Dropped { .. } => continue,
            other => panic!("expected entries, got {other:?}"),
        }
    }
}

/// A text frame whose payload is not UTF-8, sent as a raw frame (a well-behaved
/// client library cannot send one).
fn bad_text_frame() -> Message {
    Message::Frame(Frame::message(
        vec![b'{', 0xff, 0xfe, b'}'],
        OpCode::Data(Data::Text),
        true,
    ))
}

/// Attack 10: invalid UTF-8 in a text frame dropped the connection without a
/// close frame. RFC 6455 asks for close code 1007; before and after the hello.
#[tokio::test]
async fn invalid_utf8_in_a_text_frame_is_closed_with_1007() {
    let srv = TestServer::start().await;

    let mut c = Client::connect(srv.addr()).await;
    c.ws.send(bad_text_frame()).await.unwrap();
    let (code, reason) = c.closed().await.expect("a close frame");
    assert_eq!(code, 1007);
    assert!(reason.contains("UTF-8"), "{reason}");

    let mut c = Client {
        ws: raw_connect(srv.addr()).await,
        backlog: Default::default(),
    };
    assert!(matches!(c.next().await, Ok(ServerMsg::Hello { .. })));
    c.ws.send(bad_text_frame()).await.unwrap();
    assert_eq!(c.closed().await.map(|c| c.0), Some(1007));

    // The server is fine: the next client is served.
    let mut c = Client::connect(srv.addr()).await;
    c.send(&ClientMsg::Streams {
        id: 1,
        watch: false,
    })
    .await;
    assert!(matches!(c.reply(1).await, ServerMsg::Streams { id: 1, .. }));
}

/// Log lines written on this thread while the guard lives (the server's tasks run
/// on the test's single-threaded runtime, so its lines land here).
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Captured {
    fn start() -> (Captured, tracing::subscriber::DefaultGuard) {
        let buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = std::sync::Arc::clone(&buf);
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || LogSink(std::sync::Arc::clone(&sink)))
            .finish();
        (Captured(buf), tracing::subscriber::set_default(subscriber))
    }

    fn lines(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .map(str::to_string)
            .collect()
    }
}

struct LogSink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogSink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Attack 10: 1,000 token guesses in 0.3 s, logged only at debug. Now each is
/// counted, the daemon's log says so at warn (one line for a burst, with its
/// count), each answer comes later than the last, and the right token still works.
#[tokio::test]
async fn wrong_tokens_are_counted_logged_once_per_burst_and_the_right_one_works() {
    let (log, _guard) = Captured::start();
    let mut o = opts();
    o.cfg.token = Some("s3cret".into());
    let srv = TestServer::with(o).await;

    for guess in ["guess-1", "guess-2", "guess-3"] {
        let mut c = Client {
            ws: raw_connect(srv.addr()).await,
            backlog: Default::default(),
        };
        assert!(matches!(c.next().await, Ok(ServerMsg::Hello { .. })));
        c.send_text(&format!(
            r#"{{"type":"hello","protocol":1,"token":"{guess}"}}"#
        ))
        .await;
        match c.next().await {
            Ok(ServerMsg::Error { error, .. }) => assert_eq!(
                error.code,
                lookout_shared::protocol::ErrorCode::Unauthorized
            ),
            other => panic!("expected unauthorized, got {other:?}"),
        }
        assert_eq!(c.closed().await.map(|c| c.0), Some(4001));
    }
    assert_eq!(srv.metrics.serve.auth_failures.get(), 3);
    assert!(has_line(&srv, "lookout_auth_failures_total 3"));
    let warned: Vec<String> = log
        .lines()
        .into_iter()
        .filter(|l| l.contains("WARN") && l.contains("missing or wrong token"))
        .collect();
    assert_eq!(warned.len(), 1, "{warned:#?}");
    assert!(warned[0].contains("failures=1"), "{}", warned[0]);
    assert!(
        !warned[0].contains("guess-"),
        "the log must not carry tokens"
    );

    let mut c = Client::connect_with_token(srv.addr(), Some("s3cret")).await;
    c.send(&ClientMsg::Streams {
        id: 1,
        watch: false,
    })
    .await;
    assert!(matches!(c.reply(1).await, ServerMsg::Streams { id: 1, .. }));
    assert_eq!(srv.metrics.serve.auth_failures.get(), 3);
}
