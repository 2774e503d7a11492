//! The index: crash safety, level detection, search and storage.

mod crash;
mod level;
mod search;
mod store;
