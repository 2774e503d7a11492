//! The miner's contract: what becomes a parameter, JSON lines, memory bounds,
//! state that survives a restart, and input that must not hurt it.

use lookout_daemon::pattern::{Config, Miner, MinerState, PatternId};

fn miner() -> Miner {
    Miner::new(Config::default()).unwrap()
}

#[test]
fn numbers_ips_uuids_paths_and_quotes_become_parameters() {
    let mut m = miner();
    let a = m.observe("GET /api/users/17 took 12ms from 10.0.0.7 req=3f2a9c1e-0b7d-4c55-9a44-1c2b3d4e5f60 'alice'");
    let b = m.observe("GET /api/orders/9 took 3ms from 192.168.1.20 req=8d1e2f3a-4b5c-4d6e-8f70-819293a4b5c6 'bob smith'");
    assert_eq!(a, b);
    assert_eq!(
        m.pattern(a).unwrap().template,
        "GET <*> took <*> from <*> req=<*> <*>"
    );
    // A different event of the same length stays apart.
    let c = m.observe("PUT /api/users/17 took 12ms from 10.0.0.7 req=3f2a9c1e-0b7d-4c55-9a44-1c2b3d4e5f60 'alice'");
    assert_ne!(a, c);
}

#[test]
fn a_word_with_many_values_becomes_a_parameter_one_with_few_does_not() {
    let mut m = miner();
    let mut ids = Vec::new();
    for user in ["alice", "bob", "carol", "dave", "erin"] {
        ids.push(m.observe(&format!("session opened for user {user} by sshd")));
    }
    let last = m.resolve(ids[4]);
    assert!(ids.iter().all(|&id| m.resolve(id) == last));
    let p = m.pattern(last).unwrap();
    assert_eq!(p.template, "session opened for user <*> by sshd");
    assert_eq!(p.count, 5);
    assert_eq!(
        m.merged_into(last).len(),
        3,
        "bob, carol and dave merged into alice's pattern"
    );

    let bytes = m.observe("Block rdd_1 stored as bytes in memory");
    let values = m.observe("Block rdd_2 stored as values in memory");
    assert_ne!(m.resolve(bytes), m.resolve(values));
}

#[test]
fn json_lines_are_mined_on_their_message_field() {
    let mut m = miner();
    let a = m.observe(
        r#"{"level":30,"time":1700000000,"pid":7,"msg":"cache miss for key 81","hostname":"a"}"#,
    );
    let b =
        m.observe(r#"{"msg":"cache miss for key 4","level":40,"extra":{"deep":[1,2,{"x":null}]}}"#);
    assert_eq!(a, b);
    assert_eq!(m.pattern(a).unwrap().template, "cache miss for key <*>");
    let c = m.observe(r#"{"message":"cache miss for key 5"}"#);
    assert_eq!(a, c);
}

#[test]
fn templates_are_capped_and_the_least_recently_seen_goes_first() {
    let mut m = Miner::new(Config {
        max_templates: 3,
        ..Config::default()
    })
    .unwrap();
    let keep = m.observe("keep this one");
    for w in ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"] {
        m.observe(&format!("{w} {w} {w}"));
        m.observe("keep this one");
        assert!(m.len() <= 3);
    }
    assert_eq!(m.pattern(keep).unwrap().count, 7);
    let alpha = m.observe("alpha alpha alpha");
    assert_eq!(
        m.pattern(alpha).unwrap().count,
        1,
        "alpha was evicted and starts over"
    );
}

#[test]
fn long_and_hostile_lines_are_cut_to_the_bounds() {
    let config = Config::default();
    let mut m = miner();
    let long = "word ".repeat(100_000);
    let id = m.observe(&long);
    let p = m.pattern(id).unwrap();
    assert_eq!(p.template.split(' ').count(), config.max_tokens);
    assert!(p.template.len() <= config.max_message_bytes + 3);
    for hostile in [
        "[".repeat(200_000),
        "{\"msg\":".repeat(50_000),
        "\"".repeat(100_000),
        "\u{0}\u{feff}é\r\n\t".repeat(1000),
        String::new(),
        "   \r\n".to_string(),
    ] {
        let id = m.observe(&hostile);
        assert!(m.pattern(id).is_some());
    }
    // Distinct lines never grow the miner past its cap.
    for i in 0..5_000 {
        m.observe(&format!(
            "{} {}",
            "x".repeat(i % 50 + 1),
            "y".repeat(i % 37 + 1)
        ));
    }
    assert!(m.len() <= config.max_templates);
}

#[test]
fn state_written_to_a_file_restores_the_same_ids_counts_and_merges() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("patterns.json");
    let mut m = miner();
    let mut first = Vec::new();
    for (i, user) in ["alice", "bob", "carol", "dave"].iter().enumerate() {
        first.push(m.observe_at(
            &format!("login failed for {user} from 10.0.0.{i}"),
            1_000 + i as i64,
        ));
    }
    let other = m.observe_at("disk /dev/sda1 is 91% full", 2_000);
    std::fs::write(&path, serde_json::to_vec(&m.state()).unwrap()).unwrap();

    let state: MinerState = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let mut back = Miner::from_state(Config::default(), state).unwrap();
    assert_eq!(back.len(), m.len());
    let merged = m.resolve(first[0]);
    assert_eq!(back.resolve(first[0]), merged, "aliases survive");
    assert_eq!(back.pattern(merged).unwrap(), m.pattern(merged).unwrap());
    assert_eq!(
        back.observe_at("login failed for erin from 10.0.0.9", 3_000),
        merged
    );
    assert_eq!(back.observe_at("disk /dev/sdb2 is 95% full", 3_001), other);
    let p = back.pattern(merged).unwrap();
    assert_eq!((p.count, p.first_seen, p.last_seen), (5, 1_000, 3_000));
}

#[test]
fn state_past_the_bounds_is_refused_with_a_clear_error() {
    let mut m = miner();
    for w in ["a", "b", "c"] {
        m.observe(w);
    }
    let small = Config {
        max_templates: 2,
        ..Config::default()
    };
    let err = Miner::from_state(small, m.state()).unwrap_err();
    assert!(err.to_string().contains("max_templates"), "{err}");
    let mut state = m.state();
    state.version = 99;
    assert!(Miner::from_state(Config::default(), state).is_err());
    assert!("not-an-id".parse::<PatternId>().is_err());
    let id = m.observe("a");
    assert_eq!(id.to_string().parse::<PatternId>().unwrap(), id);
}
