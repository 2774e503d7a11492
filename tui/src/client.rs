//! The websocket client: the handshake, one-shot requests for the CLI, and a
//! long-lived task for the dashboard that reconnects with backoff and resumes its
//! subscriptions where they stopped.
//!
//! The dashboard never talks to the socket itself: it sends [`ClientMsg`]s into a
//! channel and reads [`ClientEvent`]s from another, so the UI stays a pure state
//! machine and a slow screen can only slow this task's reads (the daemon then drops
//! and says so), never grow memory.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use lookout_shared::limits::MAX_FRAME_BYTES;
use lookout_shared::protocol::{ClientMsg, Cursor, ErrorCode, ReqId, ServerMsg, PROTOCOL_VERSION};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Why talking to the daemon failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot connect to {url}: {source}")]
    Connect {
        url: String,
        source: tokio_tungstenite::tungstenite::Error,
    },
    #[error("connection lost: {0}")]
    Io(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("the daemon closed the connection")]
    Closed,
    #[error(
        "the daemon speaks protocol {server}, this lookout speaks {client}: upgrade one of them"
    )]
    VersionMismatch { server: u32, client: u32 },
    #[error("unauthorized: {0} (pass --token or set LOOKOUT_TOKEN)")]
    Unauthorized(String),
    #[error("unexpected frame from the daemon: {0}")]
    Protocol(String),
    /// Refused here rather than sent: the daemon would refuse it anyway.
    #[error("request of {bytes} bytes is over the daemon's limit of {limit} bytes per message")]
    TooLarge { bytes: usize, limit: usize },
    #[error("timed out waiting for the daemon")]
    Timeout,
}

impl ClientError {
    /// A few words for the status bar, which already shows the URL.
    pub fn short(&self) -> String {
        match self {
            ClientError::Connect { source, .. } | ClientError::Io(source) => match source {
                tokio_tungstenite::tungstenite::Error::Io(e) => e
                    .to_string()
                    .split(" (os error")
                    .next()
                    .unwrap_or_default()
                    .to_lowercase(),
                other => other.to_string(),
            },
            other => other.to_string(),
        }
    }

    /// Errors that retrying cannot fix without the user changing something.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            ClientError::VersionMismatch { .. } | ClientError::Unauthorized(_)
        )
    }
}

/// What the server said about itself in its hello.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerInfo {
    pub server: String,
    pub node: String,
}

/// An open, welcomed connection.
pub struct Conn {
    ws: Ws,
    pub info: ServerInfo,
    next_id: ReqId,
}

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

fn client_name() -> String {
    format!("lookout {}", env!("CARGO_PKG_VERSION"))
}

impl Conn {
    /// Connects and completes the hello/welcome handshake.
    pub async fn connect(url: &str, token: Option<&str>) -> Result<Conn, ClientError> {
        let fut = async {
            let (ws, _) = tokio_tungstenite::connect_async(url)
                .await
                .map_err(|source| ClientError::Connect {
                    url: url.to_string(),
                    source,
                })?;
            let mut conn = Conn {
                ws,
                info: ServerInfo::default(),
                next_id: 1,
            };
            let server_protocol = match conn.recv().await? {
                ServerMsg::Hello {
                    protocol,
                    server,
                    node,
                    ..
                } => {
                    conn.info = ServerInfo { server, node };
                    protocol
                }
                other => return Err(ClientError::Protocol(format!("{other:?}"))),
            };
            conn.send(&ClientMsg::Hello {
                protocol: PROTOCOL_VERSION,
                token: token.map(str::to_string),
                client: client_name(),
            })
            .await?;
            match conn.recv().await? {
                ServerMsg::Welcome {} => Ok(conn),
                ServerMsg::Error { error, .. } => match error.code {
                    ErrorCode::VersionMismatch => Err(ClientError::VersionMismatch {
                        server: server_protocol,
                        client: PROTOCOL_VERSION,
                    }),
                    ErrorCode::Unauthorized => Err(ClientError::Unauthorized(error.message)),
                    _ => Err(ClientError::Protocol(error.message)),
                },
                other => Err(ClientError::Protocol(format!("{other:?}"))),
            }
        };
        tokio::time::timeout(HANDSHAKE_TIMEOUT, fut)
            .await
            .map_err(|_| ClientError::Timeout)?
    }

    /// A fresh request id.
    pub fn next_id(&mut self) -> ReqId {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    pub async fn send(&mut self, msg: &ClientMsg) -> Result<(), ClientError> {
        let text = serde_json::to_string(msg).map_err(|e| ClientError::Protocol(e.to_string()))?;
        if text.len() > MAX_FRAME_BYTES {
            return Err(ClientError::TooLarge {
                bytes: text.len(),
                limit: MAX_FRAME_BYTES,
            });
        }
        self.ws.send(Message::text(text)).await?;
        Ok(())
    }

    /// The next protocol message; pings are answered by tungstenite underneath.
    pub async fn recv(&mut self) -> Result<ServerMsg, ClientError> {
        loop {
            match self.ws.next().await {
                None => return Err(ClientError::Closed),
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(Message::Text(t))) => {
                    return serde_json::from_str(t.as_str())
                        .map_err(|e| ClientError::Protocol(format!("{e}: {}", t.as_str())))
                }
                Some(Ok(Message::Close(_))) => return Err(ClientError::Closed),
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Sends a request and returns the first reply naming its id (or an id-less
    /// error), skipping pushed status frames.
    pub async fn request(&mut self, msg: &ClientMsg) -> Result<ServerMsg, ClientError> {
        let id = request_id(msg);
        self.send(msg).await?;
        loop {
            let m = self.recv().await?;
            match reply_id(&m) {
                Some(r) if Some(r) == id => return Ok(m),
                None if matches!(m, ServerMsg::Error { .. }) => return Ok(m),
                _ => continue,
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

/// The id a client request carries.
pub fn request_id(msg: &ClientMsg) -> Option<ReqId> {
    use ClientMsg::*;
    match msg {
        Hello { .. } => None,
        Subscribe { id, .. }
        | Unsubscribe { id, .. }
        | Search { id, .. }
        | Context { id, .. }
        | Streams { id, .. }
        | ListRules { id }
        | GetRule { id, .. }
        | PutRule { id, .. }
        | ValidateRule { id, .. }
        | DeleteRule { id, .. }
        | SetRuleEnabled { id, .. }
        | TestRule { id, .. }
        | Alerts { id, .. } => Some(*id),
    }
}

/// The request or subscription id a server message answers, if any.
pub fn reply_id(msg: &ServerMsg) -> Option<ReqId> {
    use ServerMsg::*;
    match msg {
        Hello { .. } | Welcome {} | Status { .. } => None,
        Error { id, .. } => *id,
        Ok { id }
        | Subscribed { id }
        | SearchResult { id, .. }
        | ContextResult { id, .. }
        | Streams { id, .. }
        | Rules { id, .. }
        | Rule { id, .. }
        | RuleTest { id, .. }
        | Alerts { id, .. } => Some(*id),
        Entries { sub, .. } | Dropped { sub, .. } => Some(*sub),
    }
}

/// What the connection task tells the dashboard.
#[allow(clippy::large_enum_variant)] // moved once through a channel; see `app::Event`
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    Connecting,
    Connected(ServerInfo),
    /// Lost or failed; trying again after `retry_in`.
    Disconnected {
        reason: String,
        retry_in: Duration,
        fatal: bool,
    },
    Msg(ServerMsg),
}

/// Backoff between reconnects: 0.5 s doubling to 10 s; fatal errors retry every 30 s
/// (the daemon may be upgraded under us).
pub fn backoff(attempt: u32, fatal: bool) -> Duration {
    if fatal {
        return Duration::from_secs(30);
    }
    let ms = 500u64.saturating_mul(1u64 << attempt.min(5));
    Duration::from_millis(ms.min(10_000))
}

/// The subscriptions the task re-opens after a reconnect, with where each stopped.
#[derive(Default)]
struct Resumer {
    /// Open subscriptions by id: the request that opened it.
    subs: HashMap<ReqId, ClientMsg>,
    /// The newest entry seen per tail subscription.
    last: HashMap<ReqId, Cursor>,
    /// Recently seen entry seqs per tail, to drop repeats across a resume.
    seen: HashMap<ReqId, (HashSet<u64>, VecDeque<u64>)>,
}

const SEEN_WINDOW: usize = 4096;

impl Resumer {
    fn outgoing(&mut self, msg: &ClientMsg) {
        match msg {
            ClientMsg::Subscribe { id, .. } => {
                self.subs.insert(*id, msg.clone());
            }
            ClientMsg::Streams { id, watch: true } | ClientMsg::Alerts { id, watch: true } => {
                self.subs.insert(*id, msg.clone());
            }
            ClientMsg::Unsubscribe { sub, .. } => {
                self.subs.remove(sub);
                self.last.remove(sub);
                self.seen.remove(sub);
            }
            _ => {}
        }
    }

    /// Filters repeats out of an incoming message and records cursors; `None` when
    /// nothing is left to deliver.
    fn incoming(&mut self, msg: ServerMsg) -> Option<ServerMsg> {
        match msg {
            ServerMsg::Entries { sub, mut entries } => {
                if !self.subs.contains_key(&sub) {
                    return None; // a tail we already left
                }
                let (set, order) = self.seen.entry(sub).or_default();
                entries.retain(|e| {
                    if e.seq == 0 {
                        return true;
                    }
                    if !set.insert(e.seq) {
                        return false;
                    }
                    order.push_back(e.seq);
                    if order.len() > SEEN_WINDOW {
                        if let Some(old) = order.pop_front() {
                            set.remove(&old);
                        }
                    }
                    true
                });
                if let Some(max) = entries.iter().map(Cursor::of).max() {
                    let c = self.last.entry(sub).or_insert(max);
                    if max > *c {
                        *c = max;
                    }
                }
                (!entries.is_empty()).then_some(ServerMsg::Entries { sub, entries })
            }
            ServerMsg::Dropped { sub, .. } if !self.subs.contains_key(&sub) => None,
            other => Some(other),
        }
    }

    /// The requests that re-open every subscription on a new connection.
    fn resume(&self) -> Vec<ClientMsg> {
        let mut ids: Vec<_> = self.subs.keys().copied().collect();
        ids.sort_unstable();
        ids.into_iter()
            .filter_map(|id| {
                let msg = self.subs.get(&id)?.clone();
                Some(match msg {
                    ClientMsg::Subscribe {
                        id,
                        query,
                        backfill,
                        resume_after,
                    } => match self.last.get(&id) {
                        Some(c) => ClientMsg::Subscribe {
                            id,
                            query,
                            backfill: 0,
                            resume_after: Some(*c),
                        },
                        None => ClientMsg::Subscribe {
                            id,
                            query,
                            backfill,
                            resume_after,
                        },
                    },
                    other => other,
                })
            })
            .collect()
    }
}

/// Starts the long-lived connection task. Requests sent while disconnected are
/// dropped (the screens re-issue them on `Connected`), except subscriptions, which
/// are remembered and re-opened on every reconnect.
pub fn spawn(
    url: String,
    token: Option<String>,
) -> (
    mpsc::UnboundedSender<ClientMsg>,
    mpsc::Receiver<ClientEvent>,
) {
    let (req_tx, req_rx) = mpsc::unbounded_channel();
    let (ev_tx, ev_rx) = mpsc::channel(256);
    tokio::spawn(run(url, token, req_rx, ev_tx));
    (req_tx, ev_rx)
}

async fn run(
    url: String,
    token: Option<String>,
    mut req_rx: mpsc::UnboundedReceiver<ClientMsg>,
    ev_tx: mpsc::Sender<ClientEvent>,
) {
    let mut resumer = Resumer::default();
    let mut attempt: u32 = 0;
    loop {
        if ev_tx.send(ClientEvent::Connecting).await.is_err() {
            return;
        }
        let (reason, fatal) = match Conn::connect(&url, token.as_deref()).await {
            Ok(mut conn) => {
                attempt = 0;
                if ev_tx
                    .send(ClientEvent::Connected(conn.info.clone()))
                    .await
                    .is_err()
                {
                    return;
                }
                match session(&mut conn, &mut resumer, &mut req_rx, &ev_tx).await {
                    Ok(()) => return, // the UI went away
                    Err(e) => (e.short(), e.is_fatal()),
                }
            }
            Err(e) => (e.short(), e.is_fatal()),
        };
        let wait = backoff(attempt, fatal);
        attempt = attempt.saturating_add(1);
        let ev = ClientEvent::Disconnected {
            reason,
            retry_in: wait,
            fatal,
        };
        if ev_tx.send(ev).await.is_err() {
            return;
        }
        // While waiting, keep taking requests so subscriptions changed meanwhile are
        // remembered; everything else is dropped.
        let sleep = tokio::time::sleep(wait);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => break,
                m = req_rx.recv() => match m {
                    Some(m) => resumer.outgoing(&m),
                    None => return,
                },
            }
        }
    }
}

/// Pumps one connection until it fails (`Err`) or the UI hangs up (`Ok`).
async fn session(
    conn: &mut Conn,
    resumer: &mut Resumer,
    req_rx: &mut mpsc::UnboundedReceiver<ClientMsg>,
    ev_tx: &mpsc::Sender<ClientEvent>,
) -> Result<(), ClientError> {
    for m in resumer.resume() {
        conn.send(&m).await?;
    }
    loop {
        tokio::select! {
            m = req_rx.recv() => match m {
                Some(m) => {
                    resumer.outgoing(&m);
                    conn.send(&m).await?;
                }
                None => return Ok(()),
            },
            m = conn.recv() => {
                let m = m?;
                if let Some(m) = resumer.incoming(m) {
                    if ev_tx.send(ClientEvent::Msg(m)).await.is_err() {
                        return Ok(());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lookout_shared::{LogEntry, Timestamp};

    fn entry(ts: i64, seq: u64) -> LogEntry {
        LogEntry {
            ts: Timestamp(ts),
            seq,
            ..Default::default()
        }
    }

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff(0, false), Duration::from_millis(500));
        assert_eq!(backoff(1, false), Duration::from_secs(1));
        assert_eq!(backoff(30, false), Duration::from_secs(10));
        assert_eq!(backoff(0, true), Duration::from_secs(30));
    }

    #[test]
    fn resume_continues_after_last_entry_without_repeats() {
        let mut r = Resumer::default();
        let sub = ClientMsg::Subscribe {
            id: 7,
            query: "level:error".into(),
            backfill: 100,
            resume_after: None,
        };
        r.outgoing(&sub);
        assert_eq!(r.resume(), vec![sub.clone()]);
        let got = r.incoming(ServerMsg::Entries {
            sub: 7,
            entries: vec![entry(10, 1), entry(20, 2)],
        });
        assert!(matches!(got, Some(ServerMsg::Entries { ref entries, .. }) if entries.len() == 2));
        assert_eq!(
            r.resume(),
            vec![ClientMsg::Subscribe {
                id: 7,
                query: "level:error".into(),
                backfill: 0,
                resume_after: Some(Cursor {
                    ts: Timestamp(20),
                    seq: 2
                }),
            }]
        );
        // A repeat of seq 2 after the resume is dropped, seq 3 passes.
        let got = r.incoming(ServerMsg::Entries {
            sub: 7,
            entries: vec![entry(20, 2), entry(30, 3)],
        });
        match got {
            Some(ServerMsg::Entries { entries, .. }) => {
                assert_eq!(entries.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![3])
            }
            other => panic!("{other:?}"),
        }
        assert!(r
            .incoming(ServerMsg::Entries {
                sub: 7,
                entries: vec![entry(30, 3)]
            })
            .is_none());
        r.outgoing(&ClientMsg::Unsubscribe { id: 8, sub: 7 });
        assert!(r.resume().is_empty());
        assert!(r
            .incoming(ServerMsg::Entries {
                sub: 7,
                entries: vec![entry(40, 4)]
            })
            .is_none());
    }
}
