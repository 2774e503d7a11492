//! The Alerts screen's state: rules with live state, and the rule editor form.

use std::collections::BTreeMap;

use lookout_shared::protocol::{
    Alert, AlertState, ErrorBody, RuleSpec, RuleStatus, RuleTestResult,
};
use lookout_shared::Timestamp;

use super::input::TextInput;

/// The editor's fields, in Tab order.
pub const FIELDS: &[(&str, &str)] = &[
    ("name", "a unique name, e.g. PaymentsFailing"),
    (
        "query",
        "the query language, e.g. namespace:payments AND \"card declined\"",
    ),
    ("window", "count matches over, e.g. 5m"),
    ("condition", "> N, >= N, < N, <= N, == N or != N"),
    ("for", "how long it must hold before firing, e.g. 0s, 2m"),
    (
        "group by",
        "comma-separated: namespace, pod, container, node",
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
    pub validate_req: Option<u64>,
    pub test_req: Option<u64>,
    pub save_req: Option<u64>,
    /// `Some(None)`: the daemon said valid; `Some(Some(e))`: its error.
    pub validation: Option<Option<ErrorBody>>,
    /// A problem found before asking the daemon (e.g. a label without `=`).
    pub local_error: Option<(usize, String)>,
    pub preview: Option<RuleTestResult>,
    pub enabled: bool,
}

fn join_map(m: &BTreeMap<String, String>, sep: &str) -> String {
    m.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(sep)
}

fn split_map(
    s: &str,
    sep: char,
    field: usize,
) -> Result<BTreeMap<String, String>, (usize, String)> {
    let mut m = BTreeMap::new();
    for part in s.split(sep) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let Some((k, v)) = part.split_once('=') else {
            return Err((field, format!("expected key=value, got {part:?}")));
        };
        let k = k.trim();
        if k.is_empty() {
            return Err((field, format!("empty key in {part:?}")));
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

    /// The rule as typed, or the first field that cannot even be sent.
    pub fn spec(&self) -> Result<RuleSpec, (usize, String)> {
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

    /// The field a daemon error names, if it maps to one.
    pub fn field_index(name: &str) -> Option<usize> {
        let name = name.replace('_', " ");
        let name = if name == "for " {
            "for".to_string()
        } else {
            name
        };
        FIELDS.iter().position(|(f, _)| *f == name)
    }

    /// The error to show under field `i`.
    pub fn error_for(&self, i: usize) -> Option<String> {
        if let Some((f, m)) = &self.local_error {
            if *f == i {
                return Some(m.clone());
            }
        }
        match &self.validation {
            Some(Some(e)) => {
                let f = e
                    .field
                    .as_deref()
                    .and_then(Editor::field_index)
                    .unwrap_or(0);
                (f == i).then(|| e.message.clone())
            }
            _ => None,
        }
    }

    pub fn cycle_severity(&mut self, d: isize) {
        let cur = SEVERITIES
            .iter()
            .position(|s| *s == self.text(6))
            .unwrap_or(1) as isize;
        let n = SEVERITIES.len() as isize;
        let next = ((cur + d) % n + n) % n;
        if let Some(f) = self.fields.get_mut(6) {
            f.set(SEVERITIES[next as usize]);
        }
    }
}

/// The rules list and what is open over it.
#[derive(Debug, Default)]
pub struct Alerts {
    pub rules: Vec<RuleStatus>,
    pub selected: usize,
    /// Live alert instances from the watch.
    pub alerts: Vec<Alert>,
    pub alerts_known: bool,
    pub editor: Option<Editor>,
    /// Rule name awaiting `y` to delete.
    pub confirm_delete: Option<String>,
    pub list_req: Option<u64>,
    /// A list refresh is wanted once the running one answers.
    pub list_again: bool,
    /// Requests whose `ok` should refresh the list (enable, delete).
    pub pending_changes: Vec<u64>,
}

impl Alerts {
    pub fn selected_rule(&self) -> Option<&RuleStatus> {
        self.rules.get(self.selected)
    }

    pub fn set_rules(&mut self, mut rules: Vec<RuleStatus>) {
        let keep = self.selected_rule().map(|r| r.rule.name.clone());
        rules.sort_by(|a, b| {
            state_rank(b)
                .cmp(&state_rank(a))
                .then_with(|| a.rule.name.cmp(&b.rule.name))
        });
        self.rules = rules;
        self.selected = keep
            .and_then(|n| self.rules.iter().position(|r| r.rule.name == n))
            .unwrap_or(0)
            .min(self.rules.len().saturating_sub(1));
    }

    /// Merges alert instances pushed by the watch (replacing by rule and labels).
    pub fn merge_alerts(&mut self, alerts: Vec<Alert>, full: bool) {
        if full {
            self.alerts = alerts;
        } else {
            for a in alerts {
                match self
                    .alerts
                    .iter_mut()
                    .find(|x| x.rule == a.rule && x.labels == a.labels)
                {
                    Some(x) => *x = a,
                    None => self.alerts.push(a),
                }
            }
        }
        self.alerts
            .retain(|a| matches!(a.state, AlertState::Pending | AlertState::Firing));
        self.alerts_known = true;
    }

    /// Firing instances: from the live alert list when we have it.
    pub fn firing(&self) -> Option<usize> {
        self.alerts_known.then(|| {
            self.alerts
                .iter()
                .filter(|a| a.state == AlertState::Firing)
                .count()
        })
    }

    pub fn move_by(&mut self, d: isize) {
        if self.rules.is_empty() {
            return;
        }
        let max = self.rules.len() as isize - 1;
        self.selected = (self.selected as isize + d).clamp(0, max) as usize;
    }
}

fn state_rank(r: &RuleStatus) -> u8 {
    if !r.rule.enabled {
        return 0;
    }
    match r.state {
        AlertState::Firing => 3,
        AlertState::Pending => 2,
        _ => 1,
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
        assert_eq!(e.spec().unwrap_err().0, 7);
        e.validation = Some(Some(ErrorBody {
            code: lookout_shared::protocol::ErrorCode::BadRule,
            message: "bad window".into(),
            position: None,
            field: Some("window".into()),
        }));
        assert_eq!(e.error_for(2).as_deref(), Some("bad window"));
        assert_eq!(Editor::field_index("for"), Some(4));
        assert_eq!(Editor::field_index("group_by"), Some(5));
        e.cycle_severity(1);
        assert_eq!(e.fields[6].text, "critical");
        e.cycle_severity(1);
        assert_eq!(e.fields[6].text, "info");
    }
}
