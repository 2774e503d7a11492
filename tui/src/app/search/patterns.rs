//! The patterns view: the kinds of lines among the current search's matches
//! (`P` on the results), most frequent first, with their trend and first sighting;
//! `Enter` narrows the search to one of them, `Esc` goes back to the results.
//!
//! It asks the daemon's `patterns` request with the query and range the results
//! were searched with, so the counts are those of the events the results page
//! through, not of the pages loaded so far.

use std::cell::Cell;

use lookout_shared::protocol::{ClientMsg, ErrorBody, PatternsParams, PatternsResult, ReqId};
use lookout_shared::PatternId;

use super::{Search, SearchFocus};
use crate::app::{Effect, Outbox};
use crate::keys::{bind, Binding, Key, BACKSPACE, DOWN, END, ENTER, ESC, HOME, PGDN, PGUP, UP};

/// Most patterns asked for: the daemon's own default, and more rows than a
/// terminal shows several screens of.
pub const PATTERNS_LIMIT: u32 = 100;

/// The patterns view's keys; `Search::on_patterns_key` handles exactly these.
pub const KEYS: &[Binding] = &[
    bind(&[Key::Char('j'), Key::Char('k'), UP, DOWN], "move", true),
    bind(
        &[Key::Char('g'), Key::Char('G'), HOME, END],
        "first / last",
        false,
    ),
    bind(&[PGUP, PGDN], "page", false),
    bind(&[ENTER], "filter the results to this pattern", true),
    bind(&[Key::Char('P'), ESC, BACKSPACE], "back to results", true),
];

/// The patterns of one query and range, as the daemon listed them.
#[derive(Debug, Clone, Default)]
pub struct PatternsView {
    /// What was asked (the query and range of the results).
    pub params: PatternsParams,
    /// The request in flight, until its answer.
    pub req: Option<ReqId>,
    /// The answer, most frequent first.
    pub result: Option<PatternsResult>,
    /// The daemon's error for the request.
    pub error: Option<String>,
    /// The request was not sent (or its answer lost) for want of a connection:
    /// it goes out on reconnect.
    pub rerun: bool,
    pub selected: usize,
    /// First visible row (the drawing keeps the selection in view).
    pub offset: Cell<usize>,
    pub view_rows: Cell<usize>,
}

impl PatternsView {
    fn send(&mut self, out: &mut Outbox) {
        if !out.online() {
            self.req = None;
            self.rerun = true;
            return;
        }
        self.rerun = false;
        let params = self.params.clone();
        self.req = Some(out.send(|id| ClientMsg::Patterns { id, params }));
    }

    fn len(&self) -> usize {
        self.result.as_ref().map_or(0, |r| r.patterns.len())
    }

    pub(super) fn move_by(&mut self, d: isize) {
        let max = self.len().saturating_sub(1) as isize;
        self.selected = (self.selected as isize).saturating_add(d).clamp(0, max) as usize;
    }
}

/// The clause that finds every event of a pattern: `pattern:ID`, or with ids
/// merged into it, `pattern:IN [...]` of them all (what `ids` lists).
pub fn pattern_clause(id: PatternId, ids: &[PatternId]) -> String {
    if ids.len() > 1 {
        let all: Vec<String> = ids.iter().map(ToString::to_string).collect();
        format!("pattern:IN [{}]", all.join(" "))
    } else {
        format!("pattern:{id}")
    }
}

/// `query` narrowed by `clause`: the clause alone for an empty or `*` query, else
/// both (the query in parentheses, so its `OR`s stay inside).
pub fn narrowed(query: &str, clause: &str) -> String {
    let q = query.trim();
    if q.is_empty() || q == "*" {
        clause.to_string()
    } else {
        format!("({q}) AND {clause}")
    }
}

impl Search {
    /// `P` on the results: the patterns of the query and range the results came
    /// from (the box's text and range when nothing has run yet).
    pub(crate) fn open_patterns(&mut self, out: &mut Outbox) -> Effect {
        let p = self.params.clone().unwrap_or_else(|| self.fresh_params());
        if lookout_shared::query::parse(&p.query).is_err() {
            self.focus = SearchFocus::Input;
            self.check_query();
            return Effect::Say("fix the query first: patterns are of its matches".into());
        }
        let mut view = PatternsView {
            params: PatternsParams {
                query: p.query,
                range: p.range,
                new_only: false,
                limit: PATTERNS_LIMIT,
            },
            ..Default::default()
        };
        view.send(out);
        self.patterns = Some(view);
        Effect::Done
    }

    /// The patterns view's handler.
    pub(crate) fn on_patterns_key(&mut self, k: Key, out: &mut Outbox) -> Effect {
        let Some(view) = &mut self.patterns else {
            return Effect::Pass;
        };
        let page = view.view_rows.get().max(1) as isize;
        match k {
            Key::Char('j') | DOWN => view.move_by(1),
            Key::Char('k') | UP => view.move_by(-1),
            PGDN => view.move_by(page),
            PGUP => view.move_by(-page),
            Key::Char('g') | HOME => view.selected = 0,
            Key::Char('G') | END => view.move_by(isize::MAX / 2),
            ENTER => return self.filter_to_pattern(out),
            Key::Char('P') | ESC | BACKSPACE => self.patterns = None,
            _ => return Effect::Pass,
        }
        Effect::Done
    }

    /// `Enter` on a pattern: the search again, narrowed to that pattern, with the
    /// results focused.
    fn filter_to_pattern(&mut self, out: &mut Outbox) -> Effect {
        let Some(view) = &self.patterns else {
            return Effect::Pass;
        };
        let Some(p) = view
            .result
            .as_ref()
            .and_then(|r| r.patterns.get(view.selected))
        else {
            return Effect::Say("no pattern to filter by".into());
        };
        let query = narrowed(&view.params.query, &pattern_clause(p.id, &p.ids));
        self.patterns = None;
        self.input.set(query);
        self.error = None;
        self.focus = SearchFocus::Results;
        self.run(out);
        Effect::Done
    }

    /// `=` on a result: its pattern's events over the current range.
    pub(crate) fn search_pattern_of_selected(&mut self, out: &mut Outbox) -> Effect {
        let Some(e) = self.results.get(self.selected) else {
            return Effect::Say("no result under the cursor".into());
        };
        let Some(id) = e.pattern else {
            return Effect::Say("this event has no pattern".into());
        };
        self.input.set(format!("pattern:{id}"));
        self.error = None;
        self.run(out);
        Effect::Done
    }

    /// The answer to the patterns request; one for a view since closed is dropped.
    pub fn on_patterns(&mut self, id: ReqId, result: PatternsResult) {
        if let Some(view) = &mut self.patterns {
            if view.req == Some(id) {
                view.req = None;
                view.error = None;
                view.selected = 0;
                view.offset.set(0);
                view.result = Some(result);
            }
        }
    }

    /// An error for the patterns request; whether it was that one.
    pub(super) fn on_patterns_error(&mut self, id: ReqId, error: &ErrorBody) -> bool {
        match &mut self.patterns {
            Some(view) if view.req == Some(id) => {
                view.req = None;
                view.error = Some(error.message.clone());
                true
            }
            _ => false,
        }
    }

    /// The connection dropped: a request in flight goes again on reconnect.
    pub(super) fn patterns_disconnected(&mut self) {
        if let Some(view) = &mut self.patterns {
            view.rerun |= view.req.take().is_some();
        }
    }

    /// Connected (again): a request that waited goes out.
    pub(super) fn patterns_connected(&mut self, out: &mut Outbox) {
        if let Some(view) = &mut self.patterns {
            if view.rerun {
                view.send(out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_narrows_the_query_it_came_from() {
        let a = PatternId::new(0xab);
        let b = PatternId::new(0xcd);
        assert_eq!(pattern_clause(a, &[a]), "pattern:00000000000000ab");
        assert_eq!(pattern_clause(a, &[]), "pattern:00000000000000ab");
        assert_eq!(
            pattern_clause(a, &[a, b]),
            "pattern:IN [00000000000000ab 00000000000000cd]"
        );
        assert_eq!(narrowed("  ", "pattern:x"), "pattern:x");
        assert_eq!(narrowed("*", "pattern:x"), "pattern:x");
        assert_eq!(
            narrowed("level:error OR timeout", "pattern:x"),
            "(level:error OR timeout) AND pattern:x"
        );
        for q in [
            narrowed("level:error OR timeout", &pattern_clause(a, &[a, b])),
            pattern_clause(a, &[a]),
        ] {
            assert!(lookout_shared::query::parse(&q).is_ok(), "{q}");
        }
    }
}
