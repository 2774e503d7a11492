//! Regression tests for the traps a new user fell into: keys that quit, threw work
//! away or ran commands when the user meant to type. One test per trap, named
//! after what the user saw.

use crossterm::event::KeyCode;
use lookout_shared::protocol::{
    AlertState, ClientMsg, ErrorBody, ErrorCode, Position, ServerMsg, StreamInfo,
};

use super::tests::{code, connected, key, render, rule, stream, typed};
use super::{App, Event, Screen};
use crate::client::ClientEvent;
use crate::keys::Ctx;

fn esc(app: &mut App, times: usize) {
    for _ in 0..times {
        app.on_event(code(KeyCode::Esc));
    }
}

fn with_streams(app: &mut App, streams_id: u64, streams: Vec<StreamInfo>) {
    app.on_event(Event::Client(ClientEvent::Msg(ServerMsg::Streams {
        id: streams_id,
        streams,
    })));
}

#[test]
fn esc_in_the_stream_picker_returns_to_the_log_and_never_quits() {
    let (mut app, streams, _, _) = connected();
    with_streams(
        &mut app,
        streams,
        vec![stream("payments", "checkout-7d9f", "app", true, 1.0)],
    );
    app.on_event(code(KeyCode::Tab));
    assert_eq!(app.ctx(), Ctx::TailStreams);
    esc(&mut app, 1);
    assert_eq!(app.ctx(), Ctx::TailLog);
    esc(&mut app, 5);
    assert!(!app.quit);
    let s = render(&app, 80, 24);
    assert!(s.contains("nothing to close · q quits"), "{s}");
}

#[test]
fn esc_after_cancelling_a_prompt_does_not_quit() {
    let (mut app, _, _, _) = connected();
    for opener in ['f', '/'] {
        app.on_event(key(opener));
        assert_eq!(app.ctx(), Ctx::Prompt);
        esc(&mut app, 2);
        assert!(app.prompt.is_none());
        assert!(!app.quit, "Esc Esc after {opener} quit");
    }
}

#[test]
fn esc_never_quits_from_any_screen_or_pane() {
    let (mut app, _, _, _) = connected();
    for screen in ['1', '2', '3'] {
        app.on_event(key(screen));
        esc(&mut app, 6);
        assert!(!app.quit, "Esc quit from screen {screen}");
    }
    // The help overlay, the context view, an unedited rule form: Esc closes them.
    app.on_event(key('?'));
    esc(&mut app, 3);
    assert!(!app.help && !app.quit);
    app.on_event(key('3'));
    app.on_event(key('n'));
    esc(&mut app, 1);
    assert!(
        app.alerts.editor.is_none(),
        "an untouched form closes at once"
    );
    esc(&mut app, 3);
    assert!(!app.quit);
    app.on_event(key('q'));
    assert!(app.quit, "q still quits from a top screen");
}

#[test]
fn esc_in_an_edited_rule_asks_before_throwing_it_away() {
    let (mut app, _, _, _) = connected();
    app.on_event(key('3'));
    app.on_event(key('n'));
    typed(&mut app, "HalfTyped");
    esc(&mut app, 1);
    assert_eq!(app.ctx(), Ctx::Confirm);
    let s = render(&app, 80, 24);
    assert!(s.contains("Discard the changes to this rule?"), "{s}");
    // Any key but y keeps the form as it was.
    esc(&mut app, 1);
    assert_eq!(app.ctx(), Ctx::AlertsEditor);
    assert_eq!(
        app.alerts.editor.as_ref().unwrap().fields[0].text,
        "HalfTyped"
    );
    esc(&mut app, 1);
    app.on_event(key('y'));
    assert!(app.alerts.editor.is_none());
    assert!(!app.quit);
}

#[test]
fn q_with_an_edited_rule_open_asks_on_the_alerts_screen() {
    let (mut app, _, _, _) = connected();
    app.on_event(key('3'));
    app.on_event(key('n'));
    typed(&mut app, "Unsaved");
    app.on_event(Event::Key(crossterm::event::KeyEvent::new(
        KeyCode::F(1),
        crossterm::event::KeyModifiers::NONE,
    )));
    assert_eq!(app.screen, Screen::Tail);
    app.on_event(key('q'));
    assert!(!app.quit);
    assert_eq!(app.screen, Screen::Alerts);
    let s = render(&app, 80, 24);
    assert!(s.contains("Quit and discard the changes"), "{s}");
    app.on_event(key('n'));
    assert!(!app.quit);
    assert_eq!(
        app.alerts.editor.as_ref().unwrap().fields[0].text,
        "Unsaved"
    );
    esc(&mut app, 1); // asks again (edited)
    app.on_event(key('y'));
    app.on_event(key('q'));
    assert!(app.quit, "with nothing to lose, q quits");
}

#[test]
fn after_an_invalid_search_typing_still_types() {
    let (mut app, _, _, _) = connected();
    app.on_event(key('2'));
    typed(&mut app, "level:error AND");
    // The box says what is wrong, with a caret, before anything is sent.
    let s = render(&app, 100, 30);
    let caret = s.lines().find(|l| l.contains('^')).expect(&s);
    assert!(caret.contains("(col "), "{s}");
    app.outbox.clear();
    app.on_event(code(KeyCode::Enter));
    assert!(
        !app.outbox
            .iter()
            .any(|m| matches!(m, ClientMsg::Search { .. })),
        "an invalid query was sent"
    );
    assert_eq!(app.ctx(), Ctx::SearchInput);
    typed(&mut app, " level:warn");
    assert_eq!(app.screen, Screen::Search, "a letter ran a command");
    assert_eq!(app.search.input.text, "level:error AND level:warn");
    assert!(!app.tail.log.wrap, "`w` toggled wrap in Tail");
    // The old error went with the text that caused it.
    let s = render(&app, 100, 30);
    assert!(!s.contains('^'), "{s}");
    app.on_event(code(KeyCode::Enter));
    assert!(app
        .outbox
        .iter()
        .any(|m| matches!(m, ClientMsg::Search { params, .. } if params.query == "level:error AND level:warn")));
    assert_eq!(app.ctx(), Ctx::SearchResults);
}

#[test]
fn a_search_the_daemon_refuses_gives_the_box_back() {
    let (mut app, _, _, _) = connected();
    app.on_event(key('2'));
    typed(&mut app, "timeout");
    app.outbox.clear();
    app.on_event(code(KeyCode::Enter));
    let Some(ClientMsg::Search { id, .. }) = app.outbox.pop() else {
        panic!("no search")
    };
    app.on_event(Event::Client(ClientEvent::Msg(ServerMsg::Error {
        id: Some(id),
        error: ErrorBody {
            code: ErrorCode::BadQuery,
            message: "too many terms".into(),
            position: Some(Position {
                column: 0,
                length: 7,
            }),
            field: None,
        },
    })));
    assert_eq!(app.ctx(), Ctx::SearchInput);
    typed(&mut app, "l");
    assert_eq!(app.screen, Screen::Search);
    assert_eq!(app.search.input.text, "timeoutl");
    assert!(
        app.search.error.is_none(),
        "the refusal was about the old text"
    );
}

#[test]
fn a_template_error_shows_under_annotations_with_a_caret() {
    let (mut app, _, _, _) = connected();
    app.on_event(key('3'));
    app.on_event(key('n'));
    typed(&mut app, "Declines");
    for _ in 0..8 {
        app.on_event(code(KeyCode::Tab));
    }
    typed(&mut app, "summary=in {{ $labels.pod");
    let s = render(&app, 100, 30);
    let lines: Vec<&str> = s.lines().collect();
    let field = lines
        .iter()
        .position(|l| l.contains("annotations") && l.contains("summary="))
        .expect(&s);
    let under = lines[field + 1];
    assert!(
        under.contains('^'),
        "the error is not under annotations:\n{s}"
    );
    let caret = under.chars().position(|c| c == '^').unwrap();
    let braces = lines[field]
        .find("{{")
        .map(|b| lines[field][..b].chars().count());
    assert_eq!(Some(caret), braces, "{s}");
    let name = lines.iter().position(|l| l.contains("Declines")).unwrap();
    assert!(
        !lines[name + 1].contains('^') && !lines[name + 1].contains('✗'),
        "{s}"
    );
}

#[test]
fn deleting_a_rule_leaves_the_cursor_on_its_neighbour() {
    let (mut app, _, _, _) = connected();
    let list = app.alerts.list_req.unwrap();
    let names = ["Alpha", "Bravo", "Charlie", "Delta"];
    app.on_event(Event::Client(ClientEvent::Msg(ServerMsg::Rules {
        id: list,
        rules: names
            .iter()
            .map(|n| rule(n, AlertState::Inactive, true))
            .collect(),
    })));
    app.on_event(key('3'));
    app.on_event(key('j'));
    app.on_event(key('j'));
    assert_eq!(app.alerts.selected_rule().unwrap().rule.name, "Charlie");
    app.outbox.clear();
    app.on_event(key('d'));
    app.on_event(key('y'));
    let del = app
        .outbox
        .iter()
        .find_map(|m| match m {
            ClientMsg::DeleteRule { id, .. } => Some(*id),
            _ => None,
        })
        .unwrap();
    app.on_event(Event::Client(ClientEvent::Msg(ServerMsg::Ok { id: del })));
    let list = app
        .outbox
        .iter()
        .find_map(|m| match m {
            ClientMsg::ListRules { id } => Some(*id),
            _ => None,
        })
        .unwrap();
    let rest = ["Alpha", "Bravo", "Delta"];
    app.on_event(Event::Client(ClientEvent::Msg(ServerMsg::Rules {
        id: list,
        rules: rest
            .iter()
            .map(|n| rule(n, AlertState::Inactive, true))
            .collect(),
    })));
    assert_eq!(app.alerts.selected_rule().unwrap().rule.name, "Delta");
}

fn down(app: &mut App) {
    app.on_event(Event::Client(ClientEvent::Disconnected {
        reason: "connection refused".into(),
        retry_in: std::time::Duration::from_secs(4),
        fatal: false,
    }));
}

#[test]
fn after_the_daemon_died_the_header_says_so_and_marks_old_figures() {
    let (mut app, _, _, _) = connected();
    app.on_event(Event::Client(ClientEvent::Msg(ServerMsg::Status {
        status: lookout_shared::protocol::ServerStatus {
            lines_per_sec: 186.0,
            firing: 1,
            ..Default::default()
        },
    })));
    let s = render(&app, 140, 24);
    assert!(s.contains("following ●") && s.contains("▲ 1 firing"), "{s}");
    down(&mut app);
    let s = render(&app, 140, 24);
    assert!(s.contains("reconnecting in 4s"), "{s}");
    assert!(s.contains("stale: 186 lines/s · 1 firing"), "{s}");
    assert!(!s.contains("▲ 1 firing"), "{s}");
    assert!(!s.contains("following ●"), "{s}");
    assert!(s.contains("disconnected — retrying ○"), "{s}");
}

#[test]
fn with_no_daemon_search_says_not_connected_and_runs_on_connect() {
    let mut app = App::new(
        "ws://127.0.0.1:7700".into(),
        100,
        true,
        lookout_shared::Timestamp(super::tests::T0),
    );
    app.on_event(Event::Client(ClientEvent::Connecting));
    down(&mut app);
    app.on_event(key('2'));
    typed(&mut app, "timeout");
    app.on_event(code(KeyCode::Enter));
    assert!(!app
        .outbox
        .iter()
        .any(|m| matches!(m, ClientMsg::Search { .. })));
    let s = render(&app, 100, 30);
    assert!(!s.contains("searching…"), "{s}");
    assert!(
        s.contains("not connected: the search runs on reconnect"),
        "{s}"
    );
    // The daemon comes up: the search runs by itself.
    app.on_event(Event::Client(ClientEvent::Connected(Default::default())));
    assert!(app
        .outbox
        .iter()
        .any(|m| matches!(m, ClientMsg::Search { params, .. } if params.query == "timeout")));
    assert!(render(&app, 100, 30).contains("searching…"));
}

#[test]
fn a_search_in_flight_when_the_connection_drops_runs_again() {
    let (mut app, _, _, _) = connected();
    app.on_event(key('2'));
    typed(&mut app, "timeout");
    app.on_event(code(KeyCode::Enter));
    app.outbox.clear();
    down(&mut app);
    assert!(render(&app, 100, 30).contains("not connected: the search runs"));
    app.on_event(Event::Client(ClientEvent::Connected(Default::default())));
    assert!(app
        .outbox
        .iter()
        .any(|m| matches!(m, ClientMsg::Search { .. })));
}

#[test]
fn with_no_daemon_alerts_and_the_editor_say_not_connected() {
    let mut app = App::new(
        "ws://127.0.0.1:7700".into(),
        100,
        true,
        lookout_shared::Timestamp(super::tests::T0),
    );
    down(&mut app);
    app.on_event(key('3'));
    let s = render(&app, 100, 30);
    assert!(!s.contains("no rules yet"), "{s}");
    assert!(s.contains("not connected: rules load on reconnect"), "{s}");
    app.on_event(key('n'));
    typed(&mut app, "Declines");
    app.on_event(Event::Tick(lookout_shared::Timestamp(
        super::tests::T0 + 1_000_000_000,
    )));
    assert!(app.outbox.is_empty(), "{:?}", app.outbox);
    let s = render(&app, 100, 30);
    assert!(!s.contains("checking"), "{s}");
    assert!(
        s.lines()
            .any(|l| l.contains("query") && l.contains("○ not connected")),
        "{s}"
    );
    app.on_event(Event::Key(crossterm::event::KeyEvent::new(
        KeyCode::Char('s'),
        crossterm::event::KeyModifiers::CONTROL,
    )));
    let s = render(&app, 100, 30);
    assert!(s.contains("not connected: the form is kept"), "{s}");
    assert_eq!(
        app.alerts.editor.as_ref().unwrap().fields[0].text,
        "Declines"
    );
    // On connect: the list loads and the form is checked by the daemon.
    app.on_event(Event::Client(ClientEvent::Connected(Default::default())));
    assert!(app
        .outbox
        .iter()
        .any(|m| matches!(m, ClientMsg::ListRules { .. })));
    app.on_event(Event::Tick(lookout_shared::Timestamp(
        super::tests::T0 + 2_000_000_000,
    )));
    assert!(app
        .outbox
        .iter()
        .any(|m| matches!(m, ClientMsg::ValidateRule { .. })));
}

#[test]
fn pods_are_told_apart_by_full_names_colours_and_titles() {
    let (mut app, streams, _, sub) = connected();
    let pods = ["hdfs-datanode-0", "hdfs-datanode-1", "hdfs-namenode-0"];
    with_streams(
        &mut app,
        streams,
        pods.iter()
            .map(|p| stream("hdfs", p, "app", true, 1.0))
            .chain([stream("search", "es-0", "es", true, 1.0)])
            .collect(),
    );
    super::tests::feed(
        &mut app,
        sub,
        (0..30)
            .map(|i| super::tests::entry(i, pods[i as usize % 3], None, "block served"))
            .collect(),
    );
    // Wide terminal: every pod name whole, not cut to a fixed 14 columns.
    let s = render(&app, 250, 30);
    for p in pods {
        assert!(s.contains(&format!("{p} ")), "{p} is cut:\n{s}");
    }
    // Three pods on screen, three colours.
    let slots: std::collections::BTreeSet<usize> =
        pods.iter().map(|p| app.tail.log.colors.slot(p)).collect();
    assert_eq!(slots.len(), 3);
    // The title names what is selected.
    for p in &pods[..2] {
        app.tail.tree.selected.insert(crate::app::tail::StreamKey {
            namespace: "hdfs".into(),
            pod: (*p).into(),
            container: "app".into(),
        });
    }
    assert_eq!(app.tail.title(), "hdfs: hdfs-datanode-0, hdfs-datanode-1");
    app.tail.tree.selected.insert(crate::app::tail::StreamKey {
        namespace: "search".into(),
        pod: "es-0".into(),
        container: "es".into(),
    });
    assert_eq!(
        app.tail.title(),
        "hdfs: hdfs-datanode-0, hdfs-datanode-1 · search/*"
    );
}

#[test]
fn e_and_e_jump_between_errors_like_lnav() {
    use lookout_shared::Level;
    let (mut app, _, _, sub) = connected();
    super::tests::feed(
        &mut app,
        sub,
        (0..200)
            .map(|i| {
                let level = if i == 40 || i == 150 {
                    Some(Level::Error)
                } else {
                    Some(Level::Info)
                };
                super::tests::entry(i, "ledger-0", level, &format!("line {i}"))
            })
            .collect(),
    );
    app.tail.log.view_rows.set(20);
    app.on_event(key('e'));
    assert_eq!(app.tail.log.error_at, Some(150));
    assert!(!app.tail.log.follow, "jumping back pauses follow");
    let s = render(&app, 120, 30);
    assert!(s.contains("line 150"), "{s}");
    app.on_event(key('e'));
    assert_eq!(app.tail.log.error_at, Some(40));
    assert!(render(&app, 120, 30).contains("line 40"));
    app.on_event(key('e'));
    assert_eq!(app.tail.log.error_at, Some(40));
    assert!(render(&app, 120, 30).contains("no older error"));
    app.on_event(key('E'));
    assert_eq!(app.tail.log.error_at, Some(150));
}

#[test]
fn the_frames_of_an_error_trace_are_drawn_as_an_error() {
    use lookout_shared::Level;
    use ratatui::backend::TestBackend;
    use ratatui::style::Color;
    let (mut app, _, _, sub) = connected();
    let lines = [
        (Some(Level::Error), "java.lang.IllegalStateException: boom"),
        (None, "\tat com.example.Ledger.write(Ledger.java:212)"),
        (Some(Level::Info), "\tat com.example.Main.main(Main.java:5)"),
        (Some(Level::Info), "next request ok"),
    ];
    super::tests::feed(
        &mut app,
        sub,
        lines
            .iter()
            .enumerate()
            .map(|(i, (l, m))| super::tests::entry(i as u64, "ledger-0", *l, m))
            .collect(),
    );
    let mut term = ratatui::Terminal::new(TestBackend::new(140, 20)).unwrap();
    term.draw(|f| crate::ui::draw(f, &app)).unwrap();
    let buf = term.backend().buffer().clone();
    let colour_of = |needle: &str| {
        (0..20u16)
            .find_map(|y| {
                let row: String = (0..140u16).map(|x| buf[(x, y)].symbol()).collect();
                let x = row.find(needle)?;
                let col = row[..x].chars().count() as u16;
                Some(buf[(col, y)].fg)
            })
            .unwrap_or_else(|| panic!("{needle} not drawn"))
    };
    assert_eq!(colour_of("com.example.Ledger"), Color::Red);
    assert_eq!(colour_of("com.example.Main"), Color::Red);
    assert_ne!(colour_of("next request ok"), Color::Red);
}

#[test]
fn context_covers_the_whole_pod_and_grows_at_its_edges() {
    use lookout_shared::protocol::{ContextPage, ContextScope, SearchPage};
    use lookout_shared::{Level, Stream};
    let entry = super::tests::entry;
    let (mut app, _, _, _) = connected();
    app.on_event(key('2'));
    typed(&mut app, "deadlock");
    app.on_event(code(KeyCode::Enter));
    let Some(ClientMsg::Search { id, .. }) = app.outbox.pop() else {
        panic!("no search")
    };
    let hit = entry(100, "ledger-0", Some(Level::Error), "deadlock detected");
    app.on_event(Event::Client(ClientEvent::Msg(ServerMsg::SearchResult {
        id,
        page: SearchPage {
            entries: vec![hit.clone()],
            total: 1,
            ..Default::default()
        },
    })));
    app.outbox.clear();
    app.on_event(code(KeyCode::Enter));
    let Some(ClientMsg::Context { id, scope, .. }) = app.outbox.pop() else {
        panic!("no context request")
    };
    assert_eq!(scope, ContextScope::Pod, "context asked for the whole pod");
    let mut stderr_line = entry(99, "ledger-0", None, "stderr between");
    stderr_line.stream = Stream::Stderr;
    let mut sidecar = entry(101, "ledger-0", None, "sidecar says hi");
    sidecar.source.container = "envoy".into();
    app.on_event(Event::Client(ClientEvent::Msg(ServerMsg::ContextResult {
        id,
        page: ContextPage {
            before: (80..99)
                .map(|i| entry(i, "ledger-0", None, &format!("before {i}")))
                .chain([stderr_line])
                .collect(),
            entry: Some(hit),
            after: [sidecar]
                .into_iter()
                .chain((102..121).map(|i| entry(i, "ledger-0", None, &format!("after {i}"))))
                .collect(),
        },
    })));
    let s = render(&app, 120, 40);
    assert!(s.contains("app!") && s.contains("stderr between"), "{s}");
    assert!(s.contains("envoy") && s.contains("sidecar says hi"), "{s}");
    // Scrolling to the top asks for older lines before the first shown.
    app.outbox.clear();
    for _ in 0..18 {
        app.on_event(key('k'));
    }
    let older = app
        .outbox
        .iter()
        .find_map(|m| match m {
            ClientMsg::Context {
                id,
                at,
                before: 20,
                after: 0,
                ..
            } => Some((*id, at.seq)),
            _ => None,
        })
        .expect("no request for older lines");
    assert_eq!(older.1, 80, "asked before the first line shown");
    app.on_event(Event::Client(ClientEvent::Msg(ServerMsg::ContextResult {
        id: older.0,
        page: ContextPage {
            before: (60..80)
                .map(|i| entry(i, "ledger-0", None, &format!("before {i}")))
                .collect(),
            entry: None,
            after: vec![],
        },
    })));
    let cv = app.search.context.as_ref().unwrap();
    assert_eq!(cv.line_count(), 20 + 20 + 21);
    assert_eq!(cv.lines().next().unwrap().seq, 60);
    // The cursor stayed on the same line.
    assert_eq!(cv.lines().nth(cv.scroll).unwrap().seq, 82);
}

#[test]
fn up_recalls_earlier_queries_and_tab_completes_names_from_the_streams() {
    let (mut app, streams, _, _) = connected();
    with_streams(
        &mut app,
        streams,
        vec![
            stream("payments", "checkout-7d9f", "app", true, 1.0),
            stream("payments", "ledger-0", "app", true, 1.0),
        ],
    );
    app.on_event(key('2'));
    typed(&mut app, "timeout");
    app.on_event(code(KeyCode::Enter));
    app.on_event(code(KeyCode::Esc)); // back to the box
    app.search.input.set("");
    typed(&mut app, "half");
    app.on_event(code(KeyCode::Up));
    assert_eq!(app.search.input.text, "timeout");
    app.on_event(code(KeyCode::Down));
    assert_eq!(
        app.search.input.text, "half",
        "↓ past the newest gives back the draft"
    );
    assert_eq!(app.ctx(), Ctx::SearchInput);
    // Tab completes a field, then a value from the stream list.
    app.search.input.set("");
    typed(&mut app, "po");
    app.on_event(code(KeyCode::Tab));
    assert_eq!(app.search.input.text, "pod:");
    typed(&mut app, "le");
    app.on_event(code(KeyCode::Tab));
    assert_eq!(app.search.input.text, "pod:ledger-0 ");
    // With nothing to complete, Tab still moves to the next pane.
    app.on_event(code(KeyCode::Tab));
    assert_eq!(app.ctx(), Ctx::SearchHistogram);
    // The tail filter prompt has its own history and completion.
    app.on_event(key('1'));
    app.on_event(key('f'));
    typed(&mut app, "namespace:pay");
    app.on_event(code(KeyCode::Tab));
    assert_eq!(
        app.prompt.as_ref().unwrap().input.text,
        "namespace:payments "
    );
    app.on_event(code(KeyCode::Enter));
    app.on_event(key('f'));
    app.on_event(code(KeyCode::Up));
    assert_eq!(
        app.prompt.as_ref().unwrap().input.text,
        "namespace:payments"
    );
}
