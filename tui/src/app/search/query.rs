//! The Search screen's query box and its keys (the editing keys come from
//! [`crate::app::input::KEYS`]).

use lookout_shared::protocol::{ErrorBody, ErrorCode};

use super::{Search, SearchFocus};
use crate::app::{Effect, Outbox};
use crate::keys::{bind, Binding, Key, BACKTAB, DOWN, ENTER, ESC, TAB};

/// The query box's own keys; `Search::on_query_key` handles these and types
/// everything else into the box.
pub const KEYS: &[Binding] = &[
    bind(&[ENTER], "search (a query with an error stays here)", true),
    bind(&[Key::Ctrl('r')], "cycle range 15m 1h 6h 24h 7d all", true),
    bind(&[ESC, DOWN], "to results", true),
    bind(&[TAB, BACKTAB], "next / previous pane", false),
];

impl Search {
    /// The query box's handler.
    pub(crate) fn on_query_key(&mut self, k: Key, out: &mut Outbox) -> Effect {
        match k {
            // A query that does not parse is not sent, and focus stays in the box:
            // moving it to the results made the next letters run commands.
            ENTER if self.check_query() => {
                self.run(out);
                self.focus = SearchFocus::Results;
            }
            ENTER => {}
            Key::Ctrl('r') => self.cycle_range(out),
            ESC | DOWN | BACKTAB => self.focus = SearchFocus::Results,
            TAB => self.focus = SearchFocus::Histogram,
            _ => {
                if self.input.edit(k) {
                    self.check_query();
                }
            }
        }
        Effect::Done
    }

    /// Parses the box with the shared parser (the daemon's): its error, with the
    /// column, replaces whatever was shown, so the message under the box is always
    /// about the text in it. Returns whether the query parses.
    pub fn check_query(&mut self) -> bool {
        match lookout_shared::query::parse(&self.input.text) {
            Ok(_) => {
                if self
                    .error
                    .as_ref()
                    .is_some_and(|e| e.code == ErrorCode::BadQuery)
                {
                    self.error = None;
                }
                true
            }
            Err(e) => {
                self.error = Some(ErrorBody {
                    code: ErrorCode::BadQuery,
                    message: e.message,
                    position: Some(e.position),
                    field: None,
                });
                false
            }
        }
    }
}
