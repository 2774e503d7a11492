//! The kubelet layout end to end: real files, real inotify, the real collector.

use std::fs;
use std::time::Duration;

use crate::support::collect::*;
use lookout_daemon::collect::TRUNCATED_MARKER;
use lookout_shared::Stream;

#[test]
fn metadata_from_kubelet_names() {
    let node = Node::new();
    let id = cid(1);
    let f = node.start("payments", "checkout-7d9", "uid-1", "app", 0, &id);
    append(&f, cri("stderr", "F", "boom").as_bytes());
    append(
        &f,
        "2026-11-26T02:42:07.5+07:00 stdout F hello\n".as_bytes(),
    );
    let mut run = Run::start(config(node.root()));
    run.expect(&["boom".into(), "hello".into()]);
    let e = run.got.iter().find(|e| e.message == "boom").unwrap();
    assert_eq!(e.source.namespace, "payments");
    assert_eq!(e.source.pod, "checkout-7d9");
    assert_eq!(e.source.pod_uid, "uid-1");
    assert_eq!(e.source.container, "app");
    assert_eq!(e.source.container_id, id);
    assert_eq!(e.source.restart, 0);
    assert_eq!(e.stream, Stream::Stderr);
    assert_eq!(e.node, "node-1");
    assert_eq!(e.ts.to_rfc3339(), "2026-11-25T19:42:07.118000000Z");
    let h = run.got.iter().find(|e| e.message == "hello").unwrap();
    assert_eq!(h.ts.to_rfc3339(), "2026-11-25T19:42:07.500000000Z");
    let followed = run.handle.as_ref().unwrap().followed();
    assert_eq!(followed.len(), 1);
    assert_eq!(followed[0].source.container_id, id);
}

#[test]
fn cut_symlink_name_loses_only_the_id() {
    let node = Node::new();
    let dir = node.container_dir("ns", "p", "u", "c");
    fs::create_dir_all(&dir).unwrap();
    let file = dir.join("0.log");
    append(&file, cri("stdout", "F", "x").as_bytes());
    // A 255-byte name that lost its id.
    let name = format!("p_ns_c-{}", "a".repeat(20));
    std::os::unix::fs::symlink(&file, node.root().join("containers").join(name)).unwrap();
    let mut run = Run::start(config(node.root()));
    run.expect(&["x".into()]);
    assert_eq!(run.got[0].source.container_id, "");
    assert_eq!(run.got[0].source.pod, "p");
}

#[test]
fn a_quiet_file_wakes_up_in_milliseconds() {
    let node = Node::new();
    let f = node.start("ns", "p", "u", "c", 0, &cid(1));
    let mut run = Run::start(config(node.root())); // rescan every 60 s: only inotify can help
    append(&f, cri("stdout", "F", "first").as_bytes());
    run.wait_for(1);
    std::thread::sleep(Duration::from_millis(1500));
    append(&f, cri("stdout", "F", "second").as_bytes());
    run.expect(&["first".into(), "second".into()]);
}

#[test]
fn new_pods_and_containers_while_running() {
    let node = Node::new();
    let mut run = Run::start(config(node.root()));
    let mut want = Vec::new();
    for i in 0..5 {
        let f = node.start("ns", &format!("p{i}"), "u", "c", 0, &cid(i));
        let m = msgs(&format!("p{i}"), 20);
        append(&f, cri_lines(&m).as_bytes());
        want.extend(m);
    }
    run.expect(&want);
}

#[test]
fn rotation_with_late_writes() {
    let node = Node::new();
    let f = node.start("ns", "p", "u", "c", 0, &cid(1));
    let mut run = Run::start(config(node.root()));
    let a = msgs("a", 50);
    append(&f, cri_lines(&a).as_bytes());
    run.wait_for(10);
    let rotated = f.with_file_name("0.log.20261125-194207");
    fs::rename(&f, &rotated).unwrap();
    // The runtime has not reopened yet: lines land in the renamed file.
    let late = msgs("late", 30);
    append(&rotated, cri_lines(&late).as_bytes());
    let b = msgs("b", 40);
    append(&f, cri_lines(&b).as_bytes());
    std::thread::sleep(Duration::from_millis(200));
    let late2 = msgs("later", 5);
    append(&rotated, cri_lines(&late2).as_bytes());
    run.expect(&[a, late, b, late2].concat());
}

/// Two rotations, and the gzip-and-unlink of the first rotated file, all while
/// the collector is held back by its consumer.
#[test]
fn double_rotation_and_gzip_unlink_before_catching_up() {
    let node = Node::new();
    let f = node.start("ns", "p", "u", "c", 0, &cid(1));
    let mut cfg = config(node.root());
    cfg.max_batch = 10;
    let mut run = Run::start_at(cfg, Default::default(), 1);
    let a = msgs("a", 500);
    append(&f, cri_lines(&a).as_bytes());
    // Let the collector open A and block on the full channel.
    run.wait_for(1);
    std::thread::sleep(Duration::from_millis(200));
    let t1 = f.with_file_name("0.log.20261125-100000");
    fs::rename(&f, &t1).unwrap();
    let b = msgs("b", 300);
    append(&f, cri_lines(&b).as_bytes());
    // Next rotation: gzip t1 (the kubelet writes .tmp, renames to .gz, unlinks).
    let gz_tmp = t1.with_file_name("0.log.20261125-100000.tmp");
    fs::copy(&t1, &gz_tmp).unwrap();
    fs::rename(&gz_tmp, t1.with_file_name("0.log.20261125-100000.gz")).unwrap();
    fs::remove_file(&t1).unwrap();
    let t2 = f.with_file_name("0.log.20261125-100010");
    fs::rename(&f, &t2).unwrap();
    let c = msgs("c", 200);
    append(&f, cri_lines(&c).as_bytes());
    run.expect(&[a, b, c].concat());
    assert!(run.handle.as_ref().unwrap().followed().len() <= 2);
}

#[test]
fn container_restart_gets_new_file_and_id() {
    let node = Node::new();
    let f0 = node.start("ns", "p", "u", "c", 0, &cid(1));
    let mut run = Run::start(config(node.root()));
    append(&f0, cri_lines(&msgs("run0", 10)).as_bytes());
    run.wait_for(10);
    let f1 = node.start("ns", "p", "u", "c", 1, &cid(2));
    append(&f1, cri_lines(&msgs("run1", 10)).as_bytes());
    run.expect(&[msgs("run0", 10), msgs("run1", 10)].concat());
    let e = run.got.iter().find(|e| e.message == "run1 line 3").unwrap();
    assert_eq!(e.source.restart, 1);
    assert_eq!(e.source.container_id, cid(2));
    let e = run.got.iter().find(|e| e.message == "run0 line 3").unwrap();
    assert_eq!(e.source.restart, 0);
    assert_eq!(e.source.container_id, cid(1));
}

#[test]
fn pod_deleted_with_unread_bytes() {
    let node = Node::new();
    let f = node.start("ns", "p", "u", "c", 0, &cid(1));
    let mut cfg = config(node.root());
    cfg.max_batch = 10;
    let mut run = Run::start_at(cfg, Default::default(), 1);
    let m = msgs("doomed", 400);
    append(&f, cri_lines(&m).as_bytes());
    run.wait_for(1);
    std::thread::sleep(Duration::from_millis(100));
    fs::remove_dir_all(node.root().join("pods").join("ns_p_u")).unwrap();
    run.expect(&m);
    // The fd and the watch are released.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !run.handle.as_ref().unwrap().followed().is_empty() {
        assert!(std::time::Instant::now() < deadline, "file still followed");
        run.settle(Duration::from_millis(50));
    }
}

#[test]
fn pod_recreated_with_same_name_and_other_uid() {
    let node = Node::new();
    let f = node.start("ns", "web", "uid-a", "c", 0, &cid(1));
    let mut run = Run::start(config(node.root()));
    append(&f, cri_lines(&msgs("old", 5)).as_bytes());
    run.wait_for(5);
    fs::remove_dir_all(node.root().join("pods").join("ns_web_uid-a")).unwrap();
    let g = node.start("ns", "web", "uid-b", "c", 0, &cid(2));
    append(&g, cri_lines(&msgs("new", 5)).as_bytes());
    run.expect(&[msgs("old", 5), msgs("new", 5)].concat());
    let e = run.got.iter().find(|e| e.message == "new line 0").unwrap();
    assert_eq!(e.source.pod_uid, "uid-b");
}

#[test]
fn partial_lines_interleaved_across_streams_and_dangling_partial() {
    let node = Node::new();
    let f = node.start("ns", "p", "u", "c", 0, &cid(1));
    let mut run = Run::start(config(node.root()));
    let mut s = String::new();
    s += &cri("stdout", "P", "out-1 ");
    s += &cri("stderr", "P", "err-1 ");
    s += &cri("stdout", "F", "whole");
    s += &cri("stdout", "P", "out-2a ");
    s += &cri("stderr", "F", "end");
    s += &cri("stdout", "P", "out-2b ");
    s += &cri("stdout", "F:x", "end");
    // A container that died mid-line: the P is flushed after the timeout.
    s += &cri("stderr", "P", "dangling");
    append(&f, s.as_bytes());
    run.expect(&[
        "out-1 whole".into(),
        "err-1 end".into(),
        "out-2a out-2b end".into(),
        "dangling".into(),
    ]);
    let e = run.got.iter().find(|e| e.message == "err-1 end").unwrap();
    assert_eq!(e.stream, Stream::Stderr);
}

#[test]
fn containerd_16k_splits_are_joined() {
    let node = Node::new();
    let f = node.start("ns", "p", "u", "c", 0, &cid(1));
    let mut run = Run::start(config(node.root()));
    // 40 KiB of multi-byte text, split at 16384 bytes (inside characters).
    let long: String = "ünïcødé-".repeat(40 * 1024 / 12);
    let bytes = long.as_bytes();
    let mut s: Vec<u8> = Vec::new();
    for (i, chunk) in bytes.chunks(16384).enumerate() {
        let last = (i + 1) * 16384 >= bytes.len();
        s.extend_from_slice(format!("{TS} stdout {} ", if last { "F" } else { "P" }).as_bytes());
        s.extend_from_slice(chunk);
        s.push(b'\n');
        if i == 0 {
            s.extend_from_slice(cri("stderr", "F", "between").as_bytes());
        }
    }
    append(&f, &s);
    run.expect(&[long, "between".into()]);
}

#[test]
fn bad_lines_are_kept_raw_and_counted() {
    let node = Node::new();
    let f = node.start("ns", "p", "u", "c", 0, &cid(1));
    let mut run = Run::start(config(node.root()));
    let mut s = cri("stdout", "F", "good");
    s += "this is not cri\n";
    s += "2026-11-25T19:42:07Z stdin F wrong stream\n";
    s += &cri("stdout", "F", "crlf\r");
    s += &cri("stdout", "F", "");
    s += &cri("stdout", "F", "nul\0byte");
    append(&f, s.as_bytes());
    append(&f, b"2026-11-25T19:42:07Z stdout F bad \xff\xfe utf8\n");
    run.expect(&[
        "good".into(),
        "this is not cri".into(),
        "2026-11-25T19:42:07Z stdin F wrong stream".into(),
        "crlf".into(),
        "".into(),
        "nul\0byte".into(),
        "bad \u{fffd}\u{fffd} utf8".into(),
    ]);
    assert_eq!(run.handle.as_ref().unwrap().stats().bad_lines, 2);
}

#[test]
fn overlong_lines_are_truncated_and_the_file_keeps_flowing() {
    let node = Node::new();
    let f = node.start("ns", "p", "u", "c", 0, &cid(1));
    let mut cfg = config(node.root());
    cfg.max_line_bytes = 1000;
    let mut run = Run::start(cfg);
    let huge = "x".repeat(600_000); // CRI-O: no 16 KiB cap
    let mut s = cri("stdout", "F", &huge);
    s += &cri("stdout", "F", "after");
    // A joined line over the limit, too.
    s += &cri("stdout", "P", &"y".repeat(800));
    s += &cri("stdout", "F", &"y".repeat(800));
    s += &cri("stdout", "F", "after2");
    append(&f, s.as_bytes());
    run.expect(&[
        format!("{}{TRUNCATED_MARKER}", "x".repeat(1000)),
        "after".into(),
        format!("{}{TRUNCATED_MARKER}", "y".repeat(1000)),
        "after2".into(),
    ]);
    assert_eq!(run.handle.as_ref().unwrap().stats().truncated_lines, 2);
}

#[test]
fn docker_json_16k_splits_are_joined() {
    let node = Node::new();
    let f = node.start("ns", "p", "u", "c", 0, &cid(1));
    let mut run = Run::start(config(node.root()));
    let long = "d".repeat(40_000);
    let mut s = String::new();
    let chunks: Vec<&str> = (0..long.len())
        .step_by(16384)
        .map(|i| &long[i..(i + 16384).min(long.len())])
        .collect();
    for (i, c) in chunks.iter().enumerate() {
        let log = if i + 1 == chunks.len() {
            format!("{c}\n")
        } else {
            c.to_string()
        };
        let rec =
            serde_json::json!({"log": log, "stream": "stdout", "time": "2026-11-25T19:42:07.1Z"});
        s += &format!("{rec}\n");
        if i == 0 {
            s += "{\"log\":\"err \\\"quoted\\\"\\n\",\"stream\":\"stderr\",\"time\":\"2026-11-25T19:42:07Z\"}\n";
        }
    }
    s += "not json at all\n";
    append(&f, s.as_bytes());
    run.expect(&[long, "err \"quoted\"".into(), "not json at all".into()]);
    let e = run
        .got
        .iter()
        .find(|e| e.message.starts_with("err"))
        .unwrap();
    assert_eq!(e.stream, Stream::Stderr);
}

#[test]
fn hundreds_of_files() {
    let node = Node::new();
    let mut want = Vec::new();
    for i in 0..150 {
        let f = node.start("ns", &format!("pre{i}"), "u", "c", 0, &cid(i));
        let m = msgs(&format!("pre{i}"), 10);
        append(&f, cri_lines(&m).as_bytes());
        want.extend(m);
    }
    let mut run = Run::start(config(node.root()));
    for i in 0..150 {
        let f = node.start("ns", &format!("live{i}"), "u", "c", 0, &cid(1000 + i));
        let m = msgs(&format!("live{i}"), 10);
        append(&f, cri_lines(&m).as_bytes());
        want.extend(m);
    }
    run.expect(&want);
}

/// Overflow the inotify queue while the collector is held back; files created
/// during the overflow are found only by the overflow's full rescan (the
/// periodic rescan is a minute away).
#[test]
fn queue_overflow_triggers_a_full_rescan() {
    let max_queued: usize = fs::read_to_string("/proc/sys/fs/inotify/max_queued_events")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(16384);
    if max_queued > 200_000 {
        eprintln!("max_queued_events too large to overflow quickly; skipping");
        return;
    }
    let node = Node::new();
    let fa = node.start("ns", "a", "u", "c", 0, &cid(1));
    let fb = node.start("ns", "b", "u", "c", 0, &cid(2));
    let mut cfg = config(node.root());
    cfg.max_batch = 1;
    let mut run = Run::start_at(cfg, Default::default(), 1);
    append(&fa, cri("stdout", "F", "first").as_bytes());
    run.wait_for(1);
    append(&fa, cri_lines(&msgs("hold", 5)).as_bytes());
    std::thread::sleep(Duration::from_millis(200));
    // Alternate files so the kernel cannot merge identical events.
    let mut want = vec!["first".to_string()];
    want.extend(msgs("hold", 5));
    let mut wa = fs::OpenOptions::new().append(true).open(&fa).unwrap();
    let mut wb = fs::OpenOptions::new().append(true).open(&fb).unwrap();
    use std::io::Write;
    for i in 0..(max_queued / 2 + 1000) {
        let m = format!("spam {i}");
        let w = if i % 2 == 0 { &mut wa } else { &mut wb };
        w.write_all(cri("stdout", "F", &m).as_bytes()).unwrap();
        want.push(m);
    }
    let late = node.start("ns", "late", "u", "c", 0, &cid(3));
    append(&late, cri_lines(&msgs("late", 3)).as_bytes());
    want.extend(msgs("late", 3));
    run.expect(&want);
}

/// 8,192 lines of 1 MiB made one 8 GiB batch: batches are bounded in bytes too, and
/// every line still arrives, once.
#[test]
fn batches_of_big_lines_stay_under_the_byte_bound() {
    const BOUND: usize = 1 << 20;
    let node = Node::new();
    let f = node.start("ns", "big", "u", "c", 0, &cid(1));
    let want: Vec<String> = (0..40)
        .map(|i| format!("{i:03} {}", "z".repeat(200 << 10)))
        .collect();
    append(&f, cri_lines(&want).as_bytes());
    let mut cfg = config(node.root());
    cfg.max_batch_bytes = BOUND;
    cfg.read_threads = 1;
    let run = Run::start_at(cfg, Default::default(), 64);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut got = Vec::new();
    while got.len() < want.len() {
        assert!(std::time::Instant::now() < deadline, "{} lines", got.len());
        let Ok(b) = run.rx.recv_timeout(Duration::from_millis(100)) else {
            continue;
        };
        let bytes: usize = b
            .entries
            .iter()
            .map(lookout_daemon::footprint::entry_bytes)
            .sum();
        // At most one line past the bound: the reader checks after each line.
        assert!(
            bytes < BOUND + (201 << 10) + 1024,
            "a batch of {} entries, {bytes} bytes",
            b.entries.len()
        );
        got.extend(b.entries);
    }
    assert_messages(&got, &want);
}
