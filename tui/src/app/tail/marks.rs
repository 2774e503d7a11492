//! Marks: `m` marks the line under the cursor (or unmarks it), `'` and `"` jump to
//! the next newer / older mark, as one keeps a finger on a few lines while reading
//! on. A mark belongs to an entry (by `seq`), so it stays on its line as new ones
//! arrive and goes when the line leaves the scrollback.

use std::collections::BTreeSet;

use super::{Log, TailLine};
use crate::app::Effect;

/// Marks kept at most; past it the oldest goes (each is one `u64`).
const MAX_MARKS: usize = 4096;

/// The marked entries, by seq.
#[derive(Debug, Default)]
pub struct Marks(BTreeSet<u64>);

impl Marks {
    pub fn has(&self, seq: u64) -> bool {
        self.0.contains(&seq)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Forgets an evicted entry's mark.
    pub fn forget(&mut self, seq: u64) {
        if !self.0.is_empty() {
            self.0.remove(&seq);
        }
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }
}

impl Log {
    /// Whether line `i` is a marked entry.
    pub fn marked(&self, i: usize) -> bool {
        matches!(self.lines.get(i), Some(TailLine::Entry(e)) if self.marks.has(e.seq))
    }

    /// `m`: marks the entry under the cursor (the newest while following), or
    /// unmarks it.
    pub fn toggle_line_mark(&mut self) -> Effect {
        let Some(i) = self.cursor_line() else {
            return Effect::Say("no line to mark".into());
        };
        let Some(TailLine::Entry(e)) = self.lines.get(i) else {
            return Effect::Say("only log lines take a mark".into());
        };
        let seq = e.seq;
        if !self.marks.0.remove(&seq) {
            self.marks.0.insert(seq);
            while self.marks.0.len() > MAX_MARKS {
                self.marks.0.pop_first();
            }
        }
        Effect::Say(format!("{} marked · ' next  \" previous", self.marks.len()))
    }

    /// `'` (newer) / `"` (older): the cursor to the next marked line shown.
    pub fn mark_next(&mut self, newer: bool) -> Effect {
        if self.marks.is_empty() {
            return Effect::Say("no marks: m marks the line under the cursor".into());
        }
        let from = self.cursor.unwrap_or(self.lines.len());
        let n = self.lines.len();
        let hit = if newer {
            ((from + 1).min(n)..n).find(|&i| self.marked(i) && self.shown(i))
        } else {
            (0..from.min(n))
                .rev()
                .find(|&i| self.marked(i) && self.shown(i))
        };
        match hit {
            Some(i) => {
                self.put_cursor(i);
                Effect::Done
            }
            None => Effect::Say(format!("no {} mark", if newer { "newer" } else { "older" })),
        }
    }
}
