//! The websocket transport: one connection from upgrade to close, knowing the
//! protocol's framing but nothing of where answers come from.
//!
//! A connection is a handshake ([`handshake`]: hello, version, token), then a reader
//! (this module: frame-size checks, JSON parsing, keepalive bookkeeping) and a
//! writer task ([`writer`]: replies, tail entries, pings, status, close codes)
//! joined by a bounded queue. Each parsed request goes to a [`Session`], which
//! answers through the connection's [`Outbox`]. The node daemon's session is
//! `serve::handlers`; a cluster hub serving the same protocol brings its own.
//!
//! Ordering: everything a connection sends goes through the writer, in the order it
//! was queued. A new tail is `subscribed`, then its initial entries, then it is
//! activated (the writer starts draining its [`Feed`]), all through the same queue,
//! so backfill always precedes live entries.

mod auth;
mod frame;
mod handshake;
mod writer;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use futures_util::stream::SplitStream;
use futures_util::StreamExt;
use lookout_shared::limits::close;
use lookout_shared::protocol::{
    ClientMsg, ErrorCode, ReqId, ServerMsg, ServerStatus, PROTOCOL_VERSION,
};
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::time::Instant;

use super::limits::Limits;
use crate::live::Item;
use crate::metrics::Metrics;
use frame::{close_msg, text};
use writer::Writer;

/// Messages waiting for the writer. Requests past this wait for room (the reader
/// stops reading), which is what pushes back on a client that floods requests.
const OUT_QUEUE: usize = 256;

/// How long a refused or closing connection is given to take its last frames and
/// answer the close: enough for a live client on any network, short enough that a
/// dead one does not hold a connection slot.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// What every connection of one server shares: who it is, who may connect, its
/// limits, where it counts, and the pushes every client gets.
pub(crate) struct Transport {
    /// Named in the server's `hello`.
    pub node: String,
    /// The secret a client's `hello` must carry, if any.
    pub token: Option<String>,
    pub limits: Limits,
    pub metrics: Arc<Metrics>,
    /// Pushed to each client on connect and on every change.
    pub status: watch::Receiver<Arc<ServerStatus>>,
    /// Fires when the server shuts down: every client is closed with 1001.
    pub shutdown: crate::shutdown::Shutdown,
    /// Wrong tokens so far, to log them and slow their senders down.
    pub auth_failures: auth::AuthFailures,
}

/// The live part of a tail, as the writer drains it.
pub(crate) trait Feed: Send + Sync {
    /// Unsubscribed: the writer drops it and sends nothing more for it.
    fn is_closed(&self) -> bool;
    /// Up to `max` entries (and any drop notices among them), oldest first.
    fn drain(&self, max: usize) -> Vec<Item>;
    /// Whether a `drain` would return something.
    fn has_pending(&self) -> bool;
}

/// Answers a connection's requests. Replies, and long work, go through the
/// [`Outbox`] it was opened with; `handle` should return quickly, because the
/// connection reads its next frame only after it does.
pub(crate) trait Session: Send + 'static {
    fn handle(&mut self, msg: ClientMsg) -> impl Future<Output = ()> + Send;
    /// Holds nothing that could still send the client something (no subscription,
    /// no request in progress): such a session may be closed after the idle timeout.
    fn is_idle(&self) -> bool;
}

/// What the reader and the request handlers hand the writer.
enum Out {
    Msg(Box<ServerMsg>),
    /// A tail's initial entries (and notices); skipped if it was closed meanwhile.
    Initial {
        id: ReqId,
        feed: Arc<dyn Feed>,
        items: Vec<Item>,
    },
    /// Start draining a tail's live queue.
    Activate {
        id: ReqId,
        feed: Arc<dyn Feed>,
    },
    Close(u16, String),
}

/// A session's way to the client: everything is sent in the order it is queued.
/// Sends wait while the writer's queue is full; they return whether the connection
/// is still there to take them.
#[derive(Clone)]
pub(crate) struct Outbox {
    tx: mpsc::Sender<Out>,
    wake: Arc<Notify>,
}

impl Outbox {
    /// Queues one message.
    pub async fn send(&self, msg: ServerMsg) -> bool {
        self.tx.send(Out::Msg(Box::new(msg))).await.is_ok()
    }

    /// Queues a tail's initial entries, framed like live ones.
    pub async fn initial(&self, id: ReqId, feed: Arc<dyn Feed>, items: Vec<Item>) -> bool {
        self.tx.send(Out::Initial { id, feed, items }).await.is_ok()
    }

    /// From this point on, the writer drains `feed` as entries for `id`.
    pub async fn activate(&self, id: ReqId, feed: Arc<dyn Feed>) -> bool {
        self.tx.send(Out::Activate { id, feed }).await.is_ok()
    }

    /// The waker a feed notifies when it has entries: it wakes this connection's
    /// writer.
    pub fn waker(&self) -> Arc<Notify> {
        Arc::clone(&self.wake)
    }

    async fn close(&self, code: u16, reason: String) {
        let _ = self.tx.send(Out::Close(code, reason)).await;
    }
}

/// Decrements the client gauge when the connection ends, however it ends.
struct ClientGauge(Arc<Metrics>);
impl Drop for ClientGauge {
    fn drop(&mut self) {
        self.0.serve.clients.dec();
    }
}

/// Runs one connection to its end; `open` makes its session once the hello is
/// accepted.
pub(crate) async fn run<S: Session>(
    mut socket: WebSocket,
    transport: Arc<Transport>,
    peer: SocketAddr,
    open: impl FnOnce(Outbox) -> S,
) {
    let metrics = Arc::clone(&transport.metrics);
    metrics.serve.clients.inc();
    metrics.serve.connections.inc();
    let _gauge = ClientGauge(Arc::clone(&metrics));
    let write_timeout = transport.limits.write_timeout;

    let hello = ServerMsg::Hello {
        protocol: PROTOCOL_VERSION,
        server: format!("lookoutd {}", env!("CARGO_PKG_VERSION")),
        node: transport.node.clone(),
        auth_required: transport.token.is_some(),
    };
    if !send_now(&mut socket, text(&hello), write_timeout).await {
        return;
    }
    let accepted = handshake::accept(
        &mut socket,
        transport.token.as_deref(),
        transport.limits.hello_timeout,
    )
    .await;
    if let Err(r) = accepted {
        tracing::debug!(%peer, code = r.code, reason = r.reason, "handshake refused");
        if r.code == close::UNAUTHORIZED {
            metrics.serve.auth_failures.inc();
            let v = transport.auth_failures.record(peer.ip(), Instant::now());
            if let Some(failures) = v.warn {
                tracing::warn!(
                    %peer,
                    failures,
                    reason = r.reason,
                    "websocket clients refused for a missing or wrong token \
                     (one line per 10 s at most; lookout_auth_failures_total counts all)"
                );
            }
            // Late, so guessing is slow; the sleep is this connection's alone.
            tokio::select! {
                _ = tokio::time::sleep(v.delay) => {}
                _ = transport.shutdown.wait() => {}
            }
        }
        if let Some(reply) = r.reply {
            metrics.serve.client_errors.inc();
            let _ = send_now(&mut socket, text(&*reply), CLOSE_GRACE).await;
        }
        let _ = send_now(&mut socket, close_msg(r.code, &r.reason), CLOSE_GRACE).await;
        return;
    }
    if !send_now(&mut socket, text(&ServerMsg::Welcome {}), write_timeout).await {
        return;
    }
    tracing::debug!(%peer, "client connected");

    let (sink, mut stream) = socket.split();
    let (out_tx, out_rx) = mpsc::channel::<Out>(OUT_QUEUE);
    let wake = Arc::new(Notify::new());
    let epoch = Instant::now();
    let last_heard = Arc::new(AtomicU64::new(0));
    let (gone_tx, mut gone_rx) = oneshot::channel::<()>();
    let mut writer = tokio::spawn(
        Writer {
            transport: Arc::clone(&transport),
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
    let out = Outbox { tx: out_tx, wake };
    let reader = Reader {
        session: open(out.clone()),
        out,
        max_frame_bytes: transport.limits.max_frame_bytes,
        idle_timeout: transport.limits.idle_timeout,
        epoch,
        last_heard,
    };
    match reader.run(&mut stream, &mut gone_rx).await {
        ReaderEnd::PeerGone => writer.abort(),
        ReaderEnd::WriterGone => close_handshake(&mut stream).await,
        ReaderEnd::Close(code, reason) => {
            // Let the writer send the close (after what it already has queued).
            if tokio::time::timeout(CLOSE_GRACE, &mut writer)
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
/// its own close or [`CLOSE_GRACE`] passes. Dropping the socket with unread input
/// would make the kernel reset the connection, and the client would lose the close
/// frame and its reason.
async fn close_handshake(stream: &mut SplitStream<WebSocket>) {
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        while let Some(Ok(m)) = stream.next().await {
            if matches!(m, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

async fn send_now(socket: &mut WebSocket, msg: Message, limit: Duration) -> bool {
    matches!(
        tokio::time::timeout(limit, socket.send(msg)).await,
        Ok(Ok(()))
    )
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

/// Whether a read failed because a message was over the websocket layer's size
/// limit ([`Limits::hard_frame_bytes`]): the one read error the client is told
/// about rather than just dropped. Matched by tungstenite's error type, which axum
/// wraps; its text is not a contract.
fn is_too_big(e: &axum::Error) -> bool {
    use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
    ws_error(e)
        .is_some_and(|w| matches!(w, WsError::Capacity(CapacityError::MessageTooLong { .. })))
}

/// Whether a read failed because a text frame was not valid UTF-8: the client is
/// told with close code 1007 (RFC 6455 section 8.1), as the protocol requires,
/// rather than finding its connection simply gone.
pub(super) fn is_bad_utf8(e: &axum::Error) -> bool {
    use tokio_tungstenite::tungstenite::error::Error as WsError;
    ws_error(e).is_some_and(|w| matches!(w, WsError::Utf8(_)))
}

/// Reason sent with close code 1007.
pub(super) const BAD_UTF8: &str = "text frame is not valid UTF-8";

/// The websocket library's error under axum's wrapper.
fn ws_error(e: &axum::Error) -> Option<&tokio_tungstenite::tungstenite::Error> {
    std::error::Error::source(e).and_then(|s| s.downcast_ref())
}

struct Reader<S> {
    session: S,
    out: Outbox,
    max_frame_bytes: usize,
    idle_timeout: Duration,
    epoch: Instant,
    last_heard: Arc<AtomicU64>,
}

impl<S: Session> Reader<S> {
    /// Reads requests until the client goes away or must be closed.
    async fn run(
        mut self,
        stream: &mut SplitStream<WebSocket>,
        writer_gone: &mut oneshot::Receiver<()>,
    ) -> ReaderEnd {
        // Requests (not pings or pongs, which any idle socket answers) keep a
        // session that holds nothing open.
        let mut last_request = Instant::now();
        loop {
            let msg = tokio::select! {
                m = stream.next() => m,
                _ = &mut *writer_gone => return ReaderEnd::WriterGone,
                _ = tokio::time::sleep_until(last_request + self.idle_timeout) => {
                    if !self.session.is_idle() {
                        last_request = Instant::now();
                        continue;
                    }
                    let reason = format!(
                        "idle: no subscription and no request for {} s",
                        self.idle_timeout.as_secs_f64()
                    );
                    self.out.close(close::IDLE, reason.clone()).await;
                    return ReaderEnd::Close(close::IDLE, reason);
                }
            };
            if matches!(msg, Some(Ok(Message::Text(_) | Message::Binary(_)))) {
                last_request = Instant::now();
            }
            self.last_heard
                .store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
            match msg {
                None | Some(Ok(Message::Close(_))) => return ReaderEnd::PeerGone,
                Some(Err(e)) if is_too_big(&e) => {
                    let reason = format!(
                        "frame far larger than the {} byte limit",
                        self.max_frame_bytes
                    );
                    self.error(None, ErrorCode::LimitExceeded, reason.clone())
                        .await;
                    self.out.close(close::TOO_BIG, reason.clone()).await;
                    return ReaderEnd::Close(close::TOO_BIG, reason);
                }
                Some(Err(e)) if is_bad_utf8(&e) => {
                    self.out.close(close::INVALID_DATA, BAD_UTF8.into()).await;
                    return ReaderEnd::Close(close::INVALID_DATA, BAD_UTF8.into());
                }
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "websocket read failed");
                    return ReaderEnd::PeerGone;
                }
                Some(Ok(Message::Text(t))) => {
                    let max = self.max_frame_bytes;
                    if t.len() > max {
                        let m = format!(
                            "message of {} bytes refused: the limit is {max} bytes",
                            t.len()
                        );
                        self.error(None, ErrorCode::LimitExceeded, m).await;
                    } else {
                        self.on_text(t.as_str()).await
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    self.error(
                        None,
                        ErrorCode::BadRequest,
                        "binary frames are not supported; send JSON text frames",
                    )
                    .await
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            }
        }
    }

    async fn error(&self, id: Option<ReqId>, code: ErrorCode, message: impl Into<String>) {
        self.out.send(ServerMsg::error(id, code, message)).await;
    }

    async fn on_text(&mut self, raw: &str) {
        let msg: ClientMsg = match serde_json::from_str(raw) {
            Ok(m) => m,
            Err(e) => {
                let id = serde_json::from_str::<serde_json::Value>(raw)
                    .ok()
                    .and_then(|v| v.get("id").and_then(|i| i.as_u64()));
                let m = format!("malformed message: {e}");
                return self.error(id, ErrorCode::BadRequest, m).await;
            }
        };
        match msg {
            ClientMsg::Hello { .. } => {
                self.error(None, ErrorCode::BadRequest, "hello was already accepted")
                    .await
            }
            msg => self.session.handle(msg).await,
        }
    }
}
