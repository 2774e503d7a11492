//! `lookoutd --stdout` as a user runs it: a real process, real signals, real files.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::collect::{append, msgs};
use lookout_shared::LogEntry;

struct Daemon {
    child: Child,
    lines: mpsc::Receiver<LogEntry>,
}

fn spawn(log_dir: &Path, data_dir: &Path) -> Daemon {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lookoutd"))
        .args(["--stdout", "--node", "n1", "--log-dir"])
        .arg(log_dir)
        .arg("--data-dir")
        .arg(data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            let e: LogEntry = serde_json::from_str(&line).unwrap();
            if tx.send(e).is_err() {
                break;
            }
        }
    });
    Daemon { child, lines: rx }
}

impl Daemon {
    fn collect_until(&self, got: &mut Vec<String>, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while got.len() < n {
            assert!(Instant::now() < deadline, "only {} of {n} lines", got.len());
            if let Ok(e) = self.lines.recv_timeout(Duration::from_millis(100)) {
                got.push(e.message);
            }
        }
    }

    fn signal(mut self, sig: i32, got: &mut Vec<String>) {
        // SAFETY: plain kill(2) on our own child.
        unsafe { libc::kill(self.child.id() as i32, sig) };
        self.child.wait().unwrap();
        while let Ok(e) = self.lines.recv_timeout(Duration::from_millis(300)) {
            got.push(e.message);
        }
    }
}

#[test]
fn graceful_stop_and_restart_is_exactly_once() {
    let logs = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let f = logs.path().join("writer.log");
    let first = msgs("first", 200);
    append(&f, (first.join("\n") + "\n").as_bytes());
    let d = spawn(logs.path(), data.path());
    let mut got = Vec::new();
    d.collect_until(&mut got, 200);
    let second = msgs("second", 100);
    append(&f, (second.join("\n") + "\n").as_bytes());
    d.collect_until(&mut got, 300);
    d.signal(libc::SIGTERM, &mut got);
    let third = msgs("third", 100);
    append(&f, (third.join("\n") + "\n").as_bytes());
    let d = spawn(logs.path(), data.path());
    d.collect_until(&mut got, 400);
    std::thread::sleep(Duration::from_millis(300));
    d.signal(libc::SIGINT, &mut got);
    crate::support::collect::assert_messages(
        &got.iter()
            .map(|m| LogEntry {
                message: m.clone(),
                ..Default::default()
            })
            .collect::<Vec<_>>(),
        &[first, second, third].concat(),
    );
}

#[test]
fn sigkill_loses_nothing() {
    let logs = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let f = logs.path().join("writer.log");
    let d = spawn(logs.path(), data.path());
    let mut got = Vec::new();
    let mut want = Vec::new();
    for i in 0..20 {
        let m = msgs(&format!("batch{i}"), 50);
        append(&f, (m.join("\n") + "\n").as_bytes());
        want.extend(m);
        std::thread::sleep(Duration::from_millis(10));
    }
    d.collect_until(&mut got, 300);
    d.signal(libc::SIGKILL, &mut got);
    let before_kill = got.len();
    let m = msgs("after", 100);
    append(&f, (m.join("\n") + "\n").as_bytes());
    want.extend(m);
    let d = spawn(logs.path(), data.path());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let missing = want.iter().filter(|w| !got.contains(w)).count();
        if missing == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{missing} lines lost");
        if let Ok(e) = d.lines.recv_timeout(Duration::from_millis(100)) {
            got.push(e.message);
        }
    }
    d.signal(libc::SIGTERM, &mut got);
    // Duplicates only come from what the first run printed but had not saved.
    let dups = got.len() - want.len();
    assert!(dups <= before_kill, "{dups} duplicates");
    for w in &want {
        assert!(got.contains(w), "lost {w}");
    }
}

/// `ln -s /etc/shadow LOGDIR/shadow.log` and `ln -s /proc/self/environ
/// LOGDIR/env.log` printed the shadow line and the daemon's own environment,
/// `LOOKOUT_TOKEN` included. Now neither is read, and stderr says why.
#[test]
fn links_to_a_secret_and_to_proc_self_environ_never_reach_stdout() {
    let tmp = tempfile::tempdir().unwrap();
    let (logs, data) = (tmp.path().join("logs"), tmp.path().join("data"));
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(tmp.path().join("shadow"), "root:$6$SHADOW-HASH:19000::\n").unwrap();
    std::os::unix::fs::symlink(tmp.path().join("shadow"), logs.join("shadow.log")).unwrap();
    std::os::unix::fs::symlink("/proc/self/environ", logs.join("env.log")).unwrap();
    append(&logs.join("app.log"), b"hello\n");
    let mut child = Command::new(env!("CARGO_BIN_EXE_lookoutd"))
        .args(["--stdout", "--node", "n1", "--log-dir"])
        .arg(&logs)
        .arg("--data-dir")
        .arg(&data)
        .env("LOOKOUT_TOKEN", "TOKEN-that-must-not-leak")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    // Everything there was to read is read by now; stop and take the rest.
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: plain kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    child.wait().unwrap();
    let all = first + &rest;
    let msgs: Vec<String> = all
        .lines()
        .map(|l| serde_json::from_str::<LogEntry>(l).unwrap().message)
        .collect();
    assert_eq!(msgs, ["hello"], "{all}");
    assert!(
        !all.contains("SHADOW") && !all.contains("TOKEN-that"),
        "{all}"
    );
    for name in ["shadow.log", "env.log"] {
        assert!(
            err.lines()
                .any(|l| l.contains(name) && l.contains("outside_root")),
            "no warning naming {name}:\n{err}"
        );
    }
}
