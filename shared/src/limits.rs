//! The numbers both ends of the websocket must agree on: what the daemon refuses or
//! clamps, so a client can stay inside them (and say why locally) instead of
//! learning them from an error, and the close codes a client reads the reason of.
//!
//! The daemon's per-connection limits that a client only ever meets as an error
//! (subscriptions, concurrent searches, timeouts) are the daemon's own business and
//! live there; `docs/protocol.md` lists both kinds.

/// Largest frame a client may send. Generous for any request a person types or a
/// rule file holds (the largest request, `put_rule`, is a few KiB), and small enough
/// that a connection's read buffer stays bounded.
pub const MAX_FRAME_BYTES: usize = 1 << 20;

/// Most entries in one `entries` frame. An entry is a few hundred bytes of JSON, so
/// a full frame is a few hundred KiB: large enough that a 10k lines/s tail needs only
/// 20 frames a second, small enough that a frame never holds a reply back for long.
pub const FRAME_ENTRIES: usize = 500;

/// Largest search page (`limit`); larger requests are clamped. Page through the
/// rest with `next_cursor`: a page is one reply frame, and 1000 entries keep it far
/// under a megabyte.
pub const MAX_PAGE: u32 = 1000;

/// Most entries on each side of a `context` request; larger ones are clamped, for
/// the same reply-size reason as [`MAX_PAGE`].
pub const MAX_CONTEXT: u32 = 1000;

/// Largest tail `backfill` a default daemon honours; larger ones are clamped. It is
/// the daemon's default, not a protocol constant: a daemon may be configured lower.
pub const MAX_BACKFILL: u32 = 10_000;

/// Websocket close codes the daemon sends (RFC 6455 `1xxx`, application `4xxx`).
pub mod close {
    /// The server is shutting down.
    pub const GOING_AWAY: u16 = 1001;
    /// A text frame that is not valid UTF-8 (RFC 6455 section 8.1).
    pub const INVALID_DATA: u16 = 1007;
    /// A client frame far over [`super::MAX_FRAME_BYTES`].
    pub const TOO_BIG: u16 = 1009;
    /// The client's `hello` named another protocol version.
    pub const VERSION_MISMATCH: u16 = 4000;
    /// Token missing or wrong.
    pub const UNAUTHORIZED: u16 = 4001;
    /// No `hello`, a malformed one, or none in time.
    pub const HANDSHAKE: u16 = 4002;
    /// The client did not take a frame within the write timeout.
    pub const TOO_SLOW: u16 = 4008;
    /// Nothing (no frame, no pong) heard from the client within the ping timeout.
    pub const KEEPALIVE: u16 = 4009;
    /// No subscription open and no request sent within the server's idle timeout.
    pub const IDLE: u16 = 4010;
}
