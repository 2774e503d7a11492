//! Rule validation: from the user's [`RuleSpec`] (strings, as written) to a
//! [`ValidRule`] with every field parsed, or a [`RuleError`] naming the field at
//! fault (and the column, for queries, conditions, durations and templates).
//!
//! The daemon runs this before it saves a rule and the CLI before it sends one, so
//! `lookout rules apply` refuses exactly what lookoutd would.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

use crate::duration::{format_duration, parse_duration};
use crate::protocol::{ErrorBody, ErrorCode, Position, RuleSpec};
use crate::query::{self, Query};
use crate::LogEntry;

use super::condition::{RuleKind, NEW_PATTERN};
use super::template::Template;

/// Longest window: the evaluator keeps per-second counts for a window, so this
/// bounds its memory per group (and 24 h is the longest preview too).
pub const MAX_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// Longest `for`.
pub const MAX_FOR: Duration = Duration::from_secs(7 * 24 * 3600);

/// Longest rule query. Queries people write are a few words; the parser's work and
/// the evaluator's matcher grow with the text, so a stored rule stays bounded. The
/// query parser's own depth limit ([`query::MAX_DEPTH`]) bounds nesting.
pub const MAX_QUERY_BYTES: usize = 4096;

/// A rule failed validation: which field, why, and where in that field's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RuleError {
    /// `name`, `query`, `window`, `condition`, `for`, `group_by`, `severity`,
    /// `labels.KEY`, `annotations.KEY`, or an unknown field's own name.
    pub field: String,
    /// What is wrong, in words for the user (without the field's name).
    pub message: String,
    /// Where in the field's own text (0-based character column), when it applies.
    pub position: Option<Position>,
}

impl RuleError {
    /// An error about `field` as a whole (no column: e.g. a value out of range).
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> RuleError {
        RuleError {
            field: field.into(),
            message: message.into(),
            position: None,
        }
    }

    /// The same error pointing at `column` (0-based, in characters) of the field.
    pub fn at(mut self, column: usize, length: usize) -> RuleError {
        self.position = Some(Position { column, length });
        self
    }

    /// The wire form: `bad_rule` with `field` and `position`.
    pub fn to_error_body(&self) -> ErrorBody {
        ErrorBody {
            code: ErrorCode::BadRule,
            message: self.message.clone(),
            position: self.position,
            field: Some(self.field.clone()),
        }
    }

    /// Turns a serde message about a rule (`unknown field `foo`, expected one of …`,
    /// `missing field `query``) into a field error, so JSON and YAML clients get the
    /// same `bad_rule` answer as any other validation failure.
    ///
    /// The value serde quotes in `invalid type: string "…"` is left out: the text
    /// may not be a rule file at all, and its content is nobody's business in a log.
    pub fn from_serde_message(message: &str) -> RuleError {
        let message = &scrub_quoted(message);
        for marker in ["unknown field `", "missing field `", "duplicate field `"] {
            if let Some(i) = message.find(marker) {
                let rest = &message[i + marker.len()..];
                if let Some(end) = rest.find('`') {
                    let key = &rest[..end];
                    if key.len() <= 64 && is_label_name(key) {
                        return RuleError::new(key, message.to_string());
                    }
                    // Not a name anyone meant as a field (a line of some other
                    // file read as YAML): say so without repeating it.
                    let message = format!(
                        "{}a key that is not a rule field{}",
                        &message[..i + marker.len() - 1],
                        &rest[end + 1..]
                    );
                    return RuleError::new("rule", message);
                }
            }
        }
        RuleError::new("rule", message.to_string())
    }
}

/// `invalid type: string "secret", expected …` -> `invalid type: string, expected …`
/// (and the same for `invalid value:`): positions and field names stay, values go.
fn scrub_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(i) = rest.find(": string \"") {
        out.push_str(&rest[..i + ": string".len()]);
        let after = &rest[i + ": string \"".len()..];
        // serde writes the value with `{:?}`-like escaping; its end is `", `.
        match after.find("\", ").or_else(|| after.rfind('"')) {
            Some(end) => rest = &after[end + 1..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// What an alert instance can be grouped by: an entry field, or any field extracted
/// from the message (`group_by: [status]`, `fields.level` for a JSON key named like
/// a built-in), as the query language names them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GroupField {
    Namespace,
    Pod,
    Workload,
    Container,
    Node,
    /// An extracted field, by its dotted path.
    Field(String),
}

impl GroupField {
    /// The field named in `group_by`; `None` for a name the query language would not
    /// read as a field.
    pub fn parse(s: &str) -> Option<GroupField> {
        Some(match s {
            "namespace" => GroupField::Namespace,
            "pod" => GroupField::Pod,
            "workload" => GroupField::Workload,
            "container" => GroupField::Container,
            "node" => GroupField::Node,
            _ => {
                // The names the query language reads as fields, and no others.
                let path = s.strip_prefix(crate::query::FIELDS_PREFIX).unwrap_or(s);
                if !crate::query::is_field_name(path) {
                    return None;
                }
                GroupField::Field(path.to_string())
            }
        })
    }

    /// The alert label its value is given under: the field's name, with what a
    /// Prometheus label name cannot hold turned into `_` (`http.request.method` →
    /// `http_request_method`).
    pub fn label(&self) -> Cow<'_, str> {
        Cow::Borrowed(match self {
            GroupField::Namespace => "namespace",
            GroupField::Pod => "pod",
            GroupField::Workload => "workload",
            GroupField::Container => "container",
            GroupField::Node => "node",
            GroupField::Field(path) => {
                let mut out: String = path
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                    .collect();
                if out.starts_with(|c: char| c.is_ascii_digit()) {
                    out.insert(0, '_');
                }
                return Cow::Owned(out);
            }
        })
    }

    /// The entry's value for this field; an extracted field the entry lacks is the
    /// empty value (its events form one group, as Prometheus groups series that lack
    /// a label), a number or boolean is its JSON text.
    pub fn value<'a>(&self, e: &'a LogEntry) -> Cow<'a, str> {
        use serde_json::Value;
        Cow::Borrowed(match self {
            GroupField::Namespace => &e.source.namespace,
            GroupField::Pod => &e.source.pod,
            GroupField::Workload => e.source.workload(),
            GroupField::Container => &e.source.container,
            GroupField::Node => &e.node,
            GroupField::Field(path) => match e.fields.get(path.as_str()) {
                None | Some(Value::Null) => "",
                Some(Value::String(s)) => s,
                Some(other) => return Cow::Owned(other.to_string()),
            },
        })
    }
}

/// A rule whose every field parsed: what the evaluator runs (the daemon compiles
/// `query` to its live matcher and index queries).
#[derive(Debug, Clone)]
pub struct ValidRule {
    /// The rule as written: what is stored and listed, so it round-trips exactly.
    pub spec: RuleSpec,
    pub query: Query,
    /// Whole seconds, 1 s to [`MAX_WINDOW`].
    pub window: Duration,
    /// What it fires on: a count condition, or `new_pattern`.
    pub kind: RuleKind,
    /// 0 to [`MAX_FOR`].
    pub for_: Duration,
    /// In the order written, each field at most once.
    pub group_by: Vec<GroupField>,
    /// Parsed once here, so a typo is reported before the rule is saved.
    pub annotations: Vec<(String, Template)>,
}

impl ValidRule {
    /// The window in whole seconds (validation guarantees it is whole and ≥ 1).
    pub fn window_secs(&self) -> i64 {
        self.window.as_secs() as i64
    }
}

/// Prometheus label names: `[a-zA-Z_][a-zA-Z0-9_]*` (Alertmanager rejects others).
pub fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Rule names become the `alertname` label and part of URLs: keep them plain.
fn check_name(name: &str) -> Result<(), RuleError> {
    if name.is_empty() {
        return Err(RuleError::new("name", "a rule needs a name"));
    }
    if name.chars().count() > 128 {
        return Err(RuleError::new("name", "name is longer than 128 characters").at(128, 0));
    }
    if let Some((col, c)) = name
        .chars()
        .enumerate()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')))
    {
        return Err(RuleError::new(
            "name",
            format!("invalid character {c:?} in name: use letters, digits, `_`, `-`, `.` or `:`"),
        )
        .at(col, 1));
    }
    Ok(())
}

fn duration_field(
    field: &str,
    text: &str,
    min: Duration,
    max: Duration,
) -> Result<Duration, RuleError> {
    let lead = text.len() - text.trim_start().len();
    let d = parse_duration(text)
        .map_err(|e| RuleError::new(field, e.reason.clone()).at(lead + e.position, 1))?;
    if d < min || d > max {
        return Err(RuleError::new(
            field,
            format!(
                "{text:?} is out of range: {field} must be between {} and {}",
                format_duration(min),
                format_duration(max)
            ),
        ));
    }
    Ok(d)
}

/// Validates every field of `spec` and parses it.
///
/// Fields are checked in the order users read them (name, query, window, condition,
/// for, group_by, severity, labels, annotations), so the first error reported is the
/// topmost one.
pub fn validate(spec: &RuleSpec) -> Result<ValidRule, RuleError> {
    check_name(&spec.name)?;
    if spec.query.len() > MAX_QUERY_BYTES {
        return Err(RuleError::new(
            "query",
            format!(
                "query is {} bytes long: at most {MAX_QUERY_BYTES}",
                spec.query.len()
            ),
        ));
    }
    let query = query::parse(&spec.query).map_err(|e| RuleError {
        field: "query".into(),
        message: e.message,
        position: Some(e.position),
    })?;
    let window = duration_field("window", &spec.window, Duration::from_secs(1), MAX_WINDOW)?;
    if window.subsec_nanos() != 0 {
        return Err(RuleError::new(
            "window",
            "window must be a whole number of seconds (counts are kept per second)",
        ));
    }
    let kind = RuleKind::parse(&spec.condition)?;
    let for_ = duration_field("for", &spec.for_, Duration::ZERO, MAX_FOR)?;
    let group_by = group_by(&spec.group_by)?;
    if kind == RuleKind::NewPattern {
        if let Some(g) = group_by.iter().find(|g| g.label() == "pattern") {
            return Err(RuleError::new(
                "group_by",
                format!(
                    "group_by {:?}: a new_pattern rule is already one instance per pattern",
                    g.label()
                ),
            ));
        }
    }
    if spec.severity.trim().is_empty() {
        return Err(RuleError::new(
            "severity",
            "severity must not be empty (e.g. warning, critical)",
        ));
    }
    check_labels(&spec.labels, &group_by, kind)?;
    let annotations = annotations(&spec.annotations, kind)?;
    Ok(ValidRule {
        spec: spec.clone(),
        query,
        window,
        kind,
        for_,
        group_by,
        annotations,
    })
}

/// Checks a whole rule set (a rules file): every rule valid, names unique. The
/// error says which rule (0-based index) failed.
pub fn validate_all(specs: &[RuleSpec]) -> Result<Vec<ValidRule>, (usize, RuleError)> {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut out = Vec::with_capacity(specs.len());
    for (i, s) in specs.iter().enumerate() {
        if let Some(first) = seen.insert(&s.name, i) {
            return Err((
                i,
                RuleError::new(
                    "name",
                    format!(
                        "duplicate rule name {:?} (rules #{} and #{})",
                        s.name,
                        first + 1,
                        i + 1
                    ),
                ),
            ));
        }
        out.push(validate(s).map_err(|e| (i, e))?);
    }
    Ok(out)
}

fn group_by(fields: &[String]) -> Result<Vec<GroupField>, RuleError> {
    let mut out = Vec::new();
    for (i, g) in fields.iter().enumerate() {
        let Some(f) = GroupField::parse(g) else {
            return Err(RuleError::new(
                "group_by",
                format!(
                    "group_by[{i}]: {g:?} is not a field name: use namespace, pod, workload, \
                     container, node, or an extracted field like status or http.request.method"
                ),
            ));
        };
        if out.iter().any(|o: &GroupField| o.label() == f.label()) {
            return Err(RuleError::new(
                "group_by",
                format!("group_by[{i}]: {g:?} is listed twice"),
            ));
        }
        out.push(f);
    }
    Ok(out)
}

/// The labels a `new_pattern` instance carries of its own: its pattern, and the
/// workload whose miner found it new (ids are per-workload novelties).
pub const NEW_PATTERN_LABELS: [&str; 3] = ["pattern", "namespace", "workload"];

fn check_labels(
    labels: &BTreeMap<String, String>,
    group_by: &[GroupField],
    kind: RuleKind,
) -> Result<(), RuleError> {
    for (k, v) in labels {
        let field = format!("labels.{k}");
        if !is_label_name(k) {
            return Err(RuleError::new(
                field,
                format!("invalid label name {k:?}: use [a-zA-Z_][a-zA-Z0-9_]*"),
            ));
        }
        if k == "alertname" || k == "severity" {
            return Err(RuleError::new(
                field,
                format!("label {k:?} is set by the rule itself (its name and `severity` field)"),
            ));
        }
        if kind == RuleKind::NewPattern && NEW_PATTERN_LABELS.contains(&k.as_str()) {
            return Err(RuleError::new(
                field,
                format!("label {k:?} is set by a {NEW_PATTERN} rule on each instance"),
            ));
        }
        if let Some(g) = group_by.iter().find(|g| g.label() == k.as_str()) {
            return Err(RuleError::new(
                field,
                format!("label {k:?} clashes with group_by {:?}", g.label()),
            ));
        }
        if v.is_empty() {
            return Err(RuleError::new(field, "label values must not be empty"));
        }
    }
    Ok(())
}

fn annotations(
    annotations: &BTreeMap<String, String>,
    kind: RuleKind,
) -> Result<Vec<(String, Template)>, RuleError> {
    let mut out = Vec::new();
    for (k, v) in annotations {
        let field = format!("annotations.{k}");
        if !is_label_name(k) {
            return Err(RuleError::new(
                field,
                format!("invalid annotation name {k:?}: use [a-zA-Z_][a-zA-Z0-9_]*"),
            ));
        }
        let t = Template::parse(v).map_err(|e| RuleError {
            field: field.clone(),
            message: e.message,
            position: Some(e.position),
        })?;
        if let (RuleKind::Count(_), Some(what)) = (kind, t.uses_pattern()) {
            return Err(RuleError::new(
                field,
                format!("{{{{ {what} }}}} is only set by `condition: {NEW_PATTERN}` rules"),
            ));
        }
        out.push((k.clone(), t));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_name_the_field() {
        let e = RuleError::from_serde_message(
            "rules[0]: unknown field `bogus`, expected one of `name`, `query`",
        );
        assert_eq!(e.field, "bogus");
    }

    #[test]
    fn serde_messages_never_quote_values() {
        let e = RuleError::from_serde_message(
            "invalid type: string \"root:$6$secret:19000\", expected a rule at line 1 column 1",
        );
        assert!(!e.message.contains("secret"), "{}", e.message);
        assert_eq!(
            e.message,
            "invalid type: string, expected a rule at line 1 column 1"
        );
    }
}
