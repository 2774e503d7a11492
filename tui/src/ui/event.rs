//! One event's message as styled rows, collapsed or expanded ([`crate::app::event`]
//! decides the shape; this only styles it). Tail and Search put their own prefix
//! (time, pod, level) before the head row and indent the rest under it.

use std::borrow::Cow;
use std::ops::Range;

use ratatui::style::{Modifier, Style};
use ratatui::text::Span;

use super::{highlighted_at, Theme};
use crate::app::event::Shape;
use lookout_shared::LogEntry;

/// Columns the rows under a head are indented past the prefix.
pub const INDENT: usize = 2;
/// The widest a field name's column grows in an expanded JSON event.
const KEY_WIDTH: usize = 24;

/// The message bytes to highlight in a piece of displayed text.
pub type Marker<'m> = &'m dyn Fn(&str) -> Vec<Range<usize>>;

/// Text as drawn: a tab is four spaces (a terminal cell per tab would misalign
/// every JVM frame, which starts with one).
fn shown(s: &str) -> Cow<'_, str> {
    if s.contains('\t') {
        Cow::Owned(s.replace('\t', "    "))
    } else {
        Cow::Borrowed(s)
    }
}

fn marked(text: &str, marker: Marker, base: Style, hl: Style) -> Vec<Span<'static>> {
    let text = shown(text);
    let marks = marker(&text);
    highlighted_at(&text, &marks, base, hl)
        .into_iter()
        .map(|s| Span::styled(s.content.into_owned(), s.style))
        .collect()
}

/// The styled rows of `e`'s message: the head row's spans, then (expanded) one
/// row per further line or field, without the indent. Further lines take
/// `frame` (the event's level colour); a collapsed event ends with a dimmed
/// `+N lines` or its other fields.
pub fn rows(
    t: Theme,
    e: &LogEntry,
    expanded: bool,
    marker: Marker,
    frame: Style,
) -> (Vec<Span<'static>>, Vec<Vec<Span<'static>>>) {
    let shape = Shape::of(e);
    let hl = t.highlight();
    let (head, more) = shape.collapsed();
    let mut first = marked(head, marker, Style::default(), hl);
    if !expanded {
        if let Some(more) = more {
            first.push(Span::styled(format!("  {more}"), t.dim()));
        }
        return (first, Vec::new());
    }
    let extra = shape.extra_rows();
    let kw = extra
        .iter()
        .filter_map(|(k, _)| k.map(|k| k.chars().count()))
        .max()
        .unwrap_or(0)
        .min(KEY_WIDTH);
    let rest = extra
        .into_iter()
        .map(|(key, text)| match key {
            None => marked(text, marker, frame, hl),
            Some(k) => {
                let mut row = vec![Span::styled(
                    format!("{:<kw$}  ", super::truncate(k, kw)),
                    t.dim(),
                )];
                row.extend(marked(text, marker, Style::default(), hl));
                row
            }
        })
        .collect();
    (first, rest)
}

/// The collapsed head alone, for views that do not expand (the context view).
pub fn head(t: Theme, e: &LogEntry, marker: Marker) -> Vec<Span<'static>> {
    rows(t, e, false, marker, Style::default()).0
}

/// The style of a trace's further lines: the level's colour, without the bold
/// the level word has; INFO and unknown stay the terminal's colour (they used to
/// be green, which made an ERROR trace's frames look like INFO lines).
pub fn frame_style(t: Theme, level: Option<lookout_shared::Level>) -> Style {
    use lookout_shared::Level;
    match level {
        Some(Level::Error | Level::Warn | Level::Debug | Level::Trace) => {
            t.level(level).remove_modifier(Modifier::BOLD)
        }
        _ => Style::default(),
    }
}
