//! Search latency through the cluster hub over three node daemons, beside the same
//! search on one node daemon: the goal is at most 2× plus one round trip.
//!
//! Three real lookoutd (pipeline, index, server) run in this process on loopback,
//! each on its own log tree of `--lines` CRI lines, with the hub over them. One
//! client connection each, `--rounds` searches of each query, p50/p99 of the
//! request → reply time as the client sees it. A `streams` request to one node
//! stands for the round trip.
//!
//! Run: `cargo bench -p lookout-daemon --bench hub` (options: `--lines N`, `--rounds N`).

// A benchmark whose setup fails should stop at once, loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::time::{Duration, Instant};

use clap::Parser;
use lookout_daemon::app::Lookoutd;
use lookout_daemon::config::{Config, Mode};
use lookout_daemon::hub::Hub;
use lookout_shared::client::Conn;
use lookout_shared::protocol::{ClientMsg, SearchParams, ServerMsg};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let opt = |name: &str, default: usize| -> usize {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let lines = opt("--lines", 100_000);
    let rounds = opt("--rounds", 200);
    let mut keep = Vec::new();
    let mut urls = Vec::new();
    for n in ["node-a", "node-b", "node-c"] {
        let tree = tempfile::tempdir().unwrap();
        let data = tempfile::tempdir().unwrap();
        let dir = tree.path().join("pods/shop_web-0_uid-web-0/app");
        std::fs::create_dir_all(&dir).unwrap();
        let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join("0.log")).unwrap());
        for i in 0..lines {
            let level = if i % 50 == 0 { "ERROR" } else { "INFO" };
            writeln!(
                f,
                "2026-11-25T19:{:02}:{:02}.{:09}Z stdout F {level} {n} order {i} placed by user{} in {} ms",
                (i / 60_000) % 60,
                (i / 1000) % 60,
                i % 1000,
                i % 977,
                i % 300
            )
            .unwrap();
        }
        drop(f);
        let config = Config::try_parse_from([
            "lookoutd",
            "--log-dir",
            tree.path().to_str().unwrap(),
            "--data-dir",
            data.path().to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
            "--node",
            n,
        ])
        .unwrap();
        let d = Lookoutd::start(config).unwrap();
        urls.push(format!("ws://{}", d.addr().unwrap()));
        keep.push((d, tree, data));
    }
    let mut argv = vec![
        "lookoutd".to_string(),
        "hub".into(),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--metrics-listen".into(),
        "127.0.0.1:0".into(),
    ];
    for u in &urls {
        argv.extend(["--peer".to_string(), u.clone()]);
    }
    let Some(Mode::Hub(h)) = Config::try_parse_from(argv).unwrap().mode else {
        panic!("hub flags")
    };
    let hub = Hub::start(h).unwrap();
    let hub_url = format!("ws://{}", hub.addr().unwrap());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut node = Conn::connect(&urls[0], None).await.unwrap();
        let mut via = Conn::connect(&hub_url, None).await.unwrap();
        // Wait until every node has indexed everything.
        let t0 = Instant::now();
        loop {
            let p = search(&mut via, "*").await;
            if p.total == 3 * lines as u64 && p.missing.is_empty() {
                break;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(600),
                "indexing never finished"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        println!(
            "{} lines per node, 3 nodes, {rounds} rounds; ms p50 / p99",
            lines
        );
        let mut rtt = Vec::new();
        for _ in 0..rounds {
            let t = Instant::now();
            node.request(&ClientMsg::Streams {
                id: 9,
                watch: false,
            })
            .await
            .unwrap();
            rtt.push(t.elapsed());
        }
        println!("{:<32} {}", "round trip (streams, one node)", pct(&mut rtt));
        for q in ["*", "level:error", "user42", "\"order 77\""] {
            for (label, conn) in [("one node", &mut node), ("hub over 3", &mut via)] {
                let mut times = Vec::new();
                for _ in 0..rounds {
                    let t = Instant::now();
                    search(conn, q).await;
                    times.push(t.elapsed());
                }
                println!("{:<32} {}", format!("{q} ({label})"), pct(&mut times));
            }
        }
    });
    hub.shutdown();
    for (d, _, _) in keep {
        d.shutdown();
    }
}

async fn search(c: &mut Conn, q: &str) -> lookout_shared::protocol::SearchPage {
    let msg = ClientMsg::Search {
        id: 1,
        params: SearchParams {
            query: q.into(),
            limit: 100,
            ..Default::default()
        },
    };
    match c.request(&msg).await.unwrap() {
        ServerMsg::SearchResult { page, .. } => page,
        other => panic!("{other:?}"),
    }
}

fn pct(v: &mut [Duration]) -> String {
    v.sort();
    let at = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0;
    format!("{:.2} / {:.2}", at(0.5), at(0.99))
}
