//! Whole-screen snapshots: each screen drawn on ratatui's `TestBackend` at 80×24 and
//! 160×45 and compared with the text kept in `tests/it/snapshots/`. A change to a
//! screen shows as a diff of what the user would see; after checking it, rewrite
//! the files with `LOOKOUT_UPDATE_SNAPSHOTS=1 cargo test -p lookout-tui --test it screens`.
//! (A small golden-file check rather than the insta crate: it needs no new
//! dependency tree for what is a string comparison.)

use std::collections::BTreeMap;
use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use lookout_shared::protocol::{
    Alert, AlertState, Bucket, ClientMsg, Histogram, PatternSummary, PatternsResult, ReqId,
    RuleSpec, RuleStatus, SearchPage, ServerMsg, StreamInfo,
};
use lookout_shared::{Level, LogEntry, PatternId, StreamId, Timestamp};
use lookout_tui::app::{App, Event};
use lookout_tui::client::{ClientEvent, ServerInfo};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

/// 2025-11-25T19:42:07.118Z.
const T0: i64 = 1_764_099_727_118_000_000;
const SIZES: [(u16, u16); 2] = [(80, 24), (160, 45)];

fn key(c: char) -> Event {
    Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn msg(m: ServerMsg) -> Event {
    Event::Client(ClientEvent::Msg(m))
}

fn source(ns: &str, pod: &str, c: &str) -> StreamId {
    StreamId {
        namespace: ns.into(),
        pod: pod.into(),
        pod_uid: format!("uid-{pod}"),
        container: c.into(),
        ..Default::default()
    }
}

fn entry(i: u64, pod: &str, level: Option<Level>, text: &str) -> LogEntry {
    LogEntry {
        ts: Timestamp(T0 + i as i64 * 37_000_000),
        node: "ip-10-0-3-17".into(),
        source: source("payments", pod, "app"),
        message: text.into(),
        level,
        seq: i,
        ..Default::default()
    }
}

/// The dashboard connected to a daemon with five streams, 60 lines in the tail and
/// three rules; the outbox emptied. Colour off, so the text says everything.
fn dashboard() -> App {
    let mut app = App::new(
        "ws://127.0.0.1:7700".into(),
        1000,
        false,
        Timestamp(T0 + 3_000_000_000),
    );
    app.on_event(Event::Client(ClientEvent::Connected(ServerInfo {
        server: "lookoutd 0.1.0".into(),
        node: "ip-10-0-3-17".into(),
    })));
    let (mut streams, mut sub): (ReqId, ReqId) = (0, 0);
    for m in app.outbox.drain(..) {
        match m {
            ClientMsg::Streams { id, watch: true } => streams = id,
            ClientMsg::Subscribe { id, .. } => sub = id,
            _ => {}
        }
    }
    let info = |ns: &str, pod: &str, c: &str, rate: f64| StreamInfo {
        source: source(ns, pod, c),
        live: true,
        lines_per_sec: rate,
        ..Default::default()
    };
    app.on_event(msg(ServerMsg::Streams {
        id: streams,
        streams: vec![
            info("payments", "checkout-7d9f5c", "app", 12.0),
            info("payments", "checkout-7d9f5c", "envoy", 3.0),
            info("payments", "ledger-0", "app", 5.0),
            info("hdfs", "hdfs-datanode-0", "datanode", 40.0),
            info("hdfs", "hdfs-datanode-1", "datanode", 38.0),
        ],
    }));
    let lines = (0..60).map(|i| match i % 6 {
        0 => entry(
            i,
            "checkout-7d9f5c",
            Some(Level::Info),
            &format!("order {} accepted", 8800 + i),
        ),
        1 => entry(
            i,
            "ledger-0",
            Some(Level::Error),
            "insert failed: deadlock detected",
        ),
        2 => entry(i, "ledger-0", None, "\tat ledger.write (ledger.go:212)"),
        3 => entry(
            i,
            "checkout-7d9f5c",
            Some(Level::Warn),
            "card issuer slow (812 ms)",
        ),
        4 => entry(
            i,
            "hdfs-datanode-0",
            Some(Level::Info),
            "Receiving block blk_-1608999687919862906",
        ),
        _ => entry(
            i,
            "hdfs-datanode-1",
            Some(Level::Debug),
            "PacketResponder 1 for block terminating",
        ),
    });
    app.on_event(msg(ServerMsg::Entries {
        sub,
        entries: lines.collect(),
    }));
    if let Some(id) = app.alerts.list_req {
        let rule = |name: &str, state: AlertState, enabled: bool| RuleStatus {
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
                    labels: BTreeMap::from([("pod".to_string(), "checkout-7d9f5c".to_string())]),
                    annotations: BTreeMap::new(),
                    state,
                    since: Timestamp(T0),
                    value: 14,
                    sample: vec![],
                }]
            } else {
                vec![]
            },
        };
        app.on_event(msg(ServerMsg::Rules {
            id,
            rules: vec![
                rule("PaymentsFailing", AlertState::Firing, true),
                rule("LedgerSlow", AlertState::Inactive, true),
                rule("NightlyBatch", AlertState::Inactive, false),
            ],
        }));
    }
    app.outbox.clear();
    app
}

fn draw(app: &App, (w, h): (u16, u16)) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| lookout_tui::ui::draw(f, app)).unwrap();
    let buf = term.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..h {
        let row: String = (0..w).map(|x| buf[(x, y)].symbol()).collect();
        out.push_str(row.trim_end());
        out.push('\n');
    }
    out
}

/// Compares `app` drawn at both sizes with the kept snapshots (or rewrites them).
fn check(name: &str, app: &mut App) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/snapshots");
    let update = std::env::var_os("LOOKOUT_UPDATE_SNAPSHOTS").is_some();
    let mut problems = Vec::new();
    for size in SIZES {
        draw(app, size); // the first draw tells the core its pane heights
        let got = draw(app, size);
        let path = dir.join(format!("{name}-{}x{}.txt", size.0, size.1));
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        if got != want {
            problems.push(format!(
                "{} differs (LOOKOUT_UPDATE_SNAPSHOTS=1 rewrites it once checked):\n--- kept\n{want}--- drawn\n{got}",
                path.display()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn tail_following() {
    check("tail", &mut dashboard());
}

#[test]
fn tail_with_a_cursor_and_a_selection() {
    let mut app = dashboard();
    draw(&app, SIZES[0]);
    for k in ['k', 'k', 'v', 'k', 'k'] {
        app.on_event(key(k));
    }
    check("tail-selection", &mut app);
}

#[test]
fn tail_errors_only() {
    let mut app = dashboard();
    for _ in 0..3 {
        app.on_event(key('L'));
    }
    check("tail-errors-only", &mut app);
}

#[test]
fn search_with_results_and_a_histogram() {
    let mut app = searched();
    check("search", &mut app);
}

/// On Search with 30 `level:error` results and a histogram.
fn searched() -> App {
    let mut app = dashboard();
    app.on_event(key('2'));
    for c in "level:error".chars() {
        app.on_event(key(c));
    }
    app.on_event(Event::Key(KeyEvent::new(
        KeyCode::Enter,
        KeyModifiers::NONE,
    )));
    let Some(ClientMsg::Search { id, .. }) = app.outbox.pop() else {
        panic!("no search sent")
    };
    app.on_event(msg(ServerMsg::SearchResult {
        id,
        page: SearchPage {
            entries: (0..30)
                .rev()
                .map(|i| {
                    entry(
                        i * 6 + 1,
                        "ledger-0",
                        Some(Level::Error),
                        "insert failed: deadlock detected",
                    )
                })
                .collect(),
            total: 30,
            histogram: Some(Histogram {
                width_ms: 10_000,
                buckets: (0..30)
                    .map(|i| Bucket {
                        start: Timestamp(T0 - 300_000_000_000 + i * 10_000_000_000),
                        count: [0, 1, 3, 8, 2, 1][i as usize % 6],
                    })
                    .collect(),
            }),
            next_cursor: None,
            took_ms: 2.0,
            ..Default::default()
        },
    }));
    app
}

#[test]
fn search_patterns_view() {
    let mut app = searched();
    app.on_event(key('P'));
    let Some(ClientMsg::Patterns { id, .. }) = app.outbox.pop() else {
        panic!("no patterns request sent")
    };
    let pattern = |id: u64, ids: &[u64], template: &str, count: u64, new: bool, bars: Vec<u64>| {
        PatternSummary {
            id: PatternId::new(id),
            ids: ids.iter().map(|&i| PatternId::new(i)).collect(),
            template: template.into(),
            count,
            first_seen: Timestamp(T0 - 3_400_000_000_000 + id as i64 * 60_000_000_000),
            last_seen: Timestamp(T0),
            new,
            sparkline: bars,
            example: entry(1, "ledger-0", Some(Level::Error), template),
        }
    };
    app.on_event(msg(ServerMsg::Patterns {
        id,
        result: PatternsResult {
            patterns: vec![
                pattern(
                    3,
                    &[3],
                    "insert failed: deadlock detected on table <*> after <*> retries",
                    1_204,
                    false,
                    (0..30).map(|i| 30 + i % 7).collect(),
                ),
                pattern(
                    40,
                    &[40, 41],
                    "connection to <*> refused",
                    310,
                    true,
                    (0..30).map(|i| if i < 20 { 0 } else { i * 3 }).collect(),
                ),
                pattern(
                    7,
                    &[7],
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
        },
    }));
    app.on_event(key('j'));
    check("search-patterns", &mut app);
}

#[test]
fn alerts_list() {
    let mut app = dashboard();
    app.on_event(key('3'));
    check("alerts", &mut app);
}

#[test]
fn help_over_tail() {
    let mut app = dashboard();
    app.on_event(key('?'));
    check("help", &mut app);
}

/// A JSON event and a joined multi-line ERROR trace arrive last.
fn with_events(app: &mut App) {
    let sub = app.tail.sub.unwrap();
    let mut json = entry(
        60,
        "checkout-7d9f5c",
        Some(Level::Warn),
        r#"{"level":"warn","msg":"payment declined","status":503,"http.request.method":"POST","user":"ann lee"}"#,
    );
    json.fields = serde_json::from_str(
        r#"{"level":"warn","msg":"payment declined","status":503,"http.request.method":"POST","user":"ann lee"}"#,
    )
    .unwrap();
    let mut trace = entry(
        61,
        "ledger-0",
        Some(Level::Error),
        "java.lang.IllegalStateException: ledger closed\n\tat ledger.Writer.write(Writer.java:212)\n\tat ledger.Main.run(Main.java:40)\nCaused by: java.io.IOException: broken pipe\n\t... 3 more",
    );
    trace.lines = 5;
    app.on_event(msg(ServerMsg::Entries {
        sub,
        entries: vec![json, trace],
    }));
}

#[test]
fn tail_multi_line_and_json_events_collapsed() {
    let mut app = dashboard();
    with_events(&mut app);
    check("tail-events", &mut app);
}

#[test]
fn tail_multi_line_and_json_events_expanded() {
    let mut app = dashboard();
    with_events(&mut app);
    draw(&app, SIZES[0]);
    // Following: Enter takes the newest event (the trace); then the cursor goes
    // up to the JSON event and `o` opens it too.
    app.on_event(Event::Key(KeyEvent::new(
        KeyCode::Enter,
        KeyModifiers::NONE,
    )));
    app.on_event(key('k'));
    app.on_event(key('o'));
    check("tail-events-expanded", &mut app);
}

#[test]
fn search_results_expanded() {
    let mut app = dashboard();
    with_events(&mut app);
    let mut events: Vec<LogEntry> = app
        .tail
        .log
        .lines
        .iter()
        .rev()
        .filter_map(|l| match l {
            lookout_tui::app::tail::TailLine::Entry(e) => Some(e.clone()),
            _ => None,
        })
        .take(12)
        .collect();
    events.truncate(12);
    app.on_event(key('2'));
    app.on_event(key('*'));
    app.on_event(Event::Key(KeyEvent::new(
        KeyCode::Enter,
        KeyModifiers::NONE,
    )));
    let Some(ClientMsg::Search { id, .. }) = app.outbox.pop() else {
        panic!("no search sent")
    };
    app.on_event(msg(ServerMsg::SearchResult {
        id,
        page: SearchPage {
            total: events.len() as u64,
            entries: events,
            histogram: None,
            next_cursor: None,
            took_ms: 2.0,
            ..Default::default()
        },
    }));
    // The trace (newest, selected) and the JSON event below it, both opened.
    app.on_event(key('o'));
    app.on_event(key('j'));
    app.on_event(key('o'));
    check("search-expanded", &mut app);
}

/// Behind a cluster hub the header counts the nodes that answer in place of a
/// node name.
#[test]
fn header_counts_a_hubs_nodes() {
    let mut app = dashboard();
    let header = |app: &App| {
        draw(app, (160, 45))
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        header(&app).contains("node ip-10-0-3-17"),
        "{}",
        header(&app)
    );
    app.on_event(msg(ServerMsg::Status {
        status: lookout_shared::protocol::ServerStatus {
            node: "cluster".into(),
            cluster: Some(lookout_shared::protocol::ClusterStatus {
                up: 2,
                total: 3,
                down: vec!["node-c".into()],
            }),
            ..Default::default()
        },
    }));
    let h = header(&app);
    assert!(
        h.contains("cluster · 2/3 nodes") && !h.contains("node ip-"),
        "{h}"
    );
}
