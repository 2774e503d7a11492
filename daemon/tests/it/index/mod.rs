//! The index: crash safety, level detection, search and storage.

mod crash;
mod integrity;
mod level;
mod search;
mod store;
