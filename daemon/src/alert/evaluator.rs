//! The evaluator thread: matches ingested entries against the enabled rules, ticks
//! every `eval_interval`, publishes the snapshot the API reads and the state changes
//! subscribers get, and enqueues notifications for the sinks.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use lookout_shared::protocol::{Alert, AlertState};
use lookout_shared::query::Query;
use lookout_shared::{LogEntry, Timestamp};

use super::eval::{self, EvalParams, RuleState};
use super::rules::CompiledRule;
use super::{Cmd, Shared};
use crate::matcher::Matches;
use crate::shutdown::Shutdown;
use crate::sync::lock;

/// Thread CPU time of the calling thread.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

/// The evaluator thread's state: every enabled rule, and its matchers grouped by
/// query text (rules sharing a query match each entry once).
pub(super) struct Evaluator {
    shared: Arc<Shared>,
    params: EvalParams,
    rules: BTreeMap<String, RuleState>,
    matchers: Vec<(Query, Vec<String>)>,
}

impl Evaluator {
    pub(super) fn new(
        shared: Arc<Shared>,
        params: EvalParams,
        rules: Vec<CompiledRule>,
    ) -> Evaluator {
        let now = Timestamp::now();
        let mut e = Evaluator {
            shared,
            params,
            rules: BTreeMap::new(),
            matchers: Vec::new(),
        };
        for r in rules.into_iter().filter(|r| r.spec.enabled) {
            let st = RuleState::new(r, &e.params, now);
            e.rules.insert(st.rule.spec.name.clone(), st);
        }
        e.rebuild_matchers();
        e
    }

    fn rebuild_matchers(&mut self) {
        let mut by_text: BTreeMap<String, (Query, Vec<String>)> = BTreeMap::new();
        for (name, st) in &self.rules {
            by_text
                .entry(st.rule.spec.query.clone())
                .or_insert_with(|| (st.rule.query.clone(), Vec::new()))
                .1
                .push(name.clone());
        }
        self.matchers = by_text.into_values().collect();
    }

    pub(super) fn run(
        mut self,
        batch_rx: Receiver<Vec<Arc<LogEntry>>>,
        cmd_rx: Receiver<Cmd>,
        shutdown: &Shutdown,
        interval: Duration,
    ) {
        let mut next_tick = Instant::now() + interval;
        self.publish_snapshot();
        while !shutdown.is_triggered() {
            let wait = next_tick
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(200));
            crossbeam_channel::select! {
                recv(cmd_rx) -> m => match m {
                    Ok(c) => self.apply(c),
                    Err(_) => break,
                },
                recv(batch_rx) -> m => match m {
                    Ok(b) => {
                        // `select!` picks at random among ready channels, so a batch
                        // published right after `put()` returned could be counted
                        // before the rule existed. Commands sent before the batch
                        // are applied first: they are already queued.
                        while let Ok(c) = cmd_rx.try_recv() {
                            self.apply(c);
                        }
                        self.record(&b)
                    }
                    Err(_) => break,
                },
                recv(shutdown.channel()) -> _ => break,
                default(wait) => {}
            }
            if Instant::now() >= next_tick {
                self.tick(Timestamp::now());
                next_tick += interval;
                let now = Instant::now();
                if next_tick < now {
                    next_tick = now + interval;
                }
                self.shared
                    .eval_cpu_ns
                    .store(thread_cpu().as_nanos() as u64, Ordering::Relaxed);
            }
        }
    }

    fn apply(&mut self, cmd: Cmd) {
        let now = Timestamp::now();
        let mut fx = eval::Effects::default();
        match cmd {
            Cmd::Upsert(rule) => {
                if let Some(mut old) = self.rules.remove(&rule.spec.name) {
                    old.resolve_all(now, &mut fx);
                }
                if rule.spec.enabled {
                    let st = RuleState::new(*rule, &self.params, now);
                    self.rules.insert(st.rule.spec.name.clone(), st);
                }
            }
            Cmd::Delete(name) => {
                if let Some(mut old) = self.rules.remove(&name) {
                    old.resolve_all(now, &mut fx);
                }
            }
            Cmd::Seed(name, query, start, counts) => {
                if let Some(st) = self.rules.get_mut(&name) {
                    if st.rule.spec.query == query {
                        for (sec, n) in (start..).zip(counts) {
                            st.seed(sec, u32::try_from(n).unwrap_or(u32::MAX));
                        }
                    }
                }
                return;
            }
        }
        self.rebuild_matchers();
        // Snapshot first: a subscriber told of a change must find it in `alerts()`.
        self.publish_snapshot();
        self.emit(fx);
    }

    fn record(&mut self, batch: &[Arc<LogEntry>]) {
        for e in batch {
            // Tokenise each message once for all rules, not once per rule.
            let mut words = None;
            for (q, names) in &self.matchers {
                if q.matches_cached(e, &mut words) {
                    for n in names {
                        if let Some(st) = self.rules.get_mut(n) {
                            st.record(e, &self.params);
                        }
                    }
                }
            }
        }
    }

    fn tick(&mut self, now: Timestamp) {
        let mut fx = eval::Effects::default();
        for st in self.rules.values_mut() {
            st.evaluate(now, &self.params, &mut fx);
        }
        self.shared.ticks.fetch_add(1, Ordering::Relaxed);
        if let Some(m) = &self.shared.metrics {
            m.rule_evaluations.inc_by(self.rules.len() as u64);
        }
        self.publish_snapshot();
        self.emit(fx);
    }

    fn emit(&self, fx: eval::Effects) {
        for a in fx.changed {
            tracing::info!(
                rule = %a.rule,
                state = ?a.state,
                value = a.value,
                "alert state change"
            );
            let _ = self.shared.events.send(a);
        }
        for n in fx.notify {
            for s in &self.shared.sinks {
                s.enqueue(n.clone());
            }
        }
    }

    fn publish_snapshot(&self) {
        let snap: BTreeMap<String, Vec<Alert>> = self
            .rules
            .iter()
            .map(|(k, st)| (k.clone(), st.alerts()))
            .collect();
        if let Some(m) = &self.shared.metrics {
            let firing = snap
                .values()
                .flatten()
                .filter(|a| a.state == AlertState::Firing)
                .count();
            m.alerts_firing
                .set(crate::metrics::family::as_gauge(firing));
        }
        *lock(&self.shared.snapshot) = snap;
    }
}
