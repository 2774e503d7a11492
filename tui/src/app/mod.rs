//! The dashboard's state and how events change it.
//!
//! [`App::on_event`] is the only way state changes: keys, mouse, messages from the
//! connection task and clock ticks go in; requests for the daemon come out in
//! [`App::outbox`]. No terminal, socket or clock is touched here, so every behaviour
//! is a unit test away.

pub mod alerts;
pub mod input;
pub mod search;
pub mod tail;

use std::path::PathBuf;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent, MouseEventKind};
use lookout_shared::protocol::{ClientMsg, ErrorBody, ReqId, ServerMsg, ServerStatus, TimeRange};
use lookout_shared::Timestamp;

use crate::client::{ClientEvent, ServerInfo};
use crate::keys::Ctx;
use alerts::{Alerts, Editor};
use input::TextInput;
use search::{RangeChoice, Search, SearchFocus};
use tail::{Tail, TailFocus, TailLine, TimeFmt, TreeRow};

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

/// What a one-line prompt at the bottom is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    Filter,
    Find,
    Save,
    Range,
}

#[derive(Debug, Clone)]
pub struct Prompt {
    pub kind: PromptKind,
    pub input: TextInput,
}

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
    /// Requests to send, drained by the event loop.
    pub outbox: Vec<ClientMsg>,
    next_id: ReqId,
    streams_watch: Option<ReqId>,
    alerts_watch: Option<ReqId>,
}

const BACKFILL: u32 = 500;
const DEBOUNCE_NS: i64 = 400_000_000;

/// `HH:MM` of a timestamp (UTC), for axis labels and ranges.
pub fn hm(ts: Timestamp) -> String {
    ts.to_datetime().format("%H:%M").to_string()
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
            outbox: Vec::new(),
            next_id: 1,
            streams_watch: None,
            alerts_watch: None,
        }
    }

    fn id(&mut self) -> ReqId {
        let id = self.next_id;
        self.next_id += 1;
        id
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
                } else {
                    match self.search.focus {
                        SearchFocus::Input => Ctx::SearchInput,
                        SearchFocus::Histogram => Ctx::SearchHistogram,
                        SearchFocus::Results => Ctx::SearchResults,
                    }
                }
            }
            Screen::Alerts => {
                if self.alerts.confirm_delete.is_some() {
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
                    self.on_key(k)
                }
            }
            Event::Mouse(m) => self.on_mouse(m),
            Event::Client(c) => self.on_client(c),
            Event::Tick(now) => self.on_tick(now),
        }
    }

    // ---- connection and server messages -------------------------------------------

    fn on_client(&mut self, ev: ClientEvent) {
        match ev {
            ClientEvent::Connecting => {
                if !matches!(self.conn, ConnState::Down { .. }) {
                    self.conn = ConnState::Connecting;
                }
            }
            ClientEvent::Connected(info) => {
                let was_down = matches!(self.conn, ConnState::Down { .. });
                self.conn = ConnState::Connected;
                self.server = info;
                if was_down && self.tail.sub.is_some() {
                    self.tail
                        .push([TailLine::Notice(format!("reconnected to {}", self.url))]);
                }
                self.on_connected();
            }
            ClientEvent::Disconnected {
                reason,
                retry_in,
                fatal,
            } => {
                if matches!(self.conn, ConnState::Connected) && self.tail.sub.is_some() {
                    self.tail
                        .push([TailLine::Notice(format!("connection lost: {reason}"))]);
                }
                let at = self
                    .now
                    .add_nanos(i64::try_from(retry_in.as_nanos()).unwrap_or(i64::MAX));
                self.conn = ConnState::Down { reason, at, fatal };
                // The re-opened alert watch starts with the full list again.
                self.alerts.alerts_known = false;
                // Replies to requests in flight will never come.
                self.search.req = None;
                self.search.more_req = None;
                self.alerts.list_req = None;
            }
            ClientEvent::Msg(m) => self.on_server(m),
        }
    }

    /// Fresh connection: open the watches the first time (the connection task
    /// re-opens them after a reconnect) and reload what lists show.
    fn on_connected(&mut self) {
        if self.streams_watch.is_none() {
            let id = self.id();
            self.streams_watch = Some(id);
            self.outbox.push(ClientMsg::Streams { id, watch: true });
        }
        if self.alerts_watch.is_none() {
            let id = self.id();
            self.alerts_watch = Some(id);
            self.outbox.push(ClientMsg::Alerts { id, watch: true });
        }
        if self.tail.sub.is_none() {
            self.resubscribe();
        }
        self.refresh_rules();
    }

    fn refresh_rules(&mut self) {
        if self.alerts.list_req.is_some() {
            self.alerts.list_again = true;
            return;
        }
        let id = self.id();
        self.alerts.list_req = Some(id);
        self.outbox.push(ClientMsg::ListRules { id });
    }

    /// Replaces the tail subscription with one for the current selection and filter.
    pub fn resubscribe(&mut self) {
        if let Some(sub) = self.tail.sub.take() {
            let id = self.id();
            self.outbox.push(ClientMsg::Unsubscribe { id, sub });
        }
        let id = self.id();
        self.tail.sub = Some(id);
        self.tail.clear();
        let query = self.tail.query();
        self.outbox.push(ClientMsg::Subscribe {
            id,
            query,
            backfill: BACKFILL,
            resume_after: None,
        });
    }

    fn on_server(&mut self, m: ServerMsg) {
        match m {
            ServerMsg::Status { status } => self.status = status,
            ServerMsg::Entries { sub, entries } if Some(sub) == self.tail.sub => {
                self.tail.push(entries.into_iter().map(TailLine::Entry));
            }
            ServerMsg::Dropped {
                sub,
                count,
                from,
                until,
            } if Some(sub) == self.tail.sub => {
                self.tail.push([TailLine::Dropped { count, from, until }]);
            }
            ServerMsg::Streams { id, streams } if Some(id) == self.streams_watch => {
                self.tail.streams = streams;
                let n = self.tail.tree().len();
                self.tail.tree_cursor = self.tail.tree_cursor.min(n.saturating_sub(1));
            }
            ServerMsg::Alerts { id, alerts } if Some(id) == self.alerts_watch => {
                let full = !self.alerts.alerts_known;
                self.alerts.merge_alerts(alerts, full);
                self.refresh_rules();
            }
            ServerMsg::Rules { id, rules } if Some(id) == self.alerts.list_req => {
                self.alerts.list_req = None;
                self.alerts.set_rules(rules);
                if std::mem::take(&mut self.alerts.list_again) {
                    self.refresh_rules();
                }
            }
            ServerMsg::SearchResult { id, page } => {
                self.search.on_page(id, page);
                self.maybe_more();
            }
            ServerMsg::ContextResult { id, page } => {
                if let Some(cv) = &mut self.search.context {
                    if cv.req == Some(id) {
                        cv.req = None;
                        cv.scroll = page.before.len();
                        cv.page = page;
                    }
                }
            }
            ServerMsg::RuleTest { id, result } => {
                if let Some(ed) = &mut self.alerts.editor {
                    if ed.test_req == Some(id) {
                        ed.test_req = None;
                        ed.preview = Some(result);
                    }
                }
            }
            ServerMsg::Ok { id } | ServerMsg::Rule { id, .. } => self.on_ok(id),
            ServerMsg::Error { id, error } => self.on_error(id, error),
            _ => {}
        }
    }

    fn on_ok(&mut self, id: ReqId) {
        if let Some(ed) = &mut self.alerts.editor {
            if ed.validate_req == Some(id) {
                ed.validate_req = None;
                ed.validation = Some(None);
                return;
            }
            if ed.save_req == Some(id) {
                let name = ed.spec().map(|s| s.name).unwrap_or_default();
                self.alerts.editor = None;
                self.say(format!("rule {name} saved"));
                self.refresh_rules();
                return;
            }
        }
        if let Some(i) = self.alerts.pending_changes.iter().position(|r| *r == id) {
            self.alerts.pending_changes.remove(i);
            self.refresh_rules();
        }
    }

    fn on_error(&mut self, id: Option<ReqId>, error: ErrorBody) {
        let Some(id) = id else {
            self.say(format!("daemon: {}", error.message));
            return;
        };
        if self.search.on_error(id, error.clone()) {
            return;
        }
        if Some(id) == self.tail.sub {
            self.tail
                .push([TailLine::Notice(format!("tail refused: {}", error.message))]);
            self.say(format!("filter: {}", error.message));
            return;
        }
        if let Some(cv) = &mut self.search.context {
            if cv.req == Some(id) {
                cv.req = None;
                self.say(format!("context: {}", error.message));
                return;
            }
        }
        if let Some(ed) = &mut self.alerts.editor {
            if ed.validate_req == Some(id) || ed.save_req == Some(id) {
                ed.validate_req = None;
                ed.save_req = None;
                ed.validation = Some(Some(error));
                return;
            }
            if ed.test_req == Some(id) {
                ed.test_req = None;
                ed.preview = None;
                return;
            }
        }
        if Some(id) == self.alerts.list_req {
            self.alerts.list_req = None;
        }
        self.alerts.pending_changes.retain(|r| *r != id);
        self.say(format!("daemon: {}", error.message));
    }

    fn on_tick(&mut self, now: Timestamp) {
        self.now = now;
        if let Some((_, at)) = &self.message {
            if now.nanos().saturating_sub(at.nanos()) > 5_000_000_000 {
                self.message = None;
            }
        }
        let due = self
            .alerts
            .editor
            .as_ref()
            .and_then(|e| e.dirty_at)
            .is_some_and(|at| now.nanos().saturating_sub(at.nanos()) >= DEBOUNCE_NS);
        if due {
            self.validate_editor();
        }
    }

    /// Asks the daemon to validate the form and preview it over the last 24 h.
    fn validate_editor(&mut self) {
        let (vid, tid) = (self.id(), self.id());
        let Some(ed) = &mut self.alerts.editor else {
            return;
        };
        ed.dirty_at = None;
        match ed.spec() {
            Err(e) => {
                ed.local_error = Some(e);
            }
            Ok(rule) => {
                ed.local_error = None;
                ed.validate_req = Some(vid);
                ed.test_req = Some(tid);
                self.outbox.push(ClientMsg::ValidateRule {
                    id: vid,
                    rule: rule.clone(),
                });
                self.outbox.push(ClientMsg::TestRule {
                    id: tid,
                    rule,
                    range: TimeRange {
                        since: Some("24h".into()),
                        ..Default::default()
                    },
                });
            }
        }
    }

    // ---- keys -----------------------------------------------------------------------

    fn on_key(&mut self, k: KeyEvent) {
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && k.code == KeyCode::Char('c') {
            self.quit = true;
            return;
        }
        if self.help {
            // Any key closes the overlay; `q` does not quit from it.
            self.help = false;
            return;
        }
        if let Some(p) = &mut self.prompt {
            match k.code {
                KeyCode::Esc => self.prompt = None,
                KeyCode::Enter => {
                    let p = self.prompt.take();
                    if let Some(p) = p {
                        self.submit_prompt(p.kind, p.input.text);
                    }
                }
                _ => {
                    p.input.handle(k);
                }
            }
            return;
        }
        // Screen keys that work even in text fields.
        match k.code {
            KeyCode::F(1) => return self.switch(Screen::Tail),
            KeyCode::F(2) => return self.switch(Screen::Search),
            KeyCode::F(3) => return self.switch(Screen::Alerts),
            _ => {}
        }
        let ctx = self.ctx();
        if crate::keys::globals_apply(ctx) {
            match k.code {
                KeyCode::Char('1') => return self.switch(Screen::Tail),
                KeyCode::Char('2') => return self.switch(Screen::Search),
                KeyCode::Char('3') => return self.switch(Screen::Alerts),
                KeyCode::Char('?') => {
                    self.help = true;
                    return;
                }
                _ => {}
            }
        }
        match ctx {
            Ctx::TailStreams => self.key_streams(k),
            Ctx::TailLog => self.key_log(k),
            Ctx::SearchInput => self.key_search_input(k),
            Ctx::SearchHistogram => self.key_histogram(k),
            Ctx::SearchResults => self.key_results(k),
            Ctx::SearchContext => self.key_context(k),
            Ctx::AlertsList => self.key_alerts(k),
            Ctx::AlertsEditor => self.key_editor(k),
            Ctx::Confirm => self.key_confirm(k),
            Ctx::Prompt => {}
        }
    }

    pub fn switch(&mut self, s: Screen) {
        self.screen = s;
    }

    fn open_prompt(&mut self, kind: PromptKind, initial: String) {
        self.prompt = Some(Prompt {
            kind,
            input: TextInput::new(initial),
        });
    }

    /// `q`/`Esc` on a top screen.
    fn back_or_quit(&mut self, k: &KeyEvent) -> bool {
        match k.code {
            KeyCode::Char('q') => {
                self.quit = true;
                true
            }
            KeyCode::Esc => {
                if self.screen != Screen::Tail {
                    self.screen = Screen::Tail;
                } else if !self.tail.find.is_empty() {
                    self.tail.set_find("");
                } else {
                    self.quit = true;
                }
                true
            }
            _ => false,
        }
    }

    fn submit_prompt(&mut self, kind: PromptKind, text: String) {
        match kind {
            PromptKind::Filter => {
                if text.trim() != self.tail.filter {
                    self.tail.filter = text.trim().to_string();
                    self.resubscribe();
                }
            }
            PromptKind::Find => {
                self.tail.set_find(&text);
                if !self.tail.find.is_empty() && !self.tail.find_next(true) {
                    self.say(format!("not found: {}", self.tail.find));
                }
            }
            PromptKind::Save => {
                let lines = self.lines_to_save();
                let path = PathBuf::from(text.trim());
                match std::fs::write(&path, lines.join("\n") + "\n") {
                    Ok(()) => {
                        self.say(format!("saved {} lines to {}", lines.len(), path.display()))
                    }
                    Err(e) => self.say(format!("cannot save {}: {e}", path.display())),
                }
            }
            PromptKind::Range => match search::parse_range(&text) {
                Ok(r) => {
                    self.search.range = RangeChoice::Custom(r);
                    self.run_search();
                }
                Err(e) => self.say(format!("range: {e}")),
            },
        }
    }

    /// The lines `s` writes: what the current view shows, as plain text.
    pub fn lines_to_save(&self) -> Vec<String> {
        let fmt = crate::cli::entry_line;
        match self.screen {
            Screen::Search => match &self.search.context {
                Some(cv) => cv
                    .page
                    .before
                    .iter()
                    .chain(cv.page.entry.iter())
                    .chain(cv.page.after.iter())
                    .map(fmt)
                    .collect(),
                None => self.search.results.iter().map(fmt).collect(),
            },
            _ => {
                let end = self.tail.bottom_index();
                let start = end.saturating_sub(self.tail.view_rows.get().max(1));
                self.tail
                    .lines
                    .range(start..end)
                    .map(|l| match l {
                        TailLine::Entry(e) => fmt(e),
                        TailLine::Dropped { count, from, until } => {
                            format!("--- {count} entries dropped {from} .. {until}")
                        }
                        TailLine::Notice(n) => format!("--- {n}"),
                    })
                    .collect()
            }
        }
    }

    fn default_save_path(&self) -> String {
        format!(
            "lookout-{}.log",
            self.now.to_datetime().format("%Y%m%d-%H%M%S")
        )
    }

    fn key_streams(&mut self, k: KeyEvent) {
        let rows = self.tail.tree();
        let n = rows.len();
        let cur = self.tail.tree_cursor.min(n.saturating_sub(1));
        let row = rows.get(cur).cloned();
        match k.code {
            KeyCode::Char('j') | KeyCode::Down => {
                self.tail.tree_cursor = (cur + 1).min(n.saturating_sub(1))
            }
            KeyCode::Char('k') | KeyCode::Up => self.tail.tree_cursor = cur.saturating_sub(1),
            KeyCode::Char('g') | KeyCode::Home => self.tail.tree_cursor = 0,
            KeyCode::Char('G') | KeyCode::End => self.tail.tree_cursor = n.saturating_sub(1),
            KeyCode::PageDown => {
                self.tail.tree_cursor = (cur + self.tail.tree_rows.get()).min(n.saturating_sub(1))
            }
            KeyCode::PageUp => {
                self.tail.tree_cursor = cur.saturating_sub(self.tail.tree_rows.get())
            }
            KeyCode::Char(' ') => {
                if let Some(r) = row {
                    self.tail.toggle(&r);
                    self.resubscribe();
                }
            }
            KeyCode::Enter => {
                if let Some(r) = row {
                    self.tail.only(&r);
                    self.resubscribe();
                    self.tail.focus = TailFocus::Log;
                }
            }
            KeyCode::Char('c') => {
                if !self.tail.selected.is_empty() {
                    self.tail.selected.clear();
                    self.resubscribe();
                }
            }
            KeyCode::Char('h') | KeyCode::Left | KeyCode::Char('l') | KeyCode::Right => {
                let collapse = matches!(k.code, KeyCode::Char('h') | KeyCode::Left);
                let key = match &row {
                    Some(TreeRow::Namespace { name, .. }) => Some(name.clone()),
                    Some(TreeRow::Pod {
                        namespace, name, ..
                    }) => Some(format!("{namespace}/{name}")),
                    _ => None,
                };
                if let Some(key) = key {
                    if collapse {
                        self.tail.collapsed.insert(key);
                    } else {
                        self.tail.collapsed.remove(&key);
                    }
                }
            }
            KeyCode::Tab | KeyCode::BackTab => self.tail.focus = TailFocus::Log,
            _ => {
                self.back_or_quit(&k);
            }
        }
    }

    fn key_log(&mut self, k: KeyEvent) {
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        let page = self.tail.view_rows.get().max(1);
        match k.code {
            KeyCode::Char('u') if ctrl => self.tail.scroll_up(page / 2),
            KeyCode::Char('d') if ctrl => self.tail.scroll_down(page / 2),
            KeyCode::Char('b') if ctrl => self.tail.scroll_up(page),
            KeyCode::Char('f') if ctrl => self.tail.scroll_down(page),
            KeyCode::Char('k') | KeyCode::Up => self.tail.scroll_up(1),
            KeyCode::Char('j') | KeyCode::Down => self.tail.scroll_down(1),
            KeyCode::PageUp => self.tail.scroll_up(page),
            KeyCode::PageDown | KeyCode::Char(' ') => self.tail.scroll_down(page),
            KeyCode::Char('g') | KeyCode::Home => self.tail.top(),
            KeyCode::Char('G') | KeyCode::End => self.tail.resume(),
            KeyCode::Char('/') => self.open_prompt(PromptKind::Find, self.tail.find.clone()),
            KeyCode::Char('f') => self.open_prompt(PromptKind::Filter, self.tail.filter.clone()),
            KeyCode::Char('n') => {
                if !self.tail.find_next(true) {
                    self.say("no older match");
                }
            }
            KeyCode::Char('N') => {
                if !self.tail.find_next(false) {
                    self.say("no newer match");
                }
            }
            KeyCode::Char('t') => {
                self.tail.time_fmt = match self.tail.time_fmt {
                    TimeFmt::Absolute => TimeFmt::Relative,
                    TimeFmt::Relative => TimeFmt::Off,
                    TimeFmt::Off => TimeFmt::Absolute,
                }
            }
            KeyCode::Char('w') => {
                self.tail.wrap = !self.tail.wrap;
                self.tail.hscroll = 0;
            }
            KeyCode::Left | KeyCode::Char('h') if !self.tail.wrap => {
                self.tail.hscroll = self.tail.hscroll.saturating_sub(20)
            }
            KeyCode::Right | KeyCode::Char('l') if !self.tail.wrap => self.tail.hscroll += 20,
            KeyCode::Char('s') => self.open_prompt(PromptKind::Save, self.default_save_path()),
            KeyCode::Char('x') => self.tail.clear(),
            KeyCode::Tab | KeyCode::BackTab => self.tail.focus = TailFocus::Streams,
            _ => {
                self.back_or_quit(&k);
            }
        }
    }

    /// Runs the query in the input with the current range.
    pub fn run_search(&mut self) {
        let id = self.id();
        let params = self.search.fresh_params();
        self.search.started(id, params.clone());
        self.outbox.push(ClientMsg::Search { id, params });
    }

    fn cycle_range(&mut self) {
        self.search.range = match &self.search.range {
            RangeChoice::Preset(i) => RangeChoice::Preset((i + 1) % search::RANGES.len()),
            RangeChoice::Custom(_) => RangeChoice::Preset(0),
        };
        if self.search.searched {
            self.run_search();
        }
    }

    fn key_search_input(&mut self, k: KeyEvent) {
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        match k.code {
            KeyCode::Enter => {
                self.run_search();
                self.search.focus = SearchFocus::Results;
            }
            KeyCode::Char('r') if ctrl => self.cycle_range(),
            KeyCode::Esc | KeyCode::Down | KeyCode::BackTab => {
                self.search.focus = SearchFocus::Results
            }
            KeyCode::Tab => self.search.focus = SearchFocus::Histogram,
            _ => {
                self.search.input.handle(k);
            }
        }
    }

    fn key_histogram(&mut self, k: KeyEvent) {
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        let n = self
            .search
            .histogram
            .as_ref()
            .map(|h| h.buckets.len())
            .unwrap_or(0);
        match k.code {
            KeyCode::Char('r') if ctrl => self.cycle_range(),
            KeyCode::Left | KeyCode::Char('h') if n > 0 => {
                self.search.bar = Some(self.search.bar.unwrap_or(n).saturating_sub(1))
            }
            KeyCode::Right | KeyCode::Char('l') if n > 0 => {
                self.search.bar = Some(self.search.bar.map(|b| (b + 1).min(n - 1)).unwrap_or(n - 1))
            }
            KeyCode::Enter => {
                if let Some(r) = self.search.bar.and_then(|b| self.search.bar_range(b)) {
                    self.search.range = RangeChoice::Custom(r);
                    self.run_search();
                }
            }
            KeyCode::Char('r') => self.open_prompt(PromptKind::Range, String::new()),
            KeyCode::Char('/') => self.search.focus = SearchFocus::Input,
            KeyCode::Tab => self.search.focus = SearchFocus::Results,
            KeyCode::BackTab => self.search.focus = SearchFocus::Input,
            _ => {
                self.back_or_quit(&k);
            }
        }
    }

    fn maybe_more(&mut self) {
        if let Some(params) = self.search.want_more() {
            let id = self.id();
            self.search.more_req = Some(id);
            self.outbox.push(ClientMsg::Search { id, params });
        }
    }

    fn key_results(&mut self, k: KeyEvent) {
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        let page = self.search.view_rows.get().max(1) as isize;
        match k.code {
            KeyCode::Char('r') if ctrl => self.cycle_range(),
            KeyCode::Char('u') if ctrl => self.search.move_by(-page / 2),
            KeyCode::Char('d') if ctrl => self.search.move_by(page / 2),
            KeyCode::Char('j') | KeyCode::Down => self.search.move_by(1),
            KeyCode::Char('k') | KeyCode::Up => self.search.move_by(-1),
            KeyCode::PageDown => self.search.move_by(page),
            KeyCode::PageUp => self.search.move_by(-page),
            KeyCode::Char('g') | KeyCode::Home => self.search.selected = 0,
            KeyCode::Char('G') | KeyCode::End => self.search.move_by(isize::MAX / 2),
            KeyCode::Enter => self.open_context(),
            KeyCode::Char('/') | KeyCode::Char('i') => self.search.focus = SearchFocus::Input,
            KeyCode::Char('r') => self.open_prompt(PromptKind::Range, String::new()),
            KeyCode::Char('s') => self.open_prompt(PromptKind::Save, self.default_save_path()),
            KeyCode::Tab => self.search.focus = SearchFocus::Input,
            KeyCode::BackTab => self.search.focus = SearchFocus::Histogram,
            _ => {
                self.back_or_quit(&k);
            }
        }
        self.maybe_more();
    }

    fn open_context(&mut self) {
        let Some(hit) = self.search.results.get(self.search.selected).cloned() else {
            return;
        };
        let id = self.id();
        self.outbox.push(ClientMsg::Context {
            id,
            at: lookout_shared::protocol::Cursor::of(&hit),
            before: 20,
            after: 20,
        });
        self.search.context = Some(search::ContextView {
            req: Some(id),
            hit: Some(hit),
            ..Default::default()
        });
    }

    fn key_context(&mut self, k: KeyEvent) {
        let Some(cv) = &mut self.search.context else {
            return;
        };
        let len = cv.page.before.len() + cv.page.after.len() + 1;
        match k.code {
            KeyCode::Char('j') | KeyCode::Down => cv.scroll = (cv.scroll + 1).min(len - 1),
            KeyCode::Char('k') | KeyCode::Up => cv.scroll = cv.scroll.saturating_sub(1),
            KeyCode::Char('g') => cv.scroll = 0,
            KeyCode::Char('G') => cv.scroll = len - 1,
            KeyCode::Char('l') => {
                if let Some(hit) = cv.hit.clone() {
                    self.search.context = None;
                    self.tail.selected = [tail::StreamKey::of(&hit)].into_iter().collect();
                    self.tail.filter.clear();
                    self.resubscribe();
                    self.tail.focus = TailFocus::Log;
                    self.screen = Screen::Tail;
                }
            }
            KeyCode::Char('s') => self.open_prompt(PromptKind::Save, self.default_save_path()),
            KeyCode::Esc | KeyCode::Char('q') | KeyCode::Backspace => self.search.context = None,
            _ => {}
        }
    }

    fn key_alerts(&mut self, k: KeyEvent) {
        match k.code {
            KeyCode::Char('j') | KeyCode::Down => self.alerts.move_by(1),
            KeyCode::Char('k') | KeyCode::Up => self.alerts.move_by(-1),
            KeyCode::Char('g') | KeyCode::Home => self.alerts.selected = 0,
            KeyCode::Char('G') | KeyCode::End => self.alerts.move_by(isize::MAX / 2),
            KeyCode::Char('n') => {
                self.alerts.editor = Some(Editor::new_rule());
            }
            KeyCode::Char('e') | KeyCode::Enter => {
                if let Some(r) = self.alerts.selected_rule() {
                    let mut ed = Editor::from_spec(Some(r.rule.name.clone()), &r.rule);
                    ed.dirty_at = Some(self.now);
                    self.alerts.editor = Some(ed);
                }
            }
            KeyCode::Char(' ') => {
                if let Some(r) = self.alerts.selected_rule() {
                    let (name, enabled) = (r.rule.name.clone(), !r.rule.enabled);
                    let id = self.id();
                    self.alerts.pending_changes.push(id);
                    self.outbox
                        .push(ClientMsg::SetRuleEnabled { id, name, enabled });
                }
            }
            KeyCode::Char('d') | KeyCode::Delete => {
                self.alerts.confirm_delete =
                    self.alerts.selected_rule().map(|r| r.rule.name.clone());
            }
            _ => {
                self.back_or_quit(&k);
            }
        }
    }

    fn key_confirm(&mut self, k: KeyEvent) {
        match k.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => {
                if let Some(name) = self.alerts.confirm_delete.take() {
                    let id = self.id();
                    self.alerts.pending_changes.push(id);
                    self.outbox.push(ClientMsg::DeleteRule { id, name });
                }
            }
            _ => self.alerts.confirm_delete = None,
        }
    }

    fn key_editor(&mut self, k: KeyEvent) {
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        let now = self.now;
        let save_id = self.id();
        let Some(ed) = &mut self.alerts.editor else {
            return;
        };
        let n = alerts::FIELDS.len();
        match k.code {
            KeyCode::Esc => self.alerts.editor = None,
            KeyCode::Char('s') if ctrl => match ed.spec() {
                Ok(rule) => {
                    ed.local_error = None;
                    ed.save_req = Some(save_id);
                    self.outbox.push(ClientMsg::PutRule { id: save_id, rule });
                }
                Err(e) => ed.local_error = Some(e),
            },
            KeyCode::Tab | KeyCode::Down | KeyCode::Enter => ed.focus = (ed.focus + 1) % n,
            KeyCode::BackTab | KeyCode::Up => ed.focus = (ed.focus + n - 1) % n,
            KeyCode::Left | KeyCode::Right if ed.focus == 6 => {
                ed.cycle_severity(if k.code == KeyCode::Left { -1 } else { 1 });
                ed.dirty_at = Some(now);
            }
            _ => {
                if let Some(f) = ed.fields.get_mut(ed.focus) {
                    if f.handle(k) {
                        ed.dirty_at = Some(now);
                    }
                }
            }
        }
    }

    fn on_mouse(&mut self, m: MouseEvent) {
        let up = match m.kind {
            MouseEventKind::ScrollUp => true,
            MouseEventKind::ScrollDown => false,
            _ => return,
        };
        match self.screen {
            Screen::Tail => {
                if up {
                    self.tail.scroll_up(3)
                } else {
                    self.tail.scroll_down(3)
                }
            }
            Screen::Search => {
                if let Some(cv) = &mut self.search.context {
                    let len = cv.page.before.len() + cv.page.after.len() + 1;
                    cv.scroll = if up {
                        cv.scroll.saturating_sub(3)
                    } else {
                        (cv.scroll + 3).min(len - 1)
                    };
                } else {
                    self.search.move_by(if up { -3 } else { 3 });
                    self.maybe_more();
                }
            }
            Screen::Alerts => self.alerts.move_by(if up { -1 } else { 1 }),
        }
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
mod tests;
