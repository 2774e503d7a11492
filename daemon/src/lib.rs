//! lookoutd: collects, indexes and serves a Kubernetes node's container logs.
//!
//! # The flow
//!
//! Data flows one way. Each box is a thread (or a set of async tasks), each arrow a
//! channel or a call; [`pipeline`] starts every stage thread and makes every
//! channel between them, [`app`] composes the rest.
//!
//! ```text
//!  files under --log-dir (inotify + rescans; only regular files whose real path
//!     │                 is under it, fds of idle files closed: collect::contain, fds)
//!  ┌──▼──────────────────────────────┐   thread "collector" (+ "collector-read-N"
//!  │ collect: tailers, CRI/docker/   │   helpers reading files in parallel)
//!  │ plain parsers, multi-line events│
//!  │ (held ≤ --multiline-hold),      │
//!  │ positions                       │
//!  └──┬──────────────────────────────┘
//!     │ Batch { entries, positions }   crossbeam, bounded 4 (pipeline::QUEUE),
//!     │                                each batch ≤ 8,192 entries and --batch-bytes:
//!     │                                full = the collector waits, never drops
//!  ┌──▼──────────────────────────────┐   thread "ingest"
//!  │ ingest: level, seq, pattern     │──► sinks, called in order, never blocking:
//!  └──┬──────────────────────────────┘    ├─ live: a ring and a queue per tail,
//!     │ IngestBatch                       │    both bounded in bytes; matching
//!     │ crossbeam, bounded 4:             │    outside any shared lock; overflow
//!     │                                   │    counted, never blocks
//!     │ full = ingest waits               ├─ streams: per-stream counts ◄── thread
//!  ┌──▼──────────────────────────────┐    │    "lookout-streams" polls followed
//!  │ index writer: tantivy buckets,  │    │    files once a second
//!  │ positions committed with the    │    └─ alert: try_send, crossbeam bounded
//!  │ data (exactly once), retention  │         4096 batches (full = dropped and
//!  └─────────────────────────────────┘         counted) ──► thread "alert-eval"
//!     thread "index-writer"                    ──► per-sink queues (1000) ──►
//!                                              thread "alert-deliver" (tokio)
//!
//!  serve: tokio runtime "lookout-rt" (2 workers): websocket sessions on --listen
//!  (search/context on blocking threads, tails drained from live queues), and
//!  /healthz, /readyz, /metrics on --metrics-listen, each port with its own accept
//!  loop, connection cap and header timeout (serve::listen). Reads index, live,
//!  streams, alert; writes nothing back into the pipeline.
//! ```
//!
//! Shutdown is one signal ([`shutdown`]): SIGTERM/SIGINT (via `tokio::signal`)
//! closes the clients, then fires the pipeline's signal; ingest returns, its
//! channels close, the collector stops and the writer makes its final commit.
//! Readiness ([`metrics`]) turns false when a stage thread ends before that.
//!
//! # Where the modes attach
//!
//! - `--stdout` ([`stdout_sink`]): the collector alone; its batches go to stdout as
//!   JSON lines, positions to `<data-dir>/positions.json`. No ingest, index, server.
//! - `--discard` ([`app`]): the collector and ingest's preparation (level, seq),
//!   then nothing: measures collection alone.
//! - `lookoutd hub` ([`hub`]): no pipeline at all; the same protocol served
//!   (`serve::front`) from a fan-out to the node daemons, merged.
//! - `--demo` ([`app`], [`sim`]): a simulated node (thread "lookout-sim") writes a
//!   kubelet log tree into a temp dir, which becomes `--log-dir`; the rest is the
//!   full daemon.
//!
//! # Modules
//!
//! - [`config`]: flags, typed (durations, sizes) at the command line.
//! - [`collect`]: from files on disk to [`collect::Batch`]es of entries.
//! - [`level`]: severity detection on a line's text.
//! - [`matcher`]: the shared query tree evaluated on one entry (live tail, alerting);
//!   [`index::compile`] is its tantivy twin. The code lives in
//!   `lookout_shared::query::matcher` (the dashboard filters its scrollback with it).
//! - [`ingest`]: the stage between collector and consumers.
//! - [`index`]: durable storage and search.
//! - [`live`]: live-tail fan-out.
//! - [`pattern`]: online log template mining; one miner per workload, fed by
//!   ingest, owned and saved by the index ([`pattern::miners`]).
//! - [`streams`]: the registry of container log streams and their traffic.
//! - [`durable`]: atomic, fsynced file replacement for what lives beside the index.
//! - [`footprint`]: what an entry costs in memory, for every byte bound.
//! - [`alert`]: alert rules, evaluation and delivery.
//! - [`hub`]: `lookoutd hub`, the stateless fan-out over every node's daemon.
//! - [`serve`]: the websocket protocol and the HTTP endpoints.
//! - [`metrics`]: the registry every stage registers on, and readiness.
//! - [`pipeline`]: starts the stage threads and channels, stops them.
//! - [`shutdown`]: the one shutdown signal, and signal handling.
//! - [`sync`]: the one lock-poison policy.
//! - [`app`]: composes the daemon for the binary; `--discard`.
//! - [`stdout_sink`]: the `--stdout` mode.
//! - [`sim`]: a node simulator for the demo and the load generator.

pub mod alert;
pub mod app;
pub mod collect;
pub mod config;
pub mod durable;
pub mod footprint;
pub mod hub;
pub mod index;
pub mod ingest;
pub mod level;
pub mod live;
pub mod matcher;
pub mod metrics;
pub mod pattern;
pub mod pipeline;
pub mod serve;
pub mod shutdown;
pub mod sim;
pub mod stdout_sink;
pub mod streams;
pub mod sync;
