//! logfmt: `key=value key2="quoted \"value\"" flag=`. Words that are not pairs (a
//! leading timestamp, prose) are skipped.

use super::{typed, Sink};
use crate::Fields;

/// The pairs of a logfmt message, or `None` when it has fewer than two.
pub(super) fn extract(text: &str) -> Option<Fields> {
    let mut sink = Sink::default();
    let pairs = pairs_into(text, &mut sink);
    (pairs >= 2).then(|| sink.into_fields())
}

/// Adds every `key=value` pair of `text` to `sink`; returns how many there were.
pub(super) fn pairs_into(text: &str, sink: &mut Sink) -> usize {
    let b = text.as_bytes();
    let mut i = 0;
    let mut pairs = 0;
    while i < b.len() {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        while i < b.len() && is_key_byte(b[i]) {
            i += 1;
        }
        let key_ok = i > start && is_key_start(b[start]);
        if !(key_ok && i < b.len() && b[i] == b'=') {
            // Not a pair: skip this word (a quoted run is skipped whole).
            skip_word(b, &mut i);
            continue;
        }
        let key = &text[start..i];
        i += 1;
        let value = if i < b.len() && b[i] == b'"' {
            match quoted(text, &mut i) {
                Some(v) => serde_json::Value::String(v),
                // An unclosed quote: the rest of the line is not pairs.
                None => break,
            }
        } else {
            let vs = i;
            while i < b.len() && !b[i].is_ascii_whitespace() {
                i += 1;
            }
            typed(&text[vs..i])
        };
        sink.put(key, value);
        pairs += 1;
    }
    pairs
}

fn is_key_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b'@'
}

fn is_key_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-' | b'@' | b'/')
}

fn skip_word(b: &[u8], i: &mut usize) {
    let mut in_quote = false;
    while *i < b.len() {
        match b[*i] {
            b'"' => in_quote = !in_quote,
            b'\\' if in_quote => *i += 1,
            c if c.is_ascii_whitespace() && !in_quote => break,
            _ => {}
        }
        *i += 1;
    }
}

/// A `"…"` value at `*i` with `\"`, `\\`, `\n` and `\t` escapes; `*i` ends past the
/// closing quote. `None` when there is none.
pub(super) fn quoted(text: &str, i: &mut usize) -> Option<String> {
    let b = text.as_bytes();
    let mut out = String::new();
    let mut j = *i + 1;
    let mut run = j;
    while j < b.len() {
        match b[j] {
            b'"' => {
                out.push_str(&text[run..j]);
                *i = j + 1;
                return Some(out);
            }
            b'\\' if j + 1 < b.len() => {
                let esc = match b[j + 1] {
                    b'n' => Some('\n'),
                    b't' => Some('\t'),
                    b'"' => Some('"'),
                    b'\\' => Some('\\'),
                    _ => None,
                };
                if let Some(c) = esc {
                    out.push_str(&text[run..j]);
                    out.push(c);
                    j += 2;
                    run = j;
                } else {
                    // Not an escape we know: the backslash stays as written.
                    j += 1;
                }
            }
            _ => j += 1,
        }
    }
    None
}
