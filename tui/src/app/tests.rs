//! Whole-app tests: events in, state and the rendered screen (ratatui's
//! `TestBackend`) out.

use super::*;
use crate::client::{ClientEvent, ServerInfo};
use crate::keys;
use alerts::Editor;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use lookout_shared::protocol::{
    Alert, AlertState, Bucket, ClientMsg, ContextPage, ErrorBody, ErrorCode, Histogram, Position,
    ReqId, RuleSpec, RuleStatus, RuleTestResult, SearchPage, ServerMsg, StreamInfo,
};
use lookout_shared::{Level, LogEntry, StreamId};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::collections::BTreeMap;

pub(super) const T0: i64 = 1_764_099_727_118_000_000; // 2025-11-25T19:42:07.118Z

pub(super) fn key(c: char) -> Event {
    Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}
pub(super) fn code(c: KeyCode) -> Event {
    Event::Key(KeyEvent::new(c, KeyModifiers::NONE))
}
pub(super) fn ctrl(c: char) -> Event {
    Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}
pub(super) fn typed(app: &mut App, s: &str) {
    for c in s.chars() {
        app.on_event(key(c));
    }
}

pub(super) fn entry(seq: u64, pod: &str, level: Option<Level>, msg: &str) -> LogEntry {
    LogEntry {
        ts: Timestamp(T0 + seq as i64 * 1_000_000),
        node: "n1".into(),
        source: StreamId {
            namespace: "payments".into(),
            pod: pod.into(),
            pod_uid: format!("uid-{pod}"),
            container: "app".into(),
            ..Default::default()
        },
        message: msg.into(),
        level,
        seq,
        ..Default::default()
    }
}

pub(super) fn stream(ns: &str, pod: &str, c: &str, live: bool, rate: f64) -> StreamInfo {
    StreamInfo {
        source: StreamId {
            namespace: ns.into(),
            pod: pod.into(),
            pod_uid: format!("uid-{pod}"),
            container: c.into(),
            ..Default::default()
        },
        live,
        lines_per_sec: rate,
        ..Default::default()
    }
}

/// A connected app with the watches and the tail open, outbox cleared.
pub(super) fn connected() -> (App, ReqId, ReqId, ReqId) {
    let mut app = App::new("ws://127.0.0.1:7700".into(), 1000, true, Timestamp(T0));
    app.on_event(Event::Client(ClientEvent::Connected(ServerInfo {
        server: "lookoutd 0.1.0".into(),
        node: "ip-10-0-3-17".into(),
    })));
    let mut streams = None;
    let mut alerts = None;
    let mut sub = None;
    for m in app.outbox.drain(..) {
        match m {
            ClientMsg::Streams { id, watch: true } => streams = Some(id),
            ClientMsg::Alerts { id, watch: true } => alerts = Some(id),
            ClientMsg::Subscribe { id, .. } => sub = Some(id),
            _ => {}
        }
    }
    (app, streams.unwrap(), alerts.unwrap(), sub.unwrap())
}

pub(super) fn render(app: &App, w: u16, h: u16) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| crate::ui::draw(f, app)).unwrap();
    let buf = term.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..h {
        for x in 0..w {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

pub(super) fn feed(app: &mut App, sub: ReqId, entries: Vec<LogEntry>) {
    app.on_event(Event::Client(ClientEvent::Msg(ServerMsg::Entries {
        sub,
        entries,
    })));
}

#[test]
fn connecting_opens_watches_and_a_tail() {
    let mut app = App::new("ws://x".into(), 1000, true, Timestamp(T0));
    app.on_event(Event::Client(ClientEvent::Connected(ServerInfo::default())));
    let kinds: Vec<&str> = app
        .outbox
        .iter()
        .map(|m| match m {
            ClientMsg::Streams { .. } => "streams",
            ClientMsg::Alerts { .. } => "alerts",
            ClientMsg::Subscribe { .. } => "subscribe",
            ClientMsg::ListRules { .. } => "rules",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, vec!["streams", "alerts", "subscribe", "rules"]);
    // A reconnect does not open them twice (the client task resumes them).
    app.outbox.clear();
    app.on_event(Event::Client(ClientEvent::Disconnected {
        reason: "closed".into(),
        retry_in: Duration::from_secs(2),
        fatal: false,
    }));
    app.on_event(Event::Client(ClientEvent::Connected(ServerInfo::default())));
    assert!(app
        .outbox
        .iter()
        .all(|m| matches!(m, ClientMsg::ListRules { .. })));
}

#[test]
fn tail_screen_shows_streams_lines_levels_and_status() {
    let (mut app, streams, _, sub) = connected();
    app.on_event(Event::Client(ClientEvent::Msg(ServerMsg::Streams {
        id: streams,
        streams: vec![
            stream("payments", "checkout-7d9f", "app", true, 1200.0),
            stream("payments", "checkout-7d9f", "envoy", true, 40.0),
            stream("payments", "ledger-0", "app", true, 3.0),
            stream("default", "batch-job-x", "main", false, 0.0),
        ],
    })));
    app.on_event(Event::Client(ClientEvent::Msg(ServerMsg::Status {
        status: ServerStatus {
            node: "ip-10-0-3-17".into(),
            lines_per_sec: 12_400.0,
            firing: 2,
            ..Default::default()
        },
    })));
    feed(
        &mut app,
        sub,
        vec![
            entry(1, "checkout-7d9f", Some(Level::Info), "order 8812 accepted"),
            entry(
                2,
                "ledger-0",
                Some(Level::Error),
                "insert failed: deadlock detected",
            ),
            entry(3, "ledger-0", None, "    at ledger.write (ledger.go:212)"),
        ],
    );
    app.on_event(Event::Client(ClientEvent::Msg(ServerMsg::Dropped {
        sub,
        count: 1204,
        from: Timestamp(T0 + 100_000_000),
        until: Timestamp(T0 + 900_000_000),
    })));
    let wide = render(&app, 120, 40);
    assert!(wide.contains("node ip-10-0-3-17"), "{wide}");
    assert!(wide.contains("● connected"), "{wide}");
    assert!(wide.contains("12.4k lines/s"), "{wide}");
    assert!(wide.contains("▲ 2 firing"), "{wide}");
    assert!(wide.contains("[1 Tail]"), "{wide}");
    assert!(wide.contains("▾ payments"), "{wide}");
    assert!(wide.contains("✗ batch-job-x"), "{wide}");
    assert!(wide.contains("19:42:07.120 ledger-0"), "{wide}");
    assert!(
        wide.contains("ERROR insert failed: deadlock detected"),
        "{wide}"
    );
    assert!(wide.contains("1,204 lines dropped"), "{wide}");
    assert!(wide.contains("following ●"), "{wide}");
    // The continuation line is indented under its head, without its own prefix.
    let cont = wide
        .lines()
        .find(|l| l.contains("at ledger.write"))
        .unwrap();
    assert!(!cont.contains("ledger-0 "), "{cont}");
    // 80x24: the tree folds into a one-line picker, the log keeps its lines.
    let small = render(&app, 80, 24);
    assert!(small.contains("streams ▾ all streams"), "{small}");
    assert!(small.contains("insert failed"), "{small}");
    assert!(small.contains("? this help"), "{small}");
}

#[test]
fn scrolling_up_pauses_and_g_follows_again() {
    let (mut app, _, _, sub) = connected();
    render(&app, 80, 24); // learn the pane height
    feed(
        &mut app,
        sub,
        (0..100)
            .map(|i| entry(i, "web-1", None, &format!("line {i}")))
            .collect(),
    );
    app.on_event(key('k'));
    app.on_event(key('k'));
    feed(
        &mut app,
        sub,
        (100..105)
            .map(|i| entry(i, "web-1", None, &format!("line {i}")))
            .collect(),
    );
    let s = render(&app, 80, 24);
    assert!(s.contains("paused: 5 new ─ G to follow"), "{s}");
    assert!(s.contains("line 97"), "{s}");
    assert!(!s.contains("line 104"), "{s}");
    app.on_event(key('G'));
    let s = render(&app, 80, 24);
    assert!(s.contains("line 104"), "{s}");
    assert!(s.contains("following"), "{s}");
    // Mouse wheel scrolls too.
    app.on_event(Event::Mouse(crossterm::event::MouseEvent {
        kind: crossterm::event::MouseEventKind::ScrollUp,
        column: 10,
        row: 10,
        modifiers: KeyModifiers::NONE,
    }));
    assert!(!app.tail.log.follow);
}

#[test]
fn filter_resubscribes_and_find_highlights_without_hiding() {
    let (mut app, _, _, sub) = connected();
    feed(
        &mut app,
        sub,
        vec![
            entry(1, "web-1", None, "GET /health 200"),
            entry(2, "web-1", Some(Level::Warn), "slow upstream timeout"),
            entry(3, "web-1", None, "GET /pay 200"),
        ],
    );
    app.on_event(key('/'));
    assert_eq!(app.ctx(), keys::Ctx::Prompt);
    typed(&mut app, "timeout");
    app.on_event(code(KeyCode::Enter));
    let s = render(&app, 100, 24);
    assert!(
        s.contains("GET /health 200"),
        "find must not hide lines: {s}"
    );
    assert!(s.contains("find: timeout  (1/1)"), "{s}");
    assert!(app.outbox.is_empty());

    app.on_event(key('f'));
    typed(&mut app, "level:warn");
    app.on_event(code(KeyCode::Enter));
    let msgs: Vec<_> = app.outbox.drain(..).collect();
    assert!(matches!(msgs[0], ClientMsg::Unsubscribe { sub: s, .. } if s == sub));
    let ClientMsg::Subscribe { id: new, query, .. } = &msgs[1] else {
        panic!("{msgs:?}")
    };
    assert_eq!(query, "level:warn");
    // Lines of the old subscription no longer land.
    feed(&mut app, sub, vec![entry(9, "web-1", None, "stale")]);
    feed(
        &mut app,
        *new,
        vec![entry(10, "web-1", Some(Level::Warn), "fresh")],
    );
    let s = render(&app, 100, 24);
    assert!(!s.contains("stale") && s.contains("fresh"), "{s}");
    assert!(s.contains("filter: level:warn"), "{s}");
}

#[test]
fn selecting_streams_in_the_tree_narrows_the_subscription() {
    let (mut app, streams, _, _) = connected();
    app.on_event(Event::Client(ClientEvent::Msg(ServerMsg::Streams {
        id: streams,
        streams: vec![
            stream("payments", "checkout-7d9f", "app", true, 1.0),
            stream("payments", "checkout-7d9f", "envoy", true, 1.0),
        ],
    })));
    app.on_event(code(KeyCode::Tab));
    assert_eq!(app.ctx(), keys::Ctx::TailStreams);
    // Rows: namespace, pod, app, envoy. Space on `app`.
    app.on_event(key('j'));
    app.on_event(key('j'));
    app.on_event(key(' '));
    let q = app
        .outbox
        .iter()
        .find_map(|m| match m {
            ClientMsg::Subscribe { query, .. } => Some(query.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        q,
        "(namespace:payments AND pod:checkout-7d9f AND container:app)"
    );
    let s = render(&app, 120, 30);
    assert!(s.contains("■ app"), "{s}");
    assert!(s.contains("□ envoy"), "{s}");
    assert!(s.contains("payments: checkout-7d9f/app ─"), "{s}");
    // Both containers: the title names the namespace as a whole.
    app.on_event(key('j'));
    app.on_event(key(' '));
    assert_eq!(app.tail.title(), "payments/*");
}

#[test]
fn help_overlay_lists_every_key_of_the_pane() {
    let (mut app, _, _, _) = connected();
    app.on_event(key('?'));
    assert!(app.help);
    let s = render(&app, 100, 40);
    for k in crate::app::tables::table(keys::Ctx::TailLog) {
        assert!(s.contains(k.what), "missing {:?} in\n{s}", k.what);
    }
    app.on_event(key('q'));
    assert!(!app.help && !app.quit, "a key closes help, not the app");
    app.on_event(key('q'));
    assert!(app.quit);
}

#[test]
fn search_runs_shows_histogram_errors_and_pages() {
    let (mut app, _, _, _) = connected();
    app.on_event(key('2'));
    assert_eq!(app.ctx(), keys::Ctx::SearchInput);
    typed(&mut app, "timeout 1"); // '1' types, it does not switch screens
    assert_eq!(app.screen, Screen::Search);
    app.on_event(code(KeyCode::Enter));
    let Some(ClientMsg::Search { id, params }) = app.outbox.pop() else {
        panic!()
    };
    assert_eq!(params.query, "timeout 1");
    assert_eq!(params.range.since.as_deref(), Some("1h"));
    assert!(params.histogram);
    // A query error points at its column.
    app.on_event(Event::Client(ClientEvent::Msg(ServerMsg::Error {
        id: Some(id),
        error: ErrorBody {
            code: ErrorCode::BadQuery,
            message: "expected a term after '-'".into(),
            position: Some(Position {
                column: 8,
                length: 1,
            }),
            field: None,
        },
    })));
    let s = render(&app, 100, 30);
    let caret = s.lines().find(|l| l.contains("expected a term")).unwrap();
    assert_eq!(caret.chars().position(|c| c == '^'), Some(1 + 8), "{s}");
    assert!(caret.contains("(col 9)"));

    // Now a good answer.
    app.on_event(code(KeyCode::Char('/')));
    app.on_event(code(KeyCode::Enter));
    let Some(ClientMsg::Search { id, .. }) = app.outbox.pop() else {
        panic!()
    };
    let entries: Vec<LogEntry> = (0..50)
        .rev()
        .map(|i| {
            entry(
                i,
                "ledger-0",
                Some(Level::Error),
                &format!("upstream timeout {i}"),
            )
        })
        .collect();
    app.on_event(Event::Client(ClientEvent::Msg(ServerMsg::SearchResult {
        id,
        page: SearchPage {
            entries,
            total: 2417,
            histogram: Some(Histogram {
                width_ms: 60_000,
                buckets: (0..60)
                    .map(|i| Bucket {
                        start: Timestamp(T0 + i * 60_000_000_000),
                        count: if i == 40 { 90 } else { i as u64 % 5 },
                    })
                    .collect(),
            }),
            next_cursor: Some(lookout_shared::protocol::Cursor {
                ts: Timestamp(T0),
                seq: 0,
            }),
            took_ms: 3.0,
            ..Default::default()
        },
    })));
    let s = render(&app, 100, 30);
    if std::env::var_os("SHOW").is_some() {
        println!("{s}");
    }
    assert!(s.contains("2,417 matches"), "{s}");
    assert!(s.contains("█"), "{s}");
    assert!(s.contains("ledger-0"), "{s}");
    assert!(s.contains("upstream timeout 49"), "{s}");
    assert!(s.contains("[ last 1h ▾ ]"), "{s}");
    let s = render(&app, 80, 24);
    assert!(s.contains("upstream timeout 49"), "{s}");
    // Scrolling near the end asks for the next page with the cursor.
    for _ in 0..40 {
        app.on_event(key('j'));
    }
    assert!(app
        .outbox
        .iter()
        .any(|m| matches!(m, ClientMsg::Search { params, .. } if params.cursor.is_some())));
}

#[test]
fn enter_on_a_result_opens_context_and_l_goes_live() {
    let (mut app, _, _, _) = connected();
    app.on_event(key('2'));
    typed(&mut app, "deadlock");
    app.on_event(code(KeyCode::Enter));
    let Some(ClientMsg::Search { id, .. }) = app.outbox.pop() else {
        panic!()
    };
    let hit = entry(5, "ledger-0", Some(Level::Error), "deadlock detected");
    app.on_event(Event::Client(ClientEvent::Msg(ServerMsg::SearchResult {
        id,
        page: SearchPage {
            entries: vec![hit.clone()],
            total: 1,
            ..Default::default()
        },
    })));
    app.on_event(code(KeyCode::Enter));
    let Some(ClientMsg::Context {
        id,
        before: 20,
        after: 20,
        ..
    }) = app.outbox.pop()
    else {
        panic!()
    };
    app.on_event(Event::Client(ClientEvent::Msg(ServerMsg::ContextResult {
        id,
        page: ContextPage {
            before: vec![entry(4, "ledger-0", None, "BEGIN tx 17")],
            entry: Some(hit),
            after: vec![entry(6, "ledger-0", None, "ROLLBACK tx 17")],
        },
    })));
    let s = render(&app, 100, 30);
    assert!(
        s.contains("BEGIN tx 17") && s.contains("ROLLBACK tx 17"),
        "{s}"
    );
    assert!(s.contains("▶ 19:42:07.123"), "{s}");
    app.on_event(key('l'));
    assert_eq!(app.screen, Screen::Tail);
    let q = app
        .outbox
        .iter()
        .find_map(|m| match m {
            ClientMsg::Subscribe { query, .. } => Some(query.clone()),
            _ => None,
        })
        .unwrap();
    assert!(q.contains("pod:ledger-0"), "{q}");
}

pub(super) fn rule(name: &str, state: AlertState, enabled: bool) -> RuleStatus {
    let mut labels = BTreeMap::new();
    labels.insert("pod".to_string(), "checkout-7d9f".to_string());
    RuleStatus {
        rule: RuleSpec {
            name: name.into(),
            query: "namespace:payments AND \"card declined\"".into(),
            window: "1m".into(),
            condition: "> 3".into(),
            for_: "0s".into(),
            group_by: vec!["pod".into()],
            severity: "critical".into(),
            enabled,
            ..Default::default()
        },
        state,
        alerts: if state == AlertState::Firing {
            vec![Alert {
                rule: name.into(),
                labels,
                annotations: BTreeMap::new(),
                state,
                since: Timestamp(T0),
                value: 14,
                sample: vec![],
            }]
        } else {
            vec![]
        },
    }
}

#[test]
fn alerts_list_detail_and_live_firing_count() {
    let (mut app, _, alerts_watch, _) = connected();
    let list = app.alerts.list_req.unwrap();
    app.on_event(Event::Client(ClientEvent::Msg(ServerMsg::Rules {
        id: list,
        rules: vec![
            rule("SearchSilent", AlertState::Inactive, true),
            rule("PaymentsFailing", AlertState::Firing, true),
            rule("NightlyBatch", AlertState::Inactive, false),
        ],
    })));
    let firing = rule("PaymentsFailing", AlertState::Firing, true).alerts;
    app.on_event(Event::Client(ClientEvent::Msg(ServerMsg::Alerts {
        id: alerts_watch,
        alerts: firing,
    })));
    assert_eq!(app.firing(), 1);
    // An alert change refreshes the rule list.
    assert!(app
        .outbox
        .iter()
        .any(|m| matches!(m, ClientMsg::ListRules { .. })));
    let s = render(&app, 100, 30);
    assert!(
        s.contains("▲ 1 firing"),
        "firing shows on every screen: {s}"
    );
    app.on_event(key('3'));
    let s = render(&app, 120, 30);
    if std::env::var_os("SHOW").is_some() {
        println!("{s}");
    }
    assert!(s.contains("● PaymentsFailing"), "{s}");
    assert!(s.contains("firing"), "{s}");
    assert!(s.contains("disabled"), "{s}");
    assert!(s.contains("checkout-7d9f"), "{s}");
    assert!(s.contains("value 14"), "{s}");
    // Space toggles, d asks before deleting.
    app.outbox.clear();
    app.on_event(key(' '));
    assert!(
        matches!(&app.outbox[0], ClientMsg::SetRuleEnabled { name, enabled: false, .. } if name == "PaymentsFailing")
    );
    app.on_event(key('d'));
    let s = render(&app, 120, 30);
    assert!(s.contains("Delete rule PaymentsFailing?"), "{s}");
    app.on_event(key('n'));
    assert!(app.alerts.confirm.is_none());
    app.on_event(key('d'));
    app.on_event(key('y'));
    assert!(app
        .outbox
        .iter()
        .any(|m| matches!(m, ClientMsg::DeleteRule { name, .. } if name == "PaymentsFailing")));
    // The resolved alert clears the count.
    let mut resolved = rule("PaymentsFailing", AlertState::Firing, true).alerts;
    resolved[0].state = AlertState::Resolved;
    app.on_event(Event::Client(ClientEvent::Msg(ServerMsg::Alerts {
        id: alerts_watch,
        alerts: resolved,
    })));
    assert_eq!(app.firing(), 0);
}

#[test]
fn rule_editor_validates_previews_and_saves() {
    let (mut app, _, _, _) = connected();
    app.on_event(key('3'));
    app.on_event(key('n'));
    assert_eq!(app.ctx(), keys::Ctx::AlertsEditor);
    app.outbox.clear();
    typed(&mut app, "Declines");
    app.on_event(code(KeyCode::Tab));
    typed(&mut app, "card declined");
    app.on_event(code(KeyCode::Tab));
    app.on_event(ctrl('u'));
    typed(&mut app, "1x");
    // The shared validator (the daemon's code) answers as you type, with a caret
    // under the unit, and the daemon is not asked about what cannot pass.
    let s = render(&app, 100, 30);
    let caret = s.lines().find(|l| l.contains("unknown")).expect(&s);
    assert!(caret.contains("^"), "{s}");
    let window = s.lines().find(|l| l.contains("window")).unwrap();
    assert_eq!(
        caret.chars().position(|c| c == '^'),
        window.chars().position(|c| c == 'x'),
        "{s}"
    );
    app.on_event(Event::Tick(Timestamp(T0 + 500_000_000)));
    assert!(app.outbox.is_empty(), "{:?}", app.outbox);
    // Fixed: once typing pauses the daemon validates and previews.
    app.on_event(code(KeyCode::Backspace));
    app.on_event(key('m'));
    assert!(!render(&app, 100, 30).contains("unknown"));
    app.on_event(Event::Tick(Timestamp(T0 + 1_000_000_000)));
    let (vid, tid) = match (&app.outbox[0], &app.outbox[1]) {
        (ClientMsg::ValidateRule { id: v, rule }, ClientMsg::TestRule { id: t, range, .. }) => {
            assert_eq!(rule.window, "1m");
            assert_eq!(range.since.as_deref(), Some("24h"));
            (*v, *t)
        }
        other => panic!("{other:?}"),
    };
    app.outbox.clear();
    // What only the daemon knows lands under its own field.
    app.on_event(Event::Client(ClientEvent::Msg(ServerMsg::Error {
        id: Some(vid),
        error: ErrorBody {
            code: ErrorCode::BadRule,
            message: "window longer than this daemon keeps".into(),
            position: None,
            field: Some("window".into()),
        },
    })));
    app.on_event(Event::Client(ClientEvent::Msg(ServerMsg::RuleTest {
        id: tid,
        result: RuleTestResult {
            fired: 3,
            last_fired: Some(Timestamp(T0)),
            peak: 14,
            histogram: None,
        },
    })));
    let s = render(&app, 100, 30);
    if std::env::var_os("SHOW").is_some() {
        println!("{s}");
    }
    let lines: Vec<&str> = s.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("✗ window longer"))
        .expect(&s);
    assert!(lines[at - 1].contains("window"), "{s}");
    assert!(s.contains("would have fired 3 time(s)"), "{s}");
    assert!(s.contains("peak value 14"), "{s}");
    let s = render(&app, 80, 24);
    assert!(s.contains("✗ window longer"), "{s}");
    assert!(s.contains("would have fired"), "{s}");
    // Save.
    app.on_event(ctrl('s'));
    let Some(ClientMsg::PutRule { id, rule }) = app.outbox.pop() else {
        panic!()
    };
    assert_eq!(
        (
            rule.name.as_str(),
            rule.query.as_str(),
            rule.window.as_str()
        ),
        ("Declines", "card declined", "1m")
    );
    app.on_event(Event::Client(ClientEvent::Msg(ServerMsg::Rule {
        id,
        rule: rule_status(rule),
    })));
    assert!(app.alerts.editor.is_none());
    // The list reloads (queued behind the first, unanswered, list request).
    assert!(app.alerts.list_again);
}

fn rule_status(rule: RuleSpec) -> RuleStatus {
    RuleStatus {
        rule,
        state: AlertState::Inactive,
        alerts: vec![],
    }
}

#[test]
fn status_bar_shows_reconnect_and_version_mismatch() {
    let (mut app, _, _, _) = connected();
    app.on_event(Event::Client(ClientEvent::Disconnected {
        reason: "connection refused".into(),
        retry_in: Duration::from_secs(4),
        fatal: false,
    }));
    let s = render(&app, 120, 24);
    assert!(s.contains("reconnecting in 4s"), "{s}");
    app.on_event(Event::Tick(Timestamp(T0 + 2_500_000_000)));
    let s = render(&app, 120, 24);
    assert!(s.contains("reconnecting in 2s"), "{s}");
    app.on_event(Event::Client(ClientEvent::Disconnected {
        reason: "the daemon speaks protocol 2, this lookout speaks 1".into(),
        retry_in: Duration::from_secs(30),
        fatal: true,
    }));
    let s = render(&app, 120, 24);
    assert!(s.contains("protocol 2"), "{s}");
}

#[test]
fn tiny_terminals_degrade_and_no_color_uses_text() {
    let (mut app, _, _, sub) = connected();
    feed(
        &mut app,
        sub,
        vec![entry(1, "web-1", Some(Level::Error), "boom")],
    );
    let s = render(&app, 20, 4);
    assert!(s.contains("too small"), "{s}");
    let s = render(&app, 40, 10);
    assert!(s.contains("boom") || s.contains("ERROR"), "{s}");
    app.color = false;
    let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
    term.draw(|f| crate::ui::draw(f, &app)).unwrap();
    let buf = term.backend().buffer();
    for cell in buf.content() {
        assert_eq!(
            cell.fg,
            ratatui::style::Color::Reset,
            "NO_COLOR: no foreground colours"
        );
        assert_eq!(cell.bg, ratatui::style::Color::Reset);
    }
}

#[test]
fn save_writes_the_lines_with_their_streams() {
    let (mut app, _, _, sub) = connected();
    render(&app, 80, 24);
    feed(
        &mut app,
        sub,
        vec![
            entry(1, "web-1", None, "hello"),
            entry(2, "web-1", None, "world"),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.log");
    app.on_event(key('s'));
    app.on_event(ctrl('u'));
    typed(&mut app, path.to_str().unwrap());
    app.on_event(code(KeyCode::Enter));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("payments/web-1/app") && text.contains("hello") && text.contains("world"),
        "{text}"
    );
    assert!(app.message.as_ref().unwrap().0.contains("saved 2 lines"));
}

#[test]
fn every_key_in_the_bar_comes_from_the_table() {
    let (app, _, _, _) = connected();
    let s = render(&app, 200, 24);
    let bar = s.lines().last().unwrap();
    for k in crate::app::tables::table(keys::Ctx::TailLog)
        .iter()
        .filter(|k| k.bar)
    {
        assert!(bar.contains(k.what), "{:?} not in {bar}", k.what);
    }
}

#[test]
fn every_screen_draws_at_any_size_without_panicking() {
    let (mut app, streams, _, sub) = connected();
    app.on_event(Event::Client(ClientEvent::Msg(ServerMsg::Streams {
        id: streams,
        streams: vec![stream(
            "payments",
            "checkout-7d9f-very-long-pod-name",
            "app",
            true,
            1.0,
        )],
    })));
    feed(
        &mut app,
        sub,
        (0..50)
            .map(|i| {
                entry(
                    i,
                    "checkout-7d9f",
                    Some(Level::Warn),
                    &"wide é 日本 ".repeat(20),
                )
            })
            .collect(),
    );
    let list = app.alerts.list_req.unwrap();
    app.on_event(Event::Client(ClientEvent::Msg(ServerMsg::Rules {
        id: list,
        rules: vec![rule("PaymentsFailing", AlertState::Firing, true)],
    })));
    app.tail.log.set_find("é");
    app.tail.log.find_next(true);
    for (screen, setup) in [
        (Screen::Tail, 0),
        (Screen::Tail, 1),
        (Screen::Search, 0),
        (Screen::Alerts, 0),
        (Screen::Alerts, 1),
    ] {
        app.screen = screen;
        app.tail.log.wrap = setup == 1;
        app.tail.log.hscroll = if setup == 1 { 0 } else { 7 };
        app.tail.focus = if setup == 1 {
            TailFocus::Streams
        } else {
            TailFocus::Log
        };
        app.alerts.editor = (setup == 1).then(Editor::new_rule);
        app.help = setup == 1;
        for w in [1u16, 10, 29, 30, 45, 80, 99, 100, 160] {
            for h in [1u16, 3, 5, 6, 8, 12, 24, 40] {
                render(&app, w, h);
            }
        }
    }
}

#[test]
fn tab_cycles_the_search_panes_both_ways() {
    let (mut app, _, _, _) = connected();
    app.on_event(key('2'));
    let mut seen = vec![app.ctx()];
    for _ in 0..3 {
        app.on_event(code(KeyCode::Tab));
        seen.push(app.ctx());
    }
    assert_eq!(
        seen,
        vec![
            keys::Ctx::SearchInput,
            keys::Ctx::SearchHistogram,
            keys::Ctx::SearchResults,
            keys::Ctx::SearchInput
        ]
    );
    app.on_event(code(KeyCode::BackTab));
    assert_eq!(app.ctx(), keys::Ctx::SearchResults);
    app.on_event(code(KeyCode::BackTab));
    assert_eq!(app.ctx(), keys::Ctx::SearchHistogram);
    app.on_event(code(KeyCode::BackTab));
    assert_eq!(app.ctx(), keys::Ctx::SearchInput);
}
