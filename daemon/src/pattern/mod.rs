//! Log template mining: which kinds of lines there are, and which kind is new.
//!
//! A [`Miner`] turns each message into the id of its pattern, online, one
//! message at a time: `Invalid user webmaster from 173.234.31.186` and
//! `Invalid user admin from 10.0.0.7` both become `Invalid user <*> from <*>`.
//! One configuration serves every kind of log (no per-format regexes or
//! thresholds): what varies in log lines in general (numbers, ids, addresses,
//! paths, quoted values, dates, words with many values) becomes a parameter.
//!
//! - [`message`]: which part of a line is mined (a JSON line's message field).
//! - [`token`]: tokens, and which are parameters by their shape.
//! - `tree`: clusters by token count, and when words become parameters.
//! - [`state`]: what is persisted and read back.
//! - [`miners`]: one miner per workload for ingest, bounded, saved with the index.
//! - [`eval`]: grouping accuracy against labelled logs (tests, benches).
//!
//! Memory is bounded per miner: at most [`Config::max_templates`] templates
//! (least recently used evicted), each of at most [`Config::max_tokens`]
//! tokens from at most [`Config::max_message_bytes`] bytes of its message, and
//! caches bounded by a multiple of the template cap.

pub mod eval;
pub mod message;
pub mod miners;
pub mod state;
pub mod token;
mod tree;

use serde::{Deserialize, Serialize};

pub use state::{MinerState, PatternState};

/// A pattern's id: the hash of the token sequence that founded it, so the same
/// event gets the same id in two miners and again after an eviction or a lost
/// state file. Unique among one miner's live patterns and aliases. The type is
/// the wire's ([`lookout_shared::PatternId`]): 16 hex digits in JSON and queries.
pub use lookout_shared::PatternId;

/// What can go wrong building a miner or reading its state back.
#[derive(Debug, thiserror::Error)]
pub enum PatternError {
    /// A bound or threshold out of range.
    #[error("pattern miner config: {0}")]
    Config(&'static str),
    /// Persisted state of another version or past the bounds.
    #[error("pattern state: {0}")]
    State(String),
    /// Text that is not a pattern id.
    #[error("not a pattern id (16 hex digits): {0:?}")]
    BadId(String),
}

/// The miner's bounds and its two thresholds. [`Config::default`] is the one
/// configuration for every log; the fields exist for memory bounds and tests.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// Templates kept; beyond it the least recently seen is evicted. 1,000:
    /// the eight Loghub samples have 6 to 75 true templates each.
    pub max_templates: usize,
    /// Tokens considered; the rest of a longer message is one parameter.
    pub max_tokens: usize,
    /// Bytes of a message considered.
    pub max_message_bytes: usize,
    /// Share of a template's compared constant tokens a message must exceed
    /// matching for it to count as a variant of that template (otherwise it
    /// founds an unrelated one). 0.5: more than half.
    pub similarity: f64,
    /// Clusters (the template and its variants) differing at the same
    /// positions that make those positions a parameter.
    pub variants: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_templates: 1000,
            max_tokens: 64,
            max_message_bytes: 4096,
            similarity: 0.5,
            variants: 4,
        }
    }
}

impl Config {
    fn validate(&self) -> Result<(), PatternError> {
        if self.max_templates == 0 || self.max_templates > 1_000_000 {
            return Err(PatternError::Config("max_templates must be 1 to 1,000,000"));
        }
        if self.max_tokens == 0 || self.max_tokens > 1024 {
            return Err(PatternError::Config("max_tokens must be 1 to 1,024"));
        }
        if self.max_message_bytes == 0 || self.max_message_bytes > 1 << 20 {
            return Err(PatternError::Config("max_message_bytes must be 1 to 1 MiB"));
        }
        if !(self.similarity > 0.0 && self.similarity <= 1.0) {
            return Err(PatternError::Config("similarity must be in (0, 1]"));
        }
        if self.variants < 2 || self.variants > 64 {
            return Err(PatternError::Config("variants must be 2 to 64"));
        }
        Ok(())
    }
}

/// One pattern as the miner knows it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pattern {
    /// Its id now (an alias's target, if it came from a merge).
    pub id: PatternId,
    /// Tokens joined by one space, `<*>` for each parameter.
    pub template: String,
    /// Messages seen, those of merged variants included.
    pub count: u64,
    /// Times given to [`Miner::observe_at`] (Unix nanoseconds).
    pub first_seen: i64,
    /// The latest such time.
    pub last_seen: i64,
}

/// An online template miner over one set of streams (a stream, a workload).
#[derive(Debug)]
pub struct Miner {
    config: Config,
    tree: tree::Tree,
    scratch: Vec<token::Token>,
    clock: i64,
}

impl Miner {
    /// A miner with `config`, checked.
    pub fn new(config: Config) -> Result<Self, PatternError> {
        config.validate()?;
        Ok(Miner {
            config,
            tree: tree::Tree::new(tree::Limits {
                max_templates: config.max_templates,
                similarity: config.similarity,
                variants: config.variants,
            }),
            scratch: Vec::with_capacity(config.max_tokens),
            clock: 0,
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The pattern of `line`, seen at the latest time given so far.
    pub fn observe(&mut self, line: &str) -> PatternId {
        self.observe_at(line, self.clock)
    }

    /// The pattern of `line`, seen at `at` (Unix nanoseconds): counted, and
    /// first/last seen updated. The id returned is final for this message until
    /// its pattern merges into a more general one; then [`Miner::resolve`] maps
    /// it to the merged pattern's id.
    pub fn observe_at(&mut self, line: &str, at: i64) -> PatternId {
        self.clock = self.clock.max(at);
        let message = message::message_part(line, self.config.max_message_bytes);
        token::tokenise(&message, self.config.max_tokens, &mut self.scratch);
        self.tree.observe(&message, &self.scratch, at)
    }

    /// The id `id` goes by now (itself unless it was merged into another).
    pub fn resolve(&self, id: PatternId) -> PatternId {
        self.tree.resolve(id)
    }

    /// Ids merged into `id` (still carried by events mined before the merge).
    pub fn merged_into(&self, id: PatternId) -> Vec<PatternId> {
        let id = self.resolve(id);
        self.tree
            .aliases()
            .filter(|&(_, to)| to == id)
            .map(|(from, _)| from)
            .collect()
    }

    /// The pattern `id` belongs to now, if it is still kept.
    pub fn pattern(&self, id: PatternId) -> Option<Pattern> {
        self.tree.get(id).map(view)
    }

    /// Every pattern kept, in no particular order.
    pub fn patterns(&self) -> impl Iterator<Item = Pattern> + '_ {
        self.tree.clusters().map(view)
    }

    /// Number of patterns kept.
    pub fn len(&self) -> usize {
        self.tree.len()
    }

    /// Whether no pattern is kept.
    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }
}

fn view(c: &tree::Cluster) -> Pattern {
    let mut template = String::new();
    for (i, (t, text)) in c.tokens.iter().zip(&c.text).enumerate() {
        if i > 0 {
            template.push(' ');
        }
        if *t == token::PARAM {
            template.push_str("<*>");
        } else {
            template.push_str(text);
        }
    }
    Pattern {
        id: c.id,
        template,
        count: c.count,
        first_seen: c.first_seen,
        last_seen: c.last_seen,
    }
}
