//! The syntax tree every consumer of a query evaluates: the daemon compiles it to a
//! tantivy query and to its live matcher; the dashboard walks it for highlighting.

use std::borrow::Cow;

use crate::LogEntry;

/// A field compared as a whole value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RawField {
    Namespace,
    Pod,
    /// Derived from the pod name ([`crate::workload::workload_of`]).
    Workload,
    Container,
    /// The container instance (the N of `N.log`), compared as its decimal digits.
    Restart,
    Node,
    Stream,
    Level,
    /// The event's pattern id ([`crate::PatternId`]), 16 lower-case hex digits.
    Pattern,
}

impl RawField {
    /// The schema (and query) name of the field.
    pub fn name(self) -> &'static str {
        match self {
            RawField::Namespace => "namespace",
            RawField::Pod => "pod",
            RawField::Workload => "workload",
            RawField::Container => "container",
            RawField::Restart => "restart",
            RawField::Node => "node",
            RawField::Stream => "stream",
            RawField::Level => "level",
            RawField::Pattern => "pattern",
        }
    }

    /// Every raw field, in the order the docs list them.
    pub const ALL: [RawField; 9] = [
        RawField::Namespace,
        RawField::Pod,
        RawField::Workload,
        RawField::Container,
        RawField::Restart,
        RawField::Node,
        RawField::Stream,
        RawField::Level,
        RawField::Pattern,
    ];

    /// The entry's value for this field (`None`: the entry has none, e.g. no level).
    pub fn value_of(self, e: &LogEntry) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(match self {
            RawField::Namespace => &e.source.namespace,
            RawField::Pod => &e.source.pod,
            RawField::Workload => e.source.workload(),
            RawField::Container => &e.source.container,
            RawField::Restart => return Some(Cow::Owned(e.source.restart.to_string())),
            RawField::Node => &e.node,
            RawField::Stream => e.stream.as_str(),
            RawField::Level => return e.level.map(|l| Cow::Borrowed(l.as_str())),
            RawField::Pattern => return e.pattern.map(|p| Cow::Owned(p.to_string())),
        }))
    }
}

/// One value a raw field is compared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawValue {
    Exact(String),
    Prefix(String),
}

/// A number in a field comparison. Never NaN (the parser only makes finite ones), so
/// it can be compared for equality like the rest of the tree.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Num(pub f64);

impl Eq for Num {}

/// What an extracted field is tested for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldTest {
    /// The field is present, whatever its value (`user:*`).
    Exists,
    /// A text value equal to `text`, or a number equal to `num` when the query value
    /// is written as a number (`status:500` matches `"status":500` and
    /// `"status":"500"`); a boolean matches `true` or `false`.
    Eq { text: String, num: Option<Num> },
    /// A text value starting with this (never empty) prefix.
    Prefix(String),
    /// A number within the bounds (`>=500`, `[500 TO 599]`, `{0 TO 1}`); text
    /// values never match, even numeric-looking ones.
    Range {
        lo: std::ops::Bound<Num>,
        hi: std::ops::Bound<Num>,
    },
}

impl FieldTest {
    /// Whether one scalar value passes (an array passes when any element does).
    pub fn accepts(&self, v: &serde_json::Value) -> bool {
        use serde_json::Value;
        use std::ops::Bound;
        if *self == FieldTest::Exists {
            return true;
        }
        match v {
            Value::Array(xs) => return xs.iter().any(|x| !x.is_array() && self.accepts(x)),
            Value::Object(_) => return false,
            _ => {}
        }
        match self {
            FieldTest::Exists => true,
            FieldTest::Eq { text, num } => match v {
                Value::String(s) => s == text,
                Value::Bool(b) => (if *b { "true" } else { "false" }) == text,
                Value::Number(n) => match (n.as_f64(), num) {
                    (Some(x), Some(Num(want))) => x == *want,
                    _ => false,
                },
                _ => false,
            },
            FieldTest::Prefix(p) => matches!(v, Value::String(s) if s.starts_with(p.as_str())),
            FieldTest::Range { lo, hi } => {
                let Some(x) = v.as_f64() else { return false };
                let above = match lo {
                    Bound::Included(Num(l)) => x >= *l,
                    Bound::Excluded(Num(l)) => x > *l,
                    Bound::Unbounded => true,
                };
                let below = match hi {
                    Bound::Included(Num(h)) => x <= *h,
                    Bound::Excluded(Num(h)) => x < *h,
                    Bound::Unbounded => true,
                };
                above && below
            }
        }
    }
}

/// A regular expression on the message text (`/conn(ection)? refused/`), compiled
/// once at parse time. Matching is linear in the message (the `regex` crate never
/// backtracks), and the compiled program is capped ([`MessageRegex::SIZE_LIMIT`]).
#[derive(Debug, Clone)]
pub struct MessageRegex {
    re: regex::Regex,
    required: Vec<String>,
}

impl MessageRegex {
    /// Most memory one compiled pattern may take (program and lazy DFA each): a
    /// pattern like `(a{1000}){1000}` is refused at parse time instead.
    pub const SIZE_LIMIT: usize = 1 << 20;

    /// Compiles `pattern`, or says why not.
    pub fn new(pattern: &str) -> Result<MessageRegex, regex::Error> {
        let re = regex::RegexBuilder::new(pattern)
            .size_limit(Self::SIZE_LIMIT)
            .dfa_size_limit(Self::SIZE_LIMIT)
            .build()?;
        let required = required_words(pattern);
        Ok(MessageRegex { re, required })
    }

    /// Message words (as [`super::words`] splits and lower-cases them) that every
    /// text this pattern matches contains: the index looks these up first and
    /// checks the pattern only on messages that have them all. Conservative: a word
    /// counts only when a literal part of the pattern that must match holds it
    /// whole, with a separator on each side (`/Invalid user [a-z]+ from/` requires
    /// `user`; `Invalid` could be the end of `xInvalid`).
    pub fn required_words(&self) -> &[String] {
        &self.required
    }

    /// Whether the pattern matches anywhere in `text`.
    pub fn is_match(&self, text: &str) -> bool {
        self.re.is_match(text)
    }

    /// Byte ranges of `text` it matches (non-overlapping, leftmost first).
    pub fn find_iter<'a>(
        &'a self,
        text: &'a str,
    ) -> impl Iterator<Item = std::ops::Range<usize>> + 'a {
        self.re.find_iter(text).map(|m| m.range())
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        self.re.as_str()
    }
}

/// See [`MessageRegex::required_words`].
fn required_words(pattern: &str) -> Vec<String> {
    use regex_syntax::hir::{Hir, HirKind};
    // The nesting limit bounds the parser's recursion; the pattern already
    // compiled within the size limit, so parsing it again is cheap.
    let Ok(hir) = regex_syntax::ParserBuilder::new()
        .nest_limit(64)
        .build()
        .parse(pattern)
    else {
        return Vec::new();
    };
    // The parts every match goes through, in order: a concatenation's items, and
    // groups around them (not alternations or repetitions, which may skip a part).
    fn mandatory<'h>(h: &'h Hir, out: &mut Vec<&'h Hir>) {
        match h.kind() {
            HirKind::Concat(xs) => xs.iter().for_each(|x| mandatory(x, out)),
            HirKind::Capture(c) => mandatory(&c.sub, out),
            _ => out.push(h),
        }
    }
    let mut parts = Vec::new();
    mandatory(&hir, &mut parts);
    let mut words = Vec::new();
    for part in parts {
        let HirKind::Literal(lit) = part.kind() else {
            continue;
        };
        let Ok(text) = std::str::from_utf8(&lit.0) else {
            continue;
        };
        // Whole words only: between two separators inside this literal.
        let pieces: Vec<&str> = text.split(|c: char| !c.is_alphanumeric()).collect();
        if pieces.len() < 3 {
            continue;
        }
        for w in &pieces[1..pieces.len() - 1] {
            if let Some(w) = super::words::searchable(w) {
                if !w.is_empty() && !words.contains(&w) {
                    words.push(w);
                }
            }
        }
    }
    words
}

impl PartialEq for MessageRegex {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for MessageRegex {}

/// The parsed query: what both the index and the matcher evaluate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// Every entry (`*`, or an empty query).
    All,
    /// Consecutive message words (one word: a term; several: a phrase). Never empty,
    /// and no word in it is empty (see [`super::words`]).
    Words(Vec<String>),
    /// A message word starting with this (lower-cased, never empty) prefix.
    WordPrefix(String),
    /// A raw field equal to (or starting with) any of the values. Never empty.
    Raw {
        field: RawField,
        values: Vec<RawValue>,
    },
    /// A regular expression matching somewhere in the message text (as written, not
    /// split into words; case-sensitive unless it starts with `(?i)`).
    Regex(MessageRegex),
    /// A field extracted from the message ([`crate::fields`]), by its dotted path.
    Field {
        path: String,
        test: FieldTest,
    },
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
}

impl Node {
    /// Flattens nested AND/OR and drops `*` inside an AND, so that the compilers see
    /// one canonical tree (`a (b c)` and `a b c` compile alike).
    pub(crate) fn simplify(self) -> Node {
        match self {
            Node::And(xs) => {
                let mut out = Vec::new();
                for x in xs.into_iter().map(Node::simplify) {
                    match x {
                        Node::And(inner) => out.extend(inner),
                        Node::All => {}
                        other => out.push(other),
                    }
                }
                match out.len() {
                    0 => Node::All,
                    1 => out.remove(0),
                    _ => Node::And(out),
                }
            }
            Node::Or(xs) => {
                let mut out = Vec::new();
                for x in xs.into_iter().map(Node::simplify) {
                    match x {
                        Node::Or(inner) => out.extend(inner),
                        Node::All => return Node::All,
                        other => out.push(other),
                    }
                }
                if out.len() == 1 {
                    out.remove(0)
                } else {
                    Node::Or(out)
                }
            }
            Node::Not(x) => Node::Not(Box::new(x.simplify())),
            other => other,
        }
    }
}
