//! Wires collector, ingest, index, live, alert and serve together.
//!
//! [`Daemon::start`] starts the pipeline (collector → ingest → index writer) and
//! returns the handles the rest of the daemon needs: the [`Index`] to search, the
//! [`Sinks`] to register live-tail and alerting consumers on, the collector (stream
//! listing) and ingest counters. [`run`] is the binary: start, serve, wait for
//! SIGTERM/SIGINT, then [`Daemon::shutdown`] (final commit).

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context as _;
use lookout_shared::duration::parse_duration;

use crate::collect::{Collector, CollectorConfig, CollectorHandle};
use crate::config::Config;
use crate::index::{Index, IndexConfig};
use crate::ingest::{self, IngestCounters, Sinks};

/// Batches in flight between collector and ingest, and between ingest and the index
/// writer. Small: a full queue pauses the collector, it never drops.
const QUEUE: usize = 16;

/// The running pipeline and the handles other parts of the daemon use.
pub struct Daemon {
    pub index: Index,
    /// Register live-tail and alert sinks here; they see every batch from then on.
    pub sinks: Sinks,
    pub collector: CollectorHandle,
    pub counters: Arc<IngestCounters>,
    pub node: String,
    stop: Option<crossbeam_channel::Sender<()>>,
    ingest: Option<JoinHandle<()>>,
    writer: Option<JoinHandle<()>>,
}

impl Daemon {
    /// Opens the index and starts collector, ingest and index writer.
    pub fn start(config: &Config) -> anyhow::Result<Daemon> {
        let index_cfg = index_config(config)?;
        let (index, recovered) = Index::open(index_cfg)
            .with_context(|| format!("opening the index in {}", config.data_dir.display()))?;
        tracing::info!(
            data_dir = %config.data_dir.display(),
            next_seq = recovered.next_seq,
            "index opened"
        );
        let node = node_name(config);
        let (batch_tx, batch_rx) = crossbeam_channel::bounded(QUEUE);
        let (index_tx, index_rx) = crossbeam_channel::bounded(QUEUE);
        let (stop_tx, stop_rx) = crossbeam_channel::bounded(1);
        let writer = index.spawn_writer(index_rx);
        let sinks = Sinks::default();
        let ing = ingest::spawn(
            batch_rx,
            recovered.next_seq,
            sinks.clone(),
            index_tx,
            stop_rx,
        );
        let collector = Collector::spawn(
            CollectorConfig {
                log_dir: config.log_dir.clone(),
                read_from: config.read_from,
                node: node.clone(),
                max_line_bytes: config.max_line_bytes,
                partial_timeout: Duration::from_secs(5),
                rescan_interval: Duration::from_secs(30),
                max_batch: 8192,
            },
            recovered.positions,
            batch_tx,
        )
        .with_context(|| format!("starting the collector on {}", config.log_dir.display()))?;
        Ok(Daemon {
            index,
            sinks,
            collector,
            counters: ing.counters,
            node,
            stop: Some(stop_tx),
            ingest: Some(ing.thread),
            writer: Some(writer),
        })
    }

    /// Stops ingest (which stops the collector) and waits for the writer's final
    /// commit.
    pub fn shutdown(mut self) {
        self.stop_threads();
    }

    fn stop_threads(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.ingest.take() {
            let _ = t.join();
        }
        if let Some(t) = self.writer.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop_threads();
    }
}

/// Index settings from the flags.
pub fn index_config(config: &Config) -> anyhow::Result<IndexConfig> {
    Ok(IndexConfig {
        data_dir: config.data_dir.clone(),
        commit_interval: parse_duration(&config.commit_interval).context("--commit-interval")?,
        retention: parse_duration(&config.retention).context("--retention")?,
        max_disk: parse_size(&config.max_disk).context("--max-disk")?,
    })
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

/// A size with an optional binary suffix: `10G`, `512M`, `1.5T`, `10GiB`, `4096`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid size {0:?}: expected a number with an optional K, M, G or T suffix, e.g. 10G")]
pub struct SizeError(pub String);

/// Parses a size (binary units: `1K` = 1024 bytes).
pub fn parse_size(s: &str) -> Result<u64, SizeError> {
    let t = s.trim();
    let err = || SizeError(s.to_string());
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() {
        return Err(err());
    }
    let n: f64 = num.parse().map_err(|_| err())?;
    let unit = unit.trim();
    let mult: u64 = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KI" | "KIB" => 1 << 10,
        "M" | "MB" | "MI" | "MIB" => 1 << 20,
        "G" | "GB" | "GI" | "GIB" => 1 << 30,
        "T" | "TB" | "TI" | "TIB" => 1 << 40,
        _ => return Err(err()),
    };
    let v = n * mult as f64;
    if !v.is_finite() || v < 0.0 || v > u64::MAX as f64 {
        return Err(err());
    }
    Ok(v as u64)
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Runs the daemon until SIGTERM or SIGINT, then commits and exits.
pub fn run(config: Config) -> anyhow::Result<()> {
    if config.stdout {
        return crate::stdout_sink::run(&config);
    }
    init_tracing();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let daemon = Daemon::start(&config)?;
    // The websocket server starts here, on `rt`, with `daemon.index`, `daemon.sinks`,
    // `daemon.collector` and `daemon.counters`.
    rt.block_on(wait_for_signal())?;
    tracing::info!("stopping: final commit");
    daemon.shutdown();
    Ok(())
}

async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
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
}
