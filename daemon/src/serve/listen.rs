//! Accepting connections on one port: its own accept loop, its own cap, and hyper's
//! HTTP/1 server with a header-read timer on every connection.
//!
//! Each port (websocket, metrics) runs one [`run`] with its own semaphore, so
//! connections piling up on one never take the other's slots: the kubelet's probes
//! on the metrics port are answered however many sockets hold the websocket port.
//! A connection over its port's cap is accepted, answered HTTP 503 and closed at
//! once (a cheap non-blocking write, no task), rather than left in the kernel's
//! backlog where it would wait forever and the client would only see a timeout.
//!
//! A connection's [`Slot`] is held until it closes, or, for a websocket upgrade,
//! until the websocket session it became ends.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use prometheus::{IntCounter, IntGauge};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::shutdown::Shutdown;

/// After shutdown, how long an HTTP exchange in progress may take to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Pause after a failed `accept` (EMFILE, ENOBUFS...) before trying again, so a
/// process out of descriptors does not spin a core; short enough that the next
/// probe waits at most this long once a descriptor is free.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// One listener's settings.
pub(crate) struct Port {
    /// The `port` label in the connection metrics.
    pub label: &'static str,
    /// Connections at once.
    pub max: usize,
    /// Time allowed for a request's headers, and between keep-alive requests.
    pub header_read_timeout: Duration,
    /// Disable Nagle on accepted sockets (tail frames are latency-bound).
    pub nodelay: bool,
    /// Connections open now on this port.
    pub open: IntGauge,
    /// Connections refused for the cap.
    pub refused: IntCounter,
}

/// A connection's place under its port's cap. Cloned into the request's
/// extensions, so a websocket handler can keep it for the session's life.
#[derive(Clone)]
pub(crate) struct Slot {
    _held: Arc<Held>,
}

struct Held {
    _permit: OwnedSemaphorePermit,
    open: IntGauge,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.open.dec();
    }
}

/// Accepts on `listener` until `stop` fires, serving `app` on each connection;
/// then waits (the caller bounds how long) until every connection has ended.
pub(crate) async fn run(listener: TcpListener, port: Port, app: Router, stop: Shutdown) {
    let slots = Arc::new(Semaphore::new(port.max));
    let busy = busy_response(port.max);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.wait() => break,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(port = port.label, error = %e, "accept failed");
                tokio::time::sleep(ACCEPT_RETRY).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
            port.refused.inc();
            // A fresh socket's send buffer is empty: this never blocks, and if it
            // cannot write the client learns from the close instead.
            let _ = tcp.try_write(&busy);
            drop(tcp);
            continue;
        };
        port.open.inc();
        let slot = Slot {
            _held: Arc::new(Held {
                _permit: permit,
                open: port.open.clone(),
            }),
        };
        if port.nodelay {
            let _ = tcp.set_nodelay(true);
        }
        tokio::spawn(serve_one(
            tcp,
            peer,
            slot,
            app.clone(),
            port.header_read_timeout,
            stop.clone(),
        ));
    }
    drop(listener);
    // Every slot back means every connection (and websocket session) has ended.
    let all = u32::try_from(port.max).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
}

/// One connection: HTTP/1 with upgrades, the header timer armed, until it closes,
/// upgrades, or the server shuts down.
async fn serve_one(
    tcp: TcpStream,
    peer: SocketAddr,
    slot: Slot,
    app: Router,
    header_read_timeout: Duration,
    stop: Shutdown,
) {
    let router = TowerToHyperService::new(app);
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        req.extensions_mut().insert(slot.clone());
        hyper::service::Service::call(&router, req)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    let conn = builder
        .serve_connection(TokioIo::new(tcp), service)
        .with_upgrades();
    tokio::pin!(conn);
    let ended = tokio::select! {
        r = conn.as_mut() => Some(r),
        _ = stop.wait() => None,
    };
    match ended {
        Some(Err(e)) => tracing::debug!(%peer, error = %e, "connection ended"),
        Some(Ok(())) => {}
        None => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, conn).await;
        }
    }
}

/// What a connection over the cap reads before the close.
fn busy_response(max: usize) -> Vec<u8> {
    let body = format!("too many connections (limit {max})\n");
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}
