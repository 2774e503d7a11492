//! Ingest→client latency of live tails, with the daemon side in its own process.
//!
//! The bench re-runs itself as a child (`LOOKOUT_BENCH_ROLE=server`) that runs the
//! real server and [`Live`] fan-out, plus a generator thread standing in for the
//! ingest stage: it publishes entries stamped with the wall clock at the wanted rate.
//! The parent connects 1 or 20 websocket clients subscribed to `*`, and for every
//! entry received computes now − entry.ts. The child's CPU and peak RSS are read
//! from /proc while it runs.
//!
//! Run: `cargo bench -p lookout-daemon --bench serve_latency` (options: `--secs N`,
//! `--rates 1000,10000`, `--clients 1,20`).

// A benchmark whose setup fails should stop at once, loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use lookout_daemon::ingest::EntrySink;
use lookout_daemon::live::{Live, LiveConfig};
use lookout_daemon::metrics::{Metrics, ProcessStats};
use lookout_daemon::serve::{self, ServeConfig, ServeContext};
use lookout_daemon::streams::Streams;
use lookout_shared::protocol::{ClientMsg, PROTOCOL_VERSION};
use lookout_shared::{LogEntry, StreamId, Timestamp};
use tokio_tungstenite::tungstenite::Message;

fn main() {
    if std::env::var("LOOKOUT_BENCH_ROLE").as_deref() == Ok("server") {
        server();
        return;
    }
    let args: Vec<String> = std::env::args().collect();
    let opt = |name: &str, default: &str| -> String {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
            .unwrap_or_else(|| default.to_string())
    };
    let secs: u64 = opt("--secs", "5").parse().expect("--secs N");
    let rates: Vec<u64> = opt("--rates", "1000,10000,100000")
        .split(',')
        .map(|s| s.parse().expect("--rates"))
        .collect();
    let clients: Vec<usize> = opt("--clients", "1,20")
        .split(',')
        .map(|s| s.parse().expect("--clients"))
        .collect();
    println!(
        "| lines/s | clients | received | p50 ms | p99 ms | max ms | dropped | daemon CPU % | daemon peak RSS MiB |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &rate in &rates {
        for &n in &clients {
            run(rate, n, secs);
        }
    }
}

/// The daemon side: serve on a free port, print it, publish at `RATE` for `SECS`
/// once told to start on stdin.
fn server() {
    let rate: u64 = std::env::var("RATE").unwrap().parse().unwrap();
    let secs: u64 = std::env::var("SECS").unwrap().parse().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let live = Arc::new(Live::new(LiveConfig::default()));
    let _handle = rt.block_on(async {
        let mut cfg = ServeConfig::new("127.0.0.1:0".parse().unwrap(), "bench");
        cfg.metrics_listen = None;
        let h = serve::start(
            cfg,
            ServeContext {
                index: None,
                live: Arc::clone(&live),
                streams: Arc::new(Streams::new()),
                metrics: Arc::new(Metrics::new().expect("metrics")),
                alerting: None,
            },
        )
        .await
        .unwrap();
        println!("{}", h.local_addr());
        std::io::stdout().flush().unwrap();
        h
    });
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).unwrap();
    let lines: Vec<String> = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/loghub/Apache_2k.log"
    ))
    .unwrap()
    .lines()
    .map(str::to_string)
    .collect();
    // The ingest stand-in: batches every millisecond, catching up to the rate.
    let start = Instant::now();
    let mut sent: u64 = 0;
    let mut seq = 1u64;
    while start.elapsed() < Duration::from_secs(secs) {
        let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
        if due > sent {
            let now = Timestamp::now();
            let batch: Vec<Arc<LogEntry>> = (sent..due)
                .map(|i| {
                    seq += 1;
                    Arc::new(LogEntry {
                        ts: now,
                        node: "bench".into(),
                        source: StreamId {
                            namespace: "bench".into(),
                            pod: format!("pod-{}", i % 10),
                            pod_uid: "uid".into(),
                            container: "app".into(),
                            ..Default::default()
                        },
                        message: lines[(i as usize) % lines.len()].clone(),
                        seq,
                        ..Default::default()
                    })
                })
                .collect();
            live.publish(&batch);
            sent = due;
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    let stats = live.stats();
    println!("done {} {}", stats.published, stats.dropped);
    std::io::stdout().flush().unwrap();
    std::io::stdin().read_line(&mut line).unwrap();
}

fn run(rate: u64, clients: usize, secs: u64) {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .env("LOOKOUT_BENCH_ROLE", "server")
        .env("RATE", rate.to_string())
        .env("SECS", secs.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut stdin = child.stdin.take().unwrap();
    let mut addr = String::new();
    out.read_line(&mut addr).unwrap();
    let addr = addr.trim().to_string();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let lat = Arc::new(Mutex::new(Vec::<f64>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    rt.block_on(async {
        for _ in 0..clients {
            let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
                .await
                .unwrap();
            ws.next().await.unwrap().unwrap(); // hello
            let hello = ClientMsg::Hello {
                protocol: PROTOCOL_VERSION,
                token: None,
                client: "bench".into(),
            };
            ws.send(Message::text(serde_json::to_string(&hello).unwrap()))
                .await
                .unwrap();
            let sub = ClientMsg::Subscribe {
                id: 1,
                query: "*".into(),
                backfill: 0,
                resume_after: None,
            };
            ws.send(Message::text(serde_json::to_string(&sub).unwrap()))
                .await
                .unwrap();
            let lat = Arc::clone(&lat);
            let stop = Arc::clone(&stop);
            tasks.push(tokio::spawn(async move {
                let mut local = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let m = match tokio::time::timeout(Duration::from_millis(200), ws.next()).await
                    {
                        Ok(Some(Ok(Message::Text(t)))) => t,
                        Ok(Some(Ok(_))) | Err(_) => continue,
                        _ => break,
                    };
                    let now = Timestamp::now().0;
                    // Scan for timestamps instead of parsing whole frames: the
                    // client must not be the bottleneck.
                    let s = m.as_str();
                    let mut rest = s;
                    while let Some(i) = rest.find("\"ts\":\"") {
                        let tail = &rest[i + 6..];
                        if let Some(end) = tail.find('"') {
                            if let Ok(ts) = Timestamp::parse_rfc3339(&tail[..end]) {
                                local.push((now - ts.0) as f64 / 1e6);
                            }
                            rest = &tail[end..];
                        } else {
                            break;
                        }
                    }
                }
                lat.lock().unwrap().extend(local);
            }));
        }
    });
    // Let the subscriptions register, then start the generator.
    std::thread::sleep(Duration::from_millis(300));
    let before = ProcessStats::read_pid(&pid);
    let t0 = Instant::now();
    writeln!(stdin).unwrap();
    let mut peak_rss = 0u64;
    let mut done = String::new();
    let reader = std::thread::spawn(move || {
        out.read_line(&mut done).unwrap();
        done
    });
    while !reader.is_finished() {
        if let Some(p) = ProcessStats::read_pid(&pid) {
            peak_rss = peak_rss.max(p.rss_bytes);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let after = ProcessStats::read_pid(&pid);
    let elapsed = t0.elapsed().as_secs_f64();
    let done = reader.join().unwrap();
    let dropped: u64 = done
        .split_whitespace()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    rt.block_on(async {
        for t in tasks {
            let _ = t.await;
        }
    });
    let _ = writeln!(stdin);
    let _ = child.wait();
    let mut v = std::mem::take(&mut *lat.lock().unwrap());
    v.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| -> f64 {
        if v.is_empty() {
            f64::NAN
        } else {
            v[((v.len() - 1) as f64 * p) as usize]
        }
    };
    let cpu = match (before, after) {
        (Some(b), Some(a)) => (a.cpu_seconds - b.cpu_seconds) / elapsed * 100.0,
        _ => f64::NAN,
    };
    println!(
        "| {rate} | {clients} | {} | {:.2} | {:.2} | {:.2} | {dropped} | {cpu:.0} | {:.1} |",
        v.len(),
        pct(0.5),
        pct(0.99),
        pct(1.0),
        peak_rss as f64 / (1 << 20) as f64
    );
}
