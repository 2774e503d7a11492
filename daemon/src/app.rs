//! The binary's composition: opens the index and the alert rules, builds the
//! consumers (live tail, stream registry, alerting), starts the [`Pipeline`] and the
//! server, and stops them in order.
//!
//! [`Lookoutd::start`] is the whole daemon (end-to-end tests run it in-process);
//! [`run`] is the binary: signals first, then start, wait for SIGTERM/SIGINT, then
//! [`Lookoutd::shutdown`] (clients closed, demo writer stopped, final commit).
//! `--stdout` ([`crate::stdout_sink`]) and `--discard` (here) run the collector
//! alone instead.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context as _;
use lookout_shared::protocol::RuleSpec;

use crate::alert::{AlertEngine, EngineConfig};
use crate::collect::Collector;
use crate::config::{collector_config, node_name, Config};
use crate::index::{Index, IndexConfig};
use crate::ingest::{self, Sinks};
use crate::live::{Live, LiveConfig};
use crate::metrics::Metrics;
use crate::pipeline::{Pipeline, PipelineParts, QUEUE};
use crate::serve::alerting::EngineAlerting;
use crate::serve::{ServeConfig, ServeContext, ServerHandle};
use crate::shutdown::ShutdownTrigger;
use crate::streams::Streams;

/// `--discard`: the collector and ingest's preparation (level, seq) at full speed,
/// with nothing stored, so a benchmark can time collection alone. Prints running
/// totals as JSON lines (at most four a second) until killed.
fn run_discard(config: &Config) -> anyhow::Result<()> {
    use std::io::Write as _;
    let shutdown = crate::shutdown::on_signals().context("installing signal handlers")?;
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
    while !shutdown.is_triggered() {
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
    Ok(())
}

/// A byte count from a flag, capped at what this platform can count.
fn usize_of(bytes: u64) -> usize {
    usize::try_from(bytes).unwrap_or(usize::MAX)
}

/// Index settings from the flags.
pub fn index_config(config: &Config) -> IndexConfig {
    IndexConfig {
        data_dir: config.data_dir.clone(),
        commit_interval: config.commit_interval,
        retention: config.retention,
        max_disk: config.max_disk,
        verify_every: crate::index::VERIFY_EVERY,
        verify_rate: crate::index::VERIFY_RATE,
    }
}

pub(crate) fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour only for a person at a terminal: `docker logs`, `kubectl logs` and log
    // shippers (Lookout itself among them) would otherwise store the escape codes.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init();
}

/// The whole daemon: pipeline, live tail, streams, alerting and the server, on its
/// own async runtime. `run` uses it; so do end-to-end tests (in-process daemon).
pub struct Lookoutd {
    pub pipeline: Pipeline,
    pub live: Arc<Live>,
    pub streams: Arc<Streams>,
    pub metrics: Arc<Metrics>,
    pub alerts: AlertEngine,
    pub node: String,
    server: Option<ServerHandle>,
    demo: Option<Demo>,
    rt: Option<tokio::runtime::Runtime>,
}

/// The simulated node of `--demo`: its writer thread and temp dir.
struct Demo {
    dir: PathBuf,
    stop: ShutdownTrigger,
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
        let stop = ShutdownTrigger::new();
        let thread = crate::sim::spawn(crate::sim::demo_config(logs), stop.listener())
            .context("starting the demo's log writer")?;
        tracing::info!(dir = %dir.display(), "demo: simulating a node");
        Ok(Demo {
            dir,
            stop,
            thread: Some(thread),
        })
    }

    fn stop(&mut self) {
        self.stop.fire();
        if let Some(t) = self.thread.take() {
            match t.join() {
                Ok(Err(e)) => tracing::warn!(error = %e, "demo log writer failed"),
                Err(_) => tracing::error!("demo log writer panicked"),
                Ok(Ok(_)) => {}
            }
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
        serve_cfg.allowed_origins = config.allow_origins.clone();
        serve_cfg.limits.max_connections = config.max_connections;
        serve_cfg.limits.max_metrics_connections = config.max_metrics_connections;
        serve_cfg.limits.header_read_timeout = config.header_timeout;
        serve_cfg.limits.idle_timeout = config.idle_timeout;
        serve_cfg.limits.sub_queue_bytes = usize_of(config.tail_queue_bytes);
        // Refuse an unsafe bind before touching any data.
        serve_cfg.check_security()?;

        let metrics = Arc::new(Metrics::new().context("registering the metrics")?);
        // The index first, so it is the first to claim an empty data dir.
        let (index, recovered) = Index::open(index_config(&config))
            .with_context(|| format!("opening the index in {}", config.data_dir.display()))?;
        tracing::info!(
            data_dir = %config.data_dir.display(),
            next_seq = recovered.next_seq,
            "index opened"
        );
        index.export_metrics(metrics.index.clone());
        let shutdown = ShutdownTrigger::new();
        let (alerts, alert_workers, warnings) = AlertEngine::start(
            &config.data_dir,
            EngineConfig {
                alertmanager_urls: config.alertmanager_urls.clone(),
                webhook_url: config.webhook_url.clone(),
                node: node.clone(),
                generator_url: format!("http://{}", config.listen),
                metrics: Some(metrics.alert.clone()),
                patterns: Some(index.miners()),
                ..EngineConfig::default()
            },
            shutdown.listener(),
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
        let seeded = alerts.seed_from_index(&index);
        if seeded > 0 {
            tracing::info!(rules = seeded, "alert windows refilled from the index");
        }
        let live = Arc::new(Live::with_metrics(
            LiveConfig {
                ring_bytes: usize_of(config.live_ring_bytes),
                queues_bytes: usize_of(config.live_queues_bytes),
                ..LiveConfig::default()
            },
            metrics.live.clone(),
        ));
        live.track_index(index.searchable_seq());
        let streams = Arc::new(Streams::with_metrics(metrics.streams.clone()));
        let sinks = Sinks::default();
        sinks.add(live.clone());
        sinks.add(streams.clone());
        sinks.add(Arc::new(alerts.clone()));

        let pipeline = Pipeline::start(PipelineParts {
            index: index.clone(),
            recovered,
            collector: collector_config(&config),
            sinks,
            streams: Some(streams.clone()),
            alert: Some(alert_workers),
            metrics: metrics.clone(),
            shutdown,
        })?;
        metrics.set_index_open(true);
        let ctx = ServeContext {
            index: Some(index.clone()),
            live: live.clone(),
            streams: streams.clone(),
            metrics: metrics.clone(),
            alerting: Some(Arc::new(EngineAlerting {
                engine: alerts.clone(),
                index,
            })),
        };
        let server = rt.block_on(crate::serve::start(serve_cfg, ctx))?;
        tracing::info!(
            listen = %server.local_addr(),
            metrics = ?server.metrics_addr(),
            node = %node,
            "lookoutd ready"
        );
        Ok(Lookoutd {
            pipeline,
            live,
            streams,
            metrics,
            alerts,
            node,
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

    /// Stops in order: clients closed (1001), the demo writer, then the pipeline
    /// (its final commit), then the runtime.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let (Some(rt), Some(server)) = (self.rt.as_ref(), self.server.take()) {
            rt.block_on(server.shutdown());
        }
        if let Some(d) = self.demo.as_mut() {
            d.stop();
        }
        self.pipeline.stop();
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(Duration::from_secs(5));
        }
    }
}

impl Drop for Lookoutd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs the daemon until SIGTERM or SIGINT, then commits and exits.
pub fn run(config: Config) -> anyhow::Result<()> {
    // Every mode logs on stderr (stdout is the data in `--stdout` and `--discard`):
    // a refused or unreadable file must be said whatever the mode.
    init_tracing();
    if config.stdout {
        return crate::stdout_sink::run(&config);
    }
    if config.discard {
        return run_discard(&config);
    }
    // Before anything is opened: a signal during startup then waits for it.
    let signals = crate::shutdown::on_signals().context("installing signal handlers")?;
    let d = Lookoutd::start(config)?;
    signals.wait_blocking();
    tracing::info!("stopping: final commit");
    d.shutdown();
    Ok(())
}
