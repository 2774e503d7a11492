//! lookoutd: collects, indexes and serves a Kubernetes node's container logs.
//!
//! Data flows one way:
//!
//! ```text
//! collect (inotify, tailers, CRI/docker/plain parsers, positions)
//!    │  Batch { entries, positions }            bounded: the collector pauses, never drops
//!    ▼
//! ingest (level detection, seq numbers)
//!    ├──► live   (fan-out to tail subscriptions, bounded per subscriber, drops counted)
//!    ├──► alert  (rule evaluation on incoming lines)
//!    └──► index  (tantivy, time buckets, positions committed with the data)
//!                     ▲
//! serve (websocket sessions, HTTP health/metrics) reads index + live + alert
//! ```
//!
//! - [`config`]: flags and their defaults.
//! - [`collect`]: from files on disk to [`collect::Batch`]es of entries.
//! - [`level`]: severity detection on a line's text.
//! - [`matcher`]: the shared query tree evaluated on one entry (live tail, alerting);
//!   [`index::compile`] is its tantivy twin.
//! - [`ingest`]: the stage between collector and consumers.
//! - [`index`]: durable storage and search.
//! - [`live`]: live-tail fan-out.
//! - [`streams`]: the registry of container log streams and their traffic.
//! - [`metrics`]: health, readiness and Prometheus counters.
//! - [`durable`]: atomic, fsynced file replacement for what lives beside the index.
//! - [`alert`]: alert rules, evaluation and delivery.
//! - [`serve`]: the websocket protocol and the HTTP endpoints.
//! - [`sim`]: a node simulator for the demo and the load generator.
//! - [`app`]: wires the stages together for the binary.

pub mod alert;
pub mod app;
pub mod collect;
pub mod config;
pub mod durable;
pub mod index;
pub mod ingest;
pub mod level;
pub mod live;
pub mod matcher;
pub mod metrics;
pub mod pipeline;
pub mod serve;
pub mod shutdown;
pub mod sim;
pub mod stdout_sink;
pub mod streams;
pub mod sync;
