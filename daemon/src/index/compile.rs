//! The shared query tree ([`lookout_shared::query`]) compiled to tantivy: the index
//! side; [`crate::matcher`] is the live side.
//!
//! Message words become terms and phrases (already split by the parser with the
//! shared word rules, which the index's [`super::analyzer`] follows); raw values become exact terms, term sets, or a regex
//! automaton over the term dictionary for a prefix (`pod:checkout-*`).

use std::ops::Bound;

use lookout_shared::query::{Node, RawField, RawValue};
use tantivy::query::{
    AllQuery, BooleanQuery, EmptyQuery, Occur, PhraseQuery, Query as TQuery, RangeQuery,
    RegexQuery, TermQuery, TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption, Schema};
use tantivy::{DateTime, Term};

use super::schema::Fields;

/// The tantivy query for `node`, for buckets of the current format.
pub fn compile(node: &Node, f: &Fields) -> Box<dyn TQuery> {
    compile_for(node, f, &f.schema)
}

/// The tantivy query for `node` over a bucket of `schema`: a field the bucket's
/// (older) format does not have matches nothing there, since a term on it would
/// not run at all.
pub fn compile_for(node: &Node, f: &Fields, schema: &Schema) -> Box<dyn TQuery> {
    let known = schema.fields().count();
    compile_in(node, f, known)
}

fn compile_in(node: &Node, f: &Fields, known: usize) -> Box<dyn TQuery> {
    let compile = |n: &Node, f: &Fields| compile_in(n, f, known);
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
        Node::Raw { field: raw, values } => {
            let field = f.raw(*raw);
            if field.field_id() as usize >= known {
                return Box::new(EmptyQuery);
            }
            let mut exact = Vec::new();
            let mut clauses: Vec<(Occur, Box<dyn TQuery>)> = Vec::new();
            for v in values {
                match (raw, v) {
                    // A number field: the parser only lets decimal digits through.
                    (RawField::Restart, RawValue::Exact(x)) => match x.parse::<u64>() {
                        Ok(n) => exact.push(Term::from_field_u64(field, n)),
                        Err(_) => clauses.push((Occur::Should, Box::new(EmptyQuery))),
                    },
                    // The parser only lets 16-hex-digit ids through, no prefix.
                    (RawField::Pattern, RawValue::Exact(x)) => {
                        match x.parse::<lookout_shared::PatternId>() {
                            Ok(id) => exact.push(Term::from_field_u64(field, id.get())),
                            Err(_) => clauses.push((Occur::Should, Box::new(EmptyQuery))),
                        }
                    }
                    (RawField::Pattern, RawValue::Prefix(_)) => {
                        clauses.push((Occur::Should, Box::new(EmptyQuery)))
                    }
                    (_, RawValue::Exact(x)) => exact.push(Term::from_field_text(field, x)),
                    (_, RawValue::Prefix(p)) => clauses.push((Occur::Should, prefix(field, p))),
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
        Node::Field { path, test } => {
            if f.extracted.field_id() as usize >= known {
                return Box::new(EmptyQuery);
            }
            super::field_terms::compile(f.extracted, path, test)
        }
        // A pattern alone has no candidates but every message.
        Node::Regex(r) => {
            let inner: Box<dyn TQuery> = match r.required_words() {
                [] => Box::new(AllQuery),
                ws => Box::new(BooleanQuery::new(
                    ws.iter().map(|w| (Occur::Must, word_term(f, w))).collect(),
                )),
            };
            filter(inner, f, vec![r.clone()], Vec::new())
        }
        Node::And(xs) => {
            let mut clauses: Vec<(Occur, Box<dyn TQuery>)> = Vec::new();
            // Patterns (and negated ones) filter what the other clauses select.
            let (mut must, mut must_not) = (Vec::new(), Vec::new());
            for x in xs {
                match x {
                    Node::Regex(r) => must.push(r.clone()),
                    Node::Not(inner) => match &**inner {
                        Node::Regex(r) => must_not.push(r.clone()),
                        inner => clauses.push((Occur::MustNot, compile(inner, f))),
                    },
                    other => clauses.push((Occur::Must, compile(other, f))),
                }
            }
            // The words the patterns require narrow the candidates first.
            for w in must.iter().flat_map(|r| r.required_words()) {
                clauses.push((Occur::Must, word_term(f, w)));
            }
            if !clauses.iter().any(|(o, _)| *o == Occur::Must) {
                clauses.push((Occur::Must, Box::new(AllQuery)));
            }
            let q: Box<dyn TQuery> = Box::new(BooleanQuery::new(clauses));
            if must.is_empty() && must_not.is_empty() {
                q
            } else {
                filter(q, f, must, must_not)
            }
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

fn word_term(f: &Fields, w: &str) -> Box<dyn TQuery> {
    Box::new(TermQuery::new(
        Term::from_field_text(f.message, w),
        IndexRecordOption::Basic,
    ))
}

fn filter(
    inner: Box<dyn TQuery>,
    f: &Fields,
    must: Vec<lookout_shared::query::MessageRegex>,
    must_not: Vec<lookout_shared::query::MessageRegex>,
) -> Box<dyn TQuery> {
    Box::new(super::regex_filter::RegexFilter {
        inner,
        message: f.message,
        must,
        must_not,
    })
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
