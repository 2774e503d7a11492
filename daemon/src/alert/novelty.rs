//! Novelty rules (`condition: new_pattern`): one alert instance per pattern of the
//! matching lines that this node's miners first saw inside the window.
//!
//! "New" is the miner's word: a workload's miner ([`crate::pattern::miners`])
//! records when it first saw each pattern, and that survives a restart with
//! `patterns.json`. The evaluator asks it once per new instance key (and once per
//! tracked instance per tick, since a pattern merged into an older, more general
//! one is no longer new); lines of patterns found old are remembered in a bounded
//! set, so a known pattern repeating costs a hash lookup, not the miners' lock.

use std::collections::HashSet;

use lookout_shared::{LogEntry, PatternId};

use super::eval::sec_of;
use super::rules::CompiledRule;
use crate::pattern::miners::Miners;

/// Most bytes of the example line an alert carries in `{{ $example }}`: a line
/// for a notification, not a dump (the miner itself reads 1 KiB of a message).
pub const MAX_EXAMPLE_BYTES: usize = 1024;

/// Instance keys remembered as not new; past this the set starts over (the cost
/// of forgetting is one more lookup per key).
const MAX_KNOWN: usize = 4096;

/// The pattern an instance is about.
#[derive(Debug, Clone)]
pub(super) struct Novelty {
    pub namespace: String,
    pub workload: String,
    /// The id the lines carry (the `pattern` label, what `pattern:ID` finds).
    pub id: PatternId,
    /// When the pattern it goes by now was first seen (Unix nanoseconds).
    pub first_seen: i64,
    pub template: String,
    /// The first matching line of it the rule saw (its first line, bounded).
    pub example: String,
}

impl Novelty {
    /// The pattern of `e` if its miner first saw it within `window_secs` before
    /// `e`'s second; `None` for a known pattern, an entry without one, or no miners.
    pub fn of(miners: Option<&Miners>, e: &LogEntry, window_secs: i64) -> Option<Novelty> {
        let id = e.pattern?;
        let p = miners?.pattern(&e.source.namespace, e.source.workload(), id)?;
        if sec_of(lookout_shared::Timestamp(p.first_seen)) < sec_of(e.ts) - window_secs {
            return None;
        }
        Some(Novelty {
            namespace: e.source.namespace.clone(),
            workload: e.source.workload().to_string(),
            id,
            first_seen: p.first_seen,
            template: p.template,
            example: example(&e.message),
        })
    }

    /// Reads the pattern again: merged into an older one, it was first seen when
    /// that one was; an evicted pattern keeps what was last known.
    pub fn refresh(&mut self, miners: Option<&Miners>) {
        if let Some(p) = miners.and_then(|m| m.pattern(&self.namespace, &self.workload, self.id)) {
            self.first_seen = p.first_seen;
            self.template = p.template;
        }
    }

    /// Whether it was first seen at or after second `from`.
    pub fn is_new(&self, from: i64) -> bool {
        sec_of(lookout_shared::Timestamp(self.first_seen)) >= from
    }
}

/// The instance key of `e` for a novelty rule: its `group_by` values, then its
/// namespace, workload and pattern; `None` when it has no pattern.
pub(super) fn key(rule: &CompiledRule, e: &LogEntry) -> Option<Vec<String>> {
    let id = e.pattern?;
    let mut k: Vec<String> = rule
        .group_by
        .iter()
        .map(|f| f.value(e).into_owned())
        .collect();
    k.push(e.source.namespace.clone());
    k.push(e.source.workload().to_string());
    k.push(id.to_string());
    Some(k)
}

/// Instance keys whose pattern was found not new.
#[derive(Debug, Default)]
pub(super) struct Known(HashSet<Vec<String>>);

impl Known {
    pub fn contains(&self, k: &[String]) -> bool {
        self.0.contains(k)
    }

    pub fn insert(&mut self, k: Vec<String>) {
        if self.0.len() >= MAX_KNOWN {
            self.0.clear();
        }
        self.0.insert(k);
    }
}

/// The first line of `message`, cut to [`MAX_EXAMPLE_BYTES`] on a character boundary.
fn example(message: &str) -> String {
    let line = message.split('\n').next().unwrap_or("");
    let mut end = line.len().min(MAX_EXAMPLE_BYTES);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    line[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_are_one_bounded_line() {
        assert_eq!(example("boom\n  at x"), "boom");
        let long = "é".repeat(MAX_EXAMPLE_BYTES);
        let e = example(&long);
        assert!(e.len() <= MAX_EXAMPLE_BYTES && e.len() >= MAX_EXAMPLE_BYTES - 1);
    }
}
