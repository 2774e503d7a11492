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
//! At the cap, a new connection first takes the place of the oldest one that is
//! idle (no request in progress: silent since accept, or between keep-alive
//! requests): a probe or a scrape is answered in milliseconds, so sockets held
//! open by something that sends nothing are always the oldest idle ones, and the
//! kubelet's next probe is answered even while they flood the port. Only when
//! every connection is busy (or is a websocket session) is the newcomer refused.
//!
//! A connection's [`Slot`] is held until it closes, or, for a websocket upgrade,
//! until the websocket session it became ends.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use prometheus::{IntCounter, IntGauge};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use crate::shutdown::Shutdown;

/// After shutdown, how long an HTTP exchange in progress may take to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Pause after a failed `accept` (EMFILE, ENOBUFS...) before trying again, so a
/// process out of descriptors does not spin a core; short enough that the next
/// probe waits at most this long once a descriptor is free.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// How long a new connection waits for the slot of the idle one it displaced
/// (that connection's task only has to wake and drop its socket: microseconds).
const DISPLACE_WAIT: Duration = Duration::from_millis(500);

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
    /// Connections refused, or idle ones closed to make room, for the cap.
    pub refused: IntCounter,
}

/// One HTTP connection as the accept loop sees it: whether it is idle, and how to
/// close it to make room.
struct Conn {
    id: u64,
    /// Requests in progress.
    busy: AtomicUsize,
    /// Wakes the connection's task to close it.
    displace: Notify,
}

/// The port's HTTP connections (websocket sessions leave it once upgraded), oldest
/// first; at most the port's cap.
#[derive(Default)]
struct Conns {
    next_id: u64,
    list: VecDeque<Arc<Conn>>,
}

impl Conns {
    fn add(&mut self) -> Arc<Conn> {
        self.next_id += 1;
        let c = Arc::new(Conn {
            id: self.next_id,
            busy: AtomicUsize::new(0),
            displace: Notify::new(),
        });
        self.list.push_back(Arc::clone(&c));
        c
    }

    fn oldest_idle(&self) -> Option<Arc<Conn>> {
        self.list
            .iter()
            .find(|c| c.busy.load(Ordering::Acquire) == 0)
            .cloned()
    }
}

/// Takes a connection off the list when its task ends.
struct Listed(Arc<Mutex<Conns>>, Arc<Conn>);

impl Drop for Listed {
    fn drop(&mut self) {
        let id = self.1.id;
        crate::sync::lock(&self.0).list.retain(|c| c.id != id);
    }
}

/// Marks a request in progress for as long as it lives.
struct Busy(Arc<Conn>);

impl Busy {
    fn new(c: &Arc<Conn>) -> Busy {
        c.busy.fetch_add(1, Ordering::AcqRel);
        Busy(Arc::clone(c))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
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
    let conns = Arc::new(Mutex::new(Conns::default()));
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
        let permit = match Arc::clone(&slots).try_acquire_owned() {
            Ok(p) => Some(p),
            Err(_) => {
                // Counted either way: the cap turned a connection away.
                port.refused.inc();
                displace_idle(&conns, &slots).await
            }
        };
        let Some(permit) = permit else {
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
        let conn = crate::sync::lock(&conns).add();
        let listed = Listed(Arc::clone(&conns), Arc::clone(&conn));
        tokio::spawn(serve_one(
            tcp,
            peer,
            slot,
            listed,
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

/// At the cap: closes the oldest idle connection and takes its slot, if there is
/// one.
async fn displace_idle(
    conns: &Mutex<Conns>,
    slots: &Arc<Semaphore>,
) -> Option<OwnedSemaphorePermit> {
    let victim = crate::sync::lock(conns).oldest_idle()?;
    victim.displace.notify_one();
    tokio::time::timeout(DISPLACE_WAIT, Arc::clone(slots).acquire_owned())
        .await
        .ok()?
        .ok()
}

/// One connection: HTTP/1 with upgrades, the header timer armed, until it closes,
/// upgrades, or the server shuts down.
async fn serve_one(
    tcp: TcpStream,
    peer: SocketAddr,
    slot: Slot,
    listed: Listed,
    app: Router,
    header_read_timeout: Duration,
    stop: Shutdown,
) {
    let router = TowerToHyperService::new(app);
    let me = Arc::clone(&listed.1);
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        let busy = Busy::new(&me);
        req.extensions_mut().insert(ConnectInfo(peer));
        req.extensions_mut().insert(slot.clone());
        let answer = hyper::service::Service::call(&router, req);
        async move {
            let _busy = busy;
            answer.await
        }
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
        r = conn.as_mut() => Ended::Done(r),
        _ = listed.1.displace.notified() => Ended::Displaced,
        _ = stop.wait() => Ended::Shutdown,
    };
    match ended {
        Ended::Done(Err(e)) => tracing::debug!(%peer, error = %e, "connection ended"),
        Ended::Done(Ok(())) => {}
        Ended::Displaced => {
            tracing::debug!(%peer, "idle connection closed to make room for a new one")
        }
        Ended::Shutdown => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, conn).await;
        }
    }
}

enum Ended {
    Done(Result<(), hyper::Error>),
    Displaced,
    Shutdown,
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
