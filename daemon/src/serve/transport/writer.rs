//! The writer task: the only thing that writes to a connection's socket.
//!
//! It takes what the reader and the request handlers queue ([`Out`]), drains the
//! connection's active tails a frame's worth at a time (so one busy tail cannot
//! starve the others or the replies), pings, pushes the server status, and closes
//! the connection when told to, when the server shuts down, or when the client stops
//! answering or stops taking frames.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use futures_util::stream::SplitSink;
use futures_util::SinkExt;
use lookout_shared::limits::{close, FRAME_ENTRIES};
use lookout_shared::protocol::{ReqId, ServerMsg};
use lookout_shared::LogEntry;
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::time::Instant;

use super::frame::{close_msg, text, EntriesFrame};
use super::{Feed, Out, Transport};
use crate::live::Item;

/// Most frames gathered before one write: enough to batch a burst of replies into
/// one flush, few enough that tails are drained again soon.
const WRITE_BATCH: usize = 64;

/// An `entries` frame is closed once its messages reach this many bytes, before
/// [`FRAME_ENTRIES`]: 500 lines of 64 KiB made a 32 MiB frame, over the 16 MiB a
/// websocket client accepts by default. One line (at most 1 MiB) always fits.
const FRAME_BYTES: usize = 1 << 20;

/// Longest wait to send what is queued and the close frame when closing on purpose
/// (capped: a shutdown should not wait the full write timeout per client).
const CLOSE_WRITE_MAX: Duration = Duration::from_secs(5);

/// Wait to send the 4008 close to a client that already failed to take a frame.
const TOO_SLOW_CLOSE: Duration = Duration::from_secs(1);

pub(super) struct Writer {
    pub transport: Arc<Transport>,
    pub sink: SplitSink<WebSocket, Message>,
    pub rx: mpsc::Receiver<Out>,
    pub wake: Arc<Notify>,
    pub active: Vec<(ReqId, Arc<dyn Feed>)>,
    pub frames: Vec<Message>,
    /// When the connection started; `last_heard` counts milliseconds from it.
    pub epoch: Instant,
    pub last_heard: Arc<AtomicU64>,
    /// Dropped when the writer ends, which tells the reader.
    pub _gone: oneshot::Sender<()>,
}

enum Flow {
    Continue,
    Close(u16, String),
    Stop,
}

impl Writer {
    pub async fn run(mut self) {
        let limits = self.transport.limits.clone();
        let mut ping = tokio::time::interval(limits.ping_interval);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ping.tick().await;
        let mut status = self.transport.status.clone();
        let mut status_alive = true;
        let shutdown = self.transport.shutdown.clone();
        // The current status right away, then on every change.
        let first = status.borrow_and_update().clone();
        self.frames.push(text(&ServerMsg::Status {
            status: (*first).clone(),
        }));
        loop {
            let flow = if !self.frames.is_empty() {
                Flow::Continue
            } else {
                tokio::select! {
                    biased;
                    _ = shutdown.wait() => {
                        Flow::Close(close::GOING_AWAY, "server shutting down".into())
                    }
                    o = self.rx.recv() => match o {
                        None => Flow::Stop,
                        Some(o) => {
                            let mut f = self.handle(o);
                            while matches!(f, Flow::Continue) && self.frames.len() < WRITE_BATCH {
                                match self.rx.try_recv() {
                                    Ok(o) => f = self.handle(o),
                                    Err(_) => break,
                                }
                            }
                            f
                        }
                    },
                    _ = self.wake.notified() => Flow::Continue,
                    _ = ping.tick() => {
                        let heard = self.last_heard.load(Ordering::Relaxed);
                        let silent = self.epoch.elapsed().saturating_sub(Duration::from_millis(heard));
                        if silent > limits.ping_timeout {
                            self.transport.metrics.serve.slow_disconnects.inc();
                            Flow::Close(
                                close::KEEPALIVE,
                                format!("no pong or message for {} s", silent.as_secs()),
                            )
                        } else {
                            self.frames.push(Message::Ping(Default::default()));
                            Flow::Continue
                        }
                    }
                    r = status.changed(), if status_alive => {
                        if r.is_ok() {
                            let s = status.borrow_and_update().clone();
                            self.frames.push(text(&ServerMsg::Status { status: (*s).clone() }));
                        } else {
                            status_alive = false;
                        }
                        Flow::Continue
                    }
                }
            };
            let more = match flow {
                Flow::Continue => self.drain_tails(),
                Flow::Close(code, reason) => {
                    let frames = std::mem::take(&mut self.frames);
                    let _ =
                        tokio::time::timeout(limits.write_timeout.min(CLOSE_WRITE_MAX), async {
                            for f in frames {
                                self.sink.feed(f).await?;
                            }
                            self.sink.send(close_msg(code, &reason)).await
                        })
                        .await;
                    return;
                }
                Flow::Stop => return,
            };
            if !self.frames.is_empty() {
                let frames = std::mem::take(&mut self.frames);
                let sent = tokio::time::timeout(limits.write_timeout, async {
                    for f in frames {
                        self.sink.feed(f).await?;
                    }
                    self.sink.flush().await
                })
                .await;
                match sent {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return,
                    Err(_) => {
                        self.transport.metrics.serve.slow_disconnects.inc();
                        let reason = format!(
                            "client too slow: a frame waited more than {} s",
                            limits.write_timeout.as_secs_f64()
                        );
                        tracing::info!(reason, "disconnecting a stalled client");
                        let _ = tokio::time::timeout(
                            TOO_SLOW_CLOSE,
                            self.sink.send(close_msg(close::TOO_SLOW, &reason)),
                        )
                        .await;
                        return;
                    }
                }
            }
            if more {
                self.wake.notify_one();
            }
        }
    }

    fn handle(&mut self, o: Out) -> Flow {
        match o {
            Out::Msg(m) => {
                if matches!(*m, ServerMsg::Error { .. }) {
                    self.transport.metrics.serve.client_errors.inc();
                }
                self.frames.push(text(&m));
            }
            Out::Initial { id, feed, items } => {
                if !feed.is_closed() {
                    self.push_items(id, &items);
                }
            }
            Out::Activate { id, feed } => {
                if !feed.is_closed() {
                    self.active.push((id, feed));
                }
            }
            Out::Close(code, reason) => return Flow::Close(code, reason),
        }
        Flow::Continue
    }

    /// One round over the active tails: up to a frame's worth each. Returns whether
    /// any has more waiting.
    fn drain_tails(&mut self) -> bool {
        self.active.retain(|(_, f)| !f.is_closed());
        let mut more = false;
        for i in 0..self.active.len() {
            let Some((id, feed)) = self.active.get(i).cloned() else {
                continue;
            };
            let items = feed.drain(FRAME_ENTRIES);
            if !items.is_empty() {
                self.push_items(id, &items);
            }
            more |= feed.has_pending();
        }
        more
    }

    /// Frames `items` as `entries` frames of at most [`FRAME_ENTRIES`] (and about
    /// [`FRAME_BYTES`]), with each
    /// drop notice in its place between them.
    fn push_items(&mut self, sub: ReqId, items: &[Item]) {
        let mut batch: Vec<&LogEntry> = Vec::new();
        let mut bytes = 0usize;
        let mut sent = 0u64;
        for item in items {
            match item {
                Item::Entry(e) => {
                    batch.push(e);
                    bytes += e.message.len();
                    if batch.len() >= FRAME_ENTRIES || bytes >= FRAME_BYTES {
                        bytes = 0;
                        sent += batch.len() as u64;
                        let entries = std::mem::take(&mut batch);
                        self.frames.push(text(&EntriesFrame { sub, entries }));
                    }
                }
                Item::Dropped(d) => {
                    if !batch.is_empty() {
                        bytes = 0;
                        sent += batch.len() as u64;
                        let entries = std::mem::take(&mut batch);
                        self.frames.push(text(&EntriesFrame { sub, entries }));
                    }
                    self.frames.push(text(&ServerMsg::Dropped {
                        sub,
                        count: d.count,
                        from: d.from,
                        until: d.until,
                    }));
                }
            }
        }
        if !batch.is_empty() {
            sent += batch.len() as u64;
            self.frames.push(text(&EntriesFrame {
                sub,
                entries: batch,
            }));
        }
        self.transport.metrics.serve.entries_sent.inc_by(sent);
    }
}
