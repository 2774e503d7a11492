//! The patterns view and `=`: what `P` asks the daemon, what `Enter` and `Esc` do,
//! and the pattern of the line under the cursor from Tail and Search.

use crossterm::event::KeyCode;
use lookout_shared::protocol::{
    ClientMsg, ErrorBody, ErrorCode, PatternSummary, PatternsResult, ReqId, SearchPage, ServerMsg,
    TimeRange,
};
use lookout_shared::{Level, PatternId, Timestamp};

use super::tests::{code, connected, entry, feed, key, render, typed, T0};
use super::{App, Event, Screen};
use crate::client::ClientEvent;
use crate::keys::Ctx;

/// A reply of three patterns, the second new and merged (two ids).
pub(super) fn three_patterns() -> PatternsResult {
    let p = |id: u64, ids: &[u64], template: &str, count: u64, new: bool, bars: Vec<u64>| {
        PatternSummary {
            id: PatternId::new(id),
            ids: ids.iter().map(|&i| PatternId::new(i)).collect(),
            template: template.into(),
            count,
            first_seen: Timestamp(T0 - 3_000_000_000_000 + id as i64 * 1_000_000_000),
            last_seen: Timestamp(T0),
            new,
            sparkline: bars,
            example: entry(id, "ledger-0", Some(Level::Error), template),
        }
    };
    PatternsResult {
        patterns: vec![
            p(
                0xa1,
                &[0xa1],
                "insert failed: deadlock detected on <*>",
                1_204,
                false,
                (0..30).map(|i| 30 + i % 7).collect(),
            ),
            p(
                0xb2,
                &[0xb2, 0xc3],
                "connection to <*> refused after <*> ms",
                310,
                true,
                (0..30).map(|i| if i < 20 { 0 } else { i * 3 }).collect(),
            ),
            p(
                0xd4,
                &[0xd4],
                "card issuer slow (<*> ms)",
                12,
                false,
                (0..30).map(|i| u64::from(i % 5 == 0)).collect(),
            ),
        ],
        total: 1_526,
        distinct: 3,
        start: Timestamp(T0 - 3_600_000_000_000),
        width_ms: 120_000,
        took_ms: 4.0,
    }
}

/// On Search after `level:error` over the last 6 hours, with `entries` as results;
/// the outbox emptied.
fn searched(entries: Vec<lookout_shared::LogEntry>) -> App {
    let (mut app, _, _, _) = connected();
    app.on_event(key('2'));
    app.on_event(super::tests::ctrl('r'));
    typed(&mut app, "level:error OR timeout");
    app.on_event(code(KeyCode::Enter));
    let Some(ClientMsg::Search { id, .. }) = app.outbox.pop() else {
        panic!("no search request")
    };
    app.on_event(Event::Client(ClientEvent::Msg(ServerMsg::SearchResult {
        id,
        page: SearchPage {
            total: entries.len() as u64,
            entries,
            ..Default::default()
        },
    })));
    app.outbox.clear();
    app
}

/// `P` pressed on the results: the request it sent.
fn open(app: &mut App) -> (ReqId, lookout_shared::protocol::PatternsParams) {
    app.on_event(key('P'));
    match app.outbox.pop() {
        Some(ClientMsg::Patterns { id, params }) => (id, params),
        other => panic!("P sent {other:?}"),
    }
}

fn reply(app: &mut App, id: ReqId, result: PatternsResult) {
    app.on_event(Event::Client(ClientEvent::Msg(ServerMsg::Patterns {
        id,
        result,
    })));
}

/// The results of a search with the patterns view open on three patterns.
pub(super) fn patterns_open() -> App {
    let mut app = searched(vec![entry(1, "ledger-0", Some(Level::Error), "x")]);
    let (id, _) = open(&mut app);
    reply(&mut app, id, three_patterns());
    app
}

#[test]
fn p_asks_for_the_patterns_of_the_query_and_range_the_results_came_from() {
    let mut app = searched(Vec::new());
    assert_eq!(app.ctx(), Ctx::SearchResults);
    // Typed into the box but not run: the view is of what the results show.
    app.search.input.set("something else");
    let (id, params) = open(&mut app);
    assert_eq!(params.query, "level:error OR timeout");
    assert_eq!(
        params.range,
        TimeRange {
            since: Some("6h".into()),
            ..Default::default()
        }
    );
    assert!(!params.new_only, "every pattern, the new ones marked");
    assert_eq!(app.ctx(), Ctx::SearchPatterns);
    let s = render(&app, 100, 30);
    assert!(s.contains("finding the kinds of lines…"), "{s}");
    reply(&mut app, id, three_patterns());
    let s = render(&app, 100, 30);
    assert!(s.contains("3 of 3 kinds in 1,526 events"), "{s}");
    assert!(s.contains("NEW"), "{s}");
    let rows: Vec<&str> = s.lines().filter(|l| l.contains("<*>")).collect();
    assert!(
        rows[0].contains("1,204") && rows[0].contains("deadlock"),
        "{s}"
    );
    assert!(
        rows[1].contains("NEW") && rows[1].contains("refused"),
        "{s}"
    );
    assert!(!rows[2].contains("NEW"), "{s}");
}

#[test]
fn enter_narrows_the_search_to_every_id_of_the_pattern() {
    let mut app = patterns_open();
    app.on_event(key('j'));
    app.on_event(code(KeyCode::Enter));
    assert_eq!(
        app.ctx(),
        Ctx::SearchResults,
        "the view closed on the results"
    );
    let want = "(level:error OR timeout) AND pattern:IN [00000000000000b2 00000000000000c3]";
    assert_eq!(app.search.input.text, want);
    match app.outbox.pop() {
        Some(ClientMsg::Search { params, .. }) => {
            assert_eq!(params.query, want);
            assert_eq!(params.range.since.as_deref(), Some("6h"), "range kept");
        }
        other => panic!("Enter sent {other:?}"),
    }
    // A pattern of one id is just that id.
    let mut app = patterns_open();
    app.on_event(key('G'));
    app.on_event(code(KeyCode::Enter));
    assert_eq!(
        app.search.input.text,
        "(level:error OR timeout) AND pattern:00000000000000d4"
    );
}

#[test]
fn esc_and_p_return_to_the_results_as_they_were() {
    for back in [code(KeyCode::Esc), key('P'), code(KeyCode::Backspace)] {
        let mut app = patterns_open();
        app.on_event(back);
        assert_eq!(app.ctx(), Ctx::SearchResults);
        assert!(app.outbox.is_empty(), "nothing searched again");
        assert_eq!(app.search.input.text, "level:error OR timeout");
        assert_eq!(app.search.results.len(), 1);
        assert_eq!(app.screen, Screen::Search);
    }
}

#[test]
fn an_answer_for_a_closed_view_is_dropped_and_errors_show_in_the_view() {
    let mut app = searched(Vec::new());
    let (id, _) = open(&mut app);
    app.on_event(code(KeyCode::Esc));
    reply(&mut app, id, three_patterns());
    assert!(app.search.patterns.is_none());

    let (id, _) = open(&mut app);
    app.on_event(Event::Client(ClientEvent::Msg(ServerMsg::Error {
        id: Some(id),
        error: ErrorBody {
            code: ErrorCode::Internal,
            message: "index is closing".into(),
            position: None,
            field: None,
        },
    })));
    let s = render(&app, 100, 30);
    assert!(s.contains("patterns: index is closing"), "{s}");
}

#[test]
fn a_request_lost_with_the_connection_goes_again_on_reconnect() {
    let mut app = searched(Vec::new());
    let _ = open(&mut app);
    app.on_event(Event::Client(ClientEvent::Disconnected {
        reason: "reset".into(),
        retry_in: std::time::Duration::from_secs(1),
        fatal: false,
    }));
    assert!(render(&app, 100, 30).contains("the patterns load on reconnect"));
    app.on_event(Event::Client(ClientEvent::Connected(Default::default())));
    assert!(app
        .outbox
        .iter()
        .any(|m| matches!(m, ClientMsg::Patterns { params, .. } if params.query == "level:error OR timeout")));
}

#[test]
fn equals_searches_the_pattern_of_the_line_under_the_cursor() {
    let id = PatternId::new(0x5eed);
    let mut with = entry(7, "ledger-0", Some(Level::Error), "insert failed");
    with.pattern = Some(id);
    let without = entry(8, "ledger-0", None, "no pattern here");

    // Search: the result's pattern over the range the results have.
    let mut app = searched(vec![with.clone(), without.clone()]);
    app.on_event(key('='));
    assert_eq!(app.search.input.text, "pattern:0000000000005eed");
    match app.outbox.pop() {
        Some(ClientMsg::Search { params, .. }) => {
            assert_eq!(params.query, "pattern:0000000000005eed");
            assert_eq!(params.range.since.as_deref(), Some("6h"));
        }
        other => panic!("= sent {other:?}"),
    }

    // Tail: the cursor's line, over all time, on the Search screen.
    let (mut app, _, _, sub) = connected();
    feed(&mut app, sub, vec![with, without]);
    app.on_event(key('='));
    assert!(app.outbox.is_empty(), "the newest line has no pattern");
    assert_eq!(
        app.message.as_ref().map(|m| m.0.as_str()),
        Some("this event has no pattern")
    );
    app.on_event(key('k'));
    app.on_event(key('='));
    assert_eq!(app.screen, Screen::Search);
    match app.outbox.pop() {
        Some(ClientMsg::Search { params, .. }) => {
            assert_eq!(params.query, "pattern:0000000000005eed");
            assert_eq!(params.range.since, None, "all time");
        }
        other => panic!("= sent {other:?}"),
    }
}
