//! The query language, one parse for both consumers: compiled to a tantivy query for
//! search ([`crate::index`]), and evaluated directly on entries for live tail and
//! alerting, so that a tail and a search with the same query select exactly the same
//! lines. `docs/query.md` is the user's reference.
//!
//! CONTRACT (live tail and alerting rely on these names):
//! - [`Query::parse`] returns a [`QueryError`] with the 0-based column of the problem.
//! - [`Query::matches`] decides one entry with the same tokenisation and case rules
//!   as the index.
//!
//! Rules both sides share:
//! - `message` is split into words by [`text::tokens`] (letters and digits, lower-cased);
//!   a bare word that splits into several words is a phrase (`blk_-160` = `"blk 160"`).
//! - raw fields (`namespace`, `pod`, `container`, `node`, `stream`, `level`) compare the
//!   whole value, case-sensitively (Kubernetes names are lower-case anyway);
//!   `stream` and `level` values are lower-cased at parse time.
//! - a trailing `*` is a prefix match: on a raw field's value, or on one message word.

mod parse;
pub mod text;

use lookout_shared::protocol::Position;
use lookout_shared::LogEntry;

/// A parse error: what is wrong and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (column {})", position.column + 1)]
pub struct QueryError {
    pub message: String,
    pub position: Position,
}

/// A field compared as a whole value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RawField {
    Namespace,
    Pod,
    Container,
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
            RawField::Container => "container",
            RawField::Node => "node",
            RawField::Stream => "stream",
            RawField::Level => "level",
        }
    }

    /// Every raw field, in the order the docs list them.
    pub const ALL: [RawField; 6] = [
        RawField::Namespace,
        RawField::Pod,
        RawField::Container,
        RawField::Node,
        RawField::Stream,
        RawField::Level,
    ];

    /// The entry's value for this field (`None`: the entry has none, e.g. no level).
    pub fn value_of(self, e: &LogEntry) -> Option<&str> {
        Some(match self {
            RawField::Namespace => &e.namespace,
            RawField::Pod => &e.pod,
            RawField::Container => &e.container,
            RawField::Node => &e.node,
            RawField::Stream => e.stream.as_str(),
            RawField::Level => return e.level.map(|l| l.as_str()),
        })
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
    /// Consecutive message words (one word: a term; several: a phrase). Never empty.
    Words(Vec<String>),
    /// A message word starting with this (lower-cased) prefix.
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

/// A parsed query.
#[derive(Debug, Clone)]
pub struct Query {
    text: String,
    root: Node,
}

impl Query {
    /// Parses the query language; empty or `*` matches everything.
    pub fn parse(text: &str) -> Result<Query, QueryError> {
        let root = parse::parse(text)?;
        Ok(Query {
            text: text.trim().to_string(),
            root,
        })
    }

    /// A query matching everything.
    pub fn all() -> Query {
        Query {
            text: String::new(),
            root: Node::All,
        }
    }

    /// Whether `entry` matches, with the index's tokenisation and case rules.
    pub fn matches(&self, entry: &LogEntry) -> bool {
        let mut words = None;
        eval(&self.root, entry, &mut words)
    }

    /// [`Query::matches`] for many queries on one entry (alert rules): `words`
    /// caches the entry's message tokens between calls; start each entry with `None`.
    pub fn matches_cached(&self, entry: &LogEntry, words: &mut Option<Vec<String>>) -> bool {
        eval(&self.root, entry, words)
    }

    /// The text the query was parsed from.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The syntax tree (the index compiles it to tantivy).
    pub fn root(&self) -> &Node {
        &self.root
    }

    /// Whether the query selects every entry.
    pub fn is_all(&self) -> bool {
        self.root == Node::All
    }
}

fn eval(node: &Node, e: &LogEntry, words: &mut Option<Vec<String>>) -> bool {
    match node {
        Node::All => true,
        Node::Words(q) => {
            let w = words.get_or_insert_with(|| text::tokens(&e.message));
            if q.len() == 1 {
                w.iter().any(|t| *t == q[0])
            } else {
                w.windows(q.len()).any(|win| win == q.as_slice())
            }
        }
        Node::WordPrefix(p) => words
            .get_or_insert_with(|| text::tokens(&e.message))
            .iter()
            .any(|t| t.starts_with(p.as_str())),
        Node::Raw { field, values } => match field.value_of(e) {
            None => false,
            Some(v) => values.iter().any(|want| match want {
                RawValue::Exact(x) => v == x,
                RawValue::Prefix(p) => v.starts_with(p.as_str()),
            }),
        },
        Node::And(xs) => xs.iter().all(|x| eval(x, e, words)),
        Node::Or(xs) => xs.iter().any(|x| eval(x, e, words)),
        Node::Not(x) => !eval(x, e, words),
    }
}
