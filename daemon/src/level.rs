//! level: not built yet.
