//! The miners ingest feeds: one [`Miner`] per workload (namespace and workload
//! name), so one application's kinds of lines never blur into another's, and the
//! pods of a Deployment share their templates.
//!
//! Bounded twice: at most [`MAX_MINERS`] miners (the least recently fed one is
//! dropped when a new workload needs one), each with [`ingest_config`]'s bounds.
//! A dropped miner's ids are not lost for good: ids are hashes of the founding
//! tokens, so the workload's lines found the same ids again when it returns.
//!
//! Persisted beside the index (`<data-dir>/patterns.json`, [`crate::durable`]),
//! written by the index writer after a commit ([`Miners::save`]) and read back at
//! open ([`Miners::load`]), so that after a restart the same lines get the same
//! ids and counts and first-seen times carry on.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use lookout_shared::LogEntry;
use serde::{Deserialize, Serialize};

use super::{Config, Miner, MinerState, Pattern, PatternError, PatternId};
use crate::sync::lock;

/// Workloads with a miner at once. 128: a node runs at most 110 pods by default
/// (the kubelet's `maxPods`), and most workloads have several of them.
pub const MAX_MINERS: usize = 128;

/// The largest state file read back (64 MiB): [`MAX_MINERS`] miners at
/// [`ingest_config`]'s bounds (500 templates of at most 1 KiB) is 64 MiB of
/// template text at worst; typical files are a few hundred KiB.
pub const MAX_STATE_BYTES: u64 = 64 << 20;

/// Name of the state file in the data dir.
pub const STATE_FILE: &str = "patterns.json";

/// The configuration of ingest's miners: [`Config::default`]'s thresholds, with a
/// template cap of 500 and messages mined on their first 1 KiB, so that
/// [`MAX_MINERS`] miners stay within [`MAX_STATE_BYTES`].
pub fn ingest_config() -> Config {
    Config {
        max_templates: 500,
        max_message_bytes: 1024,
        ..Config::default()
    }
}

/// What the state file holds.
#[derive(Debug, Serialize, Deserialize)]
struct FileState {
    version: u32,
    /// Least recently fed first.
    miners: Vec<WorkloadState>,
}

#[derive(Debug, Serialize, Deserialize)]
struct WorkloadState {
    namespace: String,
    workload: String,
    miner: MinerState,
}

const FILE_VERSION: u32 = 1;

struct Slot {
    namespace: String,
    workload: String,
    miner: Miner,
    last_fed: u64,
}

#[derive(Default)]
struct Inner {
    /// Keyed by `namespace \0 workload` (neither can hold a NUL).
    slots: HashMap<String, Slot>,
    tick: u64,
    key: String,
}

/// One pattern of one workload, for listings.
#[derive(Debug, Clone)]
pub struct WorkloadPattern {
    pub namespace: String,
    pub workload: String,
    pub pattern: Pattern,
}

/// The per-workload miners, shared by ingest (which feeds them), the index writer
/// (which persists them) and the server (which lists their templates).
pub struct Miners {
    inner: Mutex<Inner>,
    /// Bumped by every batch observed; [`Miners::save`] skips an unchanged state.
    generation: AtomicU64,
    saved: AtomicU64,
    path: Option<PathBuf>,
}

impl std::fmt::Debug for Miners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Miners").field("path", &self.path).finish()
    }
}

impl Miners {
    /// Empty miners that are never saved (tests, benches, `--discard`).
    pub fn in_memory() -> Miners {
        Miners {
            inner: Mutex::new(Inner::default()),
            generation: AtomicU64::new(0),
            saved: AtomicU64::new(0),
            path: None,
        }
    }

    /// The miners saved in `data_dir`, or empty ones when there is no state file.
    /// A damaged, foreign or oversized file is an error for the caller to log: the
    /// daemon then starts with empty miners (ids stay the same, being hashes;
    /// counts and first-seen times start over).
    pub fn load(data_dir: &Path) -> (Miners, Option<PatternError>) {
        let path = data_dir.join(STATE_FILE);
        let mut m = Miners::in_memory();
        m.path = Some(path.clone());
        match read_state(&path) {
            Ok(None) => (m, None),
            Ok(Some(state)) => {
                let mut inner = lock(&m.inner);
                let mut err = None;
                for w in state.miners.into_iter().rev().take(MAX_MINERS).rev() {
                    match Miner::from_state(ingest_config(), w.miner) {
                        Ok(miner) => {
                            inner.tick += 1;
                            let tick = inner.tick;
                            inner.slots.insert(
                                key(&w.namespace, &w.workload),
                                Slot {
                                    namespace: w.namespace,
                                    workload: w.workload,
                                    miner,
                                    last_fed: tick,
                                },
                            );
                        }
                        Err(e) => err = Some(e),
                    }
                }
                drop(inner);
                (m, err)
            }
            Err(e) => (m, Some(e)),
        }
    }

    /// Assigns each entry its pattern, mined from its message (a multi-line
    /// event's first line: the rest is a stack trace or a dump) at its time.
    pub fn assign(&self, entries: &mut [LogEntry]) {
        if entries.is_empty() {
            return;
        }
        let mut g = lock(&self.inner);
        let inner = &mut *g;
        for e in entries {
            let ns = e.source.namespace.as_str();
            let wl = e.source.workload();
            inner.key.clear();
            inner.key.push_str(ns);
            inner.key.push('\0');
            inner.key.push_str(wl);
            inner.tick += 1;
            let tick = inner.tick;
            if !inner.slots.contains_key(inner.key.as_str()) {
                if inner.slots.len() >= MAX_MINERS {
                    evict_lru(&mut inner.slots);
                }
                let Ok(miner) = Miner::new(ingest_config()) else {
                    return;
                };
                inner.slots.insert(
                    inner.key.clone(),
                    Slot {
                        namespace: ns.to_string(),
                        workload: wl.to_string(),
                        miner,
                        last_fed: tick,
                    },
                );
            }
            let Some(slot) = inner.slots.get_mut(inner.key.as_str()) else {
                continue;
            };
            slot.last_fed = tick;
            let text = e.message.split('\n').next().unwrap_or("");
            e.pattern = Some(slot.miner.observe_at(text, e.ts.0));
        }
        self.generation.fetch_add(1, Ordering::Relaxed);
    }

    /// The pattern `id` of `namespace`/`workload` now (a merged id resolves to
    /// the pattern it merged into), if that workload's miner still keeps it.
    pub fn pattern(&self, namespace: &str, workload: &str, id: PatternId) -> Option<Pattern> {
        let g = lock(&self.inner);
        g.slots
            .get(key(namespace, workload).as_str())
            .and_then(|s| s.miner.pattern(id))
    }

    /// The id `id` goes by now in any miner (itself when no miner merged it).
    pub fn resolve(&self, id: PatternId) -> PatternId {
        let g = lock(&self.inner);
        for s in g.slots.values() {
            let r = s.miner.resolve(id);
            if r != id {
                return r;
            }
        }
        id
    }

    /// `id` and every id merged into the pattern it goes by now: the ids events
    /// of that pattern carry, in every miner.
    pub fn family(&self, id: PatternId) -> Vec<PatternId> {
        let now = self.resolve(id);
        let g = lock(&self.inner);
        let mut out = vec![now];
        for s in g.slots.values() {
            out.extend(s.miner.merged_into(now));
        }
        if !out.contains(&id) {
            out.push(id);
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Every pattern of every workload kept now.
    pub fn all(&self) -> Vec<WorkloadPattern> {
        let g = lock(&self.inner);
        g.slots
            .values()
            .flat_map(|s| {
                s.miner.patterns().map(|p| WorkloadPattern {
                    namespace: s.namespace.clone(),
                    workload: s.workload.clone(),
                    pattern: p,
                })
            })
            .collect()
    }

    /// Number of workloads with a miner.
    pub fn len(&self) -> usize {
        lock(&self.inner).slots.len()
    }

    /// Whether no workload has a miner.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes the state file atomically if anything was observed since the last
    /// save (a no-op for [`Miners::in_memory`]). The miners are locked only while
    /// their state is copied, not while it is written.
    pub fn save(&self) -> std::io::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let generation = self.generation.load(Ordering::Relaxed);
        if generation == self.saved.load(Ordering::Relaxed) {
            return Ok(());
        }
        let state = {
            let g = lock(&self.inner);
            let mut slots: Vec<&Slot> = g.slots.values().collect();
            slots.sort_by_key(|s| s.last_fed);
            FileState {
                version: FILE_VERSION,
                miners: slots
                    .into_iter()
                    .map(|s| WorkloadState {
                        namespace: s.namespace.clone(),
                        workload: s.workload.clone(),
                        miner: s.miner.state(),
                    })
                    .collect(),
            }
        };
        let bytes = serde_json::to_vec(&state).map_err(std::io::Error::other)?;
        crate::durable::write_atomic(path, &bytes)?;
        self.saved.store(generation, Ordering::Relaxed);
        Ok(())
    }
}

fn key(namespace: &str, workload: &str) -> String {
    format!("{namespace}\0{workload}")
}

fn evict_lru(slots: &mut HashMap<String, Slot>) {
    let oldest = slots
        .iter()
        .min_by_key(|(_, s)| s.last_fed)
        .map(|(k, _)| k.clone());
    if let Some(k) = oldest {
        slots.remove(&k);
    }
}

fn read_state(path: &Path) -> Result<Option<FileState>, PatternError> {
    let why = |e: &dyn std::fmt::Display| PatternError::State(format!("{}: {e}", path.display()));
    let len = match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(why(&e)),
    };
    if len > MAX_STATE_BYTES {
        return Err(why(&format!(
            "{len} bytes, more than the {MAX_STATE_BYTES} this lookoutd reads"
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| why(&e))?;
    let state: FileState = serde_json::from_slice(&bytes).map_err(|e| why(&e))?;
    if state.version != FILE_VERSION {
        return Err(why(&format!(
            "version {} (this lookoutd reads {FILE_VERSION})",
            state.version
        )));
    }
    Ok(Some(state))
}
