//! `lookoutd hub`: one endpoint for the whole cluster, holding no log data.
//!
//! Each node's daemon holds its own node's logs (the DaemonSet partitions them);
//! the hub speaks the same client protocol and answers for every node at once by
//! fanning each request out to the node daemons and merging their replies, as
//! Thanos Query does over its stores. `lookout` pointed at the hub sees the
//! cluster; pointed at one daemon, that node, as before.
//!
//! - [`peers`]: which daemons (`--peer`, `--peers-dns` re-resolved every
//!   `--peers-dns-interval`), whether each answers, their streams and status.
//! - [`merge`]: the exact merge of search pages across nodes, and the per-node
//!   cursors that page through it with no gap and no repeat.
//! - [`source`]: the fan-out with a deadline per node; a node that misses it is
//!   named in the reply's `missing` (a partial result) instead of holding it up.
//!
//! What it serves: `search`, `context`, `streams` (each carrying its node) and a
//! `status` with `cluster: {up, total, down}`. Live tail and rules through the hub
//! are refused for now. See docs/hub.md.

pub mod merge;
pub mod peers;
pub mod source;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use lookout_shared::duration::parse_duration;

use crate::metrics::Metrics;
use crate::serve::front::{self, FrontHandle};
use crate::serve::{ServeConfig, ServeError};
use peers::{Peers, CLUSTER};
use source::HubSource;

/// `lookoutd hub` flags; each also reads an environment variable.
#[derive(Debug, Clone, clap::Args)]
pub struct HubArgs {
    /// A node daemon to answer for, e.g. `ws://10.0.3.17:7700` (repeatable, or
    /// comma-separated).
    #[arg(long = "peer", env = "LOOKOUT_PEERS", value_delimiter = ',')]
    pub peers: Vec<String>,

    /// `NAME:PORT`: every address NAME resolves to is a node daemon (a headless
    /// Service over the DaemonSet); re-resolved every `--peers-dns-interval`, so
    /// nodes that join or leave are picked up.
    #[arg(long, env = "LOOKOUT_PEERS_DNS")]
    pub peers_dns: Option<String>,

    /// How often `--peers-dns` is resolved again.
    #[arg(long, env = "LOOKOUT_PEERS_DNS_INTERVAL", default_value = "5s", value_parser = parse_duration)]
    pub peers_dns_interval: Duration,

    /// The token the node daemons require (their `--token`).
    #[arg(long, env = "LOOKOUT_PEER_TOKEN")]
    pub peer_token: Option<String>,

    /// How long a node has to answer one request before the reply goes out
    /// without it, marked partial.
    #[arg(long, env = "LOOKOUT_PEER_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub peer_timeout: Duration,

    /// Websocket listener for clients.
    #[arg(long, env = "LOOKOUT_LISTEN", default_value = "127.0.0.1:7700")]
    pub listen: SocketAddr,

    /// Health, readiness (at least one node answers) and Prometheus metrics.
    #[arg(long, env = "LOOKOUT_METRICS_LISTEN", default_value = "0.0.0.0:7701")]
    pub metrics_listen: SocketAddr,

    /// Shared secret clients must present; required to bind a non-loopback address.
    #[arg(long, env = "LOOKOUT_TOKEN")]
    pub token: Option<String>,

    /// Allow a non-loopback `--listen` without a token.
    #[arg(long)]
    pub insecure: bool,
}

/// Why the hub did not start.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("the hub needs at least one --peer or --peers-dns")]
    NoPeers,
    #[error("--peer {0:?}: expected ws://HOST:PORT or wss://HOST:PORT")]
    BadPeer(String),
    #[error("--peers-dns {0:?}: expected NAME:PORT")]
    BadDns(String),
    #[error(transparent)]
    Serve(#[from] ServeError),
    #[error("starting the hub: {0}")]
    Start(String),
}

/// A running hub: its runtime, its peers, its listeners.
pub struct Hub {
    rt: Option<tokio::runtime::Runtime>,
    front: Option<FrontHandle>,
    peers: Arc<Peers>,
}

impl Hub {
    /// Starts discovering peers and serving; returns once the listeners are bound.
    pub fn start(args: HubArgs) -> Result<Hub, HubError> {
        if args.peers.is_empty() && args.peers_dns.is_none() {
            return Err(HubError::NoPeers);
        }
        for p in &args.peers {
            if !(p.starts_with("ws://") || p.starts_with("wss://")) {
                return Err(HubError::BadPeer(p.clone()));
            }
        }
        if let Some(d) = &args.peers_dns {
            match d.rsplit_once(':') {
                Some((name, port)) if !name.is_empty() && port.parse::<u16>().is_ok() => {}
                _ => return Err(HubError::BadDns(d.clone())),
            }
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("lookout-hub")
            .enable_all()
            .build()
            .map_err(|e| HubError::Start(e.to_string()))?;
        let metrics = Arc::new(Metrics::new().map_err(|e| HubError::Start(e.to_string()))?);
        let peers = Peers::new(args.peer_token.clone().filter(|t| !t.is_empty()));
        let mut cfg = ServeConfig::new(args.listen, CLUSTER);
        cfg.metrics_listen = Some(args.metrics_listen);
        cfg.token = args.token.clone().filter(|t| !t.is_empty());
        cfg.insecure = args.insecure;
        let front = rt.block_on(async {
            let statics: BTreeSet<String> = args.peers.iter().cloned().collect();
            peers.set(&statics);
            if let Some(dns) = args.peers_dns.clone() {
                let p = Arc::clone(&peers);
                tokio::spawn(discover(p, statics, dns, args.peers_dns_interval));
            }
            let source = Arc::new(HubSource {
                peers: Arc::clone(&peers),
                rt: tokio::runtime::Handle::current(),
                deadline: args.peer_timeout,
            });
            let ready_peers = Arc::clone(&peers);
            let ready: front::Ready = Arc::new(move || {
                if ready_peers.any_up() {
                    Ok(())
                } else {
                    Err("no node daemon answers".into())
                }
            });
            front::start(cfg, metrics, source, peers.watch_status(), ready).await
        })?;
        Ok(Hub {
            rt: Some(rt),
            front: Some(front),
            peers,
        })
    }

    /// The websocket listener's address (useful with port 0).
    pub fn addr(&self) -> Option<SocketAddr> {
        self.front.as_ref().map(FrontHandle::local_addr)
    }

    /// The metrics listener's address.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.front.as_ref().and_then(FrontHandle::metrics_addr)
    }

    /// The peers' addresses as the hub knows them now.
    pub fn peer_urls(&self) -> Vec<String> {
        self.peers.targets().into_iter().map(|t| t.url).collect()
    }

    /// Closes the clients and stops.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let (Some(rt), Some(front)) = (self.rt.as_ref(), self.front.take()) {
            rt.block_on(front.shutdown());
        }
        // Drops the monitors (their tasks end with the runtime).
        self.peers.set(&BTreeSet::new());
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(Duration::from_secs(2));
        }
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Re-resolves `dns` every `every`; the peers are `statics` plus every address it
/// gives. A failed lookup keeps the last answer (a DNS blip must not empty the
/// cluster).
async fn discover(peers: Arc<Peers>, statics: BTreeSet<String>, dns: String, every: Duration) {
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(100)));
    let mut last: Option<BTreeSet<String>> = None;
    loop {
        tick.tick().await;
        match tokio::net::lookup_host(dns.as_str()).await {
            Ok(addrs) => {
                let found: BTreeSet<String> = addrs.map(|a| format!("ws://{a}")).collect();
                if last.as_ref() != Some(&found) {
                    tracing::info!(%dns, peers = found.len(), "peers resolved");
                    let mut all = statics.clone();
                    all.extend(found.iter().cloned());
                    peers.set(&all);
                    last = Some(found);
                }
            }
            Err(e) => {
                tracing::warn!(%dns, error = %e, "cannot resolve the peers; keeping the last answer")
            }
        }
    }
}

/// `lookoutd hub`: runs until SIGTERM or SIGINT.
pub fn run(args: HubArgs) -> Result<(), HubError> {
    crate::app::init_tracing();
    let signals = crate::shutdown::on_signals().map_err(|e| HubError::Start(e.to_string()))?;
    let hub = Hub::start(args)?;
    signals.wait_blocking();
    tracing::info!("stopping");
    hub.shutdown();
    Ok(())
}
