//! Where the collector stands in each file, by identity (device + inode +
//! fingerprint of the first bytes), never by path alone.
//!
//! CONTRACT: `Positions` is serde-serialisable and cheap enough to serialise once a
//! second; consumers only call [`Positions::apply`] and serialise it.

use serde::{Deserialize, Serialize};

/// Every known file's position (and whatever parser state must survive a restart).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Positions {
    #[serde(default)]
    pub files: Vec<serde_json::Value>,
}

/// The change a batch makes to [`Positions`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PositionUpdate {}

impl Positions {
    /// Applies a batch's changes.
    pub fn apply(&mut self, update: &PositionUpdate) {
        let _ = update;
    }
}
