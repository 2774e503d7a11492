//! The TUI crate's integration tests, linked into one binary: the CLI against an
//! in-process daemon, the query contract, and the dashboard in a real tmux;
//! `regression` holds a test per bug. (The websocket client's own tests live with it,
//! in lookout-shared's `tests/it`.)

// Test code: a failed step should fail the test at once, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli;
mod query_contract;
mod regression;
mod screens;
mod support;
mod tmux;
