//! The shared query tree ([`lookout_shared::query`]) compiled to tantivy: the index
//! side; [`crate::matcher`] is the live side.
//!
//! Message words become terms and phrases (already split by the parser with the
//! shared word rules, which the index's [`super::analyzer`] follows); raw values become exact terms, term sets, or a regex
//! automaton over the term dictionary for a prefix (`pod:checkout-*`).

use std::ops::Bound;

use lookout_shared::query::{Node, RawValue};
use tantivy::query::{
    AllQuery, BooleanQuery, EmptyQuery, Occur, PhraseQuery, Query as TQuery, RangeQuery,
    RegexQuery, TermQuery, TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DateTime, Term};

use super::schema::Fields;

/// The tantivy query for `node`.
pub fn compile(node: &Node, f: &Fields) -> Box<dyn TQuery> {
    match node {
        Node::All => Box::new(AllQuery),
        Node::Words(ws) => {
            if ws.len() == 1 {
                Box::new(TermQuery::new(
                    Term::from_field_text(f.message, &ws[0]),
                    IndexRecordOption::Basic,
                ))
            } else {
                Box::new(PhraseQuery::new(
                    ws.iter()
                        .map(|w| Term::from_field_text(f.message, w))
                        .collect(),
                ))
            }
        }
        Node::WordPrefix(p) => prefix(f.message, p),
        Node::Raw { field, values } => {
            let field = f.raw(*field);
            let mut exact = Vec::new();
            let mut clauses: Vec<(Occur, Box<dyn TQuery>)> = Vec::new();
            for v in values {
                match v {
                    RawValue::Exact(x) => exact.push(Term::from_field_text(field, x)),
                    RawValue::Prefix(p) => clauses.push((Occur::Should, prefix(field, p))),
                }
            }
            match exact.len() {
                0 => {}
                1 => clauses.push((
                    Occur::Should,
                    Box::new(TermQuery::new(exact.remove(0), IndexRecordOption::Basic)),
                )),
                _ => clauses.push((Occur::Should, Box::new(TermSetQuery::new(exact)))),
            }
            if clauses.len() == 1 {
                clauses.remove(0).1
            } else {
                Box::new(BooleanQuery::new(clauses))
            }
        }
        Node::And(xs) => {
            let mut clauses: Vec<(Occur, Box<dyn TQuery>)> = Vec::new();
            for x in xs {
                match x {
                    Node::Not(inner) => clauses.push((Occur::MustNot, compile(inner, f))),
                    other => clauses.push((Occur::Must, compile(other, f))),
                }
            }
            if !clauses.iter().any(|(o, _)| *o == Occur::Must) {
                clauses.push((Occur::Must, Box::new(AllQuery)));
            }
            Box::new(BooleanQuery::new(clauses))
        }
        Node::Or(xs) => Box::new(BooleanQuery::new(
            xs.iter().map(|x| (Occur::Should, compile(x, f))).collect(),
        )),
        Node::Not(x) => Box::new(BooleanQuery::new(vec![
            (Occur::Must, Box::new(AllQuery) as Box<dyn TQuery>),
            (Occur::MustNot, compile(x, f)),
        ])),
    }
}

/// Terms of `field` starting with `p`.
fn prefix(field: Field, p: &str) -> Box<dyn TQuery> {
    let mut pattern = String::with_capacity(p.len() + 4);
    for c in p.chars() {
        if matches!(
            c,
            '\\' | '.'
                | '+'
                | '*'
                | '?'
                | '('
                | ')'
                | '|'
                | '['
                | ']'
                | '{'
                | '}'
                | '^'
                | '$'
                | '#'
                | '&'
                | '-'
                | '~'
        ) {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push_str("(.|\n)*");
    match RegexQuery::from_pattern(&pattern, field) {
        Ok(q) => Box::new(q),
        // Escaping makes every prefix a valid pattern; refuse quietly if not.
        Err(_) => Box::new(EmptyQuery),
    }
}

/// `query` restricted to `from <= ts < until` (nanoseconds), widened by a second on
/// each side: the caller checks the exact bounds on the fast field.
pub fn with_range(
    query: Box<dyn TQuery>,
    f: &Fields,
    from: Option<i64>,
    until: Option<i64>,
) -> Box<dyn TQuery> {
    if from.is_none() && until.is_none() {
        return query;
    }
    let lo = match from {
        Some(x) => Bound::Included(Term::from_field_date(
            f.ts,
            DateTime::from_timestamp_nanos(x.saturating_sub(1_000_000_000)),
        )),
        None => Bound::Unbounded,
    };
    let hi = match until {
        Some(x) => Bound::Excluded(Term::from_field_date(
            f.ts,
            DateTime::from_timestamp_nanos(x.saturating_add(1_000_000_000)),
        )),
        None => Bound::Unbounded,
    };
    Box::new(BooleanQuery::new(vec![
        (Occur::Must, query),
        (Occur::Must, Box::new(RangeQuery::new(lo, hi))),
    ]))
}
