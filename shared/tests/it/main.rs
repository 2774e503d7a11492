//! lookout-shared's integration tests, linked into one binary (`cargo test -p
//! lookout-shared --test it`): the websocket client against a scripted peer on real
//! loopback sockets.

// Test code: a failed step should fail the test at once, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod client;
