//! The query language, parsed once for every consumer: the daemon compiles the tree to
//! a tantivy query for search and to a matcher for live tail and alerting; the
//! dashboard highlights what a query looks for; rule validation checks a rule's
//! query. Living here, with no search engine attached, is what keeps them from
//! disagreeing about what a query means. `docs/query.md` is the user's reference.
//!
//! CONTRACT (the daemon, the dashboard and rule validation rely on these names):
//! - [`parse`] (or [`Query::parse`]) returns a [`QueryError`] with the 0-based
//!   character column of the problem.
//! - [`Query::root`] is the simplified [`Node`] tree the compilers walk.
//! - [`words`] is how `message` is split into words, for queries and messages alike.
//! - [`quote`] writes a raw-field value so that it parses back exactly.
//!
//! Rules every consumer shares:
//! - `message` is split into words by [`words`] (letters and digits, lower-cased);
//!   a bare word that splits into several words is a phrase (`blk_-160` = `"blk 160"`).
//! - raw fields (`namespace`, `pod`, `container`, `node`, `stream`, `level`) compare the
//!   whole value, case-sensitively (Kubernetes names are lower-case anyway);
//!   `stream` and `level` values are lower-cased at parse time.
//! - a trailing `*` is a prefix match: on a raw field's value, or on one message word.
//!
//! Inside: `lex` (text to tokens with columns), `parse` (the grammar), `terms` (what
//! a word, phrase or value becomes), `ast` (the tree), `highlight` (the message bytes
//! a query's words match), [`matcher`] (the tree evaluated on one entry).

mod ast;
mod highlight;
mod lex;
pub mod matcher;
mod parse;
mod terms;
#[cfg(test)]
mod tests;
pub mod words;

pub use ast::{FieldTest, MessageRegex, Node, Num, RawField, RawValue};
pub(crate) use lex::is_field_name;
pub use lex::quote;
pub use matcher::Matches;
pub use parse::{FIELDS_PREFIX, MAX_DEPTH};

use crate::protocol::Position;

/// A parse error: what is wrong and where (`position.column` counts characters from
/// 0; the message shows it from 1, as editors do).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (column {})", position.column + 1)]
pub struct QueryError {
    pub message: String,
    pub position: Position,
}

/// The error for `len` characters from column `col`.
fn err(message: impl Into<String>, col: usize, len: usize) -> QueryError {
    QueryError {
        message: message.into(),
        position: Position {
            column: col,
            length: len,
        },
    }
}

/// A parsed query: its text and its tree.
#[derive(Debug, Clone)]
pub struct Query {
    text: String,
    root: Node,
}

/// Parses the query language; empty or `*` matches everything.
pub fn parse(text: &str) -> Result<Query, QueryError> {
    Query::parse(text)
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

    /// The text the query was parsed from.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The syntax tree (the daemon compiles it to tantivy and to its live matcher).
    pub fn root(&self) -> &Node {
        &self.root
    }

    /// Whether the query selects every entry.
    pub fn is_all(&self) -> bool {
        self.root == Node::All
    }
}
