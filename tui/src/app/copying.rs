//! Tail's cursor, selection, copy, save and level keys, driven as a user presses
//! them and checked on the rendered screen and in what the core asks of the
//! terminal.

use crossterm::event::KeyCode;
use lookout_shared::Level;
use ratatui::backend::TestBackend;
use ratatui::style::Modifier;

use super::tests::{code, connected, entry, feed, key, render, typed};
use super::{App, TermRequest};

/// A connected app drawn at 120x30 with `n` lines `line 0` … (every tenth an error).
fn with_lines(n: u64) -> App {
    let (mut app, _, _, sub) = connected();
    render(&app, 120, 30); // learn the pane height
    feed(
        &mut app,
        sub,
        (0..n)
            .map(|i| {
                let level = if i % 10 == 0 {
                    Level::Error
                } else {
                    Level::Info
                };
                entry(i, "ledger-0", Some(level), &format!("line {i}"))
            })
            .collect(),
    );
    app
}

fn copies(app: &App) -> Vec<String> {
    app.term
        .iter()
        .filter_map(|r| match r {
            TermRequest::Copy(t) => Some(t.clone()),
            _ => None,
        })
        .collect()
}

/// The modifiers of the first cell of the row showing `needle`.
fn row_modifier(app: &App, needle: &str) -> Modifier {
    let (w, h) = (120u16, 30u16);
    let mut term = ratatui::Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| crate::ui::draw(f, app)).unwrap();
    let buf = term.backend().buffer().clone();
    (0..h)
        .find_map(|y| {
            let row: String = (0..w).map(|x| buf[(x, y)].symbol()).collect();
            let x = row.find(needle)?;
            let col = row[..x].chars().count() as u16;
            Some(buf[(col, y)].modifier)
        })
        .unwrap_or_else(|| panic!("{needle} not drawn"))
}

#[test]
fn y_copies_the_line_under_the_cursor() {
    let mut app = with_lines(100);
    // Following: y takes the newest line.
    app.on_event(key('y'));
    assert_eq!(copies(&app), ["line 99"]);
    assert!(render(&app, 120, 30).contains("copied 1 line to the clipboard"));
    app.term.clear();
    app.on_event(key('k'));
    app.on_event(key('k'));
    assert!(!app.tail.log.follow, "the cursor pauses");
    assert!(row_modifier(&app, "line 97").contains(Modifier::REVERSED));
    assert!(!row_modifier(&app, "line 96").contains(Modifier::REVERSED));
    app.on_event(key('y'));
    assert_eq!(copies(&app), ["line 97"]);
    // e lands the cursor on the error it jumps to.
    app.term.clear();
    app.on_event(key('e'));
    app.on_event(key('y'));
    assert_eq!(copies(&app), ["line 90"]);
    // Past the newest line, the pane follows again.
    for _ in 0..20 {
        app.on_event(key('j'));
    }
    assert!(app.tail.log.follow && app.tail.log.cursor.is_none());
}

#[test]
fn v_selects_y_and_shift_y_copy_the_selection_esc_drops_it() {
    let mut app = with_lines(100);
    app.on_event(key('k'));
    app.on_event(key('v'));
    app.on_event(key('k'));
    app.on_event(key('k'));
    let s = render(&app, 120, 30);
    assert!(s.contains("3 selected"), "{s}");
    app.on_event(key('Y'));
    let copied = copies(&app);
    let lines: Vec<&str> = copied[0].lines().collect();
    assert_eq!(lines.len(), 3, "{copied:?}");
    assert!(lines[0].contains("payments/ledger-0/app") && lines[0].ends_with("line 96"));
    assert!(lines[2].ends_with("line 98"));
    assert!(render(&app, 120, 30).contains("copied 3 lines"));
    assert_eq!(
        app.tail.log.selection(),
        None,
        "a copied selection is done with"
    );
    // Esc drops a selection and quits nothing.
    app.on_event(key('v'));
    app.on_event(key('k'));
    app.on_event(code(KeyCode::Esc));
    assert_eq!(app.tail.log.selection(), None);
    assert!(!app.quit);
}

#[test]
fn a_copy_beyond_what_a_terminal_takes_is_cut_at_a_line_and_said() {
    let (mut app, _, _, sub) = connected();
    render(&app, 120, 30);
    let long = "x".repeat(10_000);
    feed(
        &mut app,
        sub,
        (0..20).map(|i| entry(i, "ledger-0", None, &long)).collect(),
    );
    app.on_event(key('g'));
    app.on_event(key('v'));
    app.on_event(key('G')); // G follows and drops the selection…
    assert_eq!(app.tail.log.selection(), None);
    app.on_event(key('g'));
    app.on_event(key('v'));
    for _ in 0..19 {
        app.on_event(key('j'));
    }
    app.on_event(key('y'));
    let copied = copies(&app);
    assert_eq!(copied[0].lines().count(), 7);
    assert!(copied[0].len() <= crate::osc52::MAX_TEXT);
    let s = render(&app, 160, 30);
    assert!(s.contains("copied the first 7 of 20 lines"), "{s}");
}

#[test]
fn m_hands_the_mouse_to_the_terminal_and_back() {
    let mut app = with_lines(10);
    app.on_event(key('M'));
    assert_eq!(app.term, [TermRequest::MouseCapture(false)]);
    let s = render(&app, 120, 30);
    assert!(s.contains("mouse off (M)"), "{s}");
    app.on_event(key('M'));
    assert_eq!(app.term.last(), Some(&TermRequest::MouseCapture(true)));
    assert!(!render(&app, 120, 30).contains("mouse off"));
    // Typing an M into the search box types it.
    app.on_event(key('2'));
    typed(&mut app, "M");
    assert_eq!(app.search.input.text, "M");
    assert_eq!(app.term.len(), 2);
}

#[test]
fn s_saves_the_whole_scrollback_not_the_screenful() {
    let mut app = with_lines(300);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ring.log");
    app.on_event(key('s'));
    app.on_event(super::tests::ctrl('u'));
    typed(&mut app, path.to_str().unwrap());
    app.on_event(code(KeyCode::Enter));
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 300);
    assert!(text.lines().next().unwrap().ends_with("line 0"));
    assert!(app.message.as_ref().unwrap().0.contains("saved 300 lines"));
}

#[test]
fn l_cycles_the_minimum_level_and_hides_without_losing() {
    let mut app = with_lines(100);
    for _ in 0..3 {
        app.on_event(key('L'));
    }
    assert_eq!(app.tail.log.min_level, Some(Level::Error));
    let s = render(&app, 120, 30);
    assert!(s.contains("ERROR+ only (L)"), "{s}");
    assert!(s.contains("line 90") && s.contains("line 0"), "{s}");
    assert!(!s.contains("line 91"), "{s}");
    app.on_event(key('k'));
    app.on_event(key('y'));
    assert_eq!(
        copies(&app),
        ["line 80"],
        "the cursor steps over hidden lines"
    );
    app.on_event(key('L'));
    assert_eq!(app.tail.log.min_level, None);
    assert!(render(&app, 120, 30).contains("line 81"));
    assert_eq!(app.tail.log.lines.len(), 100);
}

#[test]
fn a_click_puts_the_cursor_on_the_line_clicked() {
    use crossterm::event::{KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
    let mut app = with_lines(100);
    let s = render(&app, 120, 30);
    let (row, line) = s
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains("line 95"))
        .unwrap();
    let column = line[..line.find("line 95").unwrap()].chars().count() as u16;
    let click = |column: u16, row: usize| {
        super::Event::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column,
            row: row as u16,
            modifiers: KeyModifiers::NONE,
        })
    };
    app.on_event(click(column, row));
    assert_eq!(app.tail.log.cursor, Some(95));
    app.on_event(key('y'));
    assert_eq!(copies(&app), ["line 95"]);
    // A click on the stream tree or the frame moves nothing.
    app.on_event(click(2, row));
    app.on_event(click(column, 0));
    assert_eq!(app.tail.log.cursor, Some(95));
}

#[test]
fn with_wrap_on_the_cursor_stays_on_screen() {
    let (mut app, _, _, sub) = connected();
    render(&app, 80, 24);
    let long = "word ".repeat(60); // 300 chars: several rows each
    feed(
        &mut app,
        sub,
        (0..50)
            .map(|i| entry(i, "ledger-0", None, &format!("line {i} {long}")))
            .collect(),
    );
    app.on_event(key('w'));
    for _ in 0..8 {
        app.on_event(key('k'));
    }
    assert_eq!(app.tail.log.cursor, Some(41));
    let s = render(&app, 80, 24);
    assert!(s.contains("line 41 "), "{s}");
    assert!(row_modifier(&app, "line 41 ").contains(Modifier::REVERSED));
}

#[test]
fn y_copies_the_selected_result_and_the_context_line_under_the_cursor() {
    use crate::client::ClientEvent;
    use lookout_shared::protocol::{ClientMsg, ContextPage, SearchPage, ServerMsg};
    let mut app = with_lines(1);
    app.on_event(key('2'));
    typed(&mut app, "failed");
    app.on_event(code(KeyCode::Enter));
    let Some(ClientMsg::Search { id, .. }) = app.outbox.pop() else {
        panic!("no search")
    };
    let hit = |i: u64| entry(i, "ledger-0", Some(Level::Error), &format!("failed {i}"));
    app.on_event(super::Event::Client(ClientEvent::Msg(
        ServerMsg::SearchResult {
            id,
            page: SearchPage {
                entries: (0..5).map(hit).collect(),
                total: 5,
                ..Default::default()
            },
        },
    )));
    app.on_event(key('j'));
    app.on_event(key('y'));
    app.on_event(key('Y'));
    let c = copies(&app);
    assert_eq!(c[0], "failed 1");
    assert!(
        c[1].contains("payments/ledger-0/app") && c[1].ends_with("failed 1"),
        "{c:?}"
    );
    app.term.clear();
    app.on_event(code(KeyCode::Enter));
    let Some(ClientMsg::Context { id, .. }) = app.outbox.pop() else {
        panic!("no context request")
    };
    let around = |r: std::ops::Range<u64>| {
        r.map(|i| entry(i, "ledger-0", None, &format!("tx {i}")))
            .collect()
    };
    app.on_event(super::Event::Client(ClientEvent::Msg(
        ServerMsg::ContextResult {
            id,
            page: ContextPage {
                before: around(0..3),
                entry: Some(hit(3)),
                after: around(4..6),
            },
        },
    )));
    app.on_event(key('y'));
    app.on_event(key('j'));
    app.on_event(key('y'));
    assert_eq!(copies(&app), ["failed 3", "tx 4"]);
}
