//! Shared by the `serve_*` tests: a real server on loopback port 0, fed through the
//! real [`Live`] fan-out (standing in for the ingest thread), and a real websocket
//! client.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use lookout_daemon::ingest::EntrySink;
use lookout_daemon::live::{Live, LiveConfig};
use lookout_daemon::metrics::Metrics;
use lookout_daemon::serve::{self, Alerting, ServeConfig, ServeContext, ServerHandle};
use lookout_daemon::streams::Streams;
use lookout_shared::protocol::{ClientMsg, ReqId, ServerMsg, PROTOCOL_VERSION};
use lookout_shared::{LogEntry, Stream, StreamId, Timestamp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const DEADLINE: Duration = Duration::from_secs(20);

pub struct TestServer {
    pub handle: ServerHandle,
    pub live: Arc<Live>,
    pub streams: Arc<Streams>,
    pub metrics: Arc<Metrics>,
    next_seq: AtomicU64,
}

pub struct Opts {
    pub cfg: ServeConfig,
    pub ring: usize,
    pub ring_bytes: usize,
    pub alerting: Option<Arc<dyn Alerting>>,
}

pub fn opts() -> Opts {
    let mut cfg = ServeConfig::new("127.0.0.1:0".parse().unwrap(), "node-1");
    cfg.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    Opts {
        cfg,
        ring: 100_000,
        ring_bytes: lookout_daemon::live::RING_BYTES,
        alerting: None,
    }
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::with(opts()).await
    }

    pub async fn with(o: Opts) -> TestServer {
        // Wired to the metrics as the daemon wires them.
        let metrics = Arc::new(Metrics::new().unwrap());
        let live = Arc::new(Live::with_metrics(
            LiveConfig {
                ring_capacity: o.ring,
                ring_min: o.ring,
                ring_bytes: o.ring_bytes,
                ..LiveConfig::default()
            },
            metrics.live.clone(),
        ));
        let streams = Arc::new(Streams::with_metrics(metrics.streams.clone()));
        let handle = serve::start(
            o.cfg,
            ServeContext {
                index: None,
                live: Arc::clone(&live),
                streams: Arc::clone(&streams),
                metrics: Arc::clone(&metrics),
                alerting: o.alerting,
            },
        )
        .await
        .expect("server starts");
        TestServer {
            handle,
            live,
            streams,
            metrics,
            next_seq: AtomicU64::new(1),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.handle.local_addr()
    }

    /// Assigns seqs like the ingest stage does, then publishes to live and streams.
    pub fn publish(&self, mut entries: Vec<LogEntry>) -> Vec<Arc<LogEntry>> {
        for e in &mut entries {
            e.seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        }
        let arcs: Vec<Arc<LogEntry>> = entries.into_iter().map(Arc::new).collect();
        self.live.publish(&arcs);
        self.streams.publish(&arcs);
        arcs
    }
}

/// Real log lines from the repo's samples.
pub fn loghub_lines() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/loghub");
    let mut out = Vec::new();
    for name in ["Apache_2k.log", "OpenSSH_2k.log", "HDFS_2k.log"] {
        let text = std::fs::read_to_string(format!("{dir}/{name}")).expect("loghub sample");
        out.extend(text.lines().map(str::to_string));
    }
    out
}

/// An entry of pod `pod` at time index `i`.
pub fn entry(pod: &str, i: i64, message: &str) -> LogEntry {
    LogEntry {
        ts: Timestamp(1_764_000_000_000_000_000 + i * 1_000),
        node: "node-1".into(),
        source: StreamId {
            namespace: "shop".into(),
            pod: pod.into(),
            pod_uid: format!("uid-{pod}"),
            container: "app".into(),
            container_id: String::new(),
            restart: 0,
        },
        stream: Stream::Stdout,
        message: message.into(),
        level: None,
        seq: 0,
        lines: 1,
        fields: Default::default(),
        pattern: None,
    }
}

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub struct Client {
    pub ws: Ws,
    /// Messages read while looking for something else.
    pub backlog: VecDeque<ServerMsg>,
}

/// What a read produced, other than a message.
#[derive(Debug)]
pub enum End {
    Closed(Option<(u16, String)>),
    /// Shown by `{:?}` when a test fails on it.
    Error(#[allow(dead_code)] String),
}

pub async fn raw_connect(addr: SocketAddr) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .expect("connects");
    ws
}

impl Client {
    /// Connects and completes the handshake (no token).
    pub async fn connect(addr: SocketAddr) -> Client {
        Self::connect_with_token(addr, None).await
    }

    pub async fn connect_with_token(addr: SocketAddr, token: Option<&str>) -> Client {
        let ws = raw_connect(addr).await;
        let mut c = Client {
            ws,
            backlog: VecDeque::new(),
        };
        match c.next().await {
            Ok(ServerMsg::Hello { protocol, .. }) => assert_eq!(protocol, PROTOCOL_VERSION),
            other => panic!("expected hello, got {other:?}"),
        }
        c.send(&ClientMsg::Hello {
            protocol: PROTOCOL_VERSION,
            token: token.map(str::to_string),
            client: "serve-test".into(),
        })
        .await;
        match c.next().await {
            Ok(ServerMsg::Welcome {}) => {}
            other => panic!("expected welcome, got {other:?}"),
        }
        c
    }

    pub async fn send(&mut self, m: &ClientMsg) {
        self.send_text(&serde_json::to_string(m).unwrap()).await;
    }

    pub async fn send_text(&mut self, s: &str) {
        self.ws
            .send(Message::text(s.to_string()))
            .await
            .expect("send");
    }

    /// The next protocol message from the socket (status pushes included).
    pub async fn next_any(&mut self) -> Result<ServerMsg, End> {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let m = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .expect("no message within the deadline");
            match m {
                None => return Err(End::Closed(None)),
                Some(Err(e)) => return Err(End::Error(e.to_string())),
                Some(Ok(Message::Text(t))) => {
                    return Ok(serde_json::from_str(t.as_str())
                        .unwrap_or_else(|e| panic!("unparseable server frame {t}: {e}")))
                }
                Some(Ok(Message::Close(f))) => {
                    return Err(End::Closed(
                        f.map(|f| (u16::from(f.code), f.reason.as_str().to_string())),
                    ))
                }
                Some(Ok(_)) => continue,
            }
        }
    }

    /// The next message that is not a status push, from the backlog first.
    pub async fn next(&mut self) -> Result<ServerMsg, End> {
        if let Some(m) = self.backlog.pop_front() {
            return Ok(m);
        }
        loop {
            match self.next_any().await? {
                ServerMsg::Status { .. } => continue,
                m => return Ok(m),
            }
        }
    }

    /// The reply to request `id` (anything carrying that id), keeping the rest.
    pub async fn reply(&mut self, id: ReqId) -> ServerMsg {
        if let Some(pos) = self.backlog.iter().position(|m| msg_id(m) == Some(id)) {
            return self.backlog.remove(pos).unwrap();
        }
        loop {
            let m = self.next_any().await.expect("connection open");
            if msg_id(&m) == Some(id) {
                return m;
            }
            if !matches!(m, ServerMsg::Status { .. }) {
                self.backlog.push_back(m);
            }
        }
    }

    /// Reads until the server closes; returns the close code and reason.
    pub async fn closed(&mut self) -> Option<(u16, String)> {
        loop {
            match self.next_any().await {
                Ok(_) => continue,
                Err(End::Closed(f)) => return f,
                Err(End::Error(_)) => return None,
            }
        }
    }
}

/// The request id a reply refers to.
pub fn msg_id(m: &ServerMsg) -> Option<ReqId> {
    match m {
        ServerMsg::Ok { id }
        | ServerMsg::Subscribed { id }
        | ServerMsg::SearchResult { id, .. }
        | ServerMsg::ContextResult { id, .. }
        | ServerMsg::Streams { id, .. }
        | ServerMsg::Rules { id, .. }
        | ServerMsg::Rule { id, .. }
        | ServerMsg::RuleTest { id, .. }
        | ServerMsg::Alerts { id, .. } => Some(*id),
        ServerMsg::Error { id, .. } => *id,
        _ => None,
    }
}

/// Polls `f` until it holds, failing after the deadline.
pub async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !f() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A client with a tiny receive buffer that can stop reading.
pub async fn small_buffer_client(addr: std::net::SocketAddr) -> Client {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let stream = sock.connect(addr).await.unwrap();
    let (ws, _) = tokio_tungstenite::client_async(
        format!("ws://{addr}/ws"),
        tokio_tungstenite::MaybeTlsStream::Plain(stream),
    )
    .await
    .unwrap();
    let mut c = Client {
        ws,
        backlog: Default::default(),
    };
    assert!(matches!(c.next().await, Ok(ServerMsg::Hello { .. })));
    c.send(&ClientMsg::Hello {
        protocol: lookout_shared::protocol::PROTOCOL_VERSION,
        token: None,
        client: "stalled".into(),
    })
    .await;
    assert!(matches!(c.next().await, Ok(ServerMsg::Welcome {})));
    c
}

/// A minimal HTTP/1.1 GET: status code and body.
pub async fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8(buf).unwrap();
    let code = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    // Bodies are small; un-chunk if needed.
    let body = if text
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = String::new();
        let mut rest = body;
        while let Some((len, tail)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(len.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            out.push_str(&tail[..n]);
            rest = &tail[n + 2..];
        }
        out
    } else {
        body.to_string()
    };
    (code, body)
}

/// The value of an unlabelled metric in a Prometheus exposition.
pub fn metric_value(body: &str, name: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}
