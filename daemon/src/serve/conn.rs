//! One websocket connection: handshake, then a reader (requests) and a writer task
//! (replies, tail entries, pings, status), joined by a bounded channel.
//!
//! Ordering: everything a connection sends goes through the writer, in the order
//! it was queued. A new tail is `Subscribed`, then its initial entries, then it is
//! "activated" (the writer starts draining its live queue), all through the same
//! channel, so backfill always precedes live entries.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use lookout_shared::protocol::{
    ClientMsg, ErrorBody, ErrorCode, ReqId, SearchParams, ServerMsg, PROTOCOL_VERSION,
};
use lookout_shared::LogEntry;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot, Notify, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::alerting::{not_enabled, Alerting};
use super::tail::{self, Start};
use super::Shared;
use crate::index::SearchError;
use crate::live::{Item, Live, Subscription};
use crate::query::Query;

/// Close codes (also in `docs/protocol.md`).
pub(crate) mod close {
    pub const GOING_AWAY: u16 = 1001;
    pub const TOO_BIG: u16 = 1009;
    pub const VERSION_MISMATCH: u16 = 4000;
    pub const UNAUTHORIZED: u16 = 4001;
    pub const HANDSHAKE: u16 = 4002;
    pub const TOO_SLOW: u16 = 4008;
    pub const KEEPALIVE: u16 = 4009;
}

/// Most entries per `entries` frame.
const FRAME_ENTRIES: usize = 500;

/// What the reader (and request tasks) hand the writer.
enum Out {
    Msg(Box<ServerMsg>),
    /// A subscription's initial entries (and notices); skipped if it was closed.
    Initial {
        id: ReqId,
        sub: Arc<Subscription>,
        items: Vec<Item>,
    },
    /// Start draining a subscription's live queue.
    Activate {
        id: ReqId,
        sub: Arc<Subscription>,
    },
    Close(u16, String),
}

impl Out {
    fn msg(m: ServerMsg) -> Out {
        Out::Msg(Box::new(m))
    }
}

/// `ServerMsg::Entries` borrowed, to serialise without cloning entries.
#[derive(Serialize)]
#[serde(tag = "type", rename = "entries")]
struct EntriesFrame<'a> {
    sub: ReqId,
    entries: Vec<&'a LogEntry>,
}

fn text(msg: &impl Serialize) -> Message {
    match serde_json::to_string(msg) {
        Ok(s) => Message::Text(Utf8Bytes::from(s)),
        // Our own types always serialise; say so rather than panic.
        Err(e) => Message::Text(Utf8Bytes::from(format!(
            "{{\"type\":\"error\",\"error\":{{\"code\":\"internal\",\"message\":\"serialisation failed: {}\"}}}}",
            e.to_string().replace('"', "'")
        ))),
    }
}

fn close_msg(code: u16, reason: &str) -> Message {
    // A close reason is at most 123 bytes.
    let mut r = reason.to_string();
    while r.len() > 123 {
        r.pop();
    }
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from(r),
    }))
}

fn err(id: Option<ReqId>, code: ErrorCode, message: impl Into<String>) -> ServerMsg {
    ServerMsg::error(id, code, message)
}

fn err_body(id: Option<ReqId>, error: ErrorBody) -> ServerMsg {
    ServerMsg::Error { id, error }
}

fn search_error(id: ReqId, e: SearchError) -> ServerMsg {
    let (code, position) = match &e {
        SearchError::BadQuery { position, .. } => (ErrorCode::BadQuery, Some(*position)),
        SearchError::BadRange(_) => (ErrorCode::BadRange, None),
        SearchError::NotFound(_) => (ErrorCode::NotFound, None),
        SearchError::Internal(_) => (ErrorCode::Internal, None),
    };
    let message = match e {
        SearchError::BadQuery { message, .. } => message,
        other => other.to_string(),
    };
    err_body(
        Some(id),
        ErrorBody {
            code,
            message,
            position,
            field: None,
        },
    )
}

/// Compares without leaking where the strings differ through timing.
fn token_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    diff == 0
}

/// Decrements the client gauge when the connection ends, however it ends.
struct ClientGauge(Arc<Shared>);
impl Drop for ClientGauge {
    fn drop(&mut self) {
        self.0.metrics.clients.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Runs one connection to its end.
pub(crate) async fn run(mut socket: WebSocket, shared: Arc<Shared>, peer: SocketAddr) {
    shared.metrics.clients.fetch_add(1, Ordering::Relaxed);
    shared.metrics.connections.fetch_add(1, Ordering::Relaxed);
    let _gauge = ClientGauge(Arc::clone(&shared));
    let limits = shared.cfg.limits.clone();

    let hello = ServerMsg::Hello {
        protocol: PROTOCOL_VERSION,
        server: format!("lookoutd {}", env!("CARGO_PKG_VERSION")),
        node: shared.cfg.node.clone(),
        auth_required: shared.cfg.token.is_some(),
    };
    if !send_now(&mut socket, text(&hello), limits.write_timeout).await {
        return;
    }
    if let Err((code, reason, reply)) = handshake(&mut socket, &shared).await {
        tracing::debug!(%peer, code, reason, "handshake refused");
        if let Some(reply) = reply {
            shared.metrics.client_errors.fetch_add(1, Ordering::Relaxed);
            let _ = send_now(&mut socket, text(&reply), Duration::from_secs(2)).await;
        }
        let _ = send_now(
            &mut socket,
            close_msg(code, &reason),
            Duration::from_secs(2),
        )
        .await;
        return;
    }
    if !send_now(
        &mut socket,
        text(&ServerMsg::Welcome {}),
        limits.write_timeout,
    )
    .await
    {
        return;
    }
    tracing::debug!(%peer, "client connected");

    let (sink, stream) = socket.split();
    let (out_tx, out_rx) = mpsc::channel::<Out>(256);
    let wake = Arc::new(Notify::new());
    let epoch = Instant::now();
    let last_heard = Arc::new(AtomicU64::new(0));
    let (gone_tx, gone_rx) = oneshot::channel::<()>();
    let mut writer = tokio::spawn(
        Writer {
            shared: Arc::clone(&shared),
            sink,
            rx: out_rx,
            wake: Arc::clone(&wake),
            active: Vec::new(),
            frames: Vec::new(),
            epoch,
            last_heard: Arc::clone(&last_heard),
            _gone: gone_tx,
        }
        .run(),
    );
    let reader = Reader {
        searches: Arc::new(Semaphore::new(limits.max_concurrent_searches)),
        shared: Arc::clone(&shared),
        out: out_tx,
        wake,
        subs: HashMap::new(),
        epoch,
        last_heard,
    };
    let mut stream = stream;
    let mut gone_rx = gone_rx;
    match reader.run(&mut stream, &mut gone_rx).await {
        ReaderEnd::PeerGone => writer.abort(),
        ReaderEnd::WriterGone => close_handshake(&mut stream).await,
        ReaderEnd::Close(code, reason) => {
            // Let the writer send the close (after what it already has queued).
            if tokio::time::timeout(Duration::from_secs(2), &mut writer)
                .await
                .is_err()
            {
                writer.abort();
            }
            tracing::debug!(%peer, code, reason, "connection closed by server");
            close_handshake(&mut stream).await;
        }
    }
    tracing::debug!(%peer, "client disconnected");
}

/// After sending a close frame, reads (and discards) until the client answers with
/// its own close or 2 s pass. Dropping the socket with unread input would make the
/// kernel reset the connection, and the client would lose the close frame and its
/// reason.
async fn close_handshake(stream: &mut SplitStream<WebSocket>) {
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while let Some(Ok(m)) = stream.next().await {
            if matches!(m, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

/// Why the reader stopped.
enum ReaderEnd {
    /// The client closed or the connection failed.
    PeerGone,
    /// The writer ended (it sent a close, or could not write).
    WriterGone,
    /// The reader wants the connection closed with this code and reason.
    Close(u16, String),
}

async fn send_now(socket: &mut WebSocket, msg: Message, limit: Duration) -> bool {
    matches!(
        tokio::time::timeout(limit, socket.send(msg)).await,
        Ok(Ok(()))
    )
}

/// Waits for the client's hello; on refusal returns the close code, reason and
/// the error reply to send first.
async fn handshake(
    socket: &mut WebSocket,
    shared: &Shared,
) -> Result<(), (u16, String, Option<ServerMsg>)> {
    let limit = shared.cfg.limits.hello_timeout;
    let deadline = Instant::now() + limit;
    loop {
        let msg = match tokio::time::timeout_at(deadline, socket.recv()).await {
            Err(_) => {
                return Err((
                    close::HANDSHAKE,
                    format!("no hello within {}s", limit.as_secs()),
                    Some(err(
                        None,
                        ErrorCode::BadRequest,
                        "expected a hello message first",
                    )),
                ))
            }
            Ok(None) | Ok(Some(Err(_))) => {
                return Err((close::HANDSHAKE, "connection failed".into(), None))
            }
            Ok(Some(Ok(m))) => m,
        };
        let raw = match msg {
            Message::Text(t) => t,
            Message::Ping(_) | Message::Pong(_) => continue,
            Message::Close(_) => return Err((close::HANDSHAKE, "closed".into(), None)),
            Message::Binary(_) => {
                return Err((
                    close::HANDSHAKE,
                    "expected a JSON hello".into(),
                    Some(err(
                        None,
                        ErrorCode::BadRequest,
                        "binary frames are not supported; send JSON text frames",
                    )),
                ))
            }
        };
        // Check the version before anything else, so a client of another protocol
        // version gets `version_mismatch` even if the rest of its hello differs.
        let value: serde_json::Value = serde_json::from_str(raw.as_str()).map_err(|e| {
            (
                close::HANDSHAKE,
                "malformed hello".into(),
                Some(err(
                    None,
                    ErrorCode::BadRequest,
                    format!("malformed JSON: {e}"),
                )),
            )
        })?;
        if value.get("type").and_then(|t| t.as_str()) == Some("hello") {
            if let Some(v) = value.get("protocol").and_then(|p| p.as_u64()) {
                if v != u64::from(PROTOCOL_VERSION) {
                    let m = format!(
                        "client speaks protocol {v}, this server speaks {PROTOCOL_VERSION}; \
                         use a matching lookout version"
                    );
                    return Err((
                        close::VERSION_MISMATCH,
                        "protocol version mismatch".into(),
                        Some(err(None, ErrorCode::VersionMismatch, m)),
                    ));
                }
            }
        }
        return match serde_json::from_value::<ClientMsg>(value) {
            Ok(ClientMsg::Hello { token, .. }) => match &shared.cfg.token {
                None => Ok(()),
                Some(want) => match token {
                    Some(got) if token_eq(&got, want) => Ok(()),
                    Some(_) => Err((
                        close::UNAUTHORIZED,
                        "wrong token".into(),
                        Some(err(None, ErrorCode::Unauthorized, "wrong token")),
                    )),
                    None => Err((
                        close::UNAUTHORIZED,
                        "token required".into(),
                        Some(err(
                            None,
                            ErrorCode::Unauthorized,
                            "this server requires a token in hello",
                        )),
                    )),
                },
            },
            Ok(_) => Err((
                close::HANDSHAKE,
                "expected hello".into(),
                Some(err(
                    None,
                    ErrorCode::BadRequest,
                    "expected a hello message first",
                )),
            )),
            Err(e) => Err((
                close::HANDSHAKE,
                "malformed hello".into(),
                Some(err(
                    None,
                    ErrorCode::BadRequest,
                    format!("malformed hello: {e}"),
                )),
            )),
        };
    }
}

/// Unsubscribes a tail when dropped (on unsubscribe or when the connection ends).
struct TailGuard {
    live: Arc<Live>,
    sub: Arc<Subscription>,
}
impl Drop for TailGuard {
    fn drop(&mut self) {
        self.live.unsubscribe(&self.sub);
    }
}

/// Stops a watch forwarder when dropped.
struct TaskGuard(JoinHandle<()>);
impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

enum SubEntry {
    Tail(#[allow(dead_code)] TailGuard),
    Watch(#[allow(dead_code)] TaskGuard),
}

struct Reader {
    shared: Arc<Shared>,
    out: mpsc::Sender<Out>,
    wake: Arc<Notify>,
    subs: HashMap<ReqId, SubEntry>,
    searches: Arc<Semaphore>,
    epoch: Instant,
    last_heard: Arc<AtomicU64>,
}

impl Reader {
    /// Reads requests until the client goes away (`None`) or must be closed.
    async fn run(
        mut self,
        stream: &mut SplitStream<WebSocket>,
        writer_gone: &mut oneshot::Receiver<()>,
    ) -> ReaderEnd {
        loop {
            let msg = tokio::select! {
                m = stream.next() => m,
                _ = &mut *writer_gone => return ReaderEnd::WriterGone,
            };
            self.last_heard
                .store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
            match msg {
                None | Some(Ok(Message::Close(_))) => return ReaderEnd::PeerGone,
                Some(Err(e)) => {
                    let s = e.to_string();
                    if s.contains("too long") || s.contains("Space limit") {
                        let reason = format!(
                            "frame far larger than the {} byte limit",
                            self.shared.cfg.limits.max_frame_bytes
                        );
                        self.send(err(None, ErrorCode::LimitExceeded, reason.clone()))
                            .await;
                        let _ = self
                            .out
                            .send(Out::Close(close::TOO_BIG, reason.clone()))
                            .await;
                        return ReaderEnd::Close(close::TOO_BIG, reason);
                    }
                    tracing::debug!(error = %s, "websocket read failed");
                    return ReaderEnd::PeerGone;
                }
                Some(Ok(Message::Text(t))) => {
                    let max = self.shared.cfg.limits.max_frame_bytes;
                    if t.len() > max {
                        self.send(err(
                            None,
                            ErrorCode::LimitExceeded,
                            format!(
                                "message of {} bytes refused: the limit is {max} bytes",
                                t.len()
                            ),
                        ))
                        .await;
                    } else {
                        self.on_text(t.as_str()).await
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    self.send(err(
                        None,
                        ErrorCode::BadRequest,
                        "binary frames are not supported; send JSON text frames",
                    ))
                    .await
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            }
        }
    }

    async fn send(&self, msg: ServerMsg) {
        let _ = self.out.send(Out::msg(msg)).await;
    }

    async fn on_text(&mut self, raw: &str) {
        let msg: ClientMsg = match serde_json::from_str(raw) {
            Ok(m) => m,
            Err(e) => {
                let id = serde_json::from_str::<serde_json::Value>(raw)
                    .ok()
                    .and_then(|v| v.get("id").and_then(|i| i.as_u64()));
                return self
                    .send(err(
                        id,
                        ErrorCode::BadRequest,
                        format!("malformed message: {e}"),
                    ))
                    .await;
            }
        };
        match msg {
            ClientMsg::Hello { .. } => {
                self.send(err(
                    None,
                    ErrorCode::BadRequest,
                    "hello was already accepted",
                ))
                .await
            }
            ClientMsg::Subscribe {
                id,
                query,
                backfill,
                resume_after,
            } => {
                let start = match resume_after {
                    Some(c) => Some(Start::Resume(c)),
                    None if backfill > 0 => Some(Start::Backfill(
                        backfill.min(self.shared.cfg.limits.max_backfill),
                    )),
                    None => None,
                };
                self.subscribe(id, &query, start).await
            }
            ClientMsg::Unsubscribe { id, sub } => match self.subs.remove(&sub) {
                Some(_) => self.send(ServerMsg::Ok { id }).await,
                None => {
                    self.send(err(
                        Some(id),
                        ErrorCode::NotFound,
                        format!("no subscription {sub} on this connection"),
                    ))
                    .await
                }
            },
            ClientMsg::Search { id, params } => self.search(id, params).await,
            ClientMsg::Context {
                id,
                at,
                before,
                after,
            } => {
                let (before, after) = (before.min(1000), after.min(1000));
                self.blocking(id, "context", move |shared| {
                    let Some(ix) = shared.index() else {
                        return index_not_open(id);
                    };
                    match ix.context(at, before, after) {
                        Ok(page) => ServerMsg::ContextResult { id, page },
                        Err(e) => search_error(id, e),
                    }
                })
                .await
            }
            ClientMsg::Streams { id, watch } => self.streams(id, watch).await,
            ClientMsg::ListRules { id } => {
                self.alerting(id, move |a| {
                    Ok(ServerMsg::Rules {
                        id,
                        rules: a.list_rules(),
                    })
                })
                .await
            }
            ClientMsg::GetRule { id, name } => {
                self.alerting(id, move |a| {
                    a.get_rule(&name).map(|rule| ServerMsg::Rule { id, rule })
                })
                .await
            }
            ClientMsg::PutRule { id, rule } => {
                self.alerting(id, move |a| {
                    a.put_rule(rule).map(|rule| ServerMsg::Rule { id, rule })
                })
                .await
            }
            ClientMsg::ValidateRule { id, rule } => {
                self.alerting(id, move |a| {
                    a.validate_rule(&rule).map(|()| ServerMsg::Ok { id })
                })
                .await
            }
            ClientMsg::DeleteRule { id, name } => {
                self.alerting(id, move |a| {
                    a.delete_rule(&name).map(|()| ServerMsg::Ok { id })
                })
                .await
            }
            ClientMsg::SetRuleEnabled { id, name, enabled } => {
                self.alerting(id, move |a| {
                    a.set_rule_enabled(&name, enabled)
                        .map(|rule| ServerMsg::Rule { id, rule })
                })
                .await
            }
            ClientMsg::TestRule { id, rule, range } => {
                self.alerting(id, move |a| {
                    a.test_rule(&rule, &range)
                        .map(|result| ServerMsg::RuleTest { id, result })
                })
                .await
            }
            ClientMsg::Alerts { id, watch } => self.alerts(id, watch).await,
        }
    }

    fn check_new_sub(&self, id: ReqId) -> Result<(), Box<ServerMsg>> {
        if self.subs.contains_key(&id) {
            return Err(Box::new(err(
                Some(id),
                ErrorCode::Conflict,
                format!("subscription id {id} is already in use on this connection"),
            )));
        }
        let max = self.shared.cfg.limits.max_subscriptions;
        if self.subs.len() >= max {
            return Err(Box::new(err(
                Some(id),
                ErrorCode::LimitExceeded,
                format!("at most {max} subscriptions per connection; unsubscribe one first"),
            )));
        }
        Ok(())
    }

    async fn subscribe(&mut self, id: ReqId, query: &str, start: Option<Start>) {
        if let Err(e) = self.check_new_sub(id) {
            return self.send(*e).await;
        }
        let query = match Query::parse(query) {
            Ok(q) => q,
            Err(e) => return self.send(err_body(Some(id), bad_query(e))).await,
        };
        let live = Arc::clone(&self.shared.live);
        let (sub, snap) = live.subscribe(
            query.clone(),
            self.shared.cfg.limits.sub_queue,
            Arc::clone(&self.wake),
        );
        self.subs.insert(
            id,
            SubEntry::Tail(TailGuard {
                live,
                sub: Arc::clone(&sub),
            }),
        );
        self.send(ServerMsg::Subscribed { id }).await;
        let Some(start) = start else {
            let _ = self.out.send(Out::Activate { id, sub }).await;
            return;
        };
        let shared = Arc::clone(&self.shared);
        let out = self.out.clone();
        tokio::spawn(async move {
            let timeout = shared.cfg.limits.query_timeout;
            let max_resume = shared.cfg.limits.max_resume;
            let snap = Arc::new(snap);
            let (s2, snap2, q2) = (Arc::clone(&shared), Arc::clone(&snap), query.clone());
            let job = tokio::task::spawn_blocking(move || {
                tail::initial(s2.index(), &snap2, &q2, start, max_resume)
            });
            let initial = match tokio::time::timeout(timeout, job).await {
                Ok(Ok(i)) => i,
                failed => {
                    let why = if failed.is_err() {
                        format!("took longer than {}s", timeout.as_secs())
                    } else {
                        "failed".to_string()
                    };
                    // Fall back to the live buffer alone.
                    let mut i = tokio::task::spawn_blocking(move || {
                        tail::initial(None, &snap, &query, start, max_resume)
                    })
                    .await
                    .unwrap_or_default();
                    i.warning = Some(format!(
                        "reading history from the index {why}; sent the live buffer only"
                    ));
                    i
                }
            };
            if let Some(w) = initial.warning {
                let _ = out
                    .send(Out::msg(err(Some(id), ErrorCode::Internal, w)))
                    .await;
            }
            let _ = out
                .send(Out::Initial {
                    id,
                    sub: Arc::clone(&sub),
                    items: initial.items,
                })
                .await;
            let _ = out.send(Out::Activate { id, sub }).await;
        });
    }

    async fn search(&mut self, id: ReqId, mut params: SearchParams) {
        if let Err(e) = Query::parse(&params.query) {
            return self.send(err_body(Some(id), bad_query(e))).await;
        }
        params.limit = params.limit.min(1000);
        self.blocking(id, "search", move |shared| {
            let Some(ix) = shared.index() else {
                return index_not_open(id);
            };
            match ix.search(&params) {
                Ok(page) => ServerMsg::SearchResult { id, page },
                Err(e) => search_error(id, e),
            }
        })
        .await
    }

    /// Runs `job` on a blocking thread under the connection's concurrency limit and
    /// the query timeout; its reply (or the limit/timeout error) goes to the client.
    async fn blocking<F>(&self, id: ReqId, what: &'static str, job: F)
    where
        F: FnOnce(&Shared) -> ServerMsg + Send + 'static,
    {
        let Ok(permit) = Arc::clone(&self.searches).try_acquire_owned() else {
            let max = self.shared.cfg.limits.max_concurrent_searches;
            return self
                .send(err(
                    Some(id),
                    ErrorCode::LimitExceeded,
                    format!(
                        "at most {max} searches at once per connection; wait for a reply first"
                    ),
                ))
                .await;
        };
        let shared = Arc::clone(&self.shared);
        let out = self.out.clone();
        let timeout = shared.cfg.limits.query_timeout;
        tokio::spawn(async move {
            let h = tokio::task::spawn_blocking(move || {
                // Held until the work really ends, even past a timeout reply.
                let _permit = permit;
                job(&shared)
            });
            let reply = match tokio::time::timeout(timeout, h).await {
                Ok(Ok(m)) => m,
                Ok(Err(_)) => err(Some(id), ErrorCode::Internal, format!("{what} failed")),
                Err(_) => err(
                    Some(id),
                    ErrorCode::Timeout,
                    format!(
                        "{what} took longer than {} s; narrow the time range or the query",
                        timeout.as_secs_f64()
                    ),
                ),
            };
            let _ = out.send(Out::msg(reply)).await;
        });
    }

    async fn alerting<F>(&self, id: ReqId, job: F)
    where
        F: FnOnce(&dyn Alerting) -> Result<ServerMsg, ErrorBody> + Send + 'static,
    {
        if self.shared.alerting.is_none() {
            return self.send(err_body(Some(id), not_enabled())).await;
        }
        self.blocking(id, "rule request", move |shared| {
            let Some(a) = shared.alerting.as_deref() else {
                return err_body(Some(id), not_enabled());
            };
            job(a).unwrap_or_else(|e| err_body(Some(id), e))
        })
        .await
    }

    async fn streams(&mut self, id: ReqId, watch: bool) {
        if watch {
            if let Err(e) = self.check_new_sub(id) {
                return self.send(*e).await;
            }
        }
        let mut rx = self.shared.streams.watch();
        let list = rx.borrow_and_update().clone();
        self.send(ServerMsg::Streams {
            id,
            streams: list.to_vec(),
        })
        .await;
        if watch {
            let out = self.out.clone();
            let task = tokio::spawn(async move {
                while rx.changed().await.is_ok() {
                    let list = rx.borrow_and_update().clone();
                    let msg = ServerMsg::Streams {
                        id,
                        streams: list.to_vec(),
                    };
                    if out.send(Out::msg(msg)).await.is_err() {
                        return;
                    }
                }
            });
            self.subs.insert(id, SubEntry::Watch(TaskGuard(task)));
        }
    }

    async fn alerts(&mut self, id: ReqId, watch: bool) {
        let Some(a) = self.shared.alerting.clone() else {
            return self.send(err_body(Some(id), not_enabled())).await;
        };
        if watch {
            if let Err(e) = self.check_new_sub(id) {
                return self.send(*e).await;
            }
        }
        // Subscribe before listing so no change falls between the two.
        let rx = watch.then(|| a.watch_alerts());
        let a2 = Arc::clone(&a);
        let alerts = tokio::task::spawn_blocking(move || a2.alerts())
            .await
            .unwrap_or_default();
        self.send(ServerMsg::Alerts { id, alerts }).await;
        if let Some(mut rx) = rx {
            let out = self.out.clone();
            let task = tokio::spawn(async move {
                loop {
                    let alerts = match rx.recv().await {
                        Ok(alert) => vec![alert],
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                            let a = Arc::clone(&a);
                            tokio::task::spawn_blocking(move || a.alerts())
                                .await
                                .unwrap_or_default()
                        }
                        Err(_) => return,
                    };
                    if out
                        .send(Out::msg(ServerMsg::Alerts { id, alerts }))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });
            self.subs.insert(id, SubEntry::Watch(TaskGuard(task)));
        }
    }
}

fn index_not_open(id: ReqId) -> ServerMsg {
    err(
        Some(id),
        ErrorCode::Internal,
        "the index is not open yet; try again shortly",
    )
}

struct Writer {
    shared: Arc<Shared>,
    sink: SplitSink<WebSocket, Message>,
    rx: mpsc::Receiver<Out>,
    wake: Arc<Notify>,
    active: Vec<(ReqId, Arc<Subscription>)>,
    frames: Vec<Message>,
    epoch: Instant,
    last_heard: Arc<AtomicU64>,
    /// Dropped when the writer ends, which tells the reader.
    _gone: oneshot::Sender<()>,
}

enum Flow {
    Continue,
    Close(u16, String),
    Stop,
}

impl Writer {
    async fn run(mut self) {
        let limits = self.shared.cfg.limits.clone();
        let mut ping = tokio::time::interval(limits.ping_interval);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ping.tick().await;
        let mut status = self.shared.status.clone();
        let mut status_alive = true;
        let mut shutdown = self.shared.shutdown.clone();
        // The current status right away, then on every change.
        let first = status.borrow_and_update().clone();
        self.frames.push(text(&ServerMsg::Status {
            status: (*first).clone(),
        }));
        loop {
            let flow = if !self.frames.is_empty() {
                Flow::Continue
            } else {
                tokio::select! {
                    biased;
                    _ = shutdown.wait_for(|s| *s) => {
                        Flow::Close(close::GOING_AWAY, "server shutting down".into())
                    }
                    o = self.rx.recv() => match o {
                        None => Flow::Stop,
                        Some(o) => {
                            let mut f = self.handle(o);
                            while matches!(f, Flow::Continue) && self.frames.len() < 64 {
                                match self.rx.try_recv() {
                                    Ok(o) => f = self.handle(o),
                                    Err(_) => break,
                                }
                            }
                            f
                        }
                    },
                    _ = self.wake.notified() => Flow::Continue,
                    _ = ping.tick() => {
                        let heard = self.last_heard.load(Ordering::Relaxed);
                        let silent = self.epoch.elapsed().saturating_sub(Duration::from_millis(heard));
                        if silent > limits.ping_timeout {
                            self.shared.metrics.slow_disconnects.fetch_add(1, Ordering::Relaxed);
                            Flow::Close(
                                close::KEEPALIVE,
                                format!("no pong or message for {} s", silent.as_secs()),
                            )
                        } else {
                            self.frames.push(Message::Ping(Default::default()));
                            Flow::Continue
                        }
                    }
                    r = status.changed(), if status_alive => {
                        if r.is_ok() {
                            let s = status.borrow_and_update().clone();
                            self.frames.push(text(&ServerMsg::Status { status: (*s).clone() }));
                        } else {
                            status_alive = false;
                        }
                        Flow::Continue
                    }
                }
            };
            let more = match flow {
                Flow::Continue => self.drain_subs(),
                Flow::Close(code, reason) => {
                    let frames = std::mem::take(&mut self.frames);
                    let _ = tokio::time::timeout(
                        limits.write_timeout.min(Duration::from_secs(5)),
                        async {
                            for f in frames {
                                self.sink.feed(f).await?;
                            }
                            self.sink.send(close_msg(code, &reason)).await
                        },
                    )
                    .await;
                    return;
                }
                Flow::Stop => return,
            };
            if !self.frames.is_empty() {
                let frames = std::mem::take(&mut self.frames);
                let sent = tokio::time::timeout(limits.write_timeout, async {
                    for f in frames {
                        self.sink.feed(f).await?;
                    }
                    self.sink.flush().await
                })
                .await;
                match sent {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return,
                    Err(_) => {
                        self.shared
                            .metrics
                            .slow_disconnects
                            .fetch_add(1, Ordering::Relaxed);
                        let reason = format!(
                            "client too slow: a frame waited more than {} s",
                            limits.write_timeout.as_secs_f64()
                        );
                        tracing::info!(reason, "disconnecting a stalled client");
                        let _ = tokio::time::timeout(
                            Duration::from_secs(1),
                            self.sink.send(close_msg(close::TOO_SLOW, &reason)),
                        )
                        .await;
                        return;
                    }
                }
            }
            if more {
                self.wake.notify_one();
            }
        }
    }

    fn handle(&mut self, o: Out) -> Flow {
        match o {
            Out::Msg(m) => {
                if matches!(*m, ServerMsg::Error { .. }) {
                    self.shared
                        .metrics
                        .client_errors
                        .fetch_add(1, Ordering::Relaxed);
                }
                self.frames.push(text(&m));
            }
            Out::Initial { id, sub, items } => {
                if !sub.is_closed() {
                    self.push_items(id, &items);
                }
            }
            Out::Activate { id, sub } => {
                if !sub.is_closed() {
                    self.active.push((id, sub));
                }
            }
            Out::Close(code, reason) => return Flow::Close(code, reason),
        }
        Flow::Continue
    }

    /// One round over the active tails: up to a frame's worth each. Returns whether
    /// any has more waiting.
    fn drain_subs(&mut self) -> bool {
        self.active.retain(|(_, s)| !s.is_closed());
        let mut more = false;
        for i in 0..self.active.len() {
            let Some((id, sub)) = self.active.get(i).cloned() else {
                continue;
            };
            let items = sub.drain(FRAME_ENTRIES);
            if !items.is_empty() {
                self.push_items(id, &items);
            }
            more |= sub.has_pending();
        }
        more
    }

    fn push_items(&mut self, sub: ReqId, items: &[Item]) {
        let mut batch: Vec<&LogEntry> = Vec::new();
        let mut sent = 0u64;
        for item in items {
            match item {
                Item::Entry(e) => {
                    batch.push(e);
                    if batch.len() >= FRAME_ENTRIES {
                        sent += batch.len() as u64;
                        let entries = std::mem::take(&mut batch);
                        self.frames.push(text(&EntriesFrame { sub, entries }));
                    }
                }
                Item::Dropped(d) => {
                    if !batch.is_empty() {
                        sent += batch.len() as u64;
                        let entries = std::mem::take(&mut batch);
                        self.frames.push(text(&EntriesFrame { sub, entries }));
                    }
                    self.frames.push(text(&ServerMsg::Dropped {
                        sub,
                        count: d.count,
                        from: d.from,
                        until: d.until,
                    }));
                }
            }
        }
        if !batch.is_empty() {
            sent += batch.len() as u64;
            self.frames.push(text(&EntriesFrame {
                sub,
                entries: batch,
            }));
        }
        self.shared
            .metrics
            .entries_sent
            .fetch_add(sent, Ordering::Relaxed);
    }
}

/// A query that did not parse, as the client sees it: what and where.
fn bad_query(e: crate::query::QueryError) -> ErrorBody {
    ErrorBody {
        code: ErrorCode::BadQuery,
        message: e.message,
        position: Some(e.position),
        field: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lookout_shared::Timestamp;

    #[test]
    fn entries_frame_is_the_protocol_message() {
        let e = LogEntry {
            ts: Timestamp(5),
            message: "hi".into(),
            seq: 3,
            ..Default::default()
        };
        let borrowed = serde_json::to_string(&EntriesFrame {
            sub: 7,
            entries: vec![&e],
        })
        .unwrap();
        let back: ServerMsg = serde_json::from_str(&borrowed).unwrap();
        assert_eq!(
            back,
            ServerMsg::Entries {
                sub: 7,
                entries: vec![e]
            }
        );
    }

    #[test]
    fn token_comparison() {
        assert!(token_eq("abc", "abc"));
        assert!(!token_eq("abc", "abd"));
        assert!(!token_eq("abc", "abcd"));
        assert!(!token_eq("", "a"));
    }
}
