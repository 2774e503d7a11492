//! Helpers for the collector tests: a node's log tree in a temp dir, CRI line
//! builders, and a harness that runs the real collector on real inotify.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use lookout_daemon::collect::{Batch, Collector, CollectorConfig, CollectorHandle, Positions};
use lookout_shared::LogEntry;

pub const TS: &str = "2026-11-25T19:42:07.118Z";

pub fn cid(n: u32) -> String {
    format!("{:064x}", 0xabc0_0000u64 + u64::from(n))
}

/// A kubelet log tree: `pods/` and `containers/`.
pub struct Node {
    pub dir: tempfile::TempDir,
}

impl Node {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("pods")).unwrap();
        fs::create_dir_all(dir.path().join("containers")).unwrap();
        Node { dir }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn container_dir(&self, ns: &str, pod: &str, uid: &str, container: &str) -> PathBuf {
        self.root()
            .join("pods")
            .join(format!("{ns}_{pod}_{uid}"))
            .join(container)
    }

    /// Creates `pods/<ns>_<pod>_<uid>/<container>/<restart>.log` and its symlink.
    pub fn start(
        &self,
        ns: &str,
        pod: &str,
        uid: &str,
        container: &str,
        restart: u32,
        id: &str,
    ) -> PathBuf {
        let dir = self.container_dir(ns, pod, uid, container);
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join(format!("{restart}.log"));
        let link = self
            .root()
            .join("containers")
            .join(format!("{pod}_{ns}_{container}-{id}.log"));
        let _ = std::os::unix::fs::symlink(&file, link);
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&file)
            .unwrap();
        file
    }
}

pub fn append(path: &Path, bytes: &[u8]) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(bytes).unwrap();
}

pub fn cri(stream: &str, tag: &str, text: &str) -> String {
    format!("{TS} {stream} {tag} {text}\n")
}

/// CRI lines `F` on stdout for each message.
pub fn cri_lines(msgs: &[String]) -> String {
    msgs.iter().map(|m| cri("stdout", "F", m)).collect()
}

pub fn msgs(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix} line {i}")).collect()
}

/// The real collector on a channel, collecting what it sends.
pub struct Run {
    pub handle: Option<CollectorHandle>,
    pub rx: Receiver<Batch>,
    pub got: Vec<LogEntry>,
    pub positions: Positions,
}

pub fn config(root: &Path) -> CollectorConfig {
    CollectorConfig {
        partial_timeout: Duration::from_millis(300),
        rescan_interval: Duration::from_secs(60),
        max_batch: 500,
        ..CollectorConfig::new(root, "node-1")
    }
}

impl Run {
    pub fn start(cfg: CollectorConfig) -> Self {
        Self::start_at(cfg, Positions::default(), 16)
    }

    pub fn start_at(cfg: CollectorConfig, positions: Positions, cap: usize) -> Self {
        let (tx, rx) = crossbeam_channel::bounded(cap);
        let handle = Collector::spawn(cfg, positions.clone(), tx).unwrap();
        Run {
            handle: Some(handle),
            rx,
            got: Vec::new(),
            positions,
        }
    }

    fn take(&mut self, b: Batch) {
        self.positions.apply(&b.positions);
        self.got.extend(b.entries);
    }

    /// Receives until `n` entries arrived (panics after 60 s: a guard against a hang,
    /// generous because a loaded 2-core machine runs one-entry batches slowly).
    pub fn wait_for(&mut self, n: usize) -> &[LogEntry] {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.got.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out with {} of {} entries: {:?}",
                self.got.len(),
                n,
                self.got.iter().map(|e| &e.message).collect::<Vec<_>>()
            );
            if let Ok(b) = self.rx.recv_timeout(left.min(Duration::from_millis(100))) {
                self.take(b);
            }
        }
        &self.got
    }

    /// Keeps receiving for `d` (to catch duplicates or late extras).
    pub fn settle(&mut self, d: Duration) {
        let deadline = Instant::now() + d;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            if let Ok(b) = self.rx.recv_timeout(left) {
                self.take(b);
            }
        }
    }

    /// Waits for `n` entries, settles, and asserts the exact multiset of messages.
    pub fn expect(&mut self, want: &[String]) {
        self.wait_for(want.len());
        self.settle(Duration::from_millis(400));
        assert_messages(&self.got, want);
    }
}

pub fn assert_messages(got: &[LogEntry], want: &[String]) {
    let mut g: Vec<&str> = got.iter().map(|e| e.message.as_str()).collect();
    let mut w: Vec<&str> = want.iter().map(String::as_str).collect();
    g.sort_unstable();
    w.sort_unstable();
    if g != w {
        let missing: Vec<_> = w.iter().filter(|m| !g.contains(m)).take(10).collect();
        let extra: Vec<_> = g.iter().filter(|m| !w.contains(m)).take(10).collect();
        panic!(
            "got {} entries, want {}; missing (first 10): {:?}; unexpected (first 10): {:?}",
            g.len(),
            w.len(),
            missing,
            extra
        );
    }
}
