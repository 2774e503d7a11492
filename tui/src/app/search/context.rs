//! The context view: the lines before and after one search hit in its stream,
//! opened over the results with `Enter`, and its keys.

use lookout_shared::protocol::{ContextPage, ReqId};
use lookout_shared::LogEntry;

use super::Search;
use crate::app::tail::StreamKey;
use crate::app::Effect;
use crate::keys::{bind, Binding, Key, BACKSPACE, DOWN, ESC, UP};

/// The context view's keys; `Search::on_context_key` handles exactly these.
pub const KEYS: &[Binding] = &[
    bind(&[Key::Char('j'), Key::Char('k'), UP, DOWN], "scroll", true),
    bind(&[Key::Char('g'), Key::Char('G')], "top / bottom", false),
    bind(&[Key::Char('l')], "live tail of this stream", true),
    bind(&[Key::Char('s')], "save to a file", false),
    bind(&[Key::Char('q'), ESC, BACKSPACE], "back to results", true),
];

/// Lines around one hit, in its stream.
#[derive(Debug, Clone, Default)]
pub struct ContextView {
    /// The request in flight, until its page arrives.
    pub req: Option<ReqId>,
    pub hit: Option<LogEntry>,
    pub page: ContextPage,
    /// The line at the top of the view.
    pub scroll: usize,
}

impl ContextView {
    /// The page for `id`, if it is the one asked for; the hit starts at the top.
    pub fn on_page(&mut self, id: ReqId, page: ContextPage) {
        if self.req == Some(id) {
            self.req = None;
            self.scroll = page.before.len();
            self.page = page;
        }
    }

    /// Lines in the view: before, the hit, after.
    pub fn line_count(&self) -> usize {
        self.page.before.len() + self.page.after.len() + 1
    }

    /// Moves by `d` lines, staying on a line.
    pub fn scroll_by(&mut self, d: isize) {
        let last = self.line_count() - 1;
        self.scroll = self.scroll.saturating_add_signed(d).min(last);
    }

    /// The entries in order, for saving.
    pub fn lines(&self) -> impl Iterator<Item = &LogEntry> {
        self.page
            .before
            .iter()
            .chain(self.page.entry.iter())
            .chain(self.page.after.iter())
    }
}

impl Search {
    /// The context view's handler; [`KEYS`] lists what it takes.
    pub(crate) fn on_context_key(&mut self, k: Key) -> Effect {
        let Some(cv) = &mut self.context else {
            return Effect::Pass;
        };
        match k {
            Key::Char('j') | DOWN => cv.scroll_by(1),
            Key::Char('k') | UP => cv.scroll_by(-1),
            Key::Char('g') => cv.scroll = 0,
            Key::Char('G') => cv.scroll = cv.line_count() - 1,
            Key::Char('l') => {
                if let Some(hit) = &cv.hit {
                    let key = StreamKey::of(&hit.source);
                    self.context = None;
                    return Effect::LiveTail(key);
                }
            }
            Key::Char('s') => return Effect::Save,
            Key::Char('q') | ESC | BACKSPACE => self.context = None,
            _ => return Effect::Pass,
        }
        Effect::Done
    }
}
