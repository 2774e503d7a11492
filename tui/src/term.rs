//! The terminal: raw mode and the alternate screen in, always restored on the way
//! out — normal exit, error, panic (hook) and Ctrl-C (a key in raw mode).

use std::io::{self, Stdout};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{self, DisableMouseCapture, EnableMouseCapture};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use tokio::sync::mpsc;

use crate::app::{Event, TermRequest};

pub type Term = Terminal<CrosstermBackend<Stdout>>;

fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(
        io::stdout(),
        DisableMouseCapture,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}

/// Switches to the dashboard's screen and installs a panic hook that gives the
/// terminal back before the panic message prints.
pub fn enter() -> anyhow::Result<Term> {
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        prev(info);
    }));
    enable_raw_mode()?;
    if let Err(e) = execute!(io::stdout(), EnterAlternateScreen, EnableMouseCapture) {
        restore();
        return Err(e.into());
    }
    let mut t = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    t.clear()?;
    t.hide_cursor()?;
    Ok(t)
}

pub fn leave(t: &mut Term) {
    let _ = t.show_cursor();
    restore();
}

/// Reads terminal events on a thread (crossterm's reader blocks) and forwards keys
/// and mouse events; set the returned flag to stop it.
pub fn spawn_input(tx: mpsc::Sender<Event>) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    std::thread::spawn(move || {
        while !flag.load(Ordering::Relaxed) {
            match event::poll(Duration::from_millis(50)) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(_) => return,
            }
            let ev = match event::read() {
                Ok(event::Event::Key(k)) => Event::Key(k),
                Ok(event::Event::Mouse(m)) => Event::Mouse(m),
                // A resize just needs a redraw; a tick asks for one.
                Ok(event::Event::Resize(..)) => Event::Tick(lookout_shared::Timestamp::now()),
                Ok(_) => continue,
                Err(_) => return,
            };
            if tx.blocking_send(ev).is_err() {
                return;
            }
        }
    });
    stop
}

/// Carries out what the core asked of the terminal: the clipboard (OSC 52,
/// written straight to stdout between frames: it draws nothing) or mouse capture.
pub fn perform(r: &TermRequest, tmux: bool) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = io::stdout();
    match r {
        TermRequest::Copy(text) => {
            out.write_all(&crate::osc52::sequence(text, tmux)?)?;
            out.flush()?;
        }
        TermRequest::MouseCapture(true) => execute!(out, EnableMouseCapture)?,
        TermRequest::MouseCapture(false) => execute!(out, DisableMouseCapture)?,
    }
    Ok(())
}
