//! Evaluation agrees with search: the window count a rule sees equals what the
//! real index counts for the same query and window; and `rules test` replays
//! stored history.

use std::sync::Arc;

use crate::support::index::{config, loghub_entries, Running};
use lookout_daemon::alert::eval::{Effects, EvalParams, RuleState};
use lookout_daemon::alert::rules::compile;
use lookout_daemon::alert::{AlertEngine, EngineConfig};
use lookout_daemon::matcher::Matches;
use lookout_shared::protocol::{RuleSpec, TimeRange};
use lookout_shared::Timestamp;

const S: i64 = 1_000_000_000;

fn spec(name: &str, query: &str, window: &str, cond: &str) -> RuleSpec {
    RuleSpec {
        name: name.into(),
        query: query.into(),
        window: window.into(),
        condition: cond.into(),
        for_: "0s".into(),
        severity: "warning".into(),
        enabled: true,
        ..RuleSpec::default()
    }
}

#[test]
fn rule_counts_equal_index_counts() {
    let dir = tempfile::tempdir().unwrap();
    let mut idx = Running::open(config(dir.path()));
    // 6000 real lines over 10 minutes ending a minute ago, 100 ms apart.
    let t0 = (Timestamp::now().0 / S - 660) * S + 37_000_000;
    let mut entries = loghub_entries(6000, t0, 1);
    for (i, e) in entries.iter_mut().enumerate() {
        e.ts = Timestamp(t0 + i as i64 * (S / 10));
    }
    let stored: Vec<_> = idx.ingest(entries).into_iter().map(Arc::new).collect();
    idx.wait_docs(6000);
    let index = idx.index.clone();

    let params = EvalParams::default();
    for query in [
        "error",
        "workerEnv error",
        "namespace:hdfs",
        "level:info",
        "PacketResponder",
    ] {
        let s = spec("agree", query, "1m", "> 1000000");
        let mut st = RuleState::new(compile(&s).unwrap(), &params, Timestamp(t0));
        let q = compile(&s).unwrap().query;
        for e in &stored {
            if q.matches(e) {
                st.record(e, &params);
            }
        }
        let mut nonzero = 0;
        for k in [30i64, 95, 200, 333, 480, 600, 640] {
            let end = Timestamp((t0 / S + k) * S);
            st.evaluate(end, &params, &mut Effects::default());
            let rule_count = st.alerts()[0].value;
            let search = index.count(query, end.add_nanos(-60 * S), end).unwrap();
            assert_eq!(rule_count, search, "{query:?}, window ending {end}");
            nonzero += usize::from(search > 0);
        }
        assert!(
            nonzero > 0,
            "{query:?} matched nothing: a vacuous comparison"
        );
    }

    // The preview replays the same history.
    let (eng, _) = AlertEngine::open(&dir.path().join("alerts"), EngineConfig::default()).unwrap();
    let res = eng
        .test(
            &spec("preview", "error", "1m", "> 0"),
            &TimeRange {
                since: Some("15m".into()),
                ..TimeRange::default()
            },
            &index,
        )
        .unwrap();
    assert!(res.fired >= 1, "{res:?}");
    assert!(res.peak > 0 && res.last_fired.is_some());
    let h = res.histogram.unwrap();
    assert!(!h.buckets.is_empty());
    assert_eq!(res.peak, h.buckets.iter().map(|b| b.count).max().unwrap());
    // Attack 10: over the widest range a timestamp holds (1677..2262) and over ten
    // years, the preview still finds the history, in a reply of bounded size.
    for range in [
        TimeRange {
            from: Some(Timestamp(i64::MIN)),
            until: Some(Timestamp(i64::MAX)),
            ..TimeRange::default()
        },
        TimeRange {
            since: Some("520w".into()),
            ..TimeRange::default()
        },
    ] {
        let res = eng
            .test(&spec("preview", "error", "1m", "> 0"), &range, &index)
            .unwrap();
        assert!(res.fired >= 1 && res.peak > 0, "{range:?}: {res:?}");
        let json = serde_json::to_string(&res).unwrap();
        assert!(
            json.len() < lookout_shared::limits::MAX_FRAME_BYTES,
            "{range:?}: {} bytes",
            json.len()
        );
    }
    // A bad query is a field error with its position, and nothing is saved.
    let err = eng
        .test(
            &spec("bad", "level:error AND (", "1m", "> 0"),
            &TimeRange::default(),
            &index,
        )
        .unwrap_err();
    let body = err.to_error_body();
    assert_eq!(body.field.as_deref(), Some("query"));
    assert!(body.position.is_some());
    assert!(eng.list().is_empty());
}

/// Regression: after a restart every window started empty, so a "went silent" rule
/// fired at once although the service had logged a minute ago, and a burst that was
/// firing was forgotten. Seeding from the index restores both windows.
#[test]
fn restart_refills_windows_from_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let mut idx = Running::open(config(dir.path()));
    // 60 lines in the last 70 s, none of them "zzzneverlogged".
    let t0 = Timestamp::now().0 - 70 * S;
    let mut entries = loghub_entries(60, t0, 1);
    for (i, e) in entries.iter_mut().enumerate() {
        e.ts = Timestamp(t0 + i as i64 * S);
        e.message = format!("upstream timeout {i}");
    }
    idx.ingest(entries);
    idx.wait_docs(60);
    let index = idx.index.clone();

    let (eng, _) = AlertEngine::open(
        &dir.path().join("alerts"),
        EngineConfig {
            eval_interval: std::time::Duration::from_millis(50),
            ..EngineConfig::default()
        },
    )
    .unwrap();
    eng.put(spec("burst", "timeout", "5m", "> 50")).unwrap();
    eng.put(spec("silent", "timeout", "5m", "< 1")).unwrap();
    eng.put(spec("never", "zzzneverlogged", "5m", "< 1"))
        .unwrap();
    assert_eq!(eng.seed_from_index(&index), 3);

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let state = |name: &str| {
        eng.alerts()
            .into_iter()
            .find(|a| a.rule == name)
            .map(|a| (a.state, a.value))
    };
    while state("burst").map(|s| s.0) != Some(lookout_shared::protocol::AlertState::Firing) {
        assert!(
            std::time::Instant::now() < deadline,
            "burst never fired: {:?}",
            eng.alerts()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(state("burst").map(|s| s.1), Some(60));
    // The service logged within the window: its silence rule must stay quiet…
    assert!(
        !matches!(
            state("silent").map(|s| s.0),
            Some(
                lookout_shared::protocol::AlertState::Firing
                    | lookout_shared::protocol::AlertState::Pending
            )
        ),
        "{:?}",
        eng.alerts()
    );
    // …while a query that never matched still fires (the seed is not a blanket grace).
    assert_eq!(
        state("never").map(|s| s.0),
        Some(lookout_shared::protocol::AlertState::Firing)
    );
}
