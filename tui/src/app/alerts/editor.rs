//! The rule editor: the form's fields, turning them into a rule, validation as
//! you type (the shared validator, the daemon's own code) and with the daemon plus
//! a preview as typing pauses, and its keys (the editing keys come from
//! [`crate::app::input::KEYS`]).

use std::collections::BTreeMap;

use lookout_shared::protocol::{ClientMsg, ErrorBody, ReqId, RuleSpec, RuleTestResult, TimeRange};
use lookout_shared::Timestamp;

use super::field_error::FieldError;
use super::{Alerts, Question};
use crate::app::input::TextInput;
use crate::app::{Effect, Outbox};
use crate::keys::{bind, Binding, Key, BACKTAB, DOWN, ENTER, ESC, LEFT, RIGHT, TAB, UP};

/// The editor's own keys; `Alerts::on_editor_key` handles these and types
/// everything else into the focused field.
pub const KEYS: &[Binding] = &[
    bind(&[TAB, DOWN, ENTER], "next field", true),
    bind(&[BACKTAB, UP], "previous field", true),
    bind(&[Key::Ctrl('s')], "save", true),
    bind(&[ESC], "close (asks if changed)", true),
    bind(&[LEFT, RIGHT], "change severity (on its field)", false),
];

/// The severity field's index in [`FIELDS`].
const SEVERITY: usize = 6;
/// How long typing must pause before the daemon is asked (ns).
const DEBOUNCE_NS: i64 = 400_000_000;
/// The preview's range: how often the rule would have fired over the last day.
const PREVIEW_SINCE: &str = "24h";

/// The editor's fields, in Tab order.
pub const FIELDS: &[(&str, &str)] = &[
    ("name", "a unique name, e.g. PaymentsFailing"),
    (
        "query",
        "the query language, e.g. namespace:payments AND \"card declined\"",
    ),
    ("window", "count matches over, e.g. 5m"),
    (
        "condition",
        "> N, >= N, < N, <= N, == N, != N, or new_pattern",
    ),
    ("for", "how long it must hold before firing, e.g. 0s, 2m"),
    (
        "group by",
        "comma-separated: namespace, pod, workload, container, node, or a field",
    ),
    ("severity", "info, warning or critical (←/→)"),
    ("labels", "k=v, comma-separated"),
    (
        "annotations",
        "k=v, semicolon-separated (summary=…; description=…)",
    ),
];

pub const SEVERITIES: &[&str] = &["info", "warning", "critical"];

/// The rule form.
#[derive(Debug, Clone)]
pub struct Editor {
    /// The name of the rule being edited; `None` for a new one.
    pub original: Option<String>,
    pub fields: Vec<TextInput>,
    pub focus: usize,
    /// Last edit time; validation runs once typing pauses.
    pub dirty_at: Option<Timestamp>,
    pub validate_req: Option<ReqId>,
    pub test_req: Option<ReqId>,
    pub save_req: Option<ReqId>,
    /// `Some(None)`: the daemon said valid; `Some(Some(e))`: its error.
    pub validation: Option<Option<ErrorBody>>,
    /// What the local check found as of the last edit (a label without `=`, or
    /// anything `lookout_shared::rules::validate` refuses), shown at once.
    pub local_error: Option<FieldError>,
    /// The fields as opened, to tell whether leaving loses anything.
    initial: Vec<String>,
    initial_enabled: bool,
    pub preview: Option<RuleTestResult>,
    pub enabled: bool,
}

fn join_map(m: &BTreeMap<String, String>, sep: &str) -> String {
    m.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(sep)
}

fn split_map(s: &str, sep: char, field: usize) -> Result<BTreeMap<String, String>, FieldError> {
    let mut m = BTreeMap::new();
    for part in s.split(sep) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let Some((k, v)) = part.split_once('=') else {
            return Err(FieldError::on(
                field,
                format!("expected key=value, got {part:?}"),
            ));
        };
        let k = k.trim();
        if k.is_empty() {
            return Err(FieldError::on(field, format!("empty key in {part:?}")));
        }
        m.insert(k.to_string(), v.trim().to_string());
    }
    Ok(m)
}

impl Editor {
    pub fn new_rule() -> Editor {
        Editor::from_spec(
            None,
            &RuleSpec {
                window: "5m".into(),
                condition: "> 0".into(),
                for_: "0s".into(),
                severity: "warning".into(),
                enabled: true,
                ..Default::default()
            },
        )
    }

    pub fn from_spec(original: Option<String>, r: &RuleSpec) -> Editor {
        let vals = [
            r.name.clone(),
            r.query.clone(),
            r.window.clone(),
            r.condition.clone(),
            r.for_.clone(),
            r.group_by.join(", "),
            r.severity.clone(),
            join_map(&r.labels, ", "),
            join_map(&r.annotations, "; "),
        ];
        Editor {
            original,
            initial: vals.to_vec(),
            initial_enabled: r.enabled,
            fields: vals.into_iter().map(TextInput::new).collect(),
            focus: 0,
            dirty_at: None,
            validate_req: None,
            test_req: None,
            save_req: None,
            validation: None,
            local_error: None,
            preview: None,
            enabled: r.enabled,
        }
    }

    fn text(&self, i: usize) -> &str {
        self.fields.get(i).map(|f| f.text.trim()).unwrap_or("")
    }

    /// Whether anything differs from the rule as opened.
    pub fn is_edited(&self) -> bool {
        self.enabled != self.initial_enabled
            || self.fields.iter().map(|f| &f.text).ne(self.initial.iter())
    }

    /// The fields' texts as typed, for placing errors.
    fn texts(&self) -> Vec<&str> {
        self.fields.iter().map(|f| f.text.as_str()).collect()
    }

    /// Checks the form with the shared validator, the code the daemon runs: the
    /// error shows under its field as the user types, not a debounce later.
    pub fn check_locally(&mut self) {
        self.local_error = match self.spec() {
            Err(e) => Some(e),
            Ok(rule) => lookout_shared::rules::validate(&rule)
                .err()
                .map(|e| FieldError::place(Some(&e.field), &e.message, e.position, &self.texts())),
        };
    }

    /// The rule as typed, or the first field that cannot even be sent.
    pub fn spec(&self) -> Result<RuleSpec, FieldError> {
        Ok(RuleSpec {
            name: self.text(0).to_string(),
            query: self.text(1).to_string(),
            window: self.text(2).to_string(),
            condition: self.text(3).to_string(),
            for_: if self.text(4).is_empty() {
                "0s".into()
            } else {
                self.text(4).to_string()
            },
            group_by: self
                .text(5)
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            severity: self.text(6).to_string(),
            labels: split_map(self.text(7), ',', 7)?,
            annotations: split_map(self.text(8), ';', 8)?,
            enabled: self.enabled,
        })
    }

    /// The error to show: the local check's first, else the daemon's.
    pub fn error(&self) -> Option<FieldError> {
        if let Some(e) = &self.local_error {
            return Some(e.clone());
        }
        match &self.validation {
            Some(Some(e)) => Some(FieldError::of_body(e, &self.texts())),
            _ => None,
        }
    }

    /// The error to show under field `i`.
    pub fn error_for(&self, i: usize) -> Option<FieldError> {
        self.error().filter(|e| e.field == Some(i))
    }

    pub fn cycle_severity(&mut self, d: isize) {
        let cur = SEVERITIES
            .iter()
            .position(|s| *s == self.text(SEVERITY))
            .unwrap_or(1) as isize;
        let n = SEVERITIES.len() as isize;
        let next = ((cur + d) % n + n) % n;
        if let Some(f) = self.fields.get_mut(SEVERITY) {
            f.set(SEVERITIES[next as usize]);
        }
    }
}

impl Editor {
    /// After a change: the local check at once, the daemon once typing pauses
    /// (an answer to an older text would be stale).
    fn edited(&mut self, now: Timestamp) {
        self.check_locally();
        self.validation = None;
        self.dirty_at = Some(now);
    }

    /// Whether typing paused long enough to ask the daemon.
    fn due(&self, now: Timestamp) -> bool {
        self.dirty_at
            .is_some_and(|at| now.nanos().saturating_sub(at.nanos()) >= DEBOUNCE_NS)
    }

    /// Asks the daemon to validate the form and preview it; a form that cannot even
    /// be sent shows its local error instead.
    fn validate(&mut self, out: &mut Outbox) {
        self.dirty_at = None;
        self.check_locally();
        if self.local_error.is_some() || !out.online() {
            // The daemon runs the same validator: asking would only repeat it.
            // Offline, the local check is all there is until the reconnect.
            return;
        }
        match self.spec() {
            Err(e) => self.local_error = Some(e),
            Ok(rule) => {
                let r = rule.clone();
                self.validate_req = Some(out.send(|id| ClientMsg::ValidateRule { id, rule: r }));
                self.test_req = Some(out.send(|id| ClientMsg::TestRule {
                    id,
                    rule,
                    range: TimeRange {
                        since: Some(PREVIEW_SINCE.into()),
                        ..Default::default()
                    },
                }));
            }
        }
    }
}

impl Alerts {
    /// The editor's handler.
    pub(crate) fn on_editor_key(&mut self, k: Key, now: Timestamp, out: &mut Outbox) -> Effect {
        let Some(ed) = &mut self.editor else {
            return Effect::Pass;
        };
        let n = FIELDS.len();
        match k {
            ESC if ed.is_edited() => self.confirm = Some(Question::Discard { then_quit: false }),
            ESC => self.editor = None,
            Key::Ctrl('s') if !out.online() => {
                return Effect::Say(
                    "not connected: the form is kept; Ctrl-s saves once the daemon is back".into(),
                )
            }
            Key::Ctrl('s') => {
                ed.check_locally();
                if ed.local_error.is_none() {
                    if let Ok(rule) = ed.spec() {
                        ed.save_req = Some(out.send(|id| ClientMsg::PutRule { id, rule }));
                    }
                }
            }
            TAB | DOWN | ENTER => ed.focus = (ed.focus + 1) % n,
            BACKTAB | UP => ed.focus = (ed.focus + n - 1) % n,
            LEFT | RIGHT if ed.focus == SEVERITY => {
                ed.cycle_severity(if k == LEFT { -1 } else { 1 });
                ed.edited(now);
            }
            _ => {
                if let Some(f) = ed.fields.get_mut(ed.focus) {
                    if f.edit(k) {
                        ed.edited(now);
                    }
                }
            }
        }
        Effect::Done
    }

    /// Validates the form once typing has paused.
    pub fn on_tick(&mut self, now: Timestamp, out: &mut Outbox) {
        if let Some(ed) = &mut self.editor {
            if ed.due(now) {
                ed.validate(out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editor_round_trips_a_rule() {
        let mut r = RuleSpec {
            name: "PaymentsFailing".into(),
            query: "namespace:payments".into(),
            window: "1m".into(),
            condition: "> 3".into(),
            for_: "0s".into(),
            group_by: vec!["pod".into(), "container".into()],
            severity: "critical".into(),
            enabled: true,
            ..Default::default()
        };
        r.labels.insert("team".into(), "payments".into());
        r.annotations
            .insert("summary".into(), "card declines, many".into());
        let e = Editor::from_spec(Some(r.name.clone()), &r);
        assert_eq!(e.fields[8].text, "summary=card declines, many");
        assert_eq!(e.spec().unwrap(), r);
    }

    #[test]
    fn bad_labels_are_caught_locally_and_errors_land_on_fields() {
        let mut e = Editor::new_rule();
        e.fields[7].set("team");
        assert_eq!(e.spec().unwrap_err().field, Some(7));
        e.fields[7].set("");
        e.validation = Some(Some(ErrorBody {
            code: lookout_shared::protocol::ErrorCode::BadRule,
            message: "bad window".into(),
            position: None,
            field: Some("window".into()),
        }));
        assert_eq!(e.error_for(2).unwrap().message, "bad window");
        e.cycle_severity(1);
        assert_eq!(e.fields[6].text, "critical");
        e.cycle_severity(1);
        assert_eq!(e.fields[6].text, "info");
    }
}
