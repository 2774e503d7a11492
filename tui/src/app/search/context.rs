//! The context view: the lines before and after one search hit across every stream
//! of its pod (stdout and stderr, every container, in time order), opened over the
//! results with `Enter`; scrolling near either edge loads more from the daemon.

use lookout_shared::protocol::{ClientMsg, ContextPage, ContextScope, Cursor, ReqId};
use lookout_shared::LogEntry;

use super::Search;
use crate::app::tail::StreamKey;
use crate::app::{Effect, Outbox};
use crate::keys::{bind, Binding, Key, BACKSPACE, DOWN, ESC, UP};

/// Lines asked for on each side when the view opens, and each time it grows.
pub const CONTEXT_LINES: u32 = 20;
/// How near an edge the cursor comes before the next lines are asked for.
const EDGE: usize = 5;

/// The context view's keys; `Search::on_context_key` handles exactly these.
pub const KEYS: &[Binding] = &[
    bind(
        &[Key::Char('j'), Key::Char('k'), UP, DOWN],
        "scroll (loads more at the edges)",
        true,
    ),
    bind(&[Key::Char('g'), Key::Char('G')], "top / bottom", false),
    bind(&[Key::Char('l')], "live tail of this stream", true),
    bind(
        &[Key::Char('y'), Key::Char('Y')],
        "copy the line / with time and stream",
        false,
    ),
    bind(&[Key::Char('s')], "save to a file", false),
    bind(&[Key::Char('q'), ESC, BACKSPACE], "back to results", true),
];

/// Lines around one hit, in its pod.
#[derive(Debug, Clone, Default)]
pub struct ContextView {
    /// The first request in flight, until its page arrives.
    pub req: Option<ReqId>,
    /// Requests for older / newer lines in flight.
    pub older_req: Option<ReqId>,
    pub newer_req: Option<ReqId>,
    /// The daemon has nothing older / newer than what is shown.
    pub older_done: bool,
    pub newer_done: bool,
    pub hit: Option<LogEntry>,
    pub page: ContextPage,
    /// The line at the view's cursor (kept mid-view).
    pub scroll: usize,
}

impl ContextView {
    /// Opens the view on `hit` and asks for the lines around it.
    pub fn open(hit: LogEntry, out: &mut Outbox) -> ContextView {
        let at = Cursor::of(&hit);
        let req = Some(request(out, at, CONTEXT_LINES, CONTEXT_LINES));
        ContextView {
            req,
            hit: Some(hit),
            ..Default::default()
        }
    }

    /// A page for one of this view's requests: the first fills the view with the
    /// cursor on the hit; the others extend it at their edge. Returns whether the
    /// page was this view's.
    pub fn on_page(&mut self, id: ReqId, page: ContextPage) -> bool {
        if self.req == Some(id) {
            self.req = None;
            self.scroll = page.before.len();
            self.older_done = page.before.len() < CONTEXT_LINES as usize;
            self.newer_done = page.after.len() < CONTEXT_LINES as usize;
            self.page = page;
        } else if self.older_req == Some(id) {
            self.older_req = None;
            self.older_done = page.before.len() < CONTEXT_LINES as usize;
            self.scroll += page.before.len();
            let mut before = page.before;
            before.append(&mut self.page.before);
            self.page.before = before;
        } else if self.newer_req == Some(id) {
            self.newer_req = None;
            self.newer_done = page.after.len() < CONTEXT_LINES as usize;
            self.page.after.extend(page.after);
        } else {
            return false;
        }
        true
    }

    /// Lines in the view: before, the hit, after.
    pub fn line_count(&self) -> usize {
        self.page.before.len() + self.page.after.len() + 1
    }

    /// Moves by `d` lines, staying on a line; near an edge, asks for more.
    pub fn scroll_by(&mut self, d: isize, out: &mut Outbox) {
        let last = self.line_count() - 1;
        self.scroll = self.scroll.saturating_add_signed(d).min(last);
        self.load_edges(out);
    }

    /// Asks for older lines when the cursor nears the top, newer near the bottom
    /// (one request per edge at a time; none once the daemon had no more).
    pub fn load_edges(&mut self, out: &mut Outbox) {
        if self.req.is_some() || !out.online() {
            return;
        }
        if self.scroll < EDGE && !self.older_done && self.older_req.is_none() {
            let first = self.lines().next().map(Cursor::of);
            if let Some(at) = first {
                self.older_req = Some(request(out, at, CONTEXT_LINES, 0));
            }
        }
        if self.scroll + EDGE >= self.line_count() && !self.newer_done && self.newer_req.is_none() {
            let last = self.lines().last().map(Cursor::of);
            if let Some(at) = last {
                self.newer_req = Some(request(out, at, 0, CONTEXT_LINES));
            }
        }
    }

    /// The entries in order, for saving.
    pub fn lines(&self) -> impl Iterator<Item = &LogEntry> {
        self.page
            .before
            .iter()
            .chain(self.page.entry.iter())
            .chain(self.page.after.iter())
    }

    /// Whether `id` is one of this view's requests (for errors).
    pub fn owns(&self, id: ReqId) -> bool {
        [self.req, self.older_req, self.newer_req].contains(&Some(id))
    }

    /// A request failed or was lost: stop waiting for it.
    pub fn forget(&mut self, id: ReqId) {
        for r in [&mut self.req, &mut self.older_req, &mut self.newer_req] {
            if *r == Some(id) {
                *r = None;
            }
        }
    }
}

fn request(out: &mut Outbox, at: Cursor, before: u32, after: u32) -> ReqId {
    out.send(|id| ClientMsg::Context {
        id,
        at,
        before,
        after,
        scope: ContextScope::Pod,
    })
}

impl Search {
    /// The context view's handler; [`KEYS`] lists what it takes.
    pub(crate) fn on_context_key(&mut self, k: Key, out: &mut Outbox) -> Effect {
        let Some(cv) = &mut self.context else {
            return Effect::Pass;
        };
        match k {
            Key::Char('j') | DOWN => cv.scroll_by(1, out),
            Key::Char('k') | UP => cv.scroll_by(-1, out),
            Key::Char('g') => cv.scroll_by(isize::MIN / 2, out),
            Key::Char('G') => cv.scroll_by(isize::MAX / 2, out),
            Key::Char('l') => {
                if let Some(hit) = &cv.hit {
                    let key = StreamKey::of(&hit.source);
                    self.context = None;
                    return Effect::LiveTail(key);
                }
            }
            Key::Char('s') => return Effect::Save,
            Key::Char(c @ ('y' | 'Y')) => {
                let line = cv.lines().nth(cv.scroll);
                let text = line.map(|e| super::results::copy_text(e, c == 'Y'));
                return Effect::Copy(text.into_iter().collect());
            }
            Key::Char('q') | ESC | BACKSPACE => self.context = None,
            _ => return Effect::Pass,
        }
        Effect::Done
    }
}
