//! The Tail screen: stream tree beside the log pane.

use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;

use super::{ago, entry_prefix, rate, thousands, truncate, Theme};
use crate::app::tail::level::{continues, effective_level};
use crate::app::tail::{TailFocus, TailLine, TimeFmt, TreeRow};
use crate::app::{App, ConnState};

/// Below this width the tree folds into a one-line picker.
const WIDE: u16 = 100;
const TREE_WIDTH: u16 = 32;

pub fn draw(f: &mut Frame, app: &App, t: Theme, area: Rect) {
    if area.width >= WIDE {
        let [tree, log] =
            Layout::horizontal([Constraint::Length(TREE_WIDTH), Constraint::Min(20)]).areas(area);
        draw_tree(f, app, t, tree);
        draw_log(f, app, t, log);
    } else {
        let [picker, log] =
            Layout::vertical([Constraint::Length(1), Constraint::Min(2)]).areas(area);
        let focus = app.tail.focus == TailFocus::Streams;
        let live = app.tail.tree.streams.iter().filter(|s| s.live).count();
        let line = Line::from(vec![
            Span::styled(" streams ▾ ", t.bold()),
            Span::raw(format!(
                "{} ({} of {} live)",
                app.tail.title(),
                live,
                app.tail.tree.streams.len()
            )),
            Span::styled(if focus { "" } else { "  Tab to pick" }, t.dim()),
        ]);
        f.render_widget(Paragraph::new(line), picker);
        draw_log(f, app, t, log);
        if focus {
            let w = TREE_WIDTH.min(area.width);
            let r = Rect {
                x: area.x,
                y: log.y,
                width: w,
                height: log.height,
            };
            f.render_widget(Clear, r);
            draw_tree(f, app, t, r);
        }
    }
}

fn focus_border(t: Theme, focused: bool) -> Style {
    if focused {
        t.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    } else {
        t.dim()
    }
}

fn draw_tree(f: &mut Frame, app: &App, t: Theme, area: Rect) {
    let focused = app.tail.focus == TailFocus::Streams;
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(focus_border(t, focused))
        .title(" Streams ");
    let inner = block.inner(area);
    f.render_widget(block, area);
    let rows = app.tail.tree.rows();
    let h = inner.height as usize;
    app.tail.tree.rows_shown.set(h.max(1));
    if rows.is_empty() {
        f.render_widget(
            Paragraph::new(Span::styled("no streams yet", t.dim())),
            inner,
        );
        return;
    }
    let cur = app.tail.tree.cursor.min(rows.len() - 1);
    let start = if cur >= h { cur + 1 - h } else { 0 };
    let w = inner.width as usize;
    let mut lines = Vec::new();
    for (i, row) in rows.iter().enumerate().skip(start).take(h) {
        let (label, right, style) = match row {
            TreeRow::Namespace {
                name,
                rate: r,
                pods,
                expanded,
            } => (
                format!("{} {name}", if *expanded { "▾" } else { "▸" }),
                format!("{pods}p {}/s", rate(*r)),
                t.bold(),
            ),
            TreeRow::Workload {
                name,
                rate: r,
                pods,
                live,
                expanded,
                ..
            } => (
                format!(
                    "  {} {} {name}",
                    if *expanded { "▾" } else { "▸" },
                    if *live { "◆" } else { "◇" }
                ),
                format!("{pods}p {}/s", rate(*r)),
                Style::default(),
            ),
            TreeRow::Pod {
                name,
                rate: r,
                containers,
                live,
                expanded,
                in_workload,
                ..
            } => {
                let right = format!("{containers}c {}/s", rate(*r));
                let head = format!(
                    "  {}{} {} ",
                    if *in_workload { "  " } else { "" },
                    if *expanded { "▾" } else { "▸" },
                    if *live { "●" } else { "✗" }
                );
                // Pods of one workload differ at the end (`hdfs-datanode-0`,
                // `-1`): a name too long is cut at the front, keeping that.
                let room = w.saturating_sub(head.chars().count() + right.chars().count() + 1);
                (
                    format!("{head}{}", truncate_front(name, room)),
                    right,
                    t.pod(app.tail.log.colors.slot(name)),
                )
            }
            TreeRow::Container {
                key,
                rate: r,
                live,
                restarts,
                in_workload,
            } => {
                let on = app.tail.tree.selected.contains(key);
                let restart = if *restarts > 0 {
                    format!(" ↻{restarts}")
                } else {
                    String::new()
                };
                (
                    format!(
                        "    {}{} {}{restart}",
                        if *in_workload { "  " } else { "" },
                        if on { "■" } else { "□" },
                        key.container
                    ),
                    if *live {
                        format!("{}/s", rate(*r))
                    } else {
                        "(done)".to_string()
                    },
                    if *live { Style::default() } else { t.dim() },
                )
            }
        };
        let rw = right.chars().count();
        let label = truncate(&label, w.saturating_sub(rw + 1));
        let pad = w.saturating_sub(label.chars().count() + rw);
        let mut style = style;
        if i == cur && focused {
            style = style.patch(t.selected());
        }
        lines.push(Line::from(vec![
            Span::styled(label, style),
            Span::styled(" ".repeat(pad), style),
            Span::styled(
                right,
                if i == cur && focused {
                    t.selected()
                } else {
                    t.dim()
                },
            ),
        ]));
    }
    f.render_widget(Paragraph::new(lines), inner);
}

/// Cuts to `n` chars from the front, marking the cut with `…` (`…datanode-0`).
fn truncate_front(s: &str, n: usize) -> String {
    let len = s.chars().count();
    if len <= n {
        return s.to_string();
    }
    if n == 0 {
        return String::new();
    }
    let keep: String = s.chars().skip(len - (n - 1)).collect();
    format!("…{keep}")
}

/// Cuts the first `skip` chars off a list of spans (horizontal scroll).
fn skip_chars(spans: Vec<Span<'_>>, mut skip: usize) -> Vec<Span<'_>> {
    let mut out = Vec::new();
    for s in spans {
        if skip == 0 {
            out.push(s);
            continue;
        }
        let n = s.content.chars().count();
        if n <= skip {
            skip -= n;
        } else {
            let rest: String = s.content.chars().skip(skip).collect();
            skip = 0;
            out.push(Span::styled(rest, s.style));
        }
    }
    out
}

/// Splits spans into rows of at most `width` chars.
fn wrap_spans(spans: Vec<Span<'_>>, width: usize, indent: usize) -> Vec<Line<'_>> {
    let width = width.max(1);
    let mut rows: Vec<Line> = Vec::new();
    let mut cur: Vec<Span> = Vec::new();
    let mut used = 0;
    for s in spans {
        let mut buf = String::new();
        for c in s.content.chars() {
            if used == width {
                if !buf.is_empty() {
                    cur.push(Span::styled(std::mem::take(&mut buf), s.style));
                }
                rows.push(Line::from(std::mem::take(&mut cur)));
                let ind = indent.min(width.saturating_sub(1));
                cur.push(Span::raw(" ".repeat(ind)));
                used = ind;
            }
            buf.push(c);
            used += 1;
        }
        if !buf.is_empty() {
            cur.push(Span::styled(buf, s.style));
        }
    }
    if !cur.is_empty() || rows.is_empty() {
        rows.push(Line::from(cur));
    }
    rows
}

fn draw_log(f: &mut Frame, app: &App, t: Theme, area: Rect) {
    let tail = &app.tail;
    let log = &tail.log;
    let focused = tail.focus == TailFocus::Log;
    let state = if app.conn != ConnState::Connected {
        // Nothing arrives while the connection is down; "following" would be a lie.
        let what = match app.conn {
            ConnState::Down { fatal: true, .. } => " disconnected ○ ",
            ConnState::Down { .. } => " disconnected — retrying ○ ",
            _ => " connecting ○ ",
        };
        Span::styled(what, t.fg(Color::Yellow).add_modifier(Modifier::BOLD))
    } else if tail.refused.is_some() {
        // Nothing is subscribed: "following" would be a lie here too.
        Span::styled(
            " filter refused ✗ (f) ",
            t.fg(Color::Red).add_modifier(Modifier::BOLD),
        )
    } else if log.follow {
        Span::styled(" following ● ", t.fg(Color::Green))
    } else {
        Span::styled(" paused ", t.fg(Color::Yellow).add_modifier(Modifier::BOLD))
    };
    let mut title = vec![Span::raw(format!(" {} ─", tail.title())), state];
    if let Some(min) = log.min_level {
        title.push(Span::styled(
            format!("─ {}+ only (L) ", super::level_word(Some(min))),
            t.fg(Color::Yellow),
        ));
    }
    if !app.mouse_capture {
        title.push(Span::styled("─ mouse off (M) ", t.dim()));
    }
    let mut block = Block::default()
        .borders(Borders::ALL)
        .border_style(focus_border(t, focused))
        .title(Line::from(title));
    if let Some(sel) = log.selection() {
        let n = sel.filter(|&i| log.shown(i)).count();
        block = block.title_bottom(Line::from(Span::styled(
            format!(" {n} selected · y copy · Y with time and stream · s save · Esc drop "),
            t.fg(Color::Cyan).add_modifier(Modifier::BOLD),
        )));
    }
    if !log.follow {
        block = block.title_bottom(
            Line::from(Span::styled(
                format!(
                    " paused: {} new ─ G to follow ",
                    thousands(log.new_while_paused)
                ),
                t.fg(Color::Yellow).add_modifier(Modifier::BOLD),
            ))
            .alignment(Alignment::Right),
        );
    }
    let inner = block.inner(area);
    f.render_widget(block, area);
    let h = inner.height as usize;
    let w = inner.width as usize;
    log.view_rows.set(h.max(1));
    if log.lines.is_empty() {
        let msg = match tail.sub {
            None if tail.refused.is_some() => format!(
                "the daemon refused the filter: {} (f changes it)",
                tail.refused.as_deref().unwrap_or_default()
            ),
            None => "waiting for the daemon…".to_string(),
            Some(_) if tail.filter.is_empty() => "no lines yet: waiting for logs".to_string(),
            Some(_) => format!("no lines match {:?} yet", tail.filter),
        };
        f.render_widget(Paragraph::new(Span::styled(msg, t.dim())), inner);
        return;
    }
    let end = log.bottom_index();
    let needles = if log.find.is_empty() {
        Vec::new()
    } else {
        vec![log.find.clone()]
    };
    // As wide as the widest pod name on screen, up to a quarter of the pane (a
    // fixed 14 columns cut hdfs-datanode-0 and -1 to the same hdfs-datanode…).
    let pod_width = log
        .lines
        .iter()
        .take(end)
        .rev()
        .take(h * 4)
        .filter_map(|l| match l {
            TailLine::Entry(e) => Some(e.source.pod.chars().count()),
            _ => None,
        })
        .max()
        .unwrap_or(8)
        .clamp(3, (w / 4).clamp(8, 40));
    // Lines from another day carry the date; then every visible line does, so the
    // column stays aligned.
    let dated = log.time_fmt == TimeFmt::Absolute
        && log
            .lines
            .iter()
            .take(end)
            .rev()
            .take(h)
            .any(|l| matches!(l, TailLine::Entry(e) if app.zone.not_today(app.now, e.ts)));
    let time_width = match log.time_fmt {
        TimeFmt::Absolute if dated => 20,
        TimeFmt::Absolute => 13,
        TimeFmt::Relative => 9,
        TimeFmt::Off => 0,
    };
    // With marks set, a one-column gutter shows them (`◆`).
    let gutter = !log.marks.is_empty();
    let prefix = time_width + pod_width + 1 + 7 + 6 + usize::from(gutter);
    // Line `i` as the rows it takes (several when wrapped); `None` when hidden.
    let draw_line = |i: usize| -> Option<Vec<Line>> {
        let line = log.lines.get(i)?;
        if !log.shown(i) {
            return None;
        }
        let is_cur = log.find_at == Some(i) || log.error_at == Some(i);
        let selected = log.selection().is_some_and(|r| r.contains(&i));
        let mut lines = match line {
            TailLine::Entry(e) => {
                let cont = continues(&log.lines, i);
                let marker = |text: &str| match &log.find_re {
                    Some(re) => re.find_iter(text).map(|m| m.range()).collect(),
                    None => super::find_marks(text, &needles),
                };
                let frame = super::event::frame_style(t, effective_level(&log.lines, i));
                // Each row as (spans, how many leading spans are the prefix that
                // sideways scrolling keeps).
                let rows: Vec<(Vec<Span>, usize)> = if cont {
                    let mut s = vec![Span::raw(" ".repeat(prefix))];
                    s.extend(
                        super::event::rows(t, e, false, &marker, frame)
                            .0
                            .into_iter()
                            .map(|sp| Span::styled(sp.content, frame.patch(sp.style))),
                    );
                    vec![(s, 1)]
                } else {
                    let time = match log.time_fmt {
                        TimeFmt::Absolute if dated => Some(app.zone.dated_ms(e.ts)),
                        TimeFmt::Absolute => Some(app.clock_ms(e.ts)),
                        TimeFmt::Relative => Some(format!("{:>8}", ago(app.now, e.ts))),
                        TimeFmt::Off => None,
                    };
                    let slot = log.colors.slot(&e.source.pod);
                    let mut head = entry_prefix(t, e, time, (pod_width, slot));
                    if gutter {
                        let m = if log.marks.has(e.seq) { "◆" } else { " " };
                        head.insert(
                            0,
                            Span::styled(m, t.fg(Color::Magenta).add_modifier(Modifier::BOLD)),
                        );
                    }
                    let n_prefix = head.len();
                    let frame = super::event::frame_style(t, e.level);
                    let (first, rest) =
                        super::event::rows(t, e, log.expanded.has(e), &marker, frame);
                    head.extend(first);
                    let indent = prefix + super::event::INDENT;
                    std::iter::once((head, n_prefix))
                        .chain(rest.into_iter().map(|r| {
                            let mut s = vec![Span::raw(" ".repeat(indent))];
                            s.extend(r);
                            (s, 1)
                        }))
                        .collect()
                };
                let mut out = Vec::new();
                for (spans, n_prefix) in rows {
                    if log.wrap {
                        out.extend(wrap_spans(spans, w, prefix.min(w / 2)));
                    } else if log.hscroll > 0 {
                        // Keep the prefix, scroll the message.
                        let mut s: Vec<Span> = spans.clone().into_iter().take(n_prefix).collect();
                        let rest: Vec<Span> = spans.into_iter().skip(n_prefix).collect();
                        s.push(Span::styled("…", t.dim()));
                        s.extend(skip_chars(rest, log.hscroll));
                        out.push(Line::from(s));
                    } else {
                        out.push(Line::from(spans));
                    }
                }
                out
            }
            TailLine::Dropped { count, from, until } => {
                let text = format!(
                    " {} lines dropped {}–{} (client too slow) ",
                    thousands(*count),
                    app.clock_ms(*from),
                    app.clock_ms(*until)
                );
                let side = w.saturating_sub(text.chars().count()) / 2;
                vec![Line::from(Span::styled(
                    format!("{}{text}{}", "─".repeat(side.min(3)), "─".repeat(side)),
                    t.fg(Color::Red).add_modifier(Modifier::BOLD),
                ))]
            }
            TailLine::Restarted {
                key,
                instance,
                before,
            } => vec![Line::from(Span::styled(
                format!(
                    "── {} ──",
                    crate::app::tail::restarts::marker_text(key, *instance, *before)
                ),
                t.fg(Color::Magenta).add_modifier(Modifier::BOLD),
            ))],
            TailLine::Notice(n) => vec![Line::from(Span::styled(
                format!("─── {n} ───"),
                t.fg(Color::Cyan),
            ))],
        };
        let mut style = Style::default();
        if is_cur {
            style = style.add_modifier(Modifier::UNDERLINED);
        }
        if selected {
            style = style.patch(t.marked());
        }
        if log.cursor == Some(i) {
            style = style.patch(t.selected());
        }
        if style != Style::default() {
            for l in &mut lines {
                l.style = style;
            }
        }
        Some(lines)
    };
    // Walk up from the bottom until the pane is full, noting which line each row
    // shows (a click lands on it).
    let fill = |end: usize| {
        let mut rows: Vec<(Line, usize)> = Vec::new();
        let mut i = end;
        while i > 0 && rows.len() < h {
            i -= 1;
            if let Some(lines) = draw_line(i) {
                rows.extend(lines.into_iter().rev().map(|l| (l, i)));
            }
        }
        rows.truncate(h);
        rows.reverse();
        rows
    };
    let mut rows = fill(end);
    // Wrapped lines take several rows, so the core's view can be shorter than it
    // thinks: a cursor above the top then sits on the bottom row instead.
    if let Some(c) = log.cursor {
        if rows.first().is_some_and(|(_, top)| c < *top) {
            rows = fill(c + 1);
        }
        // An expanded event taller than the pane shows from its head down.
        if rows.first().is_some_and(|(_, top)| *top == c) {
            if let Some(own) = draw_line(c).filter(|l| l.len() > h) {
                rows = own.into_iter().take(h).map(|l| (l, c)).collect();
            }
        }
    }
    let (rows, index): (Vec<Line>, Vec<usize>) = rows.into_iter().unzip();
    log.drawn.replace(crate::app::tail::Drawn {
        x: inner.x..inner.x + inner.width,
        y: inner.y,
        rows: index,
    });
    // Short content sits at the top like a terminal; the newest line is last.
    f.render_widget(Paragraph::new(rows), inner);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_splits_by_width_with_indent() {
        let rows = wrap_spans(vec![Span::raw("abcdefghij")], 4, 2);
        let text: Vec<String> = rows
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect();
        assert_eq!(text, vec!["abcd", "  ef", "  gh", "  ij"]);
    }

    #[test]
    fn skip_chars_crosses_spans() {
        let s = skip_chars(vec![Span::raw("abc"), Span::raw("defg")], 4);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].content, "efg");
    }

    #[test]
    fn truncation_marks_the_cut() {
        assert_eq!(truncate("checkout-7d9f-abc", 8), "checkou…");
        assert_eq!(truncate_front("hdfs-datanode-0", 8), "…anode-0");
    }
}
