//! The Tail screen's log pane: the bounded scrollback, follow/paused, find, the
//! view toggles, and its keys. The cursor and selection are in `cursor.rs`, the
//! minimum level in `level.rs`.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

use lookout_shared::{Level, LogEntry, Timestamp};

use super::colors::PodColors;
use super::filter::Passes;
use super::marks::Marks;
use super::restarts::Instances;
use super::{Tail, TailFocus};
use crate::app::event::Expanded;
use crate::app::{Effect, PromptKind};
use crate::keys::{
    bind, Binding, Key, BACKTAB, DOWN, END, ENTER, ESC, HOME, LEFT, PGDN, PGUP, RIGHT, SPACE, TAB,
    UP,
};
use lookout_shared::query::Query;

/// One line of the log pane.
#[derive(Debug, Clone, PartialEq)]
pub enum TailLine {
    Entry(LogEntry),
    /// The daemon skipped entries for this tail (we read too slowly).
    Dropped {
        count: u64,
        from: Timestamp,
        until: Timestamp,
    },
    /// Something the user should see in the stream: filter changes, reconnects.
    Notice(String),
    /// The container's next line comes from another instance than its last.
    Restarted {
        key: super::StreamKey,
        instance: u32,
        before: u32,
    },
}

/// How timestamps show in the log pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeFmt {
    Absolute,
    Relative,
    Off,
}

/// The log pane's keys; `Tail::on_log_key` handles exactly these.
pub const KEYS: &[Binding] = &[
    bind(
        &[Key::Char('j'), Key::Char('k'), UP, DOWN],
        "cursor (pauses)",
        true,
    ),
    bind(
        &[Key::Char('g'), Key::Char('G'), HOME, END],
        "top / follow live",
        true,
    ),
    bind(&[Key::Char('y')], "copy", true),
    bind(
        &[Key::Char('Y')],
        "copy with time and stream: the selection or the view",
        false,
    ),
    bind(&[Key::Char('v')], "start / drop a selection", false),
    bind(&[ENTER, Key::Char('o')], "expand", true),
    bind(&[PGUP, Key::Ctrl('b')], "page up", false),
    bind(&[PGDN, Key::Ctrl('f'), SPACE], "page down", false),
    bind(
        &[Key::Ctrl('u'), Key::Ctrl('d')],
        "half page up / down",
        false,
    ),
    bind(&[Key::Char('/')], "find (or /re/)", true),
    bind(
        &[Key::Char('n'), Key::Char('N')],
        "older / newer match",
        false,
    ),
    bind(&[ESC], "drop the selection, else clear the find", false),
    bind(
        &[Key::Char('L')],
        "minimum level: all / info / warn / error",
        false,
    ),
    bind(
        &[Key::Char('e'), Key::Char('E')],
        "older / newer error",
        false,
    ),
    bind(&[Key::Char('f')], "filter (hide)", true),
    bind(&[Key::Char('t')], "time: absolute / relative / off", true),
    bind(&[Key::Char('w')], "wrap", true),
    bind(
        &[LEFT, RIGHT, Key::Char('h'), Key::Char('l')],
        "scroll sideways (no wrap)",
        false,
    ),
    bind(
        &[Key::Char('s')],
        "save the scrollback (or the selection) to a file",
        false,
    ),
    bind(
        &[Key::Char('p')],
        "search the previous instance of the cursor's container",
        false,
    ),
    bind(
        &[Key::Char('=')],
        "search the pattern of the cursor's line (all time)",
        false,
    ),
    bind(&[Key::Char('m')], "mark / unmark the line", false),
    bind(
        &[Key::Char('\''), Key::Char('"')],
        "next newer / older mark",
        false,
    ),
    bind(&[Key::Char('x')], "clear the pane", false),
    bind(&[TAB, BACKTAB], "streams", true),
];

/// Columns one sideways step moves.
const HSTEP: usize = 20;

/// The scrollback and how it is viewed.
#[derive(Debug)]
pub struct Log {
    pub lines: VecDeque<TailLine>,
    pub cap: usize,
    /// How many lines the bottom of the view sits above the newest line.
    pub scroll: usize,
    pub follow: bool,
    /// Lines that arrived while paused.
    pub new_while_paused: u64,
    /// Set through [`Log::set_find`], which keeps the match counts right.
    pub find: String,
    /// The find as a regular expression, when typed as `/…/`.
    pub find_re: Option<regex::Regex>,
    /// Index in `lines` of the current find match.
    pub find_at: Option<usize>,
    /// Matches in `lines`, kept up to date as lines come and go (counting them per
    /// frame would cost a scan of the whole scrollback 30 times a second).
    find_total: usize,
    /// 1-based rank of `find_at` among the matches, 0 when none is current.
    find_pos: usize,
    pub time_fmt: TimeFmt,
    pub wrap: bool,
    pub hscroll: usize,
    /// Entries ever received, for the title.
    pub received: u64,
    /// Pane height at the last draw (rows), for paging.
    pub view_rows: Cell<usize>,
    /// Each pod's colour, assigned as its lines arrive.
    pub colors: PodColors,
    /// Index in `lines` of the error `e`/`E` last jumped to.
    pub error_at: Option<usize>,
    /// The line cursor (index in `lines`); `None` while following.
    pub cursor: Option<usize>,
    /// Where `v` started a selection; it runs to the cursor.
    pub mark: Option<usize>,
    /// Lines below this level are hidden from the view (not dropped).
    pub min_level: Option<Level>,
    /// Where the last draw put each line, for mouse clicks.
    pub drawn: RefCell<Drawn>,
    /// Events shown whole (`Enter`/`o`), by seq.
    pub expanded: Expanded,
    /// The filter as applied to the lines held (`filter.rs`); `None` shows all.
    pub view_filter: Option<Query>,
    /// Whether each line passes `view_filter`, beside `lines`.
    pub(super) passes: Passes,
    /// Each container's last instance, for restart markers.
    pub(super) instances: Instances,
    /// Lines marked with `m`.
    pub marks: Marks,
}

/// The rows of the last drawn log pane and the line each shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Drawn {
    /// The pane's columns on screen.
    pub x: std::ops::Range<u16>,
    /// The screen row of `rows[0]`.
    pub y: u16,
    /// Index in `lines` of the line on each row, top to bottom.
    pub rows: Vec<usize>,
}

impl Log {
    /// An empty pane keeping at most `cap` lines (at least 100).
    pub fn new(cap: usize) -> Log {
        Log {
            lines: VecDeque::new(),
            cap: cap.max(100),
            scroll: 0,
            follow: true,
            new_while_paused: 0,
            find: String::new(),
            find_re: None,
            find_at: None,
            find_total: 0,
            find_pos: 0,
            time_fmt: TimeFmt::Absolute,
            wrap: false,
            hscroll: 0,
            received: 0,
            view_rows: Cell::new(20),
            colors: PodColors::default(),
            error_at: None,
            cursor: None,
            mark: None,
            min_level: None,
            drawn: RefCell::new(Drawn::default()),
            expanded: Expanded::default(),
            view_filter: None,
            passes: Passes::default(),
            instances: Instances::default(),
            marks: Marks::default(),
        }
    }

    /// Appends lines, evicting the oldest beyond the cap; keeps a paused view still.
    /// A container's line from a new instance gets a restart marker before it.
    pub fn push(&mut self, new: impl IntoIterator<Item = TailLine>) {
        let mut added = 0usize;
        for l in new {
            if let TailLine::Entry(e) = &l {
                self.received += 1;
                self.colors.saw(&e.source.pod, self.cap as u64);
                if let Some(marker) = self.instances.saw(e) {
                    self.append(marker);
                    added += 1;
                }
            }
            self.append(l);
            added += 1;
        }
        let mut evicted = 0;
        while self.lines.len() > self.cap {
            if let Some(old) = self.lines.pop_front() {
                self.note_evicted();
                if let TailLine::Entry(e) = &old {
                    self.expanded.forget(e);
                    self.marks.forget(e.seq);
                }
                if self.matches_find(&old) {
                    self.find_total -= 1;
                    self.find_pos = self.find_pos.saturating_sub(1);
                }
            }
            evicted += 1;
        }
        if evicted > 0 {
            self.error_at = self.error_at.and_then(|i| i.checked_sub(evicted));
            self.find_at = self.find_at.and_then(|i| i.checked_sub(evicted));
            // A cursor or mark on an evicted line lands on the oldest one left.
            let shift = |p: Option<usize>| p.map(|i| i.saturating_sub(evicted));
            self.cursor = shift(self.cursor);
            self.mark = shift(self.mark);
            if self.find_at.is_none() {
                self.find_pos = 0;
            }
        }
        if !self.follow {
            self.new_while_paused += added as u64;
            self.scroll = (self.scroll + added).min(self.max_scroll());
        }
    }

    fn append(&mut self, l: TailLine) {
        if self.matches_find(&l) {
            self.find_total += 1;
        }
        let pass = self.passes(&l);
        self.note_pushed(pass);
        self.lines.push_back(l);
    }

    pub fn max_scroll(&self) -> usize {
        self.lines.len().saturating_sub(self.view_rows.get().max(1))
    }

    /// Scrolls up (towards older) by `n` shown lines; pauses follow. A cursor
    /// stays inside the view.
    pub fn scroll_up(&mut self, n: usize) {
        if self.lines.is_empty() {
            return;
        }
        if self.follow {
            self.follow = false;
            self.new_while_paused = 0;
        }
        let end = self.step_up(self.bottom_index(), n);
        self.scroll = (self.lines.len() - end).min(self.max_scroll());
        self.clamp_cursor();
    }

    /// Scrolls down (towards newer); reaching the bottom resumes follow (unless a
    /// selection is open).
    pub fn scroll_down(&mut self, n: usize) {
        let end = self.step_down(self.bottom_index(), n);
        self.scroll = self.lines.len() - end;
        if self.scroll == 0 && self.mark.is_none() {
            self.resume();
        } else {
            self.clamp_cursor();
        }
    }

    /// Follows live again: no cursor, no selection.
    pub fn resume(&mut self) {
        self.follow = true;
        self.scroll = 0;
        self.new_while_paused = 0;
        self.cursor = None;
        self.mark = None;
    }

    /// The oldest line, with the cursor on it.
    pub fn top(&mut self) {
        self.scroll_up(usize::MAX / 2);
        if let Some(i) = (0..self.lines.len()).find(|&i| self.shown(i)) {
            self.put_cursor(i);
        }
    }

    /// Index in `lines` just past the bottom of the view.
    pub fn bottom_index(&self) -> usize {
        self.lines.len().saturating_sub(self.scroll)
    }

    fn matches_find(&self, l: &TailLine) -> bool {
        match l {
            TailLine::Entry(e) => match &self.find_re {
                Some(re) => re.is_match(&e.message),
                None => !self.find.is_empty() && contains_ci(&e.message, &self.find),
            },
            _ => false,
        }
    }

    /// Sets the find text and counts its matches once.
    /// A `/…/` find that does not compile finds nothing (the prompt refuses it
    /// before it gets here).
    pub fn set_find(&mut self, text: &str) {
        self.find = text.trim().to_string();
        self.find_re = find_regex(&self.find).ok().flatten();
        self.find_at = None;
        self.find_pos = 0;
        self.find_total = self.lines.iter().filter(|l| self.matches_find(l)).count();
    }

    /// Jumps to the next match older (`up`) or newer than the current one, or than the
    /// view's bottom line; returns false when there is none.
    pub fn find_next(&mut self, up: bool) -> bool {
        if self.find.is_empty() || self.lines.is_empty() {
            return false;
        }
        let start = self
            .find_at
            .unwrap_or_else(|| self.bottom_index().saturating_sub(if up { 0 } else { 1 }));
        let hit = if up {
            (0..start.min(self.lines.len()))
                .rev()
                .find(|&i| self.matches_find(&self.lines[i]) && self.shown(i))
        } else {
            ((start + 1).min(self.lines.len())..self.lines.len())
                .find(|&i| self.matches_find(&self.lines[i]) && self.shown(i))
        };
        let Some(i) = hit else { return false };
        self.find_pos = match self.find_at {
            Some(_) if up => self.find_pos.saturating_sub(1).max(1),
            Some(_) => self.find_pos + 1,
            None => (0..=i)
                .filter(|&j| self.matches_find(&self.lines[j]))
                .count(),
        };
        self.find_at = Some(i);
        self.center_on(i);
        true
    }

    /// Jumps to the next error older (`up`) or newer than the last one jumped to
    /// (or than the view's bottom), lnav's `e`/`E`; false when there is none.
    pub fn error_next(&mut self, up: bool) -> bool {
        let is_error =
            |l: &TailLine| matches!(l, TailLine::Entry(e) if e.level == Some(Level::Error));
        let start = self
            .error_at
            .unwrap_or_else(|| self.bottom_index().saturating_sub(if up { 0 } else { 1 }));
        let n = self.lines.len();
        let hit = if up {
            (0..start.min(n)).rev().find(|&i| is_error(&self.lines[i]))
        } else {
            ((start + 1).min(n)..n).find(|&i| is_error(&self.lines[i]))
        };
        let Some(i) = hit else { return false };
        self.error_at = Some(i);
        self.center_on(i);
        true
    }

    /// Puts the cursor on line `i`, mid-view, keeping context around it.
    fn center_on(&mut self, i: usize) {
        let half = self.view_rows.get() / 2;
        let bottom = self.step_down(i + 1, half);
        self.follow = false;
        self.scroll = (self.lines.len() - bottom).min(self.max_scroll());
        self.put_cursor(i);
    }

    /// `(position, total)` of find matches, 1-based position counted from the oldest.
    pub fn find_count(&self) -> (usize, usize) {
        (self.find_pos, self.find_total)
    }

    /// Starts over (new subscription): old lines no longer match what is asked.
    pub fn clear(&mut self) {
        self.lines.clear();
        self.clear_passes();
        self.instances.clear();
        self.marks.clear();
        self.expanded.clear();
        self.error_at = None;
        self.find_at = None;
        self.find_pos = 0;
        self.find_total = 0;
        self.resume();
    }
}

impl Tail {
    /// The log pane's handler; [`KEYS`] lists what it takes.
    pub(crate) fn on_log_key(&mut self, k: Key) -> Effect {
        let log = &mut self.log;
        let page = log.view_rows.get().max(1);
        match k {
            Key::Ctrl('u') => log.scroll_up(page / 2),
            Key::Ctrl('d') => log.scroll_down(page / 2),
            Key::Ctrl('b') | PGUP => log.scroll_up(page),
            Key::Ctrl('f') | PGDN | SPACE => log.scroll_down(page),
            Key::Char('k') | UP => log.cursor_up(1),
            Key::Char('j') | DOWN => log.cursor_down(1),
            Key::Char('y') => return Effect::Copy(log.yank()),
            Key::Char('Y') => return Effect::Copy(log.yank_with_meta()),
            Key::Char('v') => log.toggle_mark(),
            ENTER | Key::Char('o') => return log.toggle_expanded(),
            Key::Char('L') => log.cycle_min_level(),
            Key::Char('g') | HOME => log.top(),
            Key::Char('G') | END => log.resume(),
            Key::Char('/') => return Effect::Prompt(PromptKind::Find, log.find.clone()),
            Key::Char('f') => return Effect::Prompt(PromptKind::Filter, self.filter.clone()),
            Key::Char(c @ ('e' | 'E')) => {
                let older = c == 'e';
                if !log.error_next(older) {
                    let which = if older { "older" } else { "newer" };
                    return Effect::Say(format!("no {which} error in the scrollback"));
                }
            }
            Key::Char(c @ ('n' | 'N')) => {
                let older = c == 'n';
                if !log.find_next(older) {
                    let which = if older { "older" } else { "newer" };
                    return Effect::Say(format!("no {which} match"));
                }
            }
            Key::Char('t') => {
                log.time_fmt = match log.time_fmt {
                    TimeFmt::Absolute => TimeFmt::Relative,
                    TimeFmt::Relative => TimeFmt::Off,
                    TimeFmt::Off => TimeFmt::Absolute,
                }
            }
            Key::Char('w') => {
                log.wrap = !log.wrap;
                log.hscroll = 0;
            }
            LEFT | Key::Char('h') if !log.wrap => log.hscroll = log.hscroll.saturating_sub(HSTEP),
            RIGHT | Key::Char('l') if !log.wrap => log.hscroll += HSTEP,
            Key::Char('s') => return Effect::Save,
            Key::Char('x') => log.clear(),
            Key::Char('p') => return self.previous_instance(),
            Key::Char('=') => return self.pattern_search(),
            Key::Char('m') => return log.toggle_line_mark(),
            Key::Char('\'') => return log.mark_next(true),
            Key::Char('"') => return log.mark_next(false),
            ESC if log.mark.is_some() => log.mark = None,
            ESC if !log.find.is_empty() => log.set_find(""),
            TAB | BACKTAB => self.focus = TailFocus::Streams,
            _ => return Effect::Pass,
        }
        Effect::Done
    }
}

/// Largest compiled find expression (bytes of the regex crate's program): far
/// above anything typed by hand, and a bound on what one can cost.
const FIND_RE_SIZE: usize = 1 << 20;

/// The find's text as a regular expression when it is written `/…/`
/// (case-insensitive, as the plain find is); `Ok(None)` for plain text.
pub fn find_regex(text: &str) -> Result<Option<regex::Regex>, String> {
    let Some(body) = text
        .strip_prefix('/')
        .and_then(|t| t.strip_suffix('/'))
        .filter(|b| !b.is_empty())
    else {
        return Ok(None);
    };
    regex::RegexBuilder::new(body)
        .case_insensitive(true)
        .size_limit(FIND_RE_SIZE)
        .build()
        .map(Some)
        .map_err(|e| {
            // The crate's message ends with the line that says what is wrong.
            let text = e.to_string();
            let last = text.lines().last().unwrap_or_default().trim();
            last.strip_prefix("error: ").unwrap_or(last).to_string()
        })
}

/// Case-insensitive substring test without allocating for ASCII needles.
pub fn contains_ci(hay: &str, needle: &str) -> bool {
    find_ci(hay, needle, 0).is_some()
}

/// Byte offset of the first case-insensitive (ASCII) match at or after `from`.
pub fn find_ci(hay: &str, needle: &str, from: usize) -> Option<usize> {
    let h = hay.as_bytes();
    let n = needle.as_bytes();
    if n.is_empty() || n.len() > h.len() {
        return None;
    }
    let first = n[0].to_ascii_lowercase();
    (from..=h.len() - n.len()).find(|&i| {
        h[i].to_ascii_lowercase() == first
            && h[i..i + n.len()].eq_ignore_ascii_case(n)
            && hay.is_char_boundary(i)
            && hay.is_char_boundary(i + n.len())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lookout_shared::StreamId;

    fn entry(msg: &str, seq: u64) -> TailLine {
        TailLine::Entry(LogEntry {
            source: StreamId {
                namespace: "ns".into(),
                pod: "p".into(),
                container: "c".into(),
                ..Default::default()
            },
            message: msg.into(),
            seq,
            ..Default::default()
        })
    }

    #[test]
    fn scrollback_is_bounded() {
        let mut t = Log::new(100);
        t.push((0..1000).map(|i| entry("x", i)));
        assert_eq!(t.lines.len(), 100);
        assert_eq!(t.received, 1000);
    }

    #[test]
    fn scrolling_up_pauses_and_counts_new_lines_then_g_resumes() {
        let mut t = Log::new(1000);
        t.view_rows.set(10);
        t.push((0..50).map(|i| entry("x", i)));
        t.scroll_up(5);
        assert!(!t.follow);
        assert_eq!(t.scroll, 5);
        t.push((50..53).map(|i| entry("y", i)));
        assert_eq!(t.new_while_paused, 3);
        // The view stays on the same lines.
        assert_eq!(t.scroll, 8);
        t.scroll_down(100);
        assert!(t.follow);
        assert_eq!(t.new_while_paused, 0);
    }

    #[test]
    fn find_walks_matches_upwards_and_back() {
        let mut t = Log::new(1000);
        t.view_rows.set(4);
        t.push((0..30).map(|i| entry(if i % 10 == 3 { "Deadlock here" } else { "ok" }, i)));
        t.set_find("deadlock");
        assert_eq!(t.find_count(), (0, 3));
        assert!(t.find_next(true));
        assert_eq!(t.find_at, Some(23));
        assert_eq!(t.find_count(), (3, 3));
        assert!(t.find_next(true));
        assert_eq!(t.find_at, Some(13));
        assert_eq!(t.find_count(), (2, 3));
        assert!(!t.follow);
        assert!(t.find_next(false));
        assert_eq!(t.find_at, Some(23));
        assert!(!t.find_next(false));
        // Counts follow arrivals and evictions.
        t.push((30..40).map(|i| entry(if i == 33 { "deadlock" } else { "ok" }, i)));
        assert_eq!(t.find_count(), (3, 4));
        t.cap = 100;
        t.push((40..110).map(|i| entry("ok", i)));
        assert_eq!(t.lines.len(), 100);
        assert_eq!(t.find_count(), (2, 3));
        t.set_find("");
        assert_eq!(t.find_count(), (0, 0));
    }
}
