//! The Alerts screen: the rules with their live state, and what opens over the
//! list.
//!
//! - [`list`]: the rules list's keys and handler.
//! - [`editor`]: the rule form: state, validation as you type and with the daemon,
//!   keys, handler; [`field_error`] places an error on its field.
//! - [`confirm`]: the questions before a delete or a discard, keys and handler.
//!
//! Replies for this screen are the alerts watch, rule lists, rule tests, `ok`s for
//! its changes and errors for its requests.

pub mod confirm;
pub mod editor;
pub mod field_error;
pub mod list;

pub use confirm::Question;
pub use editor::{Editor, FIELDS, SEVERITIES};

use lookout_shared::protocol::{
    Alert, AlertState, ClientMsg, ErrorBody, ReqId, RuleStatus, RuleTestResult,
};

use lookout_shared::Timestamp;

use super::{Effect, Outbox};

/// The rules list and what is open over it.
#[derive(Debug, Default)]
pub struct Alerts {
    pub rules: Vec<RuleStatus>,
    pub selected: usize,
    /// Live alert instances from the watch.
    pub alerts: Vec<Alert>,
    pub alerts_known: bool,
    pub editor: Option<Editor>,
    /// A question awaiting `y` (delete a rule, discard an edit).
    pub confirm: Option<Question>,
    pub list_req: Option<ReqId>,
    /// A list refresh is wanted once the running one answers.
    pub list_again: bool,
    /// Requests whose `ok` should refresh the list (enable, delete).
    pub pending_changes: Vec<ReqId>,
    /// The alerts watch's id, once opened.
    watch: Option<ReqId>,
}

impl Alerts {
    pub fn selected_rule(&self) -> Option<&RuleStatus> {
        self.rules.get(self.selected)
    }

    /// Replaces the list, keeping the cursor on the same rule; when that rule is
    /// gone (deleted), on its neighbour below, else above, so a second `d` never
    /// lands on a rule far from the first.
    pub fn set_rules(&mut self, mut rules: Vec<RuleStatus>) {
        let name_at = |i: Option<usize>| {
            i.and_then(|i| self.rules.get(i))
                .map(|r| r.rule.name.clone())
        };
        let wanted = [
            name_at(Some(self.selected)),
            name_at(self.selected.checked_add(1)),
            name_at(self.selected.checked_sub(1)),
        ];
        rules.sort_by(|a, b| {
            state_rank(b)
                .cmp(&state_rank(a))
                .then_with(|| a.rule.name.cmp(&b.rule.name))
        });
        self.rules = rules;
        self.selected = wanted
            .iter()
            .flatten()
            .find_map(|n| self.rules.iter().position(|r| &r.rule.name == n))
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
    /// Opens the alerts watch on the first connection (the connection task re-opens
    /// it after a reconnect).
    pub fn open_watch(&mut self, out: &mut Outbox) {
        if self.watch.is_none() {
            self.watch = Some(out.send(|id| ClientMsg::Alerts { id, watch: true }));
        }
    }

    /// Reloads the rule list, or queues one reload behind the one in flight
    /// (offline: nothing; the list reloads on reconnect).
    pub fn refresh_rules(&mut self, out: &mut Outbox) {
        if !out.online() {
            return;
        }
        if self.list_req.is_some() {
            self.list_again = true;
            return;
        }
        self.list_req = Some(out.send(|id| ClientMsg::ListRules { id }));
    }

    /// The connection dropped: the re-opened watch starts with the full list again,
    /// and replies to requests in flight will never come.
    pub fn on_disconnect(&mut self) {
        self.alerts_known = false;
        self.list_req = None;
        self.list_again = false;
        self.pending_changes.clear();
        if let Some(ed) = &mut self.editor {
            ed.validate_req = None;
            ed.test_req = None;
            ed.save_req = None;
        }
    }

    /// Connected (again): the list reloads and an open form is checked anew (its
    /// last answer, if any, came from before the gap).
    pub fn on_connected(&mut self, now: Timestamp, out: &mut Outbox) {
        self.refresh_rules(out);
        if let Some(ed) = &mut self.editor {
            ed.validation = None;
            ed.dirty_at = Some(now);
        }
    }

    // ---- replies ------------------------------------------------------------------

    /// Alert instances from the watch; a change of state is a reason to reload rules.
    pub fn on_alerts(&mut self, id: ReqId, alerts: Vec<Alert>, out: &mut Outbox) {
        if Some(id) == self.watch {
            let full = !self.alerts_known;
            self.merge_alerts(alerts, full);
            self.refresh_rules(out);
        }
    }

    pub fn on_rules(&mut self, id: ReqId, rules: Vec<RuleStatus>, out: &mut Outbox) {
        if Some(id) == self.list_req {
            self.list_req = None;
            self.set_rules(rules);
            if std::mem::take(&mut self.list_again) {
                self.refresh_rules(out);
            }
        }
    }

    pub fn on_rule_test(&mut self, id: ReqId, result: RuleTestResult) {
        if let Some(ed) = &mut self.editor {
            if ed.test_req == Some(id) {
                ed.test_req = None;
                ed.preview = Some(result);
            }
        }
    }

    /// `ok` (or the saved rule) for a validation, a save, an enable or a delete.
    pub fn on_ok(&mut self, id: ReqId, out: &mut Outbox) -> Effect {
        if let Some(ed) = &mut self.editor {
            if ed.validate_req == Some(id) {
                ed.validate_req = None;
                ed.validation = Some(None);
                return Effect::Done;
            }
            if ed.save_req == Some(id) {
                let name = ed.spec().map(|s| s.name).unwrap_or_default();
                self.editor = None;
                self.refresh_rules(out);
                return Effect::Say(format!("rule {name} saved"));
            }
        }
        if let Some(i) = self.pending_changes.iter().position(|r| *r == id) {
            self.pending_changes.remove(i);
            self.refresh_rules(out);
        }
        Effect::Done
    }

    /// An error for one of this screen's requests: the editor shows its own under
    /// the field; a failed list or change is left to the message line
    /// ([`Effect::Pass`], as for ids that are not this screen's).
    pub fn on_reply_error(&mut self, id: ReqId, error: &ErrorBody) -> Effect {
        if let Some(ed) = &mut self.editor {
            if ed.validate_req == Some(id) || ed.save_req == Some(id) {
                ed.validate_req = None;
                ed.save_req = None;
                ed.validation = Some(Some(error.clone()));
                return Effect::Done;
            }
            if ed.test_req == Some(id) {
                ed.test_req = None;
                ed.preview = None;
                return Effect::Done;
            }
        }
        if Some(id) == self.list_req {
            self.list_req = None;
        }
        self.pending_changes.retain(|r| *r != id);
        Effect::Pass
    }

    /// The wheel moves in the rules list (whatever is open over it).
    pub fn on_wheel(&mut self, up: bool) {
        self.move_by(if up { -1 } else { 1 });
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
