//! The websocket client over real loopback sockets, against a peer that plays the
//! daemon's side of the protocol step by step (the real daemon is exercised by the
//! TUI's `cli` and `tmux` tests): handshake errors, the frame limit, and reconnect +
//! resume without repeats.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use lookout_shared::client::{self, ClientError, ClientEvent, Conn};
use lookout_shared::limits::MAX_FRAME_BYTES;
use lookout_shared::protocol::{
    ClientMsg, Cursor, ErrorBody, ErrorCode, ServerMsg, PROTOCOL_VERSION,
};
use lookout_shared::{LogEntry, Timestamp};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

type Ws = WebSocketStream<TcpStream>;

async fn send(ws: &mut Ws, m: &ServerMsg) {
    ws.send(Message::text(serde_json::to_string(m).unwrap()))
        .await
        .unwrap();
}

async fn recv(ws: &mut Ws) -> ClientMsg {
    loop {
        match ws.next().await.unwrap().unwrap() {
            Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
            _ => continue,
        }
    }
}

/// Accepts one connection and does the server side of the handshake.
async fn accept(l: &TcpListener, reply: Option<ServerMsg>) -> Ws {
    let (s, _) = l.accept().await.unwrap();
    let mut ws = tokio_tungstenite::accept_async(s).await.unwrap();
    send(
        &mut ws,
        &ServerMsg::Hello {
            protocol: PROTOCOL_VERSION,
            server: "peer".into(),
            node: "n1".into(),
            auth_required: false,
        },
    )
    .await;
    let hello = recv(&mut ws).await;
    assert!(matches!(hello, ClientMsg::Hello { protocol, .. } if protocol == PROTOCOL_VERSION));
    send(&mut ws, &reply.unwrap_or(ServerMsg::Welcome {})).await;
    ws
}

fn entry(seq: u64) -> LogEntry {
    LogEntry {
        ts: Timestamp(1_000 * seq as i64),
        message: format!("line {seq}"),
        seq,
        ..Default::default()
    }
}

#[tokio::test]
async fn version_mismatch_and_bad_token_are_clear_errors() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", l.local_addr().unwrap());
    let server = tokio::spawn(async move {
        for code in [ErrorCode::VersionMismatch, ErrorCode::Unauthorized] {
            let _ws = accept(
                &l,
                Some(ServerMsg::Error {
                    id: None,
                    error: ErrorBody {
                        code,
                        message: "no".into(),
                        position: None,
                        field: None,
                    },
                }),
            )
            .await;
        }
    });
    let e = Conn::connect(&url, None).await.err().unwrap();
    assert!(matches!(e, ClientError::VersionMismatch { .. }), "{e}");
    assert!(e.is_fatal());
    assert!(e.to_string().contains("protocol"), "{e}");
    let e = Conn::connect(&url, Some("wrong")).await.err().unwrap();
    assert!(matches!(e, ClientError::Unauthorized(_)), "{e}");
    assert!(e.to_string().contains("--token"), "{e}");
    server.await.unwrap();
}

#[tokio::test]
async fn a_request_over_the_frame_limit_is_refused_before_sending() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", l.local_addr().unwrap());
    let peer = tokio::spawn(async move {
        let mut ws = accept(&l, None).await;
        // The only request that arrives is the small one.
        let m = recv(&mut ws).await;
        send(&mut ws, &ServerMsg::Ok { id: 2 }).await;
        m
    });
    let mut conn = Conn::connect(&url, None).await.unwrap();
    let big = ClientMsg::Search {
        id: 1,
        params: lookout_shared::protocol::SearchParams {
            query: "a".repeat(MAX_FRAME_BYTES),
            ..Default::default()
        },
    };
    match conn.send(&big).await {
        Err(ClientError::TooLarge { bytes, limit }) => {
            assert_eq!(limit, MAX_FRAME_BYTES);
            assert!(bytes > MAX_FRAME_BYTES);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    conn.send(&ClientMsg::Unsubscribe { id: 2, sub: 9 })
        .await
        .unwrap();
    assert_eq!(conn.recv().await.unwrap(), ServerMsg::Ok { id: 2 });
    assert_eq!(
        peer.await.unwrap(),
        ClientMsg::Unsubscribe { id: 2, sub: 9 }
    );
}

#[tokio::test]
async fn reconnects_and_resumes_after_the_last_entry_without_repeats() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", l.local_addr().unwrap());
    let server = tokio::spawn(async move {
        // First connection: the tail starts, two entries, then the connection dies.
        let mut ws = accept(&l, None).await;
        let ClientMsg::Subscribe {
            id, resume_after, ..
        } = recv(&mut ws).await
        else {
            panic!("expected subscribe")
        };
        assert_eq!(resume_after, None);
        send(&mut ws, &ServerMsg::Subscribed { id }).await;
        send(
            &mut ws,
            &ServerMsg::Entries {
                sub: id,
                entries: vec![entry(1), entry(2)],
            },
        )
        .await;
        drop(ws);
        // Second connection: the client re-subscribes after entry 2 by itself.
        let mut ws = accept(&l, None).await;
        let ClientMsg::Subscribe {
            id: id2,
            resume_after,
            backfill,
            ..
        } = recv(&mut ws).await
        else {
            panic!("expected subscribe")
        };
        assert_eq!(id2, id);
        assert_eq!(backfill, 0);
        assert_eq!(
            resume_after,
            Some(Cursor {
                ts: Timestamp(2_000),
                seq: 2
            })
        );
        // A repeat of 2 (an overlapping server) must not reach the screen.
        send(
            &mut ws,
            &ServerMsg::Entries {
                sub: id,
                entries: vec![entry(2), entry(3)],
            },
        )
        .await;
        // Keep the socket open until the client is done.
        let _ = tokio::time::timeout(Duration::from_secs(20), ws.next()).await;
    });

    let (tx, mut rx) = client::spawn(url, None);
    tx.send(ClientMsg::Subscribe {
        id: 1,
        query: String::new(),
        backfill: 10,
        resume_after: None,
    })
    .unwrap();
    let mut seqs = Vec::new();
    let mut saw_disconnect = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while seqs.len() < 3 {
        let ev = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("deadline")
            .unwrap();
        match ev {
            ClientEvent::Msg(ServerMsg::Entries { entries, .. }) => {
                seqs.extend(entries.iter().map(|e| e.seq))
            }
            ClientEvent::Disconnected {
                fatal, retry_in, ..
            } => {
                assert!(!fatal);
                assert!(retry_in <= Duration::from_secs(1));
                saw_disconnect = true;
            }
            _ => {}
        }
    }
    assert!(saw_disconnect);
    assert_eq!(seqs, vec![1, 2, 3]);
    drop(tx);
    drop(rx);
    server.abort();
}
