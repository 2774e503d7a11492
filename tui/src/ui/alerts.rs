//! The Alerts screen: rules with state beside the selected rule's details or editor.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::search::{bars, columns};
use super::{centered, truncate, Theme};
use crate::app::alerts::FIELDS;
use crate::app::{App, ConnState};
use lookout_shared::protocol::{AlertState, RuleStatus};

pub fn draw(f: &mut Frame, app: &App, t: Theme, area: Rect) {
    let a = &app.alerts;
    if a.editor.is_some() {
        // The form needs the room; the list comes back on save or Esc.
        draw_editor(f, app, t, area);
    } else {
        let split = if area.width >= 100 { 50 } else { 45 };
        let [list, detail] = Layout::horizontal([
            Constraint::Percentage(split),
            Constraint::Percentage(100 - split),
        ])
        .areas(area);
        draw_list(f, app, t, list);
        draw_detail(f, app, t, detail);
    }
    if let Some(q) = &a.confirm {
        let r = centered(area, 50, 5);
        f.render_widget(Clear, r);
        f.render_widget(
            Paragraph::new(vec![
                Line::from(q.text()),
                Line::from(Span::styled("y yes   n / Esc no", t.bold())),
            ])
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .border_style(t.fg(Color::Red))
                    .title(" Confirm "),
            ),
            r,
        );
    }
}

/// Mark, word and style of a rule's state; the list and the detail agree on them.
fn state_of(t: Theme, r: &RuleStatus) -> (&'static str, &'static str, Style) {
    if !r.rule.enabled {
        return (" ", "disabled", t.dim());
    }
    match r.state {
        AlertState::Firing => ("●", "firing", t.fg(Color::Red).add_modifier(Modifier::BOLD)),
        AlertState::Pending => ("◐", "pending", t.fg(Color::Yellow)),
        _ => ("○", "ok", t.fg(Color::Green)),
    }
}

fn draw_list(f: &mut Frame, app: &App, t: Theme, area: Rect) {
    let a = &app.alerts;
    let online = app.conn == ConnState::Connected;
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.fg(Color::Cyan))
        .title(if online {
            format!(" Rules · {} ", a.rules.len())
        } else {
            format!(" Rules · {} · stale: not connected ", a.rules.len())
        });
    let inner = block.inner(area);
    f.render_widget(block, area);
    if a.rules.is_empty() {
        f.render_widget(
            Paragraph::new(Span::styled(
                if a.list_req.is_some() {
                    "loading…"
                } else if !online {
                    "not connected: rules load on reconnect"
                } else {
                    "no rules yet: n creates one"
                },
                t.dim(),
            )),
            inner,
        );
        return;
    }
    let h = inner.height as usize;
    let start = if a.selected >= h {
        a.selected + 1 - h
    } else {
        0
    };
    let w = inner.width as usize;
    let name_w = (w / 2).clamp(8, 24);
    let lines: Vec<Line> = a
        .rules
        .iter()
        .enumerate()
        .skip(start)
        .take(h)
        .map(|(i, r)| {
            let (mark, word, style) = state_of(t, r);
            let firing = r
                .alerts
                .iter()
                .filter(|x| x.state == AlertState::Firing)
                .count();
            let extra = if firing > 0 {
                format!("{firing} inst")
            } else {
                String::new()
            };
            let mut l = Line::from(vec![
                Span::styled(format!("{mark} "), style),
                Span::raw(format!("{:<name_w$} ", truncate(&r.rule.name, name_w))),
                Span::styled(format!("{word:<9}"), style),
                Span::raw(format!("{extra:<8}")),
                Span::styled(
                    truncate(&r.rule.severity, 8),
                    sev_style(t, &r.rule.severity),
                ),
            ]);
            if i == a.selected {
                l.style = t.selected();
            }
            l
        })
        .collect();
    f.render_widget(Paragraph::new(lines), inner);
}

fn sev_style(t: Theme, s: &str) -> Style {
    match s {
        "critical" => t.fg(Color::Red),
        "warning" => t.fg(Color::Yellow),
        _ => t.dim(),
    }
}

fn draw_detail(f: &mut Frame, app: &App, t: Theme, area: Rect) {
    let a = &app.alerts;
    let Some(r) = a.selected_rule() else {
        f.render_widget(
            Block::default().borders(Borders::ALL).border_style(t.dim()),
            area,
        );
        return;
    };
    let (_, word, style) = state_of(t, r);
    let since = r
        .alerts
        .iter()
        .filter(|x| x.state == r.state)
        .map(|x| x.since)
        .min();
    let title = Line::from(vec![
        Span::raw(format!(" {} ─ ", r.rule.name)),
        Span::styled(
            match since {
                Some(s) if word != "ok" && word != "disabled" => {
                    format!(
                        "{word} since {} ({}) ",
                        app.clock_ms(s),
                        super::ago(app.now, s).trim_end_matches(" ago")
                    )
                }
                _ => format!("{word} "),
            },
            style,
        ),
    ]);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.dim())
        .title(title);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let kv = |k: &str, v: String| {
        Line::from(vec![
            Span::styled(format!("{k:<10}"), t.dim()),
            Span::raw(v),
        ])
    };
    let mut lines = vec![
        kv("query", r.rule.query.clone()),
        kv(
            "when",
            format!(
                "count {} in {}, for {}",
                r.rule.condition, r.rule.window, r.rule.for_
            ),
        ),
    ];
    if !r.rule.group_by.is_empty() {
        lines.push(kv("group by", r.rule.group_by.join(", ")));
    }
    lines.push(kv("severity", r.rule.severity.clone()));
    if !r.rule.labels.is_empty() {
        lines.push(kv(
            "labels",
            r.rule
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", "),
        ));
    }
    for (k, v) in &r.rule.annotations {
        lines.push(kv(k, v.clone()));
    }
    lines.push(Line::raw(""));
    let instances: Vec<_> = r
        .alerts
        .iter()
        .filter(|x| matches!(x.state, AlertState::Firing | AlertState::Pending))
        .collect();
    lines.push(Line::from(Span::styled(
        format!("instances ({})", instances.len()),
        t.bold(),
    )));
    for x in &instances {
        let group: Vec<String> = r
            .rule
            .group_by
            .iter()
            .filter_map(|g| x.labels.get(g).map(|v| v.to_string()))
            .collect();
        let group = if group.is_empty() {
            "(all)".to_string()
        } else {
            group.join(" ")
        };
        lines.push(Line::from(vec![
            Span::raw(format!(" {group:<16} ")),
            Span::styled(
                format!("{:<8}", format!("{:?}", x.state).to_lowercase()),
                if x.state == AlertState::Firing {
                    t.fg(Color::Red)
                } else {
                    t.fg(Color::Yellow)
                },
            ),
            Span::raw(format!(
                "value {:<5} since {}",
                x.value,
                app.clock_ms(x.since)
            )),
        ]));
    }
    let samples: Vec<_> = instances.iter().flat_map(|x| x.sample.iter()).collect();
    if !samples.is_empty() {
        lines.push(Line::from(Span::styled("last matches", t.bold())));
        for e in samples.iter().rev().take(5) {
            lines.push(Line::from(vec![
                Span::styled(format!(" {} ", app.clock_ms(e.ts)), t.dim()),
                Span::raw(e.message.clone()),
            ]));
        }
    }
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}

fn draw_editor(f: &mut Frame, app: &App, t: Theme, area: Rect) {
    let Some(ed) = &app.alerts.editor else { return };
    let title = match &ed.original {
        Some(n) => format!(" Edit rule {n} · Ctrl-s save · Esc close "),
        None => " New rule · Ctrl-s save · Esc close ".to_string(),
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.fg(Color::Cyan).add_modifier(Modifier::BOLD))
        .title(title);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let lw = 13;
    let w = inner.width as usize;
    let mut lines = Vec::new();
    for (i, (name, hint)) in FIELDS.iter().enumerate() {
        let focused = ed.focus == i;
        let field = ed.fields.get(i).cloned().unwrap_or_default();
        let mut spans = vec![Span::styled(
            format!("{}{name:<w$}", if focused { "▶" } else { " " }, w = lw - 1),
            if focused {
                t.bold().patch(t.fg(Color::Cyan))
            } else {
                t.dim()
            },
        )];
        if focused {
            let (a, b): (String, String) = (
                field.text.chars().take(field.cursor).collect(),
                field.text.chars().skip(field.cursor).collect(),
            );
            let mut bi = b.chars();
            let at = bi
                .next()
                .map(|c| c.to_string())
                .unwrap_or_else(|| " ".into());
            spans.push(Span::raw(a));
            spans.push(Span::styled(
                at,
                Style::default().add_modifier(Modifier::REVERSED),
            ));
            spans.push(Span::raw(bi.collect::<String>()));
        } else if field.text.is_empty() {
            spans.push(Span::styled(truncate(hint, w.saturating_sub(lw)), t.dim()));
        } else {
            spans.push(Span::raw(field.text.clone()));
        }
        if i == 1 && ed.error_for(1).is_none() {
            match &ed.validation {
                _ if app.conn != ConnState::Connected => {
                    spans.push(Span::styled("  ○ not connected", t.fg(Color::Yellow)))
                }
                Some(None) if ed.dirty_at.is_none() => {
                    spans.push(Span::styled("  ✓ valid", t.fg(Color::Green)))
                }
                _ if ed.validate_req.is_some() || ed.dirty_at.is_some() => {
                    spans.push(Span::styled("  … checking", t.dim()))
                }
                _ => {}
            }
        }
        lines.push(Line::from(spans));
        if let Some(err) = ed.error_for(i) {
            let red = t.fg(Color::Red).add_modifier(Modifier::BOLD);
            let line = match err.caret {
                // The caret under the very characters at fault, then the message.
                Some(p) => {
                    let col = p.column.min(w.saturating_sub(lw + 1));
                    format!(
                        "{}{} {}",
                        " ".repeat(lw + col),
                        "^".repeat(p.length.max(1)),
                        err.message
                    )
                }
                None => format!("{}✗ {}", " ".repeat(lw), err.message),
            };
            lines.push(Line::from(Span::styled(line, red)));
        } else if focused && !hint.is_empty() && inner.height as usize > FIELDS.len() + 6 {
            lines.push(Line::from(Span::styled(
                format!("{}{hint}", " ".repeat(lw)),
                t.dim(),
            )));
        }
    }
    if let Some(err) = ed.error().filter(|e| e.field.is_none()) {
        // About the rule as a whole (or a field this form does not show).
        lines.push(Line::from(Span::styled(
            format!("✗ {}", err.message),
            t.fg(Color::Red).add_modifier(Modifier::BOLD),
        )));
    }
    lines.push(Line::from(Span::styled(
        format!(
            "── preview over the last 24h {}",
            "─".repeat(w.saturating_sub(29))
        ),
        t.dim(),
    )));
    let preview_text = match &ed.preview {
        Some(p) => {
            let last = p
                .last_fired
                .map(|ts| format!(" (last {})", app.clock_ms(ts)))
                .unwrap_or_default();
            format!(
                "would have fired {} time(s){last}; peak value {}",
                p.fired, p.peak
            )
        }
        None if ed.test_req.is_some() => "evaluating…".into(),
        None if app.conn != ConnState::Connected => {
            "not connected: the preview runs when the daemon is back".into()
        }
        None => "fill in the rule to see how often it would have fired".into(),
    };
    let mut preview = vec![Span::raw(format!("{preview_text}  "))];
    if let Some(h) = ed.preview.as_ref().and_then(|p| p.histogram.as_ref()) {
        let room = w.saturating_sub(preview_text.chars().count() + 2).min(48);
        if room >= 8 {
            let cols = columns(h, room);
            if let Some(l) = bars(&cols, 1, None, t).into_iter().next() {
                preview.extend(l.spans);
            }
        }
    }
    lines.push(Line::from(preview));
    f.render_widget(Paragraph::new(lines), inner);
}
