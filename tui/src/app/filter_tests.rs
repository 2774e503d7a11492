//! The tail filter keeps the scrollback: applied to the lines held, re-subscribed
//! for new ones; a bad filter never replaces a running one.

use crossterm::event::KeyCode;
use lookout_shared::protocol::{ClientMsg, Cursor, ErrorBody, ErrorCode, ServerMsg};
use lookout_shared::Level;

use super::tests::{code, connected, ctrl, entry, feed, key, render, typed};
use super::{App, Event};
use crate::client::ClientEvent;

fn set_filter(app: &mut App, text: &str) {
    app.on_event(key('f'));
    app.on_event(ctrl('u'));
    typed(app, text);
    app.on_event(code(KeyCode::Enter));
}

/// A fresh subscription in the outbox: (id, query, backfill, resume_after).
fn new_sub(app: &mut App) -> (u64, String, u32, Option<Cursor>) {
    app.outbox
        .drain(..)
        .find_map(|m| match m {
            ClientMsg::Subscribe {
                id,
                query,
                backfill,
                resume_after,
            } => Some((id, query, backfill, resume_after)),
            _ => None,
        })
        .expect("no subscription sent")
}

fn held(app: &App) -> usize {
    app.tail
        .log
        .lines
        .iter()
        .filter(|l| matches!(l, crate::app::tail::TailLine::Entry(_)))
        .count()
}

#[test]
fn a_filter_hides_what_is_held_and_clearing_it_gives_everything_back() {
    let (mut app, _, _, sub) = connected();
    let lines = (0..40)
        .map(|i| {
            let pod = if i % 2 == 0 { "ledger-0" } else { "web-1" };
            entry(i, pod, Some(Level::Info), &format!("line {i} of {pod}"))
        })
        .collect();
    feed(&mut app, sub, lines);
    set_filter(&mut app, "pod:ledger-0");
    assert_eq!(held(&app), 40, "the ring kept every line");
    let (id, query, backfill, resume) = new_sub(&mut app);
    assert!(query.contains("pod:ledger-0"), "{query}");
    assert_eq!(backfill, 0);
    assert_eq!(
        resume.map(|c| c.seq),
        Some(39),
        "new lines resume after the newest held"
    );
    let s = render(&app, 120, 40);
    assert!(s.contains("line 38 of ledger-0"), "{s}");
    assert!(!s.contains("of web-1"), "{s}");
    assert!(s.contains("following"), "{s}");
    // New lines come from the new subscription (the old one's are dropped).
    feed(
        &mut app,
        id,
        vec![entry(
            40,
            "ledger-0",
            Some(Level::Info),
            "line 40 of ledger-0",
        )],
    );
    feed(
        &mut app,
        sub,
        vec![entry(41, "web-1", Some(Level::Info), "late line of web-1")],
    );
    assert_eq!(held(&app), 41);
    set_filter(&mut app, "");
    let (_, query, _, resume) = new_sub(&mut app);
    assert!(!query.contains("ledger"), "{query}");
    assert_eq!(resume.map(|c| c.seq), Some(40));
    let s = render(&app, 120, 40);
    assert!(
        s.contains("line 39 of web-1") && s.contains("line 40 of ledger-0"),
        "{s}"
    );
    assert!(s.contains("filter cleared"), "{s}");
}

#[test]
fn a_bad_filter_shows_a_caret_and_the_old_one_keeps_running() {
    let (mut app, _, _, sub) = connected();
    feed(
        &mut app,
        sub,
        vec![entry(1, "ledger-0", Some(Level::Error), "boom")],
    );
    set_filter(&mut app, "level:error");
    new_sub(&mut app);
    app.on_event(key('f'));
    app.on_event(ctrl('u'));
    typed(&mut app, "level:error AND");
    let s = render(&app, 100, 20);
    let rows: Vec<&str> = s.lines().collect();
    let at = rows
        .iter()
        .position(|r| r.contains("level:error AND"))
        .unwrap();
    let caret = rows[at + 1];
    let col = |r: &str, pat: &str| r.find(pat).map(|b| r[..b].chars().count());
    assert!(caret.contains("^ "), "{s}");
    assert_eq!(
        col(caret, "^"),
        col(rows[at], "AND"),
        "the caret sits under AND: {s}"
    );
    app.on_event(code(KeyCode::Enter));
    assert!(
        app.prompt.is_some(),
        "Enter keeps the prompt on a bad filter"
    );
    assert_eq!(app.tail.filter, "level:error");
    assert!(
        !app.outbox
            .drain(..)
            .any(|m| matches!(m, ClientMsg::Subscribe { .. })),
        "nothing was re-subscribed"
    );
    // Typing on fixes it; the caret goes away.
    typed(&mut app, " pod:ledger-0");
    assert!(!render(&app, 100, 20).contains("^ "));
}

#[test]
fn a_filter_the_daemon_refuses_puts_the_old_one_back() {
    let (mut app, _, _, _) = connected();
    set_filter(&mut app, "level:error");
    let (id, ..) = new_sub(&mut app);
    app.on_event(Event::Client(ClientEvent::Msg(ServerMsg::Error {
        id: Some(id),
        error: ErrorBody {
            code: ErrorCode::BadQuery,
            message: "too deep".into(),
            position: None,
            field: None,
        },
    })));
    assert_eq!(app.tail.filter, "", "back to the filter that ran");
    let (_, query, ..) = new_sub(&mut app);
    assert!(!query.contains("level:error"), "{query}");
    assert!(render(&app, 120, 20).contains("following"));
}

#[test]
fn a_refused_tail_never_says_following() {
    let (mut app, _, _, sub) = connected();
    app.on_event(Event::Client(ClientEvent::Msg(ServerMsg::Error {
        id: Some(sub),
        error: ErrorBody {
            code: ErrorCode::LimitExceeded,
            message: "too many subscriptions".into(),
            position: None,
            field: None,
        },
    })));
    let s = render(&app, 120, 20);
    assert!(s.contains("filter refused"), "{s}");
    assert!(!s.contains("following"), "{s}");
    // A warning about a live tail is not a refusal.
    let (mut app, _, _, sub) = connected();
    app.on_event(Event::Client(ClientEvent::Msg(ServerMsg::Error {
        id: Some(sub),
        error: ErrorBody {
            code: ErrorCode::Internal,
            message: "sent the live buffer only".into(),
            position: None,
            field: None,
        },
    })));
    assert!(render(&app, 120, 20).contains("following"));
}
