//! Alert rules, their continuous evaluation, and delivery to Alertmanager and
//! webhooks (issue 5). `docs/alerting.md` is the user's guide.
//!
//! # API (what the server and the app call)
//!
//! ```text
//! AlertEngine::open(data_dir, EngineConfig) -> Result<(AlertEngine, Vec<String> /*warnings*/), AlertError>
//! engine.list()                      -> Vec<RuleStatus>              ListRules
//! engine.get(name)                   -> Result<RuleStatus, AlertError>  GetRule
//! engine.put(RuleSpec)               -> Result<RuleStatus, AlertError>  PutRule (create or replace)
//! engine.put_all(Vec<RuleSpec>)      -> Result<Vec<RuleStatus>, AlertError> (a whole file, atomically)
//! engine.validate(&RuleSpec)         -> Result<(), AlertError>          ValidateRule
//! engine.delete(name)                -> Result<(), AlertError>          DeleteRule
//! engine.set_enabled(name, bool)     -> Result<RuleStatus, AlertError>  SetRuleEnabled
//! engine.test(&RuleSpec, &TimeRange, &Index) -> Result<RuleTestResult, AlertError>  TestRule (blocking)
//! engine.alerts()                    -> Vec<Alert>                      Alerts
//! engine.subscribe()                 -> broadcast::Receiver<Alert>      Alerts{watch} (one per change)
//! engine.stats()                     -> EngineStats                     metrics
//! AlertError::to_error_body()        -> ErrorBody (bad_rule + field/position, not_found, bad_range, …)
//! impl EntrySink for AlertEngine     (ingest hands every batch; never blocks)
//! ```
//!
//! All methods are cheap and non-blocking except `test` (index reads) and the
//! mutating ones (an fsync of `rules.yaml`): call those from a blocking thread.
//!
//! # Inside
//!
//! - [`rules`]: a [`RuleSpec`] into a [`rules::CompiledRule`] (the validation and
//!   the templates are `lookout_shared::rules`, shared with the CLI).
//! - [`store`]: `rules.yaml`, atomic writes, corrupt files set aside.
//! - [`eval`]: per-second counts, the state machine, the history preview.
//! - [`deliver`]: Alertmanager v2 and webhook sinks with queues and backoff.
//! - [`http`]: the HTTP client they post with (a deadline and a body bound each).
//! - `evaluator`: the evaluator thread's loop.
//! - `config`: [`EngineConfig`], [`AlertError`] and [`EngineStats`].
//! - `metrics`: [`AlertMetrics`], what the engine exports.
//!
//! Threads: `publish` only `try_send`s the batch (an `Arc` clone per entry) to the
//! evaluator thread; a full channel drops the batch and counts it. The evaluator
//! matches entries against rules, ticks every `eval_interval`, publishes a snapshot
//! for the API and state changes to subscribers, and enqueues notifications; one
//! more thread runs the sinks on a small tokio runtime. [`AlertEngine::start`] hands
//! both loops to the daemon's pipeline, which runs and watches them;
//! [`AlertEngine::open`] runs them itself (tools, tests).

mod config;
pub mod deliver;
pub mod eval;
mod evaluator;
pub mod http;
mod metrics;
mod novelty;
mod preview;
pub mod rules;
pub mod store;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Sender, TrySendError};
use lookout_shared::protocol::{
    Alert, AlertState, RuleSpec, RuleStatus, RuleTestResult, TimeRange,
};
use lookout_shared::range::Bounds;
use lookout_shared::{LogEntry, Timestamp};
use tokio::sync::broadcast;

use self::http::HttpUrl;
use crate::index::Index;
use crate::ingest::EntrySink;
use crate::shutdown::{Shutdown, ShutdownTrigger};
use crate::sync::lock;
pub use config::{AlertError, EngineConfig, EngineStats};
use deliver::{Sink, SinkKind};
use eval::EvalParams;
use evaluator::Evaluator;
pub use metrics::AlertMetrics;
use rules::{compile, compile_all, CompiledRule, RuleError, RuleKind};

enum Cmd {
    Upsert(Box<CompiledRule>),
    Delete(String),
    /// Per-second counts read from the index at startup for an ungrouped rule:
    /// `(rule name, query text, first second, counts)`. The query text guards against
    /// a rule replaced between the read and the evaluator applying it.
    Seed(String, String, i64, Vec<u64>),
}

struct Shared {
    data_dir: PathBuf,
    rules: Mutex<Vec<RuleSpec>>,
    snapshot: Mutex<BTreeMap<String, Vec<Alert>>>,
    events: broadcast::Sender<Alert>,
    sinks: Vec<Arc<Sink>>,
    dropped_entries: AtomicU64,
    eval_cpu_ns: AtomicU64,
    ticks: AtomicU64,
    /// No enabled rule: `publish` skips even the channel.
    idle: AtomicBool,
    metrics: Option<AlertMetrics>,
}

struct Inner {
    shared: Arc<Shared>,
    batch_tx: Sender<Vec<Arc<LogEntry>>>,
    cmd_tx: Sender<Cmd>,
    /// The workers' threads when [`AlertEngine::open`] started them itself.
    own_threads: Mutex<Option<(ShutdownTrigger, Vec<JoinHandle<()>>)>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some((trigger, threads)) = lock(&self.own_threads).take() {
            trigger.fire();
            for t in threads {
                let _ = t.join();
            }
        }
    }
}

/// The engine's loops, for a caller that runs them on threads of its own (the
/// pipeline does, so that it notices when one ends): the evaluator, and delivery
/// when sinks are configured. Both return at shutdown.
pub struct AlertWorkers {
    pub evaluator: Box<dyn FnOnce() + Send>,
    pub delivery: Option<Box<dyn FnOnce() + Send>>,
}

/// The alerting engine; clones share one engine, which stops when the last is dropped.
#[derive(Clone)]
pub struct AlertEngine {
    inner: Arc<Inner>,
}

/// Batches waiting for the evaluator; beyond this, batches are dropped and counted.
const BATCH_QUEUE: usize = 4096;

impl AlertEngine {
    /// Loads `rules.yaml` from `data_dir` and starts evaluation and delivery on
    /// threads of the engine's own, stopped when the last clone is dropped (tools and
    /// tests; the daemon uses [`AlertEngine::start`]).
    ///
    /// Returns warnings to show the operator (a rules file set aside, …).
    pub fn open(
        data_dir: &Path,
        cfg: EngineConfig,
    ) -> Result<(AlertEngine, Vec<String>), AlertError> {
        let trigger = ShutdownTrigger::new();
        let (engine, workers, warnings) = Self::start(data_dir, cfg, trigger.listener())?;
        let mut threads = vec![spawn_named("alert-eval", workers.evaluator)?];
        if let Some(d) = workers.delivery {
            threads.push(spawn_named("alert-deliver", d)?);
        }
        *lock(&engine.inner.own_threads) = Some((trigger, threads));
        Ok((engine, warnings))
    }

    /// Loads `rules.yaml` from `data_dir` and returns the engine with its loops, for
    /// the caller to run until `shutdown`.
    ///
    /// Returns warnings to show the operator (a rules file set aside, …).
    pub fn start(
        data_dir: &Path,
        cfg: EngineConfig,
        shutdown: Shutdown,
    ) -> Result<(AlertEngine, AlertWorkers, Vec<String>), AlertError> {
        std::fs::create_dir_all(data_dir)?;
        let loaded = store::load(data_dir)?;
        let mut sinks = Vec::new();
        for u in &cfg.alertmanager_urls {
            let url = HttpUrl::parse(u).map_err(|e| AlertError::Config(e.to_string()))?;
            sinks.push(sink(SinkKind::Alertmanager(url), &cfg.metrics));
        }
        if let Some(u) = &cfg.webhook_url {
            let url = HttpUrl::parse(u).map_err(|e| AlertError::Config(e.to_string()))?;
            sinks.push(sink(SinkKind::Webhook(url), &cfg.metrics));
        }
        let (events, _) = broadcast::channel(1024);
        let shared = Arc::new(Shared {
            data_dir: data_dir.to_path_buf(),
            rules: Mutex::new(loaded.rules.iter().map(|r| r.spec.clone()).collect()),
            snapshot: Mutex::new(BTreeMap::new()),
            events,
            sinks,
            dropped_entries: AtomicU64::new(0),
            eval_cpu_ns: AtomicU64::new(0),
            ticks: AtomicU64::new(0),
            idle: AtomicBool::new(!loaded.rules.iter().any(|r| r.spec.enabled)),
            metrics: cfg.metrics.clone(),
        });
        let (batch_tx, batch_rx) = crossbeam_channel::bounded(BATCH_QUEUE);
        let (cmd_tx, cmd_rx) = crossbeam_channel::unbounded();
        let params = EvalParams {
            node: cfg.node.clone(),
            resend_interval: cfg.resend_interval,
            group_ttl: cfg.group_ttl,
            resolved_keep: cfg.resolved_keep,
            patterns: cfg.patterns.clone(),
            ..EvalParams::default()
        };
        let evaluator: Box<dyn FnOnce() + Send> = {
            let (shared, shutdown) = (Arc::clone(&shared), shutdown.clone());
            let rules = loaded.rules;
            let interval = cfg.eval_interval.max(Duration::from_millis(10));
            Box::new(move || {
                Evaluator::new(shared, params, rules).run(batch_rx, cmd_rx, &shutdown, interval)
            })
        };
        let delivery: Option<Box<dyn FnOnce() + Send>> = if shared.sinks.is_empty() {
            None
        } else {
            let shared = Arc::clone(&shared);
            let (gen, backoff) = (cfg.generator_url.clone(), cfg.backoff.clone());
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            Some(Box::new(move || {
                rt.block_on(async move {
                    let tasks: Vec<_> = shared
                        .sinks
                        .iter()
                        .map(|s| {
                            tokio::spawn(deliver::run_sink(
                                Arc::clone(s),
                                gen.clone(),
                                backoff.clone(),
                                shutdown.clone(),
                            ))
                        })
                        .collect();
                    for t in tasks {
                        let _ = t.await;
                    }
                })
            }))
        };
        let engine = AlertEngine {
            inner: Arc::new(Inner {
                shared,
                batch_tx,
                cmd_tx,
                own_threads: Mutex::new(None),
            }),
        };
        Ok((
            engine,
            AlertWorkers {
                evaluator,
                delivery,
            },
            loaded.warnings,
        ))
    }

    fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    fn status_of(&self, spec: &RuleSpec) -> RuleStatus {
        let alerts = if spec.enabled {
            lock(&self.shared().snapshot)
                .get(&spec.name)
                .cloned()
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        RuleStatus {
            rule: spec.clone(),
            state: eval::worst_state(&alerts),
            alerts,
        }
    }

    /// Every rule with its live state, in the order they were created.
    pub fn list(&self) -> Vec<RuleStatus> {
        let specs = lock(&self.shared().rules).clone();
        specs.iter().map(|s| self.status_of(s)).collect()
    }

    /// One rule with its live state.
    pub fn get(&self, name: &str) -> Result<RuleStatus, AlertError> {
        let spec = lock(&self.shared().rules)
            .iter()
            .find(|s| s.name == name)
            .cloned()
            .ok_or_else(|| AlertError::NotFound(name.to_string()))?;
        Ok(self.status_of(&spec))
    }

    /// Checks a rule without saving it.
    pub fn validate(&self, spec: &RuleSpec) -> Result<(), AlertError> {
        compile(spec).map(|_| ()).map_err(AlertError::from)
    }

    /// Creates or replaces the rule named `spec.name`; validated, then saved, then run.
    ///
    /// Re-applying an identical rule keeps its alert state.
    pub fn put(&self, spec: RuleSpec) -> Result<RuleStatus, AlertError> {
        let compiled = compile(&spec)?;
        {
            let mut rules = lock(&self.shared().rules);
            let pos = rules.iter().position(|r| r.name == spec.name);
            if let Some(i) = pos {
                if rules[i] == spec {
                    drop(rules);
                    return Ok(self.status_of(&spec));
                }
            }
            let mut next = rules.clone();
            match pos {
                Some(i) => next[i] = spec.clone(),
                None => next.push(spec.clone()),
            }
            store::save(&self.shared().data_dir, &next)?;
            *rules = next;
            self.update_idle(&rules);
            let _ = self.inner.cmd_tx.send(Cmd::Upsert(Box::new(compiled)));
        }
        Ok(self.status_of(&spec))
    }

    /// Applies a whole rule set (a file with several rules): all valid, names
    /// unique, or nothing changes. Rules not in the set are left alone.
    pub fn put_all(&self, specs: Vec<RuleSpec>) -> Result<Vec<RuleStatus>, AlertError> {
        let compiled = compile_all(&specs).map_err(|(i, mut e)| {
            e.message = format!("rule #{} ({:?}): {}", i + 1, specs[i].name, e.message);
            e
        })?;
        {
            let mut rules = lock(&self.shared().rules);
            let mut next = rules.clone();
            let mut changed = Vec::new();
            for c in compiled {
                match next.iter().position(|r| r.name == c.spec.name) {
                    Some(i) if next[i] == c.spec => continue,
                    Some(i) => next[i] = c.spec.clone(),
                    None => next.push(c.spec.clone()),
                }
                changed.push(c);
            }
            if !changed.is_empty() {
                store::save(&self.shared().data_dir, &next)?;
                *rules = next;
                self.update_idle(&rules);
                for c in changed {
                    let _ = self.inner.cmd_tx.send(Cmd::Upsert(Box::new(c)));
                }
            }
        }
        Ok(specs.iter().map(|s| self.status_of(s)).collect())
    }

    /// Deletes a rule; its firing alerts are resolved at the sinks.
    pub fn delete(&self, name: &str) -> Result<(), AlertError> {
        let mut rules = lock(&self.shared().rules);
        let i = rules
            .iter()
            .position(|r| r.name == name)
            .ok_or_else(|| AlertError::NotFound(name.to_string()))?;
        let mut next = rules.clone();
        next.remove(i);
        store::save(&self.shared().data_dir, &next)?;
        *rules = next;
        self.update_idle(&rules);
        let _ = self.inner.cmd_tx.send(Cmd::Delete(name.to_string()));
        Ok(())
    }

    /// Enables or disables a rule (disabling resolves its firing alerts).
    pub fn set_enabled(&self, name: &str, enabled: bool) -> Result<RuleStatus, AlertError> {
        let mut spec = self.get(name)?.rule;
        spec.enabled = enabled;
        self.put(spec)
    }

    fn update_idle(&self, rules: &[RuleSpec]) {
        self.shared()
            .idle
            .store(!rules.iter().any(|r| r.enabled), Ordering::Relaxed);
    }

    /// Replays `spec` over stored history ([`test_window`]: by default the last 24 h)
    /// without saving it. Blocking: reads the index.
    pub fn test(
        &self,
        spec: &RuleSpec,
        range: &TimeRange,
        index: &Index,
    ) -> Result<RuleTestResult, AlertError> {
        let rule = compile(spec)?;
        if rule.kind == RuleKind::NewPattern {
            return Err(AlertError::Rule(RuleError::new(
                "condition",
                "a new_pattern rule cannot be replayed over history: novelty is what the \
                 miners know now (`lookout patterns --new --since WINDOW` lists what is new)",
            )));
        }
        let (from, until) = test_window(range, Timestamp::now())?;
        eval::preview(&rule, from, until, |a, b, width| {
            index
                .histogram(&rule.query, a, b, width)
                .map(|h| h.buckets.into_iter().map(|b| b.count).collect())
        })
        .map_err(AlertError::from)
    }

    /// Refills the windows of enabled ungrouped rules from stored history, so that a
    /// daemon restart neither forgets a burst that was firing nor fires every
    /// "no lines for 5m" rule at once because its window starts empty.
    ///
    /// Call it after the index is open and before the pipeline publishes its first
    /// batch (the app does so while building its sinks): then everything in the index
    /// predates the live stream and no line is counted twice. Grouped rules start
    /// empty (a histogram has no per-group breakdown); their groups appear as lines
    /// arrive, and a silent group only fires after being seen. Blocking: reads the
    /// index once per rule. Returns how many rules were seeded.
    pub fn seed_from_index(&self, index: &Index) -> usize {
        let specs: Vec<RuleSpec> = lock(&self.shared().rules).clone();
        let now = Timestamp::now();
        let end = eval::sec_of(now) + 1;
        let mut seeded = 0;
        for spec in specs.iter().filter(|s| s.enabled) {
            let Ok(rule) = compile(spec) else { continue };
            // Grouped and novelty rules have per-instance state a histogram lacks.
            if !rule.group_by.is_empty() || rule.kind == RuleKind::NewPattern {
                continue;
            }
            let start = end - rule.window_secs() - 1;
            let bars = index.histogram(
                &rule.query,
                Timestamp(start.saturating_mul(1_000_000_000)),
                Timestamp(end.saturating_mul(1_000_000_000)),
                Duration::from_secs(1),
            );
            match bars {
                Ok(h) => {
                    let counts: Vec<u64> = h.buckets.into_iter().map(|b| b.count).collect();
                    let cmd = Cmd::Seed(spec.name.clone(), spec.query.clone(), start, counts);
                    if self.inner.cmd_tx.send(cmd).is_ok() {
                        seeded += 1;
                    }
                }
                Err(e) => {
                    tracing::warn!(rule = %spec.name, error = %e, "cannot seed the rule's window from the index");
                }
            }
        }
        seeded
    }

    /// Alert instances that are pending, firing or recently resolved.
    pub fn alerts(&self) -> Vec<Alert> {
        lock(&self.shared().snapshot)
            .values()
            .flatten()
            .filter(|a| a.state != AlertState::Inactive)
            .cloned()
            .collect()
    }

    /// Instances firing now (status bar, metrics), without cloning them.
    pub fn firing(&self) -> u32 {
        let n = lock(&self.shared().snapshot)
            .values()
            .flatten()
            .filter(|a| a.state == AlertState::Firing)
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// Every state change from now on (a lagging receiver skips, never blocks).
    pub fn subscribe(&self) -> broadcast::Receiver<Alert> {
        self.shared().events.subscribe()
    }

    pub fn stats(&self) -> EngineStats {
        let s = self.shared();
        let mut st = EngineStats {
            rules: lock(&s.rules).len(),
            dropped_entries: s.dropped_entries.load(Ordering::Relaxed),
            eval_cpu: Duration::from_nanos(s.eval_cpu_ns.load(Ordering::Relaxed)),
            ticks: s.ticks.load(Ordering::Relaxed),
            ..EngineStats::default()
        };
        for k in &s.sinks {
            st.sent += k.stats.sent.load(Ordering::Relaxed);
            st.send_failures += k.stats.failures.load(Ordering::Relaxed);
            st.send_dropped += k.stats.dropped.load(Ordering::Relaxed);
        }
        st
    }
}

impl EntrySink for AlertEngine {
    fn publish(&self, entries: &[Arc<LogEntry>]) {
        let s = self.shared();
        if entries.is_empty() || s.idle.load(Ordering::Relaxed) {
            return;
        }
        match self.inner.batch_tx.try_send(entries.to_vec()) {
            Ok(()) => {}
            Err(TrySendError::Full(b)) | Err(TrySendError::Disconnected(b)) => {
                let n = s
                    .dropped_entries
                    .fetch_add(b.len() as u64, Ordering::Relaxed);
                if let Some(m) = &s.metrics {
                    m.dropped_entries.inc_by(b.len() as u64);
                }
                if n == 0 {
                    tracing::warn!("alert evaluation is behind: dropping entries (counted)");
                }
            }
        }
    }
}

/// How far back a rule test replays when its range has no start (nothing given: the
/// last 24 h, as `docs/alerting.md` says). A search of an open range reads all time; a
/// replay needs a finite span, and a day holds the longest rule window.
pub const DEFAULT_TEST_SPAN: Duration = Duration::from_secs(24 * 3600);

/// The `[from, until)` a rule test replays: `range` resolved exactly as a search
/// resolves it ([`TimeRange::resolve`]: `since` with `from` is an error, `since` counts
/// back from now), then its open ends closed for the replay: `until` at `now`, `from`
/// [`DEFAULT_TEST_SPAN`] before `until`.
pub fn test_window(
    range: &TimeRange,
    now: Timestamp,
) -> Result<(Timestamp, Timestamp), AlertError> {
    let b = range.resolve(now)?;
    // The replay steps a window and a bucket (at most weeks, see `eval::preview`)
    // past each end; a year of margin keeps that inside i64 nanoseconds. At the very
    // ends (1677..2262) the first bucket's start saturated, and the index's buckets
    // no longer started where the replay thought they did.
    const MARGIN: i64 = 366 * 24 * 3600 * 1_000_000_000;
    let clamp = |t: Timestamp| Timestamp(t.0.clamp(i64::MIN + MARGIN, i64::MAX - MARGIN));
    let until = clamp(b.until.unwrap_or(now));
    let span = i64::try_from(DEFAULT_TEST_SPAN.as_nanos()).unwrap_or(i64::MAX);
    let from = clamp(b.from.unwrap_or_else(|| until.add_nanos(-span)));
    // Closing the ends can empty the range (`from` after now): refuse that too.
    Bounds::new(Some(from), Some(until))?;
    Ok((from, until))
}

/// Starts `f` on a named thread; a failed spawn is an error, never a silent no-op.
fn spawn_named(name: &str, f: Box<dyn FnOnce() + Send>) -> Result<JoinHandle<()>, AlertError> {
    Ok(std::thread::Builder::new().name(name.into()).spawn(f)?)
}

/// A delivery sink counting its failures into the exported metric too.
fn sink(kind: SinkKind, metrics: &Option<AlertMetrics>) -> Arc<Sink> {
    let mut s = Sink::new(kind);
    s.stats.exported_failures = metrics.as_ref().map(|m| m.notification_failures.clone());
    Arc::new(s)
}
