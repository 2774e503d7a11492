//! Human durations: `500ms`, `30s`, `15m`, `1h`, `7d`, `2w`, and sums like `1h30m`.
//!
//! One parser for flags (`--retention 7d`), search ranges (`since: 15m`) and rule
//! windows, so a user learns the syntax once.

use std::time::Duration;

/// Why a duration did not parse; `position` is the 0-based byte offset of the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {input:?} at column {}: {reason}", position + 1)]
pub struct DurationError {
    pub input: String,
    pub position: usize,
    pub reason: String,
}

/// Parses a duration such as `15m`, `1h30m`, `500ms`, `7d` or `0s`.
///
/// A bare number is refused: `5` could mean seconds or minutes, and guessing
/// wrong in an alert window is worse than an error.
pub fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    let err = |position: usize, reason: &str| DurationError {
        input: input.to_string(),
        position,
        reason: reason.to_string(),
    };
    let s = input.trim();
    if s.is_empty() {
        return Err(err(0, "empty duration; expected e.g. 15m, 1h, 7d"));
    }
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut total: u128 = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return Err(err(start, "expected a number"));
        }
        let n: u128 = s[start..i]
            .parse()
            .map_err(|_| err(start, "number too large"))?;
        let ustart = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit_ms: u128 = match &s[ustart..i] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            "" => return Err(err(ustart, "missing unit (ms, s, m, h, d or w)")),
            _ => return Err(err(ustart, "unknown unit; use ms, s, m, h, d or w")),
        };
        total = n
            .checked_mul(unit_ms)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| err(start, "duration too large"))?;
    }
    let ms = u64::try_from(total).map_err(|_| err(0, "duration too large"))?;
    Ok(Duration::from_millis(ms))
}

/// Formats a duration the way [`parse_duration`] reads it back (`1h30m`, `0s`).
pub fn format_duration(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [
        ("d", 86_400_000u128),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        if ms >= size {
            out.push_str(&format!("{}{}", ms / size, unit));
            ms %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(
            parse_duration("7d").unwrap(),
            Duration::from_secs(7 * 86400)
        );
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("0s").unwrap(), Duration::ZERO);
    }

    #[test]
    fn errors_say_where() {
        let e = parse_duration("15").unwrap_err();
        assert_eq!(e.position, 2);
        let e = parse_duration("1h5x").unwrap_err();
        assert_eq!(e.position, 3);
        assert!(e.to_string().contains("unknown unit"));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("99999999999999999999999d").is_err());
    }

    #[test]
    fn format_round_trips() {
        for s in ["0s", "1h30m", "7d", "500ms", "1d2h3m4s5ms"] {
            assert_eq!(format_duration(parse_duration(s).unwrap()), s);
        }
    }
}
