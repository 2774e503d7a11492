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
        }
    }

    /// Every raw field, in the order the docs list them.
    pub const ALL: [RawField; 8] = [
        RawField::Namespace,
        RawField::Pod,
        RawField::Workload,
        RawField::Container,
        RawField::Restart,
        RawField::Node,
        RawField::Stream,
        RawField::Level,
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
        }))
    }
}

/// One value a raw field is compared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawValue {
    Exact(String),
    Prefix(String),
}

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
