//! The query language, one parse for both consumers: compiled to a tantivy query for
//! search, and evaluated directly on entries for live tail and alerting, so that a
//! tail and a search with the same query select exactly the same lines.
//!
//! CONTRACT (live tail and alerting rely on these names; the index issue fills them in):
//! - [`Query::parse`] returns a [`QueryError`] with the 0-based column of the problem.
//! - [`Query::matches`] decides one entry with the same tokenisation and case rules
//!   as the index.

use lookout_shared::protocol::Position;
use lookout_shared::LogEntry;

/// A parse error: what is wrong and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (column {})", position.column + 1)]
pub struct QueryError {
    pub message: String,
    pub position: Position,
}

/// A parsed query.
#[derive(Debug, Clone)]
pub struct Query {
    text: String,
}

impl Query {
    /// Parses the query language; empty or `*` matches everything.
    pub fn parse(text: &str) -> Result<Query, QueryError> {
        Ok(Query {
            text: text.trim().to_string(),
        })
    }

    /// Whether `entry` matches (placeholder: substring of the message).
    pub fn matches(&self, entry: &LogEntry) -> bool {
        self.text.is_empty() || self.text == "*" || entry.message.contains(&self.text)
    }

    /// The text the query was parsed from.
    pub fn text(&self) -> &str {
        &self.text
    }
}
