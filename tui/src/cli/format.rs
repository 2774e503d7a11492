//! Human-readable lines for the CLI (the dashboard has its own styled rendering).

use lookout_shared::protocol::{Alert, AlertState, RuleStatus, RuleTestResult, StreamInfo};
use lookout_shared::{Level, LogEntry, Timestamp};

/// `2026-11-25T19:42:07.118Z payments/checkout-7d9f/app ERROR message`.
pub fn entry_line(e: &LogEntry) -> String {
    let level = e
        .level
        .map(|l| l.as_str().to_uppercase())
        .unwrap_or_default();
    let s = &e.source;
    format!(
        "{} {}/{}/{} {:<5} {}",
        short_ts(e.ts),
        s.namespace,
        s.pod,
        s.container,
        level,
        e.message
    )
}

/// [`entry_line`] with ANSI colours: one per pod (stable hash, as stern does) and
/// one per level. Used only when stdout is a terminal and `NO_COLOR` is unset.
pub fn entry_line_color(e: &LogEntry) -> String {
    const PODS: &[u8] = &[36, 35, 34, 92, 95, 96, 94, 93];
    let s = &e.source;
    let mut h: u32 = 0x811c_9dc5;
    for b in s.pod.bytes() {
        h = (h ^ b as u32).wrapping_mul(0x0100_0193);
    }
    let pod = PODS[(h as usize) % PODS.len()];
    let (lc, word) = match e.level {
        Some(Level::Error) => ("1;31", "ERROR"),
        Some(Level::Warn) => ("33", "WARN"),
        Some(Level::Info) => ("32", "INFO"),
        Some(Level::Debug) => ("2", "DEBUG"),
        Some(Level::Trace) => ("2", "TRACE"),
        None => ("0", ""),
    };
    format!(
        "\x1b[2m{}\x1b[0m \x1b[{pod}m{}/{}\x1b[0m\x1b[2m/{}\x1b[0m \x1b[{lc}m{word:<5}\x1b[0m {}",
        short_ts(e.ts),
        s.namespace,
        s.pod,
        s.container,
        e.message
    )
}

/// RFC 3339 with milliseconds, UTC.
pub fn short_ts(ts: Timestamp) -> String {
    ts.to_datetime()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The query on one line and a caret under the error column on the next.
pub fn query_error_caret(query: &str, column: usize, length: usize) -> String {
    let col = column.min(query.chars().count());
    format!(
        "  {query}\n  {}{}",
        " ".repeat(col),
        "^".repeat(length.max(1))
    )
}

fn state_name(s: AlertState) -> &'static str {
    match s {
        AlertState::Inactive => "ok",
        AlertState::Pending => "pending",
        AlertState::Firing => "firing",
        AlertState::Resolved => "resolved",
    }
}

/// An aligned table of streams with a header.
pub fn streams_table(streams: &[StreamInfo]) -> Vec<String> {
    let mut rows = vec![[
        "NAMESPACE".to_string(),
        "POD".into(),
        "CONTAINER".into(),
        "RESTART".into(),
        "STATE".into(),
        "LINES".into(),
        "LINES/S".into(),
        "LAST SEEN".into(),
    ]];
    for s in streams {
        let id = &s.source;
        rows.push([
            id.namespace.clone(),
            id.pod.clone(),
            id.container.clone(),
            id.restart.to_string(),
            if s.live { "live" } else { "ended" }.into(),
            s.lines.to_string(),
            format!("{:.1}", s.lines_per_sec),
            s.last_seen.map(short_ts).unwrap_or_else(|| "-".into()),
        ]);
    }
    align(&rows)
}

/// An aligned table of rules with their state.
pub fn rules_table(rules: &[RuleStatus]) -> Vec<String> {
    let mut rows = vec![[
        "NAME".to_string(),
        "STATE".into(),
        "SEVERITY".into(),
        "WHEN".into(),
        "QUERY".into(),
    ]];
    for r in rules {
        let state = if !r.rule.enabled {
            "disabled".to_string()
        } else {
            let firing = r
                .alerts
                .iter()
                .filter(|a| a.state == AlertState::Firing)
                .count();
            if firing > 0 {
                format!("firing ({firing})")
            } else {
                state_name(r.state).to_string()
            }
        };
        rows.push([
            r.rule.name.clone(),
            state,
            r.rule.severity.clone(),
            format!(
                "count {} in {} for {}",
                r.rule.condition, r.rule.window, r.rule.for_
            ),
            r.rule.query.clone(),
        ]);
    }
    align(&rows)
}

/// One alert instance: state, labels, value, since.
pub fn alert_line(a: &Alert) -> String {
    let labels: Vec<String> = a
        .labels
        .iter()
        .filter(|(k, _)| k.as_str() != "alertname" && k.as_str() != "severity")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    format!(
        "{} {{{}}} value {} since {}",
        state_name(a.state),
        labels.join(","),
        a.value,
        short_ts(a.since)
    )
}

/// The outcome of `rules test` for one rule.
pub fn test_line(name: &str, since: &str, r: &RuleTestResult) -> String {
    let last = r
        .last_fired
        .map(|t| format!(" (last {})", short_ts(t)))
        .unwrap_or_default();
    format!(
        "{name}: would have fired {} time(s) over the last {since}{last}; peak count {}",
        r.fired, r.peak
    )
}

fn align<const N: usize>(rows: &[[String; N]]) -> Vec<String> {
    let mut widths = [0usize; N];
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(c.chars().count());
        }
    }
    rows.iter()
        .map(|r| {
            let mut line = String::new();
            for (i, (c, w)) in r.iter().zip(widths.iter()).enumerate() {
                if i + 1 == N {
                    line.push_str(c);
                } else {
                    line.push_str(&format!("{c:<w$}  "));
                }
            }
            line.trim_end().to_string()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lookout_shared::StreamId;

    #[test]
    fn entry_lines_read_like_a_log() {
        let e = LogEntry {
            ts: Timestamp::parse_rfc3339("2026-11-25T19:42:07.118Z").unwrap(),
            source: StreamId {
                namespace: "payments".into(),
                pod: "ledger-0".into(),
                container: "app".into(),
                ..Default::default()
            },
            message: "insert failed".into(),
            level: Some(Level::Error),
            ..Default::default()
        };
        assert_eq!(
            entry_line(&e),
            "2026-11-25T19:42:07.118Z payments/ledger-0/app ERROR insert failed"
        );
    }

    #[test]
    fn caret_points_at_the_column() {
        assert_eq!(query_error_caret("a AND", 2, 3), "  a AND\n    ^^^");
    }

    #[test]
    fn tables_align() {
        let s = StreamInfo {
            source: StreamId {
                namespace: "default".into(),
                pod: "web".into(),
                container: "nginx".into(),
                ..Default::default()
            },
            live: true,
            lines: 12,
            ..Default::default()
        };
        let t = streams_table(&[s]);
        assert!(t[0].starts_with("NAMESPACE  POD  CONTAINER"), "{}", t[0]);
        assert!(t[1].starts_with("default    web  nginx"), "{}", t[1]);
    }
}
