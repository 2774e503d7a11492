//! Drawing: a pure function of [`App`] onto a ratatui frame. One module per screen,
//! plus the frame every screen shares (status bar, tabs, key bar, help overlay).

mod alerts;
pub mod event;
mod patterns;
mod search;
mod tail;

use std::ops::Range;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;

use crate::app::{help, App, ConnState, PromptKind, Screen};
use crate::keys::{Binding, Ctx, Key, Keys};
use lookout_shared::{Level, LogEntry, Timestamp};

/// Styles that fall back to text attributes when colour is off (`NO_COLOR`).
#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    pub fn fg(self, c: Color) -> Style {
        if self.color {
            Style::default().fg(c)
        } else {
            Style::default()
        }
    }

    pub fn dim(self) -> Style {
        if self.color {
            Style::default().fg(Color::DarkGray)
        } else {
            Style::default()
        }
    }

    pub fn bold(self) -> Style {
        Style::default().add_modifier(Modifier::BOLD)
    }

    /// The selected row of a list: reversed works with and without colour.
    pub fn selected(self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }

    /// Lines inside a selection (the cursor's line is [`Theme::selected`]).
    pub fn marked(self) -> Style {
        if self.color {
            Style::default().bg(Color::DarkGray)
        } else {
            Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
        }
    }

    pub fn highlight(self) -> Style {
        if self.color {
            Style::default()
                .bg(Color::Yellow)
                .fg(Color::Black)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default().add_modifier(Modifier::REVERSED | Modifier::UNDERLINED)
        }
    }

    pub fn level(self, l: Option<Level>) -> Style {
        match l {
            Some(Level::Error) => self.fg(Color::Red).add_modifier(Modifier::BOLD),
            Some(Level::Warn) => self.fg(Color::Yellow).add_modifier(if self.color {
                Modifier::empty()
            } else {
                Modifier::BOLD
            }),
            Some(Level::Debug) | Some(Level::Trace) => self.dim(),
            _ => self.fg(Color::Green),
        }
    }

    /// A pod's colour by its palette slot ([`crate::app::tail::colors`] assigns
    /// them so visible pods differ).
    pub fn pod(self, slot: usize) -> Style {
        const PALETTE: [Color; crate::app::tail::colors::PALETTE] = [
            Color::Cyan,
            Color::Magenta,
            Color::Blue,
            Color::LightGreen,
            Color::LightMagenta,
            Color::LightCyan,
            Color::LightBlue,
            Color::LightYellow,
        ];
        self.fg(PALETTE[slot % PALETTE.len()])
    }
}

/// `12.4k`, `980`, `3.1M`.
pub fn rate(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

/// `3,412`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `3s ago`, `5m ago`, `2h ago`.
pub fn ago(now: Timestamp, ts: Timestamp) -> String {
    let s = now.nanos().saturating_sub(ts.nanos()) / 1_000_000_000;
    match s {
        i64::MIN..=0 => "now".into(),
        1..=59 => format!("{s}s ago"),
        60..=3599 => format!("{}m ago", s / 60),
        3600..=86399 => format!("{}h ago", s / 3600),
        _ => format!("{}d ago", s / 86400),
    }
}

/// The level word as shown in a column (5 wide).
pub fn level_word(l: Option<Level>) -> &'static str {
    match l {
        Some(Level::Error) => "ERROR",
        Some(Level::Warn) => "WARN",
        Some(Level::Info) => "INFO",
        Some(Level::Debug) => "DEBUG",
        Some(Level::Trace) => "TRACE",
        None => "",
    }
}

/// The byte ranges of every case-insensitive occurrence of the `needles` in
/// `text` (the tail's find: plain text, not the query language), sorted.
pub fn find_marks(text: &str, needles: &[String]) -> Vec<Range<usize>> {
    let mut marks: Vec<Range<usize>> = Vec::new();
    for n in needles.iter().filter(|n| !n.is_empty()) {
        let mut from = 0;
        while let Some(i) = crate::app::tail::find_ci(text, n, from) {
            marks.push(i..i + n.len());
            from = i + n.len();
        }
    }
    marks.sort_unstable_by_key(|r| (r.start, r.end));
    marks
}

/// Splits `text` into spans, highlighting the byte ranges `marks` (sorted by start;
/// a range overlapping an earlier one is skipped). Search results pass what
/// [`lookout_shared::query::Query::highlights`] found, so exactly the words the
/// daemon matched are marked.
pub fn highlighted_at<'a>(
    text: &'a str,
    marks: &[Range<usize>],
    base: Style,
    hl: Style,
) -> Vec<Span<'a>> {
    let mut out = Vec::new();
    let mut at = 0;
    for m in marks {
        let Some(piece) = text.get(m.clone()) else {
            continue;
        };
        if m.start < at || piece.is_empty() {
            continue;
        }
        if m.start > at {
            out.push(Span::styled(&text[at..m.start], base));
        }
        out.push(Span::styled(piece, hl));
        at = m.end;
    }
    if at < text.len() || out.is_empty() {
        out.push(Span::styled(&text[at..], base));
    }
    out
}

/// An entry's columns before its message: `time pod container LEVEL `.
pub fn entry_prefix<'a>(
    t: Theme,
    e: &'a LogEntry,
    time: Option<String>,
    pod: (usize, usize),
) -> Vec<Span<'a>> {
    let (pod_width, pod_slot) = pod;
    let mut spans = Vec::new();
    if let Some(ts) = time {
        spans.push(Span::styled(format!("{ts} "), t.dim()));
    }
    let pod = format!("{:<w$} ", truncate(&e.source.pod, pod_width), w = pod_width);
    spans.push(Span::styled(pod, t.pod(pod_slot)));
    spans.push(Span::styled(
        format!("{:<6} ", truncate(&e.source.container, 6)),
        t.dim(),
    ));
    let lw = level_word(e.level);
    spans.push(Span::styled(format!("{lw:<5} "), t.level(e.level)));
    spans
}

/// Cuts to `n` chars, marking the cut with `…`.
pub fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else if n == 0 {
        String::new()
    } else {
        let mut out: String = s.chars().take(n - 1).collect();
        out.push('…');
        out
    }
}

/// Draws the whole dashboard.
pub fn draw(f: &mut Frame, app: &App) {
    let t = Theme { color: app.color };
    let area = f.area();
    if area.height < 6 || area.width < 30 {
        let p = Paragraph::new(format!(
            "lookout: terminal too small ({}x{}); need 30x6",
            area.width, area.height
        ))
        .wrap(ratatui::widgets::Wrap { trim: true });
        f.render_widget(p, area);
        return;
    }
    let footer_rows = footer_lines(app).len() as u16;
    let [top, tabs, body, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(footer_rows),
    ])
    .areas(area);
    status_bar(f, app, t, top);
    tab_bar(f, app, t, tabs);
    match app.screen {
        Screen::Tail => tail::draw(f, app, t, body),
        Screen::Search => search::draw(f, app, t, body),
        Screen::Alerts => alerts::draw(f, app, t, body),
    }
    let lines: Vec<Line> = footer_lines(app)
        .into_iter()
        .map(|l| l.into_line(t))
        .collect();
    f.render_widget(Paragraph::new(lines), foot);
    if app.help {
        help_overlay(f, app, t, area);
    }
}

fn status_bar(f: &mut Frame, app: &App, t: Theme, area: Rect) {
    let (dot, state, color) = match &app.conn {
        ConnState::Connected => ("●", "connected".to_string(), Color::Green),
        ConnState::Connecting => ("◌", "connecting".to_string(), Color::Yellow),
        ConnState::Down { reason, fatal, .. } => {
            let secs = app
                .retry_in()
                .map(|d| d.as_secs_f64().ceil() as u64)
                .unwrap_or(0);
            if *fatal {
                ("●", format!("{reason} (retry in {secs}s)"), Color::Red)
            } else {
                (
                    "●",
                    format!("reconnecting in {secs}s ({reason})"),
                    Color::Yellow,
                )
            }
        }
    };
    // A cluster hub says how many of its nodes answer; a daemon names its node.
    let node = if let Some(c) = &app.status.cluster {
        format!("cluster · {}/{} nodes ─ ", c.up, c.total)
    } else if app.server.node.is_empty() {
        String::new()
    } else {
        format!("node {} ─ ", app.server.node)
    };
    let conn = Span::styled(
        format!("{dot} {state} "),
        t.fg(color).add_modifier(Modifier::BOLD),
    );
    let full = format!("─ {node}{} ", app.url);
    let firing = app.firing();
    let online = app.conn == ConnState::Connected;
    let mut right = vec![Span::raw(format!(
        " {} lines/s ─ ",
        rate(app.status.lines_per_sec)
    ))];
    if !online {
        // The last figures the daemon sent: kept for orientation, marked as old.
        let stale = format!(
            " stale: {} lines/s · {firing} firing ",
            rate(app.status.lines_per_sec)
        );
        right = vec![Span::styled(stale, t.dim())];
    } else if firing > 0 {
        right.push(Span::styled(
            format!("▲ {firing} firing "),
            t.fg(Color::Red)
                .add_modifier(Modifier::BOLD | Modifier::REVERSED),
        ));
    } else {
        right.push(Span::styled("0 firing ", t.dim()));
    }
    // Narrow terminals lose the URL, then the node, before the connection state.
    let rw: usize = right.iter().map(|s| s.width()).sum();
    let room = (area.width as usize).saturating_sub(rw + 9 + conn.width());
    let middle = [full, format!("─ {node}"), String::new()]
        .into_iter()
        .find(|m| m.chars().count() <= room)
        .unwrap_or_default();
    let left = vec![Span::styled(" Lookout ", t.bold()), Span::raw(middle), conn];
    f.render_widget(Paragraph::new(fill_between(left, right, area.width)), area);
}

/// `left ─── right` across `width` cells; `left` is cut first when too narrow.
pub fn fill_between<'a>(left: Vec<Span<'a>>, right: Vec<Span<'a>>, width: u16) -> Line<'a> {
    let lw: usize = left.iter().map(|s| s.width()).sum();
    let rw: usize = right.iter().map(|s| s.width()).sum();
    let w = width as usize;
    let mut spans = Vec::new();
    if lw + rw < w {
        spans.extend(left);
        spans.push(Span::raw("─".repeat(w - lw - rw)));
        spans.extend(right);
    } else {
        // Right side (alerts) matters more than the URL.
        let room = w.saturating_sub(rw);
        let text: String = left.iter().map(|s| s.content.as_ref()).collect();
        spans.push(Span::raw(truncate(&text, room)));
        spans.extend(right);
    }
    Line::from(spans)
}

fn tab_bar(f: &mut Frame, app: &App, t: Theme, area: Rect) {
    let mut spans = vec![Span::raw(" ")];
    for (s, name) in [
        (Screen::Tail, "1 Tail"),
        (Screen::Search, "2 Search"),
        (Screen::Alerts, "3 Alerts"),
    ] {
        if s == app.screen {
            spans.push(Span::styled(
                format!("[{name}]"),
                t.bold().add_modifier(Modifier::UNDERLINED),
            ));
        } else {
            spans.push(Span::styled(format!(" {name} "), t.dim()));
        }
        spans.push(Span::raw("  "));
    }
    // Which zone every time on screen is in (`--utc` or `TZ` change it).
    spans.push(Span::styled(
        format!("times {}  ", app.zone.label(app.now)),
        t.dim(),
    ));
    if let Some((m, _)) = &app.message {
        spans.push(Span::styled(m.clone(), t.fg(Color::Cyan)));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// A footer line before styling.
enum Foot {
    Prompt(String, String),
    /// An error in the prompt's text: a caret under `column` of the text (the
    /// prompt's label is `indent` cells wide) and what is wrong.
    Caret {
        indent: usize,
        column: usize,
        message: String,
    },
    Info(String, String),
    Keys(Ctx),
}

impl Foot {
    fn into_line(self, t: Theme) -> Line<'static> {
        match self {
            Foot::Prompt(label, text) => Line::from(vec![
                Span::styled(format!(" {label}: "), t.bold()),
                Span::raw(text),
                Span::styled("▏", t.fg(Color::Yellow)),
            ]),
            Foot::Caret {
                indent,
                column,
                message,
            } => Line::from(vec![
                Span::raw(" ".repeat(indent + column)),
                Span::styled(
                    format!("^ {message}"),
                    t.fg(Color::Red).add_modifier(Modifier::BOLD),
                ),
            ]),
            Foot::Info(l, r) => Line::from(vec![
                Span::styled(l, t.fg(Color::Cyan)),
                Span::raw("   "),
                Span::styled(r, t.fg(Color::Yellow)),
            ]),
            Foot::Keys(ctx) => {
                let mut spans = Vec::new();
                // `?` first so it survives narrow terminals; then the pane's keys.
                let own = crate::app::tables::table(ctx);
                let help = crate::app::tables::globals(ctx).filter(|k| k.covers(Key::Char('?')));
                // A global the pane already spells out (`q`/`Esc` in the context
                // view) would only repeat it.
                let rest = crate::app::tables::globals(ctx).filter(|g| {
                    !g.covers(Key::Char('?'))
                        && !matches!(g.keys, Keys::Of(ks) if ks.iter().all(|&k| own.iter().any(|o| o.covers(k))))
                });
                let rows = help.chain(own.iter().copied()).chain(rest);
                for k in rows.filter(|k| k.bar) {
                    spans.push(Span::styled(format!(" {}", k.label()), t.bold()));
                    spans.push(Span::styled(format!(" {} ", k.what), t.dim()));
                }
                Line::from(spans)
            }
        }
    }
}

fn footer_lines(app: &App) -> Vec<Foot> {
    let mut out = Vec::new();
    if let Some(p) = &app.prompt {
        let label = match p.kind {
            PromptKind::Filter => "filter (query language, empty clears)",
            PromptKind::Find => "find (text, or /regex/)",
            PromptKind::Save => "save to",
            PromptKind::Range => "range (15m, 2h, or FROM..UNTIL in RFC 3339)",
        };
        out.push(Foot::Prompt(label.into(), p.input.text.clone()));
        if let Some(e) = p.error() {
            out.push(Foot::Caret {
                // ` label: ` before the text.
                indent: label.chars().count() + 3,
                column: e.position.column,
                message: e.message,
            });
        }
    } else if app.screen == Screen::Tail
        && (!app.tail.filter.is_empty() || !app.tail.log.find.is_empty())
    {
        let l = if app.tail.filter.is_empty() {
            String::new()
        } else {
            format!(" filter: {}", app.tail.filter)
        };
        let r = if app.tail.log.find.is_empty() {
            String::new()
        } else {
            let (pos, total) = app.tail.log.find_count();
            format!("find: {}  ({pos}/{total})  n/N", app.tail.log.find)
        };
        out.push(Foot::Info(l, r));
    }
    out.push(Foot::Keys(app.ctx()));
    out
}

/// A rectangle centred in `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

fn help_overlay(f: &mut Frame, app: &App, t: Theme, area: Rect) {
    let ctx = app.ctx();
    let section = |name: &str| {
        Line::from(Span::styled(
            name.to_string(),
            t.bold().add_modifier(Modifier::UNDERLINED),
        ))
    };
    let own = crate::app::tables::table(ctx);
    let globals: Vec<&Binding> = crate::app::tables::globals(ctx).collect();
    // The key column fits the longest label.
    let kw = own
        .iter()
        .chain(&globals)
        .map(|k| k.label().chars().count())
        .max()
        .unwrap_or(0)
        + 2;
    let row = |k: &&Binding| {
        Line::from(vec![
            Span::styled(format!("  {:<kw$}", k.label()), t.fg(Color::Yellow)),
            Span::raw(k.what),
        ])
    };
    let mut lines = vec![section(ctx.title())];
    lines.extend(own.iter().map(row));
    lines.push(Line::raw(""));
    lines.push(section("Everywhere"));
    lines.extend(globals.iter().map(row));
    let h = lines.len() as u16 + 2;
    // As wide as the widest row, so no description is cut.
    let w = lines.iter().map(Line::width).max().unwrap_or(0) as u16 + 4;
    let r = centered(area, w.max(64), h);
    let title = help::KEYS.first().map(|k| k.what).unwrap_or_default();
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(format!(" Keys · {title} ")),
        ),
        r,
    );
}
