//! The live matcher: the query tree evaluated on one entry, for the daemon's live
//! tail and alerting and for the dashboard's filter over the scrollback it holds.
//! Its twin is the daemon's compilation of the same tree to tantivy
//! (`lookoutd`'s `index::compile`); both split `message` with the same word rules,
//! so a tail and a search with the same query select exactly the same lines (a
//! daemon test runs many queries both ways over the same entries). It lives here,
//! beside the parser, so that the dashboard filtering what it already holds agrees
//! with the daemon filtering what it sends.
//!
//! A trait rather than a type, so that the [`Query`] every stage already holds (a
//! subscription's, a rule's) is what matches: there is nothing to compile ahead.

use super::{words::words, Node, Query, RawValue};
use crate::LogEntry;

/// Deciding whether an entry matches a query, with the index's word and case rules.
pub trait Matches {
    /// Whether `entry` matches.
    fn matches(&self, entry: &LogEntry) -> bool;

    /// [`Matches::matches`] for many queries on one entry (alert rules): `words`
    /// caches the entry's message words between calls; start each entry with `None`.
    fn matches_cached(&self, entry: &LogEntry, words: &mut Option<Vec<String>>) -> bool;
}

impl Matches for Query {
    fn matches(&self, entry: &LogEntry) -> bool {
        let mut words = None;
        eval(self.root(), entry, &mut words)
    }

    fn matches_cached(&self, entry: &LogEntry, words: &mut Option<Vec<String>>) -> bool {
        eval(self.root(), entry, words)
    }
}

/// `words` holds the message's words by position, a too-long word as an empty string
/// that no query word (never empty) equals: the gap the index leaves, so a phrase does
/// not match across it here either.
fn eval(node: &Node, e: &LogEntry, cache: &mut Option<Vec<String>>) -> bool {
    match node {
        Node::All => true,
        Node::Words(q) => {
            let w = cache.get_or_insert_with(|| words(&e.message));
            if q.len() == 1 {
                w.iter().any(|t| *t == q[0])
            } else {
                w.windows(q.len()).any(|win| win == q.as_slice())
            }
        }
        Node::WordPrefix(p) => cache
            .get_or_insert_with(|| words(&e.message))
            .iter()
            .any(|t| !t.is_empty() && t.starts_with(p.as_str())),
        Node::Raw { field, values } => match field.value_of(e) {
            None => false,
            Some(v) => values.iter().any(|want| match want {
                RawValue::Exact(x) => *v == **x,
                RawValue::Prefix(p) => v.starts_with(p.as_str()),
            }),
        },
        Node::Regex(r) => r.is_match(&e.message),
        Node::Field { path, test } => e.fields.get(path.as_str()).is_some_and(|v| test.accepts(v)),
        Node::And(xs) => xs.iter().all(|x| eval(x, e, cache)),
        Node::Or(xs) => xs.iter().any(|x| eval(x, e, cache)),
        Node::Not(x) => !eval(x, e, cache),
    }
}
