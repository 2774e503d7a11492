//! The Search screen: one search (query, range, the pages that came back) seen
//! through three panes, and the context view over them.
//!
//! - [`query`]: the query box's keys and handler.
//! - [`histogram`]: the histogram's keys and handler (picking a bar narrows the range).
//! - [`results`]: the results list's keys and handler (paging as it nears the end).
//! - [`context`]: the lines around one hit: state, keys, handler.
//! - [`patterns`]: the kinds of lines among the matches (`P`): state, keys, handler.
//!
//! The panes share one state, [`Search`]: they are views of the same request and
//! its answer, so their cursors live beside it. Replies for this screen are search
//! pages, context pages and errors for those requests.

pub mod context;
pub mod histogram;
pub mod patterns;
pub mod query;
pub mod results;
pub mod save;

pub use context::ContextView;
pub use patterns::PatternsView;

use std::cell::Cell;

use lookout_shared::protocol::{
    ClientMsg, ContextPage, Cursor, ErrorBody, Histogram, Order, ReqId, SearchPage, SearchParams,
    TimeRange,
};
use lookout_shared::{LogEntry, Timestamp};

use super::event::Expanded;
use super::input::TextInput;
use super::{Effect, Outbox};
use crate::clock::Zone;

/// Result rows one wheel notch moves.
const WHEEL_ROWS: isize = 3;

/// The preset ranges `Ctrl-r` cycles through; `None` is all time.
pub const RANGES: &[Option<&str>] = &[
    Some("15m"),
    Some("1h"),
    Some("6h"),
    Some("24h"),
    Some("7d"),
    None,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchFocus {
    Input,
    Histogram,
    Results,
}

/// The chosen time range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeChoice {
    Preset(usize),
    Custom(TimeRange),
}

impl RangeChoice {
    pub fn to_range(&self) -> TimeRange {
        match self {
            RangeChoice::Preset(i) => TimeRange {
                since: RANGES.get(*i).copied().flatten().map(str::to_string),
                ..Default::default()
            },
            RangeChoice::Custom(r) => r.clone(),
        }
    }

    pub fn label(&self, zone: Zone, now: Timestamp) -> String {
        match self {
            RangeChoice::Preset(i) => match RANGES.get(*i).copied().flatten() {
                Some(s) => format!("last {s}"),
                None => "all time".into(),
            },
            RangeChoice::Custom(r) => {
                if let Some(s) = &r.since {
                    return format!("last {s}");
                }
                match (r.from, r.until) {
                    (Some(f), Some(u)) => zone.span(now, f, u),
                    (Some(f), None) => {
                        let from = zone.labels(now, &[f, now]).swap_remove(0);
                        format!("{from} → now")
                    }
                    (None, Some(u)) => format!("… → {}", zone.clock_ms(now, u)),
                    (None, None) => "all time".into(),
                }
            }
        }
    }
}

#[derive(Debug)]
pub struct Search {
    pub input: TextInput,
    pub focus: SearchFocus,
    pub range: RangeChoice,
    /// The params of the running search (for paging).
    pub params: Option<SearchParams>,
    pub req: Option<u64>,
    pub more_req: Option<u64>,
    pub results: Vec<LogEntry>,
    pub total: u64,
    pub histogram: Option<Histogram>,
    pub next_cursor: Option<Cursor>,
    /// Through a cluster hub: the node of `next_cursor`'s entry, passed back with it.
    pub next_cursor_node: Option<String>,
    pub error: Option<ErrorBody>,
    pub took_ms: f64,
    pub selected: usize,
    /// First visible result row.
    pub offset: Cell<usize>,
    pub bar: Option<usize>,
    pub context: Option<ContextView>,
    /// The patterns view (`P`), over the results like the context view.
    pub patterns: Option<PatternsView>,
    pub view_rows: Cell<usize>,
    /// Whether a search has ever run (for the empty-state hint).
    pub searched: bool,
    /// The search could not be sent (or its answer was lost) for want of a
    /// connection: it runs again on reconnect.
    pub rerun: bool,
    /// Results shown whole (`o`), by seq.
    pub expanded: Expanded,
    /// `s` writing every result to a file, page by page.
    pub saving: Option<save::SaveJob>,
}

/// Page size for the results list.
pub const PAGE: u32 = 200;

impl Search {
    pub fn new() -> Search {
        Search {
            input: TextInput::default(),
            focus: SearchFocus::Input,
            range: RangeChoice::Preset(1),
            params: None,
            req: None,
            more_req: None,
            results: Vec::new(),
            total: 0,
            histogram: None,
            next_cursor: None,
            next_cursor_node: None,
            error: None,
            took_ms: 0.0,
            selected: 0,
            offset: Cell::new(0),
            bar: None,
            context: None,
            patterns: None,
            view_rows: Cell::new(10),
            searched: false,
            rerun: false,
            expanded: Expanded::default(),
            saving: None,
        }
    }

    /// The params for a fresh search of the current input and range.
    pub fn fresh_params(&self) -> SearchParams {
        SearchParams {
            query: self.input.text.trim().to_string(),
            range: self.range.to_range(),
            limit: PAGE,
            cursor: None,
            order: Order::NewestFirst,
            histogram: true,
            ..Default::default()
        }
    }

    /// Records a request for a new search, keeping old results until the answer.
    pub fn started(&mut self, id: u64, params: SearchParams) {
        self.req = Some(id);
        self.more_req = None;
        self.params = Some(params);
        self.searched = true;
    }

    pub fn on_page(&mut self, id: u64, page: SearchPage) {
        if Some(id) == self.req {
            self.req = None;
            self.error = None;
            self.results = page.entries;
            self.total = page.total;
            self.histogram = page.histogram;
            self.next_cursor = page.next_cursor;
            self.next_cursor_node = page.next_cursor_node;
            self.took_ms = page.took_ms;
            self.selected = 0;
            self.offset.set(0);
            self.bar = None;
            self.expanded.clear();
        } else if Some(id) == self.more_req {
            self.more_req = None;
            self.results.extend(page.entries);
            self.next_cursor = page.next_cursor;
            self.next_cursor_node = page.next_cursor_node;
        }
    }

    /// An error for the running search (or its next page). For the search itself
    /// the query box gets the focus back, so what the user types next edits the
    /// query rather than running the results' keys.
    pub fn on_error(&mut self, id: u64, error: ErrorBody) -> bool {
        if Some(id) == self.req {
            self.focus = SearchFocus::Input;
        }
        if Some(id) == self.req || Some(id) == self.more_req {
            self.req = None;
            self.more_req = None;
            self.error = Some(error);
            true
        } else {
            false
        }
    }

    /// The params for the next page when the selection nears the end of what is loaded.
    pub fn want_more(&self) -> Option<SearchParams> {
        if self.more_req.is_some() || self.req.is_some() {
            return None;
        }
        let cursor = self.next_cursor?;
        let near = self.selected + self.view_rows.get().max(1) + 10 >= self.results.len();
        if !near {
            return None;
        }
        let mut p = self.params.clone()?;
        p.cursor = Some(cursor);
        p.cursor_node.clone_from(&self.next_cursor_node);
        p.histogram = false;
        Some(p)
    }

    pub fn move_by(&mut self, d: isize) {
        if self.results.is_empty() {
            self.selected = 0;
            return;
        }
        let max = self.results.len() - 1;
        self.selected = (self.selected as isize + d).clamp(0, max as isize) as usize;
    }

    /// The time range of histogram bar `i`, for narrowing (read back as the daemon
    /// laid the bars out: [`Histogram::bar_range`]).
    pub fn bar_range(&self, i: usize) -> Option<TimeRange> {
        self.histogram.as_ref()?.bar_range(i)
    }
    /// Runs the query in the box with the current range; while disconnected it
    /// waits for the connection (the screen says so) rather than for an answer
    /// that cannot come.
    pub fn run(&mut self, out: &mut Outbox) {
        let params = self.fresh_params();
        if !out.online() {
            self.req = None;
            self.more_req = None;
            self.params = Some(params);
            self.searched = true;
            self.rerun = true;
            return;
        }
        self.rerun = false;
        let id = out.send(|id| ClientMsg::Search {
            id,
            params: params.clone(),
        });
        self.started(id, params);
    }

    /// Runs `query` over all time with the results focused (Tail's `p`: a
    /// container's previous instance).
    pub fn search_all(&mut self, query: &str, out: &mut Outbox) {
        self.input.set(query.to_string());
        self.range = RangeChoice::Preset(RANGES.len() - 1);
        self.error = None;
        self.focus = SearchFocus::Results;
        self.context = None;
        self.patterns = None;
        self.run(out);
    }

    /// `Ctrl-r`: the next preset range, searched again when a search has run.
    pub fn cycle_range(&mut self, out: &mut Outbox) {
        self.range = match &self.range {
            RangeChoice::Preset(i) => RangeChoice::Preset((i + 1) % RANGES.len()),
            RangeChoice::Custom(_) => RangeChoice::Preset(0),
        };
        if self.searched {
            self.run(out);
        }
    }

    /// The range prompt's answer (times of day and `today` in the user's zone).
    pub fn set_range(
        &mut self,
        text: &str,
        zone: Zone,
        now: Timestamp,
        out: &mut Outbox,
    ) -> Effect {
        match zone.parse_range(now, text) {
            Ok(r) => {
                self.range = RangeChoice::Custom(r);
                self.run(out);
                Effect::Done
            }
            Err(e) => Effect::Say(format!("range: {e}")),
        }
    }

    /// Asks for the next page when the selection nears the end of what is loaded.
    pub fn maybe_more(&mut self, out: &mut Outbox) {
        if !out.online() {
            return;
        }
        if let Some(params) = self.want_more() {
            self.more_req = Some(out.send(|id| ClientMsg::Search { id, params }));
        }
    }

    /// The wheel moves the context view or the patterns when open, else the results.
    pub fn on_wheel(&mut self, up: bool, out: &mut Outbox) {
        let d = if up { -WHEEL_ROWS } else { WHEEL_ROWS };
        if let (None, Some(view)) = (&self.context, &mut self.patterns) {
            return view.move_by(d);
        }
        match &mut self.context {
            Some(cv) => cv.scroll_by(d, out),
            None => {
                self.move_by(d);
                self.maybe_more(out);
            }
        }
    }

    /// What `s` writes from the context view (the results go through
    /// [`Search::start_save`], which fetches every page).
    pub fn lines_to_save(&self) -> Vec<String> {
        let fmt = crate::cli::entry_line;
        match &self.context {
            Some(cv) => cv.lines().map(fmt).collect(),
            None => self.results.iter().map(fmt).collect(),
        }
    }

    // ---- replies ------------------------------------------------------------------

    pub fn on_result(&mut self, id: ReqId, page: SearchPage, out: &mut Outbox) -> Effect {
        let page = match self.saving.as_ref().and_then(|j| j.req) {
            Some(r) if r == id => {
                return self.on_save_page(id, page, out).unwrap_or(Effect::Done);
            }
            _ => page,
        };
        self.on_page(id, page);
        self.maybe_more(out);
        Effect::Done
    }

    pub fn on_context(&mut self, id: ReqId, page: ContextPage, out: &mut Outbox) {
        if let Some(cv) = &mut self.context {
            if cv.on_page(id, page) {
                // Opened near an edge (a hit among the first lines): fill it.
                cv.load_edges(out);
            }
        }
    }

    /// An error for one of this screen's requests; [`Effect::Pass`] when it is not.
    pub fn on_reply_error(&mut self, id: ReqId, error: &ErrorBody) -> Effect {
        if let Some(e) = self.on_save_error(id, error) {
            return e;
        }
        if self.on_error(id, error.clone()) {
            return Effect::Done;
        }
        if self.on_patterns_error(id, error) {
            return Effect::Done;
        }
        match &mut self.context {
            Some(cv) if cv.owns(id) => {
                cv.forget(id);
                Effect::Say(format!("context: {}", error.message))
            }
            _ => Effect::Pass,
        }
    }

    /// Replies to requests in flight will never come.
    /// A search in flight runs again once connected.
    pub fn on_disconnect(&mut self) -> Effect {
        let stopped = self.stop_save(None, "connection lost");
        self.rerun |= self.req.is_some();
        self.req = None;
        self.more_req = None;
        self.patterns_disconnected();
        if let Some(cv) = &mut self.context {
            cv.req = None;
            cv.older_req = None;
            cv.newer_req = None;
        }
        stopped.unwrap_or(Effect::Done)
    }

    /// Connected (again): the search that waited runs.
    pub fn on_connected(&mut self, out: &mut Outbox) {
        if std::mem::take(&mut self.rerun) {
            self.run(out);
        }
        self.patterns_connected(out);
    }
}

impl Default for Search {
    fn default() -> Self {
        Search::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_asks_for_more_near_the_end() {
        let mut s = Search::new();
        s.view_rows.set(10);
        s.started(1, s.fresh_params());
        s.on_page(
            1,
            SearchPage {
                entries: vec![LogEntry::default(); 30],
                total: 100,
                next_cursor: Some(Cursor {
                    ts: Timestamp(5),
                    seq: 1,
                }),
                ..Default::default()
            },
        );
        assert!(s.want_more().is_none());
        s.move_by(15);
        let p = s.want_more().unwrap();
        assert_eq!(
            p.cursor,
            Some(Cursor {
                ts: Timestamp(5),
                seq: 1
            })
        );
        s.more_req = Some(2);
        s.on_page(
            2,
            SearchPage {
                entries: vec![LogEntry::default(); 30],
                total: 100,
                ..Default::default()
            },
        );
        assert_eq!(s.results.len(), 60);
        assert!(s.want_more().is_none());
    }
}
