//! The index of key tables: which rows the focused pane answers to, for the help
//! overlay, the footer and the table walk. It lives with the screens (each of which
//! owns its table) rather than in [`crate::keys`], which every screen imports for
//! the key vocabulary: so imports run one way, screens → keys.

use crate::app::{alerts, help, input, prompt, search, tail, Reach, GLOBAL};
use crate::keys::{globals_apply, Binding, Ctx};

/// The focused pane's rows: its own table, then the editing keys in text fields.
pub fn table(ctx: Ctx) -> Vec<&'static Binding> {
    let (own, editing): (&'static [Binding], bool) = match ctx {
        Ctx::TailStreams => (tail::streams::KEYS, false),
        Ctx::TailLog => (tail::log::KEYS, false),
        Ctx::SearchInput => (search::query::KEYS, true),
        Ctx::SearchHistogram => (search::histogram::KEYS, false),
        Ctx::SearchResults => (search::results::KEYS, false),
        Ctx::SearchContext => (search::context::KEYS, false),
        Ctx::SearchPatterns => (search::patterns::KEYS, false),
        Ctx::AlertsList => (alerts::list::KEYS, false),
        Ctx::AlertsEditor => (alerts::editor::KEYS, true),
        Ctx::Prompt => (prompt::KEYS, true),
        Ctx::Confirm => (alerts::confirm::KEYS, false),
    };
    let editing: &'static [Binding] = if editing { input::KEYS } else { &[] };
    own.iter().chain(editing).collect()
}

/// The dashboard-wide rows that work in `ctx`.
pub fn globals(ctx: Ctx) -> impl Iterator<Item = &'static Binding> {
    GLOBAL
        .iter()
        .filter(move |(reach, _)| match reach {
            Reach::Everywhere => true,
            Reach::NotInPrompt => ctx != Ctx::Prompt,
            Reach::OutsideFields => globals_apply(ctx),
        })
        .map(|(_, b)| b)
}

/// The rows that work while the help overlay is open.
pub fn help_table() -> impl Iterator<Item = &'static Binding> {
    help::KEYS.iter().chain(
        GLOBAL
            .iter()
            .filter(|(reach, _)| *reach == Reach::Everywhere)
            .map(|(_, b)| b),
    )
}
