//! Events on screen: a joined multi-line event folds and opens with `Enter`/`o` in
//! Tail and with `o` in Search results, its further lines in its level's colour.

use crossterm::event::KeyCode;
use lookout_shared::Level;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

use super::tests::{code, connected, ctrl, entry, feed, key, render, typed};
use super::App;

const TRACE: &str = "java.lang.IllegalStateException: boom\n\tat com.example.Ledger.write(Ledger.java:212)\n\tat com.example.Main.main(Main.java:5)";

fn colour_of(app: &App, needle: &str) -> Option<Color> {
    let mut term = ratatui::Terminal::new(TestBackend::new(140, 20)).unwrap();
    term.draw(|f| crate::ui::draw(f, app)).unwrap();
    let buf = term.backend().buffer().clone();
    (0..20u16).find_map(|y| {
        let row: String = (0..140u16).map(|x| buf[(x, y)].symbol()).collect();
        let x = row.find(needle)?;
        let col = row[..x].chars().count() as u16;
        Some(buf[(col, y)].fg)
    })
}

#[test]
fn enter_opens_and_folds_a_trace_whose_frames_are_red() {
    let (mut app, _, _, sub) = connected();
    app.color = true;
    feed(
        &mut app,
        sub,
        vec![
            entry(1, "ledger-0", Some(Level::Error), TRACE),
            entry(2, "ledger-0", Some(Level::Info), "next request ok"),
        ],
    );
    let s = render(&app, 140, 20);
    assert!(s.contains("boom  +2 lines"), "{s}");
    assert!(!s.contains("com.example.Ledger"), "folded: {s}");
    // Following: Enter takes the newest line, which has nothing more to show.
    app.on_event(code(KeyCode::Enter));
    assert!(app.message.as_ref().unwrap().0.contains("nothing more"));
    app.on_event(key('k'));
    app.on_event(code(KeyCode::Enter));
    let s = render(&app, 140, 20);
    assert!(s.contains("    at com.example.Ledger.write"), "{s}");
    assert!(!s.contains("+2 lines"), "{s}");
    assert_eq!(colour_of(&app, "com.example.Ledger"), Some(Color::Red));
    assert_eq!(colour_of(&app, "com.example.Main"), Some(Color::Red));
    assert_ne!(colour_of(&app, "next request ok"), Some(Color::Red));
    // `y` copies the whole event, every line.
    app.on_event(key('y'));
    let copied = app.term.iter().any(|t| {
        matches!(t, super::TermRequest::Copy(s) if s.contains("Main.java:5") && s.contains("boom"))
    });
    assert!(copied, "{:?}", app.term);
    app.on_event(key('o'));
    assert!(
        render(&app, 140, 20).contains("+2 lines"),
        "o folds it again"
    );
}

#[test]
fn an_expanded_event_taller_than_the_pane_shows_from_its_head() {
    let (mut app, _, _, sub) = connected();
    let long: String = std::iter::once("head of a long trace".to_string())
        .chain((0..60).map(|i| format!("\tat frame{i}")))
        .collect::<Vec<_>>()
        .join("\n");
    feed(
        &mut app,
        sub,
        vec![entry(1, "ledger-0", Some(Level::Error), &long)],
    );
    render(&app, 100, 20);
    app.on_event(key('k'));
    app.on_event(key('o'));
    let s = render(&app, 100, 20);
    assert!(
        s.contains("head of a long trace") && s.contains("frame0"),
        "{s}"
    );
}

#[test]
fn o_opens_a_json_result_field_by_field() {
    use lookout_shared::protocol::{ClientMsg, SearchPage, ServerMsg};
    let (mut app, _, _, _) = connected();
    let mut e = entry(
        1,
        "checkout",
        Some(Level::Error),
        r#"{"msg":"upstream failed","status":503}"#,
    );
    e.fields = serde_json::from_str(r#"{"msg":"upstream failed","status":503}"#).unwrap();
    app.on_event(key('2'));
    super::tests::typed(&mut app, "status:503");
    app.on_event(code(KeyCode::Enter));
    let id = app
        .outbox
        .drain(..)
        .find_map(|m| match m {
            ClientMsg::Search { id, .. } => Some(id),
            _ => None,
        })
        .unwrap();
    app.on_event(super::Event::Client(crate::client::ClientEvent::Msg(
        ServerMsg::SearchResult {
            id,
            page: SearchPage {
                entries: vec![e],
                total: 1,
                ..Default::default()
            },
        },
    )));
    let s = render(&app, 120, 30);
    assert!(s.contains("upstream failed  status=503"), "{s}");
    app.on_event(key('o'));
    let s = render(&app, 120, 30);
    assert!(!s.contains("status=503"), "{s}");
    assert!(s.contains("status  503"), "{s}");
}

#[test]
fn a_restart_draws_a_marker_and_p_searches_the_previous_instance() {
    use lookout_shared::protocol::ClientMsg;
    let (mut app, _, _, sub) = connected();
    let at = |seq: u64, pod: &str, restart: u32, msg: &str| {
        let mut e = entry(seq, pod, Some(Level::Info), msg);
        e.source.restart = restart;
        e
    };
    feed(
        &mut app,
        sub,
        vec![
            at(1, "ledger-0", 2, "FATAL OutOfMemoryError"),
            at(2, "web-1", 0, "GET / 200"),
            at(3, "ledger-0", 3, "starting ledger"),
            at(4, "ledger-0", 3, "ready"),
        ],
    );
    let s = render(&app, 120, 20);
    let rows: Vec<&str> = s.lines().collect();
    let marker = rows
        .iter()
        .position(|r| r.contains("── container app restarted (instance 3) · ledger-0 ──"))
        .unwrap_or_else(|| panic!("{s}"));
    assert!(rows[marker - 1].contains("GET / 200"), "{s}");
    assert!(rows[marker + 1].contains("starting ledger"), "{s}");
    assert_eq!(s.matches("restarted").count(), 1, "{s}");
    // The newest line is instance 3: `p` searches instance 2 over all time.
    app.on_event(key('p'));
    assert_eq!(app.screen, super::Screen::Search);
    let query = app
        .outbox
        .drain(..)
        .find_map(|m| match m {
            ClientMsg::Search { params, .. } => Some((params.query, params.range)),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        query.0,
        "namespace:payments pod:ledger-0 container:app restart:2"
    );
    assert_eq!(query.1, lookout_shared::protocol::TimeRange::default());
    // web-1 is on its first instance: nothing before it.
    app.on_event(key('1'));
    app.on_event(key('k'));
    app.on_event(key('k'));
    app.on_event(key('k'));
    app.on_event(key('p'));
    assert_eq!(app.screen, super::Screen::Tail);
    assert!(app.message.as_ref().unwrap().0.contains("first instance"));
}

#[test]
fn m_marks_lines_and_quotes_jump_between_them() {
    let (mut app, _, _, sub) = connected();
    feed(
        &mut app,
        sub,
        (0..30)
            .map(|i| entry(i, "web-1", Some(Level::Info), &format!("line {i}")))
            .collect(),
    );
    render(&app, 120, 20);
    app.on_event(key('m')); // following: the newest, line 29
    for _ in 0..10 {
        app.on_event(key('k'));
    }
    app.on_event(key('m')); // line 19
    app.on_event(key('G'));
    let s = render(&app, 120, 20);
    assert!(
        s.contains("◆19:42:07.137 web-1 app    INFO  line 19"),
        "{s}"
    );
    assert!(
        s.contains(" 19:42:07.136 web-1 app    INFO  line 18"),
        "{s}"
    );
    app.on_event(key('"'));
    assert_eq!(app.tail.log.cursor, Some(29));
    app.on_event(key('"'));
    assert_eq!(app.tail.log.cursor, Some(19));
    app.on_event(key('"'));
    assert!(app.message.as_ref().unwrap().0.contains("no older mark"));
    app.on_event(key('\''));
    assert_eq!(app.tail.log.cursor, Some(29));
    // Unmarking both takes the gutter away.
    app.on_event(key('m'));
    app.on_event(key('"'));
    app.on_event(key('m'));
    assert!(!render(&app, 120, 20).contains('◆'));
}

#[test]
fn find_takes_a_regex_between_slashes_and_refuses_a_bad_one() {
    let (mut app, _, _, sub) = connected();
    feed(
        &mut app,
        sub,
        vec![
            entry(
                1,
                "web-1",
                Some(Level::Error),
                "dial tcp: connection refused",
            ),
            entry(2, "web-1", Some(Level::Info), "conn refused by peer"),
            entry(3, "web-1", Some(Level::Info), "connection reset"),
        ],
    );
    app.on_event(key('/'));
    typed(&mut app, "/conn(ection)? REFUSED/");
    app.on_event(code(KeyCode::Enter));
    assert!(app.prompt.is_none());
    assert_eq!(
        app.tail.log.find_count().1,
        2,
        "case-insensitive, both forms"
    );
    assert_eq!(app.tail.log.find_at, Some(1), "the newest match");
    // A bad expression shows a caret under it and changes nothing.
    app.on_event(key('/'));
    app.on_event(ctrl('u'));
    typed(&mut app, "/conn(/");
    let s = render(&app, 100, 20);
    assert!(s.contains("^ regex:"), "{s}");
    app.on_event(code(KeyCode::Enter));
    assert!(app.prompt.is_some(), "Enter keeps the prompt");
    assert_eq!(app.tail.log.find, "/conn(ection)? REFUSED/");
}

#[test]
fn search_s_saves_every_result_paging_through_them() {
    use lookout_shared::protocol::{ClientMsg, Cursor, SearchPage, ServerMsg};
    let (mut app, _, _, _) = connected();
    app.on_event(key('2'));
    typed(&mut app, "level:error");
    app.on_event(code(KeyCode::Enter));
    let search = |app: &mut App| {
        app.outbox
            .drain(..)
            .find_map(|m| match m {
                ClientMsg::Search { id, params } => Some((id, params)),
                _ => None,
            })
            .expect("no search sent")
    };
    let reply = |app: &mut App, id, from: u64, n: u64, more: bool| {
        let entries: Vec<_> = (from..from + n)
            .map(|i| entry(i, "web-1", Some(Level::Error), &format!("failure {i}")))
            .collect();
        let next_cursor = more.then(|| Cursor::of(entries.last().unwrap()));
        app.on_event(super::Event::Client(crate::client::ClientEvent::Msg(
            ServerMsg::SearchResult {
                id,
                page: SearchPage {
                    entries,
                    total: 6,
                    next_cursor,
                    ..Default::default()
                },
            },
        )));
    };
    let (id, _) = search(&mut app);
    reply(&mut app, id, 0, 2, true);
    app.outbox.clear();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("all.log");
    app.on_event(key('s'));
    app.on_event(ctrl('u'));
    typed(&mut app, path.to_str().unwrap());
    app.on_event(code(KeyCode::Enter));
    let (id, params) = search(&mut app);
    assert_eq!(params.cursor.map(|c| c.seq), Some(1));
    assert_eq!(params.limit, lookout_shared::limits::MAX_PAGE);
    reply(&mut app, id, 2, 3, true);
    let (id, _) = search(&mut app);
    reply(&mut app, id, 5, 1, false);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 6, "{text}");
    assert!(
        text.contains("failure 0") && text.contains("failure 5"),
        "{text}"
    );
    assert!(app.message.as_ref().unwrap().0.contains("saved 6 lines"));
    assert_eq!(app.search.results.len(), 2, "the pages saved were not kept");
}
