//! klog's structured form, as every Kubernetes component writes it:
//! `I1201 10:00:00.123456    1 file.go:12] "msg" key="value" n=3`.

use serde_json::Value;

use super::logfmt::{pairs_into, quoted};
use super::Sink;
use crate::Fields;

/// The fields of a structured klog line: `msg` and its pairs; `None` when the line
/// is not klog or its message is not quoted (unstructured klog has no fields).
pub(super) fn extract(text: &str) -> Option<Fields> {
    let body = body(text)?;
    if !body.starts_with('"') {
        return None;
    }
    let mut i = 0;
    let msg = quoted(body, &mut i)?;
    let mut sink = Sink::default();
    sink.put("msg", Value::String(msg));
    pairs_into(&body[i..], &mut sink);
    Some(sink.into_fields())
}

/// The text after klog's `] ` header end, when `text` has a klog header.
fn body(text: &str) -> Option<&str> {
    let b = text.as_bytes();
    if b.len() < 22 || !matches!(b[0], b'I' | b'W' | b'E' | b'F') {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let header = digits(1..5)
        && b[5] == b' '
        && digits(6..8)
        && b[8] == b':'
        && digits(9..11)
        && b[11] == b':'
        && digits(12..14);
    if !header {
        return None;
    }
    // `] ` ends the header (thread id and file:line come before it); headers are
    // short, so look only near the start.
    let end = b[..b.len().min(200)].windows(2).position(|w| w == b"] ")?;
    // `] ` is ASCII, so `end + 2` is a character boundary.
    text.get(end + 2..)
}
