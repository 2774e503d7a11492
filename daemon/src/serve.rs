//! serve: not built yet.
