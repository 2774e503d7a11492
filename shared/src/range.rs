//! What a [`TimeRange`] on the wire means, decided once: search, count, histograms
//! and rule tests all resolve their range here, so one range cannot select one span
//! in a search and another in a rule test (it did: rule tests read "nothing" as the
//! last 24 h and let `since` silently win over `from`).
//!
//! The semantics are the ones `docs/protocol.md` documents:
//! - nothing given is all time (both ends open);
//! - `since` is a duration back from *now* (not from `until`), and giving it together
//!   with `from` is an error: they are two answers to one question;
//! - `from` is inclusive, `until` exclusive, and `from` must be before `until`.
//!
//! A caller that needs a closed window (a rule test replays a finite span) closes the
//! open ends itself, where its own docs say how, and checks the result with
//! [`Bounds::new`].

use crate::duration::{parse_duration, DurationError};
use crate::protocol::TimeRange;
use crate::Timestamp;

/// Why a range was refused; the message is what a client shows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("give either `since` or `from`, not both")]
    SinceAndFrom,
    #[error("since: {0}")]
    Since(#[from] DurationError),
    #[error("empty time range: from {from} is not before until {until}")]
    Empty { from: Timestamp, until: Timestamp },
}

/// A resolved range: `from` inclusive, `until` exclusive; `None` is an open end.
/// When both are set, `from < until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub from: Option<Timestamp>,
    pub until: Option<Timestamp>,
}

impl Bounds {
    /// Bounds from two ends, refusing an empty span (`from` not before `until`).
    pub fn new(from: Option<Timestamp>, until: Option<Timestamp>) -> Result<Bounds, RangeError> {
        if let (Some(from), Some(until)) = (from, until) {
            if from >= until {
                return Err(RangeError::Empty { from, until });
            }
        }
        Ok(Bounds { from, until })
    }

    /// Every time.
    pub const ALL: Bounds = Bounds {
        from: None,
        until: None,
    };
}

impl TimeRange {
    /// The bounds this range stands for at `now` (see the module docs).
    pub fn resolve(&self, now: Timestamp) -> Result<Bounds, RangeError> {
        let from = match (&self.since, self.from) {
            (Some(_), Some(_)) => return Err(RangeError::SinceAndFrom),
            (Some(s), None) => {
                let d = parse_duration(s)?;
                Some(now.add_nanos(-i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)))
            }
            (None, from) => from,
        };
        Bounds::new(from, self.until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp(1_764_000_000_000_000_000);
    const S: i64 = 1_000_000_000;

    fn range(since: Option<&str>, from: Option<i64>, until: Option<i64>) -> TimeRange {
        TimeRange {
            since: since.map(str::to_string),
            from: from.map(|s| NOW.add_nanos(s * S)),
            until: until.map(|s| NOW.add_nanos(s * S)),
        }
    }

    #[test]
    fn nothing_given_is_all_time() {
        assert_eq!(range(None, None, None).resolve(NOW), Ok(Bounds::ALL));
    }

    #[test]
    fn since_counts_back_from_now_even_with_until() {
        let b = range(Some("1h"), None, Some(-600)).resolve(NOW).unwrap();
        assert_eq!(b.from, Some(NOW.add_nanos(-3600 * S)));
        assert_eq!(b.until, Some(NOW.add_nanos(-600 * S)));
        let b = range(Some("15m"), None, None).resolve(NOW).unwrap();
        assert_eq!((b.from, b.until), (Some(NOW.add_nanos(-900 * S)), None));
    }

    #[test]
    fn refusals_say_why() {
        let e = range(Some("1h"), Some(-60), None).resolve(NOW).unwrap_err();
        assert_eq!(e, RangeError::SinceAndFrom);
        let e = range(Some("15"), None, None).resolve(NOW).unwrap_err();
        assert!(e.to_string().starts_with("since: ") && e.to_string().contains("unit"));
        let e = range(None, Some(0), Some(0)).resolve(NOW).unwrap_err();
        assert!(matches!(e, RangeError::Empty { .. }), "{e}");
        assert!(range(Some("1h"), None, Some(-7200)).resolve(NOW).is_err());
        // A huge `since` saturates rather than wrapping.
        let b = range(Some("99999999w"), None, None).resolve(NOW).unwrap();
        assert!(b.from.unwrap() < NOW);
    }
}
