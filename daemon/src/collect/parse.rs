//! Line parsers: CRI (containerd, CRI-O), docker json-file, and the RFC 3339
//! timestamps both use. Pure functions over byte slices, no allocation on the
//! CRI path; they never panic on any input (property-tested).

use std::borrow::Cow;

use lookout_shared::{Stream, Timestamp};
use serde::Deserialize;

/// One parsed CRI line: `<ts> <stream> <P|F>[:tags] <text>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CriLine<'a> {
    pub ts: Timestamp,
    pub stream: Stream,
    /// A `P` chunk: the logical line continues in this stream's next chunk.
    pub partial: bool,
    pub text: &'a [u8],
}

/// Parses a CRI line (without its `\n`); `None` when it is not one.
pub fn parse_cri(line: &[u8]) -> Option<CriLine<'_>> {
    let sp = memchr::memchr(b' ', line)?;
    let ts = parse_rfc3339(line.get(..sp)?)?;
    let rest = line.get(sp + 1..)?;
    let stream = if rest.starts_with(b"stdout ") {
        Stream::Stdout
    } else if rest.starts_with(b"stderr ") {
        Stream::Stderr
    } else {
        return None;
    };
    let rest = rest.get(7..)?;
    let (tag, text) = match memchr::memchr(b' ', rest) {
        Some(i) => (rest.get(..i)?, rest.get(i + 1..)?),
        None => (rest, &b""[..]),
    };
    let partial = match tag.first()? {
        b'P' => true,
        b'F' => false,
        _ => return None,
    };
    if tag.len() > 1 && tag.get(1) != Some(&b':') {
        return None;
    }
    Some(CriLine {
        ts,
        stream,
        partial,
        text,
    })
}

/// One docker json-file record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerLine<'a> {
    pub ts: Option<Timestamp>,
    pub stream: Stream,
    /// `log` without its trailing `\n`.
    pub text: Cow<'a, str>,
    /// `log` lacked the trailing `\n`: the line continues in the next record.
    pub partial: bool,
}

#[derive(Deserialize)]
struct DockerRecord<'a> {
    #[serde(borrow)]
    log: Cow<'a, str>,
    #[serde(borrow, default)]
    stream: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    time: Option<Cow<'a, str>>,
}

/// Parses a docker json-file record; `None` when it is not one.
pub fn parse_docker(line: &[u8]) -> Option<DockerLine<'_>> {
    if line.first() != Some(&b'{') {
        return None;
    }
    let rec: DockerRecord<'_> = serde_json::from_slice(line).ok()?;
    let stream = match rec.stream.as_deref() {
        Some("stderr") => Stream::Stderr,
        _ => Stream::Stdout,
    };
    let ts = rec
        .time
        .as_deref()
        .and_then(|t| parse_rfc3339(t.as_bytes()));
    let (text, partial) = match rec.log {
        Cow::Borrowed(s) => match s.strip_suffix('\n') {
            Some(t) => (Cow::Borrowed(t), false),
            None => (Cow::Borrowed(s), true),
        },
        Cow::Owned(mut s) => {
            if s.ends_with('\n') {
                s.pop();
                (Cow::Owned(s), false)
            } else {
                (Cow::Owned(s), true)
            }
        }
    };
    Some(DockerLine {
        ts,
        stream,
        text,
        partial,
    })
}

fn digits(b: &[u8], at: usize, n: usize) -> Option<i64> {
    let s = b.get(at..at + n)?;
    let mut v = 0i64;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Some(v)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses RFC 3339 as runtimes write it (`2026-11-25T19:42:07.1183Z`,
/// `…:07Z`, `…:07.5+07:00`, `…-03:30`), hand-rolled because it runs once per line.
pub fn parse_rfc3339(b: &[u8]) -> Option<Timestamp> {
    if b.len() < 20 {
        return None;
    }
    let year = digits(b, 0, 4)?;
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    let hour = digits(b, 11, 2)?;
    let min = digits(b, 14, 2)?;
    let sec = digits(b, 17, 2)?;
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut nanos = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            if i - start < 9 {
                nanos = nanos * 10 + i64::from(c - b'0');
            }
            i += 1;
        }
        let n = i - start;
        if n == 0 {
            return None;
        }
        for _ in n..9 {
            nanos *= 10;
        }
    }
    let offset_secs = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        c @ (b'+' | b'-') if i + 6 == b.len() && b.get(i + 3) == Some(&b':') => {
            let oh = digits(b, i + 1, 2)?;
            let om = digits(b, i + 4, 2)?;
            if oh > 23 || om > 59 {
                return None;
            }
            let s = oh * 3600 + om * 60;
            if *c == b'+' {
                s
            } else {
                -s
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + min * 60 + sec - offset_secs;
    Some(Timestamp(
        secs.checked_mul(1_000_000_000)?.checked_add(nanos)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn timestamps_like_runtimes_write_them() {
        for s in [
            "2026-11-25T19:42:07.118000000Z",
            "2026-11-25T19:42:07.118Z",
            "2026-11-25T19:42:07Z",
            "2026-11-26T02:42:07.118+07:00",
            "2026-11-25T19:42:07.118+00:00",
            "2026-11-25T16:12:07.118-03:30",
            "1969-12-31T23:59:59.5Z",
            "2000-02-29T00:00:00Z",
        ] {
            let ours = parse_rfc3339(s.as_bytes()).unwrap();
            let chrono = Timestamp::parse_rfc3339(s).unwrap();
            assert_eq!(ours, chrono, "{s}");
        }
        for bad in [
            "",
            "2026-11-25",
            "2026-11-25T19:42:07",
            "2026-11-25T19:42:07.Z",
            "2026-13-25T19:42:07Z",
            "2026-11-25T19:42:07+0700",
            "2026-11-25T19:42:07Zjunk",
            "2026-11-25T19:4x:07Z",
        ] {
            assert_eq!(parse_rfc3339(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn cri_lines() {
        let l = parse_cri(b"2026-11-25T19:42:07.1Z stderr P hello world").unwrap();
        assert_eq!(l.stream, Stream::Stderr);
        assert!(l.partial);
        assert_eq!(l.text, b"hello world");
        let l = parse_cri(b"2026-11-25T19:42:07Z stdout F").unwrap();
        assert_eq!(l.text, b"");
        assert!(!l.partial);
        let l = parse_cri(b"2026-11-25T19:42:07Z stdout F:x,y  two spaces").unwrap();
        assert_eq!(l.text, b" two spaces");
        assert!(parse_cri(b"2026-11-25T19:42:07Z stdin F x").is_none());
        assert!(parse_cri(b"2026-11-25T19:42:07Z stdout X x").is_none());
        assert!(parse_cri(b"2026-11-25T19:42:07Z stdout Fx x").is_none());
        assert!(parse_cri(b"hello").is_none());
    }

    #[test]
    fn docker_records() {
        let l =
            parse_docker(br#"{"log":"hi\n","stream":"stderr","time":"2026-11-25T19:42:07.5Z"}"#)
                .unwrap();
        assert_eq!(l.text, "hi");
        assert!(!l.partial);
        assert_eq!(l.stream, Stream::Stderr);
        assert!(l.ts.is_some());
        let l = parse_docker(br#"{"log":"a\"b","stream":"stdout","time":"x"}"#).unwrap();
        assert_eq!(l.text, "a\"b");
        assert!(l.partial);
        assert!(l.ts.is_none());
        assert!(parse_docker(b"{nope").is_none());
        assert!(parse_docker(br#"{"msg":"x"}"#).is_none());
    }

    proptest! {
        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_cri(&bytes);
            let _ = parse_docker(&bytes);
            let _ = parse_rfc3339(&bytes);
        }

        #[test]
        fn timestamps_agree_with_chrono(
            secs in -2_000_000_000i64..4_000_000_000i64,
            nanos in 0u32..1_000_000_000u32,
            offset_min in -(23 * 60i32)..(23 * 60i32),
        ) {
            use chrono::{FixedOffset, SecondsFormat, TimeZone};
            let tz = FixedOffset::east_opt(offset_min * 60).unwrap();
            let dt = tz.timestamp_opt(secs, nanos).unwrap();
            // Go's RFC3339Nano: trailing zeros trimmed, `Z` for UTC.
            let s = dt.to_rfc3339_opts(SecondsFormat::AutoSi, offset_min == 0);
            let mut go = dt.to_rfc3339_opts(SecondsFormat::Nanos, offset_min == 0);
            if let Some(dot) = go.find('.') {
                let end = go[dot..].find(|c: char| c == 'Z' || c == '+' || c == '-').map(|i| dot + i).unwrap();
                let frac = go[dot + 1..end].trim_end_matches('0').to_string();
                let tail = go[end..].to_string();
                go.truncate(dot);
                if !frac.is_empty() { go.push('.'); go.push_str(&frac); }
                go.push_str(&tail);
            }
            let want = Timestamp(secs * 1_000_000_000 + i64::from(nanos));
            prop_assert_eq!(parse_rfc3339(s.as_bytes()), Some(want));
            prop_assert_eq!(parse_rfc3339(go.as_bytes()), Some(want));
        }

        #[test]
        fn cri_round_trips(
            text in proptest::collection::vec(any::<u8>().prop_filter("no newline", |b| *b != b'\n'), 0..100),
            stderr in any::<bool>(),
            partial in any::<bool>(),
        ) {
            let mut line = b"2026-11-25T19:42:07.118Z ".to_vec();
            line.extend_from_slice(if stderr { b"stderr " } else { b"stdout " });
            line.extend_from_slice(if partial { b"P " } else { b"F " });
            line.extend_from_slice(&text);
            let l = parse_cri(&line).unwrap();
            prop_assert_eq!(l.text, &text[..]);
            prop_assert_eq!(l.partial, partial);
            prop_assert_eq!(l.stream == Stream::Stderr, stderr);
        }

        #[test]
        fn docker_round_trips(text in ".{0,80}", nl in any::<bool>()) {
            let log = if nl { format!("{text}\n") } else { text.clone() };
            let rec = serde_json::json!({"log": log, "stream": "stdout", "time": "2026-11-25T19:42:07Z"});
            let bytes = serde_json::to_vec(&rec).unwrap();
            let l = parse_docker(&bytes).unwrap();
            prop_assert_eq!(l.text.as_ref(), text.as_str());
            prop_assert_eq!(l.partial, !nl);
        }
    }
}
