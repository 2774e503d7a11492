//! alert: not built yet.
