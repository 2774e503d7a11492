//! The Search screen: query box, histogram, results, context view (the
//! patterns view is in [`super::patterns`]).

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;

use super::{level_word, thousands, truncate, Theme};
use crate::app::search::SearchFocus;
use crate::app::App;
use lookout_shared::protocol::Histogram;
use lookout_shared::query::Query;
use lookout_shared::Timestamp;

pub fn draw(f: &mut Frame, app: &App, t: Theme, area: Rect) {
    let s = &app.search;
    let bar_rows: u16 = if area.height >= 30 { 3 } else { 1 };
    let [query, hist, results] = Layout::vertical([
        Constraint::Length(4),
        Constraint::Length(bar_rows + 3),
        Constraint::Min(3),
    ])
    .areas(area);
    draw_query(f, app, t, query);
    draw_histogram(f, app, t, hist, bar_rows);
    if s.context.is_some() {
        draw_context(f, app, t, results);
    } else if s.patterns.is_some() {
        super::patterns::draw(f, app, t, results);
    } else {
        draw_results(f, app, t, results);
    }
}

fn border(t: Theme, focused: bool) -> Style {
    if focused {
        t.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    } else {
        t.dim()
    }
}

fn draw_query(f: &mut Frame, app: &App, t: Theme, area: Rect) {
    let s = &app.search;
    let focused = s.focus == SearchFocus::Input && s.context.is_none();
    let range = format!("[ {} ▾ ]", s.range.label(app.zone, app.now));
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(border(t, focused))
        .title(" Query ")
        .title(Line::from(Span::styled(format!(" {range} "), t.fg(Color::Cyan))).right_aligned());
    let inner = block.inner(area);
    f.render_widget(block, area);
    let w = inner.width as usize;
    // Keep the cursor visible on long queries.
    let text = &s.input.text;
    let start = s.input.cursor.saturating_sub(w.saturating_sub(2));
    let shown: String = text.chars().skip(start).take(w.saturating_sub(1)).collect();
    let mut first = vec![Span::raw(shown.clone())];
    if text.is_empty() && !focused {
        first = vec![Span::styled(
            "press / to type a query (e.g. level:error AND timeout)",
            t.dim(),
        )];
    } else if focused {
        let cur = s.input.cursor - start;
        let (a, b): (String, String) = (
            shown.chars().take(cur).collect(),
            shown.chars().skip(cur).collect(),
        );
        let mut bi = b.chars();
        let at = bi
            .next()
            .map(|c| c.to_string())
            .unwrap_or_else(|| " ".into());
        first = vec![
            Span::raw(a),
            Span::styled(at, Style::default().add_modifier(Modifier::REVERSED)),
            Span::raw(bi.collect::<String>()),
        ];
    }
    let second = match &s.error {
        Some(e) => {
            let col = e
                .position
                .map(|p| p.column)
                .unwrap_or(0)
                .saturating_sub(start);
            let len = e.position.map(|p| p.length.max(1)).unwrap_or(1);
            let pos = e
                .position
                .map(|p| format!(" (col {})", p.column + 1))
                .unwrap_or_default();
            Line::from(vec![
                Span::raw(" ".repeat(col.min(w.saturating_sub(1)))),
                Span::styled(
                    format!("{} {}{pos}", "^".repeat(len), e.message),
                    t.fg(Color::Red).add_modifier(Modifier::BOLD),
                ),
            ])
        }
        None if s.req.is_some() => Line::from(Span::styled("searching…", t.dim())),
        None if s.rerun => Line::from(Span::styled(
            "not connected: the search runs on reconnect",
            t.fg(Color::Yellow),
        )),
        None => Line::raw(""),
    };
    f.render_widget(Paragraph::new(vec![Line::from(first), second]), inner);
}

/// Resamples bucket counts to `width` columns (summing when squeezing, repeating
/// when stretching).
pub fn columns(h: &Histogram, width: usize) -> Vec<(u64, usize)> {
    let n = h.buckets.len();
    if n == 0 || width == 0 {
        return Vec::new();
    }
    if n <= width {
        // Stretch: every column shows the bucket under it, so the chart spans the pane.
        (0..width)
            .map(|c| {
                let i = (c * n / width).min(n - 1);
                (h.buckets[i].count, i)
            })
            .collect()
    } else {
        (0..width)
            .map(|c| {
                let a = c * n / width;
                let z = ((c + 1) * n / width).max(a + 1);
                let sum = h.buckets[a..z.min(n)].iter().map(|b| b.count).sum();
                (sum, a)
            })
            .collect()
    }
}

const BARS: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The histogram as `rows` lines of block characters, newest on the right.
pub fn bars(
    cols: &[(u64, usize)],
    rows: usize,
    selected: Option<usize>,
    t: Theme,
) -> Vec<Line<'static>> {
    let max = cols.iter().map(|c| c.0).max().unwrap_or(0).max(1);
    let mut lines = Vec::new();
    for r in (0..rows).rev() {
        let spans: Vec<Span> = cols
            .iter()
            .map(|(v, b)| {
                let eighths = if *v == 0 {
                    0
                } else {
                    ((*v as f64 / max as f64) * (rows * 8) as f64)
                        .ceil()
                        .max(1.0) as usize
                };
                let level = eighths.saturating_sub(r * 8).min(8);
                // A baseline so an empty range still reads as a chart.
                let ch = if r == 0 && level == 0 {
                    '▁'
                } else {
                    BARS[level]
                };
                let style = if Some(*b) == selected {
                    t.fg(Color::Yellow).add_modifier(Modifier::REVERSED)
                } else if *v == 0 {
                    t.dim()
                } else {
                    t.fg(Color::Cyan)
                };
                Span::styled(ch.to_string(), style)
            })
            .collect();
        lines.push(Line::from(spans));
    }
    lines
}

fn draw_histogram(f: &mut Frame, app: &App, t: Theme, area: Rect, rows: u16) {
    let s = &app.search;
    let focused = s.focus == SearchFocus::Histogram && s.context.is_none();
    let title = match &s.histogram {
        Some(h) if !h.buckets.is_empty() => {
            let first = h.buckets.first().map(|b| b.start).unwrap_or_default();
            let last = h
                .buckets
                .last()
                .map(|b| {
                    b.start
                        .add_nanos((h.width_ms as i64).saturating_mul(1_000_000))
                })
                .unwrap_or_default();
            format!(
                " {} matches · {} · {:.0} ms ",
                thousands(s.total),
                app.zone.span(app.now, first, last),
                s.took_ms
            )
        }
        _ if s.searched => format!(" {} matches ", thousands(s.total)),
        _ => " Matches over time ".into(),
    };
    let mut block = Block::default()
        .borders(Borders::ALL)
        .border_style(border(t, focused))
        .title(title);
    if let (Some(b), Some(r)) = (s.bar, s.bar.and_then(|b| s.bar_range(b))) {
        let count = s
            .histogram
            .as_ref()
            .and_then(|h| h.buckets.get(b))
            .map(|b| b.count)
            .unwrap_or(0);
        block = block.title(
            Line::from(Span::styled(
                format!(
                    " bar {}: {} · Enter narrows ",
                    app.zone.span(
                        app.now,
                        r.from.unwrap_or_default(),
                        r.until.unwrap_or_default()
                    ),
                    thousands(count)
                ),
                t.fg(Color::Yellow),
            ))
            .right_aligned(),
        );
    }
    let inner = block.inner(area);
    f.render_widget(block, area);
    let Some(h) = &s.histogram else {
        return;
    };
    let w = inner.width as usize;
    let cols = columns(h, w);
    let mut lines = bars(&cols, rows as usize, s.bar, t);
    // Axis: start, middle and end times.
    if let (Some(first), Some(last)) = (h.buckets.first(), h.buckets.last()) {
        let end = last
            .start
            .add_nanos((h.width_ms as i64).saturating_mul(1_000_000));
        let mid = Timestamp(first.start.nanos() / 2 + end.nanos() / 2);
        let labels = app.zone.labels(app.now, &[first.start, mid, end]);
        let [a, m, z] = [0, 1, 2].map(|i| labels.get(i).cloned().unwrap_or_default());
        let used = cols.len().max(a.len() + m.len() + z.len() + 2);
        let gap1 = (used / 2).saturating_sub(a.len() + m.len() / 2);
        let gap2 = used.saturating_sub(a.len() + gap1 + m.len() + z.len());
        lines.push(Line::from(Span::styled(
            format!("{a}{}{m}{}{z}", " ".repeat(gap1), " ".repeat(gap2)),
            t.dim(),
        )));
    }
    f.render_widget(Paragraph::new(lines), inner);
}

fn draw_results(f: &mut Frame, app: &App, t: Theme, area: Rect) {
    let s = &app.search;
    let focused = s.focus == SearchFocus::Results;
    let more = if s.more_req.is_some() {
        " · loading…"
    } else if s.next_cursor.is_some() {
        " · more below"
    } else {
        ""
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(border(t, focused))
        .title(format!(
            " Results (newest first) · {} of {}{more} ",
            thousands(s.results.len() as u64),
            thousands(s.total)
        ));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let h = inner.height as usize;
    s.view_rows.set(h.max(1));
    if s.results.is_empty() {
        let msg = if !s.searched {
            "type a query and press Enter; Ctrl-r changes the range"
        } else if s.req.is_some() {
            "searching…"
        } else if s.rerun {
            "not connected: the search runs on reconnect"
        } else if s.error.is_some() {
            "fix the query above"
        } else {
            "no matches in this range"
        };
        f.render_widget(Paragraph::new(Span::styled(msg, t.dim())), inner);
        return;
    }
    // The shared parser the daemon ran: the marks are the words that matched. A query
    // the daemon answered always parses; were it not to, nothing is marked.
    let query = s.params.as_ref().and_then(|p| Query::parse(&p.query).ok());
    let marker = |text: &str| {
        query
            .as_ref()
            .map(|q| q.highlights(text))
            .unwrap_or_default()
    };
    let src_w = 30.min(inner.width as usize / 3);
    // Result `i` as its rows: the head, then (expanded) its further lines or fields
    // indented under the message column.
    let result_rows = |i: usize| -> Vec<Line> {
        let Some(e) = s.results.get(i) else {
            return Vec::new();
        };
        let id = &e.source;
        let src = format!("{}/{}/{}", id.namespace, id.pod, id.container);
        let time = format!("{} ", app.clock_ms(e.ts));
        let prefix = time.chars().count() + src_w + 1 + 6;
        let mut spans = vec![
            Span::styled(time, t.dim()),
            Span::styled(
                format!("{:<src_w$} ", truncate(&src, src_w)),
                t.pod(app.tail.log.colors.slot(&id.pod)),
            ),
            Span::styled(format!("{:<5} ", level_word(e.level)), t.level(e.level)),
        ];
        let frame = super::event::frame_style(t, e.level);
        let (first, rest) = super::event::rows(t, e, s.expanded.has(e), &marker, frame);
        spans.extend(first);
        let indent = " ".repeat(prefix + super::event::INDENT);
        let mut lines = vec![Line::from(spans)];
        lines.extend(rest.into_iter().map(|r| {
            let mut row = vec![Span::raw(indent.clone())];
            row.extend(r);
            Line::from(row)
        }));
        if i == s.selected && focused {
            for l in &mut lines {
                l.style = t.selected();
            }
        }
        lines
    };
    // Rows from the offset down; an expanded result takes several, so the offset
    // moves on until the selected result's last row is in view (or it is on top).
    let mut off = s.offset.get().min(s.selected);
    let fits = |off: usize| -> bool {
        let above: usize = (off..s.selected).map(|i| result_rows(i).len()).sum();
        above + result_rows(s.selected).len() <= h
    };
    if s.selected >= off + h {
        off = s.selected + 1 - h;
    }
    while off < s.selected && !fits(off) {
        off += 1;
    }
    s.offset.set(off);
    let mut lines: Vec<Line> = Vec::new();
    let mut i = off;
    while lines.len() < h && i < s.results.len() {
        lines.extend(result_rows(i));
        i += 1;
    }
    lines.truncate(h);
    f.render_widget(Paragraph::new(lines), inner);
}

fn draw_context(f: &mut Frame, app: &App, t: Theme, area: Rect) {
    let Some(cv) = &app.search.context else {
        return;
    };
    let src = cv
        .hit
        .as_ref()
        .map(|e| {
            let id = &e.source;
            format!("{}/{} · every stream", id.namespace, id.pod)
        })
        .unwrap_or_default();
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(border(t, true))
        .title(format!(" Context · {src} · l live tail · Esc back "));
    // Lines of every container and output stream: each says which.
    let src_of = |e: &lookout_shared::LogEntry| {
        if e.stream.as_str() == "stderr" {
            format!("{}!", e.source.container)
        } else {
            e.source.container.clone()
        }
    };
    let src_w = cv
        .lines()
        .map(|e| src_of(e).chars().count())
        .max()
        .unwrap_or(0)
        .min(16);
    let inner = block.inner(area);
    f.render_widget(block, area);
    if cv.req.is_some() {
        f.render_widget(Paragraph::new(Span::styled("loading…", t.dim())), inner);
        return;
    }
    let mut h = inner.height as usize;
    let mut top = Vec::new();
    if cv.older_req.is_some() {
        top.push(Line::from(Span::styled("  loading older lines…", t.dim())));
        h = h.saturating_sub(1);
    }
    let all: Vec<(bool, &lookout_shared::LogEntry)> = cv
        .page
        .before
        .iter()
        .map(|e| (false, e))
        .chain(cv.page.entry.iter().map(|e| (true, e)))
        .chain(cv.page.after.iter().map(|e| (false, e)))
        .collect();
    // Keep the scroll position (the hit at first) in the middle.
    let start = cv
        .scroll
        .saturating_sub(h / 2)
        .min(all.len().saturating_sub(h));
    let rows = all.iter().skip(start).take(h).map(|(hit, e)| {
        let mark = if *hit { "▶ " } else { "  " };
        let mut spans = vec![
            Span::styled(mark, t.fg(Color::Yellow).add_modifier(Modifier::BOLD)),
            Span::styled(format!("{} ", app.clock_ms(e.ts)), t.dim()),
            Span::styled(format!("{:<src_w$} ", truncate(&src_of(e), src_w)), t.dim()),
            Span::styled(format!("{:<5} ", level_word(e.level)), t.level(e.level)),
        ];
        spans.extend(super::event::head(t, e, &|_: &str| Vec::new()));
        if *hit {
            for s in &mut spans[4..] {
                s.style = s.style.add_modifier(Modifier::BOLD);
            }
        }
        let mut l = Line::from(spans);
        if *hit {
            l.style = Style::default().add_modifier(Modifier::UNDERLINED);
        }
        l
    });
    let lines: Vec<Line> = top.into_iter().chain(rows).collect();
    f.render_widget(Paragraph::new(lines), inner);
}

#[cfg(test)]
mod tests {
    use super::*;
    use lookout_shared::protocol::Bucket;

    #[test]
    fn columns_squeeze_and_stretch() {
        let h = Histogram {
            width_ms: 1000,
            buckets: (0..10)
                .map(|i| Bucket {
                    start: Timestamp(i),
                    count: 1,
                })
                .collect(),
        };
        let c = columns(&h, 5);
        assert_eq!(c.len(), 5);
        assert!(c.iter().all(|(v, _)| *v == 2));
        assert_eq!(columns(&h, 20).len(), 20);
    }
}
