//! The dashboard's state and how events change it: the pure core.
//!
//! `App::on_event` is the only way state changes: keys, mouse, messages from the
//! connection task and clock ticks go in; requests for the daemon come out in
//! [`App::outbox`]. No terminal, socket or clock is touched here, so every behaviour
//! is a unit test away (`tests.rs` drives it and renders on ratatui's `TestBackend`).
//!
//! This module is the shell: the screens, the dashboard-wide keys ([`GLOBAL`]), the
//! prompt and help overlays, and routing. Each pane lives in its own module with its
//! state, its key table and its handler side by side:
//!
//! - [`tail`]: the stream tree ([`tail::streams`]) and the log ([`tail::log`]).
//! - [`search`]: query box, histogram, results, context view.
//! - [`alerts`]: the rules list, the rule editor, the delete question.
//! - [`prompt`], [`help`]: the bottom prompt and the `?` overlay.
//! - [`input`]: the text field those with one share, and its editing keys.
//! - [`event`]: what one event shows as, collapsed or expanded (Tail and Search).
//! - `replies`: server messages dispatched to the screen whose request they answer.
//!
//! A key goes to the pane [`App::ctx`] names; the pane changes its own state, queues
//! requests, and returns an [`Effect`] for what only the shell can do (open the
//! prompt, say something, switch screens, or fall back to `q`/`Esc`: `q` quits,
//! `Esc` never does).

pub mod alerts;
pub mod complete;
pub mod event;
pub mod help;
pub mod history;
pub mod input;
mod outbox;
pub mod prompt;
mod replies;
pub mod search;
pub mod tables;
pub mod tail;

pub use outbox::Outbox;
pub use prompt::{Prompt, PromptKind};

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, MouseButton, MouseEvent, MouseEventKind};
use lookout_shared::protocol::ServerStatus;
use lookout_shared::Timestamp;

use crate::client::{ClientEvent, ServerInfo};
use crate::clock::Zone;
use crate::keys::{self, bind, Binding, Ctx, Key, ESC};
use alerts::Alerts;
use search::{Search, SearchFocus};
use tail::{StreamKey, Tail, TailFocus};

/// The three screens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Tail,
    Search,
    Alerts,
}

/// Where the connection stands, for the status bar.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnState {
    Connecting,
    Connected,
    /// Retrying at `at`; `fatal` errors (version, token) need the user.
    Down {
        reason: String,
        at: Timestamp,
        fatal: bool,
    },
}

/// Everything that can happen to the dashboard.
// Server messages dominate the size; they move once through a channel, and boxing
// each would add an allocation per batch for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Event {
    Key(KeyEvent),
    Mouse(MouseEvent),
    Client(ClientEvent),
    /// The wall clock moved (relative times, debounces, reconnect countdown).
    Tick(Timestamp),
}

/// What a pane asks of the dashboard after a key or a reply, beyond its own state
/// and the requests it queued.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Not this pane's key (the shell's `q`/`Esc` fallback gets it), or not this
    /// screen's reply.
    Pass,
    /// Handled; nothing more to do.
    Done,
    /// Open the bottom prompt with this text.
    Prompt(PromptKind, String),
    /// Offer to save what the screen shows (the prompt, with a dated file name).
    Save,
    /// A line in the message area.
    Say(String),
    /// Follow this stream live on the Tail screen.
    LiveTail(StreamKey),
    /// Put these lines on the clipboard (joined by newlines).
    Copy(Vec<String>),
    /// Search this query over all time, on the Search screen.
    SearchAll(String),
}

/// What the core asks of the terminal itself, drained by the event loop (the core
/// never writes to the terminal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TermRequest {
    /// Set the clipboard to this text (OSC 52, [`crate::osc52`]); already cut to
    /// [`crate::osc52::MAX_TEXT`].
    Copy(String),
    /// Turn mouse capture on or off.
    MouseCapture(bool),
}

/// Where a dashboard-wide key works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    Everywhere,
    /// Everywhere but the prompt, which takes every key while open.
    NotInPrompt,
    /// Not while typing into a field or answering a question.
    OutsideFields,
}

/// The dashboard-wide keys; `App::on_key` handles them before the pane does
/// (`q`/`Esc` after: a pane may use them first).
pub const GLOBAL: &[(Reach, Binding)] = &[
    (
        Reach::OutsideFields,
        bind(
            &[Key::Char('1'), Key::Char('2'), Key::Char('3')],
            "switch screen: Tail, Search, Alerts",
            false,
        ),
    ),
    (
        Reach::NotInPrompt,
        bind(&[F1, F2, F3], "switch screen, also while typing", false),
    ),
    (
        Reach::OutsideFields,
        bind(&[Key::Char('?')], "this help", true),
    ),
    (
        Reach::OutsideFields,
        bind(
            &[Key::Char('q')],
            "quit (asks if a rule edit is unsaved)",
            true,
        ),
    ),
    (
        Reach::OutsideFields,
        bind(&[ESC], "close what is open; never quits", false),
    ),
    (
        Reach::OutsideFields,
        bind(
            &[Key::Char('M')],
            "mouse capture off / on (off: the terminal selects text)",
            false,
        ),
    ),
    (Reach::Everywhere, bind(&[Key::Ctrl('c')], "quit", false)),
    (
        Reach::Everywhere,
        bind(
            &[Key::WheelUp, Key::WheelDown],
            "scroll the screen's log or list",
            false,
        ),
    ),
];

const F1: Key = Key::Code(KeyCode::F(1));
const F2: Key = Key::Code(KeyCode::F(2));
const F3: Key = Key::Code(KeyCode::F(3));

/// How long a message stays in the tab bar (ns).
const MESSAGE_NS: i64 = 5_000_000_000;

/// The whole dashboard.
#[derive(Debug)]
pub struct App {
    pub screen: Screen,
    pub url: String,
    pub conn: ConnState,
    pub server: ServerInfo,
    pub status: ServerStatus,
    pub tail: Tail,
    pub search: Search,
    pub alerts: Alerts,
    pub help: bool,
    pub prompt: Option<Prompt>,
    /// A one-line message (saved file, errors without a better place).
    pub message: Option<(String, Timestamp)>,
    pub quit: bool,
    pub color: bool,
    pub now: Timestamp,
    /// The zone times are shown and typed in (UTC until the binary sets it).
    pub zone: Zone,
    /// Past inputs per kind (`↑`/`↓`), loaded and saved by the event loop.
    pub history: history::History,
    /// Requests to send, drained by the event loop.
    pub outbox: Outbox,
    /// Requests for the terminal (clipboard, mouse), drained by the event loop.
    pub term: Vec<TermRequest>,
    /// Whether the dashboard takes the mouse (wheel, clicks); `M` toggles it so
    /// the terminal's own selection works without holding Shift.
    pub mouse_capture: bool,
}

impl App {
    pub fn new(url: String, scrollback: usize, color: bool, now: Timestamp) -> App {
        App {
            screen: Screen::Tail,
            url,
            conn: ConnState::Connecting,
            server: ServerInfo::default(),
            status: ServerStatus::default(),
            tail: Tail::new(scrollback),
            search: Search::new(),
            alerts: Alerts::default(),
            help: false,
            prompt: None,
            message: None,
            quit: false,
            color,
            now,
            zone: Zone::Utc,
            history: history::History::default(),
            outbox: Outbox::new(),
            term: Vec::new(),
            mouse_capture: true,
        }
    }

    /// A time as every screen writes it: this zone, the date when not today.
    pub fn clock_ms(&self, ts: Timestamp) -> String {
        self.zone.clock_ms(self.now, ts)
    }

    fn say(&mut self, msg: impl Into<String>) {
        self.message = Some((msg.into(), self.now));
    }

    /// Where keys go right now.
    pub fn ctx(&self) -> Ctx {
        if self.prompt.is_some() {
            return Ctx::Prompt;
        }
        match self.screen {
            Screen::Tail => match self.tail.focus {
                TailFocus::Streams => Ctx::TailStreams,
                TailFocus::Log => Ctx::TailLog,
            },
            Screen::Search => {
                if self.search.context.is_some() {
                    Ctx::SearchContext
                } else if self.search.patterns.is_some() {
                    Ctx::SearchPatterns
                } else {
                    match self.search.focus {
                        SearchFocus::Input => Ctx::SearchInput,
                        SearchFocus::Histogram => Ctx::SearchHistogram,
                        SearchFocus::Results => Ctx::SearchResults,
                    }
                }
            }
            Screen::Alerts => {
                if self.alerts.confirm.is_some() {
                    Ctx::Confirm
                } else if self.alerts.editor.is_some() {
                    Ctx::AlertsEditor
                } else {
                    Ctx::AlertsList
                }
            }
        }
    }

    /// Firing alert instances, from the live watch or else the status push.
    pub fn firing(&self) -> usize {
        self.alerts.firing().unwrap_or(self.status.firing as usize)
    }

    pub fn on_event(&mut self, ev: Event) {
        match ev {
            Event::Key(k) => {
                if k.kind != KeyEventKind::Release {
                    self.on_key(Key::of(&k))
                }
            }
            Event::Mouse(m) => self.on_mouse(m),
            Event::Client(c) => self.on_client(c),
            Event::Tick(now) => self.on_tick(now),
        }
    }

    /// The dashboard-wide keys ([`GLOBAL`]), then the focused pane's.
    fn on_key(&mut self, k: Key) {
        if k == Key::Ctrl('c') {
            self.quit = true;
            return;
        }
        if self.help {
            return self.on_help_key(k);
        }
        if self.prompt.is_some() {
            return self.on_prompt_key(k);
        }
        let ctx = self.ctx();
        let outside_fields = keys::globals_apply(ctx);
        let screen = match k {
            F1 => Some(Screen::Tail),
            F2 => Some(Screen::Search),
            F3 => Some(Screen::Alerts),
            Key::Char('1') if outside_fields => Some(Screen::Tail),
            Key::Char('2') if outside_fields => Some(Screen::Search),
            Key::Char('3') if outside_fields => Some(Screen::Alerts),
            _ => None,
        };
        if let Some(s) = screen {
            return self.switch(s);
        }
        if k == Key::Char('?') && outside_fields {
            self.help = true;
            return;
        }
        if k == Key::Char('M') && outside_fields {
            self.mouse_capture = !self.mouse_capture;
            self.term
                .push(TermRequest::MouseCapture(self.mouse_capture));
            self.say(if self.mouse_capture {
                "mouse capture on: the wheel scrolls (M gives it to the terminal)"
            } else {
                "mouse capture off: select with the terminal (M takes it back)"
            });
            return;
        }
        let (now, out) = (self.now, &mut self.outbox);
        let effect = match ctx {
            Ctx::TailStreams => self.tail.on_tree_key(k, out),
            Ctx::TailLog => self.tail.on_log_key(k),
            Ctx::SearchInput => {
                self.search
                    .on_query_key(k, out, &mut self.history, &self.tail.tree.streams)
            }
            Ctx::SearchHistogram => self.search.on_histogram_key(k, out),
            Ctx::SearchResults => self.search.on_results_key(k, out),
            Ctx::SearchContext => self.search.on_context_key(k, out),
            Ctx::SearchPatterns => self.search.on_patterns_key(k, out),
            Ctx::AlertsList => self.alerts.on_list_key(k, now, out),
            Ctx::AlertsEditor => self.alerts.on_editor_key(k, now, out),
            Ctx::Confirm => {
                let (effect, quit) = self.alerts.on_confirm_key(k, out);
                self.quit |= quit;
                effect
            }
            // Handled above: the prompt has every key while open.
            Ctx::Prompt => Effect::Done,
        };
        match effect {
            Effect::Pass => self.unhandled(k),
            e => self.apply(e),
        }
    }

    /// Does what a pane asked.
    fn apply(&mut self, e: Effect) {
        match e {
            Effect::Pass | Effect::Done => {}
            Effect::Prompt(kind, initial) => self.open_prompt(kind, initial),
            Effect::Save => self.open_prompt(PromptKind::Save, self.default_save_path()),
            Effect::Say(m) => self.say(m),
            Effect::LiveTail(key) => {
                self.tail.show_only(key, &mut self.outbox);
                self.screen = Screen::Tail;
            }
            Effect::Copy(lines) => self.copy(lines),
            Effect::SearchAll(query) => {
                self.search.search_all(&query, &mut self.outbox);
                self.screen = Screen::Search;
            }
        }
    }

    /// Asks the terminal to put `lines` on the clipboard, as many whole lines as
    /// one OSC 52 sequence carries, and says what went.
    fn copy(&mut self, lines: Vec<String>) {
        if lines.is_empty() {
            return self.say("nothing to copy");
        }
        let (text, n) = crate::osc52::fit(&lines);
        self.term.push(TermRequest::Copy(text));
        let what = if n == 1 { "1 line" } else { "lines" };
        if n < lines.len() || (n == 1 && lines[0].len() > crate::osc52::MAX_TEXT) {
            self.say(format!(
                "copied the first {n} of {} lines ({} bytes is what a terminal takes at once); s saves them all",
                lines.len(),
                crate::osc52::MAX_TEXT
            ));
        } else if n == 1 {
            self.say(format!("copied {what} to the clipboard"));
        } else {
            self.say(format!("copied {n} {what} to the clipboard"));
        }
        // A copied selection is done with, as in vim's visual mode.
        if self.screen == Screen::Tail {
            self.tail.log.mark = None;
        }
    }

    pub fn switch(&mut self, s: Screen) {
        self.screen = s;
    }

    /// `q`/`Esc` where the pane has no use for them. `q` quits, but asks first
    /// when a rule edit would be lost (on the Alerts screen, over the form). `Esc`
    /// never quits: panes and overlays use it to close themselves, so here there
    /// is nothing left to close, and a hint says how to leave. (It used to quit:
    /// one Esc too many after cancelling a prompt ended the session.)
    fn unhandled(&mut self, k: Key) {
        match k {
            Key::Char('q') => {
                if self.alerts.editor.as_ref().is_some_and(|e| e.is_edited()) {
                    self.screen = Screen::Alerts;
                    self.alerts.confirm = Some(alerts::Question::Discard { then_quit: true });
                } else {
                    self.quit = true;
                }
            }
            ESC => self.say("nothing to close · q quits"),
            _ => {}
        }
    }

    /// The wheel reaches the screen, whatever pane or overlay has the keys; a
    /// left click on a Tail line moves the cursor there.
    fn on_mouse(&mut self, m: MouseEvent) {
        let up = match m.kind {
            MouseEventKind::ScrollUp => true,
            MouseEventKind::ScrollDown => false,
            MouseEventKind::Down(MouseButton::Left)
                if self.screen == Screen::Tail && !self.help && self.prompt.is_none() =>
            {
                return self.tail.on_click(m.column, m.row);
            }
            _ => return,
        };
        match self.screen {
            Screen::Tail => self.tail.on_wheel(up),
            Screen::Search => self.search.on_wheel(up, &mut self.outbox),
            Screen::Alerts => self.alerts.on_wheel(up),
        }
    }

    fn on_tick(&mut self, now: Timestamp) {
        self.now = now;
        if let Some((_, at)) = &self.message {
            if now.nanos().saturating_sub(at.nanos()) > MESSAGE_NS {
                self.message = None;
            }
        }
        self.alerts.on_tick(now, &mut self.outbox);
    }

    /// The reconnect countdown, for the status bar.
    pub fn retry_in(&self) -> Option<Duration> {
        match &self.conn {
            ConnState::Down { at, .. } => {
                let ns = at.nanos().saturating_sub(self.now.nanos()).max(0);
                Some(Duration::from_nanos(ns as u64))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod copying;
#[cfg(test)]
mod event_tests;
#[cfg(test)]
mod filter_tests;
#[cfg(test)]
mod keywalk;
#[cfg(test)]
mod patterns_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod traps;
