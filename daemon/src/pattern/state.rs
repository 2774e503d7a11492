//! What a miner persists, and reading it back.
//!
//! The state is the templates with their counts and times, and the aliases of
//! merged ids: enough that ids stay the same across a restart and `pattern:ID`
//! still finds events mined before a merge. Candidate generalisations in
//! progress and the lookup cache are not kept; they rebuild from new lines.
//! Reading back checks every bound of the miner's [`Config`], so a damaged or
//! hostile file cannot grow a miner past them.

use serde::{Deserialize, Serialize};

use super::{Config, Miner, PatternError, PatternId};

/// Version of the state format.
pub const STATE_VERSION: u32 = 1;

/// A miner's persisted state (serde: JSON beside the index commit, say).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MinerState {
    /// [`STATE_VERSION`] when written.
    pub version: u32,
    /// The config of the miner that wrote it (informational).
    pub config: Config,
    /// The latest time observed.
    pub clock: i64,
    /// Least recently used first, so eviction order survives too.
    pub patterns: Vec<PatternState>,
    /// Merged id → the id it merged into, oldest first.
    pub aliases: Vec<(PatternId, PatternId)>,
}

/// One template: its tokens, `None` for a parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatternState {
    /// Its id.
    pub id: PatternId,
    /// Constant token texts (`key=<*>` included); `None` for a parameter.
    pub tokens: Vec<Option<String>>,
    /// Messages seen.
    pub count: u64,
    /// Earliest time seen (Unix nanoseconds).
    pub first_seen: i64,
    /// Latest time seen.
    pub last_seen: i64,
}

impl Miner {
    /// The state to persist.
    pub fn state(&self) -> MinerState {
        let mut clusters: Vec<&super::tree::Cluster> = self.tree.clusters().collect();
        clusters.sort_by_key(|c| c.last_used());
        MinerState {
            version: STATE_VERSION,
            config: self.config,
            clock: self.clock,
            patterns: clusters
                .iter()
                .map(|c| PatternState {
                    id: c.id,
                    tokens: c
                        .tokens
                        .iter()
                        .zip(&c.text)
                        .map(|(&h, t)| (h != super::token::PARAM).then(|| t.to_string()))
                        .collect(),
                    count: c.count,
                    first_seen: c.first_seen,
                    last_seen: c.last_seen,
                })
                .collect(),
            aliases: self.tree.aliases().collect(),
        }
    }

    /// A miner with `config` continuing from `state`. Patterns past the
    /// config's bounds are an error, not truncated silently: the state file
    /// was written by a miner with other bounds, or damaged.
    pub fn from_state(config: Config, state: MinerState) -> Result<Self, PatternError> {
        if state.version != STATE_VERSION {
            return Err(PatternError::State(format!(
                "version {} (this build reads {STATE_VERSION})",
                state.version
            )));
        }
        let mut miner = Miner::new(config)?;
        if state.patterns.len() > config.max_templates {
            return Err(PatternError::State(format!(
                "{} patterns, more than max_templates {}",
                state.patterns.len(),
                config.max_templates
            )));
        }
        for p in state.patterns {
            let bytes: usize = p.tokens.iter().flatten().map(String::len).sum();
            if p.tokens.is_empty()
                || p.tokens.len() > config.max_tokens
                || bytes > config.max_message_bytes
            {
                return Err(PatternError::State(format!(
                    "pattern {} has {} tokens, {bytes} bytes: outside the bounds",
                    p.id,
                    p.tokens.len()
                )));
            }
            miner
                .tree
                .restore(p.id, p.tokens, p.count, p.first_seen, p.last_seen);
        }
        let cap = config.max_templates.saturating_mul(4).max(64);
        if state.aliases.len() > cap {
            return Err(PatternError::State(format!(
                "{} aliases, more than {cap}",
                state.aliases.len()
            )));
        }
        for (from, to) in state.aliases {
            miner.tree.restore_alias(from, to);
        }
        miner.clock = state.clock;
        Ok(miner)
    }
}
