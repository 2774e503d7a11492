//! The pipeline: the one place the daemon's stage threads and the channels between
//! them are made (the map is in the crate docs, [`crate`]).
//!
//! [`Pipeline::start`] spawns, in this order so that every consumer runs before its
//! producer: the index writer, the collector, ingest, the alert evaluator and
//! delivery, and the stream poller. A thread that cannot be spawned is a
//! [`StartError`] and whatever was already started is stopped again: the daemon never
//! reports ready with a stage missing.
//!
//! Each stage thread carries a watch (`StageWatch`) that notices when its stage ends
//! before shutdown (returned or panicked): the stage is logged as an error and
//! readiness turns false ([`Metrics::stage_stopped`]), so the kubelet's probe sees a
//! daemon that no longer ingests.
//!
//! Shutdown is one signal ([`crate::shutdown`]), and completion is noticed by
//! channels closing: ingest returns at the signal, which drops both its channels;
//! the collector's next send fails and it stops; the writer sees its channel close,
//! makes its final commit and returns. [`Pipeline::shutdown`] fires the signal and
//! joins the threads in that order.

use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::alert::AlertWorkers;
use crate::collect::{CollectError, Collector, CollectorConfig, CollectorHandle};
use crate::index::{Index, Recovered};
use crate::ingest::{self, Ended, IngestCounters, Sinks};
use crate::metrics::Metrics;
use crate::shutdown::{Shutdown, ShutdownTrigger};
use crate::streams::Streams;

/// Batches in flight between collector and ingest, and between ingest and the index
/// writer. Small: a full queue pauses the collector, it never drops. Each batch holds
/// up to 8,192 entries and [`crate::collect::MAX_BATCH_BYTES`] (`--batch-bytes`), so
/// during a backlog catch-up these queues are most of the daemon's memory: 16 per
/// queue peaked at 729 MiB, 4 at 375 MiB, at the same rate (before the byte bound).
pub const QUEUE: usize = 4;

/// How often the stream registry is told which files the collector follows.
const STREAM_POLL: Duration = Duration::from_secs(1);

/// What the pipeline is made of; everything is opened or built, nothing runs yet.
pub struct PipelineParts {
    /// The open index and what its last commit recorded (where the collector resumes).
    pub index: Index,
    pub recovered: Recovered,
    pub collector: CollectorConfig,
    /// Consumers of every ingested batch (live tail, streams, alerting), registered
    /// before the first batch.
    pub sinks: Sinks,
    /// The stream registry to keep told of followed files, if any.
    pub streams: Option<Arc<Streams>>,
    /// The alerting engine's loops, if alerting runs (built to listen to `shutdown`).
    pub alert: Option<AlertWorkers>,
    pub metrics: Arc<Metrics>,
    /// The one shutdown signal of every stage.
    pub shutdown: ShutdownTrigger,
}

/// Why the pipeline did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot start the {stage} thread: {source}")]
    Spawn {
        stage: &'static str,
        source: std::io::Error,
    },
    #[error("starting the collector on {path}: {source}")]
    Collector { path: PathBuf, source: CollectError },
}

/// The running pipeline. Dropping it shuts it down like [`Pipeline::shutdown`].
pub struct Pipeline {
    pub index: Index,
    pub counters: Arc<IngestCounters>,
    collector: Option<Arc<CollectorHandle>>,
    stages: Stages,
}

impl Pipeline {
    /// Starts every stage thread (see the module docs for the order).
    pub fn start(parts: PipelineParts) -> Result<Pipeline, StartError> {
        let mut stages = Stages {
            trigger: Arc::new(parts.shutdown),
            threads: Vec::new(),
            metrics: Arc::clone(&parts.metrics),
        };
        let (batch_tx, batch_rx) = crossbeam_channel::bounded(QUEUE);
        let (index_tx, index_rx) = crossbeam_channel::bounded(QUEUE);
        // On an early return, stop what runs before the channels above are dropped,
        // so no stage takes their closing for a failure.
        let armed = FireOnDrop(Some(Arc::clone(&stages.trigger)));

        let index = parts.index.clone();
        let shutdown = stages.trigger.listener();
        stages.spawn("index-writer", move || {
            index.run_writer(index_rx, &shutdown);
        })?;

        let log_dir = parts.collector.log_dir.clone();
        let collector = Collector::spawn_with_metrics(
            parts.collector,
            parts.recovered.positions,
            batch_tx,
            Some(parts.metrics.collect.clone()),
        )
        .map(Arc::new)
        .map_err(|source| StartError::Collector {
            path: log_dir,
            source,
        })?;

        let counters = Arc::new(IngestCounters::default());
        {
            let (counters, shutdown) = (Arc::clone(&counters), stages.trigger.listener());
            let (sinks, metrics) = (parts.sinks, Arc::clone(&parts.metrics));
            let next_seq = parts.recovered.next_seq;
            let patterns = parts.index.miners();
            stages.spawn("ingest", move || {
                let why = ingest::run(
                    batch_rx, next_seq, &patterns, sinks, index_tx, &counters, &shutdown,
                );
                if why == Ended::CollectorGone && !shutdown.is_triggered() {
                    tracing::error!("the collector stopped: nothing is collected any more");
                    metrics.set_collector_running(false);
                }
            })?;
        }

        if let Some(alert) = parts.alert {
            stages.spawn("alert-eval", alert.evaluator)?;
            if let Some(delivery) = alert.delivery {
                stages.spawn("alert-deliver", delivery)?;
            }
        }

        if let Some(streams) = parts.streams {
            let (collector, shutdown) = (Arc::clone(&collector), stages.trigger.listener());
            stages.spawn("lookout-streams", move || {
                streams.poll(STREAM_POLL, || collector.followed(), &shutdown);
            })?;
        }

        armed.disarm();
        parts.metrics.set_collector_running(true);
        Ok(Pipeline {
            index: parts.index,
            counters,
            collector: Some(collector),
            stages,
        })
    }

    /// Fires the shutdown signal and waits for every stage, the index writer's final
    /// commit included.
    pub fn shutdown(mut self) {
        self.stop();
    }

    pub(crate) fn stop(&mut self) {
        self.stages.stop();
        // The collector ended when ingest dropped its channel; this joins it.
        self.collector.take();
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The stage threads and their shutdown signal.
struct Stages {
    trigger: Arc<ShutdownTrigger>,
    threads: Vec<(&'static str, JoinHandle<()>)>,
    metrics: Arc<Metrics>,
}

impl Stages {
    /// Starts `f` on a thread named `name`, watched (see the module docs).
    fn spawn(
        &mut self,
        name: &'static str,
        f: impl FnOnce() + Send + 'static,
    ) -> Result<(), StartError> {
        let watch = StageWatch {
            name,
            shutdown: self.trigger.listener(),
            metrics: Arc::clone(&self.metrics),
        };
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let _watch = watch;
                f();
            })
            .map_err(|source| StartError::Spawn {
                stage: name,
                source,
            })?;
        self.threads.push((name, thread));
        Ok(())
    }

    /// Fires the signal, then joins in start order: ingest returns at once, the
    /// writer after its final commit.
    fn stop(&mut self) {
        self.trigger.fire();
        for (name, t) in self.threads.drain(..) {
            if t.join().is_err() {
                tracing::error!(stage = name, "stage thread panicked");
            }
        }
    }
}

impl Drop for Stages {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Lives on a stage's thread: when the thread ends before shutdown, the stage died.
struct StageWatch {
    name: &'static str,
    shutdown: Shutdown,
    metrics: Arc<Metrics>,
}

impl Drop for StageWatch {
    fn drop(&mut self) {
        if self.shutdown.is_triggered() {
            return;
        }
        if std::thread::panicking() {
            tracing::error!(stage = self.name, "stage panicked; the daemon is not ready");
        } else {
            tracing::error!(
                stage = self.name,
                "stage ended unexpectedly; the daemon is not ready"
            );
        }
        self.metrics.stage_stopped(self.name);
    }
}

/// Fires a trigger when dropped, unless disarmed.
struct FireOnDrop(Option<Arc<ShutdownTrigger>>);

impl FireOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for FireOnDrop {
    fn drop(&mut self) {
        if let Some(t) = &self.0 {
            t.fire();
        }
    }
}
