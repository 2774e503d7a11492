//! Times as the dashboard shows and reads them: in the user's zone (`TZ` honoured,
//! `--utc` for UTC), with the date whenever it is not today, axis labels that never
//! repeat, and ranges typed the way people say them (`15m`, `today`,
//! `19:06..19:07`, RFC 3339).
//!
//! Everything takes the zone and "now" as values, so the pure core stays testable
//! without touching the process's environment.

use chrono::{
    DateTime, Duration as ChronoDuration, FixedOffset, Local, LocalResult, NaiveDate, NaiveTime,
    Offset, TimeZone, Utc,
};
use lookout_shared::protocol::TimeRange;
use lookout_shared::Timestamp;

/// The zone times are shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    Utc,
    /// The system's local zone: `TZ` if set, else `/etc/localtime` (none: UTC).
    Local,
    /// A fixed offset (tests; zones without a tz database).
    Fixed(FixedOffset),
}

impl Zone {
    /// `ts` on this zone's wall clock.
    pub fn at(self, ts: Timestamp) -> DateTime<FixedOffset> {
        let utc = ts.to_datetime();
        match self {
            Zone::Utc => utc.fixed_offset(),
            Zone::Local => utc.with_timezone(&Local).fixed_offset(),
            Zone::Fixed(o) => utc.with_timezone(&o),
        }
    }

    /// How the header names the zone: `UTC`, or the offset now (`UTC-05:00`).
    pub fn label(self, now: Timestamp) -> String {
        let secs = self.at(now).offset().fix().local_minus_utc();
        if secs == 0 {
            return "UTC".into();
        }
        let sign = if secs < 0 { '-' } else { '+' };
        let m = secs.unsigned_abs() / 60;
        format!("UTC{sign}{:02}:{:02}", m / 60, m % 60)
    }

    fn today(self, now: Timestamp) -> NaiveDate {
        self.at(now).date_naive()
    }

    /// `19:42:07.118` today, `Nov 24 19:42:07.118` on another day.
    pub fn clock_ms(self, now: Timestamp, ts: Timestamp) -> String {
        let dt = self.at(ts);
        if dt.date_naive() == self.today(now) {
            dt.format("%H:%M:%S%.3f").to_string()
        } else {
            dt.format("%b %d %H:%M:%S%.3f").to_string()
        }
    }

    /// `Nov 24 19:42:07.118` always: for a column where some rows need the date.
    pub fn dated_ms(self, ts: Timestamp) -> String {
        self.at(ts).format("%b %d %H:%M:%S%.3f").to_string()
    }

    /// Whether `ts` falls on another day than `now` in this zone.
    pub fn not_today(self, now: Timestamp, ts: Timestamp) -> bool {
        self.at(ts).date_naive() != self.today(now)
    }

    /// Labels for points along one axis (ascending): the coarsest format in which
    /// neighbours differ, with the date when the points span days or are not
    /// today. Equal labels for different instants are what made a 5-second bar read
    /// `19:12 → 19:12`.
    pub fn labels(self, now: Timestamp, points: &[Timestamp]) -> Vec<String> {
        let today = self.today(now);
        let dts: Vec<DateTime<FixedOffset>> = points.iter().map(|p| self.at(*p)).collect();
        let dated = dts.iter().any(|d| d.date_naive() != today);
        let time_formats = ["%H:%M", "%H:%M:%S", "%H:%M:%S%.3f"];
        let mut best = Vec::new();
        for f in time_formats {
            let f = if dated {
                format!("%b %d {f}")
            } else {
                f.to_string()
            };
            let labels: Vec<String> = dts.iter().map(|d| d.format(&f).to_string()).collect();
            let distinct = labels
                .windows(2)
                .zip(points.windows(2))
                .all(|(l, p)| p[0] == p[1] || l[0] != l[1]);
            best = labels;
            if distinct {
                break;
            }
        }
        best
    }

    /// `from → until` for a range title, labelled like an axis.
    pub fn span(self, now: Timestamp, from: Timestamp, until: Timestamp) -> String {
        let l = self.labels(now, &[from, until]);
        match l.as_slice() {
            [a, b] => format!("{a} → {b}"),
            _ => String::new(),
        }
    }

    /// Parses a range as typed: a duration back from now (`15m`, `2h`, `7d`),
    /// `today` or `yesterday` (this zone's days), or `FROM..UNTIL` where each side
    /// is RFC 3339, `YYYY-MM-DD`, `HH:MM[:SS]` (today, in this zone), `now`, a
    /// duration before now (`-1h`) or empty.
    pub fn parse_range(self, now: Timestamp, text: &str) -> Result<TimeRange, String> {
        let s = text.trim();
        let day_range = |d: NaiveDate| -> Result<TimeRange, String> {
            let next = d.succ_opt().ok_or("date out of range")?;
            Ok(TimeRange {
                since: None,
                from: Some(self.midnight(d)?),
                until: Some(self.midnight(next)?),
            })
        };
        match s {
            "" => return Err("type a duration (15m), today, or FROM..UNTIL".into()),
            "today" => return day_range(self.today(now)),
            "yesterday" => {
                let d = self.today(now).pred_opt().ok_or("date out of range")?;
                return day_range(d);
            }
            _ => {}
        }
        let Some((f, u)) = s.split_once("..") else {
            lookout_shared::duration::parse_duration(s).map_err(|e| {
                format!("{e} (expected a duration like 15m, today, or FROM..UNTIL)")
            })?;
            return Ok(TimeRange {
                since: Some(s.to_string()),
                ..Default::default()
            });
        };
        let from = self.point(now, f, false)?;
        let mut until = self.point(now, u, true)?;
        if let (Some(a), Some(b)) = (from, until) {
            if b <= a {
                // `23:00..01:00` typed on the clock: the end is the next day.
                if is_clock(u) {
                    until = Some(b.add_nanos(24 * 3_600_000_000_000));
                } else {
                    return Err("the range ends before it starts".into());
                }
            }
        }
        Ok(TimeRange {
            since: None,
            from,
            until,
        })
    }

    /// One side of `FROM..UNTIL`; a bare date means its start (or, as the end,
    /// the start of the next day, so `2026-12-01..2026-12-01` is that whole day).
    fn point(self, now: Timestamp, text: &str, end: bool) -> Result<Option<Timestamp>, String> {
        let x = text.trim();
        if x.is_empty() {
            return Ok(None);
        }
        if let Ok(ts) = Timestamp::parse_rfc3339(x) {
            return Ok(Some(ts));
        }
        if x == "now" {
            return Ok(Some(now));
        }
        if let Some(back) = x.strip_prefix('-') {
            // `-1h..now`, `-2h..-1h`: a duration before now.
            let d = lookout_shared::duration::parse_duration(back).map_err(|e| e.to_string())?;
            let ns = i64::try_from(d.as_nanos()).map_err(|_| "duration out of range")?;
            return Ok(Some(now.add_nanos(-ns)));
        }
        if let Ok(d) = NaiveDate::parse_from_str(x, "%Y-%m-%d") {
            let d = if end {
                d.succ_opt().ok_or("date out of range")?
            } else {
                d
            };
            return self.midnight(d).map(Some);
        }
        if is_clock(x) {
            let t = NaiveTime::parse_from_str(x, "%H:%M:%S")
                .or_else(|_| NaiveTime::parse_from_str(x, "%H:%M"))
                .map_err(|_| format!("{x:?} is not a time of day (HH:MM or HH:MM:SS)"))?;
            let dt = self.today(now).and_time(t);
            return self.local(dt).map(Some);
        }
        Err(format!(
            "{x:?}: expected HH:MM, YYYY-MM-DD, now, -1h or RFC 3339 (2026-12-01T19:06:00Z)"
        ))
    }

    fn midnight(self, d: NaiveDate) -> Result<Timestamp, String> {
        self.local(d.and_time(NaiveTime::MIN))
    }

    /// A wall-clock time in this zone as an instant (the earlier one when a DST
    /// change makes it ambiguous, the moment after the gap when it does not exist).
    fn local(self, dt: chrono::NaiveDateTime) -> Result<Timestamp, String> {
        let pick = |r: LocalResult<DateTime<FixedOffset>>| match r {
            LocalResult::Single(x) | LocalResult::Ambiguous(x, _) => Some(x),
            LocalResult::None => None,
        };
        let resolved = match self {
            Zone::Utc => pick(Utc.from_local_datetime(&dt).map(|d| d.fixed_offset())),
            Zone::Local => {
                pick(Local.from_local_datetime(&dt).map(|d| d.fixed_offset())).or_else(|| {
                    pick(
                        Local
                            .from_local_datetime(&(dt + ChronoDuration::hours(1)))
                            .map(|d| d.fixed_offset()),
                    )
                })
            }
            Zone::Fixed(o) => pick(o.from_local_datetime(&dt)),
        };
        resolved
            .map(|d| Timestamp::from_datetime(d.with_timezone(&Utc)))
            .ok_or_else(|| format!("{dt} does not exist in this time zone"))
    }
}

fn is_clock(s: &str) -> bool {
    let s = s.trim();
    !s.is_empty()
        && s.len() <= 8
        && s.contains(':')
        && s.chars().all(|c| c.is_ascii_digit() || c == ':')
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-12-01T19:12:00Z, a Tuesday.
    const NOW: Timestamp = Timestamp(1_796_152_320_000_000_000);
    const S: i64 = 1_000_000_000;

    fn ny() -> Zone {
        Zone::Fixed(FixedOffset::west_opt(5 * 3600).unwrap())
    }

    #[test]
    fn times_follow_the_zone_and_carry_the_date_when_not_today() {
        assert_eq!(Zone::Utc.clock_ms(NOW, NOW), "19:12:00.000");
        assert_eq!(ny().clock_ms(NOW, NOW), "14:12:00.000");
        assert_eq!(ny().label(NOW), "UTC-05:00");
        assert_eq!(Zone::Utc.label(NOW), "UTC");
        let yesterday = NOW.add_nanos(-20 * 3600 * S);
        assert_eq!(Zone::Utc.clock_ms(NOW, yesterday), "Nov 30 23:12:00.000");
        // 20 h back is still today in New York? No: 18:12 the day before.
        assert_eq!(ny().clock_ms(NOW, yesterday), "Nov 30 18:12:00.000");
    }

    #[test]
    fn axis_labels_never_repeat() {
        let z = Zone::Utc;
        let five_s = [NOW, NOW.add_nanos(2 * S + S / 2), NOW.add_nanos(5 * S)];
        let l = z.labels(NOW, &five_s);
        assert_eq!(l, ["19:12:00", "19:12:02", "19:12:05"]);
        let tiny = [NOW, NOW.add_nanos(S / 4), NOW.add_nanos(S / 2)];
        assert_eq!(z.labels(NOW, &tiny)[1], "19:12:00.250");
        let hour = [NOW.add_nanos(-3600 * S), NOW];
        assert_eq!(z.labels(NOW, &hour), ["18:12", "19:12"]);
        let week = [NOW.add_nanos(-7 * 86_400 * S), NOW];
        assert_eq!(z.span(NOW, week[0], week[1]), "Nov 24 19:12 → Dec 01 19:12");
    }

    #[test]
    fn ranges_as_people_type_them() {
        let z = ny();
        assert_eq!(
            z.parse_range(NOW, "15m").unwrap().since.as_deref(),
            Some("15m")
        );
        let r = z.parse_range(NOW, "14:06..14:07").unwrap();
        assert_eq!(z.clock_ms(NOW, r.from.unwrap()), "14:06:00.000");
        assert_eq!(r.until.unwrap().nanos() - r.from.unwrap().nanos(), 60 * S);
        let r = z.parse_range(NOW, "today").unwrap();
        assert_eq!(z.clock_ms(NOW, r.from.unwrap()), "00:00:00.000");
        assert_eq!(
            r.until.unwrap().nanos() - r.from.unwrap().nanos(),
            86_400 * S
        );
        let r = z.parse_range(NOW, "23:00..01:00").unwrap();
        assert_eq!(
            r.until.unwrap().nanos() - r.from.unwrap().nanos(),
            2 * 3600 * S
        );
        let r = z.parse_range(NOW, "2026-11-30..2026-11-30").unwrap();
        assert_eq!(
            r.until.unwrap().nanos() - r.from.unwrap().nanos(),
            86_400 * S
        );
        let r = z.parse_range(NOW, "-1h..now").unwrap();
        assert_eq!(r.until, Some(NOW));
        assert_eq!(r.from, Some(NOW.add_nanos(-3600 * S)));
        let r = z.parse_range(NOW, "-2h..-90m").unwrap();
        assert_eq!(r.until.unwrap().nanos() - r.from.unwrap().nanos(), 1800 * S);
        assert!(z.parse_range(NOW, "-1h..-2h").is_err());
        assert!(z.parse_range(NOW, "-1x..now").is_err());
        let r = z.parse_range(NOW, "2026-12-01T19:06:00Z..").unwrap();
        assert!(r.from.is_some() && r.until.is_none());
        assert!(z.parse_range(NOW, "soon").is_err());
        assert!(z.parse_range(NOW, "x..y").unwrap_err().contains("HH:MM"));
        assert!(z.parse_range(NOW, "25:00..").is_err());
        assert!(z
            .parse_range(NOW, "2026-12-01T19:00:00Z..2026-12-01T18:00:00Z")
            .is_err());
    }
}
