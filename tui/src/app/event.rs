//! What one event shows as: its first line and how much more it holds (collapsed),
//! or everything (expanded). Pure, so Tail and Search draw an event alike and the
//! tests can check the shapes without a terminal.
//!
//! A multi-line event (a stack trace the daemon joined, lines separated by `\n`)
//! collapses to its first line and a `+N lines` marker; expanded, its other lines
//! follow, indented. A JSON event (a message that is a JSON object with fields the
//! daemon extracted) shows its `msg`/`message` field as the text and the other
//! fields as `key=value` after it; expanded, one field a line. Anything else is its
//! message.

use std::collections::BTreeSet;

use lookout_shared::LogEntry;

/// Fields whose value is the event's text, in the order they are looked for
/// (pino and bunyan write `msg`, most others `message`).
const TEXT_KEYS: [&str; 2] = ["msg", "message"];
/// Fields already shown by the level column; repeating them after the text is
/// noise (`level=30` from pino says what `INFO` says).
const LEVEL_KEYS: [&str; 5] = ["level", "lvl", "severity", "log.level", "levelname"];
/// Expanded events a view remembers; past it the oldest are folded again, so the
/// set stays bounded whatever is pressed (each entry is one `u64`).
pub const MAX_EXPANDED: usize = 4096;

/// How an event reads.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape<'a> {
    /// A message read as text: its physical lines, the first being the head.
    Lines(Vec<&'a str>),
    /// A JSON object: the text field's value (or the whole message when it has
    /// none) and every other field as `(key, value)`, in key order.
    Json {
        text: String,
        fields: Vec<(&'a str, String)>,
    },
}

/// A field value as `key=value` writes it: strings bare, others as JSON.
pub fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl<'a> Shape<'a> {
    /// The shape of `e`'s message.
    pub fn of(e: &'a LogEntry) -> Shape<'a> {
        if !e.fields.is_empty() && e.message.trim_start().starts_with('{') {
            let text_key = TEXT_KEYS
                .iter()
                .find(|k| matches!(e.fields.get(**k), Some(serde_json::Value::String(_))));
            let text = match text_key {
                Some(k) => e.fields.get(*k).map(value_text).unwrap_or_default(),
                None => first_line(&e.message).to_string(),
            };
            let fields = e
                .fields
                .iter()
                .filter(|(k, _)| Some(&k.as_str()) != text_key)
                .map(|(k, v)| (k.as_str(), value_text(v)))
                .collect();
            return Shape::Json { text, fields };
        }
        Shape::Lines(e.message.split('\n').collect())
    }

    /// Whether expanding shows more than the collapsed row.
    pub fn expandable(&self) -> bool {
        match self {
            Shape::Lines(l) => l.len() > 1,
            Shape::Json { fields, .. } => !fields.is_empty(),
        }
    }

    /// The collapsed row's text, and what follows it dimmed: `+N lines`, or the
    /// other fields as `key=value` (leaving out the level's, which the level
    /// column already says).
    pub fn collapsed(&self) -> (&str, Option<String>) {
        match self {
            Shape::Lines(l) => {
                let head = l.first().copied().unwrap_or_default();
                let more = (l.len() > 1).then(|| format!("+{} lines", l.len() - 1));
                (head, more)
            }
            Shape::Json { text, fields } => {
                let rest: Vec<String> = fields
                    .iter()
                    .filter(|(k, _)| !LEVEL_KEYS.contains(k))
                    .map(|(k, v)| format!("{k}={}", quoted(v)))
                    .collect();
                (text, (!rest.is_empty()).then(|| rest.join(" ")))
            }
        }
    }

    /// The rows an expanded event adds under its head, as `(key, text)`: a
    /// trace's further lines (no key), or every field but the text's, one a row.
    pub fn extra_rows(&self) -> Vec<(Option<&str>, &str)> {
        match self {
            Shape::Lines(l) => l.iter().skip(1).map(|s| (None, *s)).collect(),
            Shape::Json { fields, .. } => {
                fields.iter().map(|(k, v)| (Some(*k), v.as_str())).collect()
            }
        }
    }
}

/// A value as logfmt would write it: quoted when it holds a space or is empty.
fn quoted(v: &str) -> String {
    if v.is_empty() || v.contains([' ', '"', '=']) {
        format!("{v:?}")
    } else {
        v.to_string()
    }
}

fn first_line(s: &str) -> &str {
    s.split('\n').next().unwrap_or_default()
}

/// Which events a view shows expanded, by `seq` (unique per daemon), so the set
/// survives the scrollback shifting under it. Bounded by [`MAX_EXPANDED`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expanded(BTreeSet<u64>);

impl Expanded {
    /// Whether `e` is shown expanded.
    pub fn has(&self, e: &LogEntry) -> bool {
        self.0.contains(&e.seq)
    }

    /// `Enter`/`o`: expands `e` or folds it again. Returns `false` when `e` has
    /// nothing more to show (one line, no fields), so the caller can say so.
    pub fn toggle(&mut self, e: &LogEntry) -> bool {
        if self.0.remove(&e.seq) {
            return true;
        }
        if !Shape::of(e).expandable() {
            return false;
        }
        self.0.insert(e.seq);
        while self.0.len() > MAX_EXPANDED {
            // seq grows with time: the smallest is the oldest expanded.
            self.0.pop_first();
        }
        true
    }

    /// Forgets an event that left the view (evicted from the ring).
    pub fn forget(&mut self, e: &LogEntry) {
        if !self.0.is_empty() {
            self.0.remove(&e.seq);
        }
    }

    /// Folds everything (a new search, a cleared pane).
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// How many events are expanded.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(msg: &str, fields: serde_json::Value) -> LogEntry {
        LogEntry {
            message: msg.into(),
            fields: serde_json::from_value(fields).unwrap(),
            seq: 7,
            ..Default::default()
        }
    }

    #[test]
    fn a_trace_collapses_to_its_head_and_a_count() {
        let e = entry(
            "insert failed\n\tat ledger.write(L.java:212)\n\tat main",
            json!({}),
        );
        let s = Shape::of(&e);
        assert_eq!(s.collapsed(), ("insert failed", Some("+2 lines".into())));
        assert_eq!(
            s.extra_rows(),
            [(None, "\tat ledger.write(L.java:212)"), (None, "\tat main")]
        );
        assert!(s.expandable());
        let one = entry("just one", json!({}));
        assert_eq!(Shape::of(&one).collapsed(), ("just one", None));
        assert!(!Shape::of(&one).expandable());
    }

    #[test]
    fn json_shows_its_message_field_then_the_others() {
        let e = entry(
            r#"{"level":30,"msg":"payment declined","status":503,"user":"ann lee"}"#,
            json!({"level": 30, "msg": "payment declined", "status": 503, "user": "ann lee"}),
        );
        let s = Shape::of(&e);
        assert_eq!(
            s.collapsed(),
            (
                "payment declined",
                Some(r#"status=503 user="ann lee""#.into())
            )
        );
        assert_eq!(
            s.extra_rows(),
            [
                (Some("level"), "30"),
                (Some("status"), "503"),
                (Some("user"), "ann lee")
            ]
        );
        // logfmt reads fine as written: it stays text.
        let lf = entry(
            "level=info status=200",
            json!({"level": "info", "status": 200}),
        );
        assert_eq!(Shape::of(&lf).collapsed(), ("level=info status=200", None));
    }

    #[test]
    fn the_expanded_set_toggles_refuses_single_lines_and_stays_bounded() {
        let mut x = Expanded::default();
        let mut e = entry("a\nb", json!({}));
        assert!(x.toggle(&e) && x.has(&e));
        assert!(x.toggle(&e) && !x.has(&e));
        assert!(!x.toggle(&entry("a", json!({}))));
        for seq in 0..(MAX_EXPANDED as u64 + 10) {
            e.seq = seq;
            x.toggle(&e);
        }
        assert_eq!(x.len(), MAX_EXPANDED);
        e.seq = 0;
        assert!(!x.has(&e), "the oldest were folded again");
    }
}
