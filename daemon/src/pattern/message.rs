//! Which part of a line is mined.
//!
//! A container line arrives whole, application header (timestamp, level, thread,
//! logger) included: nothing strips headers per format, because every
//! application writes its own. Header fields that vary line to line are
//! numbers, dates and bracketed thread names, which [`super::token`] already
//! turns into parameters, so the header costs a few parameter tokens and the
//! rest groups as if it was not there.
//!
//! A JSON object line (pino, bunyan, zap, logrus, slog) is mined on its message
//! field (`msg`, `message`, then `MESSAGE`, `log`), so its varying keys, ordering
//! and braces don't split one event into many. A JSON line with no such string
//! field is mined whole.

use std::borrow::Cow;

/// The keys, in order of preference, that hold a JSON line's message.
pub const MESSAGE_KEYS: [&str; 4] = ["msg", "message", "MESSAGE", "log"];

/// The part of `line` to mine: its first `max_bytes` bytes (cut on a character
/// boundary) without trailing line ends and spaces, or a JSON object's message
/// field. Borrowed unless the JSON string had escapes.
pub fn message_part(line: &str, max_bytes: usize) -> Cow<'_, str> {
    let line = cut(line, max_bytes).trim_end();
    let body = line.trim_start();
    if body.starts_with('{') && body.ends_with('}') {
        if let Some(m) = json_message(body) {
            return m;
        }
    }
    Cow::Borrowed(line)
}

/// `s` cut to at most `max` bytes on a character boundary.
pub fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The message field of a JSON object, if it has one that is a string.
/// serde_json's own depth limit (128) bounds nesting in the skipped values; the
/// length is bounded by the caller's cut.
fn json_message(body: &str) -> Option<Cow<'_, str>> {
    #[derive(serde::Deserialize)]
    struct Fields<'a> {
        #[serde(borrow, default)]
        msg: Option<Cow<'a, str>>,
        #[serde(borrow, default)]
        message: Option<Cow<'a, str>>,
        #[serde(borrow, default, rename = "MESSAGE")]
        upper: Option<Cow<'a, str>>,
        #[serde(borrow, default)]
        log: Option<Cow<'a, str>>,
    }
    // A key of the wrong type (e.g. `"msg": 3`) fails the whole parse; then the
    // line is mined whole, which is still a stable grouping.
    let f: Fields<'_> = serde_json::from_str(body).ok()?;
    let m = f.msg.or(f.message).or(f.upper).or(f.log)?;
    Some(match m {
        Cow::Borrowed(s) => Cow::Borrowed(s.trim_end()),
        Cow::Owned(s) => Cow::Owned(s.trim_end().to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_are_mined_on_their_message() {
        let l = r#"{"level":30,"time":1,"msg":"user \"bob\" logged in","pid":7}"#;
        assert_eq!(message_part(l, 4096), "user \"bob\" logged in");
        let l = r#"{"ts":"x","message":"disk full","nested":{"a":[1,{"b":2}]}}"#;
        assert_eq!(message_part(l, 4096), "disk full");
        // No message field, or not an object: the whole line.
        assert_eq!(message_part(r#"{"a":1}"#, 4096), r#"{"a":1}"#);
        assert_eq!(message_part("{broken", 4096), "{broken");
    }

    #[test]
    fn lines_are_cut_on_character_boundaries_and_trimmed() {
        assert_eq!(message_part("héllo\r\n", 2), "h");
        assert_eq!(message_part("a b  \r\n", 4096), "a b");
        let deep = format!("{}1{}", "{\"a\":".repeat(200), "}".repeat(200));
        assert_eq!(message_part(&deep, 1 << 20), deep.as_str());
    }
}
