//! The queries the dashboard writes for the daemon (stream selection + filter) parse
//! with the shared parser (the one the daemon runs) and select exactly the streams the
//! tree shows. Selecting is the daemon's live matcher's job, so that much of the
//! daemon is still used here: the matcher is what decides what a tail shows.

use std::collections::BTreeSet;

use lookout_daemon::matcher::Matches;
use lookout_shared::protocol::StreamInfo;
use lookout_shared::query::Query;
use lookout_shared::{Level, LogEntry, StreamId};
use lookout_tui::app::tail::{subscription_query, StreamKey};

fn key(ns: &str, pod: &str, c: &str) -> StreamKey {
    StreamKey {
        namespace: ns.into(),
        pod: pod.into(),
        container: c.into(),
    }
}

fn info(k: &StreamKey) -> StreamInfo {
    StreamInfo {
        source: StreamId {
            namespace: k.namespace.clone(),
            pod: k.pod.clone(),
            container: k.container.clone(),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn entry(k: &StreamKey, level: Option<Level>, msg: &str) -> LogEntry {
    LogEntry {
        source: StreamId {
            namespace: k.namespace.clone(),
            pod: k.pod.clone(),
            container: k.container.clone(),
            ..Default::default()
        },
        level,
        message: msg.into(),
        ..Default::default()
    }
}

#[test]
fn selections_parse_and_select_exactly_their_streams() {
    let all = [
        key("payments", "checkout-7d9f-x2", "app"),
        key("payments", "checkout-7d9f-x2", "istio-proxy"),
        key("payments", "ledger-0", "app"),
        key("kube-system", "coredns-5d78c9869d-abcde", "coredns"),
        key("odd.ns", "web_1", "c.1"),
    ];
    let known: Vec<StreamInfo> = all.iter().map(info).collect();
    let selections: Vec<Vec<usize>> = vec![
        vec![],
        vec![0],
        vec![0, 1],    // a whole pod
        vec![0, 1, 2], // a whole namespace
        vec![1, 3],
        vec![4],
    ];
    for sel in selections {
        let selected: BTreeSet<StreamKey> = sel.iter().map(|&i| all[i].clone()).collect();
        for filter in ["", "timeout", "level:error OR \"deadlock detected\""] {
            let q = subscription_query(&selected, &known, filter);
            let parsed = Query::parse(&q).unwrap_or_else(|e| panic!("{q:?}: {e}"));
            for (i, k) in all.iter().enumerate() {
                let in_sel = sel.is_empty() || sel.contains(&i);
                let hit = entry(k, Some(Level::Error), "upstream timeout; deadlock detected");
                assert_eq!(parsed.matches(&hit), in_sel, "{q:?} on {k:?}");
                let miss = entry(k, Some(Level::Info), "all good");
                assert_eq!(
                    parsed.matches(&miss),
                    in_sel && filter.is_empty(),
                    "{q:?} on {k:?}"
                );
            }
        }
    }
}

/// `Enter` in the patterns view narrows the search to the pattern's ids: the
/// query it writes keeps the search's own `OR`s inside and the daemon's matcher
/// takes exactly the events of those ids that the search took.
#[test]
fn a_pattern_narrows_the_search_to_its_ids_and_nothing_else() {
    use lookout_shared::PatternId;
    use lookout_tui::app::search::patterns::{narrowed, pattern_clause};
    let (a, merged, other) = (
        PatternId::new(0xa1),
        PatternId::new(0xa2),
        PatternId::new(0xb3),
    );
    let k = key("payments", "ledger-0", "app");
    let with = |level, msg: &str, p: Option<PatternId>| LogEntry {
        pattern: p,
        ..entry(&k, level, msg)
    };
    for base in ["", "*", "level:error OR timeout"] {
        let q = narrowed(base, &pattern_clause(a, &[a, merged]));
        let parsed = Query::parse(&q).unwrap_or_else(|e| panic!("{q:?}: {e}"));
        let narrowed_base = !base.is_empty() && base != "*";
        for p in [Some(a), Some(merged), Some(other), None] {
            let ours = p == Some(a) || p == Some(merged);
            let hit = with(Some(Level::Error), "insert failed", p);
            assert_eq!(parsed.matches(&hit), ours, "{q:?} on {p:?}");
            let outside = with(Some(Level::Info), "all good", p);
            assert_eq!(
                parsed.matches(&outside),
                ours && !narrowed_base,
                "{q:?} on {p:?}, outside the search"
            );
        }
    }
}
