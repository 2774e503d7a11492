//! The daemon's flags. Every flag also reads an environment variable, so the
//! DaemonSet manifest can configure it without a custom command line.
//!
//! Values are typed here, by clap value parsers: a bad `--retention 7x` or
//! `--max-disk ten` stops the daemon at the command line, with clap's error naming
//! the flag, before anything is opened; the rest of the daemon only sees
//! [`Duration`]s and byte counts.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use lookout_shared::duration::parse_duration;

/// The collector's own type; the flag parses straight into it.
pub use crate::collect::ReadFrom;
use crate::collect::{CollectorConfig, MultilineConfig};

#[derive(Debug, Clone, Parser)]
#[command(
    name = "lookoutd",
    version,
    about = "Collects, indexes and serves a Kubernetes node's container logs"
)]
pub struct Config {
    /// Another mode of the same binary (`lookoutd hub`); none runs the node daemon.
    #[command(subcommand)]
    pub mode: Option<Mode>,

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

    /// Multi-line events: `auto` joins stack traces, tracebacks, goroutine dumps
    /// and indented lines to the line they continue (per stream); `off` keeps one
    /// entry per line. See docs/collector.md.
    #[arg(long, env = "LOOKOUT_MULTILINE", value_enum, default_value_t = Multiline::Auto)]
    pub multiline: Multiline,

    /// Streams whose lines are never joined (repeatable, or comma-separated):
    /// `NAMESPACE` or `NAMESPACE/POD`, where `*` matches any run of characters,
    /// e.g. `kube-system`, `payments/legacy-*`, `*/batch-*`.
    #[arg(
        long = "multiline-exclude",
        env = "LOOKOUT_MULTILINE_EXCLUDE",
        value_delimiter = ','
    )]
    pub multiline_exclude: Vec<String>,

    /// How long an open multi-line event waits for a continuation line after its
    /// first line is read: the live latency a line that nothing continues pays.
    #[arg(
        long,
        env = "LOOKOUT_MULTILINE_HOLD",
        default_value = "50ms",
        value_parser = parse_duration
    )]
    pub multiline_hold: Duration,

    /// Most physical lines in one event; a longer one is split (each part but the
    /// last marked ` [continued]`).
    #[arg(
        long,
        env = "LOOKOUT_MULTILINE_MAX_LINES",
        default_value_t = crate::collect::multiline::DEFAULT_MAX_LINES,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub multiline_max_lines: u32,

    /// Most inotify watches the collector takes (the per-user limit is shared by
    /// every root process on the node); directories beyond it are polled every
    /// 250 ms. `0` disables inotify. Default: no cap of our own.
    #[arg(long, env = "LOOKOUT_MAX_WATCHES")]
    pub max_watches: Option<usize>,

    /// Close the fd of a log file that has not grown for this long (e.g. 5m, 30s);
    /// it is reopened by identity, losing nothing, when it grows.
    #[arg(long, env = "LOOKOUT_IDLE_CLOSE", default_value = "5m", value_parser = parse_duration)]
    pub idle_close: Duration,

    /// Most bytes the live-tail replay ring holds (entries the index may not serve
    /// yet, for resume and backfill), counted as the entries take in memory.
    #[arg(long, env = "LOOKOUT_LIVE_RING_BYTES", default_value = "64M", value_parser = parse_size)]
    pub live_ring_bytes: u64,

    /// Most bytes waiting in one live tail's queue; a tail whose client falls
    /// further behind misses entries and gets a `dropped` notice.
    #[arg(long, env = "LOOKOUT_TAIL_QUEUE_BYTES", default_value = "4M", value_parser = parse_size)]
    pub tail_queue_bytes: u64,

    /// Most bytes waiting in all live tail queues together.
    #[arg(long, env = "LOOKOUT_LIVE_QUEUES_BYTES", default_value = "128M", value_parser = parse_size)]
    pub live_queues_bytes: u64,

    /// Most bytes in one batch between the collector, ingest and the index writer
    /// (batches also stop at 8,192 entries); a few batches are in flight at once.
    #[arg(long, env = "LOOKOUT_BATCH_BYTES", default_value = "8M", value_parser = parse_size)]
    pub batch_bytes: u64,

    /// Websocket (and HTTP) listener for clients.
    #[arg(long, env = "LOOKOUT_LISTEN", default_value = "127.0.0.1:7700")]
    pub listen: SocketAddr,

    /// Health, readiness and Prometheus metrics (no log content here).
    #[arg(long, env = "LOOKOUT_METRICS_LISTEN", default_value = "0.0.0.0:7701")]
    pub metrics_listen: SocketAddr,

    /// Shared secret clients must present; required to bind a non-loopback address.
    #[arg(long, env = "LOOKOUT_TOKEN")]
    pub token: Option<String>,

    /// Browser origins allowed to open the websocket (repeatable), e.g.
    /// `https://grafana.example`. An upgrade carrying any other `Origin` header is
    /// refused: otherwise any web page open in the operator's browser while
    /// `kubectl port-forward` runs could read every log. `lookout` sends none.
    #[arg(
        long = "allow-origin",
        env = "LOOKOUT_ALLOW_ORIGIN",
        value_delimiter = ','
    )]
    pub allow_origins: Vec<String>,

    /// Websocket-port connections at once; more are answered HTTP 503 and closed.
    #[arg(
        long,
        env = "LOOKOUT_MAX_CONNECTIONS",
        default_value_t = crate::serve::limits::MAX_CONNECTIONS,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..)
    )]
    pub max_connections: usize,

    /// Metrics-port connections at once, counted apart so a busy websocket port
    /// never starves the probes; more are answered HTTP 503 and closed.
    #[arg(
        long,
        env = "LOOKOUT_MAX_METRICS_CONNECTIONS",
        default_value_t = crate::serve::limits::MAX_METRICS_CONNECTIONS,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..)
    )]
    pub max_metrics_connections: usize,

    /// Time a client has to send a request's headers, on both ports; also how long
    /// an HTTP keep-alive connection may wait idle for its next request.
    #[arg(
        long,
        env = "LOOKOUT_HEADER_TIMEOUT",
        default_value = "10s",
        value_parser = parse_duration
    )]
    pub header_timeout: Duration,

    /// A websocket session with no subscription open that sends no request for
    /// this long is closed (code 4010).
    #[arg(
        long,
        env = "LOOKOUT_IDLE_TIMEOUT",
        default_value = "5m",
        value_parser = parse_duration
    )]
    pub idle_timeout: Duration,

    /// Allow a non-loopback `--listen` without a token.
    #[arg(long)]
    pub insecure: bool,

    /// Drop indexed data older than this (e.g. 7d, 36h).
    #[arg(long, env = "LOOKOUT_RETENTION", default_value = "7d", value_parser = parse_duration)]
    pub retention: Duration,

    /// Keep the index under this many bytes (suffixes K, M, G, T; binary).
    #[arg(long, env = "LOOKOUT_MAX_DISK", default_value = "10G", value_parser = parse_size)]
    pub max_disk: u64,

    /// Commit indexed batches at least this often (e.g. 1s, 200ms).
    #[arg(
        long,
        env = "LOOKOUT_COMMIT_INTERVAL",
        default_value = "1s",
        value_parser = parse_duration
    )]
    pub commit_interval: Duration,

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

/// The modes besides the node daemon.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Mode {
    /// Answer for every node at once: fan requests out to the node daemons and
    /// merge their replies; keeps no log data (docs/hub.md).
    Hub(crate::hub::HubArgs),
}

/// `--multiline`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Multiline {
    /// Join continuation lines into the event they continue.
    Auto,
    /// One entry per physical line.
    Off,
}

/// A size that did not parse (`--max-disk`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid size {input:?} ({reason}): expected a number with an optional K, M, G or T \
     suffix (binary: 1K = 1024 bytes), e.g. 10G"
)]
pub struct SizeError {
    pub input: String,
    pub reason: String,
}

/// Parses a byte size with an optional binary suffix: `10G`, `512M`, `1.5T`,
/// `10GiB`, `4096`. `K`, `KB` and `KiB` all mean 1024 bytes, as operators sizing a
/// disk expect. The arithmetic is exact (`parse-size` works in integers, so `1.1T` is
/// not rounded through a float).
pub fn parse_size(s: &str) -> Result<u64, SizeError> {
    parse_size::Config::new()
        .with_binary()
        .parse_size(s.trim())
        .map_err(|e| SizeError {
            input: s.to_string(),
            reason: e.to_string(),
        })
}

/// The collector's settings from the flags: the one construction the daemon,
/// `--stdout` and `--discard` share, so every mode runs the same collector (node
/// name fallback included) and `--discard` measures the daemon's.
pub fn collector_config(config: &Config) -> CollectorConfig {
    CollectorConfig {
        read_from: config.read_from,
        max_line_bytes: config.max_line_bytes,
        max_watches: config.max_watches.unwrap_or(usize::MAX),
        idle_close: config.idle_close,
        max_batch_bytes: usize::try_from(config.batch_bytes).unwrap_or(usize::MAX),
        multiline: MultilineConfig {
            enabled: config.multiline == Multiline::Auto,
            exclude: config.multiline_exclude.clone(),
            hold: config.multiline_hold,
            max_lines: config.multiline_max_lines,
        },
        ..CollectorConfig::new(config.log_dir.clone(), node_name(config))
    }
}

/// `--node`, else the host name, else `localhost`.
pub fn node_name(config: &Config) -> String {
    if let Some(n) = config.node.as_deref().filter(|n| !n.is_empty()) {
        return n.to_string();
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10G").unwrap(), 10 << 30);
        assert_eq!(parse_size("10GiB").unwrap(), 10 << 30);
        assert_eq!(parse_size("512M").unwrap(), 512 << 20);
        assert_eq!(parse_size("1.5K").unwrap(), 1536);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert!(parse_size("ten").is_err());
        assert!(parse_size("10X").is_err());
        assert!(parse_size("").is_err());
    }

    /// Bad values stop at the command line, and clap's message names the flag.
    #[test]
    fn bad_values_are_rejected_naming_the_flag() {
        for (flag, value) in [
            ("--retention", "7x"),
            ("--max-disk", "ten"),
            ("--commit-interval", "soon"),
        ] {
            let err = Config::try_parse_from(["lookoutd", flag, value]).unwrap_err();
            assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
            let text = err.to_string();
            assert!(text.contains(flag) && text.contains(value), "{text}");
        }
        let c = Config::try_parse_from(["lookoutd", "--retention", "36h", "--max-disk", "512M"])
            .unwrap();
        assert_eq!(c.retention, Duration::from_secs(36 * 3600));
        assert_eq!(c.max_disk, 512 << 20);
        assert_eq!(c.commit_interval, Duration::from_secs(1));
    }

    /// `--multiline` flags reach the collector; excludes are repeatable and
    /// comma-separated.
    #[test]
    fn multiline_flags() {
        let c = collector_config(&Config::try_parse_from(["lookoutd"]).unwrap());
        assert_eq!(c.multiline, MultilineConfig::default());
        let c = Config::try_parse_from([
            "lookoutd",
            "--multiline",
            "off",
            "--multiline-exclude",
            "kube-system,payments/legacy-*",
            "--multiline-exclude",
            "*/batch-*",
            "--multiline-hold",
            "20ms",
        ])
        .unwrap();
        let m = collector_config(&c).multiline;
        assert!(!m.enabled);
        assert_eq!(m.exclude, ["kube-system", "payments/legacy-*", "*/batch-*"]);
        assert_eq!(m.hold, Duration::from_millis(20));
        let err = Config::try_parse_from(["lookoutd", "--multiline", "maybe"]).unwrap_err();
        assert!(err.to_string().contains("--multiline"), "{err}");
    }

    /// The connection flags' defaults are the server's limits, and a cap of 0
    /// (which would refuse every connection) stops at the command line.
    #[test]
    fn connection_flags() {
        let c = Config::try_parse_from(["lookoutd"]).unwrap();
        let l = crate::serve::Limits::default();
        assert_eq!(c.max_connections, l.max_connections);
        assert_eq!(c.max_metrics_connections, l.max_metrics_connections);
        assert_eq!(c.header_timeout, l.header_read_timeout);
        assert_eq!(c.idle_timeout, l.idle_timeout);
        let err = Config::try_parse_from(["lookoutd", "--max-connections", "0"]).unwrap_err();
        assert!(err.to_string().contains("--max-connections"), "{err}");
        let c = Config::try_parse_from(["lookoutd", "--header-timeout", "200ms"]).unwrap();
        assert_eq!(c.header_timeout, Duration::from_millis(200));
    }
}
