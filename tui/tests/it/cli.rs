//! The `lookout` CLI end to end: the real binary against a real in-process lookoutd on
//! a temp log tree, asserting on what a script would read (stdout, stderr, exit code).

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Daemon, LogTree};
use lookout_shared::protocol::{RuleStatus, StreamInfo};
use lookout_shared::LogEntry;

/// Runs the real `lookout` binary against `url`, without colour or a token.
pub(crate) fn lookout(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lookout"))
        .arg("--url")
        .arg(url)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("LOOKOUT_TOKEN")
        .stdin(Stdio::null())
        .output()
        .expect("run lookout")
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `args` until `pred` holds on the output (the index commits every 200 ms).
fn until(url: &str, args: &[&str], pred: impl Fn(&Output) -> bool) -> Output {
    let start = Instant::now();
    loop {
        let o = lookout(url, args);
        if pred(&o) {
            return o;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "lookout {args:?} never satisfied the check: status {:?}\nstdout:\n{}\nstderr:\n{}",
            o.status,
            stdout(&o),
            stderr(&o)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn search_streams_and_rules_from_the_command_line() {
    let tree = LogTree::new();
    let lines: Vec<String> = (0..250)
        .map(|i| format!("order {i} accepted by checkout"))
        .collect();
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    tree.write("payments", "checkout-1", "app", &refs);
    tree.write(
        "web",
        "frontend-1",
        "httpd",
        &["GET / 200", "ERROR upstream refused"],
    );
    let daemon = Daemon::start(&tree).expect("daemon");
    let url = daemon.url();

    // search --limit 0 --json walks every match through cursor pages (page size 100).
    let o = until(
        &url,
        &["search", "accepted", "--limit", "0", "--json"],
        |o| o.status.success() && stdout(o).lines().count() == 250,
    );
    let entries: Vec<LogEntry> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one LogEntry per line"))
        .collect();
    assert!(entries
        .iter()
        .all(|e| e.source.namespace == "payments" && e.source.pod == "checkout-1"));
    let mut msgs: Vec<&str> = entries.iter().map(|e| e.message.as_str()).collect();
    msgs.sort();
    msgs.dedup();
    assert_eq!(msgs.len(), 250, "every line once");
    // Newest first by default; --oldest-first reverses.
    assert!(entries
        .windows(2)
        .all(|w| w[0].sort_key() > w[1].sort_key()));
    let o = lookout(
        &url,
        &[
            "search",
            "accepted",
            "--limit",
            "3",
            "--oldest-first",
            "--json",
        ],
    );
    let first: LogEntry = serde_json::from_str(stdout(&o).lines().next().unwrap()).unwrap();
    assert_eq!(first.message, "order 0 accepted by checkout");

    // Human output names the stream and the level.
    let o = lookout(&url, &["search", "level:error"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("web/frontend-1/httpd"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("upstream refused"), "{}", stdout(&o));

    // A bad query: non-zero exit, the message and a caret under the column.
    let o = lookout(&url, &["search", "level:error AND ("]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains('^'), "{}", stderr(&o));

    // streams --json: both containers with their line counts.
    // The registry refreshes about once a second: wait for the counts to catch up.
    let parse = |o: &Output| -> Vec<StreamInfo> {
        stdout(o)
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    };
    let o = until(&url, &["streams", "--json"], |o| {
        parse(o)
            .iter()
            .any(|s| s.source.pod == "checkout-1" && s.lines == 250)
    });
    let streams = parse(&o);
    assert!(
        streams.iter().any(|s| s.source.pod == "frontend-1"),
        "{streams:?}"
    );
    let checkout = streams
        .iter()
        .find(|s| s.source.pod == "checkout-1" && s.lines == 250)
        .expect("checkout stream");
    assert_eq!(checkout.lines, 250);
    assert!(checkout.live);

    // rules: apply a file, list, test it against history, delete.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.yaml");
    std::fs::write(
        &file,
        "rules:\n  - name: CheckoutBusy\n    query: namespace:payments accepted\n    window: 1h\n    condition: \"> 10\"\n    group_by: [pod]\n",
    )
    .unwrap();
    let o = lookout(&url, &["rules", "apply", "-f", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = lookout(&url, &["rules", "list", "--json"]);
    let rules: Vec<RuleStatus> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].rule.name, "CheckoutBusy");
    let o = lookout(&url, &["rules", "test", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("CheckoutBusy"), "{}", stdout(&o));

    // A rule with a bad window is refused with the field named; nothing is saved.
    std::fs::write(
        &file,
        "name: Broken\nquery: x\nwindow: \"5\"\ncondition: \"> 1\"\n",
    )
    .unwrap();
    let o = lookout(&url, &["rules", "apply", "-f", file.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("window"), "{}", stderr(&o));
    let o = lookout(&url, &["rules", "delete", "CheckoutBusy"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = lookout(&url, &["rules", "list", "--json"]);
    assert_eq!(stdout(&o).lines().count(), 0, "{}", stdout(&o));

    // `--url HOST:PORT` without a scheme, as port-forward prints it, works.
    let bare = url.trim_start_matches("ws://");
    let o = lookout(bare, &["streams"]);
    assert!(o.status.success(), "{}", stderr(&o));

    // A daemon that is not there: a clear error and a non-zero exit, not a hang.
    let o = lookout("ws://127.0.0.1:9", &["streams"]);
    assert!(!o.status.success());
    assert!(!stderr(&o).is_empty());
}

#[test]
fn the_cli_exits_non_zero_with_a_message_when_the_daemon_is_unreachable() {
    // Bind then drop: nothing listens on this port any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lookout"))
        .args(["streams", "--url", &format!("ws://127.0.0.1:{port}")])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot connect"), "{err}");
    // Said once: the cause chain used to repeat the refusal three times.
    assert_eq!(err.matches("Connection refused").count(), 1, "{err}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lookout"))
        .args(["search", "x", "--since", "15"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--since"));
}

/// `lookout tail --since`: stored lines from the window, then live ones, each once;
/// and a tail started before the daemon is up waits for it instead of exiting.
#[test]
fn tail_since_replays_the_window_then_follows_and_waits_for_the_daemon() {
    use std::io::{BufRead, BufReader};
    use std::sync::mpsc;

    let tree = LogTree::new();
    let old: Vec<String> = (0..20).map(|i| format!("stored line {i}")).collect();
    let refs: Vec<&str> = old.iter().map(String::as_str).collect();
    tree.write("payments", "checkout-1", "app", &refs);
    let daemon = Daemon::start(&tree).expect("daemon");
    let url = daemon.url();
    until(&url, &["search", "stored", "--json"], |o| {
        stdout(o).lines().count() == 20
    });
    let mut child = Command::new(env!("CARGO_BIN_EXE_lookout"))
        .args([
            "--url",
            &url,
            "tail",
            "--since",
            "1h",
            "--json",
            "namespace:payments",
        ])
        .env_remove("LOOKOUT_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn lookout tail");
    let (tx, rx) = mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen: Vec<String> = Vec::new();
    let mut wrote_live = false;
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.len() < 25 && Instant::now() < deadline {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
            let e: LogEntry = serde_json::from_str(&l).expect("one entry per line");
            seen.push(e.message);
        }
        if seen.len() >= 20 && !wrote_live {
            let live: Vec<String> = (0..5).map(|i| format!("live line {i}")).collect();
            let refs: Vec<&str> = live.iter().map(String::as_str).collect();
            tree.write("payments", "checkout-1", "app", &refs);
            wrote_live = true;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let mut expected: Vec<String> = old.clone();
    expected.extend((0..5).map(|i| format!("live line {i}")));
    assert_eq!(
        seen, expected,
        "the window, then live, each once and in order"
    );

    // Before the daemon exists: tail waits (still running after a second) rather
    // than exiting at once, as the dashboard does.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_lookout"))
        .args(["--url", &format!("127.0.0.1:{port}"), "tail"])
        .env_remove("LOOKOUT_TOKEN")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn lookout tail");
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        child.try_wait().unwrap().is_none(),
        "tail exited while the daemon was not up yet"
    );
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("waiting for the daemon"), "{err}");
}

/// Fields extracted at ingest reach a script: `search --json` and `tail --json`
/// entries carry `fields` (an object, numbers as numbers) and `lines`, field
/// queries select on them, and the raw message is kept as written.
#[test]
fn json_output_carries_fields_and_field_queries_select() {
    use std::io::{BufRead, BufReader};

    let tree = LogTree::new();
    let lines = [
        r#"{"level":"error","msg":"charge failed","status":503,"http":{"request":{"method":"POST"}}}"#,
        r#"{"level":"info","msg":"charged","status":200,"http":{"request":{"method":"POST"}}}"#,
        r#"ts=1 level=warn msg="slow call" latency_ms=812.5 status=504"#,
        "plain line status 500",
    ];
    tree.write("payments", "checkout-7d4b9c8f6d-x2k4p", "app", &lines);
    let daemon = Daemon::start(&tree).expect("daemon");
    let url = daemon.url();
    let o = until(&url, &["search", "status:>=500", "--json"], |o| {
        stdout(o).lines().count() == 2
    });
    let entries: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let newest = &entries[0];
    assert_eq!(newest["message"], lines[2], "the raw message, as written");
    assert_eq!(newest["fields"]["latency_ms"], 812.5);
    assert_eq!(newest["fields"]["status"], 504);
    assert_eq!(newest["level"], "warn");
    assert_eq!(newest["lines"], 1);
    assert_eq!(entries[1]["fields"]["http.request.method"], "POST");
    assert_eq!(entries[1]["level"], "error");
    // A plain line has no fields (and `fields` is left out).
    let o = lookout(&url, &["search", "plain", "--json"]);
    let plain: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert!(plain.get("fields").is_none(), "{plain}");
    // Human output is unchanged: the message.
    let o = lookout(&url, &["search", "http.request.method:POST status:<300"]);
    assert!(stdout(&o).contains("charged"), "{}", stdout(&o));
    assert!(!stdout(&o).contains("charge failed"), "{}", stdout(&o));

    // tail --json: a live line's fields.
    let mut child = Command::new(env!("CARGO_BIN_EXE_lookout"))
        .args(["--url", &url, "tail", "--json", "user:*"])
        .env_remove("LOOKOUT_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn lookout tail");
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut got = None;
    while got.is_none() && Instant::now() < deadline {
        tree.write(
            "payments",
            "checkout-7d4b9c8f6d-x2k4p",
            "app",
            &[
                r#"{"msg":"login","user":"adele","attempt":2}"#,
                "no user here",
            ],
        );
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(500)) {
            got = Some(l);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let e: serde_json::Value = serde_json::from_str(&got.expect("a live entry")).unwrap();
    assert_eq!(e["fields"]["user"], "adele");
    assert_eq!(e["fields"]["attempt"], 2);
    assert_eq!(e["lines"], 1);
}

/// `lookout patterns` end to end: the kinds of lines among the matches, most
/// frequent first with their templates, `--json` objects whose ids `pattern:ID`
/// finds again in `search --json` (where every entry carries its `pattern`).
#[test]
fn patterns_lists_kinds_of_lines_and_pattern_queries_find_them() {
    let tree = LogTree::new();
    let mut lines = Vec::new();
    for i in 0..12 {
        lines.push(format!("Invalid user u{i} from 10.0.0.{i}"));
    }
    for i in 0..5 {
        lines.push(format!(
            "Accepted password for root from 10.1.{i}.9 port 22{i}"
        ));
    }
    lines.push(r#"{"level":"error","msg":"disk /dev/sda1 full","free":0}"#.to_string());
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    tree.write("auth", "sshd-7d4b9c8f6d-x2k4p", "app", &refs);
    let daemon = Daemon::start(&tree).expect("daemon");
    let url = daemon.url();
    until(&url, &["search", "*", "--json"], |o| {
        stdout(o).lines().count() == lines.len()
    });

    let o = lookout(&url, &["patterns", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let pats: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(pats.len(), 3, "{}", stdout(&o));
    assert_eq!(pats[0]["count"], 12);
    assert_eq!(pats[0]["template"], "Invalid user <*> from <*>");
    assert_eq!(pats[1]["count"], 5);
    assert_eq!(pats[2]["count"], 1);
    // The JSON line is mined on its message, not its braces.
    assert!(
        pats[2]["template"].as_str().unwrap().starts_with("disk "),
        "{}",
        pats[2]
    );
    // First seen just now, inside the last hour: new.
    assert_eq!(pats[0]["new"], true);
    assert_eq!(pats[0]["example"]["pattern"], pats[0]["id"]);
    let spark: u64 = pats[0]["sparkline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(spark, 12);

    // pattern:ID selects exactly that kind, and entries carry their id.
    let id = pats[1]["id"].as_str().unwrap().to_string();
    let o = lookout(&url, &["search", &format!("pattern:{id}"), "--json"]);
    let found: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(found.len(), 5, "{}", stdout(&o));
    assert!(found.iter().all(|e| e["pattern"] == id.as_str()));
    assert!(found
        .iter()
        .all(|e| e["message"].as_str().unwrap().starts_with("Accepted")));

    // A query narrows the events whose patterns are listed; the table is human.
    let o = lookout(&url, &["patterns", "root"]);
    let out = stdout(&o);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.contains("Accepted password for root from <*> port <*>"),
        "{out}"
    );
    assert!(out.contains(&id), "{out}");
    assert!(
        stderr(&o).contains("1 of 1 patterns, 5 matching events"),
        "{}",
        stderr(&o)
    );
    // A range that ends before any event: nothing, and `--new` over a range
    // starting after them: nothing new.
    let o = lookout(
        &url,
        &[
            "patterns",
            "--from",
            "2020-01-01T00:00:00Z",
            "--until",
            "2020-01-02T00:00:00Z",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
    let later = lookout_shared::Timestamp::now()
        .add_nanos(60_000_000_000)
        .to_rfc3339();
    let o = lookout(&url, &["patterns", "--new", "--from", &later, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
    // A bad id is a query error with a caret.
    let o = lookout(&url, &["search", "pattern:xyz"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("16 hex digits"), "{}", stderr(&o));
}

/// Through a cluster hub with one node down, `lookout search` prints the matches
/// of the nodes that answered, warns naming the missing node, and exits 3; with
/// every node answering it exits 0 and pages across them.
#[test]
fn search_through_a_hub_warns_and_exits_3_when_partial() {
    use clap::Parser;
    let tree = LogTree::new();
    let lines: Vec<String> = (0..150).map(|i| format!("order {i} shipped")).collect();
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    tree.write("shop", "ship-0", "app", &refs);
    let daemon = Daemon::start(&tree).expect("daemon");
    until(&daemon.url(), &["search", "shipped", "--limit", "0"], |o| {
        stderr(o).contains("150 of 150 matches")
    });
    // An address nothing listens on: a node that is down.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("ws://{}", l.local_addr().unwrap())
    };
    let hub_over = |peers: &[String]| {
        let mut argv = vec![
            "lookoutd".to_string(),
            "hub".into(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--metrics-listen".into(),
            "127.0.0.1:0".into(),
        ];
        for p in peers {
            argv.extend(["--peer".to_string(), p.clone()]);
        }
        match lookout_daemon::config::Config::try_parse_from(argv)
            .unwrap()
            .mode
        {
            Some(lookout_daemon::config::Mode::Hub(a)) => {
                lookout_daemon::hub::Hub::start(a).unwrap()
            }
            None => panic!("not the hub mode"),
        }
    };

    let whole = hub_over(&[daemon.url()]);
    let url = format!("ws://{}", whole.addr().unwrap());
    let o = lookout(&url, &["search", "shipped", "--limit", "0"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 150);
    assert!(!stderr(&o).contains("partial"), "{}", stderr(&o));

    let partial = hub_over(&[daemon.url(), dead.clone()]);
    let url = format!("ws://{}", partial.addr().unwrap());
    let o = lookout(&url, &["search", "shipped", "--limit", "0"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 150);
    let err = stderr(&o);
    assert!(
        err.contains("partial result") && err.contains(&dead),
        "{err}"
    );
}
