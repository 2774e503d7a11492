//! Every bound the server puts on a connection, named once with the reason for its
//! value. [`Limits`] carries them so tests and operators can change one; its
//! defaults are these constants. The ones a client must respect too (frame size,
//! page size, context, backfill) come from [`lookout_shared::limits`].

use std::time::Duration;

use lookout_shared::limits::{MAX_BACKFILL, MAX_FRAME_BYTES};

/// A frame over the limit but within this many times it is read whole and refused
/// with an error, so a client that overshoots keeps its connection (and learns the
/// limit). Beyond it the websocket layer stops reading and the connection closes
/// with 1009: the most a connection ever buffers is this times the limit.
pub const HARD_FRAME_FACTOR: usize = 4;

/// Tail subscriptions and watches per connection. The TUI opens two or three; 32
/// leaves room for scripts while bounding per-connection queues (each up to
/// [`SUB_QUEUE`] entries).
pub const MAX_SUBSCRIPTIONS: usize = 32;

/// Searches, contexts and rule requests running at once per connection. Each holds
/// a blocking thread; with 2 cores on a node, 4 per client keeps one client from
/// occupying the blocking pool while still overlapping a search with a histogram.
pub const MAX_CONCURRENT_SEARCHES: usize = 4;

/// A search (or context, rule test, resume) running longer gets a `timeout` error:
/// an interactive user has given up by then, and the thread is freed for others.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(30);

/// Entries waiting per subscription before new ones are dropped (and counted). The
/// queue holds 32-byte items pointing at entries shared with the live ring, so a
/// full queue costs 512 KiB of its own and rides out 1.6 s of a 10k lines/s burst
/// while its client is busy.
pub const SUB_QUEUE: usize = 16_384;

/// Bytes waiting per subscription before new entries are dropped (and counted), as
/// [`crate::footprint::entry_bytes`] counts them: [`SUB_QUEUE`] entries of 64 KiB
/// would be 1 GiB per tail. 4 MiB is four maximal (1 MiB) lines, or the 16,384
/// entries of [`SUB_QUEUE`] at ~250 bytes each.
pub const SUB_QUEUE_BYTES: usize = 4 << 20;

/// Most entries replayed from the index on resume; the rest is reported as dropped.
/// A client away for long should search, not replay a day of logs through a tail.
pub const MAX_RESUME: usize = 100_000;

/// Most bytes of history a tail's backfill or resume reads from the index (the
/// rest of a resume is reported as dropped; a backfill sends fewer entries). The
/// index keeps lines up to 1 MiB: [`MAX_RESUME`] of them would be 100 GiB.
pub const MAX_REPLAY_BYTES: usize = 16 << 20;

/// A client that does not take a frame within this long is disconnected (4008): it
/// is stuck, and everything queued for it is memory held on its behalf.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// How often the server pings. Well under the 60 s idle timeout that proxies and
/// load balancers commonly default to, so they never cut an idle connection.
pub const PING_INTERVAL: Duration = Duration::from_secs(15);

/// A client silent (no frame, no pong) for this long is disconnected (4009): three
/// missed pings, so one delayed pong does not cost a connection.
pub const PING_TIMEOUT: Duration = Duration::from_secs(45);

/// Time allowed for the client's `hello`: a client sends it right after the
/// server's; a socket that says nothing is not a client and holds a connection slot.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections at once on the websocket port. At the cap a newcomer takes the
/// place of the oldest idle HTTP connection, or, if none is idle, is answered
/// HTTP 503 and closed at accept. A node serves a few interactive clients; 256 is far above that
/// and still bounds the sockets, tasks and buffers something opening connections in
/// a loop could make us hold (with the metrics cap, 320 of the DaemonSet's 1,024
/// fds at most).
pub const MAX_CONNECTIONS: usize = 256;

/// Connections at once on the metrics port, counted apart from the websocket's so
/// a saturated websocket port never starves the kubelet's probes. A probe or a
/// scrape holds one for milliseconds; 64 covers the kubelet, Prometheus and a few
/// humans with curl.
pub const MAX_METRICS_CONNECTIONS: usize = 64;

/// Time allowed for a request's headers, on either port, from the moment the
/// server waits for them: a new connection's first request, and each next request
/// on a keep-alive connection (so this is also the HTTP idle timeout). A client
/// sends its headers in one write; a socket that trickles them or says nothing is
/// holding a slot.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A websocket session with no open subscription or watch that sends no request
/// for this long is closed (4010): nothing would ever flow on it, and it holds a
/// connection slot. Answering pings does not count as activity; a dashboard always
/// keeps a watch open.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// Per-connection and per-request limits. Defaults suit a node daemon with a few
/// interactive clients; each field's default is the constant of the same name.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest client message; a larger one is refused with `limit_exceeded` (and
    /// one over [`HARD_FRAME_FACTOR`] times this closes the connection with 1009).
    pub max_frame_bytes: usize,
    /// Tail subscriptions per connection.
    pub max_subscriptions: usize,
    /// Searches, contexts and rule requests running at once per connection.
    pub max_concurrent_searches: usize,
    /// A search (or context, rule test, resume) taking longer gets a `timeout` error.
    pub query_timeout: Duration,
    /// Entries waiting per subscription before new ones are dropped (and counted).
    pub sub_queue: usize,
    /// Bytes waiting per subscription before new entries are dropped (and counted).
    pub sub_queue_bytes: usize,
    /// Largest `backfill` honoured (larger ones are clamped).
    pub max_backfill: u32,
    /// Most entries replayed from the index on resume; the rest is reported dropped.
    pub max_resume: usize,
    /// Most bytes of history a backfill or resume reads from the index.
    pub max_replay_bytes: usize,
    /// A client that does not take a frame within this long is disconnected.
    pub write_timeout: Duration,
    /// How often the server pings.
    pub ping_interval: Duration,
    /// A client silent (no frame, no pong) for this long is disconnected.
    pub ping_timeout: Duration,
    /// Time allowed for the client's `hello`.
    pub hello_timeout: Duration,
    /// Websocket-port connections at once; more are refused with HTTP 503.
    pub max_connections: usize,
    /// Metrics-port connections at once; more are refused with HTTP 503.
    pub max_metrics_connections: usize,
    /// Time allowed for a request's headers (and between keep-alive requests).
    pub header_read_timeout: Duration,
    /// A websocket session holding nothing and asking nothing this long is closed.
    pub idle_timeout: Duration,
}

impl Limits {
    /// The frame size the websocket layer itself enforces (see [`HARD_FRAME_FACTOR`]).
    pub fn hard_frame_bytes(&self) -> usize {
        self.max_frame_bytes.saturating_mul(HARD_FRAME_FACTOR)
    }

    /// How much history a tail's initial part may read.
    pub(crate) fn replay(&self) -> super::tail::Replay {
        super::tail::Replay {
            entries: self.max_resume,
            bytes: self.max_replay_bytes,
        }
    }

    /// What one tail's queue may hold.
    pub fn queue_limit(&self) -> crate::live::QueueLimit {
        crate::live::QueueLimit {
            entries: self.sub_queue,
            bytes: self.sub_queue_bytes,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_bytes: MAX_FRAME_BYTES,
            max_subscriptions: MAX_SUBSCRIPTIONS,
            max_concurrent_searches: MAX_CONCURRENT_SEARCHES,
            query_timeout: QUERY_TIMEOUT,
            sub_queue: SUB_QUEUE,
            sub_queue_bytes: SUB_QUEUE_BYTES,
            max_backfill: MAX_BACKFILL,
            max_resume: MAX_RESUME,
            max_replay_bytes: MAX_REPLAY_BYTES,
            write_timeout: WRITE_TIMEOUT,
            ping_interval: PING_INTERVAL,
            ping_timeout: PING_TIMEOUT,
            hello_timeout: HELLO_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
            max_metrics_connections: MAX_METRICS_CONNECTIONS,
            header_read_timeout: HEADER_READ_TIMEOUT,
            idle_timeout: IDLE_TIMEOUT,
        }
    }
}
