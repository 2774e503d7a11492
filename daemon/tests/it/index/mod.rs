//! The index: crash safety, level detection, search and storage.

mod crash;
pub mod integrity;
mod level;
mod search;
mod store;
