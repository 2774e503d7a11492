//! Scale and memory of a real `lookoutd` process on a simulated kubelet log tree.
//!
//! The bench starts the release `lookoutd` binary (`CARGO_BIN_EXE_lookoutd`) on temp
//! dirs, writes the tree with [`lookout_daemon::sim`], and watches the daemon from
//! outside: `/proc/<pid>/status` (VmRSS, VmHWM), `/proc/<pid>/fdinfo` (inotify
//! watches it holds), its `/metrics` (lines collected, entries indexed, files
//! followed), its stderr (fallback-to-polling warnings) and two websocket clients
//! (a live tail and a search) that time probe lines written at known instants.
//!
//! Memory: RSS idle on an empty dir, idle with `IDLE_FILES` files, and under `RATE`
//! lines/s over `LOAD_PODS` pods for `SECS` s; index bytes on disk per raw byte.
//! Scale: `FILES` files with `RATE` lines/s spread over all of them: startup
//! (discover, follow, index the history), watches needed vs the machine's limits,
//! completeness, catch-up, and write→visible latency (live tail and search) of
//! `PROBES` probe lines. `--fallback N` adds a run with `LOOKOUT_MAX_WATCHES=N` so
//! most directories are polled instead of watched.
//!
//! ```text
//! cargo bench -p lookout-daemon --bench scale -- [--only memory|scale] [--files 5000]
//!     [--rate 10000] [--secs 20] [--runs 3] [--probes 20] [--idle-files 1000]
//!     [--load-pods 100] [--fallback 1000]
//! ```
//! Every flag also reads the upper-case environment variable (`FILES=500 RATE=2000`).
//! Each figure is the median of `RUNS` runs. Without `--bench` (as `cargo test
//! --all-targets` runs it) it does a seconds-long smoke run on the debug build.

// A benchmark whose setup fails should stop at once, loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use lookout_daemon::metrics::ProcessStats;
use lookout_daemon::sim::{self, ContainerSpec, Format, SimConfig, Source, Written};
use lookout_shared::protocol::{ClientMsg, SearchParams, ServerMsg, PROTOCOL_VERSION};
use lookout_shared::Timestamp;
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Clone)]
struct Opts {
    only: String,
    files: usize,
    rate: f64,
    secs: f64,
    runs: usize,
    probes: usize,
    idle_files: usize,
    load_pods: usize,
    fallback: usize,
    /// Seconds to let an idle daemon settle before reading its RSS.
    settle: f64,
}

fn opts() -> Opts {
    let args: Vec<String> = std::env::args().collect();
    let bench = args.iter().any(|a| a == "--bench");
    let get = |flag: &str, env: &str, default: &str| -> String {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1).cloned())
            .or_else(|| std::env::var(env).ok())
            .unwrap_or_else(|| default.to_string())
    };
    let num = |flag: &str, env: &str, default: &str| -> f64 {
        let v = get(flag, env, default);
        v.parse()
            .unwrap_or_else(|_| panic!("{flag}/{env}: not a number: {v}"))
    };
    if !bench {
        // `cargo test --all-targets`: a smoke run of the scale path on a few files.
        return Opts {
            only: "scale".into(),
            files: 10,
            rate: 200.0,
            secs: 1.0,
            runs: 1,
            probes: 2,
            idle_files: 10,
            load_pods: 5,
            fallback: 0,
            settle: 0.2,
        };
    }
    Opts {
        only: get("--only", "ONLY", "all"),
        files: num("--files", "FILES", "5000") as usize,
        rate: num("--rate", "RATE", "10000"),
        secs: num("--secs", "SECS", "20"),
        runs: (num("--runs", "RUNS", "3") as usize).max(1),
        probes: (num("--probes", "PROBES", "20") as usize).max(1),
        idle_files: num("--idle-files", "IDLE_FILES", "1000") as usize,
        load_pods: (num("--load-pods", "LOAD_PODS", "100") as usize).max(1),
        fallback: num("--fallback", "FALLBACK", "0") as usize,
        settle: num("--settle", "SETTLE", "3"),
    }
}

fn main() {
    let o = opts();
    println!(
        "# scale bench: files={} rate={} secs={} runs={} probes={} idle_files={} load_pods={}",
        o.files, o.rate, o.secs, o.runs, o.probes, o.idle_files, o.load_pods
    );
    if o.only == "all" || o.only == "memory" {
        memory(&o);
    }
    if o.only == "all" || o.only == "scale" {
        scale(&o, None);
        if o.fallback > 0 {
            scale(&o, Some(o.fallback));
        }
    }
}

// ---------------------------------------------------------------- the daemon

/// A `lookoutd` child process on its own ports, stderr kept in a file.
struct Daemon {
    child: Child,
    pid: String,
    listen: String,
    metrics: String,
    stderr: PathBuf,
    started: Instant,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Daemon {
    fn spawn(log_dir: &Path, data_dir: &Path, env: &[(&str, String)]) -> Daemon {
        let listen = format!("127.0.0.1:{}", free_port());
        let metrics = format!("127.0.0.1:{}", free_port());
        let stderr = data_dir.with_extension("stderr.log");
        let err_file = std::fs::File::create(&stderr).expect("stderr file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_lookoutd"));
        cmd.arg("--log-dir")
            .arg(log_dir)
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--listen", &listen, "--metrics-listen", &metrics])
            .args(["--node", "bench"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err_file);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let started = Instant::now();
        let child = cmd.spawn().expect("start lookoutd");
        let pid = child.id().to_string();
        Daemon {
            child,
            pid,
            listen,
            metrics,
            stderr,
            started,
        }
    }

    /// Plain HTTP/1.1 GET on the metrics listener; `None` until it answers.
    fn http_get(&self, path: &str) -> Option<(u16, String)> {
        let mut s = TcpStream::connect(&self.metrics).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut body = String::new();
        s.read_to_string(&mut body).ok()?;
        let code = body.split_whitespace().nth(1)?.parse().ok()?;
        Some((code, body))
    }

    /// Every metric summed over its labels.
    fn metrics(&self) -> HashMap<String, f64> {
        let mut m = HashMap::new();
        let Some((_, text)) = self.http_get("/metrics") else {
            return m;
        };
        for line in text.lines() {
            if line.starts_with('#') {
                continue;
            }
            let Some((name, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let name = name.split('{').next().unwrap_or(name).trim();
            if let Ok(v) = value.trim().parse::<f64>() {
                *m.entry(name.to_string()).or_insert(0.0) += v;
            }
        }
        m
    }

    fn metric(&self, name: &str) -> f64 {
        self.metrics().get(name).copied().unwrap_or(0.0)
    }

    fn ready(&self) -> bool {
        matches!(self.http_get("/readyz"), Some((200, _)))
    }

    /// (VmRSS, VmHWM) in MiB.
    fn rss(&self) -> (f64, f64) {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
        let field = |k: &str| -> f64 {
            s.lines()
                .find(|l| l.starts_with(k))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(f64::NAN)
                / 1024.0
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// inotify watches this process holds (lines `inotify wd:` in its fdinfo).
    fn inotify_watches(&self) -> usize {
        let Ok(rd) = std::fs::read_dir(format!("/proc/{}/fdinfo", self.pid)) else {
            return 0;
        };
        rd.flatten()
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .map(|s| s.lines().filter(|l| l.starts_with("inotify wd:")).count())
            .sum()
    }

    /// Directories the collector said it polls instead of watching.
    fn polled_dirs(&self) -> usize {
        std::fs::read_to_string(&self.stderr)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("watch limit reached") || l.contains("inotify limits exhausted"))
            .count()
    }

    fn cpu(&self) -> f64 {
        ProcessStats::read_pid(&self.pid).map_or(f64::NAN, |p| p.cpu_seconds)
    }

    /// SIGTERM (final commit), then wait; SIGKILL after 60 s.
    fn stop(mut self) {
        if let Ok(pid) = self.pid.parse::<i32>() {
            // SAFETY: signalling our own child by its pid.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Polls `f` every 20 ms until it holds; the time it took, or `None` at the deadline.
fn wait_until(deadline: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let t = Instant::now();
    while t.elapsed() < deadline {
        if f() {
            return Some(t.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

// ---------------------------------------------------------------- the tree

fn containers(n: usize) -> Vec<ContainerSpec> {
    let systems: Vec<&'static str> = sim::SAMPLES.iter().map(|(n, _)| *n).collect();
    let namespaces = ["payments", "data", "web", "kube-system", "health", "batch"];
    (0..n)
        .map(|i| ContainerSpec {
            namespace: namespaces[i % namespaces.len()].to_string(),
            pod: format!("load-{i:05}"),
            container: "app".into(),
            format: Format::Cri,
            source: Source::Sample(systems[i % systems.len()]),
            weight: 1.0,
            restart_every: None,
        })
        .collect()
}

fn sim_config(root: &Path, pods: usize, rate: f64) -> SimConfig {
    SimConfig {
        root: root.to_path_buf(),
        containers: containers(pods),
        rate,
        vary: 0.0,
        rotate_bytes: 10 * 1024 * 1024,
        burst_every: None,
        max_lines: None,
        duration: None,
    }
}

/// Writes `lines_each` lines into each of `pods` files over about a second. At that
/// rate every container earns less than a line per tick, so all files get the same
/// count. The sim derives pod uids from the container's position, so a later sim
/// over the same pods appends to these same files.
fn write_history(root: &Path, pods: usize, lines_each: u64) -> Written {
    let mut cfg = sim_config(root, pods, (pods as u64 * lines_each).max(1) as f64);
    cfg.max_lines = Some(pods as u64 * lines_each);
    sim::run(&cfg, &lookout_daemon::shutdown::Shutdown::never()).expect("write history")
}

fn log_files(root: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root.join("pods"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path().join("app").join("0.log"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Bytes of every file under `dir`.
fn du(dir: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => du(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| !x.is_nan());
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn pct(v: &[f64], p: f64) -> f64 {
    let mut v: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// Runs `f` `runs` times and gives each named figure's median.
fn medians(
    runs: usize,
    mut f: impl FnMut(usize) -> Vec<(&'static str, f64)>,
) -> Vec<(&'static str, f64)> {
    let mut all: Vec<Vec<(&'static str, f64)>> = Vec::new();
    for r in 0..runs {
        all.push(f(r));
    }
    let Some(first) = all.first() else {
        return Vec::new();
    };
    first
        .iter()
        .enumerate()
        .map(|(i, (k, _))| {
            (
                *k,
                median(
                    all.iter()
                        .filter_map(|run| run.get(i).map(|x| x.1))
                        .collect(),
                ),
            )
        })
        .collect()
}

// ---------------------------------------------------------------- memory

fn memory(o: &Opts) {
    println!("\n## memory (median of {} runs)\n", o.runs);
    println!("| scenario | VmRSS MiB | VmHWM MiB | files followed | notes |");
    println!("|---|---:|---:|---:|---|");
    let settle = Duration::from_secs_f64(o.settle);

    let r = medians(o.runs, |_| {
        let tmp = tempfile::tempdir().expect("tempdir");
        let logs = tmp.path().join("logs");
        std::fs::create_dir_all(&logs).expect("log dir");
        let d = Daemon::spawn(&logs, &tmp.path().join("data"), &[]);
        let up = wait_until(Duration::from_secs(60), || d.ready());
        std::thread::sleep(settle);
        let (rss, hwm) = d.rss();
        d.stop();
        vec![
            ("rss", rss),
            ("hwm", hwm),
            ("ready_ms", up.map_or(f64::NAN, |t| t.as_secs_f64() * 1e3)),
        ]
    });
    println!(
        "| idle, empty log dir | {:.1} | {:.1} | 0 | ready after {:.0} ms |",
        r[0].1, r[1].1, r[2].1
    );

    let n = o.idle_files;
    let r = medians(o.runs, |_| {
        let tmp = tempfile::tempdir().expect("tempdir");
        let logs = tmp.path().join("logs");
        let w = write_history(&logs, n, 20);
        let d = Daemon::spawn(&logs, &tmp.path().join("data"), &[]);
        let indexed = wait_until(Duration::from_secs(300), || {
            d.metric("lookout_index_docs") >= w.lines as f64
        });
        std::thread::sleep(settle);
        let (rss, hwm) = d.rss();
        let files = d.metric("lookout_files_watched");
        d.stop();
        vec![
            ("rss", rss),
            ("hwm", hwm),
            ("files", files),
            ("indexed_s", indexed.map_or(f64::NAN, |t| t.as_secs_f64())),
        ]
    });
    println!(
        "| idle, {n} files (20 lines each) | {:.1} | {:.1} | {:.0} | history indexed in {:.1} s |",
        r[0].1, r[1].1, r[2].1, r[3].1
    );

    let r = medians(o.runs, |_| {
        let tmp = tempfile::tempdir().expect("tempdir");
        let logs = tmp.path().join("logs");
        let data = tmp.path().join("data");
        std::fs::create_dir_all(&logs).expect("log dir");
        let d = Daemon::spawn(&logs, &data, &[]);
        wait_until(Duration::from_secs(60), || d.ready());
        let mut cfg = sim_config(&logs, o.load_pods, o.rate);
        cfg.duration = Some(Duration::from_secs_f64(o.secs));
        let cpu0 = d.cpu();
        let t0 = Instant::now();
        let handle = sim::spawn(cfg, lookout_daemon::shutdown::Shutdown::never())
            .expect("start the simulator");
        let mut peak: f64 = 0.0;
        while !handle.is_finished() {
            peak = peak.max(d.rss().0);
            std::thread::sleep(Duration::from_millis(200));
        }
        let w = handle.join().expect("sim thread").expect("sim");
        let wrote_s = t0.elapsed().as_secs_f64();
        let cpu = (d.cpu() - cpu0) / wrote_s * 100.0;
        let caught = wait_until(Duration::from_secs(300), || {
            peak = peak.max(d.rss().0);
            d.metric("lookout_index_docs") >= w.lines as f64
        });
        let docs = d.metric("lookout_index_docs");
        let (_, hwm) = d.rss();
        d.stop();
        let disk = du(&data);
        vec![
            ("peak", peak),
            ("hwm", hwm),
            ("lines_s", w.lines as f64 / wrote_s),
            ("cpu", cpu),
            ("catchup_s", caught.map_or(f64::NAN, |t| t.as_secs_f64())),
            ("missing", w.lines as f64 - docs),
            ("ratio", disk as f64 / w.bytes as f64),
            ("raw_mib", w.bytes as f64 / (1 << 20) as f64),
            ("disk_mib", disk as f64 / (1 << 20) as f64),
        ]
    });
    println!(
        "| {:.0} lines/s over {} pods for {} s | {:.1} (peak) | {:.1} | {} | CPU {:.0} %, caught up {:.1} s after the writer, {} lines missing |",
        r[2].1, o.load_pods, o.secs, r[0].1, r[1].1, o.load_pods, r[3].1, r[4].1, r[5].1
    );
    println!(
        "\nIndex on disk after the final commit: {:.1} MiB for {:.1} MiB of raw log files = {:.2} index bytes per raw byte.",
        r[8].1, r[7].1, r[6].1
    );
}

// ---------------------------------------------------------------- scale

/// What the websocket clients saw of each probe: write instant, live, search.
#[derive(Default)]
struct Probes {
    written: HashMap<String, Instant>,
    live_ms: HashMap<String, f64>,
    search_ms: HashMap<String, f64>,
}

async fn connect(
    addr: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .expect("websocket connect");
    let _ = ws.next().await; // hello
    let hello = ClientMsg::Hello {
        protocol: PROTOCOL_VERSION,
        token: None,
        client: "bench-scale".into(),
    };
    ws.send(Message::text(serde_json::to_string(&hello).expect("json")))
        .await
        .expect("send hello");
    let _ = ws.next().await; // welcome
    ws
}

/// Searches for `token` until found; the time since it was written, in ms.
async fn search_until_found(addr: String, token: String, written: Instant) -> f64 {
    let mut ws = connect(&addr).await;
    let mut id = 1;
    while written.elapsed() < Duration::from_secs(60) {
        id += 1;
        let q = ClientMsg::Search {
            id,
            params: SearchParams {
                query: token.clone(),
                limit: 1,
                ..Default::default()
            },
        };
        if ws
            .send(Message::text(serde_json::to_string(&q).expect("json")))
            .await
            .is_err()
        {
            break;
        }
        while let Some(Ok(m)) = ws.next().await {
            if let Message::Text(t) = m {
                match serde_json::from_str::<ServerMsg>(t.as_str()) {
                    Ok(ServerMsg::SearchResult { page, .. }) => {
                        if !page.entries.is_empty() {
                            return written.elapsed().as_secs_f64() * 1e3;
                        }
                        break;
                    }
                    Ok(ServerMsg::Error { .. }) => break,
                    _ => {}
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    f64::NAN
}

fn scale(o: &Opts, max_watches: Option<usize>) {
    let n = o.files;
    let title = match max_watches {
        None => format!("{n} files, inotify"),
        Some(m) => format!("{n} files, LOOKOUT_MAX_WATCHES={m} (fallback to polling)"),
    };
    let limit = |f: &str| {
        std::fs::read_to_string(format!("/proc/sys/fs/inotify/{f}"))
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "?".into())
    };
    println!("\n## scale: {title} (median of {} runs)\n", o.runs);
    println!(
        "Watches needed: {} (root, containers/, pods/, one per pod dir and per container dir); this machine: max_user_watches={}, max_user_instances={}.\n",
        3 + 2 * n,
        limit("max_user_watches"),
        limit("max_user_instances")
    );
    let r = medians(o.runs, |run| scale_run(o, max_watches, run));
    let g = |k: &str| r.iter().find(|(n, _)| *n == k).map_or(f64::NAN, |x| x.1);
    println!("| figure | value |");
    println!("|---|---:|");
    println!("| ready (/readyz 200) | {:.2} s |", g("ready_s"));
    println!("| all {n} files followed | {:.2} s |", g("followed_s"));
    println!("| history ({n} lines) indexed | {:.2} s |", g("history_s"));
    println!("| inotify watches held | {:.0} |", g("watches"));
    println!("| directories polled (fallback) | {:.0} |", g("polled"));
    println!("| lines/s written | {:.0} |", g("lines_s"));
    println!(
        "| lines written (incl. history, probes) | {:.0} |",
        g("expected")
    );
    println!("| lines indexed | {:.0} |", g("docs"));
    println!("| lines collected (metrics) | {:.0} |", g("collected"));
    println!(
        "| caught up after the writer stopped | {:.2} s |",
        g("catchup_s")
    );
    println!("| daemon CPU while writing | {:.0} % |", g("cpu"));
    println!(
        "| VmRSS peak / VmHWM | {:.1} / {:.1} MiB |",
        g("peak"),
        g("hwm")
    );
    println!(
        "| probe write→live tail p50 / p99 | {:.1} / {:.1} ms ({:.0} of {} seen) |",
        g("live_p50"),
        g("live_p99"),
        g("live_n"),
        o.probes
    );
    println!(
        "| probe write→search p50 / p99 | {:.0} / {:.0} ms ({:.0} of {} found) |",
        g("search_p50"),
        g("search_p99"),
        g("search_n"),
        o.probes
    );
    let complete = g("docs") == g("expected");
    println!(
        "\nCompleteness: {} (indexed {:.0} of {:.0}).",
        if complete {
            "every line indexed"
        } else {
            "LINES MISSING OR DOUBLED"
        },
        g("docs"),
        g("expected")
    );
    if !complete {
        std::process::exit(1);
    }
}

fn scale_run(o: &Opts, max_watches: Option<usize>, run: usize) -> Vec<(&'static str, f64)> {
    let n = o.files;
    let tmp = tempfile::tempdir().expect("tempdir");
    let logs = tmp.path().join("logs");
    let history = write_history(&logs, n, 1);
    let files = log_files(&logs);
    assert_eq!(files.len(), n, "one log file per pod");
    let env: Vec<(&str, String)> = max_watches
        .map(|m| vec![("LOOKOUT_MAX_WATCHES", m.to_string())])
        .unwrap_or_default();
    let d = Daemon::spawn(&logs, &tmp.path().join("data"), &env);
    let long = Duration::from_secs(600);
    let ready = wait_until(long, || d.ready());
    let since = |t: Option<Duration>| t.map_or(f64::NAN, |_| d.started.elapsed().as_secs_f64());
    let ready_s = since(ready);
    let followed_s = since(wait_until(long, || {
        d.metric("lookout_files_watched") >= n as f64
    }));
    let history_s = since(wait_until(long, || {
        d.metric("lookout_index_docs") >= history.lines as f64
    }));
    let watches = d.inotify_watches() as f64;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let probes = Arc::new(Mutex::new(Probes::default()));
    let tag = format!("r{run}t{}", std::process::id());
    // The live tail: a subscriber to every probe line.
    let mut tail = rt.block_on(async {
        let mut ws = connect(&d.listen).await;
        let sub = ClientMsg::Subscribe {
            id: 1,
            query: "zqxprobe".into(),
            backfill: 0,
            resume_after: None,
        };
        ws.send(Message::text(serde_json::to_string(&sub).expect("json")))
            .await
            .expect("subscribe");
        while let Some(Ok(m)) = ws.next().await {
            if let Message::Text(t) = m {
                if matches!(
                    serde_json::from_str(t.as_str()),
                    Ok(ServerMsg::Subscribed { .. })
                ) {
                    break;
                }
            }
        }
        ws
    });
    let tail_probes = Arc::clone(&probes);
    let tail_task = rt.spawn(async move {
        while let Some(Ok(m)) = tail.next().await {
            let Message::Text(t) = m else { continue };
            if let Ok(ServerMsg::Entries { entries, .. }) = serde_json::from_str(t.as_str()) {
                let mut p = tail_probes.lock().expect("lock");
                for e in entries {
                    let Some(tok) = e.message.split_whitespace().nth(1) else {
                        continue;
                    };
                    if let Some(at) = p.written.get(tok).copied() {
                        p.live_ms
                            .entry(tok.to_string())
                            .or_insert(at.elapsed().as_secs_f64() * 1e3);
                    }
                }
            }
        }
    });

    // The writer over every file, and probe lines spaced over its run.
    let mut cfg = sim_config(&logs, n, o.rate);
    cfg.duration = Some(Duration::from_secs_f64(o.secs));
    let cpu0 = d.cpu();
    let t0 = Instant::now();
    let handle =
        sim::spawn(cfg, lookout_daemon::shutdown::Shutdown::never()).expect("start the simulator");
    let gap = Duration::from_secs_f64(o.secs / (o.probes as f64 + 1.0));
    let mut searches = Vec::new();
    let mut peak: f64 = 0.0;
    for i in 0..o.probes {
        let next = t0 + gap * (i as u32 + 1);
        while Instant::now() < next {
            peak = peak.max(d.rss().0);
            std::thread::sleep(Duration::from_millis(10).min(next - Instant::now().min(next)));
        }
        let token = format!("probe{tag}n{i}");
        let path = &files[(i * 7919) % files.len()];
        let line = format!(
            "{} stdout F zqxprobe {token} written by the scale bench\n",
            sim::rfc3339_nano_trimmed(Timestamp::now())
        );
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .expect("open probe file");
        let at = Instant::now();
        probes
            .lock()
            .expect("lock")
            .written
            .insert(token.clone(), at);
        f.write_all(line.as_bytes()).expect("write probe");
        searches.push((
            token.clone(),
            rt.spawn(search_until_found(d.listen.clone(), token, at)),
        ));
    }
    while !handle.is_finished() {
        peak = peak.max(d.rss().0);
        std::thread::sleep(Duration::from_millis(100));
    }
    let w = handle.join().expect("sim thread").expect("sim");
    let wrote_s = t0.elapsed().as_secs_f64();
    let cpu = (d.cpu() - cpu0) / wrote_s * 100.0;
    let expected = history.lines + w.lines + o.probes as u64;
    let caught = wait_until(long, || {
        peak = peak.max(d.rss().0);
        d.metric("lookout_index_docs") >= expected as f64
    });
    for (token, s) in searches {
        let ms = rt.block_on(s).unwrap_or(f64::NAN);
        probes.lock().expect("lock").search_ms.insert(token, ms);
    }
    // A moment for doubles to show before counting.
    std::thread::sleep(Duration::from_millis(1500));
    let m = d.metrics();
    let (_, hwm) = d.rss();
    let polled = d.polled_dirs() as f64;
    tail_task.abort();
    d.stop();
    rt.shutdown_timeout(Duration::from_secs(1));

    let p = probes.lock().expect("lock");
    let live: Vec<f64> = p.live_ms.values().copied().collect();
    let search: Vec<f64> = p
        .search_ms
        .values()
        .copied()
        .filter(|x| !x.is_nan())
        .collect();
    vec![
        ("ready_s", ready_s),
        ("followed_s", followed_s),
        ("history_s", history_s),
        ("watches", watches),
        ("polled", polled),
        // The sim runs for exactly `secs` once its files exist; `wrote_s` also
        // counts opening 5,000 files.
        ("lines_s", w.lines as f64 / o.secs.min(wrote_s)),
        ("expected", expected as f64),
        (
            "docs",
            m.get("lookout_index_docs").copied().unwrap_or(f64::NAN),
        ),
        (
            "collected",
            m.get("lookout_collected_lines_total")
                .copied()
                .unwrap_or(f64::NAN),
        ),
        ("catchup_s", caught.map_or(f64::NAN, |t| t.as_secs_f64())),
        ("cpu", cpu),
        ("peak", peak),
        ("hwm", hwm),
        ("live_p50", pct(&live, 0.5)),
        ("live_p99", pct(&live, 0.99)),
        ("live_n", live.len() as f64),
        ("search_p50", pct(&search, 0.5)),
        ("search_p99", pct(&search, 0.99)),
        ("search_n", search.len() as f64),
    ]
}
