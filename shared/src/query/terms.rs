//! What one word, phrase or field value of a query becomes: message words are split
//! by [`super::words`] exactly as messages are, so a typed word that splits in
//! several (`blk_-160`, `10.0.0.1`) is a phrase; `level` and `stream` values are
//! normalised to the values entries carry.

use super::words::query_words;
use super::{err, Node, QueryError, RawField, RawValue};

/// `field:v` (or a value inside `field:IN [...]`); `field` is `None` for `message:`.
pub(super) fn value(
    field: Option<RawField>,
    v: &str,
    quoted: bool,
    col: usize,
    len: usize,
) -> Result<Node, QueryError> {
    let Some(field) = field else {
        return if quoted {
            phrase(v, col, len)
        } else {
            word(v, col, len)
        };
    };
    let value = if quoted {
        RawValue::Exact(v.to_string())
    } else {
        let star = v.find('*');
        match star {
            Some(i) if i + 1 == v.len() => RawValue::Prefix(v[..i].to_string()),
            Some(i) => {
                return Err(err(
                    "`*` is only allowed at the end of a value (a prefix)",
                    col + v[..i].chars().count(),
                    1,
                ))
            }
            None => RawValue::Exact(v.to_string()),
        }
    };
    let value = match field {
        RawField::Level | RawField::Stream => normalise_enum(field, value, col, len)?,
        RawField::Restart => restart(value, col, len)?,
        RawField::Pattern => pattern(value, col, len)?,
        _ => value,
    };
    Ok(Node::Raw {
        field,
        values: vec![value],
    })
}

/// `restart` is a container instance number (the N of `N.log`): digits, no prefix.
fn restart(v: RawValue, col: usize, len: usize) -> Result<RawValue, QueryError> {
    let n = match &v {
        RawValue::Exact(x) => x.parse::<u32>().ok(),
        RawValue::Prefix(_) => None,
    };
    match n {
        Some(n) => Ok(RawValue::Exact(n.to_string())),
        None => Err(err(
            "`restart:` takes a container instance number, like `restart:0` or `restart:2`",
            col,
            len,
        )),
    }
}

/// `pattern` is a pattern id, 16 hex digits (any case, stored lower-case); no
/// prefix: the index holds it as a number.
fn pattern(v: RawValue, col: usize, len: usize) -> Result<RawValue, QueryError> {
    let id = match &v {
        RawValue::Exact(x) => x.parse::<crate::PatternId>().ok(),
        RawValue::Prefix(_) => None,
    };
    match id {
        Some(id) => Ok(RawValue::Exact(id.to_string())),
        None => Err(err(
            "`pattern:` takes a pattern id of 16 hex digits, as `lookout patterns` lists them",
            col,
            len,
        )),
    }
}

/// `level` and `stream` have fixed lower-case values; accept common spellings.
fn normalise_enum(
    field: RawField,
    v: RawValue,
    col: usize,
    len: usize,
) -> Result<RawValue, QueryError> {
    match v {
        RawValue::Prefix(p) => Ok(RawValue::Prefix(p.to_lowercase())),
        RawValue::Exact(x) => {
            let x = x.to_lowercase();
            let canon = match (field, x.as_str()) {
                (RawField::Level, "error" | "err" | "fatal" | "critical") => "error",
                (RawField::Level, "warn" | "warning") => "warn",
                (RawField::Level, "info") => "info",
                (RawField::Level, "debug") => "debug",
                (RawField::Level, "trace") => "trace",
                (RawField::Stream, "stdout") => "stdout",
                (RawField::Stream, "stderr") => "stderr",
                (RawField::Level, _) => {
                    return Err(err(
                        format!("unknown level `{x}`: use error, warn, info, debug or trace"),
                        col,
                        len,
                    ))
                }
                _ => {
                    return Err(err(
                        format!("unknown stream `{x}`: use stdout or stderr"),
                        col,
                        len,
                    ))
                }
            };
            Ok(RawValue::Exact(canon.to_string()))
        }
    }
}

/// A bare word on `message`.
pub(super) fn word(w: &str, col: usize, len: usize) -> Result<Node, QueryError> {
    if w == "*" {
        return Ok(Node::All);
    }
    if let Some(i) = w.find('*') {
        if i + 1 != w.len() {
            return Err(err(
                "`*` is only allowed at the end of a word (a prefix)",
                col + w[..i].chars().count(),
                1,
            ));
        }
        let t = query_words(&w[..i]);
        // The prefix must be the tail of one word: `check*`, not `a-b*`.
        if t.len() != 1 || !w[..i].ends_with(|c: char| c.is_alphanumeric()) {
            return Err(err(
                "a prefix `*` applies to one word of letters and digits, like `check*`",
                col,
                len,
            ));
        }
        return Ok(Node::WordPrefix(t.into_iter().next().unwrap_or_default()));
    }
    phrase(w, col, len)
}

/// Words that must appear consecutively in `message`.
pub(super) fn phrase(s: &str, col: usize, len: usize) -> Result<Node, QueryError> {
    let t = query_words(s);
    if t.is_empty() {
        return Err(err(
            format!("`{s}` has no letters or digits to search for"),
            col,
            len,
        ));
    }
    Ok(Node::Words(t))
}
