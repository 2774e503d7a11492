//! `condition: new_pattern` rules over real miners: a known pattern repeating is
//! quiet, a new one fires once (template and example in its annotations) and
//! resolves when the window has passed, and one outside the query never fires,
//! in the evaluator (injected time) and in the running engine.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use lookout_daemon::alert::eval::{Effects, EvalParams, RuleState};
use lookout_daemon::alert::rules::compile;
use lookout_daemon::alert::{AlertEngine, EngineConfig};
use lookout_daemon::ingest::EntrySink;
use lookout_daemon::matcher::Matches;
use lookout_daemon::pattern::miners::Miners;
use lookout_shared::protocol::{AlertState, RuleSpec};
use lookout_shared::{LogEntry, StreamId, Timestamp};

const S: i64 = 1_000_000_000;
/// 2026-11-25T20:00:00Z.
const T0: i64 = 1_795_636_800 * S;

fn novelty_rule(query: &str) -> RuleSpec {
    let mut annotations = BTreeMap::new();
    annotations.insert(
        "summary".into(),
        "new in {{ $labels.namespace }}/{{ $labels.workload }}: {{ $template }}".into(),
    );
    annotations.insert(
        "example".into(),
        "{{ $example }} ({{ $value }} lines)".into(),
    );
    RuleSpec {
        name: "NewKind".into(),
        query: query.into(),
        window: "5m".into(),
        condition: "new_pattern".into(),
        for_: "0s".into(),
        group_by: vec![],
        severity: "warning".into(),
        labels: BTreeMap::new(),
        annotations,
        enabled: true,
    }
}

fn line(ts: i64, ns: &str, msg: &str) -> LogEntry {
    LogEntry {
        ts: Timestamp(ts),
        node: "node-1".into(),
        source: StreamId {
            namespace: ns.into(),
            pod: "api-7d9f8c6b5d-x2x4z".into(),
            container: "api".into(),
            ..Default::default()
        },
        message: msg.into(),
        ..LogEntry::default()
    }
}

/// Mines `lines` as ingest does (the patterns are set on them), shared as ingest
/// hands them on.
fn ingest(miners: &Miners, mut lines: Vec<LogEntry>) -> Vec<Arc<LogEntry>> {
    miners.assign(&mut lines);
    lines.into_iter().map(Arc::new).collect()
}

struct Setup {
    miners: Arc<Miners>,
    params: EvalParams,
    state: RuleState,
}

fn setup(query: &str) -> Setup {
    let miners = Arc::new(Miners::in_memory());
    let params = EvalParams {
        node: "node-1".into(),
        patterns: Some(Arc::clone(&miners)),
        ..EvalParams::default()
    };
    let state = RuleState::new(
        compile(&novelty_rule(query)).unwrap(),
        &params,
        Timestamp(T0),
    );
    // An hour of history: the miners know this kind of line well.
    for i in 0..20 {
        ingest(
            &miners,
            vec![line(
                T0 - 3600 * S + i * S,
                "payments",
                &format!("charge ok id={i} in {i}ms"),
            )],
        );
    }
    Setup {
        miners,
        params,
        state,
    }
}

impl Setup {
    /// Ingests `lines` and records those the rule's query matches, as the
    /// evaluator thread does.
    fn feed(&mut self, lines: Vec<LogEntry>) {
        for e in ingest(&self.miners, lines) {
            if self.state.rule.query.matches(&e) {
                self.state.record(&e, &self.params);
            }
        }
    }

    fn eval(&mut self, at: i64) -> Effects {
        let mut fx = Effects::default();
        self.state.evaluate(Timestamp(at), &self.params, &mut fx);
        fx
    }
}

#[test]
fn a_known_pattern_repeating_does_not_fire() {
    let mut s = setup("namespace:payments");
    for t in 0..30 {
        s.feed(vec![line(
            T0 - 60 * S + t * S,
            "payments",
            &format!("charge ok id={} in 3ms", 100 + t),
        )]);
        let fx = s.eval(T0 - 59 * S + t * S);
        assert!(
            fx.notify.is_empty() && fx.changed.is_empty(),
            "{:?}",
            fx.changed
        );
    }
    assert!(s.state.alerts().is_empty());
    assert_eq!(s.state.group_count(), 0, "known patterns hold no instance");
}

#[test]
fn a_new_pattern_fires_once_with_its_template_and_example_then_resolves() {
    let mut s = setup("namespace:payments");
    let new = "card declined for customer 4411 by issuer";
    s.feed(vec![
        line(T0 - 20 * S, "payments", "charge ok id=900 in 4ms"),
        line(T0 - 10 * S, "payments", new),
    ]);
    let fx = s.eval(T0);
    assert_eq!(fx.notify.len(), 1, "one new pattern, one alert");
    let a = &fx.notify[0].alert;
    assert_eq!(a.state, AlertState::Firing);
    let id = a.labels["pattern"].clone();
    assert_eq!(id.len(), 16);
    assert_eq!(a.labels["namespace"], "payments");
    assert_eq!(a.labels["workload"], "api");
    let summary = &a.annotations["summary"];
    assert!(
        summary.starts_with("new in payments/api: card declined for customer <*>"),
        "{summary}"
    );
    assert_eq!(a.annotations["example"], format!("{new} (1 lines)"));

    // More lines of it in the window: the same instance, not another alert.
    s.feed(vec![line(
        T0 + S,
        "payments",
        "card declined for customer 9120 by issuer",
    )]);
    let fx = s.eval(T0 + 2 * S);
    assert!(
        fx.changed.is_empty() && fx.notify.is_empty(),
        "{:?}",
        fx.changed
    );
    let listed = s.state.alerts();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].labels["pattern"], id);
    assert_eq!(listed[0].value, 2);

    // Once the window has passed its first sighting, it is resolved; its lines
    // go on without firing again.
    let fx = s.eval(T0 - 10 * S + 301 * S);
    assert_eq!(fx.changed.len(), 1);
    assert_eq!(fx.changed[0].state, AlertState::Resolved);
    s.feed(vec![line(
        T0 + 400 * S,
        "payments",
        "card declined for customer 77 by issuer",
    )]);
    let fx = s.eval(T0 + 401 * S);
    assert!(
        fx.changed.iter().all(|a| a.state != AlertState::Firing),
        "{:?}",
        fx.changed
    );
}

#[test]
fn a_new_pattern_outside_the_query_does_not_fire() {
    let mut s = setup("namespace:payments");
    s.feed(vec![line(
        T0 - 5 * S,
        "shop",
        "basket abandoned after checkout timeout",
    )]);
    let fx = s.eval(T0);
    assert!(
        fx.notify.is_empty(),
        "{:?}",
        fx.notify.first().map(|n| &n.alert)
    );
    assert!(s.state.alerts().is_empty());
}

/// The running engine, given the miners as the daemon gives it the index's: of two
/// new kinds of line, the one its query matches fires, the other does not.
#[test]
fn the_engine_fires_for_a_new_pattern_in_its_query_only() {
    let dir = tempfile::tempdir().unwrap();
    let miners = Arc::new(Miners::in_memory());
    let (eng, _) = AlertEngine::open(
        dir.path(),
        EngineConfig {
            eval_interval: Duration::from_millis(50),
            patterns: Some(Arc::clone(&miners)),
            ..EngineConfig::default()
        },
    )
    .unwrap();
    eng.put(novelty_rule("namespace:payments")).unwrap();
    let now = Timestamp::now().0;
    let batch = ingest(
        &miners,
        vec![
            line(now, "shop", "basket abandoned after checkout timeout"),
            line(now, "payments", "refund queue stalled at depth 40"),
        ],
    );
    eng.publish(&batch);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let firing = loop {
        let f: Vec<_> = eng
            .alerts()
            .into_iter()
            .filter(|a| a.state == AlertState::Firing)
            .collect();
        if !f.is_empty() {
            break f;
        }
        assert!(std::time::Instant::now() < deadline, "no alert fired");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(firing.len(), 1, "{firing:?}");
    let want = batch[1].pattern.unwrap().to_string();
    assert_eq!(firing[0].labels["pattern"], want);
    assert!(firing[0].annotations["summary"].contains("refund queue stalled at depth <*>"));
    // The shop line's pattern never gets an instance, even after more ticks.
    let ticks = eng.stats().ticks;
    while eng.stats().ticks < ticks + 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "the evaluator stopped ticking"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(eng.alerts().len(), 1);
}
