//! The Search screen's query box and its keys (the editing keys come from
//! [`crate::app::input::KEYS`]).

use lookout_shared::protocol::{ErrorBody, ErrorCode, StreamInfo};

use super::{Search, SearchFocus};
use crate::app::complete::{complete, Completion};
use crate::app::history::{History, Kind};
use crate::app::{Effect, Outbox};
use crate::keys::{bind, Binding, Key, BACKTAB, DOWN, ENTER, ESC, TAB, UP};

/// The query box's own keys; `Search::on_query_key` handles these and types
/// everything else into the box.
pub const KEYS: &[Binding] = &[
    bind(&[ENTER], "search (a query with an error stays here)", true),
    bind(&[Key::Ctrl('r')], "cycle range 15m 1h 6h 24h 7d all", true),
    bind(&[ESC], "to results", true),
    bind(&[UP], "older query (kept across runs)", false),
    bind(&[DOWN], "newer query, past the newest to results", false),
    bind(&[TAB], "complete a field or value, else next pane", false),
    bind(&[BACKTAB], "previous pane", false),
];

impl Search {
    /// The query box's handler.
    pub(crate) fn on_query_key(
        &mut self,
        k: Key,
        out: &mut Outbox,
        history: &mut History,
        streams: &[StreamInfo],
    ) -> Effect {
        match k {
            // A query that does not parse is not sent, and focus stays in the box:
            // moving it to the results made the next letters run commands.
            ENTER if self.check_query() => {
                history.record(Kind::Search, &self.input.text);
                self.run(out);
                self.focus = SearchFocus::Results;
            }
            ENTER => {}
            Key::Ctrl('r') => self.cycle_range(out),
            UP => {
                if let Some(t) = history.older(Kind::Search, &self.input.text) {
                    self.input.set(t);
                    self.check_query();
                }
            }
            DOWN if history.is_browsing(Kind::Search) => {
                if let Some(t) = history.newer(Kind::Search) {
                    self.input.set(t);
                    self.check_query();
                }
            }
            ESC | DOWN | BACKTAB => self.focus = SearchFocus::Results,
            TAB => match complete(&mut self.input, streams) {
                Completion::Done => {
                    self.check_query();
                }
                Completion::Choices(c) => return Effect::Say(c.join("  ")),
                Completion::Nothing => self.focus = SearchFocus::Histogram,
            },
            _ => {
                if self.input.edit(k) {
                    history.stop_browsing();
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
