//! The one-line prompt at the bottom (filter, find, save to a file, custom range),
//! its keys (the editing keys come from [`crate::app::input::KEYS`]) and what each
//! answer does.

use std::path::PathBuf;

use lookout_shared::query::{Query, QueryError};

use super::complete::{complete, Completion};
use super::history::Kind;
use super::input::TextInput;
use super::{App, Screen};
use crate::keys::{bind, Binding, Key, DOWN, ENTER, ESC, TAB, UP};

/// What the prompt asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    Filter,
    Find,
    Save,
    Range,
}

#[derive(Debug, Clone)]
pub struct Prompt {
    pub kind: PromptKind,
    pub input: TextInput,
}

/// The prompt's own keys; `App::on_prompt_key` handles these and types
/// everything else into the prompt.
pub const KEYS: &[Binding] = &[
    bind(&[ENTER], "apply", true),
    bind(&[ESC], "cancel", true),
    bind(&[UP, DOWN], "older / newer input (kept across runs)", false),
    bind(&[TAB], "complete a field or value (filter)", false),
];

impl Prompt {
    /// What is wrong with the text typed so far, checked as it is typed: a
    /// filter by the query parser the daemon runs, a find by its own rules.
    /// The footer draws it under the text with a caret.
    pub fn error(&self) -> Option<QueryError> {
        match self.kind {
            PromptKind::Filter => Query::parse(&self.input.text).err(),
            PromptKind::Find => {
                let text = self.input.text.trim_start();
                let lead = self.input.text.chars().count() - text.chars().count();
                crate::app::tail::log::find_regex(text.trim_end())
                    .err()
                    .map(|message| QueryError {
                        message: format!("regex: {message}"),
                        position: lookout_shared::protocol::Position {
                            column: lead + 1,
                            length: 0,
                        },
                    })
            }
            _ => None,
        }
    }
}

impl PromptKind {
    /// The history this prompt's answers go to (a file name is not worth recalling).
    fn history(self) -> Option<Kind> {
        match self {
            PromptKind::Filter => Some(Kind::Filter),
            PromptKind::Find => Some(Kind::Find),
            PromptKind::Range => Some(Kind::Range),
            PromptKind::Save => None,
        }
    }
}

impl App {
    pub(super) fn open_prompt(&mut self, kind: PromptKind, initial: String) {
        self.prompt = Some(Prompt {
            kind,
            input: TextInput::new(initial),
        });
    }

    /// The prompt's handler: it has every key while open.
    pub(super) fn on_prompt_key(&mut self, k: Key) {
        let Some(p) = &mut self.prompt else { return };
        let kind = p.kind.history();
        match k {
            ESC => {
                self.history.stop_browsing();
                self.prompt = None;
            }
            ENTER if p.error().is_some() => {
                // The old filter (or find) stays; the error is under the text.
                let why = p.error().map(|e| e.message).unwrap_or_default();
                let what = if p.kind == PromptKind::Filter {
                    "filter"
                } else {
                    "find"
                };
                self.say(format!("{what} not applied: {why}"));
            }
            ENTER => {
                if let Some(p) = self.prompt.take() {
                    if let Some(h) = kind {
                        self.history.record(h, &p.input.text);
                    }
                    self.submit_prompt(p.kind, p.input.text);
                }
            }
            UP | DOWN => {
                let recalled = match (kind, k) {
                    (Some(h), UP) => self.history.older(h, &p.input.text),
                    (Some(h), _) => self.history.newer(h),
                    (None, _) => None,
                };
                if let Some(t) = recalled {
                    p.input.set(t);
                }
            }
            TAB if p.kind == PromptKind::Filter => {
                if let Completion::Choices(c) = complete(&mut p.input, &self.tail.tree.streams) {
                    self.say(c.join("  "));
                }
            }
            _ => {
                if p.input.edit(k) {
                    self.history.stop_browsing();
                }
            }
        }
    }

    fn submit_prompt(&mut self, kind: PromptKind, text: String) {
        match kind {
            PromptKind::Filter => {
                if let Err(e) = self.tail.set_filter(&text, &mut self.outbox) {
                    // Checked before Enter got here; kept for a filter that the
                    // combined query still refuses.
                    self.say(format!("filter not applied: {e}"));
                }
            }
            PromptKind::Find => {
                let e = self.tail.find(&text);
                self.apply(e);
            }
            PromptKind::Save if self.screen == Screen::Search && self.search.context.is_none() => {
                let path = PathBuf::from(text.trim());
                let e = self.search.start_save(path, &mut self.outbox);
                self.apply(e);
            }
            PromptKind::Save => {
                let lines = self.lines_to_save();
                let path = PathBuf::from(text.trim());
                match std::fs::write(&path, lines.join("\n") + "\n") {
                    Ok(()) => {
                        self.say(format!("saved {} lines to {}", lines.len(), path.display()))
                    }
                    Err(e) => self.say(format!("cannot save {}: {e}", path.display())),
                }
            }
            PromptKind::Range => {
                let e = self
                    .search
                    .set_range(&text, self.zone, self.now, &mut self.outbox);
                self.apply(e);
            }
        }
    }

    /// The lines `s` writes: what the current view shows, as plain text.
    pub fn lines_to_save(&self) -> Vec<String> {
        match self.screen {
            Screen::Search => self.search.lines_to_save(),
            _ => self.tail.log.lines_to_save(),
        }
    }

    /// A file name that does not clash between saves (seconds resolution).
    pub(super) fn default_save_path(&self) -> String {
        format!(
            "lookout-{}.log",
            self.now.to_datetime().format("%Y%m%d-%H%M%S")
        )
    }
}
