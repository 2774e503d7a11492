//! Test harness: a kubelet-shaped log tree in a temp dir, the daemon, and tmux.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// `/var/log/pods/<ns>_<pod>_<uid>/<container>/0.log` under a temp dir, CRI lines.
pub struct LogTree {
    pub dir: tempfile::TempDir,
}

impl LogTree {
    pub fn new() -> LogTree {
        LogTree {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn file(&self, ns: &str, pod: &str, container: &str) -> PathBuf {
        self.root()
            .join("pods")
            .join(format!("{ns}_{pod}_uid-{pod}"))
            .join(container)
            .join("0.log")
    }

    /// Appends CRI lines stamped now.
    pub fn write(&self, ns: &str, pod: &str, container: &str, lines: &[&str]) {
        let path = self.file(ns, pod, container);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        for l in lines {
            let ts = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
            writeln!(f, "{ts} stdout F {l}").unwrap();
        }
        f.flush().unwrap();
    }
}

/// The daemon, running in this process on a loopback port.
pub struct Daemon {
    url: String,
    inner: Option<lookout_daemon::app::Lookoutd>,
    _data: tempfile::TempDir,
}

impl Daemon {
    /// Starts the whole lookoutd (pipeline, alerting, server) on `tree`, listening on
    /// 127.0.0.1 with an OS-chosen port.
    pub fn start(tree: &LogTree) -> Result<Daemon, String> {
        use clap::Parser;
        let data = tempfile::tempdir().map_err(|e| e.to_string())?;
        let config = lookout_daemon::config::Config::try_parse_from([
            "lookoutd",
            "--log-dir",
            tree.root().to_str().ok_or("log dir not UTF-8")?,
            "--data-dir",
            data.path().to_str().ok_or("data dir not UTF-8")?,
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
            "--commit-interval",
            "200ms",
            "--node",
            "e2e-node",
        ])
        .map_err(|e| e.to_string())?;
        let inner = lookout_daemon::app::Lookoutd::start(config).map_err(|e| format!("{e:#}"))?;
        let addr = inner.addr().ok_or("no listen address")?;
        Ok(Daemon {
            url: format!("ws://{addr}"),
            inner: Some(inner),
            _data: data,
        })
    }

    pub fn url(&self) -> String {
        self.url.clone()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(d) = self.inner.take() {
            d.shutdown();
        }
    }
}

/// A private tmux server (its own socket), killed on drop.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    pub fn available() -> Option<Tmux> {
        let ok = Command::new("tmux")
            .arg("-V")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        ok.then(|| Tmux {
            socket: format!("lookout-e2e-{}-{}", std::process::id(), rand_suffix()),
        })
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.arg("-L").arg(&self.socket).arg("-f").arg("/dev/null");
        c
    }

    /// The server keeps what programs copy with OSC 52 as a paste buffer
    /// (`set -s set-clipboard on`, as a user of tmux sets it to copy over ssh).
    pub fn set_clipboard_on(&self) {
        let out = self
            .cmd()
            .args(["set-option", "-s", "set-clipboard", "on"])
            .output()
            .expect("tmux set-option");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The newest paste buffer, or `None` when there is none.
    pub fn buffer(&self) -> Option<String> {
        let out = self.cmd().arg("show-buffer").output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Runs `argv` in a new detached session of `w`×`h` with `env` set.
    pub fn open(&self, w: u16, h: u16, env: &[(&str, &str)], argv: &[&str]) -> Pane<'_> {
        // One pane at a time: a finished run's session (kept by remain-on-exit) goes.
        let _ = self.cmd().args(["kill-session", "-t", "t"]).output();
        let mut c = self.cmd();
        c.args(["new-session", "-d", "-s", "t", "-x"])
            .arg(w.to_string())
            .arg("-y")
            .arg(h.to_string());
        for (k, v) in env {
            c.arg("-e").arg(format!("{k}={v}"));
        }
        c.args(argv);
        let out = c.output().expect("tmux new-session");
        assert!(
            out.status.success(),
            "tmux new-session: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let _ = self
            .cmd()
            .args(["set-option", "-t", "t", "remain-on-exit", "on"])
            .output();
        Pane { tmux: self }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").output();
    }
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0)
}

pub struct Pane<'a> {
    tmux: &'a Tmux,
}

impl Pane<'_> {
    pub fn capture(&self) -> String {
        let out = self
            .tmux
            .cmd()
            .args(["capture-pane", "-p", "-t", "t"])
            .output()
            .expect("capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Sends tmux key names (`Enter`, `Escape`, `C-s`, `Tab`, or literal keys).
    pub fn keys(&self, keys: &[&str]) {
        for k in keys {
            let out = self
                .tmux
                .cmd()
                .args(["send-keys", "-t", "t", k])
                .output()
                .expect("send-keys");
            assert!(out.status.success());
            // Let the app read it as its own key (Escape must not merge with the next).
            std::thread::sleep(Duration::from_millis(60));
        }
    }

    pub fn type_text(&self, text: &str) {
        let out = self
            .tmux
            .cmd()
            .args(["send-keys", "-t", "t", "-l", text])
            .output()
            .expect("send-keys");
        assert!(out.status.success());
    }

    /// Polls the screen until it contains `needle`; panics with the screen after `deadline`.
    pub fn wait_for(&self, needle: &str, deadline: Duration) -> String {
        let start = Instant::now();
        loop {
            let s = self.capture();
            if s.contains(needle) {
                return s;
            }
            if start.elapsed() > deadline {
                panic!("{needle:?} did not appear within {deadline:?}; screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits for the program in the pane to exit.
    pub fn wait_exited(&self, deadline: Duration) {
        let start = Instant::now();
        loop {
            let out = self
                .tmux
                .cmd()
                .args(["display-message", "-p", "-t", "t", "#{pane_dead}"])
                .output()
                .expect("display-message");
            if String::from_utf8_lossy(&out.stdout).trim() == "1" {
                return;
            }
            if start.elapsed() > deadline {
                panic!("lookout did not exit; screen:\n{}", self.capture());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
