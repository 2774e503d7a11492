//! The TUI crate's integration tests, linked into one binary: the CLI against an
//! in-process daemon, the websocket client against a scripted server, the query
//! contract, and the dashboard in a real tmux; `regression` holds a test per bug.

mod cli;
mod client;
mod query_contract;
mod regression;
mod support;
mod tmux;
