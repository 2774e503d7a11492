//! The Search screen's query box and its keys (the editing keys come from
//! [`crate::app::input::KEYS`]).

use super::{Search, SearchFocus};
use crate::app::{Effect, Outbox};
use crate::keys::{bind, Binding, Key, BACKTAB, DOWN, ENTER, ESC, TAB};

/// The query box's own keys; `Search::on_query_key` handles these and types
/// everything else into the box.
pub const KEYS: &[Binding] = &[
    bind(&[ENTER], "search", true),
    bind(&[Key::Ctrl('r')], "cycle range 15m 1h 6h 24h 7d all", true),
    bind(&[ESC, DOWN], "to results", true),
    bind(&[TAB, BACKTAB], "next / previous pane", false),
];

impl Search {
    /// The query box's handler.
    pub(crate) fn on_query_key(&mut self, k: Key, out: &mut Outbox) -> Effect {
        match k {
            ENTER => {
                self.run(out);
                self.focus = SearchFocus::Results;
            }
            Key::Ctrl('r') => self.cycle_range(out),
            ESC | DOWN | BACKTAB => self.focus = SearchFocus::Results,
            TAB => self.focus = SearchFocus::Histogram,
            _ => {
                self.input.edit(k);
            }
        }
        Effect::Done
    }
}
