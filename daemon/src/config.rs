//! The daemon's flags. Every flag also reads an environment variable, so the
//! DaemonSet manifest can configure it without a custom command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

/// The collector's own type; the flag parses straight into it.
pub use crate::collect::ReadFrom;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "lookoutd",
    version,
    about = "Collects, indexes and serves a Kubernetes node's container logs"
)]
pub struct Config {
    /// Log root: holds the kubelet's `containers/` and `pods/`, or plain `*.log` files.
    #[arg(long, env = "LOOKOUT_LOG_DIR", default_value = "/var/log")]
    pub log_dir: PathBuf,

    /// Where the index, positions and rules live.
    #[arg(long, env = "LOOKOUT_DATA_DIR", default_value = "/var/lib/lookout")]
    pub data_dir: PathBuf,

    /// Where to start in files never seen before.
    #[arg(long, env = "LOOKOUT_READ_FROM", value_enum, default_value_t = ReadFrom::Beginning)]
    pub read_from: ReadFrom,

    /// Node name stamped on every entry (the DaemonSet passes the downward API's NODE_NAME).
    #[arg(long, env = "NODE_NAME")]
    pub node: Option<String>,

    /// Print every entry as one JSON line on stdout instead of indexing and serving.
    #[arg(long)]
    pub stdout: bool,

    /// Benchmark mode: collect, parse and prepare every entry as for the index, then
    /// drop it (no index, no server, positions not saved). Prints running totals
    /// `{"lines","bytes","seconds"}` as JSON lines on stdout; stop it with a signal.
    #[arg(long, conflicts_with = "stdout")]
    pub discard: bool,

    /// Longest logical line kept whole; longer ones are truncated with a marker.
    #[arg(long, env = "LOOKOUT_MAX_LINE_BYTES", default_value_t = 1024 * 1024)]
    pub max_line_bytes: usize,

    /// Most inotify watches the collector takes (the per-user limit is shared by
    /// every root process on the node); directories beyond it are polled every
    /// 250 ms. `0` disables inotify. Default: no cap of our own.
    #[arg(long, env = "LOOKOUT_MAX_WATCHES")]
    pub max_watches: Option<usize>,

    /// Websocket (and HTTP) listener for clients.
    #[arg(long, env = "LOOKOUT_LISTEN", default_value = "127.0.0.1:7700")]
    pub listen: SocketAddr,

    /// Health, readiness and Prometheus metrics (no log content here).
    #[arg(long, env = "LOOKOUT_METRICS_LISTEN", default_value = "0.0.0.0:7701")]
    pub metrics_listen: SocketAddr,

    /// Shared secret clients must present; required to bind a non-loopback address.
    #[arg(long, env = "LOOKOUT_TOKEN")]
    pub token: Option<String>,

    /// Allow a non-loopback `--listen` without a token.
    #[arg(long)]
    pub insecure: bool,

    /// Drop indexed data older than this.
    #[arg(long, env = "LOOKOUT_RETENTION", default_value = "7d")]
    pub retention: String,

    /// Keep the index under this many bytes (suffixes K, M, G, T; binary).
    #[arg(long, env = "LOOKOUT_MAX_DISK", default_value = "10G")]
    pub max_disk: String,

    /// Commit indexed batches at least this often.
    #[arg(long, env = "LOOKOUT_COMMIT_INTERVAL", default_value = "1s")]
    pub commit_interval: String,

    /// Alertmanager base URL (repeatable), e.g. http://alertmanager:9093.
    #[arg(
        long = "alertmanager-url",
        env = "LOOKOUT_ALERTMANAGER_URL",
        value_delimiter = ','
    )]
    pub alertmanager_urls: Vec<String>,

    /// Generic JSON webhook for alert notifications.
    #[arg(long, env = "LOOKOUT_WEBHOOK_URL")]
    pub webhook_url: Option<String>,

    /// Generate a realistic node log tree in a temp dir and collect it.
    #[arg(long)]
    pub demo: bool,
}
