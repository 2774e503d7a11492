//! Only regular files under the log root are read: one test per escape route a
//! writer of the log root could take, each with a secret outside the root that
//! must never come out, and the legitimate `containers/` links still working.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::Duration;

use crate::support::collect::*;

const SECRET: &str = "root:$6$SECRET-HASH-never-collected";

/// A temp dir holding the log root `logs/` and, beside it, `outside/secret`.
struct Scene {
    tmp: tempfile::TempDir,
}

impl Scene {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join("logs")).unwrap();
        fs::create_dir_all(tmp.path().join("outside/app")).unwrap();
        fs::write(tmp.path().join("outside/secret"), format!("{SECRET}\n")).unwrap();
        fs::write(
            tmp.path().join("outside/app/0.log"),
            cri("stdout", "F", SECRET),
        )
        .unwrap();
        Scene { tmp }
    }
    fn logs(&self) -> std::path::PathBuf {
        self.tmp.path().join("logs")
    }
    fn outside(&self) -> std::path::PathBuf {
        self.tmp.path().join("outside")
    }
}

/// Collects until `want` arrived, then checks nothing else (and no secret) did
/// and that at least `refused` paths were refused.
fn expect_only(run: &mut Run, want: &[String], refused: u64) {
    run.expect(want);
    for e in &run.got {
        assert!(!e.message.contains("SECRET"), "leaked: {:?}", e.message);
    }
    let stats = run.handle.as_ref().unwrap().stats();
    assert!(
        stats.refused >= refused,
        "{} refused, want {refused}",
        stats.refused
    );
}

#[test]
fn a_file_link_out_of_the_root_is_not_read() {
    let s = Scene::new();
    symlink(s.outside().join("secret"), s.logs().join("shadow.log")).unwrap();
    symlink("/proc/self/environ", s.logs().join("env.log")).unwrap();
    append(&s.logs().join("app.log"), b"visible\n");
    let mut run = Run::start(config(&s.logs()));
    expect_only(&mut run, &["visible".into()], 2);
    // Refused once per path, however many scans see it again.
    let before = run.handle.as_ref().unwrap().stats().refused;
    append(&s.logs().join("app.log"), b"again\n");
    run.expect(&["visible".into(), "again".into()]);
    assert_eq!(run.handle.as_ref().unwrap().stats().refused, before);
}

#[test]
fn a_link_with_dotdot_out_of_the_root_is_not_read() {
    let s = Scene::new();
    fs::create_dir_all(s.logs().join("sub")).unwrap();
    symlink("sub/../../outside/secret", s.logs().join("dots.log")).unwrap();
    append(&s.logs().join("app.log"), b"visible\n");
    let mut run = Run::start(config(&s.logs()));
    expect_only(&mut run, &["visible".into()], 1);
}

#[test]
fn a_kubelet_file_link_out_of_pods_is_not_read() {
    let node = Node::new();
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("shadow"), format!("{SECRET}\n")).unwrap();
    let evil = node.container_dir("ns", "evil", "u2", "app");
    fs::create_dir_all(&evil).unwrap();
    symlink(outside.path().join("shadow"), evil.join("0.log")).unwrap();
    // A link to another pod's file, inside the root: it would borrow that pod's
    // lines under the name `evil`.
    let f = node.start("ns", "victim", "u1", "app", 0, &cid(1));
    append(&f, cri("stdout", "F", "victim line").as_bytes());
    symlink(&f, evil.join("1.log")).unwrap();
    let mut run = Run::start(config(node.root()));
    expect_only(&mut run, &["victim line".into()], 2);
    assert!(run.got.iter().all(|e| e.source.pod == "victim"));
}

#[test]
fn a_directory_link_out_of_the_root_is_not_followed() {
    let s = Scene::new();
    let logs = s.logs();
    fs::create_dir_all(logs.join("pods/ns_ok_u1/app")).unwrap();
    fs::create_dir_all(logs.join("containers")).unwrap();
    append(
        &logs.join("pods/ns_ok_u1/app/0.log"),
        cri("stdout", "F", "ok line").as_bytes(),
    );
    // A pod directory and a container directory that are links out of the root.
    symlink(s.outside(), logs.join("pods/ns_evil_u2")).unwrap();
    symlink(s.outside().join("app"), logs.join("pods/ns_ok_u1/sidecar")).unwrap();
    let mut run = Run::start(config(&logs));
    expect_only(&mut run, &["ok line".into()], 2);
}

#[test]
fn a_containers_link_pointing_outside_pods_is_refused() {
    let node = Node::new();
    let outside = tempfile::tempdir().unwrap();
    let fake = outside.path().join("pods/ns_evil_u2/app");
    fs::create_dir_all(&fake).unwrap();
    fs::write(fake.join("0.log"), cri("stdout", "F", SECRET)).unwrap();
    let links = node.root().join("containers");
    // Out of the root (its last components look like a pods/ file), and
    // `..` out of it: neither is read, neither lends an id.
    symlink(
        fake.join("0.log"),
        links.join(format!("evil_ns_app-{}.log", cid(7))),
    )
    .unwrap();
    symlink(
        "../../../etc/shadow",
        links.join(format!("evil2_ns_app-{}.log", cid(8))),
    )
    .unwrap();
    // A link whose name says another pod than its target: no id lent either.
    let f = node.start("ns", "victim", "u1", "app", 0, &cid(1));
    let wrong = node.start("ns", "other", "u3", "app", 0, &cid(2));
    fs::remove_file(links.join(format!("other_ns_app-{}.log", cid(2)))).unwrap();
    symlink(&wrong, links.join(format!("victim_ns_app-{}.log", cid(9)))).unwrap();
    append(&f, cri("stdout", "F", "victim line").as_bytes());
    append(&wrong, cri("stdout", "F", "other line").as_bytes());
    let mut run = Run::start(config(node.root()));
    expect_only(&mut run, &["victim line".into(), "other line".into()], 3);
    let other = run.got.iter().find(|e| e.source.pod == "other").unwrap();
    assert_eq!(
        other.source.container_id, "",
        "an id lent by a mismatched link"
    );
    let victim = run.got.iter().find(|e| e.source.pod == "victim").unwrap();
    assert_eq!(victim.source.container_id, cid(1));
}

#[test]
fn a_legit_relative_containers_link_still_gives_the_id() {
    let node = Node::new();
    let dir = node.container_dir("shop", "cart", "u1", "app");
    fs::create_dir_all(&dir).unwrap();
    let f = dir.join("0.log");
    append(&f, cri("stdout", "F", "hello").as_bytes());
    symlink(
        "../pods/shop_cart_u1/app/0.log",
        node.root()
            .join("containers")
            .join(format!("cart_shop_app-{}.log", cid(4))),
    )
    .unwrap();
    let mut run = Run::start(config(node.root()));
    run.expect(&["hello".into()]);
    assert_eq!(run.got[0].source.container_id, cid(4));
    assert_eq!(run.handle.as_ref().unwrap().stats().refused, 0);
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
}

/// A FIFO (no writer: opening it for reading would block forever) and a socket
/// are refused, and the regular files around them keep flowing.
#[test]
fn a_fifo_or_socket_never_blocks_and_is_refused() {
    let s = Scene::new();
    mkfifo(&s.logs().join("pipe.log"));
    let _sock = std::os::unix::net::UnixListener::bind(s.logs().join("sock.log")).unwrap();
    append(&s.logs().join("app.log"), b"first\n");
    let mut run = Run::start(config(&s.logs()));
    expect_only(&mut run, &["first".into()], 2);
    // Created while running: found by the directory's event, refused, and the
    // collector is not stuck on it.
    mkfifo(&s.logs().join("late.log"));
    std::thread::sleep(Duration::from_millis(100));
    append(&s.logs().join("app.log"), b"second\n");
    expect_only(&mut run, &["first".into(), "second".into()], 3);
}

/// GETs `path` on `addr`; `None` while nothing listens yet.
fn http_get(addr: std::net::SocketAddr, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    Some(text)
}

/// An unreadable log file (`EACCES`) was skipped without a word. Now it is
/// warned about once and counted in `lookout_collect_unreadable_total`, and the
/// other files flow. The real daemon: as root a mode-000 file is still readable
/// (`CAP_DAC_OVERRIDE`), so there it runs as `nobody` and the file is root's, 0600.
#[test]
fn an_unreadable_file_is_warned_about_and_counted() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let tmp = tempfile::tempdir().unwrap();
    let (logs, data) = (tmp.path().join("logs"), tmp.path().join("data"));
    fs::create_dir_all(&logs).unwrap();
    fs::create_dir_all(&data).unwrap();
    append(&logs.join("locked.log"), b"hidden line\n");
    append(&logs.join("app.log"), b"open line\n");
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let mode = |p: &Path, m: u32| fs::set_permissions(p, fs::Permissions::from_mode(m)).unwrap();
    if root {
        mode(tmp.path(), 0o755);
        mode(&logs, 0o755);
        mode(&logs.join("app.log"), 0o644);
        mode(&logs.join("locked.log"), 0o600);
        std::os::unix::fs::chown(&data, Some(65534), Some(65534)).unwrap();
    } else {
        mode(&logs.join("locked.log"), 0o000);
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_lookoutd"));
    cmd.arg(format!("--log-dir={}", logs.display()))
        .arg(format!("--data-dir={}", data.display()))
        .args(["--listen=127.0.0.1:0", "--node=node-1"])
        .arg(format!("--metrics-listen={port}"))
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    if root {
        cmd.uid(65534).gid(65534);
    }
    let mut child = cmd.spawn().unwrap();
    crate::support::wait_for("the unreadable count", Duration::from_secs(30), || {
        let t = http_get(port, "/metrics")?;
        t.lines()
            .any(|l| l == "lookout_collect_unreadable_total 1")
            .then_some(())
    });
    let _ = child.kill();
    let _ = child.wait();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    let warnings: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("locked.log") && l.contains("cannot read"))
        .collect();
    assert_eq!(warnings.len(), 1, "one warning naming the file:\n{err}");
}
