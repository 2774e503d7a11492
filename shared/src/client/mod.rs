//! The websocket client: the handshake, one-shot requests for the CLI, and a
//! long-lived task for the dashboard that reconnects with backoff and resumes its
//! subscriptions where they stopped.
//!
//! The dashboard never talks to the socket itself: it sends [`ClientMsg`]s into a
//! channel and reads [`ClientEvent`]s from another, so the UI stays a pure state
//! machine and a slow screen can only slow this task's reads (the daemon then drops
//! and says so), never grow memory.
//!
//! It lives in `lookout-shared`, behind the `client` feature, because both ends that
//! dial a daemon use it: the `lookout` TUI and CLI, and the cluster hub (a daemon
//! mode that connects to other daemons). The feature keeps tokio and tungstenite out
//! of builds that only need the data model.
//!
//! - [`conn`]: one connection: handshake, requests, replies ([`Conn`]).
//! - [`task`]: the reconnecting task behind [`spawn`] and its [`ClientEvent`]s.
//! - `resume`: what a reconnect re-opens, and the repeats it drops.
//!
//! [`ClientMsg`]: crate::protocol::ClientMsg

pub mod conn;
mod resume;
pub mod task;

pub use conn::{reply_id, request_id, ClientError, Conn, ServerInfo, HANDSHAKE_TIMEOUT};
pub use task::{backoff, spawn, ClientEvent};
