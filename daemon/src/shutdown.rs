//! One shutdown signal, for threads and async tasks alike.
//!
//! The model is mini-redis's: a single signal says "stop", and completion is noticed
//! by channels closing rather than by flags being polled. A [`ShutdownTrigger`]
//! fires (or is dropped, so a panic that unwinds its owner still stops everything);
//! every [`Shutdown`] listener sees it at once:
//!
//! - a thread blocked in `crossbeam_channel::select!` includes [`Shutdown::channel`],
//!   which disconnects at shutdown;
//! - a thread that sleeps between rounds sleeps in [`Shutdown::wait_timeout`], which
//!   returns early at shutdown;
//! - an async task awaits [`Shutdown::wait`].
//!
//! Nothing is ever sent on the channels: the signal is the senders being dropped,
//! which no receiver can miss and which needs no cleanup. Stages downstream of the
//! collector do not listen at all: they end when the channel feeding them closes
//! (see [`crate::pipeline`]).
//!
//! [`on_signals`] ties a trigger to SIGTERM and SIGINT through `tokio::signal`.

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use tokio::sync::watch;

/// Fires the shutdown signal; [`ShutdownTrigger::listener`] hands out listeners.
pub struct ShutdownTrigger {
    senders: Mutex<Option<(Sender<()>, watch::Sender<()>)>>,
    listener: Shutdown,
}

impl Default for ShutdownTrigger {
    fn default() -> Self {
        Self::new()
    }
}

impl ShutdownTrigger {
    pub fn new() -> ShutdownTrigger {
        let (tx, rx) = crossbeam_channel::bounded(0);
        let (wtx, wrx) = watch::channel(());
        ShutdownTrigger {
            senders: Mutex::new(Some((tx, wtx))),
            listener: Shutdown { rx, watch: wrx },
        }
    }

    /// A listener; clone it freely.
    pub fn listener(&self) -> Shutdown {
        self.listener.clone()
    }

    /// Signals every listener. Idempotent; dropping the trigger does the same.
    pub fn fire(&self) {
        crate::sync::lock(&self.senders).take();
    }
}

/// Listens for the shutdown signal of one [`ShutdownTrigger`].
#[derive(Clone, Debug)]
pub struct Shutdown {
    rx: Receiver<()>,
    watch: watch::Receiver<()>,
}

impl Shutdown {
    /// A listener that never fires, for tools and tests that run a stage by hand.
    pub fn never() -> Shutdown {
        static NEVER: OnceLock<ShutdownTrigger> = OnceLock::new();
        NEVER.get_or_init(ShutdownTrigger::new).listener()
    }

    /// Whether shutdown has been signalled.
    pub fn is_triggered(&self) -> bool {
        matches!(self.rx.try_recv(), Err(TryRecvError::Disconnected))
    }

    /// Sleeps for `timeout`, or less if shutdown comes; returns whether it came.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        matches!(
            self.rx.recv_timeout(timeout),
            Err(RecvTimeoutError::Disconnected)
        )
    }

    /// Blocks the calling thread until shutdown.
    pub fn wait_blocking(&self) {
        let _ = self.rx.recv();
    }

    /// A channel that disconnects at shutdown, for `crossbeam_channel::select!`
    /// (`recv(shutdown.channel()) -> _ => break`). Nothing is ever received on it.
    pub fn channel(&self) -> &Receiver<()> {
        &self.rx
    }

    /// Resolves at shutdown (at once if it already came).
    pub async fn wait(&self) {
        let mut w = self.watch.clone();
        // Nothing is ever sent: `changed` only returns when the sender is dropped.
        while w.changed().await.is_ok() {}
    }
}

/// A listener fired by the first SIGTERM or SIGINT. The handlers are installed
/// before this returns (so a signal during startup is not the default "terminate
/// now", which would skip the final commit); a small thread waits for them.
pub fn on_signals() -> std::io::Result<Shutdown> {
    use tokio::signal::unix::{signal, SignalKind};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    let (mut term, mut int) = rt.block_on(async {
        Ok::<_, std::io::Error>((
            signal(SignalKind::terminate())?,
            signal(SignalKind::interrupt())?,
        ))
    })?;
    let trigger = ShutdownTrigger::new();
    let listener = trigger.listener();
    std::thread::Builder::new()
        .name("lookout-signals".into())
        .spawn(move || {
            rt.block_on(async {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
                    _ = int.recv() => tracing::info!("SIGINT: shutting down"),
                }
            });
            trigger.fire();
        })?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn every_listener_sees_one_fire() {
        let t = ShutdownTrigger::new();
        let a = t.listener();
        let b = a.clone();
        assert!(!a.is_triggered());
        assert!(!a.wait_timeout(Duration::from_millis(10)));
        let waiter = std::thread::spawn(move || {
            let t0 = Instant::now();
            assert!(b.wait_timeout(Duration::from_secs(30)));
            t0.elapsed()
        });
        std::thread::sleep(Duration::from_millis(50));
        t.fire();
        t.fire();
        assert!(waiter.join().unwrap() < Duration::from_secs(10));
        assert!(a.is_triggered());
        crossbeam_channel::select! {
            recv(a.channel()) -> m => assert!(m.is_err()),
            default(Duration::from_secs(5)) => panic!("channel not disconnected"),
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(5), a.wait())
                .await
                .unwrap()
        });
    }

    #[test]
    fn dropping_the_trigger_fires_and_never_does_not() {
        let t = ShutdownTrigger::new();
        let a = t.listener();
        drop(t);
        assert!(a.is_triggered());
        assert!(!Shutdown::never().wait_timeout(Duration::from_millis(10)));
    }
}
