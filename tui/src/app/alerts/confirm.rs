//! The questions the Alerts screen asks before losing something (deleting a rule,
//! throwing away an edited one), and their keys.

use lookout_shared::protocol::ClientMsg;

use super::Alerts;
use crate::app::Effect;
use crate::app::Outbox;
use crate::keys::{bind, Binding, Key, Keys};

/// What is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Question {
    /// Delete the rule of this name?
    Delete(String),
    /// Throw the editor's unsaved changes away? `then_quit`: the user pressed `q`
    /// elsewhere and the dashboard quits after a yes.
    Discard { then_quit: bool },
}

/// The question's keys; `Alerts::on_confirm_key` handles exactly these (the
/// screen keys F1-F3 still switch screens, leaving the question open).
pub const KEYS: &[Binding] = &[
    bind(&[Key::Char('y'), Key::Char('Y')], "yes", true),
    Binding {
        keys: Keys::Other,
        what: "no",
        bar: true,
    },
];

impl Question {
    /// The question as the overlay asks it.
    pub fn text(&self) -> String {
        match self {
            Question::Delete(name) => format!("Delete rule {name}?"),
            Question::Discard { then_quit: false } => "Discard the changes to this rule?".into(),
            Question::Discard { then_quit: true } => {
                "Quit and discard the changes to this rule?".into()
            }
        }
    }
}

impl Alerts {
    /// The question's handler: `y` does it, anything else keeps things as they are.
    /// Returns whether the dashboard should quit.
    pub(crate) fn on_confirm_key(&mut self, k: Key, out: &mut Outbox) -> (Effect, bool) {
        let Some(q) = self.confirm.take() else {
            return (Effect::Pass, false);
        };
        if !matches!(k, Key::Char('y' | 'Y')) {
            return (Effect::Done, false);
        }
        match q {
            Question::Delete(name) => {
                let id = out.send(|id| ClientMsg::DeleteRule { id, name });
                self.pending_changes.push(id);
                (Effect::Done, false)
            }
            Question::Discard { then_quit } => {
                self.editor = None;
                (Effect::Done, then_quit)
            }
        }
    }
}
