//! lookout-shared's integration tests, linked into one binary (`cargo test -p
//! lookout-shared --test it`): the websocket client against a scripted peer on real
//! loopback sockets.

mod client;
