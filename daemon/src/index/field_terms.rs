//! How extracted fields ([`lookout_shared::fields`]) become terms of the one `fields`
//! index field, and how a [`FieldTest`] becomes a query over them: an equivalent of
//! tantivy's JSON field whose number handling is ours (every number is one ordered
//! term, so `status:>=500` is one term-range scan whatever mix of integer and float
//! the sources wrote) and whose existence test needs no fast column.
//!
//! Terms, for a field at `path` (paths never contain control characters):
//! - `path \0`: the field is present (`path:*`), once per path;
//! - `path \1 text`: a text value, or `true`/`false` (`path:value`, `path:pre*`);
//! - `path \2 hex16`: a number, as 16 hex digits of its order-preserving bits, so
//!   that the terms sort as the numbers do (`path:>=500`, `path:[1 TO 2]`).
//!
//! Arrays give each scalar element's terms; null gives only presence.

use std::ops::Bound;

use lookout_shared::query::{FieldTest, Num};
use lookout_shared::Fields;
use serde_json::Value;
use tantivy::query::{
    BooleanQuery, EmptyQuery, InvertedIndexRangeQuery, Occur, Query as TQuery, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::Term;

const EXISTS: char = '\u{0}';
const TEXT: char = '\u{1}';
const NUMBER: char = '\u{2}';
/// The tag after [`NUMBER`]: an exclusive upper end for "every number of a path".
const PAST_NUMBERS: char = '\u{3}';

/// Every term an entry's fields give, for the document.
pub fn terms(fields: &Fields) -> Vec<String> {
    let mut out = Vec::with_capacity(fields.len() * 2);
    for (path, v) in fields {
        out.push(format!("{path}{EXISTS}"));
        match v {
            Value::Array(xs) => {
                for x in xs {
                    scalar(path, x, &mut out);
                }
            }
            x => scalar(path, x, &mut out),
        }
    }
    out
}

fn scalar(path: &str, v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(text(path, s)),
        Value::Bool(b) => out.push(text(path, if *b { "true" } else { "false" })),
        Value::Number(n) => {
            if let Some(x) = n.as_f64() {
                out.push(number(path, x));
            }
        }
        _ => {}
    }
}

fn text(path: &str, s: &str) -> String {
    format!("{path}{TEXT}{s}")
}

fn number(path: &str, x: f64) -> String {
    format!("{path}{NUMBER}{:016x}", sortable(x))
}

/// The bits of `x` as an unsigned number that orders as `x` does (negative floats
/// have their bits flipped, positive ones their sign bit set); `-0` is `0`.
fn sortable(x: f64) -> u64 {
    let x = if x == 0.0 { 0.0 } else { x };
    let b = x.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}

/// The query for `test` on the field at `path`.
pub fn compile(field: Field, path: &str, test: &FieldTest) -> Box<dyn TQuery> {
    let term = |s: String| Term::from_field_text(field, &s);
    let one = |s: String| -> Box<dyn TQuery> {
        Box::new(TermQuery::new(term(s), IndexRecordOption::Basic))
    };
    match test {
        FieldTest::Exists => one(format!("{path}{EXISTS}")),
        FieldTest::Eq { text: t, num } => match num {
            None => one(text(path, t)),
            Some(Num(x)) => Box::new(BooleanQuery::new(vec![
                (Occur::Should, one(text(path, t))),
                (Occur::Should, one(number(path, *x))),
            ])),
        },
        FieldTest::Prefix(p) => {
            // Every text term of the path starting with `p`: from `p` itself up to
            // `p` followed by the greatest character.
            Box::new(InvertedIndexRangeQuery::new(
                Bound::Included(term(text(path, p))),
                Bound::Included(term(format!("{}{}", text(path, p), char::MAX))),
            ))
        }
        FieldTest::Range { lo, hi } => {
            let lo = match lo {
                Bound::Included(Num(x)) => Bound::Included(term(number(path, *x))),
                Bound::Excluded(Num(x)) => Bound::Excluded(term(number(path, *x))),
                Bound::Unbounded => Bound::Included(term(format!("{path}{NUMBER}"))),
            };
            let hi = match hi {
                Bound::Included(Num(x)) => Bound::Included(term(number(path, *x))),
                Bound::Excluded(Num(x)) => Bound::Excluded(term(number(path, *x))),
                Bound::Unbounded => Bound::Excluded(term(format!("{path}{PAST_NUMBERS}"))),
            };
            if empty(&lo, &hi) {
                return Box::new(EmptyQuery);
            }
            Box::new(InvertedIndexRangeQuery::new(lo, hi))
        }
    }
}

/// A range whose low end is past its high end matches nothing (and tantivy's
/// dictionary range would not be asked for one).
fn empty(lo: &Bound<Term>, hi: &Bound<Term>) -> bool {
    match (lo, hi) {
        (Bound::Included(a), Bound::Included(b)) => {
            a.serialized_value_bytes() > b.serialized_value_bytes()
        }
        (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => {
            a.serialized_value_bytes() >= b.serialized_value_bytes()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sortable_orders_as_the_numbers_do() {
        let xs = [
            f64::MIN,
            -1e300,
            -2.5,
            -1.0,
            -1e-300,
            0.0,
            1e-300,
            0.5,
            1.0,
            2.0,
            499.0,
            500.0,
            1e300,
            f64::MAX,
        ];
        for w in xs.windows(2) {
            assert!(sortable(w[0]) < sortable(w[1]), "{} < {}", w[0], w[1]);
            assert!(number("p", w[0]) < number("p", w[1]));
        }
        assert_eq!(sortable(-0.0), sortable(0.0));
    }

    #[test]
    fn terms_of_each_kind() {
        let f: Fields = serde_json::from_str(r#"{"a":"x","b":[1,true],"c":null}"#).unwrap();
        let t = terms(&f);
        assert_eq!(
            t,
            vec![
                "a\u{0}".to_string(),
                "a\u{1}x".into(),
                "b\u{0}".into(),
                number("b", 1.0),
                "b\u{1}true".into(),
                "c\u{0}".into(),
            ]
        );
    }
}
