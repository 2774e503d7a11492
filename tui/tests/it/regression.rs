//! One test per bug, each named after the bug it pins down.

use std::collections::BTreeSet;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use lookout_daemon::matcher::Matches;
use lookout_shared::protocol::{ClientMsg, SearchPage, ServerMsg, StreamInfo};
use lookout_shared::query::Query;
use lookout_shared::{Level, LogEntry, StreamId, Timestamp};
use lookout_tui::app::tail::{subscription_query, StreamKey};
use lookout_tui::app::{App, Event};
use lookout_tui::client::{ClientEvent, ServerInfo};
use ratatui::backend::TestBackend;
use ratatui::style::Color;
use ratatui::Terminal;

use crate::cli::{lookout, stderr, stdout};
use crate::support::{Daemon, LogTree};

const T0: i64 = 1_764_099_727_118_000_000;

fn key(c: KeyCode) -> Event {
    Event::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

/// Runs `query` on the Search screen, answers it with entries of `messages`, and
/// returns, per result row, the text drawn highlighted.
fn highlighted_results(query: &str, messages: &[&str]) -> Vec<Vec<String>> {
    let mut app = App::new("ws://x".into(), 1000, true, Timestamp(T0));
    app.on_event(Event::Client(ClientEvent::Connected(ServerInfo::default())));
    app.on_event(key(KeyCode::Char('2')));
    for c in query.chars() {
        app.on_event(key(KeyCode::Char(c)));
    }
    app.outbox.clear();
    app.on_event(key(KeyCode::Enter));
    let Some(ClientMsg::Search { id, params }) = app.outbox.pop() else {
        panic!("no search sent for {query:?}");
    };
    assert_eq!(params.query, query);
    let entries = messages
        .iter()
        .enumerate()
        .map(|(i, m)| LogEntry {
            ts: Timestamp(T0 + i as i64),
            source: StreamId {
                namespace: "shop".into(),
                pod: "api-0".into(),
                container: "app".into(),
                ..Default::default()
            },
            level: Some(Level::Info),
            message: (*m).into(),
            seq: i as u64,
            ..Default::default()
        })
        .collect::<Vec<_>>();
    // The daemon would return these: its matcher takes them.
    let parsed = Query::parse(query).unwrap();
    assert!(entries.iter().all(|e| parsed.matches(e)), "{query:?}");
    app.on_event(Event::Client(ClientEvent::Msg(ServerMsg::SearchResult {
        id,
        page: SearchPage {
            entries,
            total: messages.len() as u64,
            ..Default::default()
        },
    })));
    let (w, h) = (160, 30);
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| lookout_tui::ui::draw(f, &app)).unwrap();
    let buf = term.backend().buffer().clone();
    let mut rows = Vec::new();
    for y in 0..h {
        let mut marks: Vec<String> = Vec::new();
        let mut prev = false;
        for x in 0..w {
            let cell = &buf[(x, y)];
            let hl = cell.bg == Color::Yellow;
            if hl && !prev {
                marks.push(String::new());
            }
            if hl {
                marks.last_mut().unwrap().push_str(cell.symbol());
            }
            prev = hl;
        }
        let text: String = (0..w).map(|x| buf[(x, y)].symbol()).collect();
        if messages.iter().any(|m| text.contains(m)) {
            rows.push(marks);
        }
    }
    assert_eq!(rows.len(), messages.len(), "every result drawn");
    rows
}

/// The dashboard highlighted results with its own lexer: a word under `NOT` was
/// marked wherever it appeared inside another word, `+retry` looked for the text
/// `+retry`, `message:` terms were skipped, and a word was marked inside longer words
/// (`error` in `terror`) that the daemon never matched. Now the shared parser decides
/// and exactly the words that matched are marked.
#[test]
fn search_highlights_disagreed_with_what_the_daemon_matched() {
    let rows = highlighted_results(
        "\"upstream timeout\" +retry NOT debug message:error",
        &["upstream timeout, retry 3 (terror: error; debugger attached, retrying)"],
    );
    assert_eq!(rows[0], ["upstream timeout", "retry", "error"]);

    // A phrase typed as one word (`blk_-160`) marks the words it matched, whatever
    // separates them in the line.
    let rows = highlighted_results("blk_-160 OR pod:IN [web api]", &["deleting blk 160 now"]);
    assert_eq!(rows[0], ["blk 160"]);
}

/// Stream names were written into the tail's query by the dashboard's own quoting,
/// which left a leading `-` bare: the daemon's lexer reads `pod:-x` as `pod:` and a
/// negation, so selecting such a stream made the whole tail query an error.
#[test]
fn a_stream_name_starting_with_a_dash_broke_the_tail_query() {
    let k = StreamKey {
        namespace: "-scratch".into(),
        pod: "-x".into(),
        container: "app".into(),
    };
    let other = StreamKey {
        namespace: "shop".into(),
        pod: "x".into(),
        container: "app".into(),
    };
    let known: Vec<StreamInfo> = [&k, &other]
        .iter()
        .map(|k| StreamInfo {
            source: StreamId {
                namespace: k.namespace.clone(),
                pod: k.pod.clone(),
                container: k.container.clone(),
                ..Default::default()
            },
            ..Default::default()
        })
        .collect();
    let selected: BTreeSet<StreamKey> = [k.clone()].into();
    let q = subscription_query(&selected, &known, "");
    let parsed = Query::parse(&q).unwrap_or_else(|e| panic!("{q:?}: {e}"));
    let entry = |k: &StreamKey| LogEntry {
        source: StreamId {
            namespace: k.namespace.clone(),
            pod: k.pod.clone(),
            container: k.container.clone(),
            ..Default::default()
        },
        message: "hello".into(),
        ..Default::default()
    };
    assert!(parsed.matches(&entry(&k)), "{q:?}");
    assert!(!parsed.matches(&entry(&other)), "{q:?}");
}

/// The CLI's parser refused a file with no rule while the daemon's took it as no
/// rules: one parser now reads both, and refusing to apply nothing is the CLI's own
/// decision, said plainly and before anything is sent (the daemon here is not even
/// reachable). The daemon side is pinned in the daemon's regression tests.
#[test]
fn empty_rule_file_was_an_error_to_the_cli_and_no_rules_to_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.yaml");
    for text in ["", "# every rule commented out\n", "rules:\n", "---\n"] {
        std::fs::write(&file, text).unwrap();
        for args in [
            vec!["rules", "apply", "-f", file.to_str().unwrap()],
            vec!["rules", "test", file.to_str().unwrap()],
        ] {
            let o = lookout("ws://127.0.0.1:9", &args);
            assert!(!o.status.success(), "{text:?} {args:?}");
            let err = stderr(&o);
            assert!(err.contains("no rules in the file"), "{text:?}: {err}");
            assert!(
                !err.contains("cannot connect"),
                "refused before connecting: {err}"
            );
        }
    }
}

/// `lookout rules apply -f` sent a file's rules one by one and the daemon validated
/// each: with a second document holding a bad window (or a bad query) the first
/// rule was saved and the second refused, although the docs promise "all valid or
/// none saved". The CLI now validates the whole file with the daemon's own
/// validation first, and says which rule, on which line, and where in the field.
#[test]
fn rule_file_with_an_invalid_rule_was_half_applied() {
    let tree = LogTree::new();
    let daemon = Daemon::start(&tree).expect("daemon");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.yaml");
    let good = "name: Good\nquery: x\nwindow: 5m\ncondition: '> 1'\n";
    for (broken, field, caret) in [
        ("query: y\nwindow: 5q", "window: ", "\n  5q\n   ^"),
        (
            "query: 'level:error AND ('\nwindow: 5m",
            "query: ",
            "\n  level:error AND (\n",
        ),
    ] {
        std::fs::write(
            &file,
            format!("{good}---\nname: Broken\n{broken}\ncondition: '> 1'\n"),
        )
        .unwrap();
        let o = lookout(
            &daemon.url(),
            &["rules", "apply", "-f", file.to_str().unwrap()],
        );
        assert!(!o.status.success());
        let err = stderr(&o);
        assert!(
            err.contains(&format!("line 6, column 1: rule #2 (\"Broken\"): {field}")),
            "{err}"
        );
        assert!(err.contains(caret) && err.contains('^'), "a caret: {err}");
        let o = lookout(&daemon.url(), &["rules", "list", "--json"]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(
            stdout(&o).lines().count(),
            0,
            "nothing saved: {}",
            stdout(&o)
        );
    }
}
