//! The Alerts screen's rules list and its keys.

use lookout_shared::protocol::ClientMsg;
use lookout_shared::Timestamp;

use super::{Alerts, Editor, Question};
use crate::app::{Effect, Outbox};
use crate::keys::{bind, Binding, Key, DELETE, DOWN, END, ENTER, HOME, SPACE, UP};

/// The rules list's keys; `Alerts::on_list_key` handles exactly these.
pub const KEYS: &[Binding] = &[
    bind(&[Key::Char('j'), Key::Char('k'), UP, DOWN], "move", true),
    bind(
        &[Key::Char('g'), Key::Char('G'), HOME, END],
        "first / last",
        false,
    ),
    bind(&[Key::Char('n')], "new rule", true),
    bind(&[Key::Char('e'), ENTER], "edit", true),
    bind(&[SPACE], "enable / disable", true),
    bind(&[Key::Char('d'), DELETE], "delete (asks)", true),
];

impl Alerts {
    /// The rules list's handler.
    pub(crate) fn on_list_key(&mut self, k: Key, now: Timestamp, out: &mut Outbox) -> Effect {
        match k {
            Key::Char('j') | DOWN => self.move_by(1),
            Key::Char('k') | UP => self.move_by(-1),
            Key::Char('g') | HOME => self.selected = 0,
            Key::Char('G') | END => self.move_by(isize::MAX / 2),
            Key::Char('n') => self.editor = Some(Editor::new_rule()),
            Key::Char('e') | ENTER => {
                if let Some(r) = self.selected_rule() {
                    let mut ed = Editor::from_spec(Some(r.rule.name.clone()), &r.rule);
                    // Validate and preview the rule as it stands once the form opens.
                    ed.dirty_at = Some(now);
                    self.editor = Some(ed);
                }
            }
            SPACE | Key::Char('d') | DELETE if !out.online() => {
                return Effect::Say("not connected: rules change once the daemon is back".into())
            }
            SPACE => {
                if let Some(r) = self.selected_rule() {
                    let (name, enabled) = (r.rule.name.clone(), !r.rule.enabled);
                    let id = out.send(|id| ClientMsg::SetRuleEnabled { id, name, enabled });
                    self.pending_changes.push(id);
                }
            }
            Key::Char('d') | DELETE => {
                self.confirm = self
                    .selected_rule()
                    .map(|r| Question::Delete(r.rule.name.clone()));
            }
            _ => return Effect::Pass,
        }
        Effect::Done
    }
}
