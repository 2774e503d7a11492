//! The websocket protocol and the HTTP listener.

mod conns;
mod errors;
mod metrics;
mod tail;
