//! Helpers shared by the areas: a log tree and collector harness, an index on disk
//! fed straight to the writer, a server on loopback, an HTTP peer that misbehaves
//! on request.

pub mod collect;
pub mod http;
pub mod index;
pub mod serve;
