//! The question before a rule is deleted, and its keys.

use lookout_shared::protocol::ClientMsg;

use super::Alerts;
use crate::app::Effect;
use crate::app::Outbox;
use crate::keys::{bind, Binding, Key, Keys};

/// The question's keys; `Alerts::on_confirm_key` handles exactly these (the
/// screen keys F1-F3 still switch screens, leaving the question open).
pub const KEYS: &[Binding] = &[
    bind(&[Key::Char('y'), Key::Char('Y')], "yes, delete", true),
    Binding {
        keys: Keys::Other,
        what: "no",
        bar: true,
    },
];

impl Alerts {
    /// The question's handler: `y` deletes, anything else keeps the rule.
    pub(crate) fn on_confirm_key(&mut self, k: Key, out: &mut Outbox) -> Effect {
        match k {
            Key::Char('y' | 'Y') => {
                if let Some(name) = self.confirm_delete.take() {
                    let id = out.send(|id| ClientMsg::DeleteRule { id, name });
                    self.pending_changes.push(id);
                }
            }
            _ => self.confirm_delete = None,
        }
        Effect::Done
    }
}
