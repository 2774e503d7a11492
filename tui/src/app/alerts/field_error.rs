//! Where in the rule form an error belongs: from a validation error's field name
//! (`window`, `group_by`, `labels.team`, `annotations.summary`) and column in that
//! field's value to a form field and a column in the text as typed there.
//!
//! The form joins maps into one line (`team=payments, tier=1`), so an error about
//! `annotations.summary` at column 4 lands at the summary value's start + 4 in the
//! annotations field; the daemon's errors and the local check (the same
//! `lookout_shared::rules::validate`) map through here alike.

use lookout_shared::protocol::{ErrorBody, Position};

use super::editor::FIELDS;

/// An error placed on the form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The form field it is about; `None`: the rule as a whole (shown below the form).
    pub field: Option<usize>,
    pub message: String,
    /// Column (in characters) and width in the field's text as typed, for the caret.
    pub caret: Option<Position>,
}

impl FieldError {
    /// An error under form field `field`, without a caret.
    pub fn on(field: usize, message: impl Into<String>) -> FieldError {
        FieldError {
            field: Some(field),
            message: message.into(),
            caret: None,
        }
    }

    /// Places a validation error (`field`, `position` as the daemon and the shared
    /// validator report them) on a form whose fields hold `texts`.
    pub fn place(
        name: Option<&str>,
        message: &str,
        position: Option<Position>,
        texts: &[&str],
    ) -> FieldError {
        let unplaced = FieldError {
            field: None,
            message: message.to_string(),
            caret: None,
        };
        let Some(name) = name else {
            return unplaced;
        };
        let (base, key) = match name.split_once('.') {
            Some((b, k)) => (b, Some(k)),
            None => (name, None),
        };
        let Some(i) = field_index(base) else {
            return unplaced;
        };
        let text = texts.get(i).copied().unwrap_or("");
        let caret = match (key, base) {
            // `labels.KEY` / `annotations.KEY`: inside that entry's value.
            (Some(key), _) => {
                let sep = if base == "labels" { ',' } else { ';' };
                entry_value_start(text, sep, key).map(|start| shift(start, position))
            }
            (None, "group_by") => group_item(message)
                .and_then(|n| item_start(text, ',', n))
                .map(|(start, len)| Position {
                    column: start,
                    length: len.max(1),
                }),
            // Scalar fields are sent trimmed: columns count from the first non-blank.
            (None, _) => position.map(|p| shift(leading_blanks(text), Some(p))),
        };
        FieldError {
            field: Some(i),
            message: message.to_string(),
            caret,
        }
    }

    /// Places a daemon error body.
    pub fn of_body(e: &ErrorBody, texts: &[&str]) -> FieldError {
        FieldError::place(e.field.as_deref(), &e.message, e.position, texts)
    }
}

/// The form field a validation error's field name means (`for_` and `group_by`
/// as the wire spells them, `for` and `group by` as the form labels them).
pub fn field_index(name: &str) -> Option<usize> {
    let name = name.trim_end_matches('_').replace('_', " ");
    FIELDS.iter().position(|(f, _)| *f == name)
}

fn shift(start: usize, p: Option<Position>) -> Position {
    let p = p.unwrap_or(Position {
        column: 0,
        length: 0,
    });
    Position {
        column: start + p.column,
        length: p.length.max(1),
    }
}

fn leading_blanks(s: &str) -> usize {
    s.chars().take_while(|c| c.is_whitespace()).count()
}

/// `N` of a message starting `group_by[N]`.
fn group_item(message: &str) -> Option<usize> {
    let rest = message.strip_prefix("group_by[")?;
    rest.split_once(']')?.0.parse().ok()
}

/// The parts of `text` split at `sep`, each with its start column (characters).
fn parts(text: &str, sep: char) -> impl Iterator<Item = (usize, &str)> {
    let mut col = 0;
    text.split(sep).map(move |p| {
        let start = col;
        col += p.chars().count() + 1;
        (start, p)
    })
}

/// Column and width of the `n`th non-empty item of a list (blanks trimmed).
fn item_start(text: &str, sep: char, n: usize) -> Option<(usize, usize)> {
    parts(text, sep)
        .filter(|(_, p)| !p.trim().is_empty())
        .nth(n)
        .map(|(start, p)| (start + leading_blanks(p), p.trim().chars().count()))
}

/// Column where the value of `key=value` starts (blanks after `=` skipped), as the
/// form's `split_map` reads it.
fn entry_value_start(text: &str, sep: char, key: &str) -> Option<usize> {
    parts(text, sep).find_map(|(start, p)| {
        let (k, v) = p.split_once('=')?;
        (k.trim() == key).then(|| start + k.chars().count() + 1 + leading_blanks(v))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts() -> Vec<&'static str> {
        vec![
            "Payments",
            "  level:error AND",
            "5m",
            "> 3",
            "0s",
            "pod, nodes",
            "warning",
            "team=payments, tier=",
            "summary=ok; description=card {{ $labels.pod",
        ]
    }

    #[test]
    fn a_template_error_lands_in_its_annotation_with_a_caret() {
        let e = FieldError::place(
            Some("annotations.description"),
            "unclosed {{",
            Some(Position {
                column: 5,
                length: 2,
            }),
            &texts(),
        );
        assert_eq!(e.field, Some(8));
        let col = e.caret.unwrap().column;
        assert_eq!(&texts()[8][col..col + 2], "{{");
    }

    #[test]
    fn scalar_columns_count_past_leading_blanks() {
        let e = FieldError::place(
            Some("query"),
            "expected a term after AND",
            Some(Position {
                column: 15,
                length: 1,
            }),
            &texts(),
        );
        assert_eq!((e.field, e.caret.unwrap().column), (Some(1), 17));
    }

    #[test]
    fn group_by_items_labels_and_unknown_fields() {
        let e = FieldError::place(
            Some("group_by"),
            "group_by[1]: unknown field \"nodes\"",
            None,
            &texts(),
        );
        let c = e.caret.unwrap();
        assert_eq!((e.field, c.column, c.length), (Some(5), 5, 5));
        let e = FieldError::place(Some("labels.tier"), "empty", None, &texts());
        assert_eq!((e.field, e.caret.unwrap().column), (Some(7), 20));
        let e = FieldError::place(Some("bogus"), "unknown field", None, &texts());
        assert_eq!(e.field, None);
        assert_eq!(FieldError::place(None, "x", None, &texts()).field, None);
        assert_eq!(field_index("for_"), Some(4));
        assert_eq!(field_index("for"), Some(4));
        assert_eq!(field_index("group_by"), Some(5));
    }
}
