//! The websocket protocol and the HTTP listener.

mod errors;
mod metrics;
mod tail;
