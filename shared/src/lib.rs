//! The data model and wire protocol shared by `lookoutd` and `lookout`.
//!
//! Map of the crate:
//! - [`model`]: what a log entry is ([`LogEntry`]), which container log file it came
//!   from ([`StreamId`], also what a stream listing names), its timestamp type
//!   ([`Timestamp`]), stream and level enums.
//! - [`duration`]: the human durations (`15m`, `7d`) used by flags, queries and rules.
//! - [`fields`]: structured fields read off a message (JSON, logfmt, klog) at
//!   ingest, the same way for the index and the live matcher.
//! - [`histogram`]: how a span is cut into round-width bars, and the wire histogram
//!   of per-bar counts (search histograms and rule-test previews alike).
//! - [`protocol`]: every websocket message between a client and the daemon, plus the
//!   search/stream/rule/alert payloads they carry.
//! - [`limits`]: the sizes and caps both ends must respect, and the close codes.
//! - [`query`]: the query language's tree, parser and word splitting (the daemon
//!   compiles the tree to its index and live matcher; the dashboard highlights with it).
//! - [`range`]: what a [`protocol::TimeRange`] means ([`protocol::TimeRange::resolve`]),
//!   for every request that takes one.
//! - `client` (feature `client`): the websocket client both the TUI and the cluster
//!   hub dial daemons with: handshake, requests, reconnect and resume.
//! - [`rules`]: the alert-rule file format and its validation, so `lookout rules
//!   apply` refuses exactly what `lookoutd` would.
//!
//! Both binaries depend on this crate and nothing else of each other, so a change to
//! the wire shows up as a compile error on both sides at once.

#[cfg(feature = "client")]
pub mod client;
pub mod duration;
pub mod fields;
pub mod histogram;
pub mod limits;
pub mod model;
pub mod protocol;
pub mod query;
pub mod range;
pub mod rules;
pub mod workload;

pub use model::{Fields, Level, LogEntry, PatternId, Stream, StreamId, Timestamp};
