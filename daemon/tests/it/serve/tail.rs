//! Live tail over real loopback websockets: filtering, order, backfill, many
//! subscriptions, slow and stalled clients, reconnect-and-resume.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::serve::*;
use lookout_shared::protocol::{ClientMsg, Cursor, ErrorCode, ReqId, ServerMsg};
use lookout_shared::LogEntry;

/// `n` entries over four pods; every third carries `zqneedle`, every fifth `zqalpha`.
fn corpus(n: usize, offset: i64) -> Vec<LogEntry> {
    let lines = loghub_lines();
    (0..n)
        .map(|i| {
            let mut msg = lines[i % lines.len()].clone();
            if i % 3 == 0 {
                msg.push_str(" zqneedle");
            }
            if i % 5 == 0 {
                msg.push_str(" zqalpha");
            }
            entry(&format!("pod-{}", i % 4), offset + i as i64, &msg)
        })
        .collect()
}

fn matching(all: &[Arc<LogEntry>], word: &str) -> Vec<u64> {
    all.iter()
        .filter(|e| word == "*" || e.message.contains(word))
        .map(|e| e.seq)
        .collect()
}

/// Reads entries of `sub` until `n` arrived; returns them and any drop notices as
/// (index in the entry list where it came, count, from, until).
async fn read_entries(c: &mut Client, sub: ReqId, n: usize) -> Vec<LogEntry> {
    let mut got = Vec::new();
    while got.len() < n {
        match c.next().await.expect("connection open") {
            ServerMsg::Entries { sub: s, entries } if s == sub => got.extend(entries),
            ServerMsg::Entries { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    got
}

fn seqs(v: &[LogEntry]) -> Vec<u64> {
    v.iter().map(|e| e.seq).collect()
}

async fn subscribe(c: &mut Client, id: ReqId, query: &str) {
    c.send(&ClientMsg::Subscribe {
        id,
        query: query.into(),
        backfill: 0,
        resume_after: None,
    })
    .await;
    assert_eq!(c.reply(id).await, ServerMsg::Subscribed { id });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_selects_matching_entries_in_order_within_milliseconds() {
    let srv = TestServer::start().await;
    let mut c = Client::connect(srv.addr()).await;
    subscribe(&mut c, 1, "zqneedle").await;
    eventually("subscription registered", || {
        srv.live.stats().subscriptions == 1
    })
    .await;

    let mut all = Vec::new();
    for chunk in corpus(3000, 0).chunks(100) {
        all.extend(srv.publish(chunk.to_vec()));
    }
    let want = matching(&all, "zqneedle");
    let got = read_entries(&mut c, 1, want.len()).await;
    assert_eq!(
        seqs(&got),
        want,
        "exactly the matching entries, in ingest order"
    );
    for e in &got {
        assert!(e.message.contains("zqneedle"));
    }

    // Latency of single entries, for information (benchmarks measure it properly).
    let mut lat = Vec::new();
    for i in 0..50 {
        let t = Instant::now();
        srv.publish(vec![entry("pod-0", 10_000 + i, "ping zqneedle")]);
        read_entries(&mut c, 1, 1).await;
        lat.push(t.elapsed());
    }
    lat.sort();
    eprintln!(
        "publish->client latency p50 {:?} max {:?}",
        lat[25], lat[49]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_clients_and_subscriptions_each_get_their_own_selection() {
    let srv = TestServer::start().await;
    let queries = ["zqneedle", "zqalpha", "*", "sshd"];
    let mut clients = Vec::new();
    for _ in 0..8 {
        let mut c = Client::connect(srv.addr()).await;
        for (i, q) in queries.iter().enumerate() {
            subscribe(&mut c, i as ReqId + 1, q).await;
        }
        clients.push(c);
    }
    eventually("all registered", || srv.live.stats().subscriptions == 32).await;
    let mut all = Vec::new();
    for chunk in corpus(2000, 0).chunks(250) {
        all.extend(srv.publish(chunk.to_vec()));
    }
    let want: Vec<Vec<u64>> = queries.iter().map(|q| matching(&all, q)).collect();
    for c in &mut clients {
        let mut got: Vec<Vec<u64>> = vec![Vec::new(); queries.len()];
        let total: usize = want.iter().map(Vec::len).sum();
        let mut n = 0;
        while n < total {
            match c.next().await.expect("open") {
                ServerMsg::Entries { sub, entries } => {
                    n += entries.len();
                    got[sub as usize - 1].extend(entries.iter().map(|e| e.seq));
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(got, want);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_sends_newest_matches_oldest_first_then_live() {
    let srv = TestServer::start().await;
    let all = srv.publish(corpus(600, 0));
    let want = matching(&all, "zqalpha");
    let mut c = Client::connect(srv.addr()).await;
    c.send(&ClientMsg::Subscribe {
        id: 9,
        query: "zqalpha".into(),
        backfill: 10,
        resume_after: None,
    })
    .await;
    assert_eq!(c.next().await.unwrap(), ServerMsg::Subscribed { id: 9 });
    let got = read_entries(&mut c, 9, 10).await;
    assert_eq!(seqs(&got), want[want.len() - 10..]);
    let more = srv.publish(corpus(20, 600));
    let want_live = matching(&more, "zqalpha");
    let got = read_entries(&mut c, 9, want_live.len()).await;
    assert_eq!(seqs(&got), want_live);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsubscribe_stops_entries() {
    let srv = TestServer::start().await;
    let mut c = Client::connect(srv.addr()).await;
    subscribe(&mut c, 1, "*").await;
    subscribe(&mut c, 2, "*").await;
    c.send(&ClientMsg::Unsubscribe { id: 3, sub: 1 }).await;
    assert_eq!(c.reply(3).await, ServerMsg::Ok { id: 3 });
    srv.publish(corpus(10, 0));
    let got = read_entries(&mut c, 2, 10).await;
    assert_eq!(got.len(), 10);
    // A round trip: anything for sub 1 would have come before this reply.
    c.send(&ClientMsg::Streams {
        id: 4,
        watch: false,
    })
    .await;
    c.reply(4).await;
    assert!(c
        .backlog
        .iter()
        .all(|m| !matches!(m, ServerMsg::Entries { sub: 1, .. })));
    assert_eq!(srv.live.stats().subscriptions, 1);
}

/// Counts entries a healthy client receives, on its own task.
fn spawn_counter(mut c: Client, sub: ReqId) -> (Arc<AtomicU64>, tokio::task::JoinHandle<Vec<u64>>) {
    let n = Arc::new(AtomicU64::new(0));
    let n2 = Arc::clone(&n);
    let h = tokio::spawn(async move {
        let mut seqs = Vec::new();
        loop {
            match c.next().await {
                Ok(ServerMsg::Entries { sub: s, entries }) if s == sub => {
                    seqs.extend(entries.iter().map(|e| e.seq));
                    n2.store(seqs.len() as u64, Ordering::Release);
                }
                Ok(ServerMsg::Dropped { .. }) => panic!("the healthy client must not drop"),
                Ok(_) => {}
                Err(_) => return seqs,
            }
        }
    });
    (n, h)
}

/// Publishes paced so that the healthy client keeps up, until `stop` holds.
async fn publish_until(
    srv: &TestServer,
    healthy: &AtomicU64,
    mut stop: impl FnMut(&TestServer) -> bool,
) -> Vec<Arc<LogEntry>> {
    let big = "x".repeat(900);
    let mut all = Vec::new();
    let start = Instant::now();
    let mut i = 0i64;
    let mut extra = 0;
    while extra < 5 {
        if stop(srv) {
            extra += 1;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "the stalled client never overflowed"
        );
        let batch: Vec<LogEntry> = (0..200)
            .map(|k| entry("pod-1", i + k, &format!("{} {big}", i + k)))
            .collect();
        i += 200;
        all.extend(srv.publish(batch));
        let n = all.len() as u64;
        eventually("healthy client keeps up", || {
            healthy.load(Ordering::Acquire) >= n
        })
        .await;
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_client_gets_exact_drop_notices_and_others_are_unaffected() {
    let mut o = opts();
    o.cfg.limits.sub_queue = 1000;
    o.cfg.limits.write_timeout = Duration::from_secs(120);
    let srv = TestServer::with(o).await;
    let mut stalled = small_buffer_client(srv.addr()).await;
    subscribe(&mut stalled, 1, "*").await;
    let mut healthy = Client::connect(srv.addr()).await;
    subscribe(&mut healthy, 1, "*").await;
    let (count, healthy_task) = spawn_counter(healthy, 1);

    // The stalled client reads nothing while its queue overflows.
    let all = publish_until(&srv, &count, |s| s.live.stats().dropped > 0).await;

    // Now it reads everything it was sent: entries and notices must account for
    // every published entry exactly.
    let mut received: Vec<LogEntry> = Vec::new();
    let mut notices: Vec<(usize, u64, i64, i64)> = Vec::new();
    let mut accounted = 0u64;
    while accounted < all.len() as u64 {
        match stalled.next().await.expect("still connected") {
            ServerMsg::Entries { entries, .. } => {
                accounted += entries.len() as u64;
                received.extend(entries);
            }
            ServerMsg::Dropped {
                count, from, until, ..
            } => {
                accounted += count;
                notices.push((received.len(), count, from.0, until.0));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(accounted, all.len() as u64);
    assert!(!notices.is_empty());
    let got = seqs(&received);
    assert!(
        got.windows(2).all(|w| w[0] < w[1]),
        "increasing, no duplicate"
    );
    // Each notice describes exactly the entries missing at its place.
    let by_seq = |s: u64| &all[(s - all[0].seq) as usize];
    for (at, count, from, until) in &notices {
        let lo = if *at == 0 {
            all[0].seq
        } else {
            got[at - 1] + 1
        };
        let hi = got.get(*at).copied().unwrap_or(all[all.len() - 1].seq + 1);
        assert_eq!(hi - lo, *count, "notice count matches the gap");
        let ts: Vec<i64> = (lo..hi).map(|s| by_seq(s).ts.0).collect();
        assert_eq!(*from, *ts.iter().min().unwrap());
        assert_eq!(*until, *ts.iter().max().unwrap());
    }
    let notice_total: u64 = notices.iter().map(|n| n.1).sum();
    assert_eq!(srv.live.stats().dropped, notice_total);

    // And it continues live.
    let more = srv.publish(vec![entry("pod-1", 1 << 40, "after")]);
    let got = read_entries(&mut stalled, 1, 1).await;
    assert_eq!(got[0].seq, more[0].seq);
    let n = all.len() as u64 + 1;
    eventually("healthy got all", || count.load(Ordering::Acquire) == n).await;
    drop(srv);
    let healthy_seqs = healthy_task.await.unwrap();
    assert_eq!(healthy_seqs.len(), all.len() + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stays_blocked_is_disconnected() {
    let mut o = opts();
    o.cfg.limits.sub_queue = 1000;
    o.cfg.limits.write_timeout = Duration::from_millis(500);
    let srv = TestServer::with(o).await;
    let mut stalled = small_buffer_client(srv.addr()).await;
    subscribe(&mut stalled, 1, "*").await;
    let mut healthy = Client::connect(srv.addr()).await;
    subscribe(&mut healthy, 1, "*").await;
    let (count, healthy_task) = spawn_counter(healthy, 1);

    let metrics = Arc::clone(&srv.metrics);
    let all = publish_until(&srv, &count, |_| metrics.serve.slow_disconnects.get() > 0).await;
    eventually("the stalled client is gone", || {
        metrics.serve.clients.get() == 1 && srv.live.stats().subscriptions == 1
    })
    .await;
    // It sees the end of the connection (with code 4008 when the close frame fit).
    if let Some((code, reason)) = stalled.closed().await {
        assert_eq!(code, 4008);
        assert!(reason.contains("too slow"), "{reason}");
    }
    let n = all.len() as u64;
    eventually("healthy got all", || count.load(Ordering::Acquire) == n).await;
    drop(srv);
    assert_eq!(healthy_task.await.unwrap().len(), all.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_and_resume_has_no_duplicate_and_no_gap() {
    let srv = Arc::new(TestServer::start().await);
    let mut c = Client::connect(srv.addr()).await;
    subscribe(&mut c, 1, "zqneedle").await;

    let publisher = {
        let srv = Arc::clone(&srv);
        tokio::spawn(async move {
            let mut all = Vec::new();
            for (k, chunk) in corpus(6000, 0).chunks(60).enumerate() {
                all.extend(srv.publish(chunk.to_vec()));
                if k % 4 == 0 {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
            all
        })
    };
    // Read part of the tail, then vanish without a close handshake.
    let first = read_entries(&mut c, 1, 300).await;
    let last = first.last().unwrap();
    drop(c);

    // Reconnect (the publisher is still going) and resume after the last seen.
    let mut c = Client::connect(srv.addr()).await;
    c.send(&ClientMsg::Subscribe {
        id: 1,
        query: "zqneedle".into(),
        backfill: 0,
        resume_after: Some(Cursor::of(last)),
    })
    .await;
    assert_eq!(c.next().await.unwrap(), ServerMsg::Subscribed { id: 1 });
    let all = publisher.await.unwrap();
    let want = matching(&all, "zqneedle");
    let rest = read_entries(&mut c, 1, want.len() - first.len()).await;
    let mut seen: Vec<u64> = seqs(&first);
    seen.extend(seqs(&rest));
    assert_eq!(seen, want, "first part + resumed part = everything, once");
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), seen.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_beyond_the_live_buffer_without_index_says_so() {
    let mut o = opts();
    o.ring = 100;
    let srv = TestServer::with(o).await;
    let mut all = Vec::new();
    for chunk in corpus(1000, 0).chunks(10) {
        all.extend(srv.publish(chunk.to_vec()));
    }
    let mut c = Client::connect(srv.addr()).await;
    c.send(&ClientMsg::Subscribe {
        id: 5,
        query: "*".into(),
        backfill: 0,
        resume_after: Some(Cursor::of(&all[10])),
    })
    .await;
    assert_eq!(c.next().await.unwrap(), ServerMsg::Subscribed { id: 5 });
    match c.next().await.unwrap() {
        ServerMsg::Error { id, error } => {
            assert_eq!(id, Some(5));
            assert_eq!(error.code, ErrorCode::Internal);
            assert!(error.message.contains("index"), "{}", error.message);
        }
        other => panic!("expected a warning, got {other:?}"),
    }
    // Then what the ring still holds, and live.
    let got = read_entries(&mut c, 5, 100).await;
    assert_eq!(
        seqs(&got),
        all[900..].iter().map(|e| e.seq).collect::<Vec<_>>()
    );
}

/// Big lines through a tail whose client reads nothing: the ring and the queue stay
/// under their byte caps, as the daemon's own gauges report them on /metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_lines_keep_ring_and_queues_under_their_byte_caps() {
    const RING: usize = 4 << 20;
    const QUEUE: usize = 1 << 20;
    let mut o = opts();
    o.ring_bytes = RING;
    o.cfg.limits.sub_queue_bytes = QUEUE;
    o.cfg.limits.write_timeout = Duration::from_secs(120);
    let srv = TestServer::with(o).await;
    let mut stalled = small_buffer_client(srv.addr()).await;
    subscribe(&mut stalled, 1, "*").await;
    let line = "y".repeat(64 << 10);
    let mut published = 0;
    for b in 0..8 {
        let batch: Vec<LogEntry> = (0..50)
            .map(|k| entry("pod-1", b * 50 + k, &format!("{k} {line}")))
            .collect();
        published += srv.publish(batch).len();
    }
    assert_eq!(published, 400);
    let m = srv.handle.metrics_addr().unwrap();
    let (code, body) = http_get(m, "/metrics").await;
    assert_eq!(code, 200);
    let value =
        |name: &str| metric_value(&body, name).unwrap_or_else(|| panic!("no {name} in\n{body}"));
    let ring = value("lookout_live_ring_bytes");
    let queue = value("lookout_live_queue_bytes");
    // 400 x 64 KiB = 25 MiB went through; the ring keeps at most its cap of it.
    assert!(ring > 0.0 && ring <= RING as f64, "ring {ring}");
    assert!(value("lookout_live_ring_entries") < 64.0);
    assert!(queue <= QUEUE as f64, "queue {queue}");
    assert!(value("lookout_live_dropped_total") > 0.0);
    let s = srv.live.stats();
    assert!(s.ring_bytes as usize <= RING && s.queue_bytes as usize <= QUEUE);
    // A backfill of everything the ring holds comes in frames of about 1 MiB, not
    // one frame of up to 500 lines (32 MiB, over what a client accepts).
    let mut c = Client::connect(srv.addr()).await;
    c.send(&ClientMsg::Subscribe {
        id: 2,
        query: "*".into(),
        backfill: 1000,
        resume_after: None,
    })
    .await;
    assert_eq!(c.reply(2).await, ServerMsg::Subscribed { id: 2 });
    let want = srv.live.snapshot().len();
    let mut got = 0;
    while got < want {
        match c.next().await.expect("open") {
            ServerMsg::Entries { entries, .. } => {
                assert!(
                    entries.len() <= 17,
                    "a frame of {} lines of 64 KiB",
                    entries.len()
                );
                got += entries.len();
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // The stalled client, reading at last, learns what it missed.
    loop {
        match stalled.next().await.expect("still connected") {
            ServerMsg::Dropped { sub: 1, count, .. } => {
                assert!(count > 0);
                break;
            }
            ServerMsg::Entries { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}
