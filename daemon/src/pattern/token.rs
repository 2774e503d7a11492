//! Splitting a message into tokens and deciding which tokens are parameters.
//!
//! The rules are about the shape of log text in general, never about one system:
//!
//! - Whitespace and `|` separate tokens (`|` is the field separator of many
//!   Android and Java headers, e.g. `ts|component|pid|message`).
//! - A bracketed group that starts a token (`[...]`, `(...)`, `{...}`, nested,
//!   at most [`MAX_SPAN`] bytes) is one token, spaces included: thread names like
//!   `[IPC Server handler 5 on 62270]`, timestamps like `[Sun Dec 04 04:47:44 2005]`,
//!   quantities like `(estimated size 21.4 KB, free 366.3 MB)`. Without this, the
//!   same event splits by the number of words inside the brackets.
//! - A quoted value (`"..."` or `'...'` starting a token) is one token and a
//!   parameter.
//! - A token holding an ASCII digit is a parameter: numbers, ids, IPs, ports,
//!   UUIDs, hex, durations, timestamps, versions, `blk_-69522…`.
//! - A path (`/…`, `./…`, `~/…`) or URL (`…://…`) is a parameter.
//! - A run of 8 or more hex letters (`deadbeefcafe`) is a parameter.
//! - A month or weekday name beside a parameter or another such name is a
//!   parameter: it is part of a date (`Dec 10 06:55:46`, `Sun Dec 04`).
//!
//! Everything else is a constant word; words that vary (user names, host names)
//! are found by the tree (`tree.rs`), not here.

/// The longest bracketed group or quoted value taken as one token. Longer ones
/// are split at whitespace like any text, which keeps tokenising linear in the
/// message length (each opening bracket looks at most this far ahead).
pub const MAX_SPAN: usize = 256;
/// Nesting depth at which a bracketed group stops being one token.
pub const MAX_NESTING: usize = 8;

/// The hash every parameter token carries, so that all parameters compare equal.
pub const PARAM: u64 = 0;

/// One token of a message: where it is, its hash, whether it is a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    /// Byte offset of the first byte in the message.
    pub start: u32,
    /// Byte offset one past the last byte.
    pub end: u32,
    /// FNV-1a of the bytes for a constant, [`PARAM`] for a parameter.
    pub hash: u64,
}

impl Token {
    /// Whether the token is a parameter.
    pub fn is_param(&self) -> bool {
        self.hash == PARAM
    }

    /// The token's text in the message it came from.
    pub fn text<'a>(&self, message: &'a str) -> &'a str {
        message
            .get(self.start as usize..self.end as usize)
            .unwrap_or("")
    }
}

/// FNV-1a, 64 bit: stable across builds and platforms, so hashes (and the
/// pattern ids made from them) can be persisted. Never returns [`PARAM`].
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    if h == PARAM {
        1
    } else {
        h
    }
}

fn is_sep(b: u8) -> bool {
    b.is_ascii_whitespace() || b == b'|'
}

fn closer(b: u8) -> Option<u8> {
    match b {
        b'[' => Some(b']'),
        b'(' => Some(b')'),
        b'{' => Some(b'}'),
        _ => None,
    }
}

/// End (exclusive) of the bracketed group opening at `start`, if it closes
/// within [`MAX_SPAN`] bytes and [`MAX_NESTING`] levels.
fn bracket_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut stack = [0u8; MAX_NESTING];
    let mut depth = 0usize;
    let limit = bytes.len().min(start + MAX_SPAN);
    let mut i = start;
    while i < limit {
        let b = bytes[i];
        if let Some(c) = closer(b) {
            if depth == MAX_NESTING {
                return None;
            }
            stack[depth] = c;
            depth += 1;
        } else if matches!(b, b']' | b')' | b'}') {
            if depth == 0 || stack[depth - 1] != b {
                return None;
            }
            depth -= 1;
            if depth == 0 {
                return Some(i + 1);
            }
        }
        i += 1;
    }
    None
}

/// End (exclusive) of the quoted value opening at `start`: the same quote,
/// followed by a separator, punctuation or the end, within [`MAX_SPAN`] bytes.
fn quote_end(bytes: &[u8], start: usize) -> Option<usize> {
    let q = bytes[start];
    let limit = bytes.len().min(start + MAX_SPAN);
    let mut i = start + 1;
    while i < limit {
        if bytes[i] == q {
            let next = bytes.get(i + 1).copied();
            match next {
                None => return Some(i + 1),
                Some(n) if is_sep(n) || b",.;:)]}".contains(&n) => return Some(i + 1),
                _ => {}
            }
        }
        i += 1;
    }
    None
}

/// Length of the key (separator included) of a `key=value` or `key:value`
/// token whose value is a parameter: `uid=0`, `sessionid:0x14ede63a5a70000`.
/// Such a token stays one token, shown as `key=<*>`, so the key still tells
/// events apart. The key is a word: a letter, then letters, `_`, `.`, `-`.
pub fn key_len(t: &[u8]) -> Option<usize> {
    let k = t.iter().position(|&b| b == b'=' || b == b':')?;
    let key = &t[..k];
    let ok = key.first().is_some_and(u8::is_ascii_alphabetic)
        && key
            .iter()
            .all(|&b| b.is_ascii_alphabetic() || matches!(b, b'_' | b'.' | b'-'));
    (ok && k + 1 < t.len() && !t[k + 1..].starts_with(b"//")).then_some(k + 1)
}

/// The hash of a `key=<*>` token: that of its text as shown, so a template
/// read back from its text hashes the same.
pub fn key_hash(key: &[u8]) -> u64 {
    let mut text = [0u8; 64];
    if key.len() + 3 <= text.len() {
        text[..key.len()].copy_from_slice(key);
        text[key.len()..key.len() + 3].copy_from_slice(b"<*>");
        fnv1a(&text[..key.len() + 3])
    } else {
        let mut v = key.to_vec();
        v.extend_from_slice(b"<*>");
        fnv1a(&v)
    }
}

/// The text a token shows in a template: itself, `key=<*>`, or empty for a
/// parameter.
pub fn shown(t: &Token, message: &str) -> String {
    if t.is_param() {
        return String::new();
    }
    let text = t.text(message);
    if t.hash != fnv1a(text.as_bytes()) {
        if let Some(k) = key_len(text.as_bytes()) {
            return format!("{}<*>", &text[..k]);
        }
    }
    text.to_string()
}

fn looks_param(t: &[u8]) -> bool {
    if t.iter().any(u8::is_ascii_digit) {
        return true;
    }
    if t.starts_with(b"/") && t.len() > 1
        || t.starts_with(b"./")
        || t.starts_with(b"~/")
        || memchr::memmem::find(t, b"://").is_some()
    {
        return true;
    }
    t.len() >= 8 && t.iter().all(u8::is_ascii_hexdigit)
}

const CALENDAR: [&[u8]; 19] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
    b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun",
];

/// A month or weekday name, abbreviated or in full, with an optional `[` or
/// trailing `,`: `Dec`, `[Sun`, `Monday,`.
fn is_calendar(t: &[u8]) -> bool {
    let t = t.strip_prefix(b"[").unwrap_or(t);
    let t = t.strip_suffix(b",").unwrap_or(t);
    t.len() >= 3
        && t.len() <= 9
        && CALENDAR.iter().any(|c| t.starts_with(c))
        && t[3..].iter().all(u8::is_ascii_lowercase)
}

/// Splits `message` into at most `max_tokens` tokens, clearing `out` first. When
/// the message has more, the last token is the whole rest, as a parameter: long
/// messages are told apart by their first `max_tokens - 1` tokens.
pub fn tokenise(message: &str, max_tokens: usize, out: &mut Vec<Token>) {
    out.clear();
    let bytes = message.as_bytes();
    let n = bytes.len();
    let mut i = 0usize;
    while i < n {
        while i < n && is_sep(bytes[i]) {
            i += 1;
        }
        if i >= n {
            break;
        }
        let start = i;
        if out.len() + 1 >= max_tokens.max(1) {
            let mut end = n;
            while end > start && is_sep(bytes[end - 1]) {
                end -= 1;
            }
            out.push(span(start, end, PARAM));
            return;
        }
        let mut quoted = false;
        let b = bytes[i];
        if closer(b).is_some() {
            if let Some(e) = bracket_end(bytes, i) {
                i = e;
            }
        } else if b == b'"' || b == b'\'' {
            if let Some(e) = quote_end(bytes, i) {
                i = e;
                quoted = true;
            }
        }
        while i < n && !is_sep(bytes[i]) {
            i += 1;
        }
        let t = &bytes[start..i];
        let hash = if quoted {
            PARAM
        } else if looks_param(t) {
            match key_len(t) {
                Some(k) => key_hash(&t[..k]),
                None => PARAM,
            }
        } else {
            fnv1a(t)
        };
        out.push(span(start, i, hash));
    }
    mark_dates(bytes, out);
}

fn span(start: usize, end: usize, hash: u64) -> Token {
    // Messages are cut to far below 4 GiB before they get here.
    Token {
        start: u32::try_from(start).unwrap_or(u32::MAX),
        end: u32::try_from(end).unwrap_or(u32::MAX),
        hash,
    }
}

/// Month and weekday names next to a parameter (or each other) become
/// parameters. Two passes so that `Sun Dec 04` masks both names.
fn mark_dates(bytes: &[u8], tokens: &mut [Token]) {
    for _ in 0..2 {
        for k in 0..tokens.len() {
            let t = tokens[k];
            if t.is_param() {
                continue;
            }
            let text = &bytes[t.start as usize..t.end as usize];
            if !is_calendar(text) {
                continue;
            }
            let near = |j: usize| tokens.get(j).is_some_and(Token::is_param);
            if near(k + 1) || (k > 0 && near(k - 1)) {
                tokens[k].hash = PARAM;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(message: &str) -> Vec<String> {
        let mut out = Vec::new();
        tokenise(message, 64, &mut out);
        out.iter()
            .map(|t| {
                if t.is_param() {
                    "<*>".to_string()
                } else {
                    shown(t, message)
                }
            })
            .collect()
    }

    #[test]
    fn numbers_ips_paths_quotes_and_dates_are_parameters() {
        assert_eq!(
            shape("Invalid user webmaster from 173.234.31.186"),
            ["Invalid", "user", "webmaster", "from", "<*>"]
        );
        assert_eq!(
            shape("Dec 10 06:55:46 LabSZ sshd[24200]: ok /etc/x.conf 'a b' done"),
            ["<*>", "<*>", "<*>", "LabSZ", "<*>", "ok", "<*>", "<*>", "done"]
        );
        assert_eq!(
            shape("[Sun Dec 04 04:47:44 2005] [notice] up"),
            ["<*>", "[notice]", "up"]
        );
        assert_eq!(shape("May I ask"), ["May", "I", "ask"]);
        assert_eq!(shape("id deadbeefcafe"), ["id", "<*>"]);
        assert_eq!(
            shape("uid=0 user=root s:0x1f a:b"),
            ["uid=<*>", "user=root", "s:<*>", "a:b"]
        );
    }

    #[test]
    fn brackets_group_words_and_pipes_separate() {
        assert_eq!(
            shape("x [AsyncDispatcher event handler] y (a (b) c), z"),
            [
                "x",
                "[AsyncDispatcher event handler]",
                "y",
                "(a (b) c),",
                "z"
            ]
        );
        assert_eq!(shape("a|B|c d"), ["a", "B", "c", "d"]);
        // Unbalanced or mismatched brackets are plain text.
        assert_eq!(shape("[a (b] c"), ["[a", "(b]", "c"]);
    }

    #[test]
    fn token_count_is_capped_with_the_rest_as_one_parameter() {
        let mut out = Vec::new();
        tokenise("a b c d e f", 3, &mut out);
        assert_eq!(out.len(), 3);
        assert!(out[2].is_param());
        assert_eq!(out[2].text("a b c d e f"), "c d e f");
    }

    #[test]
    fn deep_or_long_brackets_stay_linear_and_bounded() {
        let deep = "[".repeat(100_000);
        let mut out = Vec::new();
        tokenise(&deep, 64, &mut out);
        assert_eq!(out.len(), 1);
        let many = "[ ".repeat(50_000);
        tokenise(&many, 64, &mut out);
        assert_eq!(out.len(), 64);
    }
}
