//! live: not built yet.
