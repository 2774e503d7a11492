//! Multi-line events end to end: stack traces written into a kubelet tree (CRI and
//! docker json, interleaved streams, 16 KiB partials), read by the real collector
//! on real inotify.

use std::time::Duration;

use crate::support::collect::*;
use lookout_daemon::collect::{CollectorConfig, MultilineConfig};
use lookout_shared::{LogEntry, Stream};

const JAVA: &[&str] = &[
    "Exception in thread \"main\" java.lang.IllegalStateException: order 42 cannot be shipped",
    "\tat com.shop.orders.Shipping.ship(Shipping.java:118)",
    "\tat com.shop.orders.OrderService.complete(OrderService.java:77)",
    "Caused by: java.io.UncheckedIOException: warehouse unreachable",
    "\tat com.shop.stock.Warehouse.reserve(Warehouse.java:54)",
    "\t... 3 more",
];

const PYTHON: &[&str] = &[
    "ERROR:worker:payment failed",
    "Traceback (most recent call last):",
    "  File \"/app/worker.py\", line 31, in handle",
    "    amount = int(payload[\"amount\"])",
    "ValueError: invalid literal for int() with base 10: 'ten'",
];

const GO: &[&str] = &[
    "panic: runtime error: index out of range [5] with length 3",
    "",
    "goroutine 1 [running]:",
    "main.pick({0xc000012018, 0x3, 0x3}, 0x5)",
    "\t/src/cmd/picker/main.go:14 +0x1d",
    "main.main()",
    "\t/src/cmd/picker/main.go:9 +0x45",
];

const NODE: &[&str] = &[
    "Error: connect ECONNREFUSED 10.0.3.7:5432",
    "    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1595:16)",
    "    at async Pool.connect (/app/node_modules/pg-pool/index.js:45:11)",
];

fn cri_of(stream: &str, lines: &[&str]) -> String {
    lines.iter().map(|l| cri(stream, "F", l)).collect()
}

fn docker_of(stream: &str, lines: &[&str]) -> String {
    lines
        .iter()
        .map(|l| {
            let rec = serde_json::json!({"log": format!("{l}\n"), "stream": stream, "time": TS});
            format!("{rec}\n")
        })
        .collect()
}

fn find<'a>(got: &'a [LogEntry], first_line: &str) -> &'a LogEntry {
    got.iter()
        .find(|e| e.message.starts_with(first_line))
        .unwrap_or_else(|| panic!("no entry starting with {first_line:?}"))
}

/// Every language's trace, each written in one write, comes out as one entry
/// holding its lines joined with `\n`, `lines` counting them.
#[test]
fn traces_written_in_one_write_are_one_entry_each() {
    let node = Node::new();
    let cri_file = node.start("shop", "checkout-7d9f", "u1", "app", 0, &cid(1));
    let docker_file = node.start("shop", "worker-5c4b", "u2", "app", 0, &cid(2));
    let mut run = Run::start(config(node.root()));
    append(&cri_file, cri_of("stderr", JAVA).as_bytes());
    append(&cri_file, cri_of("stderr", GO).as_bytes());
    append(&docker_file, docker_of("stderr", PYTHON).as_bytes());
    append(&docker_file, docker_of("stdout", NODE).as_bytes());
    let want: Vec<String> = [JAVA, GO, PYTHON, NODE]
        .iter()
        .map(|t| t.join("\n"))
        .collect();
    run.expect(&want);
    for t in [JAVA, GO, PYTHON, NODE] {
        let e = find(&run.got, t[0]);
        assert_eq!(e.lines as usize, t.len(), "{e:?}");
    }
    assert_eq!(find(&run.got, NODE[0]).stream, Stream::Stdout);
    assert_eq!(find(&run.got, JAVA[0]).source.pod, "checkout-7d9f");
}

/// stdout and stderr share one CRI file, line by line interleaved, one of the
/// stderr frames split into 16 KiB partials with a stdout line between its
/// chunks: each stream's trace is still one event of its own.
#[test]
fn interleaved_streams_stay_separate_events() {
    let node = Node::new();
    let f = node.start("shop", "checkout-7d9f", "u1", "app", 0, &cid(1));
    let mut run = Run::start(config(node.root()));
    let long_frame = format!("\tat com.shop.Big.{}(Big.java:1)", "x".repeat(20_000));
    let mut java: Vec<&str> = JAVA.to_vec();
    java.insert(2, &long_frame);
    let mut s = String::new();
    for i in 0..java.len().max(NODE.len()) {
        if let Some(l) = java.get(i) {
            if l.len() > 16_384 {
                s += &cri("stderr", "P", &l[..16_384]);
                if let Some(o) = NODE.get(i) {
                    s += &cri("stdout", "F", o);
                }
                s += &cri("stderr", "F", &l[16_384..]);
                continue;
            }
            s += &cri("stderr", "F", l);
        }
        if let Some(o) = NODE.get(i) {
            s += &cri("stdout", "F", o);
        }
    }
    append(&f, s.as_bytes());
    run.expect(&[java.join("\n"), NODE.join("\n")]);
    let j = find(&run.got, JAVA[0]);
    assert_eq!((j.stream, j.lines as usize), (Stream::Stderr, java.len()));
    let n = find(&run.got, NODE[0]);
    assert_eq!((n.stream, n.lines as usize), (Stream::Stdout, NODE.len()));
}

/// A JSON line never continues an event, even right after a trace, and an
/// indented line after it does not join it either.
#[test]
fn a_json_line_after_a_trace_starts_a_new_event() {
    let node = Node::new();
    let f = node.start("shop", "checkout-7d9f", "u1", "app", 0, &cid(1));
    let mut run = Run::start(config(node.root()));
    let json = r#"{"level":"info","msg":"order shipped","order":42}"#;
    let mut lines = JAVA.to_vec();
    lines.push(json);
    lines.push("  indented after the JSON line");
    append(&f, cri_of("stdout", &lines).as_bytes());
    run.expect(&[
        JAVA.join("\n"),
        json.into(),
        "  indented after the JSON line".into(),
    ]);
    assert_eq!(find(&run.got, json).lines, 1);
}

/// `--multiline off`: one entry per physical line, as before.
#[test]
fn multiline_off_gives_one_entry_per_line() {
    let node = Node::new();
    let f = node.start("shop", "checkout-7d9f", "u1", "app", 0, &cid(1));
    let cfg = CollectorConfig {
        multiline: MultilineConfig {
            enabled: false,
            ..MultilineConfig::default()
        },
        ..config(node.root())
    };
    let mut run = Run::start(cfg);
    append(&f, cri_of("stderr", JAVA).as_bytes());
    let want: Vec<String> = JAVA.iter().map(|l| l.to_string()).collect();
    run.expect(&want);
    assert!(run.got.iter().all(|e| e.lines == 1));
}

/// `--multiline-exclude kube-*` and `shop/legacy-*`: those streams keep one entry
/// per line; every other stream joins.
#[test]
fn excluded_namespaces_and_pods_are_not_joined() {
    let node = Node::new();
    let sys = node.start("kube-system", "coredns-5d78c", "u1", "coredns", 0, &cid(1));
    let legacy = node.start("shop", "legacy-billing", "u2", "app", 0, &cid(2));
    let joined = node.start("shop", "checkout-7d9f", "u3", "app", 0, &cid(3));
    let cfg = CollectorConfig {
        multiline: MultilineConfig {
            exclude: vec!["kube-*".into(), "shop/legacy-*".into()],
            ..MultilineConfig::default()
        },
        ..config(node.root())
    };
    let mut run = Run::start(cfg);
    append(&sys, cri_of("stderr", NODE).as_bytes());
    append(&legacy, cri_of("stderr", JAVA).as_bytes());
    append(&joined, cri_of("stderr", PYTHON).as_bytes());
    let mut want: Vec<String> = NODE.iter().chain(JAVA).map(|l| l.to_string()).collect();
    want.push(PYTHON.join("\n"));
    run.expect(&want);
}

/// Stopped with an event still open (a hold long enough that only the next line
/// closes it), the collector resumes it from its positions: the trace is
/// delivered once, whole, though its lines were read by two runs.
#[test]
fn an_event_open_at_stop_resumes_whole_after_restart() {
    let node = Node::new();
    let f = node.start("shop", "checkout-7d9f", "u1", "app", 0, &cid(1));
    let cfg = CollectorConfig {
        multiline: MultilineConfig {
            hold: Duration::from_secs(3600),
            ..MultilineConfig::default()
        },
        ..config(node.root())
    };
    let first = cri_of("stderr", &JAVA[..3]);
    append(&f, first.as_bytes());
    let mut run = Run::start(cfg.clone());
    // Wait until the open event is in the positions the collector handed over.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !run
        .positions
        .files
        .values()
        .any(|p| p.offset == first.len() as u64 && !p.events.is_empty())
    {
        assert!(std::time::Instant::now() < deadline, "no open event stored");
        run.settle(Duration::from_millis(50));
    }
    assert!(run.got.is_empty(), "{:?}", run.got);
    if let Some(h) = run.handle.take() {
        h.stop();
    }
    // The stored positions survive a JSON round trip, as on disk.
    let json = serde_json::to_string(&run.positions).unwrap();
    let positions = serde_json::from_str(&json).unwrap();
    append(&f, cri_of("stderr", &JAVA[3..]).as_bytes());
    // Closes the trace (and stays open itself, for the hour of its hold).
    append(&f, cri("stderr", "F", "INFO after the trace").as_bytes());
    let mut again = Run::start_at(cfg, positions, 16);
    again.expect(&[JAVA.join("\n")]);
    assert_eq!(find(&again.got, JAVA[0]).lines as usize, JAVA.len());
}
