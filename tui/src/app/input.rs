//! A one-line text field: the query box, prompts and the rule editor's fields, and
//! the editing keys they share.

use crossterm::event::KeyEvent;

use crate::keys::{bind, Binding, Key, Keys, BACKSPACE, DELETE, END, HOME, LEFT, RIGHT};

/// The editing keys of every text field (the panes with a field add these rows to
/// their own).
pub const KEYS: &[Binding] = &[
    Binding {
        keys: Keys::Typing,
        what: "insert at the cursor",
        bar: false,
    },
    bind(
        &[LEFT, RIGHT, HOME, END, Key::Ctrl('a'), Key::Ctrl('e')],
        "move the cursor",
        false,
    ),
    bind(&[BACKSPACE, DELETE], "delete back / forward", false),
    bind(
        &[Key::Ctrl('u'), Key::Ctrl('w')],
        "clear to the start / delete a word",
        false,
    ),
];

/// Text plus a cursor (in chars), edited with the keys readline users expect.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextInput {
    pub text: String,
    /// Cursor position in characters, `0..=len`.
    pub cursor: usize,
}

impl TextInput {
    pub fn new(text: impl Into<String>) -> TextInput {
        let text = text.into();
        let cursor = text.chars().count();
        TextInput { text, cursor }
    }

    fn byte_at(&self, char_idx: usize) -> usize {
        self.text
            .char_indices()
            .nth(char_idx)
            .map(|(b, _)| b)
            .unwrap_or(self.text.len())
    }

    pub fn set(&mut self, text: impl Into<String>) {
        *self = TextInput::new(text);
    }

    /// Applies an editing key; returns whether the text changed. Keys it does not
    /// know are left to the caller (`false`, text untouched).
    pub fn handle(&mut self, key: KeyEvent) -> bool {
        self.edit(Key::of(&key))
    }

    /// [`TextInput::handle`] for a key already read; [`KEYS`] lists what it knows.
    pub fn edit(&mut self, key: Key) -> bool {
        let len = self.text.chars().count();
        match key {
            Key::Ctrl('u') => {
                let b = self.byte_at(self.cursor);
                self.text.replace_range(..b, "");
                self.cursor = 0;
                true
            }
            Key::Ctrl('w') => {
                let chars: Vec<char> = self.text.chars().collect();
                let mut i = self.cursor.min(chars.len());
                while i > 0 && chars[i - 1] == ' ' {
                    i -= 1;
                }
                while i > 0 && chars[i - 1] != ' ' {
                    i -= 1;
                }
                let (a, b) = (self.byte_at(i), self.byte_at(self.cursor));
                self.text.replace_range(a..b, "");
                self.cursor = i;
                true
            }
            Key::Ctrl('a') | HOME => {
                self.cursor = 0;
                false
            }
            Key::Ctrl('e') | END => {
                self.cursor = len;
                false
            }
            Key::Char(c) => {
                let b = self.byte_at(self.cursor);
                self.text.insert(b, c);
                self.cursor += 1;
                true
            }
            BACKSPACE if self.cursor > 0 => {
                let b = self.byte_at(self.cursor - 1);
                self.text.remove(b);
                self.cursor -= 1;
                true
            }
            DELETE if self.cursor < len => {
                let b = self.byte_at(self.cursor);
                self.text.remove(b);
                true
            }
            LEFT => {
                self.cursor = self.cursor.saturating_sub(1);
                false
            }
            RIGHT => {
                self.cursor = (self.cursor + 1).min(len);
                false
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyModifiers};

    fn k(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    #[test]
    fn edits_like_readline() {
        let mut t = TextInput::new("level:error");
        assert!(t.handle(k(KeyCode::Char(' '))));
        for c in "dé".chars() {
            t.handle(k(KeyCode::Char(c)));
        }
        assert_eq!(t.text, "level:error dé");
        t.handle(k(KeyCode::Left));
        t.handle(k(KeyCode::Backspace));
        assert_eq!(t.text, "level:error é");
        t.handle(k(KeyCode::End));
        t.handle(KeyEvent::new(KeyCode::Char('w'), KeyModifiers::CONTROL));
        assert_eq!(t.text, "level:error ");
        t.handle(KeyEvent::new(KeyCode::Char('w'), KeyModifiers::CONTROL));
        assert_eq!(t.text, "");
        t.set("abc");
        t.handle(k(KeyCode::Left));
        t.handle(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
        assert_eq!(t.text, "c");
        assert!(!t.handle(k(KeyCode::Backspace)));
    }
}
