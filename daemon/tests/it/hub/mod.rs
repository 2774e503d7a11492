//! The cluster hub over three real node daemons on loopback, each with its own
//! kubelet log tree and node name: search through the hub is the union of the
//! nodes' own results, in order, through paging; a stopped node makes results
//! partial and named; streams and status come from every node.

use std::collections::BTreeMap;
use std::time::Duration;

use clap::Parser;
use lookout_daemon::app::Lookoutd;
use lookout_daemon::hub::{Hub, HubArgs};
use lookout_shared::client::Conn;
use lookout_shared::protocol::{ClientMsg, Order, SearchPage, SearchParams, ServerMsg, StreamInfo};
use lookout_shared::LogEntry;

use crate::support::collect::{append, cid, Node};
use crate::support::{block, wait_for};

/// One node daemon, running in this process on a loopback port.
struct Daemon {
    name: String,
    url: String,
    inner: Option<Lookoutd>,
    _tree: Node,
    _data: tempfile::TempDir,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(d) = self.inner.take() {
            d.shutdown();
        }
    }
}

/// `n` lines per pod on two pods; three lines share each timestamp, and every
/// node uses the same timestamps, so the merge's tie-breaking is exercised.
fn daemon(name: &str, n: usize) -> Daemon {
    daemon_with(name, n, &[])
}

/// [`daemon`] with extra flags.
fn daemon_with(name: &str, n: usize, extra: &[&str]) -> Daemon {
    let tree = Node::new();
    for (k, pod) in ["web-7d9f8b6c5-x2k4q", "db-0"].iter().enumerate() {
        let file = tree.start(
            "shop",
            pod,
            &format!("uid-{name}-{k}"),
            "app",
            0,
            &cid(k as u32),
        );
        let text: String = (0..n)
            .map(|i| {
                format!(
                    "2026-11-25T19:42:{:02}.000000500Z stdout F {name} {pod} order {i} placed\n",
                    i / 3
                )
            })
            .collect();
        append(&file, text.as_bytes());
    }
    let data = tempfile::tempdir().unwrap();
    let mut argv = vec![
        "lookoutd",
        "--log-dir",
        tree.root().to_str().unwrap(),
        "--data-dir",
        data.path().to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--metrics-listen",
        "127.0.0.1:0",
        "--commit-interval",
        "100ms",
        "--node",
        name,
    ];
    argv.extend_from_slice(extra);
    let config = lookout_daemon::config::Config::try_parse_from(argv).unwrap();
    let inner = Lookoutd::start(config).unwrap();
    let url = format!("ws://{}", inner.addr().unwrap());
    Daemon {
        name: name.into(),
        url,
        inner: Some(inner),
        _tree: tree,
        _data: data,
    }
}

fn hub_over(urls: &[String]) -> Hub {
    let mut argv = vec![
        "lookoutd".to_string(),
        "hub".into(),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--metrics-listen".into(),
        "127.0.0.1:0".into(),
        "--peer-timeout".into(),
        "3s".into(),
    ];
    for u in urls {
        argv.push("--peer".into());
        argv.push(u.clone());
    }
    let config = lookout_daemon::config::Config::try_parse_from(argv).unwrap();
    let Some(lookout_daemon::config::Mode::Hub(args)) = config.mode else {
        panic!("not parsed as the hub mode")
    };
    let args: HubArgs = args;
    Hub::start(args).unwrap()
}

fn search(url: &str, params: SearchParams) -> SearchPage {
    block(async {
        let mut c = Conn::connect(url, None).await.unwrap();
        match c
            .request(&ClientMsg::Search { id: 1, params })
            .await
            .unwrap()
        {
            ServerMsg::SearchResult { page, .. } => page,
            other => panic!("{other:?}"),
        }
    })
}

/// Every match of `query`, paging `limit` at a time; with the last page.
fn walk(url: &str, query: &str, order: Order, limit: u32) -> (Vec<LogEntry>, SearchPage) {
    let mut all = Vec::new();
    let mut params = SearchParams {
        query: query.into(),
        limit,
        order,
        ..Default::default()
    };
    loop {
        let mut page = search(url, params.clone());
        all.append(&mut page.entries);
        match page.next_cursor {
            Some(c) => {
                params.cursor = Some(c);
                params.cursor_node = page.next_cursor_node.clone();
            }
            None => return (all, page),
        }
    }
}

type Key = (i64, String, u64, String);

fn key(e: &LogEntry) -> Key {
    (e.ts.0, e.node.clone(), e.seq, e.message.clone())
}

/// The union of every node's own results, in the hub's order.
fn union(nodes: &[&Daemon], query: &str, order: Order) -> Vec<Key> {
    let mut all: Vec<Key> = nodes
        .iter()
        .flat_map(|d| walk(&d.url, query, Order::OldestFirst, 1000).0)
        .map(|e| key(&e))
        .collect();
    all.sort();
    if order == Order::NewestFirst {
        all.reverse();
    }
    all
}

fn wait_indexed(d: &Daemon, n: u64) {
    wait_for(
        &format!("{} to index {n} entries", d.name),
        Duration::from_secs(30),
        || {
            let p = search(&d.url, SearchParams::default());
            (p.total == n).then_some(())
        },
    );
}

fn streams(url: &str) -> Vec<StreamInfo> {
    block(async {
        let mut c = Conn::connect(url, None).await.unwrap();
        match c
            .request(&ClientMsg::Streams {
                id: 1,
                watch: false,
            })
            .await
            .unwrap()
        {
            ServerMsg::Streams { streams, .. } => streams,
            other => panic!("{other:?}"),
        }
    })
}

#[test]
fn hub_merges_three_nodes_exactly_and_names_a_stopped_one() {
    let (a, b, mut c) = (
        daemon("node-a", 20),
        daemon("node-b", 13),
        daemon("node-c", 8),
    );
    for (d, n) in [(&a, 40), (&b, 26), (&c, 16)] {
        wait_indexed(d, n);
    }
    let hub = hub_over(&[a.url.clone(), b.url.clone(), c.url.clone()]);
    let hub_url = format!("ws://{}", hub.addr().unwrap());

    // The whole result, newest and oldest first, in pages that split ties.
    for order in [Order::NewestFirst, Order::OldestFirst] {
        let want = union(&[&a, &b, &c], "placed", order);
        assert_eq!(want.len(), 82);
        for limit in [7, 1000] {
            let (got, last) = walk(&hub_url, "placed", order, limit);
            let got: Vec<Key> = got.iter().map(key).collect();
            assert_eq!(got, want, "order {order:?}, pages of {limit}");
            assert_eq!(last.total, 82);
            assert_eq!(last.nodes, ["node-a", "node-b", "node-c"]);
            assert!(last.missing.is_empty(), "{:?}", last.missing);
        }
    }
    // A narrower query: totals and histograms add up over the nodes.
    let q = SearchParams {
        query: "\"db-0\"".into(),
        histogram: true,
        range: lookout_shared::protocol::TimeRange {
            from: Some(lookout_shared::Timestamp::parse_rfc3339("2026-11-25T19:42:00Z").unwrap()),
            until: Some(lookout_shared::Timestamp::parse_rfc3339("2026-11-25T19:43:00Z").unwrap()),
            ..Default::default()
        },
        ..Default::default()
    };
    let per_node: Vec<SearchPage> = [&a, &b, &c]
        .iter()
        .map(|d| search(&d.url, q.clone()))
        .collect();
    let merged = search(&hub_url, q.clone());
    assert_eq!(merged.total, 41);
    assert_eq!(merged.total, per_node.iter().map(|p| p.total).sum::<u64>());
    let mut bars: BTreeMap<i64, u64> = BTreeMap::new();
    for p in &per_node {
        for b in &p.histogram.as_ref().unwrap().buckets {
            *bars.entry(b.start.0).or_default() += b.count;
        }
    }
    let got: BTreeMap<i64, u64> = merged
        .histogram
        .unwrap()
        .buckets
        .iter()
        .map(|b| (b.start.0, b.count))
        .collect();
    assert_eq!(got, bars);

    // Streams from every node, each carrying its node; the status counts 3/3.
    let list = wait_for("streams of three nodes", Duration::from_secs(20), || {
        let s = streams(&hub_url);
        (s.len() == 6).then_some(s)
    });
    let mut per: BTreeMap<String, usize> = BTreeMap::new();
    for s in &list {
        *per.entry(s.node.clone()).or_default() += 1;
    }
    assert_eq!(
        per,
        BTreeMap::from([
            ("node-a".into(), 2),
            ("node-b".into(), 2),
            ("node-c".into(), 2)
        ])
    );
    let status = block(async {
        let mut conn = Conn::connect(&hub_url, None).await.unwrap();
        loop {
            if let ServerMsg::Status { status } = conn.recv().await.unwrap() {
                if status.cluster.as_ref().is_some_and(|c| c.up == 3) {
                    return status;
                }
            }
        }
    });
    assert_eq!(status.node, "cluster");
    assert_eq!(status.cluster.unwrap().total, 3);

    // Stop node-c: the hub answers with the other two, naming it.
    c.inner.take().unwrap().shutdown();
    let (got, last) = walk(&hub_url, "placed", Order::NewestFirst, 9);
    assert_eq!(last.missing, ["node-c"]);
    assert_eq!(last.nodes, ["node-a", "node-b"]);
    assert_eq!(last.total, 66);
    let got: Vec<Key> = got.iter().map(key).collect();
    assert_eq!(got, union(&[&a, &b], "placed", Order::NewestFirst));
    let down = wait_for(
        "status to count node-c down",
        Duration::from_secs(20),
        || {
            let s = block(async {
                let mut conn = Conn::connect(&hub_url, None).await.unwrap();
                match conn.recv().await.unwrap() {
                    ServerMsg::Status { status } => status.cluster,
                    _ => None,
                }
            })?;
            (s.up == 2).then_some(s)
        },
    );
    assert_eq!(down.down, ["node-c"]);
    hub.shutdown();
}

#[test]
fn hub_refuses_bad_flags_and_tails_for_now() {
    let parse = |argv: &[&str]| {
        let c = lookout_daemon::config::Config::try_parse_from(argv).unwrap();
        match c.mode {
            Some(lookout_daemon::config::Mode::Hub(a)) => {
                Hub::start(a).err().map(|e| e.to_string())
            }
            None => panic!("not the hub mode"),
        }
    };
    let e = parse(&["lookoutd", "hub", "--listen", "127.0.0.1:0"]).unwrap();
    assert!(e.contains("--peer"), "{e}");
    let e = parse(&["lookoutd", "hub", "--peer", "10.0.0.1:7700"]).unwrap();
    assert!(e.contains("ws://"), "{e}");
    let e = parse(&["lookoutd", "hub", "--peers-dns", "lookout-nodes"]).unwrap();
    assert!(e.contains("NAME:PORT"), "{e}");

    // A name that resolves to nothing: an error, not an empty result.
    let c = lookout_daemon::config::Config::try_parse_from([
        "lookoutd",
        "hub",
        "--listen",
        "127.0.0.1:0",
        "--metrics-listen",
        "127.0.0.1:0",
        "--peers-dns",
        "no-such-host.invalid:7700",
    ])
    .unwrap();
    let Some(lookout_daemon::config::Mode::Hub(args)) = c.mode else {
        panic!("not the hub mode")
    };
    let lonely = Hub::start(args).unwrap();
    let url = format!("ws://{}", lonely.addr().unwrap());
    let reply = block(async {
        let mut conn = Conn::connect(&url, None).await.unwrap();
        conn.request(&ClientMsg::Search {
            id: 2,
            params: SearchParams::default(),
        })
        .await
        .unwrap()
    });
    match reply {
        ServerMsg::Error { error, .. } => assert!(error.message.contains("no node"), "{error:?}"),
        other => panic!("{other:?}"),
    }
    drop(lonely);

    let a = daemon("node-a", 3);
    let hub = hub_over(std::slice::from_ref(&a.url));
    let hub_url = format!("ws://{}", hub.addr().unwrap());
    let reply = block(async {
        let mut conn = Conn::connect(&hub_url, None).await.unwrap();
        conn.request(&ClientMsg::Subscribe {
            id: 5,
            query: "placed".into(),
            backfill: 0,
            resume_after: None,
        })
        .await
        .unwrap()
    });
    match reply {
        ServerMsg::Error { id, error } => {
            assert_eq!(id, Some(5));
            assert!(error.message.contains("hub"), "{}", error.message);
        }
        other => panic!("{other:?}"),
    }
}

/// `--peers-dns`: the addresses the name resolves to become the peers (here an
/// address literal, which resolves to itself), and their streams are served.
#[test]
fn hub_finds_its_peers_by_name() {
    let a = daemon("node-a", 3);
    wait_indexed(&a, 6);
    let port = a.url.rsplit(':').next().unwrap().to_string();
    let config = lookout_daemon::config::Config::try_parse_from([
        "lookoutd",
        "hub",
        "--listen",
        "127.0.0.1:0",
        "--metrics-listen",
        "127.0.0.1:0",
        "--peers-dns",
        &format!("127.0.0.1:{port}"),
        "--peers-dns-interval",
        "200ms",
    ])
    .unwrap();
    let Some(lookout_daemon::config::Mode::Hub(args)) = config.mode else {
        panic!("not parsed as the hub mode")
    };
    let hub = Hub::start(args).unwrap();
    let hub_url = format!("ws://{}", hub.addr().unwrap());
    let list = wait_for("streams found by name", Duration::from_secs(20), || {
        let s = streams(&hub_url);
        (s.len() == 2).then_some(s)
    });
    assert!(list.iter().all(|s| s.node == "node-a"), "{list:?}");
    assert_eq!(hub.peer_urls(), std::slice::from_ref(&a.url));
    let page = search(&hub_url, SearchParams::default());
    assert_eq!(
        (page.total, page.nodes.as_slice()),
        (6, ["node-a".to_string()].as_slice())
    );
}

/// `--peer-token` is what the hub shows the nodes; `--token` is what it asks of
/// its own clients. A wrong peer token leaves that node out, named.
#[test]
fn hub_presents_the_peer_token_and_requires_its_own() {
    let a = daemon_with("node-a", 3, &["--token", "node-secret"]);
    let b = daemon_with("node-b", 2, &["--token", "other-secret"]);
    let start = |peer_token: &str| {
        let c = lookout_daemon::config::Config::try_parse_from([
            "lookoutd",
            "hub",
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
            "--token",
            "hub-secret",
            "--peer-token",
            peer_token,
            "--peer",
            &a.url,
            "--peer",
            &b.url,
        ])
        .unwrap();
        let Some(lookout_daemon::config::Mode::Hub(args)) = c.mode else {
            panic!("not parsed as the hub mode")
        };
        Hub::start(args).unwrap()
    };
    let hub = start("node-secret");
    let url = format!("ws://{}", hub.addr().unwrap());
    let refused = block(Conn::connect(&url, None));
    assert!(
        matches!(
            refused,
            Err(lookout_shared::client::ClientError::Unauthorized(_))
        ),
        "a client without the hub's token was let in"
    );
    let page = wait_for(
        "node-a's entries through the hub",
        Duration::from_secs(30),
        || {
            let page = block(async {
                let mut c = Conn::connect(&url, Some("hub-secret")).await.unwrap();
                match c
                    .request(&ClientMsg::Search {
                        id: 1,
                        params: SearchParams::default(),
                    })
                    .await
                    .unwrap()
                {
                    ServerMsg::SearchResult { page, .. } => page,
                    other => panic!("{other:?}"),
                }
            });
            (page.total == 6).then_some(page)
        },
    );
    assert_eq!(page.nodes, ["node-a"]);
    // node-b wants another token: never reached, named by its address.
    assert_eq!(page.missing, std::slice::from_ref(&b.url));
}
