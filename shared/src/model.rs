//! The data model: one [`LogEntry`] per logical log line a container wrote, and the
//! [`StreamId`] of the log file it came from.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time, UTC, with nanosecond precision: nanoseconds since the Unix epoch.
///
/// Stored as a plain `i64` because the index orders by it and the collector compares
/// it in hot loops; on the wire it is RFC 3339 with exactly nine fractional digits
/// (`2026-11-25T19:42:07.118000000Z`) so that string order equals time order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

/// A timestamp string that is not RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid timestamp {0:?}: expected RFC 3339, e.g. 2026-11-25T19:42:07.118Z")]
pub struct TimestampError(pub String);

impl Timestamp {
    /// The current wall-clock time.
    pub fn now() -> Self {
        Self::from_datetime(Utc::now())
    }

    /// Nanoseconds since the epoch.
    pub fn nanos(self) -> i64 {
        self.0
    }

    /// Converts from chrono, saturating far outside ±292 years of 1970.
    pub fn from_datetime(dt: DateTime<Utc>) -> Self {
        Timestamp(dt.timestamp_nanos_opt().unwrap_or(if dt.timestamp() < 0 {
            i64::MIN
        } else {
            i64::MAX
        }))
    }

    /// Converts to chrono for formatting and calendar arithmetic.
    pub fn to_datetime(self) -> DateTime<Utc> {
        Utc.timestamp_nanos(self.0)
    }

    /// RFC 3339, UTC, nine fractional digits.
    pub fn to_rfc3339(self) -> String {
        self.to_datetime()
            .to_rfc3339_opts(SecondsFormat::Nanos, true)
    }

    /// Parses any RFC 3339 timestamp (any offset, any fraction width) into UTC.
    pub fn parse_rfc3339(s: &str) -> Result<Self, TimestampError> {
        DateTime::parse_from_rfc3339(s.trim())
            .map(|dt| Self::from_datetime(dt.with_timezone(&Utc)))
            .map_err(|_| TimestampError(s.to_string()))
    }

    /// Shifts by a signed number of nanoseconds, saturating.
    pub fn add_nanos(self, n: i64) -> Self {
        Timestamp(self.0.saturating_add(n))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_rfc3339(s)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Timestamp::parse_rfc3339(&s).map_err(serde::de::Error::custom)
    }
}

/// Which of a container's output streams a line came from.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    #[default]
    Stdout,
    Stderr,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Severity detected from a line's text; ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }

    /// Parses the canonical lowercase name (as stored and queried: `level:error`).
    pub fn parse(s: &str) -> Option<Level> {
        Some(match s {
            "trace" => Level::Trace,
            "debug" => Level::Debug,
            "info" => Level::Info,
            "warn" => Level::Warn,
            "error" => Level::Error,
            _ => return None,
        })
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which container log a line came from: one container incarnation's log file, as
/// the kubelet names it, `pods/<namespace>_<pod>_<pod_uid>/<container>/<restart>.log`.
///
/// Entries, stream listings and the daemon's collector all carry this one type, so
/// a field added here reaches every one of them (and the wire) at once. The five
/// path parts identify the file; `container_id` is not in that path but in the name
/// of the kubelet's `containers/<pod>_<namespace>_<container>-<id>.log` symlink,
/// so it is empty until that link is seen, when the link's name was cut at 255 bytes
/// before the id, and for plain files. Code that groups lines into streams
/// therefore leaves it out of the key.
///
/// For a plain `*.log` file outside the kubelet layout, `pod` and `container` are
/// the file stem and the other fields are empty.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
pub struct StreamId {
    pub namespace: String,
    pub pod: String,
    /// The pod's uid (a static pod's config hash): tells apart two pods of one name,
    /// one deleted and one recreated.
    pub pod_uid: String,
    pub container: String,
    /// The 64-hex container id when the symlink name still carries it; empty when cut.
    pub container_id: String,
    /// The N of `N.log`: how many times the container had restarted.
    pub restart: u32,
}

impl StreamId {
    /// The workload (Deployment, StatefulSet, DaemonSet, Job, CronJob) the pod was
    /// created for, read off its name ([`crate::workload::workload_of`]). Derived,
    /// not stored: it is a function of `pod`, so a stream's identity is unchanged.
    pub fn workload(&self) -> &str {
        crate::workload::workload_of(&self.pod)
    }
}

/// The fields extracted from a structured message (JSON, logfmt, klog), flat:
/// nested objects become dotted keys (`http.request.method`) and every value is a
/// JSON scalar (string, number, bool or null). Ordered, so that an entry prints and
/// hashes the same everywhere.
pub type Fields = BTreeMap<String, serde_json::Value>;

fn one() -> u32 {
    1
}

/// The id of an event's pattern (its kind: `Invalid user <*> from <*>`), assigned
/// at ingest by the daemon's template miner.
///
/// On the wire and in queries it is 16 lower-case hex digits (`pattern:3f0c…`),
/// not a JSON number: a u64 past 2^53 would lose digits in JavaScript and `jq`.
/// Never zero, so that `Option<PatternId>` costs 8 bytes in every entry, not 16.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PatternId(std::num::NonZeroU64);

impl PatternId {
    /// The id of hash `h`; zero (one hash in 2^64) is taken as 1.
    pub fn new(h: u64) -> PatternId {
        PatternId(std::num::NonZeroU64::new(h).unwrap_or(std::num::NonZeroU64::MIN))
    }

    /// Its value, as the index stores it.
    pub fn get(self) -> u64 {
        self.0.get()
    }
}

/// Text that is not a pattern id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a pattern id (16 hex digits): {0:?}")]
pub struct PatternIdError(pub String);

impl fmt::Display for PatternId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0.get())
    }
}

impl FromStr for PatternId {
    type Err = PatternIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || PatternIdError(s.chars().take(32).collect());
        if s.len() != 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        match u64::from_str_radix(s, 16) {
            Ok(0) | Err(_) => Err(bad()),
            Ok(h) => Ok(PatternId::new(h)),
        }
    }
}

impl Serialize for PatternId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PatternId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One event a container wrote (a line, or a multi-line event such as a stack
/// trace), with where it came from.
///
/// On the wire it is one flat object (`{"ts":…,"node":…,"namespace":…,"pod":…}`,
/// the [`StreamId`] fields inline, in declaration order), pinned by a test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "FlatEntry")]
pub struct LogEntry {
    /// The runtime's timestamp (CRI/docker), or the read time for plain files.
    pub ts: Timestamp,
    /// Node name (`--node`, `NODE_NAME`, or the host name).
    pub node: String,
    /// The container log file the line was read from.
    #[serde(flatten)]
    pub source: StreamId,
    pub stream: Stream,
    /// The event's text, without its trailing newline; lossy UTF-8. The physical
    /// lines of a multi-line event are joined with `\n`.
    pub message: String,
    /// How many physical lines the event spans (1 for a single line).
    #[serde(default = "one")]
    pub lines: u32,
    /// Detected at ingest; absent when the line does not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<Level>,
    /// Extracted at ingest from a structured message; left out when empty.
    #[serde(default, skip_serializing_if = "Fields::is_empty")]
    pub fields: Fields,
    /// The event's pattern, assigned at ingest; left out when absent (entries
    /// stored before patterns existed, `--stdout`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<PatternId>,
    /// Daemon-assigned ingest sequence number, unique and increasing per node.
    ///
    /// Ties on `ts` are broken by it, and clients resume a tail after the last `seq`
    /// they saw. Zero until the ingest stage assigns it.
    #[serde(default)]
    pub seq: u64,
}

/// How a [`LogEntry`] is read: the flat wire object, field by field.
///
/// `flatten` would buffer every key and value of every entry before handing the
/// identity fields on; the TUI reads tens of thousands of entries a second, so
/// entries are read flat and regrouped. `benches/wire.rs`, 500-entry frames:
/// 805 k entries/s this way (as fast as before `StreamId`), 638 k/s with flatten.
#[derive(Deserialize)]
struct FlatEntry {
    ts: Timestamp,
    node: String,
    namespace: String,
    pod: String,
    pod_uid: String,
    container: String,
    container_id: String,
    restart: u32,
    stream: Stream,
    message: String,
    #[serde(default = "one")]
    lines: u32,
    #[serde(default)]
    level: Option<Level>,
    #[serde(default)]
    fields: Fields,
    #[serde(default)]
    pattern: Option<PatternId>,
    #[serde(default)]
    seq: u64,
}

impl From<FlatEntry> for LogEntry {
    fn from(f: FlatEntry) -> LogEntry {
        LogEntry {
            ts: f.ts,
            node: f.node,
            source: StreamId {
                namespace: f.namespace,
                pod: f.pod,
                pod_uid: f.pod_uid,
                container: f.container,
                container_id: f.container_id,
                restart: f.restart,
            },
            stream: f.stream,
            message: f.message,
            lines: f.lines,
            level: f.level,
            fields: f.fields,
            pattern: f.pattern,
            seq: f.seq,
        }
    }
}

impl Default for LogEntry {
    /// An empty one-line entry (`lines` is 1: every entry is at least one line).
    fn default() -> Self {
        LogEntry {
            ts: Timestamp::default(),
            node: String::new(),
            source: StreamId::default(),
            stream: Stream::default(),
            message: String::new(),
            lines: 1,
            level: None,
            fields: Fields::new(),
            pattern: None,
            seq: 0,
        }
    }
}

impl LogEntry {
    /// The key entries are ordered by everywhere: time, then ingest order.
    pub fn sort_key(&self) -> (Timestamp, u64) {
        (self.ts, self.seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_serialises_with_nine_digits() {
        let ts = Timestamp::parse_rfc3339("2026-11-25T19:42:07.1+07:00").unwrap();
        assert_eq!(ts.to_rfc3339(), "2026-11-25T12:42:07.100000000Z");
        let json = serde_json::to_string(&ts).unwrap();
        assert_eq!(json, "\"2026-11-25T12:42:07.100000000Z\"");
        let back: Timestamp = serde_json::from_str(&json).unwrap();
        assert_eq!(back, ts);
    }

    #[test]
    fn entry_round_trips() {
        let e = LogEntry {
            ts: Timestamp(1_764_000_000_123_456_789),
            node: "n1".into(),
            source: StreamId {
                namespace: "payments".into(),
                pod: "checkout-1".into(),
                pod_uid: "uid".into(),
                container: "app".into(),
                container_id: "abc".into(),
                restart: 2,
            },
            stream: Stream::Stderr,
            message: "boom".into(),
            level: Some(Level::Error),
            seq: 7,
            lines: 1,
            fields: Default::default(),
            pattern: None,
        };
        let json = serde_json::to_string(&e).unwrap();
        assert!(json.contains("\"stream\":\"stderr\""));
        assert!(json.contains("\"level\":\"error\""));
        assert_eq!(serde_json::from_str::<LogEntry>(&json).unwrap(), e);
    }

    /// The wire shape of an entry, byte for byte: flat keys in this order. Clients
    /// (and `lookoutd --stdout` readers) parse it; it must not drift.
    #[test]
    fn entry_json_is_pinned() {
        let e = LogEntry {
            ts: Timestamp(1_764_000_000_123_456_789),
            node: "n1".into(),
            source: StreamId {
                namespace: "payments".into(),
                pod: "checkout-1".into(),
                pod_uid: "0a1b-c2".into(),
                container: "app".into(),
                container_id: "abc".into(),
                restart: 2,
            },
            stream: Stream::Stderr,
            message: "boom \"quoted\"".into(),
            level: Some(Level::Error),
            seq: 7,
            lines: 1,
            fields: Default::default(),
            pattern: None,
        };
        let json = r#"{"ts":"2025-11-24T16:00:00.123456789Z","node":"n1","namespace":"payments","pod":"checkout-1","pod_uid":"0a1b-c2","container":"app","container_id":"abc","restart":2,"stream":"stderr","message":"boom \"quoted\"","lines":1,"level":"error","seq":7}"#;
        assert_eq!(serde_json::to_string(&e).unwrap(), json);
        assert_eq!(serde_json::from_str::<LogEntry>(json).unwrap(), e);

        // No level: the key is left out; an old sender's missing `seq` reads as 0.
        let plain = LogEntry {
            level: None,
            seq: 0,
            ..e.clone()
        };
        let json = r#"{"ts":"2025-11-24T16:00:00.123456789Z","node":"n1","namespace":"payments","pod":"checkout-1","pod_uid":"0a1b-c2","container":"app","container_id":"abc","restart":2,"stream":"stderr","message":"boom \"quoted\"","lines":1,"seq":0}"#;
        assert_eq!(serde_json::to_string(&plain).unwrap(), json);
        let without_seq = json.replace(r#","seq":0"#, "");
        assert_eq!(
            serde_json::from_str::<LogEntry>(&without_seq).unwrap(),
            plain
        );
        // A multi-line event with fields: `lines` and `fields` after the message
        // and level; an old sender's missing `lines` reads as 1.
        let mut fields = Fields::new();
        fields.insert("status".into(), serde_json::json!(500));
        fields.insert("http.method".into(), serde_json::json!("POST"));
        let rich = LogEntry {
            message: "a\nb".into(),
            lines: 2,
            fields,
            pattern: Some(PatternId::new(0x00c0_ffee_0000_0001)),
            ..e.clone()
        };
        let json = r#"{"ts":"2025-11-24T16:00:00.123456789Z","node":"n1","namespace":"payments","pod":"checkout-1","pod_uid":"0a1b-c2","container":"app","container_id":"abc","restart":2,"stream":"stderr","message":"a\nb","lines":2,"level":"error","fields":{"http.method":"POST","status":500},"pattern":"00c0ffee00000001","seq":7}"#;
        assert_eq!(serde_json::to_string(&rich).unwrap(), json);
        assert_eq!(serde_json::from_str::<LogEntry>(json).unwrap(), rich);
        // Keys in any order, unknown keys ignored, as any JSON reader would.
        let shuffled = r#"{"seq":7,"level":"error","message":"boom \"quoted\"","stream":"stderr","restart":2,"container_id":"abc","container":"app","pod_uid":"0a1b-c2","pod":"checkout-1","namespace":"payments","node":"n1","ts":"2025-11-24T16:00:00.123456789Z","extra":{"a":[1]}}"#;
        assert_eq!(serde_json::from_str::<LogEntry>(shuffled).unwrap(), e);
        // A missing identity field is an error naming it, as before.
        let err =
            serde_json::from_str::<LogEntry>(&without_seq.replace(r#""pod_uid":"0a1b-c2","#, ""))
                .unwrap_err()
                .to_string();
        assert!(err.contains("missing field `pod_uid`"), "{err}");
    }

    #[test]
    fn pattern_ids_are_sixteen_hex_digits() {
        let id = PatternId::new(u64::MAX - 1);
        assert_eq!(id.to_string(), "fffffffffffffffe");
        assert_eq!("fffffffffffffffe".parse::<PatternId>(), Ok(id));
        assert_eq!(
            "00000000000000AB".parse::<PatternId>(),
            Ok(PatternId::new(0xab))
        );
        for bad in [
            "",
            "ab",
            "+000000000000001",
            "0x0000000000001f",
            "zzzzzzzzzzzzzzzz",
        ] {
            assert!(bad.parse::<PatternId>().is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<PatternId>("42").is_err());
    }

    #[test]
    fn bad_timestamp_is_an_error() {
        assert!(Timestamp::parse_rfc3339("yesterday").is_err());
        assert!(serde_json::from_str::<Timestamp>("\"nope\"").is_err());
    }
}
