//! Patterns through ingest and the index: every event gets its workload's
//! pattern, the state is saved beside the index, and after a restart the same
//! lines get the same ids and the patterns carry on (counts, first seen).

use lookout_shared::protocol::{PatternsParams, TimeRange};
use lookout_shared::Timestamp;

use crate::support::index::{config, loghub_entries, Running};

const T0: i64 = 1_764_000_000_000_000_000;

fn all_time() -> PatternsParams {
    PatternsParams {
        query: "*".into(),
        range: TimeRange {
            since: None,
            from: Some(Timestamp(T0 - 1)),
            until: Some(Timestamp(T0 + 1_000_000_000_000_000)),
        },
        new_only: false,
        limit: 1000,
    }
}

#[test]
fn pattern_ids_survive_a_restart_and_patterns_carry_on() {
    let dir = tempfile::tempdir().unwrap();
    let first: Vec<_> = {
        let mut r = Running::open(config(dir.path()));
        let stored = r.ingest(loghub_entries(3000, T0, 3));
        r.wait_docs(3000);
        r.close();
        stored
    };
    assert!(dir.path().join("patterns.json").is_file());
    let listed = {
        let mut r = Running::open(config(dir.path()));
        // The same lines again, an hour later: the same ids, line by line.
        let mut again = loghub_entries(3000, T0, 3);
        for e in &mut again {
            e.ts = Timestamp(e.ts.0 + 3_600_000_000_000);
        }
        let second = r.ingest(again);
        for (a, b) in first.iter().zip(&second) {
            assert_eq!(a.pattern, b.pattern, "{:?}", a.message);
        }
        r.wait_docs(6000);
        let res = r.index.patterns(&all_time()).unwrap();
        r.close();
        res
    };
    assert_eq!(listed.total, 6000);
    let sum: u64 = listed.patterns.iter().map(|p| p.count).sum();
    assert_eq!(sum, 6000, "every event is in one listed pattern");
    assert!(listed.patterns.windows(2).all(|w| w[0].count >= w[1].count));
    let top = &listed.patterns[0];
    assert!(top.template.contains("<*>"), "{}", top.template);
    assert!(top.ids.contains(&top.example.pattern.unwrap()));
    assert_eq!(top.sparkline.iter().sum::<u64>(), top.count);
    // First seen in the first run, last in the second.
    assert!(top.first_seen.0 < T0 + 3_600_000_000_000);
    assert!(top.last_seen.0 >= T0 + 3_600_000_000_000);
}

#[test]
fn new_patterns_are_those_first_seen_inside_the_range() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = Running::open(config(dir.path()));
    r.ingest(loghub_entries(2000, T0, 3));
    let later = T0 + 7_200_000_000_000;
    let mut fresh = loghub_entries(1, later, 1);
    fresh[0].message = "quota exceeded for tenant 4711 on shard 9".into();
    r.ingest(fresh);
    r.wait_docs(2001);
    let res = r
        .index
        .patterns(&PatternsParams {
            query: "*".into(),
            range: TimeRange {
                since: None,
                from: Some(Timestamp(later - 1)),
                until: Some(Timestamp(later + 1_000_000_000)),
            },
            new_only: true,
            limit: 0,
        })
        .unwrap();
    assert_eq!(res.patterns.len(), 1, "{:?}", res.patterns);
    assert!(res.patterns[0].new);
    assert!(res.patterns[0]
        .template
        .starts_with("quota exceeded for tenant"));
    // Over the whole span nothing is new but what started inside it: all of it.
    let all = r.index.patterns(&all_time()).unwrap();
    assert!(all.patterns.iter().all(|p| p.new));
    r.close();
}
