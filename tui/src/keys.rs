//! The key tables: one per focusable place. The bottom bar and the `?` overlay both
//! read them, so the help cannot drift from what the handlers do (each handler's
//! test walks its table).

/// One documented key binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyHelp {
    pub keys: &'static str,
    pub what: &'static str,
    /// Shown in the bottom bar (the overlay shows every row).
    pub bar: bool,
}

const fn k(keys: &'static str, what: &'static str, bar: bool) -> KeyHelp {
    KeyHelp { keys, what, bar }
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
    AlertsList,
    AlertsEditor,
    Prompt,
    Confirm,
}

/// Keys that work everywhere outside text fields.
pub const GLOBAL: &[KeyHelp] = &[
    k(
        "1 2 3 / F1-F3",
        "switch screen: Tail, Search, Alerts",
        false,
    ),
    k("Tab / S-Tab", "next / previous pane", true),
    k("?", "this help", true),
    k("q / Esc", "back, or quit on a top screen", true),
    k("Ctrl-c", "quit", false),
];

const TAIL_STREAMS: &[KeyHelp] = &[
    k("j/k ↑/↓", "move", true),
    k("Space", "toggle stream (pod/namespace: all of it)", true),
    k("Enter", "show only this stream / pod / namespace", true),
    k("h/l ←/→", "collapse / expand", false),
    k("c", "clear selection (all streams)", true),
    k("g/G", "top / bottom", false),
];

const TAIL_LOG: &[KeyHelp] = &[
    k("j/k ↑/↓", "scroll (pauses follow)", true),
    k("g/G End", "top / follow live", true),
    k("PgUp/PgDn C-u/C-d", "page / half page", false),
    k("/", "find (highlight)", true),
    k("n/N", "older / newer match", false),
    k("f", "filter (hide, server side)", true),
    k("t", "time: absolute / relative / off", true),
    k("w", "wrap", true),
    k("←/→ h/l", "scroll sideways (no wrap)", false),
    k("s", "save visible lines to a file", false),
    k("x", "clear the pane", false),
    k("wheel", "scroll", false),
];

const SEARCH_INPUT: &[KeyHelp] = &[
    k("Enter", "search", true),
    k("Ctrl-r", "cycle range 15m 1h 6h 24h 7d all", true),
    k("Esc / ↓", "to results", true),
    k("F1 F3", "other screens", false),
];

const SEARCH_HISTOGRAM: &[KeyHelp] = &[
    k("←/→ h/l", "pick a bar", true),
    k("Enter", "narrow the range to the bar", true),
    k("r", "custom range (15m or FROM..UNTIL)", true),
    k("Ctrl-r", "cycle range", false),
];

const SEARCH_RESULTS: &[KeyHelp] = &[
    k("j/k ↑/↓", "move", true),
    k("g/G", "first / last loaded", false),
    k("PgUp/PgDn", "page (loads more)", false),
    k("Enter", "context around the line", true),
    k("/", "edit query", true),
    k("r", "custom range", false),
    k("Ctrl-r", "cycle range", false),
    k("s", "save results to a file", false),
];

const SEARCH_CONTEXT: &[KeyHelp] = &[
    k("j/k ↑/↓", "scroll", true),
    k("l", "live tail of this stream", true),
    k("s", "save to a file", false),
    k("Esc / q", "back to results", true),
];

const ALERTS_LIST: &[KeyHelp] = &[
    k("j/k ↑/↓", "move", true),
    k("n", "new rule", true),
    k("e / Enter", "edit", true),
    k("Space", "enable / disable", true),
    k("d", "delete (asks)", true),
];

const ALERTS_EDITOR: &[KeyHelp] = &[
    k("Tab / S-Tab ↑/↓", "next / previous field", true),
    k("Ctrl-s", "save", true),
    k("Esc", "cancel", true),
    k("←/→", "change severity (on its field)", false),
];

const PROMPT: &[KeyHelp] = &[
    k("Enter", "apply", true),
    k("Esc", "cancel", true),
    k("Ctrl-u / Ctrl-w", "clear / delete word", false),
];

const CONFIRM: &[KeyHelp] = &[k("y", "yes", true), k("n / Esc", "no", true)];

/// The table for one focus.
pub fn table(ctx: Ctx) -> &'static [KeyHelp] {
    match ctx {
        Ctx::TailStreams => TAIL_STREAMS,
        Ctx::TailLog => TAIL_LOG,
        Ctx::SearchInput => SEARCH_INPUT,
        Ctx::SearchHistogram => SEARCH_HISTOGRAM,
        Ctx::SearchResults => SEARCH_RESULTS,
        Ctx::SearchContext => SEARCH_CONTEXT,
        Ctx::AlertsList => ALERTS_LIST,
        Ctx::AlertsEditor => ALERTS_EDITOR,
        Ctx::Prompt => PROMPT,
        Ctx::Confirm => CONFIRM,
    }
}

/// Whether the global keys apply (not while typing into a field).
pub fn globals_apply(ctx: Ctx) -> bool {
    !matches!(
        ctx,
        Ctx::SearchInput | Ctx::AlertsEditor | Ctx::Prompt | Ctx::Confirm
    )
}
