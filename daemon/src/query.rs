//! query: not built yet.
