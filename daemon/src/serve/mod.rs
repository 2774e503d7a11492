//! The client-facing server: the websocket protocol on `--listen`, and health,
//! readiness and Prometheus metrics on `--metrics-listen`.
//!
//! [`start`] binds both listeners and runs them on the current tokio runtime until
//! [`ServerHandle::shutdown`] (or drop). The websocket side is in three layers:
//! - `transport`: one connection's handshake, framing, keepalive, writer task and
//!   close codes; it knows the protocol's shape but not where answers come from.
//! - `handlers`: one module per request kind, answering from a `source`.
//! - `source`: the narrow interface the handlers read (search, context, streams,
//!   tails, alerting), and this node's implementation of it.
//!
//! Tails are drained from [`Live`] queues by the writer, so a slow client only ever
//! fills its own queues. Every bound on a connection is in [`limits`]. Below all of
//! it, `listen` accepts on each port with a cap of its own and a header-read timer,
//! so sockets held on one port never cost the other its slots.
//!
//! Security: the default listen address is loopback (reachable through `kubectl
//! port-forward`, not from other pods). A non-loopback address needs a token unless
//! `insecure` is set; [`start`] refuses to run otherwise. The metrics listener serves
//! no log content and needs no token.

pub mod alerting;
pub mod front;
mod handlers;
pub mod limits;
mod listen;
pub mod metrics;
pub(crate) mod source;
pub(crate) mod tail;
pub(crate) mod transport;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::{State, WebSocketUpgrade};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use lookout_shared::protocol::ServerStatus;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use alerting::Alerting;
pub use limits::Limits;
pub use metrics::ServeMetrics;
pub use tail::RESUME_SKEW;

use handlers::Handlers;
use source::{NodeSource, Source};
use transport::Transport;

use crate::index::Index;
use crate::live::Live;
use crate::metrics::Metrics;
use crate::shutdown::{Shutdown, ShutdownTrigger};
use crate::streams::Streams;

/// Server settings (from the daemon flags).
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Websocket listener (`--listen`).
    pub listen: SocketAddr,
    /// Health/metrics listener (`--metrics-listen`); `None` disables it.
    pub metrics_listen: Option<SocketAddr>,
    /// Shared secret clients must send in their `hello` (`--token`).
    pub token: Option<String>,
    /// Allow a non-loopback `listen` without a token (`--insecure`).
    pub insecure: bool,
    /// Node name announced in `hello` and `status`.
    pub node: String,
    pub limits: Limits,
    /// `Origin` headers accepted on a websocket upgrade (`--allow-origin`); an
    /// upgrade with any other `Origin` is refused (browsers always send one,
    /// `lookout` and other programs send none).
    pub allowed_origins: Vec<String>,
}

impl ServeConfig {
    /// Defaults for `listen`, everything else default too.
    pub fn new(listen: SocketAddr, node: impl Into<String>) -> ServeConfig {
        ServeConfig {
            listen,
            metrics_listen: None,
            token: None,
            insecure: false,
            node: node.into(),
            limits: Limits::default(),
            allowed_origins: Vec::new(),
        }
    }

    /// The bind rule: loopback is always fine; anything else needs a token or an
    /// explicit `insecure`.
    pub fn check_security(&self) -> Result<(), ServeError> {
        if self.listen.ip().is_loopback() || self.insecure {
            return Ok(());
        }
        match &self.token {
            Some(t) if !t.is_empty() => Ok(()),
            _ => Err(ServeError::TokenRequired(self.listen)),
        }
    }
}

/// What the server reads from the rest of the daemon.
#[derive(Clone)]
pub struct ServeContext {
    /// The index, when already open; otherwise give it later with
    /// [`ServerHandle::set_index`] (searches answer "index not open" until then).
    pub index: Option<Index>,
    pub live: Arc<Live>,
    pub streams: Arc<Streams>,
    pub metrics: Arc<Metrics>,
    /// The alerting engine; without one, rule and alert requests get `not_found`
    /// "alerting not enabled".
    pub alerting: Option<Arc<dyn Alerting>>,
}

/// Why the server did not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "refusing to listen on non-loopback address {0} without --token \
         (anyone who reaches it could read every log on the node); \
         set --token, or --insecure to accept that"
    )]
    TokenRequired(SocketAddr),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// State shared by every connection.
pub(crate) struct Shared {
    pub cfg: ServeConfig,
    pub index: OnceLock<Index>,
    pub live: Arc<Live>,
    pub streams: Arc<Streams>,
    pub metrics: Arc<Metrics>,
    pub alerting: Option<Arc<dyn Alerting>>,
    /// What every websocket connection shares.
    pub transport: Arc<Transport>,
}

impl Shared {
    pub fn index(&self) -> Option<&Index> {
        self.index.get()
    }
}

/// The running server. Dropping it stops accepting and closes every client with
/// code 1001; [`ServerHandle::shutdown`] also waits for that to finish.
pub struct ServerHandle {
    local_addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    shared: Arc<Shared>,
    shutdown: ShutdownTrigger,
    tasks: Vec<JoinHandle<()>>,
}

impl ServerHandle {
    /// The websocket listener's address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The metrics listener's address, if enabled.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// Hands over the index once it is open (no effect if one is set already).
    pub fn set_index(&self, index: Index) {
        let _ = self.shared.index.set(index);
        self.shared.metrics.set_index_open(true);
    }

    /// Stops accepting, closes every client (1001 "server shutting down") and waits
    /// up to a few seconds for the listeners to finish.
    pub async fn shutdown(mut self) {
        self.shutdown.fire();
        for t in self.tasks.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.shutdown.fire();
    }
}

/// Binds the listeners and starts serving on the current tokio runtime.
pub async fn start(cfg: ServeConfig, ctx: ServeContext) -> Result<ServerHandle, ServeError> {
    cfg.check_security()?;
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: cfg.listen,
            source,
        })?;
    let local_addr = listener.local_addr().map_err(|source| ServeError::Bind {
        addr: cfg.listen,
        source,
    })?;
    let metrics_listener = match cfg.metrics_listen {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| ServeError::Bind { addr, source })?,
        ),
        None => None,
    };
    let metrics_addr = metrics_listener.as_ref().and_then(|l| l.local_addr().ok());

    let shutdown_tx = ShutdownTrigger::new();
    let shutdown_rx = shutdown_tx.listener();
    let (status_tx, status_rx) = watch::channel(Arc::new(ServerStatus {
        node: cfg.node.clone(),
        ..Default::default()
    }));
    let index = OnceLock::new();
    if let Some(ix) = ctx.index {
        let _ = index.set(ix);
        ctx.metrics.set_index_open(true);
    }
    let transport = Arc::new(Transport {
        node: cfg.node.clone(),
        token: cfg.token.clone(),
        limits: cfg.limits.clone(),
        metrics: Arc::clone(&ctx.metrics),
        status: status_rx,
        shutdown: shutdown_rx.clone(),
        auth_failures: Default::default(),
    });
    let shared = Arc::new(Shared {
        cfg,
        index,
        live: ctx.live,
        streams: ctx.streams,
        metrics: ctx.metrics,
        alerting: ctx.alerting,
        transport,
    });

    // The first status is real before any client can connect (a client reads it
    // on connect; the loop's first round may run later on a busy runtime).
    status_tx.send_replace(Arc::new(status_now(&shared, 0.0)));
    let mut tasks = Vec::new();
    tasks.push(tokio::spawn(status_loop(
        Arc::clone(&shared),
        status_tx,
        shutdown_rx.clone(),
    )));

    let app = Router::new()
        .route("/", get(ws_handler))
        .route("/ws", get(ws_handler))
        .route("/healthz", get(healthz))
        .with_state(Arc::clone(&shared));
    let limits = &shared.cfg.limits;
    let ws_port = listen::Port {
        label: metrics::PORT_WS,
        max: limits.max_connections,
        header_read_timeout: limits.header_read_timeout,
        // Tail frames are small and latency-bound: no Nagle (its pairing with delayed
        // ACKs stalled a steady 10k lines/s tail by 40 ms at p99).
        nodelay: true,
        open: shared
            .metrics
            .serve
            .open_connections
            .with_label_values(&[metrics::PORT_WS]),
        refused: shared
            .metrics
            .serve
            .refused_connections
            .with_label_values(&[metrics::PORT_WS]),
    };
    tasks.push(tokio::spawn(listen::run(
        listener,
        ws_port,
        app,
        shutdown_rx.clone(),
    )));

    if let Some(ml) = metrics_listener {
        let app = Router::new()
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz))
            .route("/metrics", get(metrics))
            .with_state(Arc::clone(&shared));
        let port = listen::Port {
            label: metrics::PORT_METRICS,
            max: limits.max_metrics_connections,
            header_read_timeout: limits.header_read_timeout,
            nodelay: false,
            open: shared
                .metrics
                .serve
                .open_connections
                .with_label_values(&[metrics::PORT_METRICS]),
            refused: shared
                .metrics
                .serve
                .refused_connections
                .with_label_values(&[metrics::PORT_METRICS]),
        };
        tasks.push(tokio::spawn(listen::run(
            ml,
            port,
            app,
            shutdown_rx.clone(),
        )));
    }
    tracing::info!(%local_addr, ?metrics_addr, "serving");
    Ok(ServerHandle {
        local_addr,
        metrics_addr,
        shared,
        shutdown: shutdown_tx,
        tasks,
    })
}

/// Computes the daemon-wide status once a second for every client.
/// The daemon-wide status at `rate` lines per second.
fn status_now(shared: &Shared, rate: f64) -> ServerStatus {
    let (entries_indexed, index_error) = match shared.index() {
        Some(ix) => {
            let s = ix.stats();
            (s.docs, s.error)
        }
        None => (0, Some("index not open yet".to_string())),
    };
    ServerStatus {
        node: shared.cfg.node.clone(),
        lines_per_sec: (rate * 10.0).round() / 10.0,
        firing: shared.alerting.as_ref().map_or(0, |a| a.firing()),
        entries_indexed,
        index_error,
        ..Default::default()
    }
}

async fn status_loop(shared: Arc<Shared>, tx: watch::Sender<Arc<ServerStatus>>, stop: Shutdown) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut last_published = shared.live.stats().published;
    let mut last_at = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait() => return,
        }
        let now = tokio::time::Instant::now();
        let published = shared.live.stats().published;
        let secs = now.duration_since(last_at).as_secs_f64();
        let rate = if secs > 0.0 {
            (published - last_published) as f64 / secs
        } else {
            0.0
        };
        last_published = published;
        last_at = now;
        let status = status_now(&shared, rate);
        tx.send_if_modified(|cur| {
            if **cur == status {
                false
            } else {
                *cur = Arc::new(status);
                true
            }
        });
    }
}

async fn ws_handler(
    State(shared): State<Arc<Shared>>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<SocketAddr>,
    axum::Extension(slot): axum::Extension<listen::Slot>,
    headers: axum::http::HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    // A page in the operator's browser can open a websocket to a port-forwarded
    // daemon (websockets are not bound by the same-origin policy); the browser
    // always says whose page it is, so any origin not allowed is refused.
    if let Some(refusal) = refuse_origin(&headers, &shared.cfg.allowed_origins) {
        shared.metrics.serve.client_errors.inc();
        return refusal;
    }
    // Frames up to the limit are read; larger ones up to `HARD_FRAME_FACTOR` times
    // the limit are read and refused with an error (the connection stays usable);
    // beyond that the websocket layer gives up and the connection closes with 1009.
    let hard = shared.cfg.limits.hard_frame_bytes();
    ws.max_message_size(hard)
        .max_frame_size(hard)
        .on_upgrade(move |socket| async move {
            // The connection's place under the port's cap, for the session's life.
            let _slot = slot;
            let transport = Arc::clone(&shared.transport);
            let limits = shared.cfg.limits.clone();
            let source: Arc<dyn Source> = Arc::new(NodeSource(shared));
            transport::run(socket, transport, peer, move |out| {
                Handlers::new(source, limits, out)
            })
            .await;
        })
}

/// The refusal of an upgrade whose `Origin` is not in `allowed`, if it is not.
fn refuse_origin(headers: &axum::http::HeaderMap, allowed: &[String]) -> Option<Response> {
    let origin = headers.get(axum::http::header::ORIGIN)?;
    let origin = String::from_utf8_lossy(origin.as_bytes());
    if allowed.iter().any(|o| *o == origin) {
        return None;
    }
    Some(
        (
            StatusCode::FORBIDDEN,
            format!(
                "websocket from a web page refused: origin {origin} is not allowed \
                 (lookoutd --allow-origin)\n"
            ),
        )
            .into_response(),
    )
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    match shared.metrics.readiness() {
        Ok(()) => (StatusCode::OK, "ready\n".to_string()).into_response(),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        )
            .into_response(),
    }
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    let body = shared.metrics.render();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}
