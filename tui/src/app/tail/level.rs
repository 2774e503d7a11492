//! The level a log line counts as, and the minimum level the pane shows (`L`).
//!
//! A trace's frames carry no level of their own; they count as their head's, so an
//! ERROR trace is drawn red to its last frame and a "warn and up" view keeps the
//! whole trace, not just its first line. Hiding is in the view only: the
//! scrollback keeps every line, and lowering the minimum brings them back.

use std::collections::VecDeque;

use lookout_shared::Level;

use super::{Log, TailLine};

/// How far up [`head_level`] looks (a JVM trace runs to a few hundred frames).
const HEAD_SCAN: usize = 512;

/// Whether a message continues the one before it (stack traces, wrapped JSON).
pub fn is_continuation(msg: &str) -> bool {
    msg.starts_with(' ')
        || msg.starts_with('\t')
        || msg.starts_with("at ")
        || msg.starts_with("Caused by")
}

/// Whether line `i` continues an event of the same stream on the line above.
pub fn continues(lines: &VecDeque<TailLine>, i: usize) -> bool {
    let Some(TailLine::Entry(e)) = lines.get(i) else {
        return false;
    };
    is_continuation(&e.message)
        && i > 0
        && matches!(lines.get(i - 1), Some(TailLine::Entry(p))
            if p.source.pod == e.source.pod && p.source.container == e.source.container)
}

/// The level of the event line `i` continues: its head's, found by walking up the
/// continuation lines of the same stream (at most [`HEAD_SCAN`] of them).
pub fn head_level(lines: &VecDeque<TailLine>, i: usize) -> Option<Level> {
    let TailLine::Entry(me) = lines.get(i)? else {
        return None;
    };
    let mut j = i;
    for _ in 0..HEAD_SCAN {
        j = j.checked_sub(1)?;
        let TailLine::Entry(p) = lines.get(j)? else {
            return None;
        };
        if p.source.pod != me.source.pod || p.source.container != me.source.container {
            return None;
        }
        if !is_continuation(&p.message) {
            return p.level;
        }
    }
    None
}

/// The level line `i` is drawn and filtered by: its own, or its head's when it
/// continues a trace.
pub fn effective_level(lines: &VecDeque<TailLine>, i: usize) -> Option<Level> {
    match lines.get(i) {
        Some(TailLine::Entry(e)) if continues(lines, i) => head_level(lines, i).or(e.level),
        Some(TailLine::Entry(e)) => e.level,
        _ => None,
    }
}

impl Log {
    /// Whether line `i` is in the view under the filter and the minimum level
    /// (`filter.rs` keeps what the filter says per line). Notices and drop
    /// markers always are; with a minimum set, a line without a known level is
    /// not (it cannot claim to be at least WARN).
    pub fn shown(&self, i: usize) -> bool {
        if !self.passes_at(i) {
            return false;
        }
        let Some(min) = self.min_level else {
            return true;
        };
        match self.lines.get(i) {
            Some(TailLine::Entry(_)) => effective_level(&self.lines, i).is_some_and(|l| l >= min),
            Some(_) => true,
            None => false,
        }
    }

    /// `L`: all → info and up → warn and up → errors only → all. The cursor, if
    /// any, moves to a line still shown.
    pub fn cycle_min_level(&mut self) {
        self.min_level = match self.min_level {
            None => Some(Level::Info),
            Some(Level::Trace | Level::Debug | Level::Info) => Some(Level::Warn),
            Some(Level::Warn) => Some(Level::Error),
            Some(Level::Error) => None,
        };
        self.clamp_cursor();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lookout_shared::{LogEntry, StreamId};

    fn line(msg: &str, level: Option<Level>) -> TailLine {
        TailLine::Entry(LogEntry {
            source: StreamId {
                pod: "p".into(),
                container: "c".into(),
                ..Default::default()
            },
            message: msg.into(),
            level,
            ..Default::default()
        })
    }

    #[test]
    fn a_minimum_keeps_whole_traces_and_markers_and_hides_the_rest() {
        let mut log = Log::new(100);
        log.push([
            line("started", Some(Level::Info)),
            line("insert failed", Some(Level::Error)),
            line("  at ledger.write(ledger.go:212)", None),
            line("no level here", None),
            TailLine::Notice("filter changed".into()),
            line("slow", Some(Level::Warn)),
        ]);
        let shown = |log: &Log| -> Vec<usize> { (0..6).filter(|&i| log.shown(i)).collect() };
        assert_eq!(shown(&log), [0, 1, 2, 3, 4, 5]);
        log.cycle_min_level();
        assert_eq!(log.min_level, Some(Level::Info));
        assert_eq!(shown(&log), [0, 1, 2, 4, 5]);
        log.cycle_min_level();
        assert_eq!(shown(&log), [1, 2, 4, 5]);
        log.cycle_min_level();
        assert_eq!(shown(&log), [1, 2, 4]);
        log.cycle_min_level();
        assert_eq!(log.min_level, None);
        assert_eq!(log.lines.len(), 6, "hiding never dropped a line");
    }
}
