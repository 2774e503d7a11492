//! The log pane's line cursor and selection, and the text `y`, `Y` and `s` take.
//!
//! While following there is no cursor: the newest line is where the eye is, and
//! `y` copies it. The first `k` puts the cursor one line up and pauses; everything
//! hangs off it from then on (`y`, `v`, `n`/`e` jumps land on it), and moving it
//! below the newest line follows again. Positions are indexes into the scrollback,
//! shifted as old lines are evicted, so a paused cursor stays on its line while
//! new ones arrive. Lines the minimum level hides are stepped over.

use super::{Log, TailLine};

impl Log {
    /// The line `y` acts on: the cursor's, or while following the newest shown.
    pub fn cursor_line(&self) -> Option<usize> {
        self.cursor
            .or_else(|| self.last_shown_before(self.bottom_index()))
    }

    fn last_shown_before(&self, end: usize) -> Option<usize> {
        (0..end.min(self.lines.len()))
            .rev()
            .find(|&i| self.shown(i))
    }

    fn first_shown_from(&self, start: usize) -> Option<usize> {
        (start..self.lines.len()).find(|&i| self.shown(i))
    }

    /// `end` (an exclusive bottom) moved up past `n` shown lines.
    pub(super) fn step_up(&self, mut end: usize, mut n: usize) -> usize {
        if !self.hides() {
            return end.saturating_sub(n);
        }
        while n > 0 && end > 0 {
            end -= 1;
            if self.shown(end) {
                n -= 1;
            }
        }
        end
    }

    /// `end` (an exclusive bottom) moved down past `n` shown lines.
    pub(super) fn step_down(&self, mut end: usize, mut n: usize) -> usize {
        let len = self.lines.len();
        if !self.hides() {
            return end.saturating_add(n).min(len);
        }
        while n > 0 && end < len {
            if self.shown(end) {
                n -= 1;
            }
            end += 1;
        }
        end
    }

    /// Index of the topmost line in view.
    fn view_top(&self) -> usize {
        self.step_up(self.bottom_index(), self.view_rows.get().max(1))
    }

    fn pause(&mut self) {
        if self.follow {
            self.follow = false;
            self.new_while_paused = 0;
        }
    }

    /// Moves the cursor `n` shown lines up (older); pauses follow.
    pub fn cursor_up(&mut self, n: usize) {
        let Some(start) = self.cursor_line() else {
            return;
        };
        let mut c = start;
        let mut left = n;
        let mut i = start;
        while left > 0 && i > 0 {
            i -= 1;
            if self.shown(i) {
                c = i;
                left -= 1;
            }
        }
        self.pause();
        self.cursor = Some(c);
        self.keep_visible();
    }

    /// Moves the cursor `n` shown lines down (newer). Past the newest line the
    /// pane follows again, unless a selection is open (it would be lost).
    pub fn cursor_down(&mut self, n: usize) {
        let Some(start) = self.cursor else {
            return; // following: already at the newest
        };
        let mut c = start;
        let mut left = n;
        let mut i = start;
        while left > 0 && i + 1 < self.lines.len() {
            i += 1;
            if self.shown(i) {
                c = i;
                left -= 1;
            }
        }
        if left > 0 && self.mark.is_none() {
            self.resume();
            return;
        }
        self.cursor = Some(c);
        self.keep_visible();
    }

    /// Puts the cursor on line `i` and scrolls so it is in view (jumps, `g`).
    pub fn put_cursor(&mut self, i: usize) {
        if i >= self.lines.len() {
            return;
        }
        self.pause();
        self.cursor = Some(i);
        self.keep_visible();
    }

    /// Scrolls the least that shows the cursor.
    pub(super) fn keep_visible(&mut self) {
        let Some(c) = self.cursor else { return };
        let len = self.lines.len();
        if c >= self.bottom_index() {
            self.scroll = len - (c + 1);
        } else if c < self.view_top() {
            let end = self.step_down(c, self.view_rows.get().max(1));
            self.scroll = len - end;
        }
        self.scroll = self.scroll.min(self.max_scroll());
    }

    /// After the view moved (page keys, the wheel, a new minimum level): the
    /// cursor stays on a shown line inside the view.
    pub(super) fn clamp_cursor(&mut self) {
        let Some(c) = self.cursor else { return };
        let (top, end) = (self.view_top(), self.bottom_index());
        let inside = c >= top && c < end && self.shown(c);
        if !inside {
            let c = c.clamp(top, end.saturating_sub(1).max(top));
            self.cursor = self
                .first_shown_from(c)
                .filter(|&i| i < end)
                .or_else(|| self.last_shown_before(c + 1))
                .or(self.cursor);
        }
    }

    /// `Enter`/`o`: shows the event under the cursor whole, or folds it again.
    pub fn toggle_expanded(&mut self) -> crate::app::Effect {
        use crate::app::Effect;
        let Some(i) = self.cursor_line() else {
            return Effect::Say("no line to expand".into());
        };
        let Some(TailLine::Entry(e)) = self.lines.get(i) else {
            return Effect::Done;
        };
        if self.expanded.toggle(e) {
            // An expanded event far up would be drawn past the view's bottom;
            // the cursor keeps it where the eye is.
            if self.cursor.is_some() {
                self.keep_visible();
            }
            Effect::Done
        } else {
            Effect::Say("one line, no fields: nothing more to show".into())
        }
    }

    /// `v`: starts a selection at the cursor, or drops the one open.
    pub fn toggle_mark(&mut self) {
        if self.mark.take().is_some() {
            return;
        }
        if let Some(c) = self.cursor_line() {
            self.put_cursor(c);
            self.mark = Some(c);
        }
    }

    /// The selected lines, oldest first, as an index range.
    pub fn selection(&self) -> Option<std::ops::RangeInclusive<usize>> {
        let (m, c) = (self.mark?, self.cursor?);
        Some(m.min(c)..=m.max(c))
    }

    /// Line `i` as text: the message alone, or with time, stream and level
    /// (`with_meta`, as `lookout tail` prints it). Hidden lines give `None`.
    fn text_of(&self, i: usize, with_meta: bool) -> Option<String> {
        if !self.shown(i) {
            return None;
        }
        Some(match self.lines.get(i)? {
            TailLine::Entry(e) if with_meta => crate::cli::entry_line(e),
            TailLine::Entry(e) => e.message.clone(),
            TailLine::Dropped { count, from, until } => {
                format!("--- {count} entries dropped {from} .. {until}")
            }
            TailLine::Notice(n) => format!("--- {n}"),
            TailLine::Restarted {
                key,
                instance,
                before,
            } => format!(
                "--- {}",
                super::restarts::marker_text(key, *instance, *before)
            ),
        })
    }

    fn texts(&self, range: std::ops::Range<usize>, with_meta: bool) -> Vec<String> {
        range.filter_map(|i| self.text_of(i, with_meta)).collect()
    }

    /// What `y` copies: the selection's messages, else the message under the
    /// cursor (the newest line while following).
    pub fn yank(&self) -> Vec<String> {
        match self.selection() {
            Some(r) => self.texts(*r.start()..*r.end() + 1, false),
            None => self
                .cursor_line()
                .and_then(|c| self.text_of(c, false))
                .into_iter()
                .collect(),
        }
    }

    /// What `Y` copies: the selection, else the lines in view, each with its time,
    /// stream and level.
    pub fn yank_with_meta(&self) -> Vec<String> {
        match self.selection() {
            Some(r) => self.texts(*r.start()..*r.end() + 1, true),
            None => self.texts(self.view_top()..self.bottom_index(), true),
        }
    }

    /// What `s` writes: the selection, else the whole scrollback (every line
    /// kept, not just the screenful: the ring is what the user came to keep).
    pub fn lines_to_save(&self) -> Vec<String> {
        match self.selection() {
            Some(r) => self.texts(*r.start()..*r.end() + 1, true),
            None => self.texts(0..self.lines.len(), true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lookout_shared::{Level, LogEntry, StreamId};

    fn entry(i: u64, level: Option<Level>) -> TailLine {
        TailLine::Entry(LogEntry {
            source: StreamId {
                namespace: "ns".into(),
                pod: "p".into(),
                container: "c".into(),
                ..Default::default()
            },
            message: format!("line {i}"),
            level,
            seq: i,
            ..Default::default()
        })
    }

    fn log(n: u64) -> Log {
        let mut t = Log::new(100);
        t.view_rows.set(10);
        t.push((0..n).map(|i| entry(i, Some(Level::Info))));
        t
    }

    #[test]
    fn the_cursor_pauses_scrolls_with_it_and_follows_again_past_the_end() {
        let mut t = log(50);
        assert_eq!(t.cursor_line(), Some(49));
        assert_eq!(t.yank(), ["line 49"]);
        t.cursor_up(1);
        assert!(!t.follow);
        assert_eq!(t.cursor, Some(48));
        assert_eq!(t.scroll, 0, "still in view: nothing scrolls");
        t.cursor_up(15);
        assert_eq!(t.cursor, Some(33));
        assert_eq!(
            t.bottom_index() - 10,
            33,
            "the view's top follows the cursor"
        );
        // New lines keep a paused cursor on its line.
        t.push((50..55).map(|i| entry(i, None)));
        assert_eq!(t.cursor, Some(33));
        assert_eq!(t.yank(), ["line 33"]);
        t.cursor_down(100);
        assert!(t.follow && t.cursor.is_none());
    }

    #[test]
    fn eviction_shifts_the_cursor_and_selection() {
        let mut t = log(100);
        t.put_cursor(50);
        t.toggle_mark();
        t.cursor_up(2);
        assert_eq!(t.selection(), Some(48..=50));
        t.push((100..110).map(|i| entry(i, None)));
        assert_eq!(t.selection(), Some(38..=40));
        assert_eq!(t.yank(), ["line 48", "line 49", "line 50"]);
    }

    #[test]
    fn selection_copies_with_and_without_metadata_and_saves() {
        let mut t = log(30);
        t.cursor_up(3);
        t.toggle_mark();
        t.cursor_up(1);
        assert_eq!(t.yank(), ["line 25", "line 26"]);
        let meta = t.yank_with_meta();
        assert!(
            meta[0].contains("ns/p/c") && meta[0].ends_with("line 25"),
            "{meta:?}"
        );
        assert_eq!(t.lines_to_save().len(), 2);
        t.toggle_mark();
        assert_eq!(t.selection(), None);
        assert_eq!(
            t.yank_with_meta().len(),
            10,
            "Y without a selection: the view"
        );
        assert_eq!(
            t.lines_to_save().len(),
            30,
            "s without a selection: the ring"
        );
    }

    #[test]
    fn hidden_lines_are_stepped_over() {
        let mut t = Log::new(100);
        t.view_rows.set(10);
        t.push((0..40).map(|i| {
            entry(
                i,
                Some(if i % 4 == 0 {
                    Level::Error
                } else {
                    Level::Info
                }),
            )
        }));
        t.min_level = Some(Level::Error);
        t.cursor_up(1);
        assert_eq!(t.cursor, Some(32));
        t.cursor_up(1);
        assert_eq!(t.cursor, Some(28));
        t.min_level = None;
        t.cursor_up(1);
        assert_eq!(t.cursor, Some(27));
        t.min_level = Some(Level::Error);
        t.clamp_cursor();
        assert!(t.shown(t.cursor.unwrap()));
        assert_eq!(t.lines_to_save().len(), 10, "s saves what the view shows");
    }
}
