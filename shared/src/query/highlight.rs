//! Which bytes of a message a query's words match, for a client to highlight.
//!
//! Computed from the parsed tree and the same word splitting the daemon matches with,
//! so a highlight marks exactly the words that made a line match: a phrase is marked
//! only where its words are adjacent (`blk_-160` marks `blk_-160`, and also
//! `blk 160`), `check*` marks whole words, and nothing under `NOT`/`-`, in a field
//! other than `message`, or inside an operator is marked.

use std::ops::Range;

use super::words::{searchable, spans};
use super::{Node, Query};

impl Query {
    /// Byte ranges of `message` matched by this query's positive message terms,
    /// sorted and disjoint (touching ranges merged). Empty when the query has none.
    pub fn highlights(&self, message: &str) -> Vec<Range<usize>> {
        let mut terms = Vec::new();
        positive_terms(&self.root, true, &mut terms);
        if terms.is_empty() {
            return Vec::new();
        }
        let at: Vec<Range<usize>> = spans(message).collect();
        // A too-long word is an empty string: a position no term matches.
        let words: Vec<String> = at
            .iter()
            .map(|r| searchable(&message[r.clone()]).unwrap_or_default())
            .collect();
        let mut marks = Vec::new();
        for t in terms {
            match t {
                Term::Words(q) => {
                    for (i, win) in words.windows(q.len()).enumerate() {
                        if win == q {
                            marks.push(at[i].start..at[i + q.len() - 1].end);
                        }
                    }
                }
                Term::Regex(r) => marks.extend(r.find_iter(message).filter(|m| !m.is_empty())),
                Term::Prefix(p) => {
                    for (i, w) in words.iter().enumerate() {
                        if !w.is_empty() && w.starts_with(p) {
                            marks.push(at[i].clone());
                        }
                    }
                }
            }
        }
        merge(marks)
    }
}

enum Term<'a> {
    Words(&'a [String]),
    Prefix(&'a str),
    Regex(&'a super::MessageRegex),
}

/// The message terms of `node` not under an odd number of negations.
fn positive_terms<'a>(node: &'a Node, positive: bool, out: &mut Vec<Term<'a>>) {
    match node {
        Node::Words(w) if positive && !w.is_empty() => out.push(Term::Words(w)),
        Node::WordPrefix(p) if positive && !p.is_empty() => out.push(Term::Prefix(p)),
        Node::Regex(r) if positive => out.push(Term::Regex(r)),
        Node::And(xs) | Node::Or(xs) => {
            for x in xs {
                positive_terms(x, positive, out);
            }
        }
        Node::Not(x) => positive_terms(x, !positive, out),
        _ => {}
    }
}

fn merge(mut marks: Vec<Range<usize>>) -> Vec<Range<usize>> {
    marks.sort_unstable_by_key(|r| (r.start, r.end));
    let mut out: Vec<Range<usize>> = Vec::with_capacity(marks.len());
    for m in marks {
        match out.last_mut() {
            Some(last) if m.start <= last.end => last.end = last.end.max(m.end),
            _ => out.push(m),
        }
    }
    out
}
