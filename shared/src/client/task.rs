//! The long-lived connection task of a dashboard (and of the coming cluster hub):
//! reconnects with backoff and re-opens its subscriptions where they stopped.

use std::time::Duration;

use tokio::sync::mpsc;

use super::conn::{ClientError, Conn, ServerInfo};
use super::resume::Resumer;
use crate::protocol::{ClientMsg, ServerMsg};

/// What the connection task tells the dashboard.
#[allow(clippy::large_enum_variant)] // moved once through a channel; see `app::Event`
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    Connecting,
    Connected(ServerInfo),
    /// Lost or failed; trying again after `retry_in`.
    Disconnected {
        reason: String,
        retry_in: Duration,
        fatal: bool,
    },
    Msg(ServerMsg),
}

/// Backoff between reconnects: 0.5 s doubling to 10 s; fatal errors retry every 30 s
/// (the daemon may be upgraded under us).
pub fn backoff(attempt: u32, fatal: bool) -> Duration {
    if fatal {
        return Duration::from_secs(30);
    }
    let ms = 500u64.saturating_mul(1u64 << attempt.min(5));
    Duration::from_millis(ms.min(10_000))
}

/// Starts the long-lived connection task. Requests sent while disconnected are
/// dropped (the screens re-issue them on `Connected`), except subscriptions, which
/// are remembered and re-opened on every reconnect.
pub fn spawn(
    url: String,
    token: Option<String>,
) -> (
    mpsc::UnboundedSender<ClientMsg>,
    mpsc::Receiver<ClientEvent>,
) {
    let (req_tx, req_rx) = mpsc::unbounded_channel();
    let (ev_tx, ev_rx) = mpsc::channel(256);
    tokio::spawn(run(url, token, req_rx, ev_tx));
    (req_tx, ev_rx)
}

async fn run(
    url: String,
    token: Option<String>,
    mut req_rx: mpsc::UnboundedReceiver<ClientMsg>,
    ev_tx: mpsc::Sender<ClientEvent>,
) {
    let mut resumer = Resumer::default();
    let mut attempt: u32 = 0;
    loop {
        if ev_tx.send(ClientEvent::Connecting).await.is_err() {
            return;
        }
        let (reason, fatal) = match Conn::connect(&url, token.as_deref()).await {
            Ok(mut conn) => {
                attempt = 0;
                if ev_tx
                    .send(ClientEvent::Connected(conn.info.clone()))
                    .await
                    .is_err()
                {
                    return;
                }
                match session(&mut conn, &mut resumer, &mut req_rx, &ev_tx).await {
                    Ok(()) => return, // the UI went away
                    Err(e) => (e.short(), e.is_fatal()),
                }
            }
            Err(e) => (e.short(), e.is_fatal()),
        };
        let wait = backoff(attempt, fatal);
        attempt = attempt.saturating_add(1);
        let ev = ClientEvent::Disconnected {
            reason,
            retry_in: wait,
            fatal,
        };
        if ev_tx.send(ev).await.is_err() {
            return;
        }
        // While waiting, keep taking requests so subscriptions changed meanwhile are
        // remembered; everything else is dropped.
        let sleep = tokio::time::sleep(wait);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => break,
                m = req_rx.recv() => match m {
                    Some(m) => resumer.outgoing(&m),
                    None => return,
                },
            }
        }
    }
}

/// Pumps one connection until it fails (`Err`) or the UI hangs up (`Ok`).
async fn session(
    conn: &mut Conn,
    resumer: &mut Resumer,
    req_rx: &mut mpsc::UnboundedReceiver<ClientMsg>,
    ev_tx: &mpsc::Sender<ClientEvent>,
) -> Result<(), ClientError> {
    for m in resumer.resume() {
        conn.send(&m).await?;
    }
    loop {
        tokio::select! {
            m = req_rx.recv() => match m {
                Some(m) => {
                    resumer.outgoing(&m);
                    conn.send(&m).await?;
                }
                None => return Ok(()),
            },
            m = conn.recv() => {
                let m = m?;
                if let Some(m) = resumer.incoming(m) {
                    if ev_tx.send(ClientEvent::Msg(m)).await.is_err() {
                        return Ok(());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff(0, false), Duration::from_millis(500));
        assert_eq!(backoff(1, false), Duration::from_secs(1));
        assert_eq!(backoff(30, false), Duration::from_secs(10));
        assert_eq!(backoff(0, true), Duration::from_secs(30));
    }
}
