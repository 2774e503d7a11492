//! `lookout`: the dashboard and CLI for lookoutd.
//!
//! # How the dashboard runs
//!
//! ```text
//!  terminal                                                      lookoutd
//!     │ crossterm events                                          ▲  │ websocket
//!     ▼                                                           │  ▼
//!  input thread                                   connection task (tokio, a worker
//!  term::spawn_input: a std thread, since          thread): client::spawn; reconnects
//!  crossterm's read blocks; polls 50 ms            with backoff, re-opens and resumes
//!     │                                            subscriptions, drops repeats
//!     │ Event::Key / Mouse (a resize is a Tick)      │ ClientEvent          ▲ ClientMsg
//!     │ mpsc, bounded 1024                           │ mpsc, bounded 256    │ mpsc, unbounded
//!     ▼                                              ▼                      │
//!  ┌─ event loop: run_dashboard, on the main thread (the runtime's block_on) ─┼──┐
//!  │ 1. wait for a key, a server event, the 250 ms tick or the next frame     │  │
//!  │ 2. drain every pending key, then server events for at most 8 ms          │  │
//!  │ 3. each one through App::on_event: the pure core, app/                   │  │
//!  │      keys → the focused pane's handler (app/mod.rs routes by App::ctx)   │  │
//!  │      server messages → the screen whose request they answer (replies)    │  │
//!  │      ticks → the clock the core sees (it never reads one itself)         │  │
//!  │ 4. drain App::outbox into the connection task's channel ─────────────────┘  │
//!  │    and App::term into the terminal (clipboard by OSC 52, mouse capture)     │
//!  │ 5. ui::draw(&App) into the terminal: at most every 33 ms, only if changed   │
//!  └─────────────────────────────────────────────────────────────────────────────┘
//! ```
//!
//! A flood of log lines costs one frame, never a frame per line, and keys are
//! handled first. When the screen cannot keep up, the bounded channel from the
//! connection task fills, the task stops reading the socket, and the daemon drops
//! for this client and says so (a red marker in the tail) instead of memory growing.
//! The core touches no terminal, socket or clock, so every behaviour is a unit test
//! on ratatui's `TestBackend` (`app/tests.rs`).
//!
//! The subcommands ([`cli`]) skip the core and the screen: `lookout tail` reads the
//! same connection task's events and prints them; the others open one
//! [`client::Conn`], ask, print and exit.
//!
//! # Modules
//!
//! - [`app`]: the pure core: state changed only by events; requests out in its outbox.
//! - [`clock`]: times in the user's zone, axis labels, ranges as typed.
//! - [`keys`]: the key vocabulary the panes' tables are written in, and their index.
//! - [`ui`]: drawing the state (one module per screen, plus the shared frame).
//! - [`client`]: the websocket client (handshake, requests, reconnect and resume),
//!   `lookout_shared::client`, re-exported so the screens and the CLI say `crate::client`.
//! - [`cli`]: the script-friendly subcommands.
//! - [`osc52`]: copying to the clipboard through the terminal (works over ssh and tmux).
//! - [`term`]: the terminal: raw mode, restore on exit, panic and Ctrl-C.

pub mod app;
pub mod cli;
pub mod clock;
pub use lookout_shared::client;
pub mod keys;
pub mod osc52;
pub mod term;
pub mod ui;

use std::time::{Duration, Instant};

use lookout_shared::Timestamp;
use tokio::sync::mpsc;

use app::{App, Event};

/// Frame interval cap (about 30 fps).
const FRAME: Duration = Duration::from_millis(33);
/// Longest stretch spent on connection messages before looking at the keyboard
/// again: keeps key latency far under 50 ms however fast lines arrive.
const MSG_BUDGET: Duration = Duration::from_millis(8);

/// Whether colour is wanted: `NO_COLOR` set to anything non-empty turns it off.
pub fn color_enabled() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Opens the dashboard and runs it until the user quits.
pub async fn run_dashboard(
    g: cli::Global,
    scrollback: usize,
    zone: clock::Zone,
) -> anyhow::Result<()> {
    let mut terminal = term::enter()?;
    let (key_tx, mut key_rx) = mpsc::channel(1024);
    let stop = term::spawn_input(key_tx);
    let (req_tx, mut ev_rx) = client::spawn(g.url.clone(), g.token.clone());
    let mut app = App::new(g.url, scrollback, color_enabled(), Timestamp::now());
    app.zone = zone;
    let history_path = app::history::History::default_path();
    if let Some(p) = &history_path {
        app.history = app::history::History::load(p);
    }
    let tmux = osc52::in_tmux();
    let mut last_draw = Instant::now() - FRAME;
    let mut dirty = true;
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let result = loop {
        // Wait for something, or for the next frame when there is something to draw.
        let wait = if dirty {
            FRAME.saturating_sub(last_draw.elapsed())
        } else {
            Duration::from_secs(3600)
        };
        tokio::select! {
            biased;
            k = key_rx.recv() => match k {
                Some(ev) => { app.on_event(ev); dirty = true; }
                None => break Ok(()),
            },
            m = ev_rx.recv() => match m {
                Some(ev) => { app.on_event(Event::Client(ev)); dirty = true; }
                None => break Err(anyhow::anyhow!("connection task ended")),
            },
            _ = tick.tick() => { app.on_event(Event::Tick(Timestamp::now())); dirty = true; }
            _ = tokio::time::sleep(wait), if dirty => {}
        }
        // Drain: keys first (latency), then server messages for a bounded time.
        while let Ok(ev) = key_rx.try_recv() {
            app.on_event(ev);
        }
        let budget = Instant::now() + MSG_BUDGET;
        while Instant::now() < budget {
            match ev_rx.try_recv() {
                Ok(ev) => app.on_event(Event::Client(ev)),
                Err(_) => break,
            }
        }
        for m in app.outbox.drain(..) {
            let _ = req_tx.send(m);
        }
        for r in std::mem::take(&mut app.term) {
            if let Err(e) = term::perform(&r, tmux) {
                app.message = Some((format!("terminal: {e}"), app.now));
            }
        }
        if app.quit {
            break Ok(());
        }
        if dirty && last_draw.elapsed() >= FRAME {
            terminal.draw(|f| ui::draw(f, &app))?;
            last_draw = Instant::now();
            dirty = false;
        }
    };
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    term::leave(&mut terminal);
    if let Some(p) = &history_path {
        if let Err(e) = app.history.save(p) {
            eprintln!("lookout: cannot save input history to {}: {e}", p.display());
        }
    }
    result
}
