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

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use lookout_shared::protocol::RuleSpec;

use crate::alert::{AlertEngine, EngineConfig};
use crate::collect::{Collector, CollectorConfig, CollectorHandle};
use crate::config::Config;
use crate::index::{Index, IndexConfig};
use crate::ingest::{self, IngestCounters, Sinks};
use crate::live::{Live, LiveConfig};
use crate::metrics::Metrics;
use crate::serve::alerting::EngineAlerting;
use crate::serve::{ServeConfig, ServeContext, ServerHandle};
use crate::streams::Streams;

/// Batches in flight between collector and ingest, and between ingest and the index
/// writer. Small: a full queue pauses the collector, it never drops. Each batch holds
/// up to 8,192 entries, so during a backlog catch-up these queues are most of the
/// daemon's memory: 16 per queue peaked at 729 MiB, 4 at 375 MiB, at the same rate.
const QUEUE: usize = 4;

/// The running pipeline and the handles other parts of the daemon use.
pub struct Daemon {
    pub index: Index,
    /// Register live-tail and alert sinks here; they see every batch from then on.
    pub sinks: Sinks,
    pub collector: Arc<CollectorHandle>,
    pub counters: Arc<IngestCounters>,
    pub node: String,
    stop: Option<crossbeam_channel::Sender<()>>,
    ingest: Option<JoinHandle<()>>,
    writer: Option<JoinHandle<()>>,
}

impl Daemon {
    /// Opens the index and starts collector, ingest and index writer.
    pub fn start(config: &Config) -> anyhow::Result<Daemon> {
        Self::start_with_sinks(config, Sinks::default())
    }

    /// Like [`Daemon::start`], with consumers registered before the first batch, so
    /// live tail, streams and alerting see every entry from the very start.
    pub fn start_with_sinks(config: &Config, sinks: Sinks) -> anyhow::Result<Daemon> {
        Self::start_with(config, |_| Ok(sinks))
    }

    /// Opens the index first (so it is the first to claim an empty data dir), then
    /// builds the sinks with `make_sinks`, then starts the pipeline.
    pub fn start_with(
        config: &Config,
        make_sinks: impl FnOnce(&Index) -> anyhow::Result<Sinks>,
    ) -> anyhow::Result<Daemon> {
        let index_cfg = index_config(config);
        let (index, recovered) = Index::open(index_cfg)
            .with_context(|| format!("opening the index in {}", config.data_dir.display()))?;
        tracing::info!(
            data_dir = %config.data_dir.display(),
            next_seq = recovered.next_seq,
            "index opened"
        );
        let sinks = make_sinks(&index)?;
        let collector_cfg = collector_config(config);
        let node = collector_cfg.node.clone();
        let (batch_tx, batch_rx) = crossbeam_channel::bounded(QUEUE);
        let (index_tx, index_rx) = crossbeam_channel::bounded(QUEUE);
        let (stop_tx, stop_rx) = crossbeam_channel::bounded(1);
        let writer = index.spawn_writer(index_rx);
        let ing = ingest::spawn(
            batch_rx,
            recovered.next_seq,
            sinks.clone(),
            index_tx,
            stop_rx,
        );
        let collector = Collector::spawn(collector_cfg, recovered.positions, batch_tx)
            .with_context(|| format!("starting the collector on {}", config.log_dir.display()))?;
        Ok(Daemon {
            index,
            sinks,
            collector: Arc::new(collector),
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

/// The collector's settings from the flags: the one construction the daemon,
/// `--stdout` and `--discard` share, so every mode runs the same collector (node
/// name fallback included) and `--discard` measures the daemon's.
pub fn collector_config(config: &Config) -> CollectorConfig {
    CollectorConfig {
        read_from: config.read_from,
        max_line_bytes: config.max_line_bytes,
        max_watches: config.max_watches.unwrap_or(usize::MAX),
        ..CollectorConfig::new(config.log_dir.clone(), node_name(config))
    }
}

/// `--discard`: the collector and ingest's preparation (level, seq) at full speed,
/// with nothing stored, so a benchmark can time collection alone. Prints running
/// totals as JSON lines (at most four a second) until killed.
fn run_discard(config: &Config) -> anyhow::Result<()> {
    use std::io::Write as _;
    let (tx, rx) = crossbeam_channel::bounded(QUEUE);
    let _collector = Collector::spawn(
        collector_config(config),
        crate::collect::Positions::default(),
        tx,
    )
    .with_context(|| format!("starting the collector on {}", config.log_dir.display()))?;
    let start = std::time::Instant::now();
    let mut last_print = start;
    let (mut seq, mut lines, mut bytes, mut printed) = (0u64, 0u64, 0u64, u64::MAX);
    let mut out = std::io::stdout().lock();
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(batch) => {
                let b = ingest::prepare(batch, &mut seq);
                lines += b.entries.len() as u64;
                bytes += b
                    .entries
                    .iter()
                    .map(|e| e.message.len() as u64)
                    .sum::<u64>();
                if last_print.elapsed() < Duration::from_millis(250) {
                    continue;
                }
            }
            // Idle: the totals are final until more is written.
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                anyhow::bail!("the collector stopped unexpectedly")
            }
        }
        if lines != printed {
            let t = start.elapsed().as_secs_f64();
            writeln!(
                out,
                r#"{{"lines":{lines},"bytes":{bytes},"seconds":{t:.3}}}"#
            )
            .and_then(|()| out.flush())
            .context("writing to stdout")?;
            printed = lines;
            last_print = std::time::Instant::now();
        }
    }
}

/// Index settings from the flags.
pub fn index_config(config: &Config) -> IndexConfig {
    IndexConfig {
        data_dir: config.data_dir.clone(),
        commit_interval: config.commit_interval,
        retention: config.retention,
        max_disk: config.max_disk,
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

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// The whole daemon: pipeline, live tail, streams, alerting and the server, on its
/// own async runtime. `run` uses it; so do end-to-end tests (in-process daemon).
pub struct Lookoutd {
    pub daemon: Daemon,
    pub live: Arc<Live>,
    pub streams: Arc<Streams>,
    pub metrics: Arc<Metrics>,
    pub alerts: AlertEngine,
    server: Option<ServerHandle>,
    demo: Option<Demo>,
    rt: Option<tokio::runtime::Runtime>,
}

/// The simulated node of `--demo`: its writer thread and temp dir.
struct Demo {
    dir: PathBuf,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<JoinHandle<std::io::Result<crate::sim::Written>>>,
}

impl Demo {
    fn start(config: &mut Config) -> anyhow::Result<Demo> {
        let dir = std::env::temp_dir().join(format!("lookout-demo-{}", std::process::id()));
        let logs = dir.join("node");
        std::fs::create_dir_all(&logs)
            .with_context(|| format!("creating the demo tree in {}", logs.display()))?;
        config.log_dir = logs.clone();
        if config.data_dir == Path::new(DEFAULT_DATA_DIR) {
            config.data_dir = dir.join("data");
        }
        if config.node.is_none() {
            config.node = Some("demo-node".into());
        }
        let (stop, thread) = crate::sim::spawn(crate::sim::demo_config(logs));
        tracing::info!(dir = %dir.display(), "demo: simulating a node");
        Ok(Demo {
            dir,
            stop,
            thread: Some(thread),
        })
    }

    fn stop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The default `--data-dir`; `--demo` swaps it for a temp dir.
const DEFAULT_DATA_DIR: &str = "/var/lib/lookout";

/// A rule the demo starts with, so the Alerts screen has something to show.
fn demo_rule() -> RuleSpec {
    RuleSpec {
        name: "PaymentsCardDeclined".into(),
        query: "namespace:payments AND \"card declined\"".into(),
        window: "1m".into(),
        condition: "> 3".into(),
        for_: "0s".into(),
        group_by: vec!["pod".into()],
        severity: "critical".into(),
        labels: [("team".to_string(), "payments".to_string())].into(),
        annotations: [(
            "summary".to_string(),
            "{{ $value }} card declines in {{ $labels.pod }}".to_string(),
        )]
        .into(),
        enabled: true,
    }
}

impl Lookoutd {
    /// Starts everything; returns once the server listens.
    pub fn start(mut config: Config) -> anyhow::Result<Lookoutd> {
        let demo = if config.demo {
            Some(Demo::start(&mut config)?)
        } else {
            None
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("lookout-rt")
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        let node = node_name(&config);
        let mut serve_cfg = ServeConfig::new(config.listen, node.clone());
        serve_cfg.metrics_listen = Some(config.metrics_listen);
        serve_cfg.token = config.token.clone().filter(|t| !t.is_empty());
        serve_cfg.insecure = config.insecure;
        // Refuse an unsafe bind before touching any data.
        serve_cfg.check_security()?;

        let metrics = Arc::new(Metrics::new());
        let live = Arc::new(Live::new(LiveConfig::default()));
        let streams = Arc::new(Streams::new());
        let mut engine = None;
        let daemon = Daemon::start_with(&config, |index| {
            let (alerts, warnings) = AlertEngine::open(
                &config.data_dir,
                EngineConfig {
                    alertmanager_urls: config.alertmanager_urls.clone(),
                    webhook_url: config.webhook_url.clone(),
                    node: node.clone(),
                    generator_url: format!("http://{}", config.listen),
                    ..EngineConfig::default()
                },
            )
            .context("opening the alert rules")?;
            for w in warnings {
                tracing::warn!("{w}");
            }
            if demo.is_some() && alerts.list().is_empty() {
                if let Err(e) = alerts.put(demo_rule()) {
                    tracing::warn!("demo rule: {}", e.to_error_body().message);
                }
            }
            // Before the first batch: the index holds exactly what predates this run.
            let seeded = alerts.seed_from_index(index);
            if seeded > 0 {
                tracing::info!(rules = seeded, "alert windows refilled from the index");
            }
            live.track_index(index.searchable_seq());
            let sinks = Sinks::default();
            sinks.add(live.clone());
            sinks.add(streams.clone());
            sinks.add(Arc::new(alerts.clone()));
            engine = Some(alerts);
            Ok(sinks)
        })?;
        let alerts = engine.context("alert engine not opened")?;
        metrics.set_index_open(true);
        metrics.set_collector_running(true);
        let collector = daemon.collector.clone();
        streams
            .spawn_poller(Duration::from_secs(1), move || collector.followed())
            .context("starting the stream poller")?;
        let ctx = ServeContext {
            index: Some(daemon.index.clone()),
            live: live.clone(),
            streams: streams.clone(),
            metrics: metrics.clone(),
            alerting: Some(Arc::new(EngineAlerting {
                engine: alerts.clone(),
                index: daemon.index.clone(),
            })),
        };
        let server = rt.block_on(crate::serve::start(serve_cfg, ctx))?;
        // Figures owned by other stages, copied into the metrics once a second.
        {
            let (metrics, alerts, collector) =
                (metrics.clone(), alerts.clone(), daemon.collector.clone());
            rt.spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                loop {
                    tick.tick().await;
                    let st = alerts.stats();
                    let firing = u64::from(alerts.firing());
                    metrics
                        .rule_evaluations
                        .store(st.ticks.saturating_mul(st.rules as u64), Ordering::Relaxed);
                    metrics.alerts_firing.store(firing, Ordering::Relaxed);
                    metrics
                        .parse_errors
                        .store(collector.stats().bad_lines, Ordering::Relaxed);
                }
            });
        }
        tracing::info!(
            listen = %server.local_addr(),
            metrics = ?server.metrics_addr(),
            node = %node,
            "lookoutd ready"
        );
        Ok(Lookoutd {
            daemon,
            live,
            streams,
            metrics,
            alerts,
            server: Some(server),
            demo,
            rt: Some(rt),
        })
    }

    /// The websocket listener's address.
    pub fn addr(&self) -> Option<SocketAddr> {
        self.server.as_ref().map(ServerHandle::local_addr)
    }

    /// The health/metrics listener's address.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.server.as_ref().and_then(ServerHandle::metrics_addr)
    }

    /// Blocks until SIGTERM or SIGINT.
    pub fn wait_for_signal(&self) -> anyhow::Result<()> {
        match &self.rt {
            Some(rt) => rt.block_on(wait_for_signal()),
            None => Ok(()),
        }
    }

    /// Closes clients, stops the demo writer, then commits what was collected.
    pub fn shutdown(mut self) {
        if let (Some(rt), Some(server)) = (self.rt.as_ref(), self.server.take()) {
            rt.block_on(server.shutdown());
        }
        if let Some(d) = self.demo.as_mut() {
            d.stop();
        }
        // Dropping `self` stops the pipeline (final commit), then the runtime.
    }
}

/// Runs the daemon until SIGTERM or SIGINT, then commits and exits.
pub fn run(config: Config) -> anyhow::Result<()> {
    if config.stdout {
        return crate::stdout_sink::run(&config);
    }
    if config.discard {
        return run_discard(&config);
    }
    init_tracing();
    let d = Lookoutd::start(config)?;
    d.wait_for_signal()?;
    tracing::info!("stopping: final commit");
    d.shutdown();
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
