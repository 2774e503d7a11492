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

use lookout_shared::histogram::{round_width, weeks_width, Bars};
use lookout_shared::protocol::{Alert, AlertState, RuleTestResult};
use lookout_shared::{LogEntry, Timestamp};

use super::rules::CompiledRule;

const NANOS: i64 = 1_000_000_000;

/// How many of the latest matching entries an alert carries.
pub const SAMPLE_SIZE: usize = 5;

/// The second an instant falls in.
pub fn sec_of(ts: Timestamp) -> i64 {
    ts.0.div_euclid(NANOS)
}

fn dur_nanos(d: Duration) -> i64 {
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
}

impl RuleState {
    pub fn new(rule: CompiledRule, params: &EvalParams, now: Timestamp) -> RuleState {
        let mut s = RuleState {
            rule,
            groups: HashMap::new(),
            overflow: 0,
            live_from: Timestamp(i64::MIN),
        };
        if s.rule.group_by.is_empty() {
            // The ungrouped instance always exists: a silence rule fires with no input.
            let g = s.new_group(&[], params, now);
            s.groups.insert(Vec::new(), g);
        }
        s
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
        }
    }

    /// Counts one matching entry (the caller has checked the query).
    pub fn record(&mut self, e: &Arc<LogEntry>, params: &EvalParams) {
        if e.ts < self.live_from {
            return;
        }
        let key: Vec<String> = self
            .rule
            .group_by
            .iter()
            .map(|f| f.value(e).into_owned())
            .collect();
        if !self.groups.contains_key(&key) {
            if self.groups.len() >= params.max_groups {
                self.overflow += 1;
                return;
            }
            let g = self.new_group(&key, params, e.ts);
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
        let grouped = !self.rule.group_by.is_empty();
        let silence = self.rule.condition.fires_on_silence();
        let mut remove = Vec::new();
        for (key, g) in self.groups.iter_mut() {
            let value = g.counts.window(from, end);
            g.inst.value = value;
            let stale = grouped && g.last_seen < from.saturating_sub(ttl);
            if stale && !g.forgotten && silence {
                g.forgotten = true;
            }
            let cond = !g.forgotten && self.rule.condition.holds(value);
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
                g.inst.annotations = self
                    .rule
                    .annotations
                    .iter()
                    .map(|(k, t)| (k.clone(), t.render(&g.labels, value)))
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
            if grouped && idle && (g.forgotten || (!silence && g.counts.is_empty())) {
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

/// Most buckets a preview asks the index for.
pub const MAX_PREVIEW_BUCKETS: i64 = 3000;

/// Replays a rule over `[from, until)` from per-bucket counts, as the live
/// evaluator would have run it every `step` (the preview behind `lookout rules test`).
///
/// `counts(from, until, width)` must return the matches per `width` bucket over
/// `[from, until)`, oldest first (what `Index::histogram` gives). The step is the
/// smallest round width keeping the number of buckets under [`MAX_PREVIEW_BUCKETS`]
/// (`preview_step`); when it does not divide the window the window is rounded up
/// to a whole number of steps. Groups are not separated: a `group_by`
/// rule is previewed on its total.
pub fn preview<E>(
    rule: &CompiledRule,
    from: Timestamp,
    until: Timestamp,
    counts: impl FnOnce(Timestamp, Timestamp, Duration) -> Result<Vec<u64>, E>,
) -> Result<RuleTestResult, E> {
    let w = rule.window_secs();
    let start = sec_of(from);
    let end = sec_of(until).max(start + 1);
    let step = preview_step(w, (end - start + w) as i128 * NANOS as i128);
    let wb = (w + step - 1) / step; // window in buckets
    let first = start - wb * step; // first bucket start
    let nb = ((end - first) + step - 1) / step;
    let buckets = counts(
        Timestamp(first.saturating_mul(NANOS)),
        Timestamp((first + nb * step).saturating_mul(NANOS)),
        Duration::from_secs(step as u64),
    )?;
    let for_ = dur_nanos(rule.for_);
    let mut res = RuleTestResult::default();
    let mut series = Vec::new();
    let mut state = AlertState::Inactive;
    let mut cond_since = 0i64;
    let mut sum: u64 = buckets.iter().take(wb as usize).sum();
    // Evaluate at the end of each bucket from `start` on.
    for i in wb..nb {
        let t = first + (i + 1) * step; // evaluation second
        sum += buckets.get(i as usize).copied().unwrap_or(0);
        sum = sum.saturating_sub(buckets.get((i - wb) as usize).copied().unwrap_or(0));
        res.peak = res.peak.max(sum);
        series.push(sum);
        let cond = rule.condition.holds(sum);
        let t_ns = t.saturating_mul(NANOS);
        let prev = state;
        state = match (prev, cond) {
            (AlertState::Firing, true) => AlertState::Firing,
            (AlertState::Pending, true) if t_ns - cond_since >= for_ => AlertState::Firing,
            (AlertState::Pending, true) => AlertState::Pending,
            (_, true) if for_ == 0 => AlertState::Firing,
            (_, true) => {
                cond_since = t_ns;
                AlertState::Pending
            }
            (_, false) => AlertState::Inactive,
        };
        if state == AlertState::Firing && prev != AlertState::Firing {
            res.fired += 1;
            res.last_fired = Some(Timestamp(t_ns));
        }
    }
    // One bar per evaluation: bar `i` ends at the `i`-th evaluation second.
    let bars = Bars::new(start.saturating_mul(NANOS), step * NANOS, series.len());
    res.histogram = Some(bars.histogram(series));
    Ok(res)
}

/// The preview's step in seconds for a replay of `span` nanoseconds with a window of
/// `window` seconds: the smallest round width (the search histogram's, from
/// [`lookout_shared::histogram`]) of whole seconds keeping the buckets under
/// [`MAX_PREVIEW_BUCKETS`], one that divides the window if any does, so that a window
/// is a whole number of buckets.
fn preview_step(window: i64, span: i128) -> i64 {
    let secs = |w: i64| w >= NANOS && w % NANOS == 0;
    let width = round_width(span, MAX_PREVIEW_BUCKETS, |w| {
        secs(w) && (window * NANOS) % w == 0
    })
    .or_else(|| round_width(span, MAX_PREVIEW_BUCKETS, secs))
    .unwrap_or_else(|| weeks_width(span, MAX_PREVIEW_BUCKETS));
    width / NANOS
}
