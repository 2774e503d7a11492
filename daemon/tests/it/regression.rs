//! One test per bug, each named after the bug it pins down, so a failure here says
//! which old defect came back.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use crate::support::http::{Answer, Peer};
use crate::support::index::{config, Running};
use crate::support::serve::*;
use crate::support::{block, wait_for};
use clap::Parser;
use lookout_daemon::alert::deliver::Backoff;
use lookout_daemon::alert::http::{http_request, HttpError, HttpUrl, MAX_RESPONSE_BYTES};
use lookout_daemon::alert::store::RULES_FILE;
use lookout_daemon::alert::{AlertEngine, EngineConfig};
use lookout_daemon::config::Config;
use lookout_daemon::ingest::EntrySink;
use lookout_daemon::serve::alerting::EngineAlerting;
use lookout_shared::limits::close;
use lookout_shared::protocol::{
    AlertState, ClientMsg, ErrorBody, ErrorCode, ReqId, RuleSpec, RuleTestResult, SearchParams,
    ServerMsg, TimeRange,
};
use lookout_shared::{LogEntry, Timestamp};

/// Kills the child even when an assertion fails first.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `--stdout` built its collector from its own defaults (10 s rescan, 4096-entry
/// batches, its own node-name fallback) instead of the daemon's. Visible in its
/// output: with `--node ""` (an empty `NODE_NAME` from the DaemonSet) it stamped
/// every entry with an empty node, where the daemon falls back to the host name.
#[test]
fn stdout_mode_built_its_collector_with_other_defaults_than_the_daemon() {
    let logs = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    crate::support::collect::append(&logs.path().join("app.log"), b"hello\n");
    let mut child = Reaped(
        Command::new(env!("CARGO_BIN_EXE_lookoutd"))
            .args(["--stdout", "--node", "", "--log-dir"])
            .arg(logs.path())
            .arg("--data-dir")
            .arg(data.path())
            .env_remove("NODE_NAME")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let out = child.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("no entry printed within 20 s");
    let entry: LogEntry = serde_json::from_str(&line).unwrap();
    assert_eq!(entry.message, "hello");

    // What the daemon itself runs with, given the same flags.
    let flags = Config::parse_from(["lookoutd", "--node", ""]);
    let daemon = lookout_daemon::config::collector_config(&flags);
    assert!(!daemon.node.is_empty(), "the daemon falls back to a name");
    assert_eq!(
        entry.node, daemon.node,
        "--stdout stamps the node name the daemon would"
    );
}

/// Frames past the websocket layer's own limit (4x `max_frame_bytes`) were told
/// apart from other read failures by matching "too long" / "Space limit" in the
/// library's error text: a reworded message would have turned the clear error and
/// close 1009 into a silent disconnect. They are now matched by error type; this
/// checks what the client sees.
#[tokio::test]
async fn oversized_frame_was_detected_by_matching_error_text() {
    let mut o = opts();
    o.cfg.limits.max_frame_bytes = 1000;
    let srv = TestServer::with(o).await;
    let mut c = Client::connect(srv.addr()).await;
    // Past the hard limit (4000 bytes): the server stops reading this frame.
    c.send_text(&format!(
        r#"{{"type":"search","id":1,"query":"{}"}}"#,
        "a".repeat(5000)
    ))
    .await;
    match c.next().await {
        Ok(ServerMsg::Error { id, error }) => {
            assert_eq!(id, None, "the frame was not read, so its id is unknown");
            assert_eq!(error.code, ErrorCode::LimitExceeded);
            assert_eq!(error.message, "frame far larger than the 1000 byte limit");
        }
        other => panic!("expected a limit_exceeded error, got {other:?}"),
    }
    assert_eq!(
        c.closed().await,
        Some((
            close::TOO_BIG,
            "frame far larger than the 1000 byte limit".to_string()
        ))
    );
}

/// An engine delivering to the Alertmanager at `url`, with a rule that fires on
/// two `boom` lines.
fn engine_to(dir: &std::path::Path, url: String) -> AlertEngine {
    let (eng, warnings) = AlertEngine::open(
        dir,
        EngineConfig {
            alertmanager_urls: vec![url],
            node: "node-7".into(),
            backoff: Backoff {
                initial: Duration::from_millis(100),
                max: Duration::from_millis(500),
                request_timeout: Duration::from_secs(2),
            },
            ..EngineConfig::default()
        },
    )
    .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    eng.put(RuleSpec {
        name: "Boom".into(),
        query: "boom".into(),
        window: "5m".into(),
        condition: "> 1".into(),
        for_: "0s".into(),
        group_by: vec![],
        severity: "critical".into(),
        labels: BTreeMap::new(),
        annotations: BTreeMap::new(),
        enabled: true,
    })
    .unwrap();
    let boom = || {
        Arc::new(LogEntry {
            ts: Timestamp::now(),
            message: "boom".into(),
            ..LogEntry::default()
        })
    };
    eng.publish(&[boom(), boom(), boom()]);
    eng
}

/// The hand-written client kept the brackets of an IPv6 literal in the host it
/// connected to, so `http://[::1]:9093` could never be reached. The URL parser and
/// connector are now hyper's; this delivers a real alert over IPv6 loopback.
#[test]
fn alertmanager_url_with_ipv6_literal_kept_its_brackets_in_the_host() {
    let peer = Peer::start(
        "[::1]:0",
        Answer::Bytes(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec()),
    );
    let port = peer.addr.port();
    let dir = tempfile::tempdir().unwrap();
    let eng = engine_to(dir.path(), format!("http://[::1]:{port}"));
    let req = wait_for("an alert over IPv6", Duration::from_secs(20), || {
        peer.received().into_iter().next()
    });
    assert!(
        req.head.starts_with("POST /api/v2/alerts HTTP/1.1\r\n"),
        "{}",
        req.head
    );
    assert!(
        req.head
            .to_ascii_lowercase()
            .contains(&format!("host: [::1]:{port}\r\n")),
        "{}",
        req.head
    );
    let alerts: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(alerts[0]["labels"]["alertname"], "Boom");
    wait_for("the send counted", Duration::from_secs(5), || {
        (eng.stats().sent >= 1).then_some(())
    });
    assert_eq!(eng.stats().send_failures, 0);
}

/// The hand-written client read responses with an unbounded `read_to_end`: a
/// receiver answering without end grew the daemon's memory until it stopped, and
/// one that never finished its body hung the sink until the request timeout with
/// no bound on what it had buffered. Now a body is read up to
/// `MAX_RESPONSE_BYTES` and every exchange has one deadline; the sink counts a
/// failure and carries on.
#[test]
fn alert_delivery_read_responses_without_a_byte_bound() {
    let endless = |head: &[u8], chunk: &[u8]| Answer::Endless {
        head: head.to_vec(),
        chunk: chunk.to_vec(),
        limit: 64 * MAX_RESPONSE_BYTES,
    };
    let get = |peer: &Peer, timeout: Duration| {
        let url = HttpUrl::parse(&format!("http://{}/", peer.addr)).unwrap();
        let t0 = Instant::now();
        (
            block(http_request("GET", &url, None, timeout)),
            t0.elapsed(),
        )
    };

    // A length far over the bound, and the bytes to match.
    let peer = Peer::start(
        "127.0.0.1:0",
        endless(
            b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n",
            &[b'x'; 8192],
        ),
    );
    match get(&peer, Duration::from_secs(10)) {
        (Err(HttpError::TooLarge(n)), took) => {
            assert_eq!(n, MAX_RESPONSE_BYTES);
            assert!(
                took < Duration::from_secs(5),
                "stopped at the bound: {took:?}"
            );
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    // Chunks that never end: the bound holds without any length announced.
    let peer = Peer::start(
        "127.0.0.1:0",
        endless(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"2000\r\n"
                .iter()
                .chain([b'y'; 0x2000].iter())
                .chain(b"\r\n")
                .copied()
                .collect::<Vec<u8>>()
                .as_slice(),
        ),
    );
    assert!(
        matches!(
            get(&peer, Duration::from_secs(10)).0,
            Err(HttpError::TooLarge(_))
        ),
        "endless chunks are cut at the bound"
    );

    // A body that never finishes: the deadline ends the exchange, whatever the
    // receiver promised.
    for head in [
        &b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten.."[..],
        &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"[..],
        &b"HTTP/1.1 200 OK\r\nContent-"[..],
    ] {
        let peer = Peer::start(
            "127.0.0.1:0",
            Answer::Stall {
                bytes: head.to_vec(),
                hold: Duration::from_secs(30),
            },
        );
        match get(&peer, Duration::from_millis(500)) {
            (Err(HttpError::Timeout), took) => {
                assert!(took < Duration::from_secs(3), "{took:?}")
            }
            other => panic!("expected Timeout, got {other:?}"),
        }
    }

    // A well-formed chunked answer still decodes, and garbage is an error.
    let peer = Peer::start(
        "127.0.0.1:0",
        Answer::Bytes(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
                .to_vec(),
        ),
    );
    match get(&peer, Duration::from_secs(5)).0 {
        Ok((200, body)) => assert_eq!(body, b"abcde"),
        other => panic!("{other:?}"),
    }
    let peer = Peer::start("127.0.0.1:0", Answer::Bytes(b"garbage".to_vec()));
    assert!(matches!(
        get(&peer, Duration::from_secs(5)).0,
        Err(HttpError::Request(_))
    ));

    // Through the engine: an Alertmanager that answers without end is a failed
    // send, retried, and the sink stays alive.
    let peer = Peer::start(
        "127.0.0.1:0",
        endless(
            b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n",
            &[b'x'; 8192],
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let eng = engine_to(dir.path(), format!("http://{}", peer.addr));
    wait_for("two failed sends", Duration::from_secs(20), || {
        (eng.stats().send_failures >= 2).then_some(())
    });
    assert_eq!(eng.stats().sent, 0);
}

const S: i64 = 1_000_000_000;
const MIN: i64 = 60 * S;

/// A server with a real index holding `entries` and the real alert engine.
struct Stored {
    srv: TestServer,
    _idx: Running,
    _dir: tempfile::TempDir,
}

async fn stored(entries: Vec<LogEntry>) -> Stored {
    let dir = tempfile::tempdir().unwrap();
    let mut idx = Running::open(config(&dir.path().join("index")));
    let n = entries.len() as u64;
    idx.ingest(entries);
    idx.wait_docs(n);
    let (engine, _) =
        AlertEngine::open(&dir.path().join("alerts"), EngineConfig::default()).unwrap();
    let mut o = opts();
    o.alerting = Some(Arc::new(EngineAlerting {
        engine,
        index: idx.index.clone(),
    }));
    let srv = TestServer::with(o).await;
    srv.handle.set_index(idx.index.clone());
    Stored {
        srv,
        _idx: idx,
        _dir: dir,
    }
}

/// `n` lines saying `burst` around `at` (nanoseconds), 1 s apart.
fn burst(at: i64, n: i64) -> Vec<LogEntry> {
    (0..n)
        .map(|i| {
            let mut e = entry("api-0", 0, &format!("upstream burst {i}"));
            e.ts = Timestamp(at + i * S);
            e
        })
        .collect()
}

fn rule(query: &str) -> RuleSpec {
    RuleSpec {
        name: "bursts".into(),
        query: query.into(),
        window: "5m".into(),
        condition: "> 0".into(),
        for_: "0s".into(),
        severity: "warning".into(),
        enabled: true,
        ..RuleSpec::default()
    }
}

/// What `lookout search` sees: the total, or the error.
async fn search(
    c: &mut Client,
    id: ReqId,
    query: &str,
    range: &TimeRange,
) -> Result<u64, ErrorBody> {
    c.send(&ClientMsg::Search {
        id,
        params: SearchParams {
            query: query.into(),
            range: range.clone(),
            ..SearchParams::default()
        },
    })
    .await;
    match c.reply(id).await {
        ServerMsg::SearchResult { page, .. } => Ok(page.total),
        ServerMsg::Error { error, .. } => Err(error),
        other => panic!("unexpected {other:?}"),
    }
}

/// What `lookout rules test` sees: the replay, or the error.
async fn test_rule(
    c: &mut Client,
    id: ReqId,
    rule: &RuleSpec,
    range: &TimeRange,
) -> Result<RuleTestResult, ErrorBody> {
    c.send(&ClientMsg::TestRule {
        id,
        rule: rule.clone(),
        range: range.clone(),
    })
    .await;
    match c.reply(id).await {
        ServerMsg::RuleTest { result, .. } => Ok(result),
        ServerMsg::Error { error, .. } => Err(error),
        other => panic!("unexpected {other:?}"),
    }
}

/// A rule test given both `since` and `from` used `since` and ignored `from`, where a
/// search with the same range is refused: both are now the same `bad_range` error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_test_let_since_silently_override_from() {
    let now = Timestamp::now().0;
    let s = stored(burst(now - 10 * MIN, 5)).await;
    let mut c = Client::connect(s.srv.addr()).await;
    let range = TimeRange {
        since: Some("1h".into()),
        from: Some(Timestamp(now - 2 * 3600 * S)),
        until: None,
    };
    let by_search = search(&mut c, 1, "burst", &range).await.unwrap_err();
    let by_test = test_rule(&mut c, 2, &rule("burst"), &range)
        .await
        .unwrap_err();
    assert_eq!(by_search.code, ErrorCode::BadRange);
    assert_eq!(by_test.code, ErrorCode::BadRange);
    assert_eq!(by_test.message, "give either `since` or `from`, not both");
    assert_eq!(by_test.message, by_search.message);
}

/// A rule test counted `since` back from `until` while a search counts it back from
/// now, so the same range replayed a burst the search did not find: with `since: 1h`
/// and `until` 30 minutes ago, a burst 80 minutes ago made the rule "fire twice"
/// while the search found only the burst 45 minutes ago.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_test_counted_since_back_from_until_instead_of_now() {
    let now = Timestamp::now().0;
    let mut entries = burst(now - 80 * MIN, 10);
    entries.extend(burst(now - 45 * MIN, 10));
    let s = stored(entries).await;
    let mut c = Client::connect(s.srv.addr()).await;
    let range = TimeRange {
        since: Some("1h".into()),
        from: None,
        until: Some(Timestamp(now - 30 * MIN)),
    };
    assert_eq!(search(&mut c, 1, "burst", &range).await.unwrap(), 10);
    let res = test_rule(&mut c, 2, &rule("burst"), &range).await.unwrap();
    assert_eq!((res.fired, res.peak), (1, 10), "fired, peak");
}

/// Search reads a range with nothing given as all time (`docs/protocol.md`); a rule
/// test read it as the last 24 h by a rule of its own. The rule test's default is now
/// an explicit, documented closing of the open ends (`docs/alerting.md`): this pins
/// both readings, as a user sees them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_range_is_all_time_for_search_and_the_last_24h_for_rule_tests() {
    let now = Timestamp::now().0;
    let mut entries = burst(now - 3 * 24 * 3600 * S, 10);
    entries.extend(burst(now - 60 * MIN, 10));
    let s = stored(entries).await;
    let mut c = Client::connect(s.srv.addr()).await;
    let all = TimeRange::default();
    assert_eq!(search(&mut c, 1, "burst", &all).await.unwrap(), 20);
    let res = test_rule(&mut c, 2, &rule("burst"), &all).await.unwrap();
    assert_eq!(res.fired, 1, "only the burst of the last 24 h");
    let h = res.histogram.unwrap();
    let first = h.buckets.first().unwrap().start.0;
    let last = h.buckets.last().unwrap().start.0 + h.width_ms as i64 * 1_000_000;
    let day = 24 * 3600 * S;
    assert!(
        (first - (now - day)).abs() <= 10 * MIN,
        "starts a day ago: {h:?}"
    );
    assert!((last - now).abs() <= 10 * MIN, "ends now: {h:?}");
}

/// The index leaves a position for a word too long to index (tantivy's
/// `RemoveLongFilter`), but the live matcher dropped the word, so a phrase matched
/// across it in a live tail and not in a search of the same query.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phrase_matched_across_an_unsearchable_long_word_live_but_not_in_search() {
    let now = Timestamp::now().0;
    let long = "x".repeat(300);
    let mut across = entry("api-0", 0, &format!("alpha {long} omega"));
    across.ts = Timestamp(now - MIN);
    let mut adjacent = entry("api-0", 1, "alpha omega");
    adjacent.ts = Timestamp(now - MIN + S);
    let s = stored(vec![across.clone(), adjacent.clone()]).await;
    let mut c = Client::connect(s.srv.addr()).await;
    let q = "\"alpha omega\"";
    assert_eq!(
        search(&mut c, 1, q, &TimeRange::default()).await.unwrap(),
        1
    );

    c.send(&ClientMsg::Subscribe {
        id: 2,
        query: q.into(),
        backfill: 0,
        resume_after: None,
    })
    .await;
    assert_eq!(c.reply(2).await, ServerMsg::Subscribed { id: 2 });
    crate::support::serve::eventually("subscription registered", || {
        s.srv.live.stats().subscriptions == 1
    })
    .await;
    s.srv.publish(vec![across, adjacent]);
    match c.next().await.expect("connection open") {
        ServerMsg::Entries { sub: 2, entries } => {
            let msgs: Vec<&str> = entries.iter().map(|e| e.message.as_str()).collect();
            assert_eq!(msgs, ["alpha omega"]);
        }
        other => panic!("unexpected {other:?}"),
    }
}

/// The rule-test preview chose its steps from its own ladder of widths, which ended
/// at 2 h and then fell back to a day: replaying ten years asked the index for 3650
/// buckets, past the documented "at most 3000". Previews and search histograms now
/// share one ladder of round widths (up to a week, then whole weeks).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_test_over_years_broke_its_3000_bucket_bound() {
    let now = Timestamp::now().0;
    let s = stored(burst(now - 60 * MIN, 10)).await;
    let mut c = Client::connect(s.srv.addr()).await;
    let range = TimeRange {
        since: None,
        from: Some(Timestamp(now - 10 * 365 * 24 * 3600 * S)),
        until: None,
    };
    let res = test_rule(&mut c, 1, &rule("burst"), &range).await.unwrap();
    let h = res.histogram.unwrap();
    assert!(h.buckets.len() <= 3000, "{} buckets", h.buckets.len());
    assert_eq!((res.fired, res.peak), (1, 10), "fired, peak");
    // The search of the same range lays out its bars from the same round widths.
    c.send(&ClientMsg::Search {
        id: 2,
        params: SearchParams {
            query: "burst".into(),
            range,
            histogram: true,
            ..SearchParams::default()
        },
    })
    .await;
    let ServerMsg::SearchResult { page, .. } = c.reply(2).await else {
        panic!("search failed");
    };
    let sh = page.histogram.unwrap();
    assert_eq!(sh.buckets.iter().map(|b| b.count).sum::<u64>(), 10);
    assert_eq!(
        sh.width_ms % h.width_ms,
        0,
        "{} vs {}",
        sh.width_ms,
        h.width_ms
    );
}

const RULE_A: &str = "name: a\nquery: boom\nwindow: 5m\ncondition: '> 3'\n";
const RULE_B: &str = "name: b\nquery: quiet\nwindow: 1m\ncondition: '== 0'\n";

/// Opens the engine on `dir` and returns the rule names it loaded, its warnings and
/// the files left in `dir`.
fn open_rules(dir: &Path) -> (Vec<String>, Vec<String>, Vec<String>) {
    let (engine, warnings) = AlertEngine::open(dir, EngineConfig::default()).unwrap();
    let names = engine.list().into_iter().map(|s| s.rule.name).collect();
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|d| d.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    (names, warnings, files)
}

/// `lookout rules apply -f` took several YAML documents (`---`), the daemon's own
/// parser only one: the same file placed as `rules.yaml` was renamed aside as
/// corrupt and lookoutd started with no rules at all.
#[test]
fn rules_yaml_with_several_documents_was_set_aside_as_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(RULES_FILE),
        format!(
            "{RULE_A}---\nrules:\n- {{name: b, query: quiet, window: 1m, condition: '== 0'}}\n"
        ),
    )
    .unwrap();
    let (names, warnings, files) = open_rules(dir.path());
    assert_eq!(names, ["a", "b"]);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(files, [RULES_FILE], "nothing set aside");
    // And with one rule per document, as a hand-edited file might be.
    std::fs::write(
        dir.path().join(RULES_FILE),
        format!("{RULE_A}---\n{RULE_B}"),
    )
    .unwrap();
    assert_eq!(open_rules(dir.path()).0, ["a", "b"]);
}

/// The two parsers disagreed on files with no rule: the CLI refused them while the
/// daemon took an empty file, but a `rules.yaml` holding only comments (every rule
/// commented out by hand) failed with "missing field `name`" and was set aside as
/// corrupt. Zero rules is now zero rules, whatever the file's comments.
#[test]
fn rules_yaml_with_only_comments_was_set_aside_as_corrupt() {
    for text in [
        "",
        "# every rule commented out\n# - name: a\n",
        "rules:\n",
        "---\n",
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(RULES_FILE), text).unwrap();
        let (names, warnings, files) = open_rules(dir.path());
        assert!(names.is_empty(), "{text:?}: {names:?}");
        assert!(warnings.is_empty(), "{text:?}: {warnings:?}");
        assert_eq!(files, [RULES_FILE], "{text:?}: the file stays in place");
    }
}

/// The lock-poison policy: retention read a poisoned bucket's metadata as default.
mod poisoned_bucket {
    use std::sync::{Arc, RwLock};
    use std::time::Duration;

    use lookout_daemon::collect::Positions;
    use lookout_daemon::index::bucket::{self, Bucket, Payload, FORMAT_VERSION};
    use lookout_daemon::index::retention;
    use lookout_daemon::index::schema::Fields;
    use lookout_shared::Timestamp;

    /// A bucket whose metadata lock was poisoned (a thread panicked while updating it)
    /// had its metadata read as `Default`: "no entries", so retention took it for
    /// expired and deleted its directory, with a day of fresh entries in it. The
    /// metadata must be read as it was, and the bucket kept.
    #[test]
    fn poisoned_bucket_metadata_deleted_the_bucket_as_expired() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        bucket::check_data_dir(dir).unwrap();
        let fields = Fields::new();
        let now = Timestamp::now().0;
        let payload = Payload {
            version: FORMAT_VERSION,
            positions: Positions::default(),
            next_seq: 1,
            min_ts: Some(now - 3_600_000_000_000),
            max_ts: Some(now),
            created_ms: now / 1_000_000,
        };
        let sealed = Arc::new(Bucket::create(dir, 1, &fields, &payload).unwrap());
        let active = Arc::new(Bucket::create(dir, 2, &fields, &payload).unwrap());
        {
            let b = Arc::clone(&sealed);
            let _ = std::thread::spawn(move || {
                let _g = b.meta.write().unwrap();
                panic!("poisoning the bucket's metadata on purpose");
            })
            .join();
        }
        assert!(sealed.meta.is_poisoned());

        let buckets = RwLock::new(vec![Arc::clone(&sealed), active]);
        let dropped = retention::apply(&buckets, Duration::from_secs(7 * 86_400), 10 << 30);

        assert!(dropped.is_empty(), "dropped {dropped:?}");
        assert!(sealed.path.exists(), "the bucket's directory was deleted");
        assert_eq!(buckets.read().unwrap().len(), 2);
    }
}

/// Metrics and readiness as the daemon wires them: a whole in-process `Lookoutd`
/// on loopback port 0, collecting a plain log dir, its `/metrics` read over HTTP.
mod wiring {
    use std::collections::BTreeMap;
    use std::io::{Read as _, Write as _};
    use std::net::{SocketAddr, TcpStream};
    use std::path::Path;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use clap::Parser as _;
    use lookout_daemon::alert::{AlertEngine, EngineConfig};
    use lookout_daemon::app::{index_config, Lookoutd};
    use lookout_daemon::collect::CollectorConfig;
    use lookout_daemon::config::Config;
    use lookout_daemon::index::Index;
    use lookout_daemon::ingest::{EntrySink, Sinks};
    use lookout_daemon::metrics::Metrics;
    use lookout_daemon::pipeline::{Pipeline, PipelineParts};
    use lookout_daemon::shutdown::ShutdownTrigger;
    use lookout_shared::protocol::RuleSpec;
    use lookout_shared::LogEntry;

    const DEADLINE: Duration = Duration::from_secs(30);

    fn config(root: &Path, extra: &[&str]) -> Config {
        let logs = root.join("logs");
        std::fs::create_dir_all(&logs).unwrap();
        let mut args = vec![
            "lookoutd".to_string(),
            format!("--log-dir={}", logs.display()),
            format!("--data-dir={}", root.join("data").display()),
            "--listen=127.0.0.1:0".into(),
            "--metrics-listen=127.0.0.1:0".into(),
            "--node=node-1".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        Config::try_parse_from(args).unwrap()
    }

    fn get(addr: SocketAddr, path: &str) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        text
    }

    /// The value of the sample `name` (no labels) in the exposition.
    fn sample(text: &str, name: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
    }

    fn wait_for_metric(addr: SocketAddr, name: &str, ok: impl Fn(f64) -> bool) -> f64 {
        let start = Instant::now();
        loop {
            let text = get(addr, "/metrics");
            if let Some(v) = sample(&text, name).filter(|v| ok(*v)) {
                return v;
            }
            assert!(start.elapsed() < DEADLINE, "{name} never right in\n{text}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn rule(query: &str) -> RuleSpec {
        RuleSpec {
            name: "AnyLine".into(),
            query: query.into(),
            window: "1m".into(),
            condition: "> 0".into(),
            for_: "0s".into(),
            group_by: vec![],
            severity: "warning".into(),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            enabled: true,
        }
    }

    /// The collector counted lines cut at `--max-line-bytes`, but the count was
    /// never exported.
    #[test]
    fn truncated_lines_were_counted_but_never_exported() {
        let tmp = tempfile::tempdir().unwrap();
        let d = Lookoutd::start(config(tmp.path(), &["--max-line-bytes=64"])).unwrap();
        let long = "x".repeat(200);
        std::fs::write(
            tmp.path().join("logs/app.log"),
            format!("short\n{long}\n{long}\n"),
        )
        .unwrap();
        let m = d.metrics_addr().unwrap();
        assert_eq!(
            wait_for_metric(m, "lookout_truncated_lines_total", |v| v >= 2.0),
            2.0
        );
        d.shutdown();
    }

    /// Failed deliveries to Alertmanager were counted per sink but never exported.
    #[test]
    fn notification_send_failures_were_counted_but_never_exported() {
        // A port nothing listens on: every delivery attempt fails.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("--alertmanager-url=http://{}", closed.local_addr().unwrap());
        drop(closed);
        let tmp = tempfile::tempdir().unwrap();
        let d = Lookoutd::start(config(tmp.path(), &[&url])).unwrap();
        d.alerts.put(rule("boom")).unwrap();
        std::fs::write(tmp.path().join("logs/app.log"), "boom\nboom\n").unwrap();
        let m = d.metrics_addr().unwrap();
        wait_for_metric(m, "lookout_alert_notification_failures_total", |v| v >= 1.0);
        assert!(d.alerts.stats().send_failures >= 1);
        d.shutdown();
    }

    /// When the evaluator fell behind, entries it never saw were counted but never
    /// exported. The evaluator here is not run at all: the most behind it can be.
    #[test]
    fn alert_evaluator_drops_were_counted_but_never_exported() {
        let tmp = tempfile::tempdir().unwrap();
        let metrics = Metrics::new().unwrap();
        let shutdown = ShutdownTrigger::new();
        let (engine, _workers_not_run, _) = AlertEngine::start(
            tmp.path(),
            EngineConfig {
                metrics: Some(metrics.alert.clone()),
                ..EngineConfig::default()
            },
            shutdown.listener(),
        )
        .unwrap();
        engine.put(rule("*")).unwrap();
        let entry = Arc::new(LogEntry {
            message: "boom".into(),
            ..Default::default()
        });
        // More batches than the evaluator's queue holds.
        for _ in 0..5000 {
            engine.publish(&[Arc::clone(&entry)]);
        }
        let dropped = engine.stats().dropped_entries;
        assert!(dropped > 0);
        let text = metrics.render();
        assert_eq!(
            sample(&text, "lookout_alert_dropped_entries_total"),
            Some(dropped as f64),
            "{text}"
        );
    }

    /// `lookout_rule_evaluations_total` was evaluation ticks times every rule,
    /// disabled ones included. One enabled and one disabled rule: one evaluation
    /// per tick.
    #[test]
    fn rule_evaluations_were_ticks_times_every_rule() {
        let tmp = tempfile::tempdir().unwrap();
        let metrics = Metrics::new().unwrap();
        let shutdown = ShutdownTrigger::new();
        let (engine, workers, _) = AlertEngine::start(
            tmp.path(),
            EngineConfig {
                eval_interval: Duration::from_millis(20),
                metrics: Some(metrics.alert.clone()),
                ..EngineConfig::default()
            },
            shutdown.listener(),
        )
        .unwrap();
        engine.put(rule("boom")).unwrap();
        engine
            .put(RuleSpec {
                name: "Disabled".into(),
                enabled: false,
                ..rule("boom")
            })
            .unwrap();
        let eval = std::thread::spawn(workers.evaluator);
        let start = Instant::now();
        while engine.stats().ticks < 5 {
            assert!(start.elapsed() < DEADLINE, "the evaluator does not tick");
            std::thread::sleep(Duration::from_millis(10));
        }
        shutdown.fire();
        eval.join().unwrap();
        let ticks = engine.stats().ticks;
        assert_eq!(engine.stats().rules, 2);
        // The rules reach the evaluator before its first tick: every tick evaluated
        // the enabled rule, and only it.
        assert_eq!(metrics.alert.rule_evaluations.get(), ticks);
    }

    /// A sink that fails like a bug would: the ingest thread dies with it.
    struct Panics;
    impl EntrySink for Panics {
        fn publish(&self, _: &[Arc<LogEntry>]) {
            panic!("a stage bug, on purpose");
        }
    }

    /// Readiness never turned false: with the ingest thread dead (a panic here),
    /// `/readyz` kept saying ready while nothing was ingested any more.
    #[test]
    fn readiness_stayed_true_when_a_stage_died() {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = config(tmp.path(), &[]);
        let metrics = Arc::new(Metrics::new().unwrap());
        let (index, recovered) = Index::open(index_config(&cfg)).unwrap();
        metrics.set_index_open(true);
        let sinks = Sinks::default();
        let pipeline = Pipeline::start(PipelineParts {
            index,
            recovered,
            collector: CollectorConfig::new(cfg.log_dir.clone(), "node-1"),
            sinks: sinks.clone(),
            streams: None,
            alert: None,
            metrics: Arc::clone(&metrics),
            shutdown: ShutdownTrigger::new(),
        })
        .unwrap();
        assert_eq!(metrics.readiness(), Ok(()));
        sinks.add(Arc::new(Panics));
        std::fs::write(cfg.log_dir.join("app.log"), "hello\n").unwrap();
        let start = Instant::now();
        let why = loop {
            if let Err(why) = metrics.readiness() {
                break why;
            }
            assert!(start.elapsed() < DEADLINE, "still ready with ingest dead");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(why.contains("ingest stopped"), "{why}");
        pipeline.shutdown();
    }

    /// Waits until `/readyz` answers with `code` and a body containing `needle`.
    fn wait_readyz(addr: SocketAddr, code: &str, needle: &str) -> String {
        let start = Instant::now();
        loop {
            let text = get(addr, "/readyz");
            if text.starts_with(&format!("HTTP/1.1 {code}")) && text.contains(needle) {
                return text;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "/readyz never {code} {needle:?}:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stored(d: &Lookoutd, query: &str) -> u64 {
        use lookout_shared::Timestamp;
        d.pipeline
            .index
            .count(query, Timestamp(i64::MIN), Timestamp(i64::MAX))
            .unwrap()
    }

    fn wait_stored(d: &Lookoutd, query: &str, n: u64) {
        let start = Instant::now();
        while stored(d, query) != n {
            assert!(
                start.elapsed() < DEADLINE,
                "{} of {n} {query:?} stored",
                stored(d, query)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `/readyz` said ready while indexing was stopped (`lookout_index_open 0`):
    /// here the data dir turns read-only under a running daemon.
    #[test]
    fn readyz_said_ready_while_indexing_was_stopped() {
        use crate::index::integrity::ReadOnly;
        let tmp = tempfile::tempdir().unwrap();
        let cfg = config(tmp.path(), &["--commit-interval=100ms"]);
        let data = cfg.data_dir.clone();
        let d = Lookoutd::start(cfg).unwrap();
        let m = d.metrics_addr().unwrap();
        wait_readyz(m, "200", "ready");
        let Some(ro) = ReadOnly::bind(&data) else {
            return;
        };
        let lines: String = (0..100).map(|i| format!("stalled line {i}\n")).collect();
        std::fs::write(tmp.path().join("logs/app.log"), lines).unwrap();
        let why = wait_readyz(m, "503", "indexing stopped");
        assert!(why.contains("read-only"), "{why}");
        wait_for_metric(m, "lookout_index_open", |v| v == 0.0);
        ro.writable();
        wait_readyz(m, "200", "ready");
        wait_stored(&d, "stalled", 100);
        d.shutdown();
        drop(ro);
    }

    /// A read-only data dir at start was reported as "corrupt index … Move it
    /// away", inviting someone to discard a healthy bucket.
    #[test]
    fn a_read_only_data_dir_was_reported_as_a_corrupt_index() {
        use crate::index::integrity::{buckets, ReadOnly};
        let tmp = tempfile::tempdir().unwrap();
        let cfg = config(tmp.path(), &[]);
        let data = cfg.data_dir.clone();
        Lookoutd::start(cfg.clone()).unwrap().shutdown();
        let before = buckets(&data);
        let Some(ro) = ReadOnly::bind(&data) else {
            return;
        };
        let e = format!("{:#}", Lookoutd::start(cfg).err().expect("refused"));
        drop(ro);
        assert!(e.contains("read-only"), "{e}");
        assert!(!e.contains("corrupt") && !e.contains("Move it away"), "{e}");
        assert_eq!(buckets(&data), before);
    }

    /// `ln -s /etc/shadow LOGDIR/shadow.log`: `lookout search 'pod:shadow root'`
    /// returned the shadow line. Now the link is refused and counted, and a search
    /// finds nothing of it.
    #[test]
    fn a_symlink_to_etc_shadow_was_searchable() {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = config(tmp.path(), &["--commit-interval=100ms"]);
        std::fs::write(tmp.path().join("shadow"), "root:shadowhash0xdead:19000::\n").unwrap();
        std::os::unix::fs::symlink(tmp.path().join("shadow"), cfg.log_dir.join("shadow.log"))
            .unwrap();
        std::fs::write(cfg.log_dir.join("app.log"), "visible root line\n").unwrap();
        let d = Lookoutd::start(cfg).unwrap();
        wait_stored(&d, "visible", 1);
        assert_eq!(stored(&d, "root"), 1, "only the app's line mentions root");
        assert_eq!(stored(&d, "pod:shadow"), 0);
        let m = d.metrics_addr().unwrap();
        let text = get(m, "/metrics");
        assert!(
            text.contains("lookout_collect_refused_total{reason=\"outside_root\"} 1"),
            "{text}"
        );
        d.shutdown();
    }

    /// With 1,500 files and a 512-fd limit indexing stalled silently: a limit below
    /// what the daemon needs never showed in `/readyz`. The real binary, started
    /// with a soft `RLIMIT_NOFILE` of 200 (below the 256 it keeps for the index and
    /// clients alone).
    #[test]
    fn a_low_fd_limit_was_invisible_in_readyz() {
        use std::os::unix::process::CommandExt as _;
        let tmp = tempfile::tempdir().unwrap();
        let logs = tmp.path().join("logs");
        std::fs::create_dir_all(&logs).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_lookoutd"));
        cmd.arg(format!("--log-dir={}", logs.display()))
            .arg(format!("--data-dir={}", tmp.path().join("data").display()))
            .args(["--listen=127.0.0.1:0", "--node=node-1"])
            .arg(format!("--metrics-listen={port}"))
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null());
        // SAFETY: setrlimit is async-signal-safe; the child only lowers its own limit.
        unsafe {
            cmd.pre_exec(|| {
                // Hard = soft: the daemon raises its soft limit to the hard one.
                let r = libc::rlimit {
                    rlim_cur: 200,
                    rlim_max: 200,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &r) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().unwrap();
        let start = Instant::now();
        let text = loop {
            if let Ok(mut s) = TcpStream::connect(port) {
                s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let _ = write!(
                    s,
                    "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                );
                let mut text = String::new();
                let _ = s.read_to_string(&mut text);
                if text.contains("RLIMIT_NOFILE") || text.starts_with("HTTP/1.1 200") {
                    break text;
                }
            }
            assert!(start.elapsed() < DEADLINE, "no readiness answer");
            std::thread::sleep(Duration::from_millis(50));
        };
        let _ = child.kill();
        let _ = child.wait();
        assert!(text.starts_with("HTTP/1.1 503"), "{text}");
        assert!(
            text.contains("fd limit too low: RLIMIT_NOFILE is 200"),
            "{text}"
        );
    }

    /// One byte flipped in a `.store` file: 32 altered entries were served as if
    /// true. Now the bucket is quarantined at the next start, readiness names it,
    /// the lines (still in their log file) are read again and stored once, and
    /// new lines are collected and found.
    #[test]
    fn a_flipped_store_byte_served_altered_entries_as_true() {
        use crate::index::integrity::{buckets, flip_byte, quarantined, segment_file};
        let tmp = tempfile::tempdir().unwrap();
        let cfg = config(tmp.path(), &["--commit-interval=100ms"]);
        let data = cfg.data_dir.clone();
        let log = tmp.path().join("logs/app.log");
        let lines: String = (0..2000).map(|i| format!("original line {i}\n")).collect();
        std::fs::write(&log, lines).unwrap();
        let d = Lookoutd::start(cfg.clone()).unwrap();
        wait_stored(&d, "original", 2000);
        d.shutdown();
        let b = buckets(&data).pop().unwrap();
        flip_byte(&segment_file(&b, "store"));

        let d = Lookoutd::start(cfg).unwrap();
        let m = d.metrics_addr().unwrap();
        let q = quarantined(&data);
        assert_eq!(q.len(), 1, "{q:?}");
        let why = wait_readyz(m, "503", "quarantined");
        assert!(why.contains(&q[0].display().to_string()), "{why}");
        wait_for_metric(m, "lookout_index_quarantined_buckets", |v| v == 1.0);
        // Read again from the file, once; none served from the damaged bucket.
        wait_stored(&d, "original", 2000);
        let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        writeln!(f, "fresh line after the damage").unwrap();
        wait_stored(&d, "fresh", 1);
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(stored(&d, "original"), 2000);
        // Removing the quarantined dir (after inspecting it) clears readiness.
        std::fs::remove_dir_all(&q[0]).unwrap();
        wait_readyz(m, "200", "ready");
        d.shutdown();
    }
}

/// The evaluator picked at random between its command and batch channels, so a
/// batch published right after `put()` returned could be counted before the rule
/// existed: under load the rule never saw the line and never fired. Here both are
/// queued before the evaluator runs, so the old code lost the line in about half of
/// the engines (all ten firing had odds of about 1 in 1,024).
#[test]
fn a_batch_published_right_after_put_was_counted_before_the_rule_existed() {
    use lookout_daemon::shutdown::ShutdownTrigger;
    let trigger = ShutdownTrigger::new();
    let mut engines = Vec::new();
    for i in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let (engine, workers, _) = AlertEngine::start(
            dir.path(),
            EngineConfig {
                eval_interval: Duration::from_millis(100),
                ..EngineConfig::default()
            },
            trigger.listener(),
        )
        .unwrap();
        let mut spec = rule("boom");
        spec.name = format!("boom-{i}");
        spec.condition = "> 0".into();
        spec.window = "1m".into();
        spec.for_ = "0s".into();
        spec.group_by = vec![];
        engine.put(spec).unwrap();
        engine.publish(&[Arc::new(LogEntry {
            ts: Timestamp::now(),
            message: "a boom here".into(),
            ..LogEntry::default()
        })]);
        engines.push((dir, engine, workers));
    }
    let threads: Vec<_> = engines
        .iter_mut()
        .map(|(_, _, w)| {
            let eval = std::mem::replace(&mut w.evaluator, Box::new(|| {}));
            std::thread::spawn(eval)
        })
        .collect();
    for (i, (_, engine, _)) in engines.iter().enumerate() {
        let name = format!("boom-{i}");
        let value = wait_for(&name, Duration::from_secs(10), || {
            let st = engine.get(&name).ok()?;
            (st.state == AlertState::Firing).then(|| st.alerts[0].value)
        });
        assert_eq!(value, 1, "{name} counted the line published after put()");
    }
    trigger.fire();
    for t in threads {
        t.join().unwrap();
    }
}

/// Issue 13's attack 3: a 501-byte query (500 × `-` then `x`) overflowed the stack
/// of the thread that parsed it and aborted the daemon; so did 1,200 nested `NOT`,
/// 300 levels of `(a OR (x b))` and 2,500 `(`. And a rule whose query nested that
/// deep was accepted, then crashed every start. Each is now a `bad_query` (or, in a
/// rule, `bad_rule` on `query`) pointing at where the nesting goes too deep, and the
/// server answers the next search as before. (Before the fix this test aborted the
/// whole test binary.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_nested_hundreds_deep_overflowed_the_stack_and_aborted_the_daemon() {
    let now = Timestamp::now().0;
    let s = stored(burst(now - 10 * MIN, 5)).await;
    let mut c = Client::connect(s.srv.addr()).await;
    let all = TimeRange::default();
    let attacks = [
        format!("{}x", "-".repeat(500)),
        format!("{}x", "NOT ".repeat(1200)),
        format!("{}b{}", "(a OR (x ".repeat(300), "))".repeat(300)),
        format!("{}x", "(".repeat(2500)),
    ];
    let mut id = 1;
    for q in &attacks {
        let e = search(&mut c, id, q, &all).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::BadQuery, "{e:?}");
        assert!(e.message.contains("nests too deeply"), "{e:?}");
        let col = e.position.expect("a position").column;
        assert!(col > 0 && col < q.chars().count(), "column {col} of {e:?}");
        id += 1;
        let e = test_rule(&mut c, id, &rule(q), &all).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::BadRule, "{e:?}");
        assert_eq!(e.field.as_deref(), Some("query"), "{e:?}");
        id += 1;
    }
    // Sixty-four levels are still a query, and the server still answers.
    let deep_ok = format!("{}burst{}", "(".repeat(64), ")".repeat(64));
    assert_eq!(search(&mut c, id, &deep_ok, &all).await.unwrap(), 5);
    assert_eq!(search(&mut c, id + 1, "burst", &all).await.unwrap(), 5);
}

/// Issue 13's attack 4: a websocket upgrade with `Origin: https://evil.example` was
/// accepted, so any web page open in the operator's browser during `kubectl
/// port-forward` could search every log and rewrite the rules. Browsers always send
/// `Origin`; programs like `lookout` send none. Now a page's upgrade is refused
/// with 403 unless `--allow-origin` names it.
#[tokio::test]
async fn any_web_page_could_open_the_websocket_and_read_the_logs() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Error as WsError;

    async fn upgrade(addr: std::net::SocketAddr, origin: &str) -> Result<(), (u16, String)> {
        let mut req = format!("ws://{addr}/ws").into_client_request().unwrap();
        req.headers_mut().insert("Origin", origin.parse().unwrap());
        match tokio_tungstenite::connect_async(req).await {
            Ok(_) => Ok(()),
            Err(WsError::Http(resp)) => Err((
                resp.status().as_u16(),
                String::from_utf8_lossy(resp.body().as_deref().unwrap_or_default()).into_owned(),
            )),
            Err(e) => panic!("upgrade failed otherwise: {e}"),
        }
    }

    let mut o = opts();
    o.cfg.allowed_origins = vec!["https://grafana.example".into()];
    let srv = TestServer::with(o).await;
    let (status, body) = upgrade(srv.addr(), "https://evil.example")
        .await
        .expect_err("a foreign page's upgrade is refused");
    assert_eq!(status, 403);
    assert!(
        body.contains("origin https://evil.example is not allowed"),
        "{body}"
    );
    upgrade(srv.addr(), "https://grafana.example")
        .await
        .expect("an allowed origin connects");
    // A program sends no Origin and speaks the protocol as before.
    let mut c = Client::connect(srv.addr()).await;
    c.send(&ClientMsg::Search {
        id: 1,
        params: SearchParams::default(),
    })
    .await;
    let _ = c.reply(1).await;
}

/// Attack 6: 18 connections x 32 match-everything tails that never read, under
/// steady ingest. Ingest matched every entry for every subscription while holding
/// the fan-out's one lock, and the runtime threads waited on that lock to
/// subscribe, to unsubscribe (a closing connection drops its 32 tails) and for
/// status: `/healthz` and `/metrics` timed out for 20 s and new handshakes failed.
/// Now matching happens outside any shared lock: probes answer while half the
/// stalled clients go away, a new client connects and subscribes, and the stalled
/// tails that remain get drop notices.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_tails_under_ingest_starved_probes_and_handshakes() {
    /// A client that gives up after this long counts as a failure (no timing is
    /// asserted: it only turns a hang into a failed test).
    const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);
    let mut o = opts();
    o.cfg.limits.sub_queue = 1000;
    o.cfg.limits.write_timeout = Duration::from_secs(300);
    let srv = TestServer::with(o).await;

    // Ingest as fast as it can, on a thread of its own like the real stage, in
    // batches as the collector makes them during a catch-up.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let publisher = {
        let (live, stop) = (Arc::clone(&srv.live), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut seq = 1u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let batch: Vec<Arc<LogEntry>> = (0..2000)
                    .map(|k| {
                        let mut e =
                            entry("pod-1", seq as i64, &format!("line {k} of a steady stream"));
                        e.seq = seq;
                        seq += 1;
                        Arc::new(e)
                    })
                    .collect();
                live.publish(&batch);
            }
            seq - 1
        })
    };

    let mut stalled = Vec::new();
    for _ in 0..18 {
        let mut c = small_buffer_client(srv.addr()).await;
        for id in 1..=32 {
            c.send(&ClientMsg::Subscribe {
                id,
                query: "*".into(),
                backfill: 0,
                resume_after: None,
            })
            .await;
            assert_eq!(c.reply(id).await, ServerMsg::Subscribed { id });
        }
        stalled.push(c);
    }
    eventually("576 subscriptions", || {
        srv.live.stats().subscriptions == 576
    })
    .await;
    eventually("the stalled tails overflow", || {
        srv.live.stats().dropped > 0
    })
    .await;

    // Half the stalled clients go away: the server drops their 288 tails.
    let mut keep = stalled.split_off(9);
    drop(stalled);
    let m = srv.handle.metrics_addr().unwrap();
    for path in ["/healthz", "/metrics", "/healthz"] {
        let (code, _) = tokio::time::timeout(CLIENT_TIMEOUT, http_get(m, path))
            .await
            .unwrap_or_else(|_| panic!("{path} did not answer within the client timeout"));
        assert_eq!(code, 200, "{path}");
    }
    let mut fresh = tokio::time::timeout(CLIENT_TIMEOUT, Client::connect(srv.addr()))
        .await
        .expect("a new websocket handshake completes");
    fresh
        .send(&ClientMsg::Subscribe {
            id: 1,
            query: "*".into(),
            backfill: 0,
            resume_after: None,
        })
        .await;
    let reply = tokio::time::timeout(CLIENT_TIMEOUT, fresh.reply(1))
        .await
        .expect("the new subscription is answered");
    assert_eq!(reply, ServerMsg::Subscribed { id: 1 });

    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let published = publisher.join().unwrap();
    assert!(published > 0);
    // A stalled client reading at last gets entries and the notice of what it missed.
    let c = &mut keep[0];
    loop {
        match c.next().await.expect("still connected") {
            ServerMsg::Dropped { count, .. } => {
                assert!(count > 0);
                break;
            }
            ServerMsg::Entries { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}
