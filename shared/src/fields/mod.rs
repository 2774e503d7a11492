//! Structured fields read off a message at ingest: JSON objects, logfmt, and klog's
//! structured form. The message itself is never changed; fields sit beside it so
//! queries can compare them (`status:>=500`, `http.request.method:POST`).
//!
//! CONTRACT (the index and the live matcher both rely on it, so a tail and a search
//! select the same events):
//! - [`extract`] is a pure function of the message text: the index re-derives an
//!   entry's fields from the stored message instead of storing them twice.
//! - Keys are dotted paths (`http.request.method`), at most [`MAX_KEY`] bytes, with no
//!   control characters (the index uses control characters as separators).
//! - Values are strings, numbers, booleans, null, or arrays of those; a string over
//!   [`MAX_VALUE`] bytes is left out (it stays searchable in the message).
//! - At most [`MAX_FIELDS`] fields per message; past that the rest are left out.
//!
//! Which form a message is read as: a message that is a JSON object is JSON (and
//! nothing else); a klog header followed by a quoted message is klog; otherwise a
//! message with at least two `key=value` pairs is logfmt (one pair in prose, like
//! `retrying in 5s attempt=2`, is too weak a sign). Of a multi-line event only the
//! first line is read as klog or logfmt.

mod json;
mod klog;
mod logfmt;

use serde_json::Value;

use crate::Fields;

/// Most fields kept from one message: a line with thousands of keys would otherwise
/// cost thousands of index terms (and memory in every live ring) for one event.
pub const MAX_FIELDS: usize = 64;
/// Longest key kept, in bytes.
pub const MAX_KEY: usize = 128;
/// Longest string value kept, in bytes; longer values (a stack trace in a JSON
/// `stack` field) stay searchable as message words.
pub const MAX_VALUE: usize = 1024;
/// How deeply nested JSON objects become dotted paths; deeper objects are kept as
/// their compact JSON text under the path reached. serde_json itself refuses input
/// nested past 128 levels, so no recursion here goes deeper than that either.
pub const MAX_DEPTH: usize = 8;

/// The fields a message carries (empty when it has none).
pub fn extract(message: &str) -> Fields {
    let trimmed = message.trim();
    if trimmed.starts_with('{') && trimmed.ends_with('}') {
        // A JSON-looking line that does not parse has no fields; it is not logfmt.
        return json::extract(trimmed).unwrap_or_default();
    }
    // A multi-line event's pairs are its first line's: continuation lines (stack
    // frames) are not logfmt.
    let first = message.split('\n').next().unwrap_or(message);
    if let Some(f) = klog::extract(first) {
        return f;
    }
    logfmt::extract(first).unwrap_or_default()
}

/// Collects fields under the caps every form shares.
#[derive(Default)]
pub(crate) struct Sink {
    fields: Fields,
}

impl Sink {
    /// Adds `key = value` unless the key is unusable, the value too long, the key
    /// already present (the first occurrence wins), or the sink full.
    pub(crate) fn put(&mut self, key: &str, value: Value) {
        if self.fields.len() >= MAX_FIELDS || !usable_key(key) || self.fields.contains_key(key) {
            return;
        }
        let value = match value {
            Value::String(s) if s.len() > MAX_VALUE => return,
            Value::Array(xs) => {
                let xs: Vec<Value> = xs
                    .into_iter()
                    .filter(|x| match x {
                        Value::String(s) => s.len() <= MAX_VALUE,
                        Value::Array(_) | Value::Object(_) => false,
                        _ => true,
                    })
                    .collect();
                Value::Array(xs)
            }
            Value::Object(_) => return,
            v => v,
        };
        self.fields.insert(key.to_string(), value);
    }

    pub(crate) fn is_full(&self) -> bool {
        self.fields.len() >= MAX_FIELDS
    }

    pub(crate) fn into_fields(self) -> Fields {
        self.fields
    }
}

fn usable_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= MAX_KEY && !key.chars().any(char::is_control)
}

/// A logfmt or klog value as a number when it is written as one (`250`, `-3`,
/// `0.25`, `1e3`), else as text: those forms have no types of their own, and
/// `latency_ms:>250` should work on them as on JSON numbers.
pub(crate) fn typed(text: &str) -> Value {
    if looks_numeric(text) {
        if let Ok(n) = text.parse::<i64>() {
            return Value::from(n);
        }
        if let Ok(n) = text.parse::<u64>() {
            return Value::from(n);
        }
        if let Some(n) = text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
        {
            return Value::Number(n);
        }
    }
    Value::String(text.to_string())
}

/// `-?digits(.digits)?([eE][+-]?digits)?`: what JSON calls a number. `0x1f`, `1_000`,
/// `inf`, `NaN` and `.5` stay text.
fn looks_numeric(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if b.first() == Some(&b'-') {
        i = 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start
    };
    if !digits(&mut i) {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod tests;
