//! The live matcher, [`lookout_shared::query::matcher`]: the shared query tree
//! evaluated on one entry, for live tail and alerting. It moved to the shared crate
//! so the dashboard can filter its scrollback with the very code the daemon
//! filters a tail with; this path stays so `crate::matcher::Matches` keeps working.
//! Its twin is the index's compilation of the same tree ([`crate::index::compile`]).

pub use lookout_shared::query::matcher::Matches;
