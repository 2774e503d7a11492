//! File descriptors: quiet files give theirs back and are reopened by identity
//! when they grow; more files than the fd limit allows are all read.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::collect::*;
use crate::support::wait_for;
use lookout_shared::LogEntry;

/// Whether this process holds an fd on `path`.
fn holds_fd(path: &Path) -> bool {
    let real = std::fs::canonicalize(path).unwrap();
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .any(|e| std::fs::read_link(e.path()).is_ok_and(|p| p == real))
}

/// Every live file kept its fd forever (10,000 files: 10,015 fds). Now a file
/// idle for `idle_close` is closed, and its lines (a half-written one included)
/// continue exactly once when it grows again.
#[test]
fn an_idle_file_gives_its_fd_back_and_resumes_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("app.log");
    append(&f, b"one\ntwo\nhalf");
    let mut cfg = config(tmp.path());
    cfg.idle_close = Duration::from_millis(100);
    let mut run = Run::start(cfg);
    run.wait_for(2);
    wait_for("the idle file's fd closed", Duration::from_secs(20), || {
        (!holds_fd(&f)).then_some(())
    });
    append(&f, b" done\nthree\n");
    run.expect(&[
        "one".into(),
        "two".into(),
        "half done".into(),
        "three".into(),
    ]);
    // Closed again once quiet, and reopened again on the next write.
    wait_for("closed again", Duration::from_secs(20), || {
        (!holds_fd(&f)).then_some(())
    });
    append(&f, b"four\n");
    run.expect(&[
        "one".into(),
        "two".into(),
        "half done".into(),
        "three".into(),
        "four".into(),
    ]);
}

/// With a 512-fd limit and 1,500 files, the opens past the limit failed and
/// those files were never read until a restart. Here `lookoutd --stdout` runs
/// with soft = hard `RLIMIT_NOFILE` = 64 (nothing to raise) and 150 files: every
/// line of every file comes out exactly once, before and after they are written
/// to again.
#[test]
fn more_files_than_the_fd_limit_are_all_read() {
    const FILES: usize = 150;
    let tmp = tempfile::tempdir().unwrap();
    let (logs, data) = (tmp.path().join("logs"), tmp.path().join("data"));
    std::fs::create_dir_all(&logs).unwrap();
    let mut want: Vec<String> = Vec::new();
    let round = |r: usize, want: &mut Vec<String>| {
        for i in 0..FILES {
            let m = msgs(&format!("f{i} r{r}"), 5);
            append(
                &logs.join(format!("f{i}.log")),
                (m.join("\n") + "\n").as_bytes(),
            );
            want.extend(m);
        }
    };
    round(0, &mut want);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lookoutd"));
    cmd.args(["--stdout", "--node", "n1", "--log-dir"])
        .arg(&logs)
        .arg("--data-dir")
        .arg(&data)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe; the child only lowers its own limit.
    unsafe {
        cmd.pre_exec(|| {
            let r = libc::rlimit {
                rlim_cur: 64,
                rlim_max: 64,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &r) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            let e: LogEntry = serde_json::from_str(&line).unwrap();
            if tx.send(e.message).is_err() {
                break;
            }
        }
    });
    let mut got: HashMap<String, usize> = HashMap::new();
    let collect = |n: usize, got: &mut HashMap<String, usize>| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while got.values().sum::<usize>() < n {
            assert!(
                Instant::now() < deadline,
                "only {} of {n} lines",
                got.values().sum::<usize>()
            );
            if let Ok(m) = rx.recv_timeout(Duration::from_millis(100)) {
                *got.entry(m).or_default() += 1;
            }
        }
    };
    collect(want.len(), &mut got);
    round(1, &mut want);
    collect(want.len(), &mut got);
    // SAFETY: plain kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    child.wait().unwrap();
    while let Ok(m) = rx.recv_timeout(Duration::from_millis(300)) {
        *got.entry(m).or_default() += 1;
    }
    for w in &want {
        assert_eq!(got.get(w), Some(&1), "{w}");
    }
    assert_eq!(got.len(), want.len());
}

/// A closed (idle) kubelet file rotated while closed: found by identity at its
/// rotated name, its late lines read once, and the new live file read from 0.
#[test]
fn a_file_rotated_while_its_fd_is_closed_loses_nothing() {
    let node = Node::new();
    let f = node.start("ns", "p", "u", "c", 0, &cid(1));
    let mut cfg = config(node.root());
    cfg.idle_close = Duration::from_millis(100);
    let mut run = Run::start(cfg);
    let a = msgs("a", 20);
    append(&f, cri_lines(&a).as_bytes());
    run.wait_for(a.len());
    wait_for("the idle file's fd closed", Duration::from_secs(20), || {
        (!holds_fd(&f)).then_some(())
    });
    let rotated = f.with_file_name("0.log.20261203-083000");
    std::fs::rename(&f, &rotated).unwrap();
    let late = msgs("late", 10);
    append(&rotated, cri_lines(&late).as_bytes());
    let b = msgs("b", 15);
    append(&f, cri_lines(&b).as_bytes());
    run.expect(&[a, late, b].concat());
}
