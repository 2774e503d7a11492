//! The node daemons the hub answers for: which they are (flags and DNS), whether
//! each answers, their streams and status, and idle connections for requests.
//!
//! Each peer has a monitor: the shared client's reconnecting task, watching the
//! node's streams and reading its status pushes, so the hub always knows which
//! nodes are up and what they hold without asking on every request.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, Weak};

use lookout_shared::client::{self, ClientEvent, Conn};
use lookout_shared::protocol::{ClientMsg, ClusterStatus, ServerMsg, ServerStatus, StreamInfo};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::sync::lock;

/// Idle connections kept per peer for searches; more are closed after use.
const POOL: usize = 4;

/// The name the hub gives itself in `hello` and `status`.
pub const CLUSTER: &str = "cluster";

/// One peer as the hub knows it.
struct Peer {
    /// The node name from the peer's hello, once reached.
    name: Option<String>,
    up: bool,
    streams: Vec<StreamInfo>,
    status: Option<ServerStatus>,
    pool: Vec<Conn>,
    /// Dropping these ends the monitor: the request channel closes the client
    /// task, the abort ends the reader.
    _requests: mpsc::UnboundedSender<ClientMsg>,
    monitor: JoinHandle<()>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.monitor.abort();
    }
}

/// A peer as a request sees it.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: String,
    /// Its node name when known, else its address: how replies name it.
    pub label: String,
}

/// Every peer, by URL.
pub struct Peers {
    token: Option<String>,
    inner: Mutex<BTreeMap<String, Peer>>,
    streams: watch::Sender<Arc<Vec<StreamInfo>>>,
    status: watch::Sender<Arc<ServerStatus>>,
}

impl Peers {
    pub fn new(token: Option<String>) -> Arc<Peers> {
        Arc::new(Peers {
            token,
            inner: Mutex::new(BTreeMap::new()),
            streams: watch::channel(Arc::new(Vec::new())).0,
            status: watch::channel(Arc::new(cluster_status(&BTreeMap::new()))).0,
        })
    }

    /// The token the node daemons require.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Makes the peer set exactly `urls`: new ones get a monitor, gone ones are
    /// dropped (with their connections). Call on a tokio runtime.
    pub fn set(self: &Arc<Self>, urls: &BTreeSet<String>) {
        let mut changed = false;
        {
            let mut inner = lock(&self.inner);
            let before = inner.len();
            inner.retain(|url, _| urls.contains(url));
            changed |= inner.len() != before;
            for url in urls {
                if inner.contains_key(url) {
                    continue;
                }
                tracing::info!(%url, "peer added");
                inner.insert(url.clone(), self.monitor(url));
                changed = true;
            }
        }
        if changed {
            self.publish();
        }
    }

    fn monitor(self: &Arc<Self>, url: &str) -> Peer {
        let (tx, mut rx) = client::spawn(url.to_string(), self.token.clone());
        // Re-opened by the client task on every reconnect.
        let _ = tx.send(ClientMsg::Streams { id: 1, watch: true });
        let weak: Weak<Peers> = Arc::downgrade(self);
        let key = url.to_string();
        let monitor = tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                let Some(peers) = weak.upgrade() else { return };
                peers.on_event(&key, ev);
            }
        });
        Peer {
            name: None,
            up: false,
            streams: Vec::new(),
            status: None,
            pool: Vec::new(),
            _requests: tx,
            monitor,
        }
    }

    fn on_event(&self, url: &str, ev: ClientEvent) {
        {
            let mut inner = lock(&self.inner);
            let Some(p) = inner.get_mut(url) else { return };
            match ev {
                ClientEvent::Connecting => return,
                ClientEvent::Connected(info) => {
                    tracing::info!(%url, node = %info.node, "peer up");
                    p.name = Some(info.node);
                    p.up = true;
                }
                ClientEvent::Disconnected { reason, .. } => {
                    if p.up {
                        tracing::warn!(%url, %reason, "peer down");
                    }
                    p.up = false;
                    p.streams.clear();
                    p.status = None;
                    p.pool.clear();
                }
                ClientEvent::Msg(ServerMsg::Streams { mut streams, .. }) => {
                    let node = p.name.clone().unwrap_or_default();
                    for s in &mut streams {
                        s.node.clone_from(&node);
                    }
                    p.streams = streams;
                }
                ClientEvent::Msg(ServerMsg::Status { status }) => p.status = Some(status),
                ClientEvent::Msg(_) => return,
            }
        }
        self.publish();
    }

    /// Recomputes the merged stream list and status; watchers hear of changes.
    fn publish(&self) {
        let inner = lock(&self.inner);
        let streams: Vec<StreamInfo> = inner
            .values()
            .filter(|p| p.up)
            .flat_map(|p| p.streams.iter().cloned())
            .collect();
        let status = cluster_status(&inner);
        drop(inner);
        self.streams.send_if_modified(|cur| {
            if **cur == streams {
                return false;
            }
            *cur = Arc::new(streams);
            true
        });
        self.status.send_if_modified(|cur| {
            if **cur == status {
                return false;
            }
            *cur = Arc::new(status);
            true
        });
    }

    /// Every peer, in URL order.
    pub fn targets(&self) -> Vec<Target> {
        lock(&self.inner)
            .iter()
            .map(|(url, p)| Target {
                url: url.clone(),
                label: p.name.clone().unwrap_or_else(|| url.clone()),
            })
            .collect()
    }

    /// An idle connection to `url`, if one is pooled.
    pub fn take(&self, url: &str) -> Option<Conn> {
        lock(&self.inner).get_mut(url).and_then(|p| p.pool.pop())
    }

    /// Gives a connection back after a request that went well.
    pub fn give(&self, url: &str, conn: Conn) {
        let mut inner = lock(&self.inner);
        if let Some(p) = inner.get_mut(url) {
            if p.pool.len() < POOL {
                p.pool.push(conn);
            }
        }
    }

    pub fn watch_streams(&self) -> watch::Receiver<Arc<Vec<StreamInfo>>> {
        self.streams.subscribe()
    }

    pub fn watch_status(&self) -> watch::Receiver<Arc<ServerStatus>> {
        self.status.subscribe()
    }

    /// Whether at least one node answers (the hub's readiness).
    pub fn any_up(&self) -> bool {
        lock(&self.inner).values().any(|p| p.up)
    }
}

/// The hub's status: the answering nodes' figures added up, and who answers.
fn cluster_status(peers: &BTreeMap<String, Peer>) -> ServerStatus {
    let mut s = ServerStatus {
        node: CLUSTER.into(),
        ..Default::default()
    };
    let mut c = ClusterStatus {
        total: u32::try_from(peers.len()).unwrap_or(u32::MAX),
        ..Default::default()
    };
    for (url, p) in peers {
        if !p.up {
            c.down.push(p.name.clone().unwrap_or_else(|| url.clone()));
            continue;
        }
        c.up += 1;
        if let Some(st) = &p.status {
            s.lines_per_sec += st.lines_per_sec;
            s.firing += st.firing;
            s.entries_indexed += st.entries_indexed;
        }
    }
    s.lines_per_sec = (s.lines_per_sec * 10.0).round() / 10.0;
    s.cluster = Some(c);
    s
}
