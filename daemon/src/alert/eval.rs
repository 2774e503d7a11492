//! Evaluation: per-second match counts per rule and group, and the alert state
//! machine (inactive → pending → firing → resolved).
//!
//! Cost is independent of stored volume: each rule keeps, per group, a sorted deque
//! of `(second, matches)` for the seconds inside its window that saw a match, plus a
//! running total, so a window count is O(1) amortised and memory is bounded by the
//! window. Windows are by entry timestamp and end on a whole second, which makes
//! the count exactly what a search over `[end - window, end)` counts.
//!
//! Everything here takes `now` as an argument: the engine passes the wall clock,
//! tests pass whatever they like.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use lookout_shared::protocol::{Alert, AlertState};
use lookout_shared::{LogEntry, Timestamp};

use super::novelty::{self, Known, Novelty};
pub use super::preview::{preview, MAX_PREVIEW_BUCKETS};
use super::rules::CompiledRule;
use crate::pattern::miners::Miners;
use lookout_shared::rules::{PatternInfo, RuleKind};

pub(super) const NANOS: i64 = 1_000_000_000;

/// How many of the latest matching entries an alert carries.
pub const SAMPLE_SIZE: usize = 5;

/// The second an instant falls in.
pub fn sec_of(ts: Timestamp) -> i64 {
    ts.0.div_euclid(NANOS)
}

pub(super) fn dur_nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// Per-second match counts inside a window, sorted by second.
#[derive(Debug, Default, Clone)]
pub struct Counts {
    slots: VecDeque<(i64, u32)>,
    total: u64,
    /// Seconds before this were evicted: late entries for them are ignored (they are
    /// outside every future window anyway).
    horizon: i64,
}

impl Counts {
    pub fn new() -> Counts {
        Counts {
            slots: VecDeque::new(),
            total: 0,
            horizon: i64::MIN,
        }
    }

    /// Counts `n` matches in second `sec`.
    pub fn add(&mut self, sec: i64, n: u32) {
        if sec < self.horizon || n == 0 {
            return;
        }
        self.total += u64::from(n);
        match self.slots.back_mut() {
            Some((s, c)) if *s == sec => *c = c.saturating_add(n),
            Some((s, _)) if *s > sec => match self.slots.binary_search_by_key(&sec, |(s, _)| *s) {
                Ok(i) => {
                    if let Some((_, c)) = self.slots.get_mut(i) {
                        *c = c.saturating_add(n)
                    }
                }
                Err(i) => self.slots.insert(i, (sec, n)),
            },
            _ => self.slots.push_back((sec, n)),
        }
    }

    /// Matches with `from <= second < end`; forgets seconds before `from`.
    pub fn window(&mut self, from: i64, end: i64) -> u64 {
        while let Some(&(s, c)) = self.slots.front() {
            if s >= from {
                break;
            }
            self.total -= u64::from(c);
            self.slots.pop_front();
        }
        self.horizon = self.horizon.max(from);
        let ahead: u64 = self
            .slots
            .iter()
            .rev()
            .take_while(|(s, _)| *s >= end)
            .map(|(_, c)| u64::from(*c))
            .sum();
        self.total - ahead
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }
}

/// Timing knobs of the state machine (from the engine config).
#[derive(Debug, Clone)]
pub struct EvalParams {
    /// Node name added as the `node` label (when not empty and not a group label).
    pub node: String,
    /// Firing alerts are re-sent this often; `endsAt` is 4× ahead.
    pub resend_interval: Duration,
    /// Resolutions are sent this many times, `resend_interval` apart.
    pub resolve_sends: u32,
    /// A resolved instance stays listed this long.
    pub resolved_keep: Duration,
    /// A group silent for this long beyond the window is forgotten (and, if a silence
    /// rule was firing for it, resolved).
    pub group_ttl: Duration,
    /// Most groups per rule; matches for further groups are counted as dropped.
    pub max_groups: usize,
    /// The node's pattern miners, which `new_pattern` rules ask when a pattern was
    /// first seen; without them such a rule never fires.
    pub patterns: Option<Arc<Miners>>,
}

impl Default for EvalParams {
    fn default() -> Self {
        EvalParams {
            node: String::new(),
            resend_interval: Duration::from_secs(60),
            resolve_sends: 4,
            resolved_keep: Duration::from_secs(15 * 60),
            group_ttl: Duration::from_secs(3600),
            max_groups: 1000,
            patterns: None,
        }
    }
}

/// A message for the delivery sinks.
#[derive(Debug, Clone)]
pub struct Notification {
    pub alert: Alert,
    /// When the instance started firing (`startsAt`).
    pub starts_at: Timestamp,
    /// `now + 4 × resend` while firing; the resolution time once resolved.
    pub ends_at: Timestamp,
}

/// What an evaluation produced.
#[derive(Debug, Default)]
pub struct Effects {
    /// Instances whose state changed (pushed to clients).
    pub changed: Vec<Alert>,
    /// Alerts to send to Alertmanager / the webhook.
    pub notify: Vec<Notification>,
}

#[derive(Debug, Clone)]
struct Instance {
    state: AlertState,
    since: Timestamp,
    value: u64,
    /// When the instance last entered `firing` (Alertmanager's `startsAt`).
    fired_at: Timestamp,
    last_sent: Option<Timestamp>,
    sends: u32,
    annotations: BTreeMap<String, String>,
}

#[derive(Debug)]
struct Group {
    labels: BTreeMap<String, String>,
    counts: Counts,
    sample: VecDeque<Arc<LogEntry>>,
    /// Latest second this group saw a match in.
    last_seen: i64,
    inst: Instance,
    /// Forgotten after silence: resolve, then drop.
    forgotten: bool,
    /// A `new_pattern` instance's pattern.
    novelty: Option<Novelty>,
}

/// One rule's live state.
#[derive(Debug)]
pub struct RuleState {
    pub rule: CompiledRule,
    groups: HashMap<Vec<String>, Group>,
    /// Matches dropped because the rule already had `max_groups` groups.
    pub overflow: u64,
    /// Entries before this are not counted live (they were seeded from the index).
    pub live_from: Timestamp,
    /// `new_pattern` rules: instance keys whose pattern is not new.
    known: Known,
}

impl RuleState {
    pub fn new(rule: CompiledRule, params: &EvalParams, now: Timestamp) -> RuleState {
        let mut s = RuleState {
            rule,
            groups: HashMap::new(),
            overflow: 0,
            live_from: Timestamp(i64::MIN),
            known: Known::default(),
        };
        if s.rule.group_by.is_empty() && !s.novelty() {
            // The ungrouped instance always exists: a silence rule fires with no input.
            let g = s.new_group(&[], params, now);
            s.groups.insert(Vec::new(), g);
        }
        s
    }

    /// Whether this is a `new_pattern` rule (one instance per new pattern).
    fn novelty(&self) -> bool {
        self.rule.kind == RuleKind::NewPattern
    }

    fn new_group(&self, key: &[String], params: &EvalParams, now: Timestamp) -> Group {
        let spec = &self.rule.spec;
        let mut labels = spec.labels.clone();
        for (f, v) in self.rule.group_by.iter().zip(key) {
            labels.insert(f.label().into_owned(), v.clone());
        }
        if !params.node.is_empty() && !labels.contains_key("node") {
            labels.insert("node".into(), params.node.clone());
        }
        labels.insert("alertname".into(), spec.name.clone());
        labels.insert("severity".into(), spec.severity.clone());
        Group {
            labels,
            counts: Counts::new(),
            sample: VecDeque::new(),
            last_seen: sec_of(now),
            inst: Instance {
                state: AlertState::Inactive,
                since: now,
                value: 0,
                fired_at: now,
                last_sent: None,
                sends: 0,
                annotations: BTreeMap::new(),
            },
            forgotten: false,
            novelty: None,
        }
    }

    /// Counts one matching entry (the caller has checked the query).
    pub fn record(&mut self, e: &Arc<LogEntry>, params: &EvalParams) {
        if e.ts < self.live_from {
            return;
        }
        let key: Vec<String> = if self.novelty() {
            match novelty::key(&self.rule, e) {
                Some(k) => k,
                None => return,
            }
        } else {
            self.rule
                .group_by
                .iter()
                .map(|f| f.value(e).into_owned())
                .collect()
        };
        if !self.groups.contains_key(&key) {
            let mut found = None;
            if self.novelty() {
                if self.known.contains(&key) {
                    return;
                }
                let w = self.rule.window_secs();
                found = Novelty::of(params.patterns.as_deref(), e, w);
                if found.is_none() {
                    self.known.insert(key);
                    return;
                }
            }
            if self.groups.len() >= params.max_groups {
                self.overflow += 1;
                return;
            }
            let mut g = self.new_group(&key, params, e.ts);
            if let Some(n) = &found {
                g.labels.insert("pattern".into(), n.id.to_string());
                g.labels.insert("namespace".into(), n.namespace.clone());
                g.labels.insert("workload".into(), n.workload.clone());
            }
            g.novelty = found;
            self.groups.insert(key.clone(), g);
        }
        let Some(g) = self.groups.get_mut(&key) else {
            return;
        };
        let sec = sec_of(e.ts);
        g.counts.add(sec, 1);
        g.last_seen = g.last_seen.max(sec);
        g.forgotten = false;
        let newer = g.sample.back().is_none_or(|b| b.sort_key() <= e.sort_key());
        if newer {
            if g.sample.len() == SAMPLE_SIZE {
                g.sample.pop_front();
            }
            g.sample.push_back(Arc::clone(e));
        }
    }

    /// Adds `n` matches at second `sec` for the ungrouped instance (seeding).
    pub fn seed(&mut self, sec: i64, n: u32) {
        if let Some(g) = self.groups.get_mut(&Vec::new()) {
            g.counts.add(sec, n);
        }
    }

    /// Evaluates every instance at `now`: window counts, transitions, deliveries.
    pub fn evaluate(&mut self, now: Timestamp, params: &EvalParams, out: &mut Effects) {
        let end = sec_of(now);
        let w = self.rule.window_secs();
        let from = end - w;
        let for_ = dur_nanos(self.rule.for_);
        let resend = dur_nanos(params.resend_interval);
        let ttl = i64::try_from(params.group_ttl.as_secs()).unwrap_or(i64::MAX);
        let keep = dur_nanos(params.resolved_keep);
        let novel = self.novelty();
        let grouped = novel || !self.rule.group_by.is_empty();
        let silence = self.rule.kind.fires_on_silence();
        let miners = params.patterns.as_deref();
        let mut remove = Vec::new();
        for (key, g) in self.groups.iter_mut() {
            let value = g.counts.window(from, end);
            g.inst.value = value;
            let stale = grouped && g.last_seen < from.saturating_sub(ttl);
            if stale && !g.forgotten && silence {
                g.forgotten = true;
            }
            let holds = match (&mut g.novelty, self.rule.kind) {
                (Some(n), _) => {
                    n.refresh(miners);
                    n.is_new(from)
                }
                (None, RuleKind::Count(c)) => c.holds(value),
                (None, RuleKind::NewPattern) => false,
            };
            let cond = !g.forgotten && holds;
            let before = g.inst.state;
            let next = match (before, cond) {
                (AlertState::Inactive | AlertState::Resolved, true) => {
                    if for_ == 0 {
                        AlertState::Firing
                    } else {
                        AlertState::Pending
                    }
                }
                (AlertState::Pending, true) if now.0.saturating_sub(g.inst.since.0) >= for_ => {
                    AlertState::Firing
                }
                (AlertState::Pending, false) => AlertState::Inactive,
                (AlertState::Firing, false) => AlertState::Resolved,
                (s, _) => s,
            };
            if next != AlertState::Inactive {
                g.inst.annotations =
                    self.rule
                        .annotations
                        .iter()
                        .map(|(k, t)| {
                            let p = g.novelty.as_ref().map_or_else(PatternInfo::default, |n| {
                                PatternInfo {
                                    template: &n.template,
                                    example: &n.example,
                                }
                            });
                            (k.clone(), t.render_pattern(&g.labels, value, p))
                        })
                        .collect();
            }
            if next != before {
                g.inst.since = now;
                g.inst.state = next;
                if next == AlertState::Firing {
                    g.inst.fired_at = now;
                    g.inst.last_sent = None;
                    g.inst.sends = 0;
                }
                if next == AlertState::Resolved {
                    g.inst.last_sent = None;
                    g.inst.sends = 0;
                }
                out.changed.push(alert_of(&self.rule.spec.name, g));
            }
            match g.inst.state {
                AlertState::Firing => {
                    let due = g
                        .inst
                        .last_sent
                        .is_none_or(|t| now.0.saturating_sub(t.0) >= resend);
                    if due {
                        g.inst.last_sent = Some(now);
                        out.notify.push(Notification {
                            alert: alert_of(&self.rule.spec.name, g),
                            starts_at: g.inst.fired_at,
                            ends_at: now.add_nanos(resend.saturating_mul(4)),
                        });
                    }
                }
                AlertState::Resolved => {
                    let due = g.inst.sends < params.resolve_sends
                        && g.inst
                            .last_sent
                            .is_none_or(|t| now.0.saturating_sub(t.0) >= resend);
                    if due {
                        g.inst.last_sent = Some(now);
                        g.inst.sends += 1;
                        out.notify.push(Notification {
                            alert: alert_of(&self.rule.spec.name, g),
                            starts_at: g.inst.fired_at,
                            ends_at: g.inst.since,
                        });
                    }
                    let sent_all = g.inst.sends >= params.resolve_sends;
                    if sent_all && now.0.saturating_sub(g.inst.since.0) >= keep {
                        g.inst.state = AlertState::Inactive;
                        g.inst.since = now;
                    }
                }
                _ => {}
            }
            let idle = g.inst.state == AlertState::Inactive;
            // A novelty instance that is idle and no longer new is done: later lines
            // of its pattern find it known.
            let done = g.counts.is_empty() || (novel && !cond);
            if grouped && idle && (g.forgotten || (!silence && done)) {
                remove.push(key.clone());
            }
        }
        for k in remove {
            self.groups.remove(&k);
        }
    }

    /// Resolves every firing instance now (rule deleted, disabled or replaced).
    pub fn resolve_all(&mut self, now: Timestamp, out: &mut Effects) {
        for g in self.groups.values_mut() {
            match g.inst.state {
                AlertState::Firing => {
                    g.inst.state = AlertState::Resolved;
                    g.inst.since = now;
                    let a = alert_of(&self.rule.spec.name, g);
                    out.notify.push(Notification {
                        alert: a.clone(),
                        starts_at: g.inst.fired_at,
                        ends_at: now,
                    });
                    out.changed.push(a);
                }
                AlertState::Pending => {
                    g.inst.state = AlertState::Inactive;
                    g.inst.since = now;
                    out.changed.push(alert_of(&self.rule.spec.name, g));
                }
                _ => {}
            }
        }
    }

    /// The instances worth listing: all but inactive ones, plus the ungrouped
    /// instance always (so a rule shows its current value).
    pub fn alerts(&self) -> Vec<Alert> {
        let mut v: Vec<Alert> = self
            .groups
            .iter()
            .filter(|(k, g)| k.is_empty() || g.inst.state != AlertState::Inactive)
            .map(|(_, g)| alert_of(&self.rule.spec.name, g))
            .collect();
        v.sort_by(|a, b| a.labels.cmp(&b.labels));
        v
    }

    /// Number of groups tracked (for tests and metrics).
    pub fn group_count(&self) -> usize {
        self.groups.len()
    }
}

fn alert_of(rule: &str, g: &Group) -> Alert {
    Alert {
        rule: rule.to_string(),
        labels: g.labels.clone(),
        annotations: g.inst.annotations.clone(),
        state: g.inst.state,
        since: g.inst.since,
        value: g.inst.value,
        sample: g.sample.iter().map(|e| (**e).clone()).collect(),
    }
}

/// The worst state among instances, for [`lookout_shared::protocol::RuleStatus`].
pub fn worst_state(alerts: &[Alert]) -> AlertState {
    let rank = |s: AlertState| match s {
        AlertState::Firing => 3,
        AlertState::Pending => 2,
        AlertState::Resolved => 1,
        AlertState::Inactive => 0,
    };
    match alerts.iter().map(|a| a.state).max_by_key(|s| rank(*s)) {
        Some(AlertState::Firing) => AlertState::Firing,
        Some(AlertState::Pending) => AlertState::Pending,
        _ => AlertState::Inactive,
    }
}
