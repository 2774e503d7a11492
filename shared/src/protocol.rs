//! The websocket protocol between `lookout` (or any client) and `lookoutd`.
//!
//! JSON text frames, one message per frame, each an object tagged by `"type"`.
//! Every client request carries a client-chosen `id`; every reply and error names
//! that `id`, so a client can run searches while tails stream on the same socket.
//! Pushed messages that belong to a subscription carry its `sub` id (the `id` of the
//! `subscribe` or `watch_*` request that opened it).
//!
//! The first frame on a connection is the server's [`ServerMsg::Hello`]; the client
//! then sends [`ClientMsg::Hello`] with its protocol version (and token when the
//! daemon requires one). A version mismatch is answered with an `error` of code
//! `version_mismatch` and a close, never with frames the client cannot read.
//!
//! `docs/protocol.md` is the prose reference; keep the two in step.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{LogEntry, PatternId, StreamId, Timestamp};

/// Bumped on any incompatible change to these types.
pub const PROTOCOL_VERSION: u32 = 1;

/// Request and subscription ids are chosen by the client.
pub type ReqId = u64;

/// Where a walk through entries stands: the sort key of the last entry seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Cursor {
    pub ts: Timestamp,
    pub seq: u64,
}

impl Cursor {
    pub fn of(e: &LogEntry) -> Cursor {
        Cursor {
            ts: e.ts,
            seq: e.seq,
        }
    }
}

/// Result order for searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    #[default]
    NewestFirst,
    OldestFirst,
}

/// A time range: either `since` (a duration back from now, e.g. `15m`) or absolute
/// `from`/`until`. All absent means all time. `until` is exclusive, `from` inclusive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct TimeRange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Timestamp>,
}

/// What to search for; shared by the protocol and the daemon's index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SearchParams {
    /// The query language (see `docs/query.md`); empty or `*` matches everything.
    pub query: String,
    #[serde(default)]
    pub range: TimeRange,
    /// Page size; the server caps it (1000). 0 means the server's default (100).
    #[serde(default)]
    pub limit: u32,
    /// Continue after this entry (exclusive), in `order`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<Cursor>,
    /// Through a cluster hub: the node of the cursor's entry (a page's
    /// `next_cursor_node`). `seq` counts per node, so the hub needs the node to
    /// place the cursor in its merged order; a single daemon ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor_node: Option<String>,
    #[serde(default)]
    pub order: Order,
    /// Ask for a histogram of matches over the range (costs a little more).
    #[serde(default)]
    pub histogram: bool,
}

/// What a `patterns` request asks: the patterns of the events matching `query`
/// in `range`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PatternsParams {
    /// The query language; empty or `*` matches everything.
    pub query: String,
    #[serde(default)]
    pub range: TimeRange,
    /// Only the patterns first seen inside the range.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub new_only: bool,
    /// Most patterns returned (by count); 0 means the server's default (100), and
    /// the server caps it (1000).
    #[serde(default)]
    pub limit: u32,
}

/// One pattern of the matching events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatternSummary {
    /// The id the pattern goes by now.
    pub id: PatternId,
    /// Every id its events carry (ids merged into it included): `pattern:IN [...]`
    /// of these finds them all.
    pub ids: Vec<PatternId>,
    /// Tokens joined by a space, `<*>` for each parameter; the example's message
    /// when the daemon no longer keeps the pattern.
    pub template: String,
    /// Matching events in the range.
    pub count: u64,
    /// The first and last matching events' times in the range.
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// First seen inside the range: no stored event of the pattern is older and
    /// the miner first saw it there.
    pub new: bool,
    /// Counts per bar of the result's `width_ms`, oldest first.
    pub sparkline: Vec<u64>,
    /// The pattern's newest matching event.
    pub example: LogEntry,
}

/// The answer to a `patterns` request, most frequent pattern first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct PatternsResult {
    pub patterns: Vec<PatternSummary>,
    /// Matching events in the range (with or without a pattern).
    pub total: u64,
    /// Distinct patterns among them (more than the list when it was cut).
    pub distinct: u64,
    /// Sparkline bars: they start at `start` and are `width_ms` wide.
    pub start: Timestamp,
    pub width_ms: u64,
    pub took_ms: f64,
}

/// One bar of a histogram: matches with `start <= ts < start + width`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    pub start: Timestamp,
    pub count: u64,
}

/// Matches over time, oldest bucket first; every bucket is `width_ms` wide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Histogram {
    pub width_ms: u64,
    pub buckets: Vec<Bucket>,
}

/// A page of search results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SearchPage {
    pub entries: Vec<LogEntry>,
    /// All matches in the range, not just this page.
    pub total: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histogram: Option<Histogram>,
    /// Pass back as `cursor` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<Cursor>,
    /// From a cluster hub: pass back as `cursor_node` with `next_cursor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor_node: Option<String>,
    /// From a cluster hub: the nodes whose matches this page holds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<String>,
    /// From a cluster hub: the nodes that did not answer in time (or at all); their
    /// matches are missing from the page and from `total`. Non-empty means partial.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    /// Server-side time spent, for the curious.
    #[serde(default)]
    pub took_ms: f64,
}

/// Which entries a context request returns around its entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ContextScope {
    /// The entry's own log file and output stream (stdout or stderr).
    #[default]
    Stream,
    /// Every container and output stream of the entry's pod (same pod uid), in
    /// time order: the stdout lines between stderr hits, the sidecar's view.
    Pod,
}

impl ContextScope {
    /// For serde: the default is left out of the frame.
    pub fn is_stream(&self) -> bool {
        *self == ContextScope::Stream
    }
}

/// The entries around one entry, in its stream (same pod uid, container, restart and
/// `stream`) or its whole pod ([`ContextScope`]), oldest first: what `grep -C` gives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ContextPage {
    pub before: Vec<LogEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<LogEntry>,
    pub after: Vec<LogEntry>,
}

/// One container log stream on the node, with its traffic.
///
/// Flat on the wire like an entry: the [`StreamId`] fields first, then the traffic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct StreamInfo {
    /// Which log file; `container_id` as last learnt (see [`StreamId`]).
    #[serde(flatten)]
    pub source: StreamId,
    /// The pod's workload ([`StreamId::workload`]), for clients that group by it
    /// without knowing the naming rules.
    #[serde(default)]
    pub workload: String,
    /// The node that holds the stream: set by a cluster hub (a single daemon's
    /// streams are all its own, and it leaves this out).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub node: String,
    pub lines: u64,
    pub bytes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<Timestamp>,
    /// The container's log file still exists and is being followed.
    pub live: bool,
    /// Recent rate, lines per second.
    #[serde(default)]
    pub lines_per_sec: f64,
}

/// An alert rule, as users write it in YAML (close to Prometheus/Loki rule files).
///
/// Durations and the condition stay strings here so a rule round-trips exactly
/// as written; the daemon validates them and reports errors per field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub name: String,
    pub query: String,
    /// e.g. `5m`.
    pub window: String,
    /// `> N`, `>= N`, `< N`, `<= N`, `== N`, `!= N` on the count in the window.
    pub condition: String,
    /// How long the condition must hold before firing (`0s`: at once).
    #[serde(default = "zero_duration", rename = "for")]
    pub for_: String,
    /// Any of `namespace`, `pod`, `container`, `node`: one alert instance per group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_by: Vec<String>,
    #[serde(default = "default_severity")]
    pub severity: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn zero_duration() -> String {
    "0s".into()
}
fn default_severity() -> String {
    "warning".into()
}
fn yes() -> bool {
    true
}

/// Where an alert instance stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Inactive,
    Pending,
    Firing,
    Resolved,
}

/// One alert instance: a rule and one group's labels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub rule: String,
    /// Group labels (`pod`, …) plus the rule's own labels and `alertname`, `severity`.
    pub labels: BTreeMap<String, String>,
    /// Templated annotations.
    pub annotations: BTreeMap<String, String>,
    pub state: AlertState,
    /// When the instance entered `state`.
    pub since: Timestamp,
    /// The count in the window at the last evaluation.
    pub value: u64,
    /// A few of the latest matching entries.
    #[serde(default)]
    pub sample: Vec<LogEntry>,
}

/// A rule with its live state, as listed to clients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleStatus {
    pub rule: RuleSpec,
    /// `inactive`, `pending` or `firing`: the worst state among its instances.
    pub state: AlertState,
    pub alerts: Vec<Alert>,
}

/// What a rule would have done over past data (the editor's preview).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RuleTestResult {
    /// How many times it would have started firing.
    pub fired: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_fired: Option<Timestamp>,
    /// Highest window count seen.
    pub peak: u64,
    /// The window count over the tested range, for a sparkline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histogram: Option<Histogram>,
}

/// Daemon-wide figures pushed about once a second to every client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ServerStatus {
    pub node: String,
    pub lines_per_sec: f64,
    pub firing: u32,
    pub entries_indexed: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_error: Option<String>,
    /// From a cluster hub: how many of its nodes answer (the header's
    /// "cluster · 3/3 nodes"); absent from a single daemon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterStatus>,
}

/// A cluster hub's view of its nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ClusterStatus {
    /// Nodes connected and answering.
    pub up: u32,
    /// Nodes known (configured or discovered).
    pub total: u32,
    /// The nodes not answering, by name (or address when never reached).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub down: Vec<String>,
}

impl SearchPage {
    /// Whether some nodes' matches are missing (only a cluster hub says so).
    pub fn is_partial(&self) -> bool {
        !self.missing.is_empty()
    }
}

/// Machine-readable error kinds; `message` says the rest in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame was not a message this server understands.
    BadRequest,
    /// A query did not parse; `position` points at the problem.
    BadQuery,
    /// A time range, duration or cursor was invalid.
    BadRange,
    /// A rule failed validation; `field` says which.
    BadRule,
    NotFound,
    Conflict,
    VersionMismatch,
    Unauthorized,
    /// A per-connection limit (subscriptions, concurrent searches, frame size).
    LimitExceeded,
    Timeout,
    Internal,
}

/// Where in a query (or other text field) an error is: 0-based character column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub column: usize,
    #[serde(default)]
    pub length: usize,
}

/// A structured error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
    /// For rule validation: the field at fault (`query`, `window`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// Messages from a client to the daemon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    /// Must be the client's first message.
    Hello {
        protocol: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
        /// Free text, e.g. `lookout 0.1.0`.
        #[serde(default)]
        client: String,
    },
    /// Start a live tail; `id` becomes the subscription id.
    Subscribe {
        id: ReqId,
        query: String,
        /// First send up to this many of the latest matching stored entries.
        #[serde(default)]
        backfill: u32,
        /// Resume after this entry (exclusive): no duplicates, no gap.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume_after: Option<Cursor>,
    },
    Unsubscribe {
        id: ReqId,
        sub: ReqId,
    },
    Search {
        id: ReqId,
        #[serde(flatten)]
        params: SearchParams,
    },
    Context {
        id: ReqId,
        at: Cursor,
        #[serde(default)]
        before: u32,
        #[serde(default)]
        after: u32,
        /// Which lines count as "around" it: its own output stream (the default,
        /// what older clients get) or every stream of its pod.
        #[serde(default, skip_serializing_if = "ContextScope::is_stream")]
        scope: ContextScope,
    },
    /// List streams once, and with `watch` keep pushing changes under `sub = id`.
    Streams {
        id: ReqId,
        #[serde(default)]
        watch: bool,
    },
    ListRules {
        id: ReqId,
    },
    GetRule {
        id: ReqId,
        name: String,
    },
    /// Create or replace a rule (by name). Validated before anything is saved.
    PutRule {
        id: ReqId,
        rule: RuleSpec,
    },
    /// Validate without saving.
    ValidateRule {
        id: ReqId,
        rule: RuleSpec,
    },
    DeleteRule {
        id: ReqId,
        name: String,
    },
    SetRuleEnabled {
        id: ReqId,
        name: String,
        enabled: bool,
    },
    /// Evaluate a rule over stored history without saving it.
    TestRule {
        id: ReqId,
        rule: RuleSpec,
        #[serde(default)]
        range: TimeRange,
    },
    /// List alert instances once, and with `watch` push every state change under `sub = id`.
    Alerts {
        id: ReqId,
        #[serde(default)]
        watch: bool,
    },
    /// The patterns (kinds of lines) of the stored events matching a query.
    Patterns {
        id: ReqId,
        #[serde(flatten)]
        params: PatternsParams,
    },
}

/// Messages from the daemon to a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    /// First frame on every connection.
    Hello {
        protocol: u32,
        /// Server build, e.g. `lookoutd 0.1.0`.
        server: String,
        node: String,
        /// Whether `ClientMsg::Hello` must carry a token.
        auth_required: bool,
    },
    /// The client's hello was accepted; requests may follow.
    Welcome {},
    /// Acknowledges a request that has no other reply (unsubscribe, delete, …).
    Ok {
        id: ReqId,
    },
    Error {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<ReqId>,
        error: ErrorBody,
    },
    /// A subscription is live; backfill (if any) follows as `entries`.
    Subscribed {
        id: ReqId,
    },
    /// Entries for a subscription, in per-stream order.
    Entries {
        sub: ReqId,
        entries: Vec<LogEntry>,
    },
    /// The subscription's queue overflowed: `count` entries from `from` to `until`
    /// were not sent. The tail continues live after this notice.
    Dropped {
        sub: ReqId,
        count: u64,
        from: Timestamp,
        until: Timestamp,
    },
    SearchResult {
        id: ReqId,
        #[serde(flatten)]
        page: SearchPage,
    },
    ContextResult {
        id: ReqId,
        #[serde(flatten)]
        page: ContextPage,
    },
    /// The full list of streams (sent whole on each change: it is small).
    Streams {
        id: ReqId,
        streams: Vec<StreamInfo>,
    },
    Rules {
        id: ReqId,
        rules: Vec<RuleStatus>,
    },
    Rule {
        id: ReqId,
        rule: RuleStatus,
    },
    RuleTest {
        id: ReqId,
        result: RuleTestResult,
    },
    /// Alert instances (the full list in reply to `alerts`, then one per change).
    Alerts {
        id: ReqId,
        alerts: Vec<Alert>,
    },
    Status {
        #[serde(flatten)]
        status: ServerStatus,
    },
    /// The reply to `patterns`.
    Patterns {
        id: ReqId,
        result: PatternsResult,
    },
}

impl ServerMsg {
    /// An error reply to request `id`.
    pub fn error(id: Option<ReqId>, code: ErrorCode, message: impl Into<String>) -> ServerMsg {
        ServerMsg::Error {
            id,
            error: ErrorBody {
                code,
                message: message.into(),
                position: None,
                field: None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_tagged_json() {
        let m = ClientMsg::Search {
            id: 3,
            params: SearchParams {
                query: "level:error".into(),
                limit: 10,
                ..Default::default()
            },
        };
        let s = serde_json::to_string(&m).unwrap();
        assert!(s.starts_with("{\"type\":\"search\",\"id\":3"), "{s}");
        assert_eq!(serde_json::from_str::<ClientMsg>(&s).unwrap(), m);

        let raw = r#"{"type":"subscribe","id":1,"query":"pod:web"}"#;
        let m: ClientMsg = serde_json::from_str(raw).unwrap();
        assert_eq!(
            m,
            ClientMsg::Subscribe {
                id: 1,
                query: "pod:web".into(),
                backfill: 0,
                resume_after: None
            }
        );
    }

    /// The wire shape of a stream listing, byte for byte: flat keys in this order.
    #[test]
    fn stream_info_json_is_pinned() {
        let s = StreamInfo {
            source: StreamId {
                namespace: "payments".into(),
                pod: "checkout-1".into(),
                pod_uid: "0a1b-c2".into(),
                container: "app".into(),
                container_id: "abc".into(),
                restart: 2,
            },
            workload: "checkout".into(),
            lines: 10,
            bytes: 300,
            last_seen: Some(Timestamp(1_764_000_000_123_456_789)),
            live: true,
            lines_per_sec: 1.5,
            ..Default::default()
        };
        let json = r#"{"namespace":"payments","pod":"checkout-1","pod_uid":"0a1b-c2","container":"app","container_id":"abc","restart":2,"workload":"checkout","lines":10,"bytes":300,"last_seen":"2025-11-24T16:00:00.123456789Z","live":true,"lines_per_sec":1.5}"#;
        assert_eq!(serde_json::to_string(&s).unwrap(), json);
        assert_eq!(serde_json::from_str::<StreamInfo>(json).unwrap(), s);

        let dead = StreamInfo {
            last_seen: None,
            live: false,
            lines_per_sec: 0.0,
            ..s.clone()
        };
        let json = r#"{"namespace":"payments","pod":"checkout-1","pod_uid":"0a1b-c2","container":"app","container_id":"abc","restart":2,"workload":"checkout","lines":10,"bytes":300,"live":false,"lines_per_sec":0.0}"#;
        assert_eq!(serde_json::to_string(&dead).unwrap(), json);
        let without_rate = json.replace(r#","lines_per_sec":0.0"#, "");
        assert_eq!(
            serde_json::from_str::<StreamInfo>(&without_rate).unwrap(),
            dead
        );
        // Inside the message that carries it, too.
        let msg = ServerMsg::Streams {
            id: 4,
            streams: vec![dead.clone()],
        };
        let text = serde_json::to_string(&msg).unwrap();
        assert_eq!(
            text,
            format!(r#"{{"type":"streams","id":4,"streams":[{json}]}}"#)
        );
        assert_eq!(serde_json::from_str::<ServerMsg>(&text).unwrap(), msg);
    }

    #[test]
    fn entries_frame_json_is_pinned() {
        let e = LogEntry {
            ts: Timestamp(5),
            node: "n".into(),
            source: StreamId {
                namespace: "ns".into(),
                pod: "p".into(),
                pod_uid: "u".into(),
                container: "c".into(),
                container_id: String::new(),
                restart: 0,
            },
            stream: crate::Stream::Stdout,
            message: "hi".into(),
            level: None,
            seq: 3,
            lines: 1,
            fields: Default::default(),
            pattern: Some(crate::PatternId::new(0xab)),
        };
        let msg = ServerMsg::Entries {
            sub: 7,
            entries: vec![e],
        };
        let text = serde_json::to_string(&msg).unwrap();
        assert_eq!(
            text,
            r#"{"type":"entries","sub":7,"entries":[{"ts":"1970-01-01T00:00:00.000000005Z","node":"n","namespace":"ns","pod":"p","pod_uid":"u","container":"c","container_id":"","restart":0,"stream":"stdout","message":"hi","lines":1,"pattern":"00000000000000ab","seq":3}]}"#
        );
        assert_eq!(serde_json::from_str::<ServerMsg>(&text).unwrap(), msg);
    }

    #[test]
    fn rule_yaml_shape_defaults() {
        let raw = r#"{"name":"a","query":"x","window":"5m","condition":"> 3"}"#;
        let r: RuleSpec = serde_json::from_str(raw).unwrap();
        assert_eq!(r.for_, "0s");
        assert!(r.enabled);
        assert!(serde_json::from_str::<RuleSpec>(
            r#"{"name":"a","query":"x","window":"5m","condition":"> 3","bogus":1}"#
        )
        .is_err());
    }
}
