//! Rule validation: from the user's [`RuleSpec`] (strings, as written) to a
//! [`CompiledRule`] the evaluator can run, or a [`RuleError`] naming the field at
//! fault (and the column, for queries, conditions, durations and templates).
//!
//! Everything is checked before anything is saved, so a rule that is stored is a
//! rule that runs.

use std::collections::BTreeMap;
use std::time::Duration;

use lookout_shared::duration::parse_duration;
use lookout_shared::protocol::{ErrorBody, ErrorCode, Position, RuleSpec};
use lookout_shared::query::Query;
use lookout_shared::LogEntry;

use super::template::Template;

/// Longest window: the evaluator keeps per-second counts for a window, so this
/// bounds its memory per group (and 24 h is the longest preview too).
pub const MAX_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// Longest `for`.
pub const MAX_FOR: Duration = Duration::from_secs(7 * 24 * 3600);

/// A rule failed validation: which field, why, and where in that field's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RuleError {
    /// `name`, `query`, `window`, `condition`, `for`, `group_by`, `severity`,
    /// `labels.KEY`, `annotations.KEY`, or an unknown field's own name.
    pub field: String,
    pub message: String,
    pub position: Option<Position>,
}

impl RuleError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> RuleError {
        RuleError {
            field: field.into(),
            message: message.into(),
            position: None,
        }
    }

    fn at(mut self, column: usize, length: usize) -> RuleError {
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
    pub fn from_serde_message(message: &str) -> RuleError {
        for marker in ["unknown field `", "missing field `", "duplicate field `"] {
            if let Some(i) = message.find(marker) {
                let rest = &message[i + marker.len()..];
                if let Some(end) = rest.find('`') {
                    return RuleError::new(&rest[..end], message.to_string());
                }
            }
        }
        RuleError::new("rule", message.to_string())
    }
}

/// Comparison in a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
    Ne,
}

/// `> N` and friends, on the count of matches in the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Condition {
    pub op: CmpOp,
    pub threshold: u64,
}

impl Condition {
    /// Parses `> 5`, `>=5`, `< 1`, `== 0`, `!= 0`, `<= 3`.
    pub fn parse(text: &str) -> Result<Condition, RuleError> {
        let err = |m: &str, col: usize, len: usize| RuleError::new("condition", m).at(col, len);
        let lead = text.len() - text.trim_start().len();
        let s = text.trim();
        let ops = [
            (">=", CmpOp::Ge),
            ("<=", CmpOp::Le),
            ("==", CmpOp::Eq),
            ("!=", CmpOp::Ne),
            (">", CmpOp::Gt),
            ("<", CmpOp::Lt),
        ];
        let Some((sym, op)) = ops.iter().find(|(sym, _)| s.starts_with(sym)) else {
            return Err(err(
                "expected a comparison: `> N`, `>= N`, `< N`, `<= N`, `== N` or `!= N`",
                lead,
                s.chars().next().map_or(0, |_| 1),
            ));
        };
        let after = &s[sym.len()..];
        let num_col = lead + sym.len() + (after.len() - after.trim_start().len());
        let num = after.trim();
        if num.is_empty() {
            return Err(err("expected a number after the comparison", num_col, 0));
        }
        let threshold: u64 = num.parse().map_err(|_| {
            err(
                "expected a whole, non-negative number of matching lines",
                num_col,
                num.chars().count(),
            )
        })?;
        Ok(Condition { op: *op, threshold })
    }

    /// Whether `count` satisfies the condition.
    pub fn holds(&self, count: u64) -> bool {
        let n = self.threshold;
        match self.op {
            CmpOp::Gt => count > n,
            CmpOp::Ge => count >= n,
            CmpOp::Lt => count < n,
            CmpOp::Le => count <= n,
            CmpOp::Eq => count == n,
            CmpOp::Ne => count != n,
        }
    }

    /// True when zero matches satisfy it (`< N`, `== 0`): a "went silent" rule,
    /// which must be evaluated even for groups that sent nothing lately.
    pub fn fires_on_silence(&self) -> bool {
        self.holds(0)
    }
}

/// What an alert instance can be grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GroupField {
    Namespace,
    Pod,
    Container,
    Node,
}

impl GroupField {
    pub fn parse(s: &str) -> Option<GroupField> {
        Some(match s {
            "namespace" => GroupField::Namespace,
            "pod" => GroupField::Pod,
            "container" => GroupField::Container,
            "node" => GroupField::Node,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            GroupField::Namespace => "namespace",
            GroupField::Pod => "pod",
            GroupField::Container => "container",
            GroupField::Node => "node",
        }
    }

    /// The entry's value for this field.
    pub fn value(self, e: &LogEntry) -> &str {
        match self {
            GroupField::Namespace => &e.namespace,
            GroupField::Pod => &e.pod,
            GroupField::Container => &e.container,
            GroupField::Node => &e.node,
        }
    }
}

/// A validated rule, ready to run.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    pub spec: RuleSpec,
    pub query: Query,
    pub window: Duration,
    pub condition: Condition,
    pub for_: Duration,
    pub group_by: Vec<GroupField>,
    pub annotations: Vec<(String, Template)>,
}

impl CompiledRule {
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
                lookout_shared::duration::format_duration(min),
                lookout_shared::duration::format_duration(max)
            ),
        ));
    }
    Ok(d)
}

/// Validates every field of `spec` and compiles it.
pub fn compile(spec: &RuleSpec) -> Result<CompiledRule, RuleError> {
    check_name(&spec.name)?;
    let query = Query::parse(&spec.query).map_err(|e| RuleError {
        field: "query".into(),
        message: e.message.clone(),
        position: Some(e.position),
    })?;
    let window = duration_field("window", &spec.window, Duration::from_secs(1), MAX_WINDOW)?;
    if window.subsec_nanos() != 0 {
        return Err(RuleError::new(
            "window",
            "window must be a whole number of seconds (counts are kept per second)",
        ));
    }
    let condition = Condition::parse(&spec.condition)?;
    let for_ = duration_field("for", &spec.for_, Duration::ZERO, MAX_FOR)?;
    let mut group_by = Vec::new();
    for (i, g) in spec.group_by.iter().enumerate() {
        let Some(f) = GroupField::parse(g) else {
            return Err(RuleError::new(
                "group_by",
                format!(
                    "group_by[{i}]: unknown field {g:?}: use namespace, pod, container or node"
                ),
            ));
        };
        if group_by.contains(&f) {
            return Err(RuleError::new(
                "group_by",
                format!("group_by[{i}]: {g:?} is listed twice"),
            ));
        }
        group_by.push(f);
    }
    if spec.severity.trim().is_empty() {
        return Err(RuleError::new(
            "severity",
            "severity must not be empty (e.g. warning, critical)",
        ));
    }
    for (k, v) in &spec.labels {
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
        if let Some(g) = group_by.iter().find(|g| g.name() == k) {
            return Err(RuleError::new(
                field,
                format!("label {k:?} clashes with group_by {:?}", g.name()),
            ));
        }
        if v.is_empty() {
            return Err(RuleError::new(field, "label values must not be empty"));
        }
    }
    let mut annotations = Vec::new();
    for (k, v) in &spec.annotations {
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
        annotations.push((k.clone(), t));
    }
    Ok(CompiledRule {
        spec: spec.clone(),
        query,
        window,
        condition,
        for_,
        group_by,
        annotations,
    })
}

/// Checks a whole rule set (a rules file): every rule valid, names unique.
pub fn compile_all(specs: &[RuleSpec]) -> Result<Vec<CompiledRule>, (usize, RuleError)> {
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
        out.push(compile(s).map_err(|e| (i, e))?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_parse_and_hold() {
        let c = Condition::parse(" >= 3").unwrap();
        assert_eq!(c.op, CmpOp::Ge);
        assert!(c.holds(3) && !c.holds(2));
        assert!(Condition::parse("== 0").unwrap().fires_on_silence());
        assert!(!Condition::parse(">0").unwrap().fires_on_silence());
        let e = Condition::parse("> x").unwrap_err();
        assert_eq!(e.position.unwrap().column, 2);
        let e = Condition::parse("=> 3").unwrap_err();
        assert_eq!(e.position.unwrap().column, 0);
        assert!(Condition::parse("> -1").is_err());
        assert!(Condition::parse(">").is_err());
    }

    #[test]
    fn serde_messages_name_the_field() {
        let e = RuleError::from_serde_message(
            "rules[0]: unknown field `bogus`, expected one of `name`, `query`",
        );
        assert_eq!(e.field, "bogus");
    }
}
