//! Severity detection on a line's text, at ingest.
//!
//! A line gets a [`Level`] only when it says so in one of the forms programs really
//! write: an upper-case keyword (`ERROR`, `WARN`, `WARNING`, `FATAL`, `CRITICAL`, …),
//! a keyed value (`level=error`, `"level":"error"`, `severity: WARN`), a bracketed
//! word (`[warn]`, `<error>`), or a klog header (`E1125 10:00:00.000000 …`).
//! A lower-case word in prose (`connection error`) is not a level: guessing there
//! would make `level:error` useless.
//!
//! Only the start of the line is scanned (levels live in the header); JSON lines are
//! scanned further because the level key can come after a long message field.

use lookout_shared::{Fields, Level};
use serde_json::Value;

/// How far into a plain line the level is looked for.
const PLAIN_SCAN: usize = 256;
/// How far into a JSON line (`{…`) the level key is looked for.
const JSON_SCAN: usize = 4096;

/// Keys whose value is a level, in the order they are believed (ECS's `log.level`
/// and Google Cloud's `severity` are as common as `level` in JSON logs).
const LEVEL_KEYS: [&str; 6] = [
    "level",
    "severity",
    "lvl",
    "log.level",
    "loglevel",
    "levelname",
];

/// An event's level: from an extracted level field when it has one (`level`,
/// `severity`, `lvl`, `log.level`, …, as a word or as pino/bunyan's numbers), else
/// from the text of its first line ([`detect`]): the level of a multi-line event
/// is its first line's.
pub fn of(message: &str, fields: &Fields) -> Option<Level> {
    for k in LEVEL_KEYS {
        if let Some(v) = fields.get(k) {
            if let Some(l) = from_value(v) {
                return Some(l);
            }
        }
    }
    detect(message)
}

/// A level field's value: a keyword (`"warn"`, `"WARNING"`, `"E"`) or a number.
/// Numbers of 10 and more are pino/bunyan's (10 trace, 20 debug, 30 info, 40 warn,
/// 50 error, 60 fatal); 0 to 7 are syslog severities (0–3 error, 4 warn, 5–6 info,
/// 7 debug), as journald and many JSON loggers carry them.
fn from_value(v: &Value) -> Option<Level> {
    match v {
        Value::String(s) => {
            let b = s.trim().as_bytes();
            match b {
                [c] => single_letter(*c),
                _ => keyword(b),
            }
        }
        Value::Number(n) => {
            let x = n.as_f64()?;
            Some(match x {
                x if x >= 50.0 => Level::Error,
                x if x >= 40.0 => Level::Warn,
                x if x >= 30.0 => Level::Info,
                x if x >= 20.0 => Level::Debug,
                x if x >= 10.0 => Level::Trace,
                x if (0.0..=3.0).contains(&x) => Level::Error,
                4.0 => Level::Warn,
                x if x == 5.0 || x == 6.0 => Level::Info,
                7.0 => Level::Debug,
                _ => return None,
            })
        }
        _ => None,
    }
}

/// klog's and Android logcat's one-letter levels (`E`, `W`, `I`, `D`, `V`, `F`).
fn single_letter(c: u8) -> Option<Level> {
    Some(match c.to_ascii_uppercase() {
        b'E' | b'F' | b'A' => Level::Error,
        b'W' => Level::Warn,
        b'I' => Level::Info,
        b'D' => Level::Debug,
        b'V' | b'T' => Level::Trace,
        _ => return None,
    })
}

/// The level a line states, if any.
pub fn detect(message: &str) -> Option<Level> {
    // A multi-line event's level is its first line's: a frame further down
    // (`at ….ErrorHandler.handle`) must not decide it.
    // Only the scanned prefix is searched (a 1 MiB line is not walked).
    let head = &message.as_bytes()[..message.len().min(JSON_SCAN)];
    let message = match memchr::memchr(b'\n', head) {
        Some(i) => &message[..i],
        None => message,
    };
    if let Some(l) = klog(message.as_bytes()).or_else(|| logcat(message.as_bytes())) {
        return Some(l);
    }
    let trimmed = message.trim_start();
    let limit = if trimmed.starts_with('{') {
        JSON_SCAN
    } else {
        PLAIN_SCAN
    };
    let bytes = message.as_bytes();
    let end = bytes.len().min(limit);
    let mut i = 0;
    while i < end {
        if !bytes[i].is_ascii_alphabetic() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
            i += 1;
        }
        // Only whole words: not preceded or followed by an identifier character.
        if start > 0 && is_ident(bytes[start - 1]) {
            continue;
        }
        if i < bytes.len() && bytes[i] == b'_' {
            continue;
        }
        let word = &bytes[start..i];
        let Some(level) = keyword(word) else { continue };
        if word.iter().all(|b| b.is_ascii_uppercase()) && word.len() > 1 {
            return Some(level);
        }
        if bracketed(bytes, start, i) || keyed(&bytes[..start]) {
            return Some(level);
        }
    }
    None
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Severity keywords, case-insensitively.
fn keyword(word: &[u8]) -> Option<Level> {
    if word.len() > 9 {
        return None;
    }
    let mut buf = [0u8; 9];
    let lower = &mut buf[..word.len()];
    lower.copy_from_slice(word);
    lower.make_ascii_lowercase();
    Some(match &*lower {
        b"error" | b"err" | b"fatal" | b"critical" | b"crit" | b"panic" | b"severe" | b"emerg"
        | b"emergency" | b"alert" => Level::Error,
        b"warn" | b"warning" => Level::Warn,
        b"info" | b"notice" | b"information" => Level::Info,
        b"debug" | b"dbug" => Level::Debug,
        b"trace" | b"finest" | b"finer" => Level::Trace,
        _ => return None,
    })
}

/// `[warn]`, `<error>`, `(info)`: a keyword alone inside brackets.
fn bracketed(bytes: &[u8], start: usize, end: usize) -> bool {
    if start == 0 || end >= bytes.len() {
        return false;
    }
    matches!(
        (bytes[start - 1], bytes[end]),
        (b'[', b']') | (b'<', b'>') | (b'(', b')')
    )
}

/// The text before a keyword ends with a level key: `level=`, `"level":"`,
/// `severity: `, `lvl=`, `"log.level": "`.
fn keyed(before: &[u8]) -> bool {
    let mut j = before.len();
    // Skip an opening quote and spaces before the value.
    while j > 0 && matches!(before[j - 1], b'"' | b'\'' | b' ') {
        j -= 1;
    }
    if j == 0 || !matches!(before[j - 1], b'=' | b':') {
        return false;
    }
    j -= 1;
    while j > 0 && matches!(before[j - 1], b'"' | b'\'' | b' ') {
        j -= 1;
    }
    let key_end = j;
    while j > 0 && (is_ident(before[j - 1]) || matches!(before[j - 1], b'.' | b'@' | b'-')) {
        j -= 1;
    }
    let key = before[j..key_end].to_ascii_lowercase();
    key.ends_with(b"level")
        || key.ends_with(b"lvl")
        || key.ends_with(b"severity")
        || key == b"loglevel"
}

/// Android logcat's forms: `brief` (`E/Tag( 1234): msg`) and `threadtime`
/// (`12-01 10:00:00.123  1234  5678 E Tag: msg`).
fn logcat(b: &[u8]) -> Option<Level> {
    if b.len() >= 3 && b[1] == b'/' && b"VDIWEFA".contains(&b[0]) {
        let tag_end = b.iter().take(128).position(|&c| c == b'(' || c == b':')?;
        return (tag_end > 2).then(|| single_letter(b[0])).flatten();
    }
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|x| x.iter().all(u8::is_ascii_digit));
    let stamp = b.len() > 20
        && digits(0..2)
        && b[2] == b'-'
        && digits(3..5)
        && b[5] == b' '
        && digits(6..8)
        && b[8] == b':'
        && digits(9..11)
        && b[11] == b':'
        && digits(12..14)
        && b[14] == b'.'
        && digits(15..18);
    if !stamp {
        return None;
    }
    // Then pid and tid, each a number after spaces, then the letter alone.
    let mut i = 18;
    for _ in 0..2 {
        let spaces = i;
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start || spaces == start {
            return None;
        }
    }
    match b.get(i..i + 3) {
        Some([b' ', c, b' ']) if b"VDIWEFA".contains(c) => single_letter(*c),
        _ => None,
    }
}

/// klog's header: `Lmmdd hh:mm:ss.uuuuuu …` with L one of I, W, E, F.
fn klog(b: &[u8]) -> Option<Level> {
    if b.len() < 15 {
        return None;
    }
    let level = match b[0] {
        b'I' => Level::Info,
        b'W' => Level::Warn,
        b'E' | b'F' => Level::Error,
        _ => return None,
    };
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if digits(1..5)
        && b[5] == b' '
        && digits(6..8)
        && b[8] == b':'
        && digits(9..11)
        && b[11] == b':'
    {
        Some(level)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multi_line_event_has_its_first_line_level() {
        assert_eq!(
            detect("INFO retrying\n\tat com.x.ErrorHandler.handle(ErrorHandler.java:3)"),
            Some(Level::Info)
        );
        assert_eq!(detect("request failed\nERROR below"), None);
    }

    #[test]
    fn common_forms() {
        let cases: &[(&str, Option<Level>)] = &[
            ("ERROR something broke", Some(Level::Error)),
            ("2024-01-01 12:00:00 WARN disk low", Some(Level::Warn)),
            ("WARNING: deprecated", Some(Level::Warn)),
            ("level=error msg=\"boom\"", Some(Level::Error)),
            ("ts=1 lvl=debug msg=x", Some(Level::Debug)),
            (r#"{"msg":"x","level":"error"}"#, Some(Level::Error)),
            (r#"{"severity": "WARNING", "msg":"x"}"#, Some(Level::Warn)),
            (
                "E1125 10:00:00.123456       1 reflector.go:1] failed",
                Some(Level::Error),
            ),
            (
                "I1125 10:00:00.123456       1 main.go:1] started",
                Some(Level::Info),
            ),
            ("W0101 00:00:00.000000 1 x.go:1] hmm", Some(Level::Warn)),
            ("F0101 00:00:00.000000 1 x.go:1] dead", Some(Level::Error)),
            ("[WARN] cache miss", Some(Level::Warn)),
            ("[warn] cache miss", Some(Level::Warn)),
            ("<error> x", Some(Level::Error)),
            ("FATAL out of memory", Some(Level::Error)),
            ("CRITICAL: pager", Some(Level::Error)),
            ("TRACE enter fn", Some(Level::Trace)),
            ("connection error, retrying", None),
            ("the information you asked", None),
            ("ERRORS_TOTAL=3", None),
            ("MY_ERROR happened", None),
            ("plain line", None),
            ("", None),
            ("Internal server error occurred while processing", None),
        ];
        for (line, want) in cases {
            assert_eq!(detect(line), *want, "{line}");
        }
    }

    #[test]
    fn logcat_letters() {
        assert_eq!(
            detect("E/ActivityManager( 1234): ANR in x"),
            Some(Level::Error)
        );
        assert_eq!(detect("W/Tag: y"), Some(Level::Warn));
        assert_eq!(
            detect("12-01 10:00:00.123  1234  5678 D Tag: z"),
            Some(Level::Debug)
        );
        assert_eq!(
            detect("12-01 10:00:00.123  1234  5678 V Tag: z"),
            Some(Level::Trace)
        );
        assert_eq!(detect("12-01 10:00:00.123  1234  5678 X Tag: z"), None);
        assert_eq!(detect("a/b: c"), None);
    }

    fn fields(json: &str) -> Fields {
        lookout_shared::fields::extract(json)
    }

    #[test]
    fn levels_from_fields() {
        let cases: &[(&str, Option<Level>)] = &[
            (r#"{"level":30,"msg":"pino info"}"#, Some(Level::Info)),
            (
                r#"{"level":50,"msg":"ERROR in text but pino says"}"#,
                Some(Level::Error),
            ),
            (r#"{"level":10,"msg":"x"}"#, Some(Level::Trace)),
            (r#"{"level":60,"msg":"x"}"#, Some(Level::Error)),
            (r#"{"level":40,"msg":"x"}"#, Some(Level::Warn)),
            (r#"{"severity":"WARNING","msg":"x"}"#, Some(Level::Warn)),
            (r#"{"severity":3,"msg":"x"}"#, Some(Level::Error)),
            (r#"{"log":{"level":"debug"},"msg":"x"}"#, Some(Level::Debug)),
            (r#"{"lvl":"E","msg":"x"}"#, Some(Level::Error)),
            (
                "ts=1 level=info msg=\"ERROR is just text\"",
                Some(Level::Info),
            ),
            (r#"{"msg":"no level key"}"#, None),
            (r#"{"level":"chatty","msg":"WARN x"}"#, Some(Level::Warn)),
        ];
        for (m, want) in cases {
            assert_eq!(of(m, &fields(m)), *want, "{m}");
        }
    }

    #[test]
    fn a_multi_line_event_has_its_first_lines_level() {
        let m = "INFO starting\nERROR: not this one";
        assert_eq!(of(m, &Fields::new()), Some(Level::Info));
        let m = "java.lang.IllegalStateException: boom\n\tat ERROR.x(A.java:1)";
        assert_eq!(of(m, &Fields::new()), None);
    }

    #[test]
    fn first_keyword_wins() {
        assert_eq!(detect("INFO retrying after ERROR"), Some(Level::Info));
    }

    #[test]
    fn odd_input_does_not_panic() {
        for s in [
            "é",
            "[",
            "level=",
            "\"level\":",
            "E123",
            "日本語 ERROR",
            "\u{0}",
        ] {
            let _ = detect(s);
        }
        assert_eq!(detect("日本語 ERROR"), Some(Level::Error));
    }
}
