//! The `?` overlay: every key of the focused pane, rendered from the tables, over
//! the screen; and its own key.

use super::App;
use crate::keys::{Binding, Key, Keys};

/// The overlay's key (its title says it); Ctrl-c and the wheel still work under it.
pub const KEYS: &[Binding] = &[Binding {
    keys: Keys::Other,
    what: "any key closes",
    bar: false,
}];

impl App {
    /// The overlay's handler: any key closes it (so `q` does not quit from it).
    pub(super) fn on_help_key(&mut self, _k: Key) {
        self.help = false;
    }
}
