//! The Search screen's results list and its keys; nearing the end of what is
//! loaded asks for the next page.

use super::{ContextView, Search, SearchFocus};
use crate::app::{Effect, Outbox, PromptKind};
use crate::keys::{bind, Binding, Key, BACKTAB, DOWN, END, ENTER, ESC, HOME, PGDN, PGUP, TAB, UP};

/// The results list's keys; `Search::on_results_key` handles exactly these.
pub const KEYS: &[Binding] = &[
    bind(&[Key::Char('j'), Key::Char('k'), UP, DOWN], "move", true),
    bind(
        &[Key::Char('g'), Key::Char('G'), HOME, END],
        "first / last loaded",
        false,
    ),
    bind(&[PGUP, PGDN], "page (loads more)", false),
    bind(
        &[Key::Ctrl('u'), Key::Ctrl('d')],
        "half page up / down",
        false,
    ),
    bind(&[ENTER], "context around the line", true),
    bind(&[Key::Char('o')], "expand / fold", true),
    bind(
        &[Key::Char('P')],
        "patterns: the kinds of lines, new ones marked",
        true,
    ),
    bind(
        &[Key::Char('=')],
        "search the pattern of the line under the cursor",
        false,
    ),
    bind(
        &[Key::Char('y'), Key::Char('Y')],
        "copy the line / with time and stream",
        false,
    ),
    bind(&[Key::Char('/'), Key::Char('i'), ESC], "edit query", true),
    bind(&[Key::Char('r')], "custom range", false),
    bind(&[Key::Ctrl('r')], "cycle range", false),
    bind(
        &[Key::Char('s')],
        "save every result to a file (pages through them all)",
        false,
    ),
    bind(&[TAB, BACKTAB], "next / previous pane", true),
];

impl Search {
    /// The results list's handler.
    pub(crate) fn on_results_key(&mut self, k: Key, out: &mut Outbox) -> Effect {
        let page = self.view_rows.get().max(1) as isize;
        let effect = match k {
            Key::Ctrl('r') => {
                self.cycle_range(out);
                Effect::Done
            }
            Key::Ctrl('u') => self.moved(-page / 2),
            Key::Ctrl('d') => self.moved(page / 2),
            Key::Char('j') | DOWN => self.moved(1),
            Key::Char('k') | UP => self.moved(-1),
            PGDN => self.moved(page),
            PGUP => self.moved(-page),
            Key::Char('g') | HOME => {
                self.selected = 0;
                Effect::Done
            }
            Key::Char('G') | END => self.moved(isize::MAX / 2),
            ENTER if !out.online() => {
                Effect::Say("not connected: context loads once the daemon is back".into())
            }
            ENTER => {
                self.open_context(out);
                Effect::Done
            }
            Key::Char('/' | 'i') | TAB | ESC => {
                self.focus = SearchFocus::Input;
                Effect::Done
            }
            BACKTAB => {
                self.focus = SearchFocus::Histogram;
                Effect::Done
            }
            Key::Char('r') => Effect::Prompt(PromptKind::Range, String::new()),
            Key::Char('s') => Effect::Save,
            Key::Char('P') if !out.online() => {
                Effect::Say("not connected: patterns load once the daemon is back".into())
            }
            Key::Char('P') => self.open_patterns(out),
            Key::Char('=') => self.search_pattern_of_selected(out),
            Key::Char('o') => match self.results.get(self.selected) {
                Some(e) if self.expanded.toggle(e) => Effect::Done,
                Some(_) => Effect::Say("one line, no fields: nothing more to show".into()),
                None => Effect::Done,
            },
            Key::Char(c @ ('y' | 'Y')) => {
                let hit = self.results.get(self.selected);
                Effect::Copy(hit.map(|e| copy_text(e, c == 'Y')).into_iter().collect())
            }
            _ => Effect::Pass,
        };
        self.maybe_more(out);
        effect
    }

    fn moved(&mut self, d: isize) -> Effect {
        self.move_by(d);
        Effect::Done
    }

    /// Asks for the lines around the selected hit and shows them over the results.
    fn open_context(&mut self, out: &mut Outbox) {
        if let Some(hit) = self.results.get(self.selected).cloned() {
            self.context = Some(ContextView::open(hit, out));
        }
    }
}

/// What `y` (the message) and `Y` (with time, stream and level, as `lookout search`
/// prints it) copy of one line.
pub(super) fn copy_text(e: &lookout_shared::LogEntry, with_meta: bool) -> String {
    if with_meta {
        crate::cli::entry_line(e)
    } else {
        e.message.clone()
    }
}
