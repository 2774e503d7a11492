//! The Search screen's patterns view: one row per kind of line, most frequent
//! first: a `NEW` badge, the count, a trend sparkline over the range, when it was
//! first seen, and the template.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;

use super::{thousands, truncate, Theme};
use crate::app::App;

/// Widest trend column: the daemon sends 30 bars; past a quarter of the pane
/// they are summed in pairs (or more) so the template keeps its room.
const MAX_SPARK: usize = 30;

pub fn draw(f: &mut Frame, app: &App, t: Theme, area: Rect) {
    let Some(view) = &app.search.patterns else {
        return;
    };
    let what = match &view.result {
        Some(r) => format!(
            " · {} of {} kinds in {} events",
            r.patterns.len(),
            thousands(r.distinct),
            thousands(r.total)
        ),
        None => String::new(),
    };
    let query = match view.params.query.trim() {
        "" | "*" => "every event".to_string(),
        q => q.to_string(),
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.fg(Color::Cyan).add_modifier(Modifier::BOLD))
        .title(truncate(
            &format!(" Patterns of {query}{what} · Enter filter · Esc back "),
            area.width.saturating_sub(2) as usize,
        ));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let msg = if view.req.is_some() {
        Some(("finding the kinds of lines…".to_string(), t.dim()))
    } else if view.rerun {
        Some((
            "not connected: the patterns load on reconnect".to_string(),
            t.fg(Color::Yellow),
        ))
    } else if let Some(e) = &view.error {
        Some((
            format!("patterns: {e}"),
            t.fg(Color::Red).add_modifier(Modifier::BOLD),
        ))
    } else if view.result.as_ref().is_some_and(|r| r.patterns.is_empty()) {
        Some(("no matching events in this range".to_string(), t.dim()))
    } else {
        None
    };
    if let Some((m, style)) = msg {
        f.render_widget(Paragraph::new(Span::styled(m, style)), inner);
        return;
    }
    let Some(result) = &view.result else {
        return;
    };
    let w = inner.width as usize;
    let count_w = result
        .patterns
        .iter()
        .map(|p| thousands(p.count).len())
        .max()
        .unwrap_or(1)
        .max(5);
    let spark_w = spark_width(w);
    let first: Vec<String> = result
        .patterns
        .iter()
        .map(|p| app.clock_ms(p.first_seen))
        .collect();
    let first_w = first.iter().map(|s| s.chars().count()).max().unwrap_or(0);
    let fixed = 4 + count_w + 1 + spark_w + 1 + first_w + 1;
    let tmpl_w = w.saturating_sub(fixed);
    let h = (inner.height as usize).saturating_sub(1).max(1);
    view.view_rows.set(h);
    // Keep the selection in view.
    let mut top = view.offset.get();
    if view.selected < top {
        top = view.selected;
    } else if view.selected >= top + h {
        top = view.selected + 1 - h;
    }
    view.offset.set(top);
    let header = Line::from(Span::styled(
        format!(
            "    {:>count_w$} {:<spark_w$} {:<first_w$} template",
            "count", "trend", "first seen"
        ),
        t.dim().add_modifier(Modifier::UNDERLINED),
    ));
    let rows = result
        .patterns
        .iter()
        .zip(&first)
        .enumerate()
        .skip(top)
        .take(h)
        .map(|(i, (p, first))| {
            let badge = if p.new {
                Span::styled("NEW ", t.fg(Color::Yellow).add_modifier(Modifier::BOLD))
            } else {
                Span::raw("    ")
            };
            let mut l = Line::from(vec![
                badge,
                Span::raw(format!("{:>count_w$} ", thousands(p.count))),
                Span::styled(
                    format!("{:<spark_w$} ", sparkline(&p.sparkline, spark_w)),
                    t.fg(Color::Cyan),
                ),
                Span::styled(format!("{first:<first_w$} "), t.dim()),
                Span::raw(truncate(&p.template, tmpl_w)),
            ]);
            if i == view.selected {
                l.style = t.selected();
            }
            l
        });
    let lines: Vec<Line> = std::iter::once(header).chain(rows).collect();
    f.render_widget(Paragraph::new(lines).style(Style::default()), inner);
}

/// The trend column's width for a pane `w` wide: the bars whole when they fit in a
/// quarter of it, else halved until they do (at least 5, for "trend").
fn spark_width(w: usize) -> usize {
    let mut n = MAX_SPARK;
    while n > 5 && n * 4 > w {
        n = n.div_ceil(2).max(5);
    }
    n
}

/// `counts` summed into `width` columns and drawn as block characters scaled to
/// the largest column (the CLI's [`crate::cli::sparkline`] once resampled).
pub fn sparkline(counts: &[u64], width: usize) -> String {
    let n = counts.len();
    if n <= width || width == 0 {
        return crate::cli::sparkline(counts);
    }
    let cols: Vec<u64> = (0..width)
        .map(|c| {
            let a = c * n / width;
            let z = ((c + 1) * n / width).max(a + 1).min(n);
            counts[a..z].iter().sum()
        })
        .collect();
    crate::cli::sparkline(&cols)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trends_are_summed_to_fit_the_column() {
        assert_eq!(spark_width(160), 30);
        assert_eq!(spark_width(78), 15);
        assert_eq!(spark_width(10), 5);
        let bars: Vec<u64> = (0..30).map(|i| if i < 15 { 0 } else { 1 }).collect();
        let s = sparkline(&bars, 15);
        assert_eq!(s.chars().count(), 15);
        assert_eq!(s, "       ▄███████", "half the largest is half a block");
    }
}
