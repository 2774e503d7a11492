//! The Search screen's histogram pane and its keys: pick a bar, narrow the range
//! to it.

use super::{RangeChoice, Search, SearchFocus};
use crate::app::{Effect, Outbox, PromptKind};
use crate::keys::{bind, Binding, Key, BACKTAB, ENTER, ESC, LEFT, RIGHT, TAB};

/// The histogram's keys; `Search::on_histogram_key` handles exactly these.
pub const KEYS: &[Binding] = &[
    bind(
        &[LEFT, RIGHT, Key::Char('h'), Key::Char('l')],
        "pick a bar",
        true,
    ),
    bind(&[ENTER], "narrow the range to the bar", true),
    bind(&[Key::Char('r')], "custom range (15m or FROM..UNTIL)", true),
    bind(&[Key::Ctrl('r')], "cycle range", false),
    bind(&[Key::Char('/'), ESC], "edit query", false),
    bind(&[TAB, BACKTAB], "next / previous pane", true),
];

impl Search {
    /// The histogram's handler.
    pub(crate) fn on_histogram_key(&mut self, k: Key, out: &mut Outbox) -> Effect {
        let n = self
            .histogram
            .as_ref()
            .map(|h| h.buckets.len())
            .unwrap_or(0);
        match k {
            Key::Ctrl('r') => self.cycle_range(out),
            LEFT | Key::Char('h') if n > 0 => {
                self.bar = Some(self.bar.unwrap_or(n).saturating_sub(1))
            }
            RIGHT | Key::Char('l') if n > 0 => {
                self.bar = Some(self.bar.map(|b| (b + 1).min(n - 1)).unwrap_or(n - 1))
            }
            ENTER => {
                if let Some(r) = self.bar.and_then(|b| self.bar_range(b)) {
                    self.range = RangeChoice::Custom(r);
                    self.run(out);
                }
            }
            Key::Char('r') => return Effect::Prompt(PromptKind::Range, String::new()),
            Key::Char('/') | BACKTAB | ESC => self.focus = SearchFocus::Input,
            TAB => self.focus = SearchFocus::Results,
            _ => return Effect::Pass,
        }
        Effect::Done
    }
}
