//! The clusters and how a tokenised message finds its own.
//!
//! Like Drain (He et al., ICWS 2017), messages are first split by token count,
//! and a message joins the cluster whose template it matches position by
//! position. Unlike Drain, a cluster's template never generalises on one
//! mismatch. A message that differs from its nearest cluster only in some
//! constant words (at least [`super::Config::similarity`] of the compared
//! constants equal) becomes a cluster of its own, a *variant* of that nearest
//! one; once [`super::Config::variants`] clusters differ from it at the same
//! positions and nowhere else, those positions are a parameter and the variants
//! merge into it (their ids become aliases of its id). A word with a handful of
//! values (`bytes`/`values`, `LOOKING`/`LEADING`/`FOLLOWING`, `root`/`admin`) is
//! part of the event; a word with many (user names, host names) is a parameter.
//! Drain merges both kinds on first sight, which is where its grouping errors on
//! Loghub come from.
//!
//! Lookup cost: a message whose token sequence was seen before (the common case:
//! after masking, most lines repeat exactly) is one hash lookup in a bounded
//! cache plus one comparison; a new sequence scans the clusters of its length.

use std::collections::{HashMap, VecDeque};

use super::token::{Token, PARAM};
use super::PatternId;

/// The most candidate generalisations one cluster tracks at a time.
const MAX_PENDING: usize = 8;

/// A template and what has been seen of it.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// The id it was founded with.
    pub id: PatternId,
    /// Token hashes; [`PARAM`] where the template has a parameter.
    pub tokens: Vec<u64>,
    /// Constant token texts; empty where the template has a parameter.
    pub text: Vec<Box<str>>,
    /// Messages seen, merged variants' included.
    pub count: u64,
    /// Earliest and latest times seen (Unix nanoseconds).
    pub first_seen: i64,
    pub last_seen: i64,
    /// Tick of the last message, for eviction of the least recently used.
    last_used: u64,
    /// Candidate generalisations rooted here: positions and the variants that
    /// differ from this template exactly there.
    pending: Vec<Pending>,
}

#[derive(Debug, Clone)]
struct Pending {
    positions: Vec<u16>,
    members: Vec<Handle>,
}

/// A slot and its generation: stale once the slot is reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Handle {
    slot: u32,
    gen: u32,
}

/// Tuning of the tree (the miner's [`super::Config`], validated).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// See [`super::Config::max_templates`].
    pub max_templates: usize,
    /// See [`super::Config::similarity`].
    pub similarity: f64,
    /// See [`super::Config::variants`].
    pub variants: usize,
}

/// The clusters of one miner, bounded by `max_templates`.
#[derive(Debug)]
pub struct Tree {
    limits: Limits,
    slots: Vec<Option<Cluster>>,
    gens: Vec<u32>,
    free: Vec<u32>,
    by_len: HashMap<usize, Vec<u32>>,
    by_id: HashMap<PatternId, u32>,
    /// Token-sequence hash → cluster: the fast path. Cleared when full.
    cache: HashMap<u64, Handle>,
    /// Ids merged into others, oldest first for eviction.
    aliases: HashMap<PatternId, PatternId>,
    alias_order: VecDeque<PatternId>,
    tick: u64,
}

/// The result of comparing a message with a template.
struct Compare {
    equal: usize,
    differ: usize,
}

fn compare(template: &[u64], tokens: &[Token], diffs: Option<&mut Vec<u16>>) -> Compare {
    let mut equal = 0;
    let mut differ = 0;
    let mut diffs = diffs;
    for (i, (&t, m)) in template.iter().zip(tokens).enumerate() {
        if t == PARAM {
            continue;
        }
        if t == m.hash {
            equal += 1;
        } else {
            differ += 1;
            if let Some(d) = diffs.as_deref_mut() {
                d.push(u16::try_from(i).unwrap_or(u16::MAX));
            }
        }
    }
    Compare { equal, differ }
}

/// Hash of a whole token sequence (the cache key and a new cluster's id).
fn sequence_hash(tokens: &[Token]) -> u64 {
    let mut h: u64 = 0x9e37_79b9_7f4a_7c15 ^ tokens.len() as u64;
    for t in tokens {
        h = (h.rotate_left(5) ^ t.hash).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

impl Cluster {
    /// Tick of the last message (larger is more recent).
    pub fn last_used(&self) -> u64 {
        self.last_used
    }
}

impl Tree {
    /// An empty tree.
    pub fn new(limits: Limits) -> Self {
        Tree {
            limits,
            slots: Vec::new(),
            gens: Vec::new(),
            free: Vec::new(),
            by_len: HashMap::new(),
            by_id: HashMap::new(),
            cache: HashMap::new(),
            aliases: HashMap::new(),
            alias_order: VecDeque::new(),
            tick: 0,
        }
    }

    /// Templates kept.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether no template is kept.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Every template kept.
    pub fn clusters(&self) -> impl Iterator<Item = &Cluster> {
        self.slots.iter().flatten()
    }

    /// The template `id` (or what it merged into) is now.
    pub fn get(&self, id: PatternId) -> Option<&Cluster> {
        let slot = *self.by_id.get(&self.resolve(id))?;
        self.slots.get(slot as usize)?.as_ref()
    }

    /// The id a (possibly merged) id now goes by.
    pub fn resolve(&self, mut id: PatternId) -> PatternId {
        // Chains are rewritten on every merge; the bound is a guard only.
        for _ in 0..32 {
            match self.aliases.get(&id) {
                Some(&next) => id = next,
                None => break,
            }
        }
        id
    }

    /// Merged id → id it merged into, oldest first.
    pub fn aliases(&self) -> impl Iterator<Item = (PatternId, PatternId)> + '_ {
        self.alias_order
            .iter()
            .filter_map(|a| self.aliases.get(a).map(|t| (*a, *t)))
    }

    fn cluster(&self, h: Handle) -> Option<&Cluster> {
        if self.gens.get(h.slot as usize) != Some(&h.gen) {
            return None;
        }
        self.slots.get(h.slot as usize)?.as_ref()
    }

    /// The cluster for `tokens` of `message`, created if none fits.
    pub fn observe(&mut self, message: &str, tokens: &[Token], at: i64) -> PatternId {
        self.tick += 1;
        let key = sequence_hash(tokens);
        let hit = self.cache.get(&key).copied().filter(|h| {
            self.cluster(*h).is_some_and(|c| {
                c.tokens.len() == tokens.len() && compare(&c.tokens, tokens, None).differ == 0
            })
        });
        let slot = match hit {
            Some(h) => h.slot,
            None => {
                let slot = self.place(message, tokens, key, at);
                if self.cache.len() >= self.limits.max_templates.saturating_mul(4).max(64) {
                    self.cache.clear();
                }
                let gen = self.gens[slot as usize];
                self.cache.insert(key, Handle { slot, gen });
                slot
            }
        };
        let tick = self.tick;
        match self.slots.get_mut(slot as usize).and_then(Option::as_mut) {
            Some(c) => {
                c.count += 1;
                c.first_seen = c.first_seen.min(at);
                c.last_seen = c.last_seen.max(at);
                c.last_used = tick;
                c.id
            }
            None => PatternId::new(key),
        }
    }

    /// Finds or makes the cluster for a sequence not in the cache.
    fn place(&mut self, message: &str, tokens: &[Token], key: u64, at: i64) -> u32 {
        let n = tokens.len();
        let mut exact: Option<(usize, u32)> = None;
        let mut near: Option<(f64, usize, u32)> = None;
        if let Some(slots) = self.by_len.get(&n) {
            for &s in slots {
                let Some(c) = self.slots[s as usize].as_ref() else {
                    continue;
                };
                let cmp = compare(&c.tokens, tokens, None);
                if cmp.differ == 0 {
                    if exact.is_none_or(|(e, _)| cmp.equal > e) {
                        exact = Some((cmp.equal, s));
                    }
                } else if cmp.equal > 0 {
                    let sim = cmp.equal as f64 / (cmp.equal + cmp.differ) as f64;
                    if sim > self.limits.similarity
                        && near.is_none_or(|(bs, be, _)| sim > bs || (sim == bs && cmp.equal > be))
                    {
                        near = Some((sim, cmp.equal, s));
                    }
                }
            }
        }
        if let Some((_, s)) = exact {
            return s;
        }
        let near = near.map(|(_, _, s)| Handle {
            slot: s,
            gen: self.gens[s as usize],
        });
        let slot = self.create(message, tokens, key, at);
        let gen = self.gens[slot as usize];
        // Making room may have evicted the nearest cluster.
        let near = near.filter(|h| self.cluster(*h).is_some()).map(|h| h.slot);
        if let Some(root) = near {
            self.note_variant(root, slot, tokens);
            if self.gens[slot as usize] != gen {
                // The new cluster was the variant that tipped a merge.
                return root;
            }
        }
        if tokens.iter().any(Token::is_param) {
            self.fold_covered(slot, Vec::new());
        }
        slot
    }

    fn create(&mut self, message: &str, tokens: &[Token], key: u64, at: i64) -> u32 {
        if self.len() >= self.limits.max_templates {
            self.evict_lru();
        }
        let mut id = PatternId::new(key);
        while self.by_id.contains_key(&id) {
            id = PatternId::new(id.get().wrapping_add(1));
        }
        self.aliases.remove(&id);
        let cluster = Cluster {
            id,
            tokens: tokens.iter().map(|t| t.hash).collect(),
            text: tokens
                .iter()
                .map(|t| super::token::shown(t, message).into_boxed_str())
                .collect(),
            count: 0,
            first_seen: at,
            last_seen: at,
            last_used: self.tick,
            pending: Vec::new(),
        };
        self.insert(cluster)
    }

    /// Puts a cluster in a free slot and indexes it.
    pub fn insert(&mut self, cluster: Cluster) -> u32 {
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push(None);
                self.gens.push(0);
                u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX)
            }
        };
        self.by_len
            .entry(cluster.tokens.len())
            .or_default()
            .push(slot);
        self.by_id.insert(cluster.id, slot);
        self.slots[slot as usize] = Some(cluster);
        slot
    }

    /// Rebuilds a cluster from persisted parts.
    pub fn restore(
        &mut self,
        id: PatternId,
        text: Vec<Option<String>>,
        count: u64,
        first_seen: i64,
        last_seen: i64,
    ) {
        self.tick += 1;
        let tokens = text
            .iter()
            .map(|t| match t {
                Some(s) => super::token::fnv1a(s.as_bytes()),
                None => PARAM,
            })
            .collect();
        let text = text
            .into_iter()
            .map(|t| t.map(String::into_boxed_str).unwrap_or_default())
            .collect();
        if self.by_id.contains_key(&id) {
            return;
        }
        if self.len() >= self.limits.max_templates {
            self.evict_lru();
        }
        self.insert(Cluster {
            id,
            tokens,
            text,
            count,
            first_seen,
            last_seen,
            last_used: self.tick,
            pending: Vec::new(),
        });
    }

    /// Records an alias read back from persisted state.
    pub fn restore_alias(&mut self, from: PatternId, to: PatternId) {
        if from != to && !self.by_id.contains_key(&from) {
            self.add_alias(from, to);
        }
    }

    fn remove(&mut self, slot: u32) -> Option<Cluster> {
        let c = self.slots.get_mut(slot as usize)?.take()?;
        self.gens[slot as usize] = self.gens[slot as usize].wrapping_add(1);
        self.free.push(slot);
        self.by_id.remove(&c.id);
        if let Some(v) = self.by_len.get_mut(&c.tokens.len()) {
            v.retain(|&s| s != slot);
            if v.is_empty() {
                self.by_len.remove(&c.tokens.len());
            }
        }
        Some(c)
    }

    fn evict_lru(&mut self) {
        let oldest = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.as_ref().map(|c| (c.last_used, i)))
            .min();
        if let Some((_, slot)) = oldest {
            if let Some(c) = self.remove(u32::try_from(slot).unwrap_or(u32::MAX)) {
                // Its aliases would now resolve to nothing.
                self.aliases.retain(|_, to| *to != c.id);
            }
        }
    }

    fn add_alias(&mut self, from: PatternId, to: PatternId) {
        for t in self.aliases.values_mut() {
            if *t == from {
                *t = to;
            }
        }
        if self.aliases.insert(from, to).is_none() {
            self.alias_order.push_back(from);
        }
        let cap = self.limits.max_templates.saturating_mul(4).max(64);
        while self.aliases.len() > cap {
            match self.alias_order.pop_front() {
                Some(old) => {
                    self.aliases.remove(&old);
                }
                None => break,
            }
        }
        if self.alias_order.len() > cap.saturating_mul(2) {
            let aliases = &self.aliases;
            self.alias_order.retain(|a| aliases.contains_key(a));
        }
    }

    /// `variant` differs from `root` in some constant words: remember it, and
    /// generalise `root` once enough variants differ at the same positions.
    fn note_variant(&mut self, root: u32, variant: u32, tokens: &[Token]) {
        let mut positions = Vec::new();
        let Some(r) = self.slots[root as usize].as_ref() else {
            return;
        };
        compare(&r.tokens, tokens, Some(&mut positions));
        let handle = Handle {
            slot: variant,
            gen: self.gens[variant as usize],
        };
        let live: Vec<bool> = r
            .pending
            .iter()
            .find(|p| p.positions == positions)
            .map(|p| {
                p.members
                    .iter()
                    .map(|h| self.cluster(*h).is_some())
                    .collect()
            })
            .unwrap_or_default();
        let Some(r) = self.slots[root as usize].as_mut() else {
            return;
        };
        let idx = match r.pending.iter().position(|p| p.positions == positions) {
            Some(i) => i,
            None => {
                if r.pending.len() >= MAX_PENDING {
                    r.pending.remove(0);
                }
                r.pending.push(Pending {
                    positions,
                    members: Vec::new(),
                });
                r.pending.len() - 1
            }
        };
        let p = &mut r.pending[idx];
        let mut keep = live.iter();
        p.members.retain(|_| keep.next().copied().unwrap_or(false));
        p.members.push(handle);
        if p.members.len() + 1 < self.limits.variants {
            return;
        }
        let p = r.pending.swap_remove(idx);
        self.generalise(root, &p.positions, &p.members);
    }

    /// Makes `positions` of `root` parameters and folds `members`, and every
    /// other cluster the new template now covers, into it.
    fn generalise(&mut self, root: u32, positions: &[u16], members: &[Handle]) {
        let Some(r) = self.slots[root as usize].as_mut() else {
            return;
        };
        for &p in positions {
            if let Some(t) = r.tokens.get_mut(p as usize) {
                *t = PARAM;
            }
            if let Some(t) = r.text.get_mut(p as usize) {
                *t = Box::from("");
            }
        }
        let fold: Vec<u32> = members
            .iter()
            .filter(|h| self.gens.get(h.slot as usize) == Some(&h.gen))
            .map(|h| h.slot)
            .collect();
        self.fold_covered(root, fold);
    }

    /// Folds `fold`, and every other cluster of the same length whose messages
    /// `root`'s template also matches, into `root`: a template with a
    /// parameter where another has a word says the position varies.
    fn fold_covered(&mut self, root: u32, mut fold: Vec<u32>) {
        let Some(r) = self.slots[root as usize].as_ref() else {
            return;
        };
        let template = r.tokens.clone();
        let root_id = r.id;
        if let Some(same_len) = self.by_len.get(&template.len()) {
            for &s in same_len {
                if s == root || fold.contains(&s) {
                    continue;
                }
                let covered = self.slots[s as usize].as_ref().is_some_and(|c| {
                    template
                        .iter()
                        .zip(&c.tokens)
                        .all(|(&t, &m)| t == PARAM || t == m)
                });
                if covered {
                    fold.push(s);
                }
            }
        }
        let (mut count, mut first, mut last, mut used) = (0u64, i64::MAX, i64::MIN, 0u64);
        for s in fold {
            if s == root {
                continue;
            }
            if let Some(c) = self.remove(s) {
                count += c.count;
                first = first.min(c.first_seen);
                last = last.max(c.last_seen);
                used = used.max(c.last_used);
                self.add_alias(c.id, root_id);
            }
        }
        if let Some(r) = self.slots[root as usize].as_mut() {
            r.count += count;
            r.first_seen = r.first_seen.min(first);
            r.last_seen = r.last_seen.max(last);
            r.last_used = r.last_used.max(used);
        }
    }
}
