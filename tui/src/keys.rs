//! The key vocabulary every pane's table is written in, and the index of the tables.
//!
//! Each pane module (`app/tail/log.rs`, `app/search/results.rs`, …) declares its
//! `KEYS` beside its handler, and the handler matches the same [`Key`] values the
//! table lists (the gitui model: a component owns its keys). The bottom bar and the
//! `?` overlay render from these tables, and `app/keywalk.rs` presses every key of a
//! broad universe in every pane: a key that changes anything must be listed there,
//! and every listed key must change something. So help cannot drift from what the
//! handlers do.

use std::fmt::Write as _;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// One key as the handlers see it. Ctrl makes a different key; Shift and Alt do
/// not (terminals send `G` as Shift+`G`, and nothing is bound to Alt), so `Ctrl-j`
/// is not `j`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Char(char),
    /// Ctrl with a letter (always lower case).
    Ctrl(char),
    Code(KeyCode),
    /// The mouse wheel (mouse events reach the screen, not the focused pane).
    WheelUp,
    WheelDown,
}

pub const ENTER: Key = Key::Code(KeyCode::Enter);
pub const ESC: Key = Key::Code(KeyCode::Esc);
pub const TAB: Key = Key::Code(KeyCode::Tab);
pub const BACKTAB: Key = Key::Code(KeyCode::BackTab);
pub const BACKSPACE: Key = Key::Code(KeyCode::Backspace);
pub const DELETE: Key = Key::Code(KeyCode::Delete);
pub const UP: Key = Key::Code(KeyCode::Up);
pub const DOWN: Key = Key::Code(KeyCode::Down);
pub const LEFT: Key = Key::Code(KeyCode::Left);
pub const RIGHT: Key = Key::Code(KeyCode::Right);
pub const HOME: Key = Key::Code(KeyCode::Home);
pub const END: Key = Key::Code(KeyCode::End);
pub const PGUP: Key = Key::Code(KeyCode::PageUp);
pub const PGDN: Key = Key::Code(KeyCode::PageDown);
pub const SPACE: Key = Key::Char(' ');

impl Key {
    /// The key a terminal event means.
    pub fn of(k: &KeyEvent) -> Key {
        match k.code {
            KeyCode::Char(c) if k.modifiers.contains(KeyModifiers::CONTROL) => {
                Key::Ctrl(c.to_ascii_lowercase())
            }
            KeyCode::Char(c) => Key::Char(c),
            code => Key::Code(code),
        }
    }

    /// How the bar and the overlay spell it.
    fn spelling(self) -> String {
        match self {
            Key::Char(' ') => "Space".into(),
            Key::Char(c) => c.to_string(),
            Key::Ctrl(c) => format!("Ctrl-{c}"),
            Key::WheelUp | Key::WheelDown => "wheel".into(),
            Key::Code(c) => match c {
                // Spelled here, not by crossterm's `Display`, which renames
                // Enter and Backspace on macOS and spends 9 cells on "Page Down".
                KeyCode::Enter => "Enter".into(),
                KeyCode::Esc => "Esc".into(),
                KeyCode::Tab => "Tab".into(),
                KeyCode::Backspace => "Backspace".into(),
                KeyCode::Home => "Home".into(),
                KeyCode::End => "End".into(),
                KeyCode::BackTab => "S-Tab".into(),
                KeyCode::PageUp => "PgUp".into(),
                KeyCode::PageDown => "PgDn".into(),
                KeyCode::Delete => "Del".into(),
                KeyCode::Up => "↑".into(),
                KeyCode::Down => "↓".into(),
                KeyCode::Left => "←".into(),
                KeyCode::Right => "→".into(),
                KeyCode::F(n) => format!("F{n}"),
                other => other.to_string(),
            },
        }
    }

    /// Keys of one kind are joined by `/` in a label (`j/k ↑/↓ Home/End`), kinds by
    /// a space.
    fn kind(self) -> u8 {
        match self {
            Key::Char(' ') => 2,
            Key::Char(_) => 0,
            Key::Ctrl(_) => 1,
            Key::Code(KeyCode::Up | KeyCode::Down | KeyCode::Left | KeyCode::Right) => 3,
            Key::Code(_) => 2,
            Key::WheelUp | Key::WheelDown => 4,
        }
    }
}

/// What a table row covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keys {
    Of(&'static [Key]),
    /// Any character without Ctrl (a text field types it).
    Typing,
    /// Every key no other row of the table names (a yes/no question, the overlay).
    Other,
}

/// One documented binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    pub keys: Keys,
    pub what: &'static str,
    /// Shown in the bottom bar (the overlay shows every row).
    pub bar: bool,
}

/// A row for these keys.
pub const fn bind(keys: &'static [Key], what: &'static str, bar: bool) -> Binding {
    Binding {
        keys: Keys::Of(keys),
        what,
        bar,
    }
}

impl Binding {
    /// The keys as shown: spelled from the very values the handler matches.
    pub fn label(&self) -> String {
        let keys = match self.keys {
            Keys::Typing => return "any char".into(),
            Keys::Other => return "any other key".into(),
            Keys::Of(keys) => keys,
        };
        let mut out = String::new();
        let mut prev: Option<(Key, String)> = None;
        for &k in keys {
            let s = k.spelling();
            if let Some((p, ps)) = &prev {
                if *ps == s {
                    continue; // wheel up and down are one "wheel"
                }
                // `/` itself cannot be joined with `/`.
                let slash = p.kind() == k.kind() && ps != "/" && s != "/";
                out.push(if slash { '/' } else { ' ' });
            }
            let _ = write!(out, "{s}");
            prev = Some((k, s));
        }
        out
    }

    /// Whether this row documents `k`.
    pub fn covers(&self, k: Key) -> bool {
        match self.keys {
            Keys::Of(keys) => keys.contains(&k),
            Keys::Typing => matches!(k, Key::Char(_)),
            Keys::Other => true,
        }
    }
}

/// Where the keyboard focus is; picks the key table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ctx {
    TailStreams,
    TailLog,
    SearchInput,
    SearchHistogram,
    SearchResults,
    SearchContext,
    SearchPatterns,
    AlertsList,
    AlertsEditor,
    Prompt,
    Confirm,
}

impl Ctx {
    pub const ALL: [Ctx; 11] = [
        Ctx::TailStreams,
        Ctx::TailLog,
        Ctx::SearchInput,
        Ctx::SearchHistogram,
        Ctx::SearchResults,
        Ctx::SearchContext,
        Ctx::SearchPatterns,
        Ctx::AlertsList,
        Ctx::AlertsEditor,
        Ctx::Prompt,
        Ctx::Confirm,
    ];

    /// The overlay's heading.
    pub fn title(self) -> &'static str {
        match self {
            Ctx::TailStreams => "Tail · streams",
            Ctx::TailLog => "Tail · log",
            Ctx::SearchInput => "Search · query",
            Ctx::SearchHistogram => "Search · histogram",
            Ctx::SearchResults => "Search · results",
            Ctx::SearchContext => "Search · context",
            Ctx::SearchPatterns => "Search · patterns",
            Ctx::AlertsList => "Alerts · rules",
            Ctx::AlertsEditor => "Alerts · editor",
            Ctx::Prompt => "Prompt",
            Ctx::Confirm => "Confirm",
        }
    }
}

/// Whether the single-key globals apply (not while typing into a field or
/// answering a question).
pub fn globals_apply(ctx: Ctx) -> bool {
    !matches!(
        ctx,
        Ctx::SearchInput | Ctx::AlertsEditor | Ctx::Prompt | Ctx::Confirm
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_spelled_from_the_keys() {
        let l = |keys: &'static [Key]| bind(keys, "", false).label();
        assert_eq!(l(&[Key::Char('j'), Key::Char('k'), UP, DOWN]), "j/k ↑/↓");
        assert_eq!(l(&[PGDN, Key::Ctrl('f'), SPACE]), "PgDn Ctrl-f Space");
        assert_eq!(l(&[Key::Char('/'), Key::Char('i')]), "/ i");
        assert_eq!(l(&[Key::WheelUp, Key::WheelDown]), "wheel");
        assert_eq!(l(&[TAB, BACKTAB]), "Tab/S-Tab");
        assert_eq!(l(&[LEFT, RIGHT, HOME, END]), "←/→ Home/End");
        let ctrl = KeyEvent::new(KeyCode::Char('U'), KeyModifiers::CONTROL);
        assert_eq!(Key::of(&ctrl), Key::Ctrl('u'));
        let shifted = KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT);
        assert_eq!(Key::of(&shifted), Key::Char('G'));
    }
}
