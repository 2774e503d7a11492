//! lookoutd's integration tests, linked into one binary (`cargo test -p
//! lookout-daemon --test it`): one module per area, one support module they share,
//! and `regression`, a test per bug named after it.
//!
//! Everything here runs the real parts: real files under real inotify, a real
//! tantivy index on disk, real websockets over loopback, a real Alertmanager.

// Test code: a failed step should fail the test at once, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod alert;
mod collect;
mod hub;
mod index;
mod pattern;
mod regression;
mod serve;
mod support;
