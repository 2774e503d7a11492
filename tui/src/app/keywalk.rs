//! The key-table walk: every pane's handler against every key of a broad universe,
//! so the bar and the `?` overlay (drawn from the tables) cannot drift from what
//! the handlers do.
//!
//! For each place keys can go (every [`Ctx`], and the help overlay) the app is
//! built in that place with state where every listed key has room to act: lists
//! and the log mid-way, text with the cursor inside it, a find with matches on
//! both sides, a collapsed node beside an expanded one. Then every key of the
//! universe is pressed on a fresh copy, and "did something" means the app's whole
//! `Debug` state (outbox, message line and quit flag included) changed:
//!
//! - a key that did something must be covered by a row of the place's table or by
//!   a dashboard-wide row that works there;
//! - every listed key must do something in at least one of the place's states
//!   (a screen key for the screen already shown excepted), "any char" rows must
//!   type every character no other row names, and "any other key" rows must act
//!   on every key no other row names;
//! - the `?` overlay shows every row of the place, label and description.

use std::collections::BTreeSet;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};
use lookout_shared::protocol::{
    AlertState, Bucket, ClientMsg, ContextPage, Histogram, SearchPage, ServerMsg,
};
use lookout_shared::{Level, Timestamp};

use super::tests::{code, connected, entry, feed, key, render, rule, stream, typed, T0};
use super::{App, Event, Screen};
use crate::app::alerts::Editor;
use crate::app::input::TextInput;
use crate::app::search::SearchFocus;
use crate::app::tail::TailFocus;
use crate::client::ClientEvent;
use crate::keys::{Binding, Ctx, Key, Keys};

/// Every key a handler could plausibly take: printable ASCII and a non-ASCII
/// letter, Ctrl with every letter, the named keys, F1-F12 and the wheel.
fn universe() -> Vec<Key> {
    let mut u: Vec<Key> = (' '..='~').map(Key::Char).collect();
    u.push(Key::Char('é'));
    u.extend(('a'..='z').map(Key::Ctrl));
    u.extend(
        [
            KeyCode::Enter,
            KeyCode::Esc,
            KeyCode::Backspace,
            KeyCode::Tab,
            KeyCode::BackTab,
            KeyCode::Up,
            KeyCode::Down,
            KeyCode::Left,
            KeyCode::Right,
            KeyCode::Home,
            KeyCode::End,
            KeyCode::PageUp,
            KeyCode::PageDown,
            KeyCode::Delete,
            KeyCode::Insert,
        ]
        .map(Key::Code),
    );
    u.extend((1..=12).map(|n| Key::Code(KeyCode::F(n))));
    u.extend([Key::WheelUp, Key::WheelDown]);
    u
}

/// Presses `k` the way a terminal delivers it.
fn press(app: &mut App, k: Key) {
    let ev = |code, mods| Event::Key(KeyEvent::new(code, mods));
    let wheel = |kind| {
        Event::Mouse(MouseEvent {
            kind,
            column: 0,
            row: 0,
            modifiers: KeyModifiers::NONE,
        })
    };
    app.on_event(match k {
        Key::Char(c) if c.is_ascii_uppercase() => ev(KeyCode::Char(c), KeyModifiers::SHIFT),
        Key::Char(c) => ev(KeyCode::Char(c), KeyModifiers::NONE),
        Key::Ctrl(c) => ev(KeyCode::Char(c), KeyModifiers::CONTROL),
        Key::Code(KeyCode::BackTab) => ev(KeyCode::BackTab, KeyModifiers::SHIFT),
        Key::Code(c) => ev(c, KeyModifiers::NONE),
        Key::WheelUp => wheel(MouseEventKind::ScrollUp),
        Key::WheelDown => wheel(MouseEventKind::ScrollDown),
    });
}

/// Everything a key could change.
fn snapshot(app: &App) -> String {
    format!("{app:?}")
}

/// The screen a screen key shows (pressing it there changes nothing, by design).
fn shows(k: Key) -> Option<Screen> {
    match k {
        Key::Char('1') | Key::Code(KeyCode::F(1)) => Some(Screen::Tail),
        Key::Char('2') | Key::Code(KeyCode::F(2)) => Some(Screen::Search),
        Key::Char('3') | Key::Code(KeyCode::F(3)) => Some(Screen::Alerts),
        _ => None,
    }
}

/// Connected, with a stream tree, 60 log lines scrolled to the middle, and three
/// rules with the middle one selected; outbox empty.
fn base() -> App {
    let (mut app, streams, _, sub) = connected();
    app.on_event(Event::Client(ClientEvent::Msg(ServerMsg::Streams {
        id: streams,
        streams: vec![
            stream("payments", "checkout-7d9f", "app", true, 1.0),
            stream("payments", "checkout-7d9f", "envoy", true, 1.0),
            stream("payments", "ledger-0", "app", true, 1.0),
            stream("search", "es-0", "es", true, 1.0),
        ],
    })));
    feed(
        &mut app,
        sub,
        (0..60)
            .map(|i| {
                let msg = if i % 10 == 3 {
                    "deadlock detected"
                } else {
                    "ok"
                };
                entry(i, "checkout-7d9f", None, msg)
            })
            .collect(),
    );
    let list = app.alerts.list_req.expect("a rule list request");
    app.on_event(Event::Client(ClientEvent::Msg(ServerMsg::Rules {
        id: list,
        rules: vec![
            rule("SearchSilent", AlertState::Inactive, true),
            rule("PaymentsFailing", AlertState::Firing, true),
            rule("NightlyBatch", AlertState::Inactive, false),
        ],
    })));
    app.alerts.selected = 1;
    // Pane heights as a 120x30 terminal draws them (rendering each copy costs more
    // than the walk itself).
    app.tail.log.view_rows.set(24);
    app.tail.log.scroll_up(25);
    app.outbox.clear();
    app
}

fn tail_log() -> App {
    let mut app = base();
    app.tail.log.set_find("deadlock");
    app.tail.log.hscroll = 40;
    app
}

/// The log with the cursor mid-way (`j` has somewhere to go) and a selection open.
fn tail_log_cursor() -> App {
    let mut app = tail_log();
    app.tail.log.put_cursor(20);
    app.tail.log.toggle_mark();
    app.tail.log.cursor_up(2);
    app
}

fn tail_streams(collapsed: bool) -> App {
    let mut app = base();
    app.tail.focus = TailFocus::Streams;
    let key = app.tail.tree.keys_under(&app.tail.tree.rows()[2]);
    app.tail.tree.selected = key.into_iter().collect();
    app.tail.tree.cursor = 1; // the checkout pod
    app.tail.tree.rows_shown.set(2);
    if collapsed {
        app.tail
            .tree
            .collapsed
            .insert("payments/checkout-7d9f".into());
    }
    app
}

/// On Search with 40 results (the 20th selected), a 20-bar histogram (the 10th
/// picked), and the query's cursor inside it.
fn search() -> App {
    let mut app = base();
    app.on_event(key('2'));
    typed(&mut app, "level:error");
    app.on_event(code(KeyCode::Enter));
    let Some(ClientMsg::Search { id, .. }) = app.outbox.pop() else {
        panic!("no search request")
    };
    app.on_event(Event::Client(ClientEvent::Msg(ServerMsg::SearchResult {
        id,
        page: SearchPage {
            entries: (0..40)
                .map(|i| entry(i, "ledger-0", Some(Level::Error), "insert failed"))
                .collect(),
            total: 40,
            histogram: Some(Histogram {
                width_ms: 60_000,
                buckets: (0..20)
                    .map(|i| Bucket {
                        start: Timestamp(T0 + i * 60_000_000_000),
                        count: 2,
                    })
                    .collect(),
            }),
            next_cursor: None,
            took_ms: 1.0,
            ..Default::default()
        },
    })));
    app.search.view_rows.set(15);
    app.search.selected = 20;
    app.search.bar = Some(10);
    app.search.input.cursor = 5;
    app.outbox.clear();
    app
}

fn search_focus(focus: SearchFocus) -> App {
    let mut app = search();
    app.search.focus = focus;
    app
}

fn search_context() -> App {
    let mut app = search();
    app.on_event(code(KeyCode::Enter));
    let Some(ClientMsg::Context { id, .. }) = app.outbox.pop() else {
        panic!("no context request")
    };
    let around = |r: std::ops::Range<u64>| r.map(|i| entry(i, "ledger-0", None, "tx")).collect();
    app.on_event(Event::Client(ClientEvent::Msg(ServerMsg::ContextResult {
        id,
        page: ContextPage {
            before: around(0..5),
            entry: Some(entry(5, "ledger-0", Some(Level::Error), "insert failed")),
            after: around(6..11),
        },
    })));
    app
}

/// The patterns view on three patterns, the middle one selected, two rows a page.
fn search_patterns() -> App {
    let mut app = super::patterns_tests::patterns_open();
    if let Some(v) = &mut app.search.patterns {
        v.selected = 1;
        v.view_rows.set(2);
    }
    app.outbox.clear();
    app
}

fn alerts() -> App {
    let mut app = base();
    app.on_event(key('3'));
    app
}

fn alerts_editor(field: usize) -> App {
    let mut app = alerts();
    let Some(r) = app.alerts.selected_rule() else {
        panic!("no rule")
    };
    let mut ed = Editor::from_spec(Some(r.rule.name.clone()), &r.rule);
    ed.focus = field;
    if let Some(f) = ed.fields.get_mut(field) {
        let mut t = TextInput::new(f.text.clone());
        t.cursor = 2;
        *f = t;
    }
    app.alerts.editor = Some(ed);
    app
}

fn confirm() -> App {
    let mut app = alerts();
    app.on_event(key('d'));
    app
}

/// The question before an edited rule is thrown away.
fn confirm_discard() -> App {
    let mut app = alerts_editor(0);
    typed(&mut app, "x");
    app.on_event(code(KeyCode::Esc));
    app
}

fn prompt() -> App {
    let mut app = base();
    app.on_event(key('/'));
    typed(&mut app, "dead");
    if let Some(p) = &mut app.prompt {
        p.input.cursor = 2;
    }
    app
}

/// The filter prompt, with inputs from earlier runs and a field half typed.
fn prompt_filter() -> App {
    let mut app = base();
    app.history
        .record(crate::app::history::Kind::Filter, "pod:ledger-0");
    app.history
        .record(crate::app::history::Kind::Filter, "level:error");
    app.on_event(key('f'));
    typed(&mut app, "po");
    app
}

/// The filter prompt while browsing its history (`↓` has somewhere to go).
fn prompt_browsing() -> App {
    let mut app = prompt_filter();
    app.on_event(code(KeyCode::Up));
    app.on_event(code(KeyCode::Up));
    app
}

fn help() -> App {
    let mut app = base();
    app.on_event(key('?'));
    app
}

/// A place keys can go: its rows and the states it is walked in.
struct Place {
    name: String,
    rows: Vec<&'static Binding>,
    setups: Vec<fn() -> App>,
}

fn places() -> Vec<Place> {
    let setups = |ctx: Ctx| -> Vec<fn() -> App> {
        match ctx {
            Ctx::TailStreams => vec![|| tail_streams(false), || tail_streams(true)],
            Ctx::TailLog => vec![tail_log, tail_log_cursor],
            Ctx::SearchInput => vec![|| search_focus(SearchFocus::Input)],
            Ctx::SearchHistogram => vec![|| search_focus(SearchFocus::Histogram)],
            Ctx::SearchResults => vec![|| search_focus(SearchFocus::Results)],
            Ctx::SearchContext => vec![search_context],
            Ctx::SearchPatterns => vec![search_patterns],
            Ctx::AlertsList => vec![alerts],
            Ctx::AlertsEditor => vec![|| alerts_editor(0), || alerts_editor(6)],
            Ctx::Prompt => vec![prompt, prompt_filter, prompt_browsing],
            Ctx::Confirm => vec![confirm, confirm_discard],
        }
    };
    let mut out: Vec<Place> = Ctx::ALL
        .iter()
        .map(|&ctx| Place {
            name: format!("{ctx:?}"),
            rows: crate::app::tables::table(ctx)
                .into_iter()
                .chain(crate::app::tables::globals(ctx))
                .collect(),
            setups: setups(ctx),
        })
        .collect();
    out.push(Place {
        name: "help overlay".into(),
        rows: crate::app::tables::help_table().collect(),
        setups: vec![help],
    });
    out
}

/// Whether a row other than an "any …" one names `k`.
fn named(rows: &[&Binding], k: Key) -> bool {
    rows.iter()
        .any(|r| matches!(r.keys, Keys::Of(_)) && r.covers(k))
}

#[test]
fn every_table_lists_exactly_the_keys_its_handler_takes() {
    let universe = universe();
    let mut problems = Vec::new();
    for place in places() {
        let mut acted: BTreeSet<usize> = BTreeSet::new();
        let mut screen = None;
        for setup in &place.setups {
            let probe = setup();
            let ctx_ok = match place.name.as_str() {
                "help overlay" => probe.help,
                name => format!("{:?}", probe.ctx()) == name && !probe.help,
            };
            assert!(ctx_ok, "{}: the setup is in {:?}", place.name, probe.ctx());
            screen = Some(probe.screen);
            if !probe.help {
                // The overlay shows every row, whole.
                let mut shown = probe;
                shown.help = true;
                let s = render(&shown, 120, 50);
                for row in &place.rows {
                    if !s.contains(&row.label()) || !s.contains(row.what) {
                        problems.push(format!(
                            "{}: the overlay lacks {:?} {:?}",
                            place.name,
                            row.label(),
                            row.what
                        ));
                    }
                }
            }
            for (i, &k) in universe.iter().enumerate() {
                let mut app = setup();
                let before = snapshot(&app);
                press(&mut app, k);
                if snapshot(&app) != before {
                    acted.insert(i);
                }
            }
        }
        let did = |k: Key| {
            universe
                .iter()
                .position(|&u| u == k)
                .is_some_and(|i| acted.contains(&i))
        };
        for (i, &k) in universe.iter().enumerate() {
            if acted.contains(&i) && !place.rows.iter().any(|r| r.covers(k)) {
                problems.push(format!(
                    "{}: {k:?} does something but is not listed",
                    place.name
                ));
            }
        }
        for row in &place.rows {
            let listed: Vec<Key> = match row.keys {
                Keys::Of(ks) => ks.to_vec(),
                Keys::Typing => universe
                    .iter()
                    .copied()
                    .filter(|&k| matches!(k, Key::Char(_)) && !named(&place.rows, k))
                    .collect(),
                Keys::Other => universe
                    .iter()
                    .copied()
                    .filter(|&k| !named(&place.rows, k))
                    .collect(),
            };
            for k in listed {
                if !did(k) && shows(k) != screen {
                    problems.push(format!(
                        "{}: {k:?} is listed ({:?} {:?}) but does nothing",
                        place.name,
                        row.label(),
                        row.what
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}
