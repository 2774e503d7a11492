//! Exactly-once across crashes: `lookoutd` is SIGKILLed again and again while a
//! container writes and the kubelet rotates its log; afterwards the stored multiset
//! of lines equals the written one — nothing lost, nothing stored twice. One line
//! in eight starts a multi-line event (a trace written in one write): each is
//! stored once and whole, however the kills fall inside or after it.
//!
//! Needs the real collector (it follows the kubelet layout written here).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::index::{config, loghub_lines, walk};
use lookout_daemon::index::Index;
use lookout_shared::protocol::Order;

const LINES: usize = 40_000;
const ROTATE_EVERY: usize = 3_000;

fn daemon(logs: &Path, data: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_lookoutd"))
        .args(["--log-dir", logs.to_str().unwrap()])
        .args(["--data-dir", data.to_str().unwrap()])
        .args(["--listen", "127.0.0.1:0"])
        .args(["--metrics-listen", "127.0.0.1:0"])
        .args(["--commit-interval", "200ms"])
        .args(["--node", "crash-node"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start lookoutd")
}

fn kill9(c: &mut Child) {
    unsafe {
        libc::kill(c.id() as i32, libc::SIGKILL);
    }
    let _ = c.wait();
}

fn term(c: &mut Child) {
    unsafe {
        libc::kill(c.id() as i32, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = c.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    kill9(c);
}

/// A small deterministic pseudo-random sequence (no dependency needed).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

fn stored(data: &Path) -> BTreeMap<String, usize> {
    let (index, _) = Index::open(config(data)).expect("open index");
    let (all, _) = walk(&index, "crashtest", Order::OldestFirst, 1000);
    let mut m = BTreeMap::new();
    for e in all {
        *m.entry(e.message).or_insert(0) += 1;
    }
    m
}

#[test]
fn sigkill_mid_stream_under_rotation_loses_and_duplicates_nothing() {
    let logs = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let uid = "0b6e4c1a-7f3e-4d2a-9c11-2f1e0d9b8a77";
    let pod_dir = logs
        .path()
        .join(format!("pods/shop_checkout-7d9f_{uid}/app"));
    std::fs::create_dir_all(&pod_dir).unwrap();
    std::fs::create_dir_all(logs.path().join("containers")).unwrap();
    let log = pod_dir.join("0.log");
    std::os::unix::fs::symlink(
        &log,
        logs.path().join(format!(
            "containers/checkout-7d9f_shop_app-{}.log",
            "ab".repeat(32)
        )),
    )
    .unwrap();

    let bodies = loghub_lines();
    let writer_log = log.clone();
    let writer = std::thread::spawn(move || {
        let mut written = Vec::with_capacity(LINES);
        let mut f = std::fs::File::create(&writer_log).unwrap();
        for i in 0..LINES {
            if i > 0 && i.is_multiple_of(ROTATE_EVERY) {
                // The kubelet's rotation: rename, then the runtime reopens a new file.
                let rotated = writer_log.with_extension(format!("log.20261125-{i:06}"));
                std::fs::rename(&writer_log, &rotated).unwrap();
                f = std::fs::File::create(&writer_log).unwrap();
            }
            let body = &bodies[i % bodies.len()].1;
            let msg = format!("crashtest {i} {body}");
            let stream = if i.is_multiple_of(4) {
                "stderr"
            } else {
                "stdout"
            };
            let ts = format!("2026-11-25T20:00:{:02}.{:09}Z", (i / 100_000) % 60, i);
            if i % 10 == 5 || i.is_multiple_of(40) {
                // A multi-line event: a stack trace, all its lines in one write.
                let mut event = format!("{ts} {stream} F {msg}\n");
                let mut joined = msg;
                for k in 0..1 + i % 4 {
                    let frame = format!("\tat crashtest.Frame.f{i}(Frame.java:{k})");
                    event += &format!("{ts} {stream} F {frame}\n");
                    joined = format!("{joined}\n{frame}");
                }
                f.write_all(event.as_bytes()).unwrap();
                written.push(joined);
            } else {
                writeln!(f, "{ts} {stream} F {msg}").unwrap();
                written.push(msg);
            }
            if i.is_multiple_of(500) {
                f.flush().unwrap();
                std::thread::sleep(Duration::from_millis(15));
            }
        }
        f.flush().unwrap();
        written
    });

    let mut rng = Lcg(0x5eed);
    let mut kills = 0;
    // At least three kills even when the writer outruns them (a loaded machine
    // starts each daemon slowly): the later ones land while it catches up.
    while !writer.is_finished() || kills < 3 {
        let mut d = daemon(logs.path(), data.path());
        std::thread::sleep(Duration::from_millis(150 + rng.next(700)));
        kill9(&mut d);
        kills += 1;
    }
    let written = writer.join().unwrap();
    let mut want = BTreeMap::new();
    for m in &written {
        *want.entry(m.clone()).or_insert(0usize) += 1;
    }

    // Let a daemon catch up, stopping it gracefully to read the index.
    let deadline = Instant::now() + Duration::from_secs(120);
    let got = loop {
        let mut d = daemon(logs.path(), data.path());
        std::thread::sleep(Duration::from_secs(2));
        term(&mut d);
        let got = stored(data.path());
        let n: usize = got.values().sum();
        if n >= LINES || Instant::now() > deadline {
            break got;
        }
    };
    let dups: Vec<_> = got.iter().filter(|(_, c)| **c > 1).take(5).collect();
    assert!(dups.is_empty(), "stored twice: {dups:?}");
    let lost: Vec<_> = want
        .keys()
        .filter(|k| !got.contains_key(*k))
        .take(5)
        .collect();
    assert!(
        lost.is_empty(),
        "lost ({} total): {lost:?}",
        LINES - got.len()
    );
    assert_eq!(got, want);
}
