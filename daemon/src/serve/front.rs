//! The same websocket protocol over a source that is not this node's: what the
//! cluster hub serves. Same transport (handshake, token, limits, keepalive), same
//! handlers; live tails are refused (their merge across nodes comes later), and
//! there is no index or pipeline behind it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{State, WebSocketUpgrade};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use lookout_shared::protocol::{ClientMsg, ErrorCode, ServerMsg, ServerStatus};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::handlers::Handlers;
use super::source::Source;
use super::transport::{self, Outbox, Session, Transport};
use super::{listen, metrics, ServeConfig, ServeError};
use crate::metrics::Metrics;
use crate::shutdown::ShutdownTrigger;

/// What tells the metrics port whether the front is ready.
pub(crate) type Ready = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

struct FrontState {
    cfg: ServeConfig,
    source: Arc<dyn Source>,
    transport: Arc<Transport>,
    metrics: Arc<Metrics>,
    ready: Ready,
}

/// A running front; dropping it stops accepting and closes every client.
pub struct FrontHandle {
    local_addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    shutdown: ShutdownTrigger,
    tasks: Vec<JoinHandle<()>>,
}

impl FrontHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }
    /// Closes every client (1001) and waits a few seconds for the listeners.
    pub async fn shutdown(mut self) {
        self.shutdown.fire();
        for t in self.tasks.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
    }
}

impl Drop for FrontHandle {
    fn drop(&mut self) {
        self.shutdown.fire();
    }
}

/// Binds `cfg`'s listeners and serves `source` with `status` pushed to clients.
pub(crate) async fn start(
    cfg: ServeConfig,
    metrics: Arc<Metrics>,
    source: Arc<dyn Source>,
    status: watch::Receiver<Arc<ServerStatus>>,
    ready: Ready,
) -> Result<FrontHandle, ServeError> {
    cfg.check_security()?;
    let bind = |addr: SocketAddr| async move {
        tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })
    };
    let listener = bind(cfg.listen).await?;
    let local_addr = listener.local_addr().map_err(|source| ServeError::Bind {
        addr: cfg.listen,
        source,
    })?;
    let metrics_listener = match cfg.metrics_listen {
        Some(addr) => Some(bind(addr).await?),
        None => None,
    };
    let metrics_addr = metrics_listener.as_ref().and_then(|l| l.local_addr().ok());
    let shutdown = ShutdownTrigger::new();
    let stop = shutdown.listener();
    let transport = Arc::new(Transport {
        node: cfg.node.clone(),
        token: cfg.token.clone(),
        limits: cfg.limits.clone(),
        metrics: Arc::clone(&metrics),
        status,
        shutdown: stop.clone(),
        auth_failures: Default::default(),
    });
    let state = Arc::new(FrontState {
        cfg,
        source,
        transport,
        metrics,
        ready,
    });
    let port = |label: &'static str, max: usize, nodelay: bool| listen::Port {
        label,
        max,
        header_read_timeout: state.cfg.limits.header_read_timeout,
        nodelay,
        open: state
            .metrics
            .serve
            .open_connections
            .with_label_values(&[label]),
        refused: state
            .metrics
            .serve
            .refused_connections
            .with_label_values(&[label]),
    };
    let mut tasks = Vec::new();
    let app = Router::new()
        .route("/", get(ws_handler))
        .route("/ws", get(ws_handler))
        .route("/healthz", get(healthz))
        .with_state(Arc::clone(&state));
    let ws_port = port(metrics::PORT_WS, state.cfg.limits.max_connections, true);
    tasks.push(tokio::spawn(listen::run(
        listener,
        ws_port,
        app,
        stop.clone(),
    )));
    if let Some(ml) = metrics_listener {
        let app = Router::new()
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz))
            .route("/metrics", get(render_metrics))
            .with_state(Arc::clone(&state));
        let p = port(
            metrics::PORT_METRICS,
            state.cfg.limits.max_metrics_connections,
            false,
        );
        tasks.push(tokio::spawn(listen::run(ml, p, app, stop.clone())));
    }
    tracing::info!(%local_addr, ?metrics_addr, "serving");
    Ok(FrontHandle {
        local_addr,
        metrics_addr,
        shutdown,
        tasks,
    })
}

/// The handlers, with `subscribe` refused.
struct NoTails {
    inner: Handlers,
    out: Outbox,
}

impl Session for NoTails {
    async fn handle(&mut self, msg: ClientMsg) {
        match msg {
            ClientMsg::Subscribe { id, .. } => {
                let m = ServerMsg::error(
                    Some(id),
                    ErrorCode::BadRequest,
                    "live tail through the cluster hub is not available yet; \
                     tail a node's daemon directly",
                );
                self.out.send(m).await;
            }
            other => self.inner.handle(other).await,
        }
    }

    fn is_idle(&self) -> bool {
        self.inner.is_idle()
    }
}

async fn ws_handler(
    State(state): State<Arc<FrontState>>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<SocketAddr>,
    axum::Extension(slot): axum::Extension<listen::Slot>,
    headers: axum::http::HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if let Some(refusal) = super::refuse_origin(&headers, &state.cfg.allowed_origins) {
        state.metrics.serve.client_errors.inc();
        return refusal;
    }
    let hard = state.cfg.limits.hard_frame_bytes();
    ws.max_message_size(hard)
        .max_frame_size(hard)
        .on_upgrade(move |socket| async move {
            let _slot = slot;
            let transport = Arc::clone(&state.transport);
            let limits = state.cfg.limits.clone();
            let source = Arc::clone(&state.source);
            transport::run(socket, transport, peer, move |out| NoTails {
                inner: Handlers::new(source, limits, out.clone()),
                out,
            })
            .await;
        })
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<Arc<FrontState>>) -> Response {
    match (state.ready)() {
        Ok(()) => (StatusCode::OK, "ready\n".to_string()).into_response(),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        )
            .into_response(),
    }
}

async fn render_metrics(State(state): State<Arc<FrontState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}
